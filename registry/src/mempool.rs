//! A validator's mempool and the queue of transactions waiting for their check.
//!
//! ```text
//!  gRPC Submit ─▶ CheckQueue ─batch check (crate::validator)─▶ Mempool ─▶ block proposals
//!  forwarded ──────▶                                            │
//!                                        Committed ◀─ commit ───┘ answers the Submits
//! ```
//!
//! The mempool keeps checked transactions in arrival order, with the `Submit` calls
//! waiting for each, forwards this validator's clients' transactions to the other
//! validators (again after `FORWARD_AGAIN` while uncommitted), and answers each call
//! with where its transaction was committed (`Committed`).

use crate::error::{Error, Result};
use crate::state::Event;
use crate::tx::{SignedTx, TxHash};
use omni_core::Hash32;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Notify};

/// Most transactions waiting in one validator's mempool.
pub const MEMPOOL_CAPACITY: usize = 20_000;

// A validator remembers the signatures and proofs it checked for a full mempool, twice
// over; the sizes are fixed where they are used and checked here, when the crate compiles.
const _: () = assert!(crate::memory::REMEMBERED_SIGNATURES >= 2 * MEMPOOL_CAPACITY);
const _: () = assert!(crate::proof::REMEMBERED_CLAIMS >= 2 * MEMPOOL_CAPACITY);

/// Where a transaction was executed.
#[derive(Clone)]
pub(crate) struct Committed {
    pub(crate) tx_hash: TxHash,
    pub(crate) height: u64,
    pub(crate) time: u64,
    pub(crate) state_root: Hash32,
    pub(crate) events: Vec<Event>,
}

pub(crate) type Reply = oneshot::Sender<Result<Committed>>;

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
    /// Notified when transactions arrive.
    pub(crate) arrived: Notify,
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
    pub(crate) fn submit(&self, bytes: Vec<u8>, reply: Reply) {
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
    pub(crate) fn reap(&self, max: usize) -> Vec<Vec<u8>> {
        let Ok(pool) = self.lock() else { return Vec::new() };
        pool.order.iter().filter_map(|h| pool.txs.get(h)).take(max).cloned().collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().map(|p| p.txs.is_empty()).unwrap_or(true)
    }

    /// Removes committed transactions and answers their `Submit`s.
    pub(crate) fn committed(&self, results: Vec<(TxHash, Result<Committed>)>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
