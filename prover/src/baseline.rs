//! The proving baseline `omni bench prove` compares the rating prover with: plain
//! ark-groth16 proving a chain of Poseidon hashes of about the same number of
//! constraints, in one proof, measured in the same run. Rating constraints per second
//! divided by the baseline's says how the rating prover (chunking, parallel chunks) does
//! against the library's own speed on a circuit of that size.

use crate::{keys::count_constraints, Error, Result};
use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_r1cs_std::{
    alloc::AllocVar,
    fields::{fp::FpVar, FieldVar},
};
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_snark::SNARK;
use omni_circuits::poseidon::{poseidon_hash2, poseidon_hash2_var};
use rand::{CryptoRng, RngCore};
use std::time::Instant;

/// `h₀ = seed`, `hᵢ₊₁ = Poseidon(hᵢ, i)`; the last hash is the one public input.
#[derive(Clone, Copy, Debug)]
pub struct PoseidonChain {
    /// Number of hashes.
    pub length: usize,
    /// The private seed; `None` for key generation.
    pub seed: Option<Fr>,
}

impl PoseidonChain {
    /// The chain's output, natively.
    pub fn output(&self) -> Option<Fr> {
        let mut h = self.seed?;
        for i in 0..self.length {
            h = poseidon_hash2(h, Fr::from(i as u64));
        }
        Some(h)
    }
}

impl ConstraintSynthesizer<Fr> for PoseidonChain {
    fn generate_constraints(
        self,
        cs: ConstraintSystemRef<Fr>,
    ) -> std::result::Result<(), SynthesisError> {
        let output = FpVar::new_input(cs.clone(), || {
            self.output().ok_or(SynthesisError::AssignmentMissing)
        })?;
        let mut h = FpVar::new_witness(cs, || self.seed.ok_or(SynthesisError::AssignmentMissing))?;
        for i in 0..self.length {
            h = poseidon_hash2_var(&h, &FpVar::constant(Fr::from(i as u64)))?;
        }
        use ark_r1cs_std::eq::EqGadget;
        h.enforce_equal(&output)
    }
}

/// One baseline measurement.
#[derive(Clone, Copy, Debug)]
pub struct Baseline {
    /// Constraints of the chain circuit.
    pub constraints: usize,
    /// Seconds of the (development) setup.
    pub setup_s: f64,
    /// Seconds to prove it once.
    pub prove_s: f64,
}

impl Baseline {
    /// Constraints proven per second.
    pub fn constraints_per_s(&self) -> f64 {
        self.constraints as f64 / self.prove_s.max(1e-9)
    }
}

/// Sets up and proves a Poseidon chain of about `constraints` constraints.
pub fn measure(constraints: usize, rng: &mut (impl RngCore + CryptoRng)) -> Result<Baseline> {
    let per_hash = count_constraints(PoseidonChain { length: 1, seed: None })?;
    let length = (constraints / per_hash.max(1)).max(1);
    let blank = PoseidonChain { length, seed: None };
    let constraints = count_constraints(blank)?;
    let start = Instant::now();
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(blank, rng)
        .map_err(|e| Error::Proving(format!("baseline setup: {e}")))?;
    let setup_s = start.elapsed().as_secs_f64();
    let circuit = PoseidonChain { length, seed: Some(Fr::from(rng.next_u64())) };
    let output = circuit.output().unwrap_or_default();
    let start = Instant::now();
    let proof = Groth16::<Bn254>::prove(&pk, circuit, rng)
        .map_err(|e| Error::Proving(format!("baseline proof: {e}")))?;
    let prove_s = start.elapsed().as_secs_f64();
    if !Groth16::<Bn254>::verify(&vk, &[output], &proof).unwrap_or(false) {
        return Err(Error::Proving("baseline proof does not verify".into()));
    }
    Ok(Baseline { constraints, setup_s, prove_s })
}
