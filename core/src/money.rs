//! Money as integer micro-units of an ISO 4217 currency.
//!
//! `1 EUR = 1_000_000` micro-units. Amounts are `i64` ([`Micros`]): ±9.2·10¹² currency
//! units, far beyond any interconnect invoice, and negative only for credits. There is no
//! floating point: formatting to a decimal string is done digit by digit.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in micro-units (10⁻⁶) of some currency.
pub type Micros = i64;

/// Micro-units per currency unit.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An ISO 4217 alphabetic currency code, e.g. `EUR`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a three-letter upper-case code.
    pub fn new(code: &str) -> Result<Currency> {
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(Error::InvalidCurrency(code.to_string()));
        }
        Ok(Currency([b[0], b[1], b[2]]))
    }

    /// The code as a string slice.
    pub fn code(&self) -> &str {
        // Constructed only from ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// The ISO 4217 minor-unit exponent: how many decimals an amount in this currency is
    /// printed with (2 for EUR, 0 for JPY, 3 for KWD). Codes the standard gives no minor
    /// unit (XAU, XDR, …) and codes it does not list get 2.
    pub fn minor_unit_exponent(&self) -> u32 {
        match &self.0 {
            // ISO 4217 list one (2024): currencies without a minor unit.
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            // Thousandths.
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            // Units of account with four decimals.
            b"CLF" | b"UYW" => 4,
            _ => 2,
        }
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount with its currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The currency.
    pub currency: Currency,
    /// The amount in micro-units.
    pub micros: Micros,
}

impl Money {
    /// An amount of `micros` micro-units of `currency`.
    pub fn new(currency: Currency, micros: Micros) -> Money {
        Money { currency, micros }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money { currency, micros: 0 }
    }

    /// Checked addition; refuses mixed currencies and overflow.
    pub fn checked_add(self, other: Money) -> Result<Money> {
        self.same_currency(&other)?;
        let micros = self.micros.checked_add(other.micros).ok_or(Error::Overflow("money sum"))?;
        Ok(Money { currency: self.currency, micros })
    }

    /// Checked subtraction; refuses mixed currencies and overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money> {
        self.same_currency(&other)?;
        let micros =
            self.micros.checked_sub(other.micros).ok_or(Error::Overflow("money difference"))?;
        Ok(Money { currency: self.currency, micros })
    }

    fn same_currency(&self, other: &Money) -> Result<()> {
        if self.currency != other.currency {
            return Err(Error::CurrencyMismatch {
                left: self.currency.to_string(),
                right: other.currency.to_string(),
            });
        }
        Ok(())
    }
}

/// Formats micro-units as a decimal with six places, e.g. `-12.345600`.
pub fn format_micros(micros: Micros) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let unit = MICROS_PER_UNIT as u64;
    format!("{sign}{}.{:06}", abs / unit, abs % unit)
}

/// Formats micro-units rounded to `currency`'s minor unit ([`Currency::minor_unit_exponent`])
/// with exactly that many decimals and no grouping: `-1234.57` for EUR, `2` for JPY,
/// `1.235` for KWD.
///
/// Rounding is half away from zero: `1.235000 EUR` prints `1.24`, `-1.235000 EUR` prints
/// `-1.24`. A non-zero amount that rounds to zero prints without a sign (`0.00`). Only
/// integer arithmetic is used. The ledger keeps micro-units; this is for people to read.
pub fn format_minor(micros: Micros, currency: Currency) -> String {
    // The exponent is at most 4 < 6, so the divisor is a whole number of micro-units.
    let exponent = currency.minor_unit_exponent().min(6);
    let per_minor = 10u64.pow(6 - exponent);
    let abs = micros.unsigned_abs();
    // |i64::MIN| / 1 + 1 still fits in u64.
    let minor = abs / per_minor + u64::from(2 * (abs % per_minor) >= per_minor);
    let sign = if micros < 0 && minor != 0 { "-" } else { "" };
    if exponent == 0 {
        return format!("{sign}{minor}");
    }
    let per_unit = 10u64.pow(exponent);
    let width = exponent as usize;
    format!("{sign}{}.{:0width$}", minor / per_unit, minor % per_unit)
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_micros(self.micros), self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_micros(self.micros), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::new("EUR"), Ok(Currency::EUR));
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert!(Currency::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_refuses_mixing_and_overflow() {
        let a = Money::new(Currency::EUR, 1_500_000);
        let b = Money::new(Currency::USD, 1);
        assert!(matches!(a.checked_add(b), Err(Error::CurrencyMismatch { .. })));
        assert_eq!(a.checked_add(a).unwrap().micros, 3_000_000);
        assert!(Money::new(Currency::EUR, i64::MAX).checked_add(a).is_err());
        assert!(Money::new(Currency::EUR, i64::MIN).checked_sub(a).is_err());
    }

    #[test]
    fn formatting_without_floats() {
        assert_eq!(format_micros(12_345_600), "12.345600");
        assert_eq!(format_micros(-5), "-0.000005");
        assert_eq!(format_micros(i64::MIN), "-9223372036854.775808");
        assert_eq!(Money::new(Currency::EUR, 1).to_string(), "0.000001 EUR");
    }

    fn cur(code: &str) -> Currency {
        Currency::new(code).unwrap()
    }

    #[test]
    fn iso_4217_minor_units() {
        for (code, exponent) in [
            ("EUR", 2),
            ("USD", 2),
            ("GBP", 2),
            ("CHF", 2),
            ("JPY", 0),
            ("KRW", 0),
            ("ISK", 0),
            ("CLP", 0),
            ("VND", 0),
            ("XOF", 0),
            ("XAF", 0),
            ("BHD", 3),
            ("KWD", 3),
            ("OMR", 3),
            ("JOD", 3),
            ("TND", 3),
            ("IQD", 3),
            ("LYD", 3),
            ("CLF", 4),
            ("ZZZ", 2),
        ] {
            assert_eq!(cur(code).minor_unit_exponent(), exponent, "{code}");
        }
    }

    #[test]
    fn minor_unit_formatting_rounds_half_away_from_zero() {
        let eur = Currency::EUR;
        assert_eq!(format_minor(1_234_565, eur), "1.23");
        assert_eq!(format_minor(1_234_999, eur), "1.23");
        assert_eq!(format_minor(1_235_000, eur), "1.24");
        assert_eq!(format_minor(1_244_999, eur), "1.24");
        assert_eq!(format_minor(1_245_000, eur), "1.25"); // not to even
        assert_eq!(format_minor(-1_235_000, eur), "-1.24");
        assert_eq!(format_minor(-1_234_999, eur), "-1.23");
        assert_eq!(format_minor(-1_234_567_890, eur), "-1234.57");
        assert_eq!(format_minor(0, eur), "0.00");
        assert_eq!(format_minor(5_000, eur), "0.01");
        assert_eq!(format_minor(4_999, eur), "0.00");
        assert_eq!(format_minor(-4_999, eur), "0.00"); // no "-0.00"
        assert_eq!(format_minor(-5_000, eur), "-0.01");
        assert_eq!(format_minor(99_995_000, eur), "100.00");

        let jpy = cur("JPY");
        assert_eq!(format_minor(1_500_000, jpy), "2");
        assert_eq!(format_minor(1_499_999, jpy), "1");
        assert_eq!(format_minor(-1_500_000, jpy), "-2");
        assert_eq!(format_minor(250_000_000, jpy), "250");

        let kwd = cur("KWD");
        assert_eq!(format_minor(1_234_500, kwd), "1.235");
        assert_eq!(format_minor(1_234_499, kwd), "1.234");
        assert_eq!(format_minor(-1_234_500, kwd), "-1.235");
        assert_eq!(format_minor(1_000, kwd), "0.001");

        assert_eq!(format_minor(1_234_550, cur("CLF")), "1.2346");
        assert_eq!(format_minor(i64::MAX, eur), "9223372036854.78");
        assert_eq!(format_minor(i64::MIN, eur), "-9223372036854.78");
        assert_eq!(format_minor(i64::MIN, jpy), "-9223372036855");
    }
}
