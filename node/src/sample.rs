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
