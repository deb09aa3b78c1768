//! A sample supply chain ([`SampleSupplyChain`]) and the timing behind
//! `omni bench compliance` ([`bench_compliance`]): real halo2 proofs, no mocks.

use std::time::Instant;

use serde::Serialize;

use super::circuit::HOP_CIRCUIT_K;
use super::credential::{
    random_secret, secret_hash, CredentialOpening, CredentialTree, JurisdictionCredential,
};
use super::embargo::{CompliancePolicy, EmbargoList};
use super::hash::{order_commitment, Fp};
use super::map::{verify_map, ComplianceMap, PublishedState};
use super::proof::HopProver;
use super::statement::HopWitness;
use super::Result;

/// Countries of the sample members (ISO 3166 numeric: France, Germany, Netherlands,
/// Spain, Italy, Japan, Canada).
const SAMPLE_COUNTRIES: [u16; 7] = [250, 276, 528, 724, 380, 392, 124];

/// A registry with `members` admitted members, an embargo list and an order policy.
#[derive(Debug, Clone)]
pub struct SampleSupplyChain {
    /// The credential tree (with a few unrelated members besides the chain's).
    pub tree: CredentialTree,
    /// Embargo list version 3: North Korea, Iran, Syria, Cuba.
    pub embargo: EmbargoList,
    /// Circuit types 1 and 2 allowed.
    pub policy: CompliancePolicy,
    /// The openings the chain's members hold.
    pub members: Vec<CredentialOpening>,
}

impl SampleSupplyChain {
    /// Admits `members` members (plus 8 unrelated ones) under a policy of at most
    /// `max_hops` hops; member `i` has attribute `1 + i % 2`.
    pub fn new(members: usize, max_hops: u32) -> Result<Self> {
        let mut tree = CredentialTree::new();
        let mut openings = Vec::with_capacity(members);
        for i in 0..members + 8 {
            let secret = random_secret();
            let credential = JurisdictionCredential::issue(
                Fp::from(0x5eed_0000 + i as u64),
                SAMPLE_COUNTRIES[i % SAMPLE_COUNTRIES.len()],
                1 + (i % 2) as u16,
                secret_hash(&secret),
            )?;
            let leaf_index = tree.insert(credential.commitment())?;
            if i < members {
                openings.push(CredentialOpening { credential, secret, leaf_index });
            }
        }
        Ok(Self {
            tree,
            embargo: EmbargoList::new(3, vec![408, 364, 760, 192])?,
            policy: CompliancePolicy::new(vec![1, 2], max_hops)?,
            members: openings,
        })
    }

    /// What the registry publishes for this chain.
    pub fn published(&self) -> PublishedState {
        PublishedState { credential_root: self.tree.root(), embargo: self.embargo.clone() }
    }

    /// The witness of `opening` for the next hop of `map`, a chain of `total` hops.
    pub fn witness(
        &self,
        map: &ComplianceMap,
        opening: &CredentialOpening,
        total: usize,
    ) -> Result<HopWitness> {
        let (link_prev, upstream_count) = map.hop_context(total)?;
        Ok(HopWitness {
            opening: opening.clone(),
            path: self.tree.path(opening.leaf_index)?,
            credential_root: self.tree.root(),
            embargo: self.embargo.clone(),
            policy: self.policy.clone(),
            link_prev,
            upstream_count,
        })
    }

    /// A complete map for order `order_id` in which the members given by index prove,
    /// in that order (seller first).
    pub fn map(
        &self,
        prover: &HopProver,
        order_id: [u8; 32],
        hops: &[usize],
    ) -> Result<ComplianceMap> {
        let mut map = ComplianceMap::new(
            order_commitment(&order_id),
            self.policy.clone(),
            &self.embargo,
            self.tree.root(),
        );
        for &member in hops {
            let witness = self.witness(&map, &self.members[member], hops.len())?;
            map.push(prover.prove(&witness)?);
        }
        Ok(map)
    }
}

/// What `omni bench compliance --json` prints.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ComplianceBench {
    /// `log2` of the circuit's rows.
    pub k: u32,
    /// Parameter and key generation (0 if this process had already done it), seconds.
    pub setup_s: f64,
    /// Mean time to prove one hop, seconds.
    pub hop_prove_s: f64,
    /// Mean time to verify one hop proof alone, milliseconds.
    pub hop_verify_ms: f64,
    /// Hops of the benchmarked map.
    pub map_hops: usize,
    /// Time to verify the whole map (structure and batched proofs), milliseconds.
    pub map_verify_ms: f64,
    /// Size of one hop proof, bytes.
    pub proof_bytes: usize,
}

/// Proves a `hops`-hop map with real halo2 proofs and times proving, verifying one hop
/// and verifying the map.
pub fn bench_compliance(hops: usize) -> Result<ComplianceBench> {
    let started = Instant::now();
    let prover = HopProver::shared()?;
    let setup_s = started.elapsed().as_secs_f64();

    let chain = SampleSupplyChain::new(hops, hops.max(1) as u32)?;
    let order: Vec<usize> = (0..hops).collect();
    let started = Instant::now();
    let map = chain.map(prover, [7u8; 32], &order)?;
    let hop_prove_s = started.elapsed().as_secs_f64() / hops.max(1) as f64;

    let verifier = prover.verifier();
    let started = Instant::now();
    for (i, hop) in map.hops.iter().enumerate() {
        verifier.verify_hop(i, hop)?;
    }
    let hop_verify_ms = started.elapsed().as_secs_f64() * 1e3 / hops.max(1) as f64;

    let published = chain.published();
    let started = Instant::now();
    verify_map(verifier, &map, &published)?;
    let map_verify_ms = started.elapsed().as_secs_f64() * 1e3;

    Ok(ComplianceBench {
        k: HOP_CIRCUIT_K,
        setup_s,
        hop_prove_s,
        hop_verify_ms,
        map_hops: hops,
        map_verify_ms,
        proof_bytes: map.hops.first().map_or(0, |h| h.proof.len()),
    })
}
