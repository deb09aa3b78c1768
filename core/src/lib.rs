//! # omni-core — the Omnilateral domain model
//!
//! Everything the other crates agree on lives here, free of I/O (the clock is read only
//! where a caller asks [`Clock::now`]):
//!
//! * [`identity`] — parties are Ed25519 public keys ([`PartyId`]); every ledger entry and
//!   registry transaction is signed with a [`Keypair`] and checked with [`PartyId::verify`].
//! * [`money`] — amounts are integer **micro-units** of an ISO 4217 [`Currency`]
//!   (`1 EUR = 1_000_000`). There is no floating point anywhere in rating, invoicing,
//!   netting or reputation.
//! * [`usage`] — usage records shaped after TM Forum TMF635 (`id`, `usageDate`,
//!   `usageType`, quantity with unit, `usageCharacteristic`), validated on entry.
//! * [`interval`] — billing intervals with identifiers (MEF 114 R58); [`clock`] — the one
//!   seam through which every crate reads the time (the system clock, or one set by hand
//!   in tests, simulations and rehearsals).
//! * [`tariff`] and [`rating`] — the tariff model and the rating function that turns usage
//!   records into rated records and invoice lines; its rules are written down precisely in
//!   [`rating`] so that the zero-knowledge rating circuit implements the same function.
//! * [`embargo`] — a regulator's embargo list (ISO 3166 numeric codes), which the
//!   compliance circuit proves a supply chain avoids and the registry publishes.
//! * [`encoding`] and [`hash`] — a canonical, versioned binary encoding and the
//!   domain-separated SHA-256 hashes over it, pinned by test vectors so that a format
//!   change is seen.
//!
//! ## Bird's eye view
//!
//! ```text
//!  TMF635 JSON ──parse──▶ UsageRecord ──validate──▶ rating::rate(tariff, records)
//!                                                        │
//!                                 RatedRecord[] + InvoiceLine[] + totals (micro-units)
//!                                                        │
//!  node (bilateral ledger) signs canonical bytes ◀───────┘──▶ circuits prove the same rating
//! ```

pub mod clock;
pub mod country;
pub mod embargo;
pub mod encoding;
pub mod error;
pub mod hash;
pub mod identity;
pub mod interval;
pub mod key_file;
pub mod money;
pub mod rating;
#[cfg(any(test, feature = "samples"))]
pub mod sample;
pub mod tariff;
pub mod usage;

pub use clock::Clock;
pub use encoding::{decode, encode, ENCODING_VERSION};
pub use error::{Error, Result};
pub use hash::Hash32;
pub use identity::{Keypair, PartyId, Signature};
pub use interval::{BillingInterval, IntervalId};
pub use money::{Currency, Micros, Money};
pub use usage::{ProductId, Unit, UsageCharacteristic, UsageRecord};
