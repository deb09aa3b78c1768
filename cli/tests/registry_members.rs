//! The registry's membership administrator and members at work through the `omni` CLI
//! only, against a real `omni registry start` process: admit, show, remove, credentials,
//! conformance declarations — and what a member without the role, a malformed key or a
//! malformed commitment gets.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};

mod common;
use common::{fails, free_port, ok, omni, Running, OMNI};

#[test]
fn the_administrator_and_members_work_the_registry_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let generate = |file: &str| {
        let out = omni(&format!("keys generate --out {}", d(file)));
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (admin, alice, bob) = (generate("admin.key"), generate("alice.key"), generate("bob.key"));
    let listen = free_port();
    let registry = format!("http://{listen}");
    let _registry = Running(
        Command::new(OMNI)
            .args(["registry", "start", "--data", &d("registry"), "--listen"])
            .arg(listen.to_string())
            .args(["--admin", &admin])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let as_admin = format!("--registry {registry} --key {} --json", d("admin.key"));
    let as_alice = format!("--registry {registry} --key {} --json", d("alice.key"));

    // Alice is not a member until the administrator admits her (the registry may still be
    // starting: it cannot be asked yet, exit 2).
    let show_alice = format!("member show --registry {registry} --member {alice} --json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let shown = loop {
        let out = omni(&show_alice);
        if out.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        }
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::time::Instant::now() < deadline, "the registry never answered");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(shown["is_member"], false);
    let admitted = ok(&format!("member admit {as_admin} --member {alice}"));
    assert_eq!(admitted["role"], "member");
    assert_eq!(admitted["tx"].as_str().unwrap().len(), 64);
    ok(&format!("member admit {as_admin} --member {bob} --role regulator"));
    let shown = ok(&format!("member show --registry {registry} --member {alice} --json"));
    assert_eq!((shown["is_member"].clone(), shown["role"].clone()), (true.into(), "member".into()));
    // The same command again is the same transaction, not a second admission.
    let again = ok(&format!("member admit {as_admin} --member {alice}"));
    assert_eq!(again["tx"], admitted["tx"]);

    // A member without the administrator's role is refused, with the registry's reason,
    // and nothing changes.
    let err = fails(1, &format!("member remove {as_alice} --member {bob}"));
    assert!(err.contains("refused RemoveMember") && err.contains("admin"), "{err}");
    let shown = ok(&format!("member show --registry {registry} --member {bob} --json"));
    assert_eq!(shown["role"], "regulator");

    // Credentials: issued at a leaf, revoked by it; an unknown leaf is refused.
    let commitment = format!("07{}", "00".repeat(31));
    let issued =
        ok(&format!("credential issue {as_admin} --member {alice} --commitment {commitment}"));
    assert_eq!(issued["leaf"], 0, "{issued}");
    ok(&format!("credential revoke {as_admin} --leaf 0"));
    let err = fails(1, &format!("credential revoke {as_admin} --leaf 9"));
    assert!(err.contains("refused RevokeCredential"), "{err}");

    // Alice publishes her conformance declaration; the registry shows its hash.
    std::fs::write(dir.path().join("declaration.md"), "# We implement MEF 114 R1-R73\n").unwrap();
    let published = ok(&format!(
        "conformance publish {as_alice} --document {} --statement 'Option 1 invoices'",
        d("declaration.md")
    ));
    let shown = ok(&format!("member show --registry {registry} --member {alice} --json"));
    assert_eq!(shown["conformance"]["document_sha256"], published["document_sha256"]);
    assert_eq!(shown["conformance"]["statement"], "Option 1 invoices");

    // The list: the founding administrator and the two admitted; by role, the regulator.
    let listed = ok(&format!("member list --registry {registry} --json"));
    let parties: Vec<&str> = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member"].as_str().unwrap())
        .collect();
    let mut expected = vec![admin.as_str(), alice.as_str(), bob.as_str()];
    expected.sort();
    assert_eq!(parties, expected, "every member, in party-key order");
    let regulators = ok(&format!("member list --registry {registry} --role regulator --json"));
    assert_eq!(regulators["members"].as_array().unwrap().len(), 1);
    assert_eq!(regulators["members"][0]["member"], bob.as_str());
    fails(2, &format!("member list --registry {registry} --role king"));

    // The administrator removes Bob.
    ok(&format!("member remove {as_admin} --member {bob}"));
    let shown = ok(&format!("member show --registry {registry} --member {bob} --json"));
    assert_eq!(shown["is_member"], false);

    // Malformed input is refused before anything is signed (exit 2).
    let err = fails(2, &format!("member admit {as_admin} --member not-a-key"));
    assert!(err.contains("--member"), "{err}");
    let err = fails(2, &format!("member admit {as_admin} --member {bob} --role king"));
    assert!(err.contains("--role"), "{err}");
    let err = fails(2, &format!("credential issue {as_admin} --member {bob} --commitment 12"));
    assert!(err.contains("--commitment"), "{err}");
    let long = "x".repeat(1025);
    let err = fails(
        2,
        &format!(
            "conformance publish {as_alice} --document {} --statement {long}",
            d("declaration.md")
        ),
    );
    assert!(err.contains("--statement"), "{err}");
    let err = fails(
        2,
        &format!("member remove --registry {registry} --key {} --member {bob}", d("none.key")),
    );
    assert!(err.contains("none.key"), "{err}");
}
