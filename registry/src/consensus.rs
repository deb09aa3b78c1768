//! The registry behind the consensus seam: the [`omni_consensus::Application`] that
//! proposes blocks from the mempool (`mempool`), checks proposals, and turns
//! decided blocks into committed state.
//!
//! ```text
//!  gRPC Submit ─▶ CheckQueue ─batch check─▶ Mempool ─(forwarded to the other validators,
//!  forwarded ──────▶ (signatures, state,          │       whose CheckQueues check them too)
//!                     proofs in one batch)        │ reap ≤ max_block_txs
//!  Malachite ─GetValue─▶ RegistryApp::propose ─▶ ChainedBlock{previous root, Block{height, time, txs}} bytes
//!  Malachite ─proposal─▶ RegistryApp::check_block (previous root, height, time, size, signatures)
//!  Malachite ─Decided──▶ RegistryApp::commit ─▶ Registry::execute_block ─▶ Store (atomic,
//!                             with the certificate) ─▶ answers the waiting Submits
//! ```
//!
//! What validators vote on is a [`ChainedBlock`]: the block and the state root of the
//! height before it. A validator votes only for a block chained to its own root, so
//! validators whose states differ cannot decide together; and a validator asked to
//! execute a decided block chained to another root than its own — its state diverged
//! from the two thirds that decided it — stops with an error (`Halt`) rather than
//! vote on from a state nobody else has. Stored blocks stay [`Block`]s; the root of the
//! height before is in the store's `roots`, from which a decided value is rebuilt for
//! peers that catch up.
//!
//! The mempool check (`validator::run_checks`) runs in batches: whatever arrived
//! while the last batch was being checked is checked together — prechecks (signature, membership, nonce) under the state
//! lock, then every rating proof in one batch verification outside it. The validator's
//! verifier remembers what it accepted ([`crate::proof::RememberingVerifier`]), so the
//! block that carries a checked invoice executes without verifying its proof again.
//!
//! Every validator executes every decided block with the same [`Registry::execute_block`]
//! and so reaches the same state root; transactions are re-checked there (a transaction
//! that passed the mempool may have become a replay), and a refusal is a result recorded
//! in the block, not a reason to reject the block.

use crate::block::{Block, Registry};
use crate::error::{Error, Result};
use crate::mempool::{Arrival, Committed};
use crate::tx::SignedTx;
use crate::validator::Node;
use omni_consensus::BlockRefusal;
use omni_core::Hash32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How far ahead of this validator's clock a proposed block's time may be, in seconds:
/// a proposer must not move the registry's clock (due dates, overdue invoices) forward.
pub const MAX_CLOCK_DRIFT_SECS: u64 = 30;

/// What validators vote on (module docs): a block and the state root it executes on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainedBlock {
    /// The state root after the previous height.
    pub previous_root: Hash32,
    /// The block.
    pub block: Block,
}

/// A consensus value's bytes as a [`ChainedBlock`].
fn decode_chained(bytes: &[u8]) -> Result<ChainedBlock> {
    omni_core::decode("ChainedBlock", bytes)
        .map_err(|e| Error::Server(format!("undecodable block: {e}")))
}

/// The registry as a consensus [`omni_consensus::Application`].
pub(crate) struct RegistryApp {
    pub(crate) node: Arc<Node>,
    pub(crate) max_block_txs: usize,
}

impl RegistryApp {
    fn registry(&self) -> Result<std::sync::RwLockReadGuard<'_, Registry>> {
        self.node.registry.read().map_err(|_| Error::Server("registry state lock poisoned".into()))
    }

    fn check(&self, height: u64, bytes: &[u8]) -> Result<Block> {
        let ChainedBlock { previous_root, block } = decode_chained(bytes)?;
        let registry = self.registry()?;
        let state = registry.state();
        if block.height != height || height != state.height() + 1 {
            return Err(Error::BlockHeight { last: state.height(), got: block.height });
        }
        if previous_root != state.state_root() {
            return Err(Error::StateRootMismatch {
                height,
                block: previous_root,
                ours: state.state_root(),
            });
        }
        if block.time < state.time() {
            return Err(Error::BlockTime { last: state.time(), got: block.time });
        }
        if block.time > self.node.clock.now() + MAX_CLOCK_DRIFT_SECS {
            return Err(Error::Server(format!("block time {} is in the future", block.time)));
        }
        if block.txs.len() > self.max_block_txs {
            return Err(Error::Server(format!(
                "{} transactions in a block, at most {}",
                block.txs.len(),
                self.max_block_txs
            )));
        }
        // Nobody can make a validly signed transaction for someone else: a block with a
        // forged or undecodable one came from a faulty proposer.
        for (i, tx) in block.txs.iter().enumerate() {
            SignedTx::from_bytes(tx)
                .and_then(|t| registry.verify_signature(&SignedTx::hash_bytes(tx), &t))
                .map_err(|e| Error::Server(format!("transaction {i}: {e}")))?;
        }
        Ok(block)
    }

    fn execute_and_commit(&self, chained: &ChainedBlock, certificate: &[u8]) -> Result<()> {
        let mut registry = self
            .node
            .registry
            .write()
            .map_err(|_| Error::Server("registry state lock poisoned".into()))?;
        let block = &chained.block;
        let ours = registry.state().state_root();
        if chained.previous_root != ours {
            // Decided by two thirds on another state than this validator's: it diverged.
            let e = Error::StateRootMismatch {
                height: block.height,
                block: chained.previous_root,
                ours,
            };
            self.node.halt.stop(e.to_string());
            return Err(e);
        }
        let outcome = registry.execute_block(block)?;
        if let Err(e) = self.node.store.commit_certified(block, &outcome, Some(certificate)) {
            // Not durable: back to what the store holds; consensus retries the height.
            let verifier = registry.verifier().clone();
            *registry = self.node.store.open_registry(None, verifier)?;
            return Err(e);
        }
        drop(registry);
        tracing::debug!(height = outcome.height, txs = outcome.results.len(), root = %outcome.state_root, "block committed");
        let results = outcome
            .results
            .into_iter()
            .map(|r| {
                let tx_hash = r.tx_hash;
                let result = r.result.map(|events| Committed {
                    tx_hash,
                    height: outcome.height,
                    time: outcome.time,
                    state_root: outcome.state_root,
                    events,
                });
                (tx_hash, result)
            })
            .collect();
        self.node.mempool.committed(results);
        self.node.committed.notify_waiters();
        Ok(())
    }
}

#[async_trait::async_trait]
impl omni_consensus::Application for RegistryApp {
    fn committed_height(&self) -> u64 {
        self.registry().map(|r| r.state().height()).unwrap_or(0)
    }

    async fn propose(&self, height: u64, max_wait: Duration) -> Vec<u8> {
        // A wake-up may be stale (a transaction that arrived, and was taken, before this
        // height): wait until there is something to propose or the time is up.
        let deadline = tokio::time::Instant::now() + max_wait;
        let started = Instant::now();
        while self.node.mempool.is_empty() {
            let arrived = self.node.mempool.arrived.notified();
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                break;
            }
        }
        let txs = self.node.mempool.reap(self.max_block_txs);
        let waited_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(height, txs = txs.len(), waited_ms, "proposing a block");
        let (last_time, previous_root) = self
            .registry()
            .map(|r| (r.state().time(), r.state().state_root()))
            .unwrap_or((0, Hash32::ZERO));
        let block = Block { height, time: self.node.clock.now().max(last_time), txs };
        omni_core::encode(&ChainedBlock { previous_root, block })
    }

    fn check_block(&self, height: u64, block: &[u8]) -> std::result::Result<(), BlockRefusal> {
        // A stopped validator votes on nothing any more.
        if let Some(reason) = self.node.halt.reason() {
            return Err(BlockRefusal::Unjudged(format!("this validator stopped: {reason}")));
        }
        match self.check(height, block) {
            Ok(_) => Ok(()),
            // Chained to another root than this validator's: whose state is wrong, this
            // validator cannot tell; it votes neither way, and if two thirds decide the
            // block, executing it stops this validator (`execute_and_commit`).
            Err(e @ Error::StateRootMismatch { .. }) => Err(BlockRefusal::Unjudged(e.to_string())),
            Err(e) => Err(BlockRefusal::Invalid(e.to_string())),
        }
    }

    fn commit(
        &self,
        height: u64,
        bytes: &[u8],
        certificate: Vec<u8>,
    ) -> std::result::Result<(), String> {
        let chained = decode_chained(bytes).map_err(|e| e.to_string())?;
        if chained.block.height != height {
            return Err(format!(
                "decided block says height {}, decided at {height}",
                chained.block.height
            ));
        }
        self.execute_and_commit(&chained, &certificate).map_err(|e| e.to_string())
    }

    fn decided(&self, height: u64) -> Option<(Vec<u8>, Vec<u8>)> {
        let block = self.node.store.block(height).ok()??.block;
        let (_, previous_root) = self.node.store.root_at(height.checked_sub(1)?).ok()??;
        let certificate = self.node.store.certificate(height).ok()??;
        Some((omni_core::encode(&ChainedBlock { previous_root, block }), certificate))
    }

    fn received_transactions(&self, txs: Vec<Vec<u8>>) {
        for bytes in txs {
            self.node.checks.push(Arrival::Forwarded(bytes));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::proof::RememberingVerifier;
    use crate::state::Genesis;
    use crate::store::Store;
    use crate::tx::Role;
    use crate::verification::testing::StubRatingVerifier;
    use omni_consensus::Application;
    use omni_core::Keypair;

    fn app(dir: &std::path::Path) -> RegistryApp {
        let genesis = Genesis {
            name: "chained".into(),
            time: 1,
            members: vec![(Keypair::from_seed([1; 32]).party(), Role::Admin)],
            rating_keys: None,
        };
        let store = Store::open(dir).unwrap();
        let verifier = Arc::new(RememberingVerifier::new(Arc::new(StubRatingVerifier)));
        let registry = store.open_registry(Some(&genesis), verifier).unwrap();
        RegistryApp { node: Arc::new(Node::for_tests(registry, store)), max_block_txs: 16 }
    }

    fn root(app: &RegistryApp) -> Hash32 {
        app.registry().unwrap().state().state_root()
    }

    /// A validator votes only for blocks chained to its own state root, rebuilds the very
    /// value it committed for peers that catch up, and stops when a decided block is
    /// chained to another root than its own.
    #[tokio::test]
    async fn blocks_are_chained_to_the_previous_state_root_and_a_diverged_validator_stops() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let genesis_root = root(&app);
        let proposed = app.propose(1, Duration::ZERO).await;
        let chained: ChainedBlock = omni_core::decode("ChainedBlock", &proposed).unwrap();
        assert_eq!(chained.previous_root, genesis_root);
        app.check_block(1, &proposed).unwrap();

        // Chained to another root: not voted for, and the reason names both roots.
        let other = Hash32([9; 32]);
        let forged = omni_core::encode(&ChainedBlock { previous_root: other, ..chained.clone() });
        let err = app.check_block(1, &forged).unwrap_err();
        assert!(matches!(err, BlockRefusal::Unjudged(_)), "{err}");
        let err = err.to_string();
        assert!(err.contains("diverged") && err.contains(&other.to_string()), "{err}");
        assert!(err.contains(&genesis_root.to_string()), "{err}");
        // A bare block (the value format before chaining) does not decode.
        assert!(matches!(
            app.check_block(1, &omni_core::encode(&chained.block)),
            Err(BlockRefusal::Invalid(_))
        ));

        app.commit(1, &proposed, b"certificate".to_vec()).unwrap();
        assert_ne!(root(&app), genesis_root);
        let (value, certificate) = app.decided(1).unwrap();
        assert_eq!(value, proposed, "the decided value is rebuilt byte for byte");
        assert_eq!(certificate, b"certificate");
        assert!(app.node.halt.reason().is_none());

        // Two thirds decided height 2 on a root this validator does not have: it stops,
        // executes nothing, and votes for nothing more.
        let height_1_root = root(&app);
        let block = Block { height: 2, time: chained.block.time, txs: vec![] };
        let diverged = omni_core::encode(&ChainedBlock { previous_root: other, block });
        let err = app.commit(2, &diverged, b"certificate".to_vec()).unwrap_err();
        assert!(err.contains("diverged"), "{err}");
        assert_eq!(root(&app), height_1_root);
        assert_eq!(app.committed_height(), 1);
        assert!(app.node.halt.reason().unwrap().contains("diverged"));
        let good = app.propose(2, Duration::ZERO).await;
        let err = app.check_block(2, &good).unwrap_err().to_string();
        assert!(err.contains("stopped"), "{err}");
        let stopped = tokio::time::timeout(Duration::from_secs(1), app.node.halt.stopped());
        assert!(stopped.await.unwrap().contains("diverged"));
    }
}
