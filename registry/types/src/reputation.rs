//! Payment reputation of a payer, from attested payments and overdue invoices.
//!
//! Computed on demand, at a query time `now`, from the payer's invoices on the registry;
//! integer arithmetic only.
//!
//! ## Which invoices count
//!
//! Only invoices the payer **accepted** count: a seller cannot hurt a buyer's reputation
//! with invoices the buyer never agreed to, and a disputed invoice does not count while
//! disputed. An accepted invoice is *assessed* when
//! - it was paid — by an attested payment (payer notice + payee receipt, MEF 114
//!   R87–R89), at the notice's value date, or by a settled netting cycle, at settlement —
//!   or
//! - it is **overdue**: past its due date at `now` with no attested payment (a payment
//!   notice alone does not count until the payee confirms it).
//!
//! Accepted invoices not yet due and unpaid are *open* and not assessed.
//!
//! ## Days relative to terms
//!
//! For an assessed invoice, `d` is its payment's position relative to the due date, in
//! whole days: paid on or before the due date, `d = −⌊(due − paid) / 86 400⌋` (≤ 0);
//! paid after it, `d = ⌈(paid − due) / 86 400⌉` (≥ 1, any lateness is at least a day);
//! overdue, `d = ⌈(now − due) / 86 400⌉`.
//!
//! ## The figures
//!
//! - **On-time ratio** (MEF 74 "credit score"): invoices with `d ≤ 0` over assessed
//!   invoices, in basis points, rounded down.
//! - **Average days beyond terms**: `Σ max(d, 0) / assessed`, rounded half up.
//! - **PAYDEX-style score** (1–100), after Dun & Bradstreet's scale: each assessed invoice
//!   scores `s(d)` with `s = 100` at 30 or more days early, `80` on terms (`d = 0`),
//!   `50` at 30 days late, linear in between and continuing linearly (one point a day)
//!   below 50 down to a floor of 1:
//!
//!   ```text
//!   s(d) = 100                 d ≤ −30
//!        = 80 + (−d)·20/30     −30 < d ≤ 0
//!        = max(80 − d, 1)      d > 0
//!   ```
//!
//!   The score is the mean of `s(d)` over assessed invoices, rounded half up. It is
//!   computed exactly in thirtieths (`30·s(d)` is an integer for every `d`), so nothing is
//!   lost to per-invoice rounding. Each invoice weighs the same: D&B weighs by amount,
//!   but the registry never learns amounts.
//!
//! Figures are `None` while nothing is assessed.

use crate::records::{Invoice, InvoiceStatus};
use omni_core::PartyId;
use serde::{Deserialize, Serialize};

/// Seconds per day.
pub const DAY: u64 = 86_400;

/// A payer's payment record.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Reputation {
    /// The payer.
    pub payer: Option<PartyId>,
    /// Query time the figures are computed at (UTC seconds).
    pub at: u64,
    /// Invoices on the registry with this payer, in any status.
    pub invoices: u32,
    /// Accepted invoices (including paid ones).
    pub accepted: u32,
    /// Invoices currently disputed.
    pub disputed: u32,
    /// Accepted invoices paid on or before their due date.
    pub paid_on_time: u32,
    /// Accepted invoices paid after their due date.
    pub paid_late: u32,
    /// Accepted invoices past due without an attested payment.
    pub overdue: u32,
    /// Accepted invoices not yet due and unpaid.
    pub open: u32,
    /// `paid_on_time + paid_late + overdue`.
    pub assessed: u32,
    /// On-time ratio in basis points (MEF 74 credit score).
    pub on_time_ratio_bp: Option<u32>,
    /// Average days beyond terms.
    pub average_days_beyond_terms: Option<u32>,
    /// PAYDEX-style score, 1–100 (80 = pays on terms).
    pub paydex: Option<u8>,
}

/// Signed whole days of `at` relative to `due` (module docs): `≤ 0` on time.
pub fn days_relative(at: u64, due: u64) -> i64 {
    if at <= due {
        -(((due - at) / DAY) as i64)
    } else {
        (at - due).div_ceil(DAY) as i64
    }
}

/// `30·s(d)`: the PAYDEX-style score of one invoice in thirtieths of a point.
pub fn paydex_thirtieths(d: i64) -> i64 {
    if d <= -30 {
        3000
    } else if d <= 0 {
        2400 + 20 * (-d)
    } else {
        (2400i64.saturating_sub(d.saturating_mul(30))).max(30)
    }
}

/// The reputation of `payer` at time `now`, from its invoices.
pub fn reputation<'a>(
    payer: PartyId,
    invoices: impl IntoIterator<Item = &'a Invoice>,
    now: u64,
) -> Reputation {
    let mut r = Reputation { payer: Some(payer), at: now, ..Reputation::default() };
    let (mut beyond_terms, mut score30) = (0u64, 0i64);
    for inv in invoices {
        r.invoices += 1;
        if inv.status == InvoiceStatus::Disputed {
            r.disputed += 1;
            continue;
        }
        if inv.accepted_at.is_none() {
            continue;
        }
        r.accepted += 1;
        let d = match (inv.status, &inv.settlement) {
            (InvoiceStatus::Paid, Some(s)) => {
                let d = days_relative(s.paid_at, inv.due_date);
                if d <= 0 {
                    r.paid_on_time += 1;
                } else {
                    r.paid_late += 1;
                }
                d
            }
            (InvoiceStatus::Accepted | InvoiceStatus::Credited, _) if now > inv.due_date => {
                r.overdue += 1;
                days_relative(now, inv.due_date)
            }
            _ => {
                r.open += 1;
                continue;
            }
        };
        r.assessed += 1;
        beyond_terms = beyond_terms.saturating_add(d.max(0) as u64);
        score30 += paydex_thirtieths(d);
    }
    if r.assessed > 0 {
        let n = u64::from(r.assessed);
        r.on_time_ratio_bp = Some((u64::from(r.paid_on_time) * 10_000 / n) as u32);
        r.average_days_beyond_terms =
            Some(((beyond_terms + n / 2) / n).min(u64::from(u32::MAX)) as u32);
        let n = i64::from(r.assessed);
        let score = (score30 + 15 * n) / (30 * n);
        r.paydex = Some(score.clamp(1, 100) as u8);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_invoice_scores_follow_the_scale() {
        let s = |d: i64| paydex_thirtieths(d) as f64 / 30.0;
        assert_eq!(s(-45), 100.0);
        assert_eq!(s(-30), 100.0);
        assert_eq!(s(-15), 90.0);
        assert_eq!(s(0), 80.0);
        assert_eq!(s(10), 70.0);
        assert_eq!(s(30), 50.0);
        assert_eq!(s(60), 20.0);
        assert_eq!(s(79), 1.0);
        assert_eq!(s(400), 1.0);
        assert_eq!(s(i64::MAX), 1.0);
    }

    #[test]
    fn days_relative_counts_whole_days() {
        let due = 100 * DAY;
        assert_eq!(days_relative(due, due), 0);
        assert_eq!(days_relative(due - 1, due), 0);
        assert_eq!(days_relative(due - DAY, due), -1);
        assert_eq!(days_relative(due + 1, due), 1);
        assert_eq!(days_relative(due + DAY, due), 1);
        assert_eq!(days_relative(due + DAY + 1, due), 2);
    }
}
