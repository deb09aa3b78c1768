//! `omni registry start`: a registry validator with its gRPC API.
//!
//! ```text
//!  gRPC Submit ──mempool check──▶ Mempool ──▶ consensus (omni-consensus on Malachite)
//!                                              │ decided block, on every validator
//!                                              ▼
//!  gRPC queries ◀── read lock ── Registry ◀── write lock ── execute_block + Store::commit
//! ```
//!
//! Blocks are ordered by BFT consensus ([`crate::consensus`]). By default the node is the
//! only validator of its registry (the embedded mode `omni demo` uses): it decides every
//! block alone, through the same engine, WAL and commit path as a validator set. Given a
//! [`ValidatorSetFile`], it joins that fixed set of validators over libp2p; if its key is
//! not in the set it follows as a full node, syncing decided blocks from height 1.
//!
//! A block is executed and committed holding the state's write lock until it is durable,
//! so a query never sees a state that a crash could lose. Each `Submit` returns once its
//! transaction's block is committed on this node.

use crate::api::RegistryApi;
use crate::consensus::RegistryApp;
use crate::error::{Error, Result};
use crate::mempool::{CheckQueue, Mempool, FORWARD_AGAIN};
use crate::proof::RememberingVerifier;
use crate::state::Genesis;
use crate::store::Store;
use crate::validator::{run_checks, Halt, Node};
use crate::verification::{ProofVerifier, RefuseAllProofs};
use omni_consensus::{Byzantine, EngineConfig, Timeouts, ValidatorInfo};
use omni_core::Hash32;
use omni_registry_protocol::proto;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// Most transactions forwarded to the other validators in one message.
const FORWARD_BATCH: usize = 512;

/// One validator of a registry's fixed validator set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorEntry {
    /// A name for logs and tools.
    pub name: String,
    /// Ed25519 consensus public key, hex.
    pub public_key: String,
    /// Where it listens for consensus peers.
    pub consensus: SocketAddr,
    /// Where its gRPC API listens.
    pub api: SocketAddr,
}

/// A registry's validator set and genesis, shared by all its validators
/// (`omni registry start --validators FILE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorSetFile {
    /// The registry's genesis.
    pub genesis: Genesis,
    /// The validators.
    pub validators: Vec<ValidatorEntry>,
}

impl ValidatorSetFile {
    /// Reads a validator set file (JSON).
    pub fn load(path: &Path) -> Result<ValidatorSetFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Server(format!("reading {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Server(format!("validator set {}: {e}", path.display())))
    }

    /// Writes it as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Server(format!("encoding the validator set: {e}")))?;
        std::fs::write(path, text)
            .map_err(|e| Error::Server(format!("writing {}: {e}", path.display())))
    }

    /// Checks the set as every validator will read it: at least one validator, each key a
    /// valid Ed25519 public key, no key, consensus address or API address twice.
    pub fn check(&self) -> Result<()> {
        if self.validators.is_empty() {
            return Err(Error::Server("the validator set is empty".into()));
        }
        self.infos()?;
        let twice = |what: &str, values: Vec<String>| -> Result<()> {
            let mut seen = std::collections::BTreeSet::new();
            match values.into_iter().find(|v| !seen.insert(v.clone())) {
                Some(v) => Err(Error::Server(format!("two validators have the {what} {v}"))),
                None => Ok(()),
            }
        };
        twice("public key", self.validators.iter().map(|v| v.public_key.to_lowercase()).collect())?;
        twice(
            "consensus address",
            self.validators.iter().map(|v| v.consensus.to_string()).collect(),
        )?;
        twice("API address", self.validators.iter().map(|v| v.api.to_string()).collect())?;
        twice("name", self.validators.iter().map(|v| v.name.clone()).collect())
    }

    fn infos(&self) -> Result<Vec<(ValidatorInfo, &ValidatorEntry)>> {
        self.validators
            .iter()
            .map(|v| {
                let raw: [u8; 32] = hex::decode(&v.public_key)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        Error::Server(format!(
                            "validator {}: public key is not 32 hex bytes",
                            v.name
                        ))
                    })?;
                let public_key = ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|e| {
                    Error::Server(format!("validator {}: bad public key: {e}", v.name))
                })?;
                Ok((ValidatorInfo { public_key, voting_power: 1, p2p: Some(v.consensus) }, v))
            })
            .collect()
    }
}

/// The file in a data directory that holds the node's consensus key (hex seed).
pub const CONSENSUS_KEY_FILE: &str = "consensus.key";

/// Reads `DATA/consensus.key` (owner-only, [`omni_core::key_file`]), creating it with a
/// fresh key in a new data directory; a data directory that holds a store but lost its
/// key is refused, not given another identity.
pub fn consensus_key(data_dir: &Path) -> Result<ed25519_dalek::SigningKey> {
    let path = data_dir.join(CONSENSUS_KEY_FILE);
    if path.exists() {
        let seed = omni_core::key_file::read(&path).map_err(Error::Server)?;
        return Ok(ed25519_dalek::SigningKey::from_bytes(&seed));
    }
    // A validator that lost its key must not silently become another validator.
    if data_dir.join("CURRENT").exists() {
        return Err(Error::Server(format!(
            "{} holds a registry store but no {CONSENSUS_KEY_FILE}: restore the validator's \
             key from its backup (a new key would be another validator, not in the set)",
            data_dir.display()
        )));
    }
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    std::fs::create_dir_all(data_dir)
        .map_err(|e| Error::Store(format!("creating {}: {e}", data_dir.display())))?;
    omni_core::key_file::write(&path, &key.to_bytes()).map_err(Error::Server)?;
    Ok(key)
}

/// How a registry node takes part in consensus.
#[derive(Clone, Debug, Default)]
pub struct ConsensusSettings {
    /// The validator set to join; `None`: this node is the registry's only validator.
    pub validators: Option<ValidatorSetFile>,
    /// Where to listen for consensus peers when this node is not in `validators` (a full
    /// node); default any free port on 127.0.0.1.
    pub listen: Option<SocketAddr>,
    /// Consensus timeouts (default [`Timeouts::default`]).
    pub timeouts: Option<Timeouts>,
    /// Longest a proposer waits for transactions before an empty block (default 1 s in a
    /// validator set; a single validator makes no empty blocks).
    pub empty_block_interval: Option<Duration>,
    /// Addresses to dial for the other validators instead of the ones in `validators`
    /// (e.g. through relays); `None`: the validator set's addresses.
    pub peers: Option<Vec<SocketAddr>>,
    /// Deliberate misbehaviour, for fault tests only.
    pub byzantine: Byzantine,
}

/// How to run a registry node.
#[derive(Clone)]
pub struct ServerConfig {
    /// RocksDB directory (created if missing); also holds the consensus key, WAL and
    /// undecided blocks (`consensus/`).
    pub data_dir: PathBuf,
    /// Address to listen on, e.g. `127.0.0.1:7400` (port 0: any free port).
    pub listen: SocketAddr,
    /// Genesis to initialise an empty data directory with; if the directory already holds
    /// a registry, it must be the same genesis (or `None`).
    pub genesis: Option<Genesis>,
    /// Rating-proof verifier. Defaults to [`RefuseAllProofs`]: no invoice is admitted until
    /// a verifying key is configured.
    pub verifier: Arc<dyn ProofVerifier>,
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// Consensus.
    pub consensus: ConsensusSettings,
    /// The validator's clock (the system clock; a manual one in simulations).
    pub clock: omni_core::Clock,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("genesis", &self.genesis)
            .field("verifier", &self.verifier.describe())
            .field("max_block_txs", &self.max_block_txs)
            .field("consensus", &self.consensus)
            .field("clock", &self.clock)
            .finish()
    }
}

impl ServerConfig {
    /// A single-validator node on `data_dir` listening on `listen`, refusing proofs, 64
    /// transactions per block.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            listen,
            genesis: None,
            verifier: Arc::new(RefuseAllProofs),
            max_block_txs: 64,
            consensus: ConsensusSettings::default(),
            clock: omni_core::Clock::System,
        }
    }

    /// Sets the validator's clock (module docs of [`omni_core::clock`]).
    pub fn with_clock(mut self, clock: omni_core::Clock) -> ServerConfig {
        self.clock = clock;
        self
    }

    /// Sets the genesis for a new data directory.
    pub fn with_genesis(mut self, genesis: Genesis) -> ServerConfig {
        self.genesis = Some(genesis);
        self
    }

    /// Sets the rating-proof verifier.
    pub fn with_verifier(mut self, verifier: Arc<dyn ProofVerifier>) -> ServerConfig {
        self.verifier = verifier;
        self
    }

    /// Joins a validator set (its genesis becomes this node's genesis).
    pub fn with_validators(mut self, validators: ValidatorSetFile) -> ServerConfig {
        self.genesis = Some(validators.genesis.clone());
        self.consensus.validators = Some(validators);
        self
    }
}

/// A running registry node.
pub struct RunningServer {
    local_addr: SocketAddr,
    registry_id: Hash32,
    stop: Option<oneshot::Sender<()>>,
    grpc: tokio::task::JoinHandle<Result<()>>,
    engine: omni_consensus::Engine,
    halt: Arc<Halt>,
    forwarder: Option<tokio::task::JoinHandle<()>>,
    checker: tokio::task::JoinHandle<()>,
    stop_checks: Arc<Notify>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunningServer({}, registry {})", self.local_addr, self.registry_id)
    }
}

impl RunningServer {
    /// The address the gRPC server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The registry id clients sign transactions for.
    pub fn registry_id(&self) -> Hash32 {
        self.registry_id
    }

    /// Waits until this validator stops on its own (its state diverged from a decided
    /// block's); answers why.
    pub async fn halted(&self) -> String {
        self.halt.stopped().await
    }

    /// Stops accepting requests, lets in-flight ones finish, stops consensus and closes
    /// the store.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops (after [`RunningServer::shutdown`] or a failure).
    async fn wait(self) -> Result<()> {
        let served = self.grpc.await.map_err(|e| Error::Server(format!("gRPC task: {e}")))?;
        if let Some(f) = self.forwarder {
            f.abort();
        }
        self.stop_checks.notify_one();
        let _ = self.checker.await;
        self.engine.stop().await.map_err(|e| Error::Server(e.to_string()))?;
        served
    }
}

/// How long a single validator waits for transactions before an (empty) block.
const IDLE_SINGLE_VALIDATOR: Duration = Duration::from_secs(3600);

/// The consensus engine's configuration for this node.
fn engine_config(config: &ServerConfig) -> Result<EngineConfig> {
    let key = consensus_key(&config.data_dir)?;
    let home = config.data_dir.join("consensus");
    let s = &config.consensus;
    let mut engine = match &s.validators {
        None => {
            // Alone, nobody waits for this validator's proposals: it proposes when a
            // transaction arrives, with no empty blocks in between.
            let mut e = EngineConfig::single(home, key);
            e.timeouts.propose = IDLE_SINGLE_VALIDATOR;
            e.empty_block_interval = IDLE_SINGLE_VALIDATOR;
            e
        }
        Some(file) => {
            let infos = file.infos()?;
            let me = key.verifying_key();
            let mine = infos.iter().find(|(i, _)| i.public_key == me).map(|(_, e)| (*e).clone());
            let (listen, moniker, peers) = match &mine {
                Some(entry) => (
                    entry.consensus,
                    entry.name.clone(),
                    infos
                        .iter()
                        .filter(|(i, _)| i.public_key != me)
                        .filter_map(|(i, _)| i.p2p)
                        .collect(),
                ),
                None => (
                    s.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))),
                    "full-node".to_string(),
                    infos.iter().filter_map(|(i, _)| i.p2p).collect(),
                ),
            };
            let mut e = EngineConfig::single(home, key);
            e.validators = infos.into_iter().map(|(i, _)| i).collect();
            e.listen = listen;
            e.peers = peers;
            e.moniker = moniker;
            e
        }
    };
    if let Some(t) = s.timeouts {
        engine.timeouts = t;
    }
    if let Some(i) = s.empty_block_interval {
        engine.empty_block_interval = i;
    }
    if let Some(peers) = &s.peers {
        engine.peers = peers.clone();
    }
    engine.byzantine = s.byzantine;
    Ok(engine)
}

/// Starts a registry node: opens (or initialises) the store, starts consensus and serves
/// gRPC with reflection on `config.listen`. Returns once it is listening.
pub async fn start(config: ServerConfig) -> Result<RunningServer> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| Error::Store(format!("creating {}: {e}", config.data_dir.display())))?;
    // The validator's key before its store: a new data directory gets both, a store
    // without its key is refused (`consensus_key`).
    consensus_key(&config.data_dir)?;
    let store = Store::open(&config.data_dir)?;
    // This validator's own memory of the proofs it accepted: checked once on arrival,
    // not again when their block executes.
    let verifier = Arc::new(RememberingVerifier::new(config.verifier.clone()));
    // Validators verify proofs under the keys their genesis names, or do not start.
    let genesis = store.genesis()?.or_else(|| config.genesis.clone());
    if let Some(named) = genesis.and_then(|g| g.rating_keys) {
        let running = config.verifier.rating_keys();
        if running != Some(named) {
            return Err(Error::RatingKeysMismatch {
                genesis: named,
                running: running.map_or_else(|| "no keys".into(), |k| format!("keys {k}")),
            });
        }
    }
    let registry = store.open_registry(config.genesis.as_ref(), verifier)?;
    let registry_id = registry.state().registry_id();
    tracing::info!(
        registry = %registry_id,
        height = registry.state().height(),
        root = %registry.state().state_root(),
        "registry opened from {}",
        config.data_dir.display()
    );
    let engine_config = engine_config(&config)?;
    let replicated = engine_config.validators.len() > 1;
    let (forward_tx, mut forward_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (checks, arrivals) = CheckQueue::new();
    let halt = Arc::new(Halt::default());
    let node = Arc::new(Node {
        registry: RwLock::new(registry),
        store,
        mempool: Mempool::new(replicated.then_some(forward_tx)),
        checks,
        committed: Notify::new(),
        clock: config.clock.clone(),
        halt: halt.clone(),
    });
    let stop_checks = Arc::new(Notify::new());
    let checker = tokio::spawn(tracing::Instrument::instrument(
        run_checks(Arc::downgrade(&node), arrivals, stop_checks.clone()),
        tracing::info_span!("mempool", validator = %engine_config.moniker),
    ));
    let app =
        Arc::new(RegistryApp { node: node.clone(), max_block_txs: config.max_block_txs.max(1) });
    let engine = omni_consensus::start(engine_config, app)
        .await
        .map_err(|e| Error::Server(e.to_string()))?;
    let forwarder = replicated.then(|| {
        let forward = engine.forwarder();
        let node = Arc::downgrade(&node);
        tokio::spawn(async move {
            let mut again = tokio::time::interval(FORWARD_AGAIN);
            again.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    // Batches what arrived meanwhile into one message to the other validators.
                    first = forward_rx.recv() => {
                        let Some(first) = first else { break };
                        let mut batch = vec![first];
                        while let Ok(more) = forward_rx.try_recv() {
                            batch.push(more);
                            if batch.len() >= FORWARD_BATCH {
                                break;
                            }
                        }
                        forward.forward(batch);
                    }
                    _ = again.tick() => {
                        let Some(node) = node.upgrade() else { break };
                        let batch = node.mempool.to_forward_again(FORWARD_BATCH);
                        if !batch.is_empty() {
                            tracing::debug!(txs = batch.len(), "forwarding uncommitted transactions again");
                            forward.forward(batch);
                        }
                    }
                }
            }
        })
    });

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Server(format!("listening on {}: {e}", config.listen)))?;
    let local_addr =
        listener.local_addr().map_err(|e| Error::Server(format!("local address: {e}")))?;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Server(format!("reflection service: {e}")))?;
    let api = proto::registry_server::RegistryServer::new(RegistryApi::new(node));
    let (stop, stopped) = oneshot::channel::<()>();
    let grpc = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(reflection)
            .add_service(api)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .map_err(|e| Error::Server(format!("gRPC server: {e}")))
    });
    tracing::info!(%local_addr, "registry gRPC API listening");
    Ok(RunningServer {
        local_addr,
        registry_id,
        halt,
        stop: Some(stop),
        grpc,
        engine,
        forwarder,
        checker,
        stop_checks,
    })
}

/// Runs a registry node until Ctrl-C or SIGTERM (what `systemctl stop`, `docker stop` and
/// Kubernetes send), shutting down gracefully on either, or until it stops on its own
/// because its state diverged (an error): `omni registry start --data DIR --listen ADDR`.
pub async fn serve(config: ServerConfig) -> Result<()> {
    let server = start(config).await?;
    let halted = tokio::select! {
        signal = stop_signal() => {
            signal?;
            None
        }
        reason = server.halted() => Some(reason),
    };
    tracing::info!("stopping the registry");
    server.shutdown().await?;
    match halted {
        Some(reason) => Err(Error::Server(format!("this validator stopped: {reason}"))),
        None => Ok(()),
    }
}

/// Waits for Ctrl-C, or SIGTERM on Unix (what service managers send): how a long-running
/// `omni` process (a registry validator, a node) knows to shut down gracefully.
pub async fn stop_signal() -> Result<()> {
    let failed = |e: std::io::Error| Error::Server(format!("waiting for a stop signal: {e}"));
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(failed)?;
        tokio::select! {
            c = tokio::signal::ctrl_c() => c.map_err(failed),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commitment::{encode, PedersenCommitment, Scalar};
    use crate::tx::{InvoiceId, InvoiceSubmission, Role, SignedTx, TxBody};
    use crate::verification::testing::{valid_bundle, StubRatingVerifier};
    use omni_core::{Currency, IntervalId, Keypair};
    use omni_registry_protocol::proto::registry_client::RegistryClient;
    use tonic::transport::Channel;
    use tonic::Code;

    fn key(n: u8) -> Keypair {
        Keypair::from_seed([n; 32])
    }

    fn genesis() -> Genesis {
        Genesis {
            name: "grpc-test".into(),
            time: 1,
            members: vec![(key(1).party(), Role::Admin)],
            rating_keys: None,
        }
    }

    /// A client that signs with the right nonces.
    struct Client {
        rpc: RegistryClient<Channel>,
        registry: Hash32,
    }

    impl Client {
        async fn nonce(&mut self, k: &Keypair) -> u64 {
            let req = proto::GetMemberRequest { party: k.party().0.to_vec() };
            self.rpc.get_member(req).await.unwrap().into_inner().next_nonce
        }

        async fn submit(
            &mut self,
            k: &Keypair,
            body: TxBody,
        ) -> std::result::Result<proto::SubmitResponse, tonic::Status> {
            let nonce = self.nonce(k).await;
            let tx = SignedTx::sign(k, &self.registry, nonce, body);
            self.rpc
                .submit(proto::SubmitRequest { tx: tx.to_bytes(), transaction: None })
                .await
                .map(|r| r.into_inner())
        }
    }

    fn invoice(n: u64) -> (InvoiceId, TxBody) {
        let c = encode(&PedersenCommitment::commit(1_000 * n, &Scalar::from(77 + n)));
        let bilateral = Hash32::digest("t", b"bilateral");
        let interval = IntervalId("2027-03".into());
        let id = InvoiceId(Hash32::digest("t/invoice", &n.to_be_bytes()));
        let body = TxBody::SubmitInvoice(InvoiceSubmission {
            invoice: id,
            bilateral,
            interval: interval.clone(),
            payer: key(3).party(),
            payee: key(2).party(),
            currency: Currency::EUR,
            amount_commitment: c,
            due_date: 4_000_000_000,
            proof: valid_bundle(&bilateral, &interval, &c),
        });
        (id, body)
    }

    /// A message that is valid protobuf framing but not a `SubmitRequest`: field 1 is a
    /// varint where a byte string is expected.
    #[derive(Clone, PartialEq, prost::Message)]
    struct NotASubmitRequest {
        #[prost(uint64, tag = "1")]
        tx: u64,
    }

    async fn send_malformed_protobuf(addr: SocketAddr) -> tonic::Status {
        let channel =
            Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<NotASubmitRequest, proto::SubmitResponse>::default();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/omni.registry.v1.Registry/Submit",
        );
        grpc.unary(tonic::Request::new(NotASubmitRequest { tx: 42 }), path, codec)
            .await
            .expect_err("a malformed request must be refused")
    }

    /// The stub verifier under a keys hash, as a Groth16 verifier would name its keys.
    struct KeyedStub(Hash32);

    impl ProofVerifier for KeyedStub {
        fn verify_batch(
            &self,
            claims: &[crate::verification::SubmittedRatingStatement<'_>],
        ) -> Vec<crate::verification::ProofVerdict> {
            StubRatingVerifier.verify_batch(claims)
        }

        fn describe(&self) -> String {
            format!("keyed stub {}", self.0)
        }

        fn rating_keys(&self) -> Option<Hash32> {
            Some(self.0)
        }
    }

    /// A genesis that names rating verifying keys starts only validators that run them:
    /// one with other keys or none is refused, naming both, and writes nothing.
    #[tokio::test]
    async fn a_validator_runs_the_rating_keys_its_genesis_names() {
        let named = Hash32([0xab; 32]);
        let genesis = Genesis { rating_keys: Some(named), ..genesis() };
        assert_ne!(genesis.registry_id(), self::genesis().registry_id());
        for (verifier, running) in [
            (Arc::new(StubRatingVerifier) as Arc<dyn ProofVerifier>, "no keys".to_string()),
            (Arc::new(KeyedStub(Hash32([0xcd; 32]))), format!("keys {}", Hash32([0xcd; 32]))),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let config = ServerConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap())
                .with_genesis(genesis.clone())
                .with_verifier(verifier);
            let err = start(config).await.unwrap_err().to_string();
            assert!(err.contains(&named.to_string()) && err.contains(&running), "{err}");
            assert!(Store::open(dir.path()).unwrap().genesis().unwrap().is_none());
        }
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap())
            .with_genesis(genesis.clone())
            .with_verifier(Arc::new(KeyedStub(named)));
        let server = start(config.clone()).await.unwrap();
        assert_eq!(server.registry_id(), genesis.registry_id());
        server.shutdown().await.unwrap();
        // The store keeps the keys it was made with: a restart with others is refused.
        let other = config.with_verifier(Arc::new(KeyedStub(Hash32([0xcd; 32]))));
        let err = start(other).await.unwrap_err().to_string();
        assert!(err.contains(&named.to_string()), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grpc_api_end_to_end_with_refusals_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap())
            .with_genesis(genesis())
            .with_verifier(Arc::new(StubRatingVerifier));
        let server = start(config.clone()).await.unwrap();
        let addr = server.local_addr();
        let mut c = Client {
            rpc: RegistryClient::connect(format!("http://{addr}")).await.unwrap(),
            registry: server.registry_id(),
        };
        let (admin, seller, buyer, financier) = (key(1), key(2), key(3), key(4));

        for (k, role) in
            [(&seller, Role::Member), (&buyer, Role::Member), (&financier, Role::Financier)]
        {
            c.submit(&admin, TxBody::AdmitMember { member: k.party(), role }).await.unwrap();
        }
        let (id, body) = invoice(1);
        let submitted = c.submit(&seller, body).await.unwrap();
        assert_eq!(submitted.events[0].kind, "InvoiceVerified");
        let at = submitted.at.unwrap();
        assert_eq!(at.height, 4);
        assert_eq!(at.state_root.len(), 32);

        // The mempool refuses an invoice whose proof fails before it takes a place in a
        // block: the height does not move.
        let (_, bad) = invoice(2);
        let TxBody::SubmitInvoice(mut bad) = bad else { panic!("an invoice") };
        bad.proof = b"not a proof bundle".to_vec();
        let height = |s: proto::GetStatusResponse| s.at.map(|a| a.height);
        let before =
            height(c.rpc.get_status(proto::GetStatusRequest {}).await.unwrap().into_inner());
        let err = c.submit(&seller, TxBody::SubmitInvoice(bad)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
        let after =
            height(c.rpc.get_status(proto::GetStatusRequest {}).await.unwrap().into_inner());
        assert_eq!(before, after);

        // Refusals, each with its code; the server keeps serving.
        let garbage = c
            .rpc
            .submit(proto::SubmitRequest { tx: b"\x01garbage".to_vec(), transaction: None })
            .await;
        assert_eq!(garbage.unwrap_err().code(), Code::InvalidArgument);
        let mut unsigned =
            SignedTx::sign(&buyer, &c.registry, 0, TxBody::AcceptInvoice { invoice: id });
        unsigned.signature = omni_core::Signature([0; 64]);
        let err = c
            .rpc
            .submit(proto::SubmitRequest { tx: unsigned.to_bytes(), transaction: None })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let err = c.submit(&seller, TxBody::AcceptInvoice { invoice: id }).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
        assert!(err.message().contains("only the payer"));
        let err = c.submit(&key(9), TxBody::AcceptInvoice { invoice: id }).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let accept = SignedTx::sign(&buyer, &c.registry, 0, TxBody::AcceptInvoice { invoice: id });
        c.rpc
            .submit(proto::SubmitRequest { tx: accept.to_bytes(), transaction: None })
            .await
            .unwrap();
        let replay = c
            .rpc
            .submit(proto::SubmitRequest { tx: accept.to_bytes(), transaction: None })
            .await
            .unwrap_err();
        assert_eq!(replay.code(), Code::FailedPrecondition);
        assert!(replay.message().contains("replay"));
        // A nonce far ahead would only wait in every mempool: refused at once.
        let far = crate::tx::MAX_NONCE_AHEAD + 5;
        let ahead = SignedTx::sign(&buyer, &c.registry, far, TxBody::AcceptInvoice { invoice: id });
        let err = c
            .rpc
            .submit(proto::SubmitRequest { tx: ahead.to_bytes(), transaction: None })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("ahead of the next nonce"), "{}", err.message());
        let unknown = InvoiceId(Hash32::digest("t", b"unknown"));
        let err = c
            .submit(&seller, TxBody::PaymentReceipt { invoice: unknown, payment_ref: Hash32::ZERO })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        let malformed = send_malformed_protobuf(addr).await;
        assert_ne!(malformed.code(), Code::Ok);

        // Queries: every answer names the same height and root as the status.
        let status = c.rpc.get_status(proto::GetStatusRequest {}).await.unwrap().into_inner();
        let at = status.at.clone().unwrap();
        assert_eq!(at.height, 7, "blocks 5 and 7 hold refused transactions only");
        assert_eq!(status.registry_id, c.registry.0.to_vec());
        assert_eq!((status.members, status.invoices), (4, 1));
        let got = c
            .rpc
            .get_invoice(proto::GetInvoiceRequest { invoice_id: id.0 .0.to_vec() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.at.as_ref(), Some(&at));
        let inv = got.invoice.unwrap();
        assert_eq!(inv.status, "accepted");
        assert_eq!(got.payer_reputation.unwrap().accepted, 1);
        let listed = c
            .rpc
            .list_invoices(proto::ListInvoicesRequest {
                payer: buyer.party().0.to_vec(),
                status: "accepted".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.invoices.len(), 1);
        assert!(listed.next_start_after.is_empty());
        let bad = c
            .rpc
            .list_invoices(proto::ListInvoicesRequest {
                payer: vec![1, 2, 3],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
        let rep = c
            .rpc
            .get_reputation(proto::GetReputationRequest {
                payer: buyer.party().0.to_vec(),
                at_time: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(rep.at.as_ref(), Some(&at));
        let nullifier =
            crate::pledge::nullifier(&crate::commitment::encode_blinding(&Scalar::from(78u64)))
                .unwrap();
        let check = |rpc: &mut RegistryClient<Channel>| {
            let mut rpc = rpc.clone();
            async move {
                rpc.check_pledge(proto::CheckPledgeRequest { nullifier: nullifier.0.to_vec() })
                    .await
                    .unwrap()
                    .into_inner()
                    .pledged
            }
        };
        assert!(!check(&mut c.rpc).await);
        c.submit(&financier, TxBody::Pledge { nullifier }).await.unwrap();
        assert!(check(&mut c.rpc).await);
        let second = c.submit(&financier, TxBody::Pledge { nullifier }).await.unwrap_err();
        assert_eq!(second.code(), Code::AlreadyExists);
        let b = Hash32::digest("t", b"bilateral");
        c.submit(&buyer, TxBody::AnchorHead { bilateral: b, seq: 3, head: Hash32([3; 32]) })
            .await
            .unwrap();
        let anchors = c
            .rpc
            .list_anchors(proto::ListAnchorsRequest { bilateral: b.0.to_vec() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(anchors.anchors.len(), 1);
        assert_eq!(anchors.anchors[0].anchored_by, buyer.party().0.to_vec());
        c.submit(
            &seller,
            TxBody::OpenNettingCycle {
                currency: Currency::EUR,
                cutoff: 4_000_000_000,
                participants: vec![seller.party(), buyer.party()],
            },
        )
        .await
        .unwrap();
        let cycles = c
            .rpc
            .list_netting_cycles(proto::ListNettingCyclesRequest {
                participant: buyer.party().0.to_vec(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(cycles.cycles.len(), 1);
        assert_eq!(cycles.cycles[0].phase, "joining");
        let tx_status = c
            .rpc
            .get_tx(proto::GetTxRequest { tx_hash: accept.hash().0.to_vec() })
            .await
            .unwrap()
            .into_inner();
        assert!(tx_status.found && tx_status.accepted);
        assert_eq!(tx_status.events[0].kind, "InvoiceAccepted");

        // Server reflection lists the service.
        let services = reflected_services(addr).await;
        assert!(services.contains(&"omni.registry.v1.Registry".to_string()), "{services:?}");

        // Restart on the same data: same height and root.
        // Each step bounded, so that a hang names the step that hung.
        let limit = Duration::from_secs(30);
        let status = c.rpc.get_status(proto::GetStatusRequest {}).await.unwrap().into_inner();
        drop(c);
        tokio::time::timeout(limit, server.shutdown())
            .await
            .expect("the shutdown did not finish within 30 s")
            .unwrap();
        let restarted =
            tokio::time::timeout(limit, start(ServerConfig { genesis: None, ..config }))
                .await
                .expect("the restart did not finish within 30 s")
                .unwrap();
        let mut rpc =
            RegistryClient::connect(format!("http://{}", restarted.local_addr())).await.unwrap();
        let again = rpc.get_status(proto::GetStatusRequest {}).await.unwrap().into_inner();
        assert_eq!(again.at, status.at);
        assert_eq!(again.invoices, 1);
        drop(rpc);
        tokio::time::timeout(limit, restarted.shutdown())
            .await
            .expect("the second shutdown did not finish within 30 s")
            .unwrap();
    }

    fn free_addr() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
    }

    /// A set of four validators on free local ports, their keys in `dir/v0`…`dir/v3`.
    fn four_validators(dir: &Path) -> ValidatorSetFile {
        let validators = (0..4)
            .map(|i| {
                let key = consensus_key(&dir.join(format!("v{i}"))).unwrap();
                ValidatorEntry {
                    name: format!("v{i}"),
                    public_key: hex::encode(key.verifying_key().to_bytes()),
                    consensus: free_addr(),
                    api: free_addr(),
                }
            })
            .collect();
        ValidatorSetFile { genesis: genesis(), validators }
    }

    /// A proposer waiting for transactions receives the ones other validators forward
    /// while it waits. Malachite's channel connector held every later request back while
    /// a proposer waited, forwarded transactions included, so a transaction given to
    /// anyone but the proposer waited out the proposer's whole empty-block interval.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_proposer_receives_the_transactions_its_peers_forward() {
        const EMPTY_BLOCK: Duration = Duration::from_secs(20);
        let dir = tempfile::tempdir().unwrap();
        let set = four_validators(dir.path());
        let mut servers = Vec::new();
        for (i, v) in set.validators.iter().enumerate() {
            let mut config = ServerConfig::new(dir.path().join(format!("v{i}")), v.api)
                .with_validators(set.clone());
            config.consensus.empty_block_interval = Some(EMPTY_BLOCK);
            config.consensus.timeouts =
                Some(Timeouts { propose: 2 * EMPTY_BLOCK, ..Timeouts::default() });
            servers.push(start(config).await.unwrap());
        }
        let registry = servers[0].registry_id();
        // One member admitted through each validator in turn: most of them are not the
        // proposer of the height their transaction lands in.
        for (i, server) in servers.iter().enumerate() {
            let rpc =
                RegistryClient::connect(format!("http://{}", server.local_addr())).await.unwrap();
            let mut client = Client { rpc, registry };
            let admit =
                TxBody::AdmitMember { member: key(10 + i as u8).party(), role: Role::Member };
            let sent = std::time::Instant::now();
            let committed = client.submit(&key(1), admit).await.unwrap();
            assert!(
                sent.elapsed() < EMPTY_BLOCK / 2,
                "a transaction through validator {i} took {:?} to commit (height {})",
                sent.elapsed(),
                committed.at.map_or(0, |a| a.height)
            );
        }
        for server in servers {
            server.shutdown().await.unwrap();
        }
    }

    /// A validator's key is written owner-only; a data directory that holds a store but
    /// lost its key is refused rather than given a new identity.
    #[test]
    fn a_lost_consensus_key_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let key = consensus_key(dir.path()).unwrap();
        assert_eq!(consensus_key(dir.path()).unwrap().to_bytes(), key.to_bytes());
        drop(Store::open(dir.path()).unwrap());
        std::fs::remove_file(dir.path().join(CONSENSUS_KEY_FILE)).unwrap();
        let err = consensus_key(dir.path()).unwrap_err().to_string();
        assert!(err.contains("restore the validator's key"), "{err}");
        assert!(!dir.path().join(CONSENSUS_KEY_FILE).exists());
    }

    /// Four validators; one is stopped, its state altered on disk (a member's role
    /// rewritten, the stored root recomputed so that the store still opens) and started
    /// again: it stops with an error at the first block the others decided, naming both
    /// roots, and the other three go on committing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_validator_whose_state_was_altered_on_disk_stops_and_the_others_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let set = four_validators(dir.path());
        let config = |i: usize| {
            let mut c = ServerConfig::new(dir.path().join(format!("v{i}")), set.validators[i].api)
                .with_validators(set.clone());
            c.consensus.empty_block_interval = Some(Duration::from_millis(200));
            c
        };
        let mut servers = Vec::new();
        for i in 0..4 {
            servers.push(start(config(i)).await.unwrap());
        }
        let registry = servers[0].registry_id();
        let connect = |addr: SocketAddr| async move {
            Client {
                rpc: RegistryClient::connect(format!("http://{addr}")).await.unwrap(),
                registry,
            }
        };
        let mut client = connect(servers[0].local_addr()).await;
        let member = key(20).party();
        client.submit(&key(1), TxBody::AdmitMember { member, role: Role::Member }).await.unwrap();

        let altered = servers.pop().unwrap();
        altered.shutdown().await.unwrap();
        let store = Store::open(&dir.path().join("v3")).unwrap();
        let mut row: crate::state::Member = store
            .open_registry(None, Arc::new(RefuseAllProofs))
            .unwrap()
            .state()
            .member(&member)
            .unwrap()
            .clone();
        row.role = Role::Admin;
        store.alter_state("members", &member.0, &omni_core::encode(&row)).unwrap();
        drop(store);

        let restarted = start(config(3)).await.unwrap();
        let reason = tokio::time::timeout(Duration::from_secs(60), restarted.halted())
            .await
            .expect("the altered validator did not stop");
        assert!(reason.contains("diverged"), "{reason}");
        // The other three still decide blocks.
        let later = key(21).party();
        let admitted = client
            .submit(&key(1), TxBody::AdmitMember { member: later, role: Role::Member })
            .await
            .unwrap();
        assert_eq!(admitted.events[0].kind, "MemberAdmitted");
        drop(client);
        restarted.shutdown().await.unwrap();
        for server in servers {
            server.shutdown().await.unwrap();
        }
    }

    async fn reflected_services(addr: SocketAddr) -> Vec<String> {
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        let channel =
            Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        let mut client = ServerReflectionClient::new(channel);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
            .unwrap()
            .into_inner();
        match stream.message().await.unwrap().and_then(|r| r.message_response) {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected reflection answer {other:?}"),
        }
    }
}
