//! One registry validator's shared parts, and the check of what enters its mempool.
//!
//! [`Node`] is what the gRPC API and the consensus application share: the registry's state
//! machine, its store, the mempool and the check queue in front of it. [`run_checks`]
//! checks what arrives in batches: prechecks (signature, membership, nonce) under the state
//! lock, then every rating proof in one batch verification outside it. The validator's
//! verifier remembers what it accepted ([`crate::proof::RememberingVerifier`]), so the
//! block that carries a checked invoice executes without verifying its proof again.

use crate::block::{check_invoice_proofs, Registry};
use crate::error::{Error, Result};
use crate::mempool::{Arrival, CheckQueue, Mempool};
use crate::store::Store;
use crate::tx::SignedTx;
use rayon::prelude::*;
use std::sync::{RwLock, Weak};
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

/// What the API and consensus share.
pub(crate) struct Node {
    pub(crate) registry: RwLock<Registry>,
    pub(crate) store: Store,
    pub(crate) mempool: Mempool,
    /// The mempool check in front of `mempool`.
    pub(crate) checks: CheckQueue,
    /// Notified after every committed block.
    pub(crate) committed: Notify,
    /// This validator's clock: the time of the blocks it proposes, the limit on a
    /// proposal's time, "now" for the queries that depend on it.
    pub(crate) clock: omni_core::Clock,
    /// Set when this validator must stop: its state diverged from what consensus decided.
    pub(crate) halt: std::sync::Arc<Halt>,
}

#[cfg(test)]
impl Node {
    /// A validator's node around `registry` and `store` for unit tests: no forwarding, no
    /// check queue reader, the system clock.
    pub(crate) fn for_tests(registry: Registry, store: Store) -> Node {
        Node {
            registry: RwLock::new(registry),
            store,
            mempool: Mempool::new(None),
            checks: CheckQueue::new().0,
            committed: Notify::new(),
            clock: omni_core::Clock::System,
            halt: Default::default(),
        }
    }
}

/// Why a validator stopped on its own, once it must (its state diverged from a decided
/// block's): it votes for nothing more, and `serve` shuts it down with the reason.
#[derive(Default)]
pub(crate) struct Halt {
    reason: std::sync::OnceLock<String>,
    notify: Notify,
}

impl Halt {
    /// Stops the validator for `reason` (the first reason given stays).
    pub(crate) fn stop(&self, reason: String) {
        tracing::error!("stopping this validator: {reason}");
        let _ = self.reason.set(reason);
        self.notify.notify_one();
    }

    /// Why it stopped, if it did.
    pub(crate) fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// Waits until it stops; answers why.
    pub(crate) async fn stopped(&self) -> String {
        loop {
            if let Some(r) = self.reason() {
                return r.to_string();
            }
            self.notify.notified().await;
        }
    }
}

/// Most transactions checked together (their proofs in one batch verification).
const CHECK_BATCH: usize = 256;

/// Checks what arrives in `queue`, in batches, and admits what passes to `node`'s mempool,
/// until `stop` is notified or every sender is gone. Holds the node only while a batch is
/// being checked.
pub(crate) async fn run_checks(
    node: Weak<Node>,
    mut queue: mpsc::Receiver<Arrival>,
    stop: std::sync::Arc<Notify>,
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
pub(crate) fn admit(node: &Node, batch: Vec<Arrival>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::RememberingVerifier;
    use crate::state::Genesis;
    use crate::tx::Role;
    use crate::verification::testing::{stub_invoice, StubRatingVerifier};
    use omni_core::Keypair;
    use std::sync::Arc;
    use tokio::sync::oneshot;

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
            rating_keys: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let verifier = Arc::new(RememberingVerifier::new(Arc::new(StubRatingVerifier)));
        let registry = store.open_registry(Some(&genesis), verifier).unwrap();
        let id = registry.state().registry_id();
        let node = Node::for_tests(registry, store);
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
}
