//! Groth16 verification on BN254: single, with prepared keys, and batched by random
//! linear combination.
//!
//! A Groth16 proof `(A, B, C)` for public inputs `x` under key `(α, β, γ, δ, IC)` is
//! valid when `e(A, B) = e(α, β) · e(L, γ) · e(C, δ)` with `L = IC₀ + Σ xⱼ·ICⱼ₊₁`.
//! For `n` proofs, pick independent random 128-bit `rᵢ` and check the product of the
//! `rᵢ`-th powers of all equations:
//!
//! ```text
//!   Πᵢ e(rᵢ·Aᵢ, Bᵢ) · Πₖ [ e(−(Σᵢ∈ₖ rᵢ)·αₖ, βₖ) · e(Σᵢ∈ₖ rᵢ·Lᵢ, −γₖ) · e(Σᵢ∈ₖ rᵢ·Cᵢ, −δₖ) ] = 1
//! ```
//!
//! where `k` ranges over the distinct verifying keys in the batch. That is `n + 3k`
//! Miller loops and **one** final exponentiation, instead of `n` final exponentiations
//! (the most expensive part of a pairing check). `Σ rᵢ·Lᵢ` collapses to one small
//! multi-scalar multiplication per key over the aggregated inputs `Σᵢ rᵢ·xᵢⱼ`. If any
//! proof is invalid, the product is 1 only with probability about 2⁻¹²⁷ over the choice
//! of the `rᵢ`, which the verifier draws from the operating system's generator after the
//! proofs are fixed.
//!
//! Each `rᵢ` is drawn as `r₁ + λ·r₂` with `r₁` (odd) and `r₂` uniform 64-bit integers and
//! `λ` the eigenvalue of BN254's G1 endomorphism `φ(x, y) = (β·x, y) = [λ](x, y)`
//! (arkworks' GLV constants). Distinct pairs give distinct `rᵢ` — a collision would need
//! a nonzero `(a, b)` with `a + λ·b ≡ 0` and `|a|, |b| < 2⁶⁴`, while the shortest such
//! vectors have length about `√n ≈ 2¹²⁷` — so `rᵢ` ranges over 2¹²⁷ values and the bound
//! above holds; and `rᵢ·Aᵢ = r₁·Aᵢ + r₂·φ(Aᵢ)` is one joint 64-bit double-and-add
//! instead of a 128-bit scalar multiplication.

use crate::miller::{self, Lines, Pair};
use crate::{Result, VerifyError};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::{MillerLoopOutput, Pairing, PairingOutput};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{AdditiveGroup, BigInteger, One, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use rand::{rngs::OsRng, RngCore};
use rayon::prelude::*;

/// A verifying key with everything a single or batched check precomputes.
#[derive(Clone, Debug)]
pub struct PreparedKey {
    vk: VerifyingKey<Bn254>,
    /// `e(α, β)`, what a single proof's pairing product must equal.
    alpha_beta: PairingOutput<Bn254>,
    /// Normalized lines of `β`, `−γ` and `−δ` ([`miller`](crate::miller)).
    beta: Lines,
    gamma_neg: Lines,
    delta_neg: Lines,
    inputs: InputTables,
}

/// Bytes of a scalar field element, and so windows of a fixed-base table.
const WINDOWS: usize = 32;

/// Fixed-base tables for `L = IC₀ + Σ xⱼ·ICⱼ₊₁`: for each `ICⱼ₊₁`, the multiples
/// `d·256ʷ·ICⱼ₊₁` for every byte value `d ≥ 1` and byte position `w`, so that `L` costs at
/// most 32 mixed additions per public input instead of a scalar multiplication (about
/// 0.6 MB per input, built once per key).
#[derive(Clone)]
struct InputTables(Vec<Vec<G1Affine>>);

impl std::fmt::Debug for InputTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InputTables({} inputs)", self.0.len())
    }
}

impl InputTables {
    fn new(bases: &[G1Affine]) -> Self {
        InputTables(
            bases
                .par_iter()
                .map(|base| {
                    let mut multiples = Vec::with_capacity(WINDOWS * 255);
                    let mut window = base.into_group();
                    for _ in 0..WINDOWS {
                        let mut acc = window;
                        for _ in 1..=255 {
                            multiples.push(acc);
                            acc += window;
                        }
                        // acc = 256·window: the next byte position's unit.
                        window = acc;
                    }
                    G1Projective::normalize_batch(&multiples)
                })
                .collect(),
        )
    }

    /// `first + Σ xⱼ·baseⱼ`; `inputs` has one scalar per base.
    fn combine(&self, first: &G1Affine, inputs: &[Fr]) -> G1Projective {
        let mut acc = first.into_group();
        for (table, x) in self.0.iter().zip(inputs) {
            let bytes = x.into_bigint().to_bytes_le();
            for (w, &d) in bytes.iter().enumerate().take(WINDOWS) {
                if d != 0 {
                    acc += table[w * 255 + usize::from(d) - 1];
                }
            }
        }
        acc
    }
}

impl PreparedKey {
    /// Prepares `vk` (its G2 elements' line coefficients, `e(α, β)` and fixed-base tables
    /// for the public inputs).
    pub fn new(vk: &VerifyingKey<Bn254>) -> Self {
        let mut fixed = Lines::of_many(&[vk.beta_g2, -vk.gamma_g2, -vk.delta_g2]).into_iter();
        let mut next = |q: G2Affine| fixed.next().unwrap_or_else(|| Lines::of(q));
        PreparedKey {
            vk: vk.clone(),
            alpha_beta: Bn254::pairing(vk.alpha_g1, vk.beta_g2),
            beta: next(vk.beta_g2),
            gamma_neg: next(-vk.gamma_g2),
            delta_neg: next(-vk.delta_g2),
            inputs: InputTables::new(vk.gamma_abc_g1.get(1..).unwrap_or_default()),
        }
    }

    /// The key.
    pub fn vk(&self) -> &VerifyingKey<Bn254> {
        &self.vk
    }

    /// Number of public inputs of the key's circuit.
    pub fn public_inputs(&self) -> usize {
        self.vk.gamma_abc_g1.len().saturating_sub(1)
    }

    fn check_inputs(&self, inputs: &[Fr]) -> Result<()> {
        if inputs.len() != self.public_inputs() {
            return Err(VerifyError::Malformed(format!(
                "{} public inputs for a circuit with {}",
                inputs.len(),
                self.public_inputs()
            )));
        }
        Ok(())
    }

    /// Verifies one proof: `L` from the fixed-base tables, Miller loops over the three
    /// pairs of `e(A, B) · e(L, −γ) · e(C, −δ) = e(α, β)` and one final exponentiation.
    /// `B`'s lines and the loop of `(A, B)` run beside `L` and the loop of the two pairs
    /// whose lines are normalized in the key (rayon: on a second core when one is free);
    /// the product of the two halves goes through the final exponentiation.
    pub fn verify(&self, proof: &Proof<Bn254>, inputs: &[Fr]) -> Result<bool> {
        self.check_inputs(inputs)?;
        let first = self.vk.gamma_abc_g1.first().ok_or_else(|| {
            VerifyError::Malformed("verifying key without input commitment base".into())
        })?;
        let (ab, rest) = rayon::join(
            || {
                let b = Lines::of(proof.b);
                miller::miller_loop(&Pair::new(&proof.a, &b).into_iter().collect::<Vec<_>>())
            },
            || {
                let l = self.inputs.combine(first, inputs).into_affine();
                let pairs: Vec<Pair> = [(&l, &self.gamma_neg), (&proof.c, &self.delta_neg)]
                    .into_iter()
                    .filter_map(|(p, lines)| Pair::new(p, lines))
                    .collect();
                miller::miller_loop(&pairs)
            },
        );
        Ok(Bn254::final_exponentiation(MillerLoopOutput(ab * rest)) == Some(self.alpha_beta))
    }
}

struct Item<'a> {
    key: &'a PreparedKey,
    proof: Proof<Bn254>,
    inputs: Vec<Fr>,
}

/// Proofs collected for one batched check (module docs).
#[derive(Default)]
pub struct BatchVerifier<'a> {
    items: Vec<Item<'a>>,
}

impl<'a> BatchVerifier<'a> {
    /// An empty batch.
    pub fn new() -> Self {
        BatchVerifier { items: Vec::new() }
    }

    /// Number of proofs in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch holds no proof.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds a proof with its public inputs, refusing a wrong number of inputs.
    pub fn add(
        &mut self,
        key: &'a PreparedKey,
        proof: Proof<Bn254>,
        inputs: Vec<Fr>,
    ) -> Result<()> {
        key.check_inputs(&inputs)?;
        self.items.push(Item { key, proof, inputs });
        Ok(())
    }

    /// Whether every proof in the batch is valid (true for an empty batch).
    pub fn verify(&self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let drawn: Vec<Coefficient> =
            self.items.iter().map(|_| Coefficient::draw(&mut OsRng)).collect();
        let coefficients: Vec<Fr> = drawn.iter().map(|c| c.r).collect();

        // rᵢ·Aᵢ paired with Bᵢ.
        let mut g1: Vec<G1Affine> = self
            .items
            .par_iter()
            .zip(&drawn)
            .map(|(item, r)| r.times(&item.proof.a).into_affine())
            .collect();
        let b: Vec<G2Affine> = self.items.iter().map(|item| item.proof.b).collect();
        let b_lines = Lines::of_all(&b);
        let mut lines: Vec<&Lines> = b_lines.iter().collect();

        // Per key: Σ rᵢ, Σ rᵢ·xᵢ, Σ rᵢ·Cᵢ.
        let mut keys: Vec<&PreparedKey> = Vec::new();
        for item in &self.items {
            if !keys.iter().any(|k| std::ptr::eq(*k, item.key)) {
                keys.push(item.key);
            }
        }
        for key in keys {
            let members: Vec<(&Item, &Fr)> = self
                .items
                .iter()
                .zip(&coefficients)
                .filter(|(item, _)| std::ptr::eq(item.key, key))
                .collect();
            let mut sum_r = Fr::zero();
            let mut scalars = vec![Fr::zero(); key.public_inputs() + 1];
            for (item, r) in &members {
                sum_r += *r;
                for (s, x) in scalars[1..].iter_mut().zip(&item.inputs) {
                    *s += **r * x;
                }
            }
            scalars[0] = sum_r;
            let l = G1Projective::msm(&key.vk().gamma_abc_g1, &scalars)
                .unwrap_or_else(|_| G1Projective::zero());
            let c_points: Vec<G1Affine> = members.iter().map(|(item, _)| item.proof.c).collect();
            let c_scalars: Vec<Fr> = members.iter().map(|(_, r)| **r).collect();
            let c =
                G1Projective::msm(&c_points, &c_scalars).unwrap_or_else(|_| G1Projective::zero());
            let alpha = -(key.vk().alpha_g1 * sum_r);
            g1.extend(G1Projective::normalize_batch(&[alpha, l, c]));
            lines.extend([&key.beta, &key.gamma_neg, &key.delta_neg]);
        }
        let pairs: Vec<Pair> =
            g1.iter().zip(lines).filter_map(|(p, lines)| Pair::new(p, lines)).collect();
        let ml = miller::multi_miller_loop(&pairs);
        match Bn254::final_exponentiation(ml) {
            Some(PairingOutput(gt)) => gt.is_one(),
            None => false,
        }
    }
}

/// A batch coefficient `r = r₁ + λ·r₂` (module docs).
struct Coefficient {
    r: Fr,
    r1: u64,
    r2: u64,
}

impl Coefficient {
    fn draw(rng: &mut impl RngCore) -> Self {
        let (r1, r2) = (rng.next_u64() | 1, rng.next_u64());
        let lambda = <ark_bn254::g1::Config as GLVConfig>::LAMBDA;
        Coefficient { r: Fr::from(r1) + lambda * Fr::from(r2), r1, r2 }
    }

    /// `r·a = r₁·a + r₂·φ(a)`, both halves in one 64-bit double-and-add.
    fn times(&self, a: &G1Affine) -> G1Projective {
        let phi = <ark_bn254::g1::Config as GLVConfig>::endomorphism_affine(a);
        let both = (a.into_group() + phi).into_affine();
        let mut acc = G1Projective::zero();
        for bit in (0..64).rev() {
            acc.double_in_place();
            match ((self.r1 >> bit) & 1, (self.r2 >> bit) & 1) {
                (1, 1) => acc += both,
                (1, 0) => acc += a,
                (0, 1) => acc += phi,
                _ => {}
            }
        }
        acc
    }
}

/// Re-randomizes a Groth16 proof into another valid proof of the same statement:
/// `A' = A/s`, `B' = s·B + s·t·δ`, `C' = C + t·A`. Anyone can do this (Groth16 proofs are
/// malleable), which is why the registry keys invoices by their statement, never by proof
/// bytes; benchmarks use it to make distinct proofs cheaply.
pub fn rerandomize(
    vk: &VerifyingKey<Bn254>,
    proof: &Proof<Bn254>,
    rng: &mut impl RngCore,
) -> Proof<Bn254> {
    let mut wide = [0u8; 32];
    rng.fill_bytes(&mut wide);
    let s = Fr::from(
        u128::from_le_bytes([
            wide[0], wide[1], wide[2], wide[3], wide[4], wide[5], wide[6], wide[7], wide[8],
            wide[9], wide[10], wide[11], wide[12], wide[13], wide[14], wide[15],
        ]) | 1,
    );
    let t = Fr::from(u128::from_le_bytes([
        wide[16], wide[17], wide[18], wide[19], wide[20], wide[21], wide[22], wide[23], wide[24],
        wide[25], wide[26], wide[27], wide[28], wide[29], wide[30], wide[31],
    ]));
    let s_inv = ark_ff::Field::inverse(&s).unwrap_or_else(Fr::one);
    let a = (proof.a * s_inv).into_affine();
    let b: G2Affine = (proof.b * s + vk.delta_g2 * (s * t)).into_affine();
    let c = (proof.c.into_group() + proof.a * t).into_affine();
    Proof { a, b, c }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_groth16::Groth16;
    use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
    use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
    use ark_snark::SNARK;
    use rand::{rngs::StdRng, SeedableRng};

    /// `x · y = z` with `z` public, and a second key with `x + y = z`.
    #[derive(Clone, Copy)]
    struct Relation {
        x: u64,
        y: u64,
        add: bool,
    }

    impl ConstraintSynthesizer<Fr> for Relation {
        fn generate_constraints(
            self,
            cs: ConstraintSystemRef<Fr>,
        ) -> std::result::Result<(), SynthesisError> {
            let x = FpVar::new_witness(cs.clone(), || Ok(Fr::from(self.x)))?;
            let y = FpVar::new_witness(cs.clone(), || Ok(Fr::from(self.y)))?;
            let z = if self.add { &x + &y } else { &x * &y };
            let public = FpVar::new_input(cs, || z.value())?;
            public.enforce_equal(&z)
        }
    }
    use ark_r1cs_std::R1CSVar;

    #[test]
    fn a_coefficient_times_a_point_is_its_scalar_multiple() {
        use ark_ff::UniformRand;
        let mut rng = StdRng::seed_from_u64(6);
        for _ in 0..16 {
            let a = G1Affine::rand(&mut rng);
            let c = Coefficient::draw(&mut rng);
            assert_eq!(c.times(&a), a * c.r);
        }
        let a = G1Affine::rand(&mut rng);
        let extremes = Coefficient { r: Fr::from(u64::MAX), r1: u64::MAX, r2: 0 };
        assert_eq!(extremes.times(&a), a * extremes.r);
    }

    fn keys(add: bool, rng: &mut StdRng) -> (ark_groth16::ProvingKey<Bn254>, PreparedKey) {
        let (pk, vk) =
            Groth16::<Bn254>::circuit_specific_setup(Relation { x: 1, y: 1, add }, rng).unwrap();
        (pk, PreparedKey::new(&vk))
    }

    #[test]
    fn batches_over_two_keys_accept_valid_and_refuse_any_invalid_proof() {
        let mut rng = StdRng::seed_from_u64(5);
        let (mul_pk, mul) = keys(false, &mut rng);
        let (add_pk, add) = keys(true, &mut rng);
        let mut proofs = Vec::new();
        for i in 1..=6u64 {
            let (pk, key, z, add) = if i % 2 == 0 {
                (&mul_pk, &mul, i * 7, false)
            } else {
                (&add_pk, &add, i + 7, true)
            };
            let proof =
                Groth16::<Bn254>::prove(pk, Relation { x: i, y: 7, add }, &mut rng).unwrap();
            assert!(key.verify(&proof, &[Fr::from(z)]).unwrap());
            // The table-based single check agrees with arkworks' own, both ways.
            for x in [Fr::from(z), Fr::from(z) + Fr::one(), -Fr::from(z)] {
                let ours = key.verify(&proof, &[x]).unwrap();
                let theirs = Groth16::<Bn254>::verify_proof(
                    &ark_groth16::prepare_verifying_key(key.vk()),
                    &proof,
                    &[x],
                )
                .unwrap();
                assert_eq!(ours, theirs);
                assert_eq!(ours, x == Fr::from(z));
            }
            proofs.push((key, proof, Fr::from(z)));
        }
        let mut batch = BatchVerifier::new();
        for (key, proof, z) in &proofs {
            batch.add(key, proof.clone(), vec![*z]).unwrap();
        }
        assert!(batch.verify());

        // One wrong public input anywhere makes the whole batch fail.
        for wrong in 0..proofs.len() {
            let mut batch = BatchVerifier::new();
            for (i, (key, proof, z)) in proofs.iter().enumerate() {
                let z = if i == wrong { *z + Fr::one() } else { *z };
                batch.add(key, proof.clone(), vec![z]).unwrap();
            }
            assert!(!batch.verify(), "wrong input at {wrong}");
        }
        // A proof checked against the other circuit's key fails.
        let mut batch = BatchVerifier::new();
        batch.add(&add, proofs[1].1.clone(), vec![proofs[1].2]).unwrap();
        assert!(!batch.verify());
        // Wrong number of inputs is refused up front.
        assert!(BatchVerifier::new().add(&add, proofs[0].1.clone(), vec![]).is_err());
        // Re-randomized proofs verify, singly and batched.
        let (key, proof, z) = &proofs[0];
        let fresh = rerandomize(key.vk(), proof, &mut rng);
        assert_ne!(&fresh, proof);
        assert!(key.verify(&fresh, &[*z]).unwrap());
        let mut batch = BatchVerifier::new();
        batch.add(key, fresh, vec![*z]).unwrap();
        batch.add(key, proof.clone(), vec![*z]).unwrap();
        assert!(batch.verify());

        // A batch with enough proofs per thread for the affine lines of the Bᵢ: all valid
        // passes, one wrong input anywhere fails.
        let many: Vec<_> = (0..2 * miller::AFFINE_LINES_FROM * rayon::current_num_threads())
            .map(|i| {
                let (key, proof, z) = &proofs[i % proofs.len()];
                (*key, rerandomize(key.vk(), proof, &mut rng), *z)
            })
            .collect();
        for wrong in [None, Some(0), Some(many.len() - 1)] {
            let mut batch = BatchVerifier::new();
            for (i, (key, proof, z)) in many.iter().enumerate() {
                let z = if Some(i) == wrong { *z + Fr::one() } else { *z };
                batch.add(key, proof.clone(), vec![z]).unwrap();
            }
            assert_eq!(batch.verify(), wrong.is_none(), "wrong input at {wrong:?}");
        }
    }
}
