//! The registry behind the consensus seam: its mempool, and the
//! [`omni_consensus::Application`] that turns decided blocks into committed state.
//!
//! ```text
//!  gRPC Submit ─check_tx─▶ Mempool ─(forwarded to the other validators' mempools)
//!                             │ reap ≤ max_block_txs
//!  Malachite ─GetValue─▶ RegistryApp::propose ─▶ Block{height, time, txs} bytes
//!  Malachite ─proposal─▶ RegistryApp::check_block (height, time, size, signatures)
//!  Malachite ─Decided──▶ RegistryApp::commit ─▶ Registry::execute_block ─▶ Store (atomic,
//!                             with the certificate) ─▶ answers the waiting Submits
//! ```
//!
//! Every validator executes every decided block with the same [`Registry::execute_block`]
//! and so reaches the same state root; transactions are re-checked there (a transaction
//! that passed the mempool may have become a replay), and a refusal is a result recorded
//! in the block, not a reason to reject the block.

use crate::block::{Block, Registry};
use crate::server::{Committed, Node};
use crate::tx::{SignedTx, TxHash};
use crate::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// Most transactions waiting in one validator's mempool.
pub const MEMPOOL_CAPACITY: usize = 20_000;

/// How far ahead of this validator's clock a proposed block's time may be, in seconds:
/// a proposer must not move the registry's clock (due dates, overdue invoices) forward.
pub const MAX_CLOCK_DRIFT_SECS: u64 = 30;

type Reply = oneshot::Sender<Result<Committed>>;

#[derive(Default)]
struct Pool {
    order: VecDeque<TxHash>,
    txs: HashMap<TxHash, Vec<u8>>,
    waiting: HashMap<TxHash, Vec<Reply>>,
}

/// Transactions waiting for a block, in arrival order, with the `Submit` calls waiting
/// for each.
pub(crate) struct Mempool {
    pool: Mutex<Pool>,
    arrived: Notify,
    forward: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

impl Mempool {
    /// A mempool; transactions from this validator's clients go to `forward` as well.
    pub(crate) fn new(forward: Option<mpsc::UnboundedSender<Vec<u8>>>) -> Mempool {
        Mempool { pool: Mutex::new(Pool::default()), arrived: Notify::new(), forward }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Pool>> {
        self.pool.lock().map_err(|_| Error::Server("mempool lock poisoned".into()))
    }

    /// Adds a checked transaction from a client; `reply` answers when it is committed.
    pub(crate) fn submit(&self, bytes: Vec<u8>, reply: Reply) -> Result<()> {
        let hash = SignedTx::hash_bytes(&bytes);
        {
            let mut pool = self.lock()?;
            if !pool.txs.contains_key(&hash) {
                if pool.txs.len() >= MEMPOOL_CAPACITY {
                    return Err(Error::Server("the mempool is full; retry later".into()));
                }
                pool.order.push_back(hash);
                pool.txs.insert(hash, bytes.clone());
            }
            pool.waiting.entry(hash).or_default().push(reply);
        }
        if let Some(forward) = &self.forward {
            let _ = forward.send(bytes);
        }
        self.arrived.notify_one();
        Ok(())
    }

    /// Adds transactions another validator forwarded (already checked there; checked
    /// again by whoever executes them).
    pub(crate) fn add_forwarded(&self, txs: Vec<Vec<u8>>) {
        let Ok(mut pool) = self.lock() else { return };
        for bytes in txs {
            let hash = SignedTx::hash_bytes(&bytes);
            if pool.txs.len() < MEMPOOL_CAPACITY && !pool.txs.contains_key(&hash) {
                pool.order.push_back(hash);
                pool.txs.insert(hash, bytes);
            }
        }
        drop(pool);
        self.arrived.notify_one();
    }

    /// The oldest `max` transactions (they stay until committed).
    fn reap(&self, max: usize) -> Vec<Vec<u8>> {
        let Ok(pool) = self.lock() else { return Vec::new() };
        pool.order.iter().filter_map(|h| pool.txs.get(h)).take(max).cloned().collect()
    }

    fn is_empty(&self) -> bool {
        self.lock().map(|p| p.txs.is_empty()).unwrap_or(true)
    }

    /// Removes committed transactions and answers their `Submit`s.
    fn committed(&self, results: Vec<(TxHash, Result<Committed>)>) {
        let Ok(mut pool) = self.lock() else { return };
        for (hash, result) in results {
            pool.txs.remove(&hash);
            for reply in pool.waiting.remove(&hash).unwrap_or_default() {
                let _ = reply.send(result.clone());
            }
        }
        let Pool { order, txs, .. } = &mut *pool;
        order.retain(|h| txs.contains_key(h));
    }
}

/// The registry as a consensus [`omni_consensus::Application`].
pub(crate) struct RegistryApp {
    pub(crate) node: Arc<Node>,
    pub(crate) max_block_txs: usize,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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
        if block.time > now_secs() + MAX_CLOCK_DRIFT_SECS {
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
        let registry_id = state.registry_id();
        for (i, tx) in block.txs.iter().enumerate() {
            SignedTx::from_bytes(tx)
                .and_then(|t| t.verify_signature(&registry_id))
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
        while self.node.mempool.is_empty() {
            let arrived = self.node.mempool.arrived.notified();
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                break;
            }
        }
        let txs = self.node.mempool.reap(self.max_block_txs);
        let last_time = self.registry().map(|r| r.state().time()).unwrap_or(0);
        let block = Block { height, time: now_secs().max(last_time), txs };
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
        self.node.mempool.add_forwarded(txs);
    }
}
