//! Two carriers' nodes syncing their bilateral over libp2p on 127.0.0.1: push on append
//! (the receiver told when entries are stored), an offline counterparty converging when
//! it returns, and what the sync refuses — a
//! stranger, a replayed or reordered entry, a forged one, garbage on the port, a byte
//! changed on the wire.
#![allow(clippy::unwrap_used)]

use omni_core::{BillingInterval, Keypair, UsageRecord};
use omni_node::network::{Peer, SyncNode, SyncRequest, SyncResponse};
use omni_node::sample::{self, ORDER_AB};
use omni_node::{Accept, BilateralId, Clock, Entry, EntryBody, Ledger, LedgerOptions};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);
type Shared = Arc<Mutex<Ledger>>;

fn november() -> BillingInterval {
    BillingInterval::month(2026, 11).unwrap()
}

fn open(dir: &Path, key: Keypair) -> Shared {
    let options = LedgerOptions { clock: Clock::manual(november().start), ..Default::default() };
    Arc::new(Mutex::new(Ledger::open(dir, key, options).unwrap()))
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn usage_lines(prefix: &str, n: usize) -> Vec<String> {
    let tariff = omni_core::sample::interconnect_tariff();
    let records = omni_core::sample::usage(&tariff, prefix, november().start, n);
    records.iter().map(UsageRecord::to_tmf635_json).collect()
}

/// A ingests `n` records of usage under its order; returns how many it accepted.
fn ingest(l: &Shared, id: &BilateralId, prefix: &str, n: usize) -> usize {
    let lines = usage_lines(prefix, n);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    l.lock().unwrap().ingest_tmf635_lines(id, ORDER_AB, &november().id, &lines).unwrap().accepted
}

fn head(l: &Shared, id: &BilateralId) -> u64 {
    l.lock().unwrap().state(id).unwrap().head().seq
}

fn digest(l: &Shared, id: &BilateralId) -> omni_core::Hash32 {
    l.lock().unwrap().verify(id).unwrap()
}

/// The counterparty accepts entry `seq` (what its node does when its user agrees).
fn accept(l: &Shared, id: &BilateralId, seq: u64) {
    l.lock().unwrap().accept(id, seq).unwrap();
}

struct Carriers {
    a: Shared,
    b: Shared,
    na: SyncNode,
    nb: SyncNode,
    id: BilateralId,
}

/// A proposes the sample contract and an order over the network; B accepts both.
async fn agreed(dir_a: &Path, dir_b: &Path) -> Carriers {
    let (a, b) = (open(dir_a, sample::carrier_a()), open(dir_b, sample::carrier_b()));
    let (pa, pb) = (sample::carrier_a().party(), sample::carrier_b().party());
    let na = SyncNode::start(a.clone(), &sample::carrier_a(), any_port(), &[]).await.unwrap();
    let to_a = Peer { party: pa, address: na.listen_addr() };
    let nb = SyncNode::start(b.clone(), &sample::carrier_b(), any_port(), &[to_a]).await.unwrap();
    na.add_peer(Peer { party: pb, address: nb.listen_addr() });

    let start = november().start;
    let genesis =
        a.lock().unwrap().propose_contract(sample::contract(pa, pb, false, start)).unwrap();
    let id = BilateralId(genesis.hash());
    na.wake();
    nb.wait_holds(&id, 0, WAIT).await.unwrap();
    accept(&b, &id, 0);
    nb.wake();
    na.wait_holds(&id, 1, WAIT).await.unwrap();
    let tariff = omni_core::sample::interconnect_tariff();
    let order = EntryBody::Order(sample::order(ORDER_AB, pa, &tariff, start));
    let seq = a.lock().unwrap().append(&id, order).unwrap().seq;
    nb.wait_holds(&id, seq, WAIT).await.unwrap();
    accept(&b, &id, seq);
    na.wait_holds(&id, seq + 1, WAIT).await.unwrap();
    Carriers { a, b, na, nb, id }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_pushed_on_append_and_an_offline_counterparty_converges() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let Carriers { a, b, na, nb, id } = agreed(da.path(), db.path()).await;
    let pb = sample::carrier_b().party();
    // B's registry reporter would be told at once of what arrives.
    let received = Arc::new(tokio::sync::Notify::new());
    let notify = received.clone();
    nb.set_on_received(Arc::new(move || notify.notify_one()));

    // Usage pushed as A ingests it.
    assert_eq!(ingest(&a, &id, "u", 5_000), 5_000);
    na.wait_delivered(&id, &pb, WAIT).await.unwrap();
    assert_eq!(digest(&a, &id), digest(&b, &id));
    tokio::time::timeout(WAIT, received.notified()).await.unwrap();

    // B goes away; A keeps appending; B comes back on the same address and converges.
    let b_addr = nb.listen_addr();
    nb.shutdown().await;
    drop(b);
    for i in 0..3 {
        ingest(&a, &id, &format!("off{i}-"), 1_000);
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // A's pushes fail and back off
    let b = open(db.path(), sample::carrier_b());
    let to_a = Peer { party: sample::carrier_a().party(), address: na.listen_addr() };
    let nb = SyncNode::start(b.clone(), &sample::carrier_b(), b_addr, &[to_a]).await.unwrap();
    nb.wait_holds(&id, head(&a, &id), WAIT).await.unwrap();
    assert_eq!(digest(&a, &id), digest(&b, &id));

    // The month ends; A rates it and B's acceptance reaches A the same way.
    for l in [&a, &b] {
        l.lock().unwrap().clock().set(november().end);
    }
    let rating = a.lock().unwrap().propose_rating(&id, ORDER_AB, &november().id).unwrap().seq;
    nb.wait_holds(&id, rating, WAIT).await.unwrap();
    accept(&b, &id, rating);
    na.wait_holds(&id, rating + 1, WAIT).await.unwrap();
    assert_eq!(digest(&a, &id), digest(&b, &id));
    assert!(na.refusals().is_empty() && nb.refusals().is_empty(), "{:?}", na.refusals());
    nb.shutdown().await;
    na.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_replays_gaps_forgeries_and_garbage_are_refused() {
    let (da, db, dc) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let Carriers { a, b, na, nb, id } = agreed(da.path(), db.path()).await;
    let (pa, b_key) = (sample::carrier_a().party(), sample::carrier_b());
    let before = (head(&a, &id), digest(&a, &id));
    let a_peer = Peer { party: pa, address: na.listen_addr() };

    // A stranger (a valid libp2p identity, not a party of the bilateral) can neither
    // read nor write it, even with genuine entries.
    let stranger = Keypair::from_seed([0x5c; 32]);
    let c = open(dc.path(), Keypair::from_seed([0x5c; 32]));
    let nc = SyncNode::start(c, &stranger, any_port(), &[a_peer]).await.unwrap();
    let answer = nc.request(pa, SyncRequest::Pull { bilateral: id, from: 0 }).await.unwrap();
    assert!(
        matches!(&answer, SyncResponse::Refused { reason, .. } if reason.contains("not the counterparty")),
        "{answer:?}"
    );
    let genuine = b.lock().unwrap().entries(&id, 1).unwrap();
    let push =
        SyncRequest::Push { bilateral: id, entries: genuine.iter().map(Entry::to_bytes).collect() };
    let answer = nc.request(pa, push).await.unwrap();
    assert!(matches!(answer, SyncResponse::Refused { .. }), "{answer:?}");

    // The counterparty replays an entry A holds: ignored.
    let replay = SyncRequest::Push { bilateral: id, entries: vec![genuine[0].to_bytes()] };
    let answer = nb.request(pa, replay).await.unwrap();
    assert_eq!(answer, SyncResponse::Holds { next: before.0 + 1 });

    // An entry past a gap is not applied; the answer names the one expected.
    let h = b.lock().unwrap().state(&id).unwrap().head();
    let skip = Entry::sign(
        &b_key,
        id,
        h.seq + 2,
        h.hash,
        h.timestamp,
        EntryBody::Accept(Accept { entry_seq: 0, entry_hash: h.hash }),
    );
    let answer = nb
        .request(pa, SyncRequest::Push { bilateral: id, entries: vec![skip.to_bytes()] })
        .await
        .unwrap();
    assert_eq!(answer, SyncResponse::Holds { next: before.0 + 1 });

    // A different entry at a sequence number A holds is a fork; a forged signature and
    // malformed bytes are refused with their reasons.
    let fork = Entry::sign(
        &b_key,
        id,
        1,
        genuine[0].prev,
        genuine[0].timestamp,
        EntryBody::Accept(Accept { entry_seq: 0, entry_hash: h.hash }),
    );
    let answer = nb
        .request(pa, SyncRequest::Push { bilateral: id, entries: vec![fork.to_bytes()] })
        .await
        .unwrap();
    assert!(
        matches!(&answer, SyncResponse::Refused { reason, .. } if reason.contains("forked")),
        "{answer:?}"
    );
    let mut forged = Entry::sign(
        &b_key,
        id,
        h.seq + 1,
        h.hash,
        h.timestamp,
        EntryBody::Accept(Accept { entry_seq: 2, entry_hash: h.hash }),
    );
    forged.signature.0[0] ^= 1;
    let answer = nb
        .request(pa, SyncRequest::Push { bilateral: id, entries: vec![forged.to_bytes()] })
        .await
        .unwrap();
    assert!(
        matches!(&answer, SyncResponse::Refused { reason, .. } if reason.contains("refused")),
        "{answer:?}"
    );
    let answer = nb
        .request(pa, SyncRequest::Push { bilateral: id, entries: vec![vec![0xde, 0xad]] })
        .await
        .unwrap();
    assert!(
        matches!(&answer, SyncResponse::Refused { reason, .. } if reason.contains("malformed")),
        "{answer:?}"
    );

    // Garbage bytes on the libp2p port: the connection is dropped, the node keeps serving.
    for garbage in [b"GET / HTTP/1.1\r\n\r\n".to_vec(), vec![0xff; 4096]] {
        let mut s = tokio::net::TcpStream::connect(na.listen_addr()).await.unwrap();
        let _ = s.write_all(&garbage).await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
    }
    assert_eq!((head(&a, &id), digest(&a, &id)), before, "nothing refused was stored");
    let answer =
        nb.request(pa, SyncRequest::Pull { bilateral: id, from: before.0 + 1 }).await.unwrap();
    assert_eq!(answer, SyncResponse::Entries { entries: vec![], next: before.0 + 1 });
    assert!(na.refusals().iter().any(|r| r.by_us && r.peer == stranger.party()));
    nc.shutdown().await;
    nb.shutdown().await;
    na.shutdown().await;
}

/// Relays TCP from `listen` to `target`, flipping one byte of the client→server stream
/// after its first `after` bytes while `tamper` is set.
async fn tampering_relay(target: SocketAddr, after: usize, tamper: Arc<AtomicBool>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let tamper = tamper.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(target).await else { return };
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                let up = async move {
                    let (mut seen, mut buf) = (0usize, vec![0u8; 16 * 1024]);
                    while let Ok(n) = ri.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if tamper.load(Ordering::SeqCst) && seen <= after && after < seen + n {
                            buf[after - seen] ^= 0x20;
                        }
                        seen += n;
                        if wo.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut ro, &mut wi).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_changed_on_the_wire_is_rejected_and_nothing_is_stored() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let Carriers { a, b, na, nb, id } = agreed(da.path(), db.path()).await;
    let pb = sample::carrier_b().party();
    nb.shutdown().await;
    drop(b);
    let b_head = head(&a, &id);
    ingest(&a, &id, "t", 2_000);

    // A reaches B only through a relay that alters a byte well after the Noise handshake.
    let b = open(db.path(), sample::carrier_b());
    let nb = SyncNode::start(b.clone(), &sample::carrier_b(), any_port(), &[]).await.unwrap();
    let tamper = Arc::new(AtomicBool::new(true));
    let relay = tampering_relay(nb.listen_addr(), 4_000, tamper.clone()).await;
    na.add_peer(Peer { party: pb, address: relay });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(head(&b, &id), b_head, "a tampered message must not reach the ledger");
    b.lock().unwrap().verify(&id).unwrap();

    tamper.store(false, Ordering::SeqCst);
    nb.wait_holds(&id, head(&a, &id), WAIT).await.unwrap();
    assert_eq!(digest(&a, &id), digest(&b, &id));
    nb.shutdown().await;
    na.shutdown().await;
}
