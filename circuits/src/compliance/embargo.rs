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
//! The regulator's signature over a list and its storage on the registry live with the
//! registry; this module only defines the list and its commitment.

use serde::{Deserialize, Serialize};

use super::credential::check_country;
use super::hash::{poseidon, tags, Fp};
use super::{Error, Result};

/// Slots of an embargo list in the hop circuit.
pub const EMBARGO_SLOTS: usize = 32;

/// Slots of a policy's allowed-attribute set in the hop circuit.
pub const POLICY_SLOTS: usize = 8;

/// A versioned list of embargoed countries (ISO 3166 numeric codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EmbargoRepr", into = "EmbargoRepr")]
pub struct EmbargoList {
    version: u32,
    countries: Vec<u16>,
}

#[derive(Serialize, Deserialize)]
struct EmbargoRepr {
    version: u32,
    countries: Vec<u16>,
}

impl TryFrom<EmbargoRepr> for EmbargoList {
    type Error = Error;
    fn try_from(r: EmbargoRepr) -> Result<Self> {
        Self::new(r.version, r.countries)
    }
}

impl From<EmbargoList> for EmbargoRepr {
    fn from(l: EmbargoList) -> Self {
        EmbargoRepr { version: l.version, countries: l.countries }
    }
}

impl EmbargoList {
    /// A list of at most [`EMBARGO_SLOTS`] country codes (each 1–999); duplicates are
    /// kept as given.
    pub fn new(version: u32, countries: Vec<u16>) -> Result<Self> {
        if countries.len() > EMBARGO_SLOTS {
            return Err(Error::EmbargoListTooLong { found: countries.len(), max: EMBARGO_SLOTS });
        }
        for &c in &countries {
            check_country(c)?;
        }
        Ok(Self { version, countries })
    }

    /// The list's version (increasing with each publication).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The embargoed countries.
    pub fn countries(&self) -> &[u16] {
        &self.countries
    }

    /// Whether `country` is embargoed.
    pub fn contains(&self, country: u16) -> bool {
        self.countries.contains(&country)
    }

    /// The circuit's slots: the countries, then zeros.
    pub fn slots(&self) -> [Fp; EMBARGO_SLOTS] {
        let mut slots = [Fp::from(0); EMBARGO_SLOTS];
        for (slot, &c) in slots.iter_mut().zip(&self.countries) {
            *slot = Fp::from(u64::from(c));
        }
        slots
    }

    /// `C_V = H(TAG_EMBARGO, version, c_0, …, c_31)`.
    pub fn commitment(&self) -> Fp {
        let mut message = [Fp::from(0); EMBARGO_SLOTS + 2];
        message[0] = Fp::from(tags::TAG_EMBARGO);
        message[1] = Fp::from(u64::from(self.version));
        message[2..].copy_from_slice(&self.slots());
        poseidon(message)
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
