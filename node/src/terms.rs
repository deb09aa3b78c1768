//! The contract terms file: what two carriers agree, written by people, read into a
//! [`Contract`] (`omni contract propose --terms FILE`).
//!
//! TOML, every field named after the contract it fills (MEF 114 R4–R8, §8.5.3, §8.6.3,
//! MEF 74 payment terms). Amounts are decimal strings in currency units (`"250.00"`),
//! exact to the micro-unit; usage prices are decimal strings per unit, exact to the
//! nano-unit (`"0.000205"`); no floating point is read anywhere. Unknown fields are
//! refused, so that a misspelt term is an error rather than a silent default; the error
//! names the field and its line.
//!
//! ```toml
//! reference = "MSA-2026-001"          # the master service agreement (R16)
//! currency = "EUR"                    # ISO 4217, of every amount
//! effective_from = "2026-11-01"       # date (UTC) or RFC 3339 date-time
//! billing_cycle = "monthly"           # intervals "YYYY-MM" (R58); or "fixed" with:
//! # billing_period = { anchor = "2026-11-01", length_secs = 86400 }   # intervals "P0", "P1", …
//! netting = true                      # reciprocal invoices may be netted (§8.6.3)
//!
//! [payment_terms]
//! net_days = 30
//! early_payment = { discount_bps = 200, within_days = 10 }   # optional: "2/10 Net 30"
//!
//! [dispute_threshold]                 # one of: basis_points (of the invoice net), amount
//! basis_points = 100
//!
//! [[parties]]                         # exactly two
//! name = "Carrier A"
//! party = "5f1c…"                     # the party's key, 64 hex digits
//! signatories = ["5f1c…"]             # optional: keys that sign for it (default: party)
//!
//! [[parties]]
//! name = "Carrier B"
//! party = "9a07…"
//!
//! [[tariffs]]
//! id = "ic-2026"
//! version = 1                         # optional, default 1
//! tax_rate_bps = 1900                 # tax on the net, basis points (19 %)
//! minimum_charge = "0"                # optional: net per interval, trued up
//! rounding = { mode = "half-even", scope = "per-line" }   # up|down|half-up|half-even; per-record|per-line|per-invoice
//! recurring_fees = [{ name = "port rental", amount = "250.00" }]
//! one_time_fees = [{ name = "activation", amount = "100.00" }]
//! volume_discounts = [{ threshold = "10000.00", discount_bps = 200 }]
//!
//! [[tariffs.products]]
//! product = "voice-termination"       # the TMF635 usageType
//! unit = "s"                          # s | B | kB | msg | event
//! increment = { first = 60, then = 1 }    # optional, default per unit
//! free_units = 0                      # optional
//! pricing = "flat"                    # flat | graduated | volume | package
//! price = "0.000205"                  # flat and package (per block)
//! # block = 1000                      # package
//! # tiers = [{ up_to = 1000000, price = "0.00002" }, { price = "0.0000075" }]
//! ```
//!
//! Whether a rating proof can cover a tariff (Option 1) is a property of the rating
//! circuit, checked when an invoice is issued, not here: any valid tariff can be agreed
//! and invoiced under Option 2.
//!
//! [`write_terms`] is the inverse of [`parse_terms`]: it writes a contract as a terms file
//! in this format (`omni contract show --terms`), which reads back into the same contract.

use crate::contract::{
    BillingCycle, Contract, DisputeThreshold, EarlyPayment, Party, PaymentTerms,
};
use omni_core::tariff::{
    Fee, Increment, Nanos, Pricing, ProductTariff, Rounding, RoundingMode, RoundingScope, Tariff,
    Tier, VolumeDiscount,
};
use omni_core::{Currency, Micros, PartyId, ProductId, Unit};
use serde::Deserialize;

/// Why a terms file could not be read into a contract.
#[derive(Debug, thiserror::Error)]
pub enum TermsError {
    /// Not valid TOML, or a field unknown, missing or of the wrong type.
    #[error("{0}")]
    Syntax(String),
    /// A field's value is not acceptable.
    #[error("{field}: {reason}")]
    Value {
        /// The field, as a path (`tariffs[0].products[1].price`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The terms read, but the contract they make is not valid.
    #[error("the contract is not valid: {0}")]
    Contract(String),
}

type Result<T> = std::result::Result<T, TermsError>;

fn value(field: impl Into<String>, reason: impl Into<String>) -> TermsError {
    TermsError::Value { field: field.into(), reason: reason.into() }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TermsFile {
    reference: String,
    currency: String,
    effective_from: String,
    #[serde(default = "monthly")]
    billing_cycle: String,
    billing_period: Option<BillingPeriodFile>,
    netting: bool,
    payment_terms: PaymentTermsFile,
    dispute_threshold: DisputeThresholdFile,
    parties: Vec<PartyFile>,
    tariffs: Vec<TariffFile>,
}

fn monthly() -> String {
    "monthly".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BillingPeriodFile {
    anchor: String,
    length_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentTermsFile {
    net_days: u32,
    early_payment: Option<EarlyPaymentFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EarlyPaymentFile {
    discount_bps: u32,
    within_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeThresholdFile {
    basis_points: Option<u32>,
    amount: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyFile {
    name: String,
    party: String,
    signatories: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TariffFile {
    id: String,
    #[serde(default = "one")]
    version: u32,
    tax_rate_bps: u32,
    minimum_charge: Option<String>,
    rounding: RoundingFile,
    #[serde(default)]
    recurring_fees: Vec<FeeFile>,
    #[serde(default)]
    one_time_fees: Vec<FeeFile>,
    #[serde(default)]
    volume_discounts: Vec<DiscountFile>,
    products: Vec<ProductFile>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoundingFile {
    mode: String,
    scope: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeFile {
    name: String,
    amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscountFile {
    threshold: String,
    discount_bps: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductFile {
    product: String,
    unit: String,
    increment: Option<IncrementFile>,
    #[serde(default)]
    free_units: u64,
    pricing: String,
    price: Option<String>,
    block: Option<u64>,
    tiers: Option<Vec<TierFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncrementFile {
    first: u64,
    then: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierFile {
    up_to: Option<u64>,
    price: String,
}

/// Reads terms (module docs) into a contract, checked as the ledger will check it.
pub fn parse_terms(text: &str) -> Result<Contract> {
    let file: TermsFile = toml::from_str(text).map_err(|e| TermsError::Syntax(e.to_string()))?;
    let currency = Currency::new(&file.currency).map_err(|e| value("currency", e.to_string()))?;
    let effective_from = parse_time(&file.effective_from)
        .ok_or_else(|| value("effective_from", "not a date (YYYY-MM-DD) or RFC 3339 date-time"))?;
    let billing_cycle = match (file.billing_cycle.as_str(), file.billing_period) {
        ("monthly", None) => BillingCycle::Monthly,
        ("monthly", Some(_)) => {
            return Err(value("billing_period", "only a \"fixed\" billing_cycle has one"))
        }
        ("fixed", Some(p)) => BillingCycle::Fixed {
            anchor: parse_time(&p.anchor).ok_or_else(|| {
                value("billing_period.anchor", "not a date (YYYY-MM-DD) or RFC 3339 date-time")
            })?,
            length: p.length_secs,
        },
        ("fixed", None) => {
            return Err(value(
                "billing_period",
                "missing: a fixed billing_cycle needs { anchor, length_secs }",
            ))
        }
        (other, _) => {
            return Err(value("billing_cycle", format!("{other:?}: \"monthly\" or \"fixed\"")))
        }
    };
    let early_payment = file
        .payment_terms
        .early_payment
        .map(|e| EarlyPayment { discount_bps: e.discount_bps, within_days: e.within_days });
    let payment_terms = PaymentTerms { net_days: file.payment_terms.net_days, early_payment };
    let dispute_threshold =
        match (file.dispute_threshold.basis_points, &file.dispute_threshold.amount) {
            (Some(bps), None) => DisputeThreshold::BasisPoints(bps),
            (None, Some(a)) => DisputeThreshold::Amount(micros("dispute_threshold.amount", a)?),
            _ => {
                return Err(value(
                    "dispute_threshold",
                    "give exactly one of basis_points and amount",
                ))
            }
        };
    let parties: Vec<Party> =
        file.parties.into_iter().enumerate().map(|(i, p)| party(i, p)).collect::<Result<_>>()?;
    let parties: [Party; 2] = parties.try_into().map_err(|p: Vec<Party>| {
        value("parties", format!("a contract has two parties, not {}", p.len()))
    })?;
    let mut tariffs: Vec<Tariff> = file
        .tariffs
        .into_iter()
        .enumerate()
        .map(|(i, t)| tariff(i, t, currency))
        .collect::<Result<_>>()?;
    tariffs.sort_by(|a, b| a.id.cmp(&b.id));
    let contract = Contract {
        reference: file.reference,
        parties,
        currency,
        tariffs,
        billing_cycle,
        payment_terms,
        dispute_threshold,
        netting: file.netting,
        effective_from,
    };
    contract.validate().map_err(TermsError::Contract)?;
    Ok(contract)
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 UTC date-time, as UTC seconds.
pub fn parse_time(s: &str) -> Option<u64> {
    if s.len() == 10 {
        return omni_core::usage::parse_rfc3339_utc(&format!("{s}T00:00:00Z"));
    }
    omni_core::usage::parse_rfc3339_utc(s)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a UTC timestamp.
pub fn rfc3339(t: u64) -> String {
    let s = t % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        omni_core::interval::format_date(t),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// A time as [`parse_time`] reads it: the date alone at midnight, else RFC 3339.
fn write_time(t: u64) -> String {
    if t.is_multiple_of(86_400) {
        omni_core::interval::format_date(t)
    } else {
        rfc3339(t)
    }
}

/// Writes `contract` as a terms file (module docs) that [`parse_terms`] reads back into
/// the same contract: every amount as an exact decimal string, every price exact to the
/// nano-unit, optional fields only where they differ from their defaults.
pub fn write_terms(contract: &Contract) -> String {
    let c = contract;
    let mut out = vec![
        format!("reference = {}", text(&c.reference)),
        format!("currency = {}", text(c.currency.code())),
        format!("effective_from = {}", text(&write_time(c.effective_from))),
    ];
    match c.billing_cycle {
        BillingCycle::Monthly => out.push("billing_cycle = \"monthly\"".into()),
        BillingCycle::Fixed { anchor, length } => {
            out.push("billing_cycle = \"fixed\"".into());
            out.push(format!(
                "billing_period = {{ anchor = {}, length_secs = {length} }}",
                text(&write_time(anchor))
            ));
        }
    }
    out.push(format!("netting = {}", c.netting));
    out.push(String::new());
    out.push("[payment_terms]".into());
    out.push(format!("net_days = {}", c.payment_terms.net_days));
    if let Some(e) = c.payment_terms.early_payment {
        out.push(format!(
            "early_payment = {{ discount_bps = {}, within_days = {} }}",
            e.discount_bps, e.within_days
        ));
    }
    out.push(String::new());
    out.push("[dispute_threshold]".into());
    out.push(match c.dispute_threshold {
        DisputeThreshold::BasisPoints(bps) => format!("basis_points = {bps}"),
        DisputeThreshold::Amount(a) => format!("amount = {}", text(&amount(a))),
    });
    for p in &c.parties {
        out.extend([String::new(), "[[parties]]".into()]);
        out.push(format!("name = {}", text(&p.name)));
        out.push(format!("party = {}", text(&p.id.to_hex())));
        if p.signatories != [p.id] {
            let keys: Vec<String> = p.signatories.iter().map(|k| text(&k.to_hex())).collect();
            out.push(format!("signatories = [{}]", keys.join(", ")));
        }
    }
    for t in &c.tariffs {
        write_tariff(&mut out, t);
    }
    out.push(String::new());
    out.join("\n")
}

/// A `[[tariffs]]` table and its products.
fn write_tariff(out: &mut Vec<String>, t: &Tariff) {
    out.extend([String::new(), "[[tariffs]]".into()]);
    out.push(format!("id = {}", text(&t.id)));
    if t.version != 1 {
        out.push(format!("version = {}", t.version));
    }
    out.push(format!("tax_rate_bps = {}", t.tax_rate_bps));
    if t.minimum_charge != 0 {
        out.push(format!("minimum_charge = {}", text(&amount(t.minimum_charge))));
    }
    out.push(format!(
        "rounding = {{ mode = \"{}\", scope = \"{}\" }}",
        rounding_mode(t.rounding.mode),
        rounding_scope(t.rounding.scope)
    ));
    for (name, fees) in [("recurring_fees", &t.recurring_fees), ("one_time_fees", &t.one_time_fees)]
    {
        let fees: Vec<String> = fees
            .iter()
            .map(|f| {
                format!("{{ name = {}, amount = {} }}", text(&f.name), text(&amount(f.amount)))
            })
            .collect();
        if !fees.is_empty() {
            out.push(format!("{name} = [{}]", fees.join(", ")));
        }
    }
    let discounts: Vec<String> = t
        .volume_discounts
        .iter()
        .map(|d| {
            let threshold = text(&amount(d.threshold));
            format!("{{ threshold = {threshold}, discount_bps = {} }}", d.discount_bps)
        })
        .collect();
    if !discounts.is_empty() {
        out.push(format!("volume_discounts = [{}]", discounts.join(", ")));
    }
    for p in &t.products {
        write_product(out, p);
    }
}

/// A `[[tariffs.products]]` table.
fn write_product(out: &mut Vec<String>, p: &ProductTariff) {
    out.extend([String::new(), "[[tariffs.products]]".into()]);
    out.push(format!("product = {}", text(&p.product.0)));
    out.push(format!("unit = \"{}\"", p.unit.symbol()));
    if p.increment != Increment::PER_UNIT {
        let Increment { first, then } = p.increment;
        out.push(format!("increment = {{ first = {first}, then = {then} }}"));
    }
    if p.free_units != 0 {
        out.push(format!("free_units = {}", p.free_units));
    }
    let tiers = |tiers: &[Tier]| {
        let list: Vec<String> = tiers
            .iter()
            .map(|t| match t.up_to {
                Some(up_to) => {
                    format!("{{ up_to = {up_to}, price = {} }}", text(&nano_price(t.price)))
                }
                None => format!("{{ price = {} }}", text(&nano_price(t.price))),
            })
            .collect();
        format!("tiers = [{}]", list.join(", "))
    };
    match &p.pricing {
        Pricing::Flat { price } => {
            out.push("pricing = \"flat\"".into());
            out.push(format!("price = {}", text(&nano_price(*price))));
        }
        Pricing::Package { block, price } => {
            out.push("pricing = \"package\"".into());
            out.push(format!("block = {block}"));
            out.push(format!("price = {}", text(&nano_price(*price))));
        }
        Pricing::Graduated { tiers: t } => {
            out.push("pricing = \"graduated\"".into());
            out.push(tiers(t));
        }
        Pricing::Volume { tiers: t } => {
            out.push("pricing = \"volume\"".into());
            out.push(tiers(t));
        }
    }
}

/// A TOML string: quoted and escaped by the TOML library itself.
fn text(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Micro-units as a decimal amount, at least two decimals, exact.
fn amount(micros: Micros) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let frac = format!("{:06}", m % 1_000_000);
    let frac = frac.trim_end_matches('0');
    format!("{sign}{}.{frac:0<2}", m / 1_000_000)
}

/// Nano-units as a decimal price, exact, without trailing zeros.
fn nano_price(nanos: Nanos) -> String {
    let frac = format!("{:09}", nanos % 1_000_000_000);
    match frac.trim_end_matches('0') {
        "" => (nanos / 1_000_000_000).to_string(),
        frac => format!("{}.{frac}", nanos / 1_000_000_000),
    }
}

fn rounding_mode(mode: RoundingMode) -> &'static str {
    match mode {
        RoundingMode::Up => "up",
        RoundingMode::Down => "down",
        RoundingMode::HalfUp => "half-up",
        RoundingMode::HalfEven => "half-even",
    }
}

fn rounding_scope(scope: RoundingScope) -> &'static str {
    match scope {
        RoundingScope::PerRecord => "per-record",
        RoundingScope::PerLine => "per-line",
        RoundingScope::PerInvoice => "per-invoice",
    }
}

fn party(i: usize, p: PartyFile) -> Result<Party> {
    let key = |field: String, hex: &str| {
        PartyId::from_hex(hex).map_err(|e| value(field, format!("{hex:?} is not a party key: {e}")))
    };
    let id = key(format!("parties[{i}].party"), &p.party)?;
    let signatories = match p.signatories {
        None => vec![id],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(j, s)| key(format!("parties[{i}].signatories[{j}]"), s))
            .collect::<Result<_>>()?,
    };
    Ok(Party { id, name: p.name, signatories })
}

fn tariff(i: usize, t: TariffFile, currency: Currency) -> Result<Tariff> {
    let at = |field: &str| format!("tariffs[{i}].{field}");
    let mode = match t.rounding.mode.as_str() {
        "up" => RoundingMode::Up,
        "down" => RoundingMode::Down,
        "half-up" => RoundingMode::HalfUp,
        "half-even" => RoundingMode::HalfEven,
        other => {
            return Err(value(
                at("rounding.mode"),
                format!("{other:?}: up, down, half-up or half-even"),
            ))
        }
    };
    let scope = match t.rounding.scope.as_str() {
        "per-record" => RoundingScope::PerRecord,
        "per-line" => RoundingScope::PerLine,
        "per-invoice" => RoundingScope::PerInvoice,
        other => {
            return Err(value(
                at("rounding.scope"),
                format!("{other:?}: per-record, per-line or per-invoice"),
            ))
        }
    };
    let fees = |list: Vec<FeeFile>, name: &str| -> Result<Vec<Fee>> {
        list.into_iter()
            .enumerate()
            .map(|(j, f)| {
                Ok(Fee {
                    amount: micros(&at(&format!("{name}[{j}].amount")), &f.amount)?,
                    name: f.name,
                })
            })
            .collect()
    };
    let volume_discounts = t
        .volume_discounts
        .into_iter()
        .enumerate()
        .map(|(j, d)| {
            Ok(VolumeDiscount {
                threshold: micros(&at(&format!("volume_discounts[{j}].threshold")), &d.threshold)?,
                discount_bps: d.discount_bps,
            })
        })
        .collect::<Result<_>>()?;
    let mut products: Vec<ProductTariff> = t
        .products
        .into_iter()
        .enumerate()
        .map(|(j, p)| product(&at(&format!("products[{j}]")), p))
        .collect::<Result<_>>()?;
    products.sort_by(|a, b| a.product.cmp(&b.product));
    let tariff = Tariff {
        id: t.id,
        version: t.version,
        currency,
        products,
        recurring_fees: fees(t.recurring_fees, "recurring_fees")?,
        one_time_fees: fees(t.one_time_fees, "one_time_fees")?,
        minimum_charge: match &t.minimum_charge {
            Some(m) => micros(&at("minimum_charge"), m)?,
            None => 0,
        },
        volume_discounts,
        rounding: Rounding { mode, scope },
        tax_rate_bps: t.tax_rate_bps,
    };
    tariff.validate().map_err(|e| value(format!("tariffs[{i}]"), e.to_string()))?;
    Ok(tariff)
}

fn product(at: &str, p: ProductFile) -> Result<ProductTariff> {
    let field = |f: &str| format!("{at}.{f}");
    let unit = match p.unit.as_str() {
        "s" => Unit::Second,
        "B" => Unit::Byte,
        "kB" => Unit::Kilobyte,
        "msg" => Unit::Message,
        "event" => Unit::Event,
        other => return Err(value(field("unit"), format!("{other:?}: s, B, kB, msg or event"))),
    };
    let price = |p: &Option<String>| -> Result<Nanos> {
        let s = p.as_deref().ok_or_else(|| value(field("price"), "missing"))?;
        nanos(&field("price"), s)
    };
    let unused = |name: &str, present: bool| -> Result<()> {
        if present {
            return Err(value(field(name), format!("not used by {} pricing", p.pricing)));
        }
        Ok(())
    };
    let tiers = |list: &Option<Vec<TierFile>>| -> Result<Vec<Tier>> {
        let list = list.as_ref().ok_or_else(|| value(field("tiers"), "missing"))?;
        list.iter()
            .enumerate()
            .map(|(k, t)| {
                Ok(Tier {
                    up_to: t.up_to,
                    price: nanos(&field(&format!("tiers[{k}].price")), &t.price)?,
                })
            })
            .collect()
    };
    let pricing = match p.pricing.as_str() {
        "flat" => {
            unused("block", p.block.is_some())?;
            unused("tiers", p.tiers.is_some())?;
            Pricing::Flat { price: price(&p.price)? }
        }
        "package" => {
            unused("tiers", p.tiers.is_some())?;
            let block = p.block.ok_or_else(|| value(field("block"), "missing"))?;
            Pricing::Package { block, price: price(&p.price)? }
        }
        "graduated" | "volume" => {
            unused("price", p.price.is_some())?;
            unused("block", p.block.is_some())?;
            let t = tiers(&p.tiers)?;
            if p.pricing == "graduated" {
                Pricing::Graduated { tiers: t }
            } else {
                Pricing::Volume { tiers: t }
            }
        }
        other => {
            return Err(value(
                field("pricing"),
                format!("{other:?}: flat, graduated, volume or package"),
            ))
        }
    };
    Ok(ProductTariff {
        product: ProductId::new(p.product),
        unit,
        increment: p
            .increment
            .map_or(Increment::PER_UNIT, |i| Increment { first: i.first, then: i.then }),
        free_units: p.free_units,
        pricing,
    })
}

/// A non-negative decimal string with at most `scale` decimals, times 10^`scale`.
fn decimal(field: &str, s: &str, scale: u32) -> Result<u64> {
    let bad = |why: &str| value(field, format!("{s:?}: {why}"));
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a non-negative decimal number"));
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (s.contains('.') && frac.is_empty()) {
        return Err(bad("not a non-negative decimal number"));
    }
    if frac.len() > scale as usize {
        return Err(bad(&format!("more than {scale} decimals")));
    }
    let padded = format!("{whole}{frac:0<width$}", width = scale as usize);
    padded.parse::<u64>().map_err(|_| bad("too large"))
}

fn micros(field: &str, s: &str) -> Result<Micros> {
    Micros::try_from(decimal(field, s, 6)?).map_err(|_| value(field, format!("{s:?}: too large")))
}

fn nanos(field: &str, s: &str) -> Result<Nanos> {
    decimal(field, s, 9)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn terms(a: &PartyId, b: &PartyId) -> String {
        format!(
            r#"
reference = "MSA-T"
currency = "EUR"
effective_from = "2026-11-01"
netting = true

[payment_terms]
net_days = 30
early_payment = {{ discount_bps = 200, within_days = 10 }}

[dispute_threshold]
basis_points = 100

[[parties]]
name = "Carrier A"
party = "{a}"

[[parties]]
name = "Carrier B"
party = "{b}"

[[tariffs]]
id = "ic"
tax_rate_bps = 1900
rounding = {{ mode = "half-even", scope = "per-line" }}
recurring_fees = [{{ name = "port rental", amount = "250.00" }}]

[[tariffs.products]]
product = "voice-termination"
unit = "s"
increment = {{ first = 60, then = 1 }}
pricing = "flat"
price = "0.000205"

[[tariffs.products]]
product = "iot-data"
unit = "kB"
pricing = "graduated"
tiers = [{{ up_to = 1000000, price = "0.00002" }}, {{ price = "0.0000075" }}]
"#,
            a = a.to_hex(),
            b = b.to_hex()
        )
    }

    fn keys() -> (PartyId, PartyId) {
        (
            omni_core::Keypair::from_seed([1; 32]).party(),
            omni_core::Keypair::from_seed([2; 32]).party(),
        )
    }

    #[test]
    fn reads_the_documented_terms() {
        let (a, b) = keys();
        let c = parse_terms(&terms(&a, &b)).unwrap();
        assert_eq!(c.parties[0].signatories, vec![a]);
        assert_eq!(c.effective_from, 1_793_491_200);
        let t = c.tariff("ic").unwrap();
        assert_eq!(t.recurring_fees[0].amount, 250_000_000);
        assert_eq!(t.products[0].product, ProductId::new("iot-data"));
        let voice = t.product(&ProductId::new("voice-termination")).unwrap();
        assert_eq!(voice.pricing, Pricing::Flat { price: 205_000 });
        assert_eq!(c.payment_terms.early_payment.unwrap().discount_bps, 200);
    }

    #[test]
    fn refuses_unknown_missing_and_bad_fields_by_name() {
        let (a, b) = keys();
        let good = terms(&a, &b);
        let unknown = good.replace("netting = true", "netting = true\nnetings = 1");
        let err = parse_terms(&unknown).unwrap_err().to_string();
        assert!(err.contains("unknown field") && err.contains("netings"), "{err}");
        let missing = good.replace("netting = true\n", "");
        let err = parse_terms(&missing).unwrap_err().to_string();
        assert!(err.contains("missing field") && err.contains("netting"), "{err}");
        let price = good.replace("\"0.000205\"", "\"0.0002051234\"");
        let err = parse_terms(&price).unwrap_err().to_string();
        assert!(
            err.contains("tariffs[0].products[0].price") && err.contains("9 decimals"),
            "{err}"
        );
        let unit = good.replace("unit = \"s\"", "unit = \"min\"");
        let err = parse_terms(&unit).unwrap_err().to_string();
        assert!(err.contains("products[0].unit"), "{err}");
        let same = terms(&a, &a);
        assert!(parse_terms(&same).unwrap_err().to_string().contains("must differ"));
        assert_eq!(decimal("x", "1.5", 6).unwrap(), 1_500_000);
        for bad in ["", ".5", "1.", "-1", "1e3", "1,5"] {
            assert!(decimal("x", bad, 6).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_793_491_260), "2026-11-01T00:01:00Z");
        assert_eq!(rfc3339(1_793_491_200 + 86_399), "2026-11-01T23:59:59Z");
        assert_eq!(write_time(1_793_491_200), "2026-11-01");
        assert_eq!(parse_time(&write_time(1_793_491_260)), Some(1_793_491_260));
    }

    /// Writes `c`, reads it back, and checks that nothing changed.
    fn round_trip(c: &Contract) -> String {
        let text = write_terms(c);
        match parse_terms(&text) {
            Ok(back) => assert_eq!(&back, c, "{text}"),
            Err(e) => panic!("{e}\n{text}"),
        }
        text
    }

    #[test]
    fn the_sample_contract_is_written_and_read_back() {
        let (a, b) = keys();
        for netting in [true, false] {
            let text = round_trip(&crate::sample::contract(a, b, netting, 1_793_491_200));
            assert!(text.contains(&format!("netting = {netting}")), "{text}");
        }
    }

    #[test]
    fn the_example_terms_are_written_and_read_back() {
        let (a, b) = keys();
        let example = include_str!("../../examples/terms.toml")
            .replace("CARRIER_A_KEY", &a.to_hex())
            .replace("CARRIER_B_KEY", &b.to_hex());
        let c = parse_terms(&example).unwrap();
        let text = round_trip(&c);
        // As written by hand: amounts and prices as the example gives them.
        for s in [
            r#"recurring_fees = [{ name = "port rental", amount = "250.00" }]"#,
            r#"price = "0.000205""#,
            r#"tiers = [{ up_to = 100000, price = "0.009" }, { price = "0.0065" }]"#,
            r#"early_payment = { discount_bps = 200, within_days = 10 }"#,
            r#"effective_from = "2026-10-01""#,
        ] {
            assert!(text.contains(s), "{s}\n{text}");
        }
    }

    #[test]
    fn every_tariff_feature_is_written_and_read_back() {
        let (a, b) = keys();
        let (a2, b2) = (
            omni_core::Keypair::from_seed([3; 32]).party(),
            omni_core::Keypair::from_seed([4; 32]).party(),
        );
        let rounding = |mode, scope| Rounding { mode, scope };
        let product = |name: &str, unit, increment, free_units, pricing| ProductTariff {
            product: ProductId::new(name),
            unit,
            increment,
            free_units,
            pricing,
        };
        let tiers = vec![
            Tier { up_to: Some(1_000), price: 1_000_000_001 },
            Tier { up_to: Some(250_000), price: 7 },
            Tier { up_to: None, price: 0 },
        ];
        let tariff = |id: &str, rounding, products| Tariff {
            id: id.into(),
            version: 1,
            currency: Currency::new("CHF").unwrap(),
            products,
            recurring_fees: vec![],
            one_time_fees: vec![],
            minimum_charge: 0,
            volume_discounts: vec![],
            rounding,
            tax_rate_bps: 0,
        };
        let mut full = tariff(
            "a-full",
            rounding(RoundingMode::Down, RoundingScope::PerLine),
            vec![
                product(
                    "api-call",
                    Unit::Event,
                    Increment::PER_UNIT,
                    0,
                    Pricing::Package { block: 1_000, price: 500_000_000 },
                ),
                product(
                    "data \"5G\" \\ ünïcode",
                    Unit::Byte,
                    Increment { first: 1_024, then: 512 },
                    10_000,
                    Pricing::Graduated { tiers: tiers.clone() },
                ),
                product(
                    "iot-data",
                    Unit::Kilobyte,
                    Increment { first: 1, then: 1 },
                    0,
                    Pricing::Volume { tiers },
                ),
                product(
                    "sms-mt",
                    Unit::Message,
                    Increment::PER_UNIT,
                    100,
                    Pricing::Flat { price: 9_000_000 },
                ),
            ],
        );
        full.version = 3;
        full.tax_rate_bps = 775;
        full.minimum_charge = 1_000_000_001;
        full.recurring_fees = vec![
            Fee { name: "port rental".into(), amount: 250_000_000 },
            Fee { name: "cross-connect\n(Zürich)".into(), amount: 1 },
        ];
        full.one_time_fees = vec![Fee { name: "activation".into(), amount: 0 }];
        full.volume_discounts = vec![
            VolumeDiscount { threshold: 10_000_000_000, discount_bps: 200 },
            VolumeDiscount { threshold: 50_000_123_456, discount_bps: 10_000 },
        ];
        let voice = |id: &str, mode, scope| {
            let flat = Pricing::Flat { price: MAX_PRICE_FOR_TEST };
            let p = product(
                "voice-termination",
                Unit::Second,
                Increment { first: 30, then: 6 },
                0,
                flat,
            );
            tariff(id, rounding(mode, scope), vec![p])
        };
        let contract = Contract {
            reference: "MSA \"2026\" / Zürich".into(),
            parties: [
                Party { id: a, name: "Carrier A".into(), signatories: vec![a2, a] },
                Party { id: b, name: "Carrier 'B'".into(), signatories: vec![b2] },
            ],
            currency: Currency::new("CHF").unwrap(),
            tariffs: vec![
                full,
                voice("b-up", RoundingMode::Up, RoundingScope::PerRecord),
                voice("c-half-up", RoundingMode::HalfUp, RoundingScope::PerInvoice),
                voice("d-half-even", RoundingMode::HalfEven, RoundingScope::PerLine),
            ],
            billing_cycle: BillingCycle::Monthly,
            payment_terms: PaymentTerms {
                net_days: 45,
                early_payment: Some(EarlyPayment { discount_bps: 150, within_days: 15 }),
            },
            dispute_threshold: DisputeThreshold::Amount(12_345_678),
            netting: false,
            effective_from: 1_793_491_200 + 3_661,
        };
        contract.validate().unwrap();
        round_trip(&contract);

        let other = Contract {
            billing_cycle: BillingCycle::Fixed { anchor: 1_793_491_200, length: 7 * 86_400 },
            dispute_threshold: DisputeThreshold::BasisPoints(0),
            payment_terms: PaymentTerms::net(0),
            ..contract
        };
        let text = round_trip(&other);
        assert!(text.contains("billing_cycle = \"fixed\""), "{text}");
    }

    /// The largest price a tariff admits.
    const MAX_PRICE_FOR_TEST: Nanos = omni_core::tariff::MAX_PRICE - 1;

    #[test]
    fn amounts_and_prices_are_written_exactly() {
        assert_eq!(amount(0), "0.00");
        assert_eq!(amount(250_000_000), "250.00");
        assert_eq!(amount(1_500_000), "1.50");
        assert_eq!(amount(1_234_567), "1.234567");
        assert_eq!(amount(-10), "-0.00001");
        assert_eq!(nano_price(0), "0");
        assert_eq!(nano_price(205_000), "0.000205");
        assert_eq!(nano_price(2_000_000_000), "2");
        assert_eq!(nano_price(1_000_000_001), "1.000000001");
        for m in [0, 1, 999_999, 1_000_000, 123_456_789_012] {
            assert_eq!(micros("x", &amount(m)).unwrap(), m);
        }
        for n in [0, 1, 999_999_999, 1_000_000_000, 123_456_789_012] {
            assert_eq!(nanos("x", &nano_price(n)).unwrap(), n);
        }
    }

    #[test]
    fn billing_periods_belong_to_fixed_cycles() {
        let (a, b) = keys();
        let good = terms(&a, &b);
        let fixed = good.replace(
            "netting = true",
            "netting = true\nbilling_cycle = \"fixed\"\nbilling_period = { anchor = \"2026-11-01\", length_secs = 86400 }",
        );
        let c = parse_terms(&fixed).unwrap();
        assert_eq!(c.billing_cycle, BillingCycle::Fixed { anchor: 1_793_491_200, length: 86_400 });
        for (text, named) in [
            (fixed.replace("billing_cycle = \"fixed\"", ""), "billing_period"),
            (
                good.replace("netting = true", "netting = true\nbilling_cycle = \"fixed\""),
                "billing_period",
            ),
            (fixed.replace("\"2026-11-01\", length", "\"soon\", length"), "billing_period.anchor"),
            (
                good.replace("netting = true", "netting = true\nbilling_cycle = \"weekly\""),
                "billing_cycle",
            ),
        ] {
            let err = parse_terms(&text).unwrap_err().to_string();
            assert!(err.contains(named), "{named}: {err}");
        }
    }
}
