//! # omni-registry-types — the omni-lateral registry's language
//!
//! What the registry (`omni-registry`, its state machine `omni-registry-state`) and the
//! members' nodes (`omni-node`) must agree on, and nothing that either does with it:
//! transactions and their signatures, the records the registry keeps, why it refuses,
//! and the checks a financier runs on what it reads (MEF 114 Smart Omni-Lateral). Both
//! sides take these from here, so a transaction's bytes, hash and signature are the same
//! wherever they are computed, and neither side depends on the other. No I/O: a pure
//! library (serde, Ed25519, the Pedersen and Poseidon of `omni-verifier`).
//!
//! ## Modules, from the bottom up
//!
//! - [`ids`]: the identifiers and values transactions carry (roles, invoice ids,
//!   nullifiers, amount commitments, blindings, cycle ids); re-exported by [`tx`].
//! - [`error`]: the registry's one [`Error`]: why a transaction was refused (a rule, in
//!   words a member can act on, with a stable [`Error::code`]) or could not be served.
//! - [`tx`]: [`SignedTx`] `(sender, nonce, body, signature)`, signed under
//!   [`tx::TX_SIGNING_TAG`] over `(registry id, sender, nonce, body)`; [`TxBody`], what a
//!   transaction asks (membership, anchors, invoices with their rating proofs, answers,
//!   payments, pledges, netting, credentials, embargo lists, supply-chain maps).
//!   Canonical bytes ([`SignedTx::to_bytes`], at most [`tx::MAX_TX_BYTES`]) are what the
//!   gRPC `Submit` call and a block carry.
//! - [`records`]: the rows the registry keeps of members, anchors and invoices.
//! - [`commitment`]: Pedersen amount commitments (decoding, signed openings).
//! - [`reputation`]: a payer's on-time ratio (MEF 74 credit score), days beyond terms and
//!   PAYDEX-style score, computed from its invoices.
//! - [`pledge`]: nullifiers and the financier's check of an invoice before a pledge.
//! - [`portable`]: transactions in a language-neutral form (protobuf, with a signing rule
//!   any Ed25519 library can follow), for clients in other languages.
//! - [`submission`]: the one builder of a `SubmitInvoice` from an invoice and its rating
//!   proof, and the registry id of a bill ([`InvoiceId::for_bill`]).
//!
//! Only what can be checked without the registry's state is checked here (encoding, size,
//! signature, a submission's statement); membership, roles, nonces, proofs and every
//! business rule are the state machine's.

pub mod commitment;
pub mod error;
pub mod ids;
pub mod pledge;
pub mod portable;
pub mod records;
pub mod reputation;
pub mod submission;
pub mod tx;

pub use error::{Error, Result};
pub use submission::RegistryInvoice;
pub use tx::{InvoiceId, InvoiceSubmission, SignedTx, TxBody};
