//! The rating-proof verifiers a registry validator runs, behind the state machine's seam
//! ([`crate::verification::ProofVerifier`]).
//!
//! [`Groth16RatingVerifier`] is the verifier a registry runs: it decodes each bundle,
//! checks that its statement names the submission's bilateral, interval and amount
//! commitment, and batch-verifies every proof of every bundle of the block with one final
//! exponentiation (`omni_verifier`), falling back to per-bundle checks only when the batch
//! fails. [`RememberingVerifier`] wraps it so that each validator verifies each proof once:
//! when its transaction enters the mempool, not again when its block executes.

use crate::verification::{ProofVerdict, ProofVerifier, SubmittedRatingStatement};
use omni_core::Hash32;
use omni_verifier::{
    bilateral_pseudonym, interval_field, ExpectedRatingStatement, RatingProofBundle,
    RatingVerifier, VerifyError,
};
use rayon::prelude::*;
use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

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
    fn bundle_for(claim: &SubmittedRatingStatement<'_>) -> Result<RatingProofBundle, String> {
        let bundle = RatingProofBundle::from_bytes(claim.bundle).map_err(|e| e.to_string())?;
        let expected = ExpectedRatingStatement {
            pseudonym: Some(bilateral_pseudonym(&claim.bilateral.0)),
            interval: Some(interval_field(&claim.interval.0)),
            ..ExpectedRatingStatement::default()
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
    fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict> {
        let decoded: Vec<Result<RatingProofBundle, String>> =
            claims.par_iter().map(Self::bundle_for).collect();
        let well_formed: Vec<&RatingProofBundle> =
            decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
        tracing::debug!(bundles = well_formed.len(), "verifying rating proofs");
        let verdicts = if self.batched {
            self.verifier.verify_many(&well_formed)
        } else {
            well_formed.iter().map(|b| self.verifier.verify(b)).collect()
        };
        let mut verdicts = verdicts.into_iter();
        decoded
            .iter()
            .map(|d| match d {
                Err(reason) => ProofVerdict::Refused(reason.clone()),
                Ok(_) => match verdicts.next() {
                    Some(verdict) => verdict.into(),
                    None => ProofVerdict::Refused("internal error: missing verdict".into()),
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

    fn rating_keys(&self) -> Option<Hash32> {
        Some(Hash32(self.verifier.key_id().hash.0))
    }
}

/// Most accepted claims a [`RememberingVerifier`] keeps: every transaction a full mempool
/// can hold (the mempool's capacity), twice over (checked when the crate compiles).
pub const REMEMBERED_CLAIMS: usize = 40_000;

/// A [`ProofVerifier`] that remembers which claims it accepted, so that a proof checked
/// when its transaction entered the mempool is not verified again when the block holding
/// it executes: each validator verifies each rating proof once, in batches, off the commit
/// path.
///
/// A claim is remembered by the SHA-256 of everything its verdict depends on (bilateral,
/// interval, amount commitment and bundle bytes; the verifying key is the inner
/// verifier's, fixed for its lifetime), so a remembered verdict is the verdict the inner
/// verifier gives those bytes — the [`ProofVerifier`] contract still holds. Only
/// acceptances are remembered (a refused claim costs its sender a fee-less retry, nothing
/// else), oldest forgotten first beyond [`REMEMBERED_CLAIMS`]. Each validator has its own:
/// nothing is trusted from another.
///
/// A claim one caller is verifying is not verified by another at the same time: the
/// second waits for the first's verdict. Under load a validator's mempool check and the
/// execution of a block holding the same invoices overlap (the proposer's clients sent
/// them; this validator was still checking the forwarded copies), and both verified the
/// same proofs: a fifth of all verifications in the 4-validator benchmark.
pub struct RememberingVerifier {
    inner: std::sync::Arc<dyn ProofVerifier>,
    accepted: crate::memory::DigestMemory,
    /// Claims some caller is verifying now.
    in_flight: Mutex<HashSet<Hash32>>,
    /// Notified when claims leave `in_flight`.
    settled: Condvar,
}

/// Takes a caller's claims out of [`RememberingVerifier`]'s in-flight set when it is done
/// with them, verdicts remembered or not (a panicking verifier must not leave the others
/// waiting).
struct InFlight<'a> {
    verifier: &'a RememberingVerifier,
    digests: Vec<Hash32>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.verifier.in_flight();
        for d in &self.digests {
            in_flight.remove(d);
        }
        drop(in_flight);
        self.verifier.settled.notify_all();
    }
}

impl RememberingVerifier {
    /// Remembers `inner`'s acceptances.
    pub fn new(inner: std::sync::Arc<dyn ProofVerifier>) -> Self {
        RememberingVerifier {
            inner,
            accepted: crate::memory::DigestMemory::new(REMEMBERED_CLAIMS),
            in_flight: Mutex::default(),
            settled: Condvar::new(),
        }
    }

    fn in_flight(&self) -> MutexGuard<'_, HashSet<Hash32>> {
        // A set of digests holds no invariant a panicking holder could break half-way.
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no other caller is verifying any of `digests`. The callers (a
    /// validator's mempool check, its block execution) are never rayon workers, so the
    /// verification waited for always has the pool's threads to finish on.
    fn wait_for(&self, digests: &[Hash32]) {
        let mut in_flight = self.in_flight();
        while digests.iter().any(|d| in_flight.contains(d)) {
            in_flight = self.settled.wait(in_flight).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Verifies the claims at `which` with the inner verifier, sets their `verdicts` and
    /// remembers the acceptances.
    fn verify_now(
        &self,
        claims: &[SubmittedRatingStatement<'_>],
        digests: &[Hash32],
        which: &[usize],
        verdicts: &mut [Option<ProofVerdict>],
    ) {
        if which.is_empty() {
            return;
        }
        let picked: Vec<SubmittedRatingStatement<'_>> = which.iter().map(|&i| claims[i]).collect();
        let mut fresh = self.inner.verify_batch(&picked);
        if fresh.len() != picked.len() {
            fresh = vec![
                ProofVerdict::Refused(
                    "the proof verifier returned a wrong number of verdicts".into()
                );
                picked.len()
            ];
        }
        self.accepted.insert(
            which.iter().zip(&fresh).filter(|(_, v)| v.is_verified()).map(|(&i, _)| digests[i]),
        );
        for (&i, verdict) in which.iter().zip(fresh) {
            verdicts[i] = Some(verdict);
        }
    }

    fn digest(claim: &SubmittedRatingStatement<'_>) -> Hash32 {
        let mut h = omni_core::hash::Hasher::new("omni/registry/accepted-claim");
        h.update_field(&claim.bilateral.0);
        h.update_field(claim.interval.0.as_bytes());
        h.update_field(&claim.amount_commitment.0);
        h.update_field(claim.bundle);
        h.finish()
    }
}

impl ProofVerifier for RememberingVerifier {
    fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict> {
        let digests: Vec<Hash32> = claims.par_iter().map(Self::digest).collect();
        let mut verdicts: Vec<Option<ProofVerdict>> = self
            .accepted
            .contains_each(&digests)
            .into_iter()
            .map(|k| k.then_some(ProofVerdict::Verified))
            .collect();
        // The unknown claims nobody else is verifying are this caller's to verify; for the
        // others it waits.
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        {
            let mut in_flight = self.in_flight();
            for (i, digest) in digests.iter().enumerate() {
                if verdicts[i].is_none() {
                    match in_flight.insert(*digest) {
                        true => mine.push(i),
                        false => theirs.push(i),
                    }
                }
            }
        }
        let flying =
            InFlight { verifier: self, digests: mine.iter().map(|&i| digests[i]).collect() };
        self.verify_now(claims, &digests, &mine, &mut verdicts);
        drop(flying);
        if !theirs.is_empty() {
            let their_digests: Vec<Hash32> = theirs.iter().map(|&i| digests[i]).collect();
            self.wait_for(&their_digests);
            // What the other caller accepted is remembered now; what it refused (or what
            // was forgotten meanwhile) is verified here, for its own refusal.
            let mut again = Vec::new();
            for (&i, accepted) in theirs.iter().zip(self.accepted.contains_each(&their_digests)) {
                match accepted {
                    true => verdicts[i] = Some(ProofVerdict::Verified),
                    false => again.push(i),
                }
            }
            self.verify_now(claims, &digests, &again, &mut verdicts);
        }
        verdicts
            .into_iter()
            .map(|v| v.unwrap_or_else(|| ProofVerdict::Refused("missing verdict".into())))
            .collect()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn rating_keys(&self) -> Option<Hash32> {
        self.inner.rating_keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{AmountCommitment, InvoiceId};
    use crate::verification::testing::{valid_bundle, StubRatingVerifier};
    use omni_core::IntervalId;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    /// The stub, counting the claims it is asked about; with `slow_first`, its first call
    /// takes a while.
    #[derive(Default)]
    struct Counting {
        claims: AtomicUsize,
        slow_first: bool,
        entered: AtomicBool,
    }

    impl ProofVerifier for Counting {
        fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict> {
            self.claims.fetch_add(claims.len(), Ordering::SeqCst);
            if !self.entered.swap(true, Ordering::SeqCst) && self.slow_first {
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            StubRatingVerifier.verify_batch(claims)
        }

        fn describe(&self) -> String {
            "counting stub".into()
        }
    }

    /// What the tests claim: an invoice's statement, and a bundle the stub accepts for it.
    struct Statement {
        invoice: InvoiceId,
        bilateral: Hash32,
        interval: IntervalId,
        commitment: AmountCommitment,
        good: Vec<u8>,
    }

    impl Statement {
        fn new() -> Self {
            let (bilateral, interval) = (Hash32([2; 32]), IntervalId("2026-10".into()));
            let commitment = crate::commitment::encode(&crate::commitment::commit_signed(
                5,
                &crate::commitment::Scalar::from(7u64),
            ));
            let good = valid_bundle(&bilateral, &interval, &commitment);
            Statement { invoice: InvoiceId(Hash32([1; 32])), bilateral, interval, commitment, good }
        }

        fn claim<'a>(&'a self, bundle: &'a [u8]) -> SubmittedRatingStatement<'a> {
            SubmittedRatingStatement {
                invoice: &self.invoice,
                bilateral: &self.bilateral,
                interval: &self.interval,
                amount_commitment: &self.commitment,
                bundle,
            }
        }
    }

    #[test]
    fn an_accepted_claim_is_not_verified_again_but_a_changed_or_refused_one_is() {
        let inner = Arc::new(Counting::default());
        let remembering = RememberingVerifier::new(inner.clone());
        let statement = Statement::new();
        let (good, bad) = (statement.claim(&statement.good), statement.claim(b"not a proof"));

        assert_eq!(remembering.verify_batch(&[good, bad]).len(), 2);
        assert_eq!(inner.claims.load(Ordering::SeqCst), 2);
        let again = remembering.verify_batch(&[good, bad]);
        assert!(again[0].is_verified() && !again[1].is_verified());
        // Only the refused claim went to the inner verifier again.
        assert_eq!(inner.claims.load(Ordering::SeqCst), 3);

        // The same bundle for another interval is another claim: verified (and refused).
        let other = IntervalId("2026-11".into());
        let moved = SubmittedRatingStatement { interval: &other, ..good };
        assert!(!remembering.verify_batch(&[moved])[0].is_verified());
        assert_eq!(inner.claims.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_claim_being_verified_is_waited_for_not_verified_twice() {
        let inner = Arc::new(Counting { slow_first: true, ..Counting::default() });
        let remembering = RememberingVerifier::new(inner.clone());
        let statement = Statement::new();
        let claims = [statement.claim(&statement.good), statement.claim(b"not a proof")];
        let (first, second) = std::thread::scope(|s| {
            let first = s.spawn(|| remembering.verify_batch(&claims));
            while !inner.entered.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            // The first caller is verifying both claims now.
            let second = remembering.verify_batch(&claims);
            (first.join().unwrap(), second)
        });
        for verdicts in [first, second] {
            assert!(verdicts[0].is_verified(), "{verdicts:?}");
            assert!(!verdicts[1].is_verified(), "{verdicts:?}");
        }
        // The accepted claim was verified once; the refused one again by the second
        // caller, for its own refusal.
        assert_eq!(inner.claims.load(Ordering::SeqCst), 3);
        assert!(remembering.in_flight().is_empty());
    }
}
