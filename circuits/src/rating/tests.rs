use super::*;
use ark_ff::One;
use ark_r1cs_std::R1CSVar;
use ark_relations::r1cs::{ConstraintSystem, SynthesisMode};
use omni_core::sample::{interconnect_tariff, usage};

fn salts() -> impl FnMut() -> Fr {
    let mut i = 0u64;
    move || {
        i += 1;
        Fr::from(1_000_003 * i)
    }
}

/// Synthesizes `circuit` (chunk, final or interval) with values; returns (satisfied,
/// constraints).
fn check(circuit: impl ConstraintSynthesizer<Fr>) -> (bool, usize) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    circuit.generate_constraints(cs.clone()).unwrap();
    (cs.is_satisfied().unwrap(), cs.num_constraints())
}

fn setup_constraints(chunk_size: usize) -> usize {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    UsageChunkCircuit::blank(chunk_size).generate_constraints(cs.clone()).unwrap();
    cs.num_constraints()
}

#[test]
fn tariff_fields_and_refusals() {
    let t = interconnect_tariff();
    let fields = tariff_to_fields(&t).unwrap();
    assert_eq!(fields.len(), TARIFF_FIELDS);
    assert_eq!(fields[product_index(3, product_field::FIRST)], Fr::from(60u64));
    assert_eq!(fields[global_index(global_field::TAX)], Fr::from(1900u64));
    let mut other = t.clone();
    other.tax_rate_bps = 1901;
    assert_ne!(tariff_commitment(&t).unwrap(), tariff_commitment(&other).unwrap());
    let mut per_record = t.clone();
    per_record.rounding.scope = RoundingScope::PerRecord;
    for p in &mut per_record.products {
        p.pricing = Pricing::Flat { price: 1 };
        p.free_units = 0;
    }
    assert!(matches!(tariff_to_fields(&per_record), Err(Error::Unsupported(_))));
    let mut five = t.clone();
    let mut extra = five.products[3].clone();
    extra.product = omni_core::ProductId::new("zz-extra");
    five.products.push(extra);
    assert!(matches!(tariff_to_fields(&five), Err(Error::Unsupported(_))));
}

#[test]
fn chunks_chain_and_match_the_native_usage_commitment() {
    let t = interconnect_tariff();
    let records = usage(&t, "r", 0, 13);
    let (chunks, last, _) = build_chunks(&t, &records, 8, salts()).unwrap();
    assert_eq!(chunks.len(), 2);
    let mut previous = initial_state_commitment();
    for chunk in chunks {
        let [tc, state_in, state_out] = chunk.public_inputs().unwrap();
        assert_eq!(tc, tariff_commitment(&t).unwrap());
        assert_eq!(state_in, previous);
        previous = state_out;
        assert!(check(chunk).0);
    }
    let slots = rate_slots(&t, &records).unwrap();
    let plain: Vec<(u64, u8)> = slots.iter().map(|(s, _)| (s.quantity, s.product)).collect();
    assert_eq!(last.usage_commitment(), usage_commitment(&plain).unwrap());
    assert_eq!(last.count, 13);
    // The native totals agree with the rating engine's.
    let mut totals = UsageTotals::new(&t);
    totals.add_records(&t, &records).unwrap();
    for (j, q) in totals.billed.iter().enumerate() {
        assert_eq!(last.billed[j], *q);
    }
    // The usage commitment does not depend on the chunk size.
    let (_, last4, _) = build_chunks(&t, &records, 4, salts()).unwrap();
    assert_eq!(last4.usage_commitment(), last.usage_commitment());
}

#[test]
fn constraints_per_record() {
    let (small, large) = (setup_constraints(8), setup_constraints(16));
    // 16 − 8 records = 2 blocks of 4.
    let per_block = (large - small) / 2;
    println!("chunk: {small} constraints for K = 8, {per_block} per block of 4");
    assert_eq!(per_block, CHUNK_CONSTRAINTS_PER_BLOCK);
    assert!(per_block <= 4 * 250);
    // Setup and proving build the same shape.
    let t = interconnect_tariff();
    let (chunks, _, _) = build_chunks(&t, &usage(&t, "r", 0, 5), 8, salts()).unwrap();
    let (ok, n) = check(chunks[0].clone());
    assert!(ok);
    assert_eq!(n, small);
}

/// Replaces a witness: every edge case of rule 2 must pin `b` exactly.
#[test]
fn increments_edge_cases() {
    let t = interconnect_tariff();
    let fields = tariff_to_fields(&t).unwrap();
    // Product 3: voice, 60/1; product 1: iot-data 1/1; product 0: per unit.
    let mut modified = t.clone();
    modified.products[2].increment = omni_core::tariff::Increment { first: 30, then: 6 };
    let fields2 = tariff_to_fields(&modified).unwrap();
    for (fields, p) in [(&fields, 3u8), (&fields2, 2), (&fields, 0)] {
        for q in [0u64, 1, 5, 29, 30, 31, 35, 36, 37, 59, 60, 61, (1 << 48) - 1] {
            let slot = Slot { quantity: q, product: p };
            let circuit = UsageChunkCircuit {
                chunk_size: 4,
                witness: Some(ChunkWitness {
                    tariff: fields.clone(),
                    records: vec![slot, slot],
                    state_in: (UsageState::initial(), Fr::zero()),
                    salt_out: Fr::one(),
                }),
            };
            assert!(check(circuit).0, "q={q} p={p}");
        }
    }
}

#[test]
fn bad_shapes_are_refused() {
    let cs = ConstraintSystem::<Fr>::new_ref();
    assert!(UsageChunkCircuit::blank(6).generate_constraints(cs).is_err());
    assert!(usage_commitment(&[(1, 4)]).is_err());
    assert!(usage_commitment(&[(1 << 48, 0)]).is_err());
    let t = interconnect_tariff();
    assert!(build_chunks(&t, &usage(&t, "r", 0, 3), 0, salts()).is_err());
    // A final state that does not hold the records.
    let records = usage(&t, "r", 0, 3);
    let options = RatingOptions::default();
    let wrong_state = UsageState::initial();
    let err = build_final(
        &t,
        &records,
        &options,
        wrong_state,
        Fr::zero(),
        Scalar::from(1u64),
        Fr::zero(),
        Fr::zero(),
    );
    assert!(matches!(err, Err(Error::Unsupported(_))));
}

/// Rule 2 is pinned: for every quantity only the honest `k` satisfies the record's
/// constraints, and "negative" quantities satisfy none.
#[test]
fn billed_quantity_is_sound() {
    let witness =
        |cs: &ConstraintSystemRef<Fr>, v: Fr| FpVar::new_witness(cs.clone(), || Ok(v)).unwrap();
    for (first, then) in [(0u64, 1u64), (60, 1), (30, 6), (0, 7), (5, 5)] {
        let mut quantities: Vec<Fr> =
            [0u64, 1, 4, 5, 6, 29, 30, 31, 36, 37, 60, 61, 100].map(Fr::from).to_vec();
        quantities.extend([-Fr::one(), -Fr::from(5u64), -Fr::from(60u64)]);
        for q in quantities {
            let honest = fr_to_u64(q).ok().map(|q| native_steps(q, first, then));
            for k in 0..30u64 {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let (qv, fv, tv) =
                    (witness(&cs, q), witness(&cs, Fr::from(first)), witness(&cs, Fr::from(then)));
                let b = billed_var_with_steps(&qv, &fv, &tv, || Ok(Fr::from(k))).unwrap();
                let satisfied = cs.is_satisfied().unwrap();
                match honest {
                    // q = 0 bills 0 whatever k; otherwise only the honest k.
                    Some(0) if q.is_zero() => assert!(satisfied),
                    Some(h) => {
                        assert_eq!(satisfied, k == h, "q={q} first={first} then={then} k={k}")
                    }
                    None => assert!(!satisfied, "negative q={q} accepted with k={k}"),
                }
                if satisfied {
                    let qn = fr_to_u64(q).unwrap();
                    let p = omni_core::tariff::ProductTariff {
                        product: omni_core::ProductId::new("x"),
                        unit: omni_core::Unit::Second,
                        increment: omni_core::tariff::Increment { first, then },
                        free_units: 0,
                        pricing: Pricing::Flat { price: 1 },
                    };
                    let want = omni_core::rating::billed_quantity(qn, &p);
                    assert_eq!(b.value().unwrap(), Fr::from(want));
                }
            }
        }
    }
}

#[test]
fn tampering_is_caught() {
    let t = interconnect_tariff();
    let records = usage(&t, "r", 0, 6);
    let (chunks, _, _) = build_chunks(&t, &records, 8, salts()).unwrap();
    let good = chunks[0].clone();
    let publics = good.public_inputs().unwrap();
    // Change one record but keep the honest public inputs: unsatisfied.
    let cs = ConstraintSystem::<Fr>::new_ref();
    let mut bad = good.clone();
    if let Some(w) = bad.witness.as_mut() {
        w.records[2].quantity += 1;
    }
    bad.generate_constraints(cs.clone()).unwrap();
    let inputs = cs.borrow().unwrap().instance_assignment.clone();
    assert_ne!(&inputs[1..], &publics[..]);
    cs.borrow_mut().unwrap().instance_assignment[1..].copy_from_slice(&publics);
    assert!(!cs.is_satisfied().unwrap());
    // A wrong tariff commitment.
    let cs = ConstraintSystem::<Fr>::new_ref();
    good.clone().generate_constraints(cs.clone()).unwrap();
    cs.borrow_mut().unwrap().instance_assignment[1] += Fr::one();
    assert!(!cs.is_satisfied().unwrap());
}

// ---------------------------------------------------------------------------------------
// Final circuit
// ---------------------------------------------------------------------------------------

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_snark::SNARK;
use omni_core::tariff::{Fee, Increment, ProductTariff, Rounding, Tier, VolumeDiscount};
use omni_core::{ProductId, Unit};
use proptest::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn final_for(
    t: &Tariff,
    records: &[UsageRecord],
    options: &RatingOptions,
    chunk_size: usize,
) -> (Vec<UsageChunkCircuit>, FinalCircuit) {
    let (chunks, state, salt) = build_chunks(t, records, chunk_size, salts()).unwrap();
    let fin = build_final(
        t,
        records,
        options,
        state,
        salt,
        Scalar::from(424_242u64),
        Fr::from(77u64),
        Fr::from(202_611_u64),
    )
    .unwrap();
    (chunks, fin)
}

fn with_total(mut circuit: FinalCircuit, delta: i64) -> FinalCircuit {
    if let Some(w) = circuit.witness.as_mut() {
        w.invoice.total = w.invoice.total.wrapping_add_signed(delta);
    }
    circuit
}

fn interval_for(
    t: &Tariff,
    records: &[UsageRecord],
    options: &RatingOptions,
    chunk_size: usize,
) -> IntervalCircuit {
    let (blinding, pseudonym, interval) =
        (Scalar::from(424_242u64), Fr::from(77u64), Fr::from(202_611_u64));
    build_interval(t, records, options, chunk_size, blinding, pseudonym, interval).unwrap()
}

fn interval_with_total(mut circuit: IntervalCircuit, delta: i64) -> IntervalCircuit {
    if let Some(w) = circuit.witness.as_mut() {
        w.invoice.total = w.invoice.total.wrapping_add_signed(delta);
    }
    circuit
}

#[test]
fn interval_circuit_is_the_chunk_and_final_circuits_in_one() {
    let t = interconnect_tariff();
    for (n, one_time) in [(0usize, false), (5, true), (8, false)] {
        let records = usage(&t, "r", 0, n);
        let options = RatingOptions { include_one_time_fees: one_time };
        let whole = interval_for(&t, &records, &options, 8);
        // The same statement as one chunk and the final circuit, minus the state
        // commitment between them.
        let (_, fin) = final_for(&t, &records, &options, 8);
        let (publics, final_publics) =
            (whole.public_inputs().unwrap(), fin.public_inputs().unwrap());
        assert_eq!(publics[0], final_publics[0]);
        assert_eq!(publics[1..], final_publics[2..]);
        let (ok, constraints) = check(whole.clone());
        assert!(ok, "{n} records");
        // The initial state is a constant and no state is committed: fewer constraints
        // than a chunk proof and a final proof.
        assert!(constraints < setup_constraints(8) + FINAL_CONSTRAINTS, "{constraints}");
        assert!(!check(interval_with_total(whole.clone(), 1)).0);
        assert!(!check(interval_with_total(whole.clone(), -1)).0);
    }
    // More records than the circuit holds are refused.
    let records = usage(&t, "r", 0, 9);
    let options = RatingOptions::default();
    let blinding = Scalar::from(1u64);
    assert!(build_interval(&t, &records, &options, 8, blinding, Fr::one(), Fr::one()).is_err());
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    IntervalCircuit::blank(8).generate_constraints(cs.clone()).unwrap();
    assert_eq!(cs.num_instance_variables(), INTERVAL_PUBLIC_INPUTS + 1);
}

#[test]
fn final_circuit_matches_the_rating_engine() {
    let t = interconnect_tariff();
    for (n, one_time) in [(0usize, false), (13, true), (40, false)] {
        let records = usage(&t, "r", 0, n);
        let options = RatingOptions { include_one_time_fees: one_time };
        let (_, fin) = final_for(&t, &records, &options, 8);
        let (ok, constraints) = check(fin.clone());
        assert_eq!(constraints, FINAL_CONSTRAINTS);
        assert!(ok, "{n} records");
        assert!(!check(with_total(fin.clone(), 1)).0);
        assert!(!check(with_total(fin, -1)).0);
    }
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    FinalCircuit::default().generate_constraints(cs.clone()).unwrap();
    assert_eq!(cs.num_instance_variables(), FINAL_PUBLIC_INPUTS + 1);
}

/// A random tariff within the circuit's shape.
fn random_tariff(rng: &mut StdRng) -> Tariff {
    let n = rng.gen_range(1..=MAX_PRODUCTS);
    let mut price = |rng: &mut StdRng| {
        if rng.gen_bool(0.2) {
            rng.gen_range(0..(1u64 << 40))
        } else {
            rng.gen_range(0..5_000_000)
        }
    };
    let products = (0..n)
        .map(|j| {
            let tiers = |rng: &mut StdRng, price: &mut dyn FnMut(&mut StdRng) -> u64| {
                let k = rng.gen_range(1..=MAX_TIERS);
                let mut bound = 0u64;
                (0..k)
                    .map(|i| {
                        bound += rng.gen_range(1..200);
                        Tier { up_to: (i + 1 < k).then_some(bound), price: price(rng) }
                    })
                    .collect::<Vec<_>>()
            };
            let pricing = match rng.gen_range(0..4) {
                0 => Pricing::Flat { price: price(rng) },
                1 => Pricing::Graduated { tiers: tiers(rng, &mut price) },
                2 => Pricing::Volume { tiers: tiers(rng, &mut price) },
                _ => Pricing::Package { block: rng.gen_range(1..100), price: price(rng) },
            };
            ProductTariff {
                product: ProductId::new(format!("p{j}")),
                unit: Unit::Second,
                increment: Increment { first: rng.gen_range(0..40), then: rng.gen_range(1..10) },
                free_units: if rng.gen_bool(0.5) { 0 } else { rng.gen_range(0..300) },
                pricing,
            }
        })
        .collect();
    let discounts = rng.gen_range(0..=MAX_DISCOUNTS);
    let mut threshold = 0;
    let volume_discounts = (0..discounts)
        .map(|_| {
            threshold += rng.gen_range(0..2_000_000_000);
            let d = VolumeDiscount { threshold, discount_bps: rng.gen_range(0..=10_000) };
            threshold += 1;
            d
        })
        .collect();
    let mode = [RoundingMode::Up, RoundingMode::Down, RoundingMode::HalfUp, RoundingMode::HalfEven]
        [rng.gen_range(0..4)];
    let scope = if rng.gen_bool(0.5) { RoundingScope::PerLine } else { RoundingScope::PerInvoice };
    Tariff {
        id: "random".into(),
        version: 1,
        currency: omni_core::Currency::EUR,
        products,
        recurring_fees: vec![Fee { name: "r".into(), amount: rng.gen_range(0..1_000_000) }],
        one_time_fees: vec![Fee { name: "o".into(), amount: rng.gen_range(0..1_000_000) }],
        minimum_charge: rng.gen_range(0..3_000_000_000),
        volume_discounts,
        rounding: Rounding { mode, scope },
        tax_rate_bps: rng.gen_range(0..=10_000),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn final_total_is_the_native_total(seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let t = random_tariff(&mut rng);
        let n = rng.gen_range(0..10);
        let records: Vec<UsageRecord> = (0..n)
            .map(|i| {
                let p = &t.products[rng.gen_range(0..t.products.len())];
                let q = match rng.gen_range(0..10) {
                    0 => 0,
                    1 => rng.gen_range(0..10_000_000),
                    _ => rng.gen_range(0..500),
                };
                UsageRecord::new(format!("r{i}"), 1, p.product.0.clone(), q, p.unit).unwrap()
            })
            .collect();
        let options = RatingOptions { include_one_time_fees: rng.gen_bool(0.5) };
        let (chunks, fin) = final_for(&t, &records, &options, 4);
        for chunk in chunks {
            prop_assert!(check(chunk).0);
        }
        prop_assert!(check(fin.clone()).0, "{t:?} {records:?}");
        prop_assert!(!check(with_total(fin, 1)).0);
        let whole = interval_for(&t, &records, &options, 12);
        prop_assert!(check(whole.clone()).0, "{t:?} {records:?}");
        prop_assert!(!check(interval_with_total(whole, 1)).0);
    }
}

#[test]
fn groth16_two_chunks_and_final() {
    let mut rng = StdRng::seed_from_u64(7);
    let t = interconnect_tariff();
    let records = usage(&t, "g", 0, 7);
    let options = RatingOptions { include_one_time_fees: true };
    let (chunks, fin) = final_for(&t, &records, &options, 4);
    assert_eq!(chunks.len(), 2);

    let (chunk_pk, chunk_vk) =
        Groth16::<Bn254>::circuit_specific_setup(UsageChunkCircuit::blank(4), &mut rng).unwrap();
    let chunk_pvk = Groth16::<Bn254>::process_vk(&chunk_vk).unwrap();
    let mut previous = initial_state_commitment();
    let mut last_publics = [Fr::zero(); 3];
    for chunk in &chunks {
        let publics = chunk.public_inputs().unwrap();
        assert_eq!(publics[1], previous);
        previous = publics[2];
        let proof = Groth16::<Bn254>::prove(&chunk_pk, chunk.clone(), &mut rng).unwrap();
        assert!(Groth16::<Bn254>::verify_with_processed_vk(&chunk_pvk, &publics, &proof).unwrap());
        // A changed record (other public state) or another tariff fails verification.
        let mut wrong = publics;
        wrong[2] += Fr::one();
        assert!(!Groth16::<Bn254>::verify_with_processed_vk(&chunk_pvk, &wrong, &proof).unwrap());
        let mut wrong = publics;
        wrong[0] += Fr::one();
        assert!(!Groth16::<Bn254>::verify_with_processed_vk(&chunk_pvk, &wrong, &proof).unwrap());
        last_publics = publics;
    }

    let (final_pk, final_vk) =
        Groth16::<Bn254>::circuit_specific_setup(FinalCircuit::default(), &mut rng).unwrap();
    let final_pvk = Groth16::<Bn254>::process_vk(&final_vk).unwrap();
    let publics = fin.public_inputs().unwrap();
    assert_eq!(publics[1], last_publics[2]);
    assert_eq!(publics[0], tariff_commitment(&t).unwrap());
    let slots = rate_slots(&t, &records).unwrap();
    let plain: Vec<(u64, u8)> = slots.iter().map(|(s, _)| (s.quantity, s.product)).collect();
    assert_eq!(publics[2], usage_commitment(&plain).unwrap());
    let total = omni_core::rating::rate(&t, &records, &options).unwrap().0.total;
    let blinding = Scalar::from(424_242u64);
    assert_eq!(publics[3..5], PedersenCommitment::commit(total as u64, &blinding).public_inputs());
    let proof = Groth16::<Bn254>::prove(&final_pk, fin.clone(), &mut rng).unwrap();
    assert!(Groth16::<Bn254>::verify_with_processed_vk(&final_pvk, &publics, &proof).unwrap());
    // The commitment to another amount does not verify.
    let mut wrong = publics;
    let [x, y] = PedersenCommitment::commit(total as u64 + 1, &blinding).public_inputs();
    wrong[3] = x;
    wrong[4] = y;
    assert!(!Groth16::<Bn254>::verify_with_processed_vk(&final_pvk, &wrong, &proof).unwrap());
    // Another tariff commitment does not verify.
    let mut other = t.clone();
    other.minimum_charge += 1;
    let mut wrong = publics;
    wrong[0] = tariff_commitment(&other).unwrap();
    assert!(!Groth16::<Bn254>::verify_with_processed_vk(&final_pvk, &wrong, &proof).unwrap());
    // A changed record changes the usage commitment: the proof does not verify for it.
    let mut changed = plain.clone();
    changed[0].0 += 1;
    let mut wrong = publics;
    wrong[2] = usage_commitment(&changed).unwrap();
    assert!(!Groth16::<Bn254>::verify_with_processed_vk(&final_pvk, &wrong, &proof).unwrap());
    // A prover claiming a wrong total cannot even synthesize a satisfied system.
    assert!(!check(with_total(fin, 1)).0);
}

#[test]
fn groth16_interval() {
    let mut rng = StdRng::seed_from_u64(11);
    let t = interconnect_tariff();
    let records = usage(&t, "g", 0, 3);
    let options = RatingOptions { include_one_time_fees: true };
    let whole = interval_for(&t, &records, &options, 4);
    let (pk, vk) =
        Groth16::<Bn254>::circuit_specific_setup(IntervalCircuit::blank(4), &mut rng).unwrap();
    let pvk = Groth16::<Bn254>::process_vk(&vk).unwrap();
    let publics = whole.public_inputs().unwrap();
    let proof = Groth16::<Bn254>::prove(&pk, whole, &mut rng).unwrap();
    assert!(Groth16::<Bn254>::verify_with_processed_vk(&pvk, &publics, &proof).unwrap());
    // Another usage, tariff or amount does not verify.
    let slots = rate_slots(&t, &records).unwrap();
    let mut changed: Vec<(u64, u8)> = slots.iter().map(|(s, _)| (s.quantity, s.product)).collect();
    changed[0].0 += 1;
    let total = omni_core::rating::rate(&t, &records, &options).unwrap().0.total as u64;
    let [x, y] = PedersenCommitment::commit(total + 1, &Scalar::from(424_242u64)).public_inputs();
    for (i, value) in
        [(1, usage_commitment(&changed).unwrap()), (0, Fr::from(5u64)), (2, x), (3, y)]
    {
        let mut wrong = publics;
        wrong[i] = value;
        assert!(!Groth16::<Bn254>::verify_with_processed_vk(&pvk, &wrong, &proof).unwrap());
    }
}
