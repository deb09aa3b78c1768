//! The tariff: how usage and fees become money. The rules that apply a tariff are in
//! [`crate::rating`]; this module holds the data and its validation.
//!
//! Prices of usage are in **nano-units per unit** ([`Nanos`], 10⁻⁹ of the currency), so
//! that rates such as 0.0000012 EUR per kB are exact; amounts are rounded to micro-units
//! by the tariff's explicit [`Rounding`]. Fees, minimum charges and discount thresholds
//! are in micro-units.

use crate::{Currency, Error, Micros, ProductId, Result, Unit};
use serde::{Deserialize, Serialize};

/// A price in nano-units (10⁻⁹ of the currency) per unit of quantity.
pub type Nanos = u64;

/// Prices are below 2⁴⁰ nano-units per unit (about 1 100 currency units), so that
/// `quantity × price < 2⁸⁸` in the rating circuit.
pub const MAX_PRICE: Nanos = 1 << 40;

/// Fees, minimum charges and thresholds are below 2⁵⁰ micro-units (about 10⁹ units).
pub const MAX_FEE: Micros = 1 << 50;

/// Billing increments: the first `first` units are charged as a block, then every started
/// `then` units (e.g. 60/1 for voice: a 5 s call bills 60 s, a 61 s call bills 61 s;
/// 30/6 bills 30 s then 6 s steps).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Increment {
    /// The minimum billed quantity of a non-zero record (may be 0).
    pub first: u64,
    /// The step after `first` (at least 1).
    pub then: u64,
}

impl Increment {
    /// Per-unit billing: no minimum, step 1.
    pub const PER_UNIT: Increment = Increment { first: 0, then: 1 };
}

/// A price tier: quantities up to `up_to` (inclusive, cumulative from zero) at `price`.
/// The last tier has `up_to: None` (unbounded).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Tier {
    /// Upper bound of the tier (inclusive), or `None` for the last tier.
    pub up_to: Option<u64>,
    /// Price per unit within the tier.
    pub price: Nanos,
}

/// How the chargeable quantity of a product in an interval is priced.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Pricing {
    /// Every unit at one price.
    Flat {
        /// Price per unit.
        price: Nanos,
    },
    /// Graduated tiers: each unit at the price of the tier it falls in.
    Graduated {
        /// Tiers in ascending order of `up_to`; the last one unbounded.
        tiers: Vec<Tier>,
    },
    /// Volume tiers: all units at the price of the tier the total falls in.
    Volume {
        /// Tiers in ascending order of `up_to`; the last one unbounded.
        tiers: Vec<Tier>,
    },
    /// Package (block) pricing: every started block of `block` units at `price`.
    Package {
        /// Units per block (at least 1).
        block: u64,
        /// Price per block.
        price: Nanos,
    },
}

/// The tariff of one product.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ProductTariff {
    /// The product (TMF635 `usageType`) this tariff prices.
    pub product: ProductId,
    /// The unit usage of this product must be reported in.
    pub unit: Unit,
    /// Billing increments applied to each record.
    pub increment: Increment,
    /// Units per interval that are free, taken off the billed quantity before pricing.
    pub free_units: u64,
    /// Pricing of the chargeable quantity.
    pub pricing: Pricing,
}

/// A fixed fee in micro-units.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Fee {
    /// What the fee is for, printed on the invoice.
    pub name: String,
    /// Amount in micro-units.
    pub amount: Micros,
}

/// A volume discount: once the interval's subtotal reaches `threshold`, `discount_bps`
/// basis points (1/100 %) of the whole subtotal are taken off.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct VolumeDiscount {
    /// Subtotal from which the discount applies, micro-units.
    pub threshold: Micros,
    /// Discount in basis points (at most 10 000).
    pub discount_bps: u32,
}

/// How an exact amount is rounded to micro-units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum RoundingMode {
    /// Towards +∞ (ceiling).
    Up,
    /// Towards zero (floor; amounts are non-negative).
    Down,
    /// To nearest, halves up.
    HalfUp,
    /// To nearest, halves to the even neighbour (banker's rounding).
    HalfEven,
}

/// Where usage charges are rounded from nano-units to micro-units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum RoundingScope {
    /// Each rated record is rounded, and the line is the sum of rounded records.
    /// Only for flat pricing without free units: a tiered charge belongs to no single record.
    PerRecord,
    /// Each invoice line (product) is rounded.
    PerLine,
    /// Usage is summed exactly over all lines and rounded once.
    PerInvoice,
}

/// Rounding mode and scope, stated explicitly in every tariff.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Rounding {
    /// How to round.
    pub mode: RoundingMode,
    /// Where to round.
    pub scope: RoundingScope,
}

/// A tariff: the agreed prices of a bilateral's products for an interval.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Tariff {
    /// Tariff identifier.
    pub id: String,
    /// Tariff version; a new version is a new agreement.
    pub version: u32,
    /// Currency of all amounts.
    pub currency: Currency,
    /// Product tariffs, sorted by product id, unique.
    pub products: Vec<ProductTariff>,
    /// Fixed recurring fees, charged every interval.
    pub recurring_fees: Vec<Fee>,
    /// One-time fees, charged in the interval an order starts (MEF 114 R63).
    pub one_time_fees: Vec<Fee>,
    /// Minimum net charge per interval; a shortfall is billed as a true-up line.
    pub minimum_charge: Micros,
    /// Volume discounts, thresholds strictly ascending.
    pub volume_discounts: Vec<VolumeDiscount>,
    /// Explicit rounding.
    pub rounding: Rounding,
    /// Tax rate in basis points (1900 = 19 %).
    pub tax_rate_bps: u32,
}

impl Tariff {
    /// The tariff of `product`, if priced.
    pub fn product(&self, product: &ProductId) -> Option<&ProductTariff> {
        self.products.binary_search_by(|p| p.product.cmp(product)).ok().map(|i| &self.products[i])
    }

    /// Checks every rule a rating relies on; a tariff that passes cannot make rating
    /// overflow for valid records of one interval.
    pub fn validate(&self) -> Result<()> {
        let fail = |reason: String| Err(Error::InvalidTariff { tariff: self.id.clone(), reason });
        if self.id.is_empty() {
            return fail("id is empty".into());
        }
        if self.products.is_empty() {
            return fail("no products".into());
        }
        for w in self.products.windows(2) {
            if w[0].product >= w[1].product {
                return fail(format!(
                    "products must be sorted and unique: {} before {}",
                    w[0].product, w[1].product
                ));
            }
        }
        for p in &self.products {
            let name = &p.product;
            if p.increment.then == 0 {
                return fail(format!("{name}: increment step must be at least 1"));
            }
            if p.increment.first >= crate::usage::MAX_QUANTITY
                || p.free_units >= crate::usage::MAX_QUANTITY
            {
                return fail(format!("{name}: increment or free units exceed 2^48"));
            }
            match &p.pricing {
                Pricing::Flat { price } => check_price(name, *price).or_else(&fail)?,
                Pricing::Graduated { tiers } | Pricing::Volume { tiers } => {
                    check_tiers(name, tiers).or_else(&fail)?
                }
                Pricing::Package { block, price } => {
                    if *block == 0 || *block >= crate::usage::MAX_QUANTITY {
                        return fail(format!("{name}: package block must be in 1..2^48"));
                    }
                    check_price(name, *price).or_else(&fail)?
                }
            }
            let flat = matches!(p.pricing, Pricing::Flat { .. });
            if self.rounding.scope == RoundingScope::PerRecord && (!flat || p.free_units > 0) {
                return fail(format!(
                    "{name}: per-record rounding needs flat pricing without free units \
                     (a tiered or free-unit charge belongs to no single record)"
                ));
            }
        }
        for f in self.recurring_fees.iter().chain(&self.one_time_fees) {
            if !(0..MAX_FEE).contains(&f.amount) {
                return fail(format!("fee {:?}: amount must be in 0..2^50 micro-units", f.name));
            }
        }
        if !(0..MAX_FEE).contains(&self.minimum_charge) {
            return fail("minimum charge must be in 0..2^50 micro-units".into());
        }
        for (i, d) in self.volume_discounts.iter().enumerate() {
            if d.discount_bps > 10_000 || !(0..MAX_FEE).contains(&d.threshold) {
                return fail(format!("volume discount {i}: bps ≤ 10000, threshold in 0..2^50"));
            }
            if i > 0 && self.volume_discounts[i - 1].threshold >= d.threshold {
                return fail("volume discount thresholds must be strictly ascending".into());
            }
        }
        if self.tax_rate_bps > 10_000 {
            return fail(format!("tax rate {} bps exceeds 100 %", self.tax_rate_bps));
        }
        Ok(())
    }

    /// Canonical hash of the tariff (what both parties sign in a contract).
    pub fn digest(&self) -> crate::Hash32 {
        crate::Hash32::digest("omni/tariff", &crate::encode(self))
    }
}

fn check_price(product: &ProductId, price: Nanos) -> std::result::Result<(), String> {
    if price >= MAX_PRICE {
        return Err(format!("{product}: price {price} nano-units exceeds 2^40"));
    }
    Ok(())
}

fn check_tiers(product: &ProductId, tiers: &[Tier]) -> std::result::Result<(), String> {
    let Some((last, bounded)) = tiers.split_last() else {
        return Err(format!("{product}: no tiers"));
    };
    if last.up_to.is_some() {
        return Err(format!("{product}: the last tier must be unbounded"));
    }
    let mut prev = 0u64;
    for t in bounded {
        match t.up_to {
            Some(b) if b > prev && b < crate::usage::MAX_QUANTITY => prev = b,
            Some(b) => {
                return Err(format!(
                    "{product}: tier bound {b} must be above {prev} and below 2^48"
                ))
            }
            None => return Err(format!("{product}: only the last tier may be unbounded")),
        }
    }
    tiers.iter().try_for_each(|t| check_price(product, t.price))
}
