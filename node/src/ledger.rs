//! The node-side facade: one organisation's signing key, its bilaterals' states and the
//! store.
//!
//! * Own steps: [`Ledger::append`] builds the next entry, signs it, applies it to the state
//!   machine and persists entry and state atomically; helpers such as
//!   [`Ledger::propose_contract`], [`Ledger::accept`] and [`Ledger::propose_rating`] wrap it.
//! * The counterparty's steps: [`Ledger::receive`] applies and persists an entry it signed.
//!   [`Ledger::sync_from`] pulls whatever a peer ledger has that this one lacks (the
//!   in-process stand-in for the libp2p sync).
//! * Usage: [`Ledger::ingest_tmf635_lines`] and [`Ledger::ingest_usage`] parse (in
//!   parallel), drop records whose id was already recorded — in the same input, in an open
//!   usage account, or in the store's record-id index — count them, and append the rest as
//!   usage-batch entries of at most [`LedgerOptions::batch_records`] records.
//!
//! If the store fails after the state machine accepted an entry, the in-memory state is
//! reloaded from the store, so memory never runs ahead of what was acknowledged.

use crate::contract::Contract;
use crate::entry::{
    Accept, BilateralId, Entry, EntryBody, GenerateInvoice, RatingProposal, RecordKey,
    RecordKeyHasher, RecordKeySet, Reject, UsageBatch,
};
use crate::rating_proof::{self, LedgerRating};
use crate::state::{Applied, BilateralState, Subject};
use crate::store::{Store, StoreOptions};
use crate::usage_file::{parse_usage_file, RefusedLine, UsageFormat};
use crate::{Error, Refusal, Result};
use omni_circuits::compliance::{ComplianceMap, ComplianceVerifier};
use omni_core::{Hash32, IntervalId, Keypair, PartyId, UsageRecord};
use omni_verifier::RatingVerifier;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use omni_core::Clock;

/// How a [`Ledger`] runs.
#[derive(Clone, Debug)]
pub struct LedgerOptions {
    /// Store options (sync on by default).
    pub store: StoreOptions,
    /// Where timestamps come from.
    pub clock: Clock,
    /// Most records per usage-batch entry the ingest path writes.
    pub batch_records: usize,
    /// Verifying keys of rating proofs. Without them, rating proof entries are refused:
    /// this node cannot check them.
    pub rating_verifier: Option<Arc<RatingVerifier>>,
    /// Refuse to accept an Option 1 invoice until its seller has attached a verified
    /// rating proof ([`crate::rating_proof`]).
    pub require_rating_proofs: bool,
}

impl Default for LedgerOptions {
    fn default() -> LedgerOptions {
        LedgerOptions {
            store: StoreOptions::default(),
            clock: Clock::System,
            batch_records: 100_000,
            rating_verifier: None,
            require_rating_proofs: false,
        }
    }
}

/// What an ingest did.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct IngestReport {
    /// Records handed in.
    pub received: usize,
    /// Records appended (rated once each).
    pub accepted: usize,
    /// Records dropped because their id was already recorded or repeated in the input.
    pub duplicates: usize,
    /// Sequence numbers of the usage-batch entries appended.
    pub entries: Vec<u64>,
}

/// What a usage file import did ([`Ledger::import_usage_file`]).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FileImportReport {
    /// Records read (good and refused lines).
    pub received: usize,
    /// Records appended.
    pub accepted: usize,
    /// Records dropped as already recorded or repeated in the file.
    pub duplicates: usize,
    /// Lines refused, in file order, with why.
    pub refused: Vec<RefusedLine>,
    /// Sequence numbers of the usage-batch entries appended.
    pub entries: Vec<u64>,
}

/// One organisation's bilateral ledger node.
pub struct Ledger {
    store: Store,
    signer: Keypair,
    options: LedgerOptions,
    states: BTreeMap<BilateralId, BilateralState>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Ledger({:?}, {} bilaterals, {:?})",
            self.signer.party(),
            self.states.len(),
            self.store
        )
    }
}

impl Ledger {
    /// Opens the ledger stored at `path` (creating it if needed) with `signer` as this
    /// node's signing key, loading every stored bilateral.
    pub fn open(path: impl AsRef<Path>, signer: Keypair, options: LedgerOptions) -> Result<Ledger> {
        let store = Store::open(path, options.store)?;
        let mut states = BTreeMap::new();
        for id in store.bilaterals()? {
            states.insert(id, store.load(&id)?);
        }
        Ok(Ledger { store, signer, options, states })
    }

    /// This node's signing key.
    pub fn key(&self) -> PartyId {
        self.signer.party()
    }

    /// Whether this node holds rating verifying keys, without which it can neither check
    /// nor accept an Option 1 invoice's rating proof.
    pub fn verifies_rating_proofs(&self) -> bool {
        self.options.rating_verifier.is_some()
    }

    /// The clock entries are stamped with.
    pub fn clock(&self) -> &Clock {
        &self.options.clock
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The hash of entry `seq` of bilateral `id`, which must hold it: how the ledger's
    /// documents are referred to on the registry.
    pub fn entry_hash(&self, id: &BilateralId, seq: u64) -> Result<Hash32> {
        let entry = self.store.entry(id, seq)?;
        entry
            .map(|e| e.hash())
            .ok_or_else(|| Error::Corrupt(format!("bilateral {id} holds no entry {seq}")))
    }

    /// Ids of the bilaterals held.
    pub fn bilaterals(&self) -> Vec<BilateralId> {
        self.states.keys().copied().collect()
    }

    /// The state of a bilateral.
    pub fn state(&self, id: &BilateralId) -> Result<&BilateralState> {
        self.states.get(id).ok_or(Error::UnknownBilateral(*id))
    }

    /// The party this node signs for in bilateral `id`.
    pub fn party(&self, id: &BilateralId) -> Result<PartyId> {
        let c = self.state(id)?.contract();
        c.signatory_party(&self.key())
            .map(|i| c.parties[i].id)
            .ok_or(Error::NotOurBilateral { bilateral: *id, key: self.key() })
    }

    /// Proposes a contract: signs its genesis entry and creates the bilateral (pending
    /// until the counterparty accepts). The bilateral's id is the entry's hash.
    pub fn propose_contract(&mut self, contract: Contract) -> Result<Entry> {
        let at = self.options.clock.now();
        let entry = Entry::sign(
            &self.signer,
            BilateralId::GENESIS,
            0,
            Hash32::ZERO,
            at,
            EntryBody::Contract(contract),
        );
        self.receive(&entry)?;
        Ok(entry)
    }

    /// Applies and persists an entry signed elsewhere (the counterparty's, or a genesis
    /// entry proposing a contract to this node).
    pub fn receive(&mut self, entry: &Entry) -> Result<Applied> {
        if entry.seq == 0 && entry.bilateral == BilateralId::GENESIS {
            let (state, applied) = BilateralState::genesis(entry)?;
            let id = state.id();
            if self.states.contains_key(&id) {
                return Err(Error::DuplicateBilateral(id));
            }
            if state.contract().signatory_party(&self.key()).is_none() {
                return Err(Error::NotOurBilateral { bilateral: id, key: self.key() });
            }
            self.store.commit(entry, &applied, &state)?;
            self.states.insert(id, state);
            return Ok(applied);
        }
        let id = entry.bilateral;
        self.check_rating_proof(&id, &entry.body)?;
        self.check_supply_chain_map(&entry.body)?;
        let state = self.states.get_mut(&id).ok_or(Error::UnknownBilateral(id))?;
        let applied = state.apply(entry)?;
        self.persist(&id, entry, &applied)?;
        Ok(applied)
    }

    fn persist(&mut self, id: &BilateralId, entry: &Entry, applied: &Applied) -> Result<()> {
        let state = self.states.get(id).ok_or(Error::UnknownBilateral(*id))?;
        if let Err(e) = self.store.commit(entry, applied, state) {
            // Memory must not run ahead of the store: go back to what it acknowledged.
            match self.store.load(id) {
                Ok(s) => {
                    self.states.insert(*id, s);
                }
                Err(_) => {
                    self.states.remove(id);
                }
            }
            tracing::error!(bilateral = %id, seq = entry.seq, error = %e, "store refused a commit");
            return Err(e);
        }
        tracing::debug!(bilateral = %id, seq = entry.seq, kind = entry.body.kind(), event = ?applied.event, "entry stored");
        Ok(())
    }

    /// Builds, signs, applies and persists the next entry of bilateral `id`.
    pub fn append(&mut self, id: &BilateralId, body: EntryBody) -> Result<Entry> {
        self.append_known(id, body, None)
    }

    /// [`Ledger::append`] with the keys of a usage batch's records already computed.
    fn append_known(
        &mut self,
        id: &BilateralId,
        body: EntryBody,
        keys: Option<Vec<RecordKey>>,
    ) -> Result<Entry> {
        self.check_rating_proof(id, &body)?;
        self.check_supply_chain_map(&body)?;
        let state = self.states.get_mut(id).ok_or(Error::UnknownBilateral(*id))?;
        let head = state.head();
        let at = self.options.clock.now().max(head.timestamp);
        let (entry, hash) =
            Entry::sign_hashed(&self.signer, *id, head.seq + 1, head.hash, at, body);
        let applied = state.apply_known(&entry, Some(hash), keys)?;
        self.persist(id, &entry, &applied)?;
        Ok(entry)
    }

    /// Verifies the proof of a rating proof entry against this ledger's own claim
    /// ([`crate::rating_proof`]) before the entry may be applied; other bodies pass.
    fn check_rating_proof(&self, id: &BilateralId, body: &EntryBody) -> Result<()> {
        let EntryBody::RatingProof(attachment) = body else {
            return Ok(());
        };
        let verifier = self.options.rating_verifier.as_ref().ok_or_else(|| Error::RatingProof {
            invoice: attachment.invoice.clone(),
            reason: "this node has no rating verifying keys to check it with".into(),
        })?;
        let state = self.state(id)?;
        let claim = rating_proof::ledger_rating(&self.store, id, state, &attachment.invoice)?;
        rating_proof::check_attachment(verifier, &claim, attachment)
    }

    /// Verifies the hop proofs of a supply-chain map entry before it may be applied (the
    /// state machine checks the rest; the registry checks the map against its credential
    /// root and embargo list). halo2 needs no keys: the verifier is derived in process.
    fn check_supply_chain_map(&self, body: &EntryBody) -> Result<()> {
        let EntryBody::SupplyChainMap(record) = body else {
            return Ok(());
        };
        let refuse = |reason: String| Error::SupplyChainMap { order: record.order.clone(), reason };
        let map = ComplianceMap::from_bytes(&record.map).map_err(|e| refuse(e.to_string()))?;
        ComplianceVerifier::shared()
            .and_then(|v| v.verify_hops(&map.hops))
            .map_err(|e| refuse(e.to_string()))
    }

    /// The rating proof attached to `invoice` (both nodes verified it before storing it),
    /// if there is one.
    pub fn rating_proof(
        &self,
        id: &BilateralId,
        invoice: &str,
    ) -> Result<Option<crate::entry::RatingProofAttachment>> {
        let state = self.state(id)?;
        let Some(inv) = state.invoice(invoice).filter(|i| i.rating_proof.is_some()) else {
            return Ok(None);
        };
        for seq in inv.seq + 1..=state.head().seq {
            if let Some(EntryBody::RatingProof(a)) = self.store.entry(id, seq)?.map(|e| e.body) {
                if a.invoice == invoice {
                    return Ok(Some(a));
                }
            }
        }
        Ok(None)
    }

    /// The ledger's claim for `invoice`'s rating proof: what its seller proves.
    pub fn ledger_rating(&self, id: &BilateralId, invoice: &str) -> Result<LedgerRating> {
        rating_proof::ledger_rating(&self.store, id, self.state(id)?, invoice)
    }

    /// Accepts the pending entry `seq` (this node must sign for its counterparty).
    pub fn accept(&mut self, id: &BilateralId, seq: u64) -> Result<Entry> {
        if self.options.require_rating_proofs {
            let state = self.state(id)?;
            if let Some(Subject::Invoice(number)) =
                state.pending().find(|p| p.seq == seq).map(|p| &p.subject)
            {
                match state.invoice(number) {
                    Some(inv) if !inv.generated && inv.rating_proof.is_none() => {
                        return Err(Error::RatingProof {
                            invoice: number.clone(),
                            reason: "no verified rating proof is attached; the seller must \
                                     attach one before the invoice can be accepted"
                                .into(),
                        })
                    }
                    _ => {}
                }
            }
        }
        let entry_hash = self.pending_hash(id, seq)?;
        self.append(id, EntryBody::Accept(Accept { entry_seq: seq, entry_hash }))
    }

    /// Rejects the pending entry `seq`.
    pub fn reject(&mut self, id: &BilateralId, seq: u64, reason: &str) -> Result<Entry> {
        let entry_hash = self.pending_hash(id, seq)?;
        self.append(
            id,
            EntryBody::Reject(Reject { entry_seq: seq, entry_hash, reason: reason.to_string() }),
        )
    }

    fn pending_hash(&self, id: &BilateralId, seq: u64) -> Result<Hash32> {
        let state = self.state(id)?;
        state.pending().find(|p| p.seq == seq).map(|p| p.hash).ok_or(Error::Refused {
            seq: state.head().seq + 1,
            kind: "acceptance",
            reason: Refusal::NotPending(seq),
        })
    }

    /// Proposes the rating of `order` in `interval` as the ledger computes it from the
    /// recorded usage (this node must sign for the order's seller).
    pub fn propose_rating(
        &mut self,
        id: &BilateralId,
        order: &str,
        interval: &IntervalId,
    ) -> Result<Entry> {
        let state = self.state(id)?;
        let rating = state.expected_rating(order, interval).map_err(|reason| Error::Refused {
            seq: state.head().seq + 1,
            kind: "rating",
            reason,
        })?;
        self.append(
            id,
            EntryBody::Rating(RatingProposal {
                order: order.to_string(),
                interval: interval.clone(),
                rating,
            }),
        )
    }

    /// MEF 114 Option 2: asks the ledger to generate the invoice of an agreed rating.
    pub fn generate_invoice(
        &mut self,
        id: &BilateralId,
        number: &str,
        order: &str,
        interval: &IntervalId,
    ) -> Result<Entry> {
        self.append(
            id,
            EntryBody::GenerateInvoice(GenerateInvoice {
                number: number.to_string(),
                order: order.to_string(),
                interval: interval.clone(),
            }),
        )
    }

    /// Parses TMF635 JSON usage records (one object per line, in parallel) and ingests
    /// them into `order`'s usage in `interval`; see [`Ledger::ingest_usage`]. A line that
    /// does not parse or validate refuses the whole input, naming the line.
    pub fn ingest_tmf635_lines(
        &mut self,
        id: &BilateralId,
        order: &str,
        interval: &IntervalId,
        lines: &[&str],
    ) -> Result<IngestReport> {
        // Parsed straight into the two vectors ingest works on (no vector of results in
        // between); a line that fails leaves a hole, and is parsed again for its error.
        let (mut parsed, mut keys) = (Vec::new(), Vec::new());
        lines
            .par_iter()
            .with_min_len(1024)
            .map(|l| match UsageRecord::from_tmf635_json(l) {
                Ok(r) => {
                    let k = RecordKey::of(id, &r.id);
                    (Some(r), k)
                }
                Err(_) => (None, RecordKey([0; 16])),
            })
            .unzip_into_vecs(&mut parsed, &mut keys);
        if let Some(index) = parsed.iter().position(Option::is_none) {
            let source = match UsageRecord::from_tmf635_json(lines[index]) {
                Err(e) => e,
                Ok(_) => unreachable!("parsing is deterministic"),
            };
            return Err(Error::Usage { index, source });
        }
        // Every slot is filled: this drops the `Option`s in place, reusing the allocation.
        let records: Vec<UsageRecord> = parsed.into_iter().flatten().collect();
        self.ingest_keyed(id, order, interval, records, keys)
    }

    /// Imports a usage file (CSV or NDJSON, [`crate::usage_file`]) into `order`'s usage in
    /// `interval`: every line is checked on its own, each refused line is reported with
    /// its line number, field and reason, and the good lines are ingested as
    /// [`Ledger::ingest_usage`] does (duplicates counted, not appended). Faults of the
    /// whole file or of the whole import (an order that is not this node's to bill, an
    /// interval already rated) refuse it, and nothing is appended.
    pub fn import_usage_file(
        &mut self,
        id: &BilateralId,
        order: &str,
        interval: &IntervalId,
        format: UsageFormat,
        bytes: &[u8],
    ) -> Result<FileImportReport> {
        let parsed =
            parse_usage_file(format, bytes).map_err(|e| Error::UsageFile(e.to_string()))?;
        let party = self.party(id)?;
        let state = self.state(id)?;
        let (lines, records): (Vec<usize>, Vec<UsageRecord>) = parsed.records.into_iter().unzip();
        let checks = state.check_usage_records(order, interval, party, &records, &lines).map_err(
            |reason| Error::Refused { seq: state.head().seq + 1, kind: "usage import", reason },
        )?;
        let mut refused = parsed.refused;
        let mut good = Vec::with_capacity(records.len());
        for ((line, record), check) in lines.iter().zip(records).zip(checks) {
            let line = *line;
            match check {
                None => good.push(record),
                Some(reason) => refused.push(RefusedLine {
                    line,
                    field: reason.field().map(str::to_string),
                    reason: reason.to_string(),
                }),
            }
        }
        refused.sort_by_key(|r| r.line);
        let ingest = if good.is_empty() {
            IngestReport::default()
        } else {
            self.ingest_usage(id, order, interval, good)?
        };
        Ok(FileImportReport {
            received: ingest.received + refused.len(),
            accepted: ingest.accepted,
            duplicates: ingest.duplicates,
            refused,
            entries: ingest.entries,
        })
    }

    /// Ingests usage records into `order`'s usage in `interval`. Records whose id was
    /// already recorded (repeated in `records`, in an open usage account, or in the store's
    /// record-id index) are dropped and counted as duplicates — a record sent twice is rated
    /// once. The rest are checked as a whole (a bad record refuses the whole input and
    /// nothing is appended) and appended as usage-batch entries; the call returns once they
    /// are durably stored.
    pub fn ingest_usage(
        &mut self,
        id: &BilateralId,
        order: &str,
        interval: &IntervalId,
        records: Vec<UsageRecord>,
    ) -> Result<IngestReport> {
        let keys =
            records.par_iter().with_min_len(1024).map(|r| RecordKey::of(id, &r.id)).collect();
        self.ingest_keyed(id, order, interval, records, keys)
    }

    fn ingest_keyed(
        &mut self,
        id: &BilateralId,
        order: &str,
        interval: &IntervalId,
        records: Vec<UsageRecord>,
        keys: Vec<RecordKey>,
    ) -> Result<IngestReport> {
        let party = self.party(id)?;
        let state = self.state(id)?;
        let received = records.len();
        // Within the input (the first of equal keys is kept): inserts into sets whose hash
        // is a multiply — cheaper than sorting the keys — one set per core, each taking the
        // keys of its share (by a key byte the hash does not use), in input order.
        let mut keep = vec![true; received];
        let shares = rayon::current_num_threads().clamp(1, 256);
        let repeats: Vec<Vec<usize>> = (0..shares)
            .into_par_iter()
            .map(|share| {
                let mut seen = RecordKeySet::with_capacity_and_hasher(
                    received / shares + received / 64 + 16,
                    RecordKeyHasher::default(),
                );
                let mine =
                    keys.iter().enumerate().filter(|(_, k)| usize::from(k.0[15]) % shares == share);
                mine.filter_map(|(i, k)| (!seen.insert(*k)).then_some(i)).collect()
            })
            .collect();
        for i in repeats.into_iter().flatten() {
            keep[i] = false;
        }
        // …against open accounts (in memory)…
        for (keep, open) in keep.iter_mut().zip(state.has_open_records(&keys)) {
            *keep &= !open;
        }
        // …then against the store's index, which only adds the keys of closed accounts
        // (earlier intervals, agreed ratings) to what memory holds.
        if state.closed_records() > 0 {
            let candidates: Vec<usize> = (0..received).filter(|&i| keep[i]).collect();
            let lookup: Vec<RecordKey> = candidates.iter().map(|&i| keys[i]).collect();
            for (&i, known) in candidates.iter().zip(self.store.known_records(&lookup)?) {
                if known {
                    keep[i] = false;
                }
            }
        }
        // Drop the duplicates in place: no second copy of the records.
        let (mut fresh, mut fresh_keys) = (records, keys);
        let mut kept = keep.iter();
        fresh.retain(|_| kept.next().copied().unwrap_or(false));
        let mut kept = keep.iter();
        fresh_keys.retain(|_| kept.next().copied().unwrap_or(false));
        let mut report = IngestReport {
            received,
            accepted: fresh.len(),
            duplicates: received - fresh.len(),
            entries: Vec::new(),
        };
        if fresh.is_empty() {
            return Ok(report);
        }
        // All or nothing: check every record before the first batch is appended.
        state.check_usage(order, interval, party, &fresh).map_err(|reason| Error::Refused {
            seq: state.head().seq + 1,
            kind: "usage batch",
            reason,
        })?;
        let per_batch = self.options.batch_records.clamp(1, crate::state::MAX_BATCH_RECORDS);
        report.entries = self.append_usage(id, order, interval, fresh, fresh_keys, per_batch)?;
        tracing::debug!(
            bilateral = %id,
            order,
            interval = %interval,
            received = report.received,
            accepted = report.accepted,
            duplicates = report.duplicates,
            "usage ingested"
        );
        Ok(report)
    }

    /// Appends `records` (with their keys) as usage batches of at most `per_batch`
    /// records, pipelined: while batch *i* is written (and synced), batch *i + 1* is cut
    /// from the input, signed, applied and prepared. Returns once every batch is written.
    fn append_usage(
        &mut self,
        id: &BilateralId,
        order: &str,
        interval: &IntervalId,
        records: Vec<UsageRecord>,
        keys: Vec<RecordKey>,
        per_batch: usize,
    ) -> Result<Vec<u64>> {
        let Ledger { store, signer, options, states } = self;
        let state = states.get_mut(id).ok_or(Error::UnknownBilateral(*id))?;
        let batches = records.len().div_ceil(per_batch);
        let mut seqs = Vec::with_capacity(batches);
        let (mut records, mut keys) = (records.into_iter(), keys.into_iter());
        let mut in_flight: Option<crate::store::PreparedCommit> = None;
        let mut failure = None;
        for _ in 0..batches {
            let mut next = |state: &mut BilateralState| {
                // Each record is moved once, into its batch.
                let body = EntryBody::UsageBatch(UsageBatch {
                    order: order.to_string(),
                    interval: interval.clone(),
                    records: records.by_ref().take(per_batch).collect(),
                });
                let keys = keys.by_ref().take(per_batch).collect();
                let head = state.head();
                let at = options.clock.now().max(head.timestamp);
                let (entry, hash, bytes) =
                    Entry::sign_encoded(signer, *id, head.seq + 1, head.hash, at, body);
                let applied = state.apply_known(&entry, Some(hash), Some(keys))?;
                store.prepare_encoded(entry.seq, &bytes, &applied, state)
            };
            let (written, prepared) = match in_flight.take() {
                Some(p) => rayon::join(|| store.write(p), || next(state)),
                None => (Ok(()), next(state)),
            };
            match (written, prepared) {
                (Ok(()), Ok(p)) => {
                    seqs.push(p.seq());
                    in_flight = Some(p);
                }
                (Err(e), _) | (Ok(()), Err(e)) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let (None, Some(p)) = (&failure, in_flight) {
            failure = store.write(p).err();
        }
        match failure {
            None => Ok(seqs),
            Some(e) => {
                // Memory must not run ahead of the store: go back to what it acknowledged.
                *state = store.load(id)?;
                Err(e)
            }
        }
    }

    /// Stored entries of bilateral `id` from `from` on (what a counterparty pulls).
    pub fn entries(&self, id: &BilateralId, from: u64) -> Result<Vec<Entry>> {
        self.store.entries(id, from)
    }

    /// Pulls and applies every entry of bilateral `id` that `peer` holds and this node does
    /// not; returns how many. (The in-process stand-in for the libp2p pull by sequence
    /// number.)
    pub fn sync_from(&mut self, peer: &Ledger, id: &BilateralId) -> Result<usize> {
        let from = match self.states.get(id) {
            Some(s) => s.head().seq + 1,
            None => 0,
        };
        let mut n = 0;
        peer.store.for_each_entry(id, from, |e| {
            self.receive(&e)?;
            n += 1;
            Ok(())
        })?;
        Ok(n)
    }

    /// Replays bilateral `id`'s stored entries and checks they reproduce both the stored
    /// and the in-memory state; returns the state digest.
    pub fn verify(&self, id: &BilateralId) -> Result<Hash32> {
        let digest = self.store.verify(id)?;
        let memory = self.state(id)?.digest();
        if digest != memory {
            return Err(Error::ReplayMismatch {
                bilateral: *id,
                entries: self.state(id)?.head().seq + 1,
                replayed: digest,
                stored: memory,
            });
        }
        Ok(digest)
    }
}
