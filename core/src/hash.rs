//! Domain-separated SHA-256 hashes over canonical bytes.
//!
//! `H(tag, bytes) = SHA-256(len(tag) as u8 ‖ tag ‖ bytes)`. The tag names what is hashed
//! (`"omni/entry"`, `"omni/usage-batch"`, …) so that bytes of one kind can never be
//! mistaken for bytes of another.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A 32-byte hash (SHA-256 unless stated otherwise).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The all-zero hash, used as the previous hash of a genesis entry.
    pub const ZERO: Hash32 = Hash32([0u8; 32]);

    /// Domain-separated SHA-256 of `bytes` under `tag`.
    pub fn digest(tag: &str, bytes: &[u8]) -> Hash32 {
        let mut h = Hasher::new(tag);
        h.update(bytes);
        h.finish()
    }

    /// Lower-case hex of the 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> crate::Result<Hash32> {
        let bytes = hex::decode(s)
            .map_err(|e| crate::Error::Decode { what: "Hash32", reason: e.to_string() })?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| crate::Error::Decode {
            what: "Hash32",
            reason: format!("expected 32 bytes, got {}", b.len()),
        })?;
        Ok(Hash32(arr))
    }

    /// The first 8 hex characters, for logs and reports.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.short())
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Incremental domain-separated hasher, for hashing long sequences without concatenating.
pub struct Hasher(Sha256);

impl Hasher {
    /// Starts a hash under `tag`.
    pub fn new(tag: &str) -> Hasher {
        debug_assert!(tag.len() < 256, "hash tags are short");
        let mut h = Sha256::new();
        h.update([tag.len() as u8]);
        h.update(tag.as_bytes());
        Hasher(h)
    }

    /// Absorbs bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Absorbs a length-prefixed field, so that field boundaries are unambiguous.
    pub fn update_field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Finishes the hash.
    pub fn finish(self) -> Hash32 {
        Hash32(self.0.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_pinned() {
        // Pinned: a change of the tag framing changes every hash on every ledger.
        assert_eq!(
            Hash32::digest("omni/test", b"hello").to_hex(),
            "c6f9a1f2f0c22b397238f7867961669204e8c7791d93c59e93d197dc907826e5"
        );
    }

    #[test]
    fn tags_separate_domains() {
        assert_ne!(Hash32::digest("a", b"bc"), Hash32::digest("ab", b"c"));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash32::digest("x", b"y");
        assert_eq!(Hash32::from_hex(&h.to_hex()), Ok(h));
        assert!(Hash32::from_hex("zz").is_err());
        assert!(Hash32::from_hex("00").is_err());
    }
}
