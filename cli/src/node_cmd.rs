//! `omni node init`: a new node's key, configuration and data directory.
//!
//! `omni node start --config FILE`: one organisation's node — its RocksDB ledger, the
//! libp2p sync with its counterparties' nodes, the gRPC API its own systems and the `omni`
//! commands call, the background prover of its Option 1 invoices and, when the
//! configuration names a registry, the reporter that tells the registry what it must know
//! through a persistent outbox (`<data_dir>/registry-outbox`) — until Ctrl-C.
//!
//! `omni node status`: what a running node is doing. `omni node clock`: the clock it stamps
//! entries with; `--set` moves a simulated one forwards (rehearsals and demos only).
//! `omni node verify`: every bilateral's chain (or one) replayed by the node from its
//! genesis entry, with the state digest both parties' nodes must agree on.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use omni_core::Keypair;
use omni_node::api::NodeContext;
use omni_node::config::{NodeConfig, RegistryEndpoints};
use omni_node::interval_close::RatingProposer;
use omni_node::network::SyncNode;
use omni_node::proving::{NodeKeys, Prover};
use omni_node::registry_client::RegistryClient;
use omni_node::registry_reporter::{Reporter, ReporterOptions};
use omni_node::{Clock, Ledger, LedgerOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// `omni node …`.
#[derive(Subcommand)]
pub enum NodeCommand {
    /// Write a new node's key, configuration and data directory; prints its party key.
    Init(Box<InitArgs>),
    /// Start a node from its configuration file (see `omni_node::config`).
    Start(StartArgs),
    /// What a running node is doing: bilaterals and heads, registry outbox, proving, peers.
    Status(crate::lifecycle_cmd::Common),
    /// The clock a running node stamps entries with; --set moves a simulated one forwards.
    Clock(ClockArgs),
    /// Replay bilaterals' chains on the node: entries and state digest (exit 1 if one fails).
    Verify(VerifyArgs),
}

/// Arguments of `omni node clock`.
#[derive(Args)]
pub struct ClockArgs {
    #[command(flatten)]
    common: crate::lifecycle_cmd::Common,
    /// Move the node's simulated clock forwards to TIME (YYYY-MM-DD or RFC 3339); only a
    /// node configured with `clock.simulated_from` has one.
    #[arg(long, value_name = "TIME")]
    set: Option<String>,
}

/// Arguments of `omni node verify`.
#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    common: crate::lifecycle_cmd::Common,
    /// Only this bilateral (default: every bilateral the node holds).
    #[arg(long)]
    bilateral: Option<String>,
}

/// Arguments of `omni node init`.
#[derive(Args)]
pub struct InitArgs {
    /// Directory to create the node in (key `node.key`, configuration `node.json`, data
    /// directory `data/`); must not hold a node already.
    #[arg(long)]
    dir: PathBuf,
    /// A name for logs and reports.
    #[arg(long, default_value = "node")]
    name: String,
    /// Where the node's API listens.
    #[arg(long, default_value = "127.0.0.1:7600")]
    api: std::net::SocketAddr,
    /// Where the node's sync with its counterparties listens.
    #[arg(long, default_value = "127.0.0.1:7700")]
    sync_listen: std::net::SocketAddr,
    /// A counterparty's node: PARTY_KEY@HOST:PORT (repeatable).
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// The registry's gRPC endpoint, e.g. http://127.0.0.1:7400 (repeatable: its
    /// validators' endpoints, tried in turn).
    #[arg(long)]
    registry: Vec<String>,
    /// The rating verifying keys (rating-K.vk); proving keys are looked for beside them.
    #[arg(long)]
    rating_keys: Option<PathBuf>,
    /// The hash the rating verifying keys must have (hex, as the registry publishes it).
    #[arg(long)]
    rating_keys_hash: Option<String>,
    /// Propose the rating of each interval of each order this node sells this many seconds
    /// after the interval closes (late records may still come until then); without it,
    /// ratings are proposed by hand (`omni rating propose`).
    #[arg(long, value_name = "SECS")]
    propose_ratings_after_close: Option<u64>,
    /// This member's MEF 114 conformance declaration document (R13): the node publishes
    /// its SHA-256 with --conformance-statement once the registry shows it a member.
    #[arg(long, requires = "conformance_statement")]
    conformance_document: Option<PathBuf>,
    /// What the member claims to implement (at most 1 024 bytes).
    #[arg(long, requires = "conformance_document")]
    conformance_statement: Option<String>,
    /// Use this key (a file from `omni keys generate`) instead of a new one, e.g. when
    /// its party key was already given to the counterparty.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `omni node start`.
#[derive(Args)]
pub struct StartArgs {
    /// The node's configuration (JSON: key_file, data_dir, billing_api).
    #[arg(long)]
    config: PathBuf,
}

/// Runs `omni node …`.
pub fn run(command: NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Init(args) => init(&args),
        NodeCommand::Start(args) => start(&args),
        NodeCommand::Status(common) => status(&common),
        NodeCommand::Clock(args) => clock(&args),
        NodeCommand::Verify(args) => verify(&args),
    }
}

fn start(args: &StartArgs) -> Result<()> {
    let config = NodeConfig::load(&args.config)?;
    let key = config.keypair()?;
    let peers = config.sync_peers().map_err(anyhow::Error::msg)?;
    // The sync's libp2p identity is the same key.
    let key_seed = key.seed();
    let sync_key = Keypair::from_seed(key_seed);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let keys = match &config.rating_keys {
        Some(k) => Some(Arc::new(NodeKeys::load(k)?)),
        None => None,
    };
    let simulated = config.simulated_from().map_err(anyhow::Error::msg)?;
    // A declaration that cannot be read stops the start, naming the setting.
    let conformance = config
        .conformance
        .as_ref()
        .map(|c| c.declaration())
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let options = LedgerOptions {
        rating_verifier: keys.as_ref().map(|k| k.verifier()),
        // The buyer's answer to an Option 1 invoice waits for its verified proof.
        require_rating_proofs: true,
        clock: simulated.map_or(Clock::System, Clock::manual),
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(&config.data_dir, key, options)
        .with_context(|| format!("opening the ledger in {}", config.data_dir.display()))?;
    if let Some(from) = simulated {
        // Entry times never decrease: a restarted node's clock resumes at its latest entry.
        let latest = ledger
            .bilaterals()
            .iter()
            .filter_map(|id| ledger.state(id).ok().map(|s| s.head().timestamp))
            .max();
        ledger.clock().set(latest.map_or(from, |t| t.max(from)));
        eprintln!(
            "WARNING: simulated clock at {}: entry times are set through the node's API \
             (`omni node clock --set`), for rehearsals and demos only, never for real billing",
            omni_node::api::rfc3339(ledger.clock().now())
        );
    }
    let party = ledger.key();
    let outbox = match &config.registry {
        Some(endpoint) => {
            let dir = config.data_dir.join("registry-outbox");
            let client = RegistryClient::open_endpoints(
                &dir,
                Keypair::from_seed(key_seed),
                &endpoint.list(),
                omni_node::registry_client::DeliveryOptions::default(),
            )
            .with_context(|| format!("opening the registry outbox in {}", dir.display()))?;
            Some(client)
        }
        None => None,
    };
    let bilaterals = ledger.bilaterals().len();
    let ledger = Arc::new(Mutex::new(ledger));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let sync = SyncNode::start(ledger.clone(), &sync_key, config.sync_listen, &peers)
            .await
            .with_context(|| format!("starting the sync on {}", config.sync_listen))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let stop_proposer = stopped.clone();
        let (reporter, reporter_wake) = match &outbox {
            Some(client) => {
                client.start()?;
                let options = ReporterOptions {
                    anchor_every: std::time::Duration::from_secs(config.anchor_every_secs),
                    conformance,
                    ..ReporterOptions::default()
                };
                let reporter = Reporter::new(ledger.clone(), client.clone(), options);
                let wake = reporter.waker();
                // What the counterparty's node sends is reported as soon as it is stored.
                let on_received = wake.clone();
                sync.set_on_received(Arc::new(move || on_received.notify_one()));
                (Some(tokio::spawn(reporter.run(stopped))), Some(wake))
            }
            None => (None, None),
        };
        let sync = Arc::new(sync);
        // What the node appends in the background (proposed ratings, proofs) goes to the
        // counterparty and the registry at once; the sync is held weakly, so that it can
        // still be shut down on its own.
        let push: Arc<dyn Fn() + Send + Sync> = {
            let (weak_sync, wake_reporter) = (Arc::downgrade(&sync), reporter_wake.clone());
            Arc::new(move || {
                if let Some(sync) = weak_sync.upgrade() {
                    sync.wake();
                }
                if let Some(reporter) = &wake_reporter {
                    reporter.notify_one();
                }
            })
        };
        let proposer = config.rating_proposal.map(|setting| {
            let proposer = RatingProposer::new(ledger.clone(), setting, push.clone());
            tokio::spawn(proposer.run(std::time::Duration::from_secs(2), stop_proposer))
        });
        let mut node = NodeContext {
            ledger: ledger.clone(),
            name: config.name.clone(),
            keys: keys.clone(),
            prover: None,
            outbox: outbox.clone(),
            sync: Some(sync.clone()),
            reporter: reporter_wake,
        };
        node.prover = Some(Prover::start(ledger, keys.clone(), push));
        let api = omni_node::api::serve(node, config.billing_api)
            .await
            .with_context(|| format!("serving the billing API on {}", config.billing_api))?;
        let name = if config.name.is_empty() { "node" } else { config.name.as_str() };
        let registry = match &config.registry {
            Some(endpoint) => format!("reporting to the registry at {endpoint}"),
            None => "no registry".to_string(),
        };
        // The billing API's address is the line's last word (scripts and tests read it).
        println!(
            "{name}: party {party}, {bilaterals} bilaterals in {}, sync listening on {} \
             (peer id {}, {} counterparty nodes), {registry}, billing API listening on {}",
            config.data_dir.display(),
            sync.listen_addr(),
            sync.peer_id(),
            peers.len(),
            api.local_addr
        );
        std::io::stdout().flush()?;
        omni_registry::stop_signal().await?;
        eprintln!("{name}: stopping");
        api.shutdown().await?;
        match Arc::try_unwrap(sync) {
            Ok(sync) => sync.shutdown().await,
            Err(_) => tracing::warn!("the sync is still in use; it stops with the process"),
        }
        let _ = stop.send(true);
        if let Some(task) = reporter {
            task.await.context("stopping the registry reporter")?;
        }
        if let Some(task) = proposer {
            task.await.context("stopping the rating proposer")?;
        }
        if let Some(client) = outbox {
            let pending = client.pending();
            client.close().await?;
            if pending > 0 {
                eprintln!(
                    "{name}: {pending} registry submissions wait in the outbox for the next start"
                );
            }
        }
        Ok(())
    })
}

fn init(args: &InitArgs) -> Result<()> {
    use crate::node_client::CannotAsk;
    let config_path = args.dir.join("node.json");
    let key_path = args.dir.join("node.key");
    if config_path.exists() || key_path.exists() {
        return Err(CannotAsk(format!(
            "{} already holds a node (node.json or node.key); choose another --dir",
            args.dir.display()
        ))
        .into());
    }
    std::fs::create_dir_all(args.dir.join("data"))
        .map_err(|e| CannotAsk(format!("cannot create {}: {e}", args.dir.display())))?;
    let mut peers = Vec::new();
    for p in &args.peers {
        let (party, address) = p
            .split_once('@')
            .ok_or_else(|| CannotAsk(format!("--peer {p:?}: PARTY_KEY@HOST:PORT")))?;
        let address =
            address.parse().map_err(|e| CannotAsk(format!("--peer {p:?}: address: {e}")))?;
        omni_core::PartyId::from_hex(party)
            .map_err(|e| CannotAsk(format!("--peer {p:?}: party key: {e}")))?;
        peers.push(omni_node::config::PeerConfig { party: party.to_string(), address });
    }
    let rating_keys = match (&args.rating_keys, &args.rating_keys_hash) {
        (Some(vk), Some(hash)) => {
            let vk = std::path::absolute(vk)
                .map_err(|e| CannotAsk(format!("--rating-keys {}: {e}", vk.display())))?;
            Some(omni_node::config::RatingKeysConfig { verifying_key: vk, hash: hash.clone() })
        }
        (None, None) => None,
        _ => return Err(CannotAsk(
            "--rating-keys and --rating-keys-hash go together (the hash says which keys to trust)"
                .into(),
        )
        .into()),
    };
    let config = NodeConfig {
        name: args.name.clone(),
        key_file: "node.key".into(),
        data_dir: "data".into(),
        billing_api: args.api,
        sync_listen: args.sync_listen,
        peers,
        registry: match args.registry.len() {
            0 => None,
            1 => Some(RegistryEndpoints::One(args.registry[0].clone())),
            _ => Some(RegistryEndpoints::Many(args.registry.clone())),
        },
        rating_keys,
        anchor_every_secs: 60,
        clock: None,
        rating_proposal: args.propose_ratings_after_close.map(|secs| {
            omni_node::interval_close::RatingProposal { after_interval_close_secs: secs }
        }),
        conformance: match (&args.conformance_document, &args.conformance_statement) {
            (Some(document), Some(statement)) => {
                let document = std::path::absolute(document).map_err(|e| {
                    CannotAsk(format!("--conformance-document {}: {e}", document.display()))
                })?;
                Some(omni_node::config::ConformanceConfig {
                    document,
                    statement: statement.clone(),
                })
            }
            _ => None,
        },
    };
    if let Some(c) = &config.conformance {
        c.declaration().map_err(CannotAsk)?;
    }
    // The configuration is checked as `omni node start` will read it before anything is
    // written that would make the directory look like a node.
    if let Some(k) = &config.rating_keys {
        NodeKeys::load(k).map_err(|e| CannotAsk(e.to_string()))?;
    }
    let key = match &args.key {
        Some(path) => {
            omni_node::config::read_key_file(path).map_err(|e| CannotAsk(e.to_string()))?
        }
        None => Keypair::generate(),
    };
    omni_core::key_file::write(&key_path, &key.seed()).map_err(CannotAsk)?;
    let text = serde_json::to_string_pretty(&config)?;
    std::fs::write(&config_path, format!("{text}\n"))
        .map_err(|e| CannotAsk(format!("cannot write {}: {e}", config_path.display())))?;
    let party = key.party();
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "party": party.to_hex(), "config": config_path, "key_file": key_path,
                                "data_dir": args.dir.join("data"), "api": format!("http://{}", args.api) })
        );
    } else {
        println!(
            "node {} initialised in {}: party {party}\nstart it with `omni node start --config {}`",
            args.name,
            args.dir.display(),
            config_path.display()
        );
    }
    Ok(())
}

/// Writes a secret readable by its owner only.
fn status(common: &crate::lifecycle_cmd::Common) -> Result<()> {
    use omni_node::api::proto;
    let api = crate::node_client::NodeApi::connect(common.node.as_deref())?;
    let mut c = api.node.clone();
    let s = api.call("GetStatus", c.get_status(proto::GetStatusRequest {}))?;
    if common.json {
        let bilaterals: Vec<_> = s
            .bilaterals
            .iter()
            .map(|b| {
                serde_json::json!({ "bilateral": b.bilateral, "counterparty": b.counterparty,
                    "status": b.status, "head_seq": b.head_seq, "head_hash": b.head_hash,
                    "counterparty_holds": b.counterparty_holds })
            })
            .collect();
        let proving: Vec<_> = s
            .proving
            .iter()
            .map(|j| {
                let p = j.proof.clone().unwrap_or_default();
                serde_json::json!({ "bilateral": j.bilateral, "number": j.bill_no, "state": p.state,
                    "done": p.done, "total": p.total, "error": p.error })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "party": s.party, "name": s.name, "bilaterals": bilaterals,
                "registry": s.registry, "outbox_pending": s.outbox_pending,
                "outbox_refused": s.outbox_refused, "outbox_delivered": s.outbox_delivered,
                "outbox_last_error": s.outbox_last_error, "proving": proving, "peers": s.peers,
                "rating_keys": s.rating_keys, "clock": s.clock })
        );
        return Ok(());
    }
    println!("node {} ({}), party {}", s.name, api.endpoint(), s.party);
    println!("clock: {}", s.clock);
    println!(
        "rating keys: {}",
        if s.rating_keys.is_empty() {
            "none (Option 2 invoices only)".into()
        } else {
            s.rating_keys.clone()
        }
    );
    println!("connected counterparty nodes: {}", s.peers.len());
    for b in &s.bilaterals {
        println!(
            "  bilateral {} {:<9} head {} (counterparty holds up to {})",
            b.bilateral,
            b.status,
            b.head_seq,
            b.counterparty_holds.saturating_sub(1)
        );
    }
    if s.registry.is_empty() {
        println!("registry: none");
    } else {
        println!(
            "registry {}: {} pending, {} delivered, {} refused{}",
            s.registry,
            s.outbox_pending,
            s.outbox_delivered,
            s.outbox_refused,
            if s.outbox_last_error.is_empty() {
                String::new()
            } else {
                format!(" (last error: {})", s.outbox_last_error)
            }
        );
    }
    for j in &s.proving {
        let p = j.proof.clone().unwrap_or_default();
        println!("  proving {}: {} {}/{}", j.bill_no, p.state, p.done, p.total);
    }
    Ok(())
}

fn clock(args: &ClockArgs) -> Result<()> {
    use omni_node::api::proto;
    let api = crate::node_client::NodeApi::connect(args.common.node.as_deref())?;
    let mut c = api.node.clone();
    let v = match &args.set {
        Some(time) => {
            api.call("SetClock", c.set_clock(proto::SetClockRequest { time: time.clone() }))?
        }
        None => api.call("GetClock", c.get_clock(proto::GetClockRequest {}))?,
    };
    if args.common.json {
        println!("{}", serde_json::json!({ "clock": v.clock, "time": v.time, "unix": v.unix }));
    } else if args.set.is_some() {
        println!("{} clock moved to {} (unix {})", v.clock, v.time, v.unix);
    } else {
        println!("{} clock at {} (unix {})", v.clock, v.time, v.unix);
    }
    Ok(())
}

fn verify(args: &VerifyArgs) -> Result<()> {
    use crate::node_client::Refused;
    use omni_node::api::proto;
    let api = crate::node_client::NodeApi::connect(args.common.node.as_deref())?;
    let ids = match &args.bilateral {
        Some(id) => vec![id.clone()],
        None => {
            let mut c = api.billing.clone();
            let list =
                api.call("ListBilaterals", c.list_bilaterals(proto::ListBilateralsRequest {}))?;
            list.bilaterals.into_iter().map(|b| b.id).collect()
        }
    };
    let (mut rows, mut lines, mut failed) = (Vec::new(), Vec::new(), 0);
    for id in ids {
        let mut c = api.node.clone();
        let request = proto::BilateralRef { bilateral: id.clone() };
        match api.call("VerifyBilateral", c.verify_bilateral(request)) {
            Ok(v) => {
                lines.push(format!(
                    "bilateral {}: {} entries replayed, state digest {}",
                    v.bilateral, v.entries, v.digest
                ));
                rows.push(serde_json::json!({ "bilateral": v.bilateral, "entries": v.entries,
                                              "digest": v.digest }));
            }
            // One bilateral asked for: its refusal is the answer. Every one: the others
            // are still replayed, and the failures counted.
            Err(e) if args.bilateral.is_none() && e.downcast_ref::<Refused>().is_some() => {
                failed += 1;
                lines.push(format!("bilateral {id}: replay FAILED: {e}"));
                rows.push(serde_json::json!({ "bilateral": id, "error": e.to_string() }));
            }
            Err(e) => return Err(e),
        }
    }
    if args.common.json {
        println!("{}", serde_json::json!({ "bilaterals": rows }));
    } else if lines.is_empty() {
        println!("no bilaterals");
    } else {
        println!("{}", lines.join("\n"));
    }
    if failed > 0 {
        return Err(
            Refused(format!("the replay of {failed} of {} bilaterals failed", rows.len())).into()
        );
    }
    Ok(())
}
