//! Asking a registry from the command line: one connection (`--registry URL`), each call's
//! failure sorted as the node's are ([`crate::node_client`]): 1 the registry refused, 2 it
//! could not be asked. Identifiers on the command line and in answers are hex.

use crate::node_client::{answer_error, CannotAsk};
use anyhow::Result;
use omni_core::{Hash32, PartyId};
use omni_registry_protocol::proto::registry_client::RegistryClient;
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
        self.runtime
            .block_on(call)
            .map(tonic::Response::into_inner)
            .map_err(|s| answer_error("registry", name, s))
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
