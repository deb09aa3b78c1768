//! The demo network's parts, and the two seams through which they talk.
//!
//! ```text
//!   Carrier ── node: Arc<Mutex<Ledger>> (RocksDB) ── billing API on 127.0.0.1 (gRPC)
//!      │                    ▲
//!      │                    │ Pair::deliver ─▶ Transport::deliver   (seam 1: bilateral
//!      │                    ▼                                        transport)
//!      │            the counterparty's node
//!      │
//!      └── Member::submit(body) ─▶ signed, next nonce, gRPC Submit    (seam 2: registry
//!                                   to the registry on 127.0.0.1       submissions)
//! ```
//!
//! * **Bilateral transport.** Every move of entries from one carrier's ledger to its
//!   counterparty's goes through [`Transport::deliver`] (called by [`Pair`]). Today it is
//!   the in-process pull `Ledger::sync_from`; a libp2p transport replaces that one body
//!   (push, then wait until the counterparty holds the entries) and the story does not
//!   change.
//! * **Registry submissions.** Every transaction a member sends goes through
//!   [`Member::submit`]: it asks the registry for the member's next nonce, signs and
//!   calls the gRPC `Submit` over the real socket, and returns the registry's events or its
//!   refusal. The node's persistent registry-client outbox replaces that one body. Queries
//!   (regulators, financiers, carriers) go over gRPC too ([`Member::query`]).

use anyhow::{anyhow, bail, Context, Result};
use omni_core::{Hash32, Keypair, PartyId};
use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::RunningBillingApi;
use omni_node::contract::Contract;
use omni_node::{BilateralId, Entry, EntryBody, Ledger};
use omni_registry::api::proto::registry_client::RegistryClient;
use omni_registry::api::proto::{GetMemberRequest, SubmitRequest};
use omni_registry::{Event, SignedTx, TxBody};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::runtime::Handle;
use tonic::transport::Channel;

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

/// Seam 1: how entries travel between two carriers' nodes (module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Transport;

impl Transport {
    /// Makes `to` hold every entry of bilateral `id` that `from` holds; returns how many
    /// it received. The receiving node validates each entry (signature, chain, contract
    /// rules, rating and compliance proofs) before it stores it.
    pub fn deliver(&self, id: &BilateralId, from: &Node, to: &Node) -> Result<usize> {
        if Arc::ptr_eq(from, to) {
            bail!("bilateral {id}: an entry cannot be delivered to its own node");
        }
        let from = lock(from)?;
        let mut to = lock(to)?;
        to.sync_from(&from, id).with_context(|| format!("delivering entries of bilateral {id}"))
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

    /// Delivers `from`'s new entries to the other end.
    pub fn deliver(&self, from: PartyId) -> Result<usize> {
        let (mine, theirs) = self.ends(from)?;
        self.transport.deliver(&self.id, &mine.node, &theirs.node)
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

/// A registry refusal: the transaction kind, the gRPC code and the registry's reason.
#[derive(Debug)]
pub struct Refused {
    /// Who sent it.
    pub member: String,
    /// The transaction kind.
    pub kind: &'static str,
    /// The gRPC status code (ALREADY_EXISTS for a second pledge, …).
    pub code: tonic::Code,
    /// The registry's message.
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}'s {} refused by the registry ({:?}): {}",
            self.member, self.kind, self.code, self.message
        )
    }
}

impl std::error::Error for Refused {}

/// A registry member: its key and a gRPC client of the registry.
pub struct Member {
    /// Who it is, for the report.
    pub name: String,
    key: Keypair,
    registry_id: Hash32,
    rpc: RegistryClient<Channel>,
    runtime: Handle,
}

impl Member {
    /// Connects `key`'s holder to the registry at `addr` (id `registry_id`).
    pub fn connect(
        name: &str,
        key: Keypair,
        addr: SocketAddr,
        registry_id: Hash32,
        runtime: &Handle,
    ) -> Result<Member> {
        let rpc = runtime
            .block_on(RegistryClient::connect(format!("http://{addr}")))
            .with_context(|| format!("{name}: connecting to the registry at {addr}"))?;
        Ok(Member { name: name.to_string(), key, registry_id, rpc, runtime: runtime.clone() })
    }

    /// The member's key.
    pub fn party(&self) -> PartyId {
        self.key.party()
    }

    /// Seam 2 (module docs): signs `body` with the member's next nonce, submits it over
    /// gRPC and returns the events of its execution, or the registry's refusal.
    pub fn submit(&self, body: TxBody) -> Result<Vec<Event>, Refused> {
        let kind = body.kind();
        let refused = |s: tonic::Status| Refused {
            member: self.name.clone(),
            kind,
            code: s.code(),
            message: s.message().to_string(),
        };
        let party = self.party().0.to_vec();
        let nonce = call(&self.runtime, &self.rpc, |mut c| async move {
            c.get_member(GetMemberRequest { party }).await
        })
        .map_err(refused)?
        .next_nonce;
        let tx = SignedTx::sign(&self.key, &self.registry_id, nonce, body).to_bytes();
        let answer =
            call(
                &self.runtime,
                &self.rpc,
                |mut c| async move { c.submit(SubmitRequest { tx }).await },
            )
            .map_err(refused)?;
        answer
            .events
            .iter()
            .map(|e| serde_json::from_str::<Event>(&e.json))
            .collect::<Result<Vec<Event>, _>>()
            .map_err(|e| Refused {
                member: self.name.clone(),
                kind,
                code: tonic::Code::Internal,
                message: format!("the registry's events do not decode: {e}"),
            })
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
    billing: BillingClient<Channel>,
    api: Option<RunningBillingApi>,
    runtime: Handle,
}

impl Carrier {
    /// A carrier whose `ledger` serves its billing API on 127.0.0.1 (any free port) and
    /// who is the registry member `member`.
    pub fn start(name: &str, ledger: Ledger, member: Member, runtime: &Handle) -> Result<Carrier> {
        let party = ledger.key();
        let node = Arc::new(Mutex::new(ledger));
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

    /// Stops the billing API.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(api) = self.api.take() {
            self.runtime.block_on(api.shutdown())?;
        }
        Ok(())
    }
}
