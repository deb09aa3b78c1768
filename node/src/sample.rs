//! A sample bilateral for the demo, the benchmarks and tests: two carriers with
//! deterministic keys, a contract over [`omni_core::sample`]'s tariffs and orders in both
//! directions.
//!
//! Building a full two-party lifecycle from code (each side its own [`crate::Ledger`]):
//!
//! ```text
//! let (a, b) = (sample::carrier_a(), sample::carrier_b());
//! let mut la = Ledger::open(dir_a, a, opts.clone())?;       // seller of ORDER_AB
//! let mut lb = Ledger::open(dir_b, b, opts)?;               // buyer
//! let genesis = la.propose_contract(sample::contract(&la_party, &lb_party, true, start))?;
//! let id = BilateralId(genesis.hash());
//! lb.receive(&genesis)?;            lb.accept(&id, 0)?;       la.sync_from(&lb, &id)?;
//! la.append(&id, EntryBody::Order(sample::order(ORDER_AB, a, start)))?;
//! lb.sync_from(&la, &id)?;          lb.accept(&id, 2)?;       la.sync_from(&lb, &id)?;
//! la.ingest_tmf635_lines(&id, ORDER_AB, &interval, &lines)?;  // usage
//! la.propose_rating(&id, ORDER_AB, &interval)?;  … lb accepts …
//! la.generate_invoice(&id, "INV-1", ORDER_AB, &interval)?; … lb accepts …
//! lb.append(&id, EntryBody::PaymentNotice(..))?;  la.append(&id, EntryBody::PaymentReceipt(..))?;
//! ```

use crate::contract::{
    BillingCycle, Contract, DisputeThreshold, EarlyPayment, Order, OrderItem, Party, PaymentTerms,
};
use omni_core::{Currency, Keypair, PartyId, ProductId};

/// Order id of the sample order in which carrier A sells interconnect to carrier B.
pub const ORDER_AB: &str = "O-AB-1";
/// Order id of the sample order in which carrier B sells voice termination to carrier A.
pub const ORDER_BA: &str = "O-BA-1";

/// Carrier A's signing key (deterministic).
pub fn carrier_a() -> Keypair {
    Keypair::from_seed([0xA1; 32])
}

/// Carrier B's signing key (deterministic).
pub fn carrier_b() -> Keypair {
    Keypair::from_seed([0xB2; 32])
}

/// A contract between `a` and `b` (each its own sole signatory): monthly billing, the
/// interconnect and voice tariffs of [`omni_core::sample`], "2/10 Net 30", a dispute
/// threshold of 1 % of the invoice net, and netting if `netting`.
pub fn contract(a: PartyId, b: PartyId, netting: bool, effective_from: u64) -> Contract {
    let mut tariffs =
        vec![omni_core::sample::interconnect_tariff(), omni_core::sample::voice_tariff()];
    tariffs.sort_by(|x, y| x.id.cmp(&y.id));
    Contract {
        reference: "MSA-2026-001".into(),
        parties: [
            Party { id: a, name: "Carrier A".into(), signatories: vec![a] },
            Party { id: b, name: "Carrier B".into(), signatories: vec![b] },
        ],
        currency: Currency::EUR,
        tariffs,
        billing_cycle: BillingCycle::Monthly,
        payment_terms: PaymentTerms {
            net_days: 30,
            early_payment: Some(EarlyPayment { discount_bps: 200, within_days: 10 }),
        },
        dispute_threshold: DisputeThreshold::BasisPoints(100),
        netting,
        effective_from,
    }
}

/// An order sold by `seller` under tariff `tariff` of every product of that tariff,
/// starting at `start`.
pub fn order(id: &str, seller: PartyId, tariff: &omni_core::tariff::Tariff, start: u64) -> Order {
    Order {
        id: id.into(),
        seller,
        tariff: tariff.id.clone(),
        items: tariff
            .products
            .iter()
            .map(|p| OrderItem { product: ProductId(p.product.0.clone()), quantity: 1 })
            .collect(),
        start,
        end: None,
    }
}

/// The handshake most examples start from, each step delivered to the other ledger:
/// `seller` proposes [`contract`] (with or without `netting`) to `buyer`, who accepts;
/// `seller` books [`ORDER_AB`] on the interconnect tariff from `start`, `buyer` accepts.
/// Returns the bilateral.
pub fn agreed_order(
    seller: &mut crate::Ledger,
    buyer: &mut crate::Ledger,
    netting: bool,
    start: u64,
) -> crate::Result<crate::BilateralId> {
    let genesis = seller.propose_contract(contract(seller.key(), buyer.key(), netting, start))?;
    let id = crate::BilateralId(genesis.hash());
    buyer.receive(&genesis)?;
    buyer.accept(&id, 0)?;
    seller.sync_from(buyer, &id)?;
    let tariff = omni_core::sample::interconnect_tariff();
    let order = order(ORDER_AB, seller.key(), &tariff, start);
    let order = seller.append(&id, crate::EntryBody::Order(order))?;
    buyer.sync_from(seller, &id)?;
    buyer.accept(&id, order.seq)?;
    seller.sync_from(buyer, &id)?;
    Ok(id)
}

/// [`agreed_order`] (with netting), then `records` TMF635 usage records in `interval`
/// ingested by the seller; the clock moves to the interval's end and the rating `seller`
/// proposes is accepted by `buyer`. Returns the bilateral.
pub fn rated_bilateral(
    seller: &mut crate::Ledger,
    buyer: &mut crate::Ledger,
    clock: &crate::Clock,
    interval: &omni_core::BillingInterval,
    records: usize,
) -> crate::Result<crate::BilateralId> {
    let id = agreed_order(seller, buyer, true, interval.start)?;
    let tariff = omni_core::sample::interconnect_tariff();
    let lines: Vec<String> = omni_core::sample::usage(&tariff, "cdr-", interval.start, records)
        .iter()
        .map(omni_core::UsageRecord::to_tmf635_json)
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    seller.ingest_tmf635_lines(&id, ORDER_AB, &interval.id, &refs)?;
    clock.set(interval.end);
    let rating = seller.propose_rating(&id, ORDER_AB, &interval.id)?;
    buyer.sync_from(seller, &id)?;
    buyer.accept(&id, rating.seq)?;
    seller.sync_from(buyer, &id)?;
    Ok(id)
}
