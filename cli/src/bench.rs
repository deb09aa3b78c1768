//! `omni bench …`: throughput measured in the run that prints it, beside a baseline
//! measured on the same machine in the same run, so that figures are ratios, not guesses.

use anyhow::Result;
use clap::{Args, Subcommand};
use omni_core::rating::{self, RatingOptions};
use omni_core::sample;
use serde_json::json;
use std::time::Instant;

/// The benchmarks.
#[derive(Subcommand)]
pub enum Bench {
    /// In-memory rating and TMF635 ingest (parse + rate + store in RocksDB).
    Rating(RatingArgs),
    /// Multi-party netting of random obligations (registry algorithm).
    Netting(NettingArgs),
    /// Rating proofs (Groth16): prove, verify singly and in batches, against a baseline.
    Prove(crate::proofs::ProveArgs),
    /// Registry admission of SubmitInvoice transactions with real rating proofs.
    Registry(crate::registry_bench::RegistryBenchArgs),
    /// Supply-chain compliance: hop proof, hop verification, a 5-hop map (halo2).
    Compliance(crate::compliance_cmd::ComplianceBenchArgs),
    /// A registry validator set on 127.0.0.1 under load: commit latency, throughput,
    /// agreement of state roots.
    Consensus(crate::consensus_bench::ConsensusBenchArgs),
    /// A bilateral's life through `omni` commands and real processes: usage import to the
    /// invoice verified on the registry, each step's share, against proving alone.
    Lifecycle(crate::lifecycle_bench::LifecycleBenchArgs),
}

/// Arguments of `omni bench netting`.
#[derive(Args)]
pub struct NettingArgs {
    /// Parties.
    #[arg(long, default_value_t = 100_000)]
    parties: u32,
    /// Obligations among them.
    #[arg(long, default_value_t = 1_000_000)]
    obligations: usize,
    /// Seed of the generated obligations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write obligations.csv and instructions.csv here.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `omni bench rating`.
#[derive(Args)]
pub struct RatingArgs {
    /// Usage records to rate in memory.
    #[arg(long, default_value_t = 4_000_000)]
    records: usize,
    /// Usage records to ingest through the ledger (TMF635 JSON → RocksDB).
    #[arg(long, default_value_t = 1_000_000)]
    ingest_records: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(b: Bench) -> Result<()> {
    match b {
        Bench::Rating(args) => rating_bench(args),
        Bench::Netting(args) => netting_bench(args),
        Bench::Prove(args) => crate::proofs::bench_prove(args),
        Bench::Registry(args) => crate::registry_bench::run(args),
        Bench::Compliance(args) => crate::compliance_cmd::bench(args),
        Bench::Consensus(args) => crate::consensus_bench::run(args),
        Bench::Lifecycle(args) => crate::lifecycle_bench::run(args),
    }
}

/// Best of `runs` timings of `f`, in seconds.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    match last {
        Some(out) => (best, out),
        None => unreachable!("runs ≥ 1"),
    }
}

fn rating_bench(args: RatingArgs) -> Result<()> {
    let tariff = sample::interconnect_tariff();
    let records = sample::usage(&tariff, "cdr-", 1_793_491_200, args.records);
    let opts = RatingOptions::default();

    let (rate_s, rated) = best_of(5, || rating::rate(&tariff, &records, &opts));
    let (rating, _) = rated?;
    // Baseline: the cheapest pass that touches the same records (sum of quantities),
    // i.e. the memory-bound floor any rating engine must pay.
    let (base_s, sum) =
        best_of(5, || records.iter().map(|r| std::hint::black_box(r.quantity)).sum::<u64>());
    let records_per_s = args.records as f64 / rate_s;
    let baseline_per_s = args.records as f64 / base_s;

    let ingest = crate::demo::ingest_bench(args.ingest_records)?;

    let out = json!({
        "records": args.records,
        "records_per_s": records_per_s.round(),
        "baseline_scan_records_per_s": baseline_per_s.round(),
        "rating_vs_scan": records_per_s / baseline_per_s,
        "threads": rayon::current_num_threads(),
        "invoice_total_micros": rating.total,
        "baseline_checksum": sum,
        "ingest_records": ingest.records,
        "ingest_records_per_s": (ingest.records as f64 / ingest.seconds).round(),
        "ingest_parse_records_per_s": (ingest.records as f64 / ingest.parse_seconds).round(),
        "ingest_duplicates_reported": ingest.duplicates,
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "rating   {:>12.0} records/s  ({} records, {} threads)",
            records_per_s,
            args.records,
            rayon::current_num_threads()
        );
        println!("baseline {:>12.0} records/s  (plain scan of the same records)", baseline_per_s);
        println!(
            "ingest   {:>12.0} records/s  (TMF635 JSON parse + rate + RocksDB, {} records)",
            ingest.records as f64 / ingest.seconds,
            ingest.records
        );
    }
    Ok(())
}

fn netting_bench(args: NettingArgs) -> Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let r = omni_registry::bench_netting(args.parties, args.obligations, args.seed)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("obligations.csv"))?);
        writeln!(f, "debtor,creditor,amount")?;
        for (d, c, a) in &r.obligations {
            writeln!(f, "{d},{c},{a}")?;
        }
        f.flush()?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("instructions.csv"))?);
        writeln!(f, "from,to,amount")?;
        for t in &r.instructions {
            writeln!(f, "{},{},{}", t.from, t.to, t.amount)?;
        }
        f.flush()?;
    }
    let out = json!({
        "parties": r.parties,
        "obligations": args.obligations,
        "seconds": r.seconds,
        "gross": micros_json(r.gross),
        "settled_volume": micros_json(r.settled_volume),
        "optimal_volume": micros_json(r.optimal_volume),
        "settled_is_optimal": r.settled_volume == r.optimal_volume,
        "transfers": r.transfers,
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "netting {} parties, {} obligations in {:.3} s: gross {} µ, settled {} µ (optimum {} µ) in {} transfers",
            r.parties, args.obligations, r.seconds, r.gross, r.settled_volume, r.optimal_volume, r.transfers
        );
    }
    Ok(())
}

/// An i128 amount as a JSON integer (a string only if it exceeds 64 bits).
fn micros_json(v: i128) -> serde_json::Value {
    i64::try_from(v).map_or_else(|_| json!(v.to_string()), |v| json!(v))
}
