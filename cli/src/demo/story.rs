//! The network `omni demo` starts and the order of its story.
//!
//! [`World::start`] brings up, under one directory: the registry (RocksDB, gRPC on
//! 127.0.0.1, Groth16 rating verifier), four carriers — each a ledger node on RocksDB
//! with its billing API on 127.0.0.1 — and the registry members who are not carriers: the
//! membership administrator, a regulator and two financiers. [`run`] then tells the story,
//! phase by phase ([`super::billing`] for the bilateral side, [`super::omnilateral`] for
//! the registry side), and collects what happened into an [`Outcome`] for the report.
//!
//! Time: the ledgers run on a manual clock, the registry on the wall clock. The first
//! billing interval is three months back, so its payments (one on time, one late) have
//! value dates in the past; the second is last month, invoiced now, so its invoices are
//! not yet due: they can be pledged and netted.

use super::network::{lock, Carrier, Member, Pair, Transport};
use super::report::{ChainLine, MemberLine, Outcome};
use crate::proofs::Bar;
use anyhow::{bail, ensure, Context, Result};
use omni_core::{BillingInterval, Hash32, Keypair, Micros};
use omni_node::contract::BillingCycle;
use omni_node::{Clock, Ledger, LedgerOptions};
use omni_prover::RatingKeys;
use omni_registry::proof::Groth16RatingVerifier;
use omni_registry::server::{start, RunningServer, ServerConfig};
use omni_registry::tx::InvoiceId;
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
    /// Due date on the ledger when issued.
    pub due_date: u64,
    /// The buyer's node verified its rating proof before storing it.
    pub buyer_verified: bool,
    /// Its id on the registry, once the registry verified its rating proof.
    pub registry: Option<InvoiceId>,
    /// The blinding of its amount commitment (Option 1).
    pub blinding: Option<[u8; 32]>,
    /// Its rating proof bundle (Option 1).
    pub bundle: Vec<u8>,
    /// What else happened to it, for the report.
    pub notes: Vec<String>,
}

/// The running network and what the story has done so far.
pub struct World {
    /// Step lines and progress bars are hidden when quiet.
    pub quiet: bool,
    /// The ledgers' clock (manual).
    pub clock: Clock,
    /// Development-only rating keys (one setup per run).
    pub keys: RatingKeys,
    /// The bilateral transport.
    pub transport: Transport,
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

/// The wall clock, UTC seconds.
pub fn wall_clock() -> Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs())
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
        let now = wall_clock()?;
        let monthly = BillingCycle::Monthly;
        let interval = |t: u64| {
            monthly.interval_containing(t).map_err(|e| anyhow::anyhow!("billing interval: {e}"))
        };
        let current = interval(now)?;
        let second = interval(current.start - 1)?;
        let between = interval(second.start - 1)?;
        let first = interval(between.start - 1)?;
        let quiet = opts.quiet;

        if !quiet {
            eprintln!(
                "WARNING: rating keys come from a single-party DEVELOPMENT-ONLY setup run now \
                 (whoever runs it can forge proofs; production keys come from a multi-party \
                 ceremony)"
            );
        }
        let bar = Bar::new("setting up rating keys", quiet);
        let keys = RatingKeys::setup_development(RATING_CHUNK, &mut rand::rngs::OsRng, &|d, t| {
            bar.update(d, t)
        })
        .context("rating key setup")?;
        bar.finish();
        let setup_s = started.elapsed().as_secs_f64();
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
        };
        let config = ServerConfig::new(opts.root.join("registry"), ([127, 0, 0, 1], 0).into())
            .with_genesis(genesis)
            .with_verifier(Arc::new(Groth16RatingVerifier::new(verifier.clone())));
        let registry = runtime.block_on(start(config)).context("starting the registry")?;
        let (registry_addr, registry_id) = (registry.local_addr(), registry.registry_id());
        let member = |name: &str, key: Keypair| {
            let outbox = opts.root.join("outboxes").join(name.to_lowercase().replace(' ', "-"));
            Member::connect(name, key, (registry_addr, registry_id), &outbox, &handle)
        };
        let admin = member("Membership admin", admin_key)?;
        let regulator = member("Regulator", Keypair::generate())?;
        let financiers = vec![
            member("Financier 1", Keypair::generate())?,
            member("Financier 2", Keypair::generate())?,
        ];

        let clock = Clock::manual(first.start);
        let options = LedgerOptions {
            clock: clock.clone(),
            rating_verifier: Some(Arc::new(verifier)),
            require_rating_proofs: true,
            ..LedgerOptions::default()
        };
        let seeds: [(&str, [u8; 32]); 4] = [
            ("Carrier A", omni_node::sample::carrier_a().seed()),
            ("Carrier B", omni_node::sample::carrier_b().seed()),
            ("Carrier C", [0xC3; 32]),
            ("Carrier D", [0xD4; 32]),
        ];
        let mut carriers = Vec::new();
        for (name, seed) in seeds {
            let dir = opts.root.join(name.to_lowercase().replace(' ', "-"));
            let ledger = Ledger::open(&dir, Keypair::from_seed(seed), options.clone())
                .with_context(|| {
                    format!("cannot open {name}'s ledger store in {}", dir.display())
                })?;
            if !ledger.bilaterals().is_empty() {
                bail!("{} already holds a demo; give an empty --out directory", dir.display());
            }
            carriers.push(Carrier::start(
                name,
                (ledger, &Keypair::from_seed(seed)),
                member(name, Keypair::from_seed(seed))?,
                &handle,
            )?);
        }
        let transport = Transport::connect(&carriers, &handle);
        let outcome = Outcome {
            registry_addr: registry_addr.to_string(),
            registry_id: registry_id.to_hex(),
            stores: opts.root.display().to_string(),
            setup_s,
            ..Outcome::default()
        };
        Ok(World {
            quiet,
            clock,
            keys,
            transport,
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

    /// Every node replays every bilateral it holds; both ends of each agree.
    fn verify_chains(&mut self) -> Result<()> {
        let mut lines = Vec::new();
        for p in &self.pairs {
            let [x, y] = p.nodes();
            let (dx, dy) = (lock(x)?.verify(&p.id)?, lock(y)?.verify(&p.id)?);
            ensure!(dx == dy, "the two nodes of {} disagree: {dx} vs {dy}", p.reference);
            let entries = lock(x)?.state(&p.id)?.head().seq + 1;
            let [nx, ny] = p.names();
            lines.push(ChainLine {
                contract: p.reference.clone(),
                parties: format!("{nx} – {ny}"),
                entries,
                digest: dx.to_hex(),
                nodes_verified: 2,
            });
        }
        self.outcome.chains_verified = lines.iter().map(|l| l.nodes_verified).sum();
        self.outcome.chains = lines;
        Ok(())
    }

    /// The members as the registry lists them (role, conformance), over gRPC.
    fn list_members(&mut self) -> Result<()> {
        use omni_registry::api::proto::GetMemberRequest;
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

    /// Stops the billing APIs and the registry.
    fn stop(mut self) -> Result<Outcome> {
        for c in &mut self.carriers {
            c.stop()?;
        }
        let World { registry, runtime, outcome, carriers, admin, regulator, financiers, .. } = self;
        // The clients go first, so the registry's graceful shutdown has no open connection
        // to wait for.
        drop((carriers, admin, regulator, financiers));
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
        w.say(format!("  {}  {} billing API on {}", c.name, c.party.short(), c.billing_addr));
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
