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
//! There is deliberately no verifier that accepts everything outside tests: the default,
//! [`RefuseAllProofs`], refuses every proof with a message saying that no verifying key is
//! configured.

use crate::tx::{AmountCommitment, InvoiceId, InvoiceSubmission};
use omni_core::{Hash32, IntervalId};

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
