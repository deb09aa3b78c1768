//! What the nodes report to the registry on their own, from their ledgers, against a real
//! registry (gRPC on 127.0.0.1, RocksDB, the Groth16 rating verifier): the seller's node
//! anchors and submits its proven invoice, the buyer's node accepts it once the registry
//! shows it verified, the payer notices the payment and the payee confirms it once the
//! notice is there — after which the registry holds an attested payment. A reporter
//! started again over the same outbox reports nothing twice. A payment the registry shows
//! settled already (paid in a netting cycle) is moot: not sent, not waited for, not asked
//! about again.

#![allow(clippy::unwrap_used)]

use omni_core::{BillingInterval, Currency, Keypair, PartyId};
use omni_node::invoice::invoice_from_rating;
use omni_node::rating_proof::prove_invoice;
use omni_node::registry_client::{registry_invoice_id, DeliveryOptions, RegistryClient};
use omni_node::registry_reporter::{Reported, Reporter, ReporterOptions};
use omni_node::sample::{self, ORDER_AB};
use omni_node::settlement::{PaymentNotice, PaymentReceipt, SettlementRef};
use omni_node::state::RatingStatus;
use omni_node::{BilateralId, Clock, EntryBody, Ledger, LedgerOptions};
use omni_prover::RatingKeys;
use omni_registry::Groth16RatingVerifier;
use omni_registry::{Genesis, ServerConfig};
use omni_registry_protocol::proto;
use omni_registry_protocol::proto::registry_client::RegistryClient as RegistryRpc;
use omni_registry_types::tx::{Role, TxBody};
use omni_verifier::RatingVerifier;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FLUSH: Duration = Duration::from_secs(60);
const INVOICE: &str = "INV-2025-01-R";

fn admin() -> Keypair {
    Keypair::from_seed([9; 32])
}

fn outbox(dir: &Path, key: Keypair, addr: SocketAddr) -> RegistryClient {
    let options = DeliveryOptions {
        rpc_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(1),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    };
    let client = RegistryClient::open_with(dir, key, format!("http://{addr}"), options).unwrap();
    client.start().unwrap();
    client
}

/// Looks once and waits until what it queued is delivered, with no refusal.
async fn report(reporter: &mut Reporter, client: &RegistryClient) -> Reported {
    let reported = reporter.report().await.unwrap();
    client.flush(FLUSH).await.unwrap();
    assert_eq!(client.refusals().unwrap(), vec![], "the registry refused a report");
    reported
}

async fn registry_invoice(addr: SocketAddr, id: &BilateralId) -> proto::Invoice {
    let mut rpc = RegistryRpc::connect(format!("http://{addr}")).await.unwrap();
    let invoice_id = registry_invoice_id(id, INVOICE).0 .0.to_vec();
    let answer = rpc.get_invoice(proto::GetInvoiceRequest { invoice_id }).await.unwrap();
    answer.into_inner().invoice.unwrap()
}

async fn anchored_seqs(addr: SocketAddr, id: &BilateralId, by: PartyId) -> Vec<u64> {
    let mut rpc = RegistryRpc::connect(format!("http://{addr}")).await.unwrap();
    let req = proto::ListAnchorsRequest { bilateral: id.0 .0.to_vec() };
    let list = rpc.list_anchors(req).await.unwrap().into_inner();
    list.anchors.into_iter().filter(|a| a.anchored_by == by.0.to_vec()).map(|a| a.seq).collect()
}

/// A registry whose admin admitted both carriers, and their bilateral with an Option 1
/// invoice ([`INVOICE`]) in a past month, proven by A and verified by B's ledger on receipt.
struct Proven {
    dir: tempfile::TempDir,
    registry: omni_registry::RunningServer,
    addr: SocketAddr,
    a: Arc<Mutex<Ledger>>,
    b: Arc<Mutex<Ledger>>,
    id: BilateralId,
    /// Sequence number of the invoice entry.
    issued: u64,
}

async fn proven_invoice() -> Proven {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let keys = RatingKeys::setup_development(4, &mut rng, &omni_prover::no_progress).unwrap();
    let verifier = Arc::new(RatingVerifier::new(keys.verifying.clone()));
    let dir = tempfile::tempdir().unwrap();

    // The registry, and the two carriers admitted by its admin.
    let genesis = Genesis {
        name: "reporter".into(),
        time: 1,
        members: vec![(admin().party(), Role::Admin)],
        rating_keys: None,
    };
    let config = ServerConfig::new(dir.path().join("registry"), ([127, 0, 0, 1], 0).into())
        .with_genesis(genesis)
        .with_verifier(Arc::new(Groth16RatingVerifier::new((*verifier).clone())));
    let registry = omni_registry::start(config).await.unwrap();
    let addr = registry.local_addr();
    let admin_outbox = outbox(&dir.path().join("admin"), admin(), addr);
    for member in [sample::carrier_a().party(), sample::carrier_b().party()] {
        admin_outbox.submit(TxBody::AdmitMember { member, role: Role::Member }).unwrap();
    }
    admin_outbox.flush(FLUSH).await.unwrap();

    // A bilateral in a past month (the registry refuses value dates in its future).
    let interval = BillingInterval::month(2025, 1).unwrap();
    let clock = Clock::manual(interval.start);
    let options = LedgerOptions {
        clock: clock.clone(),
        rating_verifier: Some(verifier.clone()),
        require_rating_proofs: true,
        ..LedgerOptions::default()
    };
    let mut a = Ledger::open(dir.path().join("a"), sample::carrier_a(), options.clone()).unwrap();
    let mut b = Ledger::open(dir.path().join("b"), sample::carrier_b(), options).unwrap();
    let id = sample::rated_bilateral(&mut a, &mut b, &clock, &interval, 6).unwrap();

    // Option 1: A issues and proves the invoice; B's node verifies it on receipt.
    let RatingStatus::Agreed { rating, .. } =
        a.state(&id).unwrap().account(ORDER_AB, &interval.id).unwrap().rating.clone()
    else {
        panic!("the rating is agreed")
    };
    let invoice = invoice_from_rating(INVOICE, ORDER_AB, &interval.id, Currency::EUR, &rating);
    let issued = a.append(&id, EntryBody::Invoice(invoice)).unwrap().seq;
    let claim = a.ledger_rating(&id, INVOICE).unwrap();
    let proof = prove_invoice(&keys, &claim, INVOICE, &mut rng, &omni_prover::no_progress).unwrap();
    a.append(&id, EntryBody::RatingProof(proof)).unwrap();
    b.sync_from(&a, &id).unwrap();
    let (a, b) = (Arc::new(Mutex::new(a)), Arc::new(Mutex::new(b)));
    Proven { dir, registry, addr, a, b, id, issued }
}

/// B pays the whole invoice on the ledger and A confirms the receipt; returns the notice
/// entry.
fn pay_on_the_ledger(p: &Proven) -> omni_node::Entry {
    let (a, b, id) = (&p.a, &p.b, &p.id);
    let target = SettlementRef::Invoice(INVOICE.into());
    let due = a.lock().unwrap().state(id).unwrap().outstanding(&target).unwrap();
    let notice = PaymentNotice {
        payment: "PAY-1".into(),
        target: target.clone(),
        amount: due,
        reference: "SEPA 1".into(),
    };
    let notice_entry = b.lock().unwrap().append(id, EntryBody::PaymentNotice(notice)).unwrap();
    a.lock().unwrap().sync_from(&b.lock().unwrap(), id).unwrap();
    let receipt = PaymentReceipt { payment: "PAY-1".into(), target, amount: due };
    a.lock().unwrap().append(id, EntryBody::PaymentReceipt(receipt)).unwrap();
    b.lock().unwrap().sync_from(&a.lock().unwrap(), id).unwrap();
    notice_entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_report_an_invoice_from_proof_to_attested_payment() {
    let p = proven_invoice().await;
    let (dir, addr, id) = (&p.dir, p.addr, p.id);
    let (seller, buyer) = (sample::carrier_a().party(), sample::carrier_b().party());
    let (a, b) = (&p.a, &p.b);
    let (a_dir, b_dir) = (dir.path().join("a-outbox"), dir.path().join("b-outbox"));
    let (a_outbox, b_outbox) =
        (outbox(&a_dir, sample::carrier_a(), addr), outbox(&b_dir, sample::carrier_b(), addr));
    let now = ReporterOptions {
        interval: Duration::from_millis(50),
        anchor_every: Duration::ZERO,
        conformance: None,
    };
    let mut a_reporter = Reporter::new(a.clone(), a_outbox.clone(), now.clone());
    let mut b_reporter = Reporter::new(b.clone(), b_outbox.clone(), now.clone());

    // The seller anchors its head and submits the invoice; the registry verifies it.
    let r = report(&mut a_reporter, &a_outbox).await;
    assert_eq!((r.anchors, r.invoices), (1, 1), "{r:?}");
    assert_eq!(registry_invoice(addr, &id).await.status, "verified");
    let head = a.lock().unwrap().state(&id).unwrap().head().seq;
    assert_eq!(anchored_seqs(addr, &id, seller).await, vec![head]);
    // Nothing new: nothing queued again.
    assert_eq!(report(&mut a_reporter, &a_outbox).await, Reported::default());
    // The buyer has not accepted on its ledger: it anchors and nothing else.
    let r = report(&mut b_reporter, &b_outbox).await;
    assert_eq!((r.anchors, r.queued()), (1, 1), "{r:?}");

    // B accepts on the ledger; its node accepts on the registry.
    b.lock().unwrap().accept(&id, p.issued).unwrap();
    a.lock().unwrap().sync_from(&b.lock().unwrap(), &id).unwrap();
    let r = report(&mut b_reporter, &b_outbox).await;
    assert_eq!((r.acceptances, r.anchors), (1, 1), "{r:?}");
    assert_eq!(registry_invoice(addr, &id).await.status, "accepted");

    // B pays, A confirms; A's receipt waits for B's notice on the registry.
    let notice_entry = pay_on_the_ledger(&p);
    let r = report(&mut a_reporter, &a_outbox).await;
    assert_eq!((r.receipts, r.waiting), (0, 1), "the receipt waits for the notice: {r:?}");
    let r = report(&mut b_reporter, &b_outbox).await;
    assert_eq!(r.notices, 1, "{r:?}");
    let r = report(&mut a_reporter, &a_outbox).await;
    assert_eq!((r.receipts, r.waiting), (1, 0), "{r:?}");
    let on_registry = registry_invoice(addr, &id).await;
    assert_eq!(on_registry.status, "paid");
    assert_eq!(on_registry.payment_ref, notice_entry.hash().0.to_vec());
    let mut rpc = RegistryRpc::connect(format!("http://{addr}")).await.unwrap();
    let req = proto::GetReputationRequest { payer: buyer.0.to_vec(), at_time: 0 };
    let reputation = rpc.get_reputation(req).await.unwrap().into_inner();
    assert_eq!(reputation.reputation.unwrap().invoices, 1);

    // Restarted over the same outboxes, the reporters report nothing twice.
    drop((a_reporter, b_reporter));
    a_outbox.close().await.unwrap();
    b_outbox.close().await.unwrap();
    for (ledger, key, dir) in [(a, sample::carrier_a(), &a_dir), (b, sample::carrier_b(), &b_dir)] {
        let client = outbox(dir, key, addr);
        let mut reporter = Reporter::new(ledger.clone(), client.clone(), now.clone());
        assert_eq!(report(&mut reporter, &client).await.queued(), 0);
        assert!(client.status().unwrap().delivered > 0);
        client.close().await.unwrap();
    }
    p.registry.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_the_registry_shows_settled_already_is_moot() {
    let p = proven_invoice().await;
    let (dir, addr, id) = (&p.dir, p.addr, p.id);
    let (a_dir, b_dir) = (dir.path().join("a-outbox"), dir.path().join("b-outbox"));
    let (a_outbox, b_outbox) =
        (outbox(&a_dir, sample::carrier_a(), addr), outbox(&b_dir, sample::carrier_b(), addr));
    let now = ReporterOptions {
        interval: Duration::from_millis(50),
        anchor_every: Duration::ZERO,
        conformance: None,
    };
    let mut a_reporter = Reporter::new(p.a.clone(), a_outbox.clone(), now.clone());
    let mut b_reporter = Reporter::new(p.b.clone(), b_outbox.clone(), now.clone());
    report(&mut a_reporter, &a_outbox).await;
    p.b.lock().unwrap().accept(&id, p.issued).unwrap();
    p.a.lock().unwrap().sync_from(&p.b.lock().unwrap(), &id).unwrap();
    assert_eq!(report(&mut b_reporter, &b_outbox).await.acceptances, 1);

    // The registry records the invoice paid by another way (as it does for the invoices
    // a multi-party netting cycle settles): both parties attest a payment the ledger
    // does not hold.
    let invoice = registry_invoice_id(&id, INVOICE);
    let settled = omni_core::Hash32::digest("test/netting-cycle", b"settlement");
    let paid_at = p.a.lock().unwrap().state(&id).unwrap().head().timestamp;
    b_outbox.submit(TxBody::PaymentNotice { invoice, paid_at, payment_ref: settled }).unwrap();
    b_outbox.flush(FLUSH).await.unwrap();
    a_outbox.submit(TxBody::PaymentReceipt { invoice, payment_ref: settled }).unwrap();
    a_outbox.flush(FLUSH).await.unwrap();
    assert_eq!(registry_invoice(addr, &id).await.status, "paid");

    // The payment on the ledger then needs no notice and no receipt: neither is sent, nor
    // waits, nor is asked about again.
    pay_on_the_ledger(&p);
    let moot = Reported { anchors: 1, moot: 1, ..Reported::default() };
    assert_eq!(report(&mut b_reporter, &b_outbox).await, moot);
    assert_eq!(report(&mut a_reporter, &a_outbox).await, moot);
    for (ledger, client) in [(&p.a, &a_outbox), (&p.b, &b_outbox)] {
        let mut reporter = Reporter::new(ledger.clone(), client.clone(), now.clone());
        assert_eq!(report(&mut reporter, client).await, Reported::default());
    }
    let on_registry = registry_invoice(addr, &id).await;
    assert_eq!(
        (on_registry.status.as_str(), on_registry.payment_ref),
        ("paid", settled.0.to_vec())
    );
    a_outbox.close().await.unwrap();
    b_outbox.close().await.unwrap();
    p.registry.shutdown().await.unwrap();
}
