//! `omni bench consensus`: a registry validator set on 127.0.0.1 (all validators in this
//! process, each with its own RocksDB, WAL, libp2p and gRPC sockets) under load from
//! concurrent members; reports commit latency as a client sees it (`Submit` until its
//! block is committed), throughput, and whether every validator committed the same state
//! root at every height.

use crate::registry_cmd::{testnet, TestnetArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use omni_core::{Hash32, Keypair};
use omni_registry::api::proto::registry_client::RegistryClient;
use omni_registry::api::proto::{GetRootRequest, GetStatusRequest, SubmitRequest};
use omni_registry::{Role, ServerConfig, SignedTx, TxBody, ValidatorSetFile};
use serde_json::json;
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
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
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

async fn bench(args: ConsensusBenchArgs) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let admin = Keypair::from_seed([0xad; 32]);
    let path = testnet(&TestnetArgs {
        validators: args.validators,
        dir: dir.path().to_path_buf(),
        base_port: None,
        admin: Some(admin.party().to_hex()),
    })?;
    let set = ValidatorSetFile::load(&path)?;
    let mut servers = Vec::new();
    for (i, v) in set.validators.iter().enumerate() {
        let mut config =
            ServerConfig::new(dir.path().join(format!("v{i}")), v.api).with_validators(set.clone());
        config.max_block_txs = 1024;
        servers.push(omni_registry::start(config).await?);
    }
    let registry = servers[0].registry_id();
    let mut apis = Vec::new();
    for s in &servers {
        apis.push(connect(s.local_addr()).await?);
    }

    // Members, admitted one by one (the admin's nonces must execute in order).
    let members: Vec<Keypair> = (0..args.clients)
        .map(|i| Keypair::from_seed(Hash32::digest("bench", &i.to_be_bytes()).0))
        .collect();
    for (nonce, m) in members.iter().enumerate() {
        let tx = SignedTx::sign(
            &admin,
            &registry,
            nonce as u64,
            TxBody::AdmitMember { member: m.party(), role: Role::Member },
        );
        let n = apis.len();
        apis[nonce % n]
            .submit(SubmitRequest { tx: tx.to_bytes() })
            .await
            .context("admitting a bench member")?;
    }
    let start_height =
        apis[0].get_status(GetStatusRequest {}).await?.into_inner().at.map_or(0, |a| a.height);

    // Load: every member anchors a bilateral head after another, each on its validator.
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (i, m) in members.into_iter().enumerate() {
        let mut api = apis[i % apis.len()].clone();
        tasks.push(tokio::spawn(async move {
            let bilateral = Hash32::digest("bench/bilateral", &i.to_be_bytes());
            let mut latencies = Vec::new();
            let mut nonce = 0u64;
            while Instant::now() < until {
                let body = TxBody::AnchorHead { bilateral, seq: nonce + 1, head: Hash32([7; 32]) };
                let tx = SignedTx::sign(&m, &registry, nonce, body);
                let t = Instant::now();
                if api.submit(SubmitRequest { tx: tx.to_bytes() }).await.is_ok() {
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
    latencies.sort_by(f64::total_cmp);

    // Agreement: the same block and state root at every height on every validator.
    let mut heights = Vec::new();
    for api in &mut apis {
        heights.push(
            api.get_status(GetStatusRequest {}).await?.into_inner().at.map_or(0, |a| a.height),
        );
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
    let report = json!({
        "validators": args.validators,
        "clients": args.clients,
        "seconds": elapsed,
        "blocks": common.saturating_sub(start_height),
        "txs": txs,
        "txs_per_s": txs as f64 / elapsed,
        "commit_latency_ms_p50": percentile(&latencies, 0.50),
        "commit_latency_ms_p99": percentile(&latencies, 0.99),
        "heights": heights,
        "roots_match": roots_match,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} validators, {} clients, {:.1} s: {} blocks, {} txs ({:.0} tx/s); commit latency p50 {:.0} ms, p99 {:.0} ms; roots match at every height: {}",
            args.validators,
            args.clients,
            elapsed,
            report["blocks"],
            txs,
            txs as f64 / elapsed,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            roots_match
        );
    }
    if !roots_match {
        bail!("validators disagree on a state root");
    }
    Ok(())
}
