//! The node's rating keys and its background prover of Option 1 invoices (MEF 114 §7.7,
//! CR3/CR5, D10).
//!
//! Issuing an Option 1 invoice appends the invoice entry at once; its rating proof takes
//! seconds to minutes, so the node proves it in the background ([`Prover`]) and appends
//! the [`EntryBody::RatingProof`] entry when it is done. The buyer's node checks that
//! proof before its owner can accept the invoice.
//!
//! **The ledger is the queue.** An Option 1 invoice this node issued that is still
//! awaiting the buyer and has no rating proof is a job: [`Prover::start`] finds every
//! such invoice on the ledger, so a node killed while proving proves the invoice again
//! after its restart. The proof entry is appended only if the invoice still has none,
//! under the ledger's lock, so nothing is issued or attached twice.
//!
//! Proving runs on one thread of its own (each proof already uses every core through
//! rayon), which first loads the proving keys when they lie beside the verifying keys;
//! [`Prover::status`] says where each job stands, with the prover's progress.

use crate::config::{RatingKeysConfig, RATING_KEYS_SETTING};
use crate::entry::{BilateralId, EntryBody};
use crate::ledger::Ledger;
use crate::rating_proof::prove_invoice;
use crate::state::{InvoiceState, InvoiceStatus};
use omni_prover::RatingKeys;
use omni_verifier::{FieldBytes, RatingVerifier};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Why the node's rating keys could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The node has no rating keys configured.
    #[error(
        "this node has no rating keys: set `{RATING_KEYS_SETTING}` (verifying_key, hash) in its \
         configuration to issue or accept Option 1 invoices, or issue an Option 2 invoice"
    )]
    NotConfigured,
    /// A key file could not be read or is not what the configuration says.
    #[error("rating keys {path}: {reason}")]
    Bad {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A node's rating keys: the verifying keys (always, when configured) and the proving
/// keys beside them (loaded on first use: they are large and only a seller proving
/// Option 1 invoices needs them).
pub struct NodeKeys {
    verifier: Arc<RatingVerifier>,
    dir: PathBuf,
    chunk_size: usize,
    hash: FieldBytes,
    proving: OnceLock<Result<Arc<RatingKeys>, String>>,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKeys({}, chunk {})", hex::encode(self.hash.0), self.chunk_size)
    }
}

impl NodeKeys {
    /// Loads the verifying keys the configuration names, refusing them unless they hash
    /// to its `hash`.
    pub fn load(config: &RatingKeysConfig) -> Result<NodeKeys, KeysError> {
        let path = &config.verifying_key;
        let bad = |reason: String| KeysError::Bad { path: path.display().to_string(), reason };
        let raw = hex::decode(config.hash.trim())
            .map_err(|e| bad(format!("the configured hash is not hex: {e}")))?;
        let hash = FieldBytes(
            raw.try_into().map_err(|_| bad("the configured hash is not 32 bytes".into()))?,
        );
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let verifier = RatingVerifier::from_bytes(&bytes, Some(&hash)).map_err(|e| {
            bad(format!("{e} (the `{RATING_KEYS_SETTING}.hash` setting says which keys to trust)"))
        })?;
        let chunk_size = verifier.keys().chunk_size as usize;
        let dir = path.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        Ok(NodeKeys {
            verifier: Arc::new(verifier),
            dir,
            chunk_size,
            hash,
            proving: OnceLock::new(),
        })
    }

    /// The verifier of rating proofs.
    pub fn verifier(&self) -> Arc<RatingVerifier> {
        self.verifier.clone()
    }

    /// The verifying keys' hash.
    pub fn hash(&self) -> FieldBytes {
        self.hash
    }

    /// Whether proving keys lie beside the verifying keys (a node that only verifies
    /// needs none).
    pub fn has_proving_keys(&self) -> bool {
        RatingKeys::paths(&self.dir, self.chunk_size).0.exists()
    }

    /// The proving keys (`rating-K.pk` and its manifest beside the verifying keys),
    /// loaded once.
    pub fn proving(&self) -> Result<Arc<RatingKeys>, KeysError> {
        let loaded = self.proving.get_or_init(|| {
            let keys = RatingKeys::load(&self.dir, self.chunk_size).map_err(|e| e.to_string())?;
            if keys.verifying.hash() != self.hash {
                return Err(
                    "the proving keys are not those of the configured verifying keys".into()
                );
            }
            Ok(Arc::new(keys))
        });
        loaded.clone().map_err(|reason| KeysError::Bad {
            path: RatingKeys::paths(&self.dir, self.chunk_size).0.display().to_string(),
            reason: format!("no proving keys for this node's verifying keys: {reason}"),
        })
    }
}

/// Where a proving job stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for the prover.
    Queued,
    /// Being proven.
    Proving,
    /// Proven; the proof entry is on the ledger.
    Proven,
    /// The proof could not be made or attached (the reason).
    Failed(String),
}

impl JobState {
    /// The state's name in the API.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Proving => "proving",
            JobState::Proven => "proven",
            JobState::Failed(_) => "failed",
        }
    }
}

/// A proving job's status.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    /// Where it stands.
    pub state: JobState,
    /// Proof steps done (chunks and the final proof).
    pub done: usize,
    /// Proof steps in all (0 until proving starts).
    pub total: usize,
    /// Records the proof covers.
    pub records: usize,
    /// Seconds spent proving, once proven.
    pub seconds: f64,
}

type JobKey = (BilateralId, String);

/// The background prover (module docs).
#[derive(Clone)]
pub struct Prover {
    jobs: Arc<Mutex<BTreeMap<JobKey, JobStatus>>>,
    queue: mpsc::Sender<JobKey>,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prover({} jobs)", self.lock().len())
    }
}

/// The Option 1 invoices of `ledger` that this node issued and has yet to prove.
fn unproven(ledger: &Ledger) -> Vec<JobKey> {
    let mut out = Vec::new();
    for id in ledger.bilaterals() {
        let Ok(state) = ledger.state(&id) else { continue };
        let Ok(party) = ledger.party(&id) else { continue };
        for inv in state.invoices().filter(|i| i.seller == party && awaits_proof(i)) {
            out.push((id, inv.invoice.number.clone()));
        }
    }
    out
}

impl Prover {
    /// Starts the prover of `ledger`'s Option 1 invoices with `keys` (none: every job
    /// fails, naming the setting) and queues the invoices the ledger shows unproven.
    /// `attached` is called after each proof entry is appended (to push it on at once).
    pub fn start(
        ledger: Arc<Mutex<Ledger>>,
        keys: Option<Arc<NodeKeys>>,
        attached: Arc<dyn Fn() + Send + Sync>,
    ) -> Prover {
        let (queue, jobs_rx) = mpsc::channel::<JobKey>();
        let prover = Prover { jobs: Arc::new(Mutex::new(BTreeMap::new())), queue };
        let pending = match ledger.lock() {
            Ok(l) => unproven(&l),
            Err(_) => Vec::new(),
        };
        let worker = prover.clone();
        std::thread::Builder::new()
            .name("rating-prover".into())
            .spawn(move || {
                // A node given proving keys proves: load them now, not when the first
                // invoice waits for them (a node without them only verifies).
                if let Some(keys) = keys.as_deref().filter(|k| k.has_proving_keys()) {
                    if let Err(e) = keys.proving() {
                        tracing::warn!("rating proving keys: {e}");
                    }
                }
                while let Ok(job) = jobs_rx.recv() {
                    if worker.run(&ledger, keys.as_deref(), &job) {
                        attached();
                    }
                }
            })
            .map_err(|e| tracing::error!("cannot start the rating prover: {e}"))
            .ok();
        for (id, number) in pending {
            tracing::info!(bilateral = %id, invoice = %number, "proving an invoice left unproven");
            prover.enqueue(id, &number);
        }
        prover
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<JobKey, JobStatus>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues the proof of `invoice` (once: a job already queued or running is kept).
    pub fn enqueue(&self, id: BilateralId, invoice: &str) {
        let key = (id, invoice.to_string());
        {
            let mut jobs = self.lock();
            if matches!(
                jobs.get(&key).map(|j| &j.state),
                Some(JobState::Queued | JobState::Proving | JobState::Proven)
            ) {
                return;
            }
            jobs.insert(
                key.clone(),
                JobStatus { state: JobState::Queued, done: 0, total: 0, records: 0, seconds: 0.0 },
            );
        }
        let _ = self.queue.send(key);
    }

    /// The status of `invoice`'s proof, if this node has proven or is proving it since
    /// it started.
    pub fn status(&self, id: &BilateralId, invoice: &str) -> Option<JobStatus> {
        self.lock().get(&(*id, invoice.to_string())).cloned()
    }

    /// Every job since the node started, with its status.
    pub fn jobs(&self) -> Vec<(BilateralId, String, JobStatus)> {
        self.lock().iter().map(|((id, n), s)| (*id, n.clone(), s.clone())).collect()
    }

    fn update(&self, key: &JobKey, f: impl FnOnce(&mut JobStatus)) {
        if let Some(s) = self.lock().get_mut(key) {
            f(s);
        }
    }

    /// Runs one job; whether it ended proven.
    fn run(&self, ledger: &Mutex<Ledger>, keys: Option<&NodeKeys>, key: &JobKey) -> bool {
        let started = Instant::now();
        let outcome = self.prove(ledger, keys, key);
        let seconds = started.elapsed().as_secs_f64();
        let proven = outcome.is_ok();
        match outcome {
            Ok(()) => {
                tracing::info!(bilateral = %key.0, invoice = %key.1, seconds, "rating proof attached");
                self.update(key, |s| {
                    s.state = JobState::Proven;
                    s.seconds = seconds;
                });
            }
            Err(reason) => {
                tracing::warn!(bilateral = %key.0, invoice = %key.1, %reason, "rating proof failed");
                self.update(key, |s| s.state = JobState::Failed(reason));
            }
        }
        proven
    }

    fn prove(
        &self,
        ledger: &Mutex<Ledger>,
        keys: Option<&NodeKeys>,
        key: &JobKey,
    ) -> Result<(), String> {
        let (id, number) = key;
        let lock = || ledger.lock().map_err(|_| "the ledger lock is poisoned".to_string());
        let keys = keys.ok_or_else(|| KeysError::NotConfigured.to_string())?;
        let proving = keys.proving().map_err(|e| e.to_string())?;
        let claim = {
            let l = lock()?;
            if !unproven_invoice(&l, id, number) {
                return Ok(());
            }
            l.ledger_rating(id, number).map_err(|e| e.to_string())?
        };
        self.update(key, |s| {
            s.state = JobState::Proving;
            s.records = claim.records.len();
        });
        let progress = |done: usize, total: usize| {
            self.update(key, |s| {
                s.done = done;
                s.total = total;
            })
        };
        let attachment = prove_invoice(&proving, &claim, number, &mut rand::rngs::OsRng, &progress)
            .map_err(|e| e.to_string())?;
        let mut l = lock()?;
        // Attached once: the invoice may have been proven meanwhile (never by this node,
        // which proves one invoice at a time) or rejected.
        if !unproven_invoice(&l, id, number) {
            return Ok(());
        }
        l.append(id, EntryBody::RatingProof(attachment)).map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Whether `inv` is an Option 1 invoice still awaiting the buyer without a rating proof.
fn awaits_proof(inv: &InvoiceState) -> bool {
    !inv.generated && inv.rating_proof.is_none() && inv.status() == InvoiceStatus::Issued
}

fn unproven_invoice(ledger: &Ledger, id: &BilateralId, number: &str) -> bool {
    ledger.state(id).ok().and_then(|s| s.invoice(number)).is_some_and(awaits_proof)
}
