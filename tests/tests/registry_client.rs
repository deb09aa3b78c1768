//! The node's registry client against a real registry: a gRPC server on 127.0.0.1 with
//! its RocksDB in a temporary directory, members admitted by the registry's admin, and the
//! clients' outboxes on disk. A registry that is not started yet, stops mid-stream, or
//! whose answer is lost, and a client that stops with work pending, delay submissions but
//! lose none and deliver none twice; a refusal is kept with the registry's reason and does
//! not hold up what follows.

#![allow(clippy::unwrap_used)]

use omni_core::{Currency, Hash32, IntervalId, Keypair, PartyId};
use omni_node::registry_client::{
    DeliveryOptions, Error as ClientError, RegistryClient, RegistryInvoice,
};
use omni_node::BilateralId;
use omni_registry::{Genesis, RunningServer, ServerConfig};
use omni_registry_protocol::proto;
use omni_registry_protocol::proto::registry_client::RegistryClient as RegistryRpc;
use omni_registry_types::tx::{ConformanceDeclaration, InvoiceId, Role, TxBody};
use omni_registry_types::Error as RegistryError;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

const FLUSH: Duration = Duration::from_secs(60);

fn admin() -> Keypair {
    Keypair::from_seed([1; 32])
}
fn seller() -> Keypair {
    Keypair::from_seed([2; 32])
}
fn buyer() -> Keypair {
    Keypair::from_seed([3; 32])
}

/// A registry whose genesis admits only its membership administrator.
fn genesis() -> Genesis {
    Genesis {
        name: "registry-client".into(),
        time: 1,
        members: vec![(admin().party(), Role::Admin)],
        rating_keys: None,
    }
}

/// Quick retries, so that the tests do not wait on backoff.
fn options() -> DeliveryOptions {
    DeliveryOptions {
        rpc_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(1),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

fn open(dir: &Path, key: Keypair, addr: SocketAddr) -> RegistryClient {
    let client = RegistryClient::open_with(dir, key, format!("http://{addr}"), options()).unwrap();
    client.start().unwrap();
    client
}

async fn start_registry(dir: &Path, addr: SocketAddr) -> RunningServer {
    omni_registry::start(ServerConfig::new(dir, addr).with_genesis(genesis())).await.unwrap()
}

/// A free port on 127.0.0.1 for a registry started later.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

async fn rpc(addr: SocketAddr) -> RegistryRpc<Channel> {
    RegistryRpc::connect(format!("http://{addr}")).await.unwrap()
}

async fn member(addr: SocketAddr, party: PartyId) -> proto::GetMemberResponse {
    let req = proto::GetMemberRequest { party: party.0.to_vec() };
    rpc(addr).await.get_member(req).await.unwrap().into_inner()
}

/// The sequence numbers at which `by` anchored `bilateral`, in the registry's order.
async fn anchors(addr: SocketAddr, bilateral: Hash32, by: PartyId) -> Vec<u64> {
    let req = proto::ListAnchorsRequest { bilateral: bilateral.0.to_vec() };
    let list = rpc(addr).await.list_anchors(req).await.unwrap().into_inner();
    list.anchors.into_iter().filter(|a| a.anchored_by == by.0.to_vec()).map(|a| a.seq).collect()
}

fn bilateral(n: u8) -> BilateralId {
    BilateralId(Hash32::digest("test/bilateral", &[n]))
}

fn head(seq: u64) -> Hash32 {
    Hash32::digest("test/head", &seq.to_be_bytes())
}

/// The admin admits `members` through its own outbox.
async fn admit(dir: &Path, addr: SocketAddr, members: &[PartyId]) {
    let client = open(dir, admin(), addr);
    for &m in members {
        client.submit(TxBody::AdmitMember { member: m, role: Role::Member }).unwrap();
    }
    client.flush(FLUSH).await.unwrap();
    assert!(client.refusals().unwrap().is_empty());
    client.close().await.unwrap();
}

/// Waits until `check` holds, polling.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_made_before_the_registry_starts_are_delivered_in_order() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let registry_dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let b = bilateral(1);

    // No registry yet: the admin's admission and the seller's anchors wait in the outboxes.
    let admin_client = open(dirs.0.path(), admin(), addr);
    admin_client
        .submit(TxBody::AdmitMember { member: seller().party(), role: Role::Member })
        .unwrap();
    let seller_client = open(dirs.1.path(), seller(), addr);
    let mut ids = Vec::new();
    for seq in 1..=5 {
        ids.push(seller_client.anchor_head(&b, seq, head(seq)).unwrap());
    }
    let declaration = ConformanceDeclaration {
        document_hash: Hash32::digest("test/doc", b"MEF 114 conformance"),
        statement: "MEF 114 Smart Bilateral, Option 1 invoices".into(),
    };
    ids.push(seller_client.publish_conformance(declaration.clone()).unwrap());
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((admin_client.pending(), seller_client.pending()), (1, 6));
    let status = seller_client.status().unwrap();
    assert!(status.running && status.registry.is_none());
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("connect")), "{status:?}");
    assert!(matches!(
        seller_client.flush(Duration::from_millis(50)).await,
        Err(ClientError::FlushTimeout { pending: 6, last_error: Some(_), .. })
    ));

    // The registry starts on that address. The admission must go first (the seller's
    // anchors would otherwise be refused, rightly, as a non-member's), so the seller's
    // client is stopped meanwhile and opened again once the admin's outbox is empty; its
    // work waits on disk. Then everything arrives, in order.
    seller_client.close().await.unwrap();
    let server = start_registry(registry_dir.path(), addr).await;
    admin_client.flush(FLUSH).await.unwrap();
    let seller_client = open(dirs.1.path(), seller(), addr);
    seller_client.flush(FLUSH).await.unwrap();
    assert!(seller_client.refusals().unwrap().is_empty(), "{:?}", seller_client.refusals());
    let status = seller_client.status().unwrap();
    assert_eq!((status.pending, status.delivered), (0, 6));
    assert_eq!(status.registry, Some(server.registry_id()));
    assert_eq!(status.last_error, None);
    // Each anchor once, in order (out of order, 1..4 after 5 would be refused as stale).
    assert_eq!(anchors(addr, b.0, seller().party()).await, (1..=5).collect::<Vec<_>>());
    let m = member(addr, seller().party()).await;
    assert_eq!(m.next_nonce, 6);
    assert_eq!(m.conformance.unwrap().statement, declaration.statement);

    admin_client.close().await.unwrap();
    seller_client.close().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stopped_with_work_pending_delivers_it_once_after_reopening() {
    let registry_dir = tempfile::tempdir().unwrap();
    let server = start_registry(registry_dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.local_addr();
    admit(tempfile::tempdir().unwrap().path(), addr, &[seller().party()]).await;
    let outbox = tempfile::tempdir().unwrap();
    let b = bilateral(2);
    const N: u64 = 80;
    {
        let client = open(outbox.path(), seller(), addr);
        for seq in 1..=N {
            client.anchor_head(&b, seq, head(seq)).unwrap();
        }
        client.close().await.unwrap();
    }
    // Stop it again and again while it delivers, wherever it happens to be: between
    // signing and submitting, while the registry executes, before the delete.
    let mut rounds = 0;
    loop {
        let client = open(outbox.path(), seller(), addr);
        let before = client.pending();
        if before == 0 {
            client.close().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10 + 20 * (rounds % 5))).await;
        client.close().await.unwrap();
        rounds += 1;
        assert!(rounds < 2_000, "no progress");
    }
    assert!(rounds >= 2, "the outbox should have been stopped mid-stream");
    let client = RegistryClient::open(outbox.path(), seller(), format!("http://{addr}")).unwrap();
    let status = client.status().unwrap();
    assert_eq!((status.pending, status.delivered, status.refused), (0, N, 0), "{status:?}");
    // Exactly once: one nonce per anchor, and a second copy of any anchor would have been
    // a refusal (stale anchor) or a nonce too many.
    assert_eq!(member(addr, seller().party()).await.next_nonce, N);
    assert_eq!(anchors(addr, b.0, seller().party()).await, (1..=N).collect::<Vec<_>>());
    drop(client);
    server.shutdown().await.unwrap();
}

/// A TCP proxy in front of the registry that can lose every answer while still passing
/// the requests on: the registry executes a transaction whose client never hears of it.
struct LossyLink {
    addr: SocketAddr,
    lose_answers: Arc<AtomicBool>,
}

async fn lossy_link(upstream: SocketAddr) -> LossyLink {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let lose_answers = Arc::new(AtomicBool::new(false));
    let lose = lose_answers.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let lose = lose.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let requests = tokio::io::copy(&mut from_client, &mut to_server);
                let answers = async {
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        let n = from_server.read(&mut buf).await?;
                        if n == 0 {
                            return Ok::<(), std::io::Error>(());
                        }
                        if !lose.load(Ordering::SeqCst) {
                            to_client.write_all(&buf[..n]).await?;
                        }
                    }
                };
                tokio::select! {
                    _ = requests => {}
                    _ = answers => {}
                }
            });
        }
    });
    LossyLink { addr, lose_answers }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_whose_answer_was_lost_is_found_on_the_registry_not_sent_twice() {
    let registry_dir = tempfile::tempdir().unwrap();
    let server = start_registry(registry_dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.local_addr();
    admit(tempfile::tempdir().unwrap().path(), addr, &[seller().party()]).await;
    let link = lossy_link(addr).await;
    let outbox = tempfile::tempdir().unwrap();
    let b = bilateral(3);
    let quick = DeliveryOptions { rpc_timeout: Duration::from_millis(500), ..options() };

    let client =
        RegistryClient::open_with(outbox.path(), seller(), format!("http://{}", link.addr), quick)
            .unwrap();
    client.start().unwrap();
    client.anchor_head(&b, 1, head(1)).unwrap();
    client.flush(FLUSH).await.unwrap();

    // The answers are lost from now on: anchor 2 reaches the registry, which executes it,
    // but the client never hears so; then the node crashes.
    link.lose_answers.store(true, Ordering::SeqCst);
    let id = client.anchor_head(&b, 2, head(2)).unwrap();
    eventually("the registry executed anchor 2", async || {
        member(addr, seller().party()).await.next_nonce == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(client.is_pending(id).unwrap());
    assert!(client.status().unwrap().last_error.is_some());
    client.close().await.unwrap();

    // Restarted with the link repaired: the client asks before it resubmits.
    link.lose_answers.store(false, Ordering::SeqCst);
    let client =
        RegistryClient::open_with(outbox.path(), seller(), format!("http://{}", link.addr), quick)
            .unwrap();
    assert_eq!(client.pending(), 1);
    client.start().unwrap();
    client.anchor_head(&b, 3, head(3)).unwrap();
    client.flush(FLUSH).await.unwrap();
    let status = client.status().unwrap();
    assert_eq!((status.delivered, status.found_on_registry, status.refused), (3, 1, 0));
    // Anchor 2 was not submitted again: three transactions, three nonces, no refusal.
    assert_eq!(member(addr, seller().party()).await.next_nonce, 3);
    assert_eq!(anchors(addr, b.0, seller().party()).await, vec![1, 2, 3]);
    client.close().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_restarted_mid_stream_loses_nothing() {
    let registry_dir = tempfile::tempdir().unwrap();
    let server = start_registry(registry_dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.local_addr();
    admit(tempfile::tempdir().unwrap().path(), addr, &[seller().party()]).await;
    let outbox = tempfile::tempdir().unwrap();
    let client = open(outbox.path(), seller(), addr);
    let b = bilateral(4);
    for seq in 1..=40 {
        client.anchor_head(&b, seq, head(seq)).unwrap();
    }
    eventually("some anchors are delivered", async || client.pending() <= 30).await;
    server.shutdown().await.unwrap();
    let stopped_at = member_nonce_from_store(registry_dir.path());
    assert!(stopped_at < 40, "the registry should stop mid-stream");
    // Submissions keep coming while the registry is down.
    for seq in 41..=50 {
        client.anchor_head(&b, seq, head(seq)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(client.pending() >= 10);
    assert!(client.status().unwrap().last_error.is_some());

    // Same data, same port.
    let server = omni_registry::start(ServerConfig::new(registry_dir.path(), addr)).await.unwrap();
    client.flush(FLUSH).await.unwrap();
    let status = client.status().unwrap();
    assert_eq!((status.delivered, status.refused), (50, 0), "{status:?}");
    assert_eq!(member(addr, seller().party()).await.next_nonce, 50);
    assert_eq!(anchors(addr, b.0, seller().party()).await, (1..=50).collect::<Vec<_>>());
    client.close().await.unwrap();
    server.shutdown().await.unwrap();
}

/// The seller's next nonce as the registry's store holds it while the registry is down.
fn member_nonce_from_store(dir: &Path) -> u64 {
    let store = omni_registry::Store::open(dir).unwrap();
    let registry = store.open_registry(None, Arc::new(omni_registry::RefuseAllProofs)).unwrap();
    registry.state().next_nonce(&seller().party())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_keep_the_registrys_reason_and_do_not_block_what_follows() {
    let registry_dir = tempfile::tempdir().unwrap();
    let server = start_registry(registry_dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.local_addr();
    admit(tempfile::tempdir().unwrap().path(), addr, &[seller().party(), buyer().party()]).await;
    let b = bilateral(5);

    // A member: a stale anchor between two good ones, and an acceptance of an invoice it
    // is not the payer of (the registry knows no such invoice).
    let outbox = tempfile::tempdir().unwrap();
    let client = open(outbox.path(), seller(), addr);
    let good1 = client.anchor_head(&b, 5, head(5)).unwrap();
    let stale = client.anchor_head(&b, 3, head(3)).unwrap();
    let unknown = InvoiceId(Hash32::digest("test/invoice", b"unknown"));
    let accept = client.accept_invoice(unknown).unwrap();
    let good2 = client.anchor_head(&b, 6, head(6)).unwrap();
    client.flush(FLUSH).await.unwrap();
    let refusals = client.refusals().unwrap();
    assert_eq!(refusals.iter().map(|r| r.id).collect::<Vec<_>>(), vec![stale, accept]);
    assert_eq!((refusals[0].kind.as_str(), refusals[0].code.as_str()), ("AnchorHead", "refused"));
    assert!(refusals[0].reason.contains("does not advance past seq 5"), "{:?}", refusals[0]);
    assert_eq!(refusals[1].code, "not_found");
    assert!(refusals[1].reason.contains("unknown invoice"), "{:?}", refusals[1]);
    assert!(!client.is_pending(good1).unwrap() && !client.is_pending(good2).unwrap());
    // Refused transactions take no nonce: the two good anchors took 0 and 1.
    assert_eq!(member(addr, seller().party()).await.next_nonce, 2);
    assert_eq!(anchors(addr, b.0, seller().party()).await, vec![5, 6]);
    // The record survives a reopen and can be dismissed.
    client.close().await.unwrap();
    let client = open(outbox.path(), seller(), addr);
    assert_eq!(client.refusals().unwrap(), refusals);
    assert!(client.dismiss_refusal(stale).unwrap());
    assert!(!client.dismiss_refusal(stale).unwrap());
    assert_eq!(client.refusals().unwrap().len(), 1);
    client.close().await.unwrap();

    // A key that is no member: refused before execution, each submission on its own.
    let outsider = Keypair::from_seed([9; 32]);
    let outsider_box = tempfile::tempdir().unwrap();
    let client = open(outsider_box.path(), outsider, addr);
    client.anchor_head(&b, 1, head(1)).unwrap();
    client.anchor_head(&b, 2, head(2)).unwrap();
    client.flush(FLUSH).await.unwrap();
    let refusals = client.refusals().unwrap();
    assert_eq!(refusals.len(), 2);
    for r in &refusals {
        assert_eq!(r.code, "PermissionDenied");
        assert!(r.reason.contains("is not a member of this registry"), "{r:?}");
    }
    client.close().await.unwrap();

    // An outbox that delivered to this registry refuses to sign for another one behind
    // its endpoint, and keeps the submission.
    let other_dir = tempfile::tempdir().unwrap();
    let other = omni_registry::start(
        ServerConfig::new(other_dir.path(), "127.0.0.1:0".parse().unwrap())
            .with_genesis(Genesis { name: "another registry".into(), ..genesis() }),
    )
    .await
    .unwrap();
    let client = open(outbox.path(), seller(), other.local_addr());
    client.anchor_head(&b, 7, head(7)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = client.status().unwrap();
    assert_eq!((status.pending, status.registry), (1, Some(server.registry_id())));
    assert!(
        status.last_error.as_deref().is_some_and(
            |e| e.contains(&format!("the endpoint serves registry {}", other.registry_id()))
        ),
        "{status:?}"
    );
    client.close().await.unwrap();
    other.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_with_real_proofs_go_from_submission_to_netting_through_the_outboxes() {
    use omni_prover::sample::proven_invoices;
    use omni_prover::RatingKeys;
    use omni_registry::commitment::encode_blinding;
    use omni_registry::Groth16RatingVerifier;
    use omni_verifier::RatingVerifier;
    use rand::SeedableRng;

    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(41);
    let keys = RatingKeys::setup_development(4, &mut rng, &omni_prover::no_progress).unwrap();
    let proven = proven_invoices(&keys, 2, 4, 17, &omni_prover::no_progress).unwrap();
    let registry_dir = tempfile::tempdir().unwrap();
    let verifier = Groth16RatingVerifier::new(RatingVerifier::new(keys.verifying.clone()));
    let server = omni_registry::start(
        ServerConfig::new(registry_dir.path(), "127.0.0.1:0".parse().unwrap())
            .with_genesis(genesis())
            .with_verifier(Arc::new(verifier)),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    admit(tempfile::tempdir().unwrap().path(), addr, &[seller().party(), buyer().party()]).await;
    let boxes = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (s, b) = (open(boxes.0.path(), seller(), addr), open(boxes.1.path(), buyer(), addr));

    let invoice = |i: usize| {
        let bilateral = Hash32(proven[i].bilateral_id);
        RegistryInvoice {
            invoice: InvoiceId::for_bill(&bilateral, &format!("INV-{i}")),
            bilateral,
            interval: IntervalId(proven[i].interval_id.clone()),
            payer: buyer().party(),
            payee: seller().party(),
            currency: Currency::EUR,
            due_date: 4_000_000_000,
        }
    };
    let (inv0, inv1) = (invoice(0), invoice(1));
    // A bundle that proves another bilateral is refused before it is queued.
    let err = s.submit_invoice(inv0.clone(), &proven[1].bundle).unwrap_err();
    assert!(matches!(err, ClientError::Transaction(RegistryError::ProofRejected { .. })), "{err}");
    assert!(err.to_string().contains("bilateral"), "{err}");
    assert_eq!(s.pending(), 0);
    s.submit_invoice(inv0.clone(), &proven[0].bundle).unwrap();
    s.submit_invoice(inv1.clone(), &proven[1].bundle).unwrap();
    // The seller is not the payer: refused, and what follows still goes.
    let wrong = s.accept_invoice(inv0.invoice).unwrap();
    s.flush(FLUSH).await.unwrap();
    let refusals = s.refusals().unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].id, wrong);
    assert!(refusals[0].reason.contains("only the payer may accept it"), "{:?}", refusals[0]);

    // The buyer accepts one; disputes, then accepts, and pays the other.
    let payment = Hash32::digest("test/payment", b"TMF676 payment 1");
    b.accept_invoice(inv0.invoice).unwrap();
    b.dispute_invoice(inv1.invoice, Hash32::digest("test/dispute", b"entry")).unwrap();
    b.accept_invoice(inv1.invoice).unwrap();
    b.payment_notice(inv1.invoice, 1_790_000_000, payment).unwrap();
    b.flush(FLUSH).await.unwrap();
    s.payment_receipt(inv1.invoice, payment).unwrap();
    s.submit(TxBody::OpenNettingCycle {
        currency: Currency::EUR,
        cutoff: 4_000_000_000,
        participants: vec![seller().party(), buyer().party()],
    })
    .unwrap();
    s.flush(FLUSH).await.unwrap();
    b.join_netting_cycle(1).unwrap();
    b.flush(FLUSH).await.unwrap();

    // Each opens its own net: the seller is owed invoice 0, the buyer owes it.
    let total = i64::try_from(proven[0].total).unwrap();
    let r = proven[0].blinding;
    s.net_opening(1, total, encode_blinding(&r)).unwrap();
    b.net_opening(1, -total, encode_blinding(&-r)).unwrap();
    s.flush(FLUSH).await.unwrap();
    b.flush(FLUSH).await.unwrap();
    s.confirm_settlement(1, 0).unwrap();
    s.flush(FLUSH).await.unwrap();
    assert_eq!(s.refusals().unwrap().len(), 1);
    assert!(b.refusals().unwrap().is_empty(), "{:?}", b.refusals());

    let mut rpc = rpc(addr).await;
    let cycle = rpc
        .get_netting_cycle(proto::GetNettingCycleRequest { cycle: 1 })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    assert_eq!(cycle.phase, "settled");
    assert_eq!(cycle.invoices, vec![inv0.invoice.0 .0.to_vec()]);
    assert_eq!(cycle.instructions.len(), 1);
    assert_eq!(cycle.instructions[0].amount, total);
    assert_eq!(cycle.instructions[0].from, buyer().party().0.to_vec());
    for (inv, paid_by) in [(&inv0, "netting"), (&inv1, "payment")] {
        let got = rpc
            .get_invoice(proto::GetInvoiceRequest { invoice_id: inv.invoice.0 .0.to_vec() })
            .await
            .unwrap()
            .into_inner()
            .invoice
            .unwrap();
        assert_eq!((got.status.as_str(), got.paid_by.as_str()), ("paid", paid_by));
    }
    s.close().await.unwrap();
    b.close().await.unwrap();
    drop(rpc);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_does_not_answer_is_passed_over_for_the_next() {
    let (dir, registry_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (dead, live) = (free_addr(), free_addr());
    let server = start_registry(registry_dir.path(), live).await;
    // The first endpoint has nobody listening; the admission goes through the second.
    let endpoints = [format!("http://{dead}"), format!("http://{live}")];
    let client =
        RegistryClient::open_endpoints(dir.path(), admin(), &endpoints, options()).unwrap();
    client.start().unwrap();
    client.submit(TxBody::AdmitMember { member: seller().party(), role: Role::Member }).unwrap();
    client.flush(FLUSH).await.unwrap();
    assert!(client.refusals().unwrap().is_empty());
    assert_eq!(client.endpoint(), format!("http://{live}/"));
    assert_eq!(member(live, seller().party()).await.role, "member");
    client.close().await.unwrap();
    server.shutdown().await.unwrap();
    // No endpoint at all is refused when the outbox is opened.
    let empty = tempfile::tempdir().unwrap();
    assert!(RegistryClient::open_endpoints(empty.path(), admin(), &[], options()).is_err());
}
