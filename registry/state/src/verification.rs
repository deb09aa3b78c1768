//! The seam through which the registry's state machine verifies rating proofs.
//!
//! The registry admits an invoice only if its rating proof verifies against the invoice's
//! public inputs (docs/architecture.md, "The proofs", 1): the bilateral pseudonym, the
//! billing interval and the amount commitment the transaction carries, plus the tariff and
//! usage commitments inside the bundle. The state machine sees verification only through
//! [`ProofVerifier`], called **once per block** with every `SubmitInvoice` of the block, so
//! that an implementation can batch-verify them and fall back to single verification only
//! to find which proofs of a failed batch are bad. The implementations a validator runs
//! are in the server crate (`omni_registry::proof`). There is deliberately no verifier that accepts everything
//! outside tests: the default, [`RefuseAllProofs`], refuses every proof with a message
//! saying that no verifying key is configured.

use crate::tx::{AmountCommitment, InvoiceId, InvoiceSubmission};
use omni_core::{Hash32, IntervalId};

/// The rating statement one `SubmitInvoice` makes, as the registry knows it: the public
/// inputs it takes from the transaction, and the proof bundle whose
/// [`omni_circuits::bundle::RatingStatement`] must say the same.
#[derive(Clone, Copy, Debug)]
pub struct SubmittedRatingStatement<'a> {
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

impl<'a> SubmittedRatingStatement<'a> {
    /// The claim a submission makes.
    pub fn of(s: &'a InvoiceSubmission) -> SubmittedRatingStatement<'a> {
        SubmittedRatingStatement {
            invoice: &s.invoice,
            bilateral: &s.bilateral,
            interval: &s.interval,
            amount_commitment: &s.amount_commitment,
            bundle: &s.proof,
        }
    }
}

/// A verifier's answer on one proof: whether it shows what the transaction states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofVerdict {
    /// The proof verifies against the transaction's public inputs.
    Verified,
    /// It does not; the reason, in words for the submitter (malformed bundle, public
    /// inputs that differ from the transaction's, a proof that does not verify, an unknown
    /// verifying key).
    Refused(String),
}

impl ProofVerdict {
    /// Whether the proof verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, ProofVerdict::Verified)
    }

    /// `Ok` when verified, the reason of the refusal otherwise.
    pub fn into_result(self) -> Result<(), String> {
        match self {
            ProofVerdict::Verified => Ok(()),
            ProofVerdict::Refused(reason) => Err(reason),
        }
    }
}

impl<E: std::fmt::Display> From<Result<(), E>> for ProofVerdict {
    fn from(r: Result<(), E>) -> ProofVerdict {
        match r {
            Ok(()) => ProofVerdict::Verified,
            Err(e) => ProofVerdict::Refused(e.to_string()),
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
/// - an accepted claim's amount commitment is a point of the prime-order subgroup (a
///   rating proof computes it from the subgroup's generators, so the Groth16 verifier
///   vouches for it; the registry does not check it again on the admission path);
/// - [`ProofVerdict::Refused`] carries a human-readable reason (malformed bundle, public inputs that do
///   not match the claim, proof does not verify, unknown verifying key).
pub trait ProofVerifier: Send + Sync {
    /// One verdict per claim, in order.
    fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict>;

    /// What this verifier checks against, for the status query (e.g. the verifying key's
    /// hash).
    fn describe(&self) -> String;

    /// The hash of the rating verifying keys it verifies under, which a genesis naming
    /// keys ([`crate::state::Genesis::rating_keys`]) requires; `None` for a verifier
    /// without keys.
    fn rating_keys(&self) -> Option<Hash32> {
        None
    }
}

/// The rating-proof verdict of each of `submissions` (`None` where there is no invoice to
/// check), with every invoice's proof in one [`ProofVerifier::verify_batch`]. A verifier
/// that returns the wrong number of verdicts admits nothing. The mempool check, block
/// execution and [`crate::state::RegistryState::apply`] all collect their claims here.
pub fn invoice_proof_verdicts(
    verifier: &dyn ProofVerifier,
    submissions: &[Option<&InvoiceSubmission>],
) -> Vec<Option<ProofVerdict>> {
    let claims: Vec<SubmittedRatingStatement<'_>> =
        submissions.iter().flatten().map(|s| SubmittedRatingStatement::of(s)).collect();
    let mut verdicts = if claims.is_empty() { Vec::new() } else { verifier.verify_batch(&claims) };
    if verdicts.len() != claims.len() {
        verdicts = vec![
            ProofVerdict::Refused(
                "the proof verifier returned a wrong number of verdicts".into()
            );
            claims.len()
        ];
    }
    let mut verdicts = verdicts.into_iter();
    submissions.iter().map(|s| s.and_then(|_| verdicts.next())).collect()
}

/// The error for an invoice whose rating proof was refused for `reason`: the amount
/// commitment's own error when it is not a point of the subgroup (the admission path
/// decodes it without that check and leaves it to the proof, whose refusal then says
/// nothing about the commitment), [`crate::Error::ProofRejected`] otherwise.
pub fn refusal(s: &InvoiceSubmission, reason: String) -> crate::error::Error {
    match crate::commitment::decode(&s.amount_commitment) {
        Err(e) => e,
        Ok(_) => crate::error::Error::ProofRejected { invoice: s.invoice, reason },
    }
}

/// The default verifier: refuses every proof, because none can be checked without a
/// verifying key. A registry started without one admits no invoices.
#[derive(Clone, Copy, Debug, Default)]
pub struct RefuseAllProofs;

impl ProofVerifier for RefuseAllProofs {
    fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict> {
        let reason = "no rating-proof verifying key is configured on this registry";
        claims.iter().map(|_| ProofVerdict::Refused(reason.into())).collect()
    }

    fn describe(&self) -> String {
        "none: rating proofs are refused (no verifying key configured)".to_string()
    }
}

/// A stub verifier and invoices for tests (this crate's, and with the `test-utils`
/// feature other crates'): never in a production build.
#[cfg(any(test, feature = "test-utils"))]
pub mod testing {
    use super::*;
    use crate::commitment::{encode, PedersenCommitment, Scalar};
    use crate::tx::{AmountCommitment, InvoiceId, InvoiceSubmission, TxBody};
    use omni_core::{Currency, IntervalId, PartyId};

    /// The id of [`stub_invoice`] `n`.
    pub fn stub_invoice_id(n: u64) -> InvoiceId {
        InvoiceId(Hash32::digest("t", &n.to_be_bytes()))
    }

    /// Invoice `n` from `payee` to `payer`, with a bundle [`StubRatingVerifier`] accepts,
    /// or bytes it refuses.
    pub fn stub_invoice(n: u64, payee: PartyId, payer: PartyId, good_proof: bool) -> TxBody {
        let c: AmountCommitment = encode(&PedersenCommitment::commit(n, &Scalar::from(n + 99)));
        let bilateral = Hash32::digest("t", b"bilateral");
        let interval = IntervalId("2027-01".into());
        let proof = if good_proof { valid_bundle(&bilateral, &interval, &c) } else { vec![0] };
        TxBody::SubmitInvoice(InvoiceSubmission {
            invoice: stub_invoice_id(n),
            bilateral,
            interval,
            payer,
            payee,
            currency: Currency::EUR,
            amount_commitment: c,
            due_date: 5_000,
            proof,
        })
    }

    /// Accepts a bundle equal to [`valid_bundle`] of the claim's public inputs; refuses
    /// anything else. Stands in for Groth16 until the rating-proof issue plugs in.
    #[derive(Debug, Default)]
    pub struct StubRatingVerifier;

    /// The "proof" [`StubRatingVerifier`] accepts for the given public inputs.
    pub fn valid_bundle(
        bilateral: &Hash32,
        interval: &IntervalId,
        commitment: &AmountCommitment,
    ) -> Vec<u8> {
        omni_core::encode(&("stub-rating-proof", bilateral, interval, commitment))
    }

    impl ProofVerifier for StubRatingVerifier {
        fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict> {
            claims
                .iter()
                .map(|c| {
                    if crate::commitment::decode(c.amount_commitment).is_err() {
                        ProofVerdict::Refused("the amount commitment is not in the subgroup".into())
                    } else if c.bundle == valid_bundle(c.bilateral, c.interval, c.amount_commitment)
                    {
                        ProofVerdict::Verified
                    } else {
                        ProofVerdict::Refused(
                            "proof does not verify against the claimed public inputs".into(),
                        )
                    }
                })
                .collect()
        }

        fn describe(&self) -> String {
            "test stub".into()
        }
    }
}
