//! Four `omni registry start` processes replicating one registry on Malachite BFT over
//! 127.0.0.1, under a steady load of anchors. Every validator dials the others through a
//! relay this test owns, so the test can cut the network between them. Scenarios: a
//! validator killed (the other three keep committing) and restarted (it catches up), a
//! new full node syncing from height 0, a Byzantine validator (equivocating, invalid
//! blocks, garbage on the wire), and a 2/2 partition that heals. After each one, every
//! honest validator has the same block hash and state root at every height.
#![allow(clippy::unwrap_used)]

use omni_core::{Hash32, Keypair};
use omni_registry::{Role, SignedTx, TxBody, ValidatorSetFile};
use omni_registry_protocol::proto::registry_client::RegistryClient;
use omni_registry_protocol::proto::{GetRootRequest, GetStatusRequest, SubmitRequest};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic::transport::Channel;

const OMNI: &str = env!("CARGO_BIN_EXE_omni");
const VALIDATORS: usize = 4;

/// One scenario at a time: each runs four validator processes on two cores (under
/// `cargo test`; nextest runs each test in its own process, where they overlap).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Kills the process when dropped, however the test ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP relay from one validator to another that the test can stop forwarding through
/// (bytes wait, as they would in TCP buffers across a partition) and resume.
async fn relay(listener: TcpListener, target: SocketAddr, open: watch::Receiver<bool>) {
    while let Ok((inbound, _)) = listener.accept().await {
        let open = open.clone();
        tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else { return };
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::join!(pipe(ri, wo, open.clone()), pipe(ro, wi, open));
        });
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut open: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else { return };
        if n == 0 {
            return;
        }
        while !*open.borrow_and_update() {
            if open.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Ports a scenario gives its validators (two each) and a follower (two).
const PORTS: u16 = 16;

/// The first of [`PORTS`] free ports below Linux's ephemeral range (32768 and up), so that
/// no outgoing connection of any test can take one between now and the validator's bind —
/// a port from `bind(0)`, released and bound again later, can be taken that way. Blocks are
/// tried from an offset of this process's id, and each is checked by binding every port.
fn port_block() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    const FIRST: u16 = 20_000;
    const BLOCKS: u16 = (32_768 - FIRST) / PORTS;
    let start = (std::process::id() % u32::from(BLOCKS)) as u16;
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert!(n < BLOCKS, "no free block of {PORTS} ports below 32768");
        let base = FIRST + (start + n) % BLOCKS * PORTS;
        let free =
            (base..base + PORTS).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return base;
        }
    }
}

fn port(base: u16, n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], base + n))
}

/// A relay's address and the gate that stops it (`None`: a validator to itself).
type Link = Option<(SocketAddr, watch::Sender<bool>)>;

/// Four validators, their relays, and a member anchoring heads through validator 0.
struct Testnet {
    /// The first of the scenario's [`PORTS`] ports.
    ports: u16,
    dir: tempfile::TempDir,
    set: ValidatorSetFile,
    file: PathBuf,
    /// `links[i][j]`: the relay validator `i` dials validator `j` through.
    links: Vec<Vec<Link>>,
    processes: Vec<Option<Process>>,
    byzantine: Option<(usize, &'static str)>,
}

impl Testnet {
    async fn start(byzantine: Option<(usize, &'static str)>) -> Testnet {
        let dir = tempfile::tempdir().unwrap();
        let admin = admin();
        let ports = port_block();
        let out = Command::new(OMNI)
            .args(["registry", "testnet", "--validators", &VALIDATORS.to_string(), "--dir"])
            .arg(dir.path())
            .args(["--admin", &admin.party().to_hex(), "--base-port", &ports.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let file = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let set = ValidatorSetFile::load(&file).unwrap();
        let mut links = Vec::new();
        for i in 0..VALIDATORS {
            let mut row = Vec::new();
            for j in 0..VALIDATORS {
                if i == j {
                    row.push(None);
                    continue;
                }
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let (open, gate) = watch::channel(true);
                tokio::spawn(relay(listener, set.validators[j].consensus, gate));
                row.push(Some((addr, open)));
            }
            links.push(row);
        }
        let mut net = Testnet {
            ports,
            dir,
            set,
            file,
            links,
            processes: (0..VALIDATORS).map(|_| None).collect(),
            byzantine,
        };
        for i in 0..VALIDATORS {
            net.launch(i);
        }
        net
    }

    fn data(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("v{i}"))
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{name}.log")))
            .unwrap()
    }

    /// Starts (or restarts) validator `i` on its data directory.
    fn launch(&mut self, i: usize) {
        let peers: Vec<String> =
            self.links[i].iter().flatten().map(|(addr, _)| addr.to_string()).collect();
        let mut cmd = Command::new(OMNI);
        cmd.args(["registry", "start", "--data"])
            .arg(self.data(i))
            .args(["--listen", &self.set.validators[i].api.to_string(), "--validators"])
            .arg(&self.file)
            .args(["--empty-block-ms", "100", "--consensus-peers", &peers.join(",")])
            // Not the keys of whoever runs the tests: these validators verify no proofs.
            .env("OMNI_KEYS", self.dir.path().join("keys"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(self.log(&format!("v{i}")));
        if let Some((b, modes)) = self.byzantine {
            if b == i {
                cmd.args(["--byzantine", modes]);
            }
        }
        self.processes[i] = Some(Process(cmd.spawn().unwrap()));
    }

    fn kill(&mut self, i: usize) {
        self.processes[i] = None;
    }

    /// Stops or resumes forwarding between the two sides.
    fn partition(&self, side: &[usize], open: bool) {
        for (i, row) in self.links.iter().enumerate() {
            for (j, link) in row.iter().enumerate() {
                if let Some((_, gate)) = link {
                    if side.contains(&i) != side.contains(&j) {
                        gate.send_replace(open);
                    }
                }
            }
        }
    }

    fn api(&self, i: usize) -> SocketAddr {
        self.set.validators[i].api
    }

    /// The logs of every process, for a failure message.
    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                // A panic's message comes before its backtrace, out of the tail's reach.
                for line in text.lines().filter(|l| l.contains("panicked") || l.contains("Error")) {
                    all.push_str(&format!("{}: {line}\n", path.display()));
                }
                all.push_str(&format!("--- {} (last lines)\n", path.display()));
                for line in tail.into_iter().rev() {
                    all.push_str(line);
                    all.push('\n');
                }
            }
        }
        all
    }
}

fn admin() -> Keypair {
    Keypair::from_seed([0xad; 32])
}

async fn client(addr: SocketAddr) -> RegistryClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match RegistryClient::connect(format!("http://{addr}")).await {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("validator {addr}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The last committed height of a validator (`None`: not answering).
async fn height(addr: SocketAddr) -> Option<u64> {
    let mut c = RegistryClient::connect(format!("http://{addr}")).await.ok()?;
    let status = c.get_status(GetStatusRequest {}).await.ok()?.into_inner();
    status.at.map(|a| a.height)
}

/// Waits until every validator in `which` has committed `target`.
async fn wait_for(net: &Testnet, which: &[usize], target: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut reached = true;
        let mut heights = Vec::new();
        for &i in which {
            let h = height(net.api(i)).await;
            heights.push(h);
            reached &= h.is_some_and(|h| h >= target);
        }
        if reached {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "validators {which:?} did not reach height {target} within {within:?} (at {heights:?})\n{}",
            net.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn lowest(net: &Testnet, which: &[usize]) -> u64 {
    let mut low = u64::MAX;
    for &i in which {
        low = low.min(height(net.api(i)).await.unwrap_or(0));
    }
    low
}

/// Asserts the validators at `addrs` committed the same block and state root at every
/// height up to the lowest of their heights; returns that height.
async fn assert_same_roots(addrs: &[SocketAddr]) -> u64 {
    let mut clients = Vec::new();
    for &a in addrs {
        clients.push(client(a).await);
    }
    let mut common = u64::MAX;
    for c in &mut clients {
        let at = c.get_status(GetStatusRequest {}).await.unwrap().into_inner().at.unwrap();
        common = common.min(at.height);
    }
    for h in 1..=common {
        let mut first: Option<(Vec<u8>, Vec<u8>)> = None;
        for (c, a) in clients.iter_mut().zip(addrs) {
            let r = c.get_root(GetRootRequest { height: h }).await.unwrap().into_inner();
            assert!(r.found, "{a} has no root at height {h}");
            assert_eq!(r.state_root.len(), 32);
            let pair = (r.block_hash, r.state_root);
            match &first {
                None => first = Some(pair),
                Some(f) => assert_eq!(f, &pair, "validators disagree at height {h} ({a})"),
            }
        }
    }
    common
}

/// Admits a member and has it anchor one head after another through validator 0 until
/// the test ends; returns how many anchors were committed so far.
fn load(net: &Testnet) -> Arc<std::sync::atomic::AtomicU64> {
    let committed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = committed.clone();
    let api = net.api(0);
    tokio::spawn(async move {
        let mut c = client(api).await;
        let status = c.get_status(GetStatusRequest {}).await.unwrap().into_inner();
        let registry = Hash32(status.registry_id.try_into().unwrap());
        let member = Keypair::from_seed([0x33; 32]);
        let admit = TxBody::AdmitMember { member: member.party(), role: Role::Member };
        let tx = SignedTx::sign(&admin(), &registry, 0, admit);
        c.submit(SubmitRequest { tx: tx.to_bytes(), transaction: None }).await.unwrap();
        let bilateral = Hash32::digest("fault-test", b"bilateral");
        for nonce in 0u64.. {
            let body = TxBody::AnchorHead { bilateral, seq: nonce + 1, head: Hash32([7; 32]) };
            let tx = SignedTx::sign(&member, &registry, nonce, body);
            if c.submit(SubmitRequest { tx: tx.to_bytes(), transaction: None }).await.is_err() {
                return;
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    committed
}

fn all() -> Vec<usize> {
    (0..VALIDATORS).collect()
}

const WITHIN: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_validator_does_not_stop_the_others_and_catches_up_when_restarted() {
    let _serial = SERIAL.lock().await;
    let mut net = Testnet::start(None).await;
    let anchors = load(&net);
    wait_for(&net, &all(), 3, WITHIN).await;

    net.kill(3);
    let at_kill = lowest(&net, &[0, 1, 2]).await;
    wait_for(&net, &[0, 1, 2], at_kill + 5, WITHIN).await;
    let committed_while_down = anchors.load(std::sync::atomic::Ordering::Relaxed);
    assert!(committed_while_down > 0, "no anchor committed");

    net.launch(3);
    let target = lowest(&net, &[0, 1, 2]).await + 2;
    wait_for(&net, &all(), target, WITHIN).await;
    let addrs: Vec<SocketAddr> = all().into_iter().map(|i| net.api(i)).collect();
    let common = assert_same_roots(&addrs).await;
    assert!(common >= target);

    // A node outside the validator set syncs every block from height 1.
    let follower_api = port(net.ports, 2 * VALIDATORS as u16);
    let follower_data: &Path = &net.dir.path().join("follower");
    let _follower = Process(
        Command::new(OMNI)
            .args(["registry", "start", "--data"])
            .arg(follower_data)
            .args(["--listen", &follower_api.to_string(), "--validators"])
            .arg(&net.file)
            .args(["--consensus-listen", &port(net.ports, 2 * VALIDATORS as u16 + 1).to_string()])
            .env("OMNI_KEYS", net.dir.path().join("keys"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(net.log("follower"))
            .spawn()
            .unwrap(),
    );
    let target = lowest(&net, &all()).await;
    let deadline = Instant::now() + WITHIN;
    while height(follower_api).await.is_none_or(|h| h < target) {
        assert!(Instant::now() < deadline, "the full node did not sync\n{}", net.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut with_follower = addrs.clone();
    with_follower.push(follower_api);
    assert!(assert_same_roots(&with_follower).await >= target);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byzantine_validator_does_not_stop_the_honest_three() {
    let _serial = SERIAL.lock().await;
    let net = Testnet::start(Some((3, "equivocate,invalid-blocks,garbage"))).await;
    let anchors = load(&net);
    let honest = [0, 1, 2];
    wait_for(&net, &honest, 2, WITHIN).await;
    // Round-robin proposers: eight more heights give the Byzantine validator two turns.
    let start = lowest(&net, &honest).await;
    wait_for(&net, &honest, start + 8, WITHIN).await;
    assert!(anchors.load(std::sync::atomic::Ordering::Relaxed) > 0, "no anchor committed");
    let addrs: Vec<SocketAddr> = honest.iter().map(|&i| net.api(i)).collect();
    assert!(assert_same_roots(&addrs).await >= start + 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_two_partition_halts_commits_and_they_resume_when_it_heals() {
    let _serial = SERIAL.lock().await;
    let net = Testnet::start(None).await;
    let anchors = load(&net);
    wait_for(&net, &all(), 3, WITHIN).await;

    net.partition(&[0, 1], false);
    // A block already in its last step may still commit; then nothing can.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let frozen: Vec<Option<u64>> = {
        let mut v = Vec::new();
        for i in all() {
            v.push(height(net.api(i)).await);
        }
        v
    };
    let anchors_frozen = anchors.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(4)).await;
    for i in all() {
        assert_eq!(height(net.api(i)).await, frozen[i], "validator {i} committed in a minority");
    }
    assert_eq!(anchors.load(std::sync::atomic::Ordering::Relaxed), anchors_frozen);

    net.partition(&[0, 1], true);
    let top = frozen.iter().flatten().max().copied().unwrap_or(0);
    wait_for(&net, &all(), top + 3, WITHIN).await;
    assert!(anchors.load(std::sync::atomic::Ordering::Relaxed) > anchors_frozen);
    let addrs: Vec<SocketAddr> = all().into_iter().map(|i| net.api(i)).collect();
    assert!(assert_same_roots(&addrs).await >= top + 3);
}
