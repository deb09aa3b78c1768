//! `omni bench consensus`: a registry validator set on 127.0.0.1 (all validators in this
//! process, each with its own RocksDB, WAL, libp2p and gRPC sockets) under load from
//! concurrent members; reports commit latency as a client sees it (`Submit` until its
//! block is committed), throughput, and whether every validator committed the same state
//! root at every height.
//!
//! With several validators the loads start once each has committed a block (they are
//! connected then). Two loads, one after the other on the same validators: members anchoring bilateral
//! heads for `--seconds`, then sellers submitting `--invoices` invoices with real rating
//! proofs (each validator verifies every proof itself — once, in batches, when the
//! transaction reaches its mempool — and executes every block). Proving is not measured:
//! the proven invoices are kept in `--fixtures` (by default `~/.cache/omni/bench`) under
//! the hash of the development keys that proved them, and made once.

use crate::bench_fixtures;
use crate::registry_cmd::{testnet, TestnetArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use omni_core::{Hash32, Keypair};
use omni_registry::Groth16RatingVerifier;
use omni_registry::{Role, ServerConfig, SignedTx, TxBody, ValidatorSetFile};
use omni_registry_protocol::proto::registry_client::RegistryClient;
use omni_registry_protocol::proto::{GetRootRequest, GetStatusRequest, SubmitRequest};
use omni_verifier::RatingProofBundle;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Arguments of `omni bench consensus`.
#[derive(Args)]
pub struct ConsensusBenchArgs {
    /// Validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Concurrent members submitting transactions (spread over the validators).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds of anchoring load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// SubmitInvoice transactions with real rating proofs, submitted after the anchors
    /// (0: none).
    #[arg(long, default_value_t = 1024)]
    invoices: usize,
    /// Concurrent sellers submitting the invoices (each waits for its last invoice to be
    /// committed before it submits the next).
    #[arg(long, default_value_t = 256)]
    sellers: usize,
    /// Where proven invoices and the development keys that proved them are kept between
    /// runs (default: `$XDG_CACHE_HOME/omni/bench` or `~/.cache/omni/bench`).
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

async fn connect(addr: std::net::SocketAddr) -> Result<RegistryClient<Channel>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match RegistryClient::connect(format!("http://{addr}")).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => {
                return Err(e).with_context(|| format!("connecting to validator {addr}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(args: ConsensusBenchArgs) -> Result<()> {
    if args.validators == 0 || args.clients == 0 {
        bail!("--validators and --clients must be at least 1");
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(bench(args))
}

/// Records per invoice of the invoice load (one chunk proof and the final proof).
const RECORDS: usize = 4;

fn member(tag: &str, i: usize) -> Keypair {
    Keypair::from_seed(Hash32::digest(tag, &i.to_be_bytes()).0)
}

/// Submits `txs` one after another (each after the previous is committed); the commit
/// latency of each accepted one, in ms, and how many were refused.
async fn submit_in_turn(mut api: RegistryClient<Channel>, txs: Vec<Vec<u8>>) -> (Vec<f64>, usize) {
    let mut latencies = Vec::with_capacity(txs.len());
    let mut refused = 0;
    for tx in txs {
        let t = Instant::now();
        match api.submit(SubmitRequest { tx, transaction: None }).await {
            Ok(_) => latencies.push(t.elapsed().as_secs_f64() * 1000.0),
            Err(_) => refused += 1,
        }
    }
    (latencies, refused)
}

async fn height(api: &mut RegistryClient<Channel>) -> Result<u64> {
    Ok(api.get_status(GetStatusRequest {}).await?.into_inner().at.map_or(0, |a| a.height))
}

async fn bench(args: ConsensusBenchArgs) -> Result<()> {
    let setup = Instant::now();
    let invoices = if args.invoices > 0 {
        Some(bench_fixtures::load(
            &bench_fixtures::dir(args.fixtures.as_deref())?,
            args.invoices,
            RECORDS,
            args.json,
        )?)
    } else {
        None
    };
    let prepare_s = setup.elapsed().as_secs_f64();
    let sellers = if invoices.is_some() { args.sellers.max(1) } else { 0 };

    let dir = tempfile::tempdir()?;
    let admin = Keypair::from_seed([0xad; 32]);
    let path = testnet(&TestnetArgs {
        validators: args.validators,
        dir: dir.path().to_path_buf(),
        base_port: None,
        admin: Some(admin.party().to_hex()),
        keys: Default::default(),
    })?;
    // Every member of the load is in the genesis.
    let anchorers: Vec<Keypair> = (0..args.clients).map(|i| member("bench", i)).collect();
    let sellers: Vec<Keypair> = (0..sellers).map(|i| member("bench/seller", i)).collect();
    let buyer = member("bench/buyer", 0);
    let mut set = ValidatorSetFile::load(&path)?;
    for m in anchorers.iter().chain(&sellers).chain([&buyer]) {
        set.genesis.members.push((m.party(), Role::Member));
    }
    set.save(&path)?;
    let due_date = set.genesis.time + 30 * 86_400;

    let mut servers = Vec::new();
    for (i, v) in set.validators.iter().enumerate() {
        let mut config =
            ServerConfig::new(dir.path().join(format!("v{i}")), v.api).with_validators(set.clone());
        config.max_block_txs = 1024;
        if let Some((rating, _)) = &invoices {
            // Each validator its own verifier (and its own memory of accepted proofs).
            config = config.with_verifier(Arc::new(Groth16RatingVerifier::new(rating.clone())));
        }
        servers.push(omni_registry::start(config).await?);
    }
    let registry = servers[0].registry_id();
    let mut apis = Vec::new();
    for s in &servers {
        apis.push(connect(s.local_addr()).await?);
    }
    // With several validators, the loads start once every one has committed a block
    // (empty, after the empty-block interval): they are connected by then (a proposal
    // streamed before a peer connected never reaches it, and that round times out), so
    // the figures are of the running network, not of its start. A single validator
    // makes no empty blocks and has no peers to wait for.
    let connected = Instant::now() + Duration::from_secs(60);
    for api in apis.iter_mut().filter(|_| args.validators > 1) {
        while height(api).await? == 0 {
            if Instant::now() > connected {
                bail!("the validators committed no block within a minute of starting");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let start_height = height(&mut apis[0]).await?;

    // Load 1: every member anchors a bilateral head after another, each on its validator.
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (i, m) in anchorers.into_iter().enumerate() {
        let mut api = apis[i % apis.len()].clone();
        tasks.push(tokio::spawn(async move {
            let bilateral = Hash32::digest("bench/bilateral", &i.to_be_bytes());
            let mut latencies = Vec::new();
            let mut nonce = 0u64;
            while Instant::now() < until {
                let body = TxBody::AnchorHead { bilateral, seq: nonce + 1, head: Hash32([7; 32]) };
                let tx = SignedTx::sign(&m, &registry, nonce, body);
                let t = Instant::now();
                if api.submit(SubmitRequest { tx: tx.to_bytes(), transaction: None }).await.is_ok()
                {
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    nonce += 1;
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let anchor_blocks = height(&mut apis[0]).await?.saturating_sub(start_height);
    latencies.sort_by(f64::total_cmp);

    // Load 2: sellers submit proven invoices, each its own in turn, on its validator.
    let mut invoice_report = serde_json::Value::Null;
    if let Some((_, fixtures)) = &invoices {
        let mut queues: Vec<Vec<Vec<u8>>> = vec![Vec::new(); sellers.len()];
        for (n, f) in fixtures.iter().enumerate() {
            let s = n % sellers.len();
            let body = f.submit_invoice(n, buyer.party(), sellers[s].party(), due_date)?;
            let nonce = queues[s].len() as u64;
            queues[s].push(SignedTx::sign(&sellers[s], &registry, nonce, body).to_bytes());
        }
        let proofs_per_invoice = match fixtures.first() {
            Some(f) => RatingProofBundle::from_bytes(&f.bundle)?.proofs(),
            None => 0,
        };
        let before = height(&mut apis[0]).await?;
        let started = Instant::now();
        let tasks: Vec<_> = queues
            .into_iter()
            .enumerate()
            .map(|(s, txs)| tokio::spawn(submit_in_turn(apis[s % apis.len()].clone(), txs)))
            .collect();
        let (mut lat, mut refused) = (Vec::new(), 0);
        for t in tasks {
            let (l, r) = t.await?;
            lat.extend(l);
            refused += r;
        }
        let seconds = started.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        let finalized = lat.len();
        if refused > 0 {
            bail!("{refused} of {} proven invoices were refused", fixtures.len());
        }
        invoice_report = json!({
            "rating_proofs_finalized_per_s": finalized as f64 / seconds,
            "invoices": finalized,
            "groth16_proofs_per_invoice": proofs_per_invoice,
            "sellers": sellers.len(),
            "seconds": seconds,
            "blocks": height(&mut apis[0]).await?.saturating_sub(before),
            "commit_latency_ms_p50": percentile(&lat, 0.50),
            "commit_latency_ms_p99": percentile(&lat, 0.99),
            "prepare_s": prepare_s,
        });
    }

    // Agreement: the same block and state root at every height on every validator.
    let mut heights = Vec::new();
    for api in &mut apis {
        heights.push(height(api).await?);
    }
    let common = heights.iter().copied().min().unwrap_or(0);
    let mut roots_match = true;
    for h in 1..=common {
        let mut first = None;
        for api in &mut apis {
            let r = api.get_root(GetRootRequest { height: h }).await?.into_inner();
            let pair = (r.found, r.block_hash, r.state_root);
            match &first {
                None => first = Some(pair),
                Some(f) => roots_match &= *f == pair && pair.0,
            }
        }
    }
    drop(apis);
    for s in servers {
        s.shutdown().await?;
    }

    let txs = latencies.len();
    let finalized = invoice_report.get("rating_proofs_finalized_per_s").cloned();
    let report = json!({
        "validators": args.validators,
        "clients": args.clients,
        "seconds": elapsed,
        "blocks": anchor_blocks,
        "txs": txs,
        "txs_per_s": txs as f64 / elapsed,
        "commit_latency_ms_p50": percentile(&latencies, 0.50),
        "commit_latency_ms_p99": percentile(&latencies, 0.99),
        "rating_proofs_finalized_per_s": finalized,
        "invoice_load": invoice_report,
        "heights": heights,
        "roots_match": roots_match,
        "threads": rayon::current_num_threads(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} validators, {} clients, {:.1} s of anchors: {} blocks, {} txs ({:.0} tx/s); commit latency p50 {:.0} ms, p99 {:.0} ms",
            args.validators,
            args.clients,
            elapsed,
            anchor_blocks,
            txs,
            txs as f64 / elapsed,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
        );
        if let Some(r) = invoice_report.as_object() {
            println!(
                "{} invoices with rating proofs from {} sellers in {:.1} s: {:.0} finalized/s; commit latency p50 {:.0} ms, p99 {:.0} ms",
                r["invoices"], r["sellers"], r["seconds"].as_f64().unwrap_or(0.0),
                r["rating_proofs_finalized_per_s"].as_f64().unwrap_or(0.0),
                r["commit_latency_ms_p50"].as_f64().unwrap_or(0.0),
                r["commit_latency_ms_p99"].as_f64().unwrap_or(0.0),
            );
        }
        println!("same block and state root at every height on every validator: {roots_match}");
    }
    if !roots_match {
        bail!("validators disagree on a state root");
    }
    Ok(())
}
