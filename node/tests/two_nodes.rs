//! Two real nodes, each with its own RocksDB, keeping one bilateral in lock-step through
//! the facade: contract, order, TMF635 ingest with duplicates, rating, invoice, payment;
//! reopening restores exactly the acknowledged state; bad input leaves the store as it was.
#![allow(clippy::unwrap_used)]

use omni_core::{BillingInterval, IntervalId, UsageRecord};
use omni_node::sample::{self, ORDER_AB};
use omni_node::settlement::{PaymentNotice, PaymentReceipt, SettlementRef};
use omni_node::{
    BilateralId, Clock, EntryBody, Error, InvoiceStatus, Ledger, LedgerOptions, RecordKey,
};
use proptest::prelude::*;
use std::path::Path;
use tempfile::TempDir;

fn nov() -> BillingInterval {
    BillingInterval::month(2026, 11).unwrap()
}

fn lines(prefix: &str, n: usize) -> Vec<String> {
    let records =
        omni_core::sample::usage(&omni_core::sample::interconnect_tariff(), prefix, nov().start, n);
    records.iter().map(UsageRecord::to_tmf635_json).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

struct Nodes {
    a: Ledger,
    b: Ledger,
    id: BilateralId,
    clock: Clock,
    dirs: (TempDir, TempDir),
}

fn open(dir: &Path, who: char, clock: &Clock) -> Ledger {
    let key = if who == 'a' { sample::carrier_a() } else { sample::carrier_b() };
    Ledger::open(dir, key, LedgerOptions { clock: clock.clone(), ..LedgerOptions::default() })
        .unwrap()
}

/// A (seller) and B (buyer) with an agreed contract and order, in sync.
fn nodes() -> Nodes {
    let clock = Clock::manual(nov().start);
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = open(dirs.0.path(), 'a', &clock);
    let mut b = open(dirs.1.path(), 'b', &clock);
    let (pa, pb) = (a.key(), b.key());
    let genesis = a.propose_contract(sample::contract(pa, pb, true, nov().start)).unwrap();
    let id = BilateralId(genesis.hash());
    b.receive(&genesis).unwrap();
    b.accept(&id, 0).unwrap();
    a.sync_from(&b, &id).unwrap();
    let order = a
        .append(
            &id,
            EntryBody::Order(sample::order(
                ORDER_AB,
                pa,
                &omni_core::sample::interconnect_tariff(),
                nov().start,
            )),
        )
        .unwrap();
    b.sync_from(&a, &id).unwrap();
    b.accept(&id, order.seq).unwrap();
    a.sync_from(&b, &id).unwrap();
    Nodes { a, b, id, clock, dirs }
}

#[test]
fn two_nodes_lifecycle_over_rocksdb() {
    let mut n = nodes();
    let (id, iv) = (n.id, nov().id);
    assert_eq!(n.a.party(&id).unwrap(), n.a.key());

    // Ingest with duplicates inside the input and across calls: each record rated once.
    let mut first = lines("cdr-", 12_000);
    first.extend(lines("cdr-", 500)); // cdr-0 … cdr-499 again
    let report = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&first)).unwrap();
    assert_eq!((report.received, report.accepted, report.duplicates), (12_500, 12_000, 500));
    let again = lines("cdr-", 15_000);
    let report = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&again)).unwrap();
    assert_eq!((report.accepted, report.duplicates), (3_000, 12_000));
    assert_eq!(report.entries.len(), 1);
    let all_dups = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&again[..10])).unwrap();
    assert_eq!((all_dups.accepted, all_dups.duplicates, all_dups.entries.len()), (0, 10, 0));

    // B receives the usage batches and computes the same state.
    n.b.sync_from(&n.a, &id).unwrap();
    assert_eq!(n.a.state(&id).unwrap().digest(), n.b.state(&id).unwrap().digest());
    assert_eq!(n.b.state(&id).unwrap().account(ORDER_AB, &iv).unwrap().records(), 15_000);

    // Rating (R66), Option 2 invoice, acceptance, payment.
    n.clock.set(nov().end);
    let rating = n.a.propose_rating(&id, ORDER_AB, &iv).unwrap();
    n.b.sync_from(&n.a, &id).unwrap();
    let keys: Vec<_> = (0..15_000).map(|i| RecordKey::of(&id, &format!("cdr-{i}"))).collect();
    assert!(n.b.store().known_records(&keys).unwrap().iter().all(|k| !k), "account open");
    n.b.accept(&id, rating.seq).unwrap();
    n.a.sync_from(&n.b, &id).unwrap();
    // the acceptance closed the account: both stores' indexes now hold all its records,
    // and memory no longer does
    for node in [&n.a, &n.b] {
        assert!(node.store().known_records(&keys).unwrap().iter().all(|k| *k));
        assert!(node.state(&id).unwrap().has_open_records(&keys).iter().all(|k| !k));
    }
    // usage is closed now; records of the closed account are found in the store's index
    let old = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&again[..100])).unwrap();
    assert_eq!(old.duplicates, 100);
    let inv = n.a.generate_invoice(&id, "INV-2026-11", ORDER_AB, &iv).unwrap();
    n.b.sync_from(&n.a, &id).unwrap();
    n.b.accept(&id, inv.seq).unwrap();
    let total = n.b.state(&id).unwrap().invoice("INV-2026-11").unwrap().amount_due();
    let target = SettlementRef::Invoice("INV-2026-11".into());
    n.clock.advance(25 * 86_400);
    n.b.append(
        &id,
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "PAY-1".into(),
            target: target.clone(),
            amount: total,
            reference: "SEPA 1".into(),
        }),
    )
    .unwrap();
    n.a.sync_from(&n.b, &id).unwrap();
    n.a.append(
        &id,
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "PAY-1".into(),
            target,
            amount: total,
        }),
    )
    .unwrap();
    n.b.sync_from(&n.a, &id).unwrap();
    let sa = n.a.state(&id).unwrap();
    assert_eq!(sa.invoice("INV-2026-11").unwrap().status(), InvoiceStatus::Paid);
    assert_eq!(sa.digest(), n.b.state(&id).unwrap().digest());
    let rendered = sa.invoice("INV-2026-11").unwrap().invoice.render("Carrier A", "Carrier B");
    assert!(rendered.contains("INV-2026-11") && rendered.contains("Total due"), "{rendered}");

    // Both verify; reopening both restores exactly the same state.
    let (da, db) = (n.a.verify(&id).unwrap(), n.b.verify(&id).unwrap());
    assert_eq!(da, db);
    let Nodes { a, b, dirs, clock, .. } = n;
    drop((a, b));
    let a = open(dirs.0.path(), 'a', &clock);
    let b = open(dirs.1.path(), 'b', &clock);
    assert_eq!(a.state(&id).unwrap().digest(), da);
    assert_eq!(b.state(&id).unwrap().digest(), db);
    a.verify(&id).unwrap();
}

#[test]
fn bad_input_leaves_the_store_unchanged() {
    let mut n = nodes();
    let (id, iv) = (n.id, nov().id);
    n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&lines("ok-", 100))).unwrap();
    let snapshot =
        |l: &Ledger| (l.store().snapshot(&id).unwrap(), l.store().entries(&id, 0).unwrap().len());
    let before = snapshot(&n.a);
    let digest = n.a.state(&id).unwrap().digest();

    let mut input = lines("bad-", 50);
    let rec = |q: &str| {
        format!(
            r#"{{"id":"bad-q","usageDate":{},"usageType":"voice-termination","quantity":{{"amount":{q},"units":"s"}}}}"#,
            nov().start
        )
    };
    // negative quantity
    input[17] = rec("-5");
    let err = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&input)).unwrap_err();
    assert!(matches!(err, Error::Usage { index: 17, .. }), "{err}");
    assert!(err.to_string().contains("negative quantity -5"), "{err}");
    // overflowing quantity
    input[17] = rec("281474976710656");
    let err = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&input)).unwrap_err();
    assert!(
        err.to_string().contains("usage line 17") && err.to_string().contains("exceeds 2^48"),
        "{err}"
    );
    input[17] = rec("99999999999999999999999");
    assert!(n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&input)).is_err());
    // unknown product: refused as a whole, nothing appended
    input[17] = r#"{"id":"bad-p","usageDate":1793491300,"usageType":"satellite","quantity":{"amount":5,"units":"s"}}"#.into();
    let err = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&input)).unwrap_err();
    assert!(err.to_string().contains("unknown product \"satellite\""), "{err}");
    // a record of another interval
    let mut dec = lines("dec-", 3);
    dec[1] =
        UsageRecord::new("dec-x", nov().end + 5, "voice-termination", 9, omni_core::Unit::Second)
            .unwrap()
            .to_tmf635_json();
    let err = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&dec)).unwrap_err();
    assert!(err.to_string().contains("outside billing interval"), "{err}");
    // a forged entry from the counterparty
    let before_b = snapshot(&n.b);
    let forged = {
        let head = n.b.state(&id).unwrap().head();
        let mut e = omni_node::Entry::sign(
            &sample::carrier_a(),
            id,
            head.seq + 1,
            head.hash,
            nov().start,
            EntryBody::Termination(omni_node::entry::Termination { reason: "x".into() }),
        );
        e.signature.0[0] ^= 1;
        n.b.receive(&e).unwrap_err()
    };
    assert!(matches!(forged, Error::BadSignature { .. }), "{forged}");
    assert_eq!(snapshot(&n.b), before_b);
    // unknown interval id
    let err = n
        .a
        .ingest_tmf635_lines(&id, ORDER_AB, &IntervalId("2026-13".into()), &refs(&lines("z-", 2)))
        .unwrap_err();
    assert!(err.to_string().contains("2026-13"), "{err}");

    assert_eq!(snapshot(&n.a), before);
    // nothing of the refused input was recorded, in memory or in the usage index
    let keys: Vec<_> =
        ["bad-0", "bad-1", "dec-0", "z-0"].iter().map(|r| RecordKey::of(&id, r)).collect();
    assert_eq!(n.a.store().known_records(&keys).unwrap(), vec![false; 4]);
    assert_eq!(n.a.state(&id).unwrap().has_open_records(&keys), vec![false; 4]);
    // the accepted input is recorded in its (open) account; the index takes it at closing
    let ok = [RecordKey::of(&id, "ok-0"), RecordKey::of(&id, "ok-99")];
    assert_eq!(n.a.state(&id).unwrap().has_open_records(&ok), vec![true; 2]);
    assert_eq!(n.a.store().known_records(&ok).unwrap(), vec![false; 2]);
    assert_eq!(n.a.state(&id).unwrap().digest(), digest);
    n.a.verify(&id).unwrap();
}

#[test]
fn ingest_throughput() {
    // Parse (TMF635 JSON, rayon) + dedup + rate + store.
    let mut n = nodes();
    let (id, iv) = (n.id, nov().id);
    let total = 400_000;
    let input = lines("t-", total);
    let (started, cpu) = (std::time::Instant::now(), cpu_seconds());
    // one call: parsed at once, appended as pipelined batches of 100 000
    let report = n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&input)).unwrap();
    let accepted = report.accepted;
    assert_eq!(report.entries.len(), total.div_ceil(100_000));
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert_eq!(accepted, total);
    // The machine is shared: CPU time per record says more than wall time.
    println!(
        "ingest: {total} TMF635 records in {secs:.3} s wall = {:.0} records/s; {:.2} µs CPU per record (this build's profile)",
        total as f64 / secs,
        cpu * 1e6 / total as f64
    );
    assert_eq!(n.a.state(&id).unwrap().account(ORDER_AB, &iv).unwrap().records(), total as u64);
}

/// CPU time of this process so far (user + system), from /proc on Linux; 0 elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Reopening a store gives exactly the acknowledged state, which a replay of the
    /// stored entries reproduces.
    #[test]
    fn reopen_gives_the_same_state(batches in proptest::collection::vec(1usize..400, 1..5), rate in any::<bool>()) {
        let mut n = nodes();
        let (id, iv) = (n.id, nov().id);
        for (i, size) in batches.iter().enumerate() {
            n.a.ingest_tmf635_lines(&id, ORDER_AB, &iv, &refs(&lines(&format!("p{i}-"), *size))).unwrap();
        }
        if rate {
            n.clock.set(nov().end);
            n.a.propose_rating(&id, ORDER_AB, &iv).unwrap();
        }
        let digest = n.a.state(&id).unwrap().digest();
        let Nodes { a, dirs, clock, .. } = n;
        drop(a);
        let a = open(dirs.0.path(), 'a', &clock);
        prop_assert_eq!(a.state(&id).unwrap().digest(), digest);
        prop_assert_eq!(a.verify(&id).unwrap(), digest);
    }
}
