//! The seam through which the registry verifies rating proofs.
//!
//! The registry admits an invoice only if its rating proof verifies against the invoice's
//! public inputs (DESIGN.md, "The proofs", 1): the bilateral pseudonym, the billing
//! interval and the amount commitment the transaction carries, plus the tariff and usage
//! commitments inside the bundle. Groth16 verification lives in `omni-verifier`; the
//! state machine sees it only through [`ProofVerifier`], called **once per block** with
//! every `SubmitInvoice` of the block, so that an implementation can batch-verify them
//! (one final exponentiation for the whole batch) and fall back to single verification
//! only to find which proofs of a failed batch are bad.
//!
//! [`Groth16RatingVerifier`] is the verifier a registry runs: it decodes each bundle,
//! checks that its statement names the submission's bilateral, interval and amount
//! commitment, and batch-verifies every proof of every bundle of the block with one final
//! exponentiation (`omni_verifier`), falling back to per-bundle checks only when the batch
//! fails. There is deliberately no verifier that accepts everything outside tests: the
//! default, [`RefuseAllProofs`], refuses every proof with a message saying that no
//! verifying key is configured.

use crate::tx::{AmountCommitment, InvoiceId, InvoiceSubmission};
use omni_core::{Hash32, IntervalId};
use omni_verifier::{
    bilateral_pseudonym, interval_field, ExpectedStatement, RatingProofBundle, RatingVerifier,
    VerifyError,
};
use rayon::prelude::*;

/// What one `SubmitInvoice` claims, for the verifier: the public inputs the registry
/// knows from the transaction, and the proof bundle that must prove them.
#[derive(Clone, Copy, Debug)]
pub struct InvoiceProofClaim<'a> {
    /// The invoice (for messages; not a public input).
    pub invoice: &'a InvoiceId,
    /// Bilateral pseudonym: public input.
    pub bilateral: &'a Hash32,
    /// Billing interval id: public input.
    pub interval: &'a IntervalId,
    /// Pedersen commitment to the amount: public input.
    pub amount_commitment: &'a AmountCommitment,
    /// The proof bundle bytes (the rating-proof issue's versioned format), which also
    /// carry the tariff and usage commitments.
    pub bundle: &'a [u8],
}

impl<'a> InvoiceProofClaim<'a> {
    /// The claim a submission makes.
    pub fn of(s: &'a InvoiceSubmission) -> InvoiceProofClaim<'a> {
        InvoiceProofClaim {
            invoice: &s.invoice,
            bilateral: &s.bilateral,
            interval: &s.interval,
            amount_commitment: &s.amount_commitment,
            bundle: &s.proof,
        }
    }
}

/// Verifies rating proofs for the state machine.
///
/// Contract, which every validator relies on to reach the same state:
/// - `verify_batch` returns exactly one verdict per claim, in order;
/// - a claim's verdict depends only on that claim and the configured verifying key,
///   never on the other claims of the batch (a failed batch check must be followed by
///   individual checks, not fail every claim);
/// - `Err(reason)` is a human-readable reason (malformed bundle, public inputs that do
///   not match the claim, proof does not verify, unknown verifying key).
pub trait ProofVerifier: Send + Sync {
    /// One verdict per claim, in order.
    fn verify_batch(&self, claims: &[InvoiceProofClaim<'_>]) -> Vec<Result<(), String>>;

    /// What this verifier checks against, for the status query (e.g. the verifying key's
    /// hash).
    fn describe(&self) -> String;
}

/// The default verifier: refuses every proof, because none can be checked without a
/// verifying key. A registry started without one admits no invoices.
#[derive(Clone, Copy, Debug, Default)]
pub struct RefuseAllProofs;

impl ProofVerifier for RefuseAllProofs {
    fn verify_batch(&self, claims: &[InvoiceProofClaim<'_>]) -> Vec<Result<(), String>> {
        claims
            .iter()
            .map(
                |_| Err("no rating-proof verifying key is configured on this registry".to_string()),
            )
            .collect()
    }

    fn describe(&self) -> String {
        "none: rating proofs are refused (no verifying key configured)".to_string()
    }
}

/// Groth16 verification of rating proofs under one set of verifying keys (module docs).
#[derive(Clone, Debug)]
pub struct Groth16RatingVerifier {
    verifier: RatingVerifier,
    batched: bool,
}

impl Groth16RatingVerifier {
    /// Verifies against `verifier`'s keys, batching every proof of a block.
    pub fn new(verifier: RatingVerifier) -> Self {
        Groth16RatingVerifier { verifier, batched: true }
    }

    /// Verifies each bundle on its own (one final exponentiation per bundle): the
    /// baseline batching is measured against (`omni bench registry`). Same verdicts.
    pub fn unbatched(verifier: RatingVerifier) -> Self {
        Groth16RatingVerifier { verifier, batched: false }
    }

    /// The bundle of a claim, if its statement is the claim's.
    fn bundle_for(claim: &InvoiceProofClaim<'_>) -> Result<RatingProofBundle, String> {
        let bundle = RatingProofBundle::from_bytes(claim.bundle).map_err(|e| e.to_string())?;
        let expected = ExpectedStatement {
            pseudonym: Some(bilateral_pseudonym(&claim.bilateral.0)),
            interval: Some(interval_field(&claim.interval.0)),
            ..ExpectedStatement::default()
        };
        RatingVerifier::check_statement(&bundle, &expected).map_err(|e| e.to_string())?;
        // Commitments encode canonically: the claim's is the statement's if the bytes are
        // equal, and the statement's is decoded (and checked to be a point of the prime
        // subgroup) once, where the proof's public inputs are derived from it.
        if bundle.statement.amount_commitment.0 != claim.amount_commitment.0 {
            return Err(VerifyError::StatementMismatch("amount commitment").to_string());
        }
        Ok(bundle)
    }
}

impl ProofVerifier for Groth16RatingVerifier {
    fn verify_batch(&self, claims: &[InvoiceProofClaim<'_>]) -> Vec<Result<(), String>> {
        let decoded: Vec<Result<RatingProofBundle, String>> =
            claims.par_iter().map(Self::bundle_for).collect();
        let well_formed: Vec<&RatingProofBundle> =
            decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
        let verdicts = if self.batched {
            self.verifier.verify_many(&well_formed)
        } else {
            well_formed.iter().map(|b| self.verifier.verify(b)).collect()
        };
        let mut verdicts = verdicts.into_iter();
        decoded
            .iter()
            .map(|d| match d {
                Err(reason) => Err(reason.clone()),
                Ok(_) => match verdicts.next() {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => Err(e.to_string()),
                    None => Err("internal error: missing verdict".into()),
                },
            })
            .collect()
    }

    fn describe(&self) -> String {
        let id = self.verifier.key_id();
        format!(
            "Groth16 rating proofs, verifying keys {} (chunk size {})",
            hex::encode(id.hash.0),
            id.chunk_size
        )
    }
}

/// Verifiers for tests of this crate. Not compiled into the library.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Accepts a bundle equal to [`valid_bundle`] of the claim's public inputs; refuses
    /// anything else. Stands in for Groth16 until the rating-proof issue plugs in.
    #[derive(Debug, Default)]
    pub(crate) struct StubRatingVerifier;

    /// The "proof" [`StubRatingVerifier`] accepts for the given public inputs.
    pub(crate) fn valid_bundle(
        bilateral: &Hash32,
        interval: &IntervalId,
        commitment: &AmountCommitment,
    ) -> Vec<u8> {
        omni_core::encode(&("stub-rating-proof", bilateral, interval, commitment))
    }

    impl ProofVerifier for StubRatingVerifier {
        fn verify_batch(&self, claims: &[InvoiceProofClaim<'_>]) -> Vec<Result<(), String>> {
            claims
                .iter()
                .map(|c| {
                    if c.bundle == valid_bundle(c.bilateral, c.interval, c.amount_commitment) {
                        Ok(())
                    } else {
                        Err("proof does not verify against the claimed public inputs".into())
                    }
                })
                .collect()
        }

        fn describe(&self) -> String {
            "test stub".into()
        }
    }
}
