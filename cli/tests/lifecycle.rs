//! A bilateral's whole life through the `omni` command line only, as two carriers'
//! billing teams and a registry operator would type it: `omni registry start`, two
//! `omni node start` processes, and every step — keys, configurations, contract, order,
//! usage imported from CSV, rating, an Option 1 invoice proven by the seller's node and
//! verified by the buyer's node and by the registry, acceptance, payment notice and
//! receipt — until the registry shows the invoice paid on time. No library call drives
//! any step; the test only reads the commands' `--json` answers.
//!
//! Bad input is refused with an error that names what is wrong, and changes nothing:
//! terms with an unknown or missing field, a tariff a rating proof cannot cover, a usage
//! file with bad lines, an invoice of an interval not rated, a bilateral the node is not
//! party to.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::{eventually, examples, fails, free_port, ok, omni, start_node, until, Running, OMNI};

/// Runs a command that must be refused by the node (exit 1) and returns its error text.
fn refused(line: &str) -> String {
    fails(1, line)
}

struct Carrier {
    party: String,
    api: String,
    config: PathBuf,
}

#[test]
fn a_bilateral_lifecycle_through_the_cli_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();

    // Rating keys (development setup, small chunks) and a registry that verifies with them.
    let keys = ok(&format!("keys rating-setup --out {} --chunk-size 32 --json", d("keys")));
    let (vk, hash) = (keys["verifying_key"].as_str().unwrap(), keys["hash"].as_str().unwrap());
    let admin_key = dir.path().join("admin.key");
    let admin = String::from_utf8(omni(&format!("keys generate --out {}", d("admin.key"))).stdout)
        .unwrap()
        .trim()
        .to_string();
    let registry_at = free_port();
    let registry = format!("http://{registry_at}");
    let _registry = Running(
        Command::new(OMNI)
            .args(["registry", "start", "--data", &d("registry"), "--listen"])
            .arg(registry_at.to_string())
            .args(["--admin", &admin, "--rating-keys", vk, "--rating-keys-hash", hash])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Each carrier makes its key; they exchange party keys and sync addresses.
    let generate = |file: &str| {
        let out = omni(&format!("keys generate --out {}", d(file)));
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (key_a, key_b) = (generate("a.key"), generate("b.key"));
    let (sync_a, sync_b) = (free_port(), free_port());
    let init = |name: &str, key: &str, sync: SocketAddr, peer: String| -> Carrier {
        let api = free_port();
        let (dir, key) = (d(name), d(key));
        // Carrier A's node publishes its conformance declaration (R13) once admitted.
        let declaration = if name == "carrier-a" {
            let doc = examples().join("../docs/mef114-conformance.md").display().to_string();
            format!(
                " --conformance-document {doc} --conformance-statement 'MEF 114 self-declaration'"
            )
        } else {
            String::new()
        };
        let v = ok(&format!(
            "node init --dir {dir} --name {name} --key {key} --api {api} --sync-listen {sync} \
             --peer {peer} --registry {registry} --rating-keys {vk} --rating-keys-hash {hash}{declaration} --json"
        ));
        Carrier {
            party: v["party"].as_str().unwrap().to_string(),
            api: format!("http://{api}"),
            config: PathBuf::from(v["config"].as_str().unwrap()),
        }
    };
    let a = init("carrier-a", "a.key", sync_a, format!("{key_b}@{sync_b}"));
    let b = init("carrier-b", "b.key", sync_b, format!("{key_a}@{sync_a}"));
    assert_eq!((a.party.as_str(), b.party.as_str()), (key_a.as_str(), key_b.as_str()));
    // A second init in the same directory could not be done, and keeps the first key.
    let first_key = std::fs::read(dir.path().join("carrier-a/node.key")).unwrap();
    let again = omni(&format!("node init --dir {} --json", d("carrier-a")));
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read(dir.path().join("carrier-a/node.key")).unwrap(), first_key);
    let node_a = start_node(&a.config);
    let _node_b = start_node(&b.config);
    let admin_key = admin_key.display().to_string();
    for party in [&a.party, &b.party] {
        ok(&format!(
            "member admit --registry {registry} --key {admin_key} --member {party} --json"
        ));
    }
    let shown =
        until(&format!("member show --registry {registry} --member {} --json", a.party), |v| {
            v["conformance"]["statement"] == "MEF 114 self-declaration"
        });
    assert_eq!(shown["conformance"]["document_sha256"].as_str().map(str::len), Some(64), "{shown}");
    let err = fails(
        2,
        &format!(
            "node init --dir {} --conformance-document {} --conformance-statement x --json",
            d("carrier-x"),
            d("no-such-declaration.md")
        ),
    );
    assert!(err.contains("no-such-declaration.md"), "{err}");

    // The contract: A proposes the example terms, B accepts.
    let terms = std::fs::read_to_string(examples().join("terms.toml"))
        .unwrap()
        .replace("CARRIER_A_KEY", &a.party)
        .replace("CARRIER_B_KEY", &b.party);
    std::fs::write(dir.path().join("terms.toml"), &terms).unwrap();
    let (na, nb) = (a.api.as_str(), b.api.as_str());
    bad_terms(dir.path(), &terms, na);
    let proposed =
        ok(&format!("contract propose --terms {} --node {} --json", d("terms.toml"), na));
    let bilateral = proposed["bilateral"].as_str().unwrap().to_string();
    let bl = bilateral.as_str();
    eventually(&format!("contract accept --bilateral {bl} --node {nb} --json"));
    until(&format!("contract show --bilateral {} --node {} --json", bl, na), |v| {
        v["status"] == "active"
    });

    // A node that is not party to a bilateral refuses it by name.
    let other = "00".repeat(32);
    let err = refused(&format!("contract show --bilateral {other} --node {na} --json"));
    assert!(err.contains("unknown bilateral"), "{err}");

    // A's order of interconnect, which B accepts.
    ok(&format!("order place --bilateral {bl} --order O-AB --tariff ic-2026 --node {na} --json"));
    eventually(&format!("order accept --bilateral {bl} --order O-AB --node {nb} --json"));
    until(&format!("order list --bilateral {} --node {} --json", bl, na), |v| {
        v["orders"][0]["status"] == "agreed"
    });
    supply_chain(dir.path(), &registry, &admin_key, bl, na, &a.party);

    // Usage from CSV; a file with bad lines reports them and handles the good ones.
    let bad = "id,usageDate,usageType,quantity,unit\n\
               ok-1,2026-11-02T10:00:00Z,sms-mt,3,msg\n\
               bad-qty,2026-11-02T10:00:00Z,sms-mt,three,msg\n\
               bad-date,2026-12-02T10:00:00Z,sms-mt,3,msg\n\
               bad-product,2026-11-02T10:00:00Z,roaming,3,msg\n";
    std::fs::write(dir.path().join("bad.csv"), bad).unwrap();
    let report = ok(&format!(
        "usage import --bilateral {} --order O-AB --interval 2026-11 --file {} --node {} --json",
        bl,
        d("bad.csv"),
        na
    ));
    assert_eq!(report["accepted"], 1, "{report}");
    let lines: Vec<(u64, String)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l["field"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        lines,
        vec![(3, "quantity".into()), (4, "usageDate".into()), (5, "usageType".into())],
        "{report}"
    );
    let usage = examples().join("usage-ab-2026-11.csv").display().to_string();
    let report = ok(&format!("usage import --bilateral {bl} --order O-AB --interval 2026-11 --file {usage} --node {na} --json"));
    assert_eq!(
        (report["accepted"].as_u64(), report["refused"].as_array().map(Vec::len)),
        (Some(40), Some(0))
    );
    let again = ok(&format!("usage import --bilateral {bl} --order O-AB --interval 2026-11 --file {usage} --node {na} --json"));
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(40)));

    // No invoice before the rating is agreed.
    let err = refused(&format!("invoice issue --bilateral {bl} --order O-AB --interval 2026-11 --number INV-AB-2026-11 --node {na} --json"));
    assert!(err.contains("no agreed rating"), "{err}");

    ok(&format!(
        "rating propose --bilateral {bl} --order O-AB --interval 2026-11 --node {na} --json"
    ));
    eventually(&format!(
        "rating agree --bilateral {bl} --order O-AB --interval 2026-11 --node {nb} --json"
    ));

    // Option 1: A's node proves the invoice (the command waits for the proof); B's node
    // verifies the proof before B can accept; the registry verifies it too.
    // (The agreement reaches A over the sync: issuing waits for it.)
    let issued = eventually(&format!("invoice issue --bilateral {bl} --order O-AB --interval 2026-11 --number INV-AB-2026-11 --node {na} --json"));
    assert_eq!(issued["proof"]["state"], "proven", "{issued}");
    let number = "INV-AB-2026-11";
    eventually(&format!("invoice accept --bilateral {bl} --number {number} --node {nb} --json"));
    let seen_by_b =
        ok(&format!("invoice show --bilateral {bl} --number {number} --node {nb} --json"));
    assert_eq!(seen_by_b["rating_proof"], issued["proof"]["rating_proof"], "{seen_by_b}");
    let text = omni(&format!("invoice show --bilateral {bl} --number {number} --node {nb}"));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains(number) && text.contains("Carrier A") && text.contains("EUR"), "{text}");

    let opening = ok(&format!(
        "invoice opening --bilateral {} --number {} --out {} --node {} --json",
        bl,
        number,
        d("opening.json"),
        na
    ));
    let registry_invoice = opening["registry_invoice"].as_str().unwrap().to_string();
    let ri = registry_invoice.as_str();
    until(&format!("registry invoice --registry {} --invoice {} --json", registry, ri), |v| {
        v["status"] == "accepted"
    });
    let pledged = financiers(dir.path(), &registry, &admin_key, ri, &b.party);

    // B pays what it owes; A confirms the receipt; the registry attests it paid on time.
    ok(&format!(
        "payment notify --bilateral {bl} --number {number} --payment PAY-1 --node {nb} --json"
    ));
    eventually(&format!("payment receipt --bilateral {bl} --payment PAY-1 --node {na} --json"));
    let paid =
        until(&format!("registry invoice --registry {} --invoice {} --json", registry, ri), |v| {
            v["status"] == "paid"
        });
    assert_eq!(paid["payer"], b.party.as_str(), "{paid}");
    assert_eq!(paid["payer_reputation"]["paid_on_time"], 1, "{paid}");
    assert_eq!(paid["payer_reputation"]["paid_late"], 0, "{paid}");
    // The financier sees the payment on what it holds, and releases its pledge.
    let held = ok(&format!("finance status {pledged} --json"));
    let changes = held["holdings"][0]["changes"].to_string();
    assert!(changes.contains("paid at"), "{held}");
    ok(&format!("finance release {pledged} --invoice {ri} --json"));
    let held = ok(&format!("finance status {pledged} --json"));
    assert_eq!(held["holdings"].as_array().map(Vec::len), Some(0), "{held}");
    let err = fails(1, &format!("finance release {pledged} --invoice {ri}"));
    assert!(err.contains("holds no pledge"), "{err}");

    let status = ok(&format!("node status --node {na} --json"));
    assert_eq!(status["outbox_refused"], 0, "{status}");
    assert_eq!(status["bilaterals"][0]["bilateral"], bl, "{status}");

    // October, invoiced late: A's node is killed (SIGKILL) while it proves, and proves the
    // invoice once after its restart.
    let usage = examples().join("usage-ab-2026-10.csv").display().to_string();
    ok(&format!("usage import --bilateral {bl} --order O-AB --interval 2026-10 --file {usage} --node {na} --json"));
    ok(&format!(
        "rating propose --bilateral {bl} --order O-AB --interval 2026-10 --node {na} --json"
    ));
    eventually(&format!(
        "rating agree --bilateral {bl} --order O-AB --interval 2026-10 --node {nb} --json"
    ));
    let october = "INV-AB-2026-10";
    let issued = eventually(&format!("invoice issue --bilateral {bl} --order O-AB --interval 2026-10 --number {october} --no-wait --node {na} --json"));
    assert!(
        issued["proof"]["state"] == "queued" || issued["proof"]["state"] == "proving",
        "{issued}"
    );
    drop(node_a);
    let node_a = start_node(&a.config);
    let proof =
        ok(&format!("invoice proof --bilateral {bl} --number {october} --wait --node {na} --json"));
    assert_eq!(proof["state"], "proven", "{proof}");
    let issued_again = refused(&format!("invoice issue --bilateral {bl} --order O-AB --interval 2026-10 --number INV-AB-2026-10-BIS --node {na} --json"));
    assert!(issued_again.contains("already invoiced"), "{issued_again}");
    let invoices = ok(&format!("invoice list --bilateral {bl} --node {na} --json"));
    assert_eq!(invoices["invoices"].as_array().map(Vec::len), Some(2), "{invoices}");

    // B disputes the largest item; A resolves it without adjustment and credits half of
    // the disputed amount with a credit note; the final invoice is agreed; the registry
    // shows the invoice accepted again.
    let shown =
        eventually(&format!("invoice show --bilateral {bl} --number {october} --node {nb} --json"));
    let item = shown["items"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|i| i["micros"].as_i64().unwrap())
        .unwrap()
        .clone();
    let (item_no, disputed) =
        (item["item"].as_u64().unwrap(), item["micros"].as_i64().unwrap() / 5);
    let dispute = format!("{item_no}:{}:records double-counted", micros_text(disputed));
    eventually(&format!(
        "invoice dispute --bilateral {bl} --number {october} --item '{dispute}' --node {nb} --json"
    ));
    let resolution = format!("{item_no}:0:half agreed, credited by CN-1");
    eventually(&format!("invoice resolve --bilateral {bl} --number {october} --item '{resolution}' --node {na} --json"));
    ok(&format!("invoice credit-note --bilateral {} --number {} --credit-note CN-1 --amount {} --reason 'half of the double-counted records' --node {} --json", bl, october, micros_text(disputed / 2), na));
    let accepted = eventually(&format!(
        "invoice accept --bilateral {bl} --number {october} --node {nb} --json"
    ));
    assert_eq!(accepted["accepted"].as_array().map(Vec::len), Some(2), "{accepted}");
    eventually(&format!("invoice final --bilateral {bl} --number {october} --node {na} --json"));
    eventually(&format!("invoice accept --bilateral {bl} --number {october} --node {nb} --json"));
    let october_ri = issued["registry_invoice"].as_str().unwrap().to_string();
    let accepted = ok(&format!(
        "registry invoice --registry {registry} --invoice {october_ri} --wait-for accepted --json"
    ));
    // A's node recorded CN-1 on the registry as a credit, and B's node accepted the
    // amount due only once the registry showed it: the proven amount less the credit.
    assert_eq!(accepted["credits"].as_array().map(Vec::len), Some(1), "{accepted}");
    assert_ne!(accepted["amount_due_commitment"], accepted["amount_commitment"], "{accepted}");
    credits_and_financiers(dir.path(), &registry, &pledged, &october_ri, (bl, october), (na, nb));

    // B sells voice to A in October (Option 1 too); A accepts. The two invoices and the
    // credit note fall due in the same month and are netted; the net payer pays, and the
    // registry shows both invoices settled.
    ok(&format!(
        "order place --bilateral {bl} --order O-BA --tariff voice-2026 --node {nb} --json"
    ));
    eventually(&format!("order accept --bilateral {bl} --order O-BA --node {na} --json"));
    let usage = examples().join("usage-ba-2026-10.csv").display().to_string();
    eventually(&format!("usage import --bilateral {bl} --order O-BA --interval 2026-10 --file {usage} --node {nb} --json"));
    ok(&format!(
        "rating propose --bilateral {bl} --order O-BA --interval 2026-10 --node {nb} --json"
    ));
    eventually(&format!(
        "rating agree --bilateral {bl} --order O-BA --interval 2026-10 --node {na} --json"
    ));
    let voice = eventually(&format!("invoice issue --bilateral {bl} --order O-BA --interval 2026-10 --number INV-BA-2026-10 --node {nb} --json"));
    eventually(&format!(
        "invoice accept --bilateral {bl} --number INV-BA-2026-10 --node {na} --json"
    ));
    let voice_ri = voice["registry_invoice"].as_str().unwrap().to_string();
    ok(&format!(
        "registry invoice --registry {registry} --invoice {voice_ri} --wait-for accepted --json"
    ));

    let due = ok(&format!("registry invoice --registry {registry} --invoice {voice_ri} --json"));
    let period = due["due_date"].as_str().unwrap()[..7].to_string();
    let netting = eventually(&format!(
        "netting propose --bilateral {bl} --netting NET-1 --period {period} --node {na} --json"
    ));
    // The October invoice, its two credit notes and the voice invoice.
    let documents = netting["documents"].as_array().unwrap().len();
    assert_eq!(documents, 4, "{netting}");
    eventually(&format!("netting accept --bilateral {bl} --netting NET-1 --node {nb} --json"));
    let (payer_node, payee_node) =
        if netting["payer"] == a.party.as_str() { (na, nb) } else { (nb, na) };
    let amount = micros_text(netting["micros"].as_i64().unwrap());
    eventually(&format!("payment notify --bilateral {bl} --netting NET-1 --payment PAY-NET-1 --amount {amount} --node {payer_node} --json"));
    eventually(&format!(
        "payment receipt --bilateral {bl} --payment PAY-NET-1 --node {payee_node} --json"
    ));
    let settled = ok(&format!(
        "registry invoice --registry {registry} --invoice {october_ri} --wait-for paid --json"
    ));
    assert_eq!(settled["payer_reputation"]["paid_on_time"], 2, "{settled}");
    assert_eq!(settled["payer_reputation"]["paid_late"], 0, "{settled}");
    let settled = ok(&format!(
        "registry invoice --registry {registry} --invoice {voice_ri} --wait-for paid --json"
    ));
    assert_eq!(settled["payer"], a.party.as_str(), "{settled}");
    assert_eq!(settled["payer_reputation"]["paid_on_time"], 1, "{settled}");
    for node in [na, nb] {
        let status = ok(&format!("node status --node {node} --json"));
        assert_eq!(status["outbox_refused"], 0, "{status}");
    }
    drop(node_a);
}

/// Two financiers and an invoice the seller shows them (its opening in `opening.json`):
/// the first checks and pledges it, the second's check says it is pledged and its pledge
/// is refused; a forged opening, an unknown invoice and a key without the financier's
/// role are refused too. Returns the first financier's signing arguments.
fn financiers(dir: &Path, registry: &str, admin_key: &str, ri: &str, payer: &str) -> String {
    let d = |p: &str| dir.join(p).display().to_string();
    let mut signers = Vec::new();
    for (name, role) in [("f1", "financier"), ("f2", "financier"), ("carrier-c", "member")] {
        let key = d(&format!("{name}.key"));
        let out = omni(&format!("keys generate --out {key}"));
        let party = String::from_utf8(out.stdout).unwrap().trim().to_string();
        ok(&format!(
            "member admit --registry {registry} --key {admin_key} --member {party} --role {role} --json"
        ));
        signers.push(format!("--registry {registry} --key {key}"));
    }
    let (f1, f2, carrier) = (&signers[0], &signers[1], &signers[2]);
    let opening = d("opening.json");
    let what = format!("--invoice {ri} --opening {opening}");

    let check = ok(&format!("finance check --registry {registry} {what} --json"));
    assert_eq!(check["verdict"], "financeable", "{check}");
    for (key, value) in [("exists", true), ("proof_verified", true), ("accepted", true)] {
        assert_eq!(check[key], value, "{key}: {check}");
    }
    for key in ["disputed", "pledged", "paid"] {
        assert_eq!(check[key], false, "{key}: {check}");
    }
    assert_eq!(check["opening_matches"], true, "{check}");
    assert_eq!(check["payer"], payer, "{check}");
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&opening).unwrap()).unwrap();
    assert_eq!(check["due_date"], exported["due_date"], "{check}");
    assert_eq!(check["micros"], exported["micros"], "{check}");
    assert!(check["payer_reputation"]["invoices"].as_u64().unwrap() >= 1, "{check}");

    // An opening with another amount does not open the registry's commitment.
    let mut forged = exported.clone();
    forged["micros"] = (exported["micros"].as_i64().unwrap() * 2).into();
    std::fs::write(dir.join("forged.json"), forged.to_string()).unwrap();
    let forged_what = format!("--invoice {ri} --opening {}", d("forged.json"));
    let err = fails(1, &format!("finance check --registry {registry} {forged_what}"));
    assert!(err.contains("does not match the invoice's amount commitment"), "{err}");
    let err = fails(1, &format!("finance pledge {f1} {forged_what}"));
    assert!(err.contains("not pledged"), "{err}");
    // An invoice the registry does not hold.
    let unknown = "ab".repeat(32);
    let mut other = exported.clone();
    other["registry_invoice"] = unknown.clone().into();
    std::fs::write(dir.join("unknown.json"), other.to_string()).unwrap();
    let err = fails(
        1,
        &format!("finance pledge {f1} --invoice {unknown} --opening {}", d("unknown.json")),
    );
    assert!(err.contains("holds no invoice"), "{err}");
    // An opening of another invoice than the one named.
    let err = fails(
        2,
        &format!("finance check --registry {registry} --invoice {unknown} --opening {opening}"),
    );
    assert!(err.contains("opens invoice"), "{err}");
    // A member without the financier's role.
    let err = fails(1, &format!("finance pledge {carrier} {what}"));
    assert!(err.contains("refused Pledge") && err.contains("financier"), "{err}");

    let pledge = ok(&format!("finance pledge {f1} {what} --json"));
    assert_eq!(pledge["invoice"], ri, "{pledge}");
    let second = fails(1, &format!("finance check --registry {registry} {what}"));
    assert!(second.contains("already pledged"), "{second}");
    let second = fails(1, &format!("finance pledge {f2} {what}"));
    assert!(second.contains("already pledged"), "{second}");
    let held = ok(&format!("finance status {f1} --json"));
    assert_eq!(held["holdings"][0]["invoice"], ri, "{held}");
    assert_eq!(held["holdings"][0]["still_pledged"], true, "{held}");
    assert_eq!(held["holdings"][0]["nullifier"], pledge["nullifier"], "{held}");
    let none = ok(&format!("finance status {f2} --json"));
    assert_eq!(none["holdings"].as_array().map(Vec::len), Some(0), "{none}");

    // The registry's reads, hex ids throughout.
    let status = ok(&format!("registry status --registry {registry} --json"));
    assert!(status["members"].as_u64().unwrap() >= 6, "{status}");
    assert_eq!(status["state_root"].as_str().unwrap().len(), 64, "{status}");
    let reputation =
        ok(&format!("registry reputation --registry {registry} --payer {payer} --json"));
    assert_eq!(reputation["payer"], payer, "{reputation}");
    let roots = ok(&format!("registry roots --registry {registry} --last 3 --json"));
    let latest = &roots["roots"][0];
    assert_eq!(latest["block_hash"].as_str().unwrap().len(), 64, "{roots}");
    let members = ok(&format!("registry members --registry {registry} --role financier --json"));
    assert_eq!(members["members"].as_array().map(Vec::len), Some(2), "{members}");
    fails(2, &format!("registry reputation --registry {registry} --payer xyz"));
    f1.clone()
}

/// A financier shown an invoice with a credit on it (the October invoice and CN-1): the
/// seller's opening carries the credit and the check answers the amount due; an opening
/// without the credit is refused. After the pledge, the seller grants an SLA credit note:
/// A's node records it on the registry, the financier's status shows it, and B's node
/// accepts the credited amount on its own.
fn credits_and_financiers(
    dir: &Path,
    registry: &str,
    financier: &str,
    ri: &str,
    (bl, number): (&str, &str),
    (na, nb): (&str, &str),
) {
    let d = |p: &str| dir.join(p).display().to_string();
    let opening = ok(&format!(
        "invoice opening --bilateral {bl} --number {number} --out {} --node {na} --json",
        d("october-opening.json")
    ));
    assert_eq!(opening["credits"], 1, "{opening}");
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d("october-opening.json")).unwrap()).unwrap();
    let due = exported["amount_due_micros"].as_i64().unwrap();
    let credit = exported["credits"][0]["micros"].as_i64().unwrap();
    assert_eq!(due, exported["micros"].as_i64().unwrap() - credit, "{exported}");
    assert_eq!(exported["credits"][0]["credit_note"], "CN-1", "{exported}");
    let what = format!("--invoice {ri} --opening {}", d("october-opening.json"));
    let check = ok(&format!("finance check --registry {registry} {what} --json"));
    assert_eq!(check["verdict"], "financeable", "{check}");
    assert_eq!(check["credits"], 1, "{check}");
    assert_eq!(check["amount_due_micros"], due, "{check}");
    // An opening exported before the credit, or with another credited amount: refused.
    for (name, credits) in [
        ("stale", serde_json::json!([])),
        (
            "overstated",
            serde_json::json!([{ "reference": exported["credits"][0]["reference"], "micros": credit - 1 }]),
        ),
    ] {
        let mut forged = exported.clone();
        forged["credits"] = credits;
        std::fs::write(d(&format!("{name}.json")), forged.to_string()).unwrap();
        let err = fails(
            1,
            &format!(
                "finance check --registry {registry} --invoice {ri} --opening {}",
                d(&format!("{name}.json"))
            ),
        );
        assert!(err.contains("credit"), "{name}: {err}");
    }
    let pledge = ok(&format!("finance pledge {financier} {what} --json"));
    assert_eq!(pledge["micros"], due, "{pledge}");

    ok(&format!("invoice credit-note --bilateral {bl} --number {number} --credit-note CN-2 --amount 1.00 --reason 'SLA credit' --node {na} --json"));
    let accepted = eventually(&format!(
        "invoice accept --bilateral {bl} --number {number} --node {nb} --json"
    ));
    assert_eq!(accepted["accepted"].as_array().map(Vec::len), Some(1), "{accepted}");
    until(&format!("registry invoice --registry {registry} --invoice {ri} --json"), |v| {
        v["credits"].as_array().map(Vec::len) == Some(2) && v["status"] == "accepted"
    });
    let held = ok(&format!("finance status {financier} --json"));
    let holding = &held["holdings"][0];
    assert_eq!(holding["invoice"], ri, "{held}");
    assert_eq!(holding["credits_since_pledge"], 1, "{held}");
    assert!(holding["changes"].to_string().contains("credited at"), "{held}");
    ok(&format!("finance release {financier} --invoice {ri} --json"));
}

/// The supply chain of order O-AB, as its seller, a supplier, the administrator and a
/// regulator run it: the regulator publishes an embargo list (a list with an unknown
/// country is refused; so is a list signed by a member); A and its supplier S request
/// credentials, which the administrator issues; A starts the map, A and S each prove
/// their hop; A's node records the map (B's node verifies it) and reports it to the
/// registry; the regulator fetches the map from the registry and checks it offline —
/// also after a later credential changed the root; after a new list the map is outdated,
/// still compliant with the list it was proven against; after a revocation its root is
/// no longer accepted.
fn supply_chain(dir: &Path, registry: &str, admin_key: &str, bl: &str, na: &str, seller: &str) {
    let d = |p: &str| dir.join(p).display().to_string();
    let mut parties = Vec::new();
    for (name, role) in [("regulator", "regulator"), ("supplier", "member")] {
        let out = omni(&format!("keys generate --out {}", d(&format!("{name}.key"))));
        let party = String::from_utf8(out.stdout).unwrap().trim().to_string();
        ok(&format!(
            "member admit --registry {registry} --key {admin_key} --member {party} --role {role} --json"
        ));
        parties.push(party);
    }
    let (regulator, supplier) = (parties[0].clone(), parties[1].clone());
    let as_regulator = format!("--registry {registry} --key {} --json", d("regulator.key"));
    let as_supplier = format!("--registry {registry} --key {} --json", d("supplier.key"));

    // The embargo list: an unknown country refuses the file before anything is signed; a
    // member is not a regulator.
    std::fs::write(dir.join("bad-list.toml"), "version = 1\ncountries = [\"KP\", \"XK\"]\n")
        .unwrap();
    let err = fails(2, &format!("embargo publish {as_regulator} --list {}", d("bad-list.toml")));
    assert!(err.contains("countries[1]") && err.contains("XK"), "{err}");
    let list = examples().join("embargo-list.toml").display().to_string();
    let err = fails(1, &format!("embargo publish {as_supplier} --list {list}"));
    assert!(err.contains("refused PublishEmbargoList") && err.contains("regulator"), "{err}");
    let published = ok(&format!("embargo publish {as_regulator} --list {list}"));
    assert_eq!(published["version"], 1, "{published}");
    assert_eq!(published["countries"][0]["alpha2"], "KP", "{published}");
    assert!(published["countries"][0]["name"].as_str().unwrap().contains("Korea"), "{published}");

    // Credentials: each member keeps its secret and hands the administrator a request.
    let mut leaves = Vec::new();
    for (name, party, country) in [("seller", seller, "FR"), ("supplier", supplier.as_str(), "DEU")]
    {
        let request = ok(&format!(
            "credential request --country {country} --attribute 1 --out {} --request {} --json",
            d(&format!("{name}.cred")),
            d(&format!("{name}.req"))
        ));
        let issued = ok(&format!(
            "credential issue --registry {registry} --key {admin_key} --member {party} --request {} --json",
            d(&format!("{name}.req"))
        ));
        assert_eq!(issued["commitment"], request["commitment"], "{issued}");
        leaves.push(issued["leaf"].as_u64().unwrap());
    }
    let err = fails(2, "credential request --country XX --attribute 1 --out x --request y");
    assert!(err.contains("--country"), "{err}");

    // The map: A starts it, A and S prove their hops, A's node records it.
    let started = ok(&format!(
        "compliance start --registry {registry} --bilateral {bl} --order O-AB --attributes 1,2 \
         --max-hops 4 --out {} --json",
        d("O-AB.map")
    ));
    let order = started["order_commitment"].as_str().unwrap().to_string();
    for (name, leaf) in [("seller", leaves[0]), ("supplier", leaves[1])] {
        ok(&format!(
            "compliance prove-hop --registry {registry} --map {} --hops 2 --credential {} --leaf {leaf} --json",
            d("O-AB.map"),
            d(&format!("{name}.cred"))
        ));
    }
    let err = fails(
        1,
        &format!(
        "compliance prove-hop --registry {registry} --map {} --hops 2 --credential {} --leaf {}",
        d("O-AB.map"),
        d("supplier.cred"),
        leaves[1]
    ),
    );
    assert!(err.contains("hops"), "a third hop of a two-hop chain: {err}");
    ok(&format!(
        "order map --bilateral {bl} --order O-AB --map {} --node {na} --json",
        d("O-AB.map")
    ));
    until(&format!("registry compliance --registry {registry} --json"), |v| {
        v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order"] == order.as_str() && o["status"] == "compliant")
    });

    // The regulator's own check, from the registry's copy of the map.
    let fetched = d("fetched.map");
    let record =
        ok(&format!("compliance map --registry {registry} --order {order} --out {fetched} --json"));
    assert_eq!(
        (record["hops"].as_u64(), record["status"].as_str()),
        (Some(2), Some("compliant")),
        "{record}"
    );
    let verify = |published: &str| {
        format!("verify compliance {fetched} --published {} --json", d(published))
    };
    ok(&format!(
        "registry compliance --registry {registry} --published {} --json",
        d("published-1.json")
    ));
    let verdict = ok(&verify("published-1.json"));
    assert_eq!(verdict["compliant"], true, "{verdict}");
    assert_eq!(verdict["embargoed"][3]["alpha2"], "CU", "{verdict}");

    // A credential issued later changes the root; the map's root is still accepted.
    ok(&format!(
        "credential request --country NL --attribute 2 --out {} --request {} --json",
        d("late.cred"),
        d("late.req")
    ));
    ok(&format!(
        "credential issue --registry {registry} --key {admin_key} --member {regulator} --request {} --json",
        d("late.req")
    ));
    ok(&format!(
        "registry compliance --registry {registry} --published {} --json",
        d("published-2.json")
    ));
    let verdict = ok(&verify("published-2.json"));
    assert_eq!(verdict["compliant"], true, "{verdict}");

    // A new embargo list: the map is outdated under it, compliant with the list it was
    // proven against.
    std::fs::write(
        dir.join("list-2.toml"),
        "version = 2\ncountries = [\"KP\", \"IR\", \"SY\", \"CU\", \"BY\"]\n",
    )
    .unwrap();
    ok(&format!("embargo publish {as_regulator} --list {}", d("list-2.toml")));
    ok(&format!(
        "registry compliance --registry {registry} --published {} --json",
        d("published-3.json")
    ));
    let err = fails(1, &verify("published-3.json"));
    assert!(err.contains("outdated"), "{err}");
    let verdict = ok(&format!("{} --version 1", verify("published-3.json")));
    assert_eq!(verdict["compliant"], true, "{verdict}");

    // A map with a hop proof tampered with is not compliant; a damaged file cannot be
    // checked.
    let mut bytes = std::fs::read(&fetched).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    std::fs::write(dir.join("tampered.map"), &bytes).unwrap();
    let out = omni(&format!(
        "verify compliance {} --published {} --version 1",
        d("tampered.map"),
        d("published-3.json")
    ));
    assert!(matches!(out.status.code(), Some(1 | 2)), "{out:?}");
    std::fs::write(dir.join("damaged.map"), b"not a map").unwrap();
    fails(
        2,
        &format!("verify compliance {} --published {}", d("damaged.map"), d("published-3.json")),
    );

    // The seller's credential is revoked: the map's root is no longer accepted.
    ok(&format!(
        "credential revoke --registry {registry} --key {admin_key} --leaf {} --json",
        leaves[0]
    ));
    ok(&format!(
        "registry compliance --registry {registry} --published {} --json",
        d("published-4.json")
    ));
    let err = fails(1, &format!("{} --version 1", verify("published-4.json")));
    assert!(err.contains("does not accept"), "{err}");
}

/// Micro-units as the decimal amount the commands take.
fn micros_text(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, (micros % 1_000_000).abs())
}

/// Terms files with mistakes are refused, naming the field; nothing is proposed.
fn bad_terms(dir: &Path, good: &str, node: &str) {
    let cases = [
        (good.replace("netting = true", "netting = true\nnetings = 1"), "netings"),
        (good.replace("net_days = 30\n", ""), "net_days"),
        (
            good.replace("price = \"0.000205\"", "price = \"0.0002051234\""),
            "tariffs[0].products[0].price",
        ),
    ];
    for (text, named) in cases {
        let path = dir.join("bad-terms.toml");
        std::fs::write(&path, text).unwrap();
        let err = refused(&format!("contract propose --terms {} --node {node}", path.display()));
        assert!(err.contains(named), "{named}: {err}");
    }
    let list = ok(&format!("contract list --node {node} --json"));
    assert_eq!(list["bilaterals"].as_array().map(Vec::len), Some(0), "{list}");
}
