//! Billing intervals with identifiers (MEF 114 R58).
//!
//! An interval is `[start, end)` in UTC seconds with an identifier both parties use to
//! refer to it (`"2026-11"`, `"2026-W47"`). Usage is attributed to the interval that
//! contains its `usageDate`.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Identifier of a billing interval, unique within a bilateral (R58).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct IntervalId(pub String);

impl std::fmt::Display for IntervalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A billing interval `[start, end)` in UTC seconds.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct BillingInterval {
    /// The interval's identifier.
    pub id: IntervalId,
    /// First second of the interval (inclusive), UTC.
    pub start: u64,
    /// End of the interval (exclusive), UTC.
    pub end: u64,
}

impl BillingInterval {
    /// A validated interval.
    pub fn new(id: impl Into<String>, start: u64, end: u64) -> Result<BillingInterval> {
        let id = id.into();
        if id.is_empty() || id.len() > 64 {
            return Err(Error::InvalidInterval { id, reason: "id must be 1..=64 bytes".into() });
        }
        if end <= start {
            return Err(Error::InvalidInterval {
                id,
                reason: format!("end {end} is not after start {start}"),
            });
        }
        Ok(BillingInterval { id: IntervalId(id), start, end })
    }

    /// Whether `t` (UTC seconds) lies in this interval.
    pub fn contains(&self, t: u64) -> bool {
        self.start <= t && t < self.end
    }

    /// The calendar month `year-month` as an interval with id `"YYYY-MM"`.
    pub fn month(year: i32, month: u32) -> Result<BillingInterval> {
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
            return Err(Error::InvalidInterval {
                id: format!("{year}-{month}"),
                reason: "not a calendar month after 1970".into(),
            });
        }
        let start = days_from_civil(year, month, 1) * 86_400;
        let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        let end = days_from_civil(ny, nm, 1) * 86_400;
        BillingInterval::new(format!("{year:04}-{month:02}"), start, end)
    }
}

/// Days in month `m` (1–12) of year `y` (Gregorian); 0 for a month outside 1–12.
pub fn days_in_month(y: i32, m: u32) -> u32 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> u64 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u64
}

/// `YYYY-MM-DD` of a UTC timestamp.
pub fn format_date(t: u64) -> String {
    let z = (t / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        let nov = BillingInterval::month(2026, 11).unwrap();
        assert_eq!(nov.id.0, "2026-11");
        assert_eq!(nov.start, 1_793_491_200);
        assert_eq!(nov.end - nov.start, 30 * 86_400);
        assert!(nov.contains(nov.start) && !nov.contains(nov.end));
        assert_eq!(format_date(nov.start), "2026-11-01");
        assert_eq!(format_date(nov.end - 1), "2026-11-30");
        let feb = BillingInterval::month(2028, 2).unwrap();
        assert_eq!((feb.end - feb.start) / 86_400, 29);
        assert!(BillingInterval::month(2026, 13).is_err());
        assert!(BillingInterval::new("x", 5, 5).is_err());
        assert!(BillingInterval::new("", 1, 5).is_err());
    }
}
