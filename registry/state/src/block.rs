//! Blocks: how the consensus layer drives the state machine.
//!
//! A [`Block`] is an ordered list of transaction bytes with a height and a time agreed by
//! consensus. [`Registry::execute_block`] runs it through the [`RegistryState`]:
//!
//! 1. decode every transaction (malformed bytes get an error result, nothing else);
//! 2. verify all signatures, in parallel (rayon) — pure work, no state;
//! 3. hand **every** validly signed `SubmitInvoice` of the block to
//!    [`ProofVerifier::verify_batch`] at once, so that rating proofs are batch-verified;
//! 4. apply the transactions in order with those verdicts; a refused transaction leaves
//!    the state untouched and is recorded with its error;
//! 5. record the block's height and time, and return the results, the new state root and
//!    the changed entries for the store.
//!
//! Steps 2 and 3 depend only on the block's content, so their order and parallelism do
//! not affect the outcome: every validator computes the same [`BlockOutcome`].

use crate::error::{Error, Result};
use crate::memory::VerifiedSignatures;
use crate::state::{BlockContext, Event, Genesis, RegistryState, StateChange};
use crate::tx::{InvoiceSubmission, SignedTx, TxBody, TxHash};
use crate::verification::{invoice_proof_verdicts, ProofVerdict, ProofVerifier};
use omni_core::Hash32;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A block of transactions, as ordered by consensus.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Block {
    /// Height: the previous block's plus one (the genesis state is height 0).
    pub height: u64,
    /// Block time, UTC seconds; never before the previous block's.
    pub time: u64,
    /// Canonical transaction bytes ([`SignedTx::to_bytes`]).
    pub txs: Vec<Vec<u8>>,
}

impl Block {
    /// The block's hash.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest("omni/registry/block", &omni_core::encode(self))
    }
}

/// The result of one transaction of a block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TxOutcome {
    /// Hash of the transaction bytes.
    pub tx_hash: TxHash,
    /// Its events, or why it was refused (state unchanged).
    pub result: std::result::Result<Vec<Event>, Error>,
}

/// What executing a block produced.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BlockOutcome {
    /// The block's height.
    pub height: u64,
    /// The block's time.
    pub time: u64,
    /// The block's hash.
    pub block_hash: Hash32,
    /// One outcome per transaction, in block order.
    pub results: Vec<TxOutcome>,
    /// The state root after the block.
    pub state_root: Hash32,
    /// The state entries the block changed, for the store.
    pub changes: Vec<StateChange>,
}

/// The registry application: its state and the proof verifier it executes with. The
/// consensus layer calls [`Registry::precheck_tx`] and [`check_invoice_proofs`] (the
/// mempool check) and [`Registry::execute_block`] (decided blocks).
pub struct Registry {
    state: RegistryState,
    verifier: Arc<dyn ProofVerifier>,
    /// Signatures verified in the mempool check, not verified again by the proposal check
    /// or at execution.
    signatures: VerifiedSignatures,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("registry_id", &self.state.registry_id())
            .field("height", &self.state.height())
            .field("state_root", &self.state.state_root())
            .field("verifier", &self.verifier.describe())
            .finish()
    }
}

impl Registry {
    /// A registry at its genesis state. The genesis entries are pending in
    /// [`Registry::take_genesis_changes`].
    pub fn new(genesis: &Genesis, verifier: Arc<dyn ProofVerifier>) -> Result<Registry> {
        Ok(Registry::from_state(RegistryState::genesis(genesis)?, verifier))
    }

    /// A registry over a restored state.
    pub fn from_state(state: RegistryState, verifier: Arc<dyn ProofVerifier>) -> Registry {
        let signatures = VerifiedSignatures::new(state.registry_id());
        Registry { state, verifier, signatures }
    }

    /// The state (read-only).
    pub fn state(&self) -> &RegistryState {
        &self.state
    }

    /// The proof verifier.
    pub fn verifier(&self) -> &Arc<dyn ProofVerifier> {
        &self.verifier
    }

    /// The entries of the genesis state, once, for the store.
    pub fn take_genesis_changes(&mut self) -> Vec<StateChange> {
        self.state.take_changes()
    }

    /// Verifies the signature of `tx`, whose canonical bytes hash to `tx_hash`, unless
    /// this registry verified it before (`crate::memory`).
    pub fn verify_signature(&self, tx_hash: &TxHash, tx: &SignedTx) -> Result<()> {
        self.signatures.verify(tx_hash, tx)
    }

    /// The mempool check but for the rating proof: decodes `bytes` and checks signature,
    /// membership, role and that the nonce is not a replay, so that what can never
    /// execute is refused before it takes a place in a block. The mempool prechecks what
    /// arrived under the state lock, then verifies the proofs of all of it in one batch
    /// outside the lock ([`check_invoice_proofs`], which decodes each invoice's amount
    /// commitment and names it when it is at fault). Execution checks everything again.
    pub fn precheck_tx(&self, bytes: &[u8]) -> Result<SignedTx> {
        let tx = SignedTx::from_bytes(bytes)?;
        self.signatures.verify(&SignedTx::hash_bytes(bytes), &tx)?;
        self.state.check_sender_and_nonce(&tx)?;
        Ok(tx)
    }

    /// Executes a decided block (module docs). `Err` only if the block itself does not
    /// follow the state (height, time); transaction refusals are results.
    pub fn execute_block(&mut self, block: &Block) -> Result<BlockOutcome> {
        let (last, time) = (self.state.height(), self.state.time());
        if block.height != last + 1 {
            return Err(Error::BlockHeight { last, got: block.height });
        }
        if block.time < time {
            return Err(Error::BlockTime { last: time, got: block.time });
        }
        let ctx = BlockContext { height: block.height, time: block.time };

        // 1–2: decode and verify signatures in parallel.
        type Decoded = (TxHash, Result<SignedTx>, Result<()>);
        let decoded: Vec<Decoded> = block
            .txs
            .par_iter()
            .map(|bytes| {
                let hash = SignedTx::hash_bytes(bytes);
                match SignedTx::from_bytes(bytes) {
                    Ok(tx) => {
                        let sig = self.signatures.verify(&hash, &tx);
                        (hash, Ok(tx), sig)
                    }
                    Err(e) => (hash, Err(e), Ok(())),
                }
            })
            .collect();

        // 3: one batch for every signed SubmitInvoice of the block.
        let submissions: Vec<Option<&InvoiceSubmission>> = decoded
            .iter()
            .map(|(_, tx, sig)| match (tx, sig) {
                (Ok(tx), Ok(())) => invoice_of(tx),
                _ => None,
            })
            .collect();
        let verdicts = invoice_proof_verdicts(self.verifier.as_ref(), &submissions);
        drop(submissions);

        // 3b: the hop proofs of every signed compliance map, in parallel (their
        // structure is checked against the state when applied).
        let map_verdicts: Vec<Option<ProofVerdict>> = decoded
            .par_iter()
            .map(|(_, tx, sig)| match (tx, sig) {
                (Ok(tx), Ok(())) => crate::state::compliance::verify_map_proofs(&tx.body),
                _ => None,
            })
            .collect();

        // 4: apply in order.
        let mut results = Vec::with_capacity(decoded.len());
        let proofs = verdicts.into_iter().zip(map_verdicts);
        for ((tx_hash, tx, sig), (invoice, map)) in decoded.into_iter().zip(proofs) {
            let result =
                tx.and_then(|tx| self.state.apply_prechecked(&tx, &ctx, sig, invoice.or(map)));
            results.push(TxOutcome { tx_hash, result });
        }

        // 5: close the block.
        self.state.end_block(&ctx);
        Ok(BlockOutcome {
            height: block.height,
            time: block.time,
            block_hash: block.hash(),
            results,
            state_root: self.state.state_root(),
            changes: self.state.take_changes(),
        })
    }
}

/// The invoice a transaction submits, if it is a `SubmitInvoice`.
fn invoice_of(tx: &SignedTx) -> Option<&InvoiceSubmission> {
    match &tx.body {
        TxBody::SubmitInvoice(s) => Some(s),
        _ => None,
    }
}

/// The rating-proof verdict of each of `txs` (`Ok` for what is not an invoice), with every
/// invoice's proof in one [`ProofVerifier::verify_batch`]; a refusal names the amount
/// commitment when it is not a point of the subgroup.
pub fn check_invoice_proofs(verifier: &dyn ProofVerifier, txs: &[&SignedTx]) -> Vec<Result<()>> {
    let submissions: Vec<Option<&InvoiceSubmission>> =
        txs.iter().map(|tx| invoice_of(tx)).collect();
    let verdicts = invoice_proof_verdicts(verifier, &submissions);
    submissions
        .into_iter()
        .zip(verdicts)
        .map(|(s, verdict)| match (s, verdict) {
            (Some(s), Some(ProofVerdict::Refused(reason))) => {
                Err(crate::verification::refusal(s, reason))
            }
            _ => Ok(()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::Role;
    use crate::verification::testing::{stub_invoice, stub_invoice_id, StubRatingVerifier};
    use crate::verification::{RefuseAllProofs, SubmittedRatingStatement};
    use omni_core::Keypair;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts calls and claims, delegating to the stub.
    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
        claims: AtomicUsize,
    }

    impl ProofVerifier for Counting {
        fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.claims.fetch_add(claims.len(), Ordering::SeqCst);
            StubRatingVerifier.verify_batch(claims)
        }
        fn describe(&self) -> String {
            "counting".into()
        }
    }

    fn key(n: u8) -> Keypair {
        Keypair::from_seed([n; 32])
    }

    fn genesis() -> Genesis {
        Genesis {
            name: "block-test".into(),
            time: 1_000,
            members: vec![
                (key(1).party(), Role::Admin),
                (key(2).party(), Role::Member),
                (key(3).party(), Role::Member),
            ],
            rating_keys: None,
        }
    }

    fn submission(n: u64, good_proof: bool) -> TxBody {
        stub_invoice(n, key(2).party(), key(3).party(), good_proof)
    }

    #[test]
    fn a_block_batch_verifies_its_proofs_and_records_every_result() {
        let verifier = Arc::new(Counting::default());
        let g = genesis();
        let mut registry = Registry::new(&g, verifier.clone()).unwrap();
        let id = g.registry_id();
        let seller = key(2);
        let txs = vec![
            SignedTx::sign(&seller, &id, 0, submission(1, true)).to_bytes(),
            b"not a transaction".to_vec(),
            SignedTx::sign(&seller, &id, 1, submission(2, false)).to_bytes(),
            SignedTx::sign(&seller, &id, 1, submission(3, true)).to_bytes(),
            // Signed by the wrong key: no proof verification is spent on it.
            SignedTx {
                sender: key(3).party(),
                ..SignedTx::sign(&seller, &id, 0, submission(4, true))
            }
            .to_bytes(),
        ];
        let block = Block { height: 1, time: 2_000, txs };
        let outcome = registry.execute_block(&block).unwrap();
        assert_eq!(verifier.calls.load(Ordering::SeqCst), 1, "one batch per block");
        assert_eq!(verifier.claims.load(Ordering::SeqCst), 3);
        let ok: Vec<bool> = outcome.results.iter().map(|r| r.result.is_ok()).collect();
        assert_eq!(ok, vec![true, false, false, true, false]);
        assert!(matches!(outcome.results[1].result, Err(Error::MalformedTx(_))));
        assert!(matches!(outcome.results[2].result, Err(Error::ProofRejected { .. })));
        assert!(matches!(outcome.results[4].result, Err(Error::BadSignature { .. })));
        assert_eq!(outcome.state_root, registry.state().state_root());
        assert_eq!((registry.state().height(), registry.state().time()), (1, 2_000));
        assert_eq!(registry.state().invoice_count(), 2);
        assert!(!outcome.changes.is_empty());

        // Same block on a second replica: same root.
        let mut replica = Registry::new(&g, Arc::new(StubRatingVerifier)).unwrap();
        assert_eq!(replica.execute_block(&block).unwrap().state_root, outcome.state_root);
    }

    /// A block's encoding (its hash is what consensus decides on) and the state tables it
    /// writes (the rows a validator stores and the state root is computed over) are
    /// pinned: a change of either format fails here before it splits validators running
    /// two versions, or makes a stored registry unreadable.
    #[test]
    fn block_and_state_table_encodings_are_pinned() {
        let g = genesis();
        let mut registry = Registry::new(&g, Arc::new(StubRatingVerifier)).unwrap();
        let id = g.registry_id();
        let txs = vec![
            SignedTx::sign(&key(2), &id, 0, submission(1, true)).to_bytes(),
            SignedTx::sign(&key(3), &id, 0, TxBody::AcceptInvoice { invoice: stub_invoice_id(1) })
                .to_bytes(),
            SignedTx::sign(
                &key(1),
                &id,
                0,
                TxBody::AdmitMember { member: key(4).party(), role: Role::Financier },
            )
            .to_bytes(),
        ];
        let block = Block { height: 1, time: 2_000, txs };
        let outcome = registry.execute_block(&block).unwrap();
        assert!(outcome.results.iter().all(|r| r.result.is_ok()), "{:?}", outcome.results);
        let mut tables = omni_core::hash::Hasher::new("test/state-tables");
        for c in &outcome.changes {
            tables.update_field(c.table.as_bytes());
            tables.update_field(&c.key);
            tables.update_field(c.value.as_deref().unwrap_or(b"deleted"));
        }
        assert_eq!(
            (block.hash().to_hex(), tables.finish().to_hex(), outcome.state_root.to_hex()),
            (
                "bbfe55be67a4a1a855414c65e20b616d4a1bf050f4c364596d9fd1037073cf20".to_string(),
                "79dd2e2c8e35cc59e3b80c2a9faabca61e045762f4ae80e77db02c7883118426".to_string(),
                "007ff7416e94419d89962451c71e7ea062aa5984353d6714f142cec9d50ad04d".to_string()
            ),
            "the block or state-table format changed"
        );
    }

    /// Breaks the contract: one verdict too few.
    struct Short;

    impl ProofVerifier for Short {
        fn verify_batch(&self, claims: &[SubmittedRatingStatement<'_>]) -> Vec<ProofVerdict> {
            vec![ProofVerdict::Verified; claims.len().saturating_sub(1)]
        }

        fn describe(&self) -> String {
            "short".into()
        }
    }

    #[test]
    fn verdicts_keep_their_places_and_a_short_verifier_admits_nothing() {
        let bodies = [submission(1, true), submission(2, false), submission(3, true)];
        let invoices: Vec<&InvoiceSubmission> = bodies
            .iter()
            .map(|b| match b {
                TxBody::SubmitInvoice(s) => s,
                _ => unreachable!(),
            })
            .collect();
        let slots = [Some(invoices[0]), None, Some(invoices[1]), Some(invoices[2]), None];
        let verdicts = invoice_proof_verdicts(&StubRatingVerifier, &slots);
        let shape: Vec<Option<bool>> =
            verdicts.iter().map(|v| v.as_ref().map(ProofVerdict::is_verified)).collect();
        assert_eq!(shape, [Some(true), None, Some(false), Some(true), None]);
        let short = invoice_proof_verdicts(&Short, &slots);
        assert!(short
            .iter()
            .flatten()
            .all(|v| matches!(v, ProofVerdict::Refused(e) if e.contains("number"))));
        assert_eq!(short.iter().filter(|v| v.is_some()).count(), 3);
        assert!(invoice_proof_verdicts(&Short, &[None, None]).iter().all(Option::is_none));
    }

    #[test]
    fn blocks_must_follow_in_height_and_time() {
        let mut registry = Registry::new(&genesis(), Arc::new(RefuseAllProofs)).unwrap();
        let empty = |height, time| Block { height, time, txs: vec![] };
        assert!(matches!(registry.execute_block(&empty(2, 2_000)), Err(Error::BlockHeight { .. })));
        assert!(matches!(registry.execute_block(&empty(1, 999)), Err(Error::BlockTime { .. })));
        let root = registry.state().state_root();
        registry.execute_block(&empty(1, 1_000)).unwrap();
        // The height is part of the state.
        assert_ne!(registry.state().state_root(), root);
    }

    #[test]
    fn the_default_verifier_refuses_invoices_in_blocks() {
        let g = genesis();
        let mut registry = Registry::new(&g, Arc::new(RefuseAllProofs)).unwrap();
        let tx = SignedTx::sign(&key(2), &g.registry_id(), 0, submission(1, true));
        let outcome = registry
            .execute_block(&Block { height: 1, time: 1_000, txs: vec![tx.to_bytes()] })
            .unwrap();
        assert!(matches!(outcome.results[0].result, Err(Error::ProofRejected { .. })));
        assert_eq!(registry.state().invoice_count(), 0);
        assert_eq!(registry.state().next_nonce(&key(2).party()), 0);
        // The mempool check refuses it too, before it takes a place in a block.
        let prechecked = registry.precheck_tx(&tx.to_bytes()).unwrap();
        assert!(matches!(
            check_invoice_proofs(registry.verifier().as_ref(), &[&prechecked])[0],
            Err(Error::ProofRejected { .. })
        ));
        assert!(registry.precheck_tx(b"junk").is_err());
    }
}
