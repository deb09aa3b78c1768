//! Our host actor: where Malachite's engine asks the application for blocks, and how the
//! engine is put together around it.
//!
//! Malachite 0.5's channel connector answers one request at a time: while it waits for the
//! answer to `GetValue` (a proposer waiting up to its empty-block interval for
//! transactions), every later request waits behind it — including the proposal parts that
//! carry transactions other validators forwarded. A proposer with an empty mempool could
//! therefore not receive the very transactions it was waiting for, and sat out the whole
//! interval while its peers held a block's worth (the one-second stalls of the
//! four-validator benchmark).
//!
//! This host passes each request to the driver's channel in arrival order and answers the
//! engine whenever the driver replies, so nothing waits behind a block being built. The
//! driver still handles requests one after another, in order, as it did before.

use crate::context::OmniContext;
use malachitebft_app_channel::app::engine::host::{HostMsg, HostRef};
use malachitebft_app_channel::app::engine::network::Msg as NetworkActorMsg;
use malachitebft_app_channel::app::engine::util::events::TxEvent;
use malachitebft_app_channel::app::metrics::{Metrics, SharedRegistry};
use malachitebft_app_channel::app::node::{EngineHandle, Node, NodeConfig};
use malachitebft_app_channel::app::spawn::{
    spawn_consensus_actor, spawn_network_actor, spawn_node_actor, spawn_sync_actor, spawn_wal_actor,
};
use malachitebft_app_channel::app::types::codec::{ConsensusCodec, SyncCodec, WalCodec};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for the driver.
const QUEUE: usize = 128;

/// The host actor (module docs).
struct Host {
    driver: mpsc::Sender<AppMsg<OmniContext>>,
}

/// A reply channel for the driver whose answer goes on to `reply_to` when it comes,
/// without holding up the host.
fn port<T: Send + 'static>(reply_to: RpcReplyPort<T>) -> oneshot::Sender<T> {
    let (reply, rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Ok(value) = rx.await {
            if reply_to.send(value).is_err() {
                tracing::debug!("the consensus engine no longer waits for this answer");
            }
        }
    });
    reply
}

/// Like [`port`] for requests the driver may leave unanswered (`None`): a proposal part
/// that completes no proposal, a synced value that does not decode.
fn port_some<T: Send + 'static>(reply_to: RpcReplyPort<T>) -> oneshot::Sender<Option<T>> {
    let (reply, rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Ok(Some(value)) = rx.await {
            if reply_to.send(value).is_err() {
                tracing::debug!("the consensus engine no longer waits for this answer");
            }
        }
    });
    reply
}

/// The driver's request for the engine's `msg`; its answer goes back to the engine.
fn request(msg: HostMsg<OmniContext>) -> AppMsg<OmniContext> {
    match msg {
        HostMsg::ConsensusReady { reply_to } => AppMsg::ConsensusReady { reply: port(reply_to) },
        HostMsg::StartedRound { height, round, proposer, role, reply_to } => {
            AppMsg::StartedRound { height, round, proposer, role, reply_value: port(reply_to) }
        }
        HostMsg::GetValue { height, round, timeout, reply_to } => {
            AppMsg::GetValue { height, round, timeout, reply: port(reply_to) }
        }
        HostMsg::ExtendVote { height, round, value_id, reply_to } => {
            AppMsg::ExtendVote { height, round, value_id, reply: port(reply_to) }
        }
        HostMsg::VerifyVoteExtension { height, round, value_id, extension, reply_to } => {
            AppMsg::VerifyVoteExtension {
                height,
                round,
                value_id,
                extension,
                reply: port(reply_to),
            }
        }
        HostMsg::RestreamValue { height, round, valid_round, address, value_id } => {
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id }
        }
        HostMsg::GetHistoryMinHeight { reply_to } => {
            AppMsg::GetHistoryMinHeight { reply: port(reply_to) }
        }
        HostMsg::ReceivedProposalPart { from, part, reply_to } => {
            AppMsg::ReceivedProposalPart { from, part, reply: port_some(reply_to) }
        }
        HostMsg::GetValidatorSet { height, reply_to } => {
            AppMsg::GetValidatorSet { height, reply: port(reply_to) }
        }
        HostMsg::Decided { certificate, extensions, reply_to } => {
            AppMsg::Decided { certificate, extensions, reply: port(reply_to) }
        }
        HostMsg::GetDecidedValue { height, reply_to } => {
            AppMsg::GetDecidedValue { height, reply: port(reply_to) }
        }
        HostMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply_to } => {
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply: port_some(reply_to),
            }
        }
    }
}

#[ractor::async_trait]
impl Actor for Host {
    type Msg = HostMsg<OmniContext>;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        if let Err(e) = self.driver.send(request(msg)).await {
            tracing::error!("the consensus driver is gone: {e}");
        }
        Ok(())
    }
}

/// Starts Malachite's actors (network, WAL, sync, consensus, node) around our [`Host`]:
/// the channels the driver reads and writes, and the engine's handle.
pub(crate) async fn start_engine<N, W, C>(
    node: N,
    cfg: N::Config,
    wal_codec: W,
    net_codec: C,
    start_height: crate::context::Height,
    validators: crate::context::ValidatorSet,
) -> eyre::Result<(Channels<OmniContext>, EngineHandle)>
where
    N: Node<Context = OmniContext>,
    W: WalCodec<OmniContext> + Clone,
    C: ConsensusCodec<OmniContext> + SyncCodec<OmniContext>,
{
    let registry = SharedRegistry::global().with_moniker(cfg.moniker());
    let metrics = Metrics::register(&registry);
    let private_key = node.load_private_key(node.load_private_key_file()?);
    let address = node.get_address(&node.get_public_key(&private_key));
    let keypair = node.get_keypair(private_key.clone());

    let network = spawn_network_actor(cfg.consensus(), keypair, &registry, net_codec).await?;
    let (to_network, mut published) = mpsc::channel::<NetworkMsg<OmniContext>>(1);
    tokio::spawn({
        let network = network.clone();
        async move {
            while let Some(msg) = published.recv().await {
                if let Err(e) = network.cast(NetworkActorMsg::from(msg)) {
                    tracing::error!("publishing to the network: {e}");
                }
            }
        }
    });
    let wal = spawn_wal_actor(&OmniContext, wal_codec, &node.get_home_dir(), &registry).await?;
    let (driver, requests) = mpsc::channel(QUEUE);
    let (host, _): (HostRef<OmniContext>, _) = Actor::spawn(None, Host { driver }, ()).await?;
    let sync =
        spawn_sync_actor(OmniContext, network.clone(), host.clone(), cfg.value_sync(), &registry)
            .await?;
    let events = TxEvent::new();
    let consensus = spawn_consensus_actor(
        start_height,
        validators,
        address,
        OmniContext,
        cfg.consensus().clone(),
        cfg.value_sync(),
        Box::new(node.get_signing_provider(private_key)),
        network.clone(),
        host.clone(),
        wal.clone(),
        sync.clone(),
        metrics,
        events.clone(),
    )
    .await?;
    let (actor, handle) =
        spawn_node_actor(OmniContext, network, consensus, wal, sync, host).await?;
    Ok((
        Channels { consensus: requests, network: to_network, events },
        EngineHandle { actor, handle },
    ))
}
