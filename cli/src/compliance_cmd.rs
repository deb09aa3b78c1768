//! Supply-chain compliance on the command line (MEF 114 R15; halo2 proofs, no trusted
//! setup): `omni bench compliance`, `omni verify compliance MAP` (a regulator's own check,
//! against a published-state file or a registry it asks), and `omni registry compliance`
//! (the registry's status of orders per embargo list version).

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use omni_circuits::compliance::bench::{bench_compliance, SampleSupplyChain};
use omni_circuits::compliance::map::{verify_map, ComplianceMap, PublishedState};
use omni_circuits::compliance::proof::{ComplianceVerifier, HopProver};
use omni_circuits::compliance::{field_from_bytes, EmbargoList};
use omni_registry_protocol::proto::registry_client::RegistryClient;
use omni_registry_protocol::proto::{
    GetComplianceStateRequest, GetComplianceStateResponse, ListComplianceStatusRequest,
};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `omni bench compliance`.
#[derive(Args)]
pub struct ComplianceBenchArgs {
    /// Hops of the benchmarked supply-chain map.
    #[arg(long, default_value_t = 5)]
    hops: usize,
    /// Also write a sample map (`map.bin`) and what the registry published for it
    /// (`published.json`) here, for `omni verify compliance`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// `omni bench compliance`.
pub fn bench(args: ComplianceBenchArgs) -> Result<()> {
    if args.hops == 0 {
        bail!("--hops must be at least 1");
    }
    let r = bench_compliance(args.hops)?;
    if let Some(dir) = &args.out {
        let chain = SampleSupplyChain::new(args.hops, args.hops as u32)?;
        let order: Vec<usize> = (0..args.hops).collect();
        let map = chain.map(HopProver::shared()?, [7u8; 32], &order)?;
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("map.bin"), map.to_bytes())?;
        std::fs::write(
            dir.join("published.json"),
            serde_json::to_string_pretty(&chain.published())?,
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("supply-chain compliance (halo2, IPA over Pasta, k = {})", r.k);
        println!("  hop proof          {:>10.3} s", r.hop_prove_s);
        println!("  hop verification   {:>10.2} ms", r.hop_verify_ms);
        println!("  {}-hop map verified {:>9.2} ms", r.map_hops, r.map_verify_ms);
        println!("  proof size         {:>10} bytes", r.proof_bytes);
    }
    Ok(())
}

/// Arguments of `omni verify compliance`.
#[derive(Args)]
pub struct VerifyComplianceArgs {
    /// The supply-chain map file.
    map: PathBuf,
    /// What the registry published: credential root and embargo list (JSON, as written
    /// by `omni bench compliance --out` or `omni registry compliance --published`).
    #[arg(long, conflicts_with = "registry", required_unless_present = "registry")]
    published: Option<PathBuf>,
    /// Ask a registry (gRPC, e.g. http://127.0.0.1:7400) for what it published instead.
    #[arg(long)]
    registry: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `omni verify compliance MAP`: exits 0 if the map verifies, 1 with the reason if not.
pub fn verify(args: VerifyComplianceArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.map).with_context(|| format!("reading {}", args.map.display()))?;
    let map = ComplianceMap::from_bytes(&bytes)
        .with_context(|| format!("{} is not a supply-chain map", args.map.display()))?;
    let published = match (&args.published, &args.registry) {
        (Some(path), _) => serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{} is not a published registry state", path.display()))?,
        (None, Some(url)) => published_by(url, Some(&map))?,
        (None, None) => bail!("give --published FILE or --registry URL"),
    };
    let verifier = ComplianceVerifier::setup()?;
    let start = Instant::now();
    let result = verify_map(&verifier, &map, &published);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if args.json {
        println!(
            "{}",
            json!({
                "valid": result.is_ok(),
                "error": result.as_ref().err().map(|e| e.to_string()),
                "hops": map.hops.len(),
                "embargo_version": map.embargo_version,
                "commitment": map.commitment().to_hex(),
                "verify_ms": ms,
            })
        );
    } else {
        println!("supply-chain map {} ({} hops)", args.map.display(), map.hops.len());
        println!("  embargo list version {}", map.embargo_version);
        println!("  commitment           {}", map.commitment().to_hex());
        match &result {
            Ok(v) => {
                println!("COMPLIANT: {} hops, none in an embargoed country ({ms:.1} ms)", v.hops)
            }
            Err(e) => println!("NOT VERIFIED: {e}"),
        }
    }
    if result.is_err() {
        std::process::exit(1);
    }
    Ok(())
}

/// What the registry at `url` published: its current embargo list and credential root,
/// or the map's root if the registry still accepts it (no revocation since).
fn published_by(url: &str, map: Option<&ComplianceMap>) -> Result<PublishedState> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let state = runtime
        .block_on(async {
            let mut rpc = RegistryClient::connect(url.to_string()).await?;
            anyhow::Ok(rpc.get_compliance_state(GetComplianceStateRequest {}).await?.into_inner())
        })
        .with_context(|| format!("asking the registry at {url}"))?;
    published_state(&state, map)
}

/// What a registry's `GetComplianceState` answer says was published: the current embargo
/// list and credential root, or `map`'s root if the registry still accepts it.
pub fn published_state(
    state: &GetComplianceStateResponse,
    map: Option<&ComplianceMap>,
) -> Result<PublishedState> {
    let embargo =
        state.embargo.as_ref().ok_or_else(|| anyhow!("the registry has no embargo list yet"))?;
    let countries = embargo
        .countries
        .iter()
        .map(|&c| u16::try_from(c).map_err(|_| anyhow!("country code {c} out of range")))
        .collect::<Result<Vec<u16>>>()?;
    let field = |bytes: &[u8]| -> Result<_> {
        let array: [u8; 32] =
            bytes.try_into().map_err(|_| anyhow!("root of {} bytes", bytes.len()))?;
        Ok(field_from_bytes(&array)?)
    };
    let mut credential_root = field(&state.credential_root)?;
    if let Some(map) = map {
        for root in &state.accepted_roots {
            if field(root)? == map.credential_root {
                credential_root = map.credential_root;
            }
        }
    }
    Ok(PublishedState { credential_root, embargo: EmbargoList::new(embargo.version, countries)? })
}

/// Arguments of `omni registry compliance`.
#[derive(Args)]
pub struct RegistryComplianceArgs {
    /// The registry's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:7400")]
    registry: String,
    /// Embargo list version (default: the current one).
    #[arg(long)]
    version: Option<u32>,
    /// Also write what the registry published (for `omni verify compliance --published`).
    #[arg(long)]
    published: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `omni registry compliance`: orders with a verified supply-chain map and their status
/// under an embargo list version, as the registry answers it (with height and root).
pub fn registry_status(args: RegistryComplianceArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answer = runtime
        .block_on(async {
            let mut rpc = RegistryClient::connect(args.registry.clone()).await?;
            let request =
                ListComplianceStatusRequest { embargo_version: args.version.unwrap_or(0) };
            anyhow::Ok(rpc.list_compliance_status(request).await?.into_inner())
        })
        .with_context(|| format!("asking the registry at {}", args.registry))?;
    if let Some(path) = &args.published {
        let published = published_by(&args.registry, None)?;
        std::fs::write(path, serde_json::to_string_pretty(&published)?)?;
    }
    let at = answer.at.unwrap_or_default();
    let orders: Vec<_> = answer
        .orders
        .iter()
        .map(|o| {
            json!({
                "order": hex::encode(&o.order),
                "status": o.status,
                "embargo_version": o.embargo_version,
                "hops": o.hops,
                "max_hops": o.max_hops,
                "map_commitment": hex::encode(&o.map_commitment),
                "verified_at": o.verified_at,
            })
        })
        .collect();
    if args.json {
        println!(
            "{}",
            json!({
                "height": at.height,
                "state_root": hex::encode(&at.state_root),
                "embargo_version": answer.embargo_version,
                "orders": orders,
            })
        );
        return Ok(());
    }
    println!(
        "compliance under embargo list version {} (height {}, state root {})",
        answer.embargo_version,
        at.height,
        hex::encode(&at.state_root)
    );
    println!("  {:<18} {:<10} {:>7} {:>5}  map commitment", "order", "status", "version", "hops");
    for o in &answer.orders {
        println!(
            "  {:<18} {:<10} {:>7} {:>5}  {}",
            format!("{}…", &hex::encode(&o.order)[..16]),
            o.status,
            o.embargo_version,
            o.hops,
            &hex::encode(&o.map_commitment)[..16],
        );
    }
    if answer.orders.is_empty() {
        println!("  (no verified maps)");
    }
    Ok(())
}
