//! The registry behind the consensus seam: its mempool, and the
//! [`omni_consensus::Application`] that turns decided blocks into committed state.
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
//! The mempool check runs in batches: whatever arrived while the last batch was being
//! checked is checked together — prechecks (signature, membership, nonce) under the state
//! lock, then every rating proof in one batch verification outside it. The validator's
//! verifier remembers what it accepted ([`crate::proof::RememberingVerifier`]), so the
//! block that carries a checked invoice executes without verifying its proof again.
//!
//! Every validator executes every decided block with the same [`Registry::execute_block`]
//! and so reaches the same state root; transactions are re-checked there (a transaction
//! that passed the mempool may have become a replay), and a refusal is a result recorded
//! in the block, not a reason to reject the block.

use crate::block::{check_invoice_proofs, Block, Registry};
use crate::server::{Committed, Node};
use crate::tx::{SignedTx, TxHash};
use crate::{Error, Result};
use rayon::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
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
    /// When each of this validator's clients' transactions was last forwarded.
    forwarded: HashMap<TxHash, Instant>,
}

/// How long a client's transaction may wait uncommitted before it is forwarded again
/// ([`Mempool::to_forward_again`]).
pub(crate) const FORWARD_AGAIN: Duration = Duration::from_secs(1);

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

    /// Adds a checked transaction from a client; `reply` answers when it is committed
    /// (or at once, if the mempool is full).
    fn submit(&self, bytes: Vec<u8>, reply: Reply) {
        let hash = SignedTx::hash_bytes(&bytes);
        {
            let Ok(mut pool) = self.lock() else {
                let _ = reply.send(Err(Error::Server("mempool lock poisoned".into())));
                return;
            };
            if !pool.txs.contains_key(&hash) {
                if pool.txs.len() >= MEMPOOL_CAPACITY {
                    let _ = reply.send(Err(full()));
                    return;
                }
                pool.order.push_back(hash);
                pool.txs.insert(hash, bytes.clone());
                pool.forwarded.insert(hash, Instant::now());
            }
            pool.waiting.entry(hash).or_default().push(reply);
        }
        if let Some(forward) = &self.forward {
            let _ = forward.send(bytes);
        }
        self.arrived.notify_one();
    }

    /// Adds checked transactions another validator forwarded.
    fn add_forwarded(&self, txs: Vec<Vec<u8>>) {
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

    /// This validator's clients' transactions still waiting [`FORWARD_AGAIN`] after they
    /// were last forwarded, at most `max`, oldest first. A forward is best effort: a peer
    /// that was not connected (starting, restarting, behind a partition) or whose check
    /// queue was full never received it, and only a proposer that has a transaction can
    /// put it in a block.
    pub(crate) fn to_forward_again(&self, max: usize) -> Vec<Vec<u8>> {
        let Ok(mut pool) = self.lock() else { return Vec::new() };
        let now = Instant::now();
        let Pool { order, txs, forwarded, .. } = &mut *pool;
        let mut again = Vec::new();
        for hash in order.iter() {
            if again.len() >= max {
                break;
            }
            if let (Some(at), Some(bytes)) = (forwarded.get_mut(hash), txs.get(hash)) {
                if now.duration_since(*at) >= FORWARD_AGAIN {
                    *at = now;
                    again.push(bytes.clone());
                }
            }
        }
        again
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
            pool.forwarded.remove(&hash);
            for reply in pool.waiting.remove(&hash).unwrap_or_default() {
                let _ = reply.send(result.clone());
            }
        }
        let Pool { order, txs, .. } = &mut *pool;
        order.retain(|h| txs.contains_key(h));
    }
}

fn full() -> Error {
    Error::Server("the mempool is full; retry later".into())
}

/// Most transactions checked together (their proofs in one batch verification).
const CHECK_BATCH: usize = 256;

/// A transaction waiting for its mempool check.
pub(crate) enum Arrival {
    /// From this validator's client, answered through the reply when committed, or at
    /// once if refused.
    Client(Vec<u8>, Reply),
    /// Forwarded by another validator; dropped if refused.
    Forwarded(Vec<u8>),
}

/// The queue in front of the mempool (module docs).
pub(crate) struct CheckQueue(mpsc::Sender<Arrival>);

impl CheckQueue {
    /// A queue of at most [`MEMPOOL_CAPACITY`] transactions, and its receiving end for
    /// [`run_checks`].
    pub(crate) fn new() -> (CheckQueue, mpsc::Receiver<Arrival>) {
        let (tx, rx) = mpsc::channel(MEMPOOL_CAPACITY);
        (CheckQueue(tx), rx)
    }

    /// Queues a transaction for its check; a client's is refused when the queue is full.
    pub(crate) fn push(&self, arrival: Arrival) {
        if let Err(mpsc::error::TrySendError::Full(Arrival::Client(_, reply))) =
            self.0.try_send(arrival)
        {
            let _ = reply.send(Err(full()));
        }
    }
}

/// Checks what arrives in `queue`, in batches, and admits what passes to `node`'s mempool,
/// until `stop` is notified or every sender is gone. Holds the node only while a batch is
/// being checked.
pub(crate) async fn run_checks(
    node: Weak<Node>,
    mut queue: mpsc::Receiver<Arrival>,
    stop: Arc<Notify>,
) {
    loop {
        let first = tokio::select! {
            _ = stop.notified() => break,
            arrival = queue.recv() => match arrival {
                Some(a) => a,
                None => break,
            },
        };
        let mut batch = vec![first];
        while batch.len() < CHECK_BATCH {
            match queue.try_recv() {
                Ok(a) => batch.push(a),
                Err(_) => break,
            }
        }
        let Some(node) = node.upgrade() else { break };
        let (txs, started, queued) = (batch.len(), Instant::now(), queue.len());
        if let Err(e) = tokio::task::spawn_blocking(move || admit(&node, batch)).await {
            tracing::error!("mempool check failed: {e}");
        }
        tracing::debug!(txs, queued, ms = started.elapsed().as_millis() as u64, "mempool check");
    }
}

/// Checks `batch` and admits what passes; answers refused clients.
fn admit(node: &Node, batch: Vec<Arrival>) {
    let bytes: Vec<&[u8]> = batch
        .iter()
        .map(|a| match a {
            Arrival::Client(b, _) | Arrival::Forwarded(b) => b.as_slice(),
        })
        .collect();
    let verdicts = check_all(node, &bytes);
    drop(bytes);
    let mut forwarded = Vec::new();
    for (arrival, verdict) in batch.into_iter().zip(verdicts) {
        match (arrival, verdict) {
            (Arrival::Client(bytes, reply), Ok(())) => node.mempool.submit(bytes, reply),
            (Arrival::Client(_, reply), Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Arrival::Forwarded(bytes), Ok(())) => forwarded.push(bytes),
            (Arrival::Forwarded(_), Err(e)) => {
                tracing::debug!("refused a forwarded transaction: {e}");
            }
        }
    }
    if !forwarded.is_empty() {
        node.mempool.add_forwarded(forwarded);
    }
}

/// The mempool check of each of `txs`: [`Registry::precheck_tx`] under the state lock,
/// then every rating proof in one batch outside it ([`check_invoice_proofs`]).
fn check_all(node: &Node, txs: &[&[u8]]) -> Vec<Result<()>> {
    let (prechecked, verifier) = match node.registry.read() {
        Ok(registry) => {
            let prechecked: Vec<Result<SignedTx>> =
                txs.par_iter().map(|bytes| registry.precheck_tx(bytes)).collect();
            (prechecked, registry.verifier().clone())
        }
        Err(_) => {
            return txs
                .iter()
                .map(|_| Err(Error::Server("registry state lock poisoned".into())))
                .collect()
        }
    };
    let passed: Vec<&SignedTx> = prechecked.iter().filter_map(|r| r.as_ref().ok()).collect();
    let mut proofs = check_invoice_proofs(verifier.as_ref(), &passed).into_iter();
    drop(passed);
    prechecked.into_iter().map(|r| r.and_then(|_| proofs.next().unwrap_or(Ok(())))).collect()
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
        for (i, tx) in block.txs.iter().enumerate() {
            SignedTx::from_bytes(tx)
                .map_err(Error::from)
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
        for bytes in txs {
            self.node.checks.push(Arrival::Forwarded(bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::testing::{stub_invoice, StubRatingVerifier};
    use crate::proof::RememberingVerifier;
    use crate::state::Genesis;
    use crate::store::Store;
    use crate::tx::Role;
    use omni_core::Keypair;
    use std::sync::RwLock;

    #[test]
    fn a_batch_check_admits_the_good_drops_forwarded_garbage_and_answers_refused_clients() {
        let (admin, seller, buyer) =
            (Keypair::from_seed([1; 32]), Keypair::from_seed([2; 32]), Keypair::from_seed([3; 32]));
        let genesis = Genesis {
            name: "check-test".into(),
            time: 1,
            members: vec![
                (admin.party(), Role::Admin),
                (seller.party(), Role::Member),
                (buyer.party(), Role::Member),
            ],
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let verifier = Arc::new(RememberingVerifier::new(Arc::new(StubRatingVerifier)));
        let registry = store.open_registry(Some(&genesis), verifier).unwrap();
        let id = registry.state().registry_id();
        let (checks, _arrivals) = CheckQueue::new();
        let node = Node {
            registry: RwLock::new(registry),
            store,
            mempool: Mempool::new(None),
            checks,
            committed: Notify::new(),
        };
        let sign = |nonce, body| SignedTx::sign(&seller, &id, nonce, body).to_bytes();
        let good = sign(0, stub_invoice(1, seller.party(), buyer.party(), true));
        let forged_proof = sign(1, stub_invoice(2, seller.party(), buyer.party(), false));
        let mut forged_signature = sign(2, stub_invoice(3, seller.party(), buyer.party(), true));
        let last = forged_signature.len() - 1;
        forged_signature[last] ^= 1;
        let (reply, mut refused) = oneshot::channel();
        let (kept_reply, mut kept) = oneshot::channel();

        admit(
            &node,
            vec![
                Arrival::Forwarded(b"garbage".to_vec()),
                Arrival::Forwarded(forged_signature),
                Arrival::Client(forged_proof, reply),
                Arrival::Client(good.clone(), kept_reply),
            ],
        );
        assert_eq!(node.mempool.reap(10), vec![good]);
        match refused.try_recv() {
            Ok(Err(Error::ProofRejected { .. })) => {}
            other => panic!("the forged proof must be refused at once, got {:?}", other.is_ok()),
        }
        // The admitted one waits for its block.
        assert!(matches!(kept.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
    }

    #[test]
    fn a_clients_transaction_is_forwarded_again_until_committed_a_peers_never() {
        let (forward, mut forwarded) = mpsc::unbounded_channel();
        let mempool = Mempool::new(Some(forward));
        let (mine, theirs) = (b"client transaction".to_vec(), b"forwarded to us".to_vec());
        let (reply, _answer) = oneshot::channel();
        mempool.submit(mine.clone(), reply);
        mempool.add_forwarded(vec![theirs]);
        assert_eq!(forwarded.try_recv().unwrap(), mine, "forwarded once on arrival");
        assert!(mempool.to_forward_again(10).is_empty(), "not again before FORWARD_AGAIN");

        let hash = SignedTx::hash_bytes(&mine);
        let long_ago = Instant::now() - 2 * FORWARD_AGAIN;
        mempool.lock().unwrap().forwarded.insert(hash, long_ago);
        assert_eq!(mempool.to_forward_again(10), vec![mine], "only this validator's client's");
        assert!(mempool.to_forward_again(10).is_empty(), "then not before FORWARD_AGAIN again");

        mempool.lock().unwrap().forwarded.insert(hash, long_ago);
        mempool.committed(vec![(hash, Err(Error::Server("refused".into())))]);
        assert!(mempool.to_forward_again(10).is_empty(), "nothing once committed");
    }
}
