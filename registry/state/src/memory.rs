//! What a validator remembers having checked, so that the same bytes are not checked
//! again on their way from the mempool into an executed block: a transaction is checked
//! when it arrives, again when a proposal holding it is voted on, and again when the
//! decided block executes. Each memory is a bounded set of SHA-256 digests of exactly the
//! bytes a verdict depends on, oldest forgotten first; only acceptances are kept, so a
//! remembered verdict is the verdict those bytes got. Each validator has its own: nothing
//! is taken from another.

use crate::tx::SignedTx;
use omni_core::Hash32;
use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A bounded set of digests, oldest forgotten first.
pub struct DigestMemory {
    capacity: usize,
    inner: Mutex<Digests>,
}

#[derive(Default)]
struct Digests {
    set: HashSet<Hash32>,
    order: VecDeque<Hash32>,
}

impl DigestMemory {
    /// Remembers at most `capacity` digests.
    pub fn new(capacity: usize) -> Self {
        DigestMemory { capacity, inner: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Digests> {
        // The set holds no invariant a panicking holder could break half-way.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether each of `digests` is remembered.
    pub fn contains_each(&self, digests: &[Hash32]) -> Vec<bool> {
        let inner = self.lock();
        digests.iter().map(|d| inner.set.contains(d)).collect()
    }

    /// Whether `digest` is remembered.
    pub fn contains(&self, digest: &Hash32) -> bool {
        self.lock().set.contains(digest)
    }

    /// Remembers `digests`, forgetting the oldest beyond the capacity.
    pub fn insert(&self, digests: impl IntoIterator<Item = Hash32>) {
        let mut inner = self.lock();
        for digest in digests {
            if inner.set.insert(digest) {
                inner.order.push_back(digest);
                if inner.order.len() > self.capacity {
                    if let Some(old) = inner.order.pop_front() {
                        inner.set.remove(&old);
                    }
                }
            }
        }
    }
}

/// Most verified signatures a validator remembers: every transaction a full mempool can
/// hold (the mempool's capacity), twice over (checked when the crate compiles).
pub const REMEMBERED_SIGNATURES: usize = 40_000;

/// Transactions whose signature this validator verified, by the hash of their canonical
/// bytes (which fix sender, nonce, body and signature; the registry id is the
/// registry's own, fixed for its lifetime).
pub struct VerifiedSignatures {
    registry_id: Hash32,
    verified: DigestMemory,
}

impl VerifiedSignatures {
    /// An empty memory for the registry `registry_id`.
    pub fn new(registry_id: Hash32) -> Self {
        VerifiedSignatures { registry_id, verified: DigestMemory::new(REMEMBERED_SIGNATURES) }
    }

    /// Verifies `tx`'s signature unless the transaction whose canonical bytes hash to
    /// `tx_hash` was verified before; remembers it when it verifies.
    pub fn verify(&self, tx_hash: &Hash32, tx: &SignedTx) -> crate::error::Result<()> {
        if self.verified.contains(tx_hash) {
            return Ok(());
        }
        tx.verify_signature(&self.registry_id)?;
        self.verified.insert([*tx_hash]);
        Ok(())
    }
}

impl std::fmt::Debug for VerifiedSignatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedSignatures").field("registry_id", &self.registry_id).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tx::TxBody;
    use omni_core::Keypair;

    #[test]
    fn a_verified_signature_is_remembered_a_forged_one_never() {
        let registry = Hash32::digest("test", b"registry");
        let memory = VerifiedSignatures::new(registry);
        let member = Keypair::from_seed([4; 32]);
        let body = TxBody::AnchorHead { bilateral: Hash32([1; 32]), seq: 1, head: Hash32([2; 32]) };
        let tx = SignedTx::sign(&member, &registry, 0, body);
        let hash = SignedTx::hash_bytes(&tx.to_bytes());
        memory.verify(&hash, &tx).unwrap();
        assert!(memory.verified.contains(&hash));

        // Another transaction's bytes under a hash not remembered: verified, and refused.
        let mut forged = tx.clone();
        forged.nonce = 1;
        let forged_hash = SignedTx::hash_bytes(&forged.to_bytes());
        assert!(memory.verify(&forged_hash, &forged).is_err());
        assert!(memory.verify(&forged_hash, &forged).is_err());
        assert!(!memory.verified.contains(&forged_hash));

        // Under another registry, the same transaction does not verify.
        let other = VerifiedSignatures::new(Hash32::digest("test", b"other"));
        assert!(other.verify(&hash, &tx).is_err());
    }

    #[test]
    fn the_oldest_digest_is_forgotten_first() {
        let memory = DigestMemory::new(2);
        memory.insert([Hash32([1; 32]), Hash32([2; 32]), Hash32([1; 32])]);
        memory.insert([Hash32([3; 32])]);
        assert_eq!(
            memory.contains_each(&[Hash32([1; 32]), Hash32([2; 32]), Hash32([3; 32])]),
            vec![false, true, true]
        );
    }
}
