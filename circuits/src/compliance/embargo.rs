//! Embargo lists (published by a regulator) and an order's compliance policy.
//!
//! Both enter the hop circuit as fixed-size slot arrays committed by Poseidon, and the
//! commitments are public inputs of every hop proof:
//!
//! - an [`EmbargoList`] has [`EMBARGO_SLOTS`] = 32 slots; unused ones hold `0`, which is
//!   no ISO 3166 numeric code, so it excludes nobody;
//! - a [`CompliancePolicy`] has [`POLICY_SLOTS`] = 8 slots of allowed attribute codes;
//!   unused ones hold `0`, which no credential carries, so it admits nobody.
//!
//! The list itself is `omni_core::embargo::EmbargoList` (it travels in registry
//! transactions; re-exported here); this module adds its slots and commitment
//! ([`EmbargoCommitment`]) and defines the policy. The regulator's signature over a list
//! and its storage on the registry live with the registry.

use serde::{Deserialize, Serialize};

use super::hash::{poseidon, tags, Fp};
use super::{Error, Result};

pub use omni_core::embargo::{EmbargoList, EmbargoListError, EMBARGO_SLOTS};

/// Slots of a policy's allowed-attribute set in the hop circuit.
pub const POLICY_SLOTS: usize = 8;

/// The circuit's view of an [`EmbargoList`]: its slots and its commitment.
///
/// The list is part of the registry's transaction format (`PublishEmbargoList`), so it
/// is defined in `omni_core::omnilateral` and re-exported here; what needs the Pallas
/// field is this trait.
pub trait EmbargoCommitment {
    /// The circuit's slots: the countries, then zeros.
    fn slots(&self) -> [Fp; EMBARGO_SLOTS];

    /// `C_V = H(TAG_EMBARGO, version, c_0, …, c_31)`.
    fn commitment(&self) -> Fp;
}

impl EmbargoCommitment for EmbargoList {
    fn slots(&self) -> [Fp; EMBARGO_SLOTS] {
        let mut slots = [Fp::from(0); EMBARGO_SLOTS];
        for (slot, &c) in slots.iter_mut().zip(self.countries()) {
            *slot = Fp::from(u64::from(c));
        }
        slots
    }

    fn commitment(&self) -> Fp {
        let mut message = [Fp::from(0); EMBARGO_SLOTS + 2];
        message[0] = Fp::from(tags::TAG_EMBARGO);
        message[1] = Fp::from(u64::from(self.version()));
        message[2..].copy_from_slice(&self.slots());
        poseidon(message)
    }
}

impl From<EmbargoListError> for Error {
    fn from(e: EmbargoListError) -> Error {
        match e {
            EmbargoListError::InvalidCountry(c) => Error::InvalidCountry(c),
            EmbargoListError::TooLong { found, max } => Error::EmbargoListTooLong { found, max },
        }
    }
}

/// An order's compliance policy: which attribute codes (e.g. circuit types) every
/// participant must have, and how many hops the supply chain may have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyRepr", into = "PolicyRepr")]
pub struct CompliancePolicy {
    allowed_attributes: Vec<u16>,
    max_hops: u32,
}

#[derive(Serialize, Deserialize)]
struct PolicyRepr {
    allowed_attributes: Vec<u16>,
    max_hops: u32,
}

impl TryFrom<PolicyRepr> for CompliancePolicy {
    type Error = Error;
    fn try_from(r: PolicyRepr) -> Result<Self> {
        Self::new(r.allowed_attributes, r.max_hops)
    }
}

impl From<CompliancePolicy> for PolicyRepr {
    fn from(p: CompliancePolicy) -> Self {
        PolicyRepr { allowed_attributes: p.allowed_attributes, max_hops: p.max_hops }
    }
}

impl CompliancePolicy {
    /// A policy allowing 1 to [`POLICY_SLOTS`] attribute codes (each ≥ 1) and at most
    /// `max_hops` (≥ 1) hops.
    pub fn new(allowed_attributes: Vec<u16>, max_hops: u32) -> Result<Self> {
        if allowed_attributes.is_empty() || allowed_attributes.len() > POLICY_SLOTS {
            return Err(Error::PolicyAttributes {
                found: allowed_attributes.len(),
                max: POLICY_SLOTS,
            });
        }
        if allowed_attributes.contains(&0) {
            return Err(Error::InvalidAttribute);
        }
        if max_hops == 0 {
            return Err(Error::PolicyMaxHops);
        }
        Ok(Self { allowed_attributes, max_hops })
    }

    /// The allowed attribute codes.
    pub fn allowed_attributes(&self) -> &[u16] {
        &self.allowed_attributes
    }

    /// The maximum number of hops of a supply-chain map under this policy.
    pub fn max_hops(&self) -> u32 {
        self.max_hops
    }

    /// Whether `attribute` is allowed.
    pub fn allows(&self, attribute: u16) -> bool {
        self.allowed_attributes.contains(&attribute)
    }

    /// The circuit's slots: the allowed codes, then zeros.
    pub fn slots(&self) -> [Fp; POLICY_SLOTS] {
        let mut slots = [Fp::from(0); POLICY_SLOTS];
        for (slot, &a) in slots.iter_mut().zip(&self.allowed_attributes) {
            *slot = Fp::from(u64::from(a));
        }
        slots
    }

    /// `P = H(TAG_POLICY, max_hops, a_0, …, a_7)`.
    pub fn commitment(&self) -> Fp {
        let mut message = [Fp::from(0); POLICY_SLOTS + 2];
        message[0] = Fp::from(tags::TAG_POLICY);
        message[1] = Fp::from(u64::from(self.max_hops));
        message[2..].copy_from_slice(&self.slots());
        poseidon(message)
    }
}
