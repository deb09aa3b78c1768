//! `omni bench registry`: signed `SubmitInvoice` transactions carrying real rating proofs,
//! admitted end to end — block execution (signatures, batched proof verification, state
//! machine) and the RocksDB commit — in blocks of 64, beside the same blocks admitted with
//! each proof verified on its own, measured in the same run. The same blocks are admitted
//! `--repeat` times each way (a fresh store every time) and the median run is reported,
//! with the range: one admission of 256 invoices lasts a quarter of a second, short
//! enough for a neighbour's burst of work to move a single figure by a third. Proving is
//! not measured: the invoices are proven once and kept (`crate::bench_fixtures`).

use crate::bench_fixtures::{self, ProvenSubmission};
use anyhow::{bail, Result};
use clap::Args;
use omni_core::{Hash32, Keypair};
use omni_registry::Groth16RatingVerifier;
use omni_registry::{Block, Genesis, ProofVerifier, Role, SignedTx, Store};
use omni_verifier::RatingProofBundle;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `omni bench registry`.
#[derive(Args)]
pub struct RegistryBenchArgs {
    /// Blocks of SubmitInvoice transactions.
    #[arg(long, default_value_t = 4)]
    blocks: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Usage records per invoice (each invoice's bundle has ⌈records/4⌉ chunk proofs and
    /// a final proof).
    #[arg(long, default_value_t = 4)]
    records: usize,
    /// Admissions of the same blocks (each on a fresh store, batched and unbatched in
    /// turn); the figures are medians over them.
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// Where proven invoices and the development keys that proved them are kept between
    /// runs (default: `$XDG_CACHE_HOME/omni/bench` or `~/.cache/omni/bench`, shared with
    /// `omni bench consensus`).
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

struct Run {
    seconds: f64,
    admitted: usize,
    state_root: Hash32,
}

/// Executes and commits `blocks` on a fresh registry in a temporary RocksDB directory.
fn admit(genesis: &Genesis, verifier: Arc<dyn ProofVerifier>, blocks: &[Block]) -> Result<Run> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let mut registry = store.open_registry(Some(genesis), verifier)?;
    let start = Instant::now();
    let mut admitted = 0;
    for block in blocks {
        let outcome = registry.execute_block(block)?;
        store.commit(block, &outcome)?;
        admitted += outcome.results.iter().filter(|r| r.result.is_ok()).count();
    }
    Ok(Run {
        seconds: start.elapsed().as_secs_f64(),
        admitted,
        state_root: registry.state().state_root(),
    })
}

/// `omni bench registry`.
pub fn run(args: RegistryBenchArgs) -> Result<()> {
    let count = args.blocks * args.batch;
    if count == 0 {
        bail!("nothing to admit: --blocks and --batch must be positive");
    }
    let setup = Instant::now();
    let dir = bench_fixtures::dir(args.fixtures.as_deref())?;
    let (rating, invoices) = bench_fixtures::load(&dir, count, args.records, args.json)?;
    let prepare_s = setup.elapsed().as_secs_f64();

    let admin = Keypair::from_seed([1; 32]);
    let seller = Keypair::from_seed([2; 32]);
    let buyer = Keypair::from_seed([3; 32]);
    let genesis = Genesis {
        name: "bench-registry".into(),
        time: 1_000,
        members: vec![
            (admin.party(), Role::Admin),
            (seller.party(), Role::Member),
            (buyer.party(), Role::Member),
        ],
        rating_keys: None,
    };
    let registry_id = genesis.registry_id();
    let submit = |n: usize, inv: &ProvenSubmission| {
        let body = inv.submit_invoice(n, buyer.party(), seller.party(), 1_000_000)?;
        Ok(SignedTx::sign(&seller, &registry_id, n as u64, body).to_bytes())
    };
    let txs: Vec<Vec<u8>> =
        invoices.iter().enumerate().map(|(n, inv)| submit(n, inv)).collect::<Result<_>>()?;
    let blocks: Vec<Block> = txs
        .chunks(args.batch)
        .enumerate()
        .map(|(h, txs)| Block { height: h as u64 + 1, time: 2_000 + h as u64, txs: txs.to_vec() })
        .collect();

    let batched_verifier: Arc<dyn ProofVerifier> =
        Arc::new(Groth16RatingVerifier::new(rating.clone()));
    let single_verifier: Arc<dyn ProofVerifier> =
        Arc::new(Groth16RatingVerifier::unbatched(rating));
    let (mut batched_runs, mut single_runs) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat.max(1) {
        batched_runs.push(admit(&genesis, batched_verifier.clone(), &blocks)?);
        single_runs.push(admit(&genesis, single_verifier.clone(), &blocks)?);
    }
    for run in batched_runs.iter().chain(&single_runs) {
        if run.admitted != count {
            bail!("only {} of {count} proven invoices were admitted", run.admitted);
        }
        if run.state_root != batched_runs[0].state_root {
            bail!("admissions of the same blocks (batched and unbatched) reached different state roots");
        }
    }
    let per_s = |r: &Run| r.admitted as f64 / r.seconds;
    // The run with the median rate, and the range.
    let median = |runs: &mut Vec<Run>| -> (Run, f64, f64) {
        runs.sort_by(|a, b| per_s(a).total_cmp(&per_s(b)));
        let (low, high) = (per_s(&runs[0]), per_s(&runs[runs.len() - 1]));
        (runs.swap_remove(runs.len() / 2), low, high)
    };
    let (batched, low, high) = median(&mut batched_runs);
    let (single, _, _) = median(&mut single_runs);
    let proofs_per_invoice = match invoices.first() {
        Some(i) => RatingProofBundle::from_bytes(&i.bundle)?.proofs(),
        None => 0,
    };
    let out = json!({
        "proofs_admitted_per_s": per_s(&batched).round(),
        "unbatched_proofs_admitted_per_s": per_s(&single).round(),
        "batched_vs_unbatched": per_s(&batched) / per_s(&single),
        "proofs_admitted_per_s_min": low.round(),
        "proofs_admitted_per_s_max": high.round(),
        "repeat": args.repeat.max(1),
        "invoices": count,
        "blocks": args.blocks,
        "batch": args.batch,
        "groth16_proofs_per_invoice": proofs_per_invoice,
        "seconds": batched.seconds,
        "unbatched_seconds": single.seconds,
        "prepare_s": prepare_s,
        "state_root": batched.state_root.to_hex(),
        "threads": rayon::current_num_threads(),
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "registry admitted {count} SubmitInvoice transactions with real rating proofs \
             ({proofs_per_invoice} Groth16 proofs each, blocks of {}; median of {} runs)",
            args.batch,
            args.repeat.max(1)
        );
        println!("  batched   {:>10.0} invoices/s  ({:.3} s)", per_s(&batched), batched.seconds);
        println!("  unbatched {:>10.0} invoices/s  ({:.3} s)", per_s(&single), single.seconds);
    }
    Ok(())
}
