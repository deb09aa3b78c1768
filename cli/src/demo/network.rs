//! The demo network's parts, and how the story reaches them.
//!
//! ```text
//!   omni demo ── gRPC (Billing, Lifecycle, Node) ──▶ omni node start   (carrier A, process)
//!       │                                                 │  ▲ libp2p sync (TCP + Noise
//!       │                                                 ▼  │  + Yamux) with B, C, D
//!       │                                            omni node start   (carrier B, …)
//!       │                                                 │
//!       │                                                 └─ the node's own registry
//!       │                                                    reporter and outbox ──┐
//!       └── Member::submit ─▶ the member's registry outbox ─▶ gRPC Submit ─▶ registry
//! ```
//!
//! * **Carriers are real nodes.** Each carrier is an `omni node start` process with its
//!   own configuration, key, RocksDB store and log file under the demo's directory
//!   ([`NodeProcess`]). The story drives every bilateral step through the node's API, as a
//!   carrier's billing systems and staff would ([`Carrier::billing`],
//!   [`Carrier::lifecycle`], [`Carrier::node`]); the nodes sync with each other and report
//!   to the registry on their own. Nothing is appended to a ledger from this process.
//! * **Registry members.** What a node does not (yet) do for its organisation — admission,
//!   credentials, embargo lists, conformance declarations, pledges, multi-party netting —
//!   goes through [`Member::submit`]: queued in the member's own persistent outbox (the
//!   node's [`RegistryClient`](omni_node::registry_client::RegistryClient)), delivered
//!   over gRPC, and the registry's events (by `GetTx`) or its refusal come back. A
//!   carrier's member signs with the same key as its node; the outbox takes the registry's
//!   next nonce on each delivery, so the two writers never collide. Queries go over gRPC
//!   ([`Member::query`]).

use crate::node_client::NodeApi;
use anyhow::{anyhow, bail, ensure, Context, Result};
use omni_core::{Hash32, Keypair, PartyId};
use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::proto::lifecycle_client::LifecycleClient;
use omni_node::api::proto::netting_client::NettingClient;
use omni_node::api::proto::node_client::NodeClient;
use omni_node::api::proto::ListBilateralsRequest;
use omni_node::registry_client::RegistryClient as Outbox;
use omni_node::BilateralId;
use omni_registry::{Event, TxBody};
use omni_registry_protocol::proto::registry_client::RegistryClient;
use omni_registry_protocol::proto::GetTxRequest;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tonic::transport::Channel;

/// Longest wait for a node to start, for a counterparty's node to hold what was sent, for
/// a proof, or for the registry to show what a node reported.
pub const WAIT: Duration = Duration::from_secs(180);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(40);

/// Runs one gRPC call of `client` on `runtime` and waits for its answer.
fn call<C, T, F, Fut>(runtime: &Handle, client: &C, f: F) -> Result<T, tonic::Status>
where
    C: Clone,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    runtime.block_on(f(client.clone())).map(tonic::Response::into_inner)
}

/// Polls `look` until it gives a value or [`WAIT`] is over; `what` names the wait in the
/// error, with whatever `look` last said.
pub fn wait_for<T>(what: &str, mut look: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = match look() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => None,
            Err(e) => Some(e),
        };
        if Instant::now() >= deadline {
            let last = last.map(|e| format!(" (last: {e:#})")).unwrap_or_default();
            bail!("waited {} s for {what}{last}", WAIT.as_secs());
        }
        std::thread::sleep(POLL);
    }
}

/// A free TCP port on 127.0.0.1 (bound and released: a node started right after takes it).
pub fn free_port() -> Result<SocketAddr> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot bind a port on 127.0.0.1")?;
    Ok(listener.local_addr()?)
}

/// An `omni node start` process, its output in a log file.
pub struct NodeProcess {
    child: Child,
    log: PathBuf,
}

impl NodeProcess {
    /// Starts `omni node start --config CONFIG` (this very binary), its output in `log`.
    pub fn spawn(config: &Path, log: &Path) -> Result<NodeProcess> {
        let exe = std::env::current_exe().context("cannot find the omni binary")?;
        let out = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(exe)
            .args(["node", "start", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("cannot start omni node start")?;
        Ok(NodeProcess { child, log: log.to_path_buf() })
    }

    /// Its log so far, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// Fails if the process has exited.
    fn alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the node exited ({status}); its log {}:\n{}",
                self.log.display(),
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Asks the node to stop (SIGINT, as Ctrl-C: it finishes what it was doing and closes
    /// its store) and waits for it; kills it if it has not stopped within 30 s.
    pub fn stop(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let asked = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while asked && Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().context("cannot stop a node")?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // A demo that failed half-way leaves no node behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A carrier: its node (a process) and its API, and its registry membership.
pub struct Carrier {
    /// Its name.
    pub name: String,
    /// Its key (ledger signatory and registry member).
    pub party: PartyId,
    /// Its node's API endpoint.
    pub api_endpoint: String,
    /// Where its node's sync listens.
    pub sync_addr: SocketAddr,
    /// Its registry membership (what the node does not report itself).
    pub member: Member,
    api: NodeApi,
    process: NodeProcess,
}

impl Carrier {
    /// Waits until the node behind `process` answers at `api`, and connects to it.
    pub fn connect(
        name: &str,
        party: PartyId,
        (mut process, api): (NodeProcess, SocketAddr),
        sync_addr: SocketAddr,
        member: Member,
    ) -> Result<Carrier> {
        let endpoint = format!("http://{api}");
        let api = wait_for(&format!("{name}'s node to answer at {endpoint}"), || {
            process.alive()?;
            Ok(NodeApi::connect(Some(&endpoint)).ok())
        })?;
        Ok(Carrier {
            name: name.to_string(),
            party,
            api_endpoint: endpoint,
            sync_addr,
            member,
            api,
            process,
        })
    }

    fn failed(&self, e: anyhow::Error) -> anyhow::Error {
        e.context(format!("{}'s node", self.name))
    }

    /// A call of the carrier's billing systems to its node (`Billing` service).
    pub fn billing<T, Fut>(
        &self,
        what: &str,
        f: impl FnOnce(BillingClient<Channel>) -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.api.call(what, f(self.api.billing.clone())).map_err(|e| self.failed(e))
    }

    /// A call of the carrier's staff to its node (`Lifecycle` service).
    pub fn lifecycle<T, Fut>(
        &self,
        what: &str,
        f: impl FnOnce(LifecycleClient<Channel>) -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.api.call(what, f(self.api.lifecycle.clone())).map_err(|e| self.failed(e))
    }

    /// A call of the carrier's staff to its node (`Netting` service: registry cycles).
    pub fn netting<T, Fut>(
        &self,
        what: &str,
        f: impl FnOnce(NettingClient<Channel>) -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.api.call(what, f(self.api.netting.clone())).map_err(|e| self.failed(e))
    }

    /// A call of the node's operator (`Node` service).
    pub fn node<T, Fut>(&self, what: &str, f: impl FnOnce(NodeClient<Channel>) -> Fut) -> Result<T>
    where
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.api.call(what, f(self.api.node.clone())).map_err(|e| self.failed(e))
    }

    /// The head the node holds of bilateral `id` (`None`: it holds none of it).
    pub fn head(&self, id: &BilateralId) -> Result<Option<u64>> {
        let listed = self.billing("ListBilaterals", |mut c| async move {
            c.list_bilaterals(ListBilateralsRequest {}).await
        })?;
        let hex = id.0.to_hex();
        Ok(listed.bilaterals.iter().find(|b| b.id == hex).map(|b| b.head_seq))
    }

    /// Closes the connections to the node (whose graceful stop waits for open ones) and
    /// stops it ([`NodeProcess::stop`]).
    pub fn stop(self) -> Result<()> {
        let Carrier { name, api, member, mut process, .. } = self;
        drop((api, member));
        process.stop().with_context(|| format!("stopping {name}'s node"))
    }
}

/// A bilateral between two carriers: its id, its contract's reference and both ends (as
/// indexes of the world's carriers, proposer first).
#[derive(Clone, Debug)]
pub struct Pair {
    /// The bilateral's id (hash of its genesis entry).
    pub id: BilateralId,
    /// The contract's reference (MSA).
    pub reference: String,
    /// The two carriers, proposer first.
    pub ends: [usize; 2],
    /// The contract's tariffs, as proposed.
    pub tariffs: Vec<omni_core::tariff::Tariff>,
}

impl Pair {
    /// The bilateral's id as the node API writes it.
    pub fn hex(&self) -> String {
        self.id.0.to_hex()
    }

    /// The other end of `carrier`.
    pub fn other(&self, carrier: usize) -> Result<usize> {
        match self.ends {
            [a, b] if a == carrier => Ok(b),
            [a, b] if b == carrier => Ok(a),
            _ => bail!("carrier {carrier} is not a party of {}", self.reference),
        }
    }
}

/// Waits until `to`'s node holds bilateral `id` up to entry `seq` of `from`'s (it validated
/// each entry — signature, chain, contract rules, rating and compliance proofs — before
/// storing it).
pub fn delivered(id: &BilateralId, seq: u64, from: &Carrier, to: &Carrier) -> Result<()> {
    wait_for(
        &format!("{}'s node to hold entry {seq} of {} from {}", to.name, id, from.name),
        || Ok(to.head(id)?.filter(|h| *h >= seq).map(|_| ())),
    )
}

/// A registry refusal: the transaction kind, the registry's code and reason.
#[derive(Debug)]
pub struct Refused {
    /// Who sent it.
    pub member: String,
    /// The transaction kind.
    pub kind: &'static str,
    /// The registry's error code (`refused`, `unauthorized`, …; `outbox` when the
    /// member's own outbox could not take or deliver it).
    pub code: String,
    /// The registry's reason.
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}'s {} refused by the registry ({}): {}",
            self.member, self.kind, self.code, self.message
        )
    }
}

impl std::error::Error for Refused {}

/// A registry member: its outbox (the node's registry client) and a gRPC client of the
/// registry for queries.
pub struct Member {
    /// Who it is, for the report.
    pub name: String,
    party: PartyId,
    outbox: Outbox,
    rpc: RegistryClient<Channel>,
    runtime: Handle,
}

impl Member {
    /// Connects `key`'s holder to the registry at `addr` (id `registry_id`), with its
    /// outbox in `outbox_dir`.
    pub fn connect(
        name: &str,
        key: Keypair,
        (addr, registry_id): (SocketAddr, Hash32),
        outbox_dir: &Path,
        runtime: &Handle,
    ) -> Result<Member> {
        let party = key.party();
        let outbox = Outbox::open(outbox_dir, key, format!("http://{addr}"))
            .with_context(|| format!("{name}: opening its registry outbox"))?;
        {
            let _entered = runtime.enter();
            outbox.start().with_context(|| format!("{name}: starting its registry outbox"))?;
        }
        let rpc = runtime
            .block_on(RegistryClient::connect(format!("http://{addr}")))
            .with_context(|| format!("{name}: connecting to the registry at {addr}"))?;
        let member =
            Member { name: name.to_string(), party, outbox, rpc, runtime: runtime.clone() };
        member.expect_registry(registry_id)?;
        Ok(member)
    }

    /// Checks the registry behind the address is `registry_id`.
    fn expect_registry(&self, registry_id: Hash32) -> Result<()> {
        use omni_registry_protocol::proto::GetStatusRequest;
        let status = self
            .query("GetStatus", |mut c| async move { c.get_status(GetStatusRequest {}).await })?;
        ensure!(
            status.registry_id == registry_id.0,
            "{}: the registry at this address is not {registry_id}",
            self.name
        );
        Ok(())
    }

    /// The member's key.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// Queues `body` in the member's outbox, waits for its delivery and returns the events
    /// of its execution, or the registry's refusal.
    pub fn submit(&self, body: TxBody) -> Result<Vec<Event>, Refused> {
        let kind = body.kind();
        let refused = |code: &str, message: String| Refused {
            member: self.name.clone(),
            kind,
            code: code.to_string(),
            message,
        };
        let outbox = |e: omni_node::registry_client::Error| refused("outbox", e.to_string());
        let id = self.outbox.submit(body).map_err(outbox)?;
        self.runtime.block_on(self.outbox.flush(WAIT)).map_err(outbox)?;
        if let Some(r) = self.outbox.refusal(id).map_err(outbox)? {
            return Err(refused(&r.code, r.reason));
        }
        let delivered = self
            .outbox
            .delivery(id)
            .map_err(outbox)?
            .ok_or_else(|| refused("outbox", format!("{id} neither delivered nor refused")))?;
        let tx_hash = delivered.tx_hash.0.to_vec();
        let answer = call(&self.runtime, &self.rpc, |mut c| async move {
            c.get_tx(GetTxRequest { tx_hash }).await
        })
        .map_err(|s| refused("query", format!("GetTx: {}", s.message())))?;
        answer
            .events
            .iter()
            .map(|e| serde_json::from_str::<Event>(&e.json))
            .collect::<Result<Vec<Event>, _>>()
            .map_err(|e| refused("internal", format!("the registry's events do not decode: {e}")))
    }

    /// A query over gRPC: `f` gets a client of the registry.
    pub fn query<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: FnOnce(RegistryClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        call(&self.runtime, &self.rpc, f)
            .map_err(|s| anyhow!("{}: {what}: {} ({:?})", self.name, s.message(), s.code()))
    }
}
