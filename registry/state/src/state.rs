//! The registry's deterministic state machine.
//!
//! [`RegistryState`] holds members, nonces, anchors, invoices, pledges and netting cycles.
//! [`RegistryState::apply`] takes one signed transaction and a [`BlockContext`] and
//! returns the transaction's [`Event`]s or the reason it was refused. Every handler reads
//! and checks everything first and writes only once nothing can fail any more, so a
//! refused transaction leaves the state — and its root — exactly as it was (and does not
//! consume the sender's nonce).
//!
//! Nothing here does I/O, reads a clock or draws randomness: block time comes in
//! [`BlockContext`], and proofs are judged by a [`ProofVerifier`] passed in. Two
//! validators that apply the same transactions in the same blocks reach the same state
//! and the same [`RegistryState::state_root`].
//!
//! ## Persistence shape
//!
//! The state is a set of `(table, key, value)` entries (tables in [`TABLES`]; values in
//! the canonical encoding). Every write marks its entry dirty; at the end of a successful
//! transaction dirty entries are re-encoded into the [`StateTree`] (the state root) and
//! into the pending change set that [`RegistryState::take_changes`] hands to the store.
//! [`RegistryState::restore`] rebuilds the state, its indexes and its root from the
//! entries.
//!
//! ## Rules (who may do what)
//!
//! | transaction | sender | rule |
//! |---|---|---|
//! | AdmitMember, RemoveMember | admin | R53; the last admin stays |
//! | PublishConformance | any member | R13 |
//! | AnchorHead | member | R24: either party alone; seq advances per anchoring member |
//! | SubmitInvoice | member, the payee | proof verified (batched per block); payer a member |
//! | AcceptInvoice | the payer | from verified, disputed or credited |
//! | DisputeInvoice | the payer | from verified, accepted or credited, not while netted |
//! | CreditInvoice | the payee | not paid, not while netted; once per reference; the amount due is the proven commitment less the credits; an accepted invoice becomes credited until the payer accepts again |
//! | PaymentNotice | the payer | accepted invoice; value date not in the future (R87) |
//! | PaymentReceipt | the payee | confirms the notice's payment (R88–R89) |
//! | Pledge, ReleasePledge | financier | one active pledge per nullifier |
//! | netting | member participants | see [`crate::netting`] |
//! | IssueCredential, RevokeCredential | admin | one live credential per member; see [`compliance`] |
//! | PublishEmbargoList | regulator | versions increase |
//! | SubmitComplianceMap | member | current list, accepted root, links, counts, hop proofs |

use crate::commitment::{self, PedersenCommitment};
use crate::error::{Error, Result};
use crate::netting::{self, CyclePhase, NettingCycle, Participant, SettlementInstruction};
use crate::pledge::Pledge;
pub use crate::records::{
    Anchor, DisputeRecord, Invoice, InvoiceCredit, InvoiceStatus, Member, PaymentNoticeRecord,
    PublishedConformance, SettledBy, Settlement,
};
use crate::reputation::{self, Reputation};
use crate::root::StateTree;
use crate::tx::*;
use crate::verification::{ProofVerdict, ProofVerifier};
use omni_core::{Currency, Hash32, Micros, PartyId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub mod compliance;

use compliance::ComplianceState;
pub use compliance::{
    ComplianceRecord, CredentialRecord, EmbargoRecord, OrderCompliance, MAX_ACCEPTED_ROOTS,
};

/// Where in the chain a transaction executes: the block's height and its time (UTC
/// seconds, agreed by consensus). The only notion of time the state machine has.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BlockContext {
    /// Block height (the genesis state is height 0).
    pub height: u64,
    /// Block time, UTC seconds.
    pub time: u64,
}

/// A registry's starting point. Its hash is the registry id that every transaction
/// signature is bound to.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Genesis {
    /// A human-readable name, e.g. `"omnilateral-dev"`.
    pub name: String,
    /// Genesis time, UTC seconds.
    pub time: u64,
    /// The founding members; at least one admin.
    pub members: Vec<(PartyId, Role)>,
    /// The hash of the rating verifying keys every validator verifies proofs under (the
    /// keys' id, as `omni keys` and `GetStatus` print it): a validator started with other
    /// keys, or none, refuses to start. `None` only in registries made before keys were
    /// named, where each validator chose its own.
    #[serde(default)]
    pub rating_keys: Option<Hash32>,
}

impl Genesis {
    /// The registry id: the hash of the canonical genesis. A genesis that names no keys
    /// hashes as it did before the field existed, so older registries keep their id.
    pub fn registry_id(&self) -> Hash32 {
        Hash32::digest("omni/registry/genesis", &self.to_stored())
    }

    /// The canonical bytes the store keeps and the registry id hashes: without keys, the
    /// encoding from before [`Genesis::rating_keys`] existed.
    pub fn to_stored(&self) -> Vec<u8> {
        match self.rating_keys {
            None => omni_core::encode(&(&self.name, self.time, &self.members)),
            Some(_) => omni_core::encode(self),
        }
    }

    /// A genesis from the bytes a store kept, also from a store written before
    /// [`Genesis::rating_keys`] existed.
    pub fn from_stored(bytes: &[u8]) -> Result<Genesis> {
        omni_core::decode::<Genesis>("Genesis", bytes).or_else(|_| {
            let (name, time, members) = omni_core::decode("Genesis", bytes)
                .map_err(|e| Error::Store(format!("stored genesis: {e}")))?;
            Ok(Genesis { name, time, members, rating_keys: None })
        })
    }

    /// Checks the genesis can start a registry.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() || self.name.len() > 64 {
            return Err(Error::InvalidGenesis("name must be 1..=64 bytes".into()));
        }
        if !self.members.iter().any(|(_, r)| *r == Role::Admin) {
            return Err(Error::InvalidGenesis("at least one admin is required".into()));
        }
        let distinct: BTreeSet<_> = self.members.iter().map(|(p, _)| p).collect();
        if distinct.len() != self.members.len() {
            return Err(Error::InvalidGenesis("a member is listed twice".into()));
        }
        Ok(())
    }
}

/// What a transaction did, for clients and for the block record.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[allow(missing_docs)] // fields are named after the transaction fields they report
pub enum Event {
    /// A member was admitted.
    MemberAdmitted { member: PartyId, role: Role },
    /// A member was removed.
    MemberRemoved { member: PartyId },
    /// A conformance declaration was published.
    ConformancePublished { member: PartyId, document_hash: Hash32 },
    /// A bilateral head was anchored.
    HeadAnchored { bilateral: Hash32, seq: u64, head: Hash32, by: PartyId },
    /// Another party anchored a different head at the same sequence: fork evidence.
    AnchorConflict { bilateral: Hash32, seq: u64, by: PartyId, other: PartyId },
    /// An invoice's rating proof verified and the invoice was recorded.
    InvoiceVerified { invoice: InvoiceId, payer: PartyId, payee: PartyId },
    /// The payer accepted an invoice.
    InvoiceAccepted { invoice: InvoiceId },
    /// The payer disputed an invoice.
    InvoiceDisputed { invoice: InvoiceId },
    /// The payer noticed a payment.
    PaymentNoticed { invoice: InvoiceId, paid_at: u64 },
    /// The payee confirmed it: the payment is attested.
    PaymentAttested { invoice: InvoiceId, paid_at: u64, days_relative_to_terms: i64 },
    /// A financier pledged a nullifier.
    InvoicePledged { nullifier: Nullifier, financier: PartyId },
    /// The pledge was released.
    PledgeReleased { nullifier: Nullifier },
    /// A netting cycle was opened.
    NettingCycleOpened { cycle: CycleId, currency: Currency, participants: u32 },
    /// A participant joined.
    NettingCycleJoined { cycle: CycleId, member: PartyId },
    /// All joined: invoices locked, sums computed; openings expected.
    NettingCycleLocked { cycle: CycleId, invoices: u32 },
    /// A participant opened its net.
    NetOpened { cycle: CycleId, member: PartyId, net: Micros },
    /// All opened: settlement instructed.
    SettlementInstructed { cycle: CycleId, transfers: u32, volume: i128 },
    /// A settlement transfer was confirmed by its receiver.
    SettlementConfirmed { cycle: CycleId, instruction: u32 },
    /// All confirmed: the netted invoices are paid.
    NettingCycleSettled { cycle: CycleId, invoices: u32 },
    /// The cycle was cancelled; its invoices are unlocked.
    NettingCycleCancelled { cycle: CycleId },
    /// A jurisdiction credential's commitment entered the credential tree.
    CredentialIssued { member: PartyId, leaf: u64 },
    /// A credential was revoked: its leaf is empty in every later root.
    CredentialRevoked { member: PartyId, leaf: u64 },
    /// A regulator published an embargo list version.
    EmbargoListPublished { version: u32, countries: u32 },
    /// A supply-chain map verified against the current embargo list.
    ComplianceMapVerified { order: Hash32, embargo_version: u32, hops: u32 },
    /// The payee recorded a credit against an invoice.
    InvoiceCredited { invoice: InvoiceId, reference: Hash32, credits: u32 },
}

impl Event {
    /// The event's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::MemberAdmitted { .. } => "MemberAdmitted",
            Event::MemberRemoved { .. } => "MemberRemoved",
            Event::ConformancePublished { .. } => "ConformancePublished",
            Event::HeadAnchored { .. } => "HeadAnchored",
            Event::AnchorConflict { .. } => "AnchorConflict",
            Event::InvoiceVerified { .. } => "InvoiceVerified",
            Event::InvoiceAccepted { .. } => "InvoiceAccepted",
            Event::InvoiceDisputed { .. } => "InvoiceDisputed",
            Event::PaymentNoticed { .. } => "PaymentNoticed",
            Event::PaymentAttested { .. } => "PaymentAttested",
            Event::InvoicePledged { .. } => "InvoicePledged",
            Event::PledgeReleased { .. } => "PledgeReleased",
            Event::NettingCycleOpened { .. } => "NettingCycleOpened",
            Event::NettingCycleJoined { .. } => "NettingCycleJoined",
            Event::NettingCycleLocked { .. } => "NettingCycleLocked",
            Event::NetOpened { .. } => "NetOpened",
            Event::SettlementInstructed { .. } => "SettlementInstructed",
            Event::SettlementConfirmed { .. } => "SettlementConfirmed",
            Event::NettingCycleSettled { .. } => "NettingCycleSettled",
            Event::NettingCycleCancelled { .. } => "NettingCycleCancelled",
            Event::CredentialIssued { .. } => "CredentialIssued",
            Event::CredentialRevoked { .. } => "CredentialRevoked",
            Event::EmbargoListPublished { .. } => "EmbargoListPublished",
            Event::ComplianceMapVerified { .. } => "ComplianceMapVerified",
            Event::InvoiceCredited { .. } => "InvoiceCredited",
        }
    }
}

/// Registry-wide values: identity, last block, counters.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Meta {
    /// The registry id (genesis hash).
    pub registry_id: Hash32,
    /// The genesis name.
    pub name: String,
    /// Height of the last executed block (0: genesis).
    pub height: u64,
    /// Time of the last executed block.
    pub time: u64,
    /// Number the next netting cycle gets.
    pub next_cycle: CycleId,
}

/// The state tables, in the order the store creates them.
pub const TABLES: [&str; 12] = [
    "registry",
    "members",
    "nonces",
    "invoices",
    "anchors",
    "pledges",
    "cycles",
    "credentials",
    "credential_roots",
    "embargo_lists",
    "compliance_maps",
    "credits",
];

/// One state entry that changed: `value` `None` means deleted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StateChange {
    /// One of [`TABLES`].
    pub table: &'static str,
    /// The entry's key.
    pub key: Vec<u8>,
    /// Its canonical value, or `None` if deleted.
    pub value: Option<Vec<u8>>,
}

/// Names one state entry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum StateKey {
    Meta,
    Member(PartyId),
    Nonce(PartyId),
    Invoice(InvoiceId),
    Anchor(Hash32, u64, PartyId),
    Pledge(Nullifier),
    Cycle(CycleId),
    Credential(u64),
    CredentialRoots,
    EmbargoList(u32),
    ComplianceMap(Hash32, u32),
    Credits(InvoiceId),
}

impl StateKey {
    fn table(&self) -> &'static str {
        match self {
            StateKey::Meta => TABLES[0],
            StateKey::Member(_) => TABLES[1],
            StateKey::Nonce(_) => TABLES[2],
            StateKey::Invoice(_) => TABLES[3],
            StateKey::Anchor(..) => TABLES[4],
            StateKey::Pledge(_) => TABLES[5],
            StateKey::Cycle(_) => TABLES[6],
            StateKey::Credential(_) => TABLES[7],
            StateKey::CredentialRoots => TABLES[8],
            StateKey::EmbargoList(_) => TABLES[9],
            StateKey::ComplianceMap(..) => TABLES[10],
            StateKey::Credits(_) => TABLES[11],
        }
    }

    fn key_bytes(&self) -> Vec<u8> {
        match self {
            StateKey::Meta => b"meta".to_vec(),
            StateKey::Member(p) | StateKey::Nonce(p) => p.0.to_vec(),
            StateKey::Invoice(i) | StateKey::Credits(i) => i.0 .0.to_vec(),
            StateKey::Anchor(b, seq, p) => {
                let mut k = Vec::with_capacity(72);
                k.extend_from_slice(&b.0);
                k.extend_from_slice(&seq.to_be_bytes());
                k.extend_from_slice(&p.0);
                k
            }
            StateKey::Pledge(n) => n.0.to_vec(),
            StateKey::Cycle(c) => c.to_be_bytes().to_vec(),
            StateKey::Credential(leaf) => leaf.to_be_bytes().to_vec(),
            StateKey::CredentialRoots => b"accepted".to_vec(),
            StateKey::EmbargoList(v) => v.to_be_bytes().to_vec(),
            StateKey::ComplianceMap(order, v) => {
                let mut k = order.0.to_vec();
                k.extend_from_slice(&v.to_be_bytes());
                k
            }
        }
    }
}

const PARTY_MIN: PartyId = PartyId([0; 32]);
const PARTY_MAX: PartyId = PartyId([0xff; 32]);

/// The registry's state (module docs).
#[derive(Debug)]
pub struct RegistryState {
    meta: Meta,
    members: BTreeMap<PartyId, Member>,
    nonces: BTreeMap<PartyId, u64>,
    invoices: BTreeMap<InvoiceId, Invoice>,
    /// Credits by invoice, in the order they were recorded (a table of its own, so
    /// that invoice entries keep their encoding).
    credits: BTreeMap<InvoiceId, Vec<InvoiceCredit>>,
    anchors: BTreeMap<(Hash32, u64, PartyId), Anchor>,
    pledges: BTreeMap<Nullifier, Pledge>,
    cycles: BTreeMap<CycleId, NettingCycle>,
    compliance: ComplianceState,

    // Indexes derived from the tables above (rebuilt by `restore`, not stored).
    commitments: HashMap<AmountCommitment, InvoiceId>,
    by_payer: BTreeMap<PartyId, BTreeSet<InvoiceId>>,
    by_payee: BTreeMap<PartyId, BTreeSet<InvoiceId>>,
    anchor_tips: HashMap<(Hash32, PartyId), u64>,

    tree: StateTree,
    dirty: BTreeSet<StateKey>,
    changes: BTreeMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
}

fn decode_entry<T: serde::de::DeserializeOwned>(what: &'static str, v: &[u8]) -> Result<T> {
    omni_core::decode(what, v).map_err(|e| Error::Store(format!("state entry: {e}")))
}

fn party_key(table: &str, key: &[u8]) -> Result<PartyId> {
    key.try_into()
        .map(PartyId)
        .map_err(|_| Error::Store(format!("{table}: key of {} bytes, expected 32", key.len())))
}

impl RegistryState {
    fn empty(meta: Meta) -> RegistryState {
        RegistryState {
            meta,
            members: BTreeMap::new(),
            nonces: BTreeMap::new(),
            invoices: BTreeMap::new(),
            credits: BTreeMap::new(),
            anchors: BTreeMap::new(),
            pledges: BTreeMap::new(),
            cycles: BTreeMap::new(),
            compliance: ComplianceState::default(),
            commitments: HashMap::new(),
            by_payer: BTreeMap::new(),
            by_payee: BTreeMap::new(),
            anchor_tips: HashMap::new(),
            tree: StateTree::new(),
            dirty: BTreeSet::new(),
            changes: BTreeMap::new(),
        }
    }

    /// The state at height 0: the genesis members. Its entries are pending in
    /// [`RegistryState::take_changes`].
    pub fn genesis(genesis: &Genesis) -> Result<RegistryState> {
        genesis.validate()?;
        let mut s = RegistryState::empty(Meta {
            registry_id: genesis.registry_id(),
            name: genesis.name.clone(),
            height: 0,
            time: genesis.time,
            next_cycle: 1,
        });
        for &(party, role) in &genesis.members {
            s.members.insert(
                party,
                Member {
                    party,
                    role,
                    admitted_at: genesis.time,
                    admitted_height: 0,
                    conformance: None,
                },
            );
            s.dirty.insert(StateKey::Member(party));
        }
        s.dirty.insert(StateKey::Meta);
        s.flush();
        Ok(s)
    }

    /// Rebuilds a state from its entries `(table, key, value)`, as the store holds them.
    pub fn restore<'a>(
        entries: impl IntoIterator<Item = (&'a str, Vec<u8>, Vec<u8>)>,
    ) -> Result<RegistryState> {
        let mut meta = None;
        let mut s = RegistryState::empty(Meta {
            registry_id: Hash32::ZERO,
            name: String::new(),
            height: 0,
            time: 0,
            next_cycle: 1,
        });
        let mut tree = StateTree::new();
        for (table, key, value) in entries {
            tree.set(table, &key, Some(&value));
            match table {
                "registry" => meta = Some(decode_entry::<Meta>("Meta", &value)?),
                "members" => {
                    let m: Member = decode_entry("Member", &value)?;
                    s.members.insert(m.party, m);
                }
                "nonces" => {
                    let n: u64 = decode_entry("nonce", &value)?;
                    s.nonces.insert(party_key(table, &key)?, n);
                }
                "invoices" => {
                    let i: Invoice = decode_entry("Invoice", &value)?;
                    s.index_invoice(&i);
                    s.invoices.insert(i.invoice, i);
                }
                "anchors" => {
                    let a: Anchor = decode_entry("Anchor", &value)?;
                    let tip = s.anchor_tips.entry((a.bilateral, a.anchored_by)).or_insert(a.seq);
                    *tip = (*tip).max(a.seq);
                    s.anchors.insert((a.bilateral, a.seq, a.anchored_by), a);
                }
                "pledges" => {
                    let p: Pledge = decode_entry("Pledge", &value)?;
                    s.pledges.insert(p.nullifier, p);
                }
                "cycles" => {
                    let c: NettingCycle = decode_entry("NettingCycle", &value)?;
                    s.cycles.insert(c.id, c);
                }
                "credentials" => {
                    let c: CredentialRecord = decode_entry("CredentialRecord", &value)?;
                    s.compliance.credentials.insert(c.leaf, c);
                }
                "credential_roots" => {
                    s.compliance.accepted_roots = decode_entry("credential roots", &value)?;
                }
                "embargo_lists" => {
                    let e: EmbargoRecord = decode_entry("EmbargoRecord", &value)?;
                    s.compliance.embargo_lists.insert(e.list.version(), e);
                }
                "compliance_maps" => {
                    let m: ComplianceRecord = decode_entry("ComplianceRecord", &value)?;
                    s.compliance.maps.insert((m.order, m.embargo_version), m);
                }
                "credits" => {
                    let credits: Vec<InvoiceCredit> = decode_entry("credits", &value)?;
                    let key: [u8; 32] = key.as_slice().try_into().map_err(|_| {
                        Error::Store(format!("credits: key of {} bytes, expected 32", key.len()))
                    })?;
                    s.credits.insert(InvoiceId(Hash32(key)), credits);
                }
                other => return Err(Error::Store(format!("unknown state table {other:?}"))),
            }
        }
        s.compliance.rebuild_tree()?;
        s.meta = meta.ok_or_else(|| Error::Store("state has no registry entry".into()))?;
        tree.commit();
        s.tree = tree;
        Ok(s)
    }

    fn index_invoice(&mut self, i: &Invoice) {
        self.commitments.insert(i.amount_commitment, i.invoice);
        self.by_payer.entry(i.payer).or_default().insert(i.invoice);
        self.by_payee.entry(i.payee).or_default().insert(i.invoice);
    }

    // ----------------------------------------------------------------------------------
    // Reading
    // ----------------------------------------------------------------------------------

    /// The registry id every signature is bound to.
    pub fn registry_id(&self) -> Hash32 {
        self.meta.registry_id
    }

    /// Registry-wide values.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Height of the last executed block.
    pub fn height(&self) -> u64 {
        self.meta.height
    }

    /// Time of the last executed block.
    pub fn time(&self) -> u64 {
        self.meta.time
    }

    /// The Merkle root over all state entries ([`crate::root`]).
    pub fn state_root(&self) -> Hash32 {
        self.tree.root()
    }

    /// A member.
    pub fn member(&self, party: &PartyId) -> Option<&Member> {
        self.members.get(party)
    }

    /// All members, by key.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// The nonce `party`'s next transaction must carry.
    pub fn next_nonce(&self, party: &PartyId) -> u64 {
        self.nonces.get(party).copied().unwrap_or(0)
    }

    /// An invoice.
    pub fn invoice(&self, id: &InvoiceId) -> Option<&Invoice> {
        self.invoices.get(id)
    }

    /// The credits recorded on an invoice, oldest first.
    pub fn credits(&self, id: &InvoiceId) -> &[InvoiceCredit] {
        self.credits.get(id).map_or(&[], Vec::as_slice)
    }

    /// An invoice's amount due: its proven commitment less its credits'.
    pub fn amount_due(&self, invoice: &Invoice) -> Result<AmountCommitment> {
        commitment::amount_due(
            &invoice.amount_commitment,
            self.credits(&invoice.invoice).iter().map(|c| c.commitment),
        )
    }

    /// All invoices, by id.
    pub fn invoices(&self) -> impl Iterator<Item = &Invoice> {
        self.invoices.values()
    }

    /// Number of invoices.
    pub fn invoice_count(&self) -> usize {
        self.invoices.len()
    }

    /// Invoices whose payer is `payer`, by id.
    pub fn invoices_of_payer(&self, payer: &PartyId) -> impl Iterator<Item = &Invoice> {
        self.by_payer.get(payer).into_iter().flatten().filter_map(|id| self.invoices.get(id))
    }

    /// Invoices whose payee is `payee`, by id.
    pub fn invoices_of_payee(&self, payee: &PartyId) -> impl Iterator<Item = &Invoice> {
        self.by_payee.get(payee).into_iter().flatten().filter_map(|id| self.invoices.get(id))
    }

    /// Anchors of a bilateral, by sequence then anchoring member.
    pub fn anchors_of(&self, bilateral: &Hash32) -> impl Iterator<Item = &Anchor> {
        self.anchors
            .range((*bilateral, 0, PARTY_MIN)..=(*bilateral, u64::MAX, PARTY_MAX))
            .map(|(_, a)| a)
    }

    /// The active pledge under a nullifier.
    pub fn pledge(&self, nullifier: &Nullifier) -> Option<&Pledge> {
        self.pledges.get(nullifier)
    }

    /// A netting cycle.
    pub fn cycle(&self, id: CycleId) -> Option<&NettingCycle> {
        self.cycles.get(&id)
    }

    /// All netting cycles, by number.
    pub fn cycles(&self) -> impl Iterator<Item = &NettingCycle> {
        self.cycles.values()
    }

    /// `payer`'s payment reputation at time `now` ([`crate::reputation`]).
    pub fn reputation(&self, payer: &PartyId, now: u64) -> Reputation {
        reputation::reputation(*payer, self.invoices_of_payer(payer), now)
    }

    // ----------------------------------------------------------------------------------
    // Writing
    // ----------------------------------------------------------------------------------

    /// Applies one transaction (verifying its signature and, for `SubmitInvoice`, its
    /// proof with `proofs`). On `Err` nothing changed.
    pub fn apply(
        &mut self,
        tx: &SignedTx,
        ctx: &BlockContext,
        proofs: &dyn ProofVerifier,
    ) -> Result<Vec<Event>> {
        let signature = tx.verify_signature(&self.meta.registry_id);
        let proof = match &tx.body {
            TxBody::SubmitInvoice(s) if signature.is_ok() => {
                crate::verification::invoice_proof_verdicts(proofs, &[Some(s)]).pop().flatten()
            }
            TxBody::SubmitComplianceMap { .. } if signature.is_ok() => {
                compliance::verify_map_proofs(&tx.body)
            }
            _ => None,
        };
        self.apply_prechecked(tx, ctx, signature, proof)
    }

    /// Checks what the state can tell of a transaction without executing it: membership,
    /// role, and that the nonce is not a replay (it may run ahead of the state while
    /// earlier transactions of the sender wait to be executed). Part of the mempool check
    /// (the caller verifies the signature); execution checks everything again.
    pub fn check_sender_and_nonce(&self, tx: &SignedTx) -> Result<()> {
        self.check_sender(tx)?;
        let expected = self.next_nonce(&tx.sender);
        if tx.nonce < expected {
            return Err(Error::BadNonce { sender: tx.sender, expected, got: tx.nonce });
        }
        if tx.nonce - expected > MAX_NONCE_AHEAD {
            return Err(Error::NonceTooFarAhead {
                sender: tx.sender,
                expected,
                got: tx.nonce,
                max: MAX_NONCE_AHEAD,
            });
        }
        Ok(())
    }

    fn check_sender(&self, tx: &SignedTx) -> Result<&Member> {
        let member = self.members.get(&tx.sender).ok_or(Error::NotAMember { party: tx.sender })?;
        let required = match &tx.body {
            TxBody::AdmitMember { .. }
            | TxBody::RemoveMember { .. }
            | TxBody::IssueCredential { .. }
            | TxBody::RevokeCredential { .. } => Some(Role::Admin),
            TxBody::PublishEmbargoList(_) => Some(Role::Regulator),
            TxBody::PublishConformance(_) => None,
            TxBody::Pledge { .. } | TxBody::ReleasePledge { .. } => Some(Role::Financier),
            _ => Some(Role::Member),
        };
        match required {
            Some(required) if member.role != required => Err(Error::WrongRole {
                party: tx.sender,
                role: member.role,
                action: tx.body.kind(),
                required,
            }),
            _ => Ok(member),
        }
    }

    /// [`RegistryState::apply`] with the signature and proof verdicts computed by the
    /// caller (the block executor verifies signatures in parallel and proofs in a batch).
    pub(crate) fn apply_prechecked(
        &mut self,
        tx: &SignedTx,
        ctx: &BlockContext,
        signature: Result<()>,
        proof: Option<ProofVerdict>,
    ) -> Result<Vec<Event>> {
        signature?;
        self.check_sender(tx)?;
        let expected = self.next_nonce(&tx.sender);
        if tx.nonce != expected {
            return Err(Error::BadNonce { sender: tx.sender, expected, got: tx.nonce });
        }
        debug_assert!(self.dirty.is_empty());
        let sender = tx.sender;
        let events = match &tx.body {
            TxBody::AdmitMember { member, role } => self.admit(*member, *role, ctx)?,
            TxBody::RemoveMember { member } => self.remove(*member)?,
            TxBody::PublishConformance(d) => self.publish_conformance(sender, d, ctx)?,
            TxBody::AnchorHead { bilateral, seq, head } => {
                self.anchor(sender, *bilateral, *seq, *head, ctx)?
            }
            TxBody::SubmitInvoice(s) => self.submit_invoice(sender, s, proof, ctx)?,
            TxBody::AcceptInvoice { invoice } => self.accept(sender, invoice, ctx)?,
            TxBody::DisputeInvoice { invoice, reason } => {
                self.dispute(sender, invoice, *reason, ctx)?
            }
            TxBody::PaymentNotice { invoice, paid_at, payment_ref } => {
                self.payment_notice(sender, invoice, *paid_at, *payment_ref, ctx)?
            }
            TxBody::PaymentReceipt { invoice, payment_ref } => {
                self.payment_receipt(sender, invoice, *payment_ref, ctx)?
            }
            TxBody::Pledge { nullifier } => self.pledge_invoice(sender, *nullifier, ctx)?,
            TxBody::ReleasePledge { nullifier } => self.release_pledge(sender, *nullifier)?,
            TxBody::OpenNettingCycle { currency, cutoff, participants } => {
                self.open_cycle(sender, *currency, *cutoff, participants, ctx)?
            }
            TxBody::JoinNettingCycle { cycle } => self.join_cycle(sender, *cycle)?,
            TxBody::SubmitNetOpening { cycle, amount, blinding } => {
                self.open_net(sender, *cycle, *amount, blinding, ctx)?
            }
            TxBody::ConfirmSettlement { cycle, instruction } => {
                self.confirm_settlement(sender, *cycle, *instruction, ctx)?
            }
            TxBody::CancelNettingCycle { cycle } => self.cancel_cycle(sender, *cycle)?,
            TxBody::IssueCredential { member, commitment } => {
                self.issue_credential(*member, *commitment, ctx)?
            }
            TxBody::RevokeCredential { leaf } => self.revoke_credential(*leaf, ctx)?,
            TxBody::PublishEmbargoList(list) => self.publish_embargo_list(sender, list, ctx)?,
            TxBody::SubmitComplianceMap { map } => {
                self.submit_compliance_map(sender, map, proof, ctx)?
            }
            TxBody::CreditInvoice { invoice, credit, reference } => {
                self.credit(sender, invoice, *credit, *reference, ctx)?
            }
        };
        // Past this point nothing fails: the transaction is in.
        self.nonces.insert(sender, expected + 1);
        self.dirty.insert(StateKey::Nonce(sender));
        self.flush();
        Ok(events)
    }

    /// Records the end of block `ctx`: height and time.
    pub(crate) fn end_block(&mut self, ctx: &BlockContext) {
        self.meta.height = ctx.height;
        self.meta.time = ctx.time;
        self.dirty.insert(StateKey::Meta);
        self.flush();
    }

    /// The entries changed since the last call, for the store.
    pub fn take_changes(&mut self) -> Vec<StateChange> {
        std::mem::take(&mut self.changes)
            .into_iter()
            .map(|((table, key), value)| StateChange { table, key, value })
            .collect()
    }

    fn encode_entry(&self, key: &StateKey) -> Option<Vec<u8>> {
        use omni_core::encode;
        match key {
            StateKey::Meta => Some(encode(&self.meta)),
            StateKey::Member(p) => self.members.get(p).map(encode),
            StateKey::Nonce(p) => self.nonces.get(p).map(encode),
            StateKey::Invoice(i) => self.invoices.get(i).map(encode),
            StateKey::Anchor(b, s, p) => self.anchors.get(&(*b, *s, *p)).map(encode),
            StateKey::Pledge(n) => self.pledges.get(n).map(encode),
            StateKey::Cycle(c) => self.cycles.get(c).map(encode),
            StateKey::Credential(leaf) => self.compliance.credentials.get(leaf).map(encode),
            StateKey::CredentialRoots => Some(encode(&self.compliance.accepted_roots)),
            StateKey::EmbargoList(v) => self.compliance.embargo_lists.get(v).map(encode),
            StateKey::ComplianceMap(o, v) => self.compliance.maps.get(&(*o, *v)).map(encode),
            StateKey::Credits(i) => self.credits.get(i).map(encode),
        }
    }

    fn flush(&mut self) {
        for key in std::mem::take(&mut self.dirty) {
            let (table, bytes, value) = (key.table(), key.key_bytes(), self.encode_entry(&key));
            self.tree.set(table, &bytes, value.as_deref());
            self.changes.insert((table, bytes), value);
        }
        self.tree.commit();
    }

    fn put_invoice(&mut self, invoice: Invoice) {
        self.dirty.insert(StateKey::Invoice(invoice.invoice));
        self.invoices.insert(invoice.invoice, invoice);
    }

    fn put_cycle(&mut self, cycle: NettingCycle) {
        self.dirty.insert(StateKey::Cycle(cycle.id));
        self.cycles.insert(cycle.id, cycle);
    }

    // ----------------------------------------------------------------------------------
    // Members (R53, R13)
    // ----------------------------------------------------------------------------------

    fn admit(&mut self, member: PartyId, role: Role, ctx: &BlockContext) -> Result<Vec<Event>> {
        if self.members.contains_key(&member) {
            return Err(Error::AlreadyMember { party: member });
        }
        // Keys are checked here so that a member can later sign: an invalid point never
        // verifies a signature.
        if ed25519_dalek::VerifyingKey::from_bytes(&member.0).is_err() {
            return Err(Error::InvalidField {
                field: "member",
                reason: "not a valid Ed25519 public key".into(),
            });
        }
        self.members.insert(
            member,
            Member {
                party: member,
                role,
                admitted_at: ctx.time,
                admitted_height: ctx.height,
                conformance: None,
            },
        );
        self.dirty.insert(StateKey::Member(member));
        Ok(vec![Event::MemberAdmitted { member, role }])
    }

    fn remove(&mut self, member: PartyId) -> Result<Vec<Event>> {
        let m = self.members.get(&member).ok_or(Error::NotAMember { party: member })?;
        if m.role == Role::Admin
            && self.members.values().filter(|m| m.role == Role::Admin).count() == 1
        {
            return Err(Error::LastAdmin { party: member });
        }
        // The nonce stays: a re-admitted key continues its sequence, so its old
        // transactions cannot be replayed.
        self.members.remove(&member);
        self.dirty.insert(StateKey::Member(member));
        Ok(vec![Event::MemberRemoved { member }])
    }

    fn publish_conformance(
        &mut self,
        sender: PartyId,
        d: &ConformanceDeclaration,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        if d.statement.len() > MAX_STATEMENT_BYTES {
            return Err(Error::InvalidField {
                field: "statement",
                reason: format!("{} bytes, at most {MAX_STATEMENT_BYTES}", d.statement.len()),
            });
        }
        let m = self.members.get_mut(&sender).ok_or(Error::NotAMember { party: sender })?;
        m.conformance =
            Some(PublishedConformance { declaration: d.clone(), published_at: ctx.time });
        self.dirty.insert(StateKey::Member(sender));
        Ok(vec![Event::ConformancePublished { member: sender, document_hash: d.document_hash }])
    }

    // ----------------------------------------------------------------------------------
    // Anchors (R24)
    // ----------------------------------------------------------------------------------

    fn anchor(
        &mut self,
        sender: PartyId,
        bilateral: Hash32,
        seq: u64,
        head: Hash32,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        if head == Hash32::ZERO {
            return Err(Error::InvalidField { field: "head", reason: "the zero hash".into() });
        }
        // R24: no counterparty consent; the registry cannot know who the parties of a
        // bilateral are, so each anchor is recorded under the member that made it, and
        // each member's anchors of a bilateral must advance.
        if let Some(&last) = self.anchor_tips.get(&(bilateral, sender)) {
            if seq <= last {
                return Err(Error::StaleAnchor { bilateral, seq, last });
            }
        }
        let mut events = vec![Event::HeadAnchored { bilateral, seq, head, by: sender }];
        for ((_, _, other), a) in
            self.anchors.range((bilateral, seq, PARTY_MIN)..=(bilateral, seq, PARTY_MAX))
        {
            if a.head != head {
                events.push(Event::AnchorConflict { bilateral, seq, by: sender, other: *other });
            }
        }
        self.anchors.insert(
            (bilateral, seq, sender),
            Anchor {
                bilateral,
                seq,
                head,
                anchored_by: sender,
                height: ctx.height,
                time: ctx.time,
            },
        );
        self.anchor_tips.insert((bilateral, sender), seq);
        self.dirty.insert(StateKey::Anchor(bilateral, seq, sender));
        Ok(events)
    }

    // ----------------------------------------------------------------------------------
    // Invoices
    // ----------------------------------------------------------------------------------

    fn submit_invoice(
        &mut self,
        sender: PartyId,
        s: &InvoiceSubmission,
        proof: Option<ProofVerdict>,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let invoice = s.invoice;
        if sender != s.payee {
            return Err(Error::NotPayee { invoice, sender, action: "submit it" });
        }
        if s.payer == s.payee {
            return Err(Error::InvalidField {
                field: "payer",
                reason: "the payer is the payee".into(),
            });
        }
        if !matches!(self.members.get(&s.payer), Some(m) if m.role == Role::Member) {
            return Err(Error::PayerNotMember { invoice, payer: s.payer });
        }
        if self.invoices.contains_key(&invoice) {
            return Err(Error::DuplicateInvoice(invoice));
        }
        if s.interval.0.is_empty() || s.interval.0.len() > MAX_INTERVAL_ID_BYTES {
            return Err(Error::InvalidField {
                field: "interval",
                reason: format!("must be 1..={MAX_INTERVAL_ID_BYTES} bytes"),
            });
        }
        if s.due_date == 0 {
            return Err(Error::InvalidField { field: "due_date", reason: "missing".into() });
        }
        // The commitment is not decoded here: a verifier accepts a claim only if its
        // commitment is a point of the subgroup (`ProofVerifier` contract), and a refused
        // claim's commitment is decoded by `proof::refusal` to name what is wrong with it.
        // Its canonical encoding makes the identity (and a reuse) a comparison of bytes.
        if s.amount_commitment == commitment::encode(&PedersenCommitment::identity()) {
            // Only amount 0 with blinding 0 (or a known discrete log) yields it: it hides
            // nothing.
            return Err(Error::InvalidCommitment("the identity point hides nothing".into()));
        }
        if self.commitments.contains_key(&s.amount_commitment) {
            return Err(Error::CommitmentReused { commitment: s.amount_commitment.to_string() });
        }
        match proof {
            Some(ProofVerdict::Verified) => {}
            Some(ProofVerdict::Refused(reason)) => {
                return Err(crate::verification::refusal(s, reason))
            }
            None => {
                return Err(Error::ProofRejected { invoice, reason: "not verified".into() });
            }
        }
        let record = Invoice {
            invoice,
            bilateral: s.bilateral,
            interval: s.interval.clone(),
            payer: s.payer,
            payee: s.payee,
            currency: s.currency,
            amount_commitment: s.amount_commitment,
            due_date: s.due_date,
            proof_hash: Hash32::digest("omni/registry/proof-bundle", &s.proof),
            submitted_at: ctx.time,
            submitted_height: ctx.height,
            status: InvoiceStatus::Verified,
            accepted_at: None,
            dispute: None,
            payment_notice: None,
            settlement: None,
            netting_cycle: None,
        };
        self.index_invoice(&record);
        self.put_invoice(record);
        Ok(vec![Event::InvoiceVerified { invoice, payer: s.payer, payee: s.payee }])
    }

    fn invoice_for(
        &self,
        id: &InvoiceId,
        sender: PartyId,
        payer_only: bool,
        action: &'static str,
    ) -> Result<Invoice> {
        let inv = self.invoices.get(id).ok_or(Error::UnknownInvoice(*id))?;
        if payer_only && inv.payer != sender {
            return Err(Error::NotPayer { invoice: *id, sender, action });
        }
        if !payer_only && inv.payee != sender {
            return Err(Error::NotPayee { invoice: *id, sender, action });
        }
        if let Some(cycle) = inv.netting_cycle {
            if self.cycles.get(&cycle).is_some_and(NettingCycle::is_active) {
                return Err(Error::InvoiceInNettingCycle { invoice: *id, cycle, action });
            }
        }
        Ok(inv.clone())
    }

    fn status_error(inv: &Invoice, action: &'static str) -> Error {
        Error::InvoiceStatus { invoice: inv.invoice, status: inv.status.name(), action }
    }

    fn accept(
        &mut self,
        sender: PartyId,
        id: &InvoiceId,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let mut inv = self.invoice_for(id, sender, true, "accept it")?;
        if !matches!(
            inv.status,
            InvoiceStatus::Verified | InvoiceStatus::Disputed | InvoiceStatus::Credited
        ) {
            return Err(Self::status_error(&inv, "accept it"));
        }
        inv.status = InvoiceStatus::Accepted;
        inv.accepted_at = Some(ctx.time);
        inv.dispute = None;
        self.put_invoice(inv);
        Ok(vec![Event::InvoiceAccepted { invoice: *id }])
    }

    fn dispute(
        &mut self,
        sender: PartyId,
        id: &InvoiceId,
        reason: Hash32,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let mut inv = self.invoice_for(id, sender, true, "dispute it")?;
        if !matches!(
            inv.status,
            InvoiceStatus::Verified | InvoiceStatus::Accepted | InvoiceStatus::Credited
        ) {
            return Err(Self::status_error(&inv, "dispute it"));
        }
        inv.status = InvoiceStatus::Disputed;
        inv.dispute = Some(DisputeRecord { reason, disputed_at: ctx.time });
        inv.payment_notice = None;
        self.put_invoice(inv);
        Ok(vec![Event::InvoiceDisputed { invoice: *id }])
    }

    fn credit(
        &mut self,
        sender: PartyId,
        id: &InvoiceId,
        credit: AmountCommitment,
        reference: Hash32,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let mut inv = self.invoice_for(id, sender, false, "credit it")?;
        if inv.status == InvoiceStatus::Paid {
            return Err(Self::status_error(&inv, "credit it"));
        }
        let refuse = |reason: String| Error::CreditRefused { invoice: *id, reason };
        let mut credits = self.credits(id).to_vec();
        if credits.iter().any(|c| c.reference == reference) {
            return Err(refuse(format!("credit {reference} is already recorded")));
        }
        if credits.len() >= MAX_CREDITS_PER_INVOICE {
            return Err(refuse(format!("it carries {MAX_CREDITS_PER_INVOICE} credits already")));
        }
        // A point of the subgroup, and not the identity, which would credit nothing while
        // making the payer accept anew.
        commitment::decode(&credit)?;
        if credit == commitment::encode(&PedersenCommitment::identity()) {
            return Err(Error::InvalidCommitment("the identity point credits nothing".into()));
        }
        credits.push(InvoiceCredit {
            reference,
            commitment: credit,
            credited_at: ctx.time,
            height: ctx.height,
        });
        let count = credits.len() as u32;
        // The payer accepted another amount: it accepts the credited one anew. A verified
        // or disputed invoice awaits its acceptance anyway.
        if inv.status == InvoiceStatus::Accepted {
            inv.status = InvoiceStatus::Credited;
            inv.payment_notice = None;
            self.put_invoice(inv);
        }
        self.credits.insert(*id, credits);
        self.dirty.insert(StateKey::Credits(*id));
        Ok(vec![Event::InvoiceCredited { invoice: *id, reference, credits: count }])
    }

    fn payment_notice(
        &mut self,
        sender: PartyId,
        id: &InvoiceId,
        paid_at: u64,
        payment_ref: Hash32,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let mut inv = self.invoice_for(id, sender, true, "notice its payment")?;
        if inv.status != InvoiceStatus::Accepted {
            return Err(Self::status_error(&inv, "notice its payment"));
        }
        if paid_at > ctx.time {
            return Err(Error::InvalidField {
                field: "paid_at",
                reason: format!("value date {paid_at} is after the block time {}", ctx.time),
            });
        }
        // A later notice replaces an unconfirmed earlier one (e.g. a corrected value date).
        inv.payment_notice =
            Some(PaymentNoticeRecord { paid_at, payment_ref, noticed_at: ctx.time });
        self.put_invoice(inv);
        Ok(vec![Event::PaymentNoticed { invoice: *id, paid_at }])
    }

    fn payment_receipt(
        &mut self,
        sender: PartyId,
        id: &InvoiceId,
        payment_ref: Hash32,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let mut inv = self.invoice_for(id, sender, false, "confirm its payment")?;
        if inv.status != InvoiceStatus::Accepted {
            return Err(Self::status_error(&inv, "confirm its payment"));
        }
        let notice = inv.payment_notice.take().ok_or(Error::NoPaymentNotice(*id))?;
        if notice.payment_ref != payment_ref {
            return Err(Error::PaymentRefMismatch {
                invoice: *id,
                notice: notice.payment_ref,
                receipt: payment_ref,
            });
        }
        // R87–R89: notice plus receipt make the payment attested, at the notice's value date.
        inv.status = InvoiceStatus::Paid;
        inv.settlement = Some(Settlement {
            paid_at: notice.paid_at,
            attested_at: ctx.time,
            by: SettledBy::Payment { payment_ref },
        });
        let days = reputation::days_relative(notice.paid_at, inv.due_date);
        self.put_invoice(inv);
        Ok(vec![Event::PaymentAttested {
            invoice: *id,
            paid_at: notice.paid_at,
            days_relative_to_terms: days,
        }])
    }

    // ----------------------------------------------------------------------------------
    // Pledges
    // ----------------------------------------------------------------------------------

    fn pledge_invoice(
        &mut self,
        sender: PartyId,
        nullifier: Nullifier,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        if self.pledges.contains_key(&nullifier) {
            return Err(Error::AlreadyPledged(nullifier));
        }
        self.pledges.insert(
            nullifier,
            Pledge { nullifier, financier: sender, pledged_at: ctx.time, height: ctx.height },
        );
        self.dirty.insert(StateKey::Pledge(nullifier));
        Ok(vec![Event::InvoicePledged { nullifier, financier: sender }])
    }

    fn release_pledge(&mut self, sender: PartyId, nullifier: Nullifier) -> Result<Vec<Event>> {
        let p = self.pledges.get(&nullifier).ok_or(Error::UnknownPledge(nullifier))?;
        if p.financier != sender {
            return Err(Error::NotPledgeHolder { nullifier, holder: p.financier, sender });
        }
        self.pledges.remove(&nullifier);
        self.dirty.insert(StateKey::Pledge(nullifier));
        Ok(vec![Event::PledgeReleased { nullifier }])
    }

    // ----------------------------------------------------------------------------------
    // Netting cycles
    // ----------------------------------------------------------------------------------

    fn cycle_in(
        &self,
        id: CycleId,
        phase: CyclePhase,
        action: &'static str,
    ) -> Result<NettingCycle> {
        let c = self.cycles.get(&id).ok_or(Error::UnknownCycle(id))?;
        if c.phase != phase {
            return Err(Error::CyclePhase { cycle: id, phase: c.phase.name(), action });
        }
        Ok(c.clone())
    }

    fn open_cycle(
        &mut self,
        sender: PartyId,
        currency: Currency,
        cutoff: u64,
        participants: &[PartyId],
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let set: BTreeSet<PartyId> = participants.iter().copied().collect();
        if set.len() != participants.len() {
            return Err(Error::InvalidField {
                field: "participants",
                reason: "a participant is listed twice".into(),
            });
        }
        if !(2..=MAX_CYCLE_PARTICIPANTS).contains(&set.len()) {
            return Err(Error::InvalidField {
                field: "participants",
                reason: format!("{} listed, 2..={MAX_CYCLE_PARTICIPANTS} allowed", set.len()),
            });
        }
        if !set.contains(&sender) {
            return Err(Error::InvalidField {
                field: "participants",
                reason: "the opener must take part".into(),
            });
        }
        if let Some(p) =
            set.iter().find(|p| !matches!(self.members.get(p), Some(m) if m.role == Role::Member))
        {
            return Err(Error::InvalidField {
                field: "participants",
                reason: format!("{p} is not a member with role member"),
            });
        }
        let id = self.meta.next_cycle;
        let count = set.len() as u32;
        let participants = set
            .into_iter()
            .map(|p| (p, Participant { joined: p == sender, ..Participant::default() }))
            .collect();
        self.meta.next_cycle += 1;
        self.dirty.insert(StateKey::Meta);
        self.put_cycle(NettingCycle {
            id,
            opener: sender,
            currency,
            cutoff,
            opened_at: ctx.time,
            participants,
            invoices: Vec::new(),
            phase: CyclePhase::Joining,
            instructions: Vec::new(),
            settled_at: None,
        });
        Ok(vec![Event::NettingCycleOpened { cycle: id, currency, participants: count }])
    }

    fn join_cycle(&mut self, sender: PartyId, id: CycleId) -> Result<Vec<Event>> {
        let mut cycle = self.cycle_in(id, CyclePhase::Joining, "join it")?;
        let p = cycle.participants.get_mut(&sender).ok_or(Error::NotParticipant {
            cycle: id,
            party: sender,
            what: "a participant",
        })?;
        if p.joined {
            return Err(Error::AlreadyDone { cycle: id, party: sender, what: "joined" });
        }
        p.joined = true;
        let mut events = vec![Event::NettingCycleJoined { cycle: id, member: sender }];
        if cycle.participants.values().all(|p| p.joined) {
            events.extend(self.lock_cycle(&mut cycle)?);
        } else {
            self.put_cycle(cycle);
        }
        Ok(events)
    }

    /// Every participant joined: lock the cycle's invoices and add up their commitments
    /// per participant (receivable − payable). Computes everything before writing.
    fn lock_cycle(&mut self, cycle: &mut NettingCycle) -> Result<Vec<Event>> {
        let mut sums: BTreeMap<PartyId, PedersenCommitment> = BTreeMap::new();
        let mut locked = Vec::new();
        for payee in cycle.participants.keys() {
            for inv in self.invoices_of_payee(payee) {
                let nettable = cycle.participants.contains_key(&inv.payer)
                    && inv.currency == cycle.currency
                    && inv.status == InvoiceStatus::Accepted
                    && inv.payment_notice.is_none()
                    && inv.due_date <= cycle.cutoff
                    && !inv
                        .netting_cycle
                        .is_some_and(|c| self.cycles.get(&c).is_some_and(NettingCycle::is_active));
                if nettable {
                    let c = commitment::decode(&self.amount_due(inv)?)?;
                    *sums.entry(inv.payee).or_default() += c;
                    *sums.entry(inv.payer).or_default() -= c;
                    locked.push(inv.invoice);
                }
            }
        }
        for (party, p) in cycle.participants.iter_mut() {
            let sum = sums.get(party).copied().unwrap_or_default();
            p.position = Some(commitment::encode(&sum));
        }
        locked.sort();
        cycle.phase = CyclePhase::Opening;
        cycle.invoices = locked;
        for id in &cycle.invoices {
            if let Some(inv) = self.invoices.get_mut(id) {
                inv.netting_cycle = Some(cycle.id);
                self.dirty.insert(StateKey::Invoice(*id));
            }
        }
        let event =
            Event::NettingCycleLocked { cycle: cycle.id, invoices: cycle.invoices.len() as u32 };
        self.put_cycle(cycle.clone());
        Ok(vec![event])
    }

    fn open_net(
        &mut self,
        sender: PartyId,
        id: CycleId,
        amount: Micros,
        blinding: &Blinding,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let mut cycle = self.cycle_in(id, CyclePhase::Opening, "open a net position")?;
        let p = cycle.participants.get_mut(&sender).ok_or(Error::NotParticipant {
            cycle: id,
            party: sender,
            what: "a participant",
        })?;
        if p.net.is_some() {
            return Err(Error::AlreadyDone { cycle: id, party: sender, what: "opened its net" });
        }
        let position = p.position.ok_or(Error::CyclePhase {
            cycle: id,
            phase: "without positions",
            action: "open a net position",
        })?;
        let r = commitment::decode_blinding(blinding)?;
        if !commitment::opens_to_signed(&commitment::decode(&position)?, amount, &r) {
            return Err(Error::OpeningMismatch { cycle: id, member: sender });
        }
        p.net = Some(amount);
        let mut events = vec![Event::NetOpened { cycle: id, member: sender, net: amount }];
        if cycle.participants.values().all(|p| p.net.is_some()) {
            let positions: Vec<(PartyId, Micros)> =
                cycle.participants.iter().map(|(party, p)| (*party, p.net.unwrap_or(0))).collect();
            // Binding commitments make the sum zero whenever every opening matched; the
            // check guards the arithmetic, not the members.
            let transfers = netting::settle(&positions)?;
            cycle.instructions = transfers
                .iter()
                .map(|t| SettlementInstruction {
                    from: t.from,
                    to: t.to,
                    amount: t.amount,
                    confirmed_at: None,
                })
                .collect();
            cycle.phase = CyclePhase::Settling;
            events.push(Event::SettlementInstructed {
                cycle: id,
                transfers: cycle.instructions.len() as u32,
                volume: cycle.settled_volume(),
            });
            if cycle.instructions.is_empty() {
                // Everybody's net is zero: settled without moving money.
                events.push(self.settle_cycle(&mut cycle, ctx.time));
            }
        }
        self.put_cycle(cycle);
        Ok(events)
    }

    fn confirm_settlement(
        &mut self,
        sender: PartyId,
        id: CycleId,
        index: u32,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let mut cycle = self.cycle_in(id, CyclePhase::Settling, "confirm a settlement")?;
        let t = cycle
            .instructions
            .get_mut(index as usize)
            .ok_or(Error::UnknownInstruction { cycle: id, instruction: index })?;
        if t.to != sender {
            return Err(Error::NotParticipant {
                cycle: id,
                party: sender,
                what: "the receiver of this settlement instruction",
            });
        }
        if t.confirmed_at.is_some() {
            return Err(Error::AlreadyDone {
                cycle: id,
                party: sender,
                what: "confirmed this transfer",
            });
        }
        t.confirmed_at = Some(ctx.time);
        let mut events = vec![Event::SettlementConfirmed { cycle: id, instruction: index }];
        if cycle.instructions.iter().all(|t| t.confirmed_at.is_some()) {
            events.push(self.settle_cycle(&mut cycle, ctx.time));
        }
        self.put_cycle(cycle);
        Ok(events)
    }

    /// Marks the cycle settled and its invoices paid. Infallible.
    fn settle_cycle(&mut self, cycle: &mut NettingCycle, at: u64) -> Event {
        cycle.phase = CyclePhase::Settled;
        cycle.settled_at = Some(at);
        for id in &cycle.invoices {
            if let Some(inv) = self.invoices.get_mut(id) {
                inv.status = InvoiceStatus::Paid;
                inv.settlement = Some(Settlement {
                    paid_at: at,
                    attested_at: at,
                    by: SettledBy::Netting { cycle: cycle.id },
                });
                self.dirty.insert(StateKey::Invoice(*id));
            }
        }
        Event::NettingCycleSettled { cycle: cycle.id, invoices: cycle.invoices.len() as u32 }
    }

    fn cancel_cycle(&mut self, sender: PartyId, id: CycleId) -> Result<Vec<Event>> {
        let mut cycle = self.cycles.get(&id).cloned().ok_or(Error::UnknownCycle(id))?;
        if cycle.opener != sender {
            return Err(Error::NotParticipant { cycle: id, party: sender, what: "the opener" });
        }
        if !matches!(cycle.phase, CyclePhase::Joining | CyclePhase::Opening) {
            return Err(Error::CyclePhase {
                cycle: id,
                phase: cycle.phase.name(),
                action: "cancel it",
            });
        }
        cycle.phase = CyclePhase::Cancelled;
        for inv_id in &cycle.invoices {
            if let Some(inv) = self.invoices.get_mut(inv_id) {
                inv.netting_cycle = None;
                self.dirty.insert(StateKey::Invoice(*inv_id));
            }
        }
        self.put_cycle(cycle);
        Ok(vec![Event::NettingCycleCancelled { cycle: id }])
    }
}

#[cfg(test)]
mod tests;
