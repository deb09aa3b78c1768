//! Node-to-node sync of bilateral ledgers over libp2p (DESIGN "Sync"; MEF 114 R32).
//!
//! Each organisation's node listens on TCP; connections are authenticated and encrypted
//! by Noise (XX handshake, ChaCha20-Poly1305) and multiplexed by Yamux. A node's libp2p
//! identity *is* its ledger signing key (the same Ed25519 seed), so the peer id that Noise
//! authenticates names a [`PartyId`] that a bilateral's contract either lists as the
//! counterparty's signatory or does not: a peer that is not the bilateral's counterparty
//! is refused, whatever it sends. The two nodes talk to each other directly, so the
//! channel is end to end (R32): nobody between them reads or alters an entry; a byte
//! changed on the wire fails Noise's authentication and the connection is dropped before
//! anything reaches the ledger.
//!
//! One request-response protocol, [`PROTOCOL`], length-prefixed [postcard] messages:
//!
//! ```text
//!   Push { bilateral, entries }  ──▶   apply in order           ◀── Holds { next }
//!   Pull { bilateral, from }     ──▶   read from the store      ◀── Entries { entries, next }
//!                                      (either may answer)      ◀── Refused { reason, next }
//! ```
//!
//! * **Push on append.** A driver task looks at every bilateral every [`TICK`] (and at
//!   once when woken by [`SyncNode::wake`]); for each counterparty node with a known
//!   address, it pushes the entries that counterparty does not hold yet, one batch of at
//!   most [`BATCH_BYTES`] per request.
//! * **Pull by sequence number.** What a counterparty holds is learned from its answers;
//!   until then (after a start or a reconnection) the node pulls from its own next
//!   sequence number, which both fetches what it missed and tells the counterparty where
//!   it stands.
//! * **The outbox is the ledger.** Entries are durable in RocksDB before they are
//!   pushed, and what is delivered is only what the counterparty acknowledged, so an
//!   unreachable counterparty (retried with a back-off) or a crash of either node loses
//!   nothing: the pushes resume from the acknowledged sequence number.
//! * **Bad input.** A malformed message fails the stream; a malformed entry, an entry of
//!   another bilateral, a replayed entry with a different hash (a fork), or an entry the
//!   state machine refuses is answered with [`SyncResponse::Refused`] and its reason; a
//!   replayed identical entry is ignored; an entry past a gap is not applied, and the
//!   answer names the sequence number expected. Nothing that was refused is stored, and
//!   the node keeps serving.
//! * **Told on receipt.** Whoever acts on the counterparty's entries (the registry
//!   reporter) is called once a push or a pull stored some ([`SyncNode::set_on_received`]),
//!   rather than finding them at its next look.

use crate::entry::{BilateralId, Entry, EntryBody};
use crate::ledger::Ledger;
use futures::prelude::*;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{identity, Multiaddr, PeerId, StreamProtocol, Swarm};
use omni_core::{Keypair, PartyId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// The sync protocol's name and version.
pub const PROTOCOL: &str = "/omni/bilateral-sync/1";

/// Largest message read from a peer; a longer length prefix fails the stream.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Entries per push or pull answer are batched up to this many bytes (at least one entry).
pub const BATCH_BYTES: usize = 4 << 20;

/// How often the driver looks for entries to push.
pub const TICK: Duration = Duration::from_millis(100);

/// First wait before retrying a counterparty that could not be reached or refused;
/// doubled on every failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a node asks its counterparty's node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// Entries of `bilateral` in sequence order ([`Entry::to_bytes`]), the first one at
    /// the receiver's next sequence number, or the genesis entry of a proposed contract.
    Push {
        /// The bilateral.
        bilateral: BilateralId,
        /// Canonical entry bytes.
        entries: Vec<Vec<u8>>,
    },
    /// "Send the entries of `bilateral` from `from` on" — `from` is also the sender's own
    /// next sequence number, which tells the receiver what it holds.
    Pull {
        /// The bilateral.
        bilateral: BilateralId,
        /// First sequence number wanted.
        from: u64,
    },
}

/// A node's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// The answering node holds the bilateral's entries below `next` (0: none).
    Holds {
        /// Its next sequence number.
        next: u64,
    },
    /// Entries from the pulled sequence number on (one batch), and the answering node's
    /// next sequence number.
    Entries {
        /// Canonical entry bytes.
        entries: Vec<Vec<u8>>,
        /// Its next sequence number.
        next: u64,
    },
    /// The request was refused; entries before the refused one may have been applied.
    Refused {
        /// Why.
        reason: String,
        /// The answering node's next sequence number after the request.
        next: u64,
    },
}

/// A counterparty node: its signing key (= libp2p identity) and where it listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// The counterparty node's signing key (a signatory of the counterparty).
    pub party: PartyId,
    /// Its sync listen address.
    pub address: SocketAddr,
}

/// A refusal, by this node or by a counterparty, kept for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The other node.
    pub peer: PartyId,
    /// The bilateral.
    pub bilateral: BilateralId,
    /// `true` when this node refused the peer's request, `false` when the peer refused ours.
    pub by_us: bool,
    /// Why.
    pub reason: String,
}

/// Why the sync service could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The transport could not be built or could not listen.
    #[error("libp2p: {0}")]
    Transport(String),
    /// The service has stopped.
    #[error("the sync service has stopped")]
    Stopped,
    /// A request to a peer failed.
    #[error("request to {peer:?} failed: {reason}")]
    Request {
        /// The peer.
        peer: PartyId,
        /// Why.
        reason: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {0:?}: {1}")]
    Timeout(Duration, String),
}

/// The libp2p identity of a node whose ledger signing key is `keypair`.
pub fn identity_of(keypair: &Keypair) -> identity::Keypair {
    let mut seed = keypair.seed();
    // Any 32 bytes are an Ed25519 secret key.
    identity::Keypair::ed25519_from_bytes(&mut seed).expect("an Ed25519 seed is 32 bytes")
}

/// The libp2p peer id of the node that signs with `party`'s key, or `None` if the bytes
/// are not an Ed25519 public key.
pub fn peer_id_of(party: &PartyId) -> Option<PeerId> {
    let key = identity::ed25519::PublicKey::try_from_bytes(&party.0).ok()?;
    Some(identity::PublicKey::from(key).to_peer_id())
}

/// The signing key behind an (Ed25519, inlined) peer id.
pub fn party_of(peer: &PeerId) -> Option<PartyId> {
    let hash = multihash_digest(peer)?;
    let key = identity::PublicKey::try_decode_protobuf(hash).ok()?;
    Some(PartyId(key.try_into_ed25519().ok()?.to_bytes()))
}

/// The digest of an identity multihash (`0x00`, length, bytes): how short public keys
/// are inlined in peer ids.
fn multihash_digest(peer: &PeerId) -> Option<&[u8]> {
    let bytes = peer.as_ref();
    (bytes.code() == 0).then(|| bytes.digest())
}

fn multiaddr_of(addr: SocketAddr) -> Multiaddr {
    let mut m = Multiaddr::from(addr.ip());
    m.push(libp2p::multiaddr::Protocol::Tcp(addr.port()));
    m
}

fn socket_of(addr: &Multiaddr) -> Option<SocketAddr> {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// Length-prefixed postcard messages, at most [`MAX_MESSAGE_BYTES`].
#[derive(Clone, Copy, Default)]
struct SyncCodec;

async fn read_message<T, M>(io: &mut T) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: for<'de> Deserialize<'de>,
{
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    postcard::from_bytes(&buf).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidData, format!("malformed sync message: {e}"))
    })
}

async fn write_message<T, M>(io: &mut T, message: &M) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: Serialize,
{
    let bytes = postcard::to_allocvec(message)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "sync message too large"));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

#[async_trait::async_trait]
impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &res).await
    }
}

type Behaviour = request_response::Behaviour<SyncCodec>;

/// What the driver knows of one (bilateral, counterparty node) link.
#[derive(Default)]
struct Link {
    /// The counterparty's next sequence number, once it told us.
    holds: Option<u64>,
    /// A request of ours is in flight.
    busy: bool,
    /// Not before this instant (after a failure or a refusal).
    retry_at: Option<Instant>,
    /// Current back-off.
    backoff: Duration,
}

impl Link {
    fn failed(&mut self) {
        self.busy = false;
        self.backoff = (self.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
        self.retry_at = Some(Instant::now() + self.backoff);
    }

    fn answered(&mut self, next: u64) {
        self.busy = false;
        self.holds = Some(next);
        self.backoff = Duration::ZERO;
        self.retry_at = None;
    }
}

/// State shared between the handle and the driver task.
struct Shared {
    ledger: Arc<Mutex<Ledger>>,
    /// (bilateral, counterparty node) → what it holds, as last acknowledged.
    acknowledged: Mutex<HashMap<(BilateralId, PartyId), u64>>,
    refusals: Mutex<Vec<Refusal>>,
    /// Counterparty nodes with an open connection, by the number of connections.
    connected: Mutex<BTreeMap<PartyId, u32>>,
    /// Bumped whenever something was applied or acknowledged, for waiters.
    progress: watch::Sender<u64>,
    /// Called after entries received from a counterparty were stored.
    on_received: Mutex<Option<OnReceived>>,
}

/// What [`SyncNode::set_on_received`] calls.
pub type OnReceived = Arc<dyn Fn() + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn bump(&self) {
        self.progress.send_modify(|n| *n += 1);
    }

    /// Entries from a counterparty were stored: tell whoever asked to know.
    fn received(&self) {
        let on_received = lock(&self.on_received).clone();
        if let Some(f) = on_received {
            f();
        }
    }

    fn refused(&self, peer: PartyId, bilateral: BilateralId, by_us: bool, reason: String) {
        tracing::warn!(peer = ?peer, bilateral = %bilateral, by_us, %reason, "sync refusal");
        let mut r = lock(&self.refusals);
        if r.len() >= 1024 {
            r.remove(0);
        }
        r.push(Refusal { peer, bilateral, by_us, reason });
        drop(r);
        self.bump();
    }
}

enum Command {
    AddPeer(Peer),
    Wake,
    Request(PartyId, SyncRequest, oneshot::Sender<Result<SyncResponse, NetworkError>>),
    Shutdown,
}

/// A running sync service: the handle of the driver task that owns the libp2p swarm.
pub struct SyncNode {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    listen: SocketAddr,
    peer_id: PeerId,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for SyncNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncNode({} on {})", self.peer_id, self.listen)
    }
}

impl SyncNode {
    /// Starts syncing `ledger` (whose signing key is `keypair`) with `peers`, listening on
    /// `listen` (port 0: any free port, see [`SyncNode::listen_addr`]). Must be called
    /// inside a tokio runtime; returns once the node listens.
    pub async fn start(
        ledger: Arc<Mutex<Ledger>>,
        keypair: &Keypair,
        listen: SocketAddr,
        peers: &[Peer],
    ) -> Result<SyncNode, NetworkError> {
        let transport = |e: String| NetworkError::Transport(e);
        let behaviour = Behaviour::with_codec(
            SyncCodec,
            [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(Duration::from_secs(60)),
        );
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity_of(keypair))
            .with_tokio()
            .with_tcp(
                libp2p::tcp::Config::default().nodelay(true),
                libp2p::noise::Config::new,
                libp2p::yamux::Config::default,
            )
            .map_err(|e| transport(e.to_string()))?
            .with_behaviour(|_| behaviour)
            .map_err(|e| transport(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm.listen_on(multiaddr_of(listen)).map_err(|e| transport(e.to_string()))?;
        let bound = loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    break socket_of(&address).ok_or_else(|| transport(address.to_string()))?
                }
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(transport(error.to_string()))
                }
                SwarmEvent::ListenerClosed { reason: Err(e), .. } => {
                    return Err(transport(e.to_string()))
                }
                _ => {}
            }
        };
        let peer_id = *swarm.local_peer_id();
        let shared = Arc::new(Shared {
            ledger,
            acknowledged: Mutex::new(HashMap::new()),
            refusals: Mutex::new(Vec::new()),
            connected: Mutex::new(BTreeMap::new()),
            progress: watch::channel(0).0,
            on_received: Mutex::new(None),
        });
        let (commands, rx) = mpsc::unbounded_channel();
        let driver = Driver {
            swarm,
            shared: shared.clone(),
            me: keypair.party(),
            peers: peers.iter().map(|p| (p.party, multiaddr_of(p.address))).collect(),
            links: HashMap::new(),
            in_flight: HashMap::new(),
        };
        let task = tokio::spawn(driver.run(rx));
        tracing::info!(%peer_id, listen = %bound, "bilateral sync listening");
        Ok(SyncNode { shared, commands, listen: bound, peer_id, task: Mutex::new(Some(task)) })
    }

    /// Where the node listens.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The node's libp2p peer id (derived from its signing key).
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Adds (or moves) a counterparty node.
    pub fn add_peer(&self, peer: Peer) {
        let _ = self.commands.send(Command::AddPeer(peer));
    }

    /// Calls `f` (on the sync's task: it must return at once, e.g. notify a task) each time
    /// entries received from a counterparty were stored; replaces an earlier one.
    pub fn set_on_received(&self, f: OnReceived) {
        *lock(&self.shared.on_received) = Some(f);
    }

    /// Looks for entries to push now rather than at the next tick (call after appending).
    pub fn wake(&self) {
        let _ = self.commands.send(Command::Wake);
    }

    /// Sends one request to a counterparty node and returns its answer (an operator's
    /// probe; the driver does the syncing by itself).
    pub async fn request(
        &self,
        peer: PartyId,
        request: SyncRequest,
    ) -> Result<SyncResponse, NetworkError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Request(peer, request, tx))
            .map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)?
    }

    /// The next sequence number `peer` acknowledged holding of `bilateral`, if it did.
    pub fn acknowledged(&self, bilateral: &BilateralId, peer: &PartyId) -> Option<u64> {
        lock(&self.shared.acknowledged).get(&(*bilateral, *peer)).copied()
    }

    /// The nodes this node has a connection with now.
    pub fn connected(&self) -> Vec<PartyId> {
        lock(&self.shared.connected).keys().copied().collect()
    }

    /// Refusals so far (most recent last, at most 1 024 kept).
    pub fn refusals(&self) -> Vec<Refusal> {
        lock(&self.shared.refusals).clone()
    }

    /// Waits until `peer` acknowledged holding `bilateral` up to this ledger's head.
    pub async fn wait_delivered(
        &self,
        bilateral: &BilateralId,
        peer: &PartyId,
        timeout: Duration,
    ) -> Result<(), NetworkError> {
        self.wake();
        self.wait_until(timeout, "counterparty acknowledges the head", |s| {
            let next = lock(&s.ledger).state(bilateral).map(|st| st.head().seq + 1).ok();
            next.is_some() && lock(&s.acknowledged).get(&(*bilateral, *peer)).copied() >= next
        })
        .await
    }

    /// Waits until this ledger holds `bilateral` up to sequence number `seq`.
    pub async fn wait_holds(
        &self,
        bilateral: &BilateralId,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), NetworkError> {
        self.wait_until(timeout, "entries arrive", |s| {
            lock(&s.ledger).state(bilateral).map(|st| st.head().seq >= seq).unwrap_or(false)
        })
        .await
    }

    async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Shared) -> bool,
    ) -> Result<(), NetworkError> {
        let mut progress = self.shared.progress.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done(&self.shared) {
                return Ok(());
            }
            // Local appends do not bump `progress`, so look again at least every tick.
            let wake = (tokio::time::Instant::now() + TICK).min(deadline);
            if tokio::time::timeout_at(wake, progress.changed()).await.is_err()
                && tokio::time::Instant::now() >= deadline
            {
                return Err(NetworkError::Timeout(timeout, what.to_string()));
            }
        }
    }

    /// Stops the driver, closes every connection and lets go of the ledger.
    pub async fn shutdown(self) {
        self.stop().await;
    }

    /// Stops the driver and closes every connection (once; later calls return at once),
    /// for a caller that shares the handle; the ledger is let go with the last handle.
    pub async fn stop(&self) {
        let _ = self.commands.send(Command::Shutdown);
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for SyncNode {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}

/// Why an outbound request was made, to route its answer.
enum Purpose {
    Sync(BilateralId, PartyId),
    Probe(oneshot::Sender<Result<SyncResponse, NetworkError>>, PartyId),
}

/// The task that owns the swarm.
struct Driver {
    swarm: Swarm<Behaviour>,
    shared: Arc<Shared>,
    me: PartyId,
    peers: BTreeMap<PartyId, Multiaddr>,
    links: HashMap<(BilateralId, PartyId), Link>,
    in_flight: HashMap<OutboundRequestId, Purpose>,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(Command::AddPeer(p)) => {
                        self.peers.insert(p.party, multiaddr_of(p.address));
                        self.links.retain(|(_, party), _| *party != p.party);
                        self.drive();
                    }
                    Some(Command::Wake) => self.drive(),
                    Some(Command::Request(party, request, reply)) => self.probe(party, request, reply),
                },
                _ = tick.tick() => self.drive(),
            }
        }
        tracing::info!(peer_id = %self.swarm.local_peer_id(), "bilateral sync stopped");
    }

    fn send(&mut self, party: PartyId, request: SyncRequest) -> Option<OutboundRequestId> {
        let peer = peer_id_of(&party)?;
        let addresses = self.peers.get(&party).cloned().into_iter().collect();
        Some(self.swarm.behaviour_mut().send_request_with_addresses(&peer, request, addresses))
    }

    fn probe(
        &mut self,
        party: PartyId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, NetworkError>>,
    ) {
        match self.send(party, request) {
            Some(id) => {
                self.in_flight.insert(id, Purpose::Probe(reply, party));
            }
            None => {
                let _ = reply.send(Err(NetworkError::Request {
                    peer: party,
                    reason: "not an Ed25519 key".into(),
                }));
            }
        }
    }

    /// For every bilateral and every counterparty node with an address: pull if we do
    /// not know what it holds, push what it lacks.
    fn drive(&mut self) {
        let work: Vec<(BilateralId, u64, Vec<PartyId>)> = {
            let ledger = lock(&self.shared.ledger);
            ledger
                .bilaterals()
                .into_iter()
                .filter_map(|id| {
                    let state = ledger.state(&id).ok()?;
                    let contract = state.contract();
                    let ours = contract.signatory_party(&self.me)?;
                    let theirs = &contract.parties[1 - ours].signatories;
                    let peers = theirs.iter().filter(|k| self.peers.contains_key(k)).copied();
                    Some((id, state.head().seq + 1, peers.collect()))
                })
                .collect()
        };
        let now = Instant::now();
        for (id, next, parties) in work {
            for party in parties {
                let link = self.links.entry((id, party)).or_default();
                if link.busy || link.retry_at.is_some_and(|t| t > now) {
                    continue;
                }
                let request = match link.holds {
                    Some(h) if h == next => continue,
                    Some(h) if h < next => {
                        let batch =
                            lock(&self.shared.ledger).store().entry_batch(&id, h, BATCH_BYTES);
                        match batch {
                            Ok(entries) if !entries.is_empty() => {
                                SyncRequest::Push { bilateral: id, entries }
                            }
                            Ok(_) => continue,
                            Err(e) => {
                                tracing::error!(bilateral = %id, error = %e, "cannot read entries to push");
                                continue;
                            }
                        }
                    }
                    _ => SyncRequest::Pull { bilateral: id, from: next },
                };
                if let Some(rid) = self.send(party, request) {
                    if let Some(link) = self.links.get_mut(&(id, party)) {
                        link.busy = true;
                    }
                    self.in_flight.insert(rid, Purpose::Sync(id, party));
                }
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<request_response::Event<SyncRequest, SyncResponse>>) {
        use request_response::{Event, Message};
        match event {
            SwarmEvent::Behaviour(Event::Message { peer, message, .. }) => match message {
                Message::Request { request, channel, .. } => {
                    let response = self.answer(&peer, request);
                    if self.swarm.behaviour_mut().send_response(channel, response).is_err() {
                        tracing::debug!(%peer, "peer left before the answer");
                    }
                }
                Message::Response { request_id, response } => {
                    self.on_response(request_id, response);
                }
            },
            SwarmEvent::Behaviour(Event::OutboundFailure { peer, request_id, error, .. }) => {
                tracing::debug!(%peer, %error, "sync request failed");
                match self.in_flight.remove(&request_id) {
                    Some(Purpose::Sync(id, party)) => {
                        if let Some(link) = self.links.get_mut(&(id, party)) {
                            link.failed();
                        }
                    }
                    Some(Purpose::Probe(reply, party)) => {
                        let reason = error.to_string();
                        let _ = reply.send(Err(NetworkError::Request { peer: party, reason }));
                    }
                    None => {}
                }
            }
            SwarmEvent::Behaviour(Event::InboundFailure { peer, error, .. }) => {
                tracing::warn!(%peer, %error, "inbound sync request failed");
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                tracing::warn!(from = %send_back_addr, %error, "incoming connection refused");
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                if let Some(party) = party_of(&peer_id) {
                    *lock(&self.shared.connected).entry(party).or_default() += 1;
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                if let Some(party) = party_of(&peer_id) {
                    let mut connected = lock(&self.shared.connected);
                    if let Some(n) = connected.get_mut(&party) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            connected.remove(&party);
                        }
                    }
                }
                let Some(cause) = cause else { return };
                tracing::debug!(%peer_id, %cause, "connection closed");
                // What the peer holds may have changed while we were apart: ask again.
                self.links
                    .retain(|(_, party), link| link.busy || peer_id_of(party) != Some(peer_id));
            }
            _ => {}
        }
    }

    fn on_response(&mut self, request_id: OutboundRequestId, response: SyncResponse) {
        let (id, party) = match self.in_flight.remove(&request_id) {
            Some(Purpose::Sync(id, party)) => (id, party),
            Some(Purpose::Probe(reply, _)) => {
                let _ = reply.send(Ok(response));
                return;
            }
            None => return,
        };
        let next = match response {
            SyncResponse::Holds { next } => next,
            SyncResponse::Entries { entries, next } => {
                if let Err(reason) = self.apply(&id, &entries) {
                    self.shared.refused(party, id, true, reason);
                    if let Some(link) = self.links.get_mut(&(id, party)) {
                        link.failed();
                    }
                    return;
                }
                next
            }
            SyncResponse::Refused { reason, next } => {
                self.shared.refused(party, id, false, reason);
                if let Some(link) = self.links.get_mut(&(id, party)) {
                    link.failed();
                    link.holds = Some(next);
                }
                self.acknowledge(id, party, next);
                return;
            }
        };
        if let Some(link) = self.links.get_mut(&(id, party)) {
            link.answered(next);
        }
        self.acknowledge(id, party, next);
        self.drive();
    }

    fn acknowledge(&self, id: BilateralId, party: PartyId, next: u64) {
        lock(&self.shared.acknowledged).insert((id, party), next);
        self.shared.bump();
    }

    /// This node's answer to a peer's request.
    fn answer(&mut self, peer: &PeerId, request: SyncRequest) -> SyncResponse {
        let Some(party) = party_of(peer) else {
            return SyncResponse::Refused {
                reason: format!("peer {peer} has no Ed25519 identity"),
                next: 0,
            };
        };
        let (SyncRequest::Push { bilateral, .. } | SyncRequest::Pull { bilateral, .. }) = &request;
        let bilateral = *bilateral;
        let next = self.next_of(&bilateral);
        let refuse = |shared: &Shared, reason: String, next: u64| {
            shared.refused(party, bilateral, true, reason.clone());
            SyncResponse::Refused { reason, next }
        };
        if let Err(reason) = self.authorise(&party, &bilateral, &request) {
            return refuse(&self.shared, reason, next);
        }
        match request {
            SyncRequest::Pull { from, .. } => {
                if next == 0 {
                    return SyncResponse::Holds { next };
                }
                // The puller holds everything below `from`.
                self.note_holds(bilateral, party, from);
                match lock(&self.shared.ledger).store().entry_batch(&bilateral, from, BATCH_BYTES) {
                    Ok(entries) => SyncResponse::Entries { entries, next },
                    Err(e) => refuse(&self.shared, format!("cannot read entries: {e}"), next),
                }
            }
            SyncRequest::Push { entries, .. } => {
                let result = self.apply(&bilateral, &entries);
                let next = self.next_of(&bilateral);
                match result {
                    Ok(()) => {
                        self.note_holds(bilateral, party, next);
                        SyncResponse::Holds { next }
                    }
                    Err(reason) => refuse(&self.shared, reason, next),
                }
            }
        }
    }

    /// After a pull or a push, the peer holds at least `next`: push no earlier than that.
    fn note_holds(&mut self, id: BilateralId, party: PartyId, next: u64) {
        let link = self.links.entry((id, party)).or_default();
        if !link.busy && link.holds.is_none_or(|h| h < next) {
            link.holds = Some(next);
        }
        lock(&self.shared.acknowledged).insert((id, party), next);
    }

    fn next_of(&self, id: &BilateralId) -> u64 {
        lock(&self.shared.ledger).state(id).map(|s| s.head().seq + 1).unwrap_or(0)
    }

    /// A peer may sync a bilateral only as the counterparty's signatory; a bilateral this
    /// node does not hold yet may only be pushed as a contract proposal naming both.
    fn authorise(
        &self,
        peer: &PartyId,
        id: &BilateralId,
        request: &SyncRequest,
    ) -> Result<(), String> {
        let ledger = lock(&self.shared.ledger);
        let not_counterparty =
            || format!("peer {peer:?} is not the counterparty of bilateral {id}");
        if let Ok(state) = ledger.state(id) {
            let c = state.contract();
            let ours = c.signatory_party(&ledger.key());
            let theirs = c.signatory_party(peer);
            return match (ours, theirs) {
                (Some(o), Some(t)) if o != t => Ok(()),
                _ => Err(not_counterparty()),
            };
        }
        match request {
            SyncRequest::Pull { .. } => Ok(()),
            SyncRequest::Push { entries, .. } => {
                let first = entries.first().ok_or("an empty push of an unknown bilateral")?;
                let genesis =
                    Entry::from_bytes(first).map_err(|e| format!("malformed entry: {e}"))?;
                let EntryBody::Contract(c) = &genesis.body else {
                    return Err(format!("bilateral {id} is unknown here"));
                };
                if genesis.seq != 0 || BilateralId(genesis.hash()) != *id {
                    return Err(format!("bilateral {id} is unknown here"));
                }
                match (c.signatory_party(&ledger.key()), c.signatory_party(peer)) {
                    (Some(o), Some(t)) if o != t => Ok(()),
                    _ => Err(not_counterparty()),
                }
            }
        }
    }

    /// Applies entries of `id` in order: identical replays are skipped, an entry past a
    /// gap stops the batch (the answer names the next sequence number expected), anything
    /// else wrong is refused with its reason.
    fn apply(&self, id: &BilateralId, entries: &[Vec<u8>]) -> Result<(), String> {
        let mut applied = 0;
        let result = self.apply_each(id, entries, &mut applied);
        // Also when a later entry of the batch was refused: the earlier ones are stored.
        if applied > 0 {
            self.shared.bump();
            self.shared.received();
        }
        result
    }

    /// [`Driver::apply`]'s work, counting the entries stored in `applied`.
    fn apply_each(
        &self,
        id: &BilateralId,
        entries: &[Vec<u8>],
        applied: &mut usize,
    ) -> Result<(), String> {
        let mut ledger = lock(&self.shared.ledger);
        for bytes in entries {
            let entry = Entry::from_bytes(bytes).map_err(|e| format!("malformed entry: {e}"))?;
            let belongs = if entry.seq == 0 {
                BilateralId(entry.hash()) == *id
            } else {
                entry.bilateral == *id
            };
            if !belongs {
                return Err(format!("entry {} does not belong to bilateral {id}", entry.seq));
            }
            let next = ledger.state(id).map(|s| s.head().seq + 1).unwrap_or(0);
            if entry.seq < next {
                let held = ledger.store().entry(id, entry.seq).map_err(|e| e.to_string())?;
                match held {
                    Some(h) if h.hash() == entry.hash() => continue,
                    _ => {
                        return Err(format!(
                            "entry {} of {id} differs from the one held: the chains have forked",
                            entry.seq
                        ))
                    }
                }
            }
            if entry.seq > next {
                break;
            }
            ledger.receive(&entry).map_err(|e| format!("entry {} refused: {e}", entry.seq))?;
            *applied += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_are_signing_keys() {
        let k = Keypair::from_seed([9; 32]);
        let peer = identity_of(&k).public().to_peer_id();
        assert_eq!(peer_id_of(&k.party()), Some(peer));
        assert_eq!(party_of(&peer), Some(k.party()));
        assert_eq!(party_of(&PeerId::random()), None);
    }

    #[test]
    fn messages_round_trip_and_oversize_is_refused() {
        let request =
            SyncRequest::Push { bilateral: BilateralId::GENESIS, entries: vec![vec![1, 2, 3]] };
        let mut buf = Vec::new();
        futures::executor::block_on(write_message(
            &mut futures::io::Cursor::new(&mut buf),
            &request,
        ))
        .unwrap();
        let back: SyncRequest =
            futures::executor::block_on(read_message(&mut futures::io::Cursor::new(&buf))).unwrap();
        assert_eq!(back, request);

        let mut huge = (MAX_MESSAGE_BYTES as u32 + 1).to_be_bytes().to_vec();
        huge.extend_from_slice(&[0; 16]);
        let err = futures::executor::block_on(read_message::<_, SyncRequest>(
            &mut futures::io::Cursor::new(&huge),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");

        let garbage = [0, 0, 0, 3, 0xff, 0xff, 0xff];
        let err = futures::executor::block_on(read_message::<_, SyncRequest>(
            &mut futures::io::Cursor::new(&garbage),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
    }
}
