//! The registry admits invoices only with a rating proof that verifies for the
//! submission's bilateral, interval and amount commitment: real Groth16 proofs (keys from
//! the development setup, chunks of 4 records), batch-verified per block, committed to
//! RocksDB.

#![allow(clippy::unwrap_used)]

use omni_core::{Currency, Hash32, IntervalId, Keypair};
use omni_prover::sample::{proven_invoices, ProvenInvoice};
use omni_prover::RatingKeys;
use omni_registry::commitment::{encode, PedersenCommitment};
use omni_registry::state::InvoiceStatus;
use omni_registry::tx::{InvoiceId, InvoiceSubmission};
use omni_registry::Error;
use omni_registry::Groth16RatingVerifier;
use omni_registry::{Block, Genesis, Role, SignedTx, Store, TxBody};
use omni_verifier::RatingVerifier;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;

#[test]
fn only_invoices_whose_proof_verifies_for_their_own_claim_are_admitted() {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let keys = RatingKeys::setup_development(4, &mut rng, &omni_prover::no_progress).unwrap();
    let invoices = proven_invoices(&keys, 3, 6, 5, &omni_prover::no_progress).unwrap();

    let (admin, seller, buyer) =
        (Keypair::from_seed([1; 32]), Keypair::from_seed([2; 32]), Keypair::from_seed([3; 32]));
    let genesis = Genesis {
        name: "proofs".into(),
        time: 1_000,
        members: vec![
            (admin.party(), Role::Admin),
            (seller.party(), Role::Member),
            (buyer.party(), Role::Member),
        ],
        rating_keys: None,
    };
    let id = genesis.registry_id();
    let submission = |n: u8, inv: &ProvenInvoice| InvoiceSubmission {
        invoice: InvoiceId(Hash32::digest("test/invoice", &[n])),
        bilateral: Hash32(inv.bilateral_id),
        interval: IntervalId(inv.interval_id.clone()),
        payer: buyer.party(),
        payee: seller.party(),
        currency: Currency::EUR,
        amount_commitment: encode(&PedersenCommitment::commit(inv.total, &inv.blinding)),
        due_date: 90_000,
        proof: inv.bundle.to_bytes(),
    };
    let mut bad = Vec::new();
    // Another interval than the proof's.
    bad.push(InvoiceSubmission {
        interval: IntervalId("2026-11".into()),
        ..submission(10, &invoices[1])
    });
    // Another bilateral than the proof's.
    bad.push(InvoiceSubmission { bilateral: Hash32([9; 32]), ..submission(11, &invoices[1]) });
    // A commitment to another amount.
    let inv = &invoices[1];
    bad.push(InvoiceSubmission {
        amount_commitment: encode(&PedersenCommitment::commit(inv.total + 1, &inv.blinding)),
        ..submission(12, inv)
    });
    // Malformed proof bytes; a proof whose final proof was swapped with another invoice's.
    let mut garbage = submission(13, &invoices[1]);
    garbage.proof.truncate(garbage.proof.len() / 2);
    bad.push(garbage);
    let mut swapped = invoices[1].bundle.clone();
    swapped.final_proof = invoices[2].bundle.final_proof.clone();
    bad.push(InvoiceSubmission { proof: swapped.to_bytes(), ..submission(14, &invoices[1]) });

    let mut txs =
        vec![SignedTx::sign(&seller, &id, 0, TxBody::SubmitInvoice(submission(0, &invoices[0])))];
    for s in bad {
        txs.push(SignedTx::sign(&seller, &id, 1, TxBody::SubmitInvoice(s)));
    }
    // The bad ones did not consume nonces: the next good one takes nonce 1.
    txs.push(SignedTx::sign(&seller, &id, 1, TxBody::SubmitInvoice(submission(2, &invoices[2]))));
    let block = Block { height: 1, time: 2_000, txs: txs.iter().map(|t| t.to_bytes()).collect() };

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let verifier = Groth16RatingVerifier::new(RatingVerifier::new(keys.verifying.clone()));
    let mut registry = store.open_registry(Some(&genesis), Arc::new(verifier)).unwrap();
    let outcome = registry.execute_block(&block).unwrap();
    store.commit(&block, &outcome).unwrap();

    let verdicts: Vec<bool> = outcome.results.iter().map(|r| r.result.is_ok()).collect();
    assert_eq!(verdicts, vec![true, false, false, false, false, false, true]);
    for (r, expect) in outcome.results[1..6].iter().zip([
        "another billing interval",
        "another bilateral",
        "another amount commitment",
        "malformed proof bundle",
        "does not verify",
    ]) {
        match &r.result {
            Err(Error::ProofRejected { reason, .. }) => {
                assert!(reason.contains(expect), "{reason:?} should say {expect:?}")
            }
            other => panic!("expected a proof rejection, got {other:?}"),
        }
    }
    let state = registry.state();
    assert_eq!(state.invoice_count(), 2);
    let first = state.invoice(&InvoiceId(Hash32::digest("test/invoice", &[0]))).unwrap();
    assert_eq!(first.status, InvoiceStatus::Verified);

    // After a restart from RocksDB, the same state; the same bundle cannot be submitted
    // again (its amount commitment is registered).
    drop(registry);
    let verifier = Groth16RatingVerifier::new(RatingVerifier::new(keys.verifying.clone()));
    let mut registry = store.open_registry(None, Arc::new(verifier)).unwrap();
    assert_eq!(registry.state().state_root(), outcome.state_root);
    let again =
        SignedTx::sign(&seller, &id, 2, TxBody::SubmitInvoice(submission(20, &invoices[0])));
    let block2 = Block { height: 2, time: 2_001, txs: vec![again.to_bytes()] };
    let outcome2 = registry.execute_block(&block2).unwrap();
    assert!(matches!(outcome2.results[0].result, Err(Error::CommitmentReused { .. })));
}
