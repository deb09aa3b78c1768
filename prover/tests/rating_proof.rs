//! Rating proofs end to end with real keys (development setup, chunks of 4 records):
//! prove, encode, verify singly and in batches, export to snarkjs, and refuse every kind
//! of bad input with a clear error.

#![allow(clippy::unwrap_used)]

use ark_bn254::{Fq, Fq2, Fr, G2Affine};
use ark_ff::{Field, One};
use ark_serialize::CanonicalSerialize;
use omni_circuits::bundle::{interval_field, FieldBytes, ProofBytes, RatingProofBundle};
use omni_circuits::pedersen::{PedersenCommitment, Scalar};
use omni_circuits::rating::{tariff_commitment, usage_commitment_for};
use omni_core::rating::RatingOptions;
use omni_core::sample::{interconnect_tariff, usage};
use omni_prover::{prove_rating, RatingKeys, RatingWitness};
use omni_verifier::{
    bilateral_pseudonym, snarkjs, ExpectedRatingStatement, RatingVerifier, VerifyError,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::OnceLock;

const BILATERAL: [u8; 32] = [7; 32];
const INTERVAL: &str = "2026-10";

/// The claim of `records` under `tariff` for this file's bilateral and interval, and the
/// total they rate to.
fn rated_claim<'a>(
    tariff: &'a omni_core::tariff::Tariff,
    records: &'a [omni_core::usage::UsageRecord],
    include_one_time_fees: bool,
) -> (RatingWitness<'a>, u64) {
    let options = RatingOptions { include_one_time_fees };
    let total = omni_core::rating::rate(tariff, records, &options).unwrap().0.total as u64;
    let claim =
        RatingWitness { tariff, records, options, bilateral_id: BILATERAL, interval_id: INTERVAL };
    (claim, total)
}

struct Fixture {
    keys: RatingKeys,
    bundle: RatingProofBundle,
    total: u64,
    blinding: Scalar,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let keys = RatingKeys::setup_development(4, &mut rng, &omni_prover::no_progress).unwrap();
        let tariff = interconnect_tariff();
        let records = usage(&tariff, "p", 0, 7);
        let (claim, total) = rated_claim(&tariff, &records, true);
        let blinding = Scalar::from(99_991u64);
        let bundle =
            prove_rating(&keys, &claim, &blinding, &mut rng, &omni_prover::no_progress).unwrap();
        Fixture { keys, bundle, total, blinding }
    })
}

fn verifier() -> RatingVerifier {
    RatingVerifier::new(fixture().keys.verifying.clone())
}

fn expected() -> ExpectedRatingStatement {
    let tariff = interconnect_tariff();
    let records = usage(&tariff, "p", 0, 7);
    let f = fixture();
    ExpectedRatingStatement {
        pseudonym: Some(bilateral_pseudonym(&BILATERAL)),
        interval: Some(interval_field(INTERVAL)),
        tariff_commitment: Some(tariff_commitment(&tariff).unwrap()),
        usage_commitment: Some(usage_commitment_for(&tariff, &records).unwrap()),
        opening: Some((f.total, f.blinding)),
        amount_commitment: None,
        include_one_time_fees: Some(true),
    }
}

#[test]
fn a_bundle_verifies_for_its_statement_after_a_round_trip() {
    let f = fixture();
    assert_eq!(f.bundle.chunks.len(), 2);
    let bytes = f.bundle.to_bytes();
    let back = RatingProofBundle::from_bytes(&bytes).unwrap();
    assert_eq!(back, f.bundle);
    let json = serde_json::to_string(&back).unwrap();
    assert_eq!(serde_json::from_str::<RatingProofBundle>(&json).unwrap(), f.bundle);
    verifier().verify_expected(&back, &expected()).unwrap();
}

#[test]
fn statements_for_another_bilateral_interval_amount_or_usage_are_refused() {
    let f = fixture();
    let v = verifier();
    let mismatch = |e: ExpectedRatingStatement, what: &str| {
        let err = RatingVerifier::check_statement(&f.bundle, &e).unwrap_err();
        assert_eq!(
            err,
            VerifyError::StatementMismatch(match what {
                "bilateral" => "bilateral",
                "billing interval" => "billing interval",
                "amount" => "amount",
                "usage" => "usage",
                _ => "tariff",
            })
        );
    };
    mismatch(
        ExpectedRatingStatement { pseudonym: Some(bilateral_pseudonym(&[8; 32])), ..expected() },
        "bilateral",
    );
    mismatch(
        ExpectedRatingStatement { interval: Some(interval_field("2026-11")), ..expected() },
        "billing interval",
    );
    mismatch(
        ExpectedRatingStatement { opening: Some((f.total + 1, f.blinding)), ..expected() },
        "amount",
    );
    let tariff = interconnect_tariff();
    let mut changed = usage(&tariff, "p", 0, 7);
    changed[3].quantity += 1;
    mismatch(
        ExpectedRatingStatement {
            usage_commitment: Some(usage_commitment_for(&tariff, &changed).unwrap()),
            ..expected()
        },
        "usage",
    );
    let mut other = tariff.clone();
    other.minimum_charge += 1;
    mismatch(
        ExpectedRatingStatement {
            tariff_commitment: Some(tariff_commitment(&other).unwrap()),
            ..expected()
        },
        "tariff",
    );

    // Rewriting the statement inside the bundle makes the proofs fail instead.
    let rewrite = |edit: &dyn Fn(&mut RatingProofBundle)| {
        let mut b = f.bundle.clone();
        edit(&mut b);
        assert_eq!(v.verify(&b), Err(VerifyError::Invalid));
    };
    rewrite(&|b| b.statement.pseudonym = FieldBytes::from_field(&bilateral_pseudonym(&[8; 32])));
    rewrite(&|b| b.statement.interval = FieldBytes::from_field(&interval_field("2026-11")));
    rewrite(&|b| {
        b.statement.amount_commitment =
            FieldBytes(PedersenCommitment::commit(f.total + 1, &f.blinding).to_bytes())
    });
    rewrite(&|b| b.statement.include_one_time_fees = false);
    rewrite(&|b| b.statement.usage_commitment = FieldBytes::from_field(&Fr::one()));
    // Swapped public inputs: the tariff and usage commitments, or the chunks' order.
    rewrite(&|b| {
        std::mem::swap(&mut b.statement.tariff_commitment, &mut b.statement.usage_commitment)
    });
    rewrite(&|b| b.chunks.swap(0, 1));
    rewrite(&|b| std::mem::swap(&mut b.chunks[0].proof, &mut b.final_proof));
}

#[test]
fn malformed_bytes_and_bad_points_are_refused_without_panicking() {
    let f = fixture();
    let v = verifier();
    let bytes = f.bundle.to_bytes();
    // Every truncation and many single-byte flips: an error or (if the flip hit a proof or
    // a commitment) an invalid proof, never a panic and never a pass.
    for len in 0..bytes.len() {
        assert!(RatingProofBundle::from_bytes(&bytes[..len]).is_err());
    }
    for i in (0..bytes.len()).step_by(7) {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x5a;
        if let Ok(b) = RatingProofBundle::from_bytes(&flipped) {
            assert!(v.verify(&b).is_err(), "flip at {i} passed");
        }
    }
    // A G2 point on the curve but outside the prime-order subgroup, in B's place.
    let mut x = Fq2::new(Fq::from(1u64), Fq::from(1u64));
    let off_subgroup = loop {
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, false) {
            if !p.is_in_correct_subgroup_assuming_on_curve() {
                break p;
            }
        }
        x += Fq2::ONE;
    };
    let mut b_bytes = Vec::new();
    off_subgroup.serialize_uncompressed(&mut b_bytes).unwrap();
    let mut bad = f.bundle.clone();
    bad.final_proof.0[64..192].copy_from_slice(&b_bytes);
    let err = v.verify(&bad).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed(ref m) if m.contains("subgroup")), "{err}");
    // A proof of the wrong length; a non-canonical field element in the statement.
    let mut bad = f.bundle.clone();
    bad.chunks[1].proof = ProofBytes(vec![0; 12]);
    assert!(matches!(v.verify(&bad), Err(VerifyError::Malformed(_))));
    let mut bad = f.bundle.clone();
    bad.statement.interval = FieldBytes([0xff; 32]);
    assert!(matches!(v.verify(&bad), Err(VerifyError::Malformed(_))));
    // An amount commitment that is not a point of Baby Jubjub's subgroup.
    let mut bad = f.bundle.clone();
    bad.statement.amount_commitment = FieldBytes([0x42; 32]);
    assert!(matches!(v.verify(&bad), Err(VerifyError::Malformed(_))));
}

#[test]
fn keys_with_another_hash_are_refused() {
    let f = fixture();
    let keys = f.keys.verifying.to_bytes();
    let published = f.keys.verifying.hash();
    RatingVerifier::from_bytes(&keys, Some(&published)).unwrap();
    let err = RatingVerifier::from_bytes(&keys, Some(&FieldBytes([3; 32]))).unwrap_err();
    assert!(matches!(err, VerifyError::KeyHashMismatch { .. }), "{err}");
    // A key set of another setup: the bundle names other keys.
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let other = RatingKeys::setup_development(4, &mut rng, &omni_prover::no_progress).unwrap();
    let err = RatingVerifier::new(other.verifying).verify(&f.bundle).unwrap_err();
    assert!(matches!(err, VerifyError::WrongKeys { .. }), "{err}");
    // Truncated key files.
    assert!(RatingVerifier::from_bytes(&keys[..keys.len() - 3], None).is_err());
    assert!(RatingVerifier::from_bytes(b"omniRVK2", None).is_err());
    // Key sets of the older format (no interval key) are refused by name.
    let mut older = keys.clone();
    older[..8].copy_from_slice(b"omniRVK1");
    let err = RatingVerifier::from_bytes(&older, None).unwrap_err();
    assert!(err.to_string().contains("older format"), "{err}");
}

#[test]
fn batches_locate_the_bad_bundle() {
    let f = fixture();
    let v = verifier();
    let mut bad = f.bundle.clone();
    bad.statement.include_one_time_fees = false;
    let results = v.verify_many(&[&f.bundle, &bad, &f.bundle]);
    assert!(results[0].is_ok());
    assert_eq!(results[1], Err(VerifyError::Invalid));
    assert!(results[2].is_ok());
}

#[test]
fn snarkjs_export_round_trips_and_verifies() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let proof = f.bundle.final_proof.to_proof().unwrap();
    let inputs = f.bundle.final_public_inputs().unwrap();
    snarkjs::write(dir.path(), &f.keys.verifying.final_, &proof, &inputs).unwrap();
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join(name)).unwrap()).unwrap()
    };
    let vk_json = read("verification_key.json");
    assert_eq!(vk_json["nPublic"], 8);
    assert_eq!(vk_json["curve"], "bn128");
    let vk = snarkjs::parse_verification_key(&vk_json).unwrap();
    assert_eq!(vk, f.keys.verifying.final_);
    let back = snarkjs::parse_proof(&read("proof.json")).unwrap();
    assert_eq!(back, proof);
    let public = snarkjs::parse_public(&read("public.json")).unwrap();
    assert_eq!(public, inputs.to_vec());
    let key = omni_verifier::batch::PreparedKey::new(&vk);
    assert!(key.verify(&back, &public).unwrap());
    let mut wrong = public.clone();
    wrong[6] += Fr::one();
    assert!(!key.verify(&back, &wrong).unwrap());
}

#[test]
fn an_interval_that_fits_one_chunk_is_one_proof() {
    let f = fixture();
    let v = verifier();
    let tariff = interconnect_tariff();
    let records = usage(&tariff, "p", 0, 3);
    let (claim, total) = rated_claim(&tariff, &records, false);
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let one =
        prove_rating(&f.keys, &claim, &f.blinding, &mut rng, &omni_prover::no_progress).unwrap();
    assert!(one.is_one_proof());
    assert_eq!(one.proofs(), 1);
    let back = RatingProofBundle::from_bytes(&one.to_bytes()).unwrap();
    let expected = ExpectedRatingStatement {
        usage_commitment: Some(usage_commitment_for(&tariff, &records).unwrap()),
        opening: Some((total, f.blinding)),
        include_one_time_fees: Some(false),
        ..expected()
    };
    v.verify_expected(&back, &expected).unwrap();

    // Its statement rewritten, or proofs grafted between the two shapes: refused.
    let refused = |b: &RatingProofBundle| assert_eq!(v.verify(b), Err(VerifyError::Invalid));
    let mut b = one.clone();
    b.statement.amount_commitment =
        FieldBytes(PedersenCommitment::commit(total + 1, &f.blinding).to_bytes());
    refused(&b);
    let mut b = one.clone();
    b.statement.include_one_time_fees = true;
    refused(&b);
    // The interval proof as the final proof of a chunked bundle, and a chunked bundle's
    // final proof without its chunks.
    let mut b = f.bundle.clone();
    b.final_proof = one.final_proof.clone();
    b.statement = one.statement.clone();
    refused(&b);
    let mut b = f.bundle.clone();
    b.chunks.clear();
    refused(&b);

    // Both shapes in one batch.
    let results = v.verify_many(&[&f.bundle, &one, &f.bundle]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // snarkjs sees the interval circuit's key, with its 7 public inputs.
    let dir = tempfile::tempdir().unwrap();
    let proof = one.final_proof.to_proof().unwrap();
    let inputs = one.final_public_inputs().unwrap();
    snarkjs::write(dir.path(), f.keys.verifying.final_key_of(&one), &proof, &inputs).unwrap();
    let vk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("verification_key.json")).unwrap())
            .unwrap();
    assert_eq!(vk["nPublic"], 7);
}
