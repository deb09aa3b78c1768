//! Pedersen commitments to amounts on Baby Jubjub, native and in-circuit.
//!
//! `C = amount·G + r·H` on the prime-order subgroup of Baby Jubjub
//! (`ark_ed_on_bn254`). The curve is defined over BN254's scalar field, so a circuit
//! computes `C` with native field arithmetic and exposes its two coordinates as public
//! inputs. Commitments add up (`C₁ + C₂` commits to `a₁ + a₂` under `r₁ + r₂`), which
//! lets the registry total invoices it cannot read (docs/architecture.md, "The proofs", 2).
//!
//! Note that `ark_ed_on_bn254` uses the `a = 1` form `x² + y² = 1 + d·x²y²` with
//! `d = 168696/168700`, a rescaling of circomlib's `babyjub` (`a = 168700,
//! d = 168696`): the curves are isomorphic, but x-coordinates differ by the factor
//! `√168700`.
//!
//! # Generators
//!
//! `G` and `H` are nothing-up-my-sleeve points nobody knows a discrete-log relation
//! between. [`hash_to_curve`] derives each from a domain string ([`G_DOMAIN`],
//! [`H_DOMAIN`]) by try-and-increment:
//!
//! ```text
//! for counter = 0, 1, 2, …:
//!     y = SHA-256(domain ‖ counter as 4 bytes big-endian), read big-endian, mod q
//!     if x² = (1 − y²)/(1 − d·y²) has a root: take the smaller root x (x ≤ q − x),
//!         P = 8·(x, y)                      (clears the cofactor)
//!         if P ≠ identity: return P
//! ```
//!
//! The tests pin both generators' coordinates.
//!
//! # Encoding
//!
//! A commitment encodes as arkworks' canonical compressed form: 32 bytes, the
//! y-coordinate little-endian with the top bit set when x is the larger of `±x`.
//! [`PedersenCommitment::from_bytes`] accepts only canonical encodings of points in the
//! prime-order subgroup.
//!
//! # In-circuit cost
//!
//! Fixed-base scalar multiplication uses precomputed tables of 3-bit windows: window
//! `j` of a scalar selects `k·2^(3j)·B`, `k ∈ 0..8`, with 3 constraints (one for
//! `b₀·b₁`, one per coordinate), and each window after the first is added with the
//! complete twisted Edwards addition (6 constraints). For a 64-bit amount and a 251-bit
//! blinding, [`commit_var`] costs 63 + 250 lookup + 105·6 addition = 943 constraints,
//! plus 65 for the amount's range check; allocating the blinding
//! ([`alloc_blinding`]) costs 251 and [`expose_commitment`] 2.

use std::{
    fmt,
    ops::{Add, AddAssign, Neg, Sub, SubAssign},
    sync::OnceLock,
};

use ark_bn254::Fr;
use ark_ec::{twisted_edwards::TEFlags, AffineRepr, CurveGroup};
use ark_ed_on_bn254::{constraints::EdwardsVar, EdwardsAffine, EdwardsProjective};
use ark_ff::{AdditiveGroup, BigInteger, PrimeField, UniformRand, Zero};
use ark_r1cs_std::{
    alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar, groups::CurveVar, R1CSVar,
};
use ark_relations::{
    lc,
    r1cs::{ConstraintSystemRef, LinearCombination, Namespace, SynthesisError, Variable},
};
use ark_serialize::CanonicalDeserializeWithFlags;
use ark_std::rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::{
    gadgets::{self, fp_from_lc, lc_of},
    Error, Result,
};

/// Baby Jubjub's scalar field: blindings, and amounts as group scalars.
pub type Scalar = ark_ed_on_bn254::Fr;

/// Domain string from which [`Generators::g`] is derived.
pub const G_DOMAIN: &[u8] = b"omnilateral/pedersen/v1/G";
/// Domain string from which [`Generators::h`] is derived.
pub const H_DOMAIN: &[u8] = b"omnilateral/pedersen/v1/H";
/// Width of a committed amount in circuits (micro-units fit a `u64`).
pub const AMOUNT_BITS: usize = 64;
/// Width of a blinding in circuits: the bit size of Baby Jubjub's subgroup order.
pub const BLINDING_BITS: usize = 251;
/// Length of an encoded commitment.
pub const ENCODED_LEN: usize = 32;

/// Bits per window of the fixed-base multiplication tables.
const WINDOW_BITS: usize = 3;
const WINDOW_SIZE: usize = 1 << WINDOW_BITS;

/// A fixed-base table: entry `[j][k]` is `k·2^(3j)·B`.
type Table = Vec<[EdwardsAffine; WINDOW_SIZE]>;

/// The commitment generators and their fixed-base tables.
#[derive(Debug)]
pub struct Generators {
    g: EdwardsAffine,
    h: EdwardsAffine,
    g_table: Table,
    h_table: Table,
}

impl Generators {
    /// The amount generator `G`, derived from [`G_DOMAIN`].
    pub fn g(&self) -> EdwardsAffine {
        self.g
    }

    /// The blinding generator `H`, derived from [`H_DOMAIN`].
    pub fn h(&self) -> EdwardsAffine {
        self.h
    }
}

/// The generators, derived on first use.
pub fn generators() -> &'static Generators {
    static GENERATORS: OnceLock<Generators> = OnceLock::new();
    GENERATORS.get_or_init(|| {
        let g = hash_to_curve(G_DOMAIN);
        let h = hash_to_curve(H_DOMAIN);
        Generators {
            g,
            h,
            g_table: window_table(g, AMOUNT_BITS),
            h_table: window_table(h, BLINDING_BITS),
        }
    })
}

/// Hashes `domain` to a point of Baby Jubjub's prime-order subgroup by
/// try-and-increment (module docs). Not constant-time; meant for public domain strings.
pub fn hash_to_curve(domain: &[u8]) -> EdwardsAffine {
    let mut counter: u32 = 0;
    loop {
        let digest =
            Sha256::new().chain_update(domain).chain_update(counter.to_be_bytes()).finalize();
        let y = Fr::from_be_bytes_mod_order(&digest);
        if let Some(candidate) = EdwardsAffine::get_point_from_y_unchecked(y, false) {
            let point = candidate.mul_by_cofactor();
            if !point.is_zero() {
                return point;
            }
        }
        // About half of all y have a root, so this never gets near u32::MAX.
        counter = counter.wrapping_add(1);
    }
}

fn window_table(base: EdwardsAffine, bits: usize) -> Table {
    let windows = bits.div_ceil(WINDOW_BITS);
    let mut window_base = EdwardsProjective::from(base);
    let mut table = Vec::with_capacity(windows);
    for _ in 0..windows {
        let mut multiples = [EdwardsProjective::zero(); WINDOW_SIZE];
        for k in 1..WINDOW_SIZE {
            multiples[k] = multiples[k - 1] + window_base;
        }
        let affine = EdwardsProjective::normalize_batch(&multiples);
        table.push(std::array::from_fn(|k| affine[k]));
        for _ in 0..WINDOW_BITS {
            window_base.double_in_place();
        }
    }
    table
}

/// A random blinding for [`PedersenCommitment::commit`].
pub fn random_blinding<R: RngCore + CryptoRng>(rng: &mut R) -> Scalar {
    Scalar::rand(rng)
}

/// The 32-byte little-endian encoding of a scalar (a blinding).
pub fn scalar_to_bytes(s: &Scalar) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&s.into_bigint().to_bytes_le());
    out
}

/// Decodes [`scalar_to_bytes`], refusing values at or above the subgroup order.
pub fn scalar_from_bytes(b: &[u8; 32]) -> Result<Scalar> {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(b.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(word);
    }
    Scalar::from_bigint(ark_ff::BigInt::new(limbs))
        .ok_or(Error::InvalidEncoding("a scalar is at or above the subgroup order"))
}

/// A Pedersen commitment `amount·G + r·H`: a point of Baby Jubjub's prime-order
/// subgroup.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PedersenCommitment(EdwardsAffine);

impl PedersenCommitment {
    /// Commits to `amount` (micro-units) with blinding `blinding`.
    pub fn commit(amount: u64, blinding: &Scalar) -> Self {
        Self::commit_scalar(&Scalar::from(amount), blinding)
    }

    /// Commits to an arbitrary scalar, e.g. a sum or a difference of amounts.
    pub fn commit_scalar(value: &Scalar, blinding: &Scalar) -> Self {
        let gens = generators();
        Self((gens.g * value + gens.h * blinding).into_affine())
    }

    /// The commitment to 0 with blinding 0, neutral for `+`.
    pub fn identity() -> Self {
        Self(EdwardsAffine::zero())
    }

    /// Whether `self` opens to `amount` with `blinding`.
    pub fn opens_to(&self, amount: u64, blinding: &Scalar) -> bool {
        *self == Self::commit(amount, blinding)
    }

    /// The curve point.
    pub fn point(&self) -> EdwardsAffine {
        self.0
    }

    /// The public inputs a circuit exposes for this commitment, in order: `[x, y]`
    /// (see [`expose_commitment`]).
    pub fn public_inputs(&self) -> [Fr; 2] {
        [self.0.x, self.0.y]
    }

    /// Canonical 32-byte compressed encoding (module docs).
    pub fn to_bytes(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        out.copy_from_slice(&self.0.y.into_bigint().to_bytes_le());
        if TEFlags::from_x_coordinate(self.0.x).is_negative() {
            out[ENCODED_LEN - 1] |= 0x80;
        }
        out
    }

    /// Decodes a commitment, accepting only the canonical encoding of a point in the
    /// prime-order subgroup.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let commitment = Self::from_bytes_on_curve(bytes)?;
        if !commitment.0.is_in_correct_subgroup_assuming_on_curve() {
            return Err(Error::NotInSubgroup);
        }
        Ok(commitment)
    }

    /// The public inputs `[x, y]` of an encoded commitment, for a proof that computes the
    /// commitment in-circuit: canonical and on the curve, but without the prime-order
    /// subgroup check (a scalar multiplication). It is not needed there: the circuit
    /// computes `amount·G + r·H` from subgroup generators, so no proof verifies for a point
    /// outside the subgroup. Anything that stores or adds commitments uses
    /// [`PedersenCommitment::from_bytes`].
    pub fn public_inputs_of(bytes: &[u8]) -> Result<[Fr; 2]> {
        Self::from_bytes_on_curve(bytes).map(|c| c.public_inputs())
    }

    /// A canonical encoding of a point on the curve, **without** the prime-order subgroup
    /// check: only for the commitment of a statement whose rating proof verifies (the
    /// circuit computes `amount·G + r·H` from subgroup generators, so the proof vouches
    /// for membership). Everything else uses [`PedersenCommitment::from_bytes`].
    pub fn from_bytes_on_curve(bytes: &[u8]) -> Result<Self> {
        let bytes: [u8; ENCODED_LEN] = bytes
            .try_into()
            .map_err(|_| Error::InvalidEncoding("a commitment is exactly 32 bytes"))?;
        let (y, flags): (Fr, TEFlags) = Fr::deserialize_with_flags(&bytes[..])
            .map_err(|_| Error::InvalidEncoding("y-coordinate is not a canonical field element"))?;
        let (small_x, large_x) =
            EdwardsAffine::get_xs_from_y_unchecked(y).ok_or(Error::NotOnCurve)?;
        let x = if flags.is_negative() { large_x } else { small_x };
        let commitment = Self(EdwardsAffine::new_unchecked(x, y));
        // x = 0 admits both sign bits; keep one.
        if commitment.to_bytes() != bytes {
            return Err(Error::InvalidEncoding("sign bit set for x = 0"));
        }
        Ok(commitment)
    }
}

impl fmt::Debug for PedersenCommitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PedersenCommitment({})", hex::encode(self.to_bytes()))
    }
}

impl Default for PedersenCommitment {
    fn default() -> Self {
        Self::identity()
    }
}

impl Add for PedersenCommitment {
    type Output = Self;
    /// Commits to the sum of the amounts under the sum of the blindings.
    fn add(self, other: Self) -> Self {
        Self((self.0 + other.0).into_affine())
    }
}

impl Sub for PedersenCommitment {
    type Output = Self;
    /// Commits to the difference of the amounts under the difference of the blindings.
    fn sub(self, other: Self) -> Self {
        Self((self.0 - other.0).into_affine())
    }
}

impl Neg for PedersenCommitment {
    type Output = Self;
    /// Commits to the negated amount under the negated blinding.
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl AddAssign for PedersenCommitment {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl SubAssign for PedersenCommitment {
    fn sub_assign(&mut self, other: Self) {
        *self = *self - other;
    }
}

impl std::iter::Sum for PedersenCommitment {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::identity(), Add::add)
    }
}

/// Human-readable formats (JSON) get the encoding as a hex string, binary formats the
/// 32 bytes; deserializing runs the checks of [`PedersenCommitment::from_bytes`].
impl serde::Serialize for PedersenCommitment {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&hex::encode(self.to_bytes()))
        } else {
            self.to_bytes().serialize(serializer)
        }
    }
}

impl<'de> serde::Deserialize<'de> for PedersenCommitment {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let bytes = if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            let mut bytes = [0u8; ENCODED_LEN];
            hex::decode_to_slice(text.as_ref(), &mut bytes).map_err(D::Error::custom)?;
            bytes
        } else {
            <[u8; ENCODED_LEN]>::deserialize(deserializer)?
        };
        Self::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// In-circuit
// ---------------------------------------------------------------------------------------

/// Allocates a blinding as [`BLINDING_BITS`] little-endian boolean witnesses. Cost: 251
/// constraints.
pub fn alloc_blinding(
    cs: impl Into<Namespace<Fr>>,
    blinding: impl FnOnce() -> std::result::Result<Scalar, SynthesisError>,
) -> Result<Vec<Boolean<Fr>>> {
    let cs = cs.into().cs();
    let value =
        if cs.is_in_setup_mode() { Err(SynthesisError::AssignmentMissing) } else { blinding() };
    let bits = (0..BLINDING_BITS)
        .map(|i| Boolean::new_witness(cs.clone(), || value.map(|v| v.into_bigint().get_bit(i))))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(bits)
}

/// In-circuit commitment to `amount` (proven `< 2^64` here, 65 constraints) under the
/// blinding bits (little-endian, at most [`BLINDING_BITS`]). Cost: 943 + 65 constraints
/// for a full-width blinding.
pub fn commit_var(amount: &FpVar<Fr>, blinding_bits: &[Boolean<Fr>]) -> Result<EdwardsVar> {
    let amount_bits = gadgets::range_check(amount, AMOUNT_BITS)?;
    commit_bits_var(&amount_bits, blinding_bits)
}

/// In-circuit commitment from the amount's bits (little-endian, at most
/// [`AMOUNT_BITS`], e.g. from [`gadgets::alloc_bits`]) and the blinding's bits. Cost:
/// 943 constraints for 64 + 251 bits.
pub fn commit_bits_var(
    amount_bits: &[Boolean<Fr>],
    blinding_bits: &[Boolean<Fr>],
) -> Result<EdwardsVar> {
    if amount_bits.len() > AMOUNT_BITS {
        return Err(Error::BitWidth { what: "amount", bits: amount_bits.len(), max: AMOUNT_BITS });
    }
    if blinding_bits.len() > BLINDING_BITS {
        return Err(Error::BitWidth {
            what: "blinding",
            bits: blinding_bits.len(),
            max: BLINDING_BITS,
        });
    }
    let gens = generators();
    let windows = amount_bits
        .chunks(WINDOW_BITS)
        .zip(&gens.g_table)
        .chain(blinding_bits.chunks(WINDOW_BITS).zip(&gens.h_table));
    let mut acc: Option<EdwardsVar> = None;
    for (bits, table) in windows {
        let selected = lookup(bits, table)?;
        acc = Some(match acc {
            None => selected,
            Some(sum) => sum + selected,
        });
    }
    Ok(acc.unwrap_or_else(EdwardsVar::zero))
}

/// Selects `table[Σ bᵢ·2^i]` for up to 3 bits. Cost: 3 constraints for 3 variable bits
/// (`b₀·b₁`, then `x = L₀ + b₂·(L₁ − L₀)` and the same for y, where `L₀`, `L₁` are the
/// linear-in-(1, b₀, b₁, b₀b₁) lookups into the lower and upper half), 1 for 2 bits, 0
/// for 1 bit.
fn lookup(bits: &[Boolean<Fr>], table: &[EdwardsAffine; WINDOW_SIZE]) -> Result<EdwardsVar> {
    let bit = |i: usize| bits.get(i).cloned().unwrap_or(Boolean::FALSE);
    let (b0, b1, b2) = (bit(0), bit(1), bit(2));
    let index = || -> std::result::Result<usize, SynthesisError> {
        Ok(usize::from(b0.value()?) | usize::from(b1.value()?) << 1 | usize::from(b2.value()?) << 2)
    };
    let cs = bits.cs();
    if cs.is_none() {
        // All bits constant.
        return Ok(EdwardsVar::constant(table[index()?].into()));
    }
    let b01 = gadgets::and(&b0, &b1)?;
    let value = index().ok().map(|i| table[i]);
    let x = lookup_coordinate(&cs, [&b0, &b1, &b01, &b2], table.map(|p| p.x), value.map(|p| p.x))?;
    let y = lookup_coordinate(&cs, [&b0, &b1, &b01, &b2], table.map(|p| p.y), value.map(|p| p.y))?;
    Ok(EdwardsVar::new(x, y))
}

fn lookup_coordinate(
    cs: &ConstraintSystemRef<Fr>,
    [b0, b1, b01, b2]: [&Boolean<Fr>; 4],
    c: [Fr; WINDOW_SIZE],
    value: Option<Fr>,
) -> Result<FpVar<Fr>> {
    // Multilinear interpolation of c[base..base + 4] over (b0, b1).
    let half = |base: usize| -> LinearCombination<Fr> {
        lc!()
            + (c[base], Variable::One)
            + (c[base + 1] - c[base], b0.lc())
            + (c[base + 2] - c[base], b1.lc())
            + (c[base + 3] - c[base + 2] - c[base + 1] + c[base], b01.lc())
    };
    let (low, high) = (half(0), half(4));
    match b2 {
        Boolean::Constant(false) => fp_from_lc(cs, low, value),
        Boolean::Constant(true) => fp_from_lc(cs, high, value),
        Boolean::Var(_) => {
            let out =
                FpVar::new_witness(cs.clone(), || value.ok_or(SynthesisError::AssignmentMissing))?;
            cs.enforce_constraint(b2.lc(), high - &low, lc_of(&out) - &low)?;
            Ok(out)
        }
    }
}

/// Exposes a commitment computed in-circuit as two public inputs `x, y` (the order of
/// [`PedersenCommitment::public_inputs`]) and constrains them equal to `point`. Cost: 2
/// constraints.
pub fn expose_commitment(point: &EdwardsVar) -> Result<()> {
    let cs = point.cs();
    for coordinate in [&point.x, &point.y] {
        let input = FpVar::new_input(cs.clone(), || coordinate.value())?;
        input.enforce_equal(coordinate)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_ec::twisted_edwards::Affine;
    use ark_ed_on_bn254::EdwardsConfig;
    use ark_relations::r1cs::ConstraintSystem;
    use ark_serialize::CanonicalSerialize;
    use ark_std::str::FromStr;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn generators_are_pinned() {
        // Recomputed independently (a short Python script following the module docs).
        let gens = generators();
        let pinned = [
            (
                gens.g(),
                "962410662980985360006207463913218972222299878317318043205938229858248280224",
                "5050587302816612818683665808398157675975853263807532219784597072159429804337",
                "31c136f1a8bfa6413921ba7a199125aaa6d6e1a08ff13fa5cef7c4e1f6872a0b",
            ),
            (
                gens.h(),
                "3459895427254895515231208295920244663383168376518216698209519336261819904889",
                "10447243740350866692435456367145896656626625727882749595095687707712842501350",
                "e60c4216f273369c05f3ba022612edb627069103e172122a3576f7642fee1817",
            ),
        ];
        for (point, x, y, encoding) in pinned {
            assert_eq!((point.x, point.y), (Fr::from_str(x).unwrap(), Fr::from_str(y).unwrap()));
            assert_eq!(hex::encode(PedersenCommitment(point).to_bytes()), encoding);
            assert!(point.is_on_curve() && point.is_in_correct_subgroup_assuming_on_curve());
            assert!(!point.is_zero());
        }
        assert_ne!(gens.g(), gens.h());
        assert_ne!(gens.g(), EdwardsAffine::generator());
        // The tables hold k·2^(3j)·B.
        let j = 5;
        let expected = gens.h() * Scalar::from(6u64 << (3 * j));
        assert_eq!(gens.h_table[j][6], expected.into_affine());
        assert_eq!(gens.g_table.len(), 22);
        assert_eq!(gens.h_table.len(), 84);
    }

    #[test]
    fn commitments_are_homomorphic() {
        let mut rng = StdRng::seed_from_u64(1);
        let (r1, r2) = (random_blinding(&mut rng), random_blinding(&mut rng));
        let c1 = PedersenCommitment::commit(1_500_000, &r1);
        let c2 = PedersenCommitment::commit(250_000, &r2);
        assert_eq!(c1 + c2, PedersenCommitment::commit(1_750_000, &(r1 + r2)));
        assert_eq!(c1 - c2, PedersenCommitment::commit(1_250_000, &(r1 - r2)));
        assert_eq!(-c1 + c1, PedersenCommitment::identity());
        assert_eq!([c1, c2].into_iter().sum::<PedersenCommitment>(), c1 + c2);
        assert!(c1.opens_to(1_500_000, &r1));
        assert!(!c1.opens_to(1_500_001, &r1));
        assert_eq!(PedersenCommitment::commit(0, &Scalar::zero()), PedersenCommitment::identity());
    }

    #[test]
    fn encoding_round_trips_and_matches_arkworks() {
        let mut rng = StdRng::seed_from_u64(2);
        for amount in [0u64, 1, u64::MAX] {
            let c = PedersenCommitment::commit(amount, &random_blinding(&mut rng));
            let bytes = c.to_bytes();
            let mut ark = Vec::new();
            c.point().serialize_compressed(&mut ark).unwrap();
            assert_eq!(ark, bytes);
            assert_eq!(PedersenCommitment::from_bytes(&bytes).unwrap(), c);
        }
        let id = PedersenCommitment::identity();
        assert_eq!(PedersenCommitment::from_bytes(&id.to_bytes()).unwrap(), id);
    }

    #[test]
    fn serde_uses_the_checked_encoding() {
        let c = PedersenCommitment::commit(7, &Scalar::from(11u64));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, format!("\"{}\"", hex::encode(c.to_bytes())));
        assert_eq!(serde_json::from_str::<PedersenCommitment>(&json).unwrap(), c);
        let mut bad = c.to_bytes();
        bad[31] ^= 0x40; // y ≥ q
        let bad_json = format!("\"{}\"", hex::encode(bad));
        assert!(serde_json::from_str::<PedersenCommitment>(&bad_json).is_err());
        assert!(serde_json::from_str::<PedersenCommitment>("\"00\"").is_err());
    }

    #[test]
    fn decoding_rejects_bad_points() {
        assert_eq!(
            PedersenCommitment::from_bytes(&[0u8; 31]),
            Err(Error::InvalidEncoding("a commitment is exactly 32 bytes"))
        );
        // y ≥ q.
        assert_eq!(
            PedersenCommitment::from_bytes(&[0x3f; 32]).unwrap_err(),
            Error::InvalidEncoding("y-coordinate is not a canonical field element")
        );
        // A y with no x on the curve.
        let off_curve = (2u64..)
            .map(Fr::from)
            .find(|y| EdwardsAffine::get_xs_from_y_unchecked(*y).is_none())
            .unwrap();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&off_curve.into_bigint().to_bytes_le());
        assert_eq!(PedersenCommitment::from_bytes(&bytes), Err(Error::NotOnCurve));
        // The point of order 2, (0, −1), and a commitment shifted by it.
        let order_two = Affine::<EdwardsConfig>::new_unchecked(Fr::zero(), -Fr::from(1u64));
        assert!(order_two.is_on_curve());
        let c = PedersenCommitment::commit(42, &Scalar::from(7u64));
        for p in [order_two, (c.point() + order_two).into_affine()] {
            let mut bytes = Vec::new();
            p.serialize_compressed(&mut bytes).unwrap();
            assert_eq!(PedersenCommitment::from_bytes(&bytes), Err(Error::NotInSubgroup));
        }
        // The identity with the sign bit set.
        let mut bytes = PedersenCommitment::identity().to_bytes();
        bytes[31] |= 0x80;
        assert_eq!(
            PedersenCommitment::from_bytes(&bytes),
            Err(Error::InvalidEncoding("sign bit set for x = 0"))
        );
    }

    #[test]
    fn circuit_matches_native() {
        let mut rng = StdRng::seed_from_u64(3);
        for amount in [0u64, 1, 0xdead_beef, u64::MAX] {
            let blinding = random_blinding(&mut rng);
            let cs = ConstraintSystem::<Fr>::new_ref();
            let amount_var = FpVar::new_witness(cs.clone(), || Ok(Fr::from(amount))).unwrap();
            let bits = alloc_blinding(cs.clone(), || Ok(blinding)).unwrap();
            assert_eq!(cs.num_constraints(), BLINDING_BITS);
            let point = commit_var(&amount_var, &bits).unwrap();
            assert_eq!(cs.num_constraints(), BLINDING_BITS + 65 + 943);
            expose_commitment(&point).unwrap();
            assert_eq!(cs.num_constraints(), BLINDING_BITS + 65 + 943 + 2);
            let native = PedersenCommitment::commit(amount, &blinding);
            assert_eq!(point.value().unwrap().into_affine(), native.point());
            assert!(cs.is_satisfied().unwrap());
            let cs = cs.borrow().unwrap();
            assert_eq!(cs.instance_assignment[1..], native.public_inputs());
        }
    }

    #[test]
    fn circuit_rejects_wide_amounts() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let amount =
            FpVar::new_witness(cs.clone(), || Ok(Fr::from(u128::from(u64::MAX) + 1))).unwrap();
        let bits = alloc_blinding(cs.clone(), || Ok(Scalar::from(5u64))).unwrap();
        let _point = commit_var(&amount, &bits).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
