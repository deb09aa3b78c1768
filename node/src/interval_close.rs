//! The seller's node proposes the rating of a billing interval once the interval has
//! closed (MEF 114 R65–R67: the seller rates the interval's usage, the buyer's node
//! recomputes it and its owner agrees or disputes).
//!
//! `omni node start` with `rating_proposal` in its configuration runs a
//! [`RatingProposer`]: every few seconds, and at once when woken, it looks at each usage
//! account of each order the node sells. An account whose billing interval ended at
//! least [`RatingProposal::after_interval_close_secs`] ago (by the ledger's clock) and
//! whose rating is still open gets the rating its ledger computes, proposed exactly as
//! `omni rating propose` does; the entry then goes to the counterparty and the reporter
//! like any other. Usage arriving after the proposal is refused by the ledger, as after a
//! proposal by hand: the grace period is there for records that come late.
//!
//! A proposal the ledger refuses (e.g. a terminated contract) is logged once and not
//! tried again until the node restarts.

use crate::entry::BilateralId;
use crate::ledger::Ledger;
use crate::state::{BilateralState, ContractStatus, OrderStatus, RatingStatus};
use omni_core::{IntervalId, PartyId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The setting (`rating_proposal` in a node's configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingProposal {
    /// Seconds after an interval's end before its rating is proposed (late records).
    #[serde(default)]
    pub after_interval_close_secs: u64,
}

/// The usage accounts of `state` that `me` sells and whose rating is due at `now`: the
/// interval ended at least `grace` seconds ago and the rating is open.
pub fn due_ratings(
    state: &BilateralState,
    me: PartyId,
    now: u64,
    grace: u64,
) -> Vec<(String, IntervalId)> {
    if state.snapshot().status != ContractStatus::Active {
        return Vec::new();
    }
    let sells = |order: &str| {
        state.order(order).is_some_and(|o| o.order.seller == me && o.status == OrderStatus::Agreed)
    };
    state
        .snapshot()
        .accounts
        .iter()
        .filter(|(key, account)| {
            matches!(account.rating, RatingStatus::Open)
                && account.interval.end.saturating_add(grace) <= now
                && sells(&key.order)
        })
        .map(|(key, _)| (key.order.clone(), key.interval.clone()))
        .collect()
}

/// Proposes the ratings due on every bilateral of `ledger` (module docs), skipping those in
/// `refused`, to which it adds each new refusal. Returns the proposals made.
pub fn propose_due(
    ledger: &mut Ledger,
    grace: u64,
    refused: &mut HashSet<(BilateralId, String, IntervalId)>,
) -> crate::Result<Vec<(BilateralId, String, IntervalId)>> {
    let (me, now) = (ledger.key(), ledger.clock().now());
    let mut due = Vec::new();
    for id in ledger.bilaterals() {
        for (order, interval) in due_ratings(ledger.state(&id)?, me, now, grace) {
            due.push((id, order, interval));
        }
    }
    let mut proposed = Vec::new();
    for (id, order, interval) in due {
        let key = (id, order, interval);
        if refused.contains(&key) {
            continue;
        }
        match ledger.propose_rating(&key.0, &key.1, &key.2) {
            Ok(_) => proposed.push(key),
            Err(crate::Error::Refused { reason, .. }) => {
                tracing::warn!(
                    "bilateral {}: the rating of {} in {} is due but refused: {reason}",
                    key.0,
                    key.1,
                    key.2
                );
                refused.insert(key);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(proposed)
}

/// Proposes due ratings in the background (module docs).
pub struct RatingProposer {
    ledger: Arc<Mutex<Ledger>>,
    setting: RatingProposal,
    appended: Arc<dyn Fn() + Send + Sync>,
    wake: Arc<Notify>,
}

impl RatingProposer {
    /// A proposer for `ledger`; `appended` is called after it appended proposals (to push
    /// them to the counterparty and the registry reporter).
    pub fn new(
        ledger: Arc<Mutex<Ledger>>,
        setting: RatingProposal,
        appended: Arc<dyn Fn() + Send + Sync>,
    ) -> RatingProposer {
        RatingProposer { ledger, setting, appended, wake: Arc::new(Notify::new()) }
    }

    /// What wakes it before its next look (e.g. a clock moved).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Looks every `every` until `stop` turns true.
    pub async fn run(self, every: Duration, mut stop: watch::Receiver<bool>) {
        let refused = Arc::new(Mutex::new(HashSet::new()));
        loop {
            let (ledger, refused) = (self.ledger.clone(), refused.clone());
            let grace = self.setting.after_interval_close_secs;
            let result = tokio::task::spawn_blocking(move || {
                let mut ledger = ledger.lock().map_err(|_| "the ledger lock is poisoned")?;
                let mut refused = refused.lock().map_err(|_| "a lock is poisoned")?;
                propose_due(&mut ledger, grace, &mut refused).map_err(|e| e.to_string())
            })
            .await;
            match result {
                Ok(Ok(proposed)) if !proposed.is_empty() => {
                    for (id, order, interval) in &proposed {
                        tracing::info!("bilateral {id}: rating of {order} in {interval} proposed");
                    }
                    (self.appended)();
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!("proposing due ratings: {e}"),
                Err(e) => tracing::warn!("proposing due ratings: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.wake.notified() => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sample::{self, ORDER_AB};
    use crate::{Clock, LedgerOptions};
    use omni_core::{BillingInterval, UsageRecord};

    #[test]
    fn a_closed_interval_is_proposed_by_its_seller_once_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let nov = BillingInterval::month(2026, 11).unwrap();
        let clock = Clock::manual(nov.start);
        let options = LedgerOptions { clock: clock.clone(), ..LedgerOptions::default() };
        let open = |name: &str, key| Ledger::open(dir.path().join(name), key, options.clone());
        let (mut a, mut b) =
            (open("a", sample::carrier_a()).unwrap(), open("b", sample::carrier_b()).unwrap());
        let id = sample::agreed_order(&mut a, &mut b, false, nov.start).unwrap();
        let ic = omni_core::sample::interconnect_tariff();
        let lines: Vec<String> = omni_core::sample::usage(&ic, "cdr-", nov.start, 20)
            .iter()
            .map(UsageRecord::to_tmf635_json)
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        a.ingest_tmf635_lines(&id, ORDER_AB, &nov.id, &refs).unwrap();
        // Only the seller proposes its rating.
        let state = a.state(&id).unwrap();
        assert_eq!(due_ratings(state, a.key(), u64::MAX, 0).len(), 1);
        assert!(due_ratings(state, b.key(), u64::MAX, 0).is_empty());

        let mut refused = HashSet::new();
        let mut at = |t: u64, a: &mut Ledger| {
            clock.set(t);
            propose_due(a, 3_600, &mut refused).unwrap()
        };
        assert!(at(nov.end - 1, &mut a).is_empty(), "the interval is still open");
        assert!(at(nov.end + 3_599, &mut a).is_empty(), "late records may still come");
        assert_eq!(at(nov.end + 3_600, &mut a), vec![(id, ORDER_AB.to_string(), nov.id.clone())]);
        assert!(at(nov.end + 7_200, &mut a).is_empty(), "proposed once");
        let account = a.state(&id).unwrap().account(ORDER_AB, &nov.id).unwrap().clone();
        assert!(matches!(account.rating, RatingStatus::Proposed { .. }), "{account:?}");
    }
}
