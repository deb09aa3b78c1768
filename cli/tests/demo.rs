//! `omni demo --json` as a real process: a registry and four carrier nodes — each its own
//! `omni node start` process — on 127.0.0.1 with RocksDB under the given directory, real
//! rating and compliance proofs, every bilateral step through the nodes' API.
//! The figures of its JSON object must show every capability working, the human-readable
//! invoices must be written, and a second run into the same directory is refused without
//! touching what the first one left.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::process::Command;

const OMNI: &str = env!("CARGO_BIN_EXE_omni");

fn demo(out: &std::path::Path) -> std::process::Output {
    Command::new(OMNI).args(["demo", "--json", "--out"]).arg(out).output().unwrap()
}

#[test]
fn the_demo_tells_the_whole_story_and_its_figures_hold() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = demo(&out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "omni demo failed: {stderr}");
    let j: Value = serde_json::from_slice(&run.stdout).unwrap();

    assert_eq!(j["ok"], true);
    // Seven proven invoices, each verified by its buyer's node and by the registry.
    assert_eq!(j["invoices_verified"], 7, "{j}");
    assert_eq!(j["disputes_resolved"], 1);
    assert_eq!(j["credit_notes"], 1);
    assert_eq!(j["compliance_maps_verified"], 1);
    assert_eq!(j["compliance"][0]["hops"], 3);
    assert_eq!(j["compliance"][0]["registry_status"], "compliant");
    assert_eq!(j["double_pledge_refused"], true);
    assert!(j["pledge"]["registry_refusal"].as_str().unwrap().contains("already pledged"));

    // Netting: the registry's instructions move exactly the optimum, less than the gross.
    let (gross, settled, optimal) = (
        j["netting_gross"].as_i64().unwrap(),
        j["netting_settled"].as_i64().unwrap(),
        j["netting_optimal"].as_i64().unwrap(),
    );
    assert_eq!(settled, optimal);
    assert!(0 < settled && settled < gross, "settled {settled} of gross {gross}");
    let nets: i64 =
        j["netting"]["nets"].as_array().unwrap().iter().map(|n| n[1].as_i64().unwrap()).sum();
    assert_eq!(nets, 0, "net positions add up to zero");
    assert_eq!(j["netting"]["registry_settled_volume"], settled.to_string());
    assert!(j["netting_transfers"].as_u64().unwrap() <= 3, "at most n − 1 transfers");

    // Reputation: the late payer scores below a punctual one.
    let rep = j["reputation"].as_object().unwrap();
    assert_eq!(rep.len(), 4);
    let late: Vec<&Value> = rep.values().filter(|r| r["paid_late"].as_u64() > Some(0)).collect();
    assert_eq!(late.len(), 1, "{rep:?}");
    let punctual = rep
        .values()
        .filter(|r| r["paid_late"] == 0 && r["paid_on_time"].as_u64() > Some(0))
        .map(|r| r["paydex"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(late[0]["paydex"].as_u64().unwrap() < punctual, "{rep:?}");
    assert!(late[0]["on_time_ratio_bp"].as_u64().unwrap() < 10_000);

    // Every node's chain replays to the state its counterparty's does.
    assert_eq!(j["bilaterals"], 5);
    assert_eq!(j["chains_verified"], 10);
    assert_eq!(j["carriers"], 4);
    assert_eq!(j["conformance_published"], 4);
    assert_eq!(j["anchors"], 10);
    assert!(j["duplicates_refused"].as_u64().unwrap() > 0);
    assert!(j["rating_keys"].as_str().unwrap().contains("development"));

    // A human-readable invoice (R73) of each invoice, and the stores, are kept in --out.
    let invoices = j["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 8);
    for inv in invoices {
        let text = std::fs::read_to_string(inv["file"].as_str().unwrap()).unwrap();
        assert!(text.starts_with("INVOICE "), "{text}");
        assert!(text.contains(inv["number"].as_str().unwrap()));
    }
    for inv in invoices {
        let html = std::path::Path::new(inv["file"].as_str().unwrap()).with_extension("html");
        let html = std::fs::read_to_string(&html).unwrap();
        assert!(html.contains("<html") && html.contains(inv["number"].as_str().unwrap()));
    }
    assert!(out.join("registry").is_dir(), "the registry's store is missing");
    // Each carrier ran as an operator runs a node: its own configuration, key, store and
    // log, on a simulated clock; the contracts were proposed from terms files.
    for carrier in ["carrier-a", "carrier-b", "carrier-c", "carrier-d"] {
        let dir = out.join(carrier);
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("node.json")).unwrap()).unwrap();
        assert!(config["clock"]["simulated_from"].is_string(), "{config}");
        assert!(dir.join("data").is_dir() && dir.join("node.key").is_file());
        let log = std::fs::read_to_string(dir.join("node.log")).unwrap();
        assert!(log.contains("billing API listening on"), "{carrier}: {log}");
    }
    for msa in ["MSA-AB", "MSA-BC", "MSA-CD", "MSA-DA", "MSA-BD"] {
        let terms = std::fs::read_to_string(out.join("terms").join(format!("{msa}.toml"))).unwrap();
        assert!(terms.contains(&format!("reference = \"{msa}\"")), "{terms}");
    }

    // A second run into the same directory is refused and changes nothing.
    let listing = |d: &std::path::Path| {
        let mut v: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        v.sort();
        v
    };
    let before = listing(&out.join("invoices"));
    let again = demo(&out);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("empty --out directory"), "{stderr}");
    assert_eq!(listing(&out.join("invoices")), before);

    // Bad arguments are refused with the reason.
    let bad = Command::new(OMNI).args(["demo", "--records", "2"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--records must be at least 4"));
}
