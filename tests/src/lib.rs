//! Helpers shared by the end-to-end tests: real ledgers on real RocksDB.

use omni_core::{BillingInterval, Keypair, UsageRecord};
use omni_node::sample::{self, ORDER_AB};
use omni_node::{BilateralId, Clock, Entry, EntryBody, Ledger, LedgerOptions, Result};
use std::path::Path;

/// November 2026, the interval the tests bill.
pub fn november() -> BillingInterval {
    // A valid calendar month; `month` only fails outside 1970..=9999 or for month 13+.
    BillingInterval::month(2026, 11).unwrap_or_else(|e| unreachable!("{e}"))
}

/// Ledger options with a manual clock at `t`.
pub fn options(t: u64) -> LedgerOptions {
    LedgerOptions { clock: Clock::manual(t), ..LedgerOptions::default() }
}

/// Signs the next entry of `id` with `key` (the counterparty's, held in-process) and
/// hands it to `ledger` as if it had arrived from the counterparty's node.
pub fn countersign(
    ledger: &mut Ledger,
    key: &Keypair,
    id: &BilateralId,
    body: EntryBody,
) -> Result<Entry> {
    let head = ledger.state(id)?.head();
    let at = ledger.clock().now().max(head.timestamp);
    let entry = Entry::sign(key, *id, head.seq + 1, head.hash, at, body);
    ledger.receive(&entry)?;
    Ok(entry)
}

/// Opens carrier A's ledger in `dir` with an agreed contract and an agreed interconnect
/// order towards carrier B (B's acceptances signed in-process).
pub fn seller_with_agreed_order(dir: &Path) -> Result<(Ledger, BilateralId)> {
    let (a, b) = (sample::carrier_a(), sample::carrier_b());
    let (pa, pb) = (a.party(), b.party());
    let nov = november();
    let mut ledger = Ledger::open(dir, a, options(nov.start))?;
    let genesis = ledger.propose_contract(sample::contract(pa, pb, false, nov.start))?;
    let id = BilateralId(genesis.hash());
    countersign(
        &mut ledger,
        &b,
        &id,
        EntryBody::Accept(omni_node::Accept { entry_seq: 0, entry_hash: genesis.hash() }),
    )?;
    let order = ledger.append(
        &id,
        EntryBody::Order(sample::order(
            ORDER_AB,
            pa,
            &omni_core::sample::interconnect_tariff(),
            nov.start,
        )),
    )?;
    countersign(
        &mut ledger,
        &b,
        &id,
        EntryBody::Accept(omni_node::Accept { entry_seq: order.seq, entry_hash: order.hash() }),
    )?;
    Ok((ledger, id))
}

/// `n` TMF635 JSON lines of interconnect usage in November, ids `{prefix}{i}`.
pub fn tmf635_lines(prefix: &str, n: usize) -> Vec<String> {
    let records: Vec<UsageRecord> = omni_core::sample::usage(
        &omni_core::sample::interconnect_tariff(),
        prefix,
        november().start,
        n,
    );
    records.iter().map(UsageRecord::to_tmf635_json).collect()
}
