//! A participant's net position in an omni-lateral netting cycle, from its own ledgers.
//!
//! A multi-party netting cycle on the registry locks a set of accepted invoices, each known
//! there only by its id and a Pedersen commitment to its amount. Each participant then
//! opens its own net position: the sum of the invoices it is owed (as seller) minus those it
//! owes (as buyer), with the matching sum of the blindings, so that the registry can check
//! the opening against the sum of the commitments without learning any single invoice.
//! [`net_position`] computes that opening from the node's ledgers: for every invoice among
//! the cycle's ids on any of the node's bilaterals, the amount due the registry commits
//! to — the total the rating proof proved, less the credits recorded since
//! ([`crate::invoice_credit`]) — and its blinding, which both parties' ledgers hold.

use crate::entry::BilateralId;
use crate::invoice_credit::{opening, OpeningError};
use crate::ledger::Ledger;
use crate::registry_client::registry_invoice_id;
use omni_circuits::pedersen::{scalar_to_bytes, Scalar};
use omni_core::Micros;
use omni_registry_types::tx::InvoiceId;
use std::collections::BTreeSet;

/// Why a net position could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum NetPositionError {
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] crate::Error),
    /// An invoice's amount could not be opened.
    #[error(transparent)]
    Opening(#[from] OpeningError),
    /// A credit note counted in an invoice's amount due on the registry was settled on
    /// its own as well: netting the invoice would credit it twice.
    #[error(
        "bilateral {bilateral}: credit note {credit_note} against invoice {number} is counted \
         in the invoice's amount due on the registry and was also settled on its own; the \
         cycle would credit it twice"
    )]
    CreditSettledApart {
        /// The bilateral.
        bilateral: BilateralId,
        /// The invoice.
        number: String,
        /// The credit note.
        credit_note: String,
    },
    /// The sum does not fit in micro-units.
    #[error("the net position overflows")]
    Overflow,
}

/// A participant's opened net position (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetPosition {
    /// Receivables minus payables, micro-units.
    pub micros: Micros,
    /// The matching sum of blindings (32-byte little-endian scalar).
    pub blinding: [u8; 32],
    /// The cycle's invoices this node is party to, which the sum covers.
    pub invoices: Vec<InvoiceId>,
}

/// The net position of `ledger`'s owner over `cycle`'s invoices (module docs); invoices
/// between other parties are not on its ledgers and do not count.
pub fn net_position(
    ledger: &Ledger,
    cycle: &BTreeSet<InvoiceId>,
) -> Result<NetPosition, NetPositionError> {
    let me = ledger.key();
    let (mut micros, mut blinding) = (0 as Micros, Scalar::from(0u64));
    let mut invoices = Vec::new();
    for id in ledger.bilaterals() {
        let state = ledger.state(&id)?;
        for inv in state.invoices() {
            let number = &inv.invoice.number;
            let registry_id = registry_invoice_id(&id, number);
            if !cycle.contains(&registry_id) {
                continue;
            }
            let opening = opening(ledger, state, inv)?;
            if let Some(c) = opening.credits.iter().find(|c| c.settled_apart) {
                return Err(NetPositionError::CreditSettledApart {
                    bilateral: id,
                    number: number.clone(),
                    credit_note: c.credit_note.clone().unwrap_or_default(),
                });
            }
            let (due, r) = (opening.amount_due(), opening.due_blinding());
            if inv.seller == me {
                micros = micros.checked_add(due).ok_or(NetPositionError::Overflow)?;
                blinding += r;
            } else {
                micros = micros.checked_sub(due).ok_or(NetPositionError::Overflow)?;
                blinding -= r;
            }
            invoices.push(registry_id);
        }
    }
    Ok(NetPosition { micros, blinding: scalar_to_bytes(&blinding), invoices })
}
