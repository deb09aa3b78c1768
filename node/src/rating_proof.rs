//! Rating proofs on the bilateral ledger (MEF 114 §7.7 Option 1, CR3/CR5, D10).
//!
//! The seller of an Option 1 invoice proves, in zero knowledge, that its total is the
//! agreed tariff's rating of the interval's usage ([`prove_invoice`]) and appends the
//! bundle as an [`EntryBody::RatingProof`](crate::entry::EntryBody::RatingProof) entry
//! with the opening of the total's commitment. Before such an entry is stored — by the
//! seller's node and the buyer's — the ledger checks it ([`check_attachment`]) against
//! what the bilateral itself says, never against the bundle's own claims:
//!
//! | public input | taken from |
//! |---|---|
//! | bilateral pseudonym | the bilateral id |
//! | billing interval | the invoice |
//! | tariff commitment | the contract's tariff of the invoiced order |
//! | usage commitment | the order's usage batches for the interval, in ledger order |
//! | amount commitment | opened with the attached blinding to the invoice's total |
//! | one-time fees | whether the interval holds the order's start (R63) |
//!
//! A node configured to require proofs refuses to accept an Option 1 invoice without a
//! verified one (`LedgerOptions::require_rating_proofs`).

use crate::entry::{BilateralId, EntryBody, RatingProofAttachment};
use crate::state::BilateralState;
use crate::store::Store;
use crate::{Error, Result};
use omni_circuits::bundle::{bilateral_pseudonym, interval_field};
use omni_circuits::pedersen::Scalar;
use omni_circuits::rating::{tariff_commitment, usage_commitment_for};
use omni_core::rating::RatingOptions;
use omni_core::tariff::Tariff;
use omni_core::UsageRecord;
use omni_prover::{prove_rating, Progress, RatingKeys, RatingWitness};
use omni_verifier::{ExpectedRatingStatement, RatingProofBundle, RatingVerifier};
use rand::{CryptoRng, RngCore};

/// An invoice's rating as its ledger records it: the witness of its rating proof (the
/// prover's [`RatingWitness`], owned) and the total the proof's amount must open to.
#[derive(Clone, Debug)]
pub struct LedgerRating {
    /// The order's tariff.
    pub tariff: Tariff,
    /// The interval's usage records, in ledger order.
    pub records: Vec<UsageRecord>,
    /// Rating options of the interval.
    pub options: RatingOptions,
    /// The bilateral's id.
    pub bilateral_id: [u8; 32],
    /// The billing interval's id.
    pub interval: String,
    /// The invoice's total in micro-units.
    pub total: u64,
}

fn refuse(invoice: &str, reason: impl Into<String>) -> Error {
    Error::RatingProof { invoice: invoice.to_string(), reason: reason.into() }
}

/// Reads the rating of `invoice` from the bilateral's state and stored usage batches.
pub fn ledger_rating(
    store: &Store,
    id: &BilateralId,
    state: &BilateralState,
    invoice: &str,
) -> Result<LedgerRating> {
    let inv = state.invoice(invoice).ok_or_else(|| refuse(invoice, "no such invoice"))?;
    let order =
        state.order(&inv.invoice.order).ok_or_else(|| refuse(invoice, "its order is unknown"))?;
    let tariff = state
        .contract()
        .tariff(&order.order.tariff)
        .ok_or_else(|| refuse(invoice, "its order's tariff is missing"))?
        .clone();
    let account = state
        .account(&inv.invoice.order, &inv.invoice.interval)
        .ok_or_else(|| refuse(invoice, "its interval has no usage account"))?;
    let mut records = Vec::new();
    for &seq in &account.batches {
        match store.entry(id, seq)?.map(|e| e.body) {
            Some(EntryBody::UsageBatch(batch)) => records.extend(batch.records),
            _ => return Err(refuse(invoice, format!("usage batch {seq} is missing"))),
        }
    }
    let total = u64::try_from(inv.invoice.total)
        .map_err(|_| refuse(invoice, "a negative total has no rating proof"))?;
    Ok(LedgerRating {
        options: RatingOptions {
            include_one_time_fees: account.interval.contains(order.order.start),
        },
        tariff,
        records,
        bilateral_id: id.0 .0,
        interval: inv.invoice.interval.0.clone(),
        total,
    })
}

/// Proves `invoice`'s rating with a fresh blinding: the entry the seller appends.
pub fn prove_invoice(
    keys: &RatingKeys,
    claim: &LedgerRating,
    invoice: &str,
    rng: &mut (impl RngCore + CryptoRng),
    progress: Progress<'_>,
) -> Result<RatingProofAttachment> {
    let blinding = omni_circuits::pedersen::random_blinding(rng);
    let witness = RatingWitness {
        tariff: &claim.tariff,
        records: &claim.records,
        options: claim.options,
        bilateral_id: claim.bilateral_id,
        interval_id: &claim.interval,
    };
    let bundle = prove_rating(keys, &witness, &blinding, rng, progress)
        .map_err(|e| refuse(invoice, e.to_string()))?;
    Ok(RatingProofAttachment {
        invoice: invoice.to_string(),
        bundle: bundle.to_bytes(),
        blinding: omni_circuits::pedersen::scalar_to_bytes(&blinding),
    })
}

/// Checks an attachment against the ledger's rating (module docs); the reason of a
/// refusal names what does not match.
pub fn check_attachment(
    verifier: &RatingVerifier,
    claim: &LedgerRating,
    attachment: &RatingProofAttachment,
) -> Result<()> {
    let invoice = &attachment.invoice;
    let blinding: Scalar = omni_circuits::pedersen::scalar_from_bytes(&attachment.blinding)
        .map_err(|e| refuse(invoice, format!("blinding: {e}")))?;
    let bundle = RatingProofBundle::from_bytes(&attachment.bundle)
        .map_err(|e| refuse(invoice, e.to_string()))?;
    let tariff = tariff_commitment(&claim.tariff).map_err(|e| refuse(invoice, e.to_string()))?;
    let usage = usage_commitment_for(&claim.tariff, &claim.records)
        .map_err(|e| refuse(invoice, e.to_string()))?;
    let expected = ExpectedRatingStatement {
        pseudonym: Some(bilateral_pseudonym(&claim.bilateral_id)),
        interval: Some(interval_field(&claim.interval)),
        tariff_commitment: Some(tariff),
        usage_commitment: Some(usage),
        opening: Some((claim.total, blinding)),
        amount_commitment: None,
        include_one_time_fees: Some(claim.options.include_one_time_fees),
    };
    verifier.verify_expected(&bundle, &expected).map_err(|e| refuse(invoice, e.to_string()))
}
