//! Native Poseidon over Pallas' base field, the domain tags of every hash in the
//! compliance module, and the 32-byte encoding of field elements (also as serde helpers).

use ff::PrimeField;
use halo2_gadgets::poseidon::primitives::{ConstantLength, Hash, P128Pow5T3};
pub use pasta_curves::Fp;
use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

use super::{Error, Result};

/// Domain tags: the first input of each hash, so no two uses of Poseidon collide.
pub mod tags {
    /// `H(TAG_SECRET, s)`: the member secret's hash, stored in its credential.
    pub const TAG_SECRET: u64 = 1;
    /// `H(TAG_CREDENTIAL, pseudonym, country, attribute, secret_hash)`: a tree leaf.
    pub const TAG_CREDENTIAL: u64 = 2;
    /// `H(TAG_EMBARGO, version, c_0..c_31)`: the embargo commitment.
    pub const TAG_EMBARGO: u64 = 3;
    /// `H(TAG_POLICY, max_hops, a_0..a_7)`: the policy commitment.
    pub const TAG_POLICY: u64 = 4;
    /// `H(TAG_LINK, L_prev, s, u)`: a hop's link.
    pub const TAG_LINK: u64 = 5;
    /// `H(TAG_ORDER_LINK, O)`: an order's first link `L_0`.
    pub const TAG_ORDER_LINK: u64 = 6;
    /// `H(TAG_ORDER, lo, hi)`: an order commitment from a 32-byte order id.
    pub const TAG_ORDER: u64 = 7;
}

/// Poseidon `P128Pow5T3` in `ConstantLength<L>` mode: the hash the circuit computes.
pub fn poseidon<const L: usize>(message: [Fp; L]) -> Fp {
    Hash::<Fp, P128Pow5T3, ConstantLength<L>, 3, 2>::init().hash(message)
}

/// The order commitment `O = H(TAG_ORDER, lo, hi)` of a 32-byte order id (e.g. the hash
/// of the order entry on the bilateral ledger), `lo`/`hi` its little-endian 128-bit
/// halves, so every 32-byte id maps without reduction.
pub fn order_commitment(order_id: &[u8; 32]) -> Fp {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    lo.copy_from_slice(&order_id[..16]);
    hi.copy_from_slice(&order_id[16..]);
    poseidon([
        Fp::from(tags::TAG_ORDER),
        Fp::from_u128(u128::from_le_bytes(lo)),
        Fp::from_u128(u128::from_le_bytes(hi)),
    ])
}

/// The canonical 32-byte little-endian encoding of a field element.
pub fn field_to_bytes(value: &Fp) -> [u8; 32] {
    value.to_repr()
}

/// Decodes [`field_to_bytes`]' encoding, refusing values ≥ p.
pub fn field_from_bytes(bytes: &[u8; 32]) -> Result<Fp> {
    Option::from(Fp::from_repr(*bytes)).ok_or_else(|| Error::NonCanonicalField(hex::encode(bytes)))
}

/// Lower-case hex of [`field_to_bytes`], for messages and JSON.
pub fn field_hex(value: &Fp) -> String {
    hex::encode(field_to_bytes(value))
}

fn decode_field<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Fp, D::Error> {
    let bytes: [u8; 32] = if deserializer.is_human_readable() {
        let text = String::deserialize(deserializer)?;
        let raw = hex::decode(&text).map_err(D::Error::custom)?;
        raw.try_into()
            .map_err(|_| D::Error::custom("a field element is 32 bytes (64 hex digits)"))?
    } else {
        <[u8; 32]>::deserialize(deserializer)?
    };
    field_from_bytes(&bytes).map_err(D::Error::custom)
}

fn encode_field<S: Serializer>(value: &Fp, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&field_hex(value))
    } else {
        field_to_bytes(value).serialize(serializer)
    }
}

/// `#[serde(with = "fp_serde")]` for one [`Fp`]: 32 bytes in binary formats, 64 hex
/// digits in human-readable ones; non-canonical values are refused.
pub mod fp_serde {
    use super::*;

    /// Serializes one field element.
    pub fn serialize<S: Serializer>(
        value: &Fp,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        encode_field(value, serializer)
    }

    /// Deserializes one field element.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Fp, D::Error> {
        decode_field(deserializer)
    }
}

/// `#[serde(with = "fp_vec_serde")]` for a `Vec<Fp>`, each element as in [`fp_serde`].
pub mod fp_vec_serde {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Wrapped(#[serde(with = "super::fp_serde")] Fp);

    /// Serializes a sequence of field elements.
    pub fn serialize<S: Serializer>(
        values: &[Fp],
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|v| Wrapped(*v)))
    }

    /// Deserializes a sequence of field elements.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Vec<Fp>, D::Error> {
        let wrapped = Vec::<Wrapped>::deserialize(deserializer)?;
        Ok(wrapped.into_iter().map(|w| w.0).collect())
    }
}
