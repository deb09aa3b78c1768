//! Rating proofs on the command line: `omni bench prove` and `omni verify rating`.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use omni_circuits::bundle::RatingProofBundle;
use omni_circuits::pedersen::random_blinding;
use omni_core::rating::RatingOptions;
use omni_core::sample;
use omni_prover::{baseline, prove_rating, RatingKeys, RatingWitness, DEFAULT_CHUNK_SIZE};
use omni_verifier::batch::{rerandomize, BatchVerifier};
use omni_verifier::{snarkjs, FieldBytes, RatingVerifier};
use rand::rngs::OsRng;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where development keys are kept unless `--keys` says otherwise.
pub fn default_keys_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OMNI_KEYS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("omni").join("keys")
}

/// A progress bar on stderr for `(done, total)` callbacks; hidden when `quiet`.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar with `message` before it.
    pub fn new(message: &str, quiet: bool) -> Bar {
        let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
        bar.set_style(
            ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        Bar(bar)
    }

    /// The `(done, total)` callback the prover calls.
    pub fn update(&self, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Loads the rating keys for `chunk_size` from `dir`, running the development setup (and
/// saying so) when there are none. Returns the keys and the setup's seconds (0 if loaded).
pub fn load_keys(dir: &Path, chunk_size: usize, quiet: bool) -> Result<(RatingKeys, f64)> {
    let start = Instant::now();
    let exists = RatingKeys::paths(dir, chunk_size).2.exists();
    if !exists {
        eprintln!(
            "WARNING: generating rating keys with a single-party DEVELOPMENT-ONLY setup in {} \
             (whoever runs it can forge proofs; production keys come from a multi-party ceremony)",
            dir.display()
        );
    }
    let bar = Bar::new("setting up rating keys", quiet || exists);
    let (keys, generated) = RatingKeys::load_or_setup(dir, chunk_size, &|d, t| bar.update(d, t))
        .with_context(|| format!("rating keys in {}", dir.display()))?;
    bar.finish();
    if keys.is_development() && !quiet {
        eprintln!("note: rating keys {} come from a development-only setup", dir.display());
    }
    let seconds = if generated { start.elapsed().as_secs_f64() } else { 0.0 };
    Ok((keys, seconds))
}

/// Arguments of `omni bench prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// Usage records in the invoice.
    #[arg(long, default_value_t = 1_000)]
    records: usize,
    /// Records per chunk proof.
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,
    /// Key directory (default: $OMNI_KEYS or ~/.cache/omni/keys); keys are generated there
    /// by a development-only setup when missing.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Also write one proof (the final circuit's) as snarkjs proof.json, public.json and
    /// verification_key.json into this directory.
    #[arg(long)]
    export_snarkjs: Option<PathBuf>,
    /// Also write the proof bundle to this file (for `omni verify rating`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Mean seconds per call of `f` over `runs` calls after one warm-up.
fn mean_of(runs: usize, mut f: impl FnMut() -> bool) -> Result<f64> {
    if !f() {
        bail!("a verification that must pass failed");
    }
    let start = Instant::now();
    for _ in 0..runs {
        if !std::hint::black_box(f()) {
            bail!("a verification that must pass failed");
        }
    }
    Ok(start.elapsed().as_secs_f64() / runs as f64)
}

/// Proofs in the batch whose per-proof verification time is reported.
const BATCH: usize = 64;

/// `omni bench prove`.
pub fn bench_prove(args: ProveArgs) -> Result<()> {
    let dir = args.keys.clone().unwrap_or_else(default_keys_dir);
    let (keys, setup_s) = load_keys(&dir, args.chunk_size, args.json)?;
    let tariff = sample::interconnect_tariff();
    let records = sample::usage(&tariff, "cdr-", 1_793_491_200, args.records);
    let claim = RatingWitness {
        tariff: &tariff,
        records: &records,
        options: RatingOptions { include_one_time_fees: true },
        bilateral_id: [0x42; 32],
        interval_id: "2026-10",
    };
    let blinding = random_blinding(&mut OsRng);
    let bar = Bar::new("proving rating", args.json);
    let start = Instant::now();
    let bundle = prove_rating(&keys, &claim, &blinding, &mut OsRng, &|d, t| bar.update(d, t))?;
    let prove_s = start.elapsed().as_secs_f64();
    bar.finish();

    let chunks = bundle.chunks.len();
    let constraints = if bundle.is_one_proof() {
        keys.manifest.interval_constraints
    } else {
        chunks * keys.manifest.chunk_constraints + keys.manifest.final_constraints
    };
    let verifier = RatingVerifier::new(keys.verifying.clone());

    // Single verification: the final proof with its prepared key and public inputs.
    let final_proof = bundle.final_proof.to_proof()?;
    let final_inputs = bundle.final_public_inputs()?;
    let final_key = verifier.final_key(&bundle);
    let verify_s = mean_of(50, || final_key.verify(&final_proof, &final_inputs).unwrap_or(false))?;
    // The whole bundle (decode, derive inputs, one batched check).
    let bundle_s = mean_of(10, || verifier.verify(&bundle).is_ok())?;
    // A batch of 64 distinct proofs: the bundle's proofs, re-randomized.
    let mut items = Vec::with_capacity(BATCH);
    let mut proofs =
        bundle.chunks.iter().map(|c| (verifier.chunk_key(), &c.proof)).collect::<Vec<_>>();
    proofs.push((final_key, &bundle.final_proof));
    let chunk_inputs = bundle.chunk_public_inputs()?;
    for i in 0..BATCH {
        let j = i % proofs.len();
        let (key, bytes) = proofs[j];
        let proof = rerandomize(key.vk(), &bytes.to_proof()?, &mut OsRng);
        let inputs = if j < chunks { chunk_inputs[j].to_vec() } else { final_inputs.to_vec() };
        items.push((key, proof, inputs));
    }
    let batch_s = mean_of(5, || {
        let mut batch = BatchVerifier::new();
        for (key, proof, inputs) in &items {
            if batch.add(key, proof.clone(), inputs.clone()).is_err() {
                return false;
            }
        }
        batch.verify()
    })?;

    let bar = Bar::new("proving baseline", args.json);
    bar.update(0, 1);
    let base = baseline::measure(constraints.min(1 << 19), &mut OsRng)?;
    bar.finish();

    if let Some(dir) = &args.export_snarkjs {
        snarkjs::write(dir, keys.verifying.final_key_of(&bundle), &final_proof, &final_inputs)
            .with_context(|| format!("writing snarkjs files to {}", dir.display()))?;
    }
    if let Some(path) = &args.out {
        std::fs::write(path, bundle.to_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let rating_cps = constraints as f64 / prove_s;
    let out = json!({
        "records": args.records,
        "chunk_size": args.chunk_size,
        "chunks": chunks,
        "proofs": bundle.proofs(),
        "constraints": constraints,
        "constraints_per_record": constraints as f64 / args.records.max(1) as f64,
        "prove_s": prove_s,
        "rating_constraints_per_s": rating_cps.round(),
        "verify_ms": verify_s * 1e3,
        "bundle_verify_ms": bundle_s * 1e3,
        "batch_verify_ms_per_proof": batch_s * 1e3 / BATCH as f64,
        "batch_size": BATCH,
        "baseline_constraints": base.constraints,
        "baseline_prove_s": base.prove_s,
        "baseline_constraints_per_s": base.constraints_per_s().round(),
        "rating_vs_baseline": rating_cps / base.constraints_per_s(),
        "bundle_bytes": bundle.to_bytes().len(),
        "keys_dir": dir.display().to_string(),
        "keys_hash": hex::encode(keys.verifying.hash().0),
        "setup": keys.manifest.setup,
        "setup_s": setup_s,
        "threads": rayon::current_num_threads(),
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "rating proof of {} records ({} chunks of {} + final)",
            args.records, chunks, args.chunk_size
        );
        println!(
            "  constraints        {constraints:>12}  ({:.1} per record)",
            constraints as f64 / args.records.max(1) as f64
        );
        println!("  prove              {prove_s:>12.2} s   ({rating_cps:.0} constraints/s)");
        println!("  baseline           {:>12.2} s   ({:.0} constraints/s, Poseidon chain of {} constraints)", base.prove_s, base.constraints_per_s(), base.constraints);
        println!("  verify (single)    {:>12.3} ms", verify_s * 1e3);
        println!("  verify (bundle)    {:>12.3} ms", bundle_s * 1e3);
        println!("  verify (batch 64)  {:>12.3} ms per proof", batch_s * 1e3 / BATCH as f64);
        println!("  keys               {} ({})", dir.display(), keys.manifest.setup);
    }
    Ok(())
}

/// Arguments of `omni verify rating`.
#[derive(Args)]
pub struct VerifyRatingArgs {
    /// The proof bundle file.
    bundle: PathBuf,
    /// The verifying key set file (`rating-K.vk`); default: the key directory's for the
    /// bundle's chunk size.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// The verifying keys' published hash (hex); the key file must hash to it.
    #[arg(long)]
    keys_hash: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `omni verify rating BUNDLE`: exits 0 if the bundle verifies, 1 with the reason if not.
pub fn verify_rating(args: VerifyRatingArgs) -> Result<()> {
    let bytes = std::fs::read(&args.bundle)
        .with_context(|| format!("reading {}", args.bundle.display()))?;
    let bundle = RatingProofBundle::from_bytes(&bytes)
        .with_context(|| format!("{} is not a rating proof bundle", args.bundle.display()))?;
    let key_path = args.keys.clone().unwrap_or_else(|| {
        RatingKeys::paths(&default_keys_dir(), bundle.keys.chunk_size as usize).1
    });
    let key_bytes =
        std::fs::read(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let expected = match &args.keys_hash {
        Some(h) => {
            let raw = hex::decode(h).context("--keys-hash is not hex")?;
            let arr: [u8; 32] =
                raw.try_into().map_err(|_| anyhow::anyhow!("--keys-hash is not 32 bytes"))?;
            Some(FieldBytes(arr))
        }
        None => None,
    };
    let verifier = RatingVerifier::from_bytes(&key_bytes, expected.as_ref())?;
    let start = Instant::now();
    let result = verifier.verify(&bundle);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let s = &bundle.statement;
    if args.json {
        println!(
            "{}",
            json!({
                "valid": result.is_ok(),
                "error": result.as_ref().err().map(|e| e.to_string()),
                "statement": s,
                "keys_hash": hex::encode(bundle.keys.hash.0),
                "proofs": bundle.proofs(),
                "verify_ms": ms,
            })
        );
    } else {
        println!("rating proof {}", args.bundle.display());
        println!("  bilateral pseudonym  {:?}", s.pseudonym);
        println!("  billing interval     {:?}", s.interval);
        println!("  tariff commitment    {:?}", s.tariff_commitment);
        println!("  usage commitment     {:?}", s.usage_commitment);
        println!("  amount commitment    {:?}", s.amount_commitment);
        println!("  one-time fees        {}", s.include_one_time_fees);
        match bundle.chunks.len() {
            0 => println!("  proofs               1 (the whole interval)"),
            n => println!("  proofs               {} ({n} chunks + final)", n + 1),
        }
        println!(
            "  keys                 {} ({})",
            hex::encode(bundle.keys.hash.0),
            key_path.display()
        );
        match &result {
            Ok(()) => println!("VALID ({ms:.2} ms)"),
            Err(e) => println!("INVALID: {e}"),
        }
    }
    if result.is_err() {
        std::process::exit(1);
    }
    Ok(())
}
