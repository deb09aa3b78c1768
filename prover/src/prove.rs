//! Proving a rating statement: one proof of the interval circuit when the records fit one
//! chunk, else the chunks in parallel beside the final circuit.

use crate::{Error, Progress, RatingKeys, Result};
use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey};
use ark_relations::r1cs::ConstraintSynthesizer;
use ark_snark::SNARK;
use omni_circuits::bundle::{
    bilateral_pseudonym, interval_field, ChunkProof, FieldBytes, ProofBytes, RatingProofBundle,
    RatingStatement,
};
use omni_circuits::pedersen::{PedersenCommitment, Scalar};
use omni_circuits::rating::{build_chunks, build_final, build_interval};
use omni_core::rating::RatingOptions;
use omni_core::tariff::Tariff;
use omni_core::usage::UsageRecord;
use rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The private inputs of a [`omni_circuits::bundle::RatingStatement`]: `records` rated
/// under `tariff` with `options` for one bilateral and billing interval, which the proof
/// shows without revealing them.
#[derive(Clone, Copy, Debug)]
pub struct RatingWitness<'a> {
    /// The agreed tariff.
    pub tariff: &'a Tariff,
    /// The interval's usage records, in ledger order.
    pub records: &'a [UsageRecord],
    /// Rating options (one-time fees).
    pub options: RatingOptions,
    /// The bilateral's id (hash of its genesis entry).
    pub bilateral_id: [u8; 32],
    /// The billing interval's identifier (MEF R58).
    pub interval_id: &'a str,
}

fn prove_checked<C: ConstraintSynthesizer<Fr>>(
    pk: &ProvingKey<Bn254>,
    pvk: &PreparedVerifyingKey<Bn254>,
    circuit: C,
    inputs: &[Fr],
    seed: [u8; 32],
    what: &str,
) -> Result<Proof<Bn254>> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let proof = Groth16::<Bn254>::prove(pk, circuit, &mut rng)
        .map_err(|e| Error::Proving(format!("{what}: {e}")))?;
    // Groth16's prover does not check the witness; a proof that does not verify means the
    // statement is false, and is never handed out.
    match Groth16::<Bn254>::verify_with_processed_vk(pvk, inputs, &proof) {
        Ok(true) => Ok(proof),
        _ => Err(Error::Proving(format!("{what}: the witness does not satisfy the circuit"))),
    }
}

/// Proves that the amount committed with `blinding` is the rating of the claim: when the
/// records fit the interval circuit (`keys.interval_records`, about a chunk), one Groth16
/// proof of it; else one per chunk of `keys.chunk_size` (in parallel) and one for the
/// final circuit. `progress` sees
/// `(proofs done, proofs)`. Every proof is verified before the bundle is returned.
pub fn prove_rating(
    keys: &RatingKeys,
    claim: &RatingWitness<'_>,
    blinding: &Scalar,
    rng: &mut (impl RngCore + CryptoRng),
    progress: Progress<'_>,
) -> Result<RatingProofBundle> {
    if claim.records.len() <= keys.interval_records {
        return prove_interval(keys, claim, blinding, rng, progress);
    }
    let (chunks, state, salt) =
        build_chunks(claim.tariff, claim.records, keys.chunk_size, || Fr::rand(rng))?;
    let pseudonym = bilateral_pseudonym(&claim.bilateral_id);
    let interval = interval_field(claim.interval_id);
    let final_circuit = build_final(
        claim.tariff,
        claim.records,
        &claim.options,
        state,
        salt,
        *blinding,
        pseudonym,
        interval,
    )?;
    let total = final_circuit.witness.as_ref().map(|w| w.invoice.total).unwrap_or_default();
    let final_inputs = final_circuit.public_inputs()?;
    let chunk_inputs =
        chunks.iter().map(|c| c.public_inputs()).collect::<omni_circuits::Result<Vec<_>>>()?;
    let seeds: Vec<[u8; 32]> = (0..=chunks.len())
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        })
        .collect();

    let proofs = chunks.len() + 1;
    let done = AtomicUsize::new(0);
    progress(0, proofs);
    let step = || progress(done.fetch_add(1, Ordering::SeqCst) + 1, proofs);
    // The final proof is the largest single job after a chunk: start it alongside them.
    let (chunk_proofs, final_proof) = rayon::join(
        || {
            chunks
                .into_par_iter()
                .zip(chunk_inputs.par_iter())
                .zip(seeds[1..].par_iter())
                .enumerate()
                .map(|(i, ((circuit, inputs), seed))| {
                    let proof = prove_checked(
                        &keys.chunk,
                        &keys.chunk_pvk,
                        circuit,
                        inputs,
                        *seed,
                        &format!("chunk {i}"),
                    );
                    step();
                    proof.map(|p| ChunkProof {
                        state_out: FieldBytes::from_field(&inputs[2]),
                        proof: ProofBytes::from_proof(&p),
                    })
                })
                .collect::<Result<Vec<_>>>()
        },
        || {
            let proof = prove_checked(
                &keys.final_,
                &keys.final_pvk,
                final_circuit,
                &final_inputs,
                seeds[0],
                "final circuit",
            );
            step();
            proof
        },
    );
    let chunks = chunk_proofs?;
    let final_proof = final_proof?;
    Ok(RatingProofBundle {
        keys: keys.verifying.id(),
        statement: statement(claim, &final_inputs[0], &final_inputs[2], total, blinding),
        chunks,
        final_proof: ProofBytes::from_proof(&final_proof),
    })
}

/// [`prove_rating`] of a claim whose records fit the interval circuit.
fn prove_interval(
    keys: &RatingKeys,
    claim: &RatingWitness<'_>,
    blinding: &Scalar,
    rng: &mut (impl RngCore + CryptoRng),
    progress: Progress<'_>,
) -> Result<RatingProofBundle> {
    let circuit = build_interval(
        claim.tariff,
        claim.records,
        &claim.options,
        keys.interval_records,
        *blinding,
        bilateral_pseudonym(&claim.bilateral_id),
        interval_field(claim.interval_id),
    )?;
    let total = circuit.witness.as_ref().map(|w| w.invoice.total).unwrap_or_default();
    let inputs = circuit.public_inputs()?;
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    progress(0, 1);
    let proof =
        prove_checked(&keys.interval, &keys.interval_pvk, circuit, &inputs, seed, "interval")?;
    progress(1, 1);
    Ok(RatingProofBundle {
        keys: keys.verifying.id(),
        statement: statement(claim, &inputs[0], &inputs[1], total, blinding),
        chunks: Vec::new(),
        final_proof: ProofBytes::from_proof(&proof),
    })
}

/// The statement of a proven claim, from its tariff and usage commitments and total.
fn statement(
    claim: &RatingWitness<'_>,
    tariff_commitment: &Fr,
    usage_commitment: &Fr,
    total: u64,
    blinding: &Scalar,
) -> RatingStatement {
    RatingStatement {
        pseudonym: FieldBytes::from_field(&bilateral_pseudonym(&claim.bilateral_id)),
        interval: FieldBytes::from_field(&interval_field(claim.interval_id)),
        tariff_commitment: FieldBytes::from_field(tariff_commitment),
        usage_commitment: FieldBytes::from_field(usage_commitment),
        amount_commitment: FieldBytes(PedersenCommitment::commit(total, blinding).to_bytes()),
        include_one_time_fees: claim.options.include_one_time_fees,
    }
}
