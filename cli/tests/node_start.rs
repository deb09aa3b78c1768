//! `omni node start --config FILE` as a real process: it opens its RocksDB ledger, serves
//! the billing API on 127.0.0.1 (answering a real gRPC client), and refuses a bad
//! configuration with a clear message.
#![allow(clippy::unwrap_used)]

use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::proto::{ListBilateralsRequest, ListBillsRequest};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const OMNI: &str = env!("CARGO_BIN_EXE_omni");

/// Kills the node when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_node_serves_its_billing_api_and_refuses_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let generated = Command::new(OMNI)
        .args(["keys", "generate", "--out"])
        .arg(dir.path().join("a.key"))
        .output()
        .unwrap();
    assert!(generated.status.success());
    let party = String::from_utf8(generated.stdout).unwrap().trim().to_string();

    // A misspelt setting: refused, naming it.
    let config = dir.path().join("node.json");
    std::fs::write(&config, r#"{"key_file":"a.key","data_dir":"data","biling_api":"127.0.0.1:0"}"#)
        .unwrap();
    let refused = Command::new(OMNI).args(["node", "start", "--config"]).arg(&config).output();
    let refused = refused.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("biling_api"), "{stderr}");

    std::fs::write(
        &config,
        r#"{"name":"carrier-a","key_file":"a.key","data_dir":"data","billing_api":"127.0.0.1:0"}"#,
    )
    .unwrap();
    let mut node = Killed(
        Command::new(OMNI)
            .args(["node", "start", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(node.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains(&party), "{line}");
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = BillingClient::connect(format!("http://{addr}")).await.unwrap();
        let listed = client.list_bilaterals(ListBilateralsRequest {}).await.unwrap();
        assert!(listed.into_inner().bilaterals.is_empty());
        let unknown = omni_core::Hash32::digest("test", b"none").to_hex();
        let err = client.list_bills(ListBillsRequest { bilateral: unknown }).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{err}");
    });
    assert!(dir.path().join("data").is_dir(), "the ledger's RocksDB directory");
}
