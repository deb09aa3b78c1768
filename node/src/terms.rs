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
//! billing_cycle = "monthly"           # intervals "YYYY-MM" (R58)
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
    let billing_cycle = match file.billing_cycle.as_str() {
        "monthly" => BillingCycle::Monthly,
        other => {
            return Err(value("billing_cycle", format!("{other:?}: only \"monthly\" is offered")))
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
}
