//! A financier's desk on the command line (MEF 114 §10: invoice financing without double
//! pledges):
//!
//! - `omni finance check --invoice ID --opening FILE`: one answer to "may I finance this
//!   invoice?" — it is on the registry (so its rating proof verified there), the buyer
//!   accepted it, it is not disputed, paid, overdue, netted or already pledged, the opening
//!   the seller gave opens the registry's amount commitment, and the payer's reputation —
//!   ending with a verdict. Exit 0 financeable, 1 not (each reason printed), 2 could not
//!   check.
//! - `omni finance pledge`: the same check, then the pledge of the invoice's nullifier on
//!   the registry (which refuses a second pledge of the same invoice by anyone); the
//!   financier's book (`KEY.pledges.json` beside its key) records what it holds.
//! - `omni finance release`: releases a pledge it holds (e.g. once paid).
//! - `omni finance status`: each invoice it holds as the registry shows it now, and what
//!   changed since the pledge (a dispute, a payment, an amount commitment replaced).
//!
//! The registry never learns which invoice a nullifier belongs to, so only the financier
//! (through its book) can link its pledges to invoices. The opening file is the one the
//! seller's node exports (`omni invoice opening`).

use crate::node_client::{CannotAsk, Refused};
use crate::registry_api::Signer;
use crate::registry_api::{date, hash_arg, RegistryApi};
use anyhow::Result;
use clap::Subcommand;
use omni_core::Hash32;
use omni_registry_protocol::convert::{
    credits_from_proto, invoice_from_proto, reputation_from_proto,
};
use omni_registry_protocol::proto;
use omni_registry_types::pledge::{assess, nullifier, Assessment, FinancingPolicy, InvoiceOpening};
use omni_registry_types::records::{Invoice, InvoiceCredit, InvoiceStatus};
use omni_registry_types::reputation::Reputation;
use omni_registry_types::tx::{Blinding, InvoiceId, Nullifier, TxBody};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `omni finance …`
#[derive(Subcommand)]
pub enum FinanceCommand {
    /// Whether an invoice may be financed: exit 0 financeable, 1 not, 2 could not check.
    Check {
        /// The registry's gRPC endpoint.
        #[arg(long, default_value = crate::registry_api::DEFAULT_REGISTRY)]
        registry: String,
        #[command(flatten)]
        invoice: InvoiceArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check an invoice and pledge it on the registry (a financier's key).
    Pledge {
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        invoice: InvoiceArgs,
    },
    /// Release a pledge this financier holds.
    Release {
        #[command(flatten)]
        signer: Signer,
        /// The registry invoice id (hex) of the pledged invoice.
        #[arg(long)]
        invoice: String,
    },
    /// What this financier holds, as the registry shows it now.
    Status {
        #[command(flatten)]
        signer: Signer,
    },
}

/// Which invoice, how it opens, and the financier's policy.
#[derive(clap::Args)]
pub struct InvoiceArgs {
    /// The registry invoice id (hex; the opening file names it too).
    #[arg(long)]
    invoice: String,
    /// The opening file the seller's node exported (`omni invoice opening`).
    #[arg(long)]
    opening: PathBuf,
    /// Refuse payers whose PAYDEX-style score (1–100) is below this.
    #[arg(long)]
    min_paydex: Option<u8>,
    /// Refuse payers whose on-time ratio (basis points) is below this.
    #[arg(long)]
    min_on_time_bp: Option<u32>,
}

/// The opening file a seller's node exports for a financier (`omni invoice opening`).
#[derive(Deserialize)]
struct OpeningFile {
    registry_invoice: String,
    currency: String,
    micros: i64,
    blinding: String,
    payer: String,
    payee: String,
    due_date: String,
    /// Credits agreed since the invoice was proven (a file exported before any has none).
    #[serde(default)]
    credits: Vec<OpeningCredit>,
    #[serde(default)]
    number: String,
}

/// A credit in an opening file: which, and how much.
#[derive(Deserialize)]
struct OpeningCredit {
    reference: String,
    micros: i64,
}

/// One pledge in a financier's book.
#[derive(Serialize, Deserialize, Clone)]
struct Holding {
    invoice: String,
    number: String,
    nullifier: String,
    currency: String,
    micros: i64,
    due_date: String,
    payer: String,
    payee: String,
    /// The proven amount commitment when pledged.
    amount_commitment: String,
    pledged_height: u64,
    tx: String,
    released: bool,
}

/// What the registry and the opening say about an invoice.
struct Examination {
    invoice: InvoiceId,
    record: Option<Invoice>,
    /// The credits the registry records on it.
    credits: Vec<InvoiceCredit>,
    /// The amount due the opening gives after those credits, or why it gives none.
    amount_due: std::result::Result<u64, String>,
    /// The payer's reputation as the registry answered it.
    reputation: Option<proto::Reputation>,
    opening: InvoiceOpening,
    file: OpeningFile,
    pledged: Option<proto::CheckPledgeResponse>,
    verifier: String,
    height: u64,
    /// What may be pledged (nullifier, amount, due date), or why not.
    verdict: std::result::Result<Assessment, String>,
}

fn read_opening(path: &Path, invoice: &InvoiceId) -> Result<(OpeningFile, InvoiceOpening)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CannotAsk(format!("--opening {}: {e}", path.display())))?;
    let file: OpeningFile = serde_json::from_str(&text).map_err(|e| {
        CannotAsk(format!("--opening {}: not an invoice opening: {e}", path.display()))
    })?;
    if file.registry_invoice != invoice.0.to_hex() {
        return Err(CannotAsk(format!(
            "--opening {} opens invoice {}, not {}",
            path.display(),
            file.registry_invoice,
            invoice.0
        ))
        .into());
    }
    let blinding: [u8; 32] =
        hex::decode(&file.blinding).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
            CannotAsk(format!("--opening {}: blinding is not 32 bytes of hex", path.display()))
        })?;
    let amount = u64::try_from(file.micros)
        .map_err(|_| CannotAsk(format!("--opening {}: a negative amount", path.display())))?;
    let credits = file
        .credits
        .iter()
        .map(|c| {
            let reference = Hash32::from_hex(&c.reference).map_err(|e| {
                CannotAsk(format!("--opening {}: credit {:?}: {e}", path.display(), c.reference))
            })?;
            let micros = u64::try_from(c.micros).map_err(|_| {
                CannotAsk(format!("--opening {}: a negative credit", path.display()))
            })?;
            Ok((reference, micros))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((file, InvoiceOpening { amount, blinding: Blinding(blinding), credits }))
}

/// Reads the invoice, its payer's reputation and the nullifier's pledge from the registry
/// and judges them with [`assess`].
fn examine(registry: &str, args: &InvoiceArgs) -> Result<Examination> {
    let invoice = InvoiceId(hash_arg("invoice", &args.invoice)?);
    let (file, opening) = read_opening(&args.opening, &invoice)?;
    let api = RegistryApi::connect(registry)?;
    let status = api.call("GetStatus", api.rpc.clone().get_status(proto::GetStatusRequest {}))?;
    let request = proto::GetInvoiceRequest { invoice_id: invoice.0 .0.to_vec() };
    let answer = api.call("GetInvoice", api.rpc.clone().get_invoice(request))?;
    let height = answer.at.as_ref().map_or(0, |a| a.height);
    let unreadable =
        |e: omni_registry_types::Error| CannotAsk(format!("the registry's answer: {e}"));
    let record = match answer.invoice.as_ref().filter(|_| answer.found) {
        Some(p) => Some(invoice_from_proto(p).map_err(unreadable)?),
        None => None,
    };
    let credits = match answer.invoice.as_ref().filter(|_| answer.found) {
        Some(p) => credits_from_proto(p).map_err(unreadable)?,
        None => Vec::new(),
    };
    let reputation = answer.payer_reputation.clone().filter(|_| record.is_some());
    let pledged = match nullifier(&opening.blinding) {
        Ok(n) => {
            let request = proto::CheckPledgeRequest { nullifier: n.0.to_vec() };
            Some(api.call("CheckPledge", api.rpc.clone().check_pledge(request))?)
        }
        Err(_) => None,
    };
    let verdict = match &record {
        None => Err(format!("the registry holds no invoice {}", invoice.0)),
        Some(record) => {
            let policy = FinancingPolicy {
                min_paydex: args.min_paydex,
                min_on_time_bp: args.min_on_time_bp,
            };
            let reputation = match &reputation {
                Some(p) => reputation_from_proto(p).map_err(unreadable)?,
                None => Reputation::default(),
            };
            let now = answer.at.as_ref().map_or(0, |a| a.time).max(omni_core::Clock::System.now());
            let is_pledged = pledged.as_ref().is_some_and(|p| p.pledged);
            assess(record, &credits, &opening, &reputation, |_| is_pledged, now, &policy)
                .map_err(|e| e.to_string())
        }
    };
    let amount_due = opening.amount_due(&credits);
    Ok(Examination {
        invoice,
        record,
        credits,
        amount_due,
        reputation,
        opening,
        file,
        pledged,
        verifier: status.proof_verifier,
        height,
        verdict,
    })
}

impl Examination {
    fn json(&self) -> Value {
        let r = self.record.as_ref();
        let rep = self.reputation.as_ref();
        json!({
            "invoice": self.invoice.0.to_hex(),
            "number": self.file.number,
            "exists": r.is_some(),
            "proof_verified": r.is_some(),
            "proof_verifier": self.verifier,
            "status": r.map(|r| r.status.name()),
            "accepted": r.is_some_and(accepted),
            "disputed": r.is_some_and(|r| r.status == InvoiceStatus::Disputed),
            "paid": r.is_some_and(|r| r.status == InvoiceStatus::Paid),
            "netting_cycle": r.and_then(|r| r.netting_cycle),
            "pledged": self.pledged.as_ref().map(|p| p.pledged),
            "opening_matches": r.map(|r| self.opens(r)),
            "currency": self.file.currency,
            "micros": self.file.micros,
            "credits": self.credits.len(),
            "amount_due_micros": self.amount_due.as_ref().ok(),
            "payer": r.map(|r| r.payer.to_hex()).unwrap_or_else(|| self.file.payer.clone()),
            "payee": r.map(|r| r.payee.to_hex()).unwrap_or_else(|| self.file.payee.clone()),
            "due_date": r.map(|r| date(r.due_date)).unwrap_or_else(|| self.file.due_date.clone()),
            "payer_reputation": rep.map(crate::registry_reads::reputation_json),
            "height": self.height,
            "verdict": if self.verdict.is_ok() { "financeable" } else { "not financeable" },
            "reason": self.verdict.as_ref().err(),
        })
    }

    fn print(&self, json: bool) {
        if json {
            println!("{}", self.json());
            return;
        }
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!("invoice {} {}", self.invoice.0, self.file.number);
        let Some(r) = &self.record else {
            println!("  on the registry      no");
            println!("NOT FINANCEABLE: {}", self.verdict.as_ref().err().map_or("", |s| s));
            return;
        };
        println!("  on the registry      yes (height {})", self.height);
        println!("  rating proof         verified by the registry ({})", self.verifier);
        println!("  status               {}", r.status.name());
        println!("  accepted by payer    {}", yes(accepted(r)));
        println!("  disputed             {}", yes(r.status == InvoiceStatus::Disputed));
        println!(
            "  pledged              {}",
            self.pledged.as_ref().map_or("unknown (the opening is malformed)", |p| yes(p.pledged))
        );
        println!("  opening matches      {}", yes(self.opens(r)));
        println!(
            "  amount               {} {}",
            omni_core::money::format_micros(self.file.micros),
            self.file.currency
        );
        if !self.credits.is_empty() {
            let due = match &self.amount_due {
                Ok(due) => format!(
                    "{} {}",
                    omni_core::money::format_micros(*due as i64),
                    self.file.currency
                ),
                Err(why) => format!("unknown: {why}"),
            };
            println!("  credits              {}, amount due {due}", self.credits.len());
        }
        println!("  due date             {}", date(r.due_date));
        if let Some(p) = &self.reputation {
            println!(
                "  payer reputation     {} invoices, {} paid on time, {} late, {} overdue, \
                 PAYDEX {}",
                p.invoices,
                p.paid_on_time,
                p.paid_late,
                p.overdue,
                p.paydex.map_or("-".to_string(), |s| s.to_string())
            );
        }
        match &self.verdict {
            Ok(_) => println!("FINANCEABLE"),
            Err(reason) => println!("NOT FINANCEABLE: {reason}"),
        }
    }
}

impl Examination {
    /// Whether the seller's opening opens the registry's amount commitment.
    fn opens(&self, record: &Invoice) -> bool {
        self.opening.opens(&record.amount_commitment).unwrap_or(false)
    }
}

/// Accepted by the payer and not disputed since.
fn accepted(record: &Invoice) -> bool {
    record.accepted_at.is_some() && record.status != InvoiceStatus::Disputed
}

/// The financier's book beside its key.
fn book_path(key: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pledges.json", key.display()))
}

fn read_book(key: &Path) -> Result<Vec<Holding>> {
    let path = book_path(key);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)
            .map_err(|e| CannotAsk(format!("the pledge book {}: {e}", path.display())))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(CannotAsk(format!("the pledge book {}: {e}", path.display())).into()),
    }
}

/// Writes the book whole (never half a book).
fn write_book(key: &Path, book: &[Holding]) -> Result<()> {
    crate::files::replace(&book_path(key), &serde_json::to_vec_pretty(book)?)
}

/// Runs `omni finance …`.
pub fn finance(command: FinanceCommand) -> Result<()> {
    match command {
        FinanceCommand::Check { registry, invoice, json } => {
            let e = examine(&registry, &invoice)?;
            e.print(json);
            if let Err(reason) = e.verdict {
                return Err(Refused(format!("not financeable: {reason}")).into());
            }
            Ok(())
        }
        FinanceCommand::Pledge { signer, invoice } => pledge(&signer, &invoice),
        FinanceCommand::Release { signer, invoice } => release(&signer, &invoice),
        FinanceCommand::Status { signer } => status(&signer),
    }
}

fn pledge(signer: &Signer, args: &InvoiceArgs) -> Result<()> {
    let e = examine(&signer.registry, args)?;
    let (record, assessment) = match (&e.record, &e.verdict) {
        (Some(record), Ok(assessment)) => (record, assessment),
        (_, verdict) => {
            if !signer.json {
                e.print(false);
            }
            let reason = verdict.as_ref().err().map_or("no invoice", String::as_str);
            return Err(Refused(format!("not pledged: {reason}")).into());
        }
    };
    let n = assessment.nullifier;
    let done = signer.submit(TxBody::Pledge { nullifier: n })?;
    let height =
        done.event("InvoicePledged").and_then(|v| v["height"].as_u64()).unwrap_or(e.height);
    let mut book = read_book(&signer.key)?;
    book.retain(|h| h.invoice != e.invoice.0.to_hex() || !h.released);
    book.push(Holding {
        invoice: e.invoice.0.to_hex(),
        number: e.file.number.clone(),
        nullifier: n.to_string(),
        currency: e.file.currency.clone(),
        micros: assessment.amount,
        due_date: date(record.due_date),
        payer: record.payer.to_hex(),
        payee: record.payee.to_hex(),
        amount_commitment: hex::encode(record.amount_commitment.0),
        pledged_height: height,
        tx: done.tx.to_hex(),
        released: false,
    });
    write_book(&signer.key, &book)?;
    signer.print(
        json!({ "invoice": e.invoice.0.to_hex(), "nullifier": n.to_string(),
                "micros": assessment.amount, "currency": e.file.currency,
                "due_date": date(record.due_date), "tx": done.tx.to_hex() }),
        format!(
            "invoice {} pledged ({} {}, due {}; nullifier {n}, transaction {})",
            e.invoice.0,
            omni_core::money::format_micros(assessment.amount),
            e.file.currency,
            date(record.due_date),
            done.tx
        ),
    );
    Ok(())
}

fn release(signer: &Signer, invoice: &str) -> Result<()> {
    let invoice = hash_arg("invoice", invoice)?.to_hex();
    let mut book = read_book(&signer.key)?;
    let Some(ix) = book.iter().position(|h| h.invoice == invoice && !h.released) else {
        return Err(Refused(format!(
            "this financier holds no pledge of invoice {invoice} (its book: {})",
            book_path(&signer.key).display()
        ))
        .into());
    };
    let n = Nullifier(Hash32::from_hex(&book[ix].nullifier)?.0);
    let done = signer.submit(TxBody::ReleasePledge { nullifier: n })?;
    book[ix].released = true;
    write_book(&signer.key, &book)?;
    signer.print(
        json!({ "invoice": invoice, "nullifier": n.to_string(), "tx": done.tx.to_hex() }),
        format!("pledge of invoice {invoice} released (transaction {})", done.tx),
    );
    Ok(())
}

fn status(signer: &Signer) -> Result<()> {
    let book = read_book(&signer.key)?;
    let api = RegistryApi::connect(&signer.registry)?;
    let mut rows = Vec::new();
    for h in book.iter().filter(|h| !h.released) {
        let id = Hash32::from_hex(&h.invoice)?;
        let request = proto::GetInvoiceRequest { invoice_id: id.0.to_vec() };
        let answer = api.call("GetInvoice", api.rpc.clone().get_invoice(request))?;
        let n = Hash32::from_hex(&h.nullifier)?;
        let request = proto::CheckPledgeRequest { nullifier: n.0.to_vec() };
        let pledge = api.call("CheckPledge", api.rpc.clone().check_pledge(request))?;
        let inv = answer.invoice.filter(|_| answer.found);
        // Credits the registry recorded after the pledge: the amount due is lower.
        let since: Vec<_> = inv
            .iter()
            .flat_map(|i| &i.credits)
            .filter(|c| c.height > h.pledged_height)
            .cloned()
            .collect();
        let mut changes = Vec::new();
        if let Some(inv) = &inv {
            if inv.disputed_at.is_some() || inv.status == "disputed" {
                changes.push(format!(
                    "disputed{}",
                    inv.disputed_at.map(|t| format!(" at {}", date(t))).unwrap_or_default()
                ));
            }
            if hex::encode(&inv.amount_commitment) != h.amount_commitment {
                changes.push("its proven amount commitment is not the one pledged".into());
            }
            for c in &since {
                changes.push(format!(
                    "credited at {} (credit {}): the amount due is lower than pledged",
                    date(c.credited_at),
                    hex::encode(&c.reference)
                ));
            }
            if let Some(t) = inv.paid_at {
                changes.push(format!("paid at {} by {}", date(t), inv.paid_by));
            }
            if inv.status != "paid" && omni_core::Clock::System.now() > inv.due_date {
                changes.push("overdue".into());
            }
        } else {
            changes.push("no longer on the registry".into());
        }
        rows.push(json!({
            "invoice": h.invoice, "number": h.number, "nullifier": h.nullifier,
            "micros": h.micros, "currency": h.currency, "due_date": h.due_date,
            "payer": h.payer, "status": inv.as_ref().map(|i| i.status.clone()),
            "still_pledged": pledge.pledged, "pledged_height": pledge.height,
            "credits_since_pledge": since.len(),
            "changes": changes,
        }));
    }
    if signer.json {
        println!("{}", json!({ "holdings": rows }));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no pledges held (book {})", book_path(&signer.key).display());
    }
    for r in &rows {
        println!(
            "{} {} {} {} due {}: {}{}",
            r["invoice"].as_str().unwrap_or_default(),
            r["number"].as_str().unwrap_or_default(),
            omni_core::money::format_micros(r["micros"].as_i64().unwrap_or_default()),
            r["currency"].as_str().unwrap_or_default(),
            r["due_date"].as_str().unwrap_or_default(),
            r["status"].as_str().unwrap_or("unknown"),
            match r["changes"].as_array() {
                Some(c) if !c.is_empty() => format!(
                    " — since the pledge: {}",
                    c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; ")
                ),
                _ => String::new(),
            }
        );
    }
    Ok(())
}
