//! Supply-chain compliance on the registry (MEF 114 R15), with real halo2 hop proofs and
//! RocksDB: credentials issued and revoked by the membership administrator, embargo
//! lists published by a regulator, maps verified (and refused: an embargoed participant,
//! a revoked credential, a hop omitted, reordered, duplicated or taken from another
//! order, an old embargo list, malformed bytes), status per list version, restart.

#![allow(clippy::unwrap_used)]

use omni_circuits::compliance::credential::{random_secret, secret_hash};
use omni_circuits::compliance::{
    field_to_bytes, order_commitment, verify_map, ComplianceMap, CompliancePolicy,
    ComplianceVerifier, CredentialOpening, EmbargoList, Error as ComplianceError, Fp, HopProver,
    HopWitness, JurisdictionCredential,
};
use omni_core::{Hash32, Keypair};
use omni_registry::state::{OrderCompliance, RegistryState};
use omni_registry::{Block, Error, Genesis, RefuseAllProofs, Role, SignedTx, Store, TxBody};
use std::sync::Arc;

/// France, Germany, Netherlands, North Korea.
const COUNTRIES: [u16; 4] = [250, 276, 528, 408];

struct Participant {
    key: Keypair,
    opening: CredentialOpening,
}

fn participant(i: u8) -> Participant {
    let secret = random_secret();
    let credential = JurisdictionCredential::issue(
        Fp::from(1_000 + u64::from(i)),
        COUNTRIES[usize::from(i)],
        1 + u16::from(i % 2),
        secret_hash(&secret),
    )
    .unwrap();
    Participant {
        key: Keypair::from_seed([10 + i; 32]),
        opening: CredentialOpening { credential, secret, leaf_index: u64::from(i) },
    }
}

/// A map for `order` in which `hops` prove in order, under the registry's current root
/// and paths, against `embargo`.
fn prove_map(
    state: &RegistryState,
    chain: &[&Participant],
    order: u8,
    embargo: &EmbargoList,
) -> ComplianceMap {
    let policy = CompliancePolicy::new(vec![1, 2], 4).unwrap();
    let root = omni_circuits::compliance::field_from_bytes(&state.credential_root().0).unwrap();
    let mut map = ComplianceMap::new(order_commitment(&[order; 32]), policy.clone(), embargo, root);
    for p in chain {
        let (link_prev, upstream_count) = map.hop_context(chain.len()).unwrap();
        let witness = HopWitness {
            opening: p.opening.clone(),
            path: state.credential_path(p.opening.leaf_index).unwrap(),
            credential_root: root,
            embargo: embargo.clone(),
            policy: policy.clone(),
            link_prev,
            upstream_count,
        };
        map.push(HopProver::shared().unwrap().prove(&witness).unwrap());
    }
    map
}

fn with_hops(map: &ComplianceMap, hops: Vec<omni_circuits::compliance::HopProof>) -> Vec<u8> {
    ComplianceMap { hops, ..map.clone() }.to_bytes()
}

fn submit(key: &Keypair, id: &Hash32, nonce: u64, map: Vec<u8>) -> SignedTx {
    SignedTx::sign(key, id, nonce, TxBody::SubmitComplianceMap { map })
}

fn rejection(result: &omni_registry::Result<Vec<omni_registry::Event>>) -> String {
    match result {
        Err(Error::ComplianceMapRejected { reason, .. }) => reason.clone(),
        other => panic!("expected a map rejection, got {other:?}"),
    }
}

#[test]
fn the_registry_verifies_supply_chain_maps_against_its_credentials_and_embargo_lists() {
    let admin = Keypair::from_seed([1; 32]);
    let regulator = Keypair::from_seed([2; 32]);
    let ps: Vec<Participant> = (0..4).map(participant).collect();
    let mut members = vec![(admin.party(), Role::Admin), (regulator.party(), Role::Regulator)];
    members.extend(ps.iter().map(|p| (p.key.party(), Role::Member)));
    let genesis = Genesis { name: "compliance".into(), time: 1_000, members, rating_keys: None };
    let id = genesis.registry_id();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut registry = store.open_registry(Some(&genesis), Arc::new(RefuseAllProofs)).unwrap();
    let run = |registry: &mut omni_registry::Registry, height: u64, txs: Vec<SignedTx>| {
        let block =
            Block { height, time: 1_000 + height, txs: txs.iter().map(|t| t.to_bytes()).collect() };
        let outcome = registry.execute_block(&block).unwrap();
        store.commit(&block, &outcome).unwrap();
        outcome
    };

    // Block 1: credentials and the first embargo list; a member cannot publish one.
    let v1 = EmbargoList::new(1, vec![408, 364]).unwrap();
    let mut txs: Vec<SignedTx> = ps
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let commitment = Hash32(field_to_bytes(&p.opening.credential.commitment()));
            SignedTx::sign(
                &admin,
                &id,
                n as u64,
                TxBody::IssueCredential { member: p.key.party(), commitment },
            )
        })
        .collect();
    txs.push(SignedTx::sign(&ps[0].key, &id, 0, TxBody::PublishEmbargoList(v1.clone())));
    txs.push(SignedTx::sign(&regulator, &id, 0, TxBody::PublishEmbargoList(v1.clone())));
    // A second credential for the same member is refused.
    txs.push(SignedTx::sign(
        &admin,
        &id,
        4,
        TxBody::IssueCredential { member: ps[0].key.party(), commitment: Hash32([3; 32]) },
    ));
    let out = run(&mut registry, 1, txs);
    let ok: Vec<bool> = out.results.iter().map(|r| r.result.is_ok()).collect();
    assert_eq!(ok, vec![true, true, true, true, false, true, false]);
    assert!(matches!(out.results[4].result, Err(Error::WrongRole { .. })));
    assert!(matches!(out.results[6].result, Err(Error::CredentialExists { .. })));
    assert_eq!(registry.state().credential_count(), 4);

    // An embargoed participant cannot prove a hop at all.
    let chain_state = registry.state();
    let policy = CompliancePolicy::new(vec![1, 2], 4).unwrap();
    let root =
        omni_circuits::compliance::field_from_bytes(&chain_state.credential_root().0).unwrap();
    let embargoed = HopWitness {
        opening: ps[3].opening.clone(),
        path: chain_state.credential_path(3).unwrap(),
        credential_root: root,
        embargo: v1.clone(),
        policy,
        link_prev: Fp::from(7),
        upstream_count: 0,
    };
    assert!(matches!(
        HopProver::shared().unwrap().prove(&embargoed),
        Err(ComplianceError::Embargoed { country: 408, version: 1 })
    ));

    // Block 2: order 1's three-hop map is verified; broken variants are refused.
    let map1 = prove_map(registry.state(), &[&ps[0], &ps[1], &ps[2]], 1, &v1);
    let map2 = prove_map(registry.state(), &[&ps[0], &ps[1], &ps[2]], 2, &v1);
    let published = registry.state().published_compliance_state().unwrap();
    // A regulator's independent check agrees with the registry's.
    verify_map(ComplianceVerifier::shared().unwrap(), &map1, &published).unwrap();
    let h = &map1.hops;
    let seller = &ps[0].key;
    let mut malformed = map1.to_bytes();
    malformed.truncate(malformed.len() - 100);
    let txs = vec![
        submit(seller, &id, 0, with_hops(&map1, vec![h[0].clone(), h[2].clone()])),
        submit(seller, &id, 0, with_hops(&map1, vec![h[0].clone(), h[2].clone(), h[1].clone()])),
        submit(seller, &id, 0, with_hops(&map1, vec![h[0].clone(), h[1].clone(), h[1].clone()])),
        submit(
            seller,
            &id,
            0,
            with_hops(&map1, vec![h[0].clone(), map2.hops[1].clone(), h[2].clone()]),
        ),
        submit(seller, &id, 0, with_hops(&map1, vec![h[0].clone(), h[1].clone()])),
        submit(seller, &id, 0, malformed),
        submit(seller, &id, 0, map1.to_bytes()),
        submit(seller, &id, 1, map1.to_bytes()),
    ];
    let out = run(&mut registry, 2, txs);
    for (r, expect) in out.results[..5].iter().zip([
        "hop 1 does not link to the previous hop",
        "hop 1 does not link to the previous hop",
        "hop 2 does not link to the previous hop",
        "hop 1 does not link to the previous hop",
        "hop 0 declares 2 upstream",
    ]) {
        let reason = rejection(&r.result);
        let words: Vec<&str> = expect.split(' ').collect();
        assert!(words.iter().all(|w| reason.contains(w)), "{reason:?} should say {expect:?}");
    }
    assert!(
        matches!(&out.results[5].result, Err(Error::InvalidField { field: "map", .. })),
        "{:?}",
        out.results[5].result
    );
    assert!(out.results[6].result.is_ok(), "{:?}", out.results[6].result);
    assert!(matches!(out.results[7].result, Err(Error::DuplicateComplianceMap { version: 1, .. })));
    let order1 = Hash32(field_to_bytes(&order_commitment(&[1; 32])));
    let record = registry.state().compliance_record(&order1, 1).unwrap();
    assert_eq!((record.hops, record.map_commitment), (3, map1.commitment()));

    // Block 3: participant 1's credential is revoked and list version 2 published. A map
    // proven under the old root is refused, so is one against list 1, and participant 1
    // can no longer prove under the new root.
    let v2 = EmbargoList::new(2, vec![408, 364, 760]).unwrap();
    let old_root_map = prove_map(registry.state(), &[&ps[0], &ps[1]], 3, &v2);
    let out = run(
        &mut registry,
        3,
        vec![
            SignedTx::sign(&admin, &id, 4, TxBody::RevokeCredential { leaf: 1 }),
            SignedTx::sign(&regulator, &id, 1, TxBody::PublishEmbargoList(v2.clone())),
            SignedTx::sign(&regulator, &id, 2, TxBody::PublishEmbargoList(v1.clone())),
            submit(seller, &id, 1, old_root_map.to_bytes()),
            submit(seller, &id, 1, map2.to_bytes()),
        ],
    );
    assert!(out.results[0].result.is_ok() && out.results[1].result.is_ok());
    assert!(matches!(out.results[2].result, Err(Error::EmbargoVersion { version: 1, current: 2 })));
    assert!(matches!(out.results[3].result, Err(Error::UnacceptedCredentialRoot { .. })));
    match &out.results[4].result {
        Err(e @ Error::StaleEmbargoList { found: 1, current: 2 }) => {
            assert!(e.to_string().contains("embargo list version 1; the current version is 2"))
        }
        other => panic!("expected a stale-list refusal, got {other:?}"),
    }
    let state = registry.state();
    assert!(matches!(state.credential_path(1), Err(Error::CredentialRevoked(1))));
    let new_root = omni_circuits::compliance::field_from_bytes(&state.credential_root().0).unwrap();
    let stale_path = HopWitness {
        opening: ps[1].opening.clone(),
        path: store_path_before_revocation(&ps),
        credential_root: new_root,
        embargo: v2.clone(),
        policy: CompliancePolicy::new(vec![1, 2], 4).unwrap(),
        link_prev: Fp::from(7),
        upstream_count: 0,
    };
    assert!(matches!(
        HopProver::shared().unwrap().prove(&stale_path),
        Err(ComplianceError::NotInTree)
    ));

    // Order 1 is compliant under list 1 and outdated under list 2 until re-proven.
    let status = |s: &RegistryState, v| -> Vec<&'static str> {
        s.compliance_status(v).iter().map(|(_, c)| c.name()).collect()
    };
    assert_eq!(status(registry.state(), 1), vec!["compliant"]);
    assert_eq!(status(registry.state(), 2), vec!["outdated"]);
    let reproven = prove_map(registry.state(), &[&ps[0], &ps[2]], 1, &v2);
    let out = run(&mut registry, 4, vec![submit(seller, &id, 1, reproven.to_bytes())]);
    assert!(out.results[0].result.is_ok(), "{:?}", out.results[0].result);
    assert!(matches!(
        registry.state().compliance_status(2)[0].1,
        OrderCompliance::Compliant(ref r) if r.hops == 2
    ));

    // A restart from RocksDB restores the credential tree, lists, maps and the root.
    let root = registry.state().state_root();
    let credential_root = registry.state().credential_root();
    drop(registry);
    let registry = store.open_registry(None, Arc::new(RefuseAllProofs)).unwrap();
    let state = registry.state();
    assert_eq!(state.state_root(), root);
    assert_eq!(state.credential_root(), credential_root);
    assert_eq!(state.accepted_credential_roots(), &[credential_root]);
    assert_eq!(state.current_embargo_list().unwrap().list, v2);
    assert_eq!(status(state, 2), vec!["compliant"]);
    assert!(state.credential_path(2).is_ok());
}

/// Participant 1's path in the tree as it was before the revocation.
fn store_path_before_revocation(ps: &[Participant]) -> omni_circuits::compliance::MerklePath {
    let mut tree = omni_circuits::compliance::CredentialTree::new();
    for p in ps {
        tree.insert(p.opening.credential.commitment()).unwrap();
    }
    tree.path(1).unwrap()
}
