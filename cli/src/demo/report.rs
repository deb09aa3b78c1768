//! What the story did, as tables for a person and one JSON object for a program.
//!
//! [`Outcome`] is filled by the story; [`print_tables`] prints it; [`to_json`] gives the
//! object `omni demo --json` prints, whose figures the end-to-end test checks:
//! `ok`, `invoices_verified`, `disputes_resolved`, `compliance_maps_verified`,
//! `double_pledge_refused`, `netting_gross`, `netting_settled`, `netting_optimal`
//! (micro-units) and `reputation` (per payer), among others.

use omni_core::money::format_micros;
use omni_core::Micros;
use serde::Serialize;
use serde_json::{json, Value};

/// A registry member as the registry lists it.
#[derive(Clone, Debug, Serialize)]
pub struct MemberLine {
    /// Name in the demo.
    pub name: String,
    /// Short form of its key.
    pub party: String,
    /// Its role.
    pub role: String,
    /// Its published MEF 114 conformance statement (R13).
    pub conformance: Option<String>,
}

/// A bilateral's hash chain, replayed by both nodes.
#[derive(Clone, Debug, Serialize)]
pub struct ChainLine {
    /// The contract reference.
    pub contract: String,
    /// The two parties.
    pub parties: String,
    /// Entries on the chain.
    pub entries: u64,
    /// The state digest both nodes reproduced.
    pub digest: String,
    /// Nodes whose replay reproduced it.
    pub nodes_verified: usize,
}

/// An invoice, from the ledgers and the registry.
#[derive(Clone, Debug, Serialize)]
pub struct InvoiceLine {
    /// Number.
    pub number: String,
    /// Seller.
    pub seller: String,
    /// Buyer.
    pub buyer: String,
    /// Billing interval.
    pub interval: String,
    /// MEF 114 Option 1 or 2.
    pub option: u8,
    /// Total as issued, micro-units.
    pub total: Micros,
    /// Amount due (after reconciliation), micro-units.
    pub amount_due: Micros,
    /// Status on the ledgers.
    pub status: String,
    /// The buyer's node verified its rating proof.
    pub buyer_verified: bool,
    /// Status on the registry (absent for a bilateral-only invoice).
    pub registry_status: Option<String>,
    /// What else happened to it.
    pub notes: Vec<String>,
    /// The human-readable invoice (R73).
    pub file: String,
}

/// A supply-chain map and who checked it.
#[derive(Clone, Debug, Serialize)]
pub struct ComplianceLine {
    /// The order.
    pub order: String,
    /// Its seller, who assembled the map.
    pub seller: String,
    /// Its buyer, whose node verified the map.
    pub buyer: String,
    /// Hops proven.
    pub hops: usize,
    /// The order policy's limit.
    pub max_hops: usize,
    /// Embargo list version.
    pub embargo_version: u32,
    /// The embargoed countries (ISO 3166 numeric).
    pub embargoed: Vec<u16>,
    /// The buyer's node verified its hop proofs.
    pub buyer_verified: bool,
    /// The registry's status of the order.
    pub registry_status: String,
    /// The regulator's own check passed.
    pub regulator_verified: bool,
    /// The map's commitment.
    pub map_commitment: String,
}

/// The pledge and the refused second pledge.
#[derive(Clone, Debug, Serialize)]
pub struct PledgeLine {
    /// The invoice.
    pub invoice: String,
    /// Its seller, who finances it.
    pub seller: String,
    /// The opened amount, micro-units.
    pub amount: Micros,
    /// Its due date.
    pub due_date: u64,
    /// The payer's PAYDEX-style score the financier saw.
    pub payer_paydex: Option<u8>,
    /// The financier that pledged it.
    pub financier: String,
    /// The nullifier it is pledged under.
    pub nullifier: String,
    /// The financier refused.
    pub second_financier: String,
    /// Its own check's refusal.
    pub second_check: String,
    /// The registry's refusal.
    pub registry_refusal: String,
}

/// One settlement instruction.
#[derive(Clone, Debug, Serialize)]
pub struct Transfer {
    /// Debtor.
    pub from: String,
    /// Creditor.
    pub to: String,
    /// Micro-units.
    pub amount: Micros,
}

/// The multi-party netting cycle.
#[derive(Clone, Debug, Serialize)]
pub struct NettingLine {
    /// Its number.
    pub cycle: u64,
    /// Invoices netted.
    pub invoices: usize,
    /// Their sum, micro-units.
    pub gross: Micros,
    /// Sum of the settlement instructions, micro-units.
    pub settled: Micros,
    /// Sum of the positive net positions (the least any settlement can move).
    pub optimal: Micros,
    /// The registry's settled volume (decimal micro-units).
    pub registry_settled_volume: String,
    /// Each participant's opened net.
    pub nets: Vec<(String, Micros)>,
    /// The instructions.
    pub transfers: Vec<Transfer>,
}

/// A payer's reputation on the registry.
#[derive(Clone, Debug, Serialize)]
pub struct ReputationLine {
    /// The payer.
    pub payer: String,
    /// Its invoices on the registry.
    pub invoices: u32,
    /// Assessed (paid or overdue).
    pub assessed: u32,
    /// Paid on time.
    pub paid_on_time: u32,
    /// Paid late.
    pub paid_late: u32,
    /// Overdue.
    pub overdue: u32,
    /// On-time ratio, basis points.
    pub on_time_ratio_bp: Option<u32>,
    /// Average days beyond terms.
    pub average_days_beyond_terms: Option<u32>,
    /// PAYDEX-style score.
    pub paydex: Option<u8>,
}

/// Everything the report shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    /// The story ran to its end.
    pub ok: bool,
    /// The registry's gRPC address.
    pub registry_addr: String,
    /// The registry's id.
    pub registry_id: String,
    /// Where the stores are.
    pub stores: String,
    /// Key setup seconds.
    pub setup_s: f64,
    /// Seconds spent proving rating statements.
    pub proving_s: f64,
    /// Whole run, seconds.
    pub seconds: f64,
    /// Members as the registry lists them.
    pub members: Vec<MemberLine>,
    /// Members with a published conformance declaration.
    pub conformance_published: usize,
    /// Usage records the nodes took.
    pub records_ingested: usize,
    /// Re-sent records counted once.
    pub duplicates_refused: usize,
    /// Usage records behind the proven invoices.
    pub records_proven: usize,
    /// Invoices.
    pub invoices: Vec<InvoiceLine>,
    /// Option 1 invoices whose rating proof the buyer's node and the registry verified.
    pub invoices_verified: usize,
    /// Disputes resolved.
    pub disputes_resolved: usize,
    /// Credit notes agreed.
    pub credit_notes: usize,
    /// Supply-chain maps.
    pub compliance: Vec<ComplianceLine>,
    /// Maps verified by the buyer's node, the registry and the regulator.
    pub compliance_maps_verified: usize,
    /// The pledge.
    pub pledge: Option<PledgeLine>,
    /// A second pledge of the same invoice was refused.
    pub double_pledge_refused: bool,
    /// The netting cycle.
    pub netting: Option<NettingLine>,
    /// Reputation per payer.
    pub reputation: Vec<ReputationLine>,
    /// Heads anchored on the registry.
    pub anchors: usize,
    /// Bilateral chains.
    pub chains: Vec<ChainLine>,
    /// (node, bilateral) replays that reproduced the state.
    pub chains_verified: usize,
    /// Where the human-readable invoices are.
    pub invoices_dir: String,
}

/// The JSON object of `omni demo --json`.
pub fn to_json(o: &Outcome) -> Value {
    let netting = o.netting.as_ref();
    let reputation: serde_json::Map<String, Value> = o
        .reputation
        .iter()
        .map(|r| (r.payer.clone(), serde_json::to_value(r).unwrap_or(Value::Null)))
        .collect();
    json!({
        "ok": o.ok,
        "invoices_verified": o.invoices_verified,
        "disputes_resolved": o.disputes_resolved,
        "credit_notes": o.credit_notes,
        "compliance_maps_verified": o.compliance_maps_verified,
        "double_pledge_refused": o.double_pledge_refused,
        "netting_gross": netting.map(|n| n.gross),
        "netting_settled": netting.map(|n| n.settled),
        "netting_optimal": netting.map(|n| n.optimal),
        "netting_transfers": netting.map(|n| n.transfers.len()),
        "reputation": reputation,
        "currency": "EUR",
        "amounts": "micro-units",
        "carriers": o.members.iter().filter(|m| m.role == "member").count(),
        "conformance_published": o.conformance_published,
        "chains_verified": o.chains_verified,
        "bilaterals": o.chains.len(),
        "anchors": o.anchors,
        "records_ingested": o.records_ingested,
        "duplicates_refused": o.duplicates_refused,
        "records_proven": o.records_proven,
        "rating_keys": omni_prover::DEVELOPMENT_SETUP,
        "registry": o.registry_addr,
        "registry_id": o.registry_id,
        "setup_s": o.setup_s,
        "proving_s": o.proving_s,
        "seconds": o.seconds,
        "invoices_dir": o.invoices_dir,
        "members": o.members,
        "chains": o.chains,
        "invoices": o.invoices,
        "compliance": o.compliance,
        "pledge": o.pledge,
        "netting": o.netting,
    })
}

fn eur(m: Micros) -> String {
    format_micros(m)
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Prints the report's tables.
pub fn print_tables(o: &Outcome) {
    println!("\nMembers of the registry");
    println!("  {:<18} {:<10} {:<18} conformance declaration (R13)", "member", "role", "key");
    for m in &o.members {
        println!(
            "  {:<18} {:<10} {:<18} {}",
            m.name,
            m.role,
            m.party,
            m.conformance.as_deref().unwrap_or("-")
        );
    }

    println!("\nInvoices (amounts in EUR)");
    println!(
        "  {:<16} {:<10} {:<10} {:>3} {:>12} {:>12}  {:<11} {:<6} {:<9} notes",
        "invoice", "seller", "buyer", "opt", "total", "due", "ledger", "proof", "registry"
    );
    for i in &o.invoices {
        println!(
            "  {:<16} {:<10} {:<10} {:>3} {:>12} {:>12}  {:<11} {:<6} {:<9} {}",
            i.number,
            i.seller,
            i.buyer,
            i.option,
            eur(i.total),
            eur(i.amount_due),
            i.status,
            if i.option == 1 { yes(i.buyer_verified) } else { "-" },
            i.registry_status.as_deref().unwrap_or("-"),
            i.notes.join("; ")
        );
    }
    println!("  human-readable invoices (R73): {}", o.invoices_dir);

    if let Some(n) = &o.netting {
        println!("\nNetting cycle {} ({} invoices)", n.cycle, n.invoices);
        for (name, net) in &n.nets {
            println!("  {:<10} net {:>14}", name, eur(*net));
        }
        for t in &n.transfers {
            println!("  {:<10} pays {:<10} {:>14}  confirmed", t.from, t.to, eur(t.amount));
        }
        println!(
            "  gross {} · settled {} · optimal {} (sum of positive nets) · {} transfers",
            eur(n.gross),
            eur(n.settled),
            eur(n.optimal),
            n.transfers.len()
        );
    }

    println!("\nPayment reputation (registry, per payer)");
    println!(
        "  {:<10} {:>8} {:>8} {:>7} {:>5} {:>8} {:>9} {:>7}",
        "payer", "invoices", "assessed", "on time", "late", "on-time%", "days late", "PAYDEX"
    );
    for r in &o.reputation {
        let opt = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        println!(
            "  {:<10} {:>8} {:>8} {:>7} {:>5} {:>8} {:>9} {:>7}",
            r.payer,
            r.invoices,
            r.assessed,
            r.paid_on_time,
            r.paid_late,
            r.on_time_ratio_bp
                .map_or("-".to_string(), |bp| format!("{:.1}", f64::from(bp) / 100.0)),
            opt(r.average_days_beyond_terms),
            opt(r.paydex.map(u32::from))
        );
    }

    for c in &o.compliance {
        println!("\nSupply chain of order {} ({} → {})", c.order, c.seller, c.buyer);
        println!(
            "  {} hops (at most {}), embargo list v{} {:?}: buyer's node {}, registry {}, \
             regulator's own check {}",
            c.hops,
            c.max_hops,
            c.embargo_version,
            c.embargoed,
            if c.buyer_verified { "verified" } else { "NOT verified" },
            c.registry_status,
            if c.regulator_verified { "verified" } else { "NOT verified" }
        );
    }

    if let Some(p) = &o.pledge {
        println!(
            "\nPledge of {} by {} ({} EUR, due {}; payer's PAYDEX-style score: {})",
            p.invoice,
            p.seller,
            eur(p.amount),
            omni_core::interval::format_date(p.due_date),
            p.payer_paydex.map_or("no payment history yet".to_string(), |s| s.to_string())
        );
        println!(
            "  {} pledged it under nullifier {}…",
            p.financier,
            &p.nullifier[..16.min(p.nullifier.len())]
        );
        println!("  {} refused by its own check: {}", p.second_financier, p.second_check);
        println!("  and by the registry: {}", p.registry_refusal);
    }

    println!("\nBilateral ledgers (each replayed by both nodes)");
    for c in &o.chains {
        println!(
            "  {:<7} {:<22} {:>4} entries  digest {}  {}/2 nodes verified",
            c.contract,
            c.parties,
            c.entries,
            &c.digest[..16.min(c.digest.len())],
            c.nodes_verified
        );
    }
    println!(
        "\n{} heads anchored; {} usage records ingested ({} re-sent, counted once), {} proven; \
         rating proofs took {:.1} s after a {:.1} s development-only key setup",
        o.anchors,
        o.records_ingested,
        o.duplicates_refused,
        o.records_proven,
        o.proving_s,
        o.setup_s
    );
    println!("done in {:.1} s", o.seconds);
}
