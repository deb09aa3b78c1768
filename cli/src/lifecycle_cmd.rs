//! A carrier's billing team at the command line: every step of a bilateral's life, asked
//! of the team's own node (`--node URL`, else `$OMNI_NODE`).
//!
//! `omni contract`, `omni order`, `omni usage import`, `omni rating`, `omni invoice`,
//! `omni payment`, `omni netting`. Each prints a readable answer, or with `--json` one
//! JSON object carrying the ids the next command needs; exit status 0 done, 1 refused by
//! the node (the reason printed), 2 the node could not be asked ([`crate::node_client`]).

use crate::node_client::{parse_amount, CannotAsk, NodeApi};
use anyhow::Result;
use clap::{Args, Subcommand};
use omni_core::money::format_micros;
use omni_node::api::proto;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Options every command takes.
#[derive(Args, Clone)]
pub struct Common {
    /// The node's API (default: $OMNI_NODE, else http://127.0.0.1:7600).
    #[arg(long, global = true)]
    pub node: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A bilateral, by id (hex of its contract entry's hash).
#[derive(Args, Clone)]
pub struct BilateralArg {
    /// The bilateral's id.
    #[arg(long)]
    pub bilateral: String,
}

/// `omni contract …`
#[derive(Subcommand)]
pub enum ContractCommand {
    /// Propose a contract from a terms file (TOML; docs/terms.md).
    Propose {
        /// The terms file.
        #[arg(long)]
        terms: PathBuf,
    },
    /// Accept the contract the counterparty proposed.
    Accept(BilateralArg),
    /// Reject the contract the counterparty proposed.
    Reject {
        #[command(flatten)]
        b: BilateralArg,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Show a bilateral's contract.
    Show {
        #[command(flatten)]
        b: BilateralArg,
        /// Print its terms as a terms file (TOML), as `omni contract propose` reads them.
        #[arg(long)]
        terms: bool,
    },
    /// List the bilaterals this node keeps.
    List,
}

/// `omni order …`
#[derive(Subcommand)]
pub enum OrderCommand {
    /// Place an order this node's party sells under (the buyer accepts it).
    Place {
        #[command(flatten)]
        b: BilateralArg,
        /// The order's id.
        #[arg(long)]
        order: String,
        /// The contract tariff that prices it.
        #[arg(long)]
        tariff: String,
        /// A product ordered, PRODUCT or PRODUCT=QUANTITY (repeatable; default: every
        /// product of the tariff).
        #[arg(long = "product")]
        products: Vec<String>,
        /// Start of service, YYYY-MM-DD or RFC 3339 (default: the contract's start).
        #[arg(long, default_value = "")]
        start: String,
        /// End of service, exclusive (default: open-ended).
        #[arg(long, default_value = "")]
        end: String,
    },
    /// Accept an order the counterparty placed.
    Accept {
        #[command(flatten)]
        b: BilateralArg,
        /// The order's id.
        #[arg(long)]
        order: String,
    },
    /// List a bilateral's orders.
    List(BilateralArg),
    /// Record the supply-chain map of an agreed order this node's party sells under
    /// (MEF 114 R15): both nodes verify it; the node submits it to the registry.
    Map {
        #[command(flatten)]
        b: BilateralArg,
        /// The order's id.
        #[arg(long)]
        order: String,
        /// The map file (a ComplianceMap's bytes).
        #[arg(long)]
        map: PathBuf,
    },
}

/// `omni usage …`
#[derive(Subcommand)]
pub enum UsageCommand {
    /// Import a usage file (CSV with a header row, or NDJSON of TMF635 records).
    Import {
        #[command(flatten)]
        b: BilateralArg,
        /// The order the usage is billed under.
        #[arg(long)]
        order: String,
        /// The billing interval, e.g. 2026-11.
        #[arg(long)]
        interval: String,
        /// The file.
        #[arg(long)]
        file: PathBuf,
        /// csv or ndjson (default: from the file's extension).
        #[arg(long)]
        format: Option<String>,
    },
}

/// An order's billing interval.
#[derive(Args, Clone)]
pub struct RatingArgs {
    #[command(flatten)]
    b: BilateralArg,
    /// The order.
    #[arg(long)]
    order: String,
    /// The billing interval, e.g. 2026-11.
    #[arg(long)]
    interval: String,
}

/// `omni rating …`
#[derive(Subcommand)]
pub enum RatingCommand {
    /// Propose an interval's rating as the ledger computes it (the seller).
    Propose(RatingArgs),
    /// Agree the proposed rating (the buyer).
    Agree(RatingArgs),
}

/// A bill, by its number.
#[derive(Args, Clone)]
pub struct BillArgs {
    #[command(flatten)]
    b: BilateralArg,
    /// The invoice number.
    #[arg(long)]
    number: String,
}

/// `omni invoice …`
#[derive(Subcommand)]
pub enum InvoiceCommand {
    /// Issue the invoice of an agreed rating: Option 1, proven by this node (default), or
    /// Option 2, generated by the ledger.
    Issue {
        #[command(flatten)]
        bill: BillArgs,
        /// The order.
        #[arg(long)]
        order: String,
        /// The billing interval.
        #[arg(long)]
        interval: String,
        /// 1: with a rating proof; 2: generated by the ledger.
        #[arg(long, default_value_t = 1)]
        option: u32,
        /// Return once issued, without waiting for the rating proof.
        #[arg(long)]
        no_wait: bool,
    },
    /// List a bilateral's invoices.
    List(BilateralArg),
    /// Show an invoice: the human-readable invoice (MEF R73), or with --json its data.
    Show {
        #[command(flatten)]
        bill: BillArgs,
        /// As HTML.
        #[arg(long)]
        html: bool,
        /// Write the document to this file instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Accept an invoice, or the changes the counterparty proposed on it (dispute
    /// resolution, final invoice, credit note).
    Accept(BillArgs),
    /// Dispute items of an invoice: --item ITEM:AMOUNT:REASON (repeatable).
    Dispute {
        #[command(flatten)]
        bill: BillArgs,
        /// ITEM:AMOUNT:REASON, the amount held to be wrong in currency units.
        #[arg(long = "item", required = true)]
        items: Vec<String>,
    },
    /// Propose the resolution of disputed items: --item ITEM:ADJUSTMENT[:NOTE].
    Resolve {
        #[command(flatten)]
        bill: BillArgs,
        /// ITEM:ADJUSTMENT[:NOTE], the amount taken off the item in currency units.
        #[arg(long = "item", required = true)]
        items: Vec<String>,
    },
    /// Propose the final (reconciled) invoice of a disputed invoice.
    Final(BillArgs),
    /// Propose a credit note on an invoice.
    CreditNote {
        #[command(flatten)]
        bill: BillArgs,
        /// The credit note's number.
        #[arg(long)]
        credit_note: String,
        /// Amount credited, tax included, in currency units.
        #[arg(long)]
        amount: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Where an Option 1 invoice's rating proof stands (--wait: until it is done).
    Proof {
        #[command(flatten)]
        bill: BillArgs,
        /// Wait until proven, with a progress bar.
        #[arg(long)]
        wait: bool,
    },
    /// Write the opening of a proven invoice's amount commitment (for a financier).
    Opening {
        #[command(flatten)]
        bill: BillArgs,
        /// The file to write (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
    },
}

/// `omni payment …`
#[derive(Subcommand)]
pub enum PaymentCommand {
    /// Notify the payee of a payment of an invoice, or of a netting's net amount (the
    /// payer; MEF R87–R88).
    Notify {
        #[command(flatten)]
        b: BilateralArg,
        /// The invoice paid.
        #[arg(long, conflicts_with = "netting", required_unless_present = "netting")]
        number: Option<String>,
        /// The bilateral netting whose net amount is paid.
        #[arg(long)]
        netting: Option<String>,
        /// The payment's id.
        #[arg(long)]
        payment: String,
        /// Amount paid, currency units (default: what remains to pay).
        #[arg(long)]
        amount: Option<String>,
        /// Payment method and bank reference.
        #[arg(long, default_value = "bank transfer")]
        reference: String,
    },
    /// Confirm the receipt of a notified payment (the payee; MEF R89).
    Receipt {
        #[command(flatten)]
        b: BilateralArg,
        /// The payment's id.
        #[arg(long)]
        payment: String,
    },
}

/// `omni netting …`: bilateral netting (MEF 114 §8.6.3; `propose`, `accept`) and
/// omni-lateral netting cycles on the registry (`open`, `join`, `reveal`, `confirm`,
/// `status`, `record`), each through this party's node.
#[derive(Subcommand)]
pub enum NettingCommand {
    /// Propose the netting of the documents due in a billing period.
    Propose {
        #[command(flatten)]
        b: BilateralArg,
        /// The netting's id.
        #[arg(long)]
        netting: String,
        /// The period whose due documents are netted, e.g. 2026-12.
        #[arg(long)]
        period: String,
    },
    /// Accept a netting the counterparty proposed.
    Accept {
        #[command(flatten)]
        b: BilateralArg,
        /// The netting's id.
        #[arg(long)]
        netting: String,
    },
    /// Open an omni-lateral netting cycle on the registry with other members (this
    /// party included), over their accepted invoices due by the cut-off.
    Open {
        /// ISO 4217 currency.
        #[arg(long)]
        currency: String,
        /// Invoices due at or before this date (YYYY-MM-DD, end of day UTC) or RFC 3339
        /// date-time are netted.
        #[arg(long)]
        cutoff: String,
        /// Another participant's party key (hex; repeatable).
        #[arg(long = "participant", required = true)]
        participants: Vec<String>,
    },
    /// Join (consent to) a cycle this party is invited to.
    Join {
        /// The cycle.
        #[arg(long)]
        cycle: u64,
    },
    /// Open this party's net position in a cycle, computed from its ledgers and checked
    /// against the registry's sum of the locked invoices' commitments.
    Reveal {
        /// The cycle.
        #[arg(long)]
        cycle: u64,
    },
    /// Confirm the transfers of a cycle this party received (all, or one instruction).
    Confirm {
        /// The cycle.
        #[arg(long)]
        cycle: u64,
        /// Only this instruction.
        #[arg(long)]
        instruction: Option<u32>,
    },
    /// A cycle as the registry shows it, and this party's net and transfers in it.
    Status {
        /// The cycle.
        #[arg(long)]
        cycle: u64,
    },
    /// Record a settled cycle on each bilateral it settled (MEF 114 CR22): propose the
    /// result, or accept the counterparty's proposal.
    Record {
        /// The cycle.
        #[arg(long)]
        cycle: u64,
    },
    /// This party's net position over the invoices an omni-lateral netting cycle locked:
    /// the amount and blinding it opens to the registry.
    Position {
        /// A registry invoice id the cycle locked (hex; repeatable).
        #[arg(long = "registry-invoice", required = true)]
        registry_invoices: Vec<String>,
    },
}

fn print(common: &Common, value: Value, text: impl FnOnce() -> String) {
    if common.json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn entry_json(e: &proto::EntryAck) -> Value {
    json!({ "seq": e.seq, "hash": e.hash })
}

/// Runs `omni contract …`.
pub fn contract(common: &Common, command: ContractCommand) -> Result<()> {
    let api = NodeApi::connect(common.node.as_deref())?;
    match command {
        ContractCommand::Propose { terms } => {
            let text = std::fs::read_to_string(&terms).map_err(|e| {
                CannotAsk(format!("cannot read terms file {}: {e}", terms.display()))
            })?;
            let mut c = api.lifecycle.clone();
            let e = api.call(
                "ProposeContract",
                c.propose_contract(proto::ProposeContractRequest { terms: text }),
            )?;
            print(common, json!({ "bilateral": e.hash, "entry": entry_json(&e) }), || {
                format!("contract proposed: bilateral {}\n(the counterparty accepts it with `omni contract accept --bilateral {}`)", e.hash, e.hash)
            });
        }
        ContractCommand::Accept(b) => {
            let mut c = api.lifecycle.clone();
            let e = api.call(
                "AcceptContract",
                c.accept_contract(proto::BilateralRef { bilateral: b.bilateral.clone() }),
            )?;
            print(common, json!({ "bilateral": b.bilateral, "entry": entry_json(&e) }), || {
                format!("contract of bilateral {} accepted (entry {})", b.bilateral, e.seq)
            });
        }
        ContractCommand::Reject { b, reason } => {
            let mut c = api.lifecycle.clone();
            let e = api.call(
                "RejectContract",
                c.reject_contract(proto::RejectRequest { bilateral: b.bilateral.clone(), reason }),
            )?;
            print(common, json!({ "bilateral": b.bilateral, "entry": entry_json(&e) }), || {
                format!("contract of bilateral {} rejected (entry {})", b.bilateral, e.seq)
            });
        }
        ContractCommand::Show { b, terms: as_terms } => {
            let mut c = api.lifecycle.clone();
            let v = api.call(
                "GetContract",
                c.get_contract(proto::BilateralRef { bilateral: b.bilateral }),
            )?;
            if as_terms && !common.json {
                print!("{}", v.terms_toml);
                return Ok(());
            }
            let terms: Value = serde_json::from_str(&v.terms_json).unwrap_or(Value::Null);
            let parties: Vec<Value> = v
                .parties
                .iter()
                .map(|p| json!({ "name": p.name, "party": p.party, "signatories": p.signatories }))
                .collect();
            print(
                common,
                json!({ "bilateral": v.bilateral, "status": v.status, "reference": v.reference,
                        "currency": v.currency, "parties": parties, "tariffs": v.tariffs,
                        "net_days": v.net_days, "netting": v.netting,
                        "effective_from": v.effective_from, "head_seq": v.head_seq, "terms": terms,
                        "terms_toml": v.terms_toml }),
                || {
                    let mut s = format!(
                        "bilateral {}\n  contract {} ({}), {}, Net {}{}, from {}\n",
                        v.bilateral,
                        v.reference,
                        v.status,
                        v.currency,
                        v.net_days,
                        if v.netting { ", netting" } else { "" },
                        v.effective_from
                    );
                    for p in &v.parties {
                        s.push_str(&format!("  party {} {}\n", p.name, p.party));
                    }
                    s.push_str(&format!(
                        "  tariffs {}\n  head at entry {}",
                        v.tariffs.join(", "),
                        v.head_seq
                    ));
                    s
                },
            );
        }
        ContractCommand::List => {
            let mut c = api.billing.clone();
            let list =
                api.call("ListBilaterals", c.list_bilaterals(proto::ListBilateralsRequest {}))?;
            let rows: Vec<Value> = list
                .bilaterals
                .iter()
                .map(|b| {
                    json!({ "bilateral": b.id, "party": b.party, "counterparty": b.counterparty,
                                 "status": b.status, "head_seq": b.head_seq })
                })
                .collect();
            print(common, json!({ "bilaterals": rows }), || {
                let mut s = String::new();
                for b in &list.bilaterals {
                    s.push_str(&format!(
                        "{}  {:<10} counterparty {}  head {}\n",
                        b.id, b.status, b.counterparty, b.head_seq
                    ));
                }
                if s.is_empty() {
                    s.push_str("no bilaterals");
                }
                s.trim_end().to_string()
            });
        }
    }
    Ok(())
}

/// Runs `omni order …`.
pub fn order(common: &Common, command: OrderCommand) -> Result<()> {
    let api = NodeApi::connect(common.node.as_deref())?;
    let mut c = api.lifecycle.clone();
    match command {
        OrderCommand::Place { b, order, tariff, products, start, end } => {
            let request = proto::PlaceOrderRequest {
                bilateral: b.bilateral.clone(),
                order: order.clone(),
                tariff,
                products,
                start,
                end,
            };
            let e = api.call("PlaceOrder", c.place_order(request))?;
            print(
                common,
                json!({ "bilateral": b.bilateral, "order": order, "entry": entry_json(&e) }),
                || {
                    format!("order {order} placed (entry {}); the buyer accepts it with `omni order accept`", e.seq)
                },
            );
        }
        OrderCommand::Accept { b, order } => {
            let request = proto::OrderRef { bilateral: b.bilateral.clone(), order: order.clone() };
            let e = api.call("AcceptOrder", c.accept_order(request))?;
            print(
                common,
                json!({ "bilateral": b.bilateral, "order": order, "entry": entry_json(&e) }),
                || format!("order {order} accepted (entry {})", e.seq),
            );
        }
        OrderCommand::Map { b, order, map } => record_map(&api, common, b, order, map)?,
        OrderCommand::List(b) => {
            let list = api.call(
                "ListOrders",
                c.list_orders(proto::BilateralRef { bilateral: b.bilateral }),
            )?;
            let rows: Vec<Value> = list
                .orders
                .iter()
                .map(|o| {
                    json!({ "order": o.order, "seller": o.seller, "tariff": o.tariff,
                                 "products": o.products, "start": o.start, "status": o.status })
                })
                .collect();
            print(common, json!({ "orders": rows }), || {
                list.orders
                    .iter()
                    .map(|o| {
                        format!(
                            "{:<16} {:<9} tariff {} from {}  {}",
                            o.order,
                            o.status,
                            o.tariff,
                            o.start,
                            o.products.join(" ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

/// Records a supply-chain map (`omni order map`).
fn record_map(
    api: &NodeApi,
    common: &Common,
    b: BilateralArg,
    order: String,
    file: PathBuf,
) -> Result<()> {
    let map = std::fs::read(&file)
        .map_err(|e| CannotAsk(format!("cannot read map file {}: {e}", file.display())))?;
    let mut c = api.lifecycle.clone();
    let request = proto::RecordSupplyChainMapRequest {
        bilateral: b.bilateral.clone(),
        order: order.clone(),
        map,
    };
    let e = api.call("RecordSupplyChainMap", c.record_supply_chain_map(request))?;
    print(
        common,
        json!({ "bilateral": b.bilateral, "order": order, "seq": e.seq, "hash": e.hash,
                "entry": entry_json(&e) }),
        || {
            format!(
                "supply-chain map of order {order} recorded (entry {}); the node submits it to \
                 the registry",
                e.seq
            )
        },
    );
    Ok(())
}

/// Runs `omni usage …`.
pub fn usage(common: &Common, command: UsageCommand) -> Result<()> {
    let UsageCommand::Import { b, order, interval, file, format } = command;
    let format = match format {
        Some(f) => f,
        None => match file.extension().and_then(|e| e.to_str()) {
            Some("csv") => "csv".to_string(),
            Some("ndjson" | "jsonl") => "ndjson".to_string(),
            _ => {
                return Err(CannotAsk(format!(
                    "{}: say --format csv or --format ndjson",
                    file.display()
                ))
                .into())
            }
        },
    };
    let content = std::fs::read(&file)
        .map_err(|e| CannotAsk(format!("cannot read usage file {}: {e}", file.display())))?;
    let api = NodeApi::connect(common.node.as_deref())?;
    let mut c = api.billing.clone();
    let request = proto::ImportUsageRequest {
        bilateral: b.bilateral.clone(),
        order: order.clone(),
        interval: interval.clone(),
        format,
        content,
    };
    let r = api.call("ImportUsage", c.import_usage(request))?;
    let refused: Vec<Value> = r
        .refused
        .iter()
        .map(|l| json!({ "line": l.line, "field": l.field, "reason": l.reason }))
        .collect();
    print(
        common,
        json!({ "bilateral": b.bilateral, "order": order, "interval": interval,
                "received": r.received, "accepted": r.accepted, "duplicates": r.duplicates,
                "refused": refused, "entries": r.entries }),
        || {
            let mut s = format!(
                "{}: {} records read, {} accepted, {} duplicates, {} refused",
                file.display(),
                r.received,
                r.accepted,
                r.duplicates,
                r.refused.len()
            );
            for l in &r.refused {
                let field =
                    if l.field.is_empty() { String::new() } else { format!(" [{}]", l.field) };
                s.push_str(&format!("\n  line {}{field}: {}", l.line, l.reason));
            }
            s
        },
    );
    Ok(())
}

/// Runs `omni rating …`.
pub fn rating(common: &Common, command: RatingCommand) -> Result<()> {
    let api = NodeApi::connect(common.node.as_deref())?;
    let mut c = api.lifecycle.clone();
    let (verb, args) = match &command {
        RatingCommand::Propose(a) => ("proposed", a.clone()),
        RatingCommand::Agree(a) => ("agreed", a.clone()),
    };
    let request = proto::RatingRef {
        bilateral: args.b.bilateral.clone(),
        order: args.order.clone(),
        interval: args.interval.clone(),
    };
    let e = match command {
        RatingCommand::Propose(_) => api.call("ProposeRating", c.propose_rating(request))?,
        RatingCommand::Agree(_) => api.call("AgreeRating", c.agree_rating(request))?,
    };
    print(
        common,
        json!({ "bilateral": args.b.bilateral, "order": args.order, "interval": args.interval,
                "entry": entry_json(&e) }),
        || format!("rating of {} in {} {verb} (entry {})", args.order, args.interval, e.seq),
    );
    Ok(())
}

fn bill_ref(b: &BillArgs) -> proto::BillRef {
    proto::BillRef { bilateral: b.b.bilateral.clone(), bill_no: b.number.clone() }
}

fn bill_json(bill: &proto::CustomerBill) -> Value {
    let m = |m: &Option<proto::Money>| m.as_ref().map_or(0, |m| m.micros);
    json!({ "number": bill.bill_no, "state": bill.state, "order": bill.order,
            "interval": bill.billing_period, "bill_date": bill.bill_date,
            "seller": bill.seller, "buyer": bill.buyer,
            "currency": bill.amount_due.as_ref().map(|m| m.unit.clone()).unwrap_or_default(),
            "total_micros": m(&bill.tax_included_amount), "amount_due_micros": m(&bill.amount_due),
            "remaining_micros": m(&bill.remaining_amount), "option": if bill.generated { 2 } else { 1 },
            "rating_proof": bill.rating_proof })
}

/// The invoice's id on the registry, which the registry commands take.
fn registry_invoice(bilateral: &str, number: &str) -> Value {
    match omni_core::Hash32::from_hex(bilateral) {
        Ok(h) => json!(omni_node::registry_client::registry_invoice_id(
            &omni_node::BilateralId(h),
            number
        )
        .0
        .to_hex()),
        Err(_) => Value::Null,
    }
}

fn proof_json(p: &proto::BillProof) -> Value {
    json!({ "state": p.state, "done": p.done, "total": p.total, "records": p.records,
            "seconds": p.seconds, "error": p.error, "rating_proof": p.rating_proof })
}

/// Polls the proof of a bill until it is proven or failed, with a progress bar.
fn wait_for_proof(api: &NodeApi, bill: &proto::BillRef, quiet: bool) -> Result<proto::BillProof> {
    let bar = crate::proofs::Bar::new(&format!("proving {}", bill.bill_no), quiet);
    loop {
        let mut c = api.billing.clone();
        let p = api.call("GetBillProof", c.get_bill_proof(bill.clone()))?;
        bar.update(p.done as usize, p.total.max(1) as usize);
        match p.state.as_str() {
            "proven" if !p.rating_proof.is_empty() => {
                bar.finish();
                return Ok(p);
            }
            "failed" => {
                bar.finish();
                return Err(crate::node_client::Refused(format!(
                    "the rating proof of {} failed: {}",
                    bill.bill_no, p.error
                ))
                .into());
            }
            "none" => {
                bar.finish();
                return Err(crate::node_client::Refused(format!(
                    "bill {} has no rating proof and this node is not proving one (an Option 2 \
                     invoice, or issued by the counterparty)",
                    bill.bill_no
                ))
                .into());
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn items<T>(
    specs: &[String],
    what: &str,
    f: impl Fn(u32, i64, String) -> T,
    reason_required: bool,
) -> Result<Vec<T>> {
    specs
        .iter()
        .map(|s| {
            let mut parts = s.splitn(3, ':');
            let bad = || CannotAsk(format!("--item {s:?}: {what}"));
            let item = parts.next().and_then(|i| i.parse::<u32>().ok()).ok_or_else(bad)?;
            let amount = parse_amount(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
            let text = parts.next().unwrap_or("").to_string();
            if reason_required && text.is_empty() {
                return Err(bad().into());
            }
            Ok(f(item, amount, text))
        })
        .collect()
}

/// Runs `omni invoice …`.
pub fn invoice(common: &Common, command: InvoiceCommand) -> Result<()> {
    let api = NodeApi::connect(common.node.as_deref())?;
    let mut billing = api.billing.clone();
    let mut lifecycle = api.lifecycle.clone();
    match command {
        InvoiceCommand::Issue { bill, order, interval, option, no_wait } => {
            let request = proto::IssueBillRequest {
                bilateral: bill.b.bilateral.clone(),
                order,
                interval,
                bill_no: bill.number.clone(),
                option,
            };
            let r = api.call("IssueBill", billing.issue_bill(request))?;
            let mut proof = r.proof.clone();
            if option == 1 && !no_wait {
                proof = Some(wait_for_proof(&api, &bill_ref(&bill), common.json)?);
            }
            let b = r.bill.unwrap_or_default();
            let mut out = bill_json(&b);
            out["bilateral"] = json!(bill.b.bilateral);
            out["registry_invoice"] = registry_invoice(&bill.b.bilateral, &bill.number);
            out["entry"] = r.entry.as_ref().map(entry_json).unwrap_or(Value::Null);
            out["proof"] = proof.as_ref().map(proof_json).unwrap_or(Value::Null);
            print(common, out, || {
                let total = b.tax_included_amount.as_ref().map_or(0, |m| m.micros);
                let unit =
                    b.tax_included_amount.as_ref().map(|m| m.unit.clone()).unwrap_or_default();
                let how = match (&proof, option) {
                    (Some(p), 1) if p.state == "proven" => format!(
                        "Option 1, rating proof of {} records attached in {:.1} s ({})",
                        p.records, p.seconds, p.rating_proof
                    ),
                    (Some(p), 1) => format!("Option 1, rating proof {}", p.state),
                    _ => "Option 2, generated by the ledger".to_string(),
                };
                format!("invoice {} issued: {} {unit} ({how})", b.bill_no, format_micros(total))
            });
        }
        InvoiceCommand::List(b) => {
            let list = api.call(
                "ListBills",
                billing.list_bills(proto::ListBillsRequest { bilateral: b.bilateral }),
            )?;
            let rows: Vec<Value> = list.bills.iter().map(bill_json).collect();
            print(common, json!({ "invoices": rows }), || {
                list.bills
                    .iter()
                    .map(|b| {
                        let m = b.amount_due.clone().unwrap_or_default();
                        format!(
                            "{:<20} {:<18} {} {:>16} {}  {}",
                            b.bill_no,
                            b.state,
                            b.billing_period,
                            format_micros(m.micros),
                            m.unit,
                            if b.generated {
                                "Option 2"
                            } else if b.rating_proof.is_empty() {
                                "Option 1, unproven"
                            } else {
                                "Option 1, proven"
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        InvoiceCommand::Show { bill, html, out } => {
            if common.json {
                let b = api.call("GetBill", billing.get_bill(bill_ref(&bill)))?;
                let mut v = bill_json(&b);
                v["bilateral"] = json!(bill.b.bilateral);
                v["registry_invoice"] = registry_invoice(&bill.b.bilateral, &bill.number);
                v["items"] = json!(b
                    .items
                    .iter()
                    .map(|i| json!({ "item": i.item, "description": i.description,
                    "micros": i.amount.as_ref().map_or(0, |m| m.micros) }))
                    .collect::<Vec<_>>());
                println!("{v}");
                return Ok(());
            }
            let request = proto::RenderBillRequest {
                bilateral: bill.b.bilateral.clone(),
                bill_no: bill.number.clone(),
                format: if html { "html" } else { "text" }.into(),
            };
            let doc = api.call("RenderBill", billing.render_bill(request))?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &doc.content)
                        .map_err(|e| CannotAsk(format!("cannot write {}: {e}", path.display())))?;
                    println!("invoice {} written to {}", bill.number, path.display());
                }
                None => print!("{}", doc.content),
            }
        }
        InvoiceCommand::Accept(bill) => {
            let b = api.call("GetBill", billing.get_bill(bill_ref(&bill)))?;
            let accepted: Vec<proto::EntryAck> = if b.state == "issued" {
                vec![api.call("AcceptBill", billing.accept_bill(bill_ref(&bill)))?]
            } else {
                api.call("AcceptBillChanges", lifecycle.accept_bill_changes(bill_ref(&bill)))?
                    .accepted
            };
            print(
                common,
                json!({ "bilateral": bill.b.bilateral, "number": bill.number,
                        "accepted": accepted.iter().map(entry_json).collect::<Vec<_>>() }),
                || {
                    let seqs: Vec<String> = accepted.iter().map(|e| e.seq.to_string()).collect();
                    if b.state == "issued" {
                        format!("invoice {} accepted (entry {})", bill.number, seqs.join(", "))
                    } else {
                        format!(
                            "changes to invoice {} accepted (entries {})",
                            bill.number,
                            seqs.join(", ")
                        )
                    }
                },
            );
        }
        InvoiceCommand::Dispute { bill, items: specs } => {
            let items = items(
                &specs,
                "ITEM:AMOUNT:REASON",
                |item, micros, reason| proto::DisputedItem { item, micros, reason },
                true,
            )?;
            let request = proto::DisputeBillRequest {
                bilateral: bill.b.bilateral.clone(),
                bill_no: bill.number.clone(),
                items,
            };
            let e = api.call("DisputeBill", billing.dispute_bill(request))?;
            print(
                common,
                json!({ "bilateral": bill.b.bilateral, "number": bill.number, "entry": entry_json(&e) }),
                || format!("invoice {} disputed (entry {})", bill.number, e.seq),
            );
        }
        InvoiceCommand::Resolve { bill, items: specs } => {
            let items = items(
                &specs,
                "ITEM:ADJUSTMENT[:NOTE]",
                |item, adjustment_micros, note| proto::ItemResolution {
                    item,
                    adjustment_micros,
                    note,
                },
                false,
            )?;
            let request = proto::ResolveDisputeRequest {
                bilateral: bill.b.bilateral.clone(),
                bill_no: bill.number.clone(),
                items,
            };
            let e = api.call("ResolveDispute", lifecycle.resolve_dispute(request))?;
            print(
                common,
                json!({ "bilateral": bill.b.bilateral, "number": bill.number, "entry": entry_json(&e) }),
                || {
                    format!("resolution of invoice {} proposed (entry {}); the counterparty accepts it with `omni invoice accept`", bill.number, e.seq)
                },
            );
        }
        InvoiceCommand::Final(bill) => {
            let e = api.call("IssueFinalBill", lifecycle.issue_final_bill(bill_ref(&bill)))?;
            print(
                common,
                json!({ "bilateral": bill.b.bilateral, "number": bill.number, "entry": entry_json(&e) }),
                || format!("final invoice of {} proposed (entry {})", bill.number, e.seq),
            );
        }
        InvoiceCommand::CreditNote { bill, credit_note, amount, reason } => {
            let request = proto::IssueCreditNoteRequest {
                bilateral: bill.b.bilateral.clone(),
                number: credit_note.clone(),
                bill_no: bill.number.clone(),
                micros: parse_amount(&amount)?,
                reason,
            };
            let e = api.call("IssueCreditNote", lifecycle.issue_credit_note(request))?;
            print(
                common,
                json!({ "bilateral": bill.b.bilateral, "number": bill.number, "credit_note": credit_note, "entry": entry_json(&e) }),
                || {
                    format!(
                        "credit note {credit_note} on {} proposed (entry {})",
                        bill.number, e.seq
                    )
                },
            );
        }
        InvoiceCommand::Proof { bill, wait } => {
            let p = if wait {
                wait_for_proof(&api, &bill_ref(&bill), common.json)?
            } else {
                api.call("GetBillProof", billing.get_bill_proof(bill_ref(&bill)))?
            };
            let mut v = proof_json(&p);
            v["bilateral"] = json!(bill.b.bilateral);
            v["number"] = json!(bill.number);
            print(common, v, || {
                format!(
                    "rating proof of {}: {} ({}/{} steps, {} records){}",
                    bill.number,
                    p.state,
                    p.done,
                    p.total,
                    p.records,
                    if p.error.is_empty() { String::new() } else { format!(": {}", p.error) }
                )
            });
        }
        InvoiceCommand::Opening { bill, out } => {
            let o = api.call("ExportBillOpening", billing.export_bill_opening(bill_ref(&bill)))?;
            let credits: Vec<Value> = o
                .credits
                .iter()
                .map(|c| json!({ "reference": c.reference, "micros": c.micros, "credit_note": c.credit_note }))
                .collect();
            let v = json!({ "bilateral": o.bilateral, "number": o.bill_no, "registry_invoice": o.registry_invoice,
                            "currency": o.currency, "micros": o.micros, "blinding": o.blinding,
                            "credits": credits, "amount_due_micros": o.amount_due_micros,
                            "payer": o.payer, "payee": o.payee, "due_date": o.due_date });
            let text = format!("{}\n", serde_json::to_string_pretty(&v)?);
            crate::files::create(&out, text.as_bytes())?;
            print(
                common,
                json!({ "registry_invoice": o.registry_invoice, "file": out.display().to_string(),
                        "credits": o.credits.len(), "amount_due_micros": o.amount_due_micros }),
                || {
                    format!(
                        "opening of {} (registry invoice {}, amount due {} {} after {} credits) \
                         written to {}",
                        bill.number,
                        o.registry_invoice,
                        omni_core::money::format_micros(o.amount_due_micros),
                        o.currency,
                        o.credits.len(),
                        out.display()
                    )
                },
            );
        }
    }
    Ok(())
}

/// Runs `omni payment …`.
pub fn payment(common: &Common, command: PaymentCommand) -> Result<()> {
    let api = NodeApi::connect(common.node.as_deref())?;
    let mut billing = api.billing.clone();
    match command {
        PaymentCommand::Notify { b, number, netting, payment, amount, reference } => {
            let micros = match (&amount, &number) {
                (Some(a), _) => parse_amount(a)?,
                (None, Some(n)) => {
                    let r = proto::BillRef { bilateral: b.bilateral.clone(), bill_no: n.clone() };
                    let bill = api.call("GetBill", billing.get_bill(r))?;
                    bill.remaining_amount.map_or(0, |m| m.micros)
                }
                (None, None) => {
                    return Err(CannotAsk("a netting payment needs --amount".into()).into())
                }
            };
            let target = number.clone().unwrap_or_default();
            let request = proto::NotifyPaymentRequest {
                bilateral: b.bilateral.clone(),
                bill_no: target.clone(),
                payment: payment.clone(),
                micros,
                reference,
                netting: netting.clone().unwrap_or_default(),
            };
            let e = api.call("NotifyPayment", billing.notify_payment(request))?;
            let what = match &netting {
                Some(n) => format!("netting {n}"),
                None => target.clone(),
            };
            print(
                common,
                json!({ "bilateral": b.bilateral, "number": number, "netting": netting,
                        "payment": payment, "micros": micros, "entry": entry_json(&e) }),
                || {
                    let amount = format_micros(micros);
                    format!("payment {payment} of {amount} on {what} notified (entry {})", e.seq)
                },
            );
        }
        PaymentCommand::Receipt { b, payment } => {
            let request = proto::ConfirmReceiptRequest {
                bilateral: b.bilateral.clone(),
                payment: payment.clone(),
            };
            let e = api.call("ConfirmReceipt", billing.confirm_receipt(request))?;
            print(
                common,
                json!({ "bilateral": b.bilateral, "payment": payment, "entry": entry_json(&e) }),
                || format!("receipt of payment {payment} confirmed (entry {})", e.seq),
            );
        }
    }
    Ok(())
}

fn cycle_view_json(v: &proto::CycleView) -> Value {
    let participants: Vec<Value> = v
        .participants
        .iter()
        .map(|p| json!({ "party": p.party, "joined": p.joined, "net": p.net }))
        .collect();
    let instructions: Vec<Value> = v
        .instructions
        .iter()
        .map(|i| {
            json!({ "index": i.index, "from": i.from, "to": i.to, "micros": i.micros,
                    "confirmed": i.confirmed })
        })
        .collect();
    json!({ "cycle": v.cycle, "phase": v.phase, "currency": v.currency, "cutoff": v.cutoff,
            "opener": v.opener, "participants": participants, "invoices": v.invoices,
            "instructions": instructions, "settled_volume": v.settled_volume,
            "settled_at": v.settled_at, "own_net": v.own_net, "own_invoices": v.own_invoices })
}

fn cycle_view_text(v: &proto::CycleView) -> String {
    let joined = v.participants.iter().filter(|p| p.joined).count();
    let mut out = format!(
        "netting cycle {} ({}): {}, {joined} of {} joined, {} invoices due by {} locked; this \
         party's net {} over {} of them",
        v.cycle,
        v.currency,
        v.phase,
        v.participants.len(),
        v.invoices.len(),
        v.cutoff,
        format_micros(v.own_net),
        v.own_invoices
    );
    for i in &v.instructions {
        out.push_str(&format!(
            "\n  #{} {} pays {} {}{}",
            i.index,
            i.from,
            i.to,
            format_micros(i.micros),
            if i.confirmed { " (confirmed)" } else { "" }
        ));
    }
    out
}

fn print_cycle_ack(common: &Common, a: &proto::CycleAck, did: &str) {
    let view = a.cycle_view.clone().unwrap_or_default();
    print(
        common,
        json!({ "cycle": a.cycle, "txs": a.txs, "phase": view.phase, "view": cycle_view_json(&view) }),
        || format!("netting cycle {}: {did}\n{}", a.cycle, cycle_view_text(&view)),
    );
}

/// Runs `omni netting …`.
pub fn netting(common: &Common, command: NettingCommand) -> Result<()> {
    let api = NodeApi::connect(common.node.as_deref())?;
    let mut c = api.lifecycle.clone();
    match command {
        NettingCommand::Propose { b, netting, period } => {
            let request = proto::ProposeNettingRequest {
                bilateral: b.bilateral.clone(),
                netting: netting.clone(),
                period,
            };
            let v = api.call("ProposeNetting", c.propose_netting(request))?;
            print(
                common,
                json!({ "bilateral": b.bilateral, "netting": v.netting, "payer": v.payer, "micros": v.micros,
                        "documents": v.documents, "entry": v.entry.as_ref().map(entry_json) }),
                || {
                    let who = if v.payer.is_empty() {
                        "nobody (the documents cancel out)".to_string()
                    } else {
                        v.payer.clone()
                    };
                    format!(
                        "netting {} of {} proposed: {who} pays {}",
                        v.netting,
                        v.documents.join(", "),
                        format_micros(v.micros)
                    )
                },
            );
        }
        NettingCommand::Accept { b, netting } => {
            let request =
                proto::NettingRef { bilateral: b.bilateral.clone(), netting: netting.clone() };
            let e = api.call("AcceptNetting", c.accept_netting(request))?;
            print(
                common,
                json!({ "bilateral": b.bilateral, "netting": netting, "entry": entry_json(&e) }),
                || format!("netting {netting} accepted (entry {})", e.seq),
            );
        }
        NettingCommand::Open { currency, cutoff, participants } => {
            let request = proto::OpenCycleRequest { currency, cutoff, participants };
            let a = api.call("OpenCycle", api.netting.clone().open_cycle(request))?;
            print_cycle_ack(common, &a, "opened");
        }
        NettingCommand::Join { cycle } => {
            let a =
                api.call("JoinCycle", api.netting.clone().join_cycle(proto::CycleRef { cycle }))?;
            print_cycle_ack(common, &a, "joined");
        }
        NettingCommand::Reveal { cycle } => {
            let a =
                api.call("RevealNet", api.netting.clone().reveal_net(proto::CycleRef { cycle }))?;
            print_cycle_ack(common, &a, "net position opened");
        }
        NettingCommand::Confirm { cycle, instruction } => {
            let request = proto::ConfirmSettlementRequest { cycle, instruction };
            let a =
                api.call("ConfirmSettlement", api.netting.clone().confirm_settlement(request))?;
            print_cycle_ack(common, &a, "transfers confirmed");
        }
        NettingCommand::Status { cycle } => {
            let v =
                api.call("GetCycle", api.netting.clone().get_cycle(proto::CycleRef { cycle }))?;
            print(common, cycle_view_json(&v), || cycle_view_text(&v));
        }
        NettingCommand::Record { cycle } => {
            let r = api.call(
                "RecordCycleResult",
                api.netting.clone().record_cycle_result(proto::CycleRef { cycle }),
            )?;
            let rows: Vec<Value> = r
                .results
                .iter()
                .map(|x| {
                    json!({ "bilateral": x.bilateral, "netting": x.netting, "invoices": x.invoices,
                            "step": x.step, "entry": x.entry.as_ref().map(entry_json) })
                })
                .collect();
            print(common, json!({ "cycle": r.cycle, "results": rows }), || {
                let mut out = format!("netting cycle {cycle} on this party's bilaterals:");
                for x in &r.results {
                    out.push_str(&format!(
                        "\n  {} {}: {} ({})",
                        x.bilateral,
                        x.netting,
                        x.step,
                        x.invoices.join(", ")
                    ));
                }
                if r.results.is_empty() {
                    out.push_str(" none of its invoices were in the cycle");
                }
                out
            });
        }
        NettingCommand::Position { registry_invoices } => {
            let request = proto::GetNetPositionRequest { registry_invoices };
            let p = api.call("GetNetPosition", api.billing.clone().get_net_position(request))?;
            print(
                common,
                json!({ "micros": p.micros, "blinding": p.blinding, "invoices": p.invoices }),
                || {
                    format!(
                        "net position {} over {} of the cycle's invoices (blinding {})",
                        format_micros(p.micros),
                        p.invoices.len(),
                        p.blinding
                    )
                },
            );
        }
    }
    Ok(())
}
