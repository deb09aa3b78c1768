//! `omni registry start`: a registry validator on RocksDB with its gRPC API — alone by
//! default, or one of a fixed validator set (`--validators FILE`, made by `omni registry
//! testnet`).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use omni_core::{Hash32, Keypair, PartyId};
use omni_registry::state::Genesis;
use omni_registry::tx::Role;
use omni_registry::{consensus_key, serve, ServerConfig};
use omni_registry::{ValidatorEntry, ValidatorSetFile};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `omni registry …`
#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Run a registry node until Ctrl-C.
    Start(StartArgs),
    /// Make a validator set on 127.0.0.1: a data directory with a consensus key per
    /// validator, and the shared validators file (genesis and addresses).
    Testnet(TestnetArgs),
    /// Prepare this host as a validator: its consensus key (which never leaves DATA) and
    /// its public entry (key and addresses) for `omni registry genesis`.
    Init(InitArgs),
    /// Assemble the validators file (genesis and validator set) from the validators'
    /// public entries; every operator starts with the same file.
    Genesis(GenesisArgs),
    /// Orders' supply-chain compliance per embargo list version (a regulator's query).
    Compliance(crate::compliance_cmd::RegistryComplianceArgs),
    /// What the registry shows of an invoice (its status, due date, settlement) and the
    /// payer's reputation.
    Invoice(InvoiceArgs),
    /// The registry's name, id, height, state root, counts and proof verifier.
    Status(crate::registry_reads::Ask),
    /// A payer's payment reputation (MEF 114 §10: on time, late, overdue; PAYDEX-style).
    Reputation(crate::registry_reads::ReputationArgs),
    /// The registry's members (as `omni member list`).
    Members(crate::registry_reads::MembersArgs),
    /// Multi-party netting cycles: phase, participants, locked invoices, instructions.
    Cycles(crate::registry_reads::CyclesArgs),
    /// Block hashes and state roots by height.
    Roots(crate::registry_reads::RootsArgs),
}

/// Arguments of `omni registry invoice`.
#[derive(Args)]
pub struct InvoiceArgs {
    /// The registry's gRPC endpoint.
    #[arg(long, default_value = crate::registry_api::DEFAULT_REGISTRY)]
    registry: String,
    /// The registry invoice id (hex; `omni invoice opening` and `omni invoice show --json`
    /// name it).
    #[arg(long)]
    invoice: String,
    /// Wait until the registry shows the invoice in this status (verified, accepted,
    /// disputed, paid); exit 1 if it does not within --timeout.
    #[arg(long)]
    wait_for: Option<String>,
    /// Seconds --wait-for waits.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `omni registry init`.
#[derive(Args)]
pub struct InitArgs {
    /// The validator's data directory (created; its consensus key is DATA/consensus.key).
    #[arg(long)]
    data: PathBuf,
    /// Where its gRPC API will listen.
    #[arg(long)]
    listen: SocketAddr,
    /// Where it will listen for the other validators (consensus).
    #[arg(long)]
    consensus_listen: SocketAddr,
    /// Its name in the validator set (default: the data directory's name).
    #[arg(long)]
    name: Option<String>,
    /// Print one JSON object (the entry).
    #[arg(long)]
    json: bool,
}

/// Arguments of `omni registry genesis`.
#[derive(Args)]
pub struct GenesisArgs {
    /// A validator's entry (`DATA/validator.json` from `omni registry init`; repeatable).
    #[arg(long = "validator", required = true)]
    validators: Vec<PathBuf>,
    /// The membership administrator's public key (hex).
    #[arg(long)]
    admin: String,
    /// The registry's name.
    #[arg(long, default_value = "omnilateral")]
    name: String,
    #[command(flatten)]
    keys: GenesisKeys,
    /// The validators file to write (it must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// The rating verifying keys a new genesis names: every validator must run them.
#[derive(Args, Default)]
pub struct GenesisKeys {
    /// Name these verifying keys (`rating-K.vk`) in the genesis.
    #[arg(long = "genesis-rating-keys", conflicts_with = "genesis_rating_keys_hash")]
    genesis_rating_keys: Option<PathBuf>,
    /// Name the verifying keys with this hash (hex, as `GetStatus` prints it).
    #[arg(long = "genesis-rating-keys-hash")]
    genesis_rating_keys_hash: Option<String>,
}

impl GenesisKeys {
    /// The keys' hash to name, if any.
    fn hash(&self) -> Result<Option<Hash32>> {
        if let Some(h) = &self.genesis_rating_keys_hash {
            return Ok(Some(
                Hash32::from_hex(h).context("--genesis-rating-keys-hash is not 64 hex digits")?,
            ));
        }
        let Some(path) = &self.genesis_rating_keys else { return Ok(None) };
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let verifier = omni_verifier::RatingVerifier::from_bytes(&bytes, None)
            .with_context(|| format!("rating verifying keys {}", path.display()))?;
        Ok(Some(Hash32(verifier.key_id().hash.0)))
    }
}

/// Arguments of `omni registry start`.
#[derive(Args)]
pub struct StartArgs {
    /// RocksDB directory (created if missing).
    #[arg(long)]
    data: PathBuf,
    /// Address of the gRPC API (default: this validator's in the validators file, else
    /// 127.0.0.1:7400).
    #[arg(long)]
    listen: Option<SocketAddr>,
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
    /// Join this validator set (JSON from `omni registry testnet`); the node's consensus
    /// key is DATA/consensus.key. A key not in the set follows as a full node.
    #[arg(long)]
    validators: Option<PathBuf>,
    /// Consensus address of a full node (not in the validator set).
    #[arg(long)]
    consensus_listen: Option<SocketAddr>,
    /// Longest a proposer waits for transactions before proposing an empty block
    /// (default: 1000 in a validator set; a single validator makes no empty blocks).
    #[arg(long)]
    empty_block_ms: Option<u64>,
    /// Dial these consensus addresses for the other validators instead of the ones in the
    /// validators file (comma-separated; e.g. through relays).
    #[arg(long, value_delimiter = ',')]
    consensus_peers: Option<Vec<SocketAddr>>,
    /// Fault tests only: misbehave as a Byzantine validator (comma-separated:
    /// equivocate, invalid-blocks, garbage).
    #[arg(long, hide = true)]
    byzantine: Option<String>,
}

/// Arguments of `omni registry testnet`.
#[derive(Args)]
pub struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Directory to create (`v0`…`vN-1` data directories, `validators.json`,
    /// `admin.key`).
    #[arg(long)]
    pub dir: PathBuf,
    /// First port: validator i listens for consensus on PORT+2i and gRPC on PORT+2i+1.
    /// Default: free ports.
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Membership administrator's public key (hex). Default: a fresh key in DIR/admin.key.
    #[arg(long)]
    pub admin: Option<String>,
    #[command(flatten)]
    pub keys: GenesisKeys,
}

fn free_port() -> Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Creates a validator set on 127.0.0.1 in `dir` (see [`TestnetArgs`]); returns the
/// validators file's path.
pub fn testnet(args: &TestnetArgs) -> Result<PathBuf> {
    if args.validators == 0 {
        bail!("--validators must be at least 1");
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let (admin, _) = genesis_admin(args.admin.as_deref(), &args.dir)?;
    let mut validators = Vec::new();
    for i in 0..args.validators {
        let data = args.dir.join(format!("v{i}"));
        let key = consensus_key(&data)?;
        let (consensus, api) = match args.base_port {
            Some(p) => {
                let base = p as usize + 2 * i;
                let port = |n: usize| -> Result<u16> {
                    u16::try_from(n).context("--base-port leaves no room for the validators")
                };
                (
                    SocketAddr::from(([127, 0, 0, 1], port(base)?)),
                    SocketAddr::from(([127, 0, 0, 1], port(base + 1)?)),
                )
            }
            None => (free_port()?, free_port()?),
        };
        validators.push(ValidatorEntry {
            name: format!("v{i}"),
            public_key: hex::encode(key.verifying_key().to_bytes()),
            consensus,
            api,
        });
    }
    let genesis = Genesis {
        name: "omnilateral".into(),
        time: omni_core::Clock::System.now(),
        members: vec![(admin, Role::Admin)],
        rating_keys: args.keys.hash()?,
    };
    let path = args.dir.join("validators.json");
    ValidatorSetFile { genesis, validators }.save(&path)?;
    Ok(path)
}

/// The membership administrator of a new registry: `--admin` (hex), or a fresh key
/// written to `DIR/admin.key` (returned with the path it was written to).
fn genesis_admin(admin: Option<&str>, dir: &std::path::Path) -> Result<(PartyId, Option<PathBuf>)> {
    match admin {
        Some(hex) => {
            Ok((PartyId::from_hex(hex).context("--admin is not a 64-hex-digit key")?, None))
        }
        None => {
            let key = Keypair::generate();
            let path = dir.join("admin.key");
            omni_core::key_file::write(&path, &key.seed()).map_err(anyhow::Error::msg)?;
            Ok((key.party(), Some(path)))
        }
    }
}

fn byzantine(modes: &str) -> Result<omni_consensus::Byzantine> {
    let mut b = omni_consensus::Byzantine::default();
    for m in modes.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        match m {
            "equivocate" => b.equivocate = true,
            "invalid-blocks" => b.invalid_blocks = true,
            "garbage" => b.garbage = true,
            other => bail!("--byzantine: unknown misbehaviour {other:?}"),
        }
    }
    Ok(b)
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
    if args.rating_keys.is_none() && omni_verifier::RatingKeySet::is_older_format(&bytes) {
        bail!(
            "the default rating keys {} were made by an older build (no interval key): run \
             `omni bench prove` to set development keys up again, or pass --rating-keys",
            path.display()
        );
    }
    let verifier = omni_verifier::RatingVerifier::from_bytes(&bytes, expected.as_ref())
        .with_context(|| format!("rating verifying keys {}", path.display()))?;
    Ok(Some(verifier))
}

pub fn run(cmd: RegistryCommand) -> Result<()> {
    match cmd {
        RegistryCommand::Start(args) => start(args),
        RegistryCommand::Testnet(args) => {
            let path = testnet(&args)?;
            println!("{}", path.display());
            Ok(())
        }
        RegistryCommand::Init(args) => init(&args),
        RegistryCommand::Genesis(args) => genesis(&args),
        RegistryCommand::Compliance(args) => crate::compliance_cmd::registry_status(args),
        RegistryCommand::Invoice(args) => invoice(&args),
        RegistryCommand::Status(args) => crate::registry_reads::status(&args),
        RegistryCommand::Reputation(args) => crate::registry_reads::reputation(&args),
        RegistryCommand::Members(args) => crate::registry_reads::members(args),
        RegistryCommand::Cycles(args) => crate::registry_reads::cycles(&args),
        RegistryCommand::Roots(args) => crate::registry_reads::roots(&args),
    }
}

fn invoice(args: &InvoiceArgs) -> Result<()> {
    use crate::node_client::Refused;
    use omni_registry_protocol::proto::GetInvoiceRequest;
    let id = crate::registry_api::hash_arg("invoice", &args.invoice)?;
    let api = crate::registry_api::RegistryApi::connect(&args.registry)?;
    let ask = || {
        let request = GetInvoiceRequest { invoice_id: id.0.to_vec() };
        api.call("GetInvoice", api.rpc.clone().get_invoice(request))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.timeout);
    let (inv, answer) = loop {
        let answer = ask()?;
        let found = answer.invoice.clone().filter(|_| answer.found);
        let wanted = match (&found, &args.wait_for) {
            (Some(inv), Some(status)) => inv.status == *status,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if wanted {
            break (found.unwrap_or_default(), answer);
        }
        if args.wait_for.is_none() || std::time::Instant::now() > deadline {
            return Err(Refused(match (found, &args.wait_for) {
                (None, _) => format!("the registry holds no invoice {}", args.invoice),
                (Some(inv), w) => format!(
                    "invoice {} is {} on the registry, not {}, after {} s",
                    args.invoice,
                    inv.status,
                    w.as_deref().unwrap_or("-"),
                    args.timeout
                ),
            })
            .into());
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    let r = answer.payer_reputation.unwrap_or_default();
    let date = |t: Option<u64>| t.map(omni_node::api::rfc3339);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "invoice": id.to_hex(), "status": inv.status, "currency": inv.currency,
                "interval": inv.interval, "bilateral": hex::encode(&inv.bilateral),
                "payer": hex::encode(&inv.payer), "payee": hex::encode(&inv.payee),
                "amount_commitment": hex::encode(&inv.amount_commitment),
                "amount_due_commitment": hex::encode(&inv.amount_due_commitment),
                "credits": inv.credits.iter().map(|c| serde_json::json!({
                    "reference": hex::encode(&c.reference),
                    "commitment": hex::encode(&c.commitment),
                    "credited_at": omni_node::api::rfc3339(c.credited_at),
                    "height": c.height,
                })).collect::<Vec<_>>(),
                "due_date": omni_node::api::rfc3339(inv.due_date),
                "submitted_at": omni_node::api::rfc3339(inv.submitted_at),
                "submitted_height": inv.submitted_height,
                "accepted_at": date(inv.accepted_at), "disputed_at": date(inv.disputed_at),
                "paid_at": date(inv.paid_at), "paid_by": inv.paid_by,
                "netting_cycle": inv.netting_cycle, "proof_hash": hex::encode(&inv.proof_hash),
                "payer_reputation": crate::registry_reads::reputation_json(&r),
            })
        );
    } else {
        println!(
            "invoice {}: {} ({}, interval {}), due {}{}",
            args.invoice,
            inv.status,
            inv.currency,
            inv.interval,
            omni_node::api::rfc3339(inv.due_date),
            date(inv.paid_at).map(|d| format!(", paid {d} by {}", inv.paid_by)).unwrap_or_default()
        );
        for c in &inv.credits {
            println!(
                "credited {} (credit {}, commitment {})",
                omni_node::api::rfc3339(c.credited_at),
                hex::encode(&c.reference),
                hex::encode(&c.commitment)
            );
        }
        println!(
            "payer {}: {} invoices, {} paid on time, {} late, {} overdue, {} open",
            hex::encode(&inv.payer),
            r.invoices,
            r.paid_on_time,
            r.paid_late,
            r.overdue,
            r.open
        );
    }
    Ok(())
}

/// The file `omni registry init` writes beside the consensus key: the public entry.
const VALIDATOR_ENTRY_FILE: &str = "validator.json";

fn init(args: &InitArgs) -> Result<()> {
    use crate::node_client::CannotAsk;
    let key = consensus_key(&args.data).map_err(|e| CannotAsk(e.to_string()))?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .data
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "validator".into()),
    };
    let entry = ValidatorEntry {
        name,
        public_key: hex::encode(key.verifying_key().to_bytes()),
        consensus: args.consensus_listen,
        api: args.listen,
    };
    let path = args.data.join(VALIDATOR_ENTRY_FILE);
    let text = serde_json::to_string_pretty(&entry)?;
    std::fs::write(&path, &text)
        .map_err(|e| CannotAsk(format!("cannot write {}: {e}", path.display())))?;
    if args.json {
        println!("{}", serde_json::json!({ "entry": entry, "file": path.display().to_string() }));
    } else {
        println!(
            "validator {} (consensus key {}; the private key stays in {}):\n{text}\ngive {} to \
             whoever assembles the genesis (omni registry genesis)",
            entry.name,
            entry.public_key,
            args.data.join(omni_registry::CONSENSUS_KEY_FILE).display(),
            path.display()
        );
    }
    Ok(())
}

fn genesis(args: &GenesisArgs) -> Result<()> {
    use crate::node_client::CannotAsk;
    let admin = crate::registry_api::party_arg("admin", &args.admin)?;
    let mut validators = Vec::new();
    for path in &args.validators {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CannotAsk(format!("--validator {}: {e}", path.display())))?;
        let entry: ValidatorEntry = serde_json::from_str(&text).map_err(|e| {
            CannotAsk(format!("--validator {}: not a validator entry: {e}", path.display()))
        })?;
        validators.push(entry);
    }
    let genesis = Genesis {
        name: args.name.clone(),
        time: omni_core::Clock::System.now(),
        members: vec![(admin, Role::Admin)],
        rating_keys: args.keys.hash().map_err(|e| CannotAsk(format!("{e:#}")))?,
    };
    let set = ValidatorSetFile { genesis, validators };
    set.check().map_err(|e| CannotAsk(format!("the validator set: {e}")))?;
    let text = serde_json::to_string_pretty(&set)?;
    crate::files::create(&args.out, text.as_bytes())?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "file": args.out.display().to_string(), "name": args.name,
                                "validators": set.validators.len(), "admin": admin.to_hex() })
        );
    } else {
        println!(
            "{}: registry {} with {} validators and administrator {admin}; every operator starts \
             with `omni registry start --data DATA --validators {}`",
            args.out.display(),
            args.name,
            set.validators.len(),
            args.out.display()
        );
    }
    Ok(())
}

fn start(args: StartArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create {}", args.data.display()))?;
    let fresh = std::fs::read_dir(&args.data)?
        .filter_map(|e| e.ok())
        .all(|e| e.file_name() == omni_registry::CONSENSUS_KEY_FILE);
    let set = args.validators.as_deref().map(ValidatorSetFile::load).transpose()?;
    // A validator listens where the validator set says, unless told otherwise.
    let own_api = match &set {
        Some(set) => {
            let key = hex::encode(consensus_key(&args.data)?.verifying_key().to_bytes());
            set.validators.iter().find(|v| v.public_key == key).map(|v| v.api)
        }
        None => None,
    };
    let listen =
        args.listen.or(own_api).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7400)));
    let mut config = ServerConfig::new(&args.data, listen);
    config.consensus.empty_block_interval =
        args.empty_block_ms.map(std::time::Duration::from_millis);
    if let Some(modes) = &args.byzantine {
        config.consensus.byzantine = byzantine(modes)?;
    }
    config.consensus.listen = args.consensus_listen;
    config.consensus.peers = args.consensus_peers.clone();
    match rating_verifier(&args)? {
        Some(v) => {
            let id = v.key_id();
            eprintln!(
                "registry on {} (data {}); rating proofs verified under keys {} (chunk size {})",
                listen,
                args.data.display(),
                hex::encode(id.hash.0),
                id.chunk_size
            );
            config = config
                .with_verifier(std::sync::Arc::new(omni_registry::Groth16RatingVerifier::new(v)));
        }
        None => eprintln!(
            "registry on {} (data {}); no rating verifying keys: invoices are refused \
             (--rating-keys FILE.vk)",
            listen,
            args.data.display()
        ),
    }
    if let Some(set) = set {
        if args.admin.is_some() {
            bail!(
                "--admin does not apply with --validators: the genesis is in the validators file"
            );
        }
        config = config.with_validators(set);
    } else if fresh {
        let (admin, written) = genesis_admin(args.admin.as_deref(), &args.data)?;
        if let Some(path) = written {
            eprintln!("new registry: admin key written to {}", path.display());
        }
        // A new registry names the keys it starts with: a restart with others is refused.
        let rating_keys = config.verifier.rating_keys();
        config = config.with_genesis(Genesis {
            name: "omnilateral".into(),
            time: omni_core::Clock::System.now(),
            members: vec![(admin, Role::Admin)],
            rating_keys,
        });
    } else if args.admin.is_some() {
        bail!(
            "{} already holds a registry; --admin only applies to a new one",
            args.data.display()
        );
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(serve(config)).context("registry stopped with an error")?;
    eprintln!("registry stopped; its data is in {}", args.data.display());
    Ok(())
}
