//! Sample proven invoices for tests and benchmarks: real rating proofs of sample usage
//! (`omni_core::sample`), each for its own bilateral and amount commitment.

use crate::{prove_rating, RatingKeys, RatingWitness, Result};
use omni_circuits::bundle::RatingProofBundle;
use omni_circuits::pedersen::{random_blinding, Scalar};
use omni_core::rating::RatingOptions;
use omni_core::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;

/// An invoice with its rating proof and the opening of its amount commitment.
#[derive(Clone, Debug)]
pub struct ProvenInvoice {
    /// The proof bundle.
    pub bundle: RatingProofBundle,
    /// The bilateral it belongs to.
    pub bilateral_id: [u8; 32],
    /// Its billing interval.
    pub interval_id: String,
    /// The rated total in micro-units.
    pub total: u64,
    /// The blinding of the amount commitment.
    pub blinding: Scalar,
}

/// `count` invoices of `records` sample records each under the interconnect sample
/// tariff, proven in parallel; invoice `i` belongs to bilateral `[i; 32]`-derived ids and
/// is reproducible from `seed`. `progress` hears `(invoices proven, count)`.
pub fn proven_invoices(
    keys: &RatingKeys,
    count: usize,
    records: usize,
    seed: u64,
    progress: crate::Progress<'_>,
) -> Result<Vec<ProvenInvoice>> {
    let tariff = sample::interconnect_tariff();
    let done = std::sync::atomic::AtomicUsize::new(0);
    progress(0, count);
    let options = RatingOptions { include_one_time_fees: false };
    (0..count)
        .into_par_iter()
        .map(|i| {
            let mut rng = ChaCha20Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9e37_79b9));
            let usage = sample::usage(&tariff, &format!("inv{i}-"), 1_793_491_200, records);
            let mut bilateral_id = [0u8; 32];
            bilateral_id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            bilateral_id[8..16].copy_from_slice(&seed.to_le_bytes());
            let interval_id = "2026-10".to_string();
            let claim = RatingWitness {
                tariff: &tariff,
                records: &usage,
                options,
                bilateral_id,
                interval_id: &interval_id,
            };
            let blinding = random_blinding(&mut rng);
            let bundle = prove_rating(keys, &claim, &blinding, &mut rng, &crate::no_progress)?;
            let total = omni_core::rating::rate(&tariff, &usage, &options)
                .map_err(|e| omni_circuits::Error::Rating(e.to_string()))?
                .0
                .total as u64;
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, count);
            Ok(ProvenInvoice { bundle, bilateral_id, interval_id, total, blinding })
        })
        .collect()
}
