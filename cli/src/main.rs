//! `omni` — the Omnilateral command line.
//!
//! One entry point for everything a carrier, a registry operator, a regulator or a
//! financier runs by hand:
//!
//! * `omni demo` — the whole network (a registry and four carriers on 127.0.0.1) through
//!   every capability, printed as a report;
//! * `omni bench rating` — rating and ingest throughput, with a baseline measured in the
//!   same run;
//! * `omni registry start` — a registry node (single validator) with its gRPC API;
//! * `omni bench netting` — multi-party netting of random obligations;
//! * `omni bench prove` — rating proofs: constraints, proving and verification times,
//!   beside plain Groth16 on a Poseidon chain of the same size;
//! * `omni verify rating BUNDLE` — check a rating proof on a laptop;
//! * `omni bench compliance` — supply-chain hop proofs and map verification (halo2);
//! * `omni verify compliance MAP` — check a supply-chain map as a regulator;
//! * `omni registry compliance` — orders' compliance per embargo list version;
//! * `omni keys generate` — a new Ed25519 party key.

mod bench;
mod bench_fixtures;
mod compliance_cmd;
mod consensus_bench;
mod demo;
mod node_cmd;
mod proofs;
mod registry_bench;
mod registry_cmd;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "omni", version, about = "Omnilateral: MEF 114 settlement for carriers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a registry and four carriers on 127.0.0.1 and run the whole network's story.
    Demo(demo::DemoArgs),
    /// Measure throughput; prints one JSON object with --json.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Run an organisation's node (its bilateral ledger and billing API).
    #[command(subcommand)]
    Node(node_cmd::NodeCommand),
    /// Run the omni-lateral registry.
    #[command(subcommand)]
    Registry(registry_cmd::RegistryCommand),
    /// Verify proofs independently of any node or registry (regulators, financiers).
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Manage party keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum VerifyCommand {
    /// Verify a rating proof bundle against the rating verifying keys.
    Rating(proofs::VerifyRatingArgs),
    /// Verify a supply-chain map against what the registry published (no trusted setup).
    Compliance(compliance_cmd::VerifyComplianceArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a new Ed25519 key; prints the public key and writes the seed to FILE.
    Generate {
        /// Where to write the 32-byte seed (hex). Refuses to overwrite.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
        Command::Bench(b) => bench::run(b),
        Command::Node(n) => node_cmd::run(n),
        Command::Registry(r) => registry_cmd::run(r),
        Command::Verify(VerifyCommand::Rating(args)) => proofs::verify_rating(args),
        Command::Verify(VerifyCommand::Compliance(args)) => compliance_cmd::verify(args),
        Command::Keys(KeysCommand::Generate { out }) => keys_generate(&out),
    }
}

fn keys_generate(out: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let key = omni_core::Keypair::generate();
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).open(out).with_context(|| {
            format!("cannot create key file {} (it must not exist)", out.display())
        })?;
    writeln!(f, "{}", hex::encode(key.seed()))
        .with_context(|| format!("cannot write key file {}", out.display()))?;
    println!("{}", key.party());
    Ok(())
}
