//! `omni bench lifecycle`: the product as a carrier runs it, timed — a registry and two
//! `omni node` processes on 127.0.0.1, driven by `omni` commands only, from `omni usage
//! import` of N records to the invoice shown verified on the registry. Each step's share
//! is reported (import, rating, proving, the buyer's check, the registry); the baseline,
//! measured in the same run, is proving the same records alone, in process, with the same
//! keys.

use crate::node_client::CannotAsk;
use anyhow::{bail, Context, Result};
use clap::Args;
use omni_core::rating::RatingOptions;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Arguments of `omni bench lifecycle`.
#[derive(Args)]
pub struct LifecycleBenchArgs {
    /// Usage records in the invoiced interval.
    #[arg(long, default_value_t = 1_000)]
    records: usize,
    /// Rating keys directory (development keys are set up there when missing).
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Records per chunk proof.
    #[arg(long, default_value_t = omni_prover::DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Omni {
    exe: PathBuf,
}

impl Omni {
    /// Runs `omni` with the words of `line` (none holds a space).
    fn run(&self, line: &str) -> Result<(Option<i32>, Value, String)> {
        let out = Command::new(&self.exe).args(line.split_whitespace()).output()?;
        let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        Ok((out.status.code(), value, String::from_utf8_lossy(&out.stderr).to_string()))
    }

    fn ok(&self, line: &str) -> Result<Value> {
        match self.run(line)? {
            (Some(0), v, _) => Ok(v),
            (code, _, err) => bail!("omni {line} failed ({code:?}): {err}"),
        }
    }

    /// Retries while the node refuses (exit 1): the counterparty's step is on its way.
    fn eventually(&self, line: &str) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match self.run(line)? {
                (Some(0), v, _) => return Ok(v),
                (Some(1), _, err) if Instant::now() < deadline => {
                    tracing::debug!("waiting: {err}");
                    std::thread::sleep(Duration::from_millis(20));
                }
                (code, _, err) => bail!("omni {line} failed ({code:?}): {err}"),
            }
        }
    }

    fn spawn(&self, line: &str, log: &Path) -> Result<Running> {
        let log = std::fs::File::create(log)?;
        let child = Command::new(&self.exe)
            .args(line.split_whitespace())
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()?;
        Ok(Running(child))
    }
}

fn free_port() -> Result<std::net::SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Runs `omni bench lifecycle`.
pub fn run(args: LifecycleBenchArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating the omni binary")?;
    let omni = Omni { exe };
    let dir = tempfile::tempdir()?;
    let d = |p: &str| dir.path().join(p).display().to_string();
    let keys_dir = args.keys.clone().unwrap_or_else(crate::proofs::default_keys_dir);
    let (keys, _) = crate::proofs::load_keys(&keys_dir, args.chunk_size, args.json)?;
    let (_, vk, _) = omni_prover::RatingKeys::paths(&keys_dir, args.chunk_size);
    let (vk, hash) = (vk.display().to_string(), hex::encode(keys.verifying.hash().0));

    // The network, set up as docs/getting-started.md does (not measured).
    let generate = |file: &str| -> Result<String> {
        let out = Command::new(&omni.exe).args(["keys", "generate", "--out", &d(file)]).output()?;
        if !out.status.success() {
            bail!("omni keys generate: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    };
    let admin_party = generate("admin.key")?;
    let registry_at = free_port()?;
    let registry = format!("http://{registry_at}");
    let registry_data = d("registry");
    let _registry = omni.spawn(
        &format!(
            "registry start --data {registry_data} --listen {registry_at} --admin {admin_party} \
             --rating-keys {vk} --rating-keys-hash {hash}"
        ),
        &dir.path().join("registry.log"),
    )?;
    let parties = [generate("a.key")?, generate("b.key")?];
    let (sync_a, sync_b, api_a, api_b) = (free_port()?, free_port()?, free_port()?, free_port()?);
    let mut nodes = Vec::new();
    for (name, api, sync, peer, peer_sync) in
        [("a", api_a, sync_a, &parties[1], sync_b), ("b", api_b, sync_b, &parties[0], sync_a)]
    {
        let (node_dir, key) = (d(name), d(&format!("{name}.key")));
        omni.ok(&format!(
            "node init --dir {node_dir} --name {name} --key {key} --api {api} --sync-listen {sync} \
             --peer {peer}@{peer_sync} --registry {registry} --rating-keys {vk} \
             --rating-keys-hash {hash} --json"
        ))?;
        let config = d(&format!("{name}/node.json"));
        nodes.push(omni.spawn(
            &format!("node start --config {config}"),
            &dir.path().join(format!("{name}.log")),
        )?);
    }
    let (na, nb) = (format!("http://{api_a}"), format!("http://{api_b}"));
    let (na, nb) = (na.as_str(), nb.as_str());
    for party in &parties {
        omni.eventually(&format!(
            "member admit --registry {registry} --key {} --member {party} --json",
            d("admin.key")
        ))?;
    }
    let terms = include_str!("../../examples/terms.toml")
        .replace("CARRIER_A_KEY", &parties[0])
        .replace("CARRIER_B_KEY", &parties[1]);
    std::fs::write(d("terms.toml"), &terms)?;
    let contract = omni_node::terms::parse_terms(&terms)?;
    let bilateral = omni
        .eventually(&format!("contract propose --terms {} --node {na} --json", d("terms.toml")))?;
    let bilateral = bilateral["bilateral"].as_str().context("bilateral id")?.to_string();
    let bl = bilateral.as_str();
    omni.eventually(&format!("contract accept --bilateral {bl} --node {nb} --json"))?;
    omni.eventually(&format!(
        "order place --bilateral {bl} --order O-AB --tariff ic-2026 --node {na} --json"
    ))?;
    omni.eventually(&format!("order accept --bilateral {bl} --order O-AB --node {nb} --json"))?;
    let tariff = contract.tariff("ic-2026").context("the example tariff")?.clone();
    let interval = omni_core::BillingInterval::month(2026, 11)?;
    let records = omni_core::sample::usage(&tariff, "cdr-", interval.start, args.records);
    let mut csv = String::from("id,usageDate,usageType,quantity,unit\n");
    for r in &records {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            r.id,
            r.usage_date,
            r.usage_type,
            r.quantity,
            r.unit.symbol()
        ));
    }
    std::fs::write(d("usage.csv"), csv)?;
    // The order must be agreed on A's node before its usage can be imported.
    let order_agreed = |v: &Value| v["orders"][0]["status"] == "agreed";
    let deadline = Instant::now() + Duration::from_secs(60);
    while !order_agreed(&omni.ok(&format!("order list --bilateral {bl} --node {na} --json"))?) {
        if Instant::now() > deadline {
            bail!("the order was not agreed on the seller's node");
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // Measured: usage import → the invoice shown verified on the registry.
    let t0 = Instant::now();
    let imported = omni.ok(&format!("usage import --bilateral {bl} --order O-AB --interval 2026-11 --file {} --node {na} --json", d("usage.csv")))?;
    if imported["accepted"].as_u64() != Some(args.records as u64) {
        bail!("the import did not accept every record: {imported}");
    }
    let t_import = t0.elapsed();
    omni.ok(&format!(
        "rating propose --bilateral {bl} --order O-AB --interval 2026-11 --node {na} --json"
    ))?;
    omni.eventually(&format!(
        "rating agree --bilateral {bl} --order O-AB --interval 2026-11 --node {nb} --json"
    ))?;
    let t_rating = t0.elapsed();
    let issued = omni.eventually(&format!("invoice issue --bilateral {bl} --order O-AB --interval 2026-11 --number INV-1 --node {na} --json"))?;
    let t_proving = t0.elapsed();
    omni.eventually(&format!("invoice accept --bilateral {bl} --number INV-1 --node {nb} --json"))?;
    let t_buyer = t0.elapsed();
    let opening = omni.ok(&format!(
        "invoice opening --bilateral {bl} --number INV-1 --out {} --node {na} --json",
        d("opening.json")
    ))?;
    let ri = opening["registry_invoice"].as_str().context("registry invoice id")?.to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, v, err) =
            omni.run(&format!("registry invoice --registry {registry} --invoice {ri} --json"))?;
        if code == Some(0) && (v["status"] == "verified" || v["status"] == "accepted") {
            break;
        }
        if Instant::now() > deadline {
            bail!("the registry did not show the invoice verified: {v} {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let t_registry = t0.elapsed();
    drop(nodes);

    // Baseline: the same records proven alone, in process, with the same keys.
    let bilateral_id: [u8; 32] =
        hex::decode(bl)?.try_into().map_err(|_| CannotAsk("bilateral id".into()))?;
    let claim = omni_prover::RatingWitness {
        tariff: &tariff,
        records: &records,
        options: RatingOptions { include_one_time_fees: true },
        bilateral_id,
        interval_id: "2026-11",
    };
    let blinding = omni_circuits::pedersen::random_blinding(&mut rand::rngs::OsRng);
    let b0 = Instant::now();
    omni_prover::prove_rating(&keys, &claim, &blinding, &mut rand::rngs::OsRng, &|_, _| {})?;
    let baseline = b0.elapsed().as_secs_f64();

    let s = |d: Duration| d.as_secs_f64();
    let total = s(t_registry);
    let steps = [
        ("import", s(t_import)),
        ("rating", s(t_rating) - s(t_import)),
        ("proving", s(t_proving) - s(t_rating)),
        ("buyer_check", s(t_buyer) - s(t_proving)),
        ("registry", s(t_registry) - s(t_buyer)),
    ];
    let node_proving_s = issued["proof"]["seconds"].as_f64().unwrap_or(0.0);
    if args.json {
        let mut shares = serde_json::Map::new();
        let mut seconds = serde_json::Map::new();
        for (name, secs) in steps {
            seconds.insert(name.into(), json!(secs));
            shares.insert(name.into(), json!(secs / total));
        }
        println!(
            "{}",
            json!({
                "records": args.records, "chunk_size": args.chunk_size,
                "usage_to_registry_verified_s": total,
                "steps_s": seconds, "shares": shares,
                "node_proving_s": node_proving_s,
                "baseline_proving_alone_s": baseline,
                "ratio_to_baseline": total / baseline,
                "development_keys": keys.is_development(),
            })
        );
    } else {
        println!("{} usage records, from `omni usage import` to the invoice verified on the registry: {total:.2} s", args.records);
        for (name, secs) in steps {
            println!("  {name:<12} {secs:>8.2} s  {:>5.1} %", 100.0 * secs / total);
        }
        println!(
            "  baseline: proving the same records alone, in process: {baseline:.2} s ({:.2}x)",
            total / baseline
        );
    }
    Ok(())
}
