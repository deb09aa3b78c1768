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
//! - The registry's language comes from `omni-registry-types` and is re-exported under
//!   the paths the state machine uses: [`tx`] (transactions, signing), [`error`],
//!   [`records`], [`commitment`], [`reputation`], [`pledge`].
//! - [`root`]: the Merkle state root, kept incrementally. [`memory`]: bounded memories of
//!   checked signatures and claims. [`netting`]: optimal multi-party settlement and the
//!   cycle record. [`verification`]: the [`ProofVerifier`] seam through which rating
//!   proofs are judged.
//! - [`state`]: members, anchors, invoices, pledges, netting cycles, compliance; the rules
//!   of every transaction.
//! - [`block`]: blocks and their execution, [`Registry`].

pub mod block;
pub mod memory;
pub mod netting;
pub mod root;
pub mod state;
pub mod verification;

// The registry's language, under the paths the state machine has always used.
pub use omni_registry_types::{commitment, error, pledge, portable, records, reputation, tx};

pub use block::{Block, BlockOutcome, Registry, TxOutcome};
pub use error::{Error, Result};
pub use state::{BlockContext, Event, Genesis, RegistryState};
pub use verification::{ProofVerdict, ProofVerifier, RefuseAllProofs, SubmittedRatingStatement};
