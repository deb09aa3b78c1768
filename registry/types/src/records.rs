//! What the registry records of its members, anchors and invoices: the rows of its state
//! (see [`crate::state`] for the rules that write them), which reputation, the financier's
//! check and the API read.

use crate::tx::{AmountCommitment, ConformanceDeclaration, CycleId, InvoiceId, Role};
use omni_core::{Currency, Hash32, IntervalId, PartyId};
use serde::{Deserialize, Serialize};

/// A conformance declaration as published (R13).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PublishedConformance {
    /// The declaration.
    pub declaration: ConformanceDeclaration,
    /// Block time of publication.
    pub published_at: u64,
}

/// A registry member.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Member {
    /// Its pseudonymous key.
    pub party: PartyId,
    /// Its role (R53).
    pub role: Role,
    /// Block time of admission.
    pub admitted_at: u64,
    /// Block height of admission (0 for founding members).
    pub admitted_height: u64,
    /// Its latest conformance declaration.
    pub conformance: Option<PublishedConformance>,
}

/// A bilateral head as one of its parties anchored it (R24).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Anchor {
    /// The bilateral.
    pub bilateral: Hash32,
    /// Sequence number of the head entry.
    pub seq: u64,
    /// Hash of the head entry.
    pub head: Hash32,
    /// The member that anchored it.
    pub anchored_by: PartyId,
    /// Block height.
    pub height: u64,
    /// Block time.
    pub time: u64,
}

/// Where an invoice stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum InvoiceStatus {
    /// Its rating proof verified; the payer has not accepted it.
    Verified,
    /// The payer accepted it.
    Accepted,
    /// The payer disputes it.
    Disputed,
    /// Paid: attested by payer and payee, or settled by netting.
    Paid,
    /// The payee recorded a credit after the payer accepted it: the amount due changed,
    /// and the payer has not yet accepted the credited amount.
    Credited,
}

impl InvoiceStatus {
    /// Lower-case name, as in the protobuf.
    pub fn name(&self) -> &'static str {
        match self {
            InvoiceStatus::Verified => "verified",
            InvoiceStatus::Accepted => "accepted",
            InvoiceStatus::Disputed => "disputed",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Credited => "credited",
        }
    }

    /// The status of [`InvoiceStatus::name`] `name`, if any.
    pub fn named(name: &str) -> Option<InvoiceStatus> {
        [
            InvoiceStatus::Verified,
            InvoiceStatus::Accepted,
            InvoiceStatus::Disputed,
            InvoiceStatus::Paid,
            InvoiceStatus::Credited,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// A dispute as recorded.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisputeRecord {
    /// Hash of the dispute entry on the bilateral ledger.
    pub reason: Hash32,
    /// Block time.
    pub disputed_at: u64,
}

/// A credit the payee recorded against an invoice: a credit note, or a reconciled final
/// invoice below the proven amount, agreed by both parties on the bilateral (MEF 114
/// R78–R81). The invoice's amount due is its proven commitment minus its credits'.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvoiceCredit {
    /// Hash of the bilateral entry that agreed it (the credit note or the final invoice).
    pub reference: Hash32,
    /// Pedersen commitment to the credited amount.
    pub commitment: AmountCommitment,
    /// Block time it was recorded.
    pub credited_at: u64,
    /// Block height it was recorded at.
    pub height: u64,
}

/// A payer's payment notice (R87), awaiting the payee's receipt.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PaymentNoticeRecord {
    /// Value date stated by the payer.
    pub paid_at: u64,
    /// Reference of the payment record.
    pub payment_ref: Hash32,
    /// Block time of the notice.
    pub noticed_at: u64,
}

/// How an invoice got paid.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum SettledBy {
    /// An attested payment (notice + receipt).
    Payment {
        /// Reference of the payment record.
        payment_ref: Hash32,
    },
    /// A settled netting cycle.
    Netting {
        /// The cycle.
        cycle: CycleId,
    },
}

/// An invoice's settlement.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Settlement {
    /// When it counts as paid: the notice's value date, or the netting cycle's settlement.
    pub paid_at: u64,
    /// Block time the payment became attested.
    pub attested_at: u64,
    /// How.
    pub by: SettledBy,
}

/// An invoice as the registry knows it: public facts and a commitment, never the amount.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Invoice {
    /// Its id.
    pub invoice: InvoiceId,
    /// Bilateral pseudonym.
    pub bilateral: Hash32,
    /// Billing interval.
    pub interval: IntervalId,
    /// Who owes.
    pub payer: PartyId,
    /// Who is owed.
    pub payee: PartyId,
    /// Currency of the amount.
    pub currency: Currency,
    /// Pedersen commitment to the amount.
    pub amount_commitment: AmountCommitment,
    /// Due date, UTC seconds.
    pub due_date: u64,
    /// Hash of the verified proof bundle (the bundle itself is in the block).
    pub proof_hash: Hash32,
    /// Block time of admission.
    pub submitted_at: u64,
    /// Block height of admission.
    pub submitted_height: u64,
    /// Status.
    pub status: InvoiceStatus,
    /// Block time of the payer's (latest) acceptance.
    pub accepted_at: Option<u64>,
    /// The current dispute, while disputed.
    pub dispute: Option<DisputeRecord>,
    /// The payer's payment notice, until confirmed.
    pub payment_notice: Option<PaymentNoticeRecord>,
    /// Its settlement, once paid.
    pub settlement: Option<Settlement>,
    /// The netting cycle that holds it (locked while the cycle is active; kept as a
    /// record once settled).
    pub netting_cycle: Option<CycleId>,
}
