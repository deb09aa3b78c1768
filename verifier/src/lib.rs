//! Verification of Omnilateral's rating proofs: small enough for a regulator's or a
//! financier's laptop (no storage, no network), fast enough for the registry to check
//! every invoice of a block.
//!
//! # What is checked
//!
//! A [`RatingProofBundle`] (format in [`omni_circuits::bundle`]) holds one Groth16 proof
//! per usage chunk and one for the final circuit. [`RatingVerifier::verify`]:
//!
//! 1. refuses a bundle proven under other keys (its key id names the hash of the
//!    verifying keys; a key set whose hash differs from the one a caller expects is refused
//!    when loaded, [`RatingVerifier::from_bytes`]);
//! 2. decodes every proof point (on its curve, in its prime-order subgroup) and field
//!    element (canonical), refusing malformed bytes with a clear error;
//! 3. derives each proof's public inputs from the statement and the chain of chunk state
//!    commitments — they are never taken from the bundle as a free list, so inputs cannot
//!    be swapped or reordered;
//! 4. checks all proofs at once by a random linear combination ([`batch`]): one
//!    multi-Miller loop and **one final exponentiation** for any number of proofs.
//!
//! [`RatingVerifier::check_statement`] compares the statement with what the caller knows
//! (the buyer: tariff, usage, bilateral, interval and the amount's opening; the registry:
//! the pseudonyms it records), so a valid proof for another bilateral or interval is
//! refused too.
//!
//! # Modules
//!
//! - [`batch`]: Groth16 batch verification by random linear combination over any mix of
//!   verifying keys, and single verification with prepared keys.
//! - [`miller`]: Miller loops over several pairs, with the lines of a key's fixed G2 points
//!   normalized for a cheaper multiplication.
//! - [`snarkjs`]: export of a proof, its public inputs and verifying key in snarkjs's JSON
//!   format, so that outside tools can check it.

pub mod batch;
pub mod miller;
pub mod snarkjs;

pub use omni_circuits::bundle::{
    bilateral_pseudonym, interval_field, FieldBytes, KeyId, RatingKeySet, RatingProofBundle,
    RatingStatement,
};
/// The commitment and hash primitives a verifier's caller recomputes from public data:
/// Pedersen amount commitments on Baby Jubjub (added up homomorphically by the registry,
/// opened by their owners) and circomlib-compatible Poseidon (pledge nullifiers).
pub use omni_circuits::{pedersen, poseidon};

use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use batch::{BatchVerifier, PreparedKey};
use rayon::prelude::*;

/// A decoded proof with its key and public inputs, ready for a [`BatchVerifier`].
pub type PreparedProof<'a> = (&'a PreparedKey, Proof<Bn254>, Vec<Fr>);
use omni_circuits::pedersen::{PedersenCommitment, Scalar};

/// Why a proof or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Bytes that are not a bundle, a proof, a point of the right group, a canonical
    /// field element or a verifying key set.
    #[error("{0}")]
    Malformed(String),
    /// The bundle was proven under other verifying keys than the ones checked against.
    #[error("proof made under verifying keys {found} (chunk size {found_chunk_size}), expected keys {expected} (chunk size {expected_chunk_size})")]
    WrongKeys {
        /// Hash of the keys the verifier holds.
        expected: String,
        /// Chunk size of those keys.
        expected_chunk_size: u32,
        /// Hash the bundle names.
        found: String,
        /// Chunk size the bundle names.
        found_chunk_size: u32,
    },
    /// A verifying key file's hash is not the one published for it.
    #[error("verifying key hash mismatch: expected {expected}, the key set hashes to {found}")]
    KeyHashMismatch {
        /// The published hash.
        expected: String,
        /// The hash of the keys read.
        found: String,
    },
    /// The statement is valid but not the one the caller expected.
    #[error("the proof is for another {0}")]
    StatementMismatch(&'static str),
    /// The proofs do not verify against the statement's public inputs.
    #[error("rating proof does not verify: the amount is not the rating of the committed usage under the committed tariff for this bilateral and interval")]
    Invalid,
}

impl From<omni_circuits::Error> for VerifyError {
    fn from(e: omni_circuits::Error) -> Self {
        VerifyError::Malformed(e.to_string())
    }
}

/// `Result` with [`VerifyError`].
pub type Result<T> = std::result::Result<T, VerifyError>;

/// What a verifier expects a statement to say. `None` fields are not checked.
#[derive(Clone, Debug, Default)]
pub struct ExpectedRatingStatement {
    /// The bilateral's pseudonym ([`bilateral_pseudonym`]).
    pub pseudonym: Option<Fr>,
    /// The billing interval ([`interval_field`]).
    pub interval: Option<Fr>,
    /// The agreed tariff's commitment.
    pub tariff_commitment: Option<Fr>,
    /// The agreed usage's commitment.
    pub usage_commitment: Option<Fr>,
    /// The amount commitment's opening `(amount, blinding)`, known to the buyer.
    pub opening: Option<(u64, Scalar)>,
    /// The amount commitment itself, when the opening is not known (the registry).
    pub amount_commitment: Option<PedersenCommitment>,
    /// Whether one-time fees are charged.
    pub include_one_time_fees: Option<bool>,
}

/// Prepared verifying keys of the rating circuits for one chunk size.
#[derive(Clone, Debug)]
pub struct RatingVerifier {
    keys: RatingKeySet,
    id: KeyId,
    chunk: PreparedKey,
    final_: PreparedKey,
    interval: PreparedKey,
}

impl RatingVerifier {
    /// Prepares `keys` for verification.
    pub fn new(keys: RatingKeySet) -> Self {
        let id = keys.id();
        let chunk = PreparedKey::new(&keys.chunk);
        let final_ = PreparedKey::new(&keys.final_);
        let interval = PreparedKey::new(&keys.interval);
        RatingVerifier { keys, id, chunk, final_, interval }
    }

    /// Reads a key set ([`RatingKeySet::to_bytes`]), refusing it unless it hashes to
    /// `expected` when given (the hash the registry publishes).
    pub fn from_bytes(bytes: &[u8], expected: Option<&FieldBytes>) -> Result<Self> {
        let keys = RatingKeySet::from_bytes(bytes)?;
        let found = keys.hash();
        if let Some(expected) = expected {
            if *expected != found {
                return Err(VerifyError::KeyHashMismatch {
                    expected: hex::encode(expected.0),
                    found: hex::encode(found.0),
                });
            }
        }
        Ok(Self::new(keys))
    }

    /// The keys.
    pub fn keys(&self) -> &RatingKeySet {
        &self.keys
    }

    /// The id (chunk size and hash) of the keys.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The prepared chunk key.
    pub fn chunk_key(&self) -> &PreparedKey {
        &self.chunk
    }

    /// The prepared key of `bundle`'s final proof: the interval key when it has no chunk
    /// proofs, else the final key.
    pub fn final_key(&self, bundle: &RatingProofBundle) -> &PreparedKey {
        bundle.final_proof_key(&self.final_, &self.interval)
    }

    /// Decodes every proof of `bundle` and derives its public inputs, refusing a bundle
    /// made under other keys.
    pub fn prepare(&self, bundle: &RatingProofBundle) -> Result<Vec<PreparedProof<'_>>> {
        if bundle.keys != self.id {
            return Err(VerifyError::WrongKeys {
                expected: hex::encode(self.id.hash.0),
                expected_chunk_size: self.id.chunk_size,
                found: hex::encode(bundle.keys.hash.0),
                found_chunk_size: bundle.keys.chunk_size,
            });
        }
        let chunk_inputs = bundle.chunk_public_inputs()?;
        let final_inputs = bundle.final_public_inputs()?;
        let mut out = Vec::with_capacity(bundle.proofs());
        for (chunk, inputs) in bundle.chunks.iter().zip(chunk_inputs) {
            out.push((&self.chunk, chunk.proof.to_proof()?, inputs.to_vec()));
        }
        out.push((self.final_key(bundle), bundle.final_proof.to_proof()?, final_inputs));
        Ok(out)
    }

    /// Verifies every proof of `bundle` with one final exponentiation.
    pub fn verify(&self, bundle: &RatingProofBundle) -> Result<()> {
        let mut batch = BatchVerifier::new();
        for (key, proof, inputs) in self.prepare(bundle)? {
            batch.add(key, proof, inputs)?;
        }
        if batch.verify() {
            Ok(())
        } else {
            Err(VerifyError::Invalid)
        }
    }

    /// Verifies many bundles in one batch (decoded in parallel, one final exponentiation
    /// for all); if the batch fails, each bundle is checked on its own so that only the bad
    /// ones are refused. Results are index-aligned with `bundles`.
    pub fn verify_many(&self, bundles: &[&RatingProofBundle]) -> Vec<Result<()>> {
        let prepared: Vec<Result<Vec<PreparedProof<'_>>>> =
            bundles.par_iter().map(|b| self.prepare(b)).collect();
        let mut batch = BatchVerifier::new();
        let mut results = Vec::with_capacity(bundles.len());
        for p in prepared {
            results.push(p.and_then(|proofs| {
                proofs
                    .into_iter()
                    .try_for_each(|(key, proof, inputs)| batch.add(key, proof, inputs))
            }));
        }
        if batch.is_empty() || batch.verify() {
            return results;
        }
        results
            .into_par_iter()
            .zip(bundles.par_iter())
            .map(|(result, bundle)| result.and_then(|()| self.verify(bundle)))
            .collect()
    }

    /// Checks that `bundle`'s statement says what the caller expects.
    pub fn check_statement(
        bundle: &RatingProofBundle,
        expected: &ExpectedRatingStatement,
    ) -> Result<()> {
        let s = &bundle.statement;
        let field = |f: &FieldBytes| f.to_field().map_err(VerifyError::from);
        let same = |what: &'static str, want: Option<Fr>, got: &FieldBytes| -> Result<()> {
            match want {
                Some(w) if field(got)? != w => Err(VerifyError::StatementMismatch(what)),
                _ => Ok(()),
            }
        };
        same("bilateral", expected.pseudonym, &s.pseudonym)?;
        same("billing interval", expected.interval, &s.interval)?;
        same("tariff", expected.tariff_commitment, &s.tariff_commitment)?;
        same("usage", expected.usage_commitment, &s.usage_commitment)?;
        // The commitment's encoding is canonical, so equal commitments have equal bytes:
        // decoding (a subgroup check on Baby Jubjub) is left to whoever needs the point.
        if let Some(c) = &expected.amount_commitment {
            if c.to_bytes() != s.amount_commitment.0 {
                return Err(VerifyError::StatementMismatch("amount commitment"));
            }
        }
        if let Some((amount, blinding)) = &expected.opening {
            if !s.amount_commitment()?.opens_to(*amount, blinding) {
                return Err(VerifyError::StatementMismatch("amount"));
            }
        }
        if let Some(fees) = expected.include_one_time_fees {
            if fees != s.include_one_time_fees {
                return Err(VerifyError::StatementMismatch("one-time fee option"));
            }
        }
        Ok(())
    }

    /// [`RatingVerifier::check_statement`] then [`RatingVerifier::verify`].
    pub fn verify_expected(
        &self,
        bundle: &RatingProofBundle,
        expected: &ExpectedRatingStatement,
    ) -> Result<()> {
        Self::check_statement(bundle, expected)?;
        self.verify(bundle)
    }
}
