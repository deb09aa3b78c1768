//! The bilateral state machine: pure, deterministic, no disk or network.
//!
//! [`BilateralState::genesis`] creates a state from a contract entry;
//! [`BilateralState::apply`] takes the next entry and either returns what it did
//! ([`Applied`]) or an [`Error`] that says what was wrong — in which case the state is
//! unchanged. Every entry is checked **fully before anything changes**, in two phases:
//!
//! 1. *link and signer* — bilateral id, sequence number (no gaps, no replays), previous
//!    hash, timestamp, authorised signatory, signature;
//! 2. *plan* — the body's business rules, against `&self`, producing an `Effect` with
//!    everything precomputed (new usage totals, the generated invoice, …);
//!
//! and only then *commit* the effect, which cannot fail.
//!
//! The state keeps, per open usage account (order × billing interval), the
//! [`UsageTotals`] of its records and the set of their [`RecordKey`]s — never the records,
//! which live in the entries. The key sets are derived data: they are left out of the
//! [`Snapshot`] (the store rebuilds them from the account's usage-batch entries) but
//! summarised in it by count and key sum, so a rebuilt set is checked against the
//! snapshot. When an account's rating is agreed its key set leaves memory: [`Applied`]
//! hands it to the store's usage index, written with the agreeing entry.

use crate::contract::{check_text, Contract, Order, MAX_ID_LEN, MAX_TEXT_LEN};
use crate::entry::{
    supply_chain_order_id, Accept, BilateralId, Entry, EntryBody, GenerateInvoice,
    RatingProofAttachment, RatingProposal, RecordKey, RecordKeyHasher, RecordKeySet, Reject,
    SupplyChainMapRecord, UsageBatch,
};
use crate::invoice::{
    apply_bps, check_against_rating, invoice_from_rating, CreditNote, Dispute, DisputeResolution,
    FinalInvoice, Invoice,
};
use crate::settlement::{
    self, CycleNetting, Netting, PaymentNotice, PaymentReceipt, SettlementRef,
};
use crate::{Error, Refusal, Result};
use omni_circuits::compliance::{order_commitment, ComplianceMap};
use omni_core::money::format_micros;
use omni_core::rating::{Rating, RatingOptions, UsageTotals};
use omni_core::tariff::{RoundingMode, Tariff};
use omni_core::{BillingInterval, Hash32, IntervalId, Micros, PartyId, UsageRecord};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The most records one usage batch may hold.
pub const MAX_BATCH_RECORDS: usize = 1 << 20;

/// The largest rating proof bundle an entry may carry (4096 chunk proofs and a statement
/// fit in well under 1 MiB).
pub const MAX_RATING_PROOF_BYTES: usize = 1 << 20;

/// Largest supply-chain map an entry may carry (about 60 hop proofs).
pub const MAX_SUPPLY_CHAIN_MAP_BYTES: usize = 256 << 10;

/// Batches at least this large hash their record ids on all cores.
const PARALLEL_KEYS: usize = 4096;

/// A usage account: one order's usage in one billing interval.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct AccountKey {
    /// The order.
    pub order: String,
    /// The billing interval.
    pub interval: IntervalId,
}

impl AccountKey {
    /// Builds a key.
    pub fn new(order: &str, interval: &IntervalId) -> AccountKey {
        AccountKey { order: order.to_string(), interval: interval.clone() }
    }

    /// 8-byte tag of the account, stored with each record key in the usage index.
    pub fn tag(&self) -> [u8; 8] {
        let h = Hash32::digest("omni/usage-account", &omni_core::encode(self));
        let mut t = [0u8; 8];
        t.copy_from_slice(&h.0[..8]);
        t
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order {:?} in {}", self.order, self.interval)
    }
}

/// The last applied entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Head {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash32,
    /// Its timestamp.
    pub timestamp: u64,
}

/// Where the contract stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum ContractStatus {
    /// Proposed by one party, awaiting the other's acceptance.
    Proposed,
    /// In force.
    Active,
    /// Rejected by the counterparty at entry `seq`: the bilateral is closed.
    Rejected {
        /// The rejection entry.
        seq: u64,
    },
    /// Terminated at entry `seq`: no new orders or usage; open business is settled.
    Terminated {
        /// The termination entry.
        seq: u64,
        /// By whom.
        by: PartyId,
    },
}

/// Where an order stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Awaiting the counterparty.
    Proposed,
    /// Agreed by both (R60).
    Agreed,
    /// Rejected.
    Rejected,
}

/// An order and its status.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrderState {
    /// The order.
    pub order: Order,
    /// Entry that proposed it.
    pub seq: u64,
    /// Status.
    pub status: OrderStatus,
    /// Supply-chain maps the seller recorded for it, oldest first (one per embargo list
    /// version it was proven against).
    pub supply_chain_maps: Vec<SupplyChainMapRef>,
}

/// A supply-chain map recorded on the bilateral.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SupplyChainMapRef {
    /// The entry that recorded it.
    pub seq: u64,
    /// Its commitment (`ComplianceMap::commitment`), as the registry records it.
    pub commitment: Hash32,
    /// Number of hops.
    pub hops: u32,
    /// The embargo list version its hops were proven against.
    pub embargo_version: u32,
}

/// Where the rating of a usage account stands.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum RatingStatus {
    /// Usage may still be added.
    Open,
    /// The seller proposed `rating` at entry `seq`; usage is closed.
    Proposed {
        /// The rating entry.
        seq: u64,
        /// The proposed rating.
        rating: Rating,
    },
    /// Agreed by both (R66–R67).
    Agreed {
        /// The rating entry.
        seq: u64,
        /// The agreed rating.
        rating: Rating,
    },
}

/// One order's usage in one billing interval.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UsageAccount {
    /// The interval.
    pub interval: BillingInterval,
    /// Per-product sums of the recorded usage.
    pub totals: UsageTotals,
    /// Sequence numbers of the usage-batch entries recorded (the records live there).
    pub batches: Vec<u64>,
    /// Wrapping sum of the records' [`RecordKey`]s: checks a rebuilt key set.
    pub key_sum: u128,
    /// Rating status.
    pub rating: RatingStatus,
    /// The invoice of the agreed rating, once issued.
    pub invoice: Option<String>,
}

impl UsageAccount {
    fn new(interval: BillingInterval, tariff: &Tariff) -> UsageAccount {
        UsageAccount {
            interval,
            totals: UsageTotals::new(tariff),
            batches: Vec::new(),
            key_sum: 0,
            rating: RatingStatus::Open,
            invoice: None,
        }
    }

    /// Records recorded in the account.
    pub fn records(&self) -> u64 {
        self.totals.record_count()
    }

    /// Whether the account's record keys are still needed to refuse duplicates (its rating
    /// is not agreed).
    pub fn is_open(&self) -> bool {
        !matches!(self.rating, RatingStatus::Agreed { .. })
    }
}

/// Status of an invoice, derived from its history.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum InvoiceStatus {
    /// Issued, awaiting the buyer.
    Issued,
    /// Accepted by the buyer: final and payable.
    Accepted,
    /// Disputed; no item resolved yet.
    Disputed,
    /// Some disputed items resolved, others still open (R79–R80).
    PartiallyResolved,
    /// Every disputed item resolved; the final invoice is not yet agreed.
    Resolved,
    /// Reconciled and final (R78, R81).
    Final,
    /// Paid in full.
    Paid,
    /// Settled by a netting result.
    Netted,
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvoiceStatus::Issued => "issued",
            InvoiceStatus::Accepted => "accepted",
            InvoiceStatus::Disputed => "disputed",
            InvoiceStatus::PartiallyResolved => "partially resolved",
            InvoiceStatus::Resolved => "resolved",
            InvoiceStatus::Final => "final",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Netted => "netted",
        })
    }
}

/// One disputed item and its outcome.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisputedItemState {
    /// Amount disputed.
    pub disputed: Micros,
    /// The buyer's reason.
    pub reason: String,
    /// Agreed adjustment, once resolved; `None` while open (R80).
    pub adjustment: Option<Micros>,
}

/// A dispute of an invoice.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisputeState {
    /// The dispute entry.
    pub seq: u64,
    /// Disputed items by item number.
    pub items: BTreeMap<u32, DisputedItemState>,
}

impl DisputeState {
    /// Items still open.
    pub fn open_items(&self) -> usize {
        self.items.values().filter(|i| i.adjustment.is_none()).count()
    }
}

/// A reconciled invoice revision (R78–R79).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Revision {
    /// Revision number, from 1.
    pub number: u32,
    /// Reconciled net.
    pub net: Micros,
    /// Tax on it.
    pub tax: Micros,
    /// Reconciled amount due.
    pub total: Micros,
    /// Disputed items still open when it was made (0 for the final one).
    pub open_items: u32,
    /// When it was issued (the final-invoice entry's timestamp).
    pub issued_at: u64,
    /// The final-invoice entry.
    pub seq: u64,
}

/// An invoice and everything that happened to it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvoiceState {
    /// The invoice as issued.
    pub invoice: Invoice,
    /// Seller (payee).
    pub seller: PartyId,
    /// Buyer (payer).
    pub buyer: PartyId,
    /// Generated by the ledger (Option 2) rather than issued by the seller (Option 1).
    pub generated: bool,
    /// The issuing entry.
    pub seq: u64,
    /// Invoice date (the issuing entry's timestamp).
    pub issued_at: u64,
    /// Accepted by the buyer.
    pub accepted: bool,
    /// Dispute, if any.
    pub dispute: Option<DisputeState>,
    /// Latest agreed reconciled revision, if any.
    pub revision: Option<Revision>,
    /// Amount received (confirmed by receipts).
    pub paid: Micros,
    /// Early-payment discount taken.
    pub discount_taken: Micros,
    /// Sum of credit notes proposed or accepted against it.
    pub credited: Micros,
    /// The netting that settled it, if any.
    pub netting: Option<String>,
    /// Hash of the rating proof bundle the seller attached (Option 1), verified by both
    /// nodes before it was recorded ([`crate::rating_proof`]).
    pub rating_proof: Option<Hash32>,
}

impl InvoiceState {
    /// The amount due: the latest reconciled total, else the invoiced total.
    pub fn amount_due(&self) -> Micros {
        self.revision.as_ref().map_or(self.invoice.total, |r| r.total)
    }

    /// Date the payment terms run from: the latest revision's, else the invoice date.
    pub fn terms_date(&self) -> u64 {
        self.revision.as_ref().map_or(self.issued_at, |r| r.issued_at)
    }

    /// Amount still to be paid.
    pub fn outstanding(&self) -> Micros {
        self.amount_due() - self.paid - self.discount_taken
    }

    /// Why it cannot be paid or netted now, if it cannot (R82: only final, agreed charges).
    pub fn not_payable(&self) -> Option<&'static str> {
        if self.netting.is_some() {
            return Some("it was settled by netting");
        }
        match (&self.dispute, &self.revision) {
            (_, Some(_)) => None,
            (None, None) if self.accepted => None,
            (None, None) => Some("the buyer has not accepted it"),
            (Some(_), None) => Some("it is disputed and no reconciled invoice is agreed yet"),
        }
    }

    /// The invoice's status.
    pub fn status(&self) -> InvoiceStatus {
        if self.netting.is_some() {
            return InvoiceStatus::Netted;
        }
        let open = self.dispute.as_ref().map_or(0, DisputeState::open_items);
        if self.not_payable().is_none() && open == 0 && self.outstanding() <= 0 {
            return InvoiceStatus::Paid;
        }
        match &self.dispute {
            Some(d) if open > 0 && open < d.items.len() => InvoiceStatus::PartiallyResolved,
            Some(_) if open > 0 => InvoiceStatus::Disputed,
            Some(_) if self.revision.as_ref().is_some_and(|r| r.open_items == 0) => {
                InvoiceStatus::Final
            }
            Some(_) => InvoiceStatus::Resolved,
            None if self.accepted => InvoiceStatus::Accepted,
            None => InvoiceStatus::Issued,
        }
    }
}

/// Status of a two-party document other than an invoice.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Agreement {
    /// Awaiting the counterparty.
    Proposed,
    /// Accepted.
    Accepted,
    /// Rejected.
    Rejected,
}

/// A credit note and its settlement.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CreditNoteState {
    /// The credit note.
    pub note: CreditNote,
    /// Issuer (payer).
    pub issuer: PartyId,
    /// Counterparty (payee).
    pub payee: PartyId,
    /// The issuing entry.
    pub seq: u64,
    /// Credit note date.
    pub issued_at: u64,
    /// Status.
    pub status: Agreement,
    /// Amount received.
    pub paid: Micros,
    /// The netting that settled it, if any.
    pub netting: Option<String>,
}

/// A netting and its settlement.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NettingState {
    /// The netting as proposed.
    pub netting: Netting,
    /// Who receives the net amount.
    pub payee: Option<PartyId>,
    /// The proposing entry.
    pub seq: u64,
    /// Status.
    pub status: Agreement,
    /// When it was agreed.
    pub agreed_at: Option<u64>,
    /// Amount received.
    pub paid: Micros,
}

/// A notified payment and its receipt.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PaymentState {
    /// The notice.
    pub notice: PaymentNotice,
    /// Payer.
    pub payer: PartyId,
    /// Payee.
    pub payee: PartyId,
    /// The notice entry.
    pub seq: u64,
    /// When it was notified.
    pub notified_at: u64,
    /// Early-payment discount the payment claims (settles that much more).
    pub discount: Micros,
    /// The receipt entry, once the payee confirmed.
    pub receipt_seq: Option<u64>,
}

/// What a pending two-party entry would change.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Subject {
    /// The contract.
    Contract,
    /// An order.
    Order(String),
    /// A rating.
    Rating(AccountKey),
    /// An invoice.
    Invoice(String),
    /// A dispute resolution.
    Resolution(DisputeResolution),
    /// A reconciled invoice revision.
    FinalInvoice {
        /// The invoice.
        invoice: String,
        /// The revision it would record.
        revision: Revision,
    },
    /// A credit note.
    CreditNote(String),
    /// A netting.
    Netting(String),
}

impl Subject {
    fn invoice(&self) -> Option<&str> {
        match self {
            Subject::Resolution(r) => Some(&r.invoice),
            Subject::FinalInvoice { invoice, .. } | Subject::Invoice(invoice) => Some(invoice),
            _ => None,
        }
    }
}

/// A two-party change awaiting the counterparty (R30, CR17).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The proposing entry.
    pub seq: u64,
    /// Its hash; an answer must name it.
    pub hash: Hash32,
    /// The proposing party.
    pub proposer: PartyId,
    /// What it changes.
    pub subject: Subject,
}

/// The serializable state of a bilateral: everything but the derived record-key sets.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// The bilateral.
    pub id: BilateralId,
    /// The last applied entry.
    pub head: Head,
    /// The contract.
    pub contract: Contract,
    /// Its status.
    pub status: ContractStatus,
    /// Orders by id.
    pub orders: BTreeMap<String, OrderState>,
    /// Usage accounts.
    pub accounts: BTreeMap<AccountKey, UsageAccount>,
    /// Invoices by number.
    pub invoices: BTreeMap<String, InvoiceState>,
    /// Credit notes by number.
    pub credit_notes: BTreeMap<String, CreditNoteState>,
    /// Nettings by id.
    pub nettings: BTreeMap<String, NettingState>,
    /// Payments by id.
    pub payments: BTreeMap<String, PaymentState>,
    /// Pending two-party changes by entry.
    pub pending: BTreeMap<u64, Pending>,
}

/// What an applied entry did, for logs, notifications and the CLI.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// The seller attached the verified rating proof of an invoice (Option 1).
    RatingProofAttached {
        /// The invoice number.
        invoice: String,
    },
    /// The seller recorded the supply-chain map of an order (R15).
    SupplyChainMapRecorded {
        /// The order id.
        order: String,
        /// Hops in the map.
        hops: u32,
    },
    /// A two-party change was proposed and awaits the counterparty.
    Proposed {
        /// What.
        subject: Subject,
    },
    /// A pending change was accepted and took effect.
    Agreed {
        /// What.
        subject: Subject,
    },
    /// A pending change was rejected.
    Rejected {
        /// What.
        subject: Subject,
    },
    /// Usage was recorded.
    UsageRecorded {
        /// The account.
        account: AccountKey,
        /// Records in the batch.
        records: u64,
    },
    /// The buyer disputed an invoice (CR21: notifies the seller).
    Disputed {
        /// The invoice.
        invoice: String,
        /// Total disputed.
        amount: Micros,
    },
    /// A payment was notified.
    PaymentNotified {
        /// Payment id.
        payment: String,
        /// What it pays.
        target: SettlementRef,
        /// Amount.
        amount: Micros,
        /// Early-payment discount it claims.
        discount: Micros,
    },
    /// A payment receipt was recorded.
    PaymentReceived {
        /// Payment id.
        payment: String,
        /// What it paid.
        target: SettlementRef,
        /// Amount.
        amount: Micros,
        /// Amount still outstanding on the target.
        outstanding: Micros,
    },
    /// The contract was terminated.
    Terminated,
}

/// What [`BilateralState::apply`] did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Applied {
    /// The entry's sequence number.
    pub seq: u64,
    /// The entry's hash.
    pub hash: Hash32,
    /// What happened.
    pub event: Event,
    /// Keys of the usage records of the account whose rating the entry agreed, sorted,
    /// with that account: the entry closed the account, so the store's usage index takes
    /// over its keys from memory (written in the entry's own batch).
    pub record_keys: Option<(AccountKey, Vec<RecordKey>)>,
}

/// Amounts owed between the two parties now (payable documents, not yet settled).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Balances {
    /// First party of the contract.
    pub a: PartyId,
    /// Second party.
    pub b: PartyId,
    /// Net of what each owes the other.
    pub net: settlement::NetResult,
}

/// The state of one bilateral ledger.
#[derive(Clone, Debug)]
pub struct BilateralState {
    s: Snapshot,
    /// Record keys of the open usage accounts (derived; not in the snapshot).
    keys: BTreeMap<AccountKey, RecordKeySet>,
}

/// A settleable document seen uniformly.
struct Doc {
    payer: PartyId,
    payee: PartyId,
    due: Micros,
    paid: Micros,
    discount_taken: Micros,
    issued_at: u64,
    not_payable: Option<&'static str>,
    /// Rounding mode of an invoice's tariff (for the early-payment discount).
    invoice_rounding: Option<RoundingMode>,
}

/// The business effect of an entry, fully validated, ready to commit.
enum Effect {
    Order(Box<OrderState>),
    Usage {
        key: AccountKey,
        new_account: Option<Box<UsageAccount>>,
        delta: UsageTotals,
        keys: Vec<RecordKey>,
        key_sum: u128,
    },
    Rating {
        key: AccountKey,
        new_account: Option<Box<UsageAccount>>,
        rating: Box<Rating>,
    },
    Invoice(Box<InvoiceState>),
    Accept(Box<Pending>),
    Reject(Box<Pending>),
    Dispute {
        dispute: DisputeState,
        invoice: String,
        answers: Option<u64>,
    },
    Propose(Subject),
    CreditNote(Box<CreditNoteState>),
    Notice(Box<PaymentState>),
    Receipt {
        payment: String,
        target: SettlementRef,
        amount: Micros,
        discount: Micros,
    },
    Netting(Box<NettingState>),
    Terminate,
    RatingProof {
        invoice: String,
        digest: Hash32,
    },
    SupplyChainMap {
        order: String,
        map: SupplyChainMapRef,
    },
}

type Plan = std::result::Result<Effect, Refusal>;

impl BilateralState {
    /// Creates a bilateral from its genesis entry: a contract proposed by a signatory of
    /// one party (pending until the other accepts).
    pub fn genesis(entry: &Entry) -> Result<(BilateralState, Applied)> {
        let refuse = |reason| Error::Refused { seq: entry.seq, kind: entry.body.kind(), reason };
        let EntryBody::Contract(contract) = &entry.body else {
            return Err(refuse(Refusal::NotGenesis));
        };
        if entry.seq != 0 || entry.prev != Hash32::ZERO || entry.bilateral != BilateralId::GENESIS {
            return Err(refuse(Refusal::NotGenesis));
        }
        contract.validate().map_err(|r| refuse(Refusal::InvalidContract(r)))?;
        let party = contract
            .signatory_party(&entry.author)
            .ok_or(Error::NotASignatory { seq: 0, author: entry.author })?;
        let hash = entry.hash();
        entry
            .verify_signature(&hash)
            .map_err(|_| Error::BadSignature { seq: 0, author: entry.author })?;
        let proposer = contract.parties[party].id;
        let mut pending = BTreeMap::new();
        pending.insert(0, Pending { seq: 0, hash, proposer, subject: Subject::Contract });
        let s = Snapshot {
            id: BilateralId(hash),
            head: Head { seq: 0, hash, timestamp: entry.timestamp },
            contract: contract.clone(),
            status: ContractStatus::Proposed,
            orders: BTreeMap::new(),
            accounts: BTreeMap::new(),
            invoices: BTreeMap::new(),
            credit_notes: BTreeMap::new(),
            nettings: BTreeMap::new(),
            payments: BTreeMap::new(),
            pending,
        };
        let applied = Applied {
            seq: 0,
            hash,
            event: Event::Proposed { subject: Subject::Contract },
            record_keys: None,
        };
        Ok((BilateralState { s, keys: BTreeMap::new() }, applied))
    }

    /// Restores a state from a snapshot and the record keys of its open usage accounts,
    /// checking each key set against the account's record count and key sum.
    pub fn restore(
        snapshot: Snapshot,
        mut keys: BTreeMap<AccountKey, RecordKeySet>,
    ) -> Result<BilateralState> {
        for (key, acc) in snapshot.accounts.iter().filter(|(_, a)| a.is_open()) {
            let set = keys.entry(key.clone()).or_default();
            let sum = set.iter().fold(0u128, |s, k| s.wrapping_add(k.as_u128()));
            if set.len() as u64 != acc.records() || sum != acc.key_sum {
                return Err(Error::Corrupt(format!(
                    "usage index of {key} holds {} record keys (sum {sum:x}), the state {} (sum {:x})",
                    set.len(),
                    acc.records(),
                    acc.key_sum
                )));
            }
        }
        keys.retain(|k, _| snapshot.accounts.get(k).is_some_and(UsageAccount::is_open));
        Ok(BilateralState { s: snapshot, keys })
    }

    /// Applies the next entry. On error nothing changed.
    pub fn apply(&mut self, entry: &Entry) -> Result<Applied> {
        self.apply_known(entry, None, None)
    }

    /// [`BilateralState::apply`] with the entry's hash and its usage records' keys already
    /// computed by this process (the node's own entries), so they are not computed twice.
    pub(crate) fn apply_known(
        &mut self,
        entry: &Entry,
        hash: Option<Hash32>,
        keys: Option<Vec<RecordKey>>,
    ) -> Result<Applied> {
        let (hash, party) = self.check_link(entry, hash)?;
        let effect = self.plan(entry, party, keys).map_err(|reason| Error::Refused {
            seq: entry.seq,
            kind: entry.body.kind(),
            reason,
        })?;
        Ok(self.commit(entry, hash, party, effect))
    }

    /// Checks an entry as [`BilateralState::apply`] would, without applying it.
    pub fn check(&self, entry: &Entry) -> Result<()> {
        let (_, party) = self.check_link(entry, None)?;
        self.plan(entry, party, None).map(drop).map_err(|reason| Error::Refused {
            seq: entry.seq,
            kind: entry.body.kind(),
            reason,
        })
    }

    /// Chain, signer and signature checks; returns the entry's hash and the party the
    /// author signs for.
    fn check_link(&self, entry: &Entry, hash: Option<Hash32>) -> Result<(Hash32, PartyId)> {
        let seq = entry.seq;
        if entry.bilateral != self.s.id {
            return Err(Error::WrongBilateral { seq, found: entry.bilateral, expected: self.s.id });
        }
        let head = &self.s.head;
        if seq <= head.seq {
            return Err(Error::Replayed { seq, head: head.seq });
        }
        if seq != head.seq + 1 {
            return Err(Error::OutOfSequence { seq, expected: head.seq + 1 });
        }
        if entry.prev != head.hash {
            return Err(Error::WrongPrevious { seq, found: entry.prev, expected: head.hash });
        }
        if entry.timestamp < head.timestamp {
            return Err(Error::TimeWentBack {
                seq,
                found: entry.timestamp,
                previous: head.timestamp,
            });
        }
        // MEF 114 R6–R7: only the contract's authorised signatories sign for a party.
        let party = self
            .s
            .contract
            .signatory_party(&entry.author)
            .ok_or(Error::NotASignatory { seq, author: entry.author })?;
        let hash = hash.unwrap_or_else(|| entry.hash());
        entry
            .verify_signature(&hash)
            .map_err(|_| Error::BadSignature { seq, author: entry.author })?;
        Ok((hash, self.s.contract.parties[party].id))
    }

    // ----------------------------------------------------------------------------------
    // Plan: business rules, against &self.
    // ----------------------------------------------------------------------------------

    fn plan(&self, entry: &Entry, party: PartyId, keys: Option<Vec<RecordKey>>) -> Plan {
        let answering = matches!(entry.body, EntryBody::Accept(_) | EntryBody::Reject(_));
        match self.s.status {
            ContractStatus::Proposed if answering => {}
            _ => self.active()?,
        }
        match &entry.body {
            EntryBody::Contract(_) => Err(Refusal::SecondContract),
            EntryBody::Order(o) => self.plan_order(o),
            EntryBody::UsageBatch(b) => self.plan_usage(b, party, keys),
            EntryBody::Rating(r) => self.plan_rating(r, party, entry.timestamp),
            EntryBody::Invoice(i) => self.plan_invoice(i, false, party, entry),
            EntryBody::GenerateInvoice(g) => self.plan_invoice_generated(g, party, entry),
            EntryBody::Accept(Accept { entry_seq, entry_hash }) => {
                self.plan_answer(*entry_seq, entry_hash, party, true).map(Effect::Accept)
            }
            EntryBody::Reject(Reject { entry_seq, entry_hash, reason }) => {
                check_text("rejection reason", reason, MAX_TEXT_LEN).map_err(|_| {
                    Refusal::BadText { field: "rejection reason", max: MAX_TEXT_LEN }
                })?;
                self.plan_answer(*entry_seq, entry_hash, party, false).map(Effect::Reject)
            }
            EntryBody::Dispute(d) => self.plan_dispute(d, party),
            EntryBody::DisputeResolution(r) => self.plan_resolution(r),
            EntryBody::FinalInvoice(f) => self.plan_final_invoice(f, party, entry),
            EntryBody::CreditNote(c) => self.plan_credit_note(c, party, entry),
            EntryBody::PaymentNotice(n) => self.plan_notice(n, party, entry),
            EntryBody::PaymentReceipt(r) => self.plan_receipt(r, party),
            // Either party may propose a netting; the other accepts it (CR22).
            EntryBody::Netting(n) => self.plan_netting(n, entry),
            // Either party records a settled omni-lateral cycle; the other accepts it.
            EntryBody::CycleNetting(c) => self.plan_cycle_netting(c, entry),
            EntryBody::RatingProof(p) => self.plan_rating_proof(p, party),
            EntryBody::SupplyChainMap(m) => self.plan_supply_chain_map(m, party),
            EntryBody::Termination(t) => {
                self.not_terminated()?;
                text("termination reason", &t.reason, MAX_TEXT_LEN)?;
                Ok(Effect::Terminate)
            }
        }
    }

    fn not_terminated(&self) -> std::result::Result<(), Refusal> {
        match self.s.status {
            ContractStatus::Terminated { seq, .. } => Err(Refusal::Terminated(seq)),
            _ => Ok(()),
        }
    }

    fn plan_order(&self, o: &Order) -> Plan {
        self.not_terminated()?;
        o.validate(&self.s.contract)?;
        if self.s.orders.contains_key(&o.id) {
            return Err(Refusal::DuplicateOrder(o.id.clone()));
        }
        // MEF 114 R6: either party may propose; the other's acceptance makes it agreed.
        Ok(Effect::Order(Box::new(OrderState {
            order: o.clone(),
            seq: 0,
            status: OrderStatus::Proposed,
            supply_chain_maps: Vec::new(),
        })))
    }

    /// The agreed order `id` and its tariff, checking that `party` is its seller.
    fn seller_order(
        &self,
        id: &str,
        party: PartyId,
    ) -> std::result::Result<(&Order, &Tariff), Refusal> {
        let o = self.s.orders.get(id).ok_or_else(|| Refusal::UnknownOrder(id.to_string()))?;
        // MEF 114 R60: billing needs an order both parties agreed.
        if o.status != OrderStatus::Agreed {
            return Err(Refusal::OrderNotAgreed(id.to_string()));
        }
        // MEF 114 R65: the seller rates (and reports) the usage of its order.
        if o.order.seller != party {
            return Err(Refusal::WrongRole { role: "order's seller", party });
        }
        let tariff = self
            .s
            .contract
            .tariff(&o.order.tariff)
            .ok_or_else(|| Refusal::UnknownOrder(format!("{id} (its tariff is missing)")))?;
        Ok((&o.order, tariff))
    }

    fn order_interval(
        &self,
        order: &Order,
        id: &IntervalId,
    ) -> std::result::Result<BillingInterval, Refusal> {
        let interval = self.s.contract.billing_cycle.interval(id)?;
        if !order.overlaps(&interval) {
            return Err(Refusal::IntervalOutsideOrder {
                order: order.id.clone(),
                interval: id.0.clone(),
            });
        }
        Ok(interval)
    }

    /// Checks usage records as a usage batch of `order` in `interval` signed for `party`
    /// would be checked — everything but duplicate ids.
    pub fn check_usage(
        &self,
        order: &str,
        interval: &IntervalId,
        party: PartyId,
        records: &[UsageRecord],
    ) -> std::result::Result<(), Refusal> {
        self.active()?;
        self.usage_context(order, interval, party, records).map(drop)
    }

    fn active(&self) -> std::result::Result<(), Refusal> {
        match self.s.status {
            ContractStatus::Rejected { .. } => {
                Err(Refusal::ContractNotActive("rejected; the bilateral is closed"))
            }
            ContractStatus::Proposed => {
                Err(Refusal::ContractNotActive("not yet accepted by the counterparty"))
            }
            _ => Ok(()),
        }
    }

    /// The order, tariff, interval and account usage of `order_id` in `interval_id`
    /// signed for `party` goes to, if usage may still be added there.
    #[allow(clippy::type_complexity)]
    fn usage_target(
        &self,
        order_id: &str,
        interval_id: &IntervalId,
        party: PartyId,
    ) -> std::result::Result<(&Order, &Tariff, BillingInterval, Option<&UsageAccount>), Refusal>
    {
        self.not_terminated()?;
        let (order, tariff) = self.seller_order(order_id, party)?;
        let interval = self.order_interval(order, interval_id)?;
        let key = AccountKey::new(order_id, interval_id);
        let account = self.s.accounts.get(&key);
        match account.map(|a| &a.rating) {
            Some(RatingStatus::Proposed { seq, .. }) => {
                return Err(usage_closed(&key, "proposed", *seq));
            }
            Some(RatingStatus::Agreed { seq, .. }) => {
                return Err(usage_closed(&key, "agreed", *seq))
            }
            _ => {}
        }
        Ok((order, tariff, interval, account))
    }

    /// Checks each record on its own as a usage batch would check it (what a file import
    /// reports line by line): `Err` when no usage may be added to `order` in `interval`
    /// at all, else each record's refusal, if any, naming the record by its `lines`
    /// entry (its line in the file).
    pub fn check_usage_records(
        &self,
        order: &str,
        interval: &IntervalId,
        party: PartyId,
        records: &[UsageRecord],
        lines: &[usize],
    ) -> std::result::Result<Vec<Option<Refusal>>, Refusal> {
        self.active()?;
        let (o, tariff, interval, _) = self.usage_target(order, interval, party)?;
        Ok(records
            .par_iter()
            .zip(lines)
            .with_min_len(1024)
            .map(|(r, &line)| check_record(line, r, tariff, o, &interval).err())
            .collect())
    }

    /// The order, tariff, interval and account of a usage batch, after checking every record.
    #[allow(clippy::type_complexity)]
    fn usage_context(
        &self,
        order_id: &str,
        interval_id: &IntervalId,
        party: PartyId,
        records: &[UsageRecord],
    ) -> std::result::Result<(&Tariff, BillingInterval, Option<&UsageAccount>), Refusal> {
        let (order, tariff, interval, account) = self.usage_target(order_id, interval_id, party)?;
        let n = records.len();
        if n == 0 || n > MAX_BATCH_RECORDS {
            return Err(Refusal::BatchSize { records: n, max: MAX_BATCH_RECORDS });
        }
        // Large batches are checked on all cores; the refusal names the first bad record
        // either way.
        let check =
            |index: usize, r: &UsageRecord| check_record(index, r, tariff, order, &interval);
        let bad = if n >= PARALLEL_KEYS {
            records.par_iter().enumerate().position_first(|(i, r)| check(i, r).is_err())
        } else {
            records.iter().enumerate().position(|(i, r)| check(i, r).is_err())
        };
        if let Some(index) = bad {
            check(index, &records[index])?;
        }
        Ok((tariff, interval, account))
    }

    fn plan_usage(&self, b: &UsageBatch, party: PartyId, keys: Option<Vec<RecordKey>>) -> Plan {
        let (tariff, interval, account) =
            self.usage_context(&b.order, &b.interval, party, &b.records)?;
        let key = AccountKey::new(&b.order, &b.interval);
        let n = b.records.len();
        let keys: Vec<RecordKey> = match keys {
            Some(k) if k.len() == n => k,
            _ if n >= PARALLEL_KEYS => {
                b.records.par_iter().map(|r| RecordKey::of(&self.s.id, &r.id)).collect()
            }
            _ => b.records.iter().map(|r| RecordKey::of(&self.s.id, &r.id)).collect(),
        };
        // A record is rated once: refuse ids repeated in this batch or recorded in an open
        // account. Sorting finds repeats without hashing.
        let open: Vec<&RecordKeySet> = self.keys.values().filter(|s| !s.is_empty()).collect();
        let recorded = |k: &RecordKey| open.iter().any(|s| s.contains(k));
        let mut keys = keys;
        let duplicate = if n >= PARALLEL_KEYS {
            keys.par_sort_unstable();
            keys.par_windows(2).any(|w| w[0] == w[1]) || keys.par_iter().any(recorded)
        } else {
            keys.sort_unstable();
            keys.windows(2).any(|w| w[0] == w[1]) || keys.iter().any(recorded)
        };
        if duplicate {
            // Name the first offending record, in input order.
            let mut seen = RecordKeySet::with_capacity_and_hasher(n, RecordKeyHasher::default());
            for (index, r) in b.records.iter().enumerate() {
                let k = RecordKey::of(&self.s.id, &r.id);
                if !seen.insert(k) || recorded(&k) {
                    return Err(Refusal::DuplicateRecord { index, id: r.id.clone() });
                }
            }
        }
        let mut delta = UsageTotals::new(tariff);
        delta.add_records(tariff, &b.records).map_err(Refusal::Rating)?;
        let key_sum = keys.iter().fold(0u128, |s, k| s.wrapping_add(k.as_u128()));
        let new_account = account.is_none().then(|| Box::new(UsageAccount::new(interval, tariff)));
        Ok(Effect::Usage { key, new_account, delta, keys, key_sum })
    }

    /// The rating the ledger computes for an order's interval from its recorded usage
    /// (MEF 114 R65; R63: the tariff's one-time fees in the interval the order starts).
    pub fn expected_rating(
        &self,
        order: &str,
        interval: &IntervalId,
    ) -> std::result::Result<Rating, Refusal> {
        let o = self.s.orders.get(order).ok_or_else(|| Refusal::UnknownOrder(order.to_string()))?;
        let seller = o.order.seller;
        let (order, tariff) = self.seller_order(order, seller)?;
        let bi = self.order_interval(order, interval)?;
        let key = AccountKey::new(&order.id, interval);
        let empty;
        let totals = match self.s.accounts.get(&key) {
            Some(a) => &a.totals,
            None => {
                empty = UsageTotals::new(tariff);
                &empty
            }
        };
        let options = RatingOptions { include_one_time_fees: bi.contains(order.start) };
        totals.rate(tariff, &options).map_err(Refusal::Rating)
    }

    fn plan_rating(&self, p: &RatingProposal, party: PartyId, at: u64) -> Plan {
        let (order, tariff) = self.seller_order(&p.order, party)?;
        let interval = self.order_interval(order, &p.interval)?;
        let key = AccountKey::new(&p.order, &p.interval);
        let account = self.s.accounts.get(&key);
        match account.map(|a| &a.rating) {
            Some(RatingStatus::Proposed { seq, .. }) => {
                return Err(already_rated(&key, "proposed", *seq))
            }
            Some(RatingStatus::Agreed { seq, .. }) => {
                return Err(already_rated(&key, "agreed", *seq))
            }
            _ => {}
        }
        if at < interval.end {
            return Err(Refusal::IntervalNotEnded {
                interval: interval.id.0.clone(),
                end: interval.end,
                at,
            });
        }
        let expected = self.expected_rating(&p.order, &p.interval)?;
        // MEF 114 R65: the seller rates at the contracted rates; the ledger re-rates.
        if expected != p.rating {
            return Err(Refusal::RatingMismatch(rating_difference(&p.rating, &expected)));
        }
        let new_account = account.is_none().then(|| Box::new(UsageAccount::new(interval, tariff)));
        Ok(Effect::Rating { key, new_account, rating: Box::new(expected) })
    }

    /// The agreed rating an invoice of `order` × `interval` is made of (R66, R68–R69).
    fn agreed_rating(
        &self,
        order: &str,
        interval: &IntervalId,
        party: PartyId,
    ) -> std::result::Result<(&Order, &Rating), Refusal> {
        let o = self.s.orders.get(order).ok_or_else(|| Refusal::UnknownOrder(order.to_string()))?;
        // MEF 114 R70: the seller invoices the buyer.
        if o.order.seller != party {
            return Err(Refusal::WrongRole { role: "order's seller", party });
        }
        let key = AccountKey::new(order, interval);
        let not_agreed =
            || Refusal::RatingNotAgreed { order: order.to_string(), interval: interval.0.clone() };
        let account = self.s.accounts.get(&key).ok_or_else(not_agreed)?;
        // MEF 114 R66: rating must be agreed before invoicing.
        let RatingStatus::Agreed { rating, .. } = &account.rating else {
            return Err(not_agreed());
        };
        if let Some(inv) = &account.invoice {
            return Err(Refusal::AlreadyInvoiced {
                order: order.to_string(),
                interval: interval.0.clone(),
                invoice: inv.clone(),
            });
        }
        Ok((&o.order, rating))
    }

    fn plan_invoice(&self, inv: &Invoice, generated: bool, party: PartyId, entry: &Entry) -> Plan {
        text("invoice number", &inv.number, MAX_ID_LEN)?;
        let (order, rating) = self.agreed_rating(&inv.order, &inv.interval, party)?;
        if self.s.invoices.contains_key(&inv.number) {
            return Err(Refusal::DuplicateInvoice(inv.number.clone()));
        }
        if !generated {
            // MEF 114 R71 Option 1: the seller's invoice is validated against the ledger.
            check_against_rating(inv, self.s.contract.currency, rating).map_err(|reason| {
                Refusal::InvoiceMismatch { invoice: inv.number.clone(), reason }
            })?;
        }
        let buyer = self.s.contract.counterparty(&order.seller).unwrap_or(order.seller);
        Ok(Effect::Invoice(Box::new(InvoiceState {
            invoice: inv.clone(),
            seller: order.seller,
            buyer,
            generated,
            seq: entry.seq,
            issued_at: entry.timestamp,
            accepted: false,
            dispute: None,
            revision: None,
            paid: 0,
            discount_taken: 0,
            credited: 0,
            netting: None,
            rating_proof: None,
        })))
    }

    fn plan_invoice_generated(&self, g: &GenerateInvoice, party: PartyId, entry: &Entry) -> Plan {
        text("invoice number", &g.number, MAX_ID_LEN)?;
        let (_, rating) = self.agreed_rating(&g.order, &g.interval, party)?;
        // MEF 114 R71 Option 2: the ledger generates the invoice from the agreed rating.
        let inv =
            invoice_from_rating(&g.number, &g.order, &g.interval, self.s.contract.currency, rating);
        self.plan_invoice(&inv, true, party, entry)
    }

    fn plan_answer(
        &self,
        seq: u64,
        named: &Hash32,
        party: PartyId,
        accept: bool,
    ) -> std::result::Result<Box<Pending>, Refusal> {
        let p = self.s.pending.get(&seq).ok_or(Refusal::NotPending(seq))?;
        if p.hash != *named {
            return Err(Refusal::PendingHashMismatch { seq, actual: p.hash, named: *named });
        }
        // MEF 114 CR17–CR20: the counterparty answers a proposal, never the proposer.
        if p.proposer == party {
            return Err(Refusal::OwnProposal { seq, party });
        }
        if let (false, Subject::Invoice(n)) = (accept, &p.subject) {
            return Err(Refusal::RejectInvoice(n.clone()));
        }
        Ok(Box::new(p.clone()))
    }

    fn invoice_state(&self, number: &str) -> std::result::Result<&InvoiceState, Refusal> {
        self.s.invoices.get(number).ok_or_else(|| Refusal::UnknownInvoice(number.to_string()))
    }

    /// Records a seller's rating proof for its Option 1 invoice before the buyer answers.
    /// The proof itself is verified by the ledger before the entry reaches the state
    /// machine (the check needs the verifying keys and the stored usage).
    fn plan_rating_proof(&self, p: &RatingProofAttachment, party: PartyId) -> Plan {
        let inv = self.invoice_state(&p.invoice)?;
        if inv.seller != party {
            return Err(Refusal::WrongRole { role: "invoice's seller", party });
        }
        let state_err = |reason| Refusal::InvoiceState {
            invoice: p.invoice.clone(),
            status: inv.status(),
            reason,
        };
        if inv.generated {
            return Err(state_err("the ledger generated it (Option 2): there is nothing to prove"));
        }
        if inv.rating_proof.is_some() {
            return Err(state_err("it already has a rating proof"));
        }
        if inv.accepted || inv.dispute.is_some() {
            return Err(state_err("the buyer has already answered it"));
        }
        if p.bundle.len() > MAX_RATING_PROOF_BYTES {
            return Err(state_err("the rating proof is larger than any valid bundle"));
        }
        Ok(Effect::RatingProof {
            invoice: p.invoice.clone(),
            digest: Hash32::digest("omni/rating-proof", &p.bundle),
        })
    }

    /// Records the seller's supply-chain map of an agreed order. The map must decode, be
    /// bound to this bilateral's order ([`supply_chain_order_id`]) and respect its own
    /// policy's hop limit; its hop proofs are verified by the ledger before the entry
    /// reaches the state machine, and against the registry's credential root and embargo
    /// list by the registry.
    fn plan_supply_chain_map(&self, m: &SupplyChainMapRecord, party: PartyId) -> Plan {
        self.not_terminated()?;
        self.seller_order(&m.order, party)?;
        let refuse = |reason: String| Refusal::SupplyChainMap { order: m.order.clone(), reason };
        if m.map.len() > MAX_SUPPLY_CHAIN_MAP_BYTES {
            return Err(refuse(format!(
                "{} bytes, at most {MAX_SUPPLY_CHAIN_MAP_BYTES}",
                m.map.len()
            )));
        }
        let map = ComplianceMap::from_bytes(&m.map).map_err(|e| refuse(e.to_string()))?;
        if map.order_commitment != order_commitment(&supply_chain_order_id(&self.s.id, &m.order)) {
            return Err(refuse("the map is for another order".into()));
        }
        let hops = map.hops.len();
        if hops == 0 || hops > map.policy.max_hops() as usize {
            return Err(refuse(format!(
                "{hops} hops, its policy allows 1 to {}",
                map.policy.max_hops()
            )));
        }
        let commitment = map.commitment();
        let order = &self.s.orders[&m.order];
        if order.supply_chain_maps.iter().any(|r| r.commitment == commitment) {
            return Err(refuse("this map is already recorded".into()));
        }
        Ok(Effect::SupplyChainMap {
            order: m.order.clone(),
            map: SupplyChainMapRef {
                seq: 0,
                commitment,
                hops: hops as u32,
                embargo_version: map.embargo_version,
            },
        })
    }

    fn plan_dispute(&self, d: &Dispute, party: PartyId) -> Plan {
        let inv = self.invoice_state(&d.invoice)?;
        // MEF 114 O3: the buyer disputes.
        if inv.buyer != party {
            return Err(Refusal::WrongRole { role: "invoice's buyer", party });
        }
        let state_err = |reason| Refusal::InvoiceState {
            invoice: d.invoice.clone(),
            status: inv.status(),
            reason,
        };
        if inv.dispute.is_some() {
            return Err(state_err("it is already disputed"));
        }
        if inv.netting.is_some()
            || inv.paid != 0
            || self.has_payments(&SettlementRef::Invoice(d.invoice.clone()))
        {
            return Err(state_err("it is being settled"));
        }
        let bad = |reason: String| Refusal::InvalidDispute { invoice: d.invoice.clone(), reason };
        if d.items.is_empty() {
            return Err(bad("no disputed item".into()));
        }
        let mut items = BTreeMap::new();
        let mut total: Micros = 0;
        for di in &d.items {
            let item =
                inv.invoice.item(di.item).ok_or_else(|| bad(format!("no item {}", di.item)))?;
            if di.amount <= 0 || di.amount > item.amount {
                return Err(bad(format!(
                    "item {}: disputed amount {} must be positive and at most the item's {}",
                    di.item,
                    format_micros(di.amount),
                    format_micros(item.amount)
                )));
            }
            text("dispute reason", &di.reason, MAX_TEXT_LEN)?;
            let state = DisputedItemState {
                disputed: di.amount,
                reason: di.reason.clone(),
                adjustment: None,
            };
            if items.insert(di.item, state).is_some() {
                return Err(bad(format!("item {} is disputed twice", di.item)));
            }
            total = total
                .checked_add(di.amount)
                .ok_or_else(|| bad("disputed amounts overflow".into()))?;
        }
        // MEF 114 §8.5.3, D19: below the threshold the buyer accepts the charge.
        let threshold = self.s.contract.dispute_threshold.for_invoice(inv.invoice.net);
        if total < threshold {
            return Err(Refusal::DisputeBelowThreshold { disputed: total, threshold });
        }
        let answers = (!inv.accepted).then_some(inv.seq);
        Ok(Effect::Dispute {
            dispute: DisputeState { seq: 0, items },
            invoice: d.invoice.clone(),
            answers,
        })
    }

    /// A pending resolution or final invoice of `invoice`, if any.
    fn pending_reconciliation(&self, invoice: &str) -> Option<u64> {
        self.s
            .pending
            .values()
            .find(|p| {
                matches!(p.subject, Subject::Resolution(_) | Subject::FinalInvoice { .. })
                    && p.subject.invoice() == Some(invoice)
            })
            .map(|p| p.seq)
    }

    fn plan_resolution(&self, r: &DisputeResolution) -> Plan {
        let inv = self.invoice_state(&r.invoice)?;
        let bad =
            |reason: String| Refusal::InvalidResolution { invoice: r.invoice.clone(), reason };
        let Some(dispute) = &inv.dispute else {
            return Err(bad("the invoice is not disputed".into()));
        };
        if let Some(seq) = self.pending_reconciliation(&r.invoice) {
            return Err(bad(format!("entry {seq} on this invoice awaits acceptance")));
        }
        if r.resolutions.is_empty() {
            return Err(bad("no item resolved".into()));
        }
        for (i, res) in r.resolutions.iter().enumerate() {
            let item = dispute
                .items
                .get(&res.item)
                .ok_or_else(|| bad(format!("item {} is not disputed", res.item)))?;
            if item.adjustment.is_some() {
                return Err(bad(format!("item {} is already resolved", res.item)));
            }
            if r.resolutions[..i].iter().any(|o| o.item == res.item) {
                return Err(bad(format!("item {} is resolved twice", res.item)));
            }
            if res.adjustment < 0 || res.adjustment > item.disputed {
                return Err(bad(format!(
                    "item {}: adjustment {} must be between 0 and the disputed {}",
                    res.item,
                    format_micros(res.adjustment),
                    format_micros(item.disputed)
                )));
            }
            if res.note.len() > MAX_TEXT_LEN {
                return Err(Refusal::BadText { field: "resolution note", max: MAX_TEXT_LEN });
            }
        }
        // MEF 114 R76: the outcome is agreed by both (pending until accepted).
        Ok(Effect::Propose(Subject::Resolution(r.clone())))
    }

    /// The reconciled amounts of a disputed invoice now (R78–R79): the net less agreed
    /// adjustments and less still-open disputed amounts, tax recomputed.
    pub fn reconciled_amounts(
        &self,
        invoice: &str,
    ) -> std::result::Result<(Micros, Micros, Micros, u32), Refusal> {
        let inv = self.invoice_state(invoice)?;
        let bad =
            |reason: String| Refusal::FinalInvoiceMismatch { invoice: invoice.to_string(), reason };
        let dispute = inv
            .dispute
            .as_ref()
            .ok_or_else(|| bad("the invoice was not disputed; its acceptance is final".into()))?;
        let reduction: Micros =
            dispute.items.values().map(|i| i.adjustment.unwrap_or(i.disputed)).sum();
        let net = inv.invoice.net - reduction;
        if net < 0 {
            return Err(bad("the reconciled net would be negative; issue a credit note".into()));
        }
        let tariff = self
            .s
            .orders
            .get(&inv.invoice.order)
            .and_then(|o| self.s.contract.tariff(&o.order.tariff))
            .ok_or_else(|| bad("the invoice's tariff is missing".into()))?;
        let tax = apply_bps(net, tariff.tax_rate_bps, tariff.rounding.mode);
        Ok((net, tax, net + tax, dispute.open_items() as u32))
    }

    fn plan_final_invoice(&self, f: &FinalInvoice, party: PartyId, entry: &Entry) -> Plan {
        let inv = self.invoice_state(&f.invoice)?;
        // MEF 114 R78: the seller issues the reconciled invoice; the buyer agrees it.
        if inv.seller != party {
            return Err(Refusal::WrongRole { role: "invoice's seller", party });
        }
        let bad =
            |reason: String| Refusal::FinalInvoiceMismatch { invoice: f.invoice.clone(), reason };
        if let Some(seq) = self.pending_reconciliation(&f.invoice) {
            return Err(bad(format!("entry {seq} on this invoice awaits acceptance")));
        }
        let (net, tax, total, open_items) = self.reconciled_amounts(&f.invoice)?;
        let next = inv.revision.as_ref().map_or(1, |r| r.number + 1);
        if f.revision != next {
            return Err(bad(format!(
                "revision {} stated, the next revision is {next}",
                f.revision
            )));
        }
        for (what, stated, reconciled) in
            [("net", f.net, net), ("tax", f.tax, tax), ("total", f.total, total)]
        {
            if stated != reconciled {
                return Err(bad(format!(
                    "{what} {} stated, {} reconciled",
                    format_micros(stated),
                    format_micros(reconciled)
                )));
            }
        }
        if total < inv.paid + inv.discount_taken {
            return Err(bad("the reconciled total is below what was already paid".into()));
        }
        let revision = Revision {
            number: next,
            net,
            tax,
            total,
            open_items,
            issued_at: entry.timestamp,
            seq: entry.seq,
        };
        Ok(Effect::Propose(Subject::FinalInvoice { invoice: f.invoice.clone(), revision }))
    }

    fn plan_credit_note(&self, c: &CreditNote, party: PartyId, entry: &Entry) -> Plan {
        text("credit note number", &c.number, MAX_ID_LEN)?;
        text("credit note reason", &c.reason, MAX_TEXT_LEN)?;
        let bad = |reason: String| Refusal::InvalidCreditNote { note: c.number.clone(), reason };
        if self.s.credit_notes.contains_key(&c.number) {
            return Err(bad("the number is already used".into()));
        }
        if c.amount <= 0 || c.amount >= omni_core::tariff::MAX_FEE {
            return Err(bad(format!(
                "amount {} must be in 0..2^50 micro-units, exclusive",
                format_micros(c.amount)
            )));
        }
        let payee = match &c.invoice {
            Some(n) => {
                let inv = self.invoice_state(n)?;
                if inv.seller != party {
                    return Err(Refusal::WrongRole { role: "credited invoice's seller", party });
                }
                if inv.credited + c.amount > inv.amount_due() {
                    return Err(bad(format!(
                        "credits {} in total, more than invoice {n:?}'s {}",
                        format_micros(inv.credited + c.amount),
                        format_micros(inv.amount_due())
                    )));
                }
                inv.buyer
            }
            None => self.s.contract.counterparty(&party).unwrap_or(party),
        };
        Ok(Effect::CreditNote(Box::new(CreditNoteState {
            note: c.clone(),
            issuer: party,
            payee,
            seq: entry.seq,
            issued_at: entry.timestamp,
            status: Agreement::Proposed,
            paid: 0,
            netting: None,
        })))
    }

    /// A settleable document, or which one is unknown.
    fn doc(&self, r: &SettlementRef) -> std::result::Result<Doc, Refusal> {
        match r {
            SettlementRef::Invoice(n) => {
                let inv = self.invoice_state(n)?;
                let tariff = self
                    .s
                    .orders
                    .get(&inv.invoice.order)
                    .and_then(|o| self.s.contract.tariff(&o.order.tariff));
                Ok(Doc {
                    payer: inv.buyer,
                    payee: inv.seller,
                    due: inv.amount_due(),
                    paid: inv.paid,
                    discount_taken: inv.discount_taken,
                    issued_at: inv.terms_date(),
                    not_payable: inv.not_payable(),
                    invoice_rounding: tariff.map(|t| t.rounding.mode),
                })
            }
            SettlementRef::CreditNote(n) => {
                let c = self
                    .s
                    .credit_notes
                    .get(n)
                    .ok_or_else(|| Refusal::UnknownCreditNote(n.clone()))?;
                let not_payable = match (c.status, &c.netting) {
                    (_, Some(_)) => Some("it was settled by netting"),
                    (Agreement::Accepted, None) => None,
                    (Agreement::Proposed, None) => Some("the counterparty has not accepted it"),
                    (Agreement::Rejected, None) => Some("it was rejected"),
                };
                Ok(Doc {
                    payer: c.issuer,
                    payee: c.payee,
                    due: c.note.amount,
                    paid: c.paid,
                    discount_taken: 0,
                    issued_at: c.issued_at,
                    not_payable,
                    invoice_rounding: None,
                })
            }
            SettlementRef::Netting(id) => {
                let n =
                    self.s.nettings.get(id).ok_or_else(|| Refusal::UnknownNetting(id.clone()))?;
                let not_payable = match (n.status, n.netting.payer) {
                    (Agreement::Accepted, Some(_)) => None,
                    (Agreement::Accepted, None) => {
                        Some("its directions cancel out; nothing is to be paid")
                    }
                    (Agreement::Proposed, _) => Some("the counterparty has not accepted it"),
                    (Agreement::Rejected, _) => Some("it was rejected"),
                };
                let payer = n.netting.payer.unwrap_or(self.s.contract.parties[0].id);
                Ok(Doc {
                    payer,
                    payee: n.payee.unwrap_or(payer),
                    due: n.netting.amount,
                    paid: n.paid,
                    discount_taken: 0,
                    issued_at: n.agreed_at.unwrap_or(0),
                    not_payable,
                    invoice_rounding: None,
                })
            }
        }
    }

    fn has_payments(&self, r: &SettlementRef) -> bool {
        self.s.payments.values().any(|p| p.notice.target == *r)
    }

    /// Notified amounts (with claimed discounts) not yet confirmed by a receipt.
    fn unconfirmed(&self, r: &SettlementRef) -> Micros {
        self.s
            .payments
            .values()
            .filter(|p| p.notice.target == *r && p.receipt_seq.is_none())
            .map(|p| p.notice.amount + p.discount)
            .sum()
    }

    fn locked_by_netting(&self, r: &SettlementRef) -> Option<&str> {
        self.s
            .nettings
            .values()
            .find(|n| n.status == Agreement::Proposed && n.netting.documents.contains(r))
            .map(|n| n.netting.id.as_str())
    }

    /// The early-payment discount a payment of invoice `number` notified at `at` would
    /// earn if it paid the outstanding amount in full (MEF 74 "2/10 Net 30").
    pub fn early_payment_discount(&self, number: &str, at: u64) -> Option<Micros> {
        let r = SettlementRef::Invoice(number.to_string());
        let doc = self.doc(&r).ok()?;
        let terms = self.s.contract.payment_terms;
        let early = terms.early_payment?;
        let deadline = terms.discount_deadline(doc.issued_at)?;
        if doc.not_payable.is_some() || doc.paid != 0 || self.unconfirmed(&r) != 0 || at > deadline
        {
            return None;
        }
        let outstanding = doc.due - doc.discount_taken;
        Some(apply_bps(
            outstanding,
            early.discount_bps,
            doc.invoice_rounding.unwrap_or(RoundingMode::Down),
        ))
    }

    fn plan_notice(&self, n: &PaymentNotice, party: PartyId, entry: &Entry) -> Plan {
        text("payment id", &n.payment, MAX_ID_LEN)?;
        if n.reference.len() > MAX_TEXT_LEN {
            return Err(Refusal::BadText { field: "payment reference", max: MAX_TEXT_LEN });
        }
        let bad = |reason: String| Refusal::InvalidPayment { payment: n.payment.clone(), reason };
        if self.s.payments.contains_key(&n.payment) {
            return Err(bad("the payment id is already used".into()));
        }
        let doc = self.doc(&n.target)?;
        // MEF 114 R87: the payer notifies the payee.
        if doc.payer != party {
            return Err(Refusal::WrongRole { role: "payer", party });
        }
        // MEF 114 R82: only final, agreed charges are settled.
        if let Some(why) = doc.not_payable {
            return Err(bad(format!("{} cannot be paid: {why}", n.target)));
        }
        if let Some(id) = self.locked_by_netting(&n.target) {
            return Err(bad(format!("{} is part of proposed netting {id:?}", n.target)));
        }
        if n.amount <= 0 {
            return Err(bad("the amount must be positive".into()));
        }
        let outstanding = doc.due - doc.paid - doc.discount_taken - self.unconfirmed(&n.target);
        let discount = match self.early_payment_discount_for(&n.target, entry.timestamp) {
            Some(d) if n.amount == outstanding - d => d,
            _ => 0,
        };
        if n.amount + discount > outstanding {
            return Err(bad(format!(
                "amount {} exceeds the {} outstanding on {}",
                format_micros(n.amount),
                format_micros(outstanding),
                n.target
            )));
        }
        Ok(Effect::Notice(Box::new(PaymentState {
            notice: n.clone(),
            payer: doc.payer,
            payee: doc.payee,
            seq: entry.seq,
            notified_at: entry.timestamp,
            discount,
            receipt_seq: None,
        })))
    }

    fn early_payment_discount_for(&self, r: &SettlementRef, at: u64) -> Option<Micros> {
        match r {
            SettlementRef::Invoice(n) => self.early_payment_discount(n, at),
            _ => None,
        }
    }

    fn plan_receipt(&self, r: &PaymentReceipt, party: PartyId) -> Plan {
        // A receipt for an unknown document is refused before anything else.
        self.doc(&r.target)?;
        let p = self
            .s
            .payments
            .get(&r.payment)
            .ok_or_else(|| Refusal::ReceiptWithoutNotice { payment: r.payment.clone() })?;
        let bad = |reason: String| Refusal::ReceiptMismatch { payment: r.payment.clone(), reason };
        if p.notice.target != r.target {
            return Err(bad(format!(
                "the notice pays {}, the receipt names {}",
                p.notice.target, r.target
            )));
        }
        if p.notice.amount != r.amount {
            return Err(bad(format!(
                "amount {} received, the notice says {}",
                format_micros(r.amount),
                format_micros(p.notice.amount)
            )));
        }
        if let Some(seq) = p.receipt_seq {
            return Err(bad(format!("already confirmed at entry {seq}")));
        }
        // MEF 114 R89: the payee records the receipt.
        if p.payee != party {
            return Err(Refusal::WrongRole { role: "payee", party });
        }
        Ok(Effect::Receipt {
            payment: r.payment.clone(),
            target: r.target.clone(),
            amount: r.amount,
            discount: p.discount,
        })
    }

    /// Documents that may be netted in `period`: payable, unpaid, not netted or locked,
    /// due within the period.
    fn nettable(&self, period: &BillingInterval) -> Vec<(SettlementRef, Doc)> {
        let terms = self.s.contract.payment_terms;
        let refs = self
            .s
            .invoices
            .keys()
            .map(|n| SettlementRef::Invoice(n.clone()))
            .chain(self.s.credit_notes.keys().map(|n| SettlementRef::CreditNote(n.clone())));
        refs.filter_map(|r| {
            let d = self.doc(&r).ok()?;
            let eligible = d.not_payable.is_none()
                && d.paid == 0
                && d.discount_taken == 0
                && !self.has_payments(&r)
                && self.locked_by_netting(&r).is_none()
                && period.contains(terms.due_date(d.issued_at));
            eligible.then_some((r, d))
        })
        .collect()
    }

    /// A netting proposal of every document due in `period` (MEF 114 §8.6.3), computed as
    /// the ledger will check it.
    pub fn netting_proposal(
        &self,
        id: &str,
        period: &IntervalId,
    ) -> std::result::Result<Netting, Refusal> {
        let interval = self.s.contract.billing_cycle.interval(period)?;
        let docs = self.nettable(&interval);
        let [a, b] = [self.s.contract.parties[0].id, self.s.contract.parties[1].id];
        let r =
            settlement::net(a, b, docs.iter().map(|(_, d)| (d.payer, d.due))).ok_or_else(|| {
                Refusal::InvalidNetting {
                    netting: id.to_string(),
                    reason: "amounts overflow".into(),
                }
            })?;
        Ok(Netting {
            id: id.to_string(),
            period: period.clone(),
            documents: docs.into_iter().map(|(r, _)| r).collect(),
            payer: r.payer,
            amount: r.amount,
        })
    }

    fn plan_netting(&self, n: &Netting, entry: &Entry) -> Plan {
        // MEF 114 O4: only with a netting agreement in the contract.
        if !self.s.contract.netting {
            return Err(Refusal::NettingNotAgreed);
        }
        text("netting id", &n.id, MAX_ID_LEN)?;
        let bad = |reason: String| Refusal::InvalidNetting { netting: n.id.clone(), reason };
        if self.s.nettings.contains_key(&n.id) {
            return Err(bad("the id is already used".into()));
        }
        let period = self.s.contract.billing_cycle.interval(&n.period)?;
        if n.documents.is_empty() {
            return Err(bad("no document".into()));
        }
        let eligible = self.nettable(&period);
        let mut owed = Vec::with_capacity(n.documents.len());
        for (i, r) in n.documents.iter().enumerate() {
            if n.documents[..i].contains(r) {
                return Err(bad(format!("{r} is listed twice")));
            }
            if let SettlementRef::Netting(_) = r {
                return Err(bad(format!("{r}: only invoices and credit notes are netted")));
            }
            let doc = self.doc(r)?;
            if !eligible.iter().any(|(e, _)| e == r) {
                let why = doc.not_payable.map_or_else(
                    || format!("it is not due in {} or is already being settled", n.period),
                    str::to_string,
                );
                return Err(bad(format!("{r} cannot be netted: {why}")));
            }
            owed.push((doc.payer, doc.due));
        }
        let [a, b] = [self.s.contract.parties[0].id, self.s.contract.parties[1].id];
        // MEF 114 §8.6.3: netting is of reciprocal amounts, owed in both directions.
        if !owed.iter().any(|o| o.0 == a) || !owed.iter().any(|o| o.0 == b) {
            return Err(bad("the documents must be owed in both directions".into()));
        }
        let r = settlement::net(a, b, owed).ok_or_else(|| bad("amounts overflow".into()))?;
        // MEF 114 CD2: the netting result is validated against the ledger.
        if (r.payer, r.amount) != (n.payer, n.amount) {
            return Err(bad(format!(
                "the documents net to {} paid by {}, the proposal says {} paid by {}",
                format_micros(r.amount),
                r.payer.map_or("nobody".into(), |p| p.short()),
                format_micros(n.amount),
                n.payer.map_or("nobody".into(), |p| p.short())
            )));
        }
        let payee = r.payer.and_then(|p| self.s.contract.counterparty(&p));
        Ok(Effect::Netting(Box::new(NettingState {
            netting: n.clone(),
            payee,
            seq: entry.seq,
            status: Agreement::Proposed,
            agreed_at: None,
            paid: 0,
        })))
    }

    /// The result of a registry netting cycle: the bilateral's invoices it settled, each
    /// payable and not yet (partly) settled; kept as a netting with no bilateral payment.
    fn plan_cycle_netting(&self, c: &CycleNetting, entry: &Entry) -> Plan {
        let id = CycleNetting::netting_id(c.cycle);
        let bad = |reason: String| Refusal::InvalidNetting { netting: id.clone(), reason };
        if self.s.nettings.contains_key(&id) {
            return Err(bad("the cycle's result is already recorded".into()));
        }
        let first = c.invoices.first().ok_or_else(|| bad("no invoice".into()))?;
        let mut documents = Vec::with_capacity(c.invoices.len());
        for (i, number) in c.invoices.iter().enumerate() {
            if c.invoices[..i].contains(number) {
                return Err(bad(format!("invoice {number} is listed twice")));
            }
            let r = SettlementRef::Invoice(number.clone());
            let doc = self.doc(&r)?;
            if let Some(why) = doc.not_payable {
                return Err(bad(format!("{r} cannot be netted: {why}")));
            }
            if doc.paid != 0 || doc.discount_taken != 0 || self.has_payments(&r) {
                return Err(bad(format!("{r} cannot be netted: a payment was notified on it")));
            }
            if let Some(other) = self.locked_by_netting(&r) {
                return Err(bad(format!("{r} cannot be netted: netting {other} holds it")));
            }
            documents.push(r);
        }
        // The credit notes against those invoices, which the registry counted in their
        // amounts due (`crate::invoice_credit`), are settled by the cycle with them.
        let notes = self.s.credit_notes.values().filter(|n| {
            n.status == Agreement::Accepted
                && n.paid == 0
                && n.netting.is_none()
                && n.note.invoice.as_ref().is_some_and(|i| c.invoices.contains(i))
        });
        for note in notes {
            let r = SettlementRef::CreditNote(note.note.number.clone());
            if let Some(other) = self.locked_by_netting(&r) {
                return Err(bad(format!("{r} cannot be netted: netting {other} holds it")));
            }
            documents.push(r);
        }
        let period = self.invoice_state(first)?.invoice.interval.clone();
        Ok(Effect::Netting(Box::new(NettingState {
            netting: Netting { id, period, documents, payer: None, amount: 0 },
            payee: None,
            seq: entry.seq,
            status: Agreement::Proposed,
            agreed_at: None,
            paid: 0,
        })))
    }

    // ----------------------------------------------------------------------------------
    // Commit: cannot fail.
    // ----------------------------------------------------------------------------------

    fn commit(&mut self, entry: &Entry, hash: Hash32, party: PartyId, effect: Effect) -> Applied {
        let seq = entry.seq;
        self.s.head = Head { seq, hash, timestamp: entry.timestamp };
        let mut record_keys = None;
        let propose = |s: &mut Snapshot, subject: Subject| {
            s.pending.insert(seq, Pending { seq, hash, proposer: party, subject: subject.clone() });
            Event::Proposed { subject }
        };
        let event = match effect {
            Effect::Order(mut o) => {
                o.seq = seq;
                let id = o.order.id.clone();
                self.s.orders.insert(id.clone(), *o);
                propose(&mut self.s, Subject::Order(id))
            }
            Effect::Usage { key, new_account, delta, keys, key_sum } => {
                let records = keys.len() as u64;
                if let Some(a) = new_account {
                    self.s.accounts.insert(key.clone(), *a);
                }
                if let Some(a) = self.s.accounts.get_mut(&key) {
                    a.totals.merge(&delta);
                    a.batches.push(seq);
                    a.key_sum = a.key_sum.wrapping_add(key_sum);
                }
                // An open account's keys live in memory (and, through its usage-batch
                // entries, on disk); the store indexes them when the account closes.
                let set = self.keys.entry(key.clone()).or_default();
                set.reserve(keys.len());
                set.extend(keys);
                Event::UsageRecorded { account: key, records }
            }
            Effect::Rating { key, new_account, rating } => {
                if let Some(a) = new_account {
                    self.s.accounts.insert(key.clone(), *a);
                }
                if let Some(a) = self.s.accounts.get_mut(&key) {
                    a.rating = RatingStatus::Proposed { seq, rating: *rating };
                }
                propose(&mut self.s, Subject::Rating(key))
            }
            Effect::Invoice(inv) => {
                let number = inv.invoice.number.clone();
                let key = AccountKey::new(&inv.invoice.order, &inv.invoice.interval);
                if let Some(a) = self.s.accounts.get_mut(&key) {
                    a.invoice = Some(number.clone());
                }
                self.s.invoices.insert(number.clone(), *inv);
                propose(&mut self.s, Subject::Invoice(number))
            }
            Effect::SupplyChainMap { order, mut map } => {
                map.seq = seq;
                let hops = map.hops;
                if let Some(o) = self.s.orders.get_mut(&order) {
                    o.supply_chain_maps.push(map);
                }
                Event::SupplyChainMapRecorded { order, hops }
            }
            Effect::RatingProof { invoice, digest } => {
                if let Some(inv) = self.s.invoices.get_mut(&invoice) {
                    inv.rating_proof = Some(digest);
                }
                Event::RatingProofAttached { invoice }
            }
            Effect::Accept(p) => {
                let (event, closed) = self.commit_accept(*p, entry.timestamp);
                record_keys = closed;
                event
            }
            Effect::Reject(p) => self.commit_reject(*p),
            Effect::Dispute { mut dispute, invoice, answers } => {
                dispute.seq = seq;
                let amount = dispute.items.values().map(|i| i.disputed).sum();
                if let Some(p) = answers {
                    // MEF 114 CR21: the dispute is the buyer's answer to the issued invoice.
                    self.s.pending.remove(&p);
                }
                if let Some(inv) = self.s.invoices.get_mut(&invoice) {
                    inv.dispute = Some(dispute);
                }
                Event::Disputed { invoice, amount }
            }
            Effect::Propose(subject) => propose(&mut self.s, subject),
            Effect::CreditNote(c) => {
                let number = c.note.number.clone();
                if let Some(inv) = c.note.invoice.as_ref().and_then(|n| self.s.invoices.get_mut(n))
                {
                    inv.credited += c.note.amount;
                }
                self.s.credit_notes.insert(number.clone(), *c);
                propose(&mut self.s, Subject::CreditNote(number))
            }
            Effect::Notice(p) => {
                let event = Event::PaymentNotified {
                    payment: p.notice.payment.clone(),
                    target: p.notice.target.clone(),
                    amount: p.notice.amount,
                    discount: p.discount,
                };
                self.s.payments.insert(p.notice.payment.clone(), *p);
                event
            }
            Effect::Receipt { payment, target, amount, discount } => {
                self.commit_receipt(payment, target, amount, discount, seq)
            }
            Effect::Netting(n) => {
                let id = n.netting.id.clone();
                self.s.nettings.insert(id.clone(), *n);
                propose(&mut self.s, Subject::Netting(id))
            }
            Effect::Terminate => {
                self.s.status = ContractStatus::Terminated { seq, by: party };
                Event::Terminated
            }
        };
        Applied { seq, hash, event, record_keys }
    }

    /// Applies an acceptance; also returns the sorted keys of the usage account it closes,
    /// if it agrees a rating.
    fn commit_accept(
        &mut self,
        p: Pending,
        at: u64,
    ) -> (Event, Option<(AccountKey, Vec<RecordKey>)>) {
        self.s.pending.remove(&p.seq);
        let mut closed = None;
        let s = &mut self.s;
        match &p.subject {
            Subject::Contract => s.status = ContractStatus::Active,
            Subject::Order(id) => {
                if let Some(o) = s.orders.get_mut(id) {
                    o.status = OrderStatus::Agreed;
                }
            }
            Subject::Rating(key) => {
                if let Some(a) = s.accounts.get_mut(key) {
                    if let RatingStatus::Proposed { seq, rating } = &a.rating {
                        // MEF 114 R67: the agreed rating is recorded as a state transition.
                        a.rating = RatingStatus::Agreed { seq: *seq, rating: rating.clone() };
                    }
                }
                // Usage is closed for good: its keys live on in the store's index only,
                // which this entry's batch fills (sorted keys insert fastest).
                if let Some(set) = self.keys.remove(key) {
                    let mut keys: Vec<RecordKey> = set.into_iter().collect();
                    keys.par_sort_unstable();
                    closed = Some((key.clone(), keys));
                }
            }
            Subject::Invoice(n) => {
                if let Some(inv) = s.invoices.get_mut(n) {
                    inv.accepted = true;
                }
            }
            Subject::Resolution(r) => {
                if let Some(d) = s.invoices.get_mut(&r.invoice).and_then(|i| i.dispute.as_mut()) {
                    for res in &r.resolutions {
                        if let Some(item) = d.items.get_mut(&res.item) {
                            item.adjustment = Some(res.adjustment);
                        }
                    }
                }
            }
            Subject::FinalInvoice { invoice, revision } => {
                if let Some(inv) = s.invoices.get_mut(invoice) {
                    inv.revision = Some(revision.clone());
                }
            }
            Subject::CreditNote(n) => {
                if let Some(c) = s.credit_notes.get_mut(n) {
                    c.status = Agreement::Accepted;
                }
            }
            Subject::Netting(id) => {
                if let Some(n) = s.nettings.get_mut(id) {
                    n.status = Agreement::Accepted;
                    n.agreed_at = Some(at);
                    for d in n.netting.documents.clone() {
                        match d {
                            SettlementRef::Invoice(x) => {
                                if let Some(i) = s.invoices.get_mut(&x) {
                                    i.netting = Some(id.clone());
                                }
                            }
                            SettlementRef::CreditNote(x) => {
                                if let Some(c) = s.credit_notes.get_mut(&x) {
                                    c.netting = Some(id.clone());
                                }
                            }
                            SettlementRef::Netting(_) => {}
                        }
                    }
                }
            }
        }
        (Event::Agreed { subject: p.subject }, closed)
    }

    fn commit_reject(&mut self, p: Pending) -> Event {
        self.s.pending.remove(&p.seq);
        let s = &mut self.s;
        match &p.subject {
            Subject::Contract => s.status = ContractStatus::Rejected { seq: s.head.seq },
            Subject::Order(id) => {
                if let Some(o) = s.orders.get_mut(id) {
                    o.status = OrderStatus::Rejected;
                }
            }
            Subject::Rating(key) => {
                if let Some(a) = s.accounts.get_mut(key) {
                    a.rating = RatingStatus::Open;
                }
            }
            Subject::CreditNote(n) => {
                if let Some(c) = s.credit_notes.get_mut(n) {
                    c.status = Agreement::Rejected;
                    if let Some(inv) = c.note.invoice.as_ref().and_then(|i| s.invoices.get_mut(i)) {
                        inv.credited -= c.note.amount;
                    }
                }
            }
            Subject::Netting(id) => {
                if let Some(n) = s.nettings.get_mut(id) {
                    n.status = Agreement::Rejected;
                }
            }
            Subject::Invoice(_) | Subject::Resolution(_) | Subject::FinalInvoice { .. } => {}
        }
        Event::Rejected { subject: p.subject }
    }

    fn commit_receipt(
        &mut self,
        payment: String,
        target: SettlementRef,
        amount: Micros,
        discount: Micros,
        seq: u64,
    ) -> Event {
        let s = &mut self.s;
        if let Some(p) = s.payments.get_mut(&payment) {
            p.receipt_seq = Some(seq);
        }
        let outstanding = match &target {
            SettlementRef::Invoice(n) => s.invoices.get_mut(n).map(|i| {
                i.paid += amount;
                i.discount_taken += discount;
                i.outstanding()
            }),
            SettlementRef::CreditNote(n) => s.credit_notes.get_mut(n).map(|c| {
                c.paid += amount;
                c.note.amount - c.paid
            }),
            SettlementRef::Netting(n) => s.nettings.get_mut(n).map(|x| {
                x.paid += amount;
                x.netting.amount - x.paid
            }),
        };
        Event::PaymentReceived { payment, target, amount, outstanding: outstanding.unwrap_or(0) }
    }

    // ----------------------------------------------------------------------------------
    // Queries.
    // ----------------------------------------------------------------------------------

    /// The bilateral's id.
    pub fn id(&self) -> BilateralId {
        self.s.id
    }

    /// The last applied entry.
    pub fn head(&self) -> Head {
        self.s.head
    }

    /// The contract.
    pub fn contract(&self) -> &Contract {
        &self.s.contract
    }

    /// The contract's status.
    pub fn status(&self) -> ContractStatus {
        self.s.status
    }

    /// The serializable state.
    pub fn snapshot(&self) -> &Snapshot {
        &self.s
    }

    /// Digest of the state: equal on two nodes that applied the same entries.
    pub fn digest(&self) -> Hash32 {
        Hash32::digest("omni/bilateral-state", &omni_core::encode(&self.s))
    }

    /// An order.
    pub fn order(&self, id: &str) -> Option<&OrderState> {
        self.s.orders.get(id)
    }

    /// A usage account.
    pub fn account(&self, order: &str, interval: &IntervalId) -> Option<&UsageAccount> {
        self.s.accounts.get(&AccountKey::new(order, interval))
    }

    /// Records in usage accounts whose rating is agreed: their keys are only in the store's
    /// index, no longer in memory.
    pub fn closed_records(&self) -> u64 {
        self.s.accounts.values().filter(|a| !a.is_open()).map(UsageAccount::records).sum()
    }

    /// For each key, whether it is recorded in an open usage account.
    pub fn has_open_records(&self, keys: &[RecordKey]) -> Vec<bool> {
        let open: Vec<&RecordKeySet> = self.keys.values().filter(|s| !s.is_empty()).collect();
        if open.is_empty() {
            return vec![false; keys.len()];
        }
        keys.par_iter()
            .with_min_len(PARALLEL_KEYS)
            .map(|k| open.iter().any(|s| s.contains(k)))
            .collect()
    }

    /// Whether a record with key `k` is recorded in an open usage account.
    pub fn has_open_record(&self, k: &RecordKey) -> bool {
        self.keys.values().any(|s| s.contains(k))
    }

    /// An invoice.
    pub fn invoice(&self, number: &str) -> Option<&InvoiceState> {
        self.s.invoices.get(number)
    }

    /// All invoices by number.
    pub fn invoices(&self) -> impl Iterator<Item = &InvoiceState> {
        self.s.invoices.values()
    }

    /// A credit note.
    pub fn credit_note(&self, number: &str) -> Option<&CreditNoteState> {
        self.s.credit_notes.get(number)
    }

    /// A netting.
    pub fn netting(&self, id: &str) -> Option<&NettingState> {
        self.s.nettings.get(id)
    }

    /// A payment.
    pub fn payment(&self, id: &str) -> Option<&PaymentState> {
        self.s.payments.get(id)
    }

    /// Pending two-party changes.
    pub fn pending(&self) -> impl Iterator<Item = &Pending> {
        self.s.pending.values()
    }

    /// Pending changes awaiting `party`'s answer.
    pub fn awaiting(&self, party: &PartyId) -> Vec<&Pending> {
        self.s.pending.values().filter(|p| p.proposer != *party).collect()
    }

    /// Due date of a settleable document (payment terms from its date), if it exists.
    pub fn due_date(&self, r: &SettlementRef) -> Option<u64> {
        let d = self.doc(r).ok()?;
        match r {
            SettlementRef::Netting(_) => Some(d.issued_at),
            _ => Some(self.s.contract.payment_terms.due_date(d.issued_at)),
        }
    }

    /// Outstanding amount of a settleable document, if it exists.
    pub fn outstanding(&self, r: &SettlementRef) -> Option<Micros> {
        self.doc(r).ok().map(|d| d.due - d.paid - d.discount_taken)
    }

    /// What each party owes the other now: outstanding amounts of payable invoices, credit
    /// notes and netting results.
    pub fn balances(&self) -> Balances {
        let [a, b] = [self.s.contract.parties[0].id, self.s.contract.parties[1].id];
        let refs = self
            .s
            .invoices
            .keys()
            .map(|n| SettlementRef::Invoice(n.clone()))
            .chain(self.s.credit_notes.keys().map(|n| SettlementRef::CreditNote(n.clone())))
            .chain(self.s.nettings.keys().map(|n| SettlementRef::Netting(n.clone())));
        let owed: Vec<(PartyId, Micros)> = refs
            .filter_map(|r| self.doc(&r).ok())
            .filter(|d| d.not_payable.is_none())
            .map(|d| (d.payer, d.due - d.paid - d.discount_taken))
            .collect();
        let zero = settlement::NetResult { a_owes_b: 0, b_owes_a: 0, payer: None, amount: 0 };
        Balances { a, b, net: settlement::net(a, b, owed).unwrap_or(zero) }
    }
}

/// The checks of one usage record of a batch (everything but duplicate ids).
fn check_record(
    index: usize,
    r: &UsageRecord,
    tariff: &Tariff,
    order: &Order,
    interval: &BillingInterval,
) -> std::result::Result<(), Refusal> {
    r.validate().map_err(|source| Refusal::Record { index, source })?;
    let Some(p) = tariff.product(&r.usage_type) else {
        return Err(Refusal::Record {
            index,
            source: omni_core::Error::UnknownProduct {
                id: r.id.clone(),
                product: r.usage_type.0.clone(),
            },
        });
    };
    if p.unit != r.unit {
        return Err(Refusal::Record {
            index,
            source: omni_core::Error::InvalidUsage {
                id: r.id.clone(),
                reason: format!(
                    "unit {} is not product {}'s unit {}",
                    r.unit.symbol(),
                    p.product,
                    p.unit.symbol()
                ),
            },
        });
    }
    if !interval.contains(r.usage_date) {
        return Err(Refusal::RecordOutsideInterval {
            index,
            id: r.id.clone(),
            date: r.usage_date,
            interval: interval.id.0.clone(),
            start: interval.start,
            end: interval.end,
        });
    }
    if !order.covers(r.usage_date) {
        return Err(Refusal::RecordOutsideOrder {
            index,
            id: r.id.clone(),
            date: r.usage_date,
            order: order.id.clone(),
        });
    }
    // MEF 114 R4: billing of a product is based on an order of it.
    if !order.orders(&r.usage_type) {
        return Err(Refusal::ProductNotOrdered {
            index,
            id: r.id.clone(),
            product: r.usage_type.0.clone(),
            order: order.id.clone(),
        });
    }
    Ok(())
}

fn usage_closed(key: &AccountKey, state: &'static str, seq: u64) -> Refusal {
    Refusal::UsageClosed { order: key.order.clone(), interval: key.interval.0.clone(), state, seq }
}

fn already_rated(key: &AccountKey, state: &'static str, seq: u64) -> Refusal {
    Refusal::AlreadyRated { order: key.order.clone(), interval: key.interval.0.clone(), state, seq }
}

fn text(field: &'static str, s: &str, max: usize) -> std::result::Result<(), Refusal> {
    check_text(field, s, max).map_err(|_| Refusal::BadText { field, max })
}

/// The first difference between a proposed and the ledger's rating, in words.
fn rating_difference(proposed: &Rating, ledger: &Rating) -> String {
    let fields = [
        ("total", proposed.total, ledger.total),
        ("net", proposed.net, ledger.net),
        ("tax", proposed.tax, ledger.tax),
        ("usage", proposed.usage, ledger.usage),
        ("subtotal", proposed.subtotal, ledger.subtotal),
        ("discount", proposed.discount, ledger.discount),
        ("true-up", proposed.true_up, ledger.true_up),
        ("rounding adjustment", proposed.rounding_adjustment, ledger.rounding_adjustment),
    ];
    for (what, p, l) in fields {
        if p != l {
            return format!(
                "{what} {} proposed, {} by the ledger",
                format_micros(p),
                format_micros(l)
            );
        }
    }
    for (p, l) in proposed.lines.iter().zip(&ledger.lines) {
        if p != l {
            return format!(
                "line of {} differs (proposed {} records, ledger {})",
                l.product, p.records, l.records
            );
        }
    }
    if proposed.lines.len() != ledger.lines.len() {
        return format!(
            "{} usage lines proposed, {} by the ledger",
            proposed.lines.len(),
            ledger.lines.len()
        );
    }
    "fee lines differ".into()
}

#[cfg(test)]
mod tests;
