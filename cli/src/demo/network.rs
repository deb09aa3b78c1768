//! The demo network's parts, and the two seams through which they talk.
//!
//! ```text
//!   Carrier ── node: Arc<Mutex<Ledger>> (RocksDB) ── billing API on 127.0.0.1 (gRPC)
//!      │                    ▲
//!      │                    │ Pair::deliver ─▶ Transport::deliver   (seam 1: libp2p sync,
//!      │                    ▼                                        TCP + Noise + Yamux)
//!      │            the counterparty's node
//!      │
//!      └── Member::submit(body) ─▶ the member's registry outbox      (seam 2: the node's
//!                                   (RocksDB) ─▶ gRPC Submit         registry client)
//! ```
//!
//! * **Bilateral transport.** Every carrier's node runs the same libp2p sync as `omni
//!   node start` ([`SyncNode`]), listening on 127.0.0.1 and knowing the other carriers'
//!   nodes by their keys. An append is pushed to the counterparty by the sync itself;
//!   [`Transport::deliver`] only waits until the counterparty's node has acknowledged
//!   holding the bilateral up to the sender's head, so the story's next step sees it.
//! * **Registry submissions.** Every transaction a member sends goes through
//!   [`Member::submit`]: it is queued in the member's persistent outbox (the node's
//!   [`RegistryClient`](omni_node::registry_client::RegistryClient)), delivered over gRPC,
//!   and the registry's events (by `GetTx` on the delivered transaction) or its refusal
//!   come back. Queries (regulators, financiers, carriers) go over gRPC too
//!   ([`Member::query`]).

use anyhow::{anyhow, bail, ensure, Context, Result};
use omni_core::{Hash32, Keypair, PartyId};
use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::RunningBillingApi;
use omni_node::contract::Contract;
use omni_node::network::{Peer, SyncNode};
use omni_node::registry_client::RegistryClient as Outbox;
use omni_node::{BilateralId, Entry, EntryBody, Ledger};
use omni_registry::api::proto::registry_client::RegistryClient;
use omni_registry::api::proto::GetTxRequest;
use omni_registry::{Event, TxBody};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::runtime::Handle;
use tonic::transport::Channel;

/// Longest wait for a counterparty's node to hold what was sent, or for the registry to
/// answer a submission (a block with a proof to verify).
const WAIT: Duration = Duration::from_secs(120);

/// A carrier's ledger node: its ledger, shared by the story and the billing API.
pub type Node = Arc<Mutex<Ledger>>;

/// Locks a node's ledger.
pub fn lock(node: &Node) -> Result<MutexGuard<'_, Ledger>> {
    node.lock().map_err(|_| anyhow!("a carrier's ledger lock is poisoned"))
}

/// Runs one gRPC call of `client` on `runtime` and waits for its answer.
fn call<C, T, F, Fut>(runtime: &Handle, client: &C, f: F) -> Result<T, tonic::Status>
where
    C: Clone,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    runtime.block_on(f(client.clone())).map(tonic::Response::into_inner)
}

/// Seam 1: how entries travel between two carriers' nodes (module docs): each carrier's
/// libp2p sync, by the carrier's key.
#[derive(Clone)]
pub struct Transport {
    syncs: Arc<HashMap<PartyId, Arc<SyncNode>>>,
    runtime: Handle,
}

impl Transport {
    /// Introduces every carrier's sync to every other's (in the demo each carrier may
    /// trade with each other) and returns the transport between them.
    pub fn connect(carriers: &[Carrier], runtime: &Handle) -> Transport {
        for c in carriers {
            for other in carriers.iter().filter(|o| o.party != c.party) {
                c.sync.add_peer(Peer { party: other.party, address: other.sync.listen_addr() });
            }
        }
        let syncs = carriers.iter().map(|c| (c.party, c.sync.clone())).collect();
        Transport { syncs: Arc::new(syncs), runtime: runtime.clone() }
    }

    /// Returns once `to`'s node has acknowledged holding every entry of bilateral `id`
    /// that `from`'s node holds (it validated each one — signature, chain, contract rules,
    /// rating and compliance proofs — before storing it).
    pub fn deliver(&self, id: &BilateralId, from: PartyId, to: PartyId) -> Result<()> {
        if from == to {
            bail!("bilateral {id}: an entry cannot be delivered to its own node");
        }
        let sync = self.syncs.get(&from).with_context(|| format!("{from} runs no node"))?;
        self.runtime.block_on(sync.wait_delivered(id, &to, WAIT)).with_context(|| {
            let refusals = sync.refusals();
            let last =
                refusals.last().map(|r| format!("; last refusal: {r:?}")).unwrap_or_default();
            format!("delivering entries of bilateral {id} to {}{last}", to.short())
        })
    }
}

/// One end of a bilateral.
#[derive(Clone)]
struct End {
    name: String,
    party: PartyId,
    node: Node,
}

/// A bilateral between two carriers: its id and both nodes. Every step one side takes is
/// delivered to the other through the [`Transport`].
#[derive(Clone)]
pub struct Pair {
    /// The bilateral's id (hash of its genesis entry).
    pub id: BilateralId,
    /// The contract's reference (MSA).
    pub reference: String,
    ends: [End; 2],
    transport: Transport,
}

impl Pair {
    /// `proposer` proposes `contract` to `acceptor`, which accepts it (MEF 114 R30). Each
    /// side is a name and a node.
    pub fn agree(
        transport: Transport,
        proposer: (&str, &Node),
        acceptor: (&str, &Node),
        contract: Contract,
    ) -> Result<Pair> {
        let reference = contract.reference.clone();
        let genesis = lock(proposer.1)?.propose_contract(contract)?;
        let end = |(name, node): (&str, &Node)| -> Result<End> {
            Ok(End { name: name.to_string(), party: lock(node)?.key(), node: node.clone() })
        };
        let ends = [end(proposer)?, end(acceptor)?];
        let (from, to) = (ends[0].party, ends[1].party);
        let pair = Pair { id: BilateralId(genesis.hash()), reference, ends, transport };
        pair.deliver(from)?;
        pair.accept(to, 0)?;
        Ok(pair)
    }

    /// The end `party` signs for, and the other one.
    fn ends(&self, party: PartyId) -> Result<(&End, &End)> {
        match &self.ends {
            [a, b] if a.party == party => Ok((a, b)),
            [a, b] if b.party == party => Ok((b, a)),
            _ => bail!("{} is not a party of bilateral {}", party.short(), self.reference),
        }
    }

    /// The two carriers' names, proposer first.
    pub fn names(&self) -> [&str; 2] {
        [&self.ends[0].name, &self.ends[1].name]
    }

    /// The name of `party`'s counterparty.
    pub fn counterparty_name(&self, party: PartyId) -> Result<&str> {
        Ok(&self.ends(party)?.1.name)
    }

    /// Both nodes.
    pub fn nodes(&self) -> [&Node; 2] {
        [&self.ends[0].node, &self.ends[1].node]
    }

    /// Waits until the other end holds `from`'s new entries.
    pub fn deliver(&self, from: PartyId) -> Result<()> {
        let (mine, theirs) = self.ends(from)?;
        self.transport.deliver(&self.id, mine.party, theirs.party)
    }

    /// Runs `f` on `party`'s ledger, then delivers what it appended to the counterparty.
    pub fn act<T>(
        &self,
        party: PartyId,
        f: impl FnOnce(&mut Ledger, &BilateralId) -> omni_node::Result<T>,
    ) -> Result<T> {
        let (mine, _) = self.ends(party)?;
        let out = {
            let mut ledger = lock(&mine.node)?;
            f(&mut ledger, &self.id)
                .with_context(|| format!("{} on bilateral {}", mine.name, self.reference))?
        };
        self.deliver(party)?;
        Ok(out)
    }

    /// `party` appends `body`; the counterparty receives it.
    pub fn append(&self, party: PartyId, body: EntryBody) -> Result<Entry> {
        self.act(party, |l, id| l.append(id, body))
    }

    /// `party` accepts the counterparty's pending entry `seq`; the counterparty receives
    /// the acceptance.
    pub fn accept(&self, party: PartyId, seq: u64) -> Result<Entry> {
        self.act(party, |l, id| l.accept(id, seq))
    }

    /// `party` proposes `body`, the counterparty accepts it (R30), `party` receives the
    /// acceptance. Returns the proposal's sequence number.
    pub fn propose(&self, party: PartyId, body: EntryBody) -> Result<u64> {
        let seq = self.append(party, body)?.seq;
        let (_, other) = self.ends(party)?;
        self.accept(other.party, seq)?;
        Ok(seq)
    }

    /// Reads `party`'s view of the bilateral.
    pub fn read<T>(
        &self,
        party: PartyId,
        f: impl FnOnce(&Ledger, &BilateralId) -> omni_node::Result<T>,
    ) -> Result<T> {
        let (mine, _) = self.ends(party)?;
        let ledger = lock(&mine.node)?;
        f(&ledger, &self.id).with_context(|| format!("{} on {}", mine.name, self.reference))
    }
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
        use omni_registry::api::proto::GetStatusRequest;
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

    /// Seam 2 (module docs): queues `body` in the member's outbox, waits for its delivery
    /// and returns the events of its execution, or the registry's refusal.
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

/// A carrier: its ledger node with the billing API on 127.0.0.1, and its registry
/// membership.
pub struct Carrier {
    /// Its name.
    pub name: String,
    /// Its key (ledger signatory and registry member).
    pub party: PartyId,
    /// Its ledger.
    pub node: Node,
    /// Its registry membership.
    pub member: Member,
    /// Where its billing API listens.
    pub billing_addr: SocketAddr,
    /// Its libp2p sync with the other carriers' nodes.
    pub sync: Arc<SyncNode>,
    billing: BillingClient<Channel>,
    api: Option<RunningBillingApi>,
    runtime: Handle,
}

impl Carrier {
    /// A carrier whose `ledger` (signed with `key`) syncs over libp2p and serves its
    /// billing API, both on 127.0.0.1 (any free port), and who is the registry member
    /// `member`.
    pub fn start(
        name: &str,
        (ledger, key): (Ledger, &Keypair),
        member: Member,
        runtime: &Handle,
    ) -> Result<Carrier> {
        let party = ledger.key();
        let node = Arc::new(Mutex::new(ledger));
        let sync = runtime
            .block_on(SyncNode::start(node.clone(), key, ([127, 0, 0, 1], 0).into(), &[]))
            .with_context(|| format!("{name}: starting its libp2p sync"))?;
        let api = runtime
            .block_on(omni_node::api::serve_billing(node.clone(), ([127, 0, 0, 1], 0).into()))
            .with_context(|| format!("{name}: serving the billing API"))?;
        let billing_addr = api.local_addr;
        let billing = runtime
            .block_on(BillingClient::connect(format!("http://{billing_addr}")))
            .with_context(|| format!("{name}: connecting to its billing API"))?;
        Ok(Carrier {
            name: name.to_string(),
            party,
            node,
            member,
            billing_addr,
            sync: Arc::new(sync),
            billing,
            api: Some(api),
            runtime: runtime.clone(),
        })
    }

    /// A call of the carrier's billing systems to its node's billing API (gRPC).
    pub fn billing<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: FnOnce(BillingClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        call(&self.runtime, &self.billing, f).map_err(|s| {
            anyhow!("{}'s billing API: {what}: {} ({:?})", self.name, s.message(), s.code())
        })
    }

    /// The carrier as one side of a bilateral: its name and node.
    pub fn end(&self) -> (&str, &Node) {
        (&self.name, &self.node)
    }

    /// Stops the billing API, the sync and the registry outbox.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(api) = self.api.take() {
            self.runtime.block_on(api.shutdown())?;
        }
        self.runtime.block_on(self.sync.stop());
        Ok(())
    }
}
