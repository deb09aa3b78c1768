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
}
