//! Supply-chain compliance from the members' and the regulator's side (MEF 114 R15):
//!
//! - `omni credential request` (a member): a fresh secret and pseudonym, kept in the
//!   member's credential file; the request the administrator certifies (pseudonym,
//!   country, attribute and only the *hash* of the secret) — `omni credential issue
//!   --request FILE` puts it in the registry's credential tree.
//! - `omni embargo publish --list FILE` (a regulator): a versioned list of ISO 3166
//!   countries from a documented TOML file (`examples/embargo-list.toml`).
//! - `omni compliance start` (the seller of an order): an empty supply-chain map of the
//!   order under the registry's current credential root and embargo list and the buyer's
//!   policy; `omni compliance prove-hop` (each participant, seller first): its hop proof,
//!   proven alone with its own credential, appended to the map. The seller's node records
//!   the finished map (`omni order map`), the buyer's node verifies it, and the registry
//!   verifies it when the seller's node reports it.
//! - `omni compliance map --order O` (a regulator): the map the registry verified, for
//!   `omni verify compliance` ([`crate::compliance_cmd`]).

use crate::files::{create, replace};
use crate::node_client::{CannotAsk, Refused};
use crate::registry_api::Signer;
use crate::registry_api::{hash_arg, RegistryApi, DEFAULT_REGISTRY};
use anyhow::{Context, Result};
use clap::Subcommand;
use omni_circuits::compliance::credential::{random_secret, secret_hash};
use omni_circuits::compliance::{
    field_from_bytes, field_to_bytes, order_commitment, ComplianceMap, CompliancePolicy,
    CredentialOpening, EmbargoList, Fp, HopProver, HopWitness, JurisdictionCredential, MerklePath,
};
use omni_core::country::Country;
use omni_core::Hash32;
use omni_registry_protocol::proto;
use omni_registry_types::tx::TxBody;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};

/// `omni embargo …`
#[derive(Subcommand)]
pub enum EmbargoCommand {
    /// Publish an embargo list (a regulator): its version must exceed every earlier one.
    Publish {
        #[command(flatten)]
        signer: Signer,
        /// The list file (TOML: `version` and `countries`, ISO 3166-1 alpha-2, alpha-3 or
        /// numeric codes; see examples/embargo-list.toml).
        #[arg(long)]
        list: PathBuf,
    },
}

/// `omni compliance …`
#[derive(Subcommand)]
pub enum ComplianceCommand {
    /// Start the supply-chain map of an order this party sells (the seller).
    Start {
        /// The registry's gRPC endpoint.
        #[arg(long, default_value = DEFAULT_REGISTRY)]
        registry: String,
        /// The bilateral (hex).
        #[arg(long)]
        bilateral: String,
        /// The order's id on the bilateral.
        #[arg(long)]
        order: String,
        /// The attributes the buyer's policy allows (comma-separated codes ≥ 1).
        #[arg(long, value_delimiter = ',', required = true)]
        attributes: Vec<u16>,
        /// Most hops the policy allows.
        #[arg(long)]
        max_hops: u32,
        /// The map file to create.
        #[arg(long)]
        out: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Prove this participant's hop and append it to the map (seller first, then each
    /// upstream supplier in turn).
    ProveHop {
        /// The registry's gRPC endpoint (for the credential's Merkle path).
        #[arg(long, default_value = DEFAULT_REGISTRY)]
        registry: String,
        /// The map file, rewritten with the hop appended.
        #[arg(long)]
        map: PathBuf,
        /// The chain's length as the seller declared it (every participant proves with
        /// the same).
        #[arg(long)]
        hops: usize,
        /// This participant's credential file (`omni credential request --out`).
        #[arg(long)]
        credential: PathBuf,
        /// The credential's leaf (`omni credential issue` printed it).
        #[arg(long)]
        leaf: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Fetch the supply-chain map of an order that the registry verified (a regulator).
    Map {
        /// The registry's gRPC endpoint.
        #[arg(long, default_value = DEFAULT_REGISTRY)]
        registry: String,
        /// The order commitment (hex, as `omni registry compliance` lists it).
        #[arg(long)]
        order: String,
        /// The embargo list version it was verified under (default: the latest).
        #[arg(long)]
        version: Option<u32>,
        /// Where to write the map.
        #[arg(long)]
        out: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// A member's credential file: what it keeps secret (the opening) and what it asked the
/// administrator to certify.
#[derive(Serialize, Deserialize)]
struct CredentialFile {
    opening: CredentialOpening,
}

/// What a member hands the administrator: no secret, only its hash.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// Hex of the pseudonym.
    pub pseudonym: String,
    /// ISO 3166-1 numeric code.
    pub country: u16,
    /// Attribute code (≥ 1).
    pub attribute: u16,
    /// Hex of the secret's hash.
    pub secret_hash: String,
}

impl CredentialRequest {
    /// The credential the request asks for.
    pub fn credential(&self) -> Result<JurisdictionCredential> {
        let field = |name: &str, hex: &str| -> Result<Fp> {
            let bytes = hash_arg(name, hex)?;
            Ok(field_from_bytes(&bytes.0)
                .map_err(|e| CannotAsk(format!("{name}: not a field element: {e}")))?)
        };
        Ok(JurisdictionCredential::issue(
            field("pseudonym", &self.pseudonym)?,
            self.country,
            self.attribute,
            field("secret_hash", &self.secret_hash)?,
        )
        .map_err(|e| CannotAsk(format!("the credential request: {e}")))?)
    }
}

fn country_arg(code: &str) -> Result<&'static Country> {
    Ok(Country::find(code)
        .ok_or_else(|| CannotAsk(format!("--country {code:?}: not an ISO 3166-1 country code")))?)
}

/// `omni credential request`.
pub fn credential_request(
    country: &str,
    attribute: u16,
    out: &Path,
    request: &Path,
    json: bool,
) -> Result<()> {
    let country = country_arg(country)?;
    let secret = random_secret();
    let credential = JurisdictionCredential::issue(
        random_secret(),
        country.numeric,
        attribute,
        secret_hash(&secret),
    )
    .map_err(|e| CannotAsk(format!("--attribute {attribute}: {e}")))?;
    let asked = CredentialRequest {
        pseudonym: hex::encode(field_to_bytes(&credential.pseudonym())),
        country: country.numeric,
        attribute,
        secret_hash: hex::encode(field_to_bytes(&credential.secret_hash())),
    };
    let file = CredentialFile { opening: CredentialOpening { credential, secret, leaf_index: 0 } };
    create(out, &serde_json::to_vec_pretty(&file)?)?;
    create(request, &serde_json::to_vec_pretty(&asked)?)?;
    let commitment = hex::encode(field_to_bytes(&credential.commitment()));
    if json {
        println!(
            "{}",
            json!({ "credential": out.display().to_string(), "request": request.display().to_string(),
                    "commitment": commitment, "country": country.alpha2, "country_name": country.name,
                    "attribute": attribute })
        );
    } else {
        println!(
            "credential of {country}, attribute {attribute}: keep {} secret; give {} to the \
             administrator (commitment {commitment})",
            out.display(),
            request.display()
        );
    }
    Ok(())
}

/// Reads a credential request file (`omni credential issue --request`).
pub fn read_request(path: &Path) -> Result<(CredentialRequest, Hash32)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CannotAsk(format!("--request {}: {e}", path.display())))?;
    let request: CredentialRequest = serde_json::from_str(&text).map_err(|e| {
        CannotAsk(format!("--request {}: not a credential request: {e}", path.display()))
    })?;
    let credential = request.credential()?;
    Ok((request, Hash32(field_to_bytes(&credential.commitment()))))
}

/// The documented embargo list file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    version: u32,
    countries: Vec<toml::Value>,
}

/// Reads and checks an embargo list file: every country a known ISO 3166-1 code.
pub fn read_embargo_list(path: &Path) -> Result<(EmbargoList, Vec<&'static Country>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CannotAsk(format!("--list {}: {e}", path.display())))?;
    let file: ListFile =
        toml::from_str(&text).map_err(|e| CannotAsk(format!("--list {}: {e}", path.display())))?;
    let mut countries = Vec::new();
    for (i, v) in file.countries.iter().enumerate() {
        let code = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            other => other.to_string(),
        };
        let country = Country::find(&code).ok_or_else(|| {
            CannotAsk(format!(
                "--list {}: countries[{i}] = {v}: not an ISO 3166-1 country code",
                path.display()
            ))
        })?;
        countries.push(country);
    }
    let list = EmbargoList::new(file.version, countries.iter().map(|c| c.numeric).collect())
        .map_err(|e| CannotAsk(format!("--list {}: {e}", path.display())))?;
    Ok((list, countries))
}

/// Runs `omni embargo …`.
pub fn embargo(command: EmbargoCommand) -> Result<()> {
    let EmbargoCommand::Publish { signer, list } = command;
    let (list, _) = read_embargo_list(&list)?;
    let (version, codes) = (list.version(), list.countries().to_vec());
    let done = signer.submit(TxBody::PublishEmbargoList(list))?;
    signer.print(
        json!({ "version": version, "countries": crate::compliance_cmd::countries_json(&codes), "tx": done.tx.to_hex() }),
        format!(
            "embargo list v{version} published: {} (transaction {})",
            crate::compliance_cmd::countries_text(&codes),
            done.tx
        ),
    );
    Ok(())
}

/// Runs `omni compliance …`.
pub fn compliance(command: ComplianceCommand) -> Result<()> {
    match command {
        ComplianceCommand::Start {
            registry,
            bilateral,
            order,
            attributes,
            max_hops,
            out,
            json,
        } => {
            let bilateral = omni_node::entry::BilateralId(hash_arg("bilateral", &bilateral)?);
            let policy = CompliancePolicy::new(attributes, max_hops)
                .map_err(|e| CannotAsk(format!("the policy: {e}")))?;
            let api = RegistryApi::connect(&registry)?;
            let request = proto::GetComplianceStateRequest {};
            let state =
                api.call("GetComplianceState", api.rpc.clone().get_compliance_state(request))?;
            let published = crate::compliance_cmd::published_state(&state, None)
                .map_err(|e| Refused(format!("the registry's compliance state: {e:#}")))?;
            let commitment =
                order_commitment(&omni_node::entry::supply_chain_order_id(&bilateral, &order));
            let map = ComplianceMap::new(
                commitment,
                policy,
                &published.embargo,
                published.credential_root,
            );
            create(&out, &map.to_bytes())?;
            let order_hex = hex::encode(field_to_bytes(&commitment));
            let version = published.embargo.version();
            if json {
                println!(
                    "{}",
                    json!({ "order_commitment": order_hex, "embargo_version": version,
                            "map": out.display().to_string() })
                );
            } else {
                println!(
                    "map of order {order} (commitment {order_hex}) started under embargo list \
                     v{version}: {}",
                    out.display()
                );
            }
            Ok(())
        }
        ComplianceCommand::ProveHop { registry, map, hops, credential, leaf, json } => {
            prove_hop(&registry, &map, hops, &credential, leaf, json)
        }
        ComplianceCommand::Map { registry, order, version, out, json } => {
            let order = hash_arg("order", &order)?;
            let api = RegistryApi::connect(&registry)?;
            let request = proto::GetComplianceMapRequest {
                order: order.0.to_vec(),
                embargo_version: version.unwrap_or(0),
            };
            let answer =
                api.call("GetComplianceMap", api.rpc.clone().get_compliance_map(request))?;
            let record = answer.record.filter(|_| answer.found).ok_or_else(|| {
                Refused(format!("the registry holds no verified map of order {order}"))
            })?;
            create(&out, &answer.map)?;
            let at = answer.at.unwrap_or_default();
            if json {
                println!(
                    "{}",
                    json!({ "order": order.to_hex(), "status": record.status,
                            "embargo_version": record.embargo_version, "hops": record.hops,
                            "max_hops": record.max_hops,
                            "map_commitment": hex::encode(&record.map_commitment),
                            "credential_root": hex::encode(&record.credential_root),
                            "submitted_by": hex::encode(&record.submitted_by),
                            "verified_at": crate::registry_api::date(record.verified_at),
                            "height": at.height, "file": out.display().to_string() })
                );
            } else {
                println!(
                    "map of order {order}: {} hops, {} under embargo list v{}, written to {}",
                    record.hops,
                    record.status,
                    record.embargo_version,
                    out.display()
                );
            }
            Ok(())
        }
    }
}

/// The Merkle path of a registry's `GetCredentialPath` answer.
pub fn credential_path(answer: &proto::GetCredentialPathResponse) -> Result<MerklePath> {
    let siblings = answer
        .siblings
        .iter()
        .map(|b| {
            let b: [u8; 32] = b
                .as_slice()
                .try_into()
                .map_err(|_| CannotAsk(format!("a path node of {} bytes", b.len())))?;
            Ok(field_from_bytes(&b).map_err(|e| CannotAsk(format!("a path node: {e}")))?)
        })
        .collect::<Result<Vec<Fp>>>()?;
    Ok(MerklePath { leaf_index: answer.leaf, siblings })
}

fn prove_hop(
    registry: &str,
    map_path: &Path,
    hops: usize,
    credential: &Path,
    leaf: u64,
    json: bool,
) -> Result<()> {
    let bytes = std::fs::read(map_path)
        .map_err(|e| CannotAsk(format!("--map {}: {e}", map_path.display())))?;
    let mut map = ComplianceMap::from_bytes(&bytes).map_err(|e| {
        CannotAsk(format!("--map {}: not a supply-chain map: {e}", map_path.display()))
    })?;
    let text = std::fs::read_to_string(credential)
        .map_err(|e| CannotAsk(format!("--credential {}: {e}", credential.display())))?;
    let file: CredentialFile = serde_json::from_str(&text).map_err(|e| {
        CannotAsk(format!("--credential {}: not a credential file: {e}", credential.display()))
    })?;
    let mut opening = file.opening;
    if !opening.is_consistent() {
        return Err(CannotAsk(format!(
            "--credential {}: the secret does not match the credential",
            credential.display()
        ))
        .into());
    }
    opening.leaf_index = leaf;
    let (link_prev, upstream_count) =
        map.hop_context(hops).map_err(|e| Refused(format!("--hops {hops}: {e}")))?;
    let api = RegistryApi::connect(registry)?;
    let answer = api.call(
        "GetCredentialPath",
        api.rpc.clone().get_credential_path(proto::GetCredentialPathRequest { leaf }),
    )?;
    let path = credential_path(&answer)?;
    let current = answer.credential_root.as_slice();
    if current != field_to_bytes(&map.credential_root).as_slice() {
        return Err(Refused(
            "the registry's credential tree changed since the map was started (a credential \
             was issued or revoked): start the map again"
                .into(),
        )
        .into());
    }
    if path.root(opening.credential.commitment()).ok() != Some(map.credential_root) {
        return Err(Refused(format!(
            "leaf {leaf} of the registry's credential tree is not this credential"
        ))
        .into());
    }
    let embargo = {
        let state = api.call(
            "GetComplianceState",
            api.rpc.clone().get_compliance_state(proto::GetComplianceStateRequest {}),
        )?;
        state
            .embargo_lists
            .iter()
            .find(|e| e.version == map.embargo_version)
            .map(|e| EmbargoList::new(e.version, e.countries.iter().map(|&c| c as u16).collect()))
            .transpose()
            .map_err(|e| Refused(format!("the registry's embargo list: {e}")))?
            .ok_or_else(|| {
                Refused(format!("the registry has no embargo list v{}", map.embargo_version))
            })?
    };
    let witness = HopWitness {
        opening,
        path,
        credential_root: map.credential_root,
        embargo,
        policy: map.policy.clone(),
        link_prev,
        upstream_count,
    };
    let started = std::time::Instant::now();
    let proof = HopProver::shared()
        .and_then(|p| p.prove(&witness))
        .map_err(|e| Refused(format!("this hop cannot be proven: {e}")))?;
    let seconds = started.elapsed().as_secs_f64();
    map.push(proof);
    replace(map_path, &map.to_bytes()).context("the map")?;
    let index = map.hops.len() - 1;
    if json {
        println!(
            "{}",
            json!({ "hop": index, "of": hops, "upstream_count": upstream_count, "prove_s": seconds,
                    "complete": map.hops.len() == hops,
                    "map_commitment": map.commitment().to_hex() })
        );
    } else {
        println!(
            "hop {} of {hops} proven in {seconds:.1} s and appended to {}{}",
            index + 1,
            map_path.display(),
            if map.hops.len() == hops { " — the map is complete" } else { "" }
        );
    }
    Ok(())
}
