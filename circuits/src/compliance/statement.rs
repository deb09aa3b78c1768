//! What one hop proves: its public inputs, the witness it proves them from, and the
//! statement checked natively ([`HopWitness::public_inputs`]) — the same relation the
//! circuit ([`super::circuit`]) enforces and the proofs ([`super::proof`]) carry.

use super::credential::{CredentialOpening, MerklePath};
use super::embargo::{CompliancePolicy, EmbargoCommitment, EmbargoList};
use super::hash::{fp_serde, poseidon, tags, Fp};
use super::{Error, Result};
use serde::{Deserialize, Serialize};

/// The public inputs of a hop proof (see the module overview for their meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopPublicInputs {
    /// `R`: the credential root the hop proved membership under.
    #[serde(with = "fp_serde")]
    pub credential_root: Fp,
    /// `C_V`: the embargo list's commitment.
    #[serde(with = "fp_serde")]
    pub embargo_commitment: Fp,
    /// `P`: the order policy's commitment.
    #[serde(with = "fp_serde")]
    pub policy_commitment: Fp,
    /// `L_{i−1}`: the link received from the downstream neighbour.
    #[serde(with = "fp_serde")]
    pub link_prev: Fp,
    /// `L_i`: this hop's link.
    #[serde(with = "fp_serde")]
    pub link: Fp,
    /// `u_i`: upstream hops this hop declares.
    pub upstream_count: u32,
}

/// What a participant proves a hop from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopWitness {
    /// The participant's credential opening.
    pub opening: CredentialOpening,
    /// Its credential's path under `credential_root`.
    pub path: MerklePath,
    /// The credential root the registry published, that `path` must lead to.
    pub credential_root: Fp,
    /// The current embargo list.
    pub embargo: EmbargoList,
    /// The order's policy.
    pub policy: CompliancePolicy,
    /// The link received from the downstream neighbour (`L_0` for the seller).
    pub link_prev: Fp,
    /// Upstream hops behind this participant.
    pub upstream_count: u32,
}

/// `L_i = H(TAG_LINK, L_{i−1}, s, u)`.
pub fn link(link_prev: &Fp, secret: &Fp, upstream_count: u32) -> Fp {
    poseidon([Fp::from(tags::TAG_LINK), *link_prev, *secret, Fp::from(u64::from(upstream_count))])
}

/// `L_0 = H(TAG_ORDER_LINK, O)`: the first link of an order's chain.
pub fn first_link(order_commitment: &Fp) -> Fp {
    poseidon([Fp::from(tags::TAG_ORDER_LINK), *order_commitment])
}

impl HopWitness {
    /// Checks the statement natively and returns the public inputs a proof would have;
    /// a witness for which no proof exists is reported by what it breaks.
    pub fn public_inputs(&self) -> Result<HopPublicInputs> {
        let credential = &self.opening.credential;
        if !self.opening.is_consistent() {
            return Err(Error::SecretMismatch);
        }
        if self.path.leaf_index != self.opening.leaf_index
            || self.path.root(credential.commitment())? != self.credential_root
        {
            return Err(Error::NotInTree);
        }
        if self.embargo.contains(credential.country()) {
            return Err(Error::Embargoed {
                country: credential.country(),
                version: self.embargo.version(),
            });
        }
        if !self.policy.allows(credential.attribute()) {
            return Err(Error::AttributeNotAllowed(credential.attribute()));
        }
        if self.upstream_count >= self.policy.max_hops() {
            return Err(Error::TooManyHops {
                hops: self.upstream_count as usize + 1,
                max: self.policy.max_hops(),
            });
        }
        Ok(HopPublicInputs {
            credential_root: self.credential_root,
            embargo_commitment: self.embargo.commitment(),
            policy_commitment: self.policy.commitment(),
            link_prev: self.link_prev,
            link: link(&self.link_prev, &self.opening.secret, self.upstream_count),
            upstream_count: self.upstream_count,
        })
    }
}
