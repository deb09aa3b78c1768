//! The registry behind the consensus seam: the [`omni_consensus::Application`] that
//! proposes blocks from the mempool (`mempool`), checks proposals, and turns
//! decided blocks into committed state.
//!
//! ```text
//!  gRPC Submit ─▶ CheckQueue ─batch check─▶ Mempool ─(forwarded to the other validators,
//!  forwarded ──────▶ (signatures, state,          │       whose CheckQueues check them too)
//!                     proofs in one batch)        │ reap ≤ max_block_txs
//!  Malachite ─GetValue─▶ RegistryApp::propose ─▶ Block{height, time, txs} bytes
//!  Malachite ─proposal─▶ RegistryApp::check_block (height, time, size, signatures)
//!  Malachite ─Decided──▶ RegistryApp::commit ─▶ Registry::execute_block ─▶ Store (atomic,
//!                             with the certificate) ─▶ answers the waiting Submits
//! ```
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
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How far ahead of this validator's clock a proposed block's time may be, in seconds:
/// a proposer must not move the registry's clock (due dates, overdue invoices) forward.
pub const MAX_CLOCK_DRIFT_SECS: u64 = 30;

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
        let block: Block = omni_core::decode("Block", bytes)
            .map_err(|e| Error::Server(format!("undecodable block: {e}")))?;
        let registry = self.registry()?;
        let state = registry.state();
        if block.height != height || height != state.height() + 1 {
            return Err(Error::BlockHeight { last: state.height(), got: block.height });
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

    fn execute_and_commit(&self, block: &Block, certificate: &[u8]) -> Result<()> {
        let mut registry = self
            .node
            .registry
            .write()
            .map_err(|_| Error::Server("registry state lock poisoned".into()))?;
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
        let last_time = self.registry().map(|r| r.state().time()).unwrap_or(0);
        let block = Block { height, time: self.node.clock.now().max(last_time), txs };
        omni_core::encode(&block)
    }

    fn check_block(&self, height: u64, block: &[u8]) -> std::result::Result<(), String> {
        self.check(height, block).map(|_| ()).map_err(|e| e.to_string())
    }

    fn commit(
        &self,
        height: u64,
        bytes: &[u8],
        certificate: Vec<u8>,
    ) -> std::result::Result<(), String> {
        let block: Block = omni_core::decode("Block", bytes).map_err(|e| e.to_string())?;
        if block.height != height {
            return Err(format!("decided block says height {}, decided at {height}", block.height));
        }
        self.execute_and_commit(&block, &certificate).map_err(|e| e.to_string())
    }

    fn decided(&self, height: u64) -> Option<(Vec<u8>, Vec<u8>)> {
        let block = self.node.store.block(height).ok()??;
        let certificate = self.node.store.certificate(height).ok()??;
        Some((omni_core::encode(&block.block), certificate))
    }

    fn received_transactions(&self, txs: Vec<Vec<u8>>) {
        for bytes in txs {
            self.node.checks.push(Arrival::Forwarded(bytes));
        }
    }
}
