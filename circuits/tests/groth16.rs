//! End to end with real keys: a miniature rating statement built from the gadgets is
//! set up, proven and verified with Groth16 on BN254.
//!
//! Statement: "I know `quantity`, `price`, `unit` and a blinding such that
//! `records_hash = Poseidon(quantity, price)` and `commitment` commits to
//! `round_half_even(quantity·price / unit)`". Public inputs, in order:
//! `[records_hash, commitment.x, commitment.y]`.

#![allow(clippy::unwrap_used)]

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, SynthesisError,
};
use ark_snark::SNARK;
use omni_circuits::{
    gadgets::{alloc_bits, round_div, round_div_var, RoundingMode},
    pedersen::{alloc_blinding, commit_var, expose_commitment, PedersenCommitment, Scalar},
    poseidon::{poseidon_hash2, poseidon_hash2_var},
};
use rand::{rngs::StdRng, SeedableRng};

const QUANTITY_BITS: usize = 32;
const PRICE_BITS: usize = 32;
const UNIT_BITS: usize = 24;

/// Private values; `None` during key generation.
#[derive(Clone, Default)]
struct MiniRating {
    quantity: Option<u64>,
    price: Option<u64>,
    unit: Option<u64>,
    blinding: Option<Scalar>,
}

fn value<T: Copy>(v: Option<T>) -> Result<T, SynthesisError> {
    v.ok_or(SynthesisError::AssignmentMissing)
}

impl ConstraintSynthesizer<Fr> for MiniRating {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let (quantity, _) =
            alloc_bits(cs.clone(), || value(self.quantity).map(Fr::from), QUANTITY_BITS)?;
        let (price, _) = alloc_bits(cs.clone(), || value(self.price).map(Fr::from), PRICE_BITS)?;
        let (unit, _) = alloc_bits(cs.clone(), || value(self.unit).map(Fr::from), UNIT_BITS)?;

        let records_hash = FpVar::new_input(cs.clone(), || {
            Ok(poseidon_hash2(Fr::from(value(self.quantity)?), Fr::from(value(self.price)?)))
        })?;
        records_hash.enforce_equal(&poseidon_hash2_var(&quantity, &price)?)?;

        let gross = &quantity * &price; // < 2^64
        let amount = round_div_var(
            &gross,
            QUANTITY_BITS + PRICE_BITS,
            &unit,
            UNIT_BITS,
            RoundingMode::HalfEven,
        )?;
        let blinding = alloc_blinding(cs.clone(), || value(self.blinding))?;
        expose_commitment(&commit_var(&amount, &blinding)?)?;
        Ok(())
    }
}

#[test]
fn groth16_prove_and_verify() {
    let mut rng = StdRng::seed_from_u64(42);
    let (quantity, price, unit) = (1_234_567u64, 2_500u64, 1_000u64);
    let blinding = Scalar::from(987_654_321u64);
    let circuit = MiniRating {
        quantity: Some(quantity),
        price: Some(price),
        unit: Some(unit),
        blinding: Some(blinding),
    };

    // The witness satisfies the constraint system before any keys are involved.
    let cs = ConstraintSystem::<Fr>::new_ref();
    circuit.clone().generate_constraints(cs.clone()).unwrap();
    assert!(cs.is_satisfied().unwrap());
    println!("mini rating circuit: {} constraints", cs.num_constraints());

    // Development-only single-party setup.
    let (pk, vk) =
        Groth16::<Bn254>::circuit_specific_setup(MiniRating::default(), &mut rng).unwrap();
    let proof = Groth16::<Bn254>::prove(&pk, circuit, &mut rng).unwrap();

    // The verifier recomputes the public inputs natively.
    let amount = round_div(
        u128::from(quantity) * u128::from(price),
        u128::from(unit),
        RoundingMode::HalfEven,
    )
    .unwrap();
    assert_eq!(amount, 3_086_418); // 3_086_417.5 rounds to even
    let commitment = PedersenCommitment::commit(u64::try_from(amount).unwrap(), &blinding);
    let records_hash = poseidon_hash2(Fr::from(quantity), Fr::from(price));
    let [cx, cy] = commitment.public_inputs();
    assert!(Groth16::<Bn254>::verify(&vk, &[records_hash, cx, cy], &proof).unwrap());

    // A commitment to any other amount is rejected.
    let wrong = PedersenCommitment::commit(u64::try_from(amount + 1).unwrap(), &blinding);
    let [wx, wy] = wrong.public_inputs();
    assert!(!Groth16::<Bn254>::verify(&vk, &[records_hash, wx, wy], &proof).unwrap());
}
