//! Talking to a running node's API from the command line: the endpoint (`--node URL`, else
//! `$OMNI_NODE`), one connection for all three services, and the exit status a script
//! can act on — 0 done, 1 the node refused the request (its reason printed), 2 the node
//! could not be asked (no node, bad arguments, a file that cannot be read).

use anyhow::Result;
use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::proto::lifecycle_client::LifecycleClient;
use omni_node::api::proto::netting_client::NettingClient;
use omni_node::api::proto::node_client::NodeClient;
use std::fmt;
use tonic::transport::Channel;

/// Where a command finds its node when neither `--node` nor `$OMNI_NODE` says.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:7600";

/// The node or the registry refused the request, or a check failed: exit status 1.
#[derive(Debug)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The node could not be asked: exit status 2.
#[derive(Debug)]
pub struct CannotAsk(pub String);

impl fmt::Display for CannotAsk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CannotAsk {}

/// The exit status for an error of a command (module docs); other commands' errors exit 1.
pub fn exit_status(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<CannotAsk>().is_some() {
        2
    } else {
        1
    }
}

/// Sorts a gRPC status of `server` (the node, the registry) into a refusal (1) or a
/// failure to ask (2).
pub fn answer_error(server: &str, call: &str, s: tonic::Status) -> anyhow::Error {
    use tonic::Code;
    match s.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
            CannotAsk(format!("{call}: the {server} could not be asked: {}", s.message())).into()
        }
        _ => Refused(format!("the {server} refused {call}: {}", s.message())).into(),
    }
}

/// A connection to a node's API.
pub struct NodeApi {
    /// `Billing`.
    pub billing: BillingClient<Channel>,
    /// `Lifecycle`.
    pub lifecycle: LifecycleClient<Channel>,
    /// `Node`.
    pub node: NodeClient<Channel>,
    /// `Netting`.
    pub netting: NettingClient<Channel>,
    runtime: tokio::runtime::Runtime,
    endpoint: String,
}

impl NodeApi {
    /// Connects to `node` (else `$OMNI_NODE`, else [`DEFAULT_NODE`]).
    pub fn connect(node: Option<&str>) -> Result<NodeApi> {
        let endpoint = match node {
            Some(n) => n.to_string(),
            None => std::env::var("OMNI_NODE").unwrap_or_else(|_| DEFAULT_NODE.to_string()),
        };
        let endpoint =
            if endpoint.contains("://") { endpoint } else { format!("http://{endpoint}") };
        let (runtime, channel) = connect("node", &endpoint)?;
        let max = 64 << 20;
        Ok(NodeApi {
            billing: BillingClient::new(channel.clone())
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
            lifecycle: LifecycleClient::new(channel.clone()),
            netting: NettingClient::new(channel.clone()),
            node: NodeClient::new(channel),
            runtime,
            endpoint,
        })
    }

    /// The node's endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs one call, sorting its failure (module docs).
    pub fn call<T, Fut>(&self, name: &str, call: Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        ask(&self.runtime, "node", name, call)
    }
}

/// Runs one call `name` to `server` on `runtime`, sorting its failure (module docs).
pub fn ask<T, Fut>(
    runtime: &tokio::runtime::Runtime,
    server: &str,
    name: &str,
    call: Fut,
) -> Result<T>
where
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    runtime
        .block_on(call)
        .map(tonic::Response::into_inner)
        .map_err(|s| answer_error(server, name, s))
}

/// A client runtime and a channel to `server` (the node, the registry) at `endpoint`
/// (exit 2 if nothing answers within 5 s).
pub fn connect(server: &str, endpoint: &str) -> Result<(tokio::runtime::Runtime, Channel)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CannotAsk(format!("starting the client runtime: {e}")))?;
    let channel = runtime.block_on(async {
        Channel::from_shared(endpoint.to_string())
            .map_err(|e| CannotAsk(format!("{server} endpoint {endpoint:?}: {e}")))?
            .connect_timeout(std::time::Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| CannotAsk(format!("no {server} answers at {endpoint}: {e}")))
    })?;
    Ok((runtime, channel))
}

/// A decimal amount in currency units (`"12.50"`, `"-3"`) as micro-units.
pub fn parse_amount(s: &str) -> Result<i64> {
    let bad = || CannotAsk(format!("amount {s:?}: a decimal number with at most 6 decimals"));
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
        || (digits.contains('.') && frac.is_empty())
    {
        return Err(bad().into());
    }
    let value: i64 = format!("{whole}{frac:0<6}").parse().map_err(|_| bad())?;
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact() {
        assert_eq!(parse_amount("12.50").unwrap(), 12_500_000);
        assert_eq!(parse_amount("-3").unwrap(), -3_000_000);
        assert_eq!(parse_amount("0.000001").unwrap(), 1);
        for bad in ["", "1.", ".5", "1.0000001", "1e3", "abc"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
