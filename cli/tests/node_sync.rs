//! Two `omni node start` processes syncing a bilateral over libp2p on 127.0.0.1: usage
//! submitted to the seller's billing API reaches the buyer's node; the buyer's node is
//! killed (SIGKILL) in the middle of the sync, restarted, and converges to the same chain.
//! With an `omni registry start` process named in their configurations, both nodes anchor
//! the bilateral's head there on their own.
#![allow(clippy::unwrap_used)]

use omni_core::{BillingInterval, Keypair, UsageRecord};
use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::proto::{ListBilateralsRequest, SubmitUsageRequest};
use omni_node::registry_client::RegistryClient;
use omni_node::sample::{self, ORDER_AB};
use omni_node::{BilateralId, Clock, Ledger, LedgerOptions};
use omni_registry_protocol::proto::registry_client::RegistryClient as RegistryRpc;
use omni_registry_protocol::proto::ListAnchorsRequest;
use omni_registry_types::tx::{Role, TxBody};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OMNI: &str = env!("CARGO_BIN_EXE_omni");

/// Kills the node when dropped, however the test ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn november() -> BillingInterval {
    BillingInterval::month(2026, 11).unwrap()
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn options() -> LedgerOptions {
    LedgerOptions { clock: Clock::manual(november().start), ..Default::default() }
}

/// Both ledgers with an agreed contract and order (signed in-process, before the nodes
/// run), as after an earlier session of the two nodes.
fn seed(dir: &Path) -> BilateralId {
    let (ka, kb) = (sample::carrier_a(), sample::carrier_b());
    let mut a = Ledger::open(dir.join("a-data"), ka, options()).unwrap();
    let mut b = Ledger::open(dir.join("b-data"), kb, options()).unwrap();
    sample::agreed_order(&mut a, &mut b, false, november().start).unwrap()
}

fn write_config(
    dir: &Path,
    me: &str,
    key: &Keypair,
    listen: SocketAddr,
    peer: &Keypair,
    peer_at: SocketAddr,
    registry: Option<&str>,
) {
    omni_core::key_file::write(&dir.join(format!("{me}.key")), &key.seed()).unwrap();
    let config = serde_json::json!({
        "name": me,
        "key_file": format!("{me}.key"),
        "data_dir": format!("{me}-data"),
        "billing_api": "127.0.0.1:0",
        "sync_listen": listen.to_string(),
        "peers": [{ "party": peer.party().to_hex(), "address": peer_at.to_string() }],
        "registry": registry,
    });
    std::fs::write(dir.join(format!("{me}.json")), config.to_string()).unwrap();
}

/// Starts a node and returns it with its billing API endpoint (the last word of the
/// line it prints once it serves).
fn start(dir: &Path, me: &str) -> (Node, String) {
    let mut child = Command::new(OMNI)
        .args(["node", "start", "--config"])
        .arg(dir.join(format!("{me}.json")))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("sync listening"), "{line}");
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();
    (Node(child), format!("http://{addr}"))
}

async fn head(endpoint: &str) -> Option<u64> {
    let mut client = BillingClient::connect(endpoint.to_string()).await.ok()?;
    let listed = client.list_bilaterals(ListBilateralsRequest {}).await.ok()?.into_inner();
    listed.bilaterals.first().map(|b| b.head_seq)
}

fn usage(prefix: &str, n: usize) -> Vec<String> {
    let tariff = omni_core::sample::interconnect_tariff();
    let records = omni_core::sample::usage(&tariff, prefix, november().start, n);
    records.iter().map(UsageRecord::to_tmf635_json).collect()
}

#[test]
fn a_node_killed_mid_sync_converges_when_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let id = seed(dir.path());
    let (ka, kb) = (sample::carrier_a(), sample::carrier_b());
    let (sa, sb) = (free_port(), free_port());
    write_config(dir.path(), "a", &ka, sa, &kb, sb, None);
    write_config(dir.path(), "b", &kb, sb, &ka, sa, None);
    let (node_a, api_a) = start(dir.path(), "a");
    let (node_b, _) = start(dir.path(), "b");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let submit = |prefix: &str| {
        let request = SubmitUsageRequest {
            bilateral: id.0.to_hex(),
            order: ORDER_AB.into(),
            interval: "2026-11".into(),
            usage: usage(prefix, 20_000),
        };
        runtime.block_on(async {
            let mut a = BillingClient::connect(api_a.clone()).await.unwrap();
            let report = a.submit_usage(request).await.unwrap().into_inner();
            assert_eq!(report.accepted, 20_000);
        });
    };

    // B is killed while A's pushes of this usage are under way, and misses more.
    submit("first-");
    drop(node_b);
    submit("second-");
    submit("third-");
    let a_head = runtime.block_on(head(&api_a)).unwrap();

    let (node_b, api_b) = start(dir.path(), "b");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let b_head = runtime.block_on(head(&api_b));
        if b_head == Some(a_head) {
            break;
        }
        assert!(Instant::now() < deadline, "B stuck at {b_head:?}, A at {a_head}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(node_a);
    drop(node_b);

    // Both chains replay to the same state.
    let a = Ledger::open(dir.path().join("a-data"), ka, options()).unwrap();
    let b = Ledger::open(dir.path().join("b-data"), kb, options()).unwrap();
    assert_eq!(a.verify(&id).unwrap(), b.verify(&id).unwrap());
    assert_eq!(b.state(&id).unwrap().head().seq, a_head);
}

#[test]
fn nodes_started_with_a_registry_anchor_their_heads_there() {
    let dir = tempfile::tempdir().unwrap();
    let id = seed(dir.path());
    let admin = Keypair::from_seed([7; 32]);
    let registry_at = free_port();
    let _registry = Node(
        Command::new(OMNI)
            .args(["registry", "start", "--data"])
            .arg(dir.path().join("registry"))
            .args(["--listen", &registry_at.to_string(), "--admin", &admin.party().to_hex()])
            .env("OMNI_KEYS", dir.path().join("keys"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let endpoint = format!("http://{registry_at}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The admin admits both carriers through its own outbox, delivered once the registry
    // serves.
    runtime.block_on(async {
        let outbox =
            RegistryClient::open(dir.path().join("admin-outbox"), admin, endpoint.clone()).unwrap();
        outbox.start().unwrap();
        for member in [sample::carrier_a().party(), sample::carrier_b().party()] {
            outbox.submit(TxBody::AdmitMember { member, role: Role::Member }).unwrap();
        }
        outbox.flush(Duration::from_secs(60)).await.unwrap();
        assert_eq!(outbox.refusals().unwrap(), vec![]);
        outbox.close().await.unwrap();
    });

    let (ka, kb) = (sample::carrier_a(), sample::carrier_b());
    let (sa, sb) = (free_port(), free_port());
    write_config(dir.path(), "a", &ka, sa, &kb, sb, Some(&endpoint));
    write_config(dir.path(), "b", &kb, sb, &ka, sa, Some(&endpoint));
    let (_node_a, _) = start(dir.path(), "a");
    let (_node_b, _) = start(dir.path(), "b");

    // Each node anchors the head it holds, without being asked.
    let anchored_by = || {
        runtime.block_on(async {
            let mut rpc = RegistryRpc::connect(endpoint.clone()).await.unwrap();
            let request = ListAnchorsRequest { bilateral: id.0 .0.to_vec() };
            let list = rpc.list_anchors(request).await.unwrap().into_inner();
            list.anchors.into_iter().map(|a| a.anchored_by).collect::<Vec<_>>()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let by = anchored_by();
        if by.contains(&ka.party().0.to_vec()) && by.contains(&kb.party().0.to_vec()) {
            break;
        }
        assert!(Instant::now() < deadline, "anchors so far by {by:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
