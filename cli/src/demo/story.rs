//! The network `omni demo` starts and the order of its story.
//!
//! [`World::start`] brings up, under one directory: development rating keys (files, as
//! `omni keys rating-setup` writes them), the registry (RocksDB, gRPC on 127.0.0.1,
//! Groth16 rating verifier), four carriers — each an `omni node start` process with its
//! configuration, key, RocksDB store and log in its own directory, its API and sync on
//! 127.0.0.1, reporting to the registry — and the registry members who are not carriers:
//! the membership administrator, a regulator and two financiers. [`run`] then tells the
//! story, phase by phase ([`super::billing`] for the bilateral side, [`super::omnilateral`]
//! for the registry side), and collects what happened into an [`Outcome`] for the report.
//!
//! Time: the nodes run on a simulated clock (`clock.simulated_from` in their
//! configuration), which the story moves forward through each node's API
//! ([`World::set_clock`]); the registry runs on the wall clock. The first billing interval
//! is three months back, so its payments (one on time, one late) have value dates in the
//! past; the second is last month, invoiced now, so its invoices are not yet due: they can
//! be pledged and netted.

use super::network::{delivered, free_port, Carrier, Member, NodeProcess, Pair};
use super::report::{ChainLine, MemberLine, Outcome};
use crate::proofs::{load_keys, Bar};
use anyhow::{ensure, Context, Result};
use omni_core::{BillingInterval, Hash32, Keypair, Micros};
use omni_node::api::proto::{BilateralRef, EntryAck, SetClockRequest};
use omni_node::api::rfc3339;
use omni_node::contract::BillingCycle;
use omni_prover::RatingKeys;
use omni_registry::tx::InvoiceId;
use omni_registry::Groth16RatingVerifier;
use omni_registry::{start, RunningServer, ServerConfig};
use omni_registry::{Genesis, Role};
use omni_verifier::RatingVerifier;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Seconds per day.
pub const DAY: u64 = 86_400;

/// Records per rating chunk proof: small, so that the demo's invoices (tens to hundreds
/// of records) are proven in seconds and the key setup takes about a second.
pub const RATING_CHUNK: usize = 32;

/// What `omni demo` was asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the stores and the rendered invoices go.
    pub root: PathBuf,
    /// Usage records of a typical proven invoice (each order reports its own share).
    pub records: usize,
    /// No step lines or progress bars (`--json`).
    pub quiet: bool,
}

/// Index of a carrier in [`World::carriers`].
pub type CarrierIx = usize;
/// Carrier A, B, C and D.
pub const A: CarrierIx = 0;
/// Carrier B.
pub const B: CarrierIx = 1;
/// Carrier C.
pub const C: CarrierIx = 2;
/// Carrier D.
pub const D: CarrierIx = 3;

/// An invoice as the story follows it across both ledgers and the registry.
#[derive(Clone, Debug)]
pub struct Booked {
    /// Invoice number (TMF678 billNo).
    pub number: String,
    /// The bilateral (index in [`World::pairs`]).
    pub pair: usize,
    /// Seller and buyer.
    pub seller: CarrierIx,
    /// The buyer.
    pub buyer: CarrierIx,
    /// Billing interval.
    pub interval: omni_core::IntervalId,
    /// MEF 114 Option 1 (seller-issued with a rating proof) or 2 (ledger-generated).
    pub option: u8,
    /// Total as issued, micro-units.
    pub total: Micros,
    /// The buyer's node verified its rating proof before storing it.
    pub buyer_verified: bool,
    /// Its id on the registry, once the registry verified its rating proof.
    pub registry: Option<InvoiceId>,
    /// What else happened to it, for the report.
    pub notes: Vec<String>,
}

/// The running network and what the story has done so far.
pub struct World {
    /// Step lines and progress bars are hidden when quiet.
    pub quiet: bool,
    /// The time the nodes' simulated clocks show.
    pub clock: u64,
    /// Where the stores, logs, terms and invoices go.
    pub root: PathBuf,
    /// Carriers A–D.
    pub carriers: Vec<Carrier>,
    /// Bilaterals, in the order they were agreed.
    pub pairs: Vec<Pair>,
    /// Invoices issued.
    pub book: Vec<Booked>,
    /// The membership administrator.
    pub admin: Member,
    /// The regulator.
    pub regulator: Member,
    /// Two financiers.
    pub financiers: Vec<Member>,
    /// The registry's gRPC address and id.
    pub registry_addr: SocketAddr,
    /// The registry's id (hash of its genesis).
    pub registry_id: Hash32,
    /// The first billing interval (three months back) and the second (last month).
    pub first: BillingInterval,
    /// The second billing interval.
    pub second: BillingInterval,
    /// Wall-clock time the story started.
    pub now: u64,
    /// The report being filled.
    pub outcome: Outcome,
    /// Each carrier's jurisdiction credential and its secret (held by the carrier alone).
    pub credentials: Vec<omni_circuits::compliance::CredentialOpening>,
    registry: Option<RunningServer>,
    // Last: everything above may hold handles of this runtime.
    runtime: tokio::runtime::Runtime,
}

/// The four carriers' names.
const CARRIERS: [&str; 4] = ["Carrier A", "Carrier B", "Carrier C", "Carrier D"];

/// A name as a directory name: "Carrier A" → "carrier-a".
pub fn dir_name(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

impl World {
    /// Prints a step of the story (unless quiet).
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", line.as_ref());
        }
    }

    /// A progress bar on stderr (hidden when quiet).
    pub fn bar(&self, message: &str) -> Bar {
        Bar::new(message, self.quiet)
    }

    /// The carrier at `ix`.
    pub fn carrier(&self, ix: CarrierIx) -> &Carrier {
        &self.carriers[ix]
    }

    /// Starts the registry, the carriers' nodes and the members' clients under
    /// `opts.root`.
    pub fn start(opts: &Options, started: Instant) -> Result<World> {
        let now = omni_core::Clock::System.now();
        let monthly = BillingCycle::Monthly;
        let interval = |t: u64| {
            monthly.interval_containing(t).map_err(|e| anyhow::anyhow!("billing interval: {e}"))
        };
        let current = interval(now)?;
        let second = interval(current.start - 1)?;
        let between = interval(second.start - 1)?;
        let first = interval(between.start - 1)?;
        let quiet = opts.quiet;

        // Development keys, written where `omni keys rating-setup` would write them; the
        // nodes load them from their configuration, the registry from this process.
        let keys_dir = opts.root.join("keys");
        let (keys, _) = load_keys(&keys_dir, RATING_CHUNK, quiet)?;
        let setup_s = started.elapsed().as_secs_f64();
        let (_, vk_path, _) = RatingKeys::paths(&keys_dir, RATING_CHUNK);
        let vk_path = std::path::absolute(&vk_path)?;
        let keys_hash = hex::encode(keys.verifying.hash().0);
        let verifier = RatingVerifier::new(keys.verifying.clone());

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let handle = runtime.handle().clone();

        // The registry: its admin is the only founding member; everybody else is admitted.
        let admin_key = Keypair::generate();
        let genesis = Genesis {
            name: "omni-demo".into(),
            time: now,
            members: vec![(admin_key.party(), Role::Admin)],
            rating_keys: None,
        };
        let config = ServerConfig::new(opts.root.join("registry"), ([127, 0, 0, 1], 0).into())
            .with_genesis(genesis)
            .with_verifier(Arc::new(Groth16RatingVerifier::new(verifier)));
        let registry = runtime.block_on(start(config)).context("starting the registry")?;
        let (registry_addr, registry_id) = (registry.local_addr(), registry.registry_id());
        let member = |name: &str, key: Keypair| {
            let outbox = opts.root.join("outboxes").join(dir_name(name));
            Member::connect(name, key, (registry_addr, registry_id), &outbox, &handle)
        };
        let admin = member("Membership admin", admin_key)?;
        let regulator = member("Regulator", Keypair::generate())?;
        let financiers = vec![
            member("Financier 1", Keypair::generate())?,
            member("Financier 2", Keypair::generate())?,
        ];

        // The carriers' nodes: a key, a configuration naming the other three as peers,
        // and `omni node start`, each in its own directory.
        let keys: Vec<Keypair> = CARRIERS.iter().map(|_| Keypair::generate()).collect();
        let ports: Vec<(SocketAddr, SocketAddr)> =
            CARRIERS.iter().map(|_| Ok((free_port()?, free_port()?))).collect::<Result<_>>()?;
        let mut carriers = Vec::new();
        for (i, name) in CARRIERS.iter().enumerate() {
            let dir = opts.root.join(dir_name(name));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            omni_core::key_file::write(&dir.join("node.key"), &keys[i].seed())
                .map_err(|e| anyhow::anyhow!("{name}'s key: {e}"))?;
            let peers: Vec<serde_json::Value> = (0..CARRIERS.len())
                .filter(|&j| j != i)
                .map(|j| {
                    serde_json::json!({ "party": keys[j].party().to_hex(),
                                        "address": ports[j].1.to_string() })
                })
                .collect();
            let config = serde_json::json!({
                "name": dir_name(name),
                "key_file": "node.key",
                "data_dir": "data",
                "billing_api": ports[i].0.to_string(),
                "sync_listen": ports[i].1.to_string(),
                "peers": peers,
                "registry": format!("http://{registry_addr}"),
                "rating_keys": { "verifying_key": vk_path, "hash": keys_hash },
                "clock": { "simulated_from": rfc3339(first.start) },
                "anchor_every_secs": 1,
            });
            let config_path = dir.join("node.json");
            std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)
                .with_context(|| format!("cannot write {}", config_path.display()))?;
            let process = NodeProcess::spawn(&config_path, &dir.join("node.log"))?;
            let key = Keypair::from_seed(keys[i].seed());
            carriers.push((name, key, process, ports[i]));
        }
        let carriers = carriers
            .into_iter()
            .map(|(name, key, process, (api, sync))| {
                let party = key.party();
                Carrier::connect(name, party, (process, api), sync, member(name, key)?)
            })
            .collect::<Result<Vec<Carrier>>>()?;
        let outcome = Outcome {
            registry_addr: registry_addr.to_string(),
            registry_id: registry_id.to_hex(),
            stores: opts.root.display().to_string(),
            setup_s,
            ..Outcome::default()
        };
        Ok(World {
            quiet,
            clock: first.start,
            root: opts.root.clone(),
            carriers,
            pairs: Vec::new(),
            book: Vec::new(),
            admin,
            regulator,
            financiers,
            registry_addr,
            registry_id,
            first,
            second,
            now,
            outcome,
            credentials: Vec::new(),
            registry: Some(registry),
            runtime,
        })
    }

    /// Moves every node's simulated clock forward to `t` (never back: entry times do not
    /// decrease), through each node's API.
    pub fn set_clock(&mut self, t: u64) -> Result<()> {
        let t = t.max(self.clock);
        for c in &self.carriers {
            let time = rfc3339(t);
            c.node("SetClock", |mut n| async move { n.set_clock(SetClockRequest { time }).await })?;
        }
        self.clock = t;
        Ok(())
    }

    /// Waits until the other end of bilateral `pair` holds what `from` acknowledged.
    pub fn deliver(&self, pair: usize, from: CarrierIx, ack: &EntryAck) -> Result<()> {
        let p = &self.pairs[pair];
        let to = p.other(from)?;
        delivered(&p.id, ack.seq, self.carrier(from), self.carrier(to))
    }

    /// Every node replays every bilateral it holds; both ends of each agree.
    fn verify_chains(&mut self) -> Result<()> {
        let mut lines = Vec::new();
        for p in &self.pairs {
            let mut digests = Vec::new();
            for &end in &p.ends {
                let bilateral = p.hex();
                let v = self.carrier(end).node("VerifyBilateral", |mut n| async move {
                    n.verify_bilateral(BilateralRef { bilateral }).await
                })?;
                digests.push((v.digest, v.entries));
            }
            ensure!(
                digests[0] == digests[1],
                "the two nodes of {} disagree: {:?} vs {:?}",
                p.reference,
                digests[0],
                digests[1]
            );
            let [x, y] = p.ends;
            lines.push(ChainLine {
                contract: p.reference.clone(),
                parties: format!("{} – {}", self.carrier(x).name, self.carrier(y).name),
                entries: digests[0].1,
                digest: digests[0].0.clone(),
                nodes_verified: 2,
            });
        }
        self.outcome.chains_verified = lines.iter().map(|l| l.nodes_verified).sum();
        self.outcome.chains = lines;
        Ok(())
    }

    /// The members as the registry lists them (role, conformance), over gRPC.
    fn list_members(&mut self) -> Result<()> {
        use omni_registry_protocol::proto::GetMemberRequest;
        let mut members: Vec<&Member> = vec![&self.admin, &self.regulator];
        members.extend(self.financiers.iter());
        members.extend(self.carriers.iter().map(|c| &c.member));
        let mut lines = Vec::new();
        for m in members {
            let party = m.party().0.to_vec();
            let r = self.admin.query("GetMember", |mut c| async move {
                c.get_member(GetMemberRequest { party }).await
            })?;
            lines.push(MemberLine {
                name: m.name.clone(),
                party: m.party().short(),
                role: r.role,
                conformance: r.conformance.map(|c| c.statement),
            });
        }
        self.outcome.conformance_published =
            lines.iter().filter(|l| l.conformance.is_some()).count();
        self.outcome.members = lines;
        Ok(())
    }

    /// Stops the nodes (each finishes what it was doing) and the registry.
    fn stop(self) -> Result<Outcome> {
        let World { registry, runtime, outcome, carriers, admin, regulator, financiers, .. } = self;
        for c in carriers {
            c.stop()?;
        }
        // The clients go first, so the registry's graceful shutdown has no open connection
        // to wait for.
        drop((admin, regulator, financiers));
        if let Some(server) = registry {
            runtime.block_on(server.shutdown()).context("stopping the registry")?;
        }
        Ok(outcome)
    }
}

/// Runs the whole story and returns what happened.
pub fn run(opts: &Options) -> Result<Outcome> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.root)
        .with_context(|| format!("cannot create {}", opts.root.display()))?;
    let mut w = World::start(opts, started)?;
    w.say(
        "Omnilateral demo — four carriers, their bilateral ledgers and the omni-lateral registry\n",
    );
    w.say(format!(
        "  registry   {} (RocksDB, gRPC), id {}",
        w.registry_addr,
        w.registry_id.short()
    ));
    for c in &w.carriers {
        w.say(format!(
            "  {}  {} omni node start: API {}, sync {}, simulated clock",
            c.name,
            c.party.short(),
            c.api_endpoint,
            c.sync_addr
        ));
    }
    w.say(format!(
        "  rating keys: development-only single-party setup, chunks of {RATING_CHUNK} records ({:.1} s)\n",
        w.outcome.setup_s
    ));

    w.admit_members()?;
    w.agree_contracts()?;
    w.first_interval(opts.records)?;
    w.second_interval(opts.records)?;
    w.supply_chain()?;
    w.pledge()?;
    w.netting_cycle()?;
    w.anchor_heads()?;
    w.reputations()?;
    w.verify_chains()?;
    w.list_members()?;
    w.render_invoices(&opts.root.join("invoices"))?;
    w.outcome.seconds = started.elapsed().as_secs_f64();
    w.outcome.ok = true;
    w.stop()
}
