//! RocksDB persistence of the registry.
//!
//! Column families:
//!
//! | family | key | value |
//! |---|---|---|
//! | `blocks` | height (8, BE) | canonical [`StoredBlock`]: the block, each tx's result, root |
//! | `txs` | tx hash (32) | canonical `(height, index)` of the transaction |
//! | `roots` | height (8, BE) | canonical `(block hash, state root)` |
//! | `certificates` | height (8, BE) | the consensus commit certificate of the block (opaque) |
//! | `map_txs` | order commitment (32) ‖ embargo list version (4, BE) | canonical `(height, index)` of the accepted `SubmitComplianceMap` (the map's bytes are in that block) |
//! | `meta` | `"schema"`, `"genesis"`, `"height"`, `"index:map_txs"` | layout version, [`Genesis`], last height, whether `map_txs` covers every block |
//! | one per state table ([`TABLES`]: `registry`, `members`, `nonces`, `invoices`, `anchors`, `pledges`, `cycles`, `credentials`, `credential_roots`, `embargo_lists`, `compliance_maps`, `credits`) | entry key | canonical entry |
//!
//! The state families hold the **current** state as entries; each block writes only the
//! entries it changed ([`BlockOutcome::changes`]), and `roots` keeps the state root of
//! every height, so storage grows with activity, not with `state × heights`. A block, its
//! transaction index, its state changes, its root and the new height are written in
//! **one** `WriteBatch` through the write-ahead log, synced before [`Store::commit`]
//! returns: after a crash the store holds either the whole block or none of it.
//! [`Store::load_state`] rebuilds the state from the entries and checks that its recomputed
//! root equals the stored root of the last height, so a damaged store is refused rather
//! than served.

use crate::block::{Block, BlockOutcome, Registry};
use crate::error::{Error, Result};
use crate::state::{Event, Genesis, RegistryState, StateChange, TABLES};
use crate::tx::TxHash;
use crate::verification::ProofVerifier;
use omni_core::Hash32;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

const CF_BLOCKS: &str = "blocks";
const CF_TXS: &str = "txs";
const CF_ROOTS: &str = "roots";
const CF_META: &str = "meta";
const CF_CERTIFICATES: &str = "certificates";
const CF_MAP_TXS: &str = "map_txs";

/// Set in `meta` once `map_txs` indexes every stored block (a store made before the
/// index existed is indexed when it is opened).
const MAP_INDEX_DONE: &[u8] = b"index:map_txs";

/// One stored state entry: `(table, key, value)`.
type StateEntry = (&'static str, Vec<u8>, Vec<u8>);

/// Layout version written to `meta`.
const SCHEMA: &[u8] = b"omni-registry/1";

/// RocksDB's errors as the registry's ([`Error::Store`]).
trait Stored<T> {
    fn stored(self) -> Result<T>;
}

impl<T> Stored<T> for std::result::Result<T, rocksdb::Error> {
    fn stored(self) -> Result<T> {
        self.map_err(|e| Error::Store(e.to_string()))
    }
}

/// A transaction's result as stored with its block.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StoredResult {
    /// Hash of the transaction bytes.
    pub tx_hash: TxHash,
    /// `Ok(events)` or the refusal's message.
    pub result: std::result::Result<Vec<Event>, StoredError>,
}

/// A refusal as stored: its code and message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StoredError {
    /// [`Error::code`].
    pub code: String,
    /// The error's message.
    pub message: String,
}

/// A block as stored: the block, its results, and the state root after it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StoredBlock {
    /// The block.
    pub block: Block,
    /// Its hash.
    pub block_hash: Hash32,
    /// One per transaction.
    pub results: Vec<StoredResult>,
    /// State root after the block.
    pub state_root: Hash32,
}

/// The registry's RocksDB store.
pub struct Store {
    db: DB,
    write: WriteOptions,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.db.path().display())
    }
}

fn height_key(h: u64) -> [u8; 8] {
    h.to_be_bytes()
}

fn map_key(order: &Hash32, version: u32) -> [u8; 36] {
    let mut key = [0; 36];
    key[..32].copy_from_slice(&order.0);
    key[32..].copy_from_slice(&version.to_be_bytes());
    key
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, v: &[u8]) -> Result<T> {
    omni_core::decode(what, v).map_err(|e| Error::Store(e.to_string()))
}

impl Store {
    /// Opens (creating if needed) the store in `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let families = [CF_BLOCKS, CF_TXS, CF_ROOTS, CF_META, CF_CERTIFICATES, CF_MAP_TXS]
            .into_iter()
            .chain(TABLES)
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, families).stored()?;
        let mut write = WriteOptions::default();
        write.set_sync(true);
        let store = Store { db, write };
        match store.db.get_cf(store.cf(CF_META)?, b"schema").stored()? {
            Some(v) if v != SCHEMA => {
                return Err(Error::Store(format!(
                    "{} holds layout {:?}, this build reads {:?}",
                    path.display(),
                    String::from_utf8_lossy(&v),
                    String::from_utf8_lossy(SCHEMA)
                )))
            }
            Some(_) => {}
            None => {
                store.db.put_cf_opt(store.cf(CF_META)?, b"schema", SCHEMA, &store.write).stored()?
            }
        }
        store.index_maps()?;
        Ok(store)
    }

    /// Indexes the compliance maps of blocks stored before `map_txs` existed.
    fn index_maps(&self) -> Result<()> {
        let meta = self.cf(CF_META)?;
        if self.db.get_cf(meta, MAP_INDEX_DONE).stored()?.is_some() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for row in self.db.iterator_cf(self.cf(CF_BLOCKS)?, IteratorMode::Start) {
            let (key, value) = row.stored()?;
            let height = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| Error::Store("a block key of bad length".into()))?,
            );
            let block: StoredBlock = decode("stored block", &value)?;
            let outcomes = block.results.iter().map(|r| r.result.as_ref().ok());
            self.put_map_locations(&mut batch, height, outcomes)?;
        }
        batch.put_cf(meta, MAP_INDEX_DONE, b"1");
        self.db.write_opt(batch, &self.write).stored()
    }

    /// Puts the location of each accepted `SubmitComplianceMap` among a block's outcomes.
    fn put_map_locations<'a>(
        &self,
        batch: &mut WriteBatch,
        height: u64,
        outcomes: impl Iterator<Item = Option<&'a Vec<Event>>>,
    ) -> Result<()> {
        let maps = self.cf(CF_MAP_TXS)?;
        for (i, events) in outcomes.enumerate() {
            for e in events.into_iter().flatten() {
                if let Event::ComplianceMapVerified { order, embargo_version, .. } = e {
                    batch.put_cf(
                        maps,
                        map_key(order, *embargo_version),
                        omni_core::encode(&(height, i as u32)),
                    );
                }
            }
        }
        Ok(())
    }

    /// Where the accepted `SubmitComplianceMap` of `order` under embargo list `version`
    /// is: `(height, index)`.
    pub fn map_location(&self, order: &Hash32, version: u32) -> Result<Option<(u64, u32)>> {
        self.db
            .get_cf(self.cf(CF_MAP_TXS)?, map_key(order, version))
            .stored()?
            .map(|v| decode("map location", &v))
            .transpose()
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db.cf_handle(name).ok_or_else(|| Error::Store(format!("missing column family {name}")))
    }

    /// The genesis this store was initialised with.
    pub fn genesis(&self) -> Result<Option<Genesis>> {
        self.db
            .get_cf(self.cf(CF_META)?, b"genesis")
            .stored()?
            .map(|v| Genesis::from_stored(&v))
            .transpose()
    }

    /// Height of the last stored block (0: only the genesis state).
    pub fn height(&self) -> Result<Option<u64>> {
        self.db
            .get_cf(self.cf(CF_META)?, b"height")
            .stored()?
            .map(|v| decode("height", &v))
            .transpose()
    }

    fn put_changes(&self, batch: &mut WriteBatch, changes: &[StateChange]) -> Result<()> {
        for c in changes {
            let cf = self.cf(c.table)?;
            match &c.value {
                Some(v) => batch.put_cf(cf, &c.key, v),
                None => batch.delete_cf(cf, &c.key),
            }
        }
        Ok(())
    }

    /// Writes the genesis and the genesis state (height 0), atomically. Refuses a store
    /// that is already initialised.
    pub fn init(&self, genesis: &Genesis, registry: &mut Registry) -> Result<()> {
        if let Some(stored) = self.genesis()? {
            return Err(Error::GenesisMismatch {
                stored: stored.registry_id(),
                given: genesis.registry_id(),
            });
        }
        let mut batch = WriteBatch::default();
        let meta = self.cf(CF_META)?;
        batch.put_cf(meta, b"genesis", genesis.to_stored());
        batch.put_cf(meta, b"height", omni_core::encode(&0u64));
        batch.put_cf(
            self.cf(CF_ROOTS)?,
            height_key(0),
            omni_core::encode(&(Hash32::ZERO, registry.state().state_root())),
        );
        self.put_changes(&mut batch, &registry.take_genesis_changes())?;
        self.db.write_opt(batch, &self.write).stored()?;
        Ok(())
    }

    /// Writes an executed block, its results, its state changes and its root in one
    /// atomic, synced batch.
    pub fn commit(&self, block: &Block, outcome: &BlockOutcome) -> Result<()> {
        self.commit_certified(block, outcome, None)
    }

    /// [`Store::commit`] of a block decided by consensus, with the certificate that
    /// proves the decision (served to validators that catch up), in the same batch.
    pub fn commit_certified(
        &self,
        block: &Block,
        outcome: &BlockOutcome,
        certificate: Option<&[u8]>,
    ) -> Result<()> {
        let mut batch = WriteBatch::default();
        if let Some(c) = certificate {
            batch.put_cf(self.cf(CF_CERTIFICATES)?, height_key(outcome.height), c);
        }
        let stored = StoredBlock {
            block: block.clone(),
            block_hash: outcome.block_hash,
            results: outcome
                .results
                .iter()
                .map(|r| StoredResult {
                    tx_hash: r.tx_hash,
                    result: r.result.clone().map_err(|e| StoredError {
                        code: e.code().to_string(),
                        message: e.to_string(),
                    }),
                })
                .collect(),
            state_root: outcome.state_root,
        };
        batch.put_cf(self.cf(CF_BLOCKS)?, height_key(outcome.height), omni_core::encode(&stored));
        let txs = self.cf(CF_TXS)?;
        // Whether a hash was indexed by this block, and if so at an accepted execution:
        // the batch is not visible to `get_cf`, and the same bytes may be submitted twice
        // into one block (a client resubmitting after a lost answer).
        let mut indexed: std::collections::HashMap<TxHash, bool> = std::collections::HashMap::new();
        for (i, r) in outcome.results.iter().enumerate() {
            // A transaction's bytes may appear again (a replay, refused); the index points
            // at the execution that was accepted, or the first one if none was.
            let accepted = r.result.is_ok();
            let index = match indexed.get(&r.tx_hash) {
                Some(&was_accepted) => accepted && !was_accepted,
                None => accepted || self.db.get_cf(txs, r.tx_hash.0).stored()?.is_none(),
            };
            if index {
                batch.put_cf(txs, r.tx_hash.0, omni_core::encode(&(outcome.height, i as u32)));
                indexed.insert(r.tx_hash, accepted);
            }
        }
        let outcomes = outcome.results.iter().map(|r| r.result.as_ref().ok());
        self.put_map_locations(&mut batch, outcome.height, outcomes)?;
        batch.put_cf(
            self.cf(CF_ROOTS)?,
            height_key(outcome.height),
            omni_core::encode(&(outcome.block_hash, outcome.state_root)),
        );
        batch.put_cf(self.cf(CF_META)?, b"height", omni_core::encode(&outcome.height));
        self.put_changes(&mut batch, &outcome.changes)?;
        self.db.write_opt(batch, &self.write).stored()?;
        Ok(())
    }

    /// A stored block.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>> {
        self.db
            .get_cf(self.cf(CF_BLOCKS)?, height_key(height))
            .stored()?
            .map(|v| decode("StoredBlock", &v))
            .transpose()
    }

    /// The consensus certificate stored with a block.
    pub fn certificate(&self, height: u64) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(CF_CERTIFICATES)?, height_key(height)).stored()
    }

    /// `(height, index)` of a transaction.
    pub fn tx_location(&self, hash: &TxHash) -> Result<Option<(u64, u32)>> {
        self.db
            .get_cf(self.cf(CF_TXS)?, hash.0)
            .stored()?
            .map(|v| decode("tx location", &v))
            .transpose()
    }

    /// `(block hash, state root)` at `height`.
    pub fn root_at(&self, height: u64) -> Result<Option<(Hash32, Hash32)>> {
        self.db
            .get_cf(self.cf(CF_ROOTS)?, height_key(height))
            .stored()?
            .map(|v| decode("root", &v))
            .transpose()
    }

    /// Rebuilds the state from the stored entries and checks it against the stored root
    /// of the last height. `None` if the store was never initialised.
    pub fn load_state(&self) -> Result<Option<RegistryState>> {
        let Some(height) = self.height()? else { return Ok(None) };
        let state = RegistryState::restore(self.state_entries()?)?;
        let (_, root) = self
            .root_at(height)?
            .ok_or_else(|| Error::Store(format!("no state root stored for height {height}")))?;
        if state.height() != height || state.state_root() != root {
            return Err(Error::Store(format!(
                "stored state does not match height {height}'s root {root} (rebuilt: height {}, root {})",
                state.height(),
                state.state_root()
            )));
        }
        Ok(Some(state))
    }

    /// Every state entry `(table, key, value)`.
    fn state_entries(&self) -> Result<Vec<StateEntry>> {
        let mut entries = Vec::new();
        for table in TABLES {
            for item in self.db.iterator_cf(self.cf(table)?, IteratorMode::Start) {
                let (k, v) = item.stored()?;
                entries.push((table, k.into_vec(), v.into_vec()));
            }
        }
        Ok(entries)
    }

    /// Rewrites one state entry and the last height's root to match it, as an operator —
    /// or a bug — that altered the state on disk consistently would: the store still
    /// opens, on a state no other validator has.
    #[cfg(test)]
    pub(crate) fn alter_state(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let height = self.height()?.unwrap_or(0);
        self.db.put_cf(self.cf(table)?, key, value).stored()?;
        let root = RegistryState::restore(self.state_entries()?)?.state_root();
        let (block_hash, _) = self
            .root_at(height)?
            .ok_or_else(|| Error::Store(format!("no root at height {height}")))?;
        let roots = self.cf(CF_ROOTS)?;
        self.db.put_cf(roots, height_key(height), omni_core::encode(&(block_hash, root))).stored()
    }

    /// Opens the registry this store holds, or initialises it from `genesis`. A given
    /// genesis must match the stored one.
    pub fn open_registry(
        &self,
        genesis: Option<&Genesis>,
        verifier: Arc<dyn ProofVerifier>,
    ) -> Result<Registry> {
        match (self.genesis()?, genesis) {
            (Some(stored), Some(given)) if stored != *given => Err(Error::GenesisMismatch {
                stored: stored.registry_id(),
                given: given.registry_id(),
            }),
            (Some(_), _) => {
                let state = self
                    .load_state()?
                    .ok_or_else(|| Error::Store("genesis stored without a state".into()))?;
                Ok(Registry::from_state(state, verifier))
            }
            (None, Some(given)) => {
                let mut registry = Registry::new(given, verifier)?;
                self.init(given, &mut registry)?;
                Ok(registry)
            }
            (None, None) => Err(Error::InvalidGenesis(
                "the data directory is empty and no genesis was given".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{Role, SignedTx, TxBody};
    use crate::verification::RefuseAllProofs;
    use omni_core::Keypair;

    fn genesis() -> Genesis {
        Genesis {
            name: "store-test".into(),
            time: 10,
            members: vec![(Keypair::from_seed([1; 32]).party(), Role::Admin)],
            rating_keys: None,
        }
    }

    fn admit(registry: &Registry, nonce: u64, n: u8) -> Vec<u8> {
        let body =
            TxBody::AdmitMember { member: Keypair::from_seed([n; 32]).party(), role: Role::Member };
        SignedTx::sign(&Keypair::from_seed([1; 32]), &registry.state().registry_id(), nonce, body)
            .to_bytes()
    }

    #[test]
    fn committed_blocks_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (root, tx_hash) = {
            let store = Store::open(dir.path()).unwrap();
            let mut registry =
                store.open_registry(Some(&genesis()), Arc::new(RefuseAllProofs)).unwrap();
            assert_eq!(store.height().unwrap(), Some(0));
            let genesis_root = registry.state().state_root();
            assert_eq!(store.root_at(0).unwrap().map(|r| r.1), Some(genesis_root));
            for height in 1..=3u64 {
                let txs = vec![admit(&registry, height - 1, 10 + height as u8), b"junk".to_vec()];
                let block = Block { height, time: 10 + height, txs };
                let outcome = registry.execute_block(&block).unwrap();
                store.commit(&block, &outcome).unwrap();
            }
            let tx_hash = SignedTx::hash_bytes(&admit(&registry, 1, 12));
            (registry.state().state_root(), tx_hash)
        };
        let store = Store::open(dir.path()).unwrap();
        let registry = store.open_registry(None, Arc::new(RefuseAllProofs)).unwrap();
        assert_eq!(registry.state().height(), 3);
        assert_eq!(registry.state().state_root(), root);
        assert_eq!(registry.state().members().count(), 4);
        assert_eq!(store.tx_location(&tx_hash).unwrap(), Some((2, 0)));
        let block = store.block(2).unwrap().unwrap();
        assert!(block.results[0].result.is_ok());
        assert_eq!(block.results[1].result.as_ref().unwrap_err().code, "malformed");
        assert_eq!(store.root_at(3).unwrap().map(|r| r.1), Some(root));
        // The same genesis may be given again; another one is refused.
        assert!(store.open_registry(Some(&genesis()), Arc::new(RefuseAllProofs)).is_ok());
        let other = Genesis { name: "other".into(), ..genesis() };
        assert!(matches!(
            store.open_registry(Some(&other), Arc::new(RefuseAllProofs)),
            Err(Error::GenesisMismatch { .. })
        ));
    }

    /// What a validator writes to disk for a block — stored block, results, transaction
    /// index, state rows, roots, metadata — read back raw from every column family and
    /// hashed: a change of the stored format fails here before a validator upgraded in
    /// place misreads its own store.
    #[test]
    fn the_stored_format_is_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut registry =
            store.open_registry(Some(&genesis()), Arc::new(RefuseAllProofs)).unwrap();
        let block =
            Block { height: 1, time: 11, txs: vec![admit(&registry, 0, 7), b"junk".to_vec()] };
        let outcome = registry.execute_block(&block).unwrap();
        store.commit_certified(&block, &outcome, Some(b"certificate")).unwrap();
        let mut hasher = omni_core::hash::Hasher::new("test/registry-store");
        let mut families: Vec<String> = DB::list_cf(&Options::default(), dir.path()).unwrap();
        families.sort();
        for family in &families {
            hasher.update_field(family.as_bytes());
            let cf = store.db.cf_handle(family).unwrap();
            for row in store.db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
                let (key, value) = row.unwrap();
                hasher.update_field(&key);
                hasher.update_field(&value);
            }
        }
        assert_eq!(
            hasher.finish().to_hex(),
            "0cc4a735e8aed29210669915c9447c06ad603a8b8eeb40eb3bddc2a9b6a8be9d",
            "the registry's stored format changed"
        );
    }

    /// A store written before `map_txs` existed is indexed when opened: the location of
    /// each verified map is found from the blocks' events, so `GetComplianceMap` answers
    /// for maps verified before the upgrade.
    #[test]
    fn maps_verified_before_the_index_existed_are_indexed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let order = Hash32([3; 32]);
        {
            let store = Store::open(dir.path()).unwrap();
            let results = vec![
                StoredResult {
                    tx_hash: Hash32([1; 32]),
                    result: Err(StoredError { code: "refused".into(), message: "no".into() }),
                },
                StoredResult {
                    tx_hash: Hash32([2; 32]),
                    result: Ok(vec![Event::ComplianceMapVerified {
                        order,
                        embargo_version: 4,
                        hops: 2,
                    }]),
                },
            ];
            let stored = StoredBlock {
                block: Block { height: 7, time: 70, txs: vec![vec![1], vec![2]] },
                block_hash: Hash32([7; 32]),
                results,
                state_root: Hash32([8; 32]),
            };
            let blocks = store.cf(CF_BLOCKS).unwrap();
            store.db.put_cf(blocks, height_key(7), omni_core::encode(&stored)).unwrap();
            // As a store of the earlier layout: no index, no mark.
            store.db.delete_cf(store.cf(CF_META).unwrap(), MAP_INDEX_DONE).unwrap();
            assert_eq!(store.map_location(&order, 4).unwrap(), None);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.map_location(&order, 4).unwrap(), Some((7, 1)));
        assert_eq!(store.map_location(&order, 3).unwrap(), None);
    }

    #[test]
    fn the_tx_index_points_at_the_accepted_copy_of_bytes_submitted_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut registry =
            store.open_registry(Some(&genesis()), Arc::new(RefuseAllProofs)).unwrap();
        // The same bytes twice in one block (a resubmission after a lost answer): the
        // first executes, the second is a replay; then once more in the next block.
        let tx = admit(&registry, 0, 7);
        let hash = SignedTx::hash_bytes(&tx);
        for (height, txs) in [(1u64, vec![tx.clone(), tx.clone()]), (2, vec![tx])] {
            let block = Block { height, time: 20 + height, txs };
            let outcome = registry.execute_block(&block).unwrap();
            store.commit(&block, &outcome).unwrap();
        }
        assert_eq!(store.tx_location(&hash).unwrap(), Some((1, 0)));
        let block = store.block(1).unwrap().unwrap();
        assert!(block.results[0].result.is_ok());
        assert_eq!(block.results[1].result.as_ref().unwrap_err().code, "bad_nonce");
    }

    #[test]
    fn an_empty_directory_needs_a_genesis_and_a_damaged_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert!(matches!(
                store.open_registry(None, Arc::new(RefuseAllProofs)),
                Err(Error::InvalidGenesis(_))
            ));
            store.open_registry(Some(&genesis()), Arc::new(RefuseAllProofs)).unwrap();
            // Tamper with a member entry behind the store's back.
            let cf = store.cf("members").unwrap();
            let key = Keypair::from_seed([1; 32]).party();
            let mut value = store.db.get_cf(cf, key.0).unwrap().unwrap();
            let last = value.len() - 1;
            value[last] ^= 1;
            store.db.put_cf(cf, key.0, value).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let err = store.open_registry(None, Arc::new(RefuseAllProofs)).unwrap_err();
        assert!(matches!(err, Error::Store(_)), "{err}");
    }
}
