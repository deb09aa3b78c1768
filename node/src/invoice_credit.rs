//! The credits an Option 1 invoice carries on the registry, read off the bilateral.
//!
//! The registry knows an invoice by the commitment its rating proof proved; what the buyer
//! owes afterwards can be less (MEF 114 R78–R81): a **credit note** against the invoice,
//! or a **final invoice** that settles a dispute below the proven amount. Once both
//! parties agreed such a credit on the bilateral, the seller's node records it on the
//! registry (`CreditInvoice`) as a commitment to the credited amount, and the registry's
//! amount due becomes the proven commitment less the credits'. [`opening`] lists them the
//! same way on both nodes:
//!
//! | credit | reference | amount |
//! |---|---|---|
//! | a credit note against the invoice, accepted by the buyer | the credit note's entry | the credit note's |
//! | the final invoice of a dispute (no item open), below the invoiced total | the final invoice's entry | invoiced total − reconciled total |
//!
//! Each credit's blinding derives from the invoice's
//! ([`omni_registry_types::commitment::credit_blinding`]), which both ledgers hold with the
//! rating proof, so the buyer's node computes the commitment the seller recorded and
//! accepts the credited amount only if the registry shows exactly that; a netting
//! participant opens its net over amounts due; a financier opens the credits from the
//! seller's export of the invoice's opening.
//!
//! A credit note so recorded is settled with its invoice (the invoice's payment or
//! netting), not on its own: a multi-party cycle counts it in the invoice's amount due.

use crate::entry::BilateralId;
use crate::ledger::Ledger;
use crate::state::{Agreement, BilateralState, CreditNoteState, InvoiceState, Revision};
use omni_circuits::pedersen::{scalar_from_bytes, PedersenCommitment, Scalar};
use omni_core::{Hash32, Micros};
use omni_registry_types::commitment::{commit_signed, credit_blinding, encode};
use omni_registry_types::tx::AmountCommitment;

/// One credit of an invoice (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credit {
    /// Hash of the entry that agreed it: its reference on the registry.
    pub reference: Hash32,
    /// The credited amount, micro-units.
    pub micros: Micros,
    /// Its commitment's blinding.
    pub blinding: Scalar,
    /// The credit note it is, if it is one.
    pub credit_note: Option<String>,
    /// A credit note already settled on its own (paid or netted apart from the invoice).
    pub settled_apart: bool,
}

impl Credit {
    /// The commitment the registry records for it.
    pub fn commitment(&self) -> AmountCommitment {
        encode(&PedersenCommitment::commit(self.micros.unsigned_abs(), &self.blinding))
    }
}

/// The opening of an Option 1 invoice's amount: the proven total and blinding, and its
/// credits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opening {
    /// The total the rating proof proved.
    pub proven: Micros,
    /// The blinding of the proven commitment.
    pub blinding: Scalar,
    /// Its credits, in ledger order.
    pub credits: Vec<Credit>,
}

impl Opening {
    /// The amount due: the proven total less the credits.
    pub fn amount_due(&self) -> Micros {
        self.proven - self.credits.iter().map(|c| c.micros).sum::<Micros>()
    }

    /// The blinding of the amount due's commitment.
    pub fn due_blinding(&self) -> Scalar {
        self.credits.iter().fold(self.blinding, |r, c| r - c.blinding)
    }

    /// The commitment to the amount due: the proven commitment less the credits', which
    /// is how the registry computes it from its records.
    pub fn due_commitment(&self) -> AmountCommitment {
        encode(&commit_signed(self.amount_due(), &self.due_blinding()))
    }
}

/// Why an invoice's opening could not be read off the ledger.
#[derive(Debug, thiserror::Error)]
pub enum OpeningError {
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] crate::Error),
    /// The invoice has no rating proof, so no commitment to open.
    #[error("bilateral {bilateral}: invoice {number} has no rating proof, so no amount commitment to open")]
    Unproven {
        /// The bilateral.
        bilateral: BilateralId,
        /// The invoice.
        number: String,
    },
    /// A blinding on the ledger is not a scalar (it never should be: the proof verified).
    #[error("bilateral {bilateral}: invoice {number}'s blinding is not a canonical scalar")]
    Blinding {
        /// The bilateral.
        bilateral: BilateralId,
        /// The invoice.
        number: String,
    },
}

/// Whether `inv` has a credit (module docs), without reading its opening.
pub fn has_credits(state: &BilateralState, inv: &InvoiceState) -> bool {
    let number = inv.invoice.number.as_str();
    state.snapshot().credit_notes.values().any(|c| is_credit_of(c, number))
        || final_reduction(inv).is_some()
}

/// The final invoice of `inv`'s dispute (no item open) and how far it is below the
/// invoiced total, if it is.
fn final_reduction(inv: &InvoiceState) -> Option<(&Revision, Micros)> {
    let revision = inv.revision.as_ref().filter(|r| r.open_items == 0)?;
    (revision.total < inv.invoice.total).then(|| (revision, inv.invoice.total - revision.total))
}

/// Whether credit note `c` is a credit of invoice `number`: against it, and accepted.
fn is_credit_of(c: &CreditNoteState, number: &str) -> bool {
    c.note.invoice.as_deref() == Some(number) && c.status == Agreement::Accepted
}

/// The opening of `inv`'s amount on bilateral `state`, with its credits (module docs).
pub fn opening(
    ledger: &Ledger,
    state: &BilateralState,
    inv: &InvoiceState,
) -> Result<Opening, OpeningError> {
    let id = state.id();
    let number = &inv.invoice.number;
    let attachment = ledger
        .rating_proof(&id, number)?
        .ok_or_else(|| OpeningError::Unproven { bilateral: id, number: number.clone() })?;
    let blinding = scalar_from_bytes(&attachment.blinding)
        .map_err(|_| OpeningError::Blinding { bilateral: id, number: number.clone() })?;
    let mut credits = Vec::new();
    let notes = state.snapshot().credit_notes.values().filter(|c| is_credit_of(c, number));
    for note in notes {
        let reference = ledger.entry_hash(&id, note.seq)?;
        credits.push((
            note.seq,
            Credit {
                reference,
                micros: note.note.amount,
                blinding: credit_blinding(&blinding, &reference),
                credit_note: Some(note.note.number.clone()),
                settled_apart: note.paid != 0 || note.netting.is_some(),
            },
        ));
    }
    if let Some((revision, micros)) = final_reduction(inv) {
        let reference = ledger.entry_hash(&id, revision.seq)?;
        credits.push((
            revision.seq,
            Credit {
                reference,
                micros,
                blinding: credit_blinding(&blinding, &reference),
                credit_note: None,
                settled_apart: false,
            },
        ));
    }
    credits.sort_by_key(|(seq, _)| *seq);
    Ok(Opening {
        proven: inv.invoice.total,
        blinding,
        credits: credits.into_iter().map(|(_, c)| c).collect(),
    })
}
