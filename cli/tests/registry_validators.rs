//! A registry's validator set formed by four operators, each on its own host (here four
//! loopback addresses, 127.0.0.1 to 127.0.0.4): each runs `omni registry init` alone,
//! which makes its consensus key and prints only its public entry; `omni registry
//! genesis` assembles the validators file from the four entries (a malformed entry is
//! refused and nothing is written); each starts `omni registry start --validators`; the
//! administrator admits a member through one validator and every validator shows the
//! same block hash and state root. No private key is in anything that was exchanged.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};

mod common;
use common::{fails, generate_key, ok, Running, OMNI};

fn free_on(host: [u8; 4]) -> SocketAddr {
    TcpListener::bind(SocketAddr::from((host, 0))).unwrap().local_addr().unwrap()
}

#[test]
fn four_operators_form_a_validator_set_without_sharing_private_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let mut entries = Vec::new();
    let mut apis = Vec::new();
    for i in 0..4u8 {
        let host = [127, 0, 0, i + 1];
        let (api, consensus) = (free_on(host), free_on(host));
        let v = ok(&format!(
            "registry init --data {} --listen {api} --consensus-listen {consensus} --json",
            d(&format!("operator-{i}"))
        ));
        assert_eq!(v["entry"]["api"], api.to_string(), "{v}");
        assert_eq!(v["entry"]["public_key"].as_str().unwrap().len(), 64, "{v}");
        entries.push(v["file"].as_str().unwrap().to_string());
        apis.push(api);
    }
    let admin = generate_key(&dir.path().join("admin.key"));

    // A malformed entry is refused, naming it; nothing is written.
    let bad = dir.path().join("bad.json");
    let mut entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&entries[3]).unwrap()).unwrap();
    entry["public_key"] = "zz".repeat(32).into();
    std::fs::write(&bad, entry.to_string()).unwrap();
    let with = |last: &str| {
        format!(
            "registry genesis --validator {} --validator {} --validator {} --validator {last} \
             --admin {admin} --out {} --json",
            entries[0],
            entries[1],
            entries[2],
            d("validators.json")
        )
    };
    let err = fails(2, &with(&bad.display().to_string()));
    assert!(err.contains("public key"), "{err}");
    let err = fails(2, &with(&entries[0]));
    assert!(err.contains("two validators"), "{err}");
    assert!(!dir.path().join("validators.json").exists());
    // A genesis that names rating verifying keys starts no validator without them: the
    // refusal names both, and the store takes no genesis (the same operator starts below
    // under the real validator set).
    let named = "ab".repeat(32);
    let keyed = d("keyed.json");
    let with_keys = with(&entries[3]).replace(&d("validators.json"), &keyed);
    ok(&format!("{with_keys} --genesis-rating-keys-hash {named}"));
    let refused = Command::new(OMNI)
        .args(["registry", "start", "--data", &d("operator-0"), "--validators", &keyed])
        .env("OMNI_KEYS", dir.path().join("no-keys"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(err.contains(&named) && err.contains("runs no keys"), "{err}");

    let genesis = ok(&with(&entries[3]));
    assert_eq!(genesis["validators"], 4, "{genesis}");

    // What was exchanged holds no private key.
    let shared = std::fs::read_to_string(dir.path().join("validators.json")).unwrap();
    for i in 0..4 {
        let private =
            std::fs::read_to_string(dir.path().join(format!("operator-{i}/consensus.key")))
                .unwrap();
        assert!(!shared.contains(private.trim()), "operator {i}'s private key was shared");
    }

    let _validators: Vec<Running> = (0..4)
        .map(|i| {
            Running(
                Command::new(OMNI)
                    .args(["registry", "start", "--data", &d(&format!("operator-{i}"))])
                    .args(["--validators", &d("validators.json"), "--empty-block-ms", "200"])
                    .env("OMNI_KEYS", dir.path().join("no-keys"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();

    // The administrator admits a member through the third validator.
    let member = generate_key(&dir.path().join("member.key"));
    let registry = format!("http://{}", apis[2]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = common::omni(&format!(
            "member admit --registry {registry} --key {} --member {member} --json",
            d("admin.key")
        ));
        if out.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never admitted: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // Every validator shows the member and the same roots at a height all have.
    let height = {
        let s = ok(&format!("registry status --registry {registry} --json"));
        s["height"].as_u64().unwrap()
    };
    let mut roots = Vec::new();
    for api in &apis {
        let at = format!("http://{api}");
        let shown =
            common::until(&format!("member show --registry {at} --member {member} --json"), |v| {
                v["is_member"] == true
            });
        assert_eq!(shown["role"], "member", "{shown}");
        let r = common::until(
            &format!("registry roots --registry {at} --height {height} --json"),
            |_| true,
        );
        roots.push(r["roots"][0].clone());
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "{roots:?}");
}
