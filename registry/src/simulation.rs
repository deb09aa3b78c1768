//! Deterministic simulation of a four-validator registry (Commonware's practice).
//!
//! Four validators, each the real registry application — [`RegistryApp`] on a [`Node`]
//! with its RocksDB store in a temporary directory — run Malachite's consensus core in
//! `omni_consensus::simulation`: a seeded network that delays, drops, duplicates and
//! reorders messages, timeouts in simulated time, and at most one validator crashed at a
//! seeded time (and, for some seeds, restarted from its store). Clients submit signed
//! transactions (member admissions, head anchors) at seeded times to seeded validators,
//! some twice (a retry at another validator) and some again later (a replay).
//!
//! Each seed checks:
//! - **agreement**: every validator that committed height h stored the same block and
//!   the same state root at h, and that block is the one consensus decided;
//! - **no acknowledged transaction is lost**: a transaction a validator's mempool
//!   accepted and answered as committed at height h is in the block every validator
//!   stored at h, executed, with the state root the answer named;
//! - **progress**: every validator not crashed for good reaches the target height within
//!   the bound of simulated time (a restarted one catching up through value sync);
//! - **same seed, same run**: a seed run twice has the same trace (every delivery, with
//!   its time and bytes, and every commit).
//!
//! The only stand-in is the mempool's check task: the harness runs the same batch check
//! (`validator::admit`) synchronously when transactions arrive, instead of on a tokio
//! task, so that a seed alone decides the run.
//!
//! `OMNI_SIM_SEEDS=N` runs N seeds (100 by default); `OMNI_SIM_SEED=S` runs seed S alone.

use crate::consensus::{ChainedBlock, RegistryApp};
use crate::mempool::{Arrival, CheckQueue, Committed, Mempool};
use crate::proof::RememberingVerifier;
use crate::state::Genesis;
use crate::store::Store;
use crate::tx::{Role, SignedTx, TxBody, TxHash};
use crate::validator::{admit, Node};
use crate::verification::testing::StubRatingVerifier;
use omni_consensus::context::BlockId;
use omni_consensus::simulation::{ClientCall, Harness, Report, SimConfig, Simulation};
use omni_consensus::{Application, BlockRefusal};
use omni_core::{Clock, Hash32, Keypair};
use rand::Rng;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

const VALIDATORS: usize = 4;
const GENESIS_TIME: u64 = 1_700_000_000;
/// Every validator not crashed for good must commit this height...
const TARGET_HEIGHT: u64 = 16;
/// ...within this much simulated time.
const BOUND: Duration = Duration::from_secs(180);
/// A transaction a validator acknowledged is answered within this much simulated time
/// (committed, or refused when its block executed), unless that validator crashed.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// Clients submit during this window.
const SUBMISSIONS: Duration = Duration::from_secs(4);
const MAX_BLOCK_TXS: usize = 16;

/// The registry as the simulation runs it: [`RegistryApp`], with its mempool check run
/// as soon as transactions arrive.
struct SimRegistry {
    app: RegistryApp,
    arrivals: Mutex<mpsc::Receiver<Arrival>>,
    forwarded: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
}

impl SimRegistry {
    /// Checks what waits in the check queue and admits what passes to the mempool.
    fn check_arrivals(&self) {
        let mut arrivals = self.arrivals.lock().expect("check queue");
        let mut batch = Vec::new();
        while let Ok(arrival) = arrivals.try_recv() {
            batch.push(arrival);
        }
        if !batch.is_empty() {
            admit(&self.app.node, batch);
        }
    }

    /// A client's `Submit`: the answer to wait for, and what this validator forwards.
    fn submit(&self, tx: Vec<u8>) -> (oneshot::Receiver<crate::Result<Committed>>, Vec<Vec<u8>>) {
        let (reply, answer) = oneshot::channel();
        self.app.node.checks.push(Arrival::Client(tx, reply));
        self.check_arrivals();
        let mut forwarded = self.forwarded.lock().expect("forward queue");
        let mut forward = Vec::new();
        while let Ok(tx) = forwarded.try_recv() {
            forward.push(tx);
        }
        (answer, forward)
    }
}

#[async_trait::async_trait]
impl Application for SimRegistry {
    fn committed_height(&self) -> u64 {
        self.app.committed_height()
    }

    async fn propose(&self, height: u64, max_wait: Duration) -> Vec<u8> {
        self.app.propose(height, max_wait).await
    }

    fn check_block(&self, height: u64, block: &[u8]) -> Result<(), BlockRefusal> {
        self.app.check_block(height, block)
    }

    fn commit(&self, height: u64, block: &[u8], certificate: Vec<u8>) -> Result<(), String> {
        self.app.commit(height, block, certificate)
    }

    fn decided(&self, height: u64) -> Option<(Vec<u8>, Vec<u8>)> {
        self.app.decided(height)
    }

    fn received_transactions(&self, txs: Vec<Vec<u8>>) {
        self.app.received_transactions(txs);
        self.check_arrivals();
    }
}

/// A transaction a client submitted, and what it was told.
struct Submission {
    tx: TxHash,
    validator: usize,
    at: Duration,
    answer: oneshot::Receiver<crate::Result<Committed>>,
}

/// Four registry validators on disk, their clocks, and the clients' submissions.
struct Registries {
    genesis: Genesis,
    dirs: Vec<tempfile::TempDir>,
    clocks: Vec<Clock>,
    /// How far each validator's clock runs ahead of simulated time, in seconds.
    skew: Vec<u64>,
    submissions: Vec<Submission>,
}

impl Registries {
    fn new(genesis: Genesis) -> Registries {
        Registries {
            genesis,
            dirs: (0..VALIDATORS).map(|_| scratch_dir()).collect(),
            clocks: (0..VALIDATORS).map(|_| Clock::manual(GENESIS_TIME)).collect(),
            skew: vec![0; VALIDATORS],
            submissions: Vec::new(),
        }
    }

    fn store(&self, validator: usize) -> Store {
        Store::open(self.dirs[validator].path()).expect("reopen a validator's store")
    }
}

impl Harness for Registries {
    type App = SimRegistry;

    fn open(&mut self, validator: usize) -> Result<SimRegistry, String> {
        let store = Store::open(self.dirs[validator].path()).map_err(|e| e.to_string())?;
        let verifier = Arc::new(RememberingVerifier::new(Arc::new(StubRatingVerifier)));
        let registry =
            store.open_registry(Some(&self.genesis), verifier).map_err(|e| e.to_string())?;
        let (forward, forwarded) = mpsc::unbounded_channel();
        let (checks, arrivals) = CheckQueue::new();
        let node = Node {
            registry: RwLock::new(registry),
            store,
            mempool: Mempool::new(Some(forward)),
            checks,
            committed: Notify::new(),
            clock: self.clocks[validator].clone(),
            halt: Default::default(),
        };
        Ok(SimRegistry {
            app: RegistryApp { node: Arc::new(node), max_block_txs: MAX_BLOCK_TXS },
            arrivals: Mutex::new(arrivals),
            forwarded: Mutex::new(forwarded),
        })
    }

    fn advance(&mut self, now: Duration) {
        for (clock, skew) in self.clocks.iter().zip(&self.skew) {
            clock.set(GENESIS_TIME + now.as_secs() + skew);
        }
    }
}

/// A validator's data directory: in memory where the machine has a tmpfs, since every
/// commit syncs RocksDB's log and the simulation models no power loss.
fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }
        .expect("a scratch directory")
}

fn key(n: u16) -> Keypair {
    let mut seed = [0x5a; 32];
    seed[..2].copy_from_slice(&n.to_be_bytes());
    Keypair::from_seed(seed)
}

const ADMIN: u16 = 0;
const MEMBERS: u16 = 6;

fn genesis() -> Genesis {
    let mut members = vec![(key(ADMIN).party(), Role::Admin)];
    members.extend((1..=MEMBERS).map(|m| (key(m).party(), Role::Member)));
    Genesis { name: "simulation".into(), time: GENESIS_TIME, members, rating_keys: None }
}

/// Each sender's transactions, nonce by nonce: the admin admits new members, each member
/// anchors its bilateral's head a few times.
fn transactions(registry: &Hash32, rng: &mut impl Rng) -> Vec<Vec<Vec<u8>>> {
    let admissions = (0..rng.gen_range(2..6u64))
        .map(|nonce| {
            let member = key(100 + nonce as u16).party();
            SignedTx::sign(
                &key(ADMIN),
                registry,
                nonce,
                TxBody::AdmitMember { member, role: Role::Member },
            )
            .to_bytes()
        })
        .collect();
    let anchors = (1..=MEMBERS).map(|m| {
        let bilateral = Hash32::digest("sim/bilateral", &m.to_be_bytes());
        (0..rng.gen_range(1..4u64))
            .map(|nonce| {
                let head = Hash32::digest(
                    "sim/head",
                    &[m.to_be_bytes(), (nonce as u16).to_be_bytes()].concat(),
                );
                let body = TxBody::AnchorHead { bilateral, seq: nonce + 1, head };
                SignedTx::sign(&key(m), registry, nonce, body).to_bytes()
            })
            .collect()
    });
    std::iter::once(admissions).chain(anchors).collect()
}

/// A client's `Submit` of `tx` at `validator`, at `at`; the submission is kept if the
/// validator's mempool accepted it.
fn submit_call(tx: Vec<u8>, validator: usize, at: Duration) -> ClientCall<Registries> {
    Box::new(move |registries: &mut Registries, app: &SimRegistry| {
        let hash = SignedTx::hash_bytes(&tx);
        let (mut answer, forward) = app.submit(tx);
        // Refused at once (a replay, say): nothing was acknowledged.
        if matches!(answer.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
            registries.submissions.push(Submission { tx: hash, validator, at, answer });
        }
        forward
    })
}

/// One seed's run: the workload and crash drawn from the seed, then the run to the target.
struct Run {
    report: Report,
    registries: Registries,
}

fn run(seed: u64) -> Result<Run, String> {
    let genesis = genesis();
    let registry = genesis.registry_id();
    let config = SimConfig::new(seed, VALIDATORS);
    let mut sim = Simulation::new(config, Registries::new(genesis)).map_err(|e| e.to_string())?;
    let skew: Vec<u64> = (0..VALIDATORS).map(|_| sim.rng().gen_range(0..3)).collect();
    sim.harness().skew = skew;
    for txs in transactions(&registry, sim.rng()) {
        let mut at = Duration::ZERO;
        for tx in txs {
            let rng = sim.rng();
            at += rng.gen_range(Duration::from_millis(20)..SUBMISSIONS / 3);
            let validator = rng.gen_range(0..VALIDATORS);
            // A client that got no answer in time retries at another validator...
            let retry = rng.gen_bool(0.25).then(|| {
                let other = (validator + rng.gen_range(1..VALIDATORS)) % VALIDATORS;
                (at + rng.gen_range(Duration::from_millis(50)..Duration::from_secs(2)), other)
            });
            // ...and a replay comes back long after.
            let replay = rng.gen_bool(0.15).then(|| {
                (
                    at + rng.gen_range(Duration::from_secs(2)..Duration::from_secs(8)),
                    rng.gen_range(0..VALIDATORS),
                )
            });
            sim.client(at, validator, submit_call(tx.clone(), validator, at));
            for (again, to) in retry.into_iter().chain(replay) {
                sim.client(again, to, submit_call(tx.clone(), to, again));
            }
        }
    }
    let rng = sim.rng();
    if rng.gen_bool(0.8) {
        let validator = rng.gen_range(0..VALIDATORS);
        let at = rng.gen_range(Duration::from_millis(200)..Duration::from_secs(6));
        let restart = rng
            .gen_bool(0.6)
            .then(|| at + rng.gen_range(Duration::from_millis(100)..Duration::from_secs(6)));
        sim.crash(validator, at, restart);
    }
    let report = sim.run(TARGET_HEIGHT, BOUND).map_err(|e| e.to_string())?;
    Ok(Run { report, registries: sim.finish() })
}

/// What every validator stored at each height: block, block hash and state root.
type Stored = Vec<Vec<(crate::store::StoredBlock, Hash32)>>;

fn stored(registries: &Registries) -> Stored {
    (0..VALIDATORS)
        .map(|v| {
            let store = registries.store(v);
            let height = store.height().expect("stored height").unwrap_or(0);
            (1..=height)
                .map(|h| {
                    let block = store.block(h).expect("read block").expect("a committed block");
                    let (_, root) = store.root_at(h).expect("read root").expect("a stored root");
                    (block, root)
                })
                .collect()
        })
        .collect()
}

/// Agreement: one block and one state root per height, the one consensus decided.
fn check_agreement(run: &Run, stored: &Stored) -> Result<(), String> {
    let genesis_root =
        crate::state::RegistryState::genesis(&genesis()).map_err(|e| e.to_string())?.state_root();
    let top = stored.iter().map(Vec::len).max().unwrap_or(0);
    for h in 1..=top {
        let at_h: Vec<(usize, &(crate::store::StoredBlock, Hash32))> =
            stored.iter().enumerate().filter_map(|(v, s)| s.get(h - 1).map(|b| (v, b))).collect();
        let (first, (block, root)) = at_h[0];
        for (v, (other_block, other_root)) in &at_h[1..] {
            if other_block.block != block.block || other_root != root {
                return Err(format!(
                    "height {h}: validator {v} stored block {} with root {other_root}, validator {first} block {} with root {root}",
                    other_block.block_hash, block.block_hash
                ));
            }
        }
        for (v, (stored_block, _)) in &at_h {
            // What consensus decided: the block chained to the root of the height before.
            let previous_root = match h {
                1 => genesis_root,
                _ => stored[*v][h - 2].1,
            };
            let value = ChainedBlock { previous_root, block: stored_block.block.clone() };
            let id = BlockId::of(&omni_core::encode(&value));
            let decided = run.report.decisions[*v].get(&(h as u64));
            if decided.is_some_and(|d| *d != id) {
                return Err(format!(
                    "height {h}: validator {v} stored a block consensus did not decide"
                ));
            }
        }
    }
    Ok(())
}

/// What became of the transactions validators acknowledged.
#[derive(Default)]
struct Answers {
    committed: usize,
    refused: usize,
    /// Lost with the mempool of a validator that crashed.
    crashed: usize,
}

/// No acknowledged transaction is lost: each one answered as committed at h is executed
/// in the block every validator stored at h, under the state root the answer named; and
/// each one acknowledged long enough before the end by a validator that stayed up was
/// answered.
fn check_acknowledged(run: &mut Run, stored: &Stored) -> Result<Answers, String> {
    let mut answers = Answers::default();
    let end = run.report.elapsed;
    for s in &mut run.registries.submissions {
        let committed = match s.answer.try_recv() {
            Ok(Ok(committed)) => committed,
            Ok(Err(_)) => {
                answers.refused += 1;
                continue;
            }
            Err(oneshot::error::TryRecvError::Closed) => {
                answers.crashed += 1;
                continue;
            }
            Err(oneshot::error::TryRecvError::Empty) if s.at + ANSWER_WITHIN > end => continue,
            Err(oneshot::error::TryRecvError::Empty) => {
                return Err(format!(
                    "transaction {} acknowledged by validator {} at {:?} was never answered (the run ended at {end:?})",
                    s.tx, s.validator, s.at
                ))
            }
        };
        answers.committed += 1;
        if committed.tx_hash != s.tx {
            return Err(format!("a submission at {:?} was answered for another transaction", s.at));
        }
        let h = committed.height as usize;
        for (v, blocks) in stored.iter().enumerate().filter(|(_, b)| b.len() >= h) {
            let (block, root) = &blocks[h - 1];
            let executed = block.results.iter().any(|r| r.tx_hash == s.tx && r.result.is_ok());
            if !executed || *root != committed.state_root {
                return Err(format!(
                    "transaction {} acknowledged by validator {} at {:?} as committed at height {h} (root {}) is not executed there on validator {v} (root {root})",
                    s.tx, s.validator, s.at, committed.state_root
                ));
            }
        }
    }
    Ok(answers)
}

fn seeds() -> Vec<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match (var("OMNI_SIM_SEED"), var("OMNI_SIM_SEEDS")) {
        (Some(seed), _) => vec![seed],
        (None, count) => (0..count.unwrap_or(100)).collect(),
    }
}

fn rerun(seed: u64) -> String {
    format!(
        "rerun just this seed: OMNI_SIM_SEED={seed} cargo nextest run --workspace --run-ignored default -E 'test(/simulation/)'"
    )
}

/// One seed, every check; `Err` names the seed and how to rerun it.
fn check_seed(seed: u64) -> Result<(Report, Answers), String> {
    let fail = |e: String| {
        let named =
            if e.starts_with(&format!("seed {seed}:")) { e } else { format!("seed {seed}: {e}") };
        format!("{named}\n{}", rerun(seed))
    };
    let mut run = run(seed).map_err(fail)?;
    let stored = stored(&run.registries);
    check_agreement(&run, &stored).map_err(fail)?;
    let answers = check_acknowledged(&mut run, &stored).map_err(fail)?;
    Ok((run.report, answers))
}

/// Checks `seeds` on two threads; the lowest failing seed's message if any fails.
fn check_seeds(seeds: &[u64]) -> Result<Vec<(Report, Answers)>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let result = check_seed(seed);
                results.lock().expect("results").push((seed, result));
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(seed, _)| *seed);
    results.into_iter().map(|(_, result)| result).collect()
}

#[test]
fn simulation_four_validators_agree_lose_no_acknowledged_transaction_and_progress() {
    let started = std::time::Instant::now();
    let seeds = seeds();
    let runs = check_seeds(&seeds).unwrap_or_else(|e| panic!("{e}"));
    let mut total = Answers::default();
    let (mut simulated, mut synced, mut crashed_runs) = (Duration::ZERO, 0, 0);
    for (report, answers) in &runs {
        total.committed += answers.committed;
        total.refused += answers.refused;
        total.crashed += answers.crashed;
        simulated += report.elapsed;
        synced += report.synced.iter().sum::<u64>();
        crashed_runs += usize::from(report.network.unreachable > 0);
    }
    // The workload and faults must reach what they are meant to test.
    assert!(total.committed > 0, "no acknowledged transaction was ever committed");
    if seeds.len() >= 10 {
        assert!(synced > 0, "no validator ever caught up through value sync");
        assert!(crashed_runs > 0, "no run had a crashed validator");
    }
    eprintln!(
        "{} seeds in {:?} ({simulated:?} simulated): acknowledged transactions {} committed, {} refused when executed, {} lost with a crashed mempool; {synced} blocks synced",
        seeds.len(),
        started.elapsed(),
        total.committed,
        total.refused,
        total.crashed,
    );
}

#[test]
fn simulation_the_same_seed_replays_the_same_run() {
    for seed in seeds().into_iter().take(3) {
        let first = run(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", rerun(seed)));
        let second = run(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", rerun(seed)));
        assert_eq!(
            first.report,
            second.report,
            "seed {seed}: two runs of one seed differ\n{}",
            rerun(seed)
        );
    }
}
