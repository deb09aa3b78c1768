//! Asking a registry from the command line: one connection (`--registry URL`), each call's
//! failure sorted as the node's are ([`crate::node_client`]): 1 the registry refused, 2 it
//! could not be asked. Identifiers on the command line and in answers are hex.
//!
//! A [`Signer`] sends a member's transaction: signed with its key file and delivered
//! through a persistent outbox beside that key (`KEY.outbox`), so a command run twice
//! after a lost answer never submits twice; it waits until the registry committed it.

use crate::node_client::{CannotAsk, Refused};
use anyhow::Result;
use omni_core::{Hash32, PartyId};
use omni_node::registry_client::RegistryClient as Outbox;
use omni_registry_protocol::proto;
use omni_registry_protocol::proto::registry_client::RegistryClient;
use omni_registry_types::tx::TxBody;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::Channel;

/// Where the registry is when `--registry` does not say.
pub const DEFAULT_REGISTRY: &str = "http://127.0.0.1:7400";

/// A connection to a registry's gRPC API.
pub struct RegistryApi {
    /// The `Registry` service.
    pub rpc: RegistryClient<Channel>,
    runtime: tokio::runtime::Runtime,
}

impl RegistryApi {
    /// Connects to the registry at `endpoint` (exit 2 if nothing answers).
    pub fn connect(endpoint: &str) -> Result<RegistryApi> {
        let endpoint = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("http://{endpoint}")
        };
        let (runtime, channel) = crate::node_client::connect("registry", &endpoint)?;
        let max = 64 << 20;
        let rpc = RegistryClient::new(channel).max_decoding_message_size(max);
        Ok(RegistryApi { rpc, runtime })
    }

    /// Runs one call, sorting its failure (module docs).
    pub fn call<T, Fut>(&self, name: &str, call: Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        crate::node_client::ask(&self.runtime, "registry", name, call)
    }
}

/// A party key given as `--FLAG HEX` (exit 2 if it is not one).
pub fn party_arg(flag: &str, hex: &str) -> Result<PartyId> {
    Ok(PartyId::from_hex(hex)
        .map_err(|e| CannotAsk(format!("--{flag} {hex:?}: not a party key: {e}")))?)
}

/// A 32-byte identifier given as `--FLAG HEX` (exit 2 if it is not one).
pub fn hash_arg(flag: &str, hex: &str) -> Result<Hash32> {
    Ok(Hash32::from_hex(hex)
        .map_err(|e| CannotAsk(format!("--{flag} {hex:?}: not 64 hex digits: {e}")))?)
}

/// UTC seconds as an RFC 3339 date-time.
pub fn date(seconds: u64) -> String {
    omni_node::api::rfc3339(seconds)
}

/// Where the registry is and who signs.
#[derive(clap::Args)]
pub struct Signer {
    /// The registry's gRPC endpoint.
    #[arg(long, default_value = DEFAULT_REGISTRY)]
    pub registry: String,
    /// The sender's key file (the administrator's: `omni registry start` writes
    /// DATA/admin.key; a member's: its node's key).
    #[arg(long)]
    pub key: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// A committed transaction and what it did.
pub struct Committed {
    /// The transaction's hash.
    pub tx: Hash32,
    events: Vec<proto::Event>,
}

impl Committed {
    /// The fields of the first event of `kind`.
    pub fn event(&self, kind: &str) -> Option<Value> {
        omni_node::registry_client::event_fields(&self.events, kind)
    }
}

impl Signer {
    pub fn print(&self, answer: Value, text: String) {
        if self.json {
            println!("{answer}");
        } else {
            println!("{text}");
        }
    }

    /// Signs `body` with the key file, delivers it through the outbox beside the key and
    /// waits until the registry committed it (30 s at most).
    pub fn submit(&self, body: TxBody) -> Result<Committed> {
        let keypair =
            omni_node::config::read_key_file(&self.key).map_err(|e| CannotAsk(e.to_string()))?;
        let outbox_dir = outbox_of(&self.key);
        let runtime = tokio::runtime::Runtime::new()?;
        let _entered = runtime.enter();
        let client = Outbox::open(&outbox_dir, keypair, self.registry.clone())
            .map_err(|e| CannotAsk(format!("registry outbox {}: {e}", outbox_dir.display())))?;
        let kind = body.kind();
        // The same command twice is one fact: queued once, however often it is run.
        let fact = Hash32::digest("omni/cli/registry-tx", &omni_core::encode(&body));
        let (id, _) = client.submit_once(&fact, body).map_err(|e| CannotAsk(e.to_string()))?;
        client.start().map_err(|e| CannotAsk(e.to_string()))?;
        let outcome = runtime
            .block_on(client.outcome(id, Duration::from_secs(30)))
            .map_err(|e| CannotAsk(e.to_string()))?;
        let Some(outcome) = outcome else {
            let status = client.status().ok().and_then(|s| s.last_error).unwrap_or_default();
            return Err(CannotAsk(format!(
                "the registry at {} did not confirm the {kind} within 30 s ({status}); it stays \
                 queued in {} and is sent by the next run",
                self.registry,
                outbox_dir.display()
            ))
            .into());
        };
        let events = match &outcome {
            Ok(delivered) => runtime.block_on(client.events(delivered)),
            Err(_) => Vec::new(),
        };
        runtime.block_on(client.close()).map_err(|e| CannotAsk(e.to_string()))?;
        let delivered = outcome.map_err(|r| {
            Refused(format!("the registry refused {kind}: {} ({})", r.reason, r.code))
        })?;
        Ok(Committed { tx: delivered.tx_hash, events })
    }
}

fn outbox_of(key: &Path) -> PathBuf {
    PathBuf::from(format!("{}.outbox", key.display()))
}
