//! Identities and Ed25519 signatures.
//!
//! A party — a carrier, a registry member, a regulator — is identified by its Ed25519
//! public key ([`PartyId`]). Signatures are always over a **domain tag** and canonical
//! bytes (`tag ‖ bytes`, framed like [`crate::hash`]), so that a signature made for one
//! purpose (an order) can never be replayed as another (a payment receipt).

use crate::{Error, Result};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A party's public key: its identity on a bilateral ledger and on the registry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartyId(pub [u8; 32]);

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature(#[serde(with = "sig_bytes")] pub [u8; 64]);

/// A party's signing key. Never serialized with the domain types; stored by key files.
pub struct Keypair(SigningKey);

fn signed_message(tag: &str, bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(1 + tag.len() + bytes.len());
    m.push(tag.len() as u8);
    m.extend_from_slice(tag.as_bytes());
    m.extend_from_slice(bytes);
    m
}

impl Keypair {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Keypair {
        Keypair(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// A deterministic key from a 32-byte seed (tests, demos, key files).
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair(SigningKey::from_bytes(&seed))
    }

    /// The 32-byte seed, for writing a key file.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public identity of this key.
    pub fn party(&self) -> PartyId {
        PartyId(self.0.verifying_key().to_bytes())
    }

    /// Signs `bytes` under the domain `tag`.
    pub fn sign(&self, tag: &str, bytes: &[u8]) -> Signature {
        Signature(self.0.sign(&signed_message(tag, bytes)).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({:?})", self.party())
    }
}

impl PartyId {
    /// Verifies `sig` over `bytes` under domain `tag`; strict (no malleable signatures,
    /// no small-order keys).
    pub fn verify(&self, tag: &str, bytes: &[u8], sig: &Signature) -> Result<()> {
        let key = VerifyingKey::from_bytes(&self.0)
            .map_err(|e| Error::MalformedKey(format!("party key {}: {e}", self.short())))?;
        let s = ed25519_dalek::Signature::from_bytes(&sig.0);
        key.verify_strict(&signed_message(tag, bytes), &s)
            .map_err(|_| Error::BadSignature { signer: self.to_hex(), what: tag.to_string() })
    }

    /// Lower-case hex of the key.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<PartyId> {
        crate::Hash32::from_hex(s).map(|h| PartyId(h.0))
    }

    /// First 8 hex characters, for reports.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Debug for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartyId({})", self.short())
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..4]))
    }
}

mod sig_bytes {
    use serde::{de::Error, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v: Vec<u8> = serde_bytes_vec(d)?;
        v.try_into().map_err(|v: Vec<u8>| D::Error::invalid_length(v.len(), &"64 bytes"))
    }

    fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(64);
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_forgeries() {
        let k = Keypair::from_seed([7; 32]);
        let other = Keypair::from_seed([8; 32]);
        let sig = k.sign("omni/order", b"order-1");
        assert!(k.party().verify("omni/order", b"order-1", &sig).is_ok());
        // wrong message, wrong tag, wrong signer
        assert!(k.party().verify("omni/order", b"order-2", &sig).is_err());
        assert!(k.party().verify("omni/receipt", b"order-1", &sig).is_err());
        assert!(matches!(
            other.party().verify("omni/order", b"order-1", &sig),
            Err(Error::BadSignature { .. })
        ));
        // a flipped bit
        let mut bad = sig;
        bad.0[10] ^= 1;
        assert!(k.party().verify("omni/order", b"order-1", &bad).is_err());
    }

    #[test]
    fn deterministic_keys_are_pinned() {
        let k = Keypair::from_seed([1; 32]);
        assert_eq!(
            k.party().to_hex(),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        );
        assert_eq!(Keypair::from_seed(k.seed()).party(), k.party());
    }

    #[test]
    fn signature_serde_round_trip() {
        let k = Keypair::from_seed([3; 32]);
        let sig = k.sign("t", b"m");
        let bytes = crate::encode(&sig);
        let back: Signature = crate::decode("Signature", &bytes).unwrap();
        assert_eq!(back, sig);
        let json = serde_json::to_string(&sig).unwrap();
        let back: Signature = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sig);
        assert!(serde_json::from_str::<Signature>("[1,2,3]").is_err());
    }
}
