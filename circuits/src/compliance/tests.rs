//! Compliance tests: native data structures, the hop circuit under `MockProver` (valid
//! and each way a witness can break the statement), and real proofs of a 3-hop map with
//! every way a map can be tampered with.

use std::sync::OnceLock;

use ff::Field;
use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    dev::MockProver,
    plonk::{Circuit, ConstraintSystem, Error as PlonkError},
};

use super::circuit::{hash as hash_in_circuit, HopConfig};
use super::credential::{secret_hash, EMPTY_LEAF};
use super::hash::poseidon;
use super::proof::HOP_PROOF_LEN;
use super::statement::{first_link, link};
use super::*;

// ---------------------------------------------------------------- native Poseidon

/// Hashes `L` private inputs in the hop circuit's configuration with the circuit's own
/// `hash` on both Poseidon chips and exposes the results as instance rows 0 and 1.
#[derive(Clone, Default)]
struct PoseidonCircuit<const L: usize> {
    message: Option<[Fp; L]>,
}

impl<const L: usize> Circuit<Fp> for PoseidonCircuit<L> {
    type Config = HopConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self { message: None }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> HopConfig {
        HopCircuit::configure(meta)
    }

    fn synthesize(
        &self,
        config: HopConfig,
        mut layouter: impl Layouter<Fp>,
    ) -> std::result::Result<(), PlonkError> {
        let cells = layouter.assign_region(
            || "message",
            |mut region| {
                (0..L)
                    .map(|i| {
                        let value = Value::known(self.message.map_or(Fp::ZERO, |m| m[i]));
                        region.assign_advice(|| "word", config.advice[i % 5], i / 5, || value)
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
            },
        )?;
        let message: [_; L] = cells.try_into().map_err(|_| PlonkError::Synthesis)?;
        let message_again = message.clone();
        let digest =
            hash_in_circuit(&config.poseidon_credential, layouter.namespace(|| "hash"), message)?;
        let other = hash_in_circuit(
            &config.poseidon_lists,
            layouter.namespace(|| "hash again"),
            message_again,
        )?;
        layouter.constrain_instance(other.cell(), config.instance, 1)?;
        layouter.constrain_instance(digest.cell(), config.instance, 0)
    }
}

fn check_poseidon<const L: usize>(message: [Fp; L]) {
    let circuit = PoseidonCircuit { message: Some(message) };
    let native = poseidon(message);
    let prover = MockProver::run(HOP_CIRCUIT_K, &circuit, vec![vec![native, native]]).unwrap();
    assert_eq!(prover.verify(), Ok(()), "L = {L}");
    for wrong in [vec![native + Fp::ONE, native], vec![native, native + Fp::ONE]] {
        let prover = MockProver::run(HOP_CIRCUIT_K, &circuit, vec![wrong]).unwrap();
        assert!(prover.verify().is_err(), "L = {L}: a wrong digest must not satisfy");
    }
}

#[test]
fn native_poseidon_matches_zcash_vector_and_circuit() {
    // Zcash's published Orchard vector (orchard_poseidon/hash/fp.py, first entry).
    let digest = poseidon([Fp::from(0), Fp::from(1)]);
    assert_eq!(
        hex::encode(field_to_bytes(&digest)),
        "8358d711a0329d38becd54fba7c283ed3e089a39c91b6a9d10efb02bc3f12f06"
    );
    let words: Vec<Fp> = (0..34u64).map(|i| Fp::from(i * 7919 + 3)).collect();
    check_poseidon::<2>([words[0], words[1]]);
    check_poseidon::<4>([words[0], words[1], words[2], words[3]]);
    check_poseidon::<5>([words[0], words[1], words[2], words[3], words[4]]);
    check_poseidon::<10>(words[..10].try_into().unwrap());
    check_poseidon::<34>(words[..34].try_into().unwrap());
}

// ---------------------------------------------------------------- data structures

#[test]
fn field_encoding_round_trips_and_refuses_non_canonical() {
    let x = Fp::from(123_456_789) - Fp::from(1 << 40);
    assert_eq!(field_from_bytes(&field_to_bytes(&x)).unwrap(), x);
    assert!(matches!(field_from_bytes(&[0xff; 32]), Err(Error::NonCanonicalField(_))));
}

fn credential(i: u64, country: u16, attribute: u16) -> (JurisdictionCredential, Fp) {
    let secret = Fp::from(1_000_003 * (i + 1));
    let c = JurisdictionCredential::issue(Fp::from(i), country, attribute, secret_hash(&secret))
        .unwrap();
    (c, secret)
}

#[test]
fn credential_tree_insert_path_revoke() {
    let mut tree = CredentialTree::new();
    let empty_root = tree.root();
    let commitments: Vec<Fp> = (0..5).map(|i| credential(i, 250, 1).0.commitment()).collect();
    for (i, c) in commitments.iter().enumerate() {
        assert_eq!(tree.insert(*c).unwrap(), i as u64);
        for (j, cj) in commitments[..=i].iter().enumerate() {
            assert_eq!(tree.path(j as u64).unwrap().root(*cj).unwrap(), tree.root());
        }
    }
    assert_ne!(tree.root(), empty_root);
    assert_eq!(tree.insert(EMPTY_LEAF), Err(Error::EmptyCommitment));
    assert_eq!(tree.path(5), Err(Error::UnknownLeaf(5)));

    let before = tree.root();
    tree.revoke(2).unwrap();
    assert_ne!(tree.root(), before);
    assert_eq!(tree.leaf(2).unwrap(), EMPTY_LEAF);
    assert_ne!(tree.path(2).unwrap().root(commitments[2]).unwrap(), tree.root());
    assert_eq!(tree.path(3).unwrap().root(commitments[3]).unwrap(), tree.root());
    assert_eq!(tree.revoke(2), Err(Error::AlreadyRevoked(2)));

    // Serialized as leaves, rebuilt identically (binary and JSON).
    let bytes = postcard::to_allocvec(&tree).unwrap();
    let back: CredentialTree = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, tree);
    assert_eq!(back.root(), tree.root());
    let json = serde_json::to_string(&tree).unwrap();
    assert_eq!(serde_json::from_str::<CredentialTree>(&json).unwrap(), tree);

    let mut path = tree.path(0).unwrap();
    path.siblings.pop();
    assert!(matches!(path.root(commitments[0]), Err(Error::MalformedPath(_))));
}

#[test]
fn credentials_lists_and_policies_refuse_invalid_values() {
    let h = secret_hash(&Fp::from(5));
    assert_eq!(JurisdictionCredential::issue(Fp::ONE, 0, 1, h), Err(Error::InvalidCountry(0)));
    assert_eq!(
        JurisdictionCredential::issue(Fp::ONE, 1000, 1, h),
        Err(Error::InvalidCountry(1000))
    );
    assert_eq!(JurisdictionCredential::issue(Fp::ONE, 250, 0, h), Err(Error::InvalidAttribute));
    // The list is omni_core's; its refusals convert into this module's errors.
    assert!(matches!(
        EmbargoList::new(1, vec![4; 33]).map_err(Error::from),
        Err(Error::EmbargoListTooLong { found: 33, .. })
    ));
    assert_eq!(EmbargoList::new(1, vec![0]).map_err(Error::from), Err(Error::InvalidCountry(0)));
    assert!(matches!(CompliancePolicy::new(vec![], 3), Err(Error::PolicyAttributes { .. })));
    assert!(matches!(CompliancePolicy::new(vec![1; 9], 3), Err(Error::PolicyAttributes { .. })));
    assert_eq!(CompliancePolicy::new(vec![1], 0), Err(Error::PolicyMaxHops));
    // Deserialization validates too.
    let json = r#"{"version":2,"countries":[408,0]}"#;
    assert!(serde_json::from_str::<EmbargoList>(json).is_err());

    // The commitment binds the version and the countries.
    let v3 = EmbargoList::new(3, vec![408, 364]).unwrap();
    assert_ne!(v3.commitment(), EmbargoList::new(4, vec![408, 364]).unwrap().commitment());
    assert_ne!(v3.commitment(), EmbargoList::new(3, vec![408]).unwrap().commitment());
    let p = CompliancePolicy::new(vec![1, 2], 5).unwrap();
    assert_ne!(p.commitment(), CompliancePolicy::new(vec![1, 2], 4).unwrap().commitment());
}

// ---------------------------------------------------------------- circuit (MockProver)

struct Setting {
    tree: CredentialTree,
    openings: Vec<CredentialOpening>,
    embargo: EmbargoList,
    policy: CompliancePolicy,
}

/// Members: 0 in France (attr 1), 1 in Germany (attr 2), 2 in Iran (attr 1),
/// 3 in Spain with attribute 9 (outside the policy).
fn setting() -> Setting {
    let mut tree = CredentialTree::new();
    let mut openings = Vec::new();
    for (i, (country, attribute)) in
        [(250, 1), (276, 2), (364, 1), (724, 9)].into_iter().enumerate()
    {
        let (credential, secret) = credential(i as u64, country, attribute);
        let leaf_index = tree.insert(credential.commitment()).unwrap();
        openings.push(CredentialOpening { credential, secret, leaf_index });
    }
    Setting {
        tree,
        openings,
        embargo: EmbargoList::new(3, vec![408, 364, 760, 192]).unwrap(),
        policy: CompliancePolicy::new(vec![1, 2], 5).unwrap(),
    }
}

fn witness(s: &Setting, member: usize) -> HopWitness {
    let opening = s.openings[member].clone();
    HopWitness {
        path: s.tree.path(opening.leaf_index).unwrap(),
        opening,
        credential_root: s.tree.root(),
        embargo: s.embargo.clone(),
        policy: s.policy.clone(),
        link_prev: first_link(&order_commitment(&[1; 32])),
        upstream_count: 2,
    }
}

/// The public inputs an honest statement about `w` would have, computed without the
/// native checks (so a dishonest witness can be handed to the circuit).
fn claimed_public(w: &HopWitness) -> HopPublicInputs {
    HopPublicInputs {
        credential_root: w.credential_root,
        embargo_commitment: w.embargo.commitment(),
        policy_commitment: w.policy.commitment(),
        link_prev: w.link_prev,
        link: link(&w.link_prev, &w.opening.secret, w.upstream_count),
        upstream_count: w.upstream_count,
    }
}

fn mock(
    w: &HopWitness,
    public: &HopPublicInputs,
) -> std::result::Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
    let circuit = HopCircuit::new(w).unwrap();
    MockProver::run(HOP_CIRCUIT_K, &circuit, vec![HopCircuit::instance(public)]).unwrap().verify()
}

#[test]
fn valid_hop_satisfies_the_circuit_and_native_public_inputs_match() {
    let s = setting();
    for member in [0, 1] {
        let w = witness(&s, member);
        let public = w.public_inputs().unwrap();
        assert_eq!(public, claimed_public(&w));
        assert_eq!(mock(&w, &public), Ok(()));
    }
}

#[test]
fn hop_circuit_does_not_fit_one_size_smaller() {
    // HOP_CIRCUIT_K is the smallest k that holds the circuit.
    let s = setting();
    let w = witness(&s, 0);
    let circuit = HopCircuit::new(&w).unwrap();
    let instance = HopCircuit::instance(&w.public_inputs().unwrap());
    assert!(MockProver::run(HOP_CIRCUIT_K - 1, &circuit, vec![instance]).is_err());
}

#[test]
fn embargoed_participant_cannot_prove() {
    let s = setting();
    let w = witness(&s, 2);
    assert_eq!(w.public_inputs(), Err(Error::Embargoed { country: 364, version: 3 }));
    // Without the native check, the circuit itself refuses (no inverse of 0 exists).
    assert!(mock(&w, &claimed_public(&w)).is_err());
    // Against a list without Iran, the same participant satisfies the circuit.
    let mut lifted = w.clone();
    lifted.embargo = EmbargoList::new(4, vec![408, 760, 192]).unwrap();
    assert_eq!(mock(&lifted, &lifted.public_inputs().unwrap()), Ok(()));
}

#[test]
fn embargoed_participant_cannot_claim_another_list() {
    // Proving with the slots of a list without Iran but the public commitment of the
    // real list fails: the slots must open C_V.
    let s = setting();
    let mut w = witness(&s, 2);
    w.embargo = EmbargoList::new(3, vec![408, 760, 192]).unwrap();
    let mut public = claimed_public(&w);
    public.embargo_commitment = s.embargo.commitment();
    assert!(mock(&w, &public).is_err());
}

#[test]
fn attribute_outside_the_policy_fails() {
    let s = setting();
    let w = witness(&s, 3);
    assert_eq!(w.public_inputs(), Err(Error::AttributeNotAllowed(9)));
    assert!(mock(&w, &claimed_public(&w)).is_err());
}

#[test]
fn revoked_credential_fails_against_the_new_root() {
    let mut s = setting();
    let old_root = s.tree.root();
    s.tree.revoke(1).unwrap();
    let w = witness(&s, 1);
    assert_ne!(w.credential_root, old_root);
    assert_eq!(w.public_inputs(), Err(Error::NotInTree));
    assert!(mock(&w, &claimed_public(&w)).is_err());
    // The other members still prove under the new root.
    let other = witness(&s, 0);
    assert_eq!(mock(&other, &other.public_inputs().unwrap()), Ok(()));
}

#[test]
fn wrong_secret_or_tampered_public_inputs_fail() {
    let s = setting();
    let w = witness(&s, 0);
    let public = w.public_inputs().unwrap();

    let mut wrong_secret = w.clone();
    wrong_secret.opening.secret += Fp::ONE;
    assert_eq!(wrong_secret.public_inputs(), Err(Error::SecretMismatch));
    assert!(mock(&wrong_secret, &claimed_public(&wrong_secret)).is_err());

    let tamper: [fn(&mut HopPublicInputs); 6] = [
        |p| p.credential_root += Fp::ONE,
        |p| p.embargo_commitment += Fp::ONE,
        |p| p.policy_commitment += Fp::ONE,
        |p| p.link_prev += Fp::ONE,
        |p| p.link += Fp::ONE,
        |p| p.upstream_count += 1,
    ];
    for (i, t) in tamper.iter().enumerate() {
        let mut p = public;
        t(&mut p);
        assert!(mock(&w, &p).is_err(), "tampered public input {i} must fail");
    }
}

#[test]
fn upstream_count_beyond_the_policy_is_refused_by_the_prover() {
    let s = setting();
    let mut w = witness(&s, 0);
    w.upstream_count = 5;
    assert_eq!(w.public_inputs(), Err(Error::TooManyHops { hops: 6, max: 5 }));
}

// ---------------------------------------------------------------- real proofs

/// One 3-hop map (members 0, 1, 2 of a sample chain), a lone hop for another order, and
/// the chain: proved once per test process.
struct Maps {
    chain: SampleSupplyChain,
    map: ComplianceMap,
    other_order_hop: HopProof,
}

fn maps() -> &'static Maps {
    static MAPS: OnceLock<Maps> = OnceLock::new();
    MAPS.get_or_init(|| {
        let prover = HopProver::shared().unwrap();
        let chain = SampleSupplyChain::new(3, 3).unwrap();
        let map = chain.map(prover, [1; 32], &[0, 1, 2]).unwrap();
        let other = ComplianceMap::new(
            order_commitment(&[2; 32]),
            chain.policy.clone(),
            &chain.embargo,
            chain.tree.root(),
        );
        let w = chain.witness(&other, &chain.members[1], 3).unwrap();
        let other_order_hop = prover.prove(&w).unwrap();
        Maps { chain, map, other_order_hop }
    })
}

fn verifier() -> &'static ComplianceVerifier {
    HopProver::shared().unwrap().verifier()
}

fn check(map: &ComplianceMap) -> Result<VerifiedMap> {
    verify_map(verifier(), map, &maps().chain.published())
}

#[test]
fn three_hop_map_verifies() {
    let m = maps();
    let verified = check(&m.map).unwrap();
    assert_eq!(verified.hops, 3);
    assert_eq!(verified.embargo_version, 3);
    assert_eq!(verified.order_commitment, order_commitment(&[1; 32]));
    assert_eq!(verified.commitment, m.map.commitment());
    for (i, hop) in m.map.hops.iter().enumerate() {
        assert_eq!(hop.proof.len(), HOP_PROOF_LEN, "pinned proof size");
        assert_eq!(hop.public.upstream_count, 2 - i as u32);
        verifier().verify_hop(i, hop).unwrap();
    }
    // A verifier set up separately (as a regulator would) derives the same key.
    let independent = ComplianceVerifier::setup().unwrap();
    verify_map(&independent, &m.map, &m.chain.published()).unwrap();
}

#[test]
fn map_with_a_hop_removed_is_rejected() {
    let base = &maps().map;
    let mut map = base.clone();
    map.hops.remove(1);
    assert!(matches!(check(&map), Err(Error::BrokenLink { hop: 1, .. })));
    let mut map = base.clone();
    map.hops.remove(0);
    assert!(matches!(check(&map), Err(Error::BrokenLink { hop: 0, .. })));
    let mut map = base.clone();
    map.hops.pop();
    assert_eq!(check(&map), Err(Error::UpstreamCount { hop: 0, declared: 2, expected: 1 }));
}

#[test]
fn map_with_hops_reordered_or_duplicated_is_rejected() {
    let base = &maps().map;
    let mut map = base.clone();
    map.hops.swap(1, 2);
    assert!(matches!(check(&map), Err(Error::BrokenLink { hop: 1, .. })));
    // Within the policy's 3 hops: duplicate the last hop in place of the middle one.
    let mut map = base.clone();
    map.hops[1] = map.hops[2].clone();
    assert!(matches!(check(&map), Err(Error::BrokenLink { hop: 1, .. })));
    let mut map = base.clone();
    map.hops[2] = map.hops[1].clone();
    assert!(matches!(check(&map), Err(Error::BrokenLink { hop: 2, .. })));
}

#[test]
fn map_with_a_hop_from_another_order_is_rejected() {
    let m = maps();
    let mut map = m.map.clone();
    map.hops[0] = m.other_order_hop.clone();
    assert!(matches!(check(&map), Err(Error::BrokenLink { hop: 0, to: "the order" })));
    // Relabelling the whole map with the other order breaks the chain at the seller.
    let mut map = m.map.clone();
    map.order_commitment = order_commitment(&[2; 32]);
    assert!(matches!(check(&map), Err(Error::BrokenLink { hop: 0, .. })));
}

#[test]
fn map_over_the_policy_hop_maximum_is_rejected() {
    let m = maps();
    let mut map = m.map.clone();
    map.policy = CompliancePolicy::new(vec![1, 2], 2).unwrap();
    assert_eq!(check(&map), Err(Error::TooManyHops { hops: 3, max: 2 }));
    // A seller cannot even ask for a fourth hop's context under a 3-hop policy.
    let mut map = m.map.clone();
    map.hops.clear();
    assert!(matches!(map.hop_context(4), Err(Error::TooManyHops { hops: 4, max: 3 })));
    assert_eq!(check(&map), Err(Error::EmptyMap));
}

#[test]
fn map_against_another_root_or_embargo_list_is_rejected() {
    let m = maps();
    let mut published = m.chain.published();
    published.credential_root += Fp::ONE;
    assert!(matches!(
        verify_map(verifier(), &m.map, &published),
        Err(Error::CredentialRootMismatch { .. })
    ));

    // The registry moved on to embargo list version 4: the map is reported as v3.
    let mut published = m.chain.published();
    published.embargo = EmbargoList::new(4, vec![408, 364, 760, 192, 112]).unwrap();
    assert_eq!(
        verify_map(verifier(), &m.map, &published),
        Err(Error::EmbargoListVersion { expected: 4, found: 3 })
    );
    // Claiming version 4 without re-proving: the hops were proven against v3.
    let mut map = m.map.clone();
    map.embargo_version = 4;
    map.embargo_commitment = published.embargo.commitment();
    assert_eq!(
        verify_map(verifier(), &map, &published),
        Err(Error::HopContextMismatch { hop: 0, what: "embargo list" })
    );
    // Rewriting a hop's public inputs to the new list: the proof no longer verifies.
    for hop in &mut map.hops {
        hop.public.embargo_commitment = published.embargo.commitment();
    }
    assert!(matches!(
        verify_map(verifier(), &map, &published),
        Err(Error::InvalidHopProof { hop: 0, .. })
    ));
}

#[test]
fn revoked_member_hop_fails_against_the_new_root() {
    let m = maps();
    let mut tree = m.chain.tree.clone();
    tree.revoke(m.chain.members[1].leaf_index).unwrap();
    let published =
        PublishedState { credential_root: tree.root(), embargo: m.chain.embargo.clone() };
    assert!(matches!(
        verify_map(verifier(), &m.map, &published),
        Err(Error::CredentialRootMismatch { .. })
    ));
    // Relabel the map and its hops with the new root: the proofs fail.
    let mut map = m.map.clone();
    map.credential_root = tree.root();
    for hop in &mut map.hops {
        hop.public.credential_root = tree.root();
    }
    assert!(matches!(
        verify_map(verifier(), &map, &published),
        Err(Error::InvalidHopProof { hop: 0, .. })
    ));
    // And the revoked member cannot prove anew.
    let mut w = m
        .chain
        .witness(
            &ComplianceMap::new(Fp::ONE, m.chain.policy.clone(), &m.chain.embargo, tree.root()),
            &m.chain.members[1],
            1,
        )
        .unwrap();
    w.path = tree.path(m.chain.members[1].leaf_index).unwrap();
    w.credential_root = tree.root();
    assert_eq!(HopProver::shared().unwrap().prove(&w), Err(Error::NotInTree));
}

#[test]
fn tampered_hop_public_inputs_or_proof_bytes_are_rejected() {
    let hop = &maps().map.hops[1];
    let mut other = hop.clone();
    other.public.link += Fp::ONE;
    assert!(matches!(verifier().verify_hop(1, &other), Err(Error::InvalidHopProof { hop: 1, .. })));

    // Flipped bytes anywhere: an error, never a panic.
    for position in (0..HOP_PROOF_LEN).step_by(97).chain([HOP_PROOF_LEN - 1]) {
        let mut bad = hop.clone();
        bad.proof[position] ^= 0x5a;
        assert!(verifier().verify_hop(1, &bad).is_err(), "byte {position}");
    }
    let mut bad = hop.clone();
    bad.proof = vec![0xff; HOP_PROOF_LEN];
    assert!(matches!(verifier().verify_hop(0, &bad), Err(Error::InvalidHopProof { .. })));
    let mut bad = hop.clone();
    bad.proof.truncate(100);
    assert_eq!(
        verifier().verify_hop(0, &bad),
        Err(Error::ProofLength { hop: 0, expected: HOP_PROOF_LEN, found: 100 })
    );
    bad.proof = hop.proof.clone();
    bad.proof.push(0);
    assert!(matches!(verifier().verify_hop(0, &bad), Err(Error::ProofLength { .. })));
    // A batch with one bad proof names it.
    let mut map = maps().map.clone();
    map.hops[2].proof[40] ^= 1;
    assert!(matches!(check(&map), Err(Error::InvalidHopProof { hop: 2, .. })));
}

#[test]
fn malformed_encodings_are_rejected_with_clear_errors() {
    let map = &maps().map;
    let bytes = map.to_bytes();
    assert_eq!(&ComplianceMap::from_bytes(&bytes).unwrap(), map);
    let hop_bytes = map.hops[0].to_bytes();
    assert_eq!(HopProof::from_bytes(&hop_bytes).unwrap(), map.hops[0]);

    assert!(matches!(ComplianceMap::from_bytes(&[]), Err(Error::Decode { .. })));
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert_eq!(
        ComplianceMap::from_bytes(&v2),
        Err(Error::UnsupportedVersion { what: "supply-chain map", found: 2, supported: 1 })
    );
    for cut in [1, 10, 33, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(ComplianceMap::from_bytes(&bytes[..cut]), Err(Error::Decode { .. })),
            "cut {cut}"
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(ComplianceMap::from_bytes(&trailing), Err(Error::Decode { .. })));
    // A non-canonical order commitment (bytes 1..33 of the encoding).
    let mut non_canonical = bytes.clone();
    non_canonical[1..33].copy_from_slice(&[0xff; 32]);
    assert!(matches!(ComplianceMap::from_bytes(&non_canonical), Err(Error::Decode { .. })));
    assert!(matches!(HopProof::from_bytes(&hop_bytes[..50]), Err(Error::Decode { .. })));
    // Garbage of every short length decodes to an error or to a map that fails
    // verification, never a panic.
    for len in 0..64 {
        let garbage: Vec<u8> = (0..len).map(|i| (i * 37 + 1) as u8).collect();
        if let Ok(map) = ComplianceMap::from_bytes(&garbage) {
            assert!(check(&map).is_err());
        }
    }
}

#[test]
fn map_commitment_binds_the_map() {
    let map = &maps().map;
    let mut other = map.clone();
    other.hops.pop();
    assert_ne!(other.commitment(), map.commitment());
    let mut other = map.clone();
    other.embargo_version += 1;
    assert_ne!(other.commitment(), map.commitment());
    // JSON is available for people and tools; it decodes to the same map.
    let json = serde_json::to_string(map).unwrap();
    assert_eq!(&serde_json::from_str::<ComplianceMap>(&json).unwrap(), map);
}

#[test]
fn map_encoding_and_commitment_are_pinned() {
    // A map with fixed (non-verifying) proof bytes: its encoding is deterministic, so a
    // change of format, field encoding or domain tag shows here.
    let embargo = EmbargoList::new(3, vec![408, 364]).unwrap();
    let policy = CompliancePolicy::new(vec![1, 2], 3).unwrap();
    let mut map = ComplianceMap::new(order_commitment(&[1; 32]), policy, &embargo, Fp::from(42));
    let public = HopPublicInputs {
        credential_root: Fp::from(42),
        embargo_commitment: embargo.commitment(),
        policy_commitment: map.policy.commitment(),
        link_prev: map.first_link(),
        link: Fp::from(5),
        upstream_count: 0,
    };
    map.push(HopProof { public, proof: vec![7; HOP_PROOF_LEN] });
    let bytes = map.to_bytes();
    assert_eq!(bytes.len(), 4_490);
    assert_eq!(
        map.commitment().to_hex(),
        "dd981e0c8b4ab7f62c0f7d5b0dec0dc2cf9a51614c2993d957ef250781f9c54d"
    );
}

/// `cargo test -p omni-circuits --release compliance_bench -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: real proofs of a 5-hop map; prints figures"]
fn compliance_bench_5_hops() {
    let s = setting();
    let circuit = HopCircuit::new(&witness(&s, 0)).unwrap();
    let cost = halo2_proofs::dev::CircuitCost::<pasta_curves::vesta::Point, _>::measure(
        HOP_CIRCUIT_K,
        &circuit,
    );
    println!("{cost:#?}");
    let bench = bench_compliance(5).unwrap();
    println!("{}", serde_json::to_string_pretty(&bench).unwrap());
}
