//! Settlement (MEF 114 §8.6): payment notices, payment receipts and bilateral netting.
//!
//! What can be settled is a [`SettlementRef`]: an invoice that is final (accepted, or
//! reconciled after a dispute), an accepted credit note, or an accepted netting result.
//! The payer notifies a payment ([`PaymentNotice`], R87–R88); the payee confirms it
//! ([`PaymentReceipt`], R89). A receipt must name a notified payment of the same document
//! and amount.
//!
//! With a netting agreement (O4), the parties may net reciprocal documents due in the same
//! billing interval into one payment ([`Netting`], §8.6.3, CR22):
//! `net = (owed by A to B) − (owed by B to A)`; if positive A pays B, otherwise B pays A.

use omni_core::{IntervalId, Micros, PartyId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A document that can be settled.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum SettlementRef {
    /// An invoice, by number.
    Invoice(String),
    /// A credit note, by number.
    CreditNote(String),
    /// A netting result, by id.
    Netting(String),
}

impl fmt::Display for SettlementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettlementRef::Invoice(n) => write!(f, "invoice {n:?}"),
            SettlementRef::CreditNote(n) => write!(f, "credit note {n:?}"),
            SettlementRef::Netting(n) => write!(f, "netting {n:?}"),
        }
    }
}

/// The payer notifies the payee of a payment (MEF 114 R87–R88, D20).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PaymentNotice {
    /// Payment id, unique within the bilateral.
    pub payment: String,
    /// What is paid.
    pub target: SettlementRef,
    /// Amount transferred, micro-units.
    pub amount: Micros,
    /// Payment method and bank reference (R72, R84), free text.
    pub reference: String,
}

/// The payee confirms receipt of a notified payment (MEF 114 R89).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PaymentReceipt {
    /// The notified payment's id.
    pub payment: String,
    /// What was paid (must match the notice).
    pub target: SettlementRef,
    /// Amount received (must match the notice).
    pub amount: Micros,
}

/// The result of an omni-lateral netting cycle on one bilateral (MEF 114 CR22): the
/// bilateral's invoices that the registry's multi-party netting cycle settled. Either
/// party proposes it once the registry shows the cycle settled; the other accepts it
/// (its node checks the cycle on the registry first). Once accepted, the invoices are
/// settled by netting on the ledger (nothing is paid on the bilateral itself: the cycle's
/// settlement instructions moved the money).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CycleNetting {
    /// The registry's cycle id.
    pub cycle: u64,
    /// The bilateral's invoices the cycle locked and settled.
    pub invoices: Vec<String>,
}

impl CycleNetting {
    /// The netting id the result is kept under on the ledger: `cycle-N`.
    pub fn netting_id(cycle: u64) -> String {
        format!("cycle-{cycle}")
    }

    /// The cycle of a netting id, if it is a cycle's result.
    pub fn cycle_of(netting: &str) -> Option<u64> {
        netting.strip_prefix("cycle-")?.parse().ok()
    }
}

/// Bilateral netting of reciprocal documents (MEF 114 §8.6.3). Proposed by either party,
/// final when the other accepts (CR22). `payer` and `amount` state the result the
/// proposer computed; the ledger recomputes and refuses a difference (CD2).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Netting {
    /// Netting id, unique within the bilateral.
    pub id: String,
    /// The billing interval in which all netted documents fall due.
    pub period: IntervalId,
    /// Invoices and credit notes netted (both directions).
    pub documents: Vec<SettlementRef>,
    /// Who pays the net amount; `None` when the directions cancel exactly.
    pub payer: Option<PartyId>,
    /// The net amount (non-negative).
    pub amount: Micros,
}

/// The result of netting amounts owed in both directions between parties `a` and `b`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NetResult {
    /// Total owed by `a` to `b`.
    pub a_owes_b: Micros,
    /// Total owed by `b` to `a`.
    pub b_owes_a: Micros,
    /// Who pays the net amount, `None` if it is zero.
    pub payer: Option<PartyId>,
    /// `|a_owes_b − b_owes_a|`.
    pub amount: Micros,
}

/// Nets `owed`: a list of `(payer, amount)` between parties `a` and `b`
/// (MEF 114 §8.6.3: net = owed by A to B − owed by B to A). `None` on overflow.
pub fn net(
    a: PartyId,
    b: PartyId,
    owed: impl IntoIterator<Item = (PartyId, Micros)>,
) -> Option<NetResult> {
    let (mut ab, mut ba) = (0i64, 0i64);
    for (payer, amount) in owed {
        if payer == a {
            ab = ab.checked_add(amount)?;
        } else {
            ba = ba.checked_add(amount)?;
        }
    }
    let diff = ab.checked_sub(ba)?;
    let payer = match diff {
        d if d > 0 => Some(a),
        d if d < 0 => Some(b),
        _ => None,
    };
    Some(NetResult { a_owes_b: ab, b_owes_a: ba, payer, amount: diff.checked_abs()? })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: PartyId = PartyId([1; 32]);
    const B: PartyId = PartyId([2; 32]);

    #[test]
    fn nets_to_the_larger_debtor() {
        let r = net(A, B, [(A, 100), (B, 30), (A, 5)]).unwrap();
        assert_eq!((r.a_owes_b, r.b_owes_a, r.payer, r.amount), (105, 30, Some(A), 75));
        let r = net(A, B, [(A, 10), (B, 30)]).unwrap();
        assert_eq!((r.payer, r.amount), (Some(B), 20));
        assert_eq!(net(A, B, [(A, 10), (B, 10)]).unwrap().payer, None);
        assert!(net(A, B, [(A, i64::MAX), (A, 1)]).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Netting conserves value: the net amount, signed by who pays, is the difference
        /// of the two directions, and paying it settles both.
        #[test]
        fn netting_conserves_value(owed in proptest::collection::vec((any::<bool>(), 0i64..1 << 50), 0..40)) {
            let docs: Vec<(PartyId, Micros)> = owed.iter().map(|&(ab, m)| (if ab { A } else { B }, m)).collect();
            let r = net(A, B, docs.iter().copied()).unwrap();
            let ab: i64 = docs.iter().filter(|d| d.0 == A).map(|d| d.1).sum();
            let ba: i64 = docs.iter().filter(|d| d.0 == B).map(|d| d.1).sum();
            let signed = match r.payer { Some(p) if p == A => r.amount, Some(_) => -r.amount, None => 0 };
            prop_assert_eq!(signed, ab - ba);
            prop_assert_eq!((r.a_owes_b, r.b_owes_a), (ab, ba));
            // after A pays B `signed` (or receives it), each side has received what it is owed
            prop_assert_eq!(ab - signed, ba);
        }
    }
}
