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
//! * `omni keys generate` — a new Ed25519 party key; `omni keys rating-setup` — rating
//!   circuit keys from a development-only setup;
//! * `omni node init|start|status|clock|verify` — a carrier's node;
//! * `omni contract`, `omni order`, `omni usage import`, `omni rating`, `omni invoice`,
//!   `omni payment`, `omni netting` — a carrier's billing team, through its node's API;
//! * `omni member`, `omni credential`, `omni conformance` — the registry's membership
//!   administrator and its members;
//! * `omni finance check|pledge|release|status` — a financier's desk;
//! * `omni embargo publish`, `omni compliance start|prove-hop|map` — supply-chain
//!   compliance (regulators, sellers and their suppliers).

mod bench;
mod bench_fixtures;
mod compliance_cmd;
mod consensus_bench;
mod demo;
mod files;
mod finance_cmd;
mod lifecycle_bench;
mod lifecycle_cmd;
mod member_cmd;
mod node_client;
mod node_cmd;
mod proofs;
mod registry_api;
mod registry_bench;
mod registry_cmd;
mod registry_reads;
mod supply_chain_cmd;

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
    /// Manage party keys and rating keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Contracts: propose, accept, reject, show, list (through the node).
    Contract {
        #[command(flatten)]
        common: lifecycle_cmd::Common,
        #[command(subcommand)]
        command: lifecycle_cmd::ContractCommand,
    },
    /// Orders: place, accept, list, map (a supply-chain map).
    Order {
        #[command(flatten)]
        common: lifecycle_cmd::Common,
        #[command(subcommand)]
        command: lifecycle_cmd::OrderCommand,
    },
    /// Usage: import a file.
    Usage {
        #[command(flatten)]
        common: lifecycle_cmd::Common,
        #[command(subcommand)]
        command: lifecycle_cmd::UsageCommand,
    },
    /// Ratings: propose (seller), agree (buyer).
    Rating {
        #[command(flatten)]
        common: lifecycle_cmd::Common,
        #[command(subcommand)]
        command: lifecycle_cmd::RatingCommand,
    },
    /// Invoices: issue, list, show, accept, dispute, resolve, final, credit-note, proof, opening.
    Invoice {
        #[command(flatten)]
        common: lifecycle_cmd::Common,
        #[command(subcommand)]
        command: lifecycle_cmd::InvoiceCommand,
    },
    /// Payments: notify (payer), receipt (payee).
    Payment {
        #[command(flatten)]
        common: lifecycle_cmd::Common,
        #[command(subcommand)]
        command: lifecycle_cmd::PaymentCommand,
    },
    /// Bilateral netting: propose, accept.
    Netting {
        #[command(flatten)]
        common: lifecycle_cmd::Common,
        #[command(subcommand)]
        command: lifecycle_cmd::NettingCommand,
    },
    /// The registry's members: admit, remove (the membership administrator), show.
    #[command(subcommand)]
    Member(member_cmd::MemberCommand),
    /// Jurisdiction credentials in the registry's credential tree (the membership
    /// administrator).
    #[command(subcommand)]
    Credential(member_cmd::CredentialCommand),
    /// A member's MEF 114 conformance declaration on the registry (R13).
    #[command(subcommand)]
    Conformance(member_cmd::ConformanceCommand),
    /// A financier's desk: check, pledge, release and follow invoices it finances.
    #[command(subcommand)]
    Finance(finance_cmd::FinanceCommand),
    /// Embargo lists (a regulator).
    #[command(subcommand)]
    Embargo(supply_chain_cmd::EmbargoCommand),
    /// Supply-chain maps: start, prove a hop (participants), fetch from the registry.
    #[command(subcommand)]
    Compliance(supply_chain_cmd::ComplianceCommand),
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
    /// Rating circuit keys from a single-party DEVELOPMENT-ONLY setup (whoever runs it can
    /// forge proofs): writes rating-K.pk, rating-K.vk and rating-K.json in DIR and prints
    /// the verifying keys' hash that nodes and the registry are configured with.
    RatingSetup {
        /// Directory of the keys.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Records per chunk proof (a multiple of 4).
        #[arg(long, default_value_t = omni_prover::DEFAULT_CHUNK_SIZE)]
        chunk_size: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(node_client::exit_status(&e));
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    // The demo's story says what happens; its members' outboxes retrying (a refused second
    // pledge, a nonce its carrier's node took first) is expected and not worth a warning.
    let default = if matches!(cli.command, Command::Demo(_)) { "error" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Bench(b) => bench::run(b),
        Command::Node(n) => node_cmd::run(n),
        Command::Registry(r) => registry_cmd::run(r),
        Command::Verify(VerifyCommand::Rating(args)) => proofs::verify_rating(args),
        Command::Verify(VerifyCommand::Compliance(args)) => compliance_cmd::verify(args),
        Command::Keys(KeysCommand::Generate { out }) => keys_generate(&out),
        Command::Keys(KeysCommand::RatingSetup { out, chunk_size, json }) => {
            rating_setup(&out, chunk_size, json)
        }
        Command::Contract { common, command } => lifecycle_cmd::contract(&common, command),
        Command::Order { common, command } => lifecycle_cmd::order(&common, command),
        Command::Usage { common, command } => lifecycle_cmd::usage(&common, command),
        Command::Rating { common, command } => lifecycle_cmd::rating(&common, command),
        Command::Invoice { common, command } => lifecycle_cmd::invoice(&common, command),
        Command::Payment { common, command } => lifecycle_cmd::payment(&common, command),
        Command::Netting { common, command } => lifecycle_cmd::netting(&common, command),
        Command::Member(command) => member_cmd::member(command),
        Command::Credential(command) => member_cmd::credential(command),
        Command::Conformance(command) => member_cmd::conformance(command),
        Command::Finance(command) => finance_cmd::finance(command),
        Command::Embargo(command) => supply_chain_cmd::embargo(command),
        Command::Compliance(command) => supply_chain_cmd::compliance(command),
    }
}

fn keys_generate(out: &std::path::Path) -> Result<()> {
    let key = omni_core::Keypair::generate();
    omni_core::key_file::write(out, &key.seed())
        .map_err(|e| node_client::CannotAsk(format!("{e} (a key file must not exist)")))?;
    println!("{}", key.party());
    Ok(())
}

fn rating_setup(out: &std::path::Path, chunk_size: usize, json: bool) -> Result<()> {
    let (keys, seconds) = proofs::load_keys(out, chunk_size, json)?;
    let (_, vk, _) = omni_prover::RatingKeys::paths(out, chunk_size);
    let hash = hex::encode(keys.verifying.hash().0);
    if json {
        println!(
            "{}",
            serde_json::json!({ "verifying_key": vk, "hash": hash, "chunk_size": chunk_size,
                                "development": keys.is_development(), "setup_s": seconds })
        );
    } else {
        println!("verifying keys {} (hash {hash})", vk.display());
    }
    Ok(())
}
