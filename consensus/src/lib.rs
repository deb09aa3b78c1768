//! # omni-consensus — an application's blocks replicated on Malachite BFT
//!
//! The registry must be run by organisations that do not trust each other (MEF 114 R41:
//! BFT consensus; R49: finalized state is immutable). This crate puts Informal Systems'
//! Malachite (Tendermint in Rust, over libp2p) behind one small seam, [`Application`], so
//! the registry's state machine never sees a consensus type: to it a block is bytes it
//! built, checked, or must commit.
//!
//! ## Bird's eye view
//!
//! ```text
//!   clients ─▶ application mempool ──Engine::forward_transactions──▶ peers' mempools
//!                      │                               (a ProposalPart::Transactions stream)
//!   Malachite ── GetValue ──▶ driver ── Application::propose(height) ──▶ block bytes
//!      ▲                        │ stream Init · Block pieces · Fin(signature) to peers
//!      │  ReceivedProposalPart ─▶ driver reassembles, checks the proposer's signature,
//!      │                        │ Application::check_block ─▶ Valid / Invalid (prevote nil)
//!      │                        │   / Unjudged (left unanswered: no vote either way)
//!      │  Decided(certificate) ─▶ driver ── Application::commit(height, block, certificate)
//!      │  GetDecidedValue / ProcessSyncedValue ◀─▶ Application::decided (value sync)
//!      └── WAL (home/wal), libp2p gossip and sync on `listen`, Ed25519 votes
//! ```
//!
//! Malachite's requests reach the driver through our host actor (`host`), which never
//! waits for one answer before passing on the next request.
//!
//! Consensus decides on a [`context::BlockId`], the hash of the block's bytes; the bytes
//! travel in proposal parts and through value sync. Every block the driver has seen is
//! kept in `home/blocks` until it is committed, so that a validator restarted from its WAL
//! can still commit a block it voted for before the crash.
//!
//! ## Modules
//!
//! - [`context`]: Malachite's `Context` — heights, addresses, values, proposals, parts,
//!   votes, the validator set, Ed25519 signing, round-robin proposer selection.
//! - [`codec`]: postcard wire and WAL format of every message.
//! - `driver`: the app-channel loop between Malachite and the [`Application`].
//! - `proposal_stream`: a proposal's streamed parts reassembled and its proposer's
//!   signature checked (the driver's and the simulation's one way).
//! - `host`: our host actor between Malachite's engine and the driver. It passes requests
//!   on without waiting for each answer, so a proposer building its block (waiting for
//!   transactions) still receives the transactions its peers forward.
//! - `simulation` (feature `test-utils`, tests only): a deterministic simulation of a
//!   validator set — Malachite's consensus core for each validator, the real
//!   application, a seeded network and clock.

pub mod codec;
pub mod context;
mod driver;
mod host;
mod proposal_stream;
#[cfg(feature = "test-utils")]
pub mod simulation;

use context::{Address, Ed25519Signer, Height, OmniContext, ValidatorSet};
use ed25519_dalek::{SigningKey, VerifyingKey};
use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, P2pConfig, PubSubProtocol, TimeoutConfig, TransportProtocol,
    ValuePayload, ValueSyncConfig,
};
use malachitebft_app_channel::app::events::{RxEvent, TxEvent};
use malachitebft_app_channel::app::node::{EngineHandle, Node, NodeConfig, NodeHandle};
use malachitebft_app_channel::app::types::Keypair;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Why the engine could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work.
    #[error("consensus configuration: {0}")]
    Config(String),
    /// Malachite failed.
    #[error("consensus engine: {0}")]
    Engine(String),
    /// The block directory could not be read or written.
    #[error("consensus block store {path}: {message}")]
    Blocks {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Why a validator does not vote for a proposed block ([`Application::check_block`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockRefusal {
    /// The block is invalid whoever looks at it: the validator votes against it.
    Invalid(String),
    /// This validator cannot judge the block from its own state, which may itself be
    /// what is wrong (a block built on another state than its own): it votes neither for
    /// nor against it. If the others decide it, executing it tells which side was wrong.
    Unjudged(String),
}

impl std::fmt::Display for BlockRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockRefusal::Invalid(why) | BlockRefusal::Unjudged(why) => f.write_str(why),
        }
    }
}

/// The seam between the consensus engine and a deterministic application. The engine
/// calls it from one task; calls never overlap except `propose`, which may wait while
/// transactions are forwarded.
#[async_trait::async_trait]
pub trait Application: Send + Sync + 'static {
    /// Height of the last committed block (0: only the genesis state).
    fn committed_height(&self) -> u64;

    /// Builds the block to propose at `height` from the mempool. It may wait up to
    /// `max_wait` for transactions (an idle network then makes an empty block).
    async fn propose(&self, height: u64, max_wait: Duration) -> Vec<u8>;

    /// Whether a proposed block may be voted for at `height` (the next height to commit).
    fn check_block(&self, height: u64, block: &[u8]) -> std::result::Result<(), BlockRefusal>;

    /// Executes and durably commits a decided block with its commit certificate. A decided
    /// block is final: an error here is a local failure, not a refusal.
    fn commit(
        &self,
        height: u64,
        block: &[u8],
        certificate: Vec<u8>,
    ) -> std::result::Result<(), String>;

    /// A committed block and its certificate, for peers that are catching up.
    fn decided(&self, height: u64) -> Option<(Vec<u8>, Vec<u8>)>;

    /// Transactions another validator forwarded for the mempool.
    fn received_transactions(&self, txs: Vec<Vec<u8>>);
}

/// A member of the validator set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorInfo {
    /// Its Ed25519 consensus key.
    pub public_key: VerifyingKey,
    /// Its voting power (at least 1).
    pub voting_power: u64,
    /// Where it listens for consensus peers (`None`: this validator is alone).
    pub p2p: Option<SocketAddr>,
}

/// How a deliberately faulty validator misbehaves (fault tests only). The misbehaviour is
/// compiled only with the `fault-injection` feature; a build without it refuses to start
/// a validator configured to misbehave ([`Byzantine::is_honest`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Byzantine {
    /// When proposing, also stream a second, different block for the same height and
    /// round, signed as validly as the first.
    pub equivocate: bool,
    /// When proposing, propose bytes that are not a valid block.
    pub invalid_blocks: bool,
    /// Replace about half of its outgoing messages with random bytes.
    pub garbage: bool,
}

impl Byzantine {
    /// No misbehaviour at all: what every production validator runs.
    pub fn is_honest(&self) -> bool {
        *self == Byzantine::default()
    }
}

/// Consensus timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// How long to wait for a proposal before prevoting nil.
    pub propose: Duration,
    /// How long to wait after +2/3 prevotes for anything.
    pub prevote: Duration,
    /// How long to wait after +2/3 precommits for anything.
    pub precommit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            propose: Duration::from_millis(2000),
            prevote: Duration::from_millis(1000),
            precommit: Duration::from_millis(1000),
        }
    }
}

/// How to run one validator.
#[derive(Clone)]
pub struct EngineConfig {
    /// Directory for the WAL and undecided blocks.
    pub home: PathBuf,
    /// This validator's consensus key.
    pub key: SigningKey,
    /// The fixed validator set (must contain `key`'s public key).
    pub validators: Vec<ValidatorInfo>,
    /// Where to listen for peers (port 0: any).
    pub listen: SocketAddr,
    /// Peers to keep connections to.
    pub peers: Vec<SocketAddr>,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
    /// Longest a proposer waits for transactions before proposing an empty block.
    pub empty_block_interval: Duration,
    /// A name for logs.
    pub moniker: String,
    /// Misbehaviour, for fault tests.
    pub byzantine: Byzantine,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("home", &self.home)
            .field("validator", &Address::of(&self.key.verifying_key()))
            .field("validators", &self.validators.len())
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("timeouts", &self.timeouts)
            .field("byzantine", &self.byzantine)
            .finish()
    }
}

impl EngineConfig {
    /// A single validator alone in its set (the embedded mode): it decides every block by
    /// itself.
    pub fn single(home: impl Into<PathBuf>, key: SigningKey) -> EngineConfig {
        let validators =
            vec![ValidatorInfo { public_key: key.verifying_key(), voting_power: 1, p2p: None }];
        EngineConfig {
            home: home.into(),
            key,
            validators,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            peers: Vec::new(),
            timeouts: Timeouts::default(),
            empty_block_interval: Duration::from_millis(1000),
            moniker: "registry".into(),
            byzantine: Byzantine::default(),
        }
    }
}

/// Malachite's node configuration, as the app-channel API wants it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct MalachiteConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for MalachiteConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
}

/// Host and port of a consensus address, for Malachite's TCP multiaddresses.
fn tcp_host_port(addr: SocketAddr) -> Result<(String, usize)> {
    match addr {
        SocketAddr::V4(v4) => Ok((v4.ip().to_string(), v4.port().into())),
        SocketAddr::V6(_) => Err(Error::Config(format!("{addr}: consensus peers listen on IPv4"))),
    }
}

/// Transactions to forward, taken by the driver when the engine starts.
type GossipInbox = Arc<std::sync::Mutex<Option<mpsc::Receiver<Vec<Vec<u8>>>>>>;

/// Our Malachite node: configuration plus the application it drives.
#[derive(Clone)]
struct OmniNode {
    config: EngineConfig,
    malachite: MalachiteConfig,
    app: Arc<dyn Application>,
    gossip: GossipInbox,
}

/// A running validator.
pub struct Engine {
    engine: EngineHandle,
    driver: tokio::task::JoinHandle<()>,
    building: driver::Building,
    tx_event: TxEvent<OmniContext>,
    gossip: mpsc::Sender<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

#[async_trait::async_trait]
impl NodeHandle<OmniContext> for Engine {
    fn subscribe(&self) -> RxEvent<OmniContext> {
        self.tx_event.subscribe()
    }

    async fn kill(&self, reason: Option<String>) -> eyre::Result<()> {
        tracing::info!(reason = reason.as_deref().unwrap_or(""), "stopping consensus");
        self.engine.actor.kill_and_wait(None).await?;
        self.driver.abort();
        self.engine.handle.abort();
        for task in self
            .building
            .lock()
            .map(|b| b.iter().map(|t| t.abort_handle()).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            task.abort();
        }
        Ok(())
    }
}

/// Forwards transactions a client gave this validator to the other validators' mempools,
/// so whoever proposes next can include them.
#[derive(Clone, Debug)]
pub struct TxForwarder(mpsc::Sender<Vec<Vec<u8>>>);

impl TxForwarder {
    /// Sends `txs` to the other validators (best effort: the local mempool keeps them).
    pub fn forward(&self, txs: Vec<Vec<u8>>) {
        if self.0.try_send(txs).is_err() {
            tracing::debug!("transaction forwarding queue full; the local mempool keeps them");
        }
    }
}

impl Engine {
    /// A handle that forwards transactions to the other validators.
    pub fn forwarder(&self) -> TxForwarder {
        TxForwarder(self.gossip.clone())
    }

    /// Stops the engine (its actors and the driver).
    pub async fn stop(self) -> Result<()> {
        self.kill(Some("stopping".into())).await.map_err(|e| Error::Engine(e.to_string()))?;
        // Aborted by `kill`: resolves once the driver, and the application it holds, are
        // dropped, so the application's store can be reopened at once.
        let _ = self.driver.await;
        let _ = self.engine.handle.await;
        let building =
            self.building.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default();
        for task in building {
            let _ = task.await;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Node for OmniNode {
    type Context = OmniContext;
    type Config = MalachiteConfig;
    type Genesis = ();
    type PrivateKeyFile = [u8; 32];
    type SigningProvider = Ed25519Signer;
    type NodeHandle = Engine;

    async fn start(&self) -> eyre::Result<Engine> {
        let set = ValidatorSet::new(&self.config.validators);
        let address = Address::of(&self.config.key.verifying_key());
        let start_height = Height(self.app.committed_height() + 1);
        let codec = codec::WireCodec::new(self.config.byzantine.garbage);
        let (mut channels, engine) = host::start_engine(
            self.clone(),
            self.malachite.clone(),
            codec::WireCodec::new(false),
            codec,
            start_height,
            set.clone(),
        )
        .await?;
        let tx_event = channels.events.clone();
        let gossip_rx = self
            .gossip
            .lock()
            .map_err(|_| eyre::eyre!("gossip lock poisoned"))?
            .take()
            .ok_or_else(|| eyre::eyre!("the engine was already started"))?;
        let mut driver = driver::Driver::new(
            self.app.clone(),
            Ed25519Signer::new(self.config.key.clone()),
            address,
            set,
            self.config.home.join("blocks"),
            self.config.empty_block_interval,
            self.config.byzantine,
        )?;
        let building = driver.building();
        let span = tracing::info_span!("consensus", validator = %self.config.moniker);
        let driver = tokio::spawn(tracing::Instrument::instrument(
            async move {
                if let Err(e) = driver.run(&mut channels, gossip_rx).await {
                    tracing::error!("consensus driver stopped: {e}");
                }
            },
            span,
        ));
        let (gossip, _) = mpsc::channel(1);
        Ok(Engine { engine, driver, building, tx_event, gossip })
    }

    async fn run(self) -> eyre::Result<()> {
        let engine = self.start().await?;
        engine.driver.await.map_err(Into::into)
    }

    fn get_home_dir(&self) -> PathBuf {
        self.config.home.clone()
    }

    fn load_config(&self) -> eyre::Result<MalachiteConfig> {
        Ok(self.malachite.clone())
    }

    fn get_address(&self, pk: &VerifyingKey) -> Address {
        Address::of(pk)
    }

    fn get_public_key(&self, pk: &SigningKey) -> VerifyingKey {
        pk.verifying_key()
    }

    fn get_keypair(&self, pk: SigningKey) -> Keypair {
        // Every 32-byte string is a valid Ed25519 secret key, so this cannot fail.
        #[allow(clippy::expect_used)]
        Keypair::ed25519_from_bytes(pk.to_bytes()).expect("32-byte Ed25519 secret")
    }

    fn load_private_key(&self, file: [u8; 32]) -> SigningKey {
        SigningKey::from_bytes(&file)
    }

    fn load_private_key_file(&self) -> eyre::Result<[u8; 32]> {
        Ok(self.config.key.to_bytes())
    }

    fn load_genesis(&self) -> eyre::Result<()> {
        Ok(())
    }

    fn get_signing_provider(&self, private_key: SigningKey) -> Ed25519Signer {
        Ed25519Signer::new(private_key)
    }
}

/// Starts a validator driving `app`. Returns once the engine runs; blocks are committed
/// through [`Application::commit`] from then on.
pub async fn start(config: EngineConfig, app: Arc<dyn Application>) -> Result<Engine> {
    if !config.byzantine.is_honest() && !cfg!(feature = "fault-injection") {
        return Err(Error::Config(
            "this build has no fault injection (feature `fault-injection`): a validator \
             configured to misbehave is refused"
                .into(),
        ));
    }
    let me = config.key.verifying_key();
    if !config.validators.iter().any(|v| v.public_key == me) {
        tracing::info!(
            "{} is not in the validator set: following as a full node",
            Address::of(&me)
        );
    }
    std::fs::create_dir_all(&config.home).map_err(|e| Error::Blocks {
        path: config.home.display().to_string(),
        message: e.to_string(),
    })?;
    let t = config.timeouts;
    let timeouts = TimeoutConfig {
        timeout_propose: t.propose,
        timeout_propose_delta: t.propose / 4,
        timeout_prevote: t.prevote,
        timeout_prevote_delta: t.prevote / 4,
        timeout_precommit: t.precommit,
        timeout_precommit_delta: t.precommit / 4,
        timeout_rebroadcast: t.propose + t.prevote + t.precommit,
    };
    let p2p = P2pConfig {
        listen_addr: {
            let (host, port) = tcp_host_port(config.listen)?;
            TransportProtocol::Tcp.multiaddr(&host, port)
        },
        persistent_peers: config
            .peers
            .iter()
            .map(|p| {
                tcp_host_port(*p).map(|(host, port)| TransportProtocol::Tcp.multiaddr(&host, port))
            })
            .collect::<Result<_>>()?,
        discovery: DiscoveryConfig { enabled: false, ..Default::default() },
        // Direct broadcast to every connected peer: a handful of validators need no mesh.
        protocol: PubSubProtocol::Broadcast,
        ..Default::default()
    };
    let malachite = MalachiteConfig {
        moniker: config.moniker.clone(),
        consensus: ConsensusConfig {
            timeouts,
            p2p,
            value_payload: ValuePayload::ProposalAndParts,
            queue_capacity: 100,
        },
        value_sync: ValueSyncConfig {
            enabled: true,
            status_update_interval: Duration::from_millis(500),
            request_timeout: Duration::from_secs(5),
            ..Default::default()
        },
    };
    let (gossip_tx, gossip_rx) = mpsc::channel(1024);
    let node = OmniNode {
        config,
        malachite,
        app,
        gossip: Arc::new(std::sync::Mutex::new(Some(gossip_rx))),
    };
    let mut engine = node.start().await.map_err(|e| Error::Engine(format!("{e:#}")))?;
    engine.gossip = gossip_tx;
    Ok(engine)
}
