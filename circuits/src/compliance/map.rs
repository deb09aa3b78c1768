//! The pseudonymous supply-chain map (MEF 114 R15): the ordered, hash-linked hop proofs
//! behind one order, as the seller assembles it, records its commitment on the bilateral
//! with the buyer and submits it to the registry; and [`verify_map`], what the registry
//! and a regulator run on it.
//!
//! Assembly: the seller creates the map ([`ComplianceMap::new`]) and decides the chain's
//! depth `n`; the participant at position `i` asks [`ComplianceMap::hop_context`] for its
//! `(L_{i−1}, u_i = n−1−i)`, proves, and the seller appends the proof
//! ([`ComplianceMap::push`]). Only links cross between participants, so none learns
//! another's identity.

use omni_core::hash::Hash32;
use serde::{Deserialize, Serialize};

use super::embargo::{CompliancePolicy, EmbargoCommitment, EmbargoList};
use super::hash::{field_hex, fp_serde, Fp};
use super::proof::{decode_versioned, ComplianceVerifier, HopProof};
use super::statement::first_link;
use super::{Error, Result};

/// Format version of [`ComplianceMap::to_bytes`].
pub const MAP_FORMAT: u8 = 1;

/// Domain tag of [`ComplianceMap::commitment`] (omni-core's domain-separated SHA-256).
pub const MAP_COMMITMENT_TAG: &str = "omni/compliance-map";

/// A supply-chain map: an order's hop proofs, seller first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceMap {
    /// The order commitment `O` ([`super::order_commitment`]).
    #[serde(with = "fp_serde")]
    pub order_commitment: Fp,
    /// The order's policy (allowed attributes, maximum hops).
    pub policy: CompliancePolicy,
    /// Version of the embargo list the hops were proven against.
    pub embargo_version: u32,
    /// That list's commitment `C_V`.
    #[serde(with = "fp_serde")]
    pub embargo_commitment: Fp,
    /// The credential root `R` the hops were proven under.
    #[serde(with = "fp_serde")]
    pub credential_root: Fp,
    /// Hop proofs, seller (index 0) first.
    pub hops: Vec<HopProof>,
}

/// What the registry published and a map is checked against (JSON for `omni verify
/// compliance --published`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedState {
    /// The credential root the map must be proven under.
    #[serde(with = "fp_serde")]
    pub credential_root: Fp,
    /// The current embargo list.
    pub embargo: EmbargoList,
}

/// A map that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedMap {
    /// The order it is for.
    pub order_commitment: Fp,
    /// Its number of hops.
    pub hops: usize,
    /// The embargo list version it complies with.
    pub embargo_version: u32,
    /// [`ComplianceMap::commitment`].
    pub commitment: Hash32,
}

impl ComplianceMap {
    /// An empty map for an order, proven against `embargo` under `credential_root`.
    pub fn new(
        order_commitment: Fp,
        policy: CompliancePolicy,
        embargo: &EmbargoList,
        credential_root: Fp,
    ) -> Self {
        Self {
            order_commitment,
            policy,
            embargo_version: embargo.version(),
            embargo_commitment: embargo.commitment(),
            credential_root,
            hops: Vec::new(),
        }
    }

    /// `L_0 = H(TAG_ORDER_LINK, O)`.
    pub fn first_link(&self) -> Fp {
        first_link(&self.order_commitment)
    }

    /// The `(link_prev, upstream_count)` the next hop must prove with, in a chain of
    /// `total` hops.
    pub fn hop_context(&self, total: usize) -> Result<(Fp, u32)> {
        let index = self.hops.len();
        if total > self.policy.max_hops() as usize {
            return Err(Error::TooManyHops { hops: total, max: self.policy.max_hops() });
        }
        if index >= total {
            return Err(Error::TooManyHops { hops: index + 1, max: total as u32 });
        }
        let link_prev = self.hops.last().map_or_else(|| self.first_link(), |hop| hop.public.link);
        Ok((link_prev, (total - 1 - index) as u32))
    }

    /// Appends the next hop's proof.
    pub fn push(&mut self, hop: HopProof) {
        self.hops.push(hop);
    }

    /// `MAP_FORMAT ‖ postcard(self)`: the map's canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![MAP_FORMAT];
        // Serializing plain data into a Vec cannot fail.
        bytes.extend(postcard::to_allocvec(self).unwrap_or_default());
        bytes
    }

    /// Decodes [`ComplianceMap::to_bytes`], refusing other versions, non-canonical field
    /// elements, invalid policies and trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        decode_versioned("supply-chain map", MAP_FORMAT, bytes)
    }

    /// The commitment recorded on the bilateral ledger: omni-core's domain-separated
    /// SHA-256 of the canonical encoding, `Hash32::digest(MAP_COMMITMENT_TAG,
    /// to_bytes())`.
    pub fn commitment(&self) -> Hash32 {
        Hash32::digest(MAP_COMMITMENT_TAG, &self.to_bytes())
    }
}

/// Verifies a supply-chain map against what the registry published: the hop count
/// against the policy, the credential root and embargo list, each hop's context, the
/// link chain from the order, the declared upstream counts (completeness), and every
/// hop proof (in one batch). Cheap structural checks come first, so a malformed map is
/// refused before any proof is verified.
pub fn verify_map(
    verifier: &ComplianceVerifier,
    map: &ComplianceMap,
    published: &PublishedState,
) -> Result<VerifiedMap> {
    let verified = check_map_structure(map, published)?;
    verifier.verify_hops(&map.hops)?;
    Ok(verified)
}

/// Every check of [`verify_map`] except the hop proofs themselves: hop count, credential
/// root, embargo list, each hop's context, the link chain and the upstream counts. The
/// registry runs this against its state and verifies the proofs of a block's maps in
/// parallel beforehand.
pub fn check_map_structure(map: &ComplianceMap, published: &PublishedState) -> Result<VerifiedMap> {
    let n = map.hops.len();
    if n == 0 {
        return Err(Error::EmptyMap);
    }
    if n > map.policy.max_hops() as usize {
        return Err(Error::TooManyHops { hops: n, max: map.policy.max_hops() });
    }
    if map.credential_root != published.credential_root {
        return Err(Error::CredentialRootMismatch {
            expected: field_hex(&published.credential_root),
            found: field_hex(&map.credential_root),
        });
    }
    if map.embargo_version != published.embargo.version() {
        return Err(Error::EmbargoListVersion {
            expected: published.embargo.version(),
            found: map.embargo_version,
        });
    }
    if map.embargo_commitment != published.embargo.commitment() {
        return Err(Error::EmbargoCommitmentMismatch { version: map.embargo_version });
    }
    let policy_commitment = map.policy.commitment();
    let mut link_prev = map.first_link();
    for (i, hop) in map.hops.iter().enumerate() {
        let public = &hop.public;
        for (what, found, expected) in [
            ("credential root", public.credential_root, map.credential_root),
            ("embargo list", public.embargo_commitment, map.embargo_commitment),
            ("policy", public.policy_commitment, policy_commitment),
        ] {
            if found != expected {
                return Err(Error::HopContextMismatch { hop: i, what });
            }
        }
        if public.link_prev != link_prev {
            return Err(Error::BrokenLink {
                hop: i,
                to: if i == 0 { "the order" } else { "the previous hop" },
            });
        }
        link_prev = public.link;
    }
    // Counts after links, so a hop missing inside the chain is reported as the broken
    // link it causes; a chain cut short at its upstream end links fine and is caught
    // here.
    for (i, hop) in map.hops.iter().enumerate() {
        let expected = (n - 1 - i) as u32;
        if hop.public.upstream_count != expected {
            return Err(Error::UpstreamCount {
                hop: i,
                declared: hop.public.upstream_count,
                expected,
            });
        }
    }
    Ok(VerifiedMap {
        order_commitment: map.order_commitment,
        hops: n,
        embargo_version: map.embargo_version,
        commitment: map.commitment(),
    })
}
