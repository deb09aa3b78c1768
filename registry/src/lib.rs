//! # omni-registry — the Smart Omni-Lateral (MEF 114 §7.6.2)
//!
//! The registry is where third parties check bilateral facts without seeing bilateral
//! data: a regulator sees that a bilateral's head was anchored and that an invoice's
//! rating proof verified; a financier sees that an invoice is accepted, not disputed, not
//! overdue, not already pledged, and how its payer pays; carriers net what they owe each
//! other. Amounts never reach the registry in the clear: invoices carry Pedersen
//! commitments, which the registry adds up but cannot read.
//!
//! ## Bird's eye view
//!
//! ```text
//!  member ──SignedTx bytes──▶ api (gRPC Submit) ──batched check──▶ mempool ─▶ consensus
//!    (signatures, state, proofs: each validator checks each transaction, forwarded ones
//!     too, and remembers the proofs it accepted)
//!                                     (omni-consensus: Malachite BFT, every validator)
//!                                                                  │ decided Block{height,time,txs}
//!                                                                  ▼
//!            ┌──────────── Registry::execute_block (pure, deterministic) ─────────────┐
//!            │ decode → signatures (parallel) → ProofVerifier::verify_batch(all the   │
//!            │ block's SubmitInvoice proofs at once; accepted ones are remembered)    │
//!            │ → RegistryState::apply, tx by tx                                       │
//!            │ (each validated fully before it writes) → events, state root, changes  │
//!            └────────────────────────────────────────────────────────────────────────┘
//!                                                                  │ BlockOutcome
//!                                                                  ▼
//!             store (RocksDB: block, tx index, state changes, root — one atomic batch)
//!
//!  regulator / financier / carrier ──gRPC queries──▶ api ──▶ RegistryState (read lock)
//!                                    every answer names the height and state root
//! ```
//!
//! The state machine ([`state`], [`block`]) does no I/O and knows nothing of consensus or
//! storage: transactions in, state and events out. [`consensus`] puts it behind the
//! `omni_consensus::Application` seam: blocks are ordered by Malachite (a single
//! validator by default, or a fixed validator set), and every validator executes each
//! decided block with the same [`Registry::execute_block`], computing the same
//! [`BlockOutcome::state_root`].
//!
//! ## Crates and modules
//!
//! The state machine — [`tx`], [`state`], [`records`], [`block`], [`verification`],
//! [`commitment`], [`reputation`], [`pledge`], [`netting`], [`root`], [`memory`],
//! [`error`] — is the crate `omni-registry-state`, which cannot reach I/O; this crate
//! re-exports its modules under the same paths and adds the server around it. The server's
//! own modules are private; what other crates use is re-exported below:
//!
//! - `proof`: the verifiers a validator runs ([`Groth16RatingVerifier`], and
//!   [`RememberingVerifier`], which remembers what it accepted) behind the state
//!   machine's [`ProofVerifier`] seam.
//! - `mempool`: checked transactions waiting for a block, and the queue in front of it;
//!   `validator`: what the API and consensus share, and the mempool check;
//!   `consensus`: the registry as a consensus application.
//! - `store`: RocksDB persistence ([`Store`]). `api`: the gRPC service (the protocol is
//!   `omni-registry-protocol`). `server`: `omni registry start` ([`start`], [`serve`]: a
//!   single validator, or one of a validator set).
//! - `netting_bench` (feature `bench`): [`bench_netting`], behind `omni bench netting`.
//! - `simulation` (tests only): four validators of this registry under
//!   `omni_consensus::simulation`, over many seeds.

mod api;
mod consensus;
mod mempool;
#[cfg(feature = "bench")]
mod netting_bench;
mod proof;
mod server;
#[cfg(test)]
mod simulation;
mod store;
mod validator;

// The state machine and its records, under the paths they have always had here.
pub use omni_registry_state::{
    block, commitment, error, memory, netting, pledge, portable, records, reputation, root, state,
    tx, verification,
};

pub use block::{Block, BlockOutcome, Registry, TxOutcome};
pub use error::{Error, Result};
#[cfg(feature = "bench")]
pub use netting_bench::{bench_netting, NettingBenchReport};
pub use proof::{Groth16RatingVerifier, RememberingVerifier, REMEMBERED_CLAIMS};
pub use server::{
    consensus_key, serve, start, stop_signal, ConsensusSettings, RunningServer, ServerConfig,
    ValidatorEntry, ValidatorSetFile, CONSENSUS_KEY_FILE,
};
pub use state::{BlockContext, Event, Genesis, RegistryState};
pub use store::{Store, StoredBlock, StoredError, StoredResult};
pub use tx::{Role, SignedTx, TxBody};
pub use verification::{ProofVerdict, ProofVerifier, RefuseAllProofs, SubmittedRatingStatement};
