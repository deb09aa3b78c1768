//! `omni bench netting`: the registry's netting on generated obligations, timed.

use crate::error::{Error, Result};
use crate::netting::{net_positions, settle, Transfer};
use omni_core::Micros;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// What [`bench_netting`] measured (`omni bench netting`).
#[derive(Clone, Debug, Serialize)]
pub struct NettingBenchReport {
    /// Number of parties.
    pub parties: u32,
    /// Seconds to net the obligations into positions and settle them.
    pub seconds: f64,
    /// Σ of all obligations (micro-units).
    pub gross: i128,
    /// Σ of the settlement transfers.
    pub settled_volume: i128,
    /// Σ of the positive net positions: the least any settlement moves.
    pub optimal_volume: i128,
    /// Number of transfers.
    pub transfers: usize,
    /// The generated obligations `(debtor, creditor, amount)`.
    #[serde(skip)]
    pub obligations: Vec<(u32, u32, Micros)>,
    /// The settlement instructions.
    #[serde(skip)]
    pub instructions: Vec<Transfer<u32>>,
}

/// Generates `obligations` random obligations among `parties` parties (amounts 1 µ to
/// 1 000 currency units, debtor ≠ creditor, from `seed`), nets them and settles them,
/// timing the netting and settlement only. Needs at least 2 parties.
pub fn bench_netting(parties: u32, obligations: usize, seed: u64) -> Result<NettingBenchReport> {
    if parties < 2 {
        return Err(Error::InvalidField { field: "parties", reason: "at least 2".into() });
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let generated: Vec<(u32, u32, Micros)> = (0..obligations)
        .map(|_| {
            let d = rng.gen_range(0..parties);
            // A creditor other than the debtor, uniformly.
            let c = (d + rng.gen_range(1..parties)) % parties;
            (d, c, rng.gen_range(1..=1_000_000_000))
        })
        .collect();

    // Measured by the bench itself, outside the state machine: wall-clock time is fine here.
    let start = std::time::Instant::now();
    let net = net_positions(parties, &generated)?;
    let positions: Vec<(u32, Micros)> =
        net.iter().enumerate().map(|(i, &a)| (i as u32, a)).collect();
    let instructions = settle(&positions)?;
    let seconds = start.elapsed().as_secs_f64();

    Ok(NettingBenchReport {
        parties,
        seconds,
        gross: generated.iter().map(|&(_, _, a)| i128::from(a)).sum(),
        settled_volume: instructions.iter().map(|t| i128::from(t.amount)).sum(),
        optimal_volume: net.iter().filter(|&&a| a > 0).map(|&a| i128::from(a)).sum(),
        transfers: instructions.len(),
        obligations: generated,
        instructions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_is_deterministic_and_optimal() {
        let a = bench_netting(50, 2_000, 7).unwrap();
        let b = bench_netting(50, 2_000, 7).unwrap();
        assert_eq!(a.obligations, b.obligations);
        assert_eq!(a.instructions, b.instructions);
        assert_eq!(a.settled_volume, a.optimal_volume);
        assert!(a.transfers < 50);
        assert!(a.gross >= a.settled_volume);
        assert!(bench_netting(1, 10, 0).is_err());
    }
}
