//! An omni-lateral netting cycle among three carriers through the `omni` command line
//! only: a registry and three `omni node start` processes; a ring of bilaterals (A sells
//! to B, B to C, C to A), each with an Option 1 invoice the buyer accepted; then
//! `omni netting open|join|reveal|confirm|record|status` until the registry shows the
//! cycle settled, every invoice paid by netting, and each bilateral records the cycle's
//! result (MEF 114 CR22) — not full-amount payments — with nothing refused on the way.
//! Bad steps are refused with the reason: a net position opened before every participant
//! joined, a confirmation of a transfer to someone else, a result recorded before the
//! cycle settled.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;

mod common;
use common::{
    eventually, examples, fails, free_port, generate_key, ok, start_node, start_registry, until,
};

struct Carrier {
    party: String,
    api: String,
    config: PathBuf,
}

#[test]
fn three_carriers_net_a_cycle_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let keys = ok(&format!("keys rating-setup --out {} --chunk-size 32 --json", d("keys")));
    let (vk, hash) = (keys["verifying_key"].as_str().unwrap(), keys["hash"].as_str().unwrap());
    let admin = generate_key(&dir.path().join("admin.key"));
    let (_registry, registry) = start_registry(&dir.path().join("registry"), &admin, vk, hash);

    // Three carriers, each a peer of the other two.
    let names = ["a", "b", "c"];
    let parties: Vec<String> =
        names.iter().map(|n| generate_key(&dir.path().join(format!("{n}.key")))).collect();
    let syncs: Vec<SocketAddr> = names.iter().map(|_| free_port()).collect();
    let carriers: Vec<Carrier> = (0..3)
        .map(|i| {
            let peers: String = (0..3)
                .filter(|&j| j != i)
                .map(|j| format!(" --peer {}@{}", parties[j], syncs[j]))
                .collect();
            let api = free_port();
            let v = ok(&format!(
                "node init --dir {} --name carrier-{} --key {} --api {api} --sync-listen {}{peers} \
                 --registry {registry} --rating-keys {vk} --rating-keys-hash {hash} --json",
                d(&format!("carrier-{}", names[i])),
                names[i],
                d(&format!("{}.key", names[i])),
                syncs[i]
            ));
            Carrier {
                party: v["party"].as_str().unwrap().to_string(),
                api: format!("http://{api}"),
                config: PathBuf::from(v["config"].as_str().unwrap()),
            }
        })
        .collect();
    let _nodes: Vec<_> = carriers.iter().map(|c| start_node(&c.config)).collect();
    for c in &carriers {
        ok(&format!(
            "member admit --registry {registry} --key {} --member {} --json",
            d("admin.key"),
            c.party
        ));
    }

    // The ring: A sells November to B, B sells November to C, C sells October to A.
    let ring = [
        (0, 1, "2026-11", "usage-ab-2026-11.csv"),
        (1, 2, "2026-11", "usage-ab-2026-11.csv"),
        (2, 0, "2026-10", "usage-ab-2026-10.csv"),
    ];
    let mut invoices = Vec::new();
    for (k, &(s, b, interval, usage)) in ring.iter().enumerate() {
        let (seller, buyer) = (&carriers[s], &carriers[b]);
        let (ns, nb) = (seller.api.as_str(), buyer.api.as_str());
        let terms = std::fs::read_to_string(examples().join("terms.toml"))
            .unwrap()
            .replace("CARRIER_A_KEY", &seller.party)
            .replace("CARRIER_B_KEY", &buyer.party);
        let file = dir.path().join(format!("terms-{k}.toml"));
        std::fs::write(&file, terms).unwrap();
        let proposed =
            ok(&format!("contract propose --terms {} --node {ns} --json", file.display()));
        let bl = proposed["bilateral"].as_str().unwrap().to_string();
        eventually(&format!("contract accept --bilateral {bl} --node {nb} --json"));
        until(&format!("contract show --bilateral {bl} --node {ns} --json"), |v| {
            v["status"] == "active"
        });
        ok(&format!(
            "order place --bilateral {bl} --order O-{k} --tariff ic-2026 --node {ns} --json"
        ));
        eventually(&format!("order accept --bilateral {bl} --order O-{k} --node {nb} --json"));
        let usage = examples().join(usage).display().to_string();
        eventually(&format!("usage import --bilateral {bl} --order O-{k} --interval {interval} --file {usage} --node {ns} --json"));
        ok(&format!("rating propose --bilateral {bl} --order O-{k} --interval {interval} --node {ns} --json"));
        eventually(&format!(
            "rating agree --bilateral {bl} --order O-{k} --interval {interval} --node {nb} --json"
        ));
        let number = format!("INV-{k}");
        let issued = eventually(&format!("invoice issue --bilateral {bl} --order O-{k} --interval {interval} --number {number} --node {ns} --json"));
        eventually(&format!(
            "invoice accept --bilateral {bl} --number {number} --node {nb} --json"
        ));
        let ri = issued["registry_invoice"].as_str().unwrap().to_string();
        ok(&format!(
            "registry invoice --registry {registry} --invoice {ri} --wait-for accepted --json"
        ));
        invoices.push((bl, number, ri, s, b));
    }

    // A opens the cycle with B and C; revealing before everyone joined is refused.
    let (na, nb, nc) = (&carriers[0].api, &carriers[1].api, &carriers[2].api);
    let opened = ok(&format!(
        "netting open --currency EUR --cutoff 2027-12-31 --participant {} --participant {} --node {na} --json",
        carriers[1].party, carriers[2].party
    ));
    let cycle = opened["cycle"].as_u64().unwrap();
    assert_eq!(opened["phase"], "joining", "{opened}");
    let err = fails(1, &format!("netting reveal --cycle {cycle} --node {na}"));
    assert!(err.contains("opening phase"), "{err}");
    let err = fails(1, &format!("netting record --cycle {cycle} --node {na}"));
    assert!(err.contains("not settled"), "{err}");
    for node in [nb, nc] {
        ok(&format!("netting join --cycle {cycle} --node {node} --json"));
    }
    let status = ok(&format!("netting status --cycle {cycle} --node {na} --json"));
    assert_eq!(status["phase"], "opening", "{status}");
    assert_eq!(status["invoices"].as_array().map(Vec::len), Some(3), "{status}");
    assert_eq!(status["own_invoices"], 2, "{status}");

    // Each opens only its own net; the nets sum to zero.
    let mut nets = Vec::new();
    for node in [na, nb, nc] {
        let revealed = ok(&format!("netting reveal --cycle {cycle} --node {node} --json"));
        nets.push(revealed["view"]["own_net"].as_i64().unwrap());
    }
    assert_eq!(nets.iter().sum::<i64>(), 0, "{nets:?}");
    assert_eq!(nets[1], 0, "B buys and sells the same November: {nets:?}");
    let settling = ok(&format!("netting status --cycle {cycle} --node {nb} --json"));
    assert_eq!(settling["phase"], "settling", "{settling}");
    let instructions = settling["instructions"].as_array().unwrap().clone();
    assert_eq!(instructions.len(), 1, "one transfer between A and C: {settling}");
    let to = instructions[0]["to"].as_str().unwrap();
    let receiver = carriers.iter().find(|c| c.party == to).unwrap();
    let other =
        carriers.iter().find(|c| c.party != to && c.party != instructions[0]["from"]).unwrap();
    let err =
        fails(1, &format!("netting confirm --cycle {cycle} --instruction 0 --node {}", other.api));
    assert!(err.contains("does not pay this party"), "{err}");
    let confirmed = ok(&format!("netting confirm --cycle {cycle} --node {} --json", receiver.api));
    assert_eq!(confirmed["phase"], "settled", "{confirmed}");

    // The registry shows every invoice paid by the cycle; each bilateral records the
    // result once both parties agree it.
    for (_, _, ri, _, _) in &invoices {
        let paid = ok(&format!("registry invoice --registry {registry} --invoice {ri} --json"));
        assert_eq!(
            (paid["status"].as_str(), paid["paid_by"].as_str()),
            (Some("paid"), Some("netting")),
            "{paid}"
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let mut done = true;
        for c in &carriers {
            let r = ok(&format!("netting record --cycle {cycle} --node {} --json", c.api));
            let results = r["results"].as_array().unwrap();
            assert_eq!(results.len(), 2, "each carrier is on two of the ring's bilaterals: {r}");
            done &= results.iter().all(|x| x["step"] == "recorded" || x["step"] == "accepted");
        }
        if done {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the cycle's results were never recorded");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    for (bl, number, _, s, b) in &invoices {
        for who in [s, b] {
            let shown = until(
                &format!(
                    "invoice show --bilateral {bl} --number {number} --node {} --json",
                    carriers[*who].api
                ),
                |v| v["state"] == "netted",
            );
            assert_eq!(
                shown["remaining_micros"], shown["total_micros"],
                "nothing was paid on the bilateral: {shown}"
            );
        }
    }
    for c in &carriers {
        let status = ok(&format!("node status --node {} --json", c.api));
        assert_eq!(status["outbox_refused"], 0, "{status}");
    }
    let listed = ok(&format!("registry cycles --registry {registry} --cycle {cycle} --json"));
    assert_eq!(listed["cycles"][0]["phase"], "settled", "{listed}");
}
