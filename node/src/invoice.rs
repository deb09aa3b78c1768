//! Invoices and their reconciliation (MEF 114 §8.4–§8.5, §8.6.4).
//!
//! An [`Invoice`] is made of an **agreed** [`Rating`] (R66): one item per usage line, fee,
//! rounding adjustment, volume discount and minimum-charge true-up, then net, tax and
//! total. There are two ways to make one (R71, §7.7):
//!
//! * **Option 1** — the seller issues the invoice and the ledger *validates* it:
//!   [`check_against_rating`] refuses any item or total that differs from the rating.
//! * **Option 2** — the ledger *generates* it: [`invoice_from_rating`] is a deterministic
//!   function of the agreed rating, so both nodes derive the same invoice.
//!
//! The buyer then accepts it, or disputes items ([`Dispute`], CR21) when the discrepancy
//! reaches the contract's threshold. A [`DisputeResolution`] agreed by both parties resolves
//! some or all disputed items with adjustments; unresolved items stay open (R79–R80). A
//! [`FinalInvoice`] agreed by both records the reconciled amount (R78, R81): a *partially
//! reconciled* invoice while items are open, the *final* one when none are. A
//! [`CreditNote`] (D21) is settled like an invoice, in the other direction.

use crate::contract::{check_text, MAX_ID_LEN, MAX_TEXT_LEN};
use omni_core::money::format_micros;
use omni_core::rating::Rating;
use omni_core::tariff::RoundingMode;
use omni_core::{Currency, Hash32, IntervalId, Micros, ProductId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an invoice item charges for.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Charge {
    /// Rated usage of a product.
    Usage {
        /// The product.
        product: ProductId,
    },
    /// A fixed fee of the tariff (R63: order-based billing).
    Fee {
        /// Name of the fee.
        name: String,
        /// Whether it is a one-time fee.
        one_time: bool,
    },
    /// Per-invoice rounding of usage (`U − Σ L`).
    RoundingAdjustment,
    /// Volume discount (a negative amount).
    VolumeDiscount,
    /// Minimum-charge true-up.
    MinimumChargeTrueUp,
}

impl fmt::Display for Charge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Charge::Usage { product } => write!(f, "usage of {product}"),
            Charge::Fee { name, one_time: true } => write!(f, "one-time fee {name:?}"),
            Charge::Fee { name, one_time: false } => write!(f, "recurring fee {name:?}"),
            Charge::RoundingAdjustment => f.write_str("rounding adjustment"),
            Charge::VolumeDiscount => f.write_str("volume discount"),
            Charge::MinimumChargeTrueUp => f.write_str("minimum-charge true-up"),
        }
    }
}

/// One item (line) of an invoice.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvoiceItem {
    /// Item number, 1-based and consecutive; disputes refer to it.
    pub item: u32,
    /// What it charges for.
    pub charge: Charge,
    /// Free text printed on the invoice.
    pub description: String,
    /// Billed quantity for usage items (after increments), 1 for fees, 0 otherwise.
    pub quantity: u128,
    /// Amount in micro-units (negative for a discount).
    pub amount: Micros,
}

/// An invoice for one order's agreed rating of one billing interval (TMF678 bill).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Invoice {
    /// Invoice number (TMF678 `billNo`), unique within the bilateral.
    pub number: String,
    /// The order it bills.
    pub order: String,
    /// The billing interval it bills (R58).
    pub interval: IntervalId,
    /// Currency of all amounts.
    pub currency: Currency,
    /// Digest of the agreed rating it is made of.
    pub rating: Hash32,
    /// Items.
    pub items: Vec<InvoiceItem>,
    /// Sum of the items.
    pub net: Micros,
    /// Tax on the net.
    pub tax: Micros,
    /// Amount due: net plus tax.
    pub total: Micros,
}

impl Invoice {
    /// The item numbered `item`.
    pub fn item(&self, item: u32) -> Option<&InvoiceItem> {
        self.items.iter().find(|i| i.item == item)
    }

    /// A human-readable rendering of the invoice (MEF 114 R73).
    pub fn render(&self, seller: &str, buyer: &str) -> String {
        let mut s = format!(
            "INVOICE {}\nSeller: {seller}\nBuyer:  {buyer}\nOrder {}, billing interval {}\n\n",
            self.number, self.order, self.interval
        );
        for i in &self.items {
            s.push_str(&format!(
                "{:>3}  {:<44} {:>12}  {:>20} {}\n",
                i.item,
                i.description,
                i.quantity,
                format_micros(i.amount),
                self.currency
            ));
        }
        for (label, v) in [("Net", self.net), ("Tax", self.tax), ("Total due", self.total)] {
            s.push_str(&format!("{:>63}  {:>20} {}\n", label, format_micros(v), self.currency));
        }
        s
    }
}

/// The charges an agreed rating gives, in invoice order, with a default description.
pub fn charges_of(rating: &Rating) -> Vec<(Charge, String, u128, Micros)> {
    let mut out = Vec::with_capacity(rating.lines.len() + rating.fees.len() + 3);
    for l in &rating.lines {
        out.push((
            Charge::Usage { product: l.product.clone() },
            format!("{} ({} records)", l.product, l.records),
            l.billed_quantity,
            l.amount,
        ));
    }
    for f in &rating.fees {
        out.push((
            Charge::Fee { name: f.name.clone(), one_time: f.one_time },
            f.name.clone(),
            1,
            f.amount,
        ));
    }
    if rating.rounding_adjustment != 0 {
        out.push((
            Charge::RoundingAdjustment,
            "rounding adjustment".into(),
            0,
            rating.rounding_adjustment,
        ));
    }
    if rating.discount != 0 {
        out.push((Charge::VolumeDiscount, "volume discount".into(), 0, -rating.discount));
    }
    if rating.true_up != 0 {
        out.push((Charge::MinimumChargeTrueUp, "minimum charge true-up".into(), 0, rating.true_up));
    }
    out
}

/// MEF 114 Option 2: the invoice the ledger generates from an agreed rating. A
/// deterministic function, so both nodes derive the same invoice.
pub fn invoice_from_rating(
    number: &str,
    order: &str,
    interval: &IntervalId,
    currency: Currency,
    rating: &Rating,
) -> Invoice {
    let items = charges_of(rating)
        .into_iter()
        .zip(1u32..)
        .map(|((charge, description, quantity, amount), item)| InvoiceItem {
            item,
            charge,
            description,
            quantity,
            amount,
        })
        .collect();
    Invoice {
        number: number.to_string(),
        order: order.to_string(),
        interval: interval.clone(),
        currency,
        rating: rating.digest(),
        items,
        net: rating.net,
        tax: rating.tax,
        total: rating.total,
    }
}

/// MEF 114 Option 1: checks a seller-issued invoice against the agreed rating of its order
/// and interval. Items may come in any order with any description, but each charge of the
/// rating must appear once with the rating's quantity and amount, and nothing else may.
/// The error names the first difference.
pub fn check_against_rating(
    invoice: &Invoice,
    currency: Currency,
    rating: &Rating,
) -> Result<(), String> {
    check_text("invoice number", &invoice.number, MAX_ID_LEN)?;
    if invoice.currency != currency {
        return Err(format!("currency {} is not the contract's {currency}", invoice.currency));
    }
    if invoice.rating != rating.digest() {
        return Err(format!(
            "it names rating {} but the agreed rating is {}",
            invoice.rating.short(),
            rating.digest().short()
        ));
    }
    let mut expected = charges_of(rating);
    for (pos, item) in invoice.items.iter().enumerate() {
        if item.item as usize != pos + 1 {
            return Err(format!(
                "item at position {} is numbered {}; items are numbered 1, 2, …",
                pos + 1,
                item.item
            ));
        }
        if item.description.len() > MAX_TEXT_LEN {
            return Err(format!(
                "item {}: description longer than {MAX_TEXT_LEN} bytes",
                item.item
            ));
        }
        let Some(at) = expected.iter().position(|(c, ..)| *c == item.charge) else {
            return Err(format!(
                "item {} charges {}, which is not in the agreed rating (or appears twice)",
                item.item, item.charge
            ));
        };
        let (charge, _, quantity, amount) = expected.swap_remove(at);
        if item.quantity != quantity {
            return Err(format!(
                "item {} ({charge}): quantity {} does not match the agreed rating's {quantity}",
                item.item, item.quantity
            ));
        }
        if item.amount != amount {
            return Err(format!(
                "item {} ({charge}): amount {} does not match the agreed rating's {}",
                item.item,
                format_micros(item.amount),
                format_micros(amount)
            ));
        }
    }
    if let Some((charge, _, _, amount)) = expected.first() {
        return Err(format!(
            "{charge} of {} in the agreed rating is missing",
            format_micros(*amount)
        ));
    }
    for (what, found, agreed) in [
        ("net", invoice.net, rating.net),
        ("tax", invoice.tax, rating.tax),
        ("total", invoice.total, rating.total),
    ] {
        if found != agreed {
            return Err(format!(
                "{what} {} does not match the agreed rating's {}",
                format_micros(found),
                format_micros(agreed)
            ));
        }
    }
    Ok(())
}

/// One disputed item.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisputedItem {
    /// The invoice item.
    pub item: u32,
    /// The amount the buyer holds to be wrong (at most the item's amount).
    pub amount: Micros,
    /// Why.
    pub reason: String,
}

/// The buyer disputes items of an invoice (MEF 114 O3, CR21). Unilateral: recorded as a
/// state change and notifies the seller.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Dispute {
    /// The invoice.
    pub invoice: String,
    /// Disputed items, each once.
    pub items: Vec<DisputedItem>,
}

/// The agreed outcome for one disputed item.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ItemResolution {
    /// The invoice item.
    pub item: u32,
    /// Amount credited to the buyer, `0 ..= disputed amount`.
    pub adjustment: Micros,
    /// Note on the outcome.
    pub note: String,
}

/// Resolves some or all open disputed items of an invoice (MEF 114 R76–R77). Either party
/// proposes it; it takes effect when the other accepts. Items not named stay open (R80).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisputeResolution {
    /// The invoice.
    pub invoice: String,
    /// Resolved items.
    pub resolutions: Vec<ItemResolution>,
}

/// The reconciled invoice after a dispute (MEF 114 R78–R81), proposed by the seller and
/// accepted by the buyer. Its amounts must equal the ledger's reconciliation: the net less
/// the agreed adjustments and less the still-open disputed amounts, with tax recomputed.
/// With items still open it is a *partially reconciled* invoice (R79); a later revision
/// supersedes it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FinalInvoice {
    /// The invoice.
    pub invoice: String,
    /// Revision number: 1 for the first reconciled invoice, then 2, …
    pub revision: u32,
    /// Reconciled net.
    pub net: Micros,
    /// Tax on the reconciled net.
    pub tax: Micros,
    /// Reconciled amount due.
    pub total: Micros,
}

/// A credit note (MEF 114 D21): an amount the issuer owes the counterparty, settled like
/// an invoice (payment or netting). Proposed by the issuer, accepted by the counterparty.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CreditNote {
    /// Credit note number, unique within the bilateral.
    pub number: String,
    /// The invoice it credits, if any (the issuer must be that invoice's seller).
    pub invoice: Option<String>,
    /// Amount credited, micro-units, tax included.
    pub amount: Micros,
    /// Why (SLA credit, overpayment, recalculation, …).
    pub reason: String,
}

/// `round(x · bps / 10 000)` under `mode` for a signed `x`, symmetric around zero.
pub fn apply_bps(x: Micros, bps: u32, mode: RoundingMode) -> Micros {
    let mag =
        omni_core::rating::round_div(u128::from(x.unsigned_abs()) * u128::from(bps), 10_000, mode);
    // |x| · bps / 10 000 ≤ |x| for bps ≤ 10 000, so it fits back into i64.
    let mag = Micros::try_from(mag).unwrap_or(Micros::MAX);
    if x < 0 {
        -mag
    } else {
        mag
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use omni_core::rating::{rate, RatingOptions};
    use omni_core::sample;

    fn rating() -> Rating {
        let t = sample::interconnect_tariff();
        let nov = omni_core::BillingInterval::month(2026, 11).unwrap();
        let records = sample::usage(&t, "r", nov.start, 2000);
        rate(&t, &records, &RatingOptions { include_one_time_fees: true }).unwrap().0
    }

    #[test]
    fn option2_invoice_adds_up_and_passes_option1() {
        let r = rating();
        let inv =
            invoice_from_rating("INV-1", "O-1", &IntervalId("2026-11".into()), Currency::EUR, &r);
        assert_eq!(inv.items.iter().map(|i| i.amount).sum::<Micros>(), r.net);
        assert_eq!(inv.total, r.net + r.tax);
        assert!(check_against_rating(&inv, Currency::EUR, &r).is_ok());
        // reordered items with other descriptions are still the same invoice
        let mut shuffled = inv.clone();
        shuffled.items.reverse();
        for (n, i) in shuffled.items.iter_mut().enumerate() {
            i.item = n as u32 + 1;
            i.description = "ours".into();
        }
        assert!(check_against_rating(&shuffled, Currency::EUR, &r).is_ok());
        assert!(inv.render("A", "B").contains("Total due"));
    }

    #[test]
    fn option1_refuses_every_kind_of_difference() {
        let r = rating();
        let inv =
            invoice_from_rating("INV-1", "O-1", &IntervalId("2026-11".into()), Currency::EUR, &r);
        let check = |f: &dyn Fn(&mut Invoice)| {
            let mut bad = inv.clone();
            f(&mut bad);
            check_against_rating(&bad, Currency::EUR, &r).unwrap_err()
        };
        assert!(check(&|i| i.items[0].amount += 1).contains("does not match the agreed rating's"));
        assert!(check(&|i| i.items[0].quantity += 1).contains("quantity"));
        assert!(check(&|i| {
            i.items.pop();
        })
        .contains("is missing"));
        assert!(check(&|i| {
            let dup = i.items[0].clone();
            i.items.push(InvoiceItem { item: i.items.len() as u32 + 1, ..dup });
        })
        .contains("not in the agreed rating"));
        assert!(check(&|i| i.total += 1).contains("total"));
        assert!(check(&|i| i.tax -= 1).contains("tax"));
        assert!(check(&|i| i.items[1].item = 7).contains("numbered"));
        assert!(check(&|i| i.currency = Currency::USD).contains("currency"));
        assert!(check(&|i| i.rating = Hash32::ZERO).contains("agreed rating is"));
    }

    #[test]
    fn bps_rounding_is_symmetric() {
        assert_eq!(apply_bps(1_000_000, 1900, RoundingMode::HalfEven), 190_000);
        assert_eq!(apply_bps(-1_000_000, 1900, RoundingMode::HalfEven), -190_000);
        assert_eq!(apply_bps(5, 1000, RoundingMode::HalfUp), 1);
        assert_eq!(apply_bps(5, 1000, RoundingMode::Down), 0);
    }
}
