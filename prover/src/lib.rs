//! Proving Omnilateral's rating statements with Groth16 on BN254: key setup and key
//! files, proving across chunks in parallel, proof bundles.
//!
//! # Flow
//!
//! ```text
//!   RatingKeys::load_or_setup(dir, chunk_size)   key files, checked against their hashes
//!        │
//!   prove_rating(keys, tariff, records, …)        witness: omni_circuits::rating builders
//!        │   chunks proven in parallel (rayon), then the final circuit
//!        ▼
//!   RatingProofBundle (omni_circuits::bundle)     → omni_verifier, the registry, snarkjs
//! ```
//!
//! # Setup: development only
//!
//! Groth16 needs a per-circuit setup whose secret randomness ("toxic waste") must be
//! destroyed: whoever knows it can prove false statements. [`RatingKeys::setup_development`]
//! draws it in this process, alone — a **single-party setup, for development and tests
//! only**. It says so in its name, in the key manifest it writes (`setup` field) and in
//! the CLI's output. A production network runs a multi-party ceremony (each participant
//! contributes randomness; one honest participant suffices) and distributes the resulting
//! key files; [`RatingKeys::load`] reads those unchanged.
//!
//! # Key files
//!
//! For chunk size `K`, in one directory:
//! `rating-K.pk` (both proving keys, uncompressed), `rating-K.vk`
//! ([`RatingKeySet::to_bytes`], what verifiers need) and `rating-K.json`, the manifest
//! naming the SHA-256 of both files, the verifying key set's hash
//! ([`RatingKeySet::hash`], the value the registry publishes) and how the keys were made.
//! Loading refuses files whose hashes differ from the manifest's.

pub mod baseline;
pub mod keys;
pub mod prove;
#[cfg(any(test, feature = "samples"))]
pub mod sample;

pub use keys::{KeyManifest, RatingKeys, DEFAULT_CHUNK_SIZE, DEVELOPMENT_SETUP};
pub use omni_circuits::bundle::{RatingKeySet, RatingProofBundle, RatingStatement};
pub use prove::{prove_rating, RatingWitness};

/// Errors of key handling and proving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing key files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A key file is not what its manifest says, or not a key file at all.
    #[error("key file {path}: {reason}")]
    BadKeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The statement cannot be built (tariff or usage outside the circuit's shape, rating
    /// refused, …).
    #[error(transparent)]
    Circuit(#[from] omni_circuits::Error),
    /// Groth16 setup or proving failed; an unsatisfied system means the witness does not
    /// satisfy the statement (a wrong amount, tariff or record).
    #[error("proving failed: {0}")]
    Proving(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Progress of long work (setup, proving): `(done, total)` steps, called from any thread.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// A [`Progress`] that reports nothing.
pub fn no_progress(_: usize, _: usize) {}
