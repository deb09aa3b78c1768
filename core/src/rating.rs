//! The rating function: usage records and a tariff in, rated records and invoice lines out.
//!
//! This is the normative statement of how Omnilateral rates. The zero-knowledge rating
//! circuit (crate `omni-circuits`) implements exactly this function; every rule below is
//! integer arithmetic on non-negative values, with division only by the constants named.
//!
//! ## Notation
//! `div(x, d)` is integer division with remainder `x = q·d + r`, `0 ≤ r < d`.
//! `round(x, d)` rounds `x/d` to an integer by the tariff's [`RoundingMode`]:
//!
//! | mode | `round(x, d)` |
//! |---|---|
//! | `Up` | `q + [r > 0]` |
//! | `Down` | `q` |
//! | `HalfUp` | `q + [2r ≥ d]` |
//! | `HalfEven` | `q + [2r > d] + [2r = d ∧ q odd]` |
//!
//! Usage prices are nano-units per unit; `round(·, 1000)` turns nano-units into micro-units.
//! Percentages are basis points; `round(·, 10000)` applies them.
//!
//! ## Rules
//! Input: a valid [`Tariff`] `T`, the records `R` of one billing interval (duplicates
//! already removed by the ledger), and [`RatingOptions`].
//!
//! 1. **Product.** Each record's `usageType` must be a product of `T` and its unit the
//!    product's unit, else the record is refused ([`Error::UnknownProduct`],
//!    [`Error::InvalidUsage`]).
//! 2. **Increments.** A record of quantity `q` under increment `(first, then)` bills
//!    `b(q) = 0` if `q = 0`; `first` if `0 < q ≤ first`; otherwise
//!    `first + ⌈(q − first)/then⌉·then`.
//! 3. **Line quantity.** Per product `p`: `Q_p = Σ b(q)` over its records; the chargeable
//!    quantity is `C_p = Q_p − min(Q_p, free_units_p)`.
//! 4. **Line charge** `N_p` in nano-units, by pricing:
//!    * `Flat{price}`: `C·price`;
//!    * `Graduated{tiers}`: with bounds `0 = u₀ < u₁ < … < u_k = ∞`,
//!      `Σᵢ priceᵢ · clamp(C − uᵢ₋₁, 0, uᵢ − uᵢ₋₁)`;
//!    * `Volume{tiers}`: `C·priceᵢ` for the first tier `i` with `C ≤ uᵢ`;
//!    * `Package{block, price}`: `⌈C/block⌉·price`.
//! 5. **Rounding of usage** to micro-units, by scope:
//!    * `PerRecord` (flat pricing, no free units only): each record's amount is
//!      `round(b(q)·price, 1000)`, the line amount `L_p` is their sum;
//!    * `PerLine`: `L_p = round(N_p, 1000)`;
//!    * `PerInvoice`: `L_p = round(N_p, 1000)` is shown on the line, but the usage total is
//!      `U = round(Σ_p N_p, 1000)`; the difference `U − Σ L_p` is the invoice's
//!      `rounding_adjustment`.
//!
//!    For the first two scopes `U = Σ_p L_p` and the adjustment is 0.
//! 6. **Fees.** `F = Σ recurring fees + (one-time fees if options.include_one_time_fees)`.
//! 7. **Subtotal** `S = U + F`.
//! 8. **Volume discount.** The last discount (thresholds ascending) with `threshold ≤ S`
//!    gives `D = round(S·bps, 10000)`; none gives `D = 0`.
//! 9. **Minimum charge with true-up.** `M = max(0, minimum_charge − (S − D))`.
//! 10. **Net** `net = S − D + M`; **tax** `tax = round(net·tax_rate_bps, 10000)`;
//!     **total** `= net + tax`.
//!
//! All intermediate values are exact in `u128`; results above `i64::MAX` micro-units are
//! refused. The order of records does not matter: every rule is a sum or a function of
//! sums, so rating is independent of batch split and thread count ([`rate`] uses rayon
//! for large inputs and gives the same micro-units as [`rate_sequential`]).

use crate::tariff::{Pricing, ProductTariff, Rounding, RoundingMode, RoundingScope, Tariff};
use crate::{Error, Micros, ProductId, Result, UsageRecord};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Records per rayon task; below this many records rating stays on one thread.
const PARALLEL_CHUNK: usize = 64 * 1024;

/// Options of one rating run.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct RatingOptions {
    /// Charge the tariff's one-time fees (the interval in which an order starts, R63).
    pub include_one_time_fees: bool,
}

/// One rated record, index-aligned with the input records.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RatedRecord {
    /// Index of the product in the tariff's product list.
    pub product_index: u32,
    /// Billed quantity after increments, `b(q)`.
    pub billed_quantity: u64,
    /// The record's amount in micro-units under per-record rounding, else 0 (its charge
    /// is part of a tiered or line-rounded amount and belongs to no single record).
    pub amount: Micros,
}

/// One usage line of an invoice: a product's records in the interval.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// The product.
    pub product: ProductId,
    /// Number of records.
    pub records: u64,
    /// Sum of raw quantities.
    pub quantity: u128,
    /// `Q`: sum of billed quantities after increments.
    pub billed_quantity: u128,
    /// Free units used, `min(Q, free_units)`.
    pub free_units_applied: u128,
    /// `C`: the chargeable quantity.
    pub chargeable_quantity: u128,
    /// `N`: the exact charge in nano-units.
    pub charge_nanos: u128,
    /// `L`: the line amount in micro-units.
    pub amount: Micros,
}

/// A fee line.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FeeLine {
    /// Name of the fee.
    pub name: String,
    /// Whether it is a one-time fee.
    pub one_time: bool,
    /// Amount in micro-units.
    pub amount: Micros,
}

/// The result of rating one interval: what an invoice is made of.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Rating {
    /// Usage lines, in the tariff's product order, only products with records.
    pub lines: Vec<InvoiceLine>,
    /// Fee lines.
    pub fees: Vec<FeeLine>,
    /// `U`: usage total in micro-units.
    pub usage: Micros,
    /// `U − Σ L` under per-invoice rounding, else 0.
    pub rounding_adjustment: Micros,
    /// `S`: usage plus fees.
    pub subtotal: Micros,
    /// `D`: volume discount.
    pub discount: Micros,
    /// `M`: minimum-charge true-up.
    pub true_up: Micros,
    /// `S − D + M`.
    pub net: Micros,
    /// Tax on the net.
    pub tax: Micros,
    /// `net + tax`: the amount due.
    pub total: Micros,
}

impl Rating {
    /// Canonical hash of the rating (what both parties sign when they agree it, R66–R67).
    pub fn digest(&self) -> crate::Hash32 {
        crate::Hash32::digest("omni/rating", &crate::encode(self))
    }
}

/// `round(x, d)` by `mode`, for `d > 0`.
pub fn round_div(x: u128, d: u128, mode: RoundingMode) -> u128 {
    let (q, r) = (x / d, x % d);
    let up = match mode {
        RoundingMode::Up => r > 0,
        RoundingMode::Down => false,
        RoundingMode::HalfUp => 2 * r >= d,
        RoundingMode::HalfEven => 2 * r > d || (2 * r == d && q % 2 == 1),
    };
    q + u128::from(up)
}

/// `b(q)`: billed quantity of one record under its product's increments (rule 2).
pub fn billed_quantity(q: u64, p: &ProductTariff) -> u64 {
    let (first, then) = (p.increment.first, p.increment.then);
    if q == 0 {
        0
    } else if q <= first {
        first
    } else {
        // q < 2^48 and then < 2^48, so this cannot overflow u64.
        first + (q - first).div_ceil(then) * then
    }
}

/// `N_p`: the exact charge of chargeable quantity `c` under `pricing` (rule 4).
pub fn charge_nanos(c: u128, pricing: &Pricing) -> u128 {
    match pricing {
        Pricing::Flat { price } => c * u128::from(*price),
        Pricing::Graduated { tiers } => {
            let mut lower = 0u128;
            let mut total = 0u128;
            for t in tiers {
                let upper = t.up_to.map_or(u128::MAX, u128::from);
                if c > lower {
                    total += (c.min(upper) - lower) * u128::from(t.price);
                }
                lower = upper;
                if c <= upper {
                    break;
                }
            }
            total
        }
        Pricing::Volume { tiers } => {
            let tier = tiers.iter().find(|t| t.up_to.is_none_or(|u| c <= u128::from(u)));
            tier.map_or(0, |t| c * u128::from(t.price))
        }
        Pricing::Package { block, price } => c.div_ceil(u128::from(*block)) * u128::from(*price),
    }
}

/// Per-product sums of an interval's records: everything rules 3–10 need. Sums commute,
/// so totals can be built batch by batch (the ledger keeps one per open interval) and
/// merged across threads.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Records per product (index-aligned with the tariff's products).
    pub records: Vec<u64>,
    /// Σ raw quantity per product.
    pub quantity: Vec<u128>,
    /// `Q`: Σ billed quantity per product.
    pub billed: Vec<u128>,
    /// Σ per-record rounded amounts per product (per-record rounding only).
    pub rounded: Vec<u128>,
}

impl UsageTotals {
    /// Empty totals for `tariff`'s products.
    pub fn new(tariff: &Tariff) -> UsageTotals {
        let n = tariff.products.len();
        UsageTotals {
            records: vec![0; n],
            quantity: vec![0; n],
            billed: vec![0; n],
            rounded: vec![0; n],
        }
    }

    /// Adds `other`'s sums to these.
    pub fn merge(&mut self, other: &UsageTotals) {
        for i in 0..self.records.len().min(other.records.len()) {
            self.records[i] += other.records[i];
            self.quantity[i] += other.quantity[i];
            self.billed[i] += other.billed[i];
            self.rounded[i] += other.rounded[i];
        }
    }

    /// Total number of records.
    pub fn record_count(&self) -> u64 {
        self.records.iter().sum()
    }

    /// Rates `records` (rules 1–2 and the per-record part of 5) and adds them to these
    /// totals. All-or-nothing: on error the totals are unchanged. Parallel for large inputs.
    pub fn add_records(
        &mut self,
        tariff: &Tariff,
        records: &[UsageRecord],
    ) -> Result<Vec<RatedRecord>> {
        let mut rated = vec![EMPTY; records.len()];
        let batch = if records.len() <= PARALLEL_CHUNK {
            rate_slice(tariff, records, &mut rated)?
        } else {
            records
                .par_chunks(PARALLEL_CHUNK)
                .zip(rated.par_chunks_mut(PARALLEL_CHUNK))
                .map(|(r, o)| rate_slice(tariff, r, o))
                .try_reduce(
                    || UsageTotals::new(tariff),
                    |mut a, b| {
                        a.merge(&b);
                        Ok(a)
                    },
                )?
        };
        self.merge(&batch);
        Ok(rated)
    }

    /// Rules 3–10 on these totals: the interval's [`Rating`].
    pub fn rate(&self, tariff: &Tariff, options: &RatingOptions) -> Result<Rating> {
        tariff.validate()?;
        if self.records.len() != tariff.products.len() {
            return Err(Error::InvalidTariff {
                tariff: tariff.id.clone(),
                reason: "usage totals were built for another tariff".into(),
            });
        }
        finish(tariff, self, options)
    }
}

/// Resolves a record to its product index, checking unit and quantity.
fn product_index(t: &Tariff, r: &UsageRecord) -> Result<usize> {
    let i = t
        .products
        .binary_search_by(|p| p.product.cmp(&r.usage_type))
        .map_err(|_| Error::UnknownProduct { id: r.id.clone(), product: r.usage_type.0.clone() })?;
    let p = &t.products[i];
    if p.unit != r.unit {
        return Err(Error::InvalidUsage {
            id: r.id.clone(),
            reason: format!(
                "unit {} does not match product {}'s unit {}",
                r.unit.symbol(),
                p.product,
                p.unit.symbol()
            ),
        });
    }
    if r.quantity >= crate::usage::MAX_QUANTITY {
        return Err(Error::InvalidUsage {
            id: r.id.clone(),
            reason: format!("quantity {} exceeds 2^48", r.quantity),
        });
    }
    Ok(i)
}

fn rate_one(t: &Tariff, r: &UsageRecord, acc: &mut UsageTotals) -> Result<RatedRecord> {
    let i = product_index(t, r)?;
    let p = &t.products[i];
    let b = billed_quantity(r.quantity, p);
    let amount = match (t.rounding.scope, &p.pricing) {
        (RoundingScope::PerRecord, Pricing::Flat { price }) => {
            round_div(u128::from(b) * u128::from(*price), 1000, t.rounding.mode)
        }
        _ => 0,
    };
    acc.records[i] += 1;
    acc.quantity[i] += u128::from(r.quantity);
    acc.billed[i] += u128::from(b);
    acc.rounded[i] += amount;
    // amount < 2^88 / 1000 per record; it fits i64 for any valid record and tariff.
    Ok(RatedRecord { product_index: i as u32, billed_quantity: b, amount: amount as Micros })
}

fn rate_slice(t: &Tariff, records: &[UsageRecord], out: &mut [RatedRecord]) -> Result<UsageTotals> {
    let mut acc = UsageTotals::new(t);
    for (r, o) in records.iter().zip(out.iter_mut()) {
        *o = rate_one(t, r, &mut acc)?;
    }
    Ok(acc)
}

const EMPTY: RatedRecord = RatedRecord { product_index: 0, billed_quantity: 0, amount: 0 };

/// Rates `records` under `tariff` (rules 1–10), in parallel for large inputs.
pub fn rate(
    tariff: &Tariff,
    records: &[UsageRecord],
    options: &RatingOptions,
) -> Result<(Rating, Vec<RatedRecord>)> {
    tariff.validate()?;
    let mut totals = UsageTotals::new(tariff);
    let rated = totals.add_records(tariff, records)?;
    Ok((finish(tariff, &totals, options)?, rated))
}

/// [`rate`] on one thread: the reference the parallel path is tested against.
pub fn rate_sequential(
    tariff: &Tariff,
    records: &[UsageRecord],
    options: &RatingOptions,
) -> Result<(Rating, Vec<RatedRecord>)> {
    tariff.validate()?;
    let mut rated = vec![EMPTY; records.len()];
    let totals = rate_slice(tariff, records, &mut rated)?;
    Ok((finish(tariff, &totals, options)?, rated))
}

fn to_micros(x: u128, what: &'static str) -> Result<Micros> {
    Micros::try_from(x).map_err(|_| Error::Overflow(what))
}

/// Rules 3–10 on the per-product sums.
fn finish(t: &Tariff, acc: &UsageTotals, options: &RatingOptions) -> Result<Rating> {
    let Rounding { mode, scope } = t.rounding;
    let mut lines = Vec::new();
    let mut exact_sum = 0u128;
    let mut lines_sum = 0u128;
    for (i, p) in t.products.iter().enumerate() {
        if acc.records[i] == 0 {
            continue;
        }
        let billed = acc.billed[i];
        let free = billed.min(u128::from(p.free_units));
        let chargeable = billed - free;
        let n = charge_nanos(chargeable, &p.pricing);
        let amount = if scope == RoundingScope::PerRecord {
            acc.rounded[i]
        } else {
            round_div(n, 1000, mode)
        };
        exact_sum += n;
        lines_sum += amount;
        lines.push(InvoiceLine {
            product: p.product.clone(),
            records: acc.records[i],
            quantity: acc.quantity[i],
            billed_quantity: billed,
            free_units_applied: free,
            chargeable_quantity: chargeable,
            charge_nanos: n,
            amount: to_micros(amount, "usage line")?,
        });
    }
    let usage = if scope == RoundingScope::PerInvoice {
        round_div(exact_sum, 1000, mode)
    } else {
        lines_sum
    };
    let rounding_adjustment = usage as i128 - lines_sum as i128;

    let mut fees: Vec<FeeLine> = t
        .recurring_fees
        .iter()
        .map(|f| FeeLine { name: f.name.clone(), one_time: false, amount: f.amount })
        .collect();
    if options.include_one_time_fees {
        fees.extend(t.one_time_fees.iter().map(|f| FeeLine {
            name: f.name.clone(),
            one_time: true,
            amount: f.amount,
        }));
    }
    let fee_total: u128 = fees.iter().map(|f| f.amount as u128).sum();
    let subtotal = usage + fee_total;
    let discount = t
        .volume_discounts
        .iter()
        .rev()
        .find(|d| subtotal >= d.threshold as u128)
        .map_or(0, |d| round_div(subtotal * u128::from(d.discount_bps), 10_000, mode));
    let discounted = subtotal - discount;
    let true_up = (t.minimum_charge as u128).saturating_sub(discounted);
    let net = discounted + true_up;
    let tax = round_div(net * u128::from(t.tax_rate_bps), 10_000, mode);
    let total = net + tax;
    Ok(Rating {
        lines,
        fees,
        usage: to_micros(usage, "usage total")?,
        rounding_adjustment: rounding_adjustment as Micros,
        subtotal: to_micros(subtotal, "subtotal")?,
        discount: to_micros(discount, "discount")?,
        true_up: to_micros(true_up, "minimum-charge true-up")?,
        net: to_micros(net, "net")?,
        tax: to_micros(tax, "tax")?,
        total: to_micros(total, "total")?,
    })
}

#[cfg(test)]
mod tests;
