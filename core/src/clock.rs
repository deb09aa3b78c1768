//! Where the time comes from: the one clock seam of every crate that reads the time.
//!
//! The system clock in production; a clock set by hand in tests, simulations and
//! rehearsals (a node's `clock.simulated_from`). A ledger stamps its entries with it, a
//! registry validator times its blocks and judges proposals' times with it, an outbox
//! dates what it queued. The registry's state machine never reads a clock: block time
//! comes in its block.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where the time comes from (module docs).
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system clock (UTC seconds).
    #[default]
    System,
    /// A clock set by hand: tests, demos, replays of history.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock at `t`.
    pub fn manual(t: u64) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(t)))
    }

    /// Now, UTC seconds.
    pub fn now(&self) -> u64 {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set(&self, t: u64) {
        if let Clock::Manual(c) = self {
            c.store(t, Ordering::SeqCst);
        }
    }

    /// Advances a manual clock by `secs`.
    pub fn advance(&self, secs: u64) {
        if let Clock::Manual(c) = self {
            c.fetch_add(secs, Ordering::SeqCst);
        }
    }
}
