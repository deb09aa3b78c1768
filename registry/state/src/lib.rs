//! # omni-registry-state — the omni-lateral registry's state machine, without I/O
//!
//! Transactions in, state and events out: everything every validator must compute the same
//! way, and nothing else. This crate reads no clock, opens no file or socket, draws no
//! randomness and knows no consensus engine — its `Cargo.toml` has no tokio, tonic,
//! RocksDB, libp2p or Malachite (`scripts/test` checks its dependency tree), so that purity
//! is a fact the build enforces, not a comment. The server (`omni-registry`) stores,
//! replicates and serves it.
//!
//! ```text
//!  decided Block{height, time, txs}
//!        │
//!        ▼ Registry::execute_block (block): decode → signatures (parallel, remembered)
//!          → ProofVerifier::verify_batch (verification: every rating proof of the block
//!          at once) → RegistryState::apply (state), tx by tx → events, changes, root
//! ```
//!
//! ## Modules, from the bottom up
//!
//! - [`tx`]: transactions, roles, identifiers, signing; the wire format is
//!   [`omni_core::omnilateral`], shared with the members' nodes. [`root`]: the Merkle
//!   state root, kept incrementally.
//! - [`error`]: why a transaction was refused, or the registry could not serve.
//!   [`records`]: the rows kept of members, anchors and invoices. [`memory`]: bounded
//!   memories of checked signatures and claims.
//! - [`commitment`]: Pedersen amount commitments (decoding, signed openings);
//!   [`reputation`]: per-payer on-time ratio (MEF 74 credit score), days beyond terms,
//!   PAYDEX-style score; [`netting`]: optimal multi-party settlement and the cycle record.
//! - [`pledge`]: nullifiers and the financier's check of an invoice;
//!   [`verification`]: the [`ProofVerifier`] seam through which rating proofs are judged.
//! - [`state`]: members, anchors, invoices, pledges, netting cycles, compliance; the rules
//!   of every transaction.
//! - [`block`]: blocks and their execution, [`Registry`].

pub mod block;
pub mod commitment;
pub mod error;
pub mod memory;
pub mod netting;
pub mod pledge;
pub mod records;
pub mod reputation;
pub mod root;
pub mod state;
pub mod tx;
pub mod verification;

pub use block::{Block, BlockOutcome, Registry, TxOutcome};
pub use error::{Error, Result};
pub use state::{BlockContext, Event, Genesis, RegistryState};
pub use verification::{InvoiceProofClaim, ProofVerifier, RefuseAllProofs};
