//! `omni registry start`: a single registry node with its gRPC API.
//!
//! ```text
//!  gRPC Submit ──check_tx──▶ channel ──▶ block producer thread ──▶ Registry::execute_block
//!                                            (≤ max_block_txs per block)     │
//!                                                                             ▼
//!  gRPC queries ◀── read lock ── Registry ◀── write lock ── Store::commit (atomic, synced)
//! ```
//!
//! Without consensus the node orders transactions itself: the producer takes whatever is
//! waiting (up to [`ServerConfig::max_block_txs`]), makes it a block stamped with the
//! wall clock (never before the previous block), executes it and commits it, holding the
//! state's write lock until the block is durable, so a query never sees a state that a
//! crash could lose. Each `Submit` returns once its transaction's block is committed.
//! The consensus issue replaces the producer with Malachite's decided blocks; the
//! [`Registry`] and [`Store`] calls stay the same.

use crate::api::{proto, RegistryApi};
use crate::block::{Block, Registry};
use crate::proof::{ProofVerifier, RefuseAllProofs};
use crate::state::{Event, Genesis};
use crate::store::Store;
use crate::tx::TxHash;
use crate::{Error, Result};
use omni_core::Hash32;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

/// How to run a registry node.
#[derive(Clone)]
pub struct ServerConfig {
    /// RocksDB directory (created if missing).
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
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("genesis", &self.genesis)
            .field("verifier", &self.verifier.describe())
            .field("max_block_txs", &self.max_block_txs)
            .finish()
    }
}

impl ServerConfig {
    /// A node on `data_dir` listening on `listen`, refusing proofs, 64 transactions per
    /// block.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            listen,
            genesis: None,
            verifier: Arc::new(RefuseAllProofs),
            max_block_txs: 64,
        }
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
}

/// What the API and the block producer share.
pub(crate) struct Node {
    pub(crate) registry: RwLock<Registry>,
    pub(crate) store: Store,
}

/// A submitted transaction waiting for its block.
pub(crate) struct Pending {
    pub(crate) bytes: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Result<Committed>>,
}

/// Where a transaction was executed.
pub(crate) struct Committed {
    pub(crate) tx_hash: TxHash,
    pub(crate) height: u64,
    pub(crate) time: u64,
    pub(crate) state_root: Hash32,
    pub(crate) events: Vec<Event>,
}

/// A running registry node.
pub struct RunningServer {
    local_addr: SocketAddr,
    registry_id: Hash32,
    stop: Option<oneshot::Sender<()>>,
    grpc: tokio::task::JoinHandle<Result<()>>,
    producer: std::thread::JoinHandle<()>,
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

    /// Stops accepting requests, lets in-flight ones finish, stops the block producer and
    /// closes the store.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops (after [`RunningServer::shutdown`] or a failure).
    async fn wait(self) -> Result<()> {
        let served = self.grpc.await.map_err(|e| Error::Server(format!("gRPC task: {e}")))?;
        // The API (and its channel sender) is gone with the gRPC server, so the producer
        // drains what is left and ends.
        let producer = self.producer;
        tokio::task::spawn_blocking(move || producer.join())
            .await
            .map_err(|e| Error::Server(format!("joining the block producer: {e}")))?
            .map_err(|_| Error::Server("the block producer panicked".into()))?;
        served
    }
}

/// Starts a registry node: opens (or initialises) the store, starts the block producer
/// and serves gRPC with reflection on `config.listen`. Returns once it is listening.
pub async fn start(config: ServerConfig) -> Result<RunningServer> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| Error::Store(format!("creating {}: {e}", config.data_dir.display())))?;
    let store = Store::open(&config.data_dir)?;
    let registry = store.open_registry(config.genesis.as_ref(), config.verifier.clone())?;
    let registry_id = registry.state().registry_id();
    tracing::info!(
        registry = %registry_id,
        height = registry.state().height(),
        root = %registry.state().state_root(),
        "registry opened from {}",
        config.data_dir.display()
    );
    let node = Arc::new(Node { registry: RwLock::new(registry), store });

    let (submit, pending) = mpsc::channel(4 * config.max_block_txs.max(1));
    let producer = {
        let node = node.clone();
        let max = config.max_block_txs.max(1);
        std::thread::Builder::new()
            .name("registry-blocks".into())
            .spawn(move || produce_blocks(&node, pending, max))
            .map_err(|e| Error::Server(format!("starting the block producer: {e}")))?
    };

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Server(format!("listening on {}: {e}", config.listen)))?;
    let local_addr =
        listener.local_addr().map_err(|e| Error::Server(format!("local address: {e}")))?;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Server(format!("reflection service: {e}")))?;
    let api = proto::registry_server::RegistryServer::new(RegistryApi::new(node, submit));
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
    Ok(RunningServer { local_addr, registry_id, stop: Some(stop), grpc, producer })
}

/// Runs a registry node until Ctrl-C: `omni registry start --data DIR --listen ADDR`.
pub async fn serve(config: ServerConfig) -> Result<()> {
    let server = start(config).await?;
    tokio::signal::ctrl_c().await.map_err(|e| Error::Server(format!("waiting for Ctrl-C: {e}")))?;
    tracing::info!("stopping the registry");
    server.shutdown().await
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The block producer: batches waiting transactions into blocks until every sender is
/// gone.
fn produce_blocks(node: &Node, mut pending: mpsc::Receiver<Pending>, max: usize) {
    while let Some(first) = pending.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < max {
            match pending.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let (txs, replies): (Vec<Vec<u8>>, Vec<_>) =
            batch.into_iter().map(|p| (p.bytes, p.reply)).unzip();
        match execute_and_commit(node, txs) {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!("block failed: {e}");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

fn execute_and_commit(node: &Node, txs: Vec<Vec<u8>>) -> Result<Vec<Result<Committed>>> {
    let mut registry =
        node.registry.write().map_err(|_| Error::Server("registry state lock poisoned".into()))?;
    let state = registry.state();
    let block = Block { height: state.height() + 1, time: now_secs().max(state.time()), txs };
    let outcome = registry.execute_block(&block)?;
    if let Err(e) = node.store.commit(&block, &outcome) {
        // The block is not durable: go back to what the store holds.
        let verifier = registry.verifier().clone();
        *registry = node.store.open_registry(None, verifier)?;
        return Err(e);
    }
    tracing::debug!(height = outcome.height, txs = outcome.results.len(), root = %outcome.state_root, "block committed");
    Ok(outcome
        .results
        .into_iter()
        .map(|r| {
            r.result.map(|events| Committed {
                tx_hash: r.tx_hash,
                height: outcome.height,
                time: outcome.time,
                state_root: outcome.state_root,
                events,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::proto::registry_client::RegistryClient;
    use crate::commitment::{encode, PedersenCommitment, Scalar};
    use crate::proof::testing::{valid_bundle, StubRatingVerifier};
    use crate::tx::{InvoiceId, InvoiceSubmission, Role, SignedTx, TxBody};
    use omni_core::{Currency, IntervalId, Keypair};
    use tonic::transport::Channel;
    use tonic::Code;

    fn key(n: u8) -> Keypair {
        Keypair::from_seed([n; 32])
    }

    fn genesis() -> Genesis {
        Genesis { name: "grpc-test".into(), time: 1, members: vec![(key(1).party(), Role::Admin)] }
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
                .submit(proto::SubmitRequest { tx: tx.to_bytes() })
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

        // Refusals, each with its code; the server keeps serving.
        let garbage = c.rpc.submit(proto::SubmitRequest { tx: b"\x01garbage".to_vec() }).await;
        assert_eq!(garbage.unwrap_err().code(), Code::InvalidArgument);
        let mut unsigned =
            SignedTx::sign(&buyer, &c.registry, 0, TxBody::AcceptInvoice { invoice: id });
        unsigned.signature = omni_core::Signature([0; 64]);
        let err = c.rpc.submit(proto::SubmitRequest { tx: unsigned.to_bytes() }).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let err = c.submit(&seller, TxBody::AcceptInvoice { invoice: id }).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
        assert!(err.message().contains("only the payer"));
        let err = c.submit(&key(9), TxBody::AcceptInvoice { invoice: id }).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let accept = SignedTx::sign(&buyer, &c.registry, 0, TxBody::AcceptInvoice { invoice: id });
        c.rpc.submit(proto::SubmitRequest { tx: accept.to_bytes() }).await.unwrap();
        let replay =
            c.rpc.submit(proto::SubmitRequest { tx: accept.to_bytes() }).await.unwrap_err();
        assert_eq!(replay.code(), Code::FailedPrecondition);
        assert!(replay.message().contains("replay"));
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
        let status = c.rpc.get_status(proto::GetStatusRequest {}).await.unwrap().into_inner();
        drop(c);
        server.shutdown().await.unwrap();
        let restarted = start(ServerConfig { genesis: None, ..config }).await.unwrap();
        let mut rpc =
            RegistryClient::connect(format!("http://{}", restarted.local_addr())).await.unwrap();
        let again = rpc.get_status(proto::GetStatusRequest {}).await.unwrap().into_inner();
        assert_eq!(again.at, status.at);
        assert_eq!(again.invoices, 1);
        drop(rpc);
        restarted.shutdown().await.unwrap();
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
