//! MEF 114 Option 1 with a rating proof: the seller issues an invoice and proves its
//! rating; the buyer's node verifies the proof against the tariff, usage, interval and
//! total on its own ledger before it can accept; a bad proof is refused with a clear reason
//! and changes nothing. Real Groth16 keys (development setup, chunks of 4 records), real
//! RocksDB.
#![allow(clippy::unwrap_used)]

use omni_core::BillingInterval;
use omni_node::entry::RatingProofAttachment;
use omni_node::invoice::invoice_from_rating;
use omni_node::rating_proof::prove_invoice;
use omni_node::sample::{self, ORDER_AB};
use omni_node::state::RatingStatus;
use omni_node::{Clock, EntryBody, Error, Ledger, LedgerOptions};
use omni_prover::RatingKeys;
use omni_verifier::RatingVerifier;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;

fn nov() -> BillingInterval {
    BillingInterval::month(2026, 11).unwrap()
}

const INVOICE: &str = "INV-2026-11-P";

#[test]
fn the_buyer_accepts_an_option_1_invoice_only_with_a_verified_rating_proof() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let keys = RatingKeys::setup_development(4, &mut rng, &omni_prover::no_progress).unwrap();
    let verifier = Arc::new(RatingVerifier::new(keys.verifying.clone()));
    let clock = Clock::manual(nov().start);
    let options = |require| LedgerOptions {
        clock: clock.clone(),
        rating_verifier: Some(verifier.clone()),
        require_rating_proofs: require,
        ..LedgerOptions::default()
    };
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Ledger::open(dirs.0.path(), sample::carrier_a(), options(false)).unwrap();
    let mut b = Ledger::open(dirs.1.path(), sample::carrier_b(), options(true)).unwrap();

    // Contract, order, 10 usage records, agreed rating.
    let id = sample::rated_bilateral(&mut a, &mut b, &clock, &nov(), 10).unwrap();

    // Option 1: the seller issues the invoice itself.
    let state = a.state(&id).unwrap();
    let RatingStatus::Agreed { rating, .. } = &state.account(ORDER_AB, &nov().id).unwrap().rating
    else {
        panic!("rating agreed")
    };
    let invoice =
        invoice_from_rating(INVOICE, ORDER_AB, &nov().id, state.contract().currency, rating);
    let issued = a.append(&id, EntryBody::Invoice(invoice)).unwrap();
    b.sync_from(&a, &id).unwrap();

    // Without a proof, the buyer's node does not accept it.
    let err = b.accept(&id, issued.seq).unwrap_err();
    assert!(
        matches!(&err, Error::RatingProof { reason, .. } if reason.contains("no verified rating proof")),
        "{err}"
    );

    // The seller proves it; the claim comes from its own ledger (10 records, 3 chunks).
    let claim = a.ledger_rating(&id, INVOICE).unwrap();
    assert_eq!(claim.records.len(), 10);
    let good = prove_invoice(&keys, &claim, INVOICE, &mut rng, &omni_prover::no_progress).unwrap();

    // Bad attachments are refused by the seller's own node before they are stored.
    let mut bad = |attachment: RatingProofAttachment, expect: &str| {
        let head = a.state(&id).unwrap().head();
        let err = a.append(&id, EntryBody::RatingProof(attachment)).unwrap_err();
        assert!(err.to_string().contains(expect), "{err} should say {expect:?}");
        assert_eq!(a.state(&id).unwrap().head(), head, "nothing appended");
    };
    let mut wrong_blinding = good.clone();
    wrong_blinding.blinding[0] ^= 1;
    bad(wrong_blinding, "another amount");
    let mut truncated = good.clone();
    truncated.bundle.truncate(100);
    bad(truncated, "malformed proof bundle");
    // A valid proof of other usage (a record changed) is a proof for another usage.
    let mut other = claim.clone();
    other.records[2].quantity += 1;
    let other_usage = prove_invoice(&keys, &other, INVOICE, &mut rng, &omni_prover::no_progress);
    match other_usage {
        Ok(att) => bad(att, "another usage"),
        // A changed record can also change the total, which the prover refuses to prove.
        Err(e) => assert!(e.to_string().contains("rating proof"), "{e}"),
    }
    let mut other_interval = claim.clone();
    other_interval.interval = "2026-12".into();
    bad(
        prove_invoice(&keys, &other_interval, INVOICE, &mut rng, &omni_prover::no_progress)
            .unwrap(),
        "another billing interval",
    );

    // The good one: appended by the seller, verified again by the buyer's node on
    // receipt, after which the buyer accepts.
    a.append(&id, EntryBody::RatingProof(good.clone())).unwrap();
    b.sync_from(&a, &id).unwrap();
    let inv = b.state(&id).unwrap().invoice(INVOICE).unwrap();
    assert!(inv.rating_proof.is_some());
    b.accept(&id, issued.seq).unwrap();
    a.sync_from(&b, &id).unwrap();
    assert!(a.state(&id).unwrap().invoice(INVOICE).unwrap().accepted);
    assert_eq!(a.state(&id).unwrap().digest(), b.state(&id).unwrap().digest());

    // A second proof for the same invoice is refused by the state machine.
    let err = a.append(&id, EntryBody::RatingProof(good)).unwrap_err();
    assert!(err.to_string().contains("already"), "{err}");
    // Both stores replay to the same state.
    assert_eq!(a.verify(&id).unwrap(), b.verify(&id).unwrap());
}
