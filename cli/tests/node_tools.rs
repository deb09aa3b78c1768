//! An operator's tools on real `omni node start` processes, through the `omni` command
//! line only: the simulated clock of a rehearsal (`omni node clock`: read, moved forwards,
//! never back, resumed after a restart; refused on a node that runs on the system clock,
//! naming the setting), the replay of the bilateral's chain on both parties' nodes giving
//! the same digest (`omni node verify`), the agreed terms written back as a terms file
//! (`omni contract show --terms`), a supply-chain map that is not one refused without
//! anything appended (`omni order map`), and the rating a seller's node proposes on its
//! own once an interval has closed (`rating_proposal` in its configuration).
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{examples, fails, free_port, ok, omni, until, Running, OMNI};

/// A node made by `omni node init`: its party key, API and configuration.
struct Carrier {
    party: String,
    api: String,
    config: PathBuf,
}

/// `omni node init` in `dir/name` with the key in `dir/name.key` (made here unless it
/// exists) and `peer` (PARTY@ADDR) as its counterparty; `simulated_from`, if any, is
/// written into its configuration as the clock setting.
fn init(
    dir: &Path,
    name: &str,
    sync: SocketAddr,
    peer: Option<String>,
    simulated_from: Option<&str>,
) -> Carrier {
    let key = dir.join(format!("{name}.key"));
    if !key.exists() {
        let out = omni(&format!("keys generate --out {}", key.display()));
        assert!(out.status.success());
    }
    let api = free_port();
    let peer = peer.map(|p| format!("--peer {p}")).unwrap_or_default();
    let v = ok(&format!(
        "node init --dir {} --name {name} --key {} --api {api} --sync-listen {sync} {peer} --json",
        dir.join(name).display(),
        key.display()
    ));
    let config = PathBuf::from(v["config"].as_str().unwrap());
    if let Some(from) = simulated_from {
        let mut c: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
        c["clock"] = serde_json::json!({ "simulated_from": from });
        std::fs::write(&config, c.to_string()).unwrap();
    }
    Carrier {
        party: v["party"].as_str().unwrap().to_string(),
        api: format!("http://{api}"),
        config,
    }
}

/// Starts a node; returns it once its API serves, with what it wrote on stderr by then.
fn start(carrier: &Carrier) -> (Running, String) {
    let stderr = carrier.config.with_extension("stderr");
    let mut child = Command::new(OMNI)
        .args(["node", "start", "--config"])
        .arg(&carrier.config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("API listening"), "{line}");
    (Running(child), std::fs::read_to_string(&stderr).unwrap())
}

/// Two counterparties' nodes, `a` and `b`, initialised in `dir` with each other as peers
/// and simulated clocks from `from` (not started).
fn counterparties(dir: &Path, from: &str) -> (Carrier, Carrier) {
    let party = |key: &str| {
        let file = dir.join(format!("{key}.key"));
        assert!(omni(&format!("keys generate --out {}", file.display())).status.success());
        let seed = std::fs::read_to_string(file).unwrap();
        let seed: [u8; 32] = hex::decode(seed.trim()).unwrap().try_into().unwrap();
        omni_core::Keypair::from_seed(seed).party().to_hex()
    };
    let (party_a, party_b) = (party("a"), party("b"));
    let (sync_a, sync_b) = (free_port(), free_port());
    let a = init(dir, "a", sync_a, Some(format!("{party_b}@{sync_b}")), Some(from));
    let b = init(dir, "b", sync_b, Some(format!("{party_a}@{sync_a}")), Some(from));
    (a, b)
}

#[test]
fn a_simulated_clock_moves_forwards_only_and_the_system_clock_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let sim = init(dir.path(), "rehearsal", free_port(), None, Some("2026-08-01"));
    let (_node, stderr) = start(&sim);
    assert!(stderr.starts_with("WARNING: simulated clock"), "{stderr}");
    assert!(stderr.contains("never for real billing"), "{stderr}");
    let n = sim.api.as_str();

    let clock = ok(&format!("node clock --node {n} --json"));
    assert_eq!(
        clock,
        serde_json::json!({ "clock": "simulated", "time": "2026-08-01T00:00:00Z",
                            "unix": 1_785_542_400u64 })
    );
    let moved = ok(&format!("node clock --set 2026-09-15T08:30:00Z --node {n} --json"));
    assert_eq!(
        (moved["time"].as_str(), moved["unix"].as_u64()),
        (Some("2026-09-15T08:30:00Z"), Some(1_789_461_000))
    );
    let status = ok(&format!("node status --node {n} --json"));
    assert_eq!(status["clock"], "simulated 2026-09-15T08:30:00Z", "{status}");

    // Never back; a time that is none is refused by name; nothing moved.
    let err = fails(1, &format!("node clock --set 2026-09-15 --node {n}"));
    assert!(err.contains("never decrease"), "{err}");
    let err = fails(1, &format!("node clock --set mid-September --node {n}"));
    assert!(err.contains("mid-September"), "{err}");
    assert_eq!(ok(&format!("node clock --node {n} --json")), moved);
    let text = String::from_utf8(omni(&format!("node clock --node {n}")).stdout).unwrap();
    assert!(text.contains("simulated clock at 2026-09-15T08:30:00Z"), "{text}");

    // A node on the system clock says so, and cannot be set.
    let real = init(dir.path(), "production", free_port(), None, None);
    let (_real_node, stderr) = start(&real);
    assert!(!stderr.contains("WARNING"), "{stderr}");
    let r = real.api.as_str();
    let clock = ok(&format!("node clock --node {r} --json"));
    assert_eq!(clock["clock"], "system", "{clock}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    assert!(clock["unix"].as_u64().unwrap().abs_diff(now.as_secs()) < 60, "{clock}");
    let err = fails(1, &format!("node clock --set 2030-01-01 --node {r}"));
    assert!(err.contains("clock.simulated_from"), "{err}");
    let status = ok(&format!("node status --node {r} --json"));
    assert_eq!(status["clock"], "system", "{status}");

    // No node: could not ask.
    fails(2, &format!("node clock --node http://{}", free_port()));
}

#[test]
fn both_nodes_replay_the_same_chain_and_write_back_the_agreed_terms() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let (a, b) = counterparties(dir.path(), "2026-08-01");
    let node_a = start(&a).0;
    let _node_b = start(&b).0;
    let (na, nb) = (a.api.as_str(), b.api.as_str());

    // No bilateral yet: nothing to replay.
    assert_eq!(
        ok(&format!("node verify --node {na} --json")),
        serde_json::json!({ "bilaterals": [] })
    );

    let terms = std::fs::read_to_string(examples().join("terms.toml"))
        .unwrap()
        .replace("CARRIER_A_KEY", &a.party)
        .replace("CARRIER_B_KEY", &b.party);
    std::fs::write(dir.path().join("terms.toml"), &terms).unwrap();
    let proposed = ok(&format!("contract propose --terms {} --node {na} --json", d("terms.toml")));
    let bl = proposed["bilateral"].as_str().unwrap().to_string();
    until(&format!("contract accept --bilateral {bl} --node {nb} --json"), |_| true);
    until(&format!("contract show --bilateral {bl} --node {na} --json"), |v| {
        v["status"] == "active"
    });

    // The terms the node holds, written back as a terms file, are the terms proposed.
    let shown = omni(&format!("contract show --bilateral {bl} --terms --node {nb}"));
    assert!(shown.status.success());
    let shown = String::from_utf8(shown.stdout).unwrap();
    let agreed = omni_node::terms::parse_terms(&shown).unwrap_or_else(|e| panic!("{e}\n{shown}"));
    assert_eq!(agreed, omni_node::terms::parse_terms(&terms).unwrap(), "{shown}");
    assert!(shown.contains("reference = \"MSA-2026-001\""), "{shown}");

    // A month later A places an order, which B accepts.
    ok(&format!("node clock --set 2026-09-15 --node {na} --json"));
    ok(&format!("order place --bilateral {bl} --order O-AB --tariff ic-2026 --node {na} --json"));
    until(&format!("order accept --bilateral {bl} --order O-AB --node {nb} --json"), |_| true);
    until(&format!("order list --bilateral {bl} --node {na} --json"), |v| {
        v["orders"][0]["status"] == "agreed"
    });

    // A map that is none is refused, and nothing is appended; a map file that cannot be
    // read is not even sent.
    let head = |node: &str| {
        ok(&format!("contract show --bilateral {bl} --node {node} --json"))["head_seq"].as_u64()
    };
    let before = head(na);
    std::fs::write(dir.path().join("garbage.map"), b"not a supply-chain map").unwrap();
    let err = fails(
        1,
        &format!(
            "order map --bilateral {bl} --order O-AB --map {} --node {na} --json",
            d("garbage.map")
        ),
    );
    assert!(err.contains("supply-chain map"), "{err}");
    assert_eq!(head(na), before);
    let err = fails(
        2,
        &format!("order map --bilateral {bl} --order O-AB --map {} --node {na}", d("none.map")),
    );
    assert!(err.contains("none.map"), "{err}");

    // Both nodes replay the chain from its genesis entry to the same state.
    let verified = |node: &str| {
        let v = until(&format!("node verify --node {node} --json"), |v| {
            v["bilaterals"][0]["entries"].as_u64() == before.map(|h| h + 1)
        });
        assert_eq!(v["bilaterals"].as_array().map(Vec::len), Some(1), "{v}");
        v["bilaterals"][0].clone()
    };
    let (on_a, on_b) = (verified(na), verified(nb));
    assert_eq!(on_a, on_b);
    assert_eq!(on_a["bilateral"], bl.as_str());
    assert_eq!(on_a["digest"].as_str().map(str::len), Some(64), "{on_a}");
    let one = ok(&format!("node verify --bilateral {bl} --node {nb} --json"));
    assert_eq!(one["bilaterals"][0], on_b);
    let text = String::from_utf8(omni(&format!("node verify --node {na}")).stdout).unwrap();
    assert!(
        text.contains(&format!("bilateral {bl}: {} entries replayed", before.unwrap() + 1)),
        "{text}"
    );
    let unknown = "00".repeat(32);
    let err = fails(1, &format!("node verify --bilateral {unknown} --node {na}"));
    assert!(err.contains("unknown bilateral"), "{err}");

    // A's node restarted resumes its simulated clock at its latest entry, not earlier.
    drop(node_a);
    let _node_a = start(&a).0;
    let clock = ok(&format!("node clock --node {na} --json"));
    assert!(clock["time"].as_str().unwrap() >= "2026-09-15", "{clock}");
}

#[test]
fn a_sellers_node_proposes_the_rating_once_the_interval_has_closed_and_its_grace_passed() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let (a, b) = counterparties(dir.path(), "2026-09-20");
    // The seller's node proposes ratings an hour after each interval closes.
    let mut c: Value = serde_json::from_slice(&std::fs::read(&a.config).unwrap()).unwrap();
    c["rating_proposal"] = serde_json::json!({ "after_interval_close_secs": 3600 });
    std::fs::write(&a.config, c.to_string()).unwrap();
    let _node_a = start(&a).0;
    let _node_b = start(&b).0;
    let (na, nb) = (a.api.as_str(), b.api.as_str());

    let terms = std::fs::read_to_string(examples().join("terms.toml"))
        .unwrap()
        .replace("CARRIER_A_KEY", &a.party)
        .replace("CARRIER_B_KEY", &b.party);
    std::fs::write(dir.path().join("terms.toml"), &terms).unwrap();
    let proposed = ok(&format!("contract propose --terms {} --node {na} --json", d("terms.toml")));
    let bl = proposed["bilateral"].as_str().unwrap().to_string();
    until(&format!("contract accept --bilateral {bl} --node {nb} --json"), |_| true);
    until(
        &format!("order place --bilateral {bl} --order O-AB --tariff ic-2026 --node {na} --json"),
        |_| true,
    );
    until(&format!("order accept --bilateral {bl} --order O-AB --node {nb} --json"), |_| true);
    let usage = examples().join("usage-ab-2026-10.csv");
    let report = until(
        &format!(
            "usage import --bilateral {bl} --order O-AB --interval 2026-10 --file {} --node {na} --json",
            usage.display()
        ),
        |_| true,
    );
    assert!(report["accepted"].as_u64() > Some(0), "{report}");
    let agree =
        format!("rating agree --bilateral {bl} --order O-AB --interval 2026-10 --node {nb}");

    // October has closed, but late records may still come for an hour: nothing proposed.
    for clock in ["2026-10-31T23:59:59Z", "2026-11-01T00:59:59Z"] {
        ok(&format!("node clock --set {clock} --node {na} --json"));
        std::thread::sleep(Duration::from_millis(2_500));
        let err = fails(1, &agree);
        assert!(err.contains("rating"), "{err}");
    }
    // An hour after: A's node proposes the rating on its own, and B agrees to it.
    ok(&format!("node clock --set 2026-11-01T01:00:00Z --node {na} --json"));
    let agreed = until(&format!("{agree} --json"), |_| true);
    assert_eq!(agreed["interval"], "2026-10", "{agreed}");
    // Proposed once: a second proposal by hand is refused.
    let err = fails(
        1,
        &format!("rating propose --bilateral {bl} --order O-AB --interval 2026-10 --node {na}"),
    );
    assert!(err.contains("rating"), "{err}");
}
