//! A registry transaction built, signed and submitted by a Python client that uses only
//! the published schema (`registry/protocol/proto/*.proto`, compiled by grpcio-tools) and
//! ordinary packages (grpcio, protobuf, cryptography): `clients/python/omni_registry.py`
//! against a real `omni registry start`. The registry executes its transactions, in the
//! same nonce sequence as the `omni` tools' native ones; it refuses a replayed nonce, a
//! signature for another registry, a corrupted signature and a sender without the role,
//! each with its reason, and nothing changes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::{free_port, generate_key, ok, Running, OMNI};

fn python(registry: &str, key: &Path, args: &str) -> (bool, serde_json::Value) {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/python/omni_registry.py");
    let out = Command::new("python3")
        .arg(client)
        .args(["--registry", registry, "--key"])
        .arg(key)
        .args(common::words(args))
        .output()
        .expect("python3 (scripts/setup installs the client's packages)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let answer = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "the Python client printed no JSON ({e}): {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), answer)
}

#[test]
fn a_python_client_builds_signs_and_submits_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let admin_key = dir.path().join("admin.key");
    let admin = generate_key(&admin_key);
    let listen = free_port();
    let registry = format!("http://{listen}");
    let _registry = Running(
        Command::new(OMNI)
            .args(["registry", "start", "--data"])
            .arg(dir.path().join("registry"))
            .args(["--listen", &listen.to_string(), "--admin", &admin])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let alice_key = dir.path().join("alice.key");
    let alice = generate_key(&alice_key);
    let bob = generate_key(&dir.path().join("bob.key"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !common::omni(&format!("registry status --registry {registry}")).status.success() {
        assert!(std::time::Instant::now() < deadline, "the registry never answered");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // The administrator admits Alice from Python; the omni tools see her.
    let (done, answer) = python(&registry, &admin_key, &format!("admit --member {alice}"));
    assert!(done, "{answer}");
    assert_eq!(answer["events"][0]["kind"], "MemberAdmitted", "{answer}");
    let shown = ok(&format!("member show --registry {registry} --member {alice} --json"));
    assert_eq!(shown["role"], "member", "{shown}");
    assert_eq!(answer["tx_hash"].as_str().map(str::len), Some(64), "{answer}");

    // Native and portable transactions share the administrator's nonce sequence.
    ok(&format!(
        "member admit --registry {registry} --key {} --member {bob} --role regulator --json",
        admin_key.display()
    ));
    std::fs::write(dir.path().join("declaration.md"), "# MEF 114: R1-R73\n").unwrap();
    let document = dir.path().join("declaration.md").display().to_string();
    let (done, answer) = python(
        &registry,
        &alice_key,
        &format!("conformance --document {document} --statement 'Option 1 invoices'"),
    );
    assert!(done, "{answer}");
    let shown = ok(&format!("member show --registry {registry} --member {alice} --json"));
    assert_eq!(shown["conformance"]["statement"], "Option 1 invoices", "{shown}");

    // Refusals, each with its reason; nothing changes.
    let stranger = "07".repeat(32);
    let cases = [
        (
            &admin_key,
            format!("--nonce 0 admit --member {stranger}"),
            "FAILED_PRECONDITION",
            "nonce",
        ),
        (
            &admin_key,
            format!("--registry-id {} admit --member {stranger}", "ab".repeat(32)),
            "UNAUTHENTICATED",
            "signature",
        ),
        (
            &admin_key,
            format!("--corrupt-signature admit --member {stranger}"),
            "UNAUTHENTICATED",
            "signature",
        ),
        (&alice_key, format!("admit --member {stranger}"), "PERMISSION_DENIED", "admin"),
    ];
    for (key, args, code, says) in cases {
        let (done, answer) = python(&registry, key, &args);
        assert!(!done, "{args}: {answer}");
        assert_eq!(answer["error"], code, "{args}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(says), "{args}: {answer}");
    }
    let shown = ok(&format!("member show --registry {registry} --member {stranger} --json"));
    assert_eq!(shown["is_member"], false, "{shown}");
    let members = ok(&format!("registry members --registry {registry} --json"));
    assert_eq!(members["members"].as_array().map(Vec::len), Some(3), "{members}");
}
