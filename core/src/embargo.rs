//! Embargo lists: the versioned lists of embargoed countries a regulator publishes on the
//! registry (`PublishEmbargoList`) and every supply-chain hop proves it is outside of.
//!
//! The list is data in a transaction; its commitment and its slots in the hop circuit are
//! `omni_circuits::compliance` (the `EmbargoCommitment` trait there), because they are
//! Poseidon over the Pallas field.

use serde::{Deserialize, Serialize};

/// Most countries an embargo list may hold: the slots of the hop circuit.
pub const EMBARGO_SLOTS: usize = 32;

/// Largest ISO 3166 numeric country code.
pub const MAX_COUNTRY_CODE: u16 = 999;

/// Why an embargo list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbargoListError {
    /// A country code outside ISO 3166 numeric 1–999.
    #[error("country code {0} is not an ISO 3166 numeric code (1-999)")]
    InvalidCountry(u16),
    /// An embargo list with more countries than the circuit's slots.
    #[error("embargo list has {found} countries, at most {max} fit the circuit")]
    TooLong {
        /// Countries in the list.
        found: usize,
        /// [`EMBARGO_SLOTS`].
        max: usize,
    },
}

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
    type Error = EmbargoListError;
    fn try_from(r: EmbargoRepr) -> Result<Self, EmbargoListError> {
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
    pub fn new(version: u32, countries: Vec<u16>) -> Result<Self, EmbargoListError> {
        if countries.len() > EMBARGO_SLOTS {
            return Err(EmbargoListError::TooLong { found: countries.len(), max: EMBARGO_SLOTS });
        }
        if let Some(&c) = countries.iter().find(|&&c| c == 0 || c > MAX_COUNTRY_CODE) {
            return Err(EmbargoListError::InvalidCountry(c));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked_when_built_and_when_decoded() {
        assert_eq!(
            EmbargoList::new(1, vec![4; 33]),
            Err(EmbargoListError::TooLong { found: 33, max: EMBARGO_SLOTS })
        );
        assert_eq!(EmbargoList::new(1, vec![408, 0]), Err(EmbargoListError::InvalidCountry(0)));
        assert_eq!(EmbargoList::new(1, vec![1000]), Err(EmbargoListError::InvalidCountry(1000)));
        let list = EmbargoList::new(3, vec![408, 364]).unwrap();
        assert!(list.contains(408) && !list.contains(760));
        let bytes = crate::encode(&list);
        assert_eq!(crate::decode::<EmbargoList>("EmbargoList", &bytes).unwrap(), list);
        // The same shape with a code out of range does not decode.
        let bad = crate::encode(&(3u32, vec![408u16, 0]));
        assert!(crate::decode::<EmbargoList>("EmbargoList", &bad).is_err());
    }
}
