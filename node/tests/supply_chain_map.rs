//! MEF 114 R15 on the bilateral: the seller records the supply-chain map of an agreed
//! order (real halo2 hop proofs); the buyer's node verifies the hop proofs and that the
//! map is bound to this order before storing it. A map for another order, a tampered
//! proof, garbage bytes or a map from the buyer are refused and change nothing. The same
//! through the node's gRPC API (`Lifecycle.RecordSupplyChainMap`, `omni order map`).
#![allow(clippy::unwrap_used)]

use omni_circuits::compliance::{order_commitment, ComplianceMap, SampleSupplyChain};
use omni_core::BillingInterval;
use omni_node::entry::{supply_chain_order_id, SupplyChainMapRecord};
use omni_node::sample::{self, ORDER_AB};
use omni_node::{BilateralId, Clock, EntryBody, Error, Ledger, LedgerOptions};

/// The map of `order_id` by three sample participants, rebound from the sample's order to
/// ours by re-proving (the order commitment is in every link).
fn map_for(chain: &SampleSupplyChain, order_id: [u8; 32]) -> ComplianceMap {
    let prover = omni_circuits::compliance::HopProver::shared().unwrap();
    chain.map(prover, order_id, &[0, 1, 2]).unwrap()
}

#[test]
fn the_seller_records_a_verified_supply_chain_map_of_an_agreed_order() {
    let nov = BillingInterval::month(2026, 11).unwrap();
    let clock = Clock::manual(nov.start);
    let options = || LedgerOptions { clock: clock.clone(), ..LedgerOptions::default() };
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Ledger::open(dirs.0.path(), sample::carrier_a(), options()).unwrap();
    let mut b = Ledger::open(dirs.1.path(), sample::carrier_b(), options()).unwrap();
    let genesis = a.propose_contract(sample::contract(a.key(), b.key(), true, nov.start)).unwrap();
    let id = BilateralId(genesis.hash());
    b.receive(&genesis).unwrap();
    b.accept(&id, 0).unwrap();
    a.sync_from(&b, &id).unwrap();
    let tariff = omni_core::sample::interconnect_tariff();
    let order = a
        .append(&id, EntryBody::Order(sample::order(ORDER_AB, a.key(), &tariff, nov.start)))
        .unwrap();
    b.sync_from(&a, &id).unwrap();
    let record = |map: Vec<u8>| {
        EntryBody::SupplyChainMap(SupplyChainMapRecord { order: ORDER_AB.into(), map })
    };

    let chain = SampleSupplyChain::new(3, 4).unwrap();
    let ours = map_for(&chain, supply_chain_order_id(&id, ORDER_AB));
    assert_eq!(ours.order_commitment, order_commitment(&supply_chain_order_id(&id, ORDER_AB)));

    // Not before the order is agreed.
    let err = a.append(&id, record(ours.to_bytes())).unwrap_err();
    assert!(err.to_string().contains("not agreed"), "{err}");
    b.accept(&id, order.seq).unwrap();
    a.sync_from(&b, &id).unwrap();
    let head = a.state(&id).unwrap().head();

    // Refused, each with its reason, and nothing stored.
    let other = map_for(&chain, [9; 32]);
    let err = a.append(&id, record(other.to_bytes())).unwrap_err();
    assert!(err.to_string().contains("another order"), "{err}");
    let mut tampered = ours.clone();
    let last = tampered.hops[2].proof.len() - 1;
    tampered.hops[2].proof[last] ^= 1;
    let err = a.append(&id, record(tampered.to_bytes())).unwrap_err();
    assert!(
        matches!(&err, Error::SupplyChainMap { reason, .. } if reason.contains("hop 2")),
        "{err}"
    );
    let err = a.append(&id, record(b"not a map".to_vec())).unwrap_err();
    assert!(err.to_string().contains("supply-chain map"), "{err}");
    let err = b.append(&id, record(ours.to_bytes())).unwrap_err();
    assert!(err.to_string().contains("seller"), "{err}");
    assert_eq!(a.state(&id).unwrap().head(), head);

    // The seller records it; the buyer's node verifies it on receipt and holds it.
    let entry = a.append(&id, record(ours.to_bytes())).unwrap();
    b.sync_from(&a, &id).unwrap();
    let maps = &b.state(&id).unwrap().snapshot().orders[ORDER_AB].supply_chain_maps;
    assert_eq!(maps.len(), 1);
    assert_eq!((maps[0].seq, maps[0].hops, maps[0].commitment), (entry.seq, 3, ours.commitment()));
    assert_eq!(maps[0].embargo_version, chain.embargo.version());
    // Recording the same map twice is refused.
    let err = a.append(&id, record(ours.to_bytes())).unwrap_err();
    assert!(err.to_string().contains("already recorded"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seller_records_a_supply_chain_map_through_the_api() {
    use omni_node::api::proto::lifecycle_client::LifecycleClient;
    use omni_node::api::proto::RecordSupplyChainMapRequest;
    use omni_node::api::{serve, NodeContext};
    use std::sync::{Arc, Mutex};

    let nov = BillingInterval::month(2026, 11).unwrap();
    let options = LedgerOptions { clock: Clock::manual(nov.start), ..LedgerOptions::default() };
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Ledger::open(dirs.0.path(), sample::carrier_a(), options.clone()).unwrap();
    let mut b = Ledger::open(dirs.1.path(), sample::carrier_b(), options).unwrap();
    let id = sample::agreed_order(&mut a, &mut b, true, nov.start).unwrap();
    let (a, b) = (Arc::new(Mutex::new(a)), Arc::new(Mutex::new(b)));
    let any = "127.0.0.1:0".parse().unwrap();
    let (api_a, api_b) = (
        serve(NodeContext::of(a.clone()), any).await.unwrap(),
        serve(NodeContext::of(b.clone()), any).await.unwrap(),
    );
    let client = |api: &omni_node::api::RunningBillingApi| {
        LifecycleClient::connect(format!("http://{}", api.local_addr))
    };
    let (mut seller, mut buyer) = (client(&api_a).await.unwrap(), client(&api_b).await.unwrap());
    let request = |map: Vec<u8>| RecordSupplyChainMapRequest {
        bilateral: id.0.to_hex(),
        order: ORDER_AB.into(),
        map,
    };
    let chain = SampleSupplyChain::new(3, 4).unwrap();
    let ours = map_for(&chain, supply_chain_order_id(&id, ORDER_AB)).to_bytes();
    let head = a.lock().unwrap().state(&id).unwrap().head();

    // Garbage, the buyer's map, an unknown bilateral: refused, nothing appended.
    let err = seller.record_supply_chain_map(request(b"not a map".to_vec())).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("supply-chain map"), "{err}");
    let err = buyer.record_supply_chain_map(request(ours.clone())).await.unwrap_err();
    assert!(err.message().contains("seller"), "{err}");
    let mut unknown = request(ours.clone());
    unknown.bilateral = "00".repeat(32);
    let err = seller.record_supply_chain_map(unknown).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err}");
    assert_eq!(a.lock().unwrap().state(&id).unwrap().head(), head);

    // The seller's node records it; the buyer's ledger verifies and holds it.
    let ack = seller.record_supply_chain_map(request(ours)).await.unwrap().into_inner();
    assert_eq!(ack.seq, head.seq + 1);
    b.lock().unwrap().sync_from(&a.lock().unwrap(), &id).unwrap();
    let held = b.lock().unwrap().state(&id).unwrap().snapshot().orders[ORDER_AB]
        .supply_chain_maps
        .iter()
        .map(|m| m.seq)
        .collect::<Vec<_>>();
    assert_eq!(held, vec![ack.seq]);
    api_a.shutdown().await.unwrap();
    api_b.shutdown().await.unwrap();
}
