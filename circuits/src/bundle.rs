//! The rating proof's wire format, shared by the prover (which writes it) and the
//! verifier (which reads it): the statement, the Groth16 proofs of its chunks and of the
//! final circuit (or the one proof of the interval circuit), and the verifying keys they
//! are checked against.
//!
//! # The statement a bundle proves
//!
//! "The amount committed in `amount_commitment` is the rating, under the tariff committed
//! in `tariff_commitment`, of the usage records committed in `usage_commitment`, for the
//! bilateral `pseudonym` and the billing interval `interval`" (MEF 114 §7.7 Option 1,
//! CR3/CR5). A bundle of an interval with more records than the chunk size holds one
//! proof per usage chunk of [`crate::rating`] and one final proof; a bundle of an
//! interval that fits one chunk holds no chunk proof, and its final proof is the interval
//! circuit's. Public inputs are not stored: [`RatingProofBundle::chunk_public_inputs`]
//! and [`RatingProofBundle::final_public_inputs`] derive them from the statement and the
//! chunks' state commitments, so a verifier cannot be handed inputs that disagree with the
//! statement it reads:
//!
//! ```text
//!   chunk i  : [tariff_commitment, s_{i-1}, s_i]         s_{-1} = initial_state_commitment()
//!   final    : [tariff_commitment, s_last, usage_commitment, C.x, C.y,
//!               pseudonym, interval, include_one_time_fees]
//!   interval : [tariff_commitment, usage_commitment, C.x, C.y,
//!               pseudonym, interval, include_one_time_fees]        (no chunk proofs)
//! ```
//!
//! The number of chunks is public: it tells the record count to within the chunk size
//! (`⌈records / chunk_size⌉`, or "at most the chunk size" when there are none), nothing
//! more.
//!
//! # Encodings
//!
//! Field elements are 32 bytes little-endian and must be canonical (below the modulus).
//! Groth16 proofs are arkworks' uncompressed encoding (A: 64, B: 128, C: 64 bytes);
//! decoding checks that every point is on its curve and in its prime-order subgroup. A bundle is
//! `BUNDLE_VERSION ‖ postcard(bundle)`; in JSON, byte strings are hex. Version 2 added
//! bundles without chunk proofs (the interval circuit) and uncompressed proofs; version 1
//! bundles are refused, as are the key sets they were proven under.
//!
//! # Verifying keys
//!
//! [`RatingKeySet`] is the chunk key and the interval key for one chunk size, and the
//! final key. Its
//! [`RatingKeySet::hash`] names it: a bundle carries the hash of the keys it was proven
//! under, the registry publishes the hashes of the keys it accepts, and key files are
//! checked against it when loaded.

use crate::pedersen::PedersenCommitment;
use crate::rating::{initial_state_commitment, FINAL_PUBLIC_INPUTS, INTERVAL_PUBLIC_INPUTS};
use crate::{Error, Result};
use ark_bn254::{Bn254, Fr};
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

/// Version byte leading every encoded bundle; readers refuse others.
pub const BUNDLE_VERSION: u8 = 2;

/// Length of an uncompressed Groth16 proof on BN254 (A: 64, B: 128, C: 64 bytes). Not
/// compressed: decompressing solves a square root per point, a third of what decoding a
/// proof cost, paid by every registry validator for every proof.
pub const PROOF_LEN: usize = 256;

/// The most chunks a bundle may hold (4096 × the chunk size records), bounding the work a
/// verifier can be made to do by one bundle.
pub const MAX_CHUNKS: usize = 4096;

/// Public inputs of a usage chunk proof.
pub const CHUNK_PUBLIC_INPUTS: usize = 3;

fn malformed(reason: impl Into<String>) -> Error {
    Error::Bundle(reason.into())
}

/// Serializes bytes as hex for human-readable formats (JSON) and as bytes otherwise.
fn serialize_bytes<S: Serializer>(bytes: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex::encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

fn deserialize_bytes<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<u8>, D::Error> {
    if d.is_human_readable() {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(de::Error::custom)
    } else {
        serde_bytes_vec(d)
    }
}

fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<u8>, D::Error> {
    struct Visitor;
    impl<'de> de::Visitor<'de> for Visitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a byte string")
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    d.deserialize_bytes(Visitor)
}

/// A BN254 scalar field element in its canonical 32-byte little-endian encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldBytes(pub [u8; 32]);

impl FieldBytes {
    /// The encoding of `f`.
    pub fn from_field(f: &Fr) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(&f.into_bigint().to_bytes_le());
        FieldBytes(out)
    }

    /// The field element, refusing encodings at or above the modulus.
    pub fn to_field(&self) -> Result<Fr> {
        Fr::deserialize_with_mode(&self.0[..], Compress::Yes, Validate::Yes)
            .map_err(|_| malformed("a field element is not canonical (at or above the modulus)"))
    }
}

impl fmt::Debug for FieldBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(self.0))
    }
}

impl Serialize for FieldBytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        serialize_bytes(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for FieldBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let bytes = deserialize_bytes(d)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            de::Error::custom(format!("expected 32 bytes, got {}", b.len()))
        })?;
        Ok(FieldBytes(arr))
    }
}

/// An uncompressed Groth16 proof ([`PROOF_LEN`] bytes); decoded and checked on use.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProofBytes(pub Vec<u8>);

impl ProofBytes {
    /// The uncompressed encoding of `proof`.
    pub fn from_proof(proof: &Proof<Bn254>) -> Self {
        let mut out = Vec::with_capacity(PROOF_LEN);
        // Writing to a Vec cannot fail.
        if proof.serialize_uncompressed(&mut out).is_err() {
            out.clear();
        }
        ProofBytes(out)
    }

    /// The proof, refusing a wrong length, non-canonical coordinates and points that are
    /// not on their curve or not in its prime-order subgroup.
    pub fn to_proof(&self) -> Result<Proof<Bn254>> {
        if self.0.len() != PROOF_LEN {
            return Err(malformed(format!(
                "a proof is {PROOF_LEN} bytes, this one is {}",
                self.0.len()
            )));
        }
        // Coordinates are read as canonical field elements; every point of BN254's G1 on
        // the curve is in the subgroup (cofactor 1); B's subgroup is checked with the
        // endomorphism test, twice as fast as arkworks' `Validate::Yes`.
        let proof: Proof<Bn254> =
            Proof::deserialize_with_mode(&self.0[..], Compress::No, Validate::No)
                .map_err(|e| malformed(format!("proof points are not valid curve points ({e})")))?;
        if !(proof.a.is_on_curve() && proof.b.is_on_curve() && proof.c.is_on_curve()) {
            return Err(malformed("proof points are not on their curves"));
        }
        if !crate::g2_membership::in_subgroup(&proof.b) {
            return Err(malformed("proof point B is not in the prime-order subgroup"));
        }
        Ok(proof)
    }
}

impl fmt::Debug for ProofBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proof({} bytes)", self.0.len())
    }
}

impl Serialize for ProofBytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        serialize_bytes(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for ProofBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        deserialize_bytes(d).map(ProofBytes)
    }
}

/// Maps 32 bytes (a bilateral id, an interval id's hash) to a field element: SHA-256
/// under `tag`, its first 31 bytes read little-endian (so no reduction bias).
pub fn field_from_bytes(tag: &str, bytes: &[u8]) -> Fr {
    let mut h = Sha256::new();
    h.update([tag.len() as u8]);
    h.update(tag.as_bytes());
    h.update(bytes);
    let digest = h.finalize();
    Fr::from_le_bytes_mod_order(&digest[..31])
}

/// The public pseudonym of a bilateral in rating proofs, from its id.
pub fn bilateral_pseudonym(bilateral_id: &[u8; 32]) -> Fr {
    field_from_bytes("omni/rating-proof/pseudonym", bilateral_id)
}

/// The public billing interval of a rating proof, from its identifier (MEF R58).
pub fn interval_field(interval_id: &str) -> Fr {
    field_from_bytes("omni/rating-proof/interval", interval_id.as_bytes())
}

/// What a rating proof proves (module docs).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RatingStatement {
    /// The bilateral's pseudonym ([`bilateral_pseudonym`]).
    pub pseudonym: FieldBytes,
    /// The billing interval ([`interval_field`]).
    pub interval: FieldBytes,
    /// Poseidon commitment to the tariff ([`crate::rating::tariff_commitment`]).
    pub tariff_commitment: FieldBytes,
    /// Poseidon commitment to the usage records, the value both parties agreed on.
    pub usage_commitment: FieldBytes,
    /// The invoice amount's Pedersen commitment ([`PedersenCommitment::to_bytes`]).
    pub amount_commitment: FieldBytes,
    /// Whether the tariff's one-time fees are charged.
    pub include_one_time_fees: bool,
}

impl RatingStatement {
    /// The amount commitment, checked to be a point of Baby Jubjub's subgroup.
    pub fn amount_commitment(&self) -> Result<PedersenCommitment> {
        PedersenCommitment::from_bytes(&self.amount_commitment.0)
    }
}

/// A chunk's proof and the commitment to the usage state after it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChunkProof {
    /// Commitment to the state after the chunk (salted; the next chunk's `state_in`).
    pub state_out: FieldBytes,
    /// The Groth16 proof of [`crate::rating::UsageChunkCircuit`].
    pub proof: ProofBytes,
}

/// Which verifying keys a bundle was proven under.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct KeyId {
    /// Records per chunk.
    pub chunk_size: u32,
    /// [`RatingKeySet::hash`].
    pub hash: FieldBytes,
}

/// A rating proof: the statement and the proofs of its chunks and final circuit.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RatingProofBundle {
    /// The keys it was proven under.
    pub keys: KeyId,
    /// What it proves.
    pub statement: RatingStatement,
    /// One per chunk, in order; none when the interval fits one chunk.
    pub chunks: Vec<ChunkProof>,
    /// The Groth16 proof of [`crate::rating::FinalCircuit`], or of
    /// [`crate::rating::IntervalCircuit`] when there are no chunk proofs.
    pub final_proof: ProofBytes,
}

impl RatingProofBundle {
    /// `BUNDLE_VERSION ‖ postcard(self)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let out = vec![BUNDLE_VERSION];
        // Serializing into a Vec cannot run out of space, and these types raise no errors.
        postcard::to_extend(self, out).unwrap_or_default()
    }

    /// Decodes [`RatingProofBundle::to_bytes`], refusing other versions, truncated or
    /// trailing bytes and more than [`MAX_CHUNKS`] chunks. (Points and field elements are
    /// checked when the bundle is verified.)
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (&version, body) =
            bytes.split_first().ok_or_else(|| malformed("empty input, not a proof bundle"))?;
        if version != BUNDLE_VERSION {
            return Err(malformed(format!(
                "bundle version {version}, this build reads version {BUNDLE_VERSION}"
            )));
        }
        let (bundle, rest) = postcard::take_from_bytes::<RatingProofBundle>(body)
            .map_err(|e| malformed(format!("not a proof bundle: {e}")))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes after the bundle", rest.len())));
        }
        bundle.check_shape()?;
        Ok(bundle)
    }

    /// Whether the bundle is one proof of the interval circuit (no chunk proofs).
    pub fn is_one_proof(&self) -> bool {
        self.chunks.is_empty()
    }

    /// How many Groth16 proofs the bundle holds.
    pub fn proofs(&self) -> usize {
        self.chunks.len() + 1
    }

    /// Of a key set's final and interval keys (verifying or prepared), the one this
    /// bundle's final proof is checked against: the interval key when it has no chunk
    /// proofs.
    pub fn final_proof_key<'k, K>(&self, final_: &'k K, interval: &'k K) -> &'k K {
        if self.is_one_proof() {
            interval
        } else {
            final_
        }
    }

    /// Refuses an oversized chunk list.
    pub fn check_shape(&self) -> Result<()> {
        if self.chunks.len() > MAX_CHUNKS {
            return Err(malformed(format!(
                "{} chunk proofs, at most {MAX_CHUNKS} are accepted",
                self.chunks.len()
            )));
        }
        Ok(())
    }

    /// Each chunk's public inputs, derived from the statement and the state chain.
    pub fn chunk_public_inputs(&self) -> Result<Vec<[Fr; CHUNK_PUBLIC_INPUTS]>> {
        self.check_shape()?;
        let tariff = self.statement.tariff_commitment.to_field()?;
        let mut state_in = initial_state_commitment();
        self.chunks
            .iter()
            .map(|c| {
                let state_out = c.state_out.to_field()?;
                let inputs = [tariff, state_in, state_out];
                state_in = state_out;
                Ok(inputs)
            })
            .collect()
    }

    /// The final proof's public inputs, derived from the statement and the last chunk:
    /// [`FINAL_PUBLIC_INPUTS`] of them, or [`INTERVAL_PUBLIC_INPUTS`] (no state) when the
    /// bundle has no chunk proofs.
    pub fn final_public_inputs(&self) -> Result<Vec<Fr>> {
        self.check_shape()?;
        let s = &self.statement;
        // On the curve; the proof itself shows it is in the subgroup (see
        // `PedersenCommitment::public_inputs_of`).
        let [x, y] = PedersenCommitment::public_inputs_of(&s.amount_commitment.0)?;
        let mut inputs = Vec::with_capacity(FINAL_PUBLIC_INPUTS);
        inputs.push(s.tariff_commitment.to_field()?);
        if let Some(last) = self.chunks.last() {
            inputs.push(last.state_out.to_field()?);
        }
        inputs.extend([
            s.usage_commitment.to_field()?,
            x,
            y,
            s.pseudonym.to_field()?,
            s.interval.to_field()?,
            Fr::from(s.include_one_time_fees),
        ]);
        debug_assert!(
            inputs.len()
                == if self.is_one_proof() { INTERVAL_PUBLIC_INPUTS } else { FINAL_PUBLIC_INPUTS }
        );
        Ok(inputs)
    }
}

/// Magic bytes leading an encoded [`RatingKeySet`].
const KEYSET_MAGIC: &[u8; 8] = b"omniRVK2";

/// Magic bytes of the key sets of version 1 bundles (no interval key), which this build
/// refuses by name.
const KEYSET_MAGIC_V1: &[u8; 8] = b"omniRVK1";

/// The verifying keys of the rating circuits for one chunk size.
#[derive(Clone, PartialEq, Debug)]
pub struct RatingKeySet {
    /// Records per chunk of the chunk circuit.
    pub chunk_size: u32,
    /// Verifying key of [`crate::rating::UsageChunkCircuit`] of that size.
    pub chunk: VerifyingKey<Bn254>,
    /// Verifying key of [`crate::rating::FinalCircuit`].
    pub final_: VerifyingKey<Bn254>,
    /// Verifying key of [`crate::rating::IntervalCircuit`] of that size.
    pub interval: VerifyingKey<Bn254>,
}

impl RatingKeySet {
    /// `magic ‖ chunk_size (u32 LE) ‖ chunk vk ‖ final vk ‖ interval vk`, keys compressed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = KEYSET_MAGIC.to_vec();
        out.extend_from_slice(&self.chunk_size.to_le_bytes());
        // Writing to a Vec cannot fail.
        let _ = self.chunk.serialize_compressed(&mut out);
        let _ = self.final_.serialize_compressed(&mut out);
        let _ = self.interval.serialize_compressed(&mut out);
        out
    }

    /// Whether `bytes` are a key set of an older format (version 1 bundles' keys).
    pub fn is_older_format(bytes: &[u8]) -> bool {
        bytes.starts_with(KEYSET_MAGIC_V1)
    }

    /// The key a bundle's final proof is checked against: the interval key when the
    /// bundle has no chunk proofs, else the final key.
    pub fn final_key_of(&self, bundle: &RatingProofBundle) -> &VerifyingKey<Bn254> {
        bundle.final_proof_key(&self.final_, &self.interval)
    }

    /// Decodes [`RatingKeySet::to_bytes`], checking every point (on the curve, in the
    /// subgroup) and that each key has the number of public inputs of its circuit.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.starts_with(KEYSET_MAGIC_V1) {
            return Err(malformed(
                "rating verifying keys of an older format (no interval key): set the keys up again",
            ));
        }
        let rest = bytes
            .strip_prefix(KEYSET_MAGIC)
            .ok_or_else(|| malformed("not a rating verifying key set (bad magic)"))?;
        if rest.len() < 4 {
            return Err(malformed("verifying key set truncated"));
        }
        let (size, mut rest) = rest.split_at(4);
        let chunk_size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
        let mut key = |what: &str, inputs: usize| {
            let vk = VerifyingKey::<Bn254>::deserialize_with_mode(
                &mut rest,
                Compress::Yes,
                Validate::Yes,
            )
            .map_err(|e| malformed(format!("{what} verifying key is malformed ({e})")))?;
            if vk.gamma_abc_g1.len() != inputs + 1 {
                return Err(malformed(format!(
                    "{what} verifying key has {} public inputs, its circuit has {inputs}",
                    vk.gamma_abc_g1.len().saturating_sub(1)
                )));
            }
            Ok(vk)
        };
        let chunk = key("chunk", CHUNK_PUBLIC_INPUTS)?;
        let final_ = key("final", FINAL_PUBLIC_INPUTS)?;
        let interval = key("interval", INTERVAL_PUBLIC_INPUTS)?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes after the key set", rest.len())));
        }
        Ok(RatingKeySet { chunk_size, chunk, final_, interval })
    }

    /// SHA-256 of the encoding under a domain tag, as a field element so it can be a
    /// public value anywhere: the name of these keys.
    pub fn hash(&self) -> FieldBytes {
        let mut h = Sha256::new();
        h.update(b"omni/rating-keys");
        h.update(self.to_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(&h.finalize());
        FieldBytes(out)
    }

    /// The [`KeyId`] bundles proven under these keys carry.
    pub fn id(&self) -> KeyId {
        KeyId { chunk_size: self.chunk_size, hash: self.hash() }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_ec::AffineRepr;

    #[test]
    fn field_bytes_refuse_non_canonical() {
        let f = Fr::from(123_456u64);
        assert_eq!(FieldBytes::from_field(&f).to_field().unwrap(), f);
        assert!(FieldBytes([0xff; 32]).to_field().is_err());
        let json = serde_json::to_string(&FieldBytes::from_field(&f)).unwrap();
        assert_eq!(serde_json::from_str::<FieldBytes>(&json).unwrap().to_field().unwrap(), f);
    }

    #[test]
    fn proof_bytes_refuse_bad_points() {
        let g1 = ark_bn254::G1Affine::generator();
        let g2 = ark_bn254::G2Affine::generator();
        let proof = Proof::<Bn254> { a: g1, b: g2, c: g1 };
        let bytes = ProofBytes::from_proof(&proof);
        assert_eq!(bytes.0.len(), PROOF_LEN);
        assert_eq!(bytes.to_proof().unwrap(), proof);
        // Truncated; a point moved off its curve; a coordinate that is not canonical.
        assert!(ProofBytes(bytes.0[..100].to_vec()).to_proof().is_err());
        let mut off_curve = bytes.clone();
        off_curve.0[0] ^= 1;
        assert!(
            matches!(off_curve.to_proof(), Err(Error::Bundle(ref r)) if r.contains("not on")),
            "A off its curve"
        );
        let mut off_curve = bytes.clone();
        off_curve.0[100] ^= 1;
        assert!(off_curve.to_proof().is_err(), "B off its curve");
        let mut not_canonical = bytes.clone();
        not_canonical.0[..32].copy_from_slice(&[0xff; 32]);
        not_canonical.0[31] = 0x3f;
        assert!(not_canonical.to_proof().is_err());
    }

    #[test]
    fn bundle_bytes_refusals() {
        let bundle = RatingProofBundle {
            keys: KeyId { chunk_size: 4, hash: FieldBytes([1; 32]) },
            statement: RatingStatement {
                pseudonym: FieldBytes([0; 32]),
                interval: FieldBytes([0; 32]),
                tariff_commitment: FieldBytes([0; 32]),
                usage_commitment: FieldBytes([0; 32]),
                amount_commitment: FieldBytes(PedersenCommitment::identity().to_bytes()),
                include_one_time_fees: false,
            },
            chunks: vec![ChunkProof { state_out: FieldBytes([2; 32]), proof: ProofBytes(vec![]) }],
            final_proof: ProofBytes(vec![]),
        };
        let bytes = bundle.to_bytes();
        assert_eq!(RatingProofBundle::from_bytes(&bytes).unwrap(), bundle);
        let mut other_version = bytes.clone();
        other_version[0] = 1;
        assert!(RatingProofBundle::from_bytes(&other_version).is_err());
        assert!(RatingProofBundle::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(RatingProofBundle::from_bytes(&trailing).is_err());
        assert!(RatingProofBundle::from_bytes(&[]).is_err());
        // No chunk proofs: one proof of the interval circuit, with one input fewer.
        let mut one = bundle.clone();
        one.chunks.clear();
        assert!(one.is_one_proof());
        assert_eq!(RatingProofBundle::from_bytes(&one.to_bytes()).unwrap(), one);
        assert!(one.chunk_public_inputs().unwrap().is_empty());
        assert_eq!(one.final_public_inputs().unwrap().len(), INTERVAL_PUBLIC_INPUTS);
        assert_eq!(bundle.final_public_inputs().unwrap().len(), FINAL_PUBLIC_INPUTS);
        let mut too_many = bundle;
        too_many.chunks = vec![too_many.chunks[0].clone(); MAX_CHUNKS + 1];
        assert!(RatingProofBundle::from_bytes(&too_many.to_bytes()).is_err());
    }
}
