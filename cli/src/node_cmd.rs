//! `omni node start --config FILE`: one organisation's node — its RocksDB ledger, the
//! libp2p sync with its counterparties' nodes, the gRPC billing API its own systems
//! call and, when the configuration names a registry, the reporter that tells the
//! registry what it must know through a persistent outbox (`<data_dir>/registry-outbox`)
//! — until Ctrl-C.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use omni_core::Keypair;
use omni_node::config::NodeConfig;
use omni_node::network::SyncNode;
use omni_node::registry_client::RegistryClient;
use omni_node::registry_reporter::{Reporter, ReporterOptions};
use omni_node::{Ledger, LedgerOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// `omni node …`.
#[derive(Subcommand)]
pub enum NodeCommand {
    /// Start a node from its configuration file (see `omni_node::config`).
    Start(StartArgs),
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
        NodeCommand::Start(args) => start(&args),
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
    let ledger = Ledger::open(&config.data_dir, key, LedgerOptions::default())
        .with_context(|| format!("opening the ledger in {}", config.data_dir.display()))?;
    let party = ledger.key();
    let outbox = match &config.registry {
        Some(endpoint) => {
            let dir = config.data_dir.join("registry-outbox");
            let client = RegistryClient::open(&dir, Keypair::from_seed(key_seed), endpoint.clone())
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
        let reporter = match &outbox {
            Some(client) => {
                client.start()?;
                let reporter =
                    Reporter::new(ledger.clone(), client.clone(), ReporterOptions::default());
                Some(tokio::spawn(reporter.run(stopped)))
            }
            None => None,
        };
        let api = omni_node::api::serve_billing(ledger, config.billing_api)
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
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        eprintln!("{name}: stopping");
        api.shutdown().await?;
        sync.shutdown().await;
        let _ = stop.send(true);
        if let Some(task) = reporter {
            task.await.context("stopping the registry reporter")?;
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
