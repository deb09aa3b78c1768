//! Poseidon over BN254's scalar field with circomlib's parameters, native and in-circuit.
//!
//! docs/architecture.md ("The proofs", 4) requires that commitments can be recomputed by outside
//! tools, so the instances here are exactly circomlib's `Poseidon(2)` (width t = 3,
//! 8 full and 57 partial rounds) and `Poseidon(4)` (t = 5, 8 full and 60 partial
//! rounds), with the x^5 S-box:
//!
//! - the state is `[0, in_1, …, in_{t-1}]` and the hash is `state[0]` after the
//!   permutation;
//! - each round adds its `t` round constants, applies the S-box (to every element in the
//!   4 first and 4 last rounds, to `state[0]` only in the partial rounds between), then
//!   multiplies by the MDS matrix: `state'[i] = Σ_j M[i][j]·state[j]`.
//!
//! # Constants
//!
//! circomlib's constants come from the Poseidon authors' reference script
//! `generate_parameters_grain.sage 1 0 254 t 8 R_P <p>`. This module runs the same
//! procedure (once per width, cached in a [`OnceLock`]) instead of embedding hundreds of
//! hex strings:
//!
//! 1. an 80-bit Grain LFSR is seeded with `field=1 (2 bits) ‖ sbox=0 (4) ‖ n=254 (12) ‖
//!    t (12) ‖ R_F (10) ‖ R_P (10) ‖ 1^30`, every field most significant bit first,
//!    stepped by `b_{i+80} = b_{i+62} ⊕ b_{i+51} ⊕ b_{i+38} ⊕ b_{i+23} ⊕ b_{i+13} ⊕ b_i`,
//!    and its first 160 output bits discarded;
//! 2. output bits are filtered in pairs: `(1, b)` yields `b`, `(0, b)` yields nothing;
//! 3. each round constant is the next 254 bits read big-endian, redrawn while ≥ p;
//! 4. the MDS matrix is the Cauchy matrix `M[i][j] = 1/(x_i + y_j)` of the next `2t`
//!    254-bit draws reduced mod p (`x` the first `t`, `y` the rest), redrawn unless all
//!    `2t` values are distinct and no `x_i + y_j` is zero.
//!
//! The reference script then screens the matrix against invariant-subspace attacks and
//! would redraw a weak one; for t = 3 and t = 5 the first matrix is the one circomlib
//! uses, so that screening is not reimplemented and generation is not offered for other
//! widths. The tests pin circomlib's published outputs (whole permutation states) and
//! a few constants by value, so any deviation in this procedure fails loudly.
//!
//! # The sponge for longer inputs
//!
//! [`poseidon_hash`] absorbs any number of elements into the t = 5 permutation (rate 4,
//! capacity 1: 75 constraints per absorbed element, the cheapest per element of the two
//! widths). Its exact definition, so others can recompute it (e.g. with circomlib's
//! `PoseidonEx(4, 5)` and its `initialState`):
//!
//! ```text
//! state = [IV, 0, 0, 0, 0],  IV = domain·2^128 + n·2^64 + 1      (n = number of inputs)
//! for each block of 4 inputs (the last one zero-padded; one all-zero block if n = 0):
//!     state[1..5] += block;  state = permutation(state)
//! hash = state[0]
//! ```
//!
//! Encoding `n` in the capacity makes zero-padding unambiguous (the Poseidon paper's
//! fixed-length domain separation); `domain` separates uses (tariff vs usage records)
//! at no constraint cost; and the `+ 1` keeps every sponge state apart from
//! circomlib's fixed-length hashes, whose capacity element is 0.
//!
//! # Constraint costs
//!
//! Round constants and the MDS layer are linear, hence free in R1CS; each S-box costs 3
//! constraints (`x², x⁴, x⁵`). A permutation of a variable state costs
//! `3·(t·R_F + R_P)`: **243** for t = 3 and **300** for t = 5, as circomlib's
//! templates. The hashes start from a constant capacity element, whose first S-box is
//! free: [`poseidon_hash2_var`] costs 240, [`poseidon_hash4_var`] 297, and the sponge
//! 297 for its first block plus 300 for each further block.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_ff::{BigInteger, BigInteger256, Field, One, PrimeField, Zero};
use ark_r1cs_std::{fields::fp::FpVar, fields::FieldVar};

use crate::Result;

/// Number of full rounds of every circomlib instance (4 at the start, 4 at the end).
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds of circomlib's t = 3 instance (`Poseidon(2)`).
pub const PARTIAL_ROUNDS_T3: usize = 57;
/// Partial rounds of circomlib's t = 5 instance (`Poseidon(4)`).
pub const PARTIAL_ROUNDS_T5: usize = 60;
/// Inputs absorbed per permutation by [`poseidon_hash`] (the rate of the t = 5 sponge).
pub const SPONGE_RATE: usize = 4;

/// Bit size of BN254's scalar field as the reference script states it (`n = 254`).
const FIELD_BITS: usize = 254;

/// Round constants and MDS matrix of one Poseidon instance of width `T` over BN254 `Fr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoseidonParams<const T: usize> {
    full_rounds: usize,
    partial_rounds: usize,
    round_constants: Vec<[Fr; T]>,
    mds: [[Fr; T]; T],
}

/// circomlib's `Poseidon(2)` parameters (t = 3), generated on first use.
pub fn params_t3() -> &'static PoseidonParams<3> {
    static PARAMS: OnceLock<PoseidonParams<3>> = OnceLock::new();
    PARAMS.get_or_init(|| PoseidonParams::generate(FULL_ROUNDS, PARTIAL_ROUNDS_T3))
}

/// circomlib's `Poseidon(4)` parameters (t = 5), generated on first use.
pub fn params_t5() -> &'static PoseidonParams<5> {
    static PARAMS: OnceLock<PoseidonParams<5>> = OnceLock::new();
    PARAMS.get_or_init(|| PoseidonParams::generate(FULL_ROUNDS, PARTIAL_ROUNDS_T5))
}

impl<const T: usize> PoseidonParams<T> {
    /// Generates the x^5 instance of width `T` with the given round numbers as the
    /// reference script does (module docs), minus the matrix screening.
    fn generate(full_rounds: usize, partial_rounds: usize) -> Self {
        let mut grain = Grain::new(T, full_rounds, partial_rounds);
        let round_constants = (0..full_rounds + partial_rounds)
            .map(|_| std::array::from_fn(|_| grain.next_field_element_with_rejection()))
            .collect();
        let mds = grain.cauchy_mds::<T>();
        Self { full_rounds, partial_rounds, round_constants, mds }
    }

    /// Number of full rounds (half before, half after the partial rounds).
    pub fn full_rounds(&self) -> usize {
        self.full_rounds
    }

    /// Number of partial rounds.
    pub fn partial_rounds(&self) -> usize {
        self.partial_rounds
    }

    /// The round constants, one row of `T` per round.
    pub fn round_constants(&self) -> &[[Fr; T]] {
        &self.round_constants
    }

    /// The MDS matrix `M`, applied as `state'[i] = Σ_j M[i][j]·state[j]`.
    pub fn mds(&self) -> &[[Fr; T]; T] {
        &self.mds
    }

    fn is_full_round(&self, round: usize) -> bool {
        let half = self.full_rounds / 2;
        round < half || round >= half + self.partial_rounds
    }

    /// The Poseidon permutation, in place.
    pub fn permute(&self, state: &mut [Fr; T]) {
        for (round, constants) in self.round_constants.iter().enumerate() {
            for (s, c) in state.iter_mut().zip(constants) {
                *s += c;
            }
            if self.is_full_round(round) {
                state.iter_mut().for_each(|s| *s = sbox(*s));
            } else {
                state[0] = sbox(state[0]);
            }
            *state = std::array::from_fn(|i| {
                self.mds[i].iter().zip(state.iter()).map(|(m, s)| *m * s).sum()
            });
        }
    }

    /// The permutation in-circuit. Cost: `3·(T·R_F + R_P)` constraints (243 for t = 3,
    /// 300 for t = 5); fewer when parts of the state are constants.
    pub fn permute_var(&self, state: &mut [FpVar<Fr>; T]) -> Result<()> {
        for (round, constants) in self.round_constants.iter().enumerate() {
            for (s, c) in state.iter_mut().zip(constants) {
                *s += *c;
            }
            if self.is_full_round(round) {
                for s in state.iter_mut() {
                    *s = sbox_var(s)?;
                }
            } else {
                state[0] = sbox_var(&state[0])?;
            }
            // Linear layer: only scalings and additions, so no constraints.
            let mixed: [FpVar<Fr>; T] = std::array::from_fn(|i| {
                self.mds[i].iter().zip(state.iter()).fold(FpVar::zero(), |acc, (m, s)| acc + s * *m)
            });
            *state = mixed;
        }
        Ok(())
    }
}

fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// `x^5` with 3 constraints: `x² = x·x`, `x⁴ = x²·x²`, `x⁵ = x⁴·x`.
fn sbox_var(x: &FpVar<Fr>) -> Result<FpVar<Fr>> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(x4 * x)
}

/// circomlib `Poseidon(2)`: `permutation([0, a, b])[0]` with t = 3.
pub fn poseidon_hash2(a: Fr, b: Fr) -> Fr {
    let mut state = [Fr::zero(), a, b];
    params_t3().permute(&mut state);
    state[0]
}

/// In-circuit [`poseidon_hash2`]. Cost: 240 constraints.
pub fn poseidon_hash2_var(a: &FpVar<Fr>, b: &FpVar<Fr>) -> Result<FpVar<Fr>> {
    let mut state = [FpVar::zero(), a.clone(), b.clone()];
    params_t3().permute_var(&mut state)?;
    let [out, _, _] = state;
    Ok(out)
}

/// circomlib `Poseidon(4)`: `permutation([0, in_0, …, in_3])[0]` with t = 5.
pub fn poseidon_hash4(inputs: [Fr; 4]) -> Fr {
    let [a, b, c, d] = inputs;
    let mut state = [Fr::zero(), a, b, c, d];
    params_t5().permute(&mut state);
    state[0]
}

/// In-circuit [`poseidon_hash4`]. Cost: 297 constraints.
pub fn poseidon_hash4_var(inputs: &[FpVar<Fr>; 4]) -> Result<FpVar<Fr>> {
    let [a, b, c, d] = inputs.clone();
    let mut state = [FpVar::zero(), a, b, c, d];
    params_t5().permute_var(&mut state)?;
    let [out, ..] = state;
    Ok(out)
}

/// The sponge's initial capacity element, `domain·2^128 + n·2^64 + 1` (module docs).
fn sponge_iv(domain: u64, len: usize) -> Fr {
    let two_64 = Fr::from(1u128 << 64);
    // `usize` is at most 64 bits on every target Rust supports, so `len` fits its slot.
    Fr::from(domain) * two_64 * two_64 + Fr::from(len as u64) * two_64 + Fr::one()
}

/// Variable-length Poseidon hash, [`poseidon_hash_with_domain`] with domain 0.
pub fn poseidon_hash(inputs: &[Fr]) -> Fr {
    poseidon_hash_with_domain(0, inputs)
}

/// Variable-length Poseidon hash: the t = 5, rate-4 sponge defined in the module docs,
/// with `domain` separating independent uses.
pub fn poseidon_hash_with_domain(domain: u64, inputs: &[Fr]) -> Fr {
    let params = params_t5();
    let mut state =
        [sponge_iv(domain, inputs.len()), Fr::zero(), Fr::zero(), Fr::zero(), Fr::zero()];
    let blocks = inputs.len().div_ceil(SPONGE_RATE).max(1);
    for block in 0..blocks {
        let start = (block * SPONGE_RATE).min(inputs.len());
        let end = (start + SPONGE_RATE).min(inputs.len());
        for (s, x) in state[1..].iter_mut().zip(&inputs[start..end]) {
            *s += x;
        }
        params.permute(&mut state);
    }
    state[0]
}

/// In-circuit [`poseidon_hash`].
pub fn poseidon_hash_var(inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>> {
    poseidon_hash_with_domain_var(0, inputs)
}

/// In-circuit [`poseidon_hash_with_domain`]. Cost: 297 constraints for the first block
/// of 4 inputs and 300 for each further started block (≈ 75 per input).
pub fn poseidon_hash_with_domain_var(domain: u64, inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>> {
    let params = params_t5();
    let mut state: [FpVar<Fr>; 5] = std::array::from_fn(|_| FpVar::zero());
    state[0] = FpVar::constant(sponge_iv(domain, inputs.len()));
    let blocks = inputs.len().div_ceil(SPONGE_RATE).max(1);
    for block in 0..blocks {
        let start = (block * SPONGE_RATE).min(inputs.len());
        let end = (start + SPONGE_RATE).min(inputs.len());
        for (s, x) in state[1..].iter_mut().zip(&inputs[start..end]) {
            *s += x;
        }
        params.permute_var(&mut state)?;
    }
    let [out, ..] = state;
    Ok(out)
}

/// The Grain LFSR of the Poseidon reference script, in its self-shrinking mode.
struct Grain {
    /// The 80 most recent raw bits; bit `i` is `b_i` of the current window (bit 0 the
    /// oldest).
    state: u128,
}

impl Grain {
    const STATE_BITS: u32 = 80;

    fn new(width: usize, full_rounds: usize, partial_rounds: usize) -> Self {
        // (value, width) of each header field, most significant bit first.
        let fields: [(u64, u32); 7] = [
            (1, 2),                      // field type: prime field
            (0, 4),                      // S-box: x^alpha
            (FIELD_BITS as u64, 12),     // field size in bits
            (width as u64, 12),          // t
            (full_rounds as u64, 10),    // R_F
            (partial_rounds as u64, 10), // R_P
            ((1 << 30) - 1, 30),         // padding ones
        ];
        let mut state = 0u128;
        let mut position = 0;
        for (value, bits) in fields {
            for i in (0..bits).rev() {
                state |= u128::from((value >> i) & 1) << position;
                position += 1;
            }
        }
        let mut grain = Self { state };
        for _ in 0..160 {
            grain.next_raw_bit();
        }
        grain
    }

    fn next_raw_bit(&mut self) -> bool {
        let s = self.state;
        let bit = ((s >> 62) ^ (s >> 51) ^ (s >> 38) ^ (s >> 23) ^ (s >> 13) ^ s) & 1;
        self.state = (s >> 1) | (bit << (Self::STATE_BITS - 1));
        bit == 1
    }

    fn next_bit(&mut self) -> bool {
        loop {
            let keep = self.next_raw_bit();
            let bit = self.next_raw_bit();
            if keep {
                return bit;
            }
        }
    }

    /// The next 254 output bits as a big-endian integer (< 2^254).
    fn next_integer(&mut self) -> BigInteger256 {
        let bits: Vec<bool> = (0..FIELD_BITS).map(|_| self.next_bit()).collect();
        BigInteger256::from_bits_be(&bits)
    }

    fn next_field_element_with_rejection(&mut self) -> Fr {
        loop {
            if let Some(element) = Fr::from_bigint(self.next_integer()) {
                return element;
            }
        }
    }

    fn next_field_element_reduced(&mut self) -> Fr {
        Fr::from_le_bytes_mod_order(&self.next_integer().to_bytes_le())
    }

    fn cauchy_mds<const T: usize>(&mut self) -> [[Fr; T]; T] {
        loop {
            let draws: Vec<Fr> = (0..2 * T).map(|_| self.next_field_element_reduced()).collect();
            let distinct = draws.iter().enumerate().all(|(i, a)| !draws[..i].contains(a));
            if !distinct {
                continue;
            }
            let (xs, ys) = draws.split_at(T);
            let mut mds = [[Fr::zero(); T]; T];
            let mut invertible = true;
            for (row, x) in mds.iter_mut().zip(xs) {
                for (entry, y) in row.iter_mut().zip(ys) {
                    match (*x + y).inverse() {
                        Some(inv) => *entry = inv,
                        None => invertible = false,
                    }
                }
            }
            if invertible {
                return mds;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_r1cs_std::{alloc::AllocVar, R1CSVar};
    use ark_relations::r1cs::{ConstraintSystem, ConstraintSystemRef};
    use ark_std::UniformRand;
    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn hex(x: Fr) -> String {
        x.into_bigint().to_bytes_be().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn witnesses(cs: &ConstraintSystemRef<Fr>, values: &[Fr]) -> Vec<FpVar<Fr>> {
        values.iter().map(|v| FpVar::new_witness(cs.clone(), || Ok(*v)).unwrap()).collect()
    }

    #[test]
    fn circomlib_t3_vectors() {
        // circomlibjs test/poseidon.js and circomlib's Poseidon(2) circuit tests.
        assert_eq!(
            hex(poseidon_hash2(Fr::from(1u64), Fr::from(2u64))),
            "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a"
        );
        assert_eq!(
            hex(poseidon_hash2(Fr::from(3u64), Fr::from(4u64))),
            "20a3af0435914ccd84b806164531b0cd36e37d4efb93efab76913a93e1f30996"
        );
        assert_eq!(
            hex(poseidon_hash2(Fr::zero(), Fr::zero())),
            "2098f5fb9e239eab3ceac3f27b81e481dc3124d55ffed523a839ee8446b64864"
        );
        // The whole output state of the reference script poseidonperm_x5_254_3.sage on
        // [0, 1, 2] (circomlib's poseidonPerm test).
        let mut state = [0u64, 1, 2].map(Fr::from);
        params_t3().permute(&mut state);
        assert_eq!(
            state.map(hex),
            [
                "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a",
                "0fca49b798923ab0239de1c9e7a4a9a2210312b6a2f616d18b5a87f9b628ae29",
                "0e7ae82e40091e63cbd4f16a6d16310b3729d4b6e138fcf54110e2867045a30c",
            ]
        );
    }

    #[test]
    fn circomlib_t5_vectors() {
        // circomlibjs poseidon([1, 2, 3, 4]).
        assert_eq!(
            hex(poseidon_hash4([1u64, 2, 3, 4].map(Fr::from))),
            "299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465"
        );
        // The whole output state of poseidonperm_x5_254_5.sage on [0, 1, 2, 3, 4].
        let mut state = [0u64, 1, 2, 3, 4].map(Fr::from);
        params_t5().permute(&mut state);
        assert_eq!(
            state.map(hex),
            [
                "299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465",
                "1148aaef609aa338b27dafd89bb98862d8bb2b429aceac47d86206154ffe053d",
                "24febb87fed7462e23f6665ff9a0111f4044c38ee1672c1ac6b0637d34f24907",
                "0eb08f6d809668a981c186beaf6110060707059576406b248e5d9cf6e78b3d3e",
                "07748bc6877c9b82c8b98666ee9d0626ec7f5be4205f79ee8528ef1c4a376fc7",
            ]
        );
    }

    #[test]
    fn t3_constants_match_circomlib() {
        // First and last round constants and two MDS entries of circomlib's t = 3
        // constants (also those of halo2_gadgets' BN254 P128Pow5T3).
        let params = params_t3();
        let rc = params.round_constants();
        assert_eq!(rc.len(), FULL_ROUNDS + PARTIAL_ROUNDS_T3);
        assert_eq!(
            hex(rc[0][0]),
            "0ee9a592ba9a9518d05986d656f40c2114c4993c11bb29938d21d47304cd8e6e"
        );
        assert_eq!(
            hex(rc[0][1]),
            "00f1445235f2148c5986587169fc1bcd887b08d4d00868df5696fff40956e864"
        );
        assert_eq!(
            hex(rc[64][2]),
            "1da55cc900f0d21f4a3e694391918a1b3c23b2ac773c6b3ef88e2e4228325161"
        );
        let mds = params.mds();
        assert_eq!(
            hex(mds[0][0]),
            "109b7f411ba0e4c9b2b70caf5c36a7b194be7c11ad24378bfedb68592ba8118b"
        );
        assert_eq!(
            hex(mds[2][0]),
            "143021ec686a3f330d5f9e654638065ce6cd79e28c5b3753326244ee65a1b1a7"
        );
        assert_eq!(params_t5().round_constants().len(), FULL_ROUNDS + PARTIAL_ROUNDS_T5);
    }

    #[test]
    fn sponge_follows_its_definition() {
        let x = [1u64, 2, 3, 4, 5].map(Fr::from);
        let two_64 = Fr::from(1u128 << 64);
        // n ≤ 4: a single permutation of [IV, x, zero padding].
        for n in 0..=4 {
            let mut state = [Fr::zero(); 5];
            state[0] = Fr::from(n as u64) * two_64 + Fr::one();
            state[1..=n].copy_from_slice(&x[..n]);
            params_t5().permute(&mut state);
            assert_eq!(poseidon_hash(&x[..n]), state[0], "n = {n}");
        }
        // n = 5: a second block adds x[4] to the permuted state's rate.
        let mut state = [Fr::from(5u64) * two_64 + Fr::one(), x[0], x[1], x[2], x[3]];
        params_t5().permute(&mut state);
        state[1] += x[4];
        params_t5().permute(&mut state);
        assert_eq!(poseidon_hash(&x), state[0]);
        // The domain sits above the length.
        let mut state = [Fr::from(7u64) * two_64 * two_64 + Fr::from(2u64) * two_64 + Fr::one(); 5];
        state[1..].copy_from_slice(&[x[0], x[1], Fr::zero(), Fr::zero()]);
        params_t5().permute(&mut state);
        assert_eq!(poseidon_hash_with_domain(7, &x[..2]), state[0]);
    }

    #[test]
    fn sponge_vectors_pinned() {
        let x = [1u64, 2, 3, 4, 5].map(Fr::from);
        let pinned = [
            "2b010b099164057693e9f6803f735beaf04e0fe71f86ca19f04c043d9009e72f",
            "285817d3035eb27adeca1ae82125dbf942478822a833595fdc958618707a1e2a",
            "0077b20150d6430fedf39ccf14a87c09de455fcae9fa66ed4cadde18fb1930b5",
            "03190425ff8f4ddc8f3673c3029f54c46565f7fc3360247072632d19bdb7692e",
            "1c719e62d63e6f4ed6a0122b444536e263ea470294d1f243ac5422479376a2d7",
            "0bbb3b8a96e4ccb0d3d277b17ee81fc2deb9dcdf074cf934808baa515220384b",
        ];
        for (n, want) in pinned.iter().enumerate() {
            assert_eq!(hex(poseidon_hash(&x[..n])), *want, "n = {n}");
        }
        assert_eq!(
            hex(poseidon_hash_with_domain(7, &x[..2])),
            "05d046ebe541ca6d2493759a0ad00c5efc70c620bf4e9cff16c26fd21db80996"
        );
        // Trailing zeros change the length, hence the hash.
        assert_ne!(poseidon_hash(&x[..1]), poseidon_hash(&[x[0], Fr::zero()]));
    }

    #[test]
    fn circuit_costs() {
        let mut rng = StdRng::seed_from_u64(7);
        let values: Vec<Fr> = (0..9).map(|_| Fr::rand(&mut rng)).collect();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let vars = witnesses(&cs, &values);
        let count = |f: &dyn Fn() -> Result<FpVar<Fr>>| {
            let before = cs.num_constraints();
            let _hash = f().unwrap();
            cs.num_constraints() - before
        };
        // A fully variable permutation: 3·(t·R_F + R_P).
        let permutation = |width: usize| {
            let before = cs.num_constraints();
            if width == 3 {
                let mut state = [vars[0].clone(), vars[1].clone(), vars[2].clone()];
                params_t3().permute_var(&mut state).unwrap();
            } else {
                let mut state: [FpVar<Fr>; 5] = std::array::from_fn(|i| vars[i].clone());
                params_t5().permute_var(&mut state).unwrap();
            }
            cs.num_constraints() - before
        };
        assert_eq!(permutation(3), 243);
        assert_eq!(permutation(5), 300);
        // The hashes start from a constant capacity element, which saves its first S-box.
        assert_eq!(count(&|| poseidon_hash2_var(&vars[0], &vars[1])), 240);
        let four: [FpVar<Fr>; 4] = std::array::from_fn(|i| vars[i].clone());
        assert_eq!(count(&|| poseidon_hash4_var(&four)), 297);
        assert_eq!(count(&|| poseidon_hash_var(&vars[..4])), 297);
        assert_eq!(count(&|| poseidon_hash_var(&vars[..8])), 597);
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn constant_inputs_cost_nothing() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let out =
            poseidon_hash2_var(&FpVar::constant(Fr::from(1u64)), &FpVar::constant(Fr::from(2u64)))
                .unwrap();
        assert!(out.is_constant());
        assert_eq!(out.value().unwrap(), poseidon_hash2(Fr::from(1u64), Fr::from(2u64)));
        assert_eq!(cs.num_constraints(), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn circuit_matches_native(seed in any::<u64>(), len in 0usize..10) {
            let mut rng = StdRng::seed_from_u64(seed);
            let values: Vec<Fr> = (0..len.max(4)).map(|_| Fr::rand(&mut rng)).collect();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let vars = witnesses(&cs, &values);
            let h2 = poseidon_hash2_var(&vars[0], &vars[1]).unwrap();
            prop_assert_eq!(h2.value().unwrap(), poseidon_hash2(values[0], values[1]));
            let four: [FpVar<Fr>; 4] = std::array::from_fn(|i| vars[i].clone());
            let h4 = poseidon_hash4_var(&four).unwrap();
            prop_assert_eq!(
                h4.value().unwrap(),
                poseidon_hash4([values[0], values[1], values[2], values[3]])
            );
            let domain = seed % 3;
            let h = poseidon_hash_with_domain_var(domain, &vars[..len]).unwrap();
            prop_assert_eq!(h.value().unwrap(), poseidon_hash_with_domain(domain, &values[..len]));
            prop_assert!(cs.is_satisfied().unwrap());
        }
    }
}
