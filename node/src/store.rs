//! RocksDB persistence of bilateral ledgers.
//!
//! Column families:
//!
//! | family    | key                          | value                                   |
//! |-----------|------------------------------|-----------------------------------------|
//! | `entries` | bilateral (32) ‖ seq (8, BE) | canonical [`Entry`] bytes               |
//! | `state`   | bilateral (32)               | canonical [`Snapshot`] after the head   |
//! | `usage`   | [`RecordKey`] (16)           | empty: the record-id index              |
//! | `meta`    | `"schema"`                   | layout version                          |
//!
//! An entry, the state it produces and the usage-index keys it brings are written in
//! **one** `WriteBatch`, through the write-ahead log, synced before [`Store::commit`]
//! returns (unless [`StoreOptions::sync`] is off): an acknowledged entry survives a crash,
//! and no crash leaves an entry without its state or the other way round.
//!
//! The `usage` family is the record-id index of **closed** usage accounts (rating agreed),
//! which the ingest path deduplicates against ([`Store::known_records`], point lookups
//! behind bloom filters). Record keys hash the bilateral id with the record id, so one
//! index serves every bilateral of the store with 16-byte keys and empty values. An open
//! account's keys are not indexed: the state holds them in memory, and its usage-batch
//! entries hold the record ids, from which [`Store::load`] rebuilds them — so loading costs
//! what is open, not the whole history. A usage batch therefore writes only its entry and
//! the state (a memtable insert per record key would cost ≈ 1 µs, as much as the rest of
//! ingest together); the acceptance that agrees an account's rating writes the account's
//! keys with itself, once. [`Store::verify`] replays the stored entries through the state
//! machine and checks that they reproduce the stored state and that the index holds the
//! keys of every closed account.

use crate::entry::{BilateralId, Entry, EntryBody, RecordKey, RecordKeySet};
use crate::state::{AccountKey, Applied, BilateralState, Snapshot};
use crate::{Error, Result};
use omni_core::Hash32;
use rayon::prelude::*;
use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, Options,
    WriteBatch, WriteOptions, DB,
};
use std::collections::BTreeMap;
use std::path::Path;

const CF_ENTRIES: &str = "entries";
const CF_STATE: &str = "state";
const CF_USAGE: &str = "usage";
const CF_META: &str = "meta";

/// Layout version written to `meta`.
const SCHEMA: &[u8] = b"omni-node/1";

/// How the store writes.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// fsync the write-ahead log before a commit returns: an acknowledged entry survives
    /// a power loss, not only a process crash. On by default.
    pub sync: bool,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions { sync: true }
    }
}

/// An entry, its state and its usage-record keys, ready to be written as one batch.
pub struct PreparedCommit {
    batch: WriteBatch,
    seq: u64,
}

impl PreparedCommit {
    /// Sequence number of the entry it writes.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl std::fmt::Debug for PreparedCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreparedCommit(entry {}, {} bytes)", self.seq, self.batch.size_in_bytes())
    }
}

/// The RocksDB store of a node's bilaterals.
pub struct Store {
    db: DB,
    write: WriteOptions,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.db.path().display())
    }
}

fn entry_key(id: &BilateralId, seq: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&id.0 .0);
    k[32..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(what.to_string())
}

impl Store {
    /// Opens (or creates) a store at `path`.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        db_opts.set_max_background_jobs(2);
        db_opts.set_keep_log_file_num(4);

        // Entries: usage batches are megabytes; keep them in blob files so compaction
        // does not rewrite them.
        let mut entries = Options::default();
        entries.set_compression_type(DBCompressionType::Lz4);
        entries.set_enable_blob_files(true);
        entries.set_min_blob_size(64 * 1024);
        entries.set_blob_compression_type(DBCompressionType::Lz4);
        entries.set_write_buffer_size(64 << 20);

        // The record-id index: random 16-byte keys, point lookups that mostly miss, so
        // whole-key bloom filters in the tables and the memtable; keys are hashes, so no
        // compression.
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        table.set_whole_key_filtering(true);
        let mut usage = Options::default();
        usage.set_block_based_table_factory(&table);
        usage.set_memtable_whole_key_filtering(true);
        usage.set_memtable_prefix_bloom_ratio(0.1);
        usage.set_compression_type(DBCompressionType::None);
        usage.set_write_buffer_size(128 << 20);

        let mut small = Options::default();
        small.set_compression_type(DBCompressionType::Lz4);

        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_ENTRIES, entries),
            ColumnFamilyDescriptor::new(CF_STATE, small.clone()),
            ColumnFamilyDescriptor::new(CF_USAGE, usage),
            ColumnFamilyDescriptor::new(CF_META, small),
        ];
        let db = DB::open_cf_descriptors(&db_opts, path, cfs)?;
        let mut write = WriteOptions::default();
        write.set_sync(options.sync);
        let store = Store { db, write };
        let meta = store.cf(CF_META)?;
        match store.db.get_cf(meta, b"schema")? {
            None => store.db.put_cf_opt(meta, b"schema", SCHEMA, &store.write)?,
            Some(v) if v == SCHEMA => {}
            Some(v) => {
                return Err(corrupt(format!(
                    "store layout {:?}, this build reads {:?}",
                    String::from_utf8_lossy(&v),
                    String::from_utf8_lossy(SCHEMA)
                )))
            }
        }
        Ok(store)
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db.cf_handle(name).ok_or_else(|| corrupt(format!("column family {name} missing")))
    }

    /// Writes `entry`, the state it produced and the usage-index keys of an account it
    /// closes in one atomic, logged batch.
    pub fn commit(&self, entry: &Entry, applied: &Applied, state: &BilateralState) -> Result<()> {
        self.write(self.prepare(entry, applied, state)?)
    }

    /// The write batch [`Store::commit`] writes: built from the state right after the
    /// entry, so the (slow) write can proceed while the state moves on.
    pub fn prepare(
        &self,
        entry: &Entry,
        applied: &Applied,
        state: &BilateralState,
    ) -> Result<PreparedCommit> {
        self.prepare_encoded(entry.seq, &entry.to_bytes(), applied, state)
    }

    /// [`Store::prepare`] of entry `seq` given its canonical bytes ([`Entry::to_bytes`]).
    pub(crate) fn prepare_encoded(
        &self,
        seq: u64,
        entry: &[u8],
        applied: &Applied,
        state: &BilateralState,
    ) -> Result<PreparedCommit> {
        let id = state.id();
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_ENTRIES)?, entry_key(&id, seq), entry);
        batch.put_cf(self.cf(CF_STATE)?, id.0 .0, omni_core::encode(state.snapshot()));
        if let Some((_, keys)) = &applied.record_keys {
            let usage = self.cf(CF_USAGE)?;
            // Sorted keys (as the state machine hands them over) insert into the memtable's
            // skiplist about twice as fast as random ones.
            let sorted;
            let keys = if keys.is_sorted() {
                keys
            } else {
                sorted = {
                    let mut k = keys.clone();
                    k.sort_unstable();
                    k
                };
                &sorted
            };
            for k in keys {
                batch.put_cf(usage, k.0, []);
            }
        }
        Ok(PreparedCommit { batch, seq })
    }

    /// Writes a prepared commit: atomically, through the write-ahead log, synced if the
    /// store syncs.
    pub fn write(&self, commit: PreparedCommit) -> Result<()> {
        self.db.write_opt(commit.batch, &self.write)?;
        Ok(())
    }

    /// Ids of the bilaterals in the store.
    pub fn bilaterals(&self) -> Result<Vec<BilateralId>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_STATE)?, IteratorMode::Start) {
            let (k, _) = item?;
            let h: [u8; 32] =
                k.as_ref().try_into().map_err(|_| corrupt("state key is not 32 bytes"))?;
            out.push(BilateralId(Hash32(h)));
        }
        Ok(out)
    }

    /// The stored snapshot of a bilateral.
    pub fn snapshot(&self, id: &BilateralId) -> Result<Snapshot> {
        let bytes =
            self.db.get_cf(self.cf(CF_STATE)?, id.0 .0)?.ok_or(Error::UnknownBilateral(*id))?;
        omni_core::decode("Snapshot", &bytes).map_err(|e| corrupt(format!("state of {id}: {e}")))
    }

    /// Loads a bilateral's state: its snapshot, checked against the head entry, plus the
    /// record keys of its open usage accounts from the usage index.
    pub fn load(&self, id: &BilateralId) -> Result<BilateralState> {
        let snapshot = self.snapshot(id)?;
        let head = self.entry(id, snapshot.head.seq)?.ok_or_else(|| {
            corrupt(format!("{id}: the state's head entry {} is missing", snapshot.head.seq))
        })?;
        if head.hash() != snapshot.head.hash {
            return Err(corrupt(format!(
                "{id}: the state's head hash does not match entry {}",
                head.seq
            )));
        }
        if self.entry(id, snapshot.head.seq + 1)?.is_some() {
            return Err(corrupt(format!(
                "{id}: entry {} is stored beyond the state's head",
                snapshot.head.seq + 1
            )));
        }
        // Rebuild the record-key sets of open accounts from their usage-batch entries.
        let mut keys: BTreeMap<AccountKey, RecordKeySet> = BTreeMap::new();
        for (account, state) in snapshot.accounts.iter().filter(|(_, a)| a.is_open()) {
            let set = keys.entry(account.clone()).or_default();
            set.reserve(usize::try_from(state.records()).unwrap_or(0));
            for &seq in &state.batches {
                let entry = self
                    .entry(id, seq)?
                    .ok_or_else(|| corrupt(format!("{id}: usage batch entry {seq} is missing")))?;
                let EntryBody::UsageBatch(b) = &entry.body else {
                    return Err(corrupt(format!("{id}: entry {seq} is not a usage batch")));
                };
                let batch: Vec<RecordKey> =
                    b.records.par_iter().map(|r| RecordKey::of(id, &r.id)).collect();
                set.extend(batch);
            }
        }
        BilateralState::restore(snapshot, keys)
    }

    /// Entry `seq` of a bilateral, if stored.
    pub fn entry(&self, id: &BilateralId, seq: u64) -> Result<Option<Entry>> {
        match self.db.get_pinned_cf(self.cf(CF_ENTRIES)?, entry_key(id, seq))? {
            None => Ok(None),
            Some(b) => Entry::from_bytes(&b)
                .map(Some)
                .map_err(|e| corrupt(format!("entry {seq} of {id}: {e}"))),
        }
    }

    /// Calls `f` with each stored entry of a bilateral from `from` on, in order; returns
    /// how many there were.
    pub fn for_each_entry(
        &self,
        id: &BilateralId,
        from: u64,
        mut f: impl FnMut(Entry) -> Result<()>,
    ) -> Result<u64> {
        let start = entry_key(id, from);
        let mut expected = from;
        for item in self
            .db
            .iterator_cf(self.cf(CF_ENTRIES)?, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(&id.0 .0) {
                break;
            }
            let entry =
                Entry::from_bytes(&v).map_err(|e| corrupt(format!("entry of {id}: {e}")))?;
            if entry.seq != expected {
                return Err(corrupt(format!(
                    "{id}: entry {} stored where {expected} belongs",
                    entry.seq
                )));
            }
            expected += 1;
            f(entry)?;
        }
        Ok(expected - from)
    }

    /// The canonical bytes of a bilateral's stored entries from `from` on, as many as fit
    /// in `max_bytes` (always at least one if there is one): a batch for the wire.
    pub fn entry_batch(
        &self,
        id: &BilateralId,
        from: u64,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let start = entry_key(id, from);
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut size = 0;
        for item in self
            .db
            .iterator_cf(self.cf(CF_ENTRIES)?, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(&id.0 .0) || (!out.is_empty() && size + v.len() > max_bytes) {
                break;
            }
            size += v.len();
            out.push(v.to_vec());
        }
        Ok(out)
    }

    /// The stored entries of a bilateral from `from` on.
    pub fn entries(&self, id: &BilateralId, from: u64) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.for_each_entry(id, from, |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// For each key, whether the usage index holds it (point lookups, on all cores, that
    /// bloom filters answer for most absent keys).
    pub fn known_records(&self, keys: &[RecordKey]) -> Result<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let cf = self.cf(CF_USAGE)?;
        // Point lookups on all cores; the memtable's and the tables' bloom filters answer
        // most of them (absent keys) without touching data blocks. (RocksDB's batched
        // MultiGet measured ten times slower than this for absent keys.)
        keys.par_chunks(4096)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|k| Ok(self.db.get_pinned_cf(cf, k.0)?.is_some()))
                    .collect::<Result<Vec<bool>>>()
            })
            .collect::<Result<Vec<Vec<bool>>>>()
            .map(|v| v.concat())
    }

    /// Rebuilds a bilateral's state by replaying its stored entries through the state
    /// machine.
    pub fn replay(&self, id: &BilateralId) -> Result<BilateralState> {
        self.replay_with(id, |_| Ok(()))
    }

    fn replay_with(
        &self,
        id: &BilateralId,
        mut each: impl FnMut(&Applied) -> Result<()>,
    ) -> Result<BilateralState> {
        let mut state: Option<BilateralState> = None;
        self.for_each_entry(id, 0, |e| {
            let applied = match state.as_mut() {
                None => {
                    let (s, applied) = BilateralState::genesis(&e)?;
                    state = Some(s);
                    applied
                }
                Some(s) => s.apply(&e)?,
            };
            each(&applied)
        })?;
        state.ok_or(Error::UnknownBilateral(*id))
    }

    /// Replays the stored entries and checks that they reproduce the stored state and that
    /// the usage index holds every record of the closed accounts; returns the state digest.
    pub fn verify(&self, id: &BilateralId) -> Result<Hash32> {
        let stored = self.load(id)?;
        let replayed = self.replay_with(id, |applied| {
            if let Some((account, keys)) = &applied.record_keys {
                let missing = self.known_records(keys)?.iter().filter(|k| !**k).count();
                if missing > 0 {
                    return Err(corrupt(format!(
                        "{id}: {missing} records of {account}, closed by entry {}, are missing from the usage index",
                        applied.seq
                    )));
                }
            }
            Ok(())
        })?;
        if replayed.digest() != stored.digest() {
            return Err(Error::ReplayMismatch {
                bilateral: *id,
                entries: replayed.head().seq + 1,
                replayed: replayed.digest(),
                stored: stored.digest(),
            });
        }
        Ok(stored.digest())
    }
}
