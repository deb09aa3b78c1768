//! Ledger entries: the signed links of a bilateral's hash chain.
//!
//! An [`Entry`] carries the bilateral's id, its sequence number, the hash of the previous
//! entry, the author's key, a timestamp and an [`EntryBody`]. Its hash is
//! `H("omni/entry", canonical(unsigned part))`; the author signs that hash under the domain
//! tag `"omni/entry"`. The id of a bilateral is the hash of its genesis entry (the
//! contract), which itself names the all-zero [`BilateralId::GENESIS`].

use crate::contract::{Contract, Order};
use crate::invoice::{CreditNote, Dispute, DisputeResolution, FinalInvoice, Invoice};
use crate::settlement::{CycleNetting, Netting, PaymentNotice, PaymentReceipt};
use omni_core::rating::Rating;
use omni_core::{Hash32, IntervalId, Keypair, PartyId, Signature, UsageRecord};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Domain tag of entry hashes and signatures.
pub const ENTRY_TAG: &str = "omni/entry";

/// A bilateral's id: the hash of its genesis (contract) entry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BilateralId(pub Hash32);

impl BilateralId {
    /// The placeholder a genesis entry names, since its own hash is not yet known.
    pub const GENESIS: BilateralId = BilateralId(Hash32::ZERO);
}

impl fmt::Debug for BilateralId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BilateralId({})", self.0.short())
    }
}

impl fmt::Display for BilateralId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

/// The 16-byte key a usage record id is deduplicated by: the first half of
/// `H("omni/usage-record-id", bilateral ‖ id)` — record ids are unique within a bilateral,
/// and the key is unique across the bilaterals of a store.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct RecordKey(pub [u8; 16]);

impl std::hash::Hash for RecordKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The key is already uniform hash output: eight bytes of it place it in a table.
        let mut half = [0u8; 8];
        half.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(half));
    }
}

/// A set of record keys, hashed with [`RecordKeyHasher`].
pub type RecordKeySet = std::collections::HashSet<RecordKey, RecordKeyHasher>;

/// Builds the hasher of [`RecordKeySet`]s: one keyed folded multiply over the key's first
/// eight bytes instead of SipHash over all sixteen. The per-process random key keeps a
/// counterparty from grinding record ids that pile into one bucket.
#[derive(Clone, Copy, Debug)]
pub struct RecordKeyHasher(u64);

impl Default for RecordKeyHasher {
    fn default() -> RecordKeyHasher {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x6f6d_6e69);
        RecordKeyHasher(h.finish())
    }
}

impl std::hash::BuildHasher for RecordKeyHasher {
    type Hasher = KeyedMultiply;
    fn build_hasher(&self) -> KeyedMultiply {
        KeyedMultiply(self.0)
    }
}

/// The hasher [`RecordKeyHasher`] builds.
#[derive(Clone, Copy, Debug)]
pub struct KeyedMultiply(u64);

impl std::hash::Hasher for KeyedMultiply {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        let p = u128::from(v ^ self.0) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl RecordKey {
    /// The key of record id `id` in bilateral `bilateral`.
    pub fn of(bilateral: &BilateralId, id: &str) -> RecordKey {
        let mut hasher = omni_core::hash::Hasher::new("omni/usage-record-id");
        hasher.update(&bilateral.0 .0);
        hasher.update(id.as_bytes());
        let h = hasher.finish();
        let mut k = [0u8; 16];
        k.copy_from_slice(&h.0[..16]);
        RecordKey(k)
    }

    /// The key as a number, for order-independent sums.
    pub fn as_u128(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }
}

/// Usage records of one order in one billing interval (event billing, MEF 114 R63–R64).
/// Posted by the order's seller; rated by the ledger as they arrive.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UsageBatch {
    /// The order the usage is billed under.
    pub order: String,
    /// The billing interval every record's `usageDate` lies in.
    pub interval: IntervalId,
    /// The records; each id at most once in the bilateral's open intervals.
    pub records: Vec<UsageRecord>,
}

/// The seller's rating of an order's billing interval (MEF 114 R62, R65). The ledger
/// re-rates its own usage totals and refuses a difference; the buyer's acceptance makes
/// it the agreed rating (R66–R67).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RatingProposal {
    /// The order.
    pub order: String,
    /// The billing interval.
    pub interval: IntervalId,
    /// The rating.
    pub rating: Rating,
}

/// MEF 114 Option 2: the seller asks the ledger to generate the invoice of an agreed
/// rating ([`crate::invoice::invoice_from_rating`]).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GenerateInvoice {
    /// Invoice number to give it.
    pub number: String,
    /// The order.
    pub order: String,
    /// The billing interval.
    pub interval: IntervalId,
}

/// The counterparty's signed acceptance of a pending two-party change (MEF 114 R30,
/// CR17–CR20).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Accept {
    /// Sequence number of the pending entry.
    pub entry_seq: u64,
    /// Its hash: the acceptance is bound to exactly that content.
    pub entry_hash: Hash32,
}

/// The counterparty's signed rejection of a pending two-party change (MEF 114 CR17).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Reject {
    /// Sequence number of the pending entry.
    pub entry_seq: u64,
    /// Its hash.
    pub entry_hash: Hash32,
    /// Why.
    pub reason: String,
}

/// Termination of the contract by either party: no new orders or usage; what is open is
/// still rated, invoiced and settled.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Termination {
    /// Why.
    pub reason: String,
}

/// The rating proof of a seller-issued invoice (MEF 114 §7.7 Option 1, CR3/CR5, D10):
/// a zero-knowledge proof that the invoice's total is the agreed tariff's rating of the
/// interval's usage, with the opening of the total's Pedersen commitment so the buyer can
/// check that the committed amount is the invoiced one. The same bundle and commitment go
/// to the registry with the invoice (`SubmitInvoice`), which learns neither.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RatingProofAttachment {
    /// The invoice number.
    pub invoice: String,
    /// The proof bundle (`omni_circuits::bundle::RatingProofBundle::to_bytes`).
    pub bundle: Vec<u8>,
    /// The blinding of the total's commitment (a Baby Jubjub scalar, 32 bytes LE).
    pub blinding: [u8; 32],
}

/// The supply-chain map of an order (MEF 114 R15): one halo2 hop proof per participant
/// behind the order, seller first, none revealing who it is. The seller records it on the
/// bilateral, so the buyer holds the map whose commitment the registry verifies; a
/// regulator checks it with `omni verify compliance`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SupplyChainMapRecord {
    /// The order id.
    pub order: String,
    /// The map (`omni_circuits::compliance::ComplianceMap::to_bytes`), whose order
    /// commitment must be [`supply_chain_order_id`] of this bilateral and order.
    pub map: Vec<u8>,
}

/// The 32-byte order id a supply-chain map is bound to: a domain-separated hash of the
/// bilateral and the order id, so a map made for one order fits no other.
pub fn supply_chain_order_id(bilateral: &BilateralId, order: &str) -> [u8; 32] {
    Hash32::digest("omni/supply-chain-order", &omni_core::encode(&(bilateral.0, order))).0
}

/// What an entry does.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum EntryBody {
    /// Genesis: the contract (two-party; pending until accepted).
    Contract(Contract),
    /// An order (two-party, R4–R8).
    Order(Order),
    /// Usage records (seller).
    UsageBatch(UsageBatch),
    /// A rating proposal (seller; two-party, R66–R67).
    Rating(RatingProposal),
    /// Option 1: a seller-issued invoice, validated against the agreed rating.
    Invoice(Invoice),
    /// Option 2: an invoice generated by the ledger from the agreed rating.
    GenerateInvoice(GenerateInvoice),
    /// Acceptance of a pending entry by the counterparty.
    Accept(Accept),
    /// Rejection of a pending entry by the counterparty.
    Reject(Reject),
    /// A dispute of invoice items (buyer, CR21).
    Dispute(Dispute),
    /// A dispute resolution (two-party, R76–R80).
    DisputeResolution(DisputeResolution),
    /// A reconciled invoice (seller; two-party, R78–R81).
    FinalInvoice(FinalInvoice),
    /// A credit note (issuer; two-party, D21).
    CreditNote(CreditNote),
    /// A payment notice (payer, R87–R88).
    PaymentNotice(PaymentNotice),
    /// A payment receipt (payee, R89).
    PaymentReceipt(PaymentReceipt),
    /// A bilateral netting proposal (two-party, §8.6.3).
    Netting(Netting),
    /// Termination of the contract (either party).
    Termination(Termination),
    /// Option 1: the rating proof of a seller-issued invoice (seller; MEF 114 §7.7, CR3).
    RatingProof(RatingProofAttachment),
    /// The supply-chain map of an agreed order (seller; MEF 114 R15).
    SupplyChainMap(SupplyChainMapRecord),
    /// The result of an omni-lateral netting cycle on this bilateral (two-party, CR22).
    CycleNetting(CycleNetting),
}

impl EntryBody {
    /// Short name of the body's kind, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            EntryBody::Contract(_) => "contract",
            EntryBody::Order(_) => "order",
            EntryBody::UsageBatch(_) => "usage batch",
            EntryBody::Rating(_) => "rating",
            EntryBody::Invoice(_) => "invoice",
            EntryBody::GenerateInvoice(_) => "generated invoice",
            EntryBody::Accept(_) => "acceptance",
            EntryBody::Reject(_) => "rejection",
            EntryBody::Dispute(_) => "dispute",
            EntryBody::DisputeResolution(_) => "dispute resolution",
            EntryBody::FinalInvoice(_) => "final invoice",
            EntryBody::CreditNote(_) => "credit note",
            EntryBody::PaymentNotice(_) => "payment notice",
            EntryBody::PaymentReceipt(_) => "payment receipt",
            EntryBody::Netting(_) => "netting",
            EntryBody::Termination(_) => "termination",
            EntryBody::RatingProof(_) => "rating proof",
            EntryBody::SupplyChainMap(_) => "supply-chain map",
            EntryBody::CycleNetting(_) => "netting cycle result",
        }
    }
}

/// One signed link of a bilateral's hash chain.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The bilateral ([`BilateralId::GENESIS`] in the genesis entry).
    pub bilateral: BilateralId,
    /// Sequence number: 0 for the genesis entry, then head + 1.
    pub seq: u64,
    /// Hash of the previous entry ([`Hash32::ZERO`] for the genesis entry).
    pub prev: Hash32,
    /// Key of the signatory who wrote it.
    pub author: PartyId,
    /// When it was written, UTC seconds; never before its predecessor.
    pub timestamp: u64,
    /// What it does.
    pub body: EntryBody,
    /// The author's signature over [`Entry::hash`] under [`ENTRY_TAG`].
    pub signature: Signature,
}

/// The unsigned part of an entry, borrowed: what is hashed.
#[derive(Serialize)]
struct Unsigned<'a> {
    bilateral: &'a BilateralId,
    seq: u64,
    prev: &'a Hash32,
    author: &'a PartyId,
    timestamp: u64,
    body: &'a EntryBody,
}

impl Entry {
    /// Builds and signs an entry.
    pub fn sign(
        keypair: &Keypair,
        bilateral: BilateralId,
        seq: u64,
        prev: Hash32,
        timestamp: u64,
        body: EntryBody,
    ) -> Entry {
        Entry::sign_hashed(keypair, bilateral, seq, prev, timestamp, body).0
    }

    /// [`Entry::sign`], also returning the entry's hash.
    pub fn sign_hashed(
        keypair: &Keypair,
        bilateral: BilateralId,
        seq: u64,
        prev: Hash32,
        timestamp: u64,
        body: EntryBody,
    ) -> (Entry, Hash32) {
        let (entry, hash, _) = Entry::sign_encoded(keypair, bilateral, seq, prev, timestamp, body);
        (entry, hash)
    }

    /// [`Entry::sign_hashed`], also returning the entry's canonical bytes
    /// ([`Entry::to_bytes`]), built from the bytes that were hashed instead of encoding the
    /// (possibly megabytes of) body twice.
    pub(crate) fn sign_encoded(
        keypair: &Keypair,
        bilateral: BilateralId,
        seq: u64,
        prev: Hash32,
        timestamp: u64,
        body: EntryBody,
    ) -> (Entry, Hash32, Vec<u8>) {
        let author = keypair.party();
        let mut bytes = omni_core::encode(&Unsigned {
            bilateral: &bilateral,
            seq,
            prev: &prev,
            author: &author,
            timestamp,
            body: &body,
        });
        let hash = Hash32::digest(ENTRY_TAG, &bytes);
        let signature = keypair.sign(ENTRY_TAG, &hash.0);
        // The entry's fields are the unsigned part's, then the signature, and the encoding
        // of a struct is its fields' encodings in order: append the signature's (without
        // its version byte).
        bytes.extend_from_slice(&omni_core::encode(&signature)[1..]);
        (Entry { bilateral, seq, prev, author, timestamp, body, signature }, hash, bytes)
    }

    /// The entry's hash: `H("omni/entry", canonical(unsigned part))`.
    pub fn hash(&self) -> Hash32 {
        hash_of(&Unsigned {
            bilateral: &self.bilateral,
            seq: self.seq,
            prev: &self.prev,
            author: &self.author,
            timestamp: self.timestamp,
            body: &self.body,
        })
    }

    /// Checks the author's signature over `hash` (the entry's [`Entry::hash`]).
    pub fn verify_signature(&self, hash: &Hash32) -> omni_core::Result<()> {
        self.author.verify(ENTRY_TAG, &hash.0, &self.signature)
    }

    /// Canonical bytes of the whole entry, signature included (storage and the wire).
    pub fn to_bytes(&self) -> Vec<u8> {
        omni_core::encode(self)
    }

    /// Decodes [`Entry::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> omni_core::Result<Entry> {
        omni_core::decode("Entry", bytes)
    }
}

fn hash_of(unsigned: &Unsigned<'_>) -> Hash32 {
    Hash32::digest(ENTRY_TAG, &omni_core::encode(unsigned))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let k = Keypair::from_seed([9; 32]);
        let body = EntryBody::Termination(Termination { reason: "end of term".into() });
        Entry::sign(
            &k,
            BilateralId(Hash32::digest("t", b"b")),
            3,
            Hash32::digest("t", b"p"),
            1_800_000_000,
            body,
        )
    }

    #[test]
    fn signed_entries_verify_and_tampering_is_seen() {
        let e = entry();
        assert!(e.verify_signature(&e.hash()).is_ok());
        let mut t = e.clone();
        t.timestamp += 1;
        assert_ne!(t.hash(), e.hash());
        assert!(t.verify_signature(&t.hash()).is_err());
        let back = Entry::from_bytes(&e.to_bytes()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.hash(), e.hash());
    }

    #[test]
    fn sign_encoded_gives_the_canonical_bytes_and_hash() {
        let k = Keypair::from_seed([9; 32]);
        let body = EntryBody::UsageBatch(UsageBatch {
            order: "o-1".into(),
            interval: IntervalId("2026-11".into()),
            records: vec![UsageRecord::new(
                "cdr-1",
                1_793_491_260,
                "voice",
                125,
                omni_core::Unit::Second,
            )
            .unwrap()],
        });
        let (bilateral, prev) = (BilateralId(Hash32::digest("t", b"b")), Hash32::digest("t", b"p"));
        let (e, hash, bytes) =
            Entry::sign_encoded(&k, bilateral, 4, prev, 1_800_000_000, body.clone());
        assert_eq!(e, Entry::sign(&k, bilateral, 4, prev, 1_800_000_000, body));
        assert_eq!(hash, e.hash());
        assert_eq!(bytes, e.to_bytes());
        assert_eq!(Entry::from_bytes(&bytes).unwrap(), e);
    }

    #[test]
    fn hash_covers_exactly_the_unsigned_fields() {
        // the borrowed view must hash like the owned fields would
        let e = entry();
        let owned = (&e.bilateral, e.seq, &e.prev, &e.author, e.timestamp, &e.body);
        assert_eq!(e.hash(), Hash32::digest(ENTRY_TAG, &omni_core::encode(&owned)));
    }

    #[test]
    fn entry_encoding_is_pinned() {
        // A change here changes every entry hash and record key on every ledger: bump
        // ENCODING_VERSION (or the tag) and write the migration before updating these.
        let e = entry();
        assert_eq!(
            e.hash().to_hex(),
            "7594a5bd08a16929819026c0024f3c6f8ba086802731193343af6b840e76649a"
        );
        assert_eq!(
            hex(&RecordKey::of(&e.bilateral, "cdr-1").0),
            "47d1aa13afb17398a36c7096e457dc7c"
        );
        let (b, other) = (BilateralId::GENESIS, BilateralId(Hash32::digest("t", b"b")));
        assert_eq!(RecordKey::of(&b, "cdr-1"), RecordKey::of(&b, "cdr-1"));
        assert_ne!(RecordKey::of(&b, "cdr-1"), RecordKey::of(&b, "cdr-2"));
        assert_ne!(RecordKey::of(&b, "cdr-1"), RecordKey::of(&other, "cdr-1"));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
