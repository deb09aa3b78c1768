//! Supply-chain compliance on the registry (MEF 114 R15; docs/architecture.md, "The proofs" 3):
//! jurisdiction credentials, embargo lists and verified supply-chain maps.
//!
//! - **Credentials.** The membership administrator issues a member a jurisdiction
//!   credential off the registry (it sees pseudonym, country and attribute, and only the
//!   hash of the member's secret) and puts its *commitment* in the credential Merkle tree
//!   with `IssueCredential`; the member keeps the opening and asks for its Merkle path.
//!   `RevokeCredential` empties the leaf, so the revoked credential is absent from every
//!   later root.
//! - **Accepted roots.** A map is accepted under the current credential root or any
//!   root since the last revocation: issuing a credential to someone else does not
//!   invalidate maps being assembled, but a revocation does (a revoked credential's
//!   proofs hold only against roots that are no longer accepted). At most
//!   [`MAX_ACCEPTED_ROOTS`] roots are kept.
//! - **Embargo lists.** A regulator publishes versioned lists (each version greater than
//!   the last); the transaction's signature is the regulator's signature on the list.
//! - **Maps.** A member submits a seller's map; the registry checks it is proven under an
//!   accepted root and against the *current* embargo list (a map against an older list
//!   is refused, naming both versions), then the structure (links, counts, hop limit;
//!   [`check_map_structure`]) and the hop proofs (batched per map, verified for the whole
//!   block in parallel before execution). It records one verified map per order and
//!   list version, so [`RegistryState::compliance_status`] answers "which orders are
//!   compliant under list V" and names the orders last proven under an older one.

use super::{RegistryState, StateKey};
use crate::error::{Error, Result};
use crate::state::{BlockContext, Event};
use crate::tx::TxBody;
use crate::verification::ProofVerdict;
use omni_circuits::compliance::{
    check_map_structure, field_from_bytes, field_to_bytes, ComplianceMap, ComplianceVerifier,
    CredentialTree, EmbargoList, Fp, MerklePath, PublishedState,
};
use omni_core::{Hash32, PartyId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many credential roots since the last revocation a map may be proven under.
pub const MAX_ACCEPTED_ROOTS: usize = 1024;

/// A credential commitment in the tree.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// Its leaf index.
    pub leaf: u64,
    /// The member it was issued to.
    pub member: PartyId,
    /// The commitment (a Pallas base field element, canonical bytes).
    pub commitment: Hash32,
    /// Block time of issuance.
    pub issued_at: u64,
    /// Block time of revocation, if revoked.
    pub revoked_at: Option<u64>,
}

/// A published embargo list.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EmbargoRecord {
    /// The list (version and ISO 3166 numeric country codes).
    pub list: EmbargoList,
    /// The regulator that published it.
    pub published_by: PartyId,
    /// Block time of publication.
    pub published_at: u64,
    /// Height of publication.
    pub height: u64,
}

/// A supply-chain map the registry verified.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ComplianceRecord {
    /// The order commitment `O` (canonical bytes).
    pub order: Hash32,
    /// The embargo list version it was verified against.
    pub embargo_version: u32,
    /// The credential root it was proven under.
    pub credential_root: Hash32,
    /// The map's commitment, as recorded on the bilateral ledger.
    pub map_commitment: Hash32,
    /// Number of hops.
    pub hops: u32,
    /// The policy's maximum hop count.
    pub max_hops: u32,
    /// The member that submitted it (the seller).
    pub submitted_by: PartyId,
    /// Block time of verification.
    pub verified_at: u64,
}

/// An order's compliance under one embargo list version.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OrderCompliance {
    /// A map verified under this version.
    Compliant(ComplianceRecord),
    /// The order's latest map was verified under an older version and has not been
    /// re-proven since.
    Outdated(ComplianceRecord),
}

impl OrderCompliance {
    /// The record it is based on.
    pub fn record(&self) -> &ComplianceRecord {
        match self {
            OrderCompliance::Compliant(r) | OrderCompliance::Outdated(r) => r,
        }
    }

    /// `compliant` or `outdated`.
    pub fn name(&self) -> &'static str {
        match self {
            OrderCompliance::Compliant(_) => "compliant",
            OrderCompliance::Outdated(_) => "outdated",
        }
    }
}

/// The compliance part of the registry's state.
#[derive(Debug, Default)]
pub(crate) struct ComplianceState {
    pub(crate) credentials: BTreeMap<u64, CredentialRecord>,
    pub(crate) accepted_roots: Vec<Hash32>,
    pub(crate) embargo_lists: BTreeMap<u32, EmbargoRecord>,
    pub(crate) maps: BTreeMap<(Hash32, u32), ComplianceRecord>,
    /// Rebuilt from `credentials`.
    pub(crate) tree: CredentialTree,
}

impl ComplianceState {
    /// Rebuilds the tree from the credential records (after a restore).
    pub(crate) fn rebuild_tree(&mut self) -> Result<()> {
        let mut tree = CredentialTree::new();
        for (leaf, record) in &self.credentials {
            let index = tree.insert(fp(&record.commitment, "credential")?).map_err(store)?;
            if index != *leaf {
                return Err(Error::Store(format!("credential leaves not contiguous at {leaf}")));
            }
        }
        for record in self.credentials.values().filter(|r| r.revoked_at.is_some()) {
            tree.revoke(record.leaf).map_err(store)?;
        }
        self.tree = tree;
        Ok(())
    }
}

fn store(e: omni_circuits::compliance::Error) -> Error {
    Error::Store(format!("credential tree: {e}"))
}

fn fp(bytes: &Hash32, field: &'static str) -> Result<Fp> {
    field_from_bytes(&bytes.0).map_err(|e| Error::InvalidField { field, reason: e.to_string() })
}

fn bytes_of(value: &Fp) -> Hash32 {
    Hash32(field_to_bytes(value))
}

/// Decodes a submitted map, with the registry's error.
pub(crate) fn decode_map(bytes: &[u8]) -> Result<ComplianceMap> {
    ComplianceMap::from_bytes(bytes)
        .map_err(|e| Error::InvalidField { field: "map", reason: e.to_string() })
}

/// The verdict on a map's hop proofs alone (the part that does not depend on the
/// state), computed for a whole block in parallel before execution.
pub(crate) fn verify_map_proofs(body: &TxBody) -> Option<ProofVerdict> {
    let TxBody::SubmitComplianceMap { map } = body else { return None };
    Some(ProofVerdict::from(ComplianceMap::from_bytes(map).map_err(|e| e.to_string()).and_then(
        |m| {
            ComplianceVerifier::shared()
                .and_then(|v| v.verify_hops(&m.hops))
                .map_err(|e| e.to_string())
        },
    )))
}

impl RegistryState {
    // ----------------------------------------------------------------------------------
    // Reading
    // ----------------------------------------------------------------------------------

    /// The current credential root.
    pub fn credential_root(&self) -> Hash32 {
        bytes_of(&self.compliance.tree.root())
    }

    /// Roots a map may be proven under: those since the last revocation, oldest first.
    pub fn accepted_credential_roots(&self) -> &[Hash32] {
        &self.compliance.accepted_roots
    }

    /// Credentials issued so far (revoked ones included).
    pub fn credential_count(&self) -> u64 {
        self.compliance.tree.len()
    }

    /// A credential record.
    pub fn credential(&self, leaf: u64) -> Option<&CredentialRecord> {
        self.compliance.credentials.get(&leaf)
    }

    /// The Merkle path of a leaf under the current root, for its holder's hop proofs.
    pub fn credential_path(&self, leaf: u64) -> Result<MerklePath> {
        match self.compliance.credentials.get(&leaf) {
            None => Err(Error::UnknownCredential(leaf)),
            Some(r) if r.revoked_at.is_some() => Err(Error::CredentialRevoked(leaf)),
            Some(_) => self
                .compliance
                .tree
                .path(leaf)
                .map_err(|e| Error::InvalidField { field: "leaf", reason: e.to_string() }),
        }
    }

    /// The latest embargo list.
    pub fn current_embargo_list(&self) -> Option<&EmbargoRecord> {
        self.compliance.embargo_lists.values().next_back()
    }

    /// An embargo list by version.
    pub fn embargo_list(&self, version: u32) -> Option<&EmbargoRecord> {
        self.compliance.embargo_lists.get(&version)
    }

    /// Every embargo list published, oldest version first.
    pub fn embargo_lists(&self) -> impl Iterator<Item = &EmbargoRecord> {
        self.compliance.embargo_lists.values()
    }

    /// What a map is checked against now: the current root and embargo list, as a
    /// regulator passes it to `omni verify compliance`.
    pub fn published_compliance_state(&self) -> Option<PublishedState> {
        Some(PublishedState {
            credential_root: self.compliance.tree.root(),
            embargo: self.current_embargo_list()?.list.clone(),
        })
    }

    /// Every order with a verified map, and its status under embargo list `version`:
    /// compliant if a map was verified under it, outdated if the order's latest map is
    /// under an older version. Orders first verified under a later version are omitted.
    pub fn compliance_status(&self, version: u32) -> Vec<(Hash32, OrderCompliance)> {
        let mut out: BTreeMap<Hash32, OrderCompliance> = BTreeMap::new();
        for ((order, v), record) in &self.compliance.maps {
            if *v == version {
                out.insert(*order, OrderCompliance::Compliant(record.clone()));
            } else if *v < version && !matches!(out.get(order), Some(OrderCompliance::Compliant(_)))
            {
                // Maps iterate by version within an order: the last older one wins.
                out.insert(*order, OrderCompliance::Outdated(record.clone()));
            }
        }
        out.into_iter().collect()
    }

    /// The verified map of an order under a version.
    pub fn compliance_record(&self, order: &Hash32, version: u32) -> Option<&ComplianceRecord> {
        self.compliance.maps.get(&(*order, version))
    }

    /// The order's map verified under the latest embargo list version it was proven for.
    pub fn latest_compliance_record(&self, order: &Hash32) -> Option<&ComplianceRecord> {
        self.compliance.maps.range((*order, 0)..=(*order, u32::MAX)).next_back().map(|(_, r)| r)
    }

    // ----------------------------------------------------------------------------------
    // Writing
    // ----------------------------------------------------------------------------------

    pub(super) fn issue_credential(
        &mut self,
        member: PartyId,
        commitment: Hash32,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        if !self.members.contains_key(&member) {
            return Err(Error::NotAMember { party: member });
        }
        if let Some(r) = self
            .compliance
            .credentials
            .values()
            .find(|r| r.member == member && r.revoked_at.is_none())
        {
            return Err(Error::CredentialExists { member, leaf: r.leaf });
        }
        let value = fp(&commitment, "credential commitment")?;
        // The tree refuses before it changes anything.
        let leaf = self.compliance.tree.insert(value).map_err(|e| Error::InvalidField {
            field: "credential commitment",
            reason: e.to_string(),
        })?;
        self.compliance.credentials.insert(
            leaf,
            CredentialRecord { leaf, member, commitment, issued_at: ctx.time, revoked_at: None },
        );
        self.accept_current_root(false);
        self.dirty.insert(StateKey::Credential(leaf));
        Ok(vec![Event::CredentialIssued { member, leaf }])
    }

    pub(super) fn revoke_credential(
        &mut self,
        leaf: u64,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let record =
            self.compliance.credentials.get(&leaf).ok_or(Error::UnknownCredential(leaf))?;
        if record.revoked_at.is_some() {
            return Err(Error::CredentialRevoked(leaf));
        }
        let member = record.member;
        self.compliance
            .tree
            .revoke(leaf)
            .map_err(|e| Error::InvalidField { field: "leaf", reason: e.to_string() })?;
        if let Some(r) = self.compliance.credentials.get_mut(&leaf) {
            r.revoked_at = Some(ctx.time);
        }
        self.accept_current_root(true);
        self.dirty.insert(StateKey::Credential(leaf));
        Ok(vec![Event::CredentialRevoked { member, leaf }])
    }

    fn accept_current_root(&mut self, revocation: bool) {
        let root = self.credential_root();
        let roots = &mut self.compliance.accepted_roots;
        if revocation {
            roots.clear();
        }
        roots.push(root);
        if roots.len() > MAX_ACCEPTED_ROOTS {
            roots.remove(0);
        }
        self.dirty.insert(StateKey::CredentialRoots);
    }

    pub(super) fn publish_embargo_list(
        &mut self,
        sender: PartyId,
        list: &EmbargoList,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        if let Some(current) = self.current_embargo_list() {
            if list.version() <= current.list.version() {
                return Err(Error::EmbargoVersion {
                    version: list.version(),
                    current: current.list.version(),
                });
            }
        }
        let version = list.version();
        self.compliance.embargo_lists.insert(
            version,
            EmbargoRecord {
                list: list.clone(),
                published_by: sender,
                published_at: ctx.time,
                height: ctx.height,
            },
        );
        self.dirty.insert(StateKey::EmbargoList(version));
        Ok(vec![Event::EmbargoListPublished { version, countries: list.countries().len() as u32 }])
    }

    pub(super) fn submit_compliance_map(
        &mut self,
        sender: PartyId,
        bytes: &[u8],
        proofs: Option<ProofVerdict>,
        ctx: &BlockContext,
    ) -> Result<Vec<Event>> {
        let map = decode_map(bytes)?;
        let order = bytes_of(&map.order_commitment);
        let current = self.current_embargo_list().ok_or(Error::NoEmbargoList)?;
        let current_version = current.list.version();
        if map.embargo_version != current_version {
            return Err(Error::StaleEmbargoList {
                found: map.embargo_version,
                current: current_version,
            });
        }
        let root = bytes_of(&map.credential_root);
        if !self.compliance.accepted_roots.contains(&root) {
            return Err(Error::UnacceptedCredentialRoot { root });
        }
        if self.compliance.maps.contains_key(&(order, current_version)) {
            return Err(Error::DuplicateComplianceMap { order, version: current_version });
        }
        let published =
            PublishedState { credential_root: map.credential_root, embargo: current.list.clone() };
        let reject = |reason: String| Error::ComplianceMapRejected { order, reason };
        let verified = check_map_structure(&map, &published).map_err(|e| reject(e.to_string()))?;
        proofs
            .unwrap_or_else(|| ProofVerdict::Refused("the hop proofs were not verified".into()))
            .into_result()
            .map_err(reject)?;
        let record = ComplianceRecord {
            order,
            embargo_version: current_version,
            credential_root: root,
            map_commitment: verified.commitment,
            hops: verified.hops as u32,
            max_hops: map.policy.max_hops(),
            submitted_by: sender,
            verified_at: ctx.time,
        };
        self.compliance.maps.insert((order, current_version), record);
        self.dirty.insert(StateKey::ComplianceMap(order, current_version));
        Ok(vec![Event::ComplianceMapVerified {
            order,
            embargo_version: current_version,
            hops: verified.hops as u32,
        }])
    }
}
