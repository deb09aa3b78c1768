//! Crash test: a real child process ingests usage into RocksDB and acknowledges each
//! stored batch on stdout; it is killed with SIGKILL mid-ingest. After a restart,
//! everything acknowledged must be there, the ledger must verify (replaying its entries
//! gives the stored state), and the batch that was in flight is either wholly stored or
//! wholly absent.
//!
//! The child is this test binary itself, re-executed with libtest arguments that run only
//! the `#[ignore]`d [`crash_child_ingests_until_killed`]; it does nothing unless the
//! environment names its data directory. This works the same under `cargo test` and
//! `cargo nextest run`, which both build a libtest harness.
#![allow(clippy::unwrap_used)]

use omni_core::{IntervalId, UsageRecord};
use omni_node::entry::RecordKey;
use omni_node::sample::{carrier_a, ORDER_AB};
use omni_node::{EntryBody, Ledger};
use omni_tests::{november, options, seller_with_agreed_order, tmf635_lines};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable carrying the child's data directory.
const CHILD_DIR: &str = "OMNI_CRASH_CHILD_DIR";
/// Records per acknowledged batch.
const BATCH: usize = 20_000;
/// Acknowledgements to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 4;

fn interval() -> IntervalId {
    november().id
}

fn batch_lines(batch: usize) -> Vec<String> {
    tmf635_lines(&format!("b{batch}-"), BATCH)
}

/// The child: ingests batch after batch, printing `ACK <batch> <seq>` once each is
/// durably stored, until it is killed.
#[test]
#[ignore = "child process of crash_during_ingest_loses_nothing_acknowledged"]
fn crash_child_ingests_until_killed() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let mut ledger = Ledger::open(&dir, carrier_a(), options(november().end)).unwrap();
    let id = ledger.bilaterals()[0];
    let mut out = std::io::stdout();
    for batch in 0.. {
        let lines = batch_lines(batch);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let report = ledger.ingest_tmf635_lines(&id, ORDER_AB, &interval(), &refs).unwrap();
        assert_eq!(report.accepted, BATCH);
        writeln!(out, "ACK {batch} {}", report.entries[0]).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn crash_during_ingest_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let (_ledger, id) = seller_with_agreed_order(dir.path()).unwrap();
        id
    };

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_ingests_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acks: Vec<(usize, u64)> = Vec::new();
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // libtest's "test … " banner may share the line with the first acknowledgement.
        let Some(at) = line.find("ACK ") else { continue };
        let mut words = line[at + 4..].split_whitespace();
        let batch = words.next().unwrap().parse().unwrap();
        let seq = words.next().unwrap().parse().unwrap();
        acks.push((batch, seq));
        if acks.len() >= ACKS_BEFORE_KILL {
            // SIGKILL while the child is in the middle of its next batch.
            child.kill().unwrap();
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the child is too slow");
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have been killed, not exit: {status}");
    assert_eq!(acks.len(), ACKS_BEFORE_KILL, "the child died before acknowledging enough batches");
    let batches: Vec<usize> = acks.iter().map(|a| a.0).collect();
    assert_eq!(batches, (0..ACKS_BEFORE_KILL).collect::<Vec<_>>());

    // Restart: everything acknowledged is there, and the ledger verifies.
    let mut ledger = Ledger::open(dir.path(), carrier_a(), options(november().end)).unwrap();
    ledger.verify(&id).unwrap();
    let state = ledger.state(&id).unwrap();
    let account = state.account(ORDER_AB, &interval()).unwrap();
    assert!(account.records() >= (ACKS_BEFORE_KILL * BATCH) as u64);
    assert_eq!(account.records() % BATCH as u64, 0, "a batch is stored whole or not at all");
    let account_records = account.records();
    for &(batch, seq) in &acks {
        let entry =
            ledger.store().entry(&id, seq).unwrap().expect("an acknowledged entry is stored");
        let EntryBody::UsageBatch(b) = &entry.body else {
            panic!("entry {seq} is not a usage batch")
        };
        assert_eq!(b.records.len(), BATCH);
        assert_eq!(b.records[0].id, format!("b{batch}-0"));
        let keys: Vec<RecordKey> =
            b.records.iter().map(|r: &UsageRecord| RecordKey::of(&id, &r.id)).collect();
        // the open account's keys are rebuilt from its stored usage batches
        assert!(state.has_open_records(&keys).into_iter().all(|k| k));
    }

    // The batch in flight at the kill was stored whole or not at all: sending it again is
    // all duplicates or all new.
    let next = acks.last().unwrap().0 + 1;
    let lines = batch_lines(next);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let report = ledger.ingest_tmf635_lines(&id, ORDER_AB, &interval(), &refs).unwrap();
    assert!(report.duplicates == 0 || report.duplicates == BATCH, "{report:?}");
    eprintln!(
        "crash test: {} batches acknowledged before SIGKILL; after restart {} records stored; \
         the batch in flight was {}",
        acks.len(),
        account_records,
        if report.duplicates == BATCH { "stored whole" } else { "not stored" }
    );
    assert_eq!(report.accepted + report.duplicates, BATCH);
    // and resending an acknowledged batch is rated once
    let lines = batch_lines(0);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let report = ledger.ingest_tmf635_lines(&id, ORDER_AB, &interval(), &refs).unwrap();
    assert_eq!((report.accepted, report.duplicates), (0, BATCH));
    ledger.verify(&id).unwrap();
}
