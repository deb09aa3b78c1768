//! `omni registry start`: one registry node (single validator) on RocksDB with its gRPC API.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use omni_core::{Keypair, PartyId};
use omni_registry::server::{serve, ServerConfig};
use omni_registry::state::Genesis;
use omni_registry::tx::Role;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `omni registry …`
#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Run a registry node until Ctrl-C.
    Start(StartArgs),
    /// Orders' supply-chain compliance per embargo list version (a regulator's query).
    Compliance(crate::compliance_cmd::RegistryComplianceArgs),
}

/// Arguments of `omni registry start`.
#[derive(Args)]
pub struct StartArgs {
    /// RocksDB directory (created if missing).
    #[arg(long)]
    data: PathBuf,
    /// Address of the gRPC API.
    #[arg(long, default_value = "127.0.0.1:7400")]
    listen: SocketAddr,
    /// Membership administrator's public key (hex) for a new registry. Without it, a new
    /// registry gets a fresh admin key written to DATA/admin.key.
    #[arg(long)]
    admin: Option<String>,
    /// Verifying keys of rating proofs (`rating-K.vk`). Default: the key directory's
    /// `rating-500.vk` if present; without keys, invoices are refused.
    #[arg(long)]
    rating_keys: Option<PathBuf>,
    /// The published hash of the rating verifying keys (hex); the key file must match it.
    #[arg(long)]
    rating_keys_hash: Option<String>,
}

/// The rating proof verifier of the registry, from `--rating-keys` or the default keys.
fn rating_verifier(args: &StartArgs) -> Result<Option<omni_verifier::RatingVerifier>> {
    let path = match &args.rating_keys {
        Some(p) => p.clone(),
        None => {
            let p = omni_prover::RatingKeys::paths(
                &crate::proofs::default_keys_dir(),
                omni_prover::DEFAULT_CHUNK_SIZE,
            )
            .1;
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let expected = match &args.rating_keys_hash {
        Some(h) => {
            let raw = hex::decode(h).context("--rating-keys-hash is not hex")?;
            let arr: [u8; 32] = raw
                .try_into()
                .map_err(|_| anyhow::anyhow!("--rating-keys-hash is not 32 bytes"))?;
            Some(omni_verifier::FieldBytes(arr))
        }
        None => None,
    };
    let verifier = omni_verifier::RatingVerifier::from_bytes(&bytes, expected.as_ref())
        .with_context(|| format!("rating verifying keys {}", path.display()))?;
    Ok(Some(verifier))
}

pub fn run(cmd: RegistryCommand) -> Result<()> {
    match cmd {
        RegistryCommand::Start(args) => start(args),
        RegistryCommand::Compliance(args) => crate::compliance_cmd::registry_status(args),
    }
}

fn start(args: StartArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create {}", args.data.display()))?;
    let fresh = std::fs::read_dir(&args.data)?.next().is_none();
    let mut config = ServerConfig::new(&args.data, args.listen);
    if fresh {
        let admin = match &args.admin {
            Some(hex) => PartyId::from_hex(hex).context("--admin is not a 64-hex-digit key")?,
            None => {
                let key = Keypair::generate();
                let path = args.data.join("admin.key");
                std::fs::write(&path, hex::encode(key.seed()))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("new registry: admin key written to {}", path.display());
                key.party()
            }
        };
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock before 1970")?
            .as_secs();
        config = config.with_genesis(Genesis {
            name: "omnilateral".into(),
            time,
            members: vec![(admin, Role::Admin)],
        });
    } else if args.admin.is_some() {
        bail!(
            "{} already holds a registry; --admin only applies to a new one",
            args.data.display()
        );
    }
    match rating_verifier(&args)? {
        Some(v) => {
            let id = v.key_id();
            eprintln!(
                "registry on {} (data {}); rating proofs verified under keys {} (chunk size {})",
                args.listen,
                args.data.display(),
                hex::encode(id.hash.0),
                id.chunk_size
            );
            config = config.with_verifier(std::sync::Arc::new(
                omni_registry::proof::Groth16RatingVerifier::new(v),
            ));
        }
        None => eprintln!(
            "registry on {} (data {}); no rating verifying keys: invoices are refused \
             (--rating-keys FILE.vk)",
            args.listen,
            args.data.display()
        ),
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(serve(config)).context("registry stopped with an error")
}
