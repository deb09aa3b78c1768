//! The contract that creates a bilateral (MSA + specific terms) and the orders under it.
//!
//! A [`Contract`] names the two [`Party`]s with the keys allowed to sign for each
//! (MEF 114 R6–R7), the currency, the tariffs by id, the [`BillingCycle`] whose intervals
//! usage is rated in (R58), the [`PaymentTerms`] (Net N, early-payment discount), the
//! [`DisputeThreshold`] (§8.5.3) and whether the parties net reciprocal invoices (§8.6.3,
//! O4). Tax is part of each tariff.
//!
//! An [`Order`] (R4–R8) names which party sells under it — with reciprocal trade each
//! party sells on its own orders — the tariff, the ordered products and the term. Usage
//! is rated per order and billing interval.

use crate::Refusal;
use omni_core::interval::format_date;
use omni_core::tariff::Tariff;
use omni_core::{BillingInterval, Currency, IntervalId, Micros, PartyId, ProductId};
use serde::{Deserialize, Serialize};

/// Longest id (order, invoice, payment, …) in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest free text (names, reasons, descriptions) in bytes.
pub const MAX_TEXT_LEN: usize = 512;
/// Seconds per day; due dates are whole days after issue.
pub const DAY: u64 = 86_400;

/// One side of the bilateral.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Party {
    /// The party's identity key: who pays and is paid.
    pub id: PartyId,
    /// Legal name, printed on invoices.
    pub name: String,
    /// Keys of the representatives authorised to sign for the party (MEF 114 R6–R7).
    pub signatories: Vec<PartyId>,
}

/// How a bilateral's billing intervals are cut and named (MEF 114 R58).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum BillingCycle {
    /// Calendar months (UTC), named `"YYYY-MM"`.
    Monthly,
    /// Fixed-length periods from `anchor`, named `"P{k}"` for the k-th period (from 0).
    Fixed {
        /// Start of period 0, UTC seconds.
        anchor: u64,
        /// Length of each period in seconds (at least one hour).
        length: u64,
    },
}

impl BillingCycle {
    /// The interval named `id`, or why `id` names none.
    pub fn interval(&self, id: &IntervalId) -> Result<BillingInterval, Refusal> {
        let bad =
            |reason: &str| Refusal::BadInterval { interval: id.0.clone(), reason: reason.into() };
        match *self {
            BillingCycle::Monthly => {
                let s = id.0.as_bytes();
                let digits = |r: std::ops::Range<usize>| s[r].iter().all(u8::is_ascii_digit);
                if s.len() != 7 || s[4] != b'-' || !digits(0..4) || !digits(5..7) {
                    return Err(bad("a monthly cycle names intervals YYYY-MM"));
                }
                let year: i32 = id.0[0..4].parse().map_err(|_| bad("bad year"))?;
                let month: u32 = id.0[5..7].parse().map_err(|_| bad("bad month"))?;
                BillingInterval::month(year, month).map_err(|e| bad(&e.to_string()))
            }
            BillingCycle::Fixed { anchor, length } => {
                let k =
                    id.0.strip_prefix('P')
                        .filter(|k| !k.is_empty() && (k == &"0" || !k.starts_with('0')))
                        .and_then(|k| k.parse::<u64>().ok())
                        .ok_or_else(|| bad("a fixed cycle names intervals P0, P1, …"))?;
                let start = k
                    .checked_mul(length)
                    .and_then(|o| o.checked_add(anchor))
                    .ok_or_else(|| bad("period number too large"))?;
                let end =
                    start.checked_add(length).ok_or_else(|| bad("period number too large"))?;
                BillingInterval::new(id.0.clone(), start, end).map_err(|e| bad(&e.to_string()))
            }
        }
    }

    /// The interval that contains `t` (UTC seconds).
    pub fn interval_containing(&self, t: u64) -> Result<BillingInterval, Refusal> {
        match *self {
            BillingCycle::Monthly => {
                let date = format_date(t);
                self.interval(&IntervalId(date.get(..7).unwrap_or(&date).to_string()))
            }
            BillingCycle::Fixed { anchor, length } => {
                if t < anchor || length == 0 {
                    return Err(Refusal::BadInterval {
                        interval: format!("@{t}"),
                        reason: format!("before the cycle's anchor {anchor}"),
                    });
                }
                self.interval(&IntervalId(format!("P{}", (t - anchor) / length)))
            }
        }
    }

    fn validate(&self) -> Result<(), String> {
        match *self {
            BillingCycle::Monthly => Ok(()),
            BillingCycle::Fixed { length, .. } if length < 3600 => {
                Err(format!("fixed billing periods must last at least an hour, not {length} s"))
            }
            BillingCycle::Fixed { .. } => Ok(()),
        }
    }
}

/// An early-payment discount such as the "2/10" of "2/10 Net 30".
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EarlyPayment {
    /// Discount in basis points of the amount due (200 = 2 %).
    pub discount_bps: u32,
    /// Days after the invoice date within which the discount applies.
    pub within_days: u32,
}

/// When invoices are due (MEF 74 payment terms, R85).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PaymentTerms {
    /// Net N: days after the invoice date the amount is due.
    pub net_days: u32,
    /// Optional discount for paying early.
    pub early_payment: Option<EarlyPayment>,
}

impl PaymentTerms {
    /// "Net N" without discount.
    pub fn net(days: u32) -> PaymentTerms {
        PaymentTerms { net_days: days, early_payment: None }
    }

    /// Due date of a document issued at `issued_at`.
    pub fn due_date(&self, issued_at: u64) -> u64 {
        issued_at.saturating_add(u64::from(self.net_days) * DAY)
    }

    /// Last second at which the early-payment discount applies, if there is one.
    pub fn discount_deadline(&self, issued_at: u64) -> Option<u64> {
        self.early_payment.map(|e| issued_at.saturating_add(u64::from(e.within_days) * DAY))
    }

    fn validate(&self) -> Result<(), String> {
        if self.net_days > 3650 {
            return Err(format!("net {} days exceeds ten years", self.net_days));
        }
        if let Some(e) = self.early_payment {
            if e.discount_bps == 0 || e.discount_bps > 10_000 {
                return Err(format!(
                    "early-payment discount {} bps must be in 1..=10000",
                    e.discount_bps
                ));
            }
            if e.within_days > self.net_days {
                return Err(format!(
                    "early-payment window {} days exceeds the net {} days",
                    e.within_days, self.net_days
                ));
            }
        }
        Ok(())
    }
}

/// Below this discrepancy the buyer accepts a charge; at or above it the buyer may dispute
/// (MEF 114 §8.5.3, D19).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum DisputeThreshold {
    /// An absolute amount in micro-units.
    Amount(Micros),
    /// Basis points of the invoice's net amount (rounded up).
    BasisPoints(u32),
}

impl DisputeThreshold {
    /// The threshold for an invoice of net amount `net`.
    pub fn for_invoice(&self, net: Micros) -> Micros {
        match *self {
            DisputeThreshold::Amount(a) => a,
            DisputeThreshold::BasisPoints(bps) => {
                let x = i128::from(net.max(0)) * i128::from(bps);
                // ceil(x / 10 000) on a non-negative value; fits i64 since bps ≤ 10 000
                Micros::try_from((x + 9_999) / 10_000).unwrap_or(Micros::MAX)
            }
        }
    }
}

/// The contract: MSA and specific terms. Its genesis entry's hash is the bilateral's id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Contract {
    /// Reference of the master service agreement this contract represents (R16).
    pub reference: String,
    /// The two parties.
    pub parties: [Party; 2],
    /// Currency of every amount.
    pub currency: Currency,
    /// Tariffs by id (sorted by id, unique); an order names one.
    pub tariffs: Vec<Tariff>,
    /// Billing intervals (R58).
    pub billing_cycle: BillingCycle,
    /// Payment terms.
    pub payment_terms: PaymentTerms,
    /// Dispute threshold (§8.5.3).
    pub dispute_threshold: DisputeThreshold,
    /// Whether reciprocal invoices may be netted (§8.6.3, O4).
    pub netting: bool,
    /// When the contract takes effect (UTC seconds); no order starts earlier.
    pub effective_from: u64,
}

impl Contract {
    /// Index (0 or 1) of the party `key` signs for, if any.
    pub fn signatory_party(&self, key: &PartyId) -> Option<usize> {
        self.parties.iter().position(|p| p.signatories.contains(key))
    }

    /// Index of the party with identity `id`.
    pub fn party_index(&self, id: &PartyId) -> Option<usize> {
        self.parties.iter().position(|p| p.id == *id)
    }

    /// The other party of `id`.
    pub fn counterparty(&self, id: &PartyId) -> Option<PartyId> {
        self.party_index(id).map(|i| self.parties[1 - i].id)
    }

    /// The tariff with id `id`.
    pub fn tariff(&self, id: &str) -> Option<&Tariff> {
        self.tariffs.binary_search_by(|t| t.id.as_str().cmp(id)).ok().map(|i| &self.tariffs[i])
    }

    /// Checks the terms; the reason says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        check_text("contract reference", &self.reference, MAX_ID_LEN)?;
        let [a, b] = &self.parties;
        if a.id == b.id {
            return Err("the two parties must differ".into());
        }
        for p in &self.parties {
            check_text("party name", &p.name, MAX_TEXT_LEN)?;
            if p.signatories.is_empty() {
                return Err(format!("party {} has no authorised signatory", p.name));
            }
            if p.signatories.len() > 64 {
                return Err(format!("party {} has more than 64 signatories", p.name));
            }
        }
        if let Some(k) = a.signatories.iter().find(|k| b.signatories.contains(k)) {
            return Err(format!("key {} signs for both parties", k.short()));
        }
        if self.tariffs.is_empty() {
            return Err("no tariff".into());
        }
        for w in self.tariffs.windows(2) {
            if w[0].id >= w[1].id {
                return Err(format!(
                    "tariffs must be sorted by id and unique: {} before {}",
                    w[0].id, w[1].id
                ));
            }
        }
        for t in &self.tariffs {
            t.validate().map_err(|e| e.to_string())?;
            if t.currency != self.currency {
                return Err(format!(
                    "tariff {} is in {}, the contract in {}",
                    t.id, t.currency, self.currency
                ));
            }
        }
        self.billing_cycle.validate()?;
        self.payment_terms.validate()?;
        match self.dispute_threshold {
            DisputeThreshold::Amount(a) if !(0..omni_core::tariff::MAX_FEE).contains(&a) => {
                Err("dispute threshold must be in 0..2^50 micro-units".to_string())
            }
            DisputeThreshold::BasisPoints(b) if b > 10_000 => {
                Err(format!("dispute threshold {b} bps exceeds 100 %"))
            }
            _ => Ok(()),
        }
    }
}

/// An ordered product and its quantity (ports, circuits, SIMs, …).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrderItem {
    /// The product, priced by the order's tariff.
    pub product: ProductId,
    /// Ordered quantity (at least 1).
    pub quantity: u64,
}

/// An order (MEF 114 R4–R8): billing of a product is always based on one. Agreed when the
/// counterparty accepts it; usage-based charges and the tariff's fixed fees (R63:
/// recurring fees every interval, one-time fees in the interval the order starts) are
/// billed under it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Order {
    /// Order id, unique within the bilateral.
    pub id: String,
    /// The party that sells under this order; the other one buys.
    pub seller: PartyId,
    /// Id of the contract tariff that prices the order.
    pub tariff: String,
    /// Ordered products.
    pub items: Vec<OrderItem>,
    /// Start of service, UTC seconds.
    pub start: u64,
    /// End of service (exclusive), if fixed.
    pub end: Option<u64>,
}

impl Order {
    /// Whether `t` lies in the order's term.
    pub fn covers(&self, t: u64) -> bool {
        self.start <= t && self.end.is_none_or(|e| t < e)
    }

    /// Whether `interval` overlaps the order's term.
    pub fn overlaps(&self, interval: &BillingInterval) -> bool {
        interval.end > self.start && self.end.is_none_or(|e| interval.start < e)
    }

    /// Whether `product` is ordered.
    pub fn orders(&self, product: &ProductId) -> bool {
        self.items.iter().any(|i| i.product == *product)
    }

    /// Checks the order against the contract.
    pub fn validate(&self, contract: &Contract) -> Result<(), Refusal> {
        let bad = |reason: String| Refusal::InvalidOrder { order: self.id.clone(), reason };
        check_text("order id", &self.id, MAX_ID_LEN).map_err(bad)?;
        if contract.party_index(&self.seller).is_none() {
            return Err(bad(format!(
                "seller {} is not a party of the contract",
                self.seller.short()
            )));
        }
        let tariff = contract
            .tariff(&self.tariff)
            .ok_or_else(|| bad(format!("tariff {:?} is not in the contract", self.tariff)))?;
        if self.items.is_empty() {
            return Err(bad("no ordered product".into()));
        }
        for (i, item) in self.items.iter().enumerate() {
            if tariff.product(&item.product).is_none() {
                return Err(bad(format!(
                    "product {} is not priced by tariff {}",
                    item.product, tariff.id
                )));
            }
            if item.quantity == 0 {
                return Err(bad(format!("product {}: quantity must be at least 1", item.product)));
            }
            if self.items[..i].iter().any(|o| o.product == item.product) {
                return Err(bad(format!("product {} is ordered twice", item.product)));
            }
        }
        if self.start < contract.effective_from {
            return Err(bad(format!(
                "starts at {} before the contract takes effect at {}",
                self.start, contract.effective_from
            )));
        }
        if self.end.is_some_and(|e| e <= self.start) {
            return Err(bad("ends before it starts".into()));
        }
        Ok(())
    }
}

/// Checks that a text field is 1..=`max` bytes.
pub(crate) fn check_text(field: &str, s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("{field} must be 1..={max} bytes"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn monthly_and_fixed_cycles_name_their_intervals() {
        let m = BillingCycle::Monthly;
        let nov = m.interval(&IntervalId("2026-11".into())).unwrap();
        assert_eq!(nov, BillingInterval::month(2026, 11).unwrap());
        assert_eq!(m.interval_containing(nov.start + 5).unwrap(), nov);
        assert_eq!(m.interval_containing(nov.end - 1).unwrap(), nov);
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "abcd-ef"] {
            assert!(m.interval(&IntervalId(bad.into())).is_err(), "{bad}");
        }
        let f = BillingCycle::Fixed { anchor: 1000, length: 3600 };
        let p2 = f.interval(&IntervalId("P2".into())).unwrap();
        assert_eq!((p2.start, p2.end), (1000 + 7200, 1000 + 10_800));
        assert_eq!(f.interval_containing(1000 + 7200).unwrap(), p2);
        for bad in ["P", "P02", "Q1", "P-1", "P99999999999999999999"] {
            assert!(f.interval(&IntervalId(bad.into())).is_err(), "{bad}");
        }
        assert!(f.interval_containing(5).is_err());
    }

    #[test]
    fn payment_terms_and_thresholds() {
        let t = PaymentTerms {
            net_days: 30,
            early_payment: Some(EarlyPayment { discount_bps: 200, within_days: 10 }),
        };
        assert!(t.validate().is_ok());
        assert_eq!(t.due_date(0), 30 * DAY);
        assert_eq!(t.discount_deadline(0), Some(10 * DAY));
        let bad = PaymentTerms {
            net_days: 5,
            early_payment: Some(EarlyPayment { discount_bps: 200, within_days: 10 }),
        };
        assert!(bad.validate().unwrap_err().contains("exceeds the net"));
        assert_eq!(DisputeThreshold::BasisPoints(100).for_invoice(1_000_001), 10_001);
        assert_eq!(DisputeThreshold::Amount(7).for_invoice(1_000_000), 7);
    }
}
