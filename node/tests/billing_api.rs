//! The billing API over real sockets on 127.0.0.1: a seller's billing system submits TMF635
//! usage to its node, the buyer's lists the resulting TMF678 bill, refuses to be fooled by
//! bad requests, accepts the bill and notifies payment — each answer a signed entry that
//! reaches the other node. Bad input (malformed usage, unknown bilateral or bill, a step
//! the lifecycle does not allow, garbage bytes on the port) is refused with a clear status
//! and changes nothing.
#![allow(clippy::unwrap_used)]

use omni_core::{BillingInterval, UsageRecord};
use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::proto::{
    BillRef, DisputeBillRequest, DisputedItem, ListBilateralsRequest, ListBillsRequest,
    NotifyPaymentRequest, SubmitUsageRequest,
};
use omni_node::api::{serve_billing, RunningBillingApi};
use omni_node::sample::{self, ORDER_AB};
use omni_node::{BilateralId, Clock, EntryBody, Ledger, LedgerOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tonic::transport::Channel;
use tonic::Code;

fn nov() -> BillingInterval {
    BillingInterval::month(2026, 11).unwrap()
}

fn usage(prefix: &str, n: usize) -> Vec<String> {
    let tariff = omni_core::sample::interconnect_tariff();
    let records = omni_core::sample::usage(&tariff, prefix, nov().start, n);
    records.iter().map(UsageRecord::to_tmf635_json).collect()
}

struct Node {
    ledger: Arc<Mutex<Ledger>>,
    api: RunningBillingApi,
    client: BillingClient<Channel>,
    _dir: tempfile::TempDir,
}

async fn node(key: omni_core::Keypair, clock: &Clock) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let options = LedgerOptions { clock: clock.clone(), ..LedgerOptions::default() };
    let ledger = Arc::new(Mutex::new(Ledger::open(dir.path(), key, options).unwrap()));
    let api = serve_billing(ledger.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = BillingClient::connect(format!("http://{}", api.local_addr)).await.unwrap();
    Node { ledger, api, client, _dir: dir }
}

/// Pulls `from`'s new entries of `id` into `to`.
fn sync(to: &Node, from: &Node, id: &BilateralId) {
    let from = from.ledger.lock().unwrap();
    to.ledger.lock().unwrap().sync_from(&from, id).unwrap();
}

fn digest(n: &Node, id: &BilateralId) -> omni_core::Hash32 {
    n.ledger.lock().unwrap().state(id).unwrap().digest()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_systems_drive_the_lifecycle_over_grpc() {
    let clock = Clock::manual(nov().start);
    let mut a = node(sample::carrier_a(), &clock).await; // seller
    let mut b = node(sample::carrier_b(), &clock).await; // buyer

    // Contract and order, agreed between the nodes.
    let id = {
        let (mut la, mut lb) = (a.ledger.lock().unwrap(), b.ledger.lock().unwrap());
        let (pa, pb) = (la.key(), lb.key());
        let genesis = la.propose_contract(sample::contract(pa, pb, true, nov().start)).unwrap();
        let id = BilateralId(genesis.hash());
        lb.receive(&genesis).unwrap();
        lb.accept(&id, 0).unwrap();
        la.sync_from(&lb, &id).unwrap();
        let tariff = omni_core::sample::interconnect_tariff();
        let order = sample::order(ORDER_AB, pa, &tariff, nov().start);
        let order = la.append(&id, EntryBody::Order(order)).unwrap();
        lb.sync_from(&la, &id).unwrap();
        lb.accept(&id, order.seq).unwrap();
        la.sync_from(&lb, &id).unwrap();
        id
    };
    let hex = id.0.to_hex();

    let listed = a.client.list_bilaterals(ListBilateralsRequest {}).await.unwrap().into_inner();
    assert_eq!(listed.bilaterals.len(), 1);
    let bilateral = &listed.bilaterals[0];
    assert_eq!((bilateral.id.as_str(), bilateral.status.as_str()), (hex.as_str(), "active"));
    assert_eq!(bilateral.counterparty, sample::carrier_b().party().to_hex());

    // Usage from the seller's billing system, with ten records sent twice.
    let mut lines = usage("cdr-", 1_000);
    lines.extend(usage("cdr-", 10));
    let submit = |usage: Vec<String>| SubmitUsageRequest {
        bilateral: hex.clone(),
        order: ORDER_AB.into(),
        interval: nov().id.0,
        usage,
    };
    let report = a.client.submit_usage(submit(lines)).await.unwrap().into_inner();
    assert_eq!((report.received, report.accepted, report.duplicates), (1_010, 1_000, 10));
    assert_eq!(report.entries.len(), 1);

    // Bad usage: refused with the line's index, nothing recorded.
    let before = digest(&a, &id);
    let mut bad = usage("new-", 3);
    bad.push(
        r#"{"id":"x","usageDate":5,"usageType":"voice","quantity":{"amount":-1,"units":"s"}}"#
            .into(),
    );
    let err = a.client.submit_usage(submit(bad)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("negative quantity"), "{err}");
    let mut unordered = submit(usage("new-", 3));
    unordered.order = "no-such-order".into();
    let err = a.client.submit_usage(unordered).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert_eq!(digest(&a, &id), before);

    // Malformed and unknown bilaterals.
    let err = a.client.list_bills(ListBillsRequest { bilateral: "zz".into() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    let unknown = omni_core::Hash32::digest("test", b"other").to_hex();
    let err = a.client.list_bills(ListBillsRequest { bilateral: unknown }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");

    // Rating agreed and an Option 2 invoice generated, between the nodes.
    clock.set(nov().end);
    let rating = a.ledger.lock().unwrap().propose_rating(&id, ORDER_AB, &nov().id).unwrap();
    sync(&b, &a, &id);
    b.ledger.lock().unwrap().accept(&id, rating.seq).unwrap();
    sync(&a, &b, &id);
    a.ledger.lock().unwrap().generate_invoice(&id, "INV-1", ORDER_AB, &nov().id).unwrap();
    sync(&b, &a, &id);

    // The buyer's billing system sees the bill, TMF678-shaped.
    let bills = b.client.list_bills(ListBillsRequest { bilateral: hex.clone() }).await.unwrap();
    let bills = bills.into_inner().bills;
    assert_eq!(bills.len(), 1);
    let bill = &bills[0];
    assert_eq!((bill.bill_no.as_str(), bill.state.as_str()), ("INV-1", "issued"));
    assert!(bill.generated && !bill.items.is_empty());
    assert!(bill.bill_date.ends_with('Z') && bill.billing_period == nov().id.0);
    let due = bill.amount_due.clone().unwrap();
    assert_eq!(due.unit, "EUR");
    assert!(due.micros > 0);
    assert_eq!(bill.tax_included_amount, bill.amount_due);
    let bill_ref = BillRef { bilateral: hex.clone(), bill_no: "INV-1".into() };
    let err = b
        .client
        .get_bill(BillRef { bilateral: hex.clone(), bill_no: "INV-9".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");

    // A dispute of an item the bill does not have: refused, nothing recorded.
    let before = digest(&b, &id);
    let dispute = DisputeBillRequest {
        bilateral: hex.clone(),
        bill_no: "INV-1".into(),
        items: vec![DisputedItem { item: 99, micros: 1, reason: "no such item".into() }],
    };
    let err = b.client.dispute_bill(dispute).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert_eq!(digest(&b, &id), before);

    // Garbage on the gRPC port: the connection fails, the node keeps serving.
    let mut raw = std::net::TcpStream::connect(b.api.local_addr).unwrap();
    raw.write_all(b"\x00\xffnot http/2 at all\r\n\r\n").unwrap();
    drop(raw);

    // The buyer accepts, then notifies payment; both are entries the seller receives.
    let accepted = b.client.accept_bill(bill_ref.clone()).await.unwrap().into_inner();
    let err = b.client.accept_bill(bill_ref.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "accepting twice: {err}");
    let payment = NotifyPaymentRequest {
        bilateral: hex.clone(),
        bill_no: "INV-1".into(),
        payment: "PAY-1".into(),
        micros: due.micros,
        reference: "SEPA 2026-12-01".into(),
        netting: String::new(),
    };
    let paid = b.client.notify_payment(payment).await.unwrap().into_inner();
    assert_eq!(paid.seq, accepted.seq + 1);
    sync(&a, &b, &id);
    let seen = a.client.get_bill(bill_ref).await.unwrap().into_inner();
    assert_eq!(seen.state, "accepted");
    assert_eq!(digest(&a, &id), digest(&b, &id));
    assert_eq!(a.ledger.lock().unwrap().state(&id).unwrap().head().hash.to_hex(), paid.hash);

    a.api.shutdown().await.unwrap();
    b.api.shutdown().await.unwrap();
}
