//! # Deterministic simulation of a validator set (tests only: feature `test-utils`)
//!
//! Commonware's practice, applied to our consensus: run N validators in one thread, on a
//! simulated network and a simulated clock, every random choice drawn from one seeded
//! ChaCha RNG, so that a seed names a whole run and a failing seed replays exactly.
//!
//! ```text
//!   Simulation (one ChaCha8 RNG, one agenda of events in simulated time)
//!     │  Deliver · Timer · Build · Status · Client · Crash · Restart
//!     ▼
//!   Replica ×N ── core-consensus State (Malachite's Tendermint, as its engine runs it)
//!     │            effects answered like the engine and `crate::driver`: Ed25519 signing
//!     │            and verification, certificates, timeouts, proposal streams, commits
//!     └── Application (the real one, e.g. the registry on RocksDB) via the Harness
//! ```
//!
//! ## What it models
//!
//! - **Consensus**: each validator runs Malachite's consensus core
//!   (`informalsystems-malachitebft-core-consensus`, which drives `core-driver` and the
//!   round state machine) with our [`OmniContext`], round-robin proposers, real Ed25519
//!   signatures and commit certificates. Effects are answered as Malachite's engine
//!   answers them; the application is reached only through [`Application`].
//! - **Network**: every message is encoded with [`crate::codec::WireCodec`] and decoded
//!   on delivery; each one is independently delayed (which reorders them), dropped or
//!   duplicated, by the seeded RNG ([`NetworkFaults`]). Losses stop at a global
//!   stabilisation time (partial synchrony: Tendermint is live only once messages get
//!   through; a lost proposal is never sent again, a lost vote only at the rebroadcast
//!   timeout). Proposals travel as streams of
//!   parts (Init, block, signed Fin, end), each part its own message, reassembled and
//!   signature-checked as the driver does. Transactions a validator's clients give it
//!   are forwarded to the others as a transactions part.
//! - **Time**: step timeouts (growing per round, as the engine's) and vote rebroadcasts
//!   fire in simulated time; a proposer takes a seeded build time; [`Harness::advance`]
//!   gives the application the simulated clock.
//! - **Crashes**: a validator can crash at a chosen time (it stops sending, receiving
//!   and timing; its application is dropped, so a store closes) and restart later from
//!   what its application committed, as the engine starts: at the next height.
//! - **Value sync**: validators publish their committed height every
//!   [`SimConfig::status_interval`]; one that is behind asks a peer that is ahead for the
//!   next height, the peer answers from [`Application::decided`], and the core checks the
//!   certificate against the validator set before deciding it and the application
//!   commits it — Malachite's value sync, reduced to its messages.
//!
//! ## What it does not model
//!
//! - libp2p itself (connections, gossip mesh, peer scoring, back-pressure) and
//!   Malachite's engine actors: the simulation plays their part directly.
//! - The write-ahead log: a restarted validator does not replay its votes, so it may vote
//!   differently in a round it voted in before its crash. With one crashed validator out
//!   of four this stays within the one fault BFT tolerates; production replays its WAL.
//! - The driver's on-disk block keeper, and blocks larger than one part.
//! - Byzantine validators (equivocation, garbage): those are the engine's fault tests.
//! - Wall-clock costs: the application's work takes no simulated time.
//!
//! The simulation runs in the calling thread; an application that needs a tokio runtime
//! for [`Application::propose`] gets a current-thread one, so it must not be called from
//! inside a runtime.

mod network;
mod replica;

pub use network::{NetworkFaults, NetworkStats};

use crate::codec::WireCodec;
use crate::context::{BlockId, Height, OmniContext, ValidatorSet};
use crate::{Application, Timeouts, ValidatorInfo};
use ed25519_dalek::SigningKey;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{Round, Timeout};
use malachitebft_app_channel::app::types::sync::Status;
use malachitebft_app_channel::app::types::PeerId;
use network::{Agenda, Trace, Wire};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica::{Action, Replica};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a simulation could not run, or did not reach its goal.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration cannot work.
    #[error("simulation configuration: {0}")]
    Config(String),
    /// The simulation's runtime for the application could not be made.
    #[error("simulation runtime: {0}")]
    Runtime(String),
    /// A validator's network identity could not be made.
    #[error("simulated peer id: {0}")]
    PeerId(String),
    /// The harness could not open a validator's application.
    #[error("opening validator {validator}'s application: {message}")]
    Open {
        /// The validator.
        validator: usize,
        /// What went wrong.
        message: String,
    },
    /// The validators did not reach the target height in time.
    #[error("seed {seed}: no progress to height {target} within {bound:?} of simulated time; committed heights {committed:?}")]
    Stalled {
        /// The run's seed.
        seed: u64,
        /// The height every live validator had to commit.
        target: u64,
        /// The simulated time allowed.
        bound: Duration,
        /// What each validator had committed when time ran out.
        committed: Vec<u64>,
    },
    /// Two validators committed different blocks at one height: consensus is unsafe.
    #[error("seed {seed}: validators {first} and {second} committed different blocks at height {height} ({first_block} vs {second_block})")]
    Conflict {
        /// The run's seed.
        seed: u64,
        /// The height.
        height: u64,
        /// One validator.
        first: usize,
        /// Its block.
        first_block: BlockId,
        /// Another validator.
        second: usize,
        /// Its different block.
        second_block: BlockId,
    },
}

/// What the simulation needs from the system under test: its validators' applications.
pub trait Harness {
    /// The application every validator runs.
    type App: Application;

    /// Opens validator `validator`'s application: at the start, and again when it
    /// restarts after a crash (from what it committed before).
    fn open(&mut self, validator: usize) -> Result<Self::App, String>;

    /// Simulated time is now `now` (from the start of the run): for the applications'
    /// clocks. Called before every event whose time differs from the last.
    fn advance(&mut self, now: Duration) {
        let _ = now;
    }
}

/// What a client does at a validator: given the harness and that validator's
/// application, it submits (say) a transaction and returns the transactions the
/// validator forwards to the others' mempools.
pub type ClientCall<H> = Box<dyn FnOnce(&mut H, &<H as Harness>::App) -> Vec<Vec<u8>>>;

/// How to run a simulation.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed of the run's only RNG.
    pub seed: u64,
    /// How many validators (equal voting power).
    pub validators: usize,
    /// Consensus step timeouts (production's by default).
    pub timeouts: Timeouts,
    /// How the network treats messages.
    pub network: NetworkFaults,
    /// Shortest and longest time a proposer takes to build its block.
    pub build_time: (Duration, Duration),
    /// How often each validator tells the others the height it committed.
    pub status_interval: Duration,
    /// How long a value-sync request may go unanswered before it is sent again.
    pub sync_timeout: Duration,
}

impl SimConfig {
    /// `validators` validators with production timeouts and sync intervals, a lossy
    /// network ([`NetworkFaults::default`]), and the run's seed.
    pub fn new(seed: u64, validators: usize) -> SimConfig {
        SimConfig {
            seed,
            validators,
            timeouts: Timeouts::default(),
            network: NetworkFaults::default(),
            build_time: (Duration::from_millis(20), Duration::from_millis(250)),
            status_interval: Duration::from_millis(500),
            sync_timeout: Duration::from_secs(5),
        }
    }

    fn check(&self) -> Result<(), SimError> {
        let n = &self.network;
        let problem = if self.validators == 0 {
            Some("no validators")
        } else if !(0.0..=1.0).contains(&n.drop) || !(0.0..=1.0).contains(&n.duplicate) {
            Some("drop and duplicate are probabilities")
        } else if n.min_delay > n.max_delay || self.build_time.0 > self.build_time.1 {
            Some("a shortest time is longer than its longest")
        } else if self.status_interval.is_zero() {
            Some("the status interval is zero")
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(SimError::Config(p.into())))
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The run's seed.
    pub seed: u64,
    /// Simulated time when the target was reached.
    pub elapsed: Duration,
    /// The height each validator had committed then (a crashed one: before its crash).
    pub committed: Vec<u64>,
    /// Every block each validator committed, by height (through consensus or sync).
    pub decisions: Vec<BTreeMap<u64, BlockId>>,
    /// How many blocks each validator committed through value sync.
    pub synced: Vec<u64>,
    /// Hash of every delivery (time, sender, receiver, bytes) and commit, in order.
    pub trace: [u8; 32],
    /// What the network did.
    pub network: NetworkStats,
}

enum Event<H: Harness> {
    Deliver { from: usize, to: usize, wire: Wire },
    Timer { validator: usize, incarnation: u32, timeout: Timeout, generation: u64 },
    Build { validator: usize, incarnation: u32, height: Height, round: Round },
    Status { validator: usize, incarnation: u32 },
    Client { validator: usize, call: ClientCall<H> },
    Crash { validator: usize, restart: bool },
    Restart { validator: usize },
}

/// One validator's place in the simulation, across crashes.
struct Slot<A> {
    key: SigningKey,
    replica: Option<Replica<A>>,
    /// Bumped at every crash and restart: events of an earlier life are ignored.
    incarnation: u32,
    /// Crashed for good: not expected to reach the target.
    gone: bool,
    /// The committed height each peer last reported.
    tips: Vec<u64>,
    /// The value-sync request in flight: height, and when it was sent.
    pending_sync: Option<(u64, Duration)>,
    /// Height committed before a crash, for the report.
    last_committed: u64,
    decisions: BTreeMap<u64, BlockId>,
    /// Blocks committed through value sync.
    synced: u64,
}

/// A deterministic simulation of a validator set running `H`'s application (module docs).
pub struct Simulation<H: Harness> {
    config: SimConfig,
    rng: ChaCha8Rng,
    now: Duration,
    agenda: Agenda<Event<H>>,
    validators: ValidatorSet,
    peers: Vec<PeerId>,
    slots: Vec<Slot<H::App>>,
    trace: Trace,
    stats: NetworkStats,
    runtime: tokio::runtime::Runtime,
    harness: H,
}

/// Validator `index`'s consensus key: fixed, so that a seed alone decides a run.
fn validator_key(index: usize) -> SigningKey {
    let mut h = Sha256::new();
    h.update(b"omni/consensus/simulation/validator");
    h.update((index as u64).to_be_bytes());
    SigningKey::from_bytes(&h.finalize().into())
}

impl<H: Harness> Simulation<H> {
    /// Opens every validator's application through `harness` and starts consensus at
    /// simulated time zero.
    pub fn new(config: SimConfig, mut harness: H) -> Result<Simulation<H>, SimError> {
        config.check()?;
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(SimError::Runtime("cannot run inside a tokio runtime".into()));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| SimError::Runtime(e.to_string()))?;
        let n = config.validators;
        let keys: Vec<SigningKey> = (0..n).map(validator_key).collect();
        let infos: Vec<ValidatorInfo> = keys
            .iter()
            .map(|k| ValidatorInfo { public_key: k.verifying_key(), voting_power: 1, p2p: None })
            .collect();
        let peers =
            keys.iter().map(|k| replica::peer_id(&k.verifying_key())).collect::<Result<_, _>>()?;
        let slots = keys
            .into_iter()
            .map(|key| Slot {
                key,
                replica: None,
                incarnation: 0,
                gone: false,
                tips: vec![0; n],
                pending_sync: None,
                last_committed: 0,
                decisions: BTreeMap::new(),
                synced: 0,
            })
            .collect();
        harness.advance(Duration::ZERO);
        let mut sim = Simulation {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            trace: Trace::new(config.seed),
            config,
            now: Duration::ZERO,
            agenda: Agenda::new(),
            validators: ValidatorSet::new(&infos),
            peers,
            slots,
            stats: NetworkStats::default(),
            runtime,
            harness,
        };
        for validator in 0..n {
            sim.boot(validator)?;
        }
        Ok(sim)
    }

    /// The run's RNG, for a test to draw its workload from the same seed.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// The harness, for a test's own bookkeeping.
    pub fn harness(&mut self) -> &mut H {
        &mut self.harness
    }

    /// A client's call at `validator` at time `at`. If the validator is down then, the
    /// client finds nobody there and the call is not made.
    pub fn client(&mut self, at: Duration, validator: usize, call: ClientCall<H>) {
        self.agenda.at(at, Event::Client { validator, call });
    }

    /// Crashes `validator` at time `at`; it restarts at `restart_at`, if given, from what
    /// its application committed.
    pub fn crash(&mut self, validator: usize, at: Duration, restart_at: Option<Duration>) {
        self.agenda.at(at, Event::Crash { validator, restart: restart_at.is_some() });
        if let Some(restart_at) = restart_at {
            self.agenda.at(restart_at.max(at), Event::Restart { validator });
        }
    }

    /// Runs until every validator not crashed for good has committed `target`, or until
    /// `bound` of simulated time has passed ([`SimError::Stalled`]). Two validators
    /// committing different blocks at one height stop the run ([`SimError::Conflict`]).
    pub fn run(&mut self, target: u64, bound: Duration) -> Result<Report, SimError> {
        while !self.reached(target) {
            let Some(next) = self.agenda.next() else { break };
            if next.at > bound {
                break;
            }
            if next.at != self.now {
                self.now = next.at;
                self.harness.advance(self.now);
            }
            self.handle(next.event)?;
        }
        if !self.reached(target) {
            return Err(SimError::Stalled {
                seed: self.config.seed,
                target,
                bound,
                committed: self.committed(),
            });
        }
        Ok(Report {
            seed: self.config.seed,
            elapsed: self.now,
            committed: self.committed(),
            decisions: self.slots.iter().map(|s| s.decisions.clone()).collect(),
            synced: self.slots.iter().map(|s| s.synced).collect(),
            trace: self.trace.finish(),
            network: self.stats,
        })
    }

    /// Stops every validator (dropping its application) and returns the harness.
    pub fn finish(self) -> H {
        let Simulation { slots, harness, .. } = self;
        drop(slots);
        harness
    }

    fn committed(&self) -> Vec<u64> {
        self.slots
            .iter()
            .map(|s| s.replica.as_ref().map_or(s.last_committed, |r| r.committed()))
            .collect()
    }

    fn reached(&self, target: u64) -> bool {
        self.slots
            .iter()
            .all(|s| s.gone || s.replica.as_ref().is_some_and(|r| r.committed() >= target))
    }

    /// Opens `validator`'s application and starts its consensus.
    fn boot(&mut self, validator: usize) -> Result<(), SimError> {
        let app = self
            .harness
            .open(validator)
            .map_err(|message| SimError::Open { validator, message })?;
        let n = self.slots.len();
        let slot = &mut self.slots[validator];
        slot.incarnation += 1;
        slot.gone = false;
        slot.tips = vec![0; n];
        slot.pending_sync = None;
        let (replica, actions) = Replica::start(
            validator,
            slot.incarnation,
            slot.key.clone(),
            self.validators.clone(),
            self.peers.clone(),
            self.config.timeouts,
            app,
        );
        slot.replica = Some(replica);
        let incarnation = slot.incarnation;
        self.apply(validator, actions)?;
        let first = self.rng.gen_range(Duration::ZERO..=self.config.status_interval);
        self.agenda.at(self.now + first, Event::Status { validator, incarnation });
        Ok(())
    }

    fn handle(&mut self, event: Event<H>) -> Result<(), SimError> {
        match event {
            Event::Deliver { from, to, wire } => self.deliver(from, to, wire),
            Event::Timer { validator, incarnation, timeout, generation } => {
                match self.live(validator, incarnation) {
                    Some(replica) => {
                        let actions = replica.timer(timeout, generation);
                        self.apply(validator, actions)
                    }
                    None => Ok(()),
                }
            }
            Event::Build { validator, incarnation, height, round } => {
                let runtime = &self.runtime;
                let slot = &mut self.slots[validator];
                match slot.replica.as_mut().filter(|_| slot.incarnation == incarnation) {
                    Some(replica) => {
                        let actions = replica.build(height, round, runtime);
                        self.apply(validator, actions)
                    }
                    None => Ok(()),
                }
            }
            Event::Status { validator, incarnation } => self.status(validator, incarnation),
            Event::Client { validator, call } => {
                let Some(replica) = self.slots[validator].replica.as_mut() else {
                    return Ok(());
                };
                let forward = call(&mut self.harness, replica.app());
                if forward.is_empty() {
                    return Ok(());
                }
                let actions = replica.forward(forward);
                self.apply(validator, actions)
            }
            Event::Crash { validator, restart } => {
                let slot = &mut self.slots[validator];
                if let Some(replica) = slot.replica.take() {
                    slot.last_committed = replica.committed();
                    drop(replica.into_app());
                }
                slot.incarnation += 1;
                slot.gone = !restart;
                Ok(())
            }
            Event::Restart { validator } => self.boot(validator),
        }
    }

    /// The replica of `validator` if it is up and still in life `incarnation`.
    fn live(&mut self, validator: usize, incarnation: u32) -> Option<&mut Replica<H::App>> {
        let slot = &mut self.slots[validator];
        slot.replica.as_mut().filter(|_| slot.incarnation == incarnation)
    }

    fn deliver(&mut self, from: usize, to: usize, wire: Wire) -> Result<(), SimError> {
        if self.slots[to].replica.is_none() {
            self.stats.unreachable += 1;
            return Ok(());
        }
        self.stats.delivered += 1;
        self.trace.delivered(self.now, from, to, &wire);
        match wire.channel {
            network::Channel::SyncStatus => {
                let status: Result<Status<OmniContext>, _> =
                    WireCodec::new(false).decode(wire.bytes);
                if let Ok(status) = status {
                    let tip = &mut self.slots[to].tips[from];
                    *tip = (*tip).max(status.tip_height.0);
                }
                self.request_sync(to);
                Ok(())
            }
            channel => {
                let Some(replica) = self.slots[to].replica.as_mut() else { return Ok(()) };
                let actions = replica.receive(from, wire);
                self.apply(to, actions)?;
                if channel == network::Channel::SyncResponse {
                    self.slots[to].pending_sync = None;
                    self.request_sync(to);
                }
                Ok(())
            }
        }
    }

    /// Tells the others this validator's committed height, and asks for what it lacks.
    fn status(&mut self, validator: usize, incarnation: u32) -> Result<(), SimError> {
        let Some(replica) = self.live(validator, incarnation) else { return Ok(()) };
        let status = replica.status();
        if let Some(wire) = status {
            self.apply(validator, vec![Action::Broadcast(wire)])?;
        }
        let next = self.now + self.config.status_interval;
        self.agenda.at(next, Event::Status { validator, incarnation });
        self.request_sync(validator);
        Ok(())
    }

    /// Value sync: if a peer committed the height this validator needs next, asks one
    /// such peer (drawn by the RNG) for it, unless a request for it is still in flight.
    fn request_sync(&mut self, validator: usize) {
        let (now, timeout) = (self.now, self.config.sync_timeout);
        let slot = &self.slots[validator];
        let Some(replica) = slot.replica.as_ref() else { return };
        let next = replica.committed() + 1;
        if matches!(slot.pending_sync, Some((h, at)) if h == next && now < at + timeout) {
            return;
        }
        let ahead: Vec<usize> =
            (0..slot.tips.len()).filter(|&p| p != validator && slot.tips[p] >= next).collect();
        if ahead.is_empty() {
            return;
        }
        let Some(wire) = replica.sync_request(next) else { return };
        let peer = ahead[self.rng.gen_range(0..ahead.len())];
        self.slots[validator].pending_sync = Some((next, now));
        self.send(validator, peer, wire);
    }

    fn apply(&mut self, validator: usize, actions: Vec<Action>) -> Result<(), SimError> {
        let incarnation = self.slots[validator].incarnation;
        for action in actions {
            match action {
                Action::Broadcast(wire) => {
                    for to in (0..self.slots.len()).filter(|&to| to != validator) {
                        self.send(validator, to, wire.clone());
                    }
                }
                Action::Send(to, wire) => self.send(validator, to, wire),
                Action::Timer { timeout, generation, after } => self.agenda.at(
                    self.now + after,
                    Event::Timer { validator, incarnation, timeout, generation },
                ),
                Action::Build { height, round } => {
                    let (shortest, longest) = self.config.build_time;
                    let after = self.rng.gen_range(shortest..=longest);
                    self.agenda.at(
                        self.now + after,
                        Event::Build { validator, incarnation, height, round },
                    );
                }
                Action::Committed { height, block, synced } => {
                    self.slots[validator].synced += u64::from(synced);
                    self.committed_block(validator, height, block)?
                }
            }
        }
        Ok(())
    }

    fn committed_block(
        &mut self,
        validator: usize,
        height: u64,
        block: BlockId,
    ) -> Result<(), SimError> {
        self.trace.committed(self.now, validator, height, &block.0);
        self.slots[validator].decisions.insert(height, block);
        let other =
            self.slots.iter().enumerate().find_map(|(i, s)| {
                s.decisions.get(&height).filter(|b| **b != block).map(|b| (i, *b))
            });
        match other {
            Some((second, second_block)) => Err(SimError::Conflict {
                seed: self.config.seed,
                height,
                first: validator,
                first_block: block,
                second,
                second_block,
            }),
            None => Ok(()),
        }
    }

    /// Puts a message on the wire: lost, or delivered once or twice after seeded delays.
    fn send(&mut self, from: usize, to: usize, wire: Wire) {
        let faults = self.config.network;
        self.stats.sent += 1;
        let lossy = self.now < faults.stable_after;
        if lossy && self.rng.gen_bool(faults.drop) {
            self.stats.dropped += 1;
            return;
        }
        let copies = if self.rng.gen_bool(faults.duplicate) { 2 } else { 1 };
        self.stats.duplicated += copies - 1;
        for _ in 0..copies {
            let delay = self.rng.gen_range(faults.min_delay..=faults.max_delay);
            self.agenda.at(self.now + delay, Event::Deliver { from, to, wire: wire.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockRefusal;
    use std::sync::{Arc, Mutex};

    /// What a validator of the test application keeps across a crash: its decided blocks
    /// with their certificates.
    type Disk = Arc<Mutex<Vec<(Vec<u8>, Vec<u8>)>>>;

    /// The smallest application: a block is its height and proposer, committed in order.
    struct Chain {
        validator: usize,
        disk: Disk,
    }

    #[async_trait::async_trait]
    impl Application for Chain {
        fn committed_height(&self) -> u64 {
            self.disk.lock().expect("disk").len() as u64
        }

        async fn propose(&self, height: u64, _max_wait: Duration) -> Vec<u8> {
            [height.to_be_bytes(), (self.validator as u64).to_be_bytes()].concat()
        }

        fn check_block(&self, height: u64, block: &[u8]) -> Result<(), BlockRefusal> {
            let ours = block.len() == 16 && block.get(..8) == Some(&height.to_be_bytes()[..]);
            ours.then_some(())
                .ok_or_else(|| BlockRefusal::Invalid("not a block of this height".to_string()))
        }

        fn commit(&self, height: u64, block: &[u8], certificate: Vec<u8>) -> Result<(), String> {
            let mut disk = self.disk.lock().expect("disk");
            if disk.len() as u64 + 1 != height {
                return Err(format!("height {height} after {}", disk.len()));
            }
            disk.push((block.to_vec(), certificate));
            Ok(())
        }

        fn decided(&self, height: u64) -> Option<(Vec<u8>, Vec<u8>)> {
            let index = usize::try_from(height.checked_sub(1)?).ok()?;
            self.disk.lock().expect("disk").get(index).cloned()
        }

        fn received_transactions(&self, _txs: Vec<Vec<u8>>) {}
    }

    struct Chains(Vec<Disk>);

    impl Harness for Chains {
        type App = Chain;

        fn open(&mut self, validator: usize) -> Result<Chain, String> {
            Ok(Chain { validator, disk: self.0[validator].clone() })
        }
    }

    fn run(seed: u64) -> Report {
        let disks = (0..4).map(|_| Disk::default()).collect();
        let mut sim = Simulation::new(SimConfig::new(seed, 4), Chains(disks)).expect("start");
        let (validator, at) = (sim.rng().gen_range(0..4), Duration::from_secs(1));
        sim.crash(validator, at, Some(at + Duration::from_secs(8)));
        sim.run(12, Duration::from_secs(300)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn simulation_a_crashed_validator_catches_up_and_a_seed_replays_its_run() {
        for seed in 0..4 {
            let report = run(seed);
            assert!(report.committed.iter().all(|&h| h >= 12), "seed {seed}: {report:?}");
            assert!(report.synced.iter().sum::<u64>() > 0, "seed {seed}: the restarted one synced");
            assert_eq!(run(seed), report, "seed {seed}: the same seed, another run");
        }
        assert_ne!(run(0).trace, run(1).trace, "two seeds, two runs");
    }
}
