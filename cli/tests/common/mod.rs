//! What the CLI's process tests share: the `omni` binary run as a person types it, the
//! exit-status conventions (0 done, 1 refused, 2 could not ask), polling until a
//! counterparty's step arrives, and processes that never outlive their test.
#![allow(dead_code)] // each test binary uses its own part

use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The binary under test.
pub const OMNI: &str = env!("CARGO_BIN_EXE_omni");

/// Kills a process when dropped, however the test ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The words of a command line: split at spaces, except inside single quotes.
pub fn words(line: &str) -> Vec<String> {
    let (mut out, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Runs `omni` with the words of `line`.
pub fn omni(line: &str) -> Output {
    Command::new(OMNI).args(words(line)).output().unwrap()
}

/// Runs a command that must succeed and returns its JSON answer.
pub fn ok(line: &str) -> Value {
    let out = omni(line);
    assert!(
        out.status.success(),
        "omni {line} failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("omni {line}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

/// Runs a command that must end with exit status `code` and returns its error text.
pub fn fails(code: i32, line: &str) -> String {
    let out = omni(line);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "omni {line}: {err}");
    err
}

/// Polls a command's JSON answer until it succeeds and `done` holds; the command may be
/// refused meanwhile (exit 1: the counterparty's step has not arrived yet, or the
/// registry has not caught up), never fail otherwise.
pub fn until(line: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = omni(line);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(0 | 1)), "omni {line}: {err}");
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "omni {line}: {v}");
        }
        assert!(Instant::now() < deadline, "omni {line} still refused: {err}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs a command until it succeeds (module docs of [`until`]).
pub fn eventually(line: &str) -> Value {
    until(line, |_| true)
}

/// Starts `omni node start --config CONFIG` and waits until its API listens.
pub fn start_node(config: &Path) -> Running {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(OMNI)
        .args(["node", "start", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("API listening"), "{line}");
    Running(child)
}

/// `omni keys generate --out FILE`: the new party key (hex).
pub fn generate_key(file: &Path) -> String {
    let out = omni(&format!("keys generate --out {}", file.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `omni registry start` on a free port with rating keys and an administrator; returns
/// the process and its endpoint.
pub fn start_registry(data: &Path, admin: &str, vk: &str, hash: &str) -> (Running, String) {
    let listen = free_port();
    let child = Command::new(OMNI)
        .args(["registry", "start", "--data"])
        .arg(data)
        .args(["--listen", &listen.to_string()])
        .args(["--admin", admin, "--rating-keys", vk, "--rating-keys-hash", hash])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (Running(child), format!("http://{listen}"))
}
