//! SIGTERM — what `systemctl stop`, `docker stop` and Kubernetes send — stops `omni
//! registry start` and `omni node start` the way Ctrl-C does: a graceful shutdown, exit
//! status 0, and a restart on the same data finds everything it held.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{free_port, ok, omni, Running, OMNI};

/// Runs `line` until it succeeds (the process it asks may still be starting).
fn answered(line: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = omni(line);
        if out.status.success() {
            return serde_json::from_slice(&out.stdout).unwrap();
        }
        assert!(Instant::now() < deadline, "{line}: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends SIGTERM to `child` and waits (at most 30 s) for it to exit.
fn terminate(child: &mut Child) -> ExitStatus {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process {pid} ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_stops_a_registry_and_a_node_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let listen = free_port();
    let start = || {
        Running(
            Command::new(OMNI)
                .args(["registry", "start", "--data", &d("registry"), "--listen"])
                .arg(listen.to_string())
                .env("OMNI_KEYS", dir.path().join("no-keys"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let registry = format!("http://{listen}");
    let mut running = start();
    let before = answered(&format!("registry status --registry {registry} --json"));
    let status = terminate(&mut running.0);
    let mut stderr = String::new();
    std::io::Read::read_to_string(running.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("registry stopped"), "{stderr}");
    // The same registry, at least as far as it was.
    let _again = start();
    let after = answered(&format!("registry status --registry {registry} --json"));
    assert_eq!(after["registry_id"], before["registry_id"], "{after}");
    assert!(after["height"].as_u64() >= before["height"].as_u64(), "{after}");

    let api = free_port();
    let v = ok(&format!(
        "node init --dir {} --name carrier --api {api} --sync-listen {} --json",
        d("node"),
        free_port()
    ));
    let config = v["config"].as_str().unwrap().to_string();
    let mut node = Command::new(OMNI)
        .args(["node", "start", "--config", &config])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    answered(&format!("node status --node http://{api} --json"));
    let status = terminate(&mut node);
    let mut stderr = String::new();
    std::io::Read::read_to_string(node.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("carrier: stopping"), "{stderr}");
}
