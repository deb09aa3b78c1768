//! Supply-chain compliance on the command line (MEF 114 R15; halo2 proofs, no trusted
//! setup): `omni bench compliance`, `omni verify compliance MAP` (a regulator's own check,
//! against a published-state file or a registry it asks), and `omni registry compliance`
//! (the registry's status of orders per embargo list version).

use crate::node_client::{CannotAsk, Refused};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use omni_circuits::compliance::bench::{bench_compliance, SampleSupplyChain};
use omni_circuits::compliance::map::{verify_map, ComplianceMap, PublishedState};
use omni_circuits::compliance::proof::{ComplianceVerifier, HopProver};
use omni_circuits::compliance::{field_from_bytes, field_to_bytes, EmbargoList};
use omni_core::country::Country;
use omni_registry_protocol::proto::registry_client::RegistryClient;
use omni_registry_protocol::proto::{
    GetComplianceStateRequest, GetComplianceStateResponse, ListComplianceStatusRequest,
};
use serde::{Deserialize, Serialize};
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
    /// What the registry published: every credential root it accepts and every embargo
    /// list version (JSON, as written by `omni registry compliance --published`; the
    /// single-root file of `omni bench compliance --out` is read too).
    #[arg(long, conflicts_with = "registry", required_unless_present = "registry")]
    published: Option<PathBuf>,
    /// Ask a registry (gRPC, e.g. http://127.0.0.1:7400) for what it published instead.
    #[arg(long)]
    registry: Option<String>,
    /// Judge the map against this embargo list version (default: the current one; a map
    /// proven against an older list is then outdated, not compliant).
    #[arg(long)]
    version: Option<u32>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Everything a registry publishes for supply-chain maps: the roots a map may be proven
/// under and every embargo list, with the height and state root it was read at. What
/// `omni registry compliance --published` writes and `omni verify compliance` reads.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PublishedCompliance {
    /// The height it was read at (0 when unknown).
    #[serde(default)]
    pub height: u64,
    /// The state root at that height (hex; empty when unknown).
    #[serde(default)]
    pub state_root: String,
    /// The current credential root (hex of the field element).
    pub credential_root: String,
    /// Every root a map may be proven under (since the last revocation), oldest first.
    pub accepted_roots: Vec<String>,
    /// Every embargo list published, oldest first.
    pub embargo_lists: Vec<EmbargoList>,
}

impl PublishedCompliance {
    /// From a registry's `GetComplianceState` answer.
    pub fn from_state(state: &GetComplianceStateResponse) -> Result<PublishedCompliance> {
        let lists = state
            .embargo_lists
            .iter()
            .map(|e| {
                let countries = e
                    .countries
                    .iter()
                    .map(|&c| {
                        u16::try_from(c).map_err(|_| anyhow!("country code {c} out of range"))
                    })
                    .collect::<Result<Vec<u16>>>()?;
                Ok(EmbargoList::new(e.version, countries)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let at = state.at.clone().unwrap_or_default();
        Ok(PublishedCompliance {
            height: at.height,
            state_root: hex::encode(&at.state_root),
            credential_root: hex::encode(&state.credential_root),
            accepted_roots: state.accepted_roots.iter().map(hex::encode).collect(),
            embargo_lists: lists,
        })
    }

    /// Reads a published file: this form, or a single [`PublishedState`].
    pub fn read(path: &std::path::Path) -> Result<PublishedCompliance> {
        let bytes = std::fs::read(path)
            .map_err(|e| CannotAsk(format!("--published {}: {e}", path.display())))?;
        if let Ok(p) = serde_json::from_slice::<PublishedCompliance>(&bytes) {
            return Ok(p);
        }
        let single: PublishedState = serde_json::from_slice(&bytes).map_err(|e| {
            CannotAsk(format!("--published {}: not what a registry published: {e}", path.display()))
        })?;
        let root = hex::encode(field_to_bytes(&single.credential_root));
        Ok(PublishedCompliance {
            height: 0,
            state_root: String::new(),
            credential_root: root.clone(),
            accepted_roots: vec![root],
            embargo_lists: vec![single.embargo],
        })
    }

    /// The current (latest) embargo list.
    pub fn current(&self) -> Option<&EmbargoList> {
        self.embargo_lists.iter().max_by_key(|l| l.version())
    }

    /// Why `map` is not compliant under list `version` (default: the current list), or the
    /// state it is checked against.
    fn judge(
        &self,
        map: &ComplianceMap,
        version: Option<u32>,
    ) -> std::result::Result<PublishedState, String> {
        let current = self.current().ok_or("the registry has published no embargo list")?;
        let wanted = version.unwrap_or(current.version());
        if map.embargo_version != wanted {
            return Err(format!(
                "the map is proven against embargo list v{}, not v{wanted}{}",
                map.embargo_version,
                if version.is_none() { " (the current list): it is outdated" } else { "" }
            ));
        }
        let list = self
            .embargo_lists
            .iter()
            .find(|l| l.version() == wanted)
            .ok_or_else(|| format!("the registry never published embargo list v{wanted}"))?;
        let root = hex::encode(field_to_bytes(&map.credential_root));
        if !self.accepted_roots.contains(&root) {
            return Err(format!(
                "the map is proven under credential root {root}, which the registry does not \
                 accept (a credential was revoked since, or it never was its root)"
            ));
        }
        Ok(PublishedState { credential_root: map.credential_root, embargo: list.clone() })
    }
}

/// `omni verify compliance MAP`: exit 0 compliant, 1 not compliant (the reason printed),
/// 2 could not check (no map, no published state).
pub fn verify(args: VerifyComplianceArgs) -> Result<()> {
    let bytes = std::fs::read(&args.map)
        .map_err(|e| CannotAsk(format!("reading {}: {e}", args.map.display())))?;
    let map = ComplianceMap::from_bytes(&bytes)
        .map_err(|e| CannotAsk(format!("{} is not a supply-chain map: {e}", args.map.display())))?;
    let published = match (&args.published, &args.registry) {
        (Some(path), _) => PublishedCompliance::read(path)?,
        (None, Some(url)) => published_by(url)?,
        (None, None) => {
            return Err(CannotAsk("give --published FILE or --registry URL".into()).into())
        }
    };
    let start = Instant::now();
    let result = published.judge(&map, args.version).and_then(|state| {
        let verifier = ComplianceVerifier::shared().map_err(|e| e.to_string())?;
        verify_map(verifier, &map, &state).map_err(|e| e.to_string())
    });
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let list = published.embargo_lists.iter().find(|l| l.version() == map.embargo_version);
    let avoided = list.map(|l| l.countries().to_vec()).unwrap_or_default();
    if args.json {
        println!(
            "{}",
            json!({
                "compliant": result.is_ok(),
                "valid": result.is_ok(),
                "error": result.as_ref().err(),
                "hops": map.hops.len(),
                "embargo_version": map.embargo_version,
                "current_embargo_version": published.current().map(EmbargoList::version),
                "embargoed": countries_json(&avoided),
                "credential_root": hex::encode(field_to_bytes(&map.credential_root)),
                "order_commitment": hex::encode(field_to_bytes(&map.order_commitment)),
                "commitment": map.commitment().to_hex(),
                "published_height": published.height,
                "verify_ms": ms,
            })
        );
    } else {
        println!("supply-chain map {} ({} hops)", args.map.display(), map.hops.len());
        println!("  embargo list version {}", map.embargo_version);
        println!("  embargoed countries  {}", countries_text(&avoided));
        println!("  commitment           {}", map.commitment().to_hex());
        match &result {
            Ok(v) => {
                println!("COMPLIANT: {} hops, none in an embargoed country ({ms:.1} ms)", v.hops)
            }
            Err(e) => println!("NOT COMPLIANT: {e}"),
        }
    }
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(Refused(format!("not compliant: {e}")).into()),
    }
}

/// Everything the registry at `url` published for maps.
fn published_by(url: &str) -> Result<PublishedCompliance> {
    let api = crate::registry_api::RegistryApi::connect(url)?;
    let state = api.call(
        "GetComplianceState",
        api.rpc.clone().get_compliance_state(GetComplianceStateRequest {}),
    )?;
    PublishedCompliance::from_state(&state)
        .map_err(|e| CannotAsk(format!("the registry's compliance state: {e:#}")).into())
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
    #[arg(long, default_value = crate::registry_api::DEFAULT_REGISTRY)]
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
        let published = published_by(&args.registry)?;
        std::fs::write(path, serde_json::to_string_pretty(&published)?)
            .map_err(|e| CannotAsk(format!("--published {}: {e}", path.display())))?;
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

/// Countries by ISO 3166 numeric code as JSON `{code, alpha2, name}`.
pub fn countries_json(codes: &[u16]) -> Vec<serde_json::Value> {
    codes
        .iter()
        .map(|&c| match Country::numeric(c) {
            Some(k) => json!({ "numeric": c, "alpha2": k.alpha2, "name": k.name }),
            None => json!({ "numeric": c, "alpha2": null, "name": null }),
        })
        .collect()
}

/// Countries by code as `Name (XX, 123), …`.
pub fn countries_text(codes: &[u16]) -> String {
    codes
        .iter()
        .map(|&c| Country::numeric(c).map_or(format!("{c:03}"), |k| k.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}
