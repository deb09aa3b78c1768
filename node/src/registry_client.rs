//! The node's registry client: what this organisation tells the omni-lateral registry
//! (MEF 114 Smart Omni-Lateral), delivered through a persistent outbox.
//!
//! A node anchors its bilaterals' heads (R24), submits its invoices with their rating
//! proofs, accepts or disputes the invoices it owes, attests payments (R87–R89), opens
//! its net position in a netting cycle, submits supply-chain maps (R15) and publishes its
//! conformance declaration (R13). None of this may be lost because the registry is down,
//! slow or restarting, and none of it may reach the registry twice, so a submission is
//! first written to an **outbox** on disk and then delivered by a background task.
//!
//! ## Bird's eye view
//!
//! ```text
//!  node (gRPC API, demo, ledger hooks)
//!     │ RegistryClient::submit(TxBody) / anchor_head / submit_invoice / …
//!     ▼
//!  outbox (RocksDB, synced)   q ‖ id → Queued(body)          ◀─ durable before submit returns
//!     │ delivery task, strictly in id order (a sender's nonces are a sequence)
//!     ▼
//!  sign with the member's next nonce (GetMember) ──▶ q ‖ id → Signed(bytes)  (synced)
//!     │ gRPC Submit(bytes) — returns once the registry committed the block
//!     ├─ accepted ─────────────▶ delete q ‖ id                       (delivered)
//!     ├─ refused ──────────────▶ r ‖ id → RegistryRefusal, delete q ‖ id  (reason kept)
//!     └─ no answer / down ─────▶ keep; back off (doubling, capped); ask again
//! ```
//!
//! ## Why nothing is lost or sent twice
//!
//! * The signed bytes are stored **before** they are submitted. After a crash, a timeout
//!   or a lost reply the client does not know whether the registry has them, so it asks:
//!   `GetTx` on their hash. Found and accepted: the item was delivered (it is removed
//!   without a second submission). Found and refused: the registry's recorded reason is
//!   the refusal. Not found: if the registry still expects the same nonce, the **same
//!   bytes** are submitted again — should an earlier copy be in flight, the registry
//!   executes one and refuses the other as a nonce replay, which the next `GetTx`
//!   resolves; if the nonce moved on (another tool signed with the same key), the body is
//!   signed again with the new nonce: the old bytes can never execute any more.
//! * A refusal (the registry answers `INVALID_ARGUMENT`, `PERMISSION_DENIED`,
//!   `FAILED_PRECONDITION`, …) is checked the same way before it is believed, then
//!   recorded with the registry's code and message ([`RegistryClient::refusals`]) and the
//!   item leaves the outbox; a refused transaction does not consume a nonce, so later
//!   items still go. Anything else (connection refused, `UNAVAILABLE`, a deadline) is
//!   transient: the item stays at the head of the outbox and is retried with backoff.
//! * The outbox remembers the registry id it first delivered to and refuses to sign for
//!   another registry behind the same endpoint ([`Error::WrongRegistry`], reported by
//!   [`RegistryClient::status`]).
//!
//! One outbox per member key: the delivery task assumes it is the only writer of that
//! key's nonces (another writer only costs a re-signature, never a duplicate).
//!
//! ## Layout of the outbox directory
//!
//! | key | value |
//! |---|---|
//! | `q` ‖ id (8, BE) | canonical [`QueuedTx`]: the body, or the signed bytes once signed |
//! | `r` ‖ id (8, BE) | canonical [`RegistryRefusal`] |
//! | `k` ‖ fact (32) | the [`OutboxId`] a fact was queued as ([`RegistryClient::submit_once`]) |
//! | `n` ‖ fact (32) | when a fact was found to need no report: the registry already showed it ([`RegistryClient::record_moot`]) |
//! | `d` ‖ id (8, BE) | canonical [`Delivered`]: what the registry holds of it (the node's record of what it told the registry) |
//! | `m/next` | next [`OutboxId`] |
//! | `m/registry` | the registry id the outbox delivers to (pinned on first contact) |
//! | `m/delivered`, `m/found` | counters: delivered items, of which found already on the registry |

use crate::entry::BilateralId;
use omni_circuits::compliance::ComplianceMap;
use omni_core::{Hash32, Keypair, PartyId, Signature};
use omni_registry_types::tx::{
    Blinding, ConformanceDeclaration, CycleId, InvoiceId, InvoiceSubmission, SignedTx, TxBody,
    TxHash, MAX_STATEMENT_BYTES, MAX_TX_BYTES,
};
use omni_verifier::RatingProofBundle;
use rocksdb::{Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

pub use omni_registry_protocol::proto;
pub use omni_registry_types::RegistryInvoice;

use proto::registry_client::RegistryClient as RegistryRpc;

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong with the outbox, a submission or a delivery attempt.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RocksDB failed.
    #[error("registry outbox store: {0}")]
    Store(#[from] rocksdb::Error),
    /// A stored record does not decode.
    #[error("registry outbox is corrupt: {0}")]
    Corrupt(String),
    /// The registry endpoint is not a usable URI.
    #[error("registry endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The transaction cannot be valid whatever the registry's state (e.g. too large).
    #[error(transparent)]
    Transaction(#[from] omni_registry_types::Error),
    /// A field out of the range the registry accepts.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A call to the registry failed without an answer about the transaction: the
    /// registry is down, unreachable or did not answer in time. Delivery retries.
    #[error("registry {call}: {code:?}: {message}")]
    Rpc {
        /// The gRPC call.
        call: &'static str,
        /// The gRPC status code.
        code: Code,
        /// The message.
        message: String,
    },
    /// The registry's answer does not have the expected shape.
    #[error("registry {call}: malformed answer: {reason}")]
    BadAnswer {
        /// The gRPC call.
        call: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint serves another registry than the one this outbox delivers to.
    #[error("the endpoint serves registry {found}; this outbox delivers to registry {expected}")]
    WrongRegistry {
        /// The registry the outbox is pinned to.
        expected: Hash32,
        /// The registry the endpoint serves.
        found: Hash32,
    },
    /// The registry let the signer's nonce move past the transaction without executing
    /// it (another tool signed with the same key): it is signed again.
    #[error("nonce {signed} of transaction {tx} was taken; the registry expects {expected}: signing again")]
    NonceMoved {
        /// The transaction's hash.
        tx: TxHash,
        /// Its nonce.
        signed: u64,
        /// The registry's next nonce for the sender.
        expected: u64,
    },
    /// [`RegistryClient::start`] outside a tokio runtime.
    #[error("registry delivery needs a tokio runtime: {0}")]
    NoRuntime(String),
    /// [`RegistryClient::flush`] with submissions pending and no delivery task.
    #[error("{pending} registry submissions pending and delivery is not running (RegistryClient::start)")]
    NotRunning {
        /// Submissions in the outbox.
        pending: usize,
    },
    /// [`RegistryClient::flush`] ran out of time.
    #[error("{pending} registry submissions still pending after {waited:?}{}", last_error.as_ref().map(|e| format!("; last delivery error: {e}")).unwrap_or_default())]
    FlushTimeout {
        /// Submissions still in the outbox.
        pending: usize,
        /// How long it waited.
        waited: Duration,
        /// The last delivery error, if the last attempt failed.
        last_error: Option<String>,
    },
    /// The delivery task panicked.
    #[error("registry delivery task failed: {0}")]
    Task(String),
}

/// A submission's place in the outbox, in submission order.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct OutboxId(pub u64);

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A submission the registry refused: it left the outbox, the reason stays.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RegistryRefusal {
    /// The submission.
    pub id: OutboxId,
    /// The transaction kind (`TxBody::kind`).
    pub kind: String,
    /// Hash of the signed transaction (absent if it could not be decoded from the outbox).
    pub tx_hash: Option<TxHash>,
    /// The nonce it was signed with.
    pub nonce: Option<u64>,
    /// The registry's error code (`refused`, `unauthorized`, `not_found`, …) or the gRPC
    /// code name when the registry refused it before execution.
    pub code: String,
    /// The registry's reason, as it gave it.
    pub reason: String,
    /// When the refusal was recorded, UTC seconds.
    pub refused_at: u64,
}

/// A submission the registry executed and accepted: its transaction's hash, by which the
/// registry answers for it (`GetTx`: height, events).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Delivered {
    /// The submission.
    pub id: OutboxId,
    /// The transaction kind (`TxBody::kind`).
    pub kind: String,
    /// Hash of the signed transaction the registry accepted.
    pub tx_hash: TxHash,
    /// The nonce it carried.
    pub nonce: u64,
    /// When delivery was confirmed, UTC seconds.
    pub delivered_at: u64,
}

/// A submission as the outbox holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueuedTx {
    /// When it was submitted, UTC seconds.
    pub queued_at: u64,
    /// Its body, or the bytes it was last signed and submitted as.
    pub stage: Stage,
}

/// How far a queued submission got.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Stage {
    /// Not signed yet.
    Queued(TxBody),
    /// Signed (canonical [`SignedTx`] bytes) and possibly submitted: the registry is asked
    /// whether it has them before anything is submitted again.
    Signed(Vec<u8>),
}

/// Timeouts and backoff of the delivery task.
#[derive(Clone, Copy, Debug)]
pub struct DeliveryOptions {
    /// Longest wait for one registry call. `Submit` returns once the registry committed
    /// the block, so this bounds block production too.
    pub rpc_timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// First pause after a failed attempt; doubled after each further failure.
    pub initial_backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> DeliveryOptions {
        DeliveryOptions {
            rpc_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// A snapshot of the outbox and its delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Submissions waiting for delivery.
    pub pending: usize,
    /// Submissions delivered since the outbox was created.
    pub delivered: u64,
    /// Of those, the ones found already on the registry after a crash, a restart or a
    /// lost answer (not submitted again).
    pub found_on_registry: u64,
    /// Refusals on record.
    pub refused: usize,
    /// The registry the outbox delivers to, once it was reached.
    pub registry: Option<Hash32>,
    /// Whether a delivery task is running.
    pub running: bool,
    /// Why the last delivery attempt failed, if it did (cleared by the next success).
    pub last_error: Option<String>,
}

/// The fields of the first event of `kind` among `events` (the registry reports each event
/// as JSON, its fields under the event's name).
pub fn event_fields(events: &[proto::Event], kind: &str) -> Option<serde_json::Value> {
    let event = events.iter().find(|e| e.kind == kind)?;
    let v: serde_json::Value = serde_json::from_str(&event.json).ok()?;
    Some(v.get(kind).cloned().unwrap_or(v))
}

/// The registry id of bill `number` of `bilateral` ([`InvoiceId::for_bill`]).
pub fn registry_invoice_id(bilateral: &BilateralId, number: &str) -> InvoiceId {
    InvoiceId::for_bill(&bilateral.0, number)
}

const ITEM: u8 = b'q';
const REFUSAL: u8 = b'r';
const DELIVERED: u8 = b'd';
const FACT: u8 = b'k';
const MOOT: u8 = b'n';
const META_NEXT: &[u8] = b"m/next";
const META_REGISTRY: &[u8] = b"m/registry";
const META_DELIVERED: &[u8] = b"m/delivered";
const META_FOUND: &[u8] = b"m/found";

fn key(prefix: u8, id: OutboxId) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = prefix;
    k[1..].copy_from_slice(&id.0.to_be_bytes());
    k
}

fn fact_key(fact: &Hash32) -> [u8; 33] {
    prefixed(FACT, fact)
}

fn prefixed(prefix: u8, fact: &Hash32) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = prefix;
    k[1..].copy_from_slice(&fact.0);
    k
}

fn id_of(k: &[u8]) -> Result<OutboxId> {
    let bytes: [u8; 8] = k
        .get(1..9)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Corrupt(format!("outbox key of {} bytes", k.len())))?;
    Ok(OutboxId(u64::from_be_bytes(bytes)))
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    omni_core::decode(what, bytes).map_err(|e| Error::Corrupt(e.to_string()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent across a panic (plain counters and options).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The outbox and what the delivery task and the handles share.
struct Outbox {
    db: DB,
    key: Keypair,
    /// The registry's endpoints (its validators), tried in turn when one does not answer.
    endpoints: Vec<Endpoint>,
    /// The endpoint in use.
    current: std::sync::atomic::AtomicUsize,
    options: DeliveryOptions,
    /// Serialises submissions so that ids follow the order of `submit` calls.
    next_id: Mutex<u64>,
    pending: watch::Sender<usize>,
    wake: Notify,
    registry: Mutex<Option<Hash32>>,
    last_error: Mutex<Option<String>>,
    running: AtomicBool,
    delivered: AtomicU64,
    found: AtomicU64,
}

impl Outbox {
    /// The endpoint in use.
    fn endpoint(&self) -> &Endpoint {
        let i = self.current.load(Ordering::Relaxed) % self.endpoints.len();
        &self.endpoints[i]
    }

    /// Connects to the endpoint in use, or else to the others in turn; the first that
    /// answers becomes the one in use.
    async fn connect(&self) -> Result<Channel> {
        let first = self.current.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for k in 0..self.endpoints.len() {
            let i = (first + k) % self.endpoints.len();
            match self.endpoints[i].connect().await {
                Ok(channel) => {
                    if k > 0 {
                        tracing::info!(endpoint = %self.endpoints[i].uri(), "registry endpoint in use");
                    }
                    self.current.store(i, Ordering::Relaxed);
                    return Ok(channel);
                }
                Err(e) => failures.push(format!("{}: {e}", self.endpoints[i].uri())),
            }
        }
        Err(Error::Rpc { call: "connect", code: Code::Unavailable, message: failures.join("; ") })
    }

    /// Moves on to the next endpoint (the one in use stopped answering).
    fn next_endpoint(&self) {
        if self.endpoints.len() > 1 {
            self.current.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        Ok(self.db.write_opt(batch, &sync)?)
    }

    fn read_u64(db: &DB, key: &[u8]) -> Result<u64> {
        db.get(key)?.map(|v| decode("outbox counter", &v)).transpose().map(|v| v.unwrap_or(0))
    }

    /// The oldest queued submission.
    fn head(&self) -> Result<Option<(OutboxId, QueuedTx)>> {
        let mut it = self.db.iterator(IteratorMode::From(&[ITEM], Direction::Forward));
        match it.next().transpose()? {
            Some((k, v)) if k.first() == Some(&ITEM) => {
                Ok(Some((id_of(&k)?, decode("outbox item", &v)?)))
            }
            _ => Ok(None),
        }
    }

    fn store_signed(&self, id: OutboxId, queued_at: u64, bytes: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::default();
        let item = QueuedTx { queued_at, stage: Stage::Signed(bytes.to_vec()) };
        batch.put(key(ITEM, id), omni_core::encode(&item));
        self.write(batch)
    }

    fn delivered(&self, record: &Delivered, found_on_registry: bool) -> Result<()> {
        let delivered = self.delivered.load(Ordering::SeqCst) + 1;
        let found = self.found.load(Ordering::SeqCst) + u64::from(found_on_registry);
        let mut batch = WriteBatch::default();
        batch.delete(key(ITEM, record.id));
        batch.put(key(DELIVERED, record.id), omni_core::encode(record));
        batch.put(META_DELIVERED, omni_core::encode(&delivered));
        batch.put(META_FOUND, omni_core::encode(&found));
        self.write(batch)?;
        self.delivered.store(delivered, Ordering::SeqCst);
        self.found.store(found, Ordering::SeqCst);
        self.pending.send_modify(|p| *p = p.saturating_sub(1));
        Ok(())
    }

    fn refused(&self, refusal: &RegistryRefusal) -> Result<()> {
        tracing::warn!(id = %refusal.id, kind = %refusal.kind, code = %refusal.code, "registry refused: {}", refusal.reason);
        let mut batch = WriteBatch::default();
        batch.delete(key(ITEM, refusal.id));
        batch.put(key(REFUSAL, refusal.id), omni_core::encode(refusal));
        self.write(batch)?;
        self.pending.send_modify(|p| *p = p.saturating_sub(1));
        Ok(())
    }

    fn set_last_error(&self, e: Option<String>) {
        *lock(&self.last_error) = e;
    }
}

/// Stops the delivery task when the last handle goes.
struct Handle {
    outbox: Arc<Outbox>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The node's registry client: a persistent outbox of registry transactions and the task
/// that delivers them (module docs). Cheap to clone; clones share the outbox.
#[derive(Clone)]
pub struct RegistryClient {
    handle: Arc<Handle>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.handle.outbox;
        write!(
            f,
            "RegistryClient({}, member {}, {} pending)",
            o.endpoint().uri(),
            o.key.party(),
            *o.pending.borrow()
        )
    }
}

impl RegistryClient {
    /// Opens (or creates) the outbox in `dir` for member `keypair`, delivering to the
    /// registry at `registry_endpoint` (e.g. `http://127.0.0.1:7400`), with the default
    /// [`DeliveryOptions`]. Nothing is delivered until [`RegistryClient::start`].
    pub fn open(
        dir: impl AsRef<Path>,
        keypair: Keypair,
        registry_endpoint: String,
    ) -> Result<RegistryClient> {
        Self::open_with(dir, keypair, registry_endpoint, DeliveryOptions::default())
    }

    /// The registry endpoint the outbox delivers to now.
    pub fn endpoint(&self) -> String {
        self.outbox().endpoint().uri().to_string()
    }

    /// [`RegistryClient::open`] with explicit timeouts and backoff.
    pub fn open_with(
        dir: impl AsRef<Path>,
        keypair: Keypair,
        registry_endpoint: String,
        options: DeliveryOptions,
    ) -> Result<RegistryClient> {
        Self::open_endpoints(dir, keypair, &[registry_endpoint], options)
    }

    /// [`RegistryClient::open_with`] for a registry reached at several endpoints (its
    /// validators' APIs): delivery uses one and moves on to the next, in turn, when it
    /// does not answer. All must serve the same registry (the outbox pins its id).
    pub fn open_endpoints(
        dir: impl AsRef<Path>,
        keypair: Keypair,
        registry_endpoints: &[String],
        options: DeliveryOptions,
    ) -> Result<RegistryClient> {
        if registry_endpoints.is_empty() {
            return Err(Error::Endpoint {
                endpoint: String::new(),
                reason: "no registry endpoint given".into(),
            });
        }
        let mut endpoints = Vec::with_capacity(registry_endpoints.len());
        for registry_endpoint in registry_endpoints {
            let invalid =
                |reason: String| Error::Endpoint { endpoint: registry_endpoint.clone(), reason };
            let endpoint = Endpoint::from_shared(registry_endpoint.clone())
                .map_err(|e| invalid(e.to_string()))?;
            match endpoint.uri().scheme_str() {
                Some("http") | Some("https") if endpoint.uri().host().is_some() => {}
                _ => return Err(invalid("expected http://HOST:PORT or https://HOST:PORT".into())),
            }
            endpoints.push(
                endpoint.connect_timeout(options.connect_timeout).timeout(options.rpc_timeout),
            );
        }
        let dir: PathBuf = dir.as_ref().into();
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        let db = DB::open(&db_options, &dir)?;
        let next = Self::scan(&db)?;
        let registry = db
            .get(META_REGISTRY)?
            .map(|v| decode::<Hash32>("outbox registry id", &v))
            .transpose()?;
        let delivered = Outbox::read_u64(&db, META_DELIVERED)?;
        let found = Outbox::read_u64(&db, META_FOUND)?;
        let (pending, _) = watch::channel(next.1);
        let outbox = Outbox {
            db,
            key: keypair,
            endpoints,
            current: std::sync::atomic::AtomicUsize::new(0),
            options,
            next_id: Mutex::new(next.0),
            pending,
            wake: Notify::new(),
            registry: Mutex::new(registry),
            last_error: Mutex::new(None),
            running: AtomicBool::new(false),
            delivered: AtomicU64::new(delivered),
            found: AtomicU64::new(found),
        };
        let (stop, _) = watch::channel(false);
        tracing::info!(dir = %dir.display(), pending = next.1, "registry outbox opened");
        Ok(RegistryClient {
            handle: Arc::new(Handle { outbox: Arc::new(outbox), stop, task: Mutex::new(None) }),
        })
    }

    /// The next id (after every id ever used) and the number of queued items; checks
    /// that every stored record decodes.
    fn scan(db: &DB) -> Result<(u64, usize)> {
        let mut next = Outbox::read_u64(db, META_NEXT)?;
        let mut pending = 0;
        for kv in db.iterator(IteratorMode::Start) {
            let (k, v) = kv?;
            match k.first() {
                Some(&ITEM) => {
                    let _: QueuedTx = decode("outbox item", &v)?;
                    next = next.max(id_of(&k)?.0 + 1);
                    pending += 1;
                }
                Some(&REFUSAL) | Some(&DELIVERED) => next = next.max(id_of(&k)?.0 + 1),
                _ => {}
            }
        }
        Ok((next, pending))
    }

    fn outbox(&self) -> &Outbox {
        &self.handle.outbox
    }

    /// The member key the client signs with.
    pub fn member(&self) -> PartyId {
        self.outbox().key.party()
    }

    /// Queues `body` for delivery. It is on disk (synced) when this returns `Ok`; it
    /// is refused here only if no registry could accept it (it would exceed
    /// [`MAX_TX_BYTES`] once signed).
    pub fn submit(&self, body: TxBody) -> Result<OutboxId> {
        self.queue(None, body).map(|(id, _)| id)
    }

    /// Queues `body` as the report of `fact` (a hash naming what is reported, e.g. "this
    /// invoice was accepted"), unless that fact was queued before — by this process or an
    /// earlier one: the marker is written in the same synced batch as the item. Returns
    /// the submission and whether it is new.
    pub fn submit_once(&self, fact: &Hash32, body: TxBody) -> Result<(OutboxId, bool)> {
        self.queue(Some(fact), body)
    }

    /// Whether `fact` was queued ([`RegistryClient::submit_once`]), and as which submission.
    pub fn reported(&self, fact: &Hash32) -> Result<Option<OutboxId>> {
        let db = &self.outbox().db;
        db.get(fact_key(fact))?.map(|v| decode("outbox fact", &v)).transpose()
    }

    /// Records that `fact` needs no report because the registry already shows what it
    /// would say (an invoice the registry recorded paid in a netting cycle needs no payment
    /// notice), so that it is not looked at again, by this process or a later one.
    pub fn record_moot(&self, fact: &Hash32) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put(prefixed(MOOT, fact), omni_core::encode(&omni_core::Clock::System.now()));
        self.outbox().write(batch)
    }

    /// Whether `fact` was recorded as needing no report ([`RegistryClient::record_moot`]).
    pub fn is_moot(&self, fact: &Hash32) -> Result<bool> {
        Ok(self.outbox().db.get(prefixed(MOOT, fact))?.is_some())
    }

    /// A gRPC client of the registry behind the outbox's endpoint, for queries (it
    /// connects on first use).
    pub fn query_client(&self) -> RegistryRpc<Channel> {
        RegistryRpc::new(self.outbox().endpoint().connect_lazy())
    }

    fn queue(&self, fact: Option<&Hash32>, body: TxBody) -> Result<(OutboxId, bool)> {
        let outbox = self.outbox();
        // The signed transaction's size, with the largest nonce encoding.
        let size = omni_core::encode(&(self.member(), u64::MAX, &body, Signature([0; 64]))).len();
        if size > MAX_TX_BYTES {
            return Err(omni_registry_types::Error::TxTooLarge { size, max: MAX_TX_BYTES }.into());
        }
        let kind = body.kind();
        let item =
            QueuedTx { queued_at: omni_core::Clock::System.now(), stage: Stage::Queued(body) };
        let mut next = lock(&outbox.next_id);
        if let Some(fact) = fact {
            if let Some(id) = self.reported(fact)? {
                return Ok((id, false));
            }
        }
        let id = OutboxId(*next);
        let mut batch = WriteBatch::default();
        batch.put(key(ITEM, id), omni_core::encode(&item));
        if let Some(fact) = fact {
            batch.put(fact_key(fact), omni_core::encode(&id));
        }
        batch.put(META_NEXT, omni_core::encode(&(id.0 + 1)));
        outbox.write(batch)?;
        *next += 1;
        drop(next);
        outbox.pending.send_modify(|p| *p += 1);
        outbox.wake.notify_one();
        tracing::debug!(%id, kind, "queued for the registry");
        Ok((id, true))
    }

    /// Anchors this member's view of a bilateral's head (R24): its sequence number and
    /// hash. Either party may do it alone, so the counterparty cannot censor the ledger.
    pub fn anchor_head(&self, bilateral: &BilateralId, seq: u64, head: Hash32) -> Result<OutboxId> {
        self.submit(TxBody::AnchorHead { bilateral: bilateral.0, seq, head })
    }

    /// Submits an invoice with its rating proof (the seller). The amount commitment is
    /// the bundle's; the bundle must prove the invoice's bilateral and interval, or it is
    /// refused here rather than by the registry.
    pub fn submit_invoice(
        &self,
        invoice: RegistryInvoice,
        bundle: &RatingProofBundle,
    ) -> Result<OutboxId> {
        self.submit(TxBody::SubmitInvoice(InvoiceSubmission::proven(invoice, bundle)?))
    }

    /// Accepts an invoice this member owes (the payer).
    pub fn accept_invoice(&self, invoice: InvoiceId) -> Result<OutboxId> {
        self.submit(TxBody::AcceptInvoice { invoice })
    }

    /// Disputes an invoice this member owes; `reason` is the hash of the dispute entry on
    /// the bilateral ledger, where the dispute is resolved.
    pub fn dispute_invoice(&self, invoice: InvoiceId, reason: Hash32) -> Result<OutboxId> {
        self.submit(TxBody::DisputeInvoice { invoice, reason })
    }

    /// States that this member paid an invoice (R87): value date and the hash of the
    /// payment record both parties hold.
    pub fn payment_notice(
        &self,
        invoice: InvoiceId,
        paid_at: u64,
        payment_ref: Hash32,
    ) -> Result<OutboxId> {
        self.submit(TxBody::PaymentNotice { invoice, paid_at, payment_ref })
    }

    /// Confirms the payment the payer noticed (R88–R89), naming the same payment record.
    pub fn payment_receipt(&self, invoice: InvoiceId, payment_ref: Hash32) -> Result<OutboxId> {
        self.submit(TxBody::PaymentReceipt { invoice, payment_ref })
    }

    /// Joins (consents to) a netting cycle this member was invited to.
    pub fn join_netting_cycle(&self, cycle: CycleId) -> Result<OutboxId> {
        self.submit(TxBody::JoinNettingCycle { cycle })
    }

    /// Opens this member's net position in a netting cycle: the amount (positive: it is
    /// owed) and the blinding of its receivable minus payable commitments.
    pub fn net_opening(&self, cycle: CycleId, amount: i64, blinding: Blinding) -> Result<OutboxId> {
        self.submit(TxBody::SubmitNetOpening { cycle, amount, blinding })
    }

    /// Confirms that the transfer of a settlement instruction arrived (its receiver).
    pub fn confirm_settlement(&self, cycle: CycleId, instruction: u32) -> Result<OutboxId> {
        self.submit(TxBody::ConfirmSettlement { cycle, instruction })
    }

    /// Submits an order's supply-chain map (R15) for the registry to verify.
    pub fn submit_compliance_map(&self, map: &ComplianceMap) -> Result<OutboxId> {
        self.submit(TxBody::SubmitComplianceMap { map: map.to_bytes() })
    }

    /// Publishes this member's MEF 114 conformance declaration (R13).
    pub fn publish_conformance(&self, declaration: ConformanceDeclaration) -> Result<OutboxId> {
        if declaration.statement.len() > MAX_STATEMENT_BYTES {
            return Err(Error::InvalidField {
                field: "conformance statement",
                reason: format!(
                    "{} bytes, at most {MAX_STATEMENT_BYTES}",
                    declaration.statement.len()
                ),
            });
        }
        self.submit(TxBody::PublishConformance(declaration))
    }

    /// Submissions waiting for delivery.
    pub fn pending(&self) -> usize {
        *self.outbox().pending.borrow()
    }

    /// Whether submission `id` is still waiting for delivery.
    pub fn is_pending(&self, id: OutboxId) -> Result<bool> {
        Ok(self.outbox().db.get(key(ITEM, id))?.is_some())
    }

    /// The refusals on record, oldest first.
    pub fn refusals(&self) -> Result<Vec<RegistryRefusal>> {
        let db = &self.outbox().db;
        let mut out = Vec::new();
        for kv in db.iterator(IteratorMode::From(&[REFUSAL], Direction::Forward)) {
            let (k, v) = kv?;
            if k.first() != Some(&REFUSAL) {
                break;
            }
            out.push(decode("outbox refusal", &v)?);
        }
        Ok(out)
    }

    /// What the registry accepted of submission `id`, once it was delivered (`None` while
    /// it is pending, or if it was refused: [`RegistryClient::refusal`]).
    pub fn delivery(&self, id: OutboxId) -> Result<Option<Delivered>> {
        let db = &self.outbox().db;
        db.get(key(DELIVERED, id))?.map(|v| decode("outbox delivery", &v)).transpose()
    }

    /// The registry's refusal of submission `id`, if it refused it.
    pub fn refusal(&self, id: OutboxId) -> Result<Option<RegistryRefusal>> {
        let db = &self.outbox().db;
        db.get(key(REFUSAL, id))?.map(|v| decode("outbox refusal", &v)).transpose()
    }

    /// Waits until submission `id` was delivered or refused, at most `timeout`: `None` if
    /// neither happened by then (it stays queued).
    pub async fn outcome(
        &self,
        id: OutboxId,
        timeout: Duration,
    ) -> Result<Option<std::result::Result<Delivered, RegistryRefusal>>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(d) = self.delivery(id)? {
                return Ok(Some(Ok(d)));
            }
            if let Some(r) = self.refusal(id)? {
                return Ok(Some(Err(r)));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The events the registry reported for a delivered transaction (none if the registry
    /// cannot be asked now).
    pub async fn events(&self, delivered: &Delivered) -> Vec<proto::Event> {
        let request = proto::GetTxRequest { tx_hash: delivered.tx_hash.0.to_vec() };
        let answer = self.query_client().get_tx(request).await;
        answer.map(|r| r.into_inner().events).unwrap_or_default()
    }

    /// Removes a refusal from the record once it was dealt with; whether there was one.
    pub fn dismiss_refusal(&self, id: OutboxId) -> Result<bool> {
        let db = &self.outbox().db;
        let k = key(REFUSAL, id);
        if db.get(k)?.is_none() {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.delete(k);
        self.outbox().write(batch)?;
        Ok(true)
    }

    /// The outbox and its delivery at a glance.
    pub fn status(&self) -> Result<OutboxStatus> {
        let o = self.outbox();
        Ok(OutboxStatus {
            pending: self.pending(),
            delivered: o.delivered.load(Ordering::SeqCst),
            found_on_registry: o.found.load(Ordering::SeqCst),
            refused: self.refusals()?.len(),
            registry: *lock(&o.registry),
            running: o.running.load(Ordering::SeqCst),
            last_error: lock(&o.last_error).clone(),
        })
    }

    /// Starts the delivery task on the current tokio runtime (once: a second call while
    /// it runs does nothing). It runs until [`RegistryClient::close`] or until the last
    /// clone of the client is dropped.
    pub fn start(&self) -> Result<()> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|e| Error::NoRuntime(e.to_string()))?;
        let mut task = lock(&self.handle.task);
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let outbox = self.handle.outbox.clone();
        let stop = self.handle.stop.subscribe();
        outbox.running.store(true, Ordering::SeqCst);
        *task = Some(runtime.spawn(deliver(outbox, stop)));
        Ok(())
    }

    /// Waits until the outbox is empty (every submission delivered or refused), at most
    /// `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let outbox = self.outbox();
        let mut pending = outbox.pending.subscribe();
        if *pending.borrow() > 0 && !outbox.running.load(Ordering::SeqCst) {
            return Err(Error::NotRunning { pending: *pending.borrow() });
        }
        let empty = async {
            loop {
                if *pending.borrow_and_update() == 0 {
                    return;
                }
                if pending.changed().await.is_err() {
                    return;
                }
            }
        };
        match tokio::time::timeout(timeout, empty).await {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::FlushTimeout {
                pending: self.pending(),
                waited: timeout,
                last_error: lock(&outbox.last_error).clone(),
            }),
        }
    }

    /// Stops delivery (for every clone) and waits for the task to end; what is pending
    /// stays in the outbox for the next [`RegistryClient::open`]. A delivery cut off
    /// mid-call is resolved then, as after a crash. The outbox is closed once the last
    /// clone is gone.
    pub async fn close(self) -> Result<()> {
        let _ = self.handle.stop.send(true);
        let task = lock(&self.handle.task).take();
        if let Some(task) = task {
            task.await.map_err(|e| Error::Task(e.to_string()))?;
        }
        Ok(())
    }
}

/// Marks the task as stopped however it ends (stop, panic, runtime shutdown).
struct Running(Arc<Outbox>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

/// Resolves once a stop is asked for (or every handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// The delivery task (module docs).
async fn deliver(outbox: Arc<Outbox>, mut stop: watch::Receiver<bool>) {
    let _running = Running(outbox.clone());
    let mut delivery = Delivery { outbox: &outbox, link: None, next_nonce: None };
    let mut backoff = outbox.options.initial_backoff;
    loop {
        let head = match outbox.head() {
            Ok(head) => head,
            Err(e) => {
                // The store failed: nothing can be delivered; say so and try again later.
                tracing::error!("registry outbox: {e}");
                outbox.set_last_error(Some(e.to_string()));
                tokio::select! {
                    _ = tokio::time::sleep(outbox.options.max_backoff) => continue,
                    _ = stopped(&mut stop) => break,
                }
            }
        };
        let Some((id, item)) = head else {
            tokio::select! {
                _ = outbox.wake.notified() => continue,
                _ = stopped(&mut stop) => break,
            }
        };
        let result = tokio::select! {
            r = delivery.deliver(id, item) => r,
            _ = stopped(&mut stop) => break,
        };
        match result {
            Ok(()) => {
                backoff = outbox.options.initial_backoff;
                outbox.set_last_error(None);
            }
            Err(e) => {
                tracing::warn!(%id, "registry delivery: {e}; retrying in {backoff:?}");
                outbox.set_last_error(Some(e.to_string()));
                if matches!(&e, Error::Rpc { code: Code::Unavailable | Code::DeadlineExceeded, .. })
                {
                    // The endpoint in use stopped answering: the next attempt starts at the
                    // next one (`Outbox::connect` still tries them all).
                    outbox.next_endpoint();
                }
                delivery.link = None;
                delivery.next_nonce = None;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut stop) => break,
                }
                backoff = (backoff * 2).min(outbox.options.max_backoff);
            }
        }
    }
    tracing::debug!("registry delivery stopped");
}

/// A connection to a registry whose id was checked.
struct Link {
    rpc: RegistryRpc<Channel>,
    registry: Hash32,
}

/// What the registry knows of a transaction.
enum Lookup {
    /// Executed and accepted.
    Accepted,
    /// Executed and refused, with the registry's code and message.
    Refused { code: String, reason: String },
    /// Not executed (or only refused for its nonce, which a later execution may fix).
    Unknown,
}

fn rpc_error(call: &'static str, s: tonic::Status) -> Error {
    Error::Rpc { call, code: s.code(), message: s.message().to_string() }
}

fn hash32(call: &'static str, field: &str, bytes: &[u8]) -> Result<Hash32> {
    let b: [u8; 32] = bytes.try_into().map_err(|_| Error::BadAnswer {
        call,
        reason: format!("{field} has {} bytes, not 32", bytes.len()),
    })?;
    Ok(Hash32(b))
}

/// Whether a gRPC code is the registry's verdict on the transaction rather than a
/// failure to reach it (registry.proto documents the codes of refusals).
fn is_refusal(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::AlreadyExists
            | Code::NotFound
            | Code::OutOfRange
    )
}

/// The delivery task's connection and what it learnt.
struct Delivery<'a> {
    outbox: &'a Outbox,
    link: Option<Link>,
    /// The nonce the next transaction carries, known after a delivery; asked for again
    /// after anything unexpected.
    next_nonce: Option<u64>,
}

impl Delivery<'_> {
    /// Connects and checks that the endpoint serves this outbox's registry (pinning it
    /// on first contact).
    async fn link(&mut self) -> Result<&mut Link> {
        if self.link.is_none() {
            let channel = self.outbox.connect().await?;
            let mut rpc = RegistryRpc::new(channel);
            let status = rpc
                .get_status(proto::GetStatusRequest {})
                .await
                .map_err(|s| rpc_error("GetStatus", s))?
                .into_inner();
            let found = hash32("GetStatus", "registry_id", &status.registry_id)?;
            let mut pinned = lock(&self.outbox.registry);
            match *pinned {
                Some(expected) if expected != found => {
                    return Err(Error::WrongRegistry { expected, found })
                }
                Some(_) => {}
                None => {
                    let mut batch = WriteBatch::default();
                    batch.put(META_REGISTRY, omni_core::encode(&found));
                    self.outbox.write(batch)?;
                    *pinned = Some(found);
                    tracing::info!(registry = %found, "registry outbox pinned to registry");
                }
            }
            drop(pinned);
            self.link = Some(Link { rpc, registry: found });
        }
        match self.link.as_mut() {
            Some(link) => Ok(link),
            None => unreachable!("the link was set above"),
        }
    }

    async fn registry_nonce(&mut self) -> Result<u64> {
        let party = self.outbox.key.party();
        let link = self.link().await?;
        let member = link
            .rpc
            .get_member(proto::GetMemberRequest { party: party.0.to_vec() })
            .await
            .map_err(|s| rpc_error("GetMember", s))?
            .into_inner();
        Ok(member.next_nonce)
    }

    async fn lookup(&mut self, hash: &TxHash) -> Result<Lookup> {
        let link = self.link().await?;
        let tx = link
            .rpc
            .get_tx(proto::GetTxRequest { tx_hash: hash.0.to_vec() })
            .await
            .map_err(|s| rpc_error("GetTx", s))?
            .into_inner();
        Ok(match (tx.found, tx.accepted) {
            (true, true) => Lookup::Accepted,
            // A nonce refusal says nothing about the body: decided by the nonce below.
            (true, false) if tx.error_code != "bad_nonce" => {
                Lookup::Refused { code: tx.error_code, reason: tx.error }
            }
            _ => Lookup::Unknown,
        })
    }

    fn sign(
        &mut self,
        id: OutboxId,
        queued_at: u64,
        nonce: u64,
        body: TxBody,
    ) -> Result<(SignedTx, Vec<u8>)> {
        let registry = match &self.link {
            Some(link) => link.registry,
            None => unreachable!("signing follows a registry call on the link"),
        };
        let tx = SignedTx::sign(&self.outbox.key, &registry, nonce, body);
        let bytes = tx.to_bytes();
        // Durable before it leaves: after a crash the registry is asked about these bytes.
        self.outbox.store_signed(id, queued_at, &bytes)?;
        Ok((tx, bytes))
    }

    fn refusal(id: OutboxId, tx: &SignedTx, code: String, reason: String) -> RegistryRefusal {
        RegistryRefusal {
            id,
            kind: tx.body.kind().to_string(),
            tx_hash: Some(tx.hash()),
            nonce: Some(tx.nonce),
            code,
            reason,
            refused_at: omni_core::Clock::System.now(),
        }
    }

    /// Delivers the outbox's head: `Ok` once it left the outbox (delivered or refused),
    /// `Err` if it must be tried again.
    async fn deliver(&mut self, id: OutboxId, item: QueuedTx) -> Result<()> {
        let (tx, bytes) = match item.stage {
            Stage::Queued(body) => {
                let nonce = match self.next_nonce {
                    Some(n) => n,
                    None => self.registry_nonce().await?,
                };
                self.sign(id, item.queued_at, nonce, body)?
            }
            Stage::Signed(bytes) => {
                let tx = match SignedTx::from_bytes(&bytes) {
                    Ok(tx) => tx,
                    Err(e) => {
                        // Only this build writes the outbox; unreadable bytes cannot be
                        // delivered, so they are reported rather than retried forever.
                        return self.outbox.refused(&RegistryRefusal {
                            id,
                            kind: "unknown".into(),
                            tx_hash: Some(SignedTx::hash_bytes(&bytes)),
                            nonce: None,
                            code: "corrupt".into(),
                            reason: format!("the outbox holds undecodable signed bytes: {e}"),
                            refused_at: omni_core::Clock::System.now(),
                        });
                    }
                };
                // Signed and perhaps submitted before (a crash, a restart, a lost answer).
                match self.lookup(&tx.hash()).await? {
                    Lookup::Accepted => return self.done(id, &tx, true),
                    Lookup::Refused { code, reason } => {
                        return self.outbox.refused(&Self::refusal(id, &tx, code, reason))
                    }
                    Lookup::Unknown => {}
                }
                let nonce = self.registry_nonce().await?;
                if nonce == tx.nonce {
                    (tx, bytes)
                } else {
                    tracing::info!(%id, old = tx.nonce, new = nonce, "registry nonce moved: signing again");
                    self.sign(id, item.queued_at, nonce, tx.body)?
                }
            }
        };
        let hash = tx.hash();
        let link = self.link().await?;
        match link.rpc.submit(proto::SubmitRequest { tx: bytes, transaction: None }).await {
            Ok(_) => self.done(id, &tx, false),
            Err(status) if is_refusal(status.code()) => {
                // Believe a refusal only after checking that the registry does not hold
                // an earlier copy of these bytes and that the nonce is still ours.
                match self.lookup(&hash).await? {
                    Lookup::Accepted => self.done(id, &tx, true),
                    Lookup::Refused { code, reason } => {
                        self.outbox.refused(&Self::refusal(id, &tx, code, reason))
                    }
                    Lookup::Unknown => {
                        let expected = self.registry_nonce().await?;
                        if expected != tx.nonce {
                            return Err(Error::NonceMoved { tx: hash, signed: tx.nonce, expected });
                        }
                        // Refused before execution (signature, membership, role).
                        let code = format!("{:?}", status.code());
                        let refusal = Self::refusal(id, &tx, code, status.message().to_string());
                        self.outbox.refused(&refusal)
                    }
                }
            }
            Err(status) => Err(rpc_error("Submit", status)),
        }
    }

    fn done(&mut self, id: OutboxId, tx: &SignedTx, found_on_registry: bool) -> Result<()> {
        let record = Delivered {
            id,
            kind: tx.body.kind().to_string(),
            tx_hash: tx.hash(),
            nonce: tx.nonce,
            delivered_at: omni_core::Clock::System.now(),
        };
        self.outbox.delivered(&record, found_on_registry)?;
        self.next_nonce = Some(tx.nonce + 1);
        tracing::debug!(%id, kind = tx.body.kind(), nonce = tx.nonce, found_on_registry, "delivered to the registry");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(dir: &Path) -> RegistryClient {
        // Port 9 (discard) on loopback: nothing answers gRPC there.
        RegistryClient::open(dir, Keypair::from_seed([7; 32]), "http://127.0.0.1:9".into()).unwrap()
    }

    fn anchor(seq: u64) -> TxBody {
        TxBody::AnchorHead { bilateral: Hash32([1; 32]), seq, head: Hash32([seq as u8; 32]) }
    }

    #[test]
    fn submissions_survive_a_reopen_in_order_with_fresh_ids() {
        let dir = tempfile::tempdir().unwrap();
        let c = client(dir.path());
        let ids: Vec<OutboxId> = (1..=3).map(|s| c.submit(anchor(s)).unwrap()).collect();
        assert_eq!(ids, vec![OutboxId(0), OutboxId(1), OutboxId(2)]);
        assert_eq!(c.pending(), 3);
        assert!(c.is_pending(ids[1]).unwrap());
        drop(c);
        let c = client(dir.path());
        assert_eq!(c.pending(), 3);
        let head = c.outbox().head().unwrap().unwrap();
        assert_eq!(head.0, OutboxId(0));
        assert!(matches!(head.1.stage, Stage::Queued(TxBody::AnchorHead { seq: 1, .. })));
        assert_eq!(c.submit(anchor(4)).unwrap(), OutboxId(3));
        let status = c.status().unwrap();
        assert_eq!((status.pending, status.delivered, status.refused), (4, 0, 0));
        assert!(!status.running && status.registry.is_none());
    }

    #[test]
    fn what_no_registry_could_accept_is_refused_at_once_and_not_queued() {
        let dir = tempfile::tempdir().unwrap();
        let c = client(dir.path());
        let map = TxBody::SubmitComplianceMap { map: vec![0; MAX_TX_BYTES] };
        assert!(matches!(
            c.submit(map),
            Err(Error::Transaction(omni_registry_types::Error::TxTooLarge { .. }))
        ));
        let long = ConformanceDeclaration {
            document_hash: Hash32::ZERO,
            statement: "x".repeat(MAX_STATEMENT_BYTES + 1),
        };
        assert!(matches!(c.publish_conformance(long), Err(Error::InvalidField { .. })));
        assert_eq!(c.pending(), 0);
    }

    #[test]
    fn endpoints_are_checked_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "127.0.0.1:7400", "ftp://registry:21", "http://"] {
            let r = RegistryClient::open(dir.path(), Keypair::from_seed([7; 32]), bad.into());
            assert!(matches!(r, Err(Error::Endpoint { .. })), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn flush_says_why_it_could_not_finish() {
        let dir = tempfile::tempdir().unwrap();
        let c = RegistryClient::open_with(
            dir.path(),
            Keypair::from_seed([7; 32]),
            "http://127.0.0.1:9".into(),
            DeliveryOptions {
                connect_timeout: Duration::from_millis(200),
                initial_backoff: Duration::from_millis(10),
                ..DeliveryOptions::default()
            },
        )
        .unwrap();
        c.flush(Duration::from_millis(10)).await.unwrap();
        c.submit(anchor(1)).unwrap();
        assert!(matches!(
            c.flush(Duration::from_millis(10)).await,
            Err(Error::NotRunning { pending: 1 })
        ));
        c.start().unwrap();
        c.start().unwrap();
        let err = c.flush(Duration::from_millis(500)).await.unwrap_err();
        match &err {
            Error::FlushTimeout { pending: 1, last_error: Some(e), .. } => {
                assert!(e.contains("connect"), "{e}")
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(c.pending(), 1);
        c.close().await.unwrap();
        assert_eq!(client(dir.path()).pending(), 1);
    }

    #[test]
    fn invoice_ids_are_the_same_for_both_parties_and_differ_per_invoice() {
        let b = BilateralId(Hash32([3; 32]));
        assert_eq!(registry_invoice_id(&b, "INV-1"), registry_invoice_id(&b, "INV-1"));
        assert_ne!(registry_invoice_id(&b, "INV-1"), registry_invoice_id(&b, "INV-2"));
        assert_ne!(
            registry_invoice_id(&b, "INV-1"),
            registry_invoice_id(&BilateralId(Hash32([4; 32])), "INV-1")
        );
    }
}
