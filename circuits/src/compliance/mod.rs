//! Supply-chain compliance proofs (docs/architecture.md, "The proofs" 3; MEF 114 R15): jurisdiction
//! credentials, embargo lists, the halo2 **hop proof** and the pseudonymous
//! **supply-chain map** a seller assembles from hop proofs for a regulator or a buyer.
//!
//! Everything here is over the Pallas base field [`Fp`] (Vesta's scalar field), proven
//! with zcash `halo2_proofs` (PLONK with the IPA commitment over Vesta: no trusted setup)
//! and hashed with `halo2_gadgets`' Poseidon, `P128Pow5T3` (width 3, rate 2, 8 full and
//! 56 partial rounds, x⁵ S-box).
//!
//! # Bird's eye view
//!
//! ```text
//!  member ──secret s──► secret_hash = H(TAG_SECRET, s)
//!                                │
//!  membership admin ─► JurisdictionCredential { pseudonym, country, attribute, secret_hash }
//!                                │ commitment()
//!                                ▼
//!                       CredentialTree (depth 16) ──► credential root R (registry)
//!  regulator ─► EmbargoList { version, countries } ──► embargo commitment C_V (registry)
//!  buyer/seller ─► CompliancePolicy { allowed attributes, max hops } ──► policy commitment P
//!
//!  order id ─► O ─► L_0 = H(TAG_ORDER_LINK, O)
//!  hop 0 (seller)      proves  L_0 → L_1, upstream count n−1
//!  hop 1 (supplier)    proves  L_1 → L_2, upstream count n−2
//!  …                   …
//!  hop n−1 (furthest)  proves  L_{n−1} → L_n, upstream count 0
//!                                │
//!                                ▼
//!  ComplianceMap { O, policy, embargo version + C_V, R, hops } ──► verify_map
//!                                └──► commitment() (Hash32, SHA-256) on the bilateral ledger
//! ```
//!
//! # The hashes
//!
//! `H(x_1, …, x_L)` is Poseidon `P128Pow5T3` in `ConstantLength<L>` mode (the capacity
//! element is `L·2^64`, inputs zero-padded to a multiple of the rate 2; the output is the
//! first state element), exactly `halo2_poseidon::Hash::<_, P128Pow5T3,
//! ConstantLength<L>, 3, 2>::hash`, natively and in the circuit. Each use starts with a
//! domain tag (small integers, [`hash::tags`]) except Merkle nodes:
//!
//! | value | definition |
//! |---|---|
//! | secret hash | `H(TAG_SECRET, s)` |
//! | credential commitment (leaf) | `H(TAG_CREDENTIAL, pseudonym, country, attribute, secret_hash)` |
//! | Merkle node | `H(left, right)`; an empty leaf is `0` |
//! | embargo commitment `C_V` | `H(TAG_EMBARGO, version, c_0, …, c_31)`, unused slots `0` |
//! | policy commitment `P` | `H(TAG_POLICY, max_hops, a_0, …, a_7)`, unused slots `0` |
//! | order commitment `O` | `H(TAG_ORDER, lo, hi)` of a 32-byte order id split into two little-endian 128-bit halves |
//! | first link `L_0` | `H(TAG_ORDER_LINK, O)` |
//! | link `L_i` | `H(TAG_LINK, L_{i−1}, s, u)` where `u` is the hop's declared upstream count |
//!
//! The member generates `s` and gives the administrator only `secret_hash`, so the
//! administrator can check what it certifies (pseudonym, country, attribute) without
//! being able to prove, or recognise, the member's hops.
//!
//! # The hop statement
//!
//! Public inputs, in this order (one instance column, rows 0–5):
//!
//! 0. `R` — credential root;
//! 1. `C_V` — embargo commitment;
//! 2. `P` — policy commitment;
//! 3. `L_{i−1}` — the link received from the downstream neighbour (or `L_0`);
//! 4. `L_i` — this hop's link, handed to its upstream neighbour;
//! 5. `u` — this hop's declared upstream count (a public output).
//!
//! Private: pseudonym, country, attribute, `s`, the Merkle path (16 siblings and the leaf
//! index bits), the embargo list (version and 32 slots), the policy (max hops and 8
//! slots). The circuit proves that
//!
//! - (a) `leaf = H(TAG_CREDENTIAL, pseudonym, country, attribute, H(TAG_SECRET, s))` opens
//!   to `R` along the path (each level swaps `(cur, sibling)` by a boolean index bit);
//! - (b) the prover knows `s` (it is hashed into the leaf and into `L_i`);
//! - (c) `C_V` opens to the 32 slots and `country − c_j` is invertible for every slot `j`
//!   (a witness `inv_j` with `(country − c_j)·inv_j = 1`);
//! - (d) `P` opens to the 8 slots and `Π_j (attribute − a_j) = 0`;
//! - (e) `L_i = H(TAG_LINK, L_{i−1}, s, u)`;
//! - (f) `u` is the declared upstream count bound into `L_i`.
//!
//! Padding slots hold `0`, which never matches: credentials are only issued for ISO 3166
//! numeric codes 1–999 and attribute codes ≥ 1 (an embargo slot of `0` thus never
//! excludes anyone, an allowed-set slot of `0` never admits anyone).
//!
//! # The link chain and completeness
//!
//! Hops are ordered from the seller (index 0, the party that sold to the buyer) to the
//! furthest upstream supplier (index `n−1`). The seller declares the chain's depth: hop
//! `i` must declare `u_i = n−1−i` upstream hops, so the last one declares 0.
//! [`verify_map`] checks `link_prev(hop 0) = L_0(O)`, `link_prev(hop i) = link(hop i−1)`,
//! the counts, `n ≤ max_hops`, and that every hop used the map's `R`, `C_V` and `P`:
//!
//! - a hop **omitted** in the middle or **reordered** breaks the link equality;
//! - the **last** hop omitted leaves a final hop declaring 1 upstream hop, not 0;
//! - the **first** hop omitted leaves a first hop whose `link_prev` is not `L_0(O)`;
//! - a hop **duplicated** breaks the link equality at the copy;
//! - a hop **from another order** starts from another `L_0` (transitively: every `L_i`
//!   depends on `O`), so its `link_prev` does not match.
//!
//! # Parameters
//!
//! The circuit has 44 Poseidon permutations: 16 Merkle levels, 3 for the leaf, 1 for
//! the secret hash and 2 for the link on one `Pow5Chip` (22 permutations), 17 for the
//! embargo commitment and 5 for the policy on a second chip (22), each about 39 rows, so
//! the two chips run side by side and the circuit uses 899 rows (measured with
//! `halo2_proofs::dev::CircuitCost`): it fits `k = 10` (1,024 rows), see
//! [`HOP_CIRCUIT_K`] (one chip would need 1,781 rows, `k = 11`, and twice the proving
//! and verifying time). A hop proof is [`proof::HOP_PROOF_LEN`] = 4,224 bytes.
//!
//! The IPA parameters are `Params::new(10)`, deterministic (the generators are hashed to
//! the curve), and the keys are generated in process from the circuit shape
//! ([`HopProver::setup`], [`ComplianceVerifier::setup`]), so every verifier derives the
//! same verifying key with no ceremony and nothing to download. Setup takes about 2 s;
//! [`HopProver::shared`] caches one prover per process.
//!
//! Measured by [`bench_compliance`] on the 2-core development machine while other
//! builds ran (load ≈ 3): hop proof 1.0–1.2 s, hop verification 27–29 ms, 5-hop map
//! verification (structure and one batch of proofs) 50–61 ms.
//!
//! # Modules
//!
//! - [`hash`]: native Poseidon, domain tags and field-element encodings;
//! - [`credential`]: jurisdiction credentials and the credential Merkle tree;
//! - [`embargo`]: embargo lists and the order's compliance policy;
//! - [`circuit`]: the hop circuit;
//! - [`proof`]: keys, proving and verifying one hop;
//! - [`map`]: the supply-chain map, its verification, encoding and commitment;
//! - [`bench`](mod@bench): the timing function behind `omni bench compliance`.

pub mod bench;
pub mod circuit;
pub mod credential;
pub mod embargo;
pub mod hash;
pub mod map;
pub mod proof;
pub mod statement;

#[cfg(test)]
mod tests;

pub use bench::SampleSupplyChain;
pub use bench::{bench_compliance, ComplianceBench};
pub use circuit::{HopCircuit, HOP_CIRCUIT_K};
pub use credential::{
    CredentialOpening, CredentialTree, JurisdictionCredential, MerklePath, CREDENTIAL_TREE_DEPTH,
};
pub use embargo::{
    CompliancePolicy, EmbargoCommitment, EmbargoList, EmbargoListError, EMBARGO_SLOTS, POLICY_SLOTS,
};
pub use hash::{field_from_bytes, field_to_bytes, order_commitment, Fp};
pub use map::{check_map_structure, verify_map, ComplianceMap, PublishedState, VerifiedMap};
pub use proof::{ComplianceVerifier, HopProof, HopProver};
pub use statement::{HopPublicInputs, HopWitness};

/// Errors of the compliance module: what was wrong with a credential, list, witness,
/// proof or map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A country code outside ISO 3166 numeric 1–999.
    #[error("country code {0} is not an ISO 3166 numeric code (1-999)")]
    InvalidCountry(u16),
    /// Attribute code 0 is reserved for padding.
    #[error("attribute code 0 is reserved for padding")]
    InvalidAttribute,
    /// An embargo list with more countries than the circuit's slots.
    #[error("embargo list has {found} countries, at most {max} fit the circuit")]
    EmbargoListTooLong {
        /// Countries in the list.
        found: usize,
        /// [`EMBARGO_SLOTS`].
        max: usize,
    },
    /// A policy that allows no attribute, or more than the circuit's slots.
    #[error("policy allows {found} attribute codes, it must allow 1 to {max}")]
    PolicyAttributes {
        /// Allowed codes in the policy.
        found: usize,
        /// [`POLICY_SLOTS`].
        max: usize,
    },
    /// A policy whose maximum hop count is zero.
    #[error("policy maximum hop count must be at least 1")]
    PolicyMaxHops,
    /// 32 bytes that are not the canonical encoding of a field element.
    #[error("not a canonical Pallas base field element: {0}")]
    NonCanonicalField(String),
    /// The credential tree has no free leaf left.
    #[error("credential tree is full ({capacity} leaves)")]
    TreeFull {
        /// Number of leaves of the tree.
        capacity: u64,
    },
    /// A leaf index that was never issued.
    #[error("credential leaf {0} was never issued")]
    UnknownLeaf(u64),
    /// A leaf that was already revoked.
    #[error("credential leaf {0} is already revoked")]
    AlreadyRevoked(u64),
    /// The zero commitment is the empty leaf and cannot be inserted.
    #[error("the empty leaf value cannot be inserted as a credential")]
    EmptyCommitment,
    /// A Merkle path whose shape does not match the tree.
    #[error("malformed Merkle path: {0}")]
    MalformedPath(String),
    /// The opening's secret does not hash to the credential's secret hash.
    #[error("the secret does not match the credential's secret hash")]
    SecretMismatch,
    /// The credential does not open to the root the proof is for (revoked, or another
    /// tree).
    #[error("credential is not in the credential tree at the given root")]
    NotInTree,
    /// The participant's country is on the embargo list: no proof can be made.
    #[error("country {country} is on embargo list version {version}")]
    Embargoed {
        /// The participant's country.
        country: u16,
        /// The embargo list's version.
        version: u32,
    },
    /// The participant's attribute is not allowed by the order's policy.
    #[error("attribute {0} is not allowed by the order's policy")]
    AttributeNotAllowed(u16),
    /// halo2 key generation or proving failed.
    #[error("halo2 {stage} failed: {reason}")]
    Halo2 {
        /// keygen or proving.
        stage: &'static str,
        /// halo2's error, as text.
        reason: String,
    },
    /// Proof bytes of the wrong length for the hop circuit.
    #[error("hop {hop}: proof is {found} bytes, the hop circuit's proofs are {expected}")]
    ProofLength {
        /// Hop index in the map (0 for a lone hop).
        hop: usize,
        /// The hop circuit's proof size.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// A hop proof that does not verify against its public inputs.
    #[error("hop {hop}: proof does not verify: {reason}")]
    InvalidHopProof {
        /// Hop index in the map (0 for a lone hop).
        hop: usize,
        /// Why, as far as the verifier can tell.
        reason: String,
    },
    /// Bytes that do not decode.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// An encoding whose format version this code does not read.
    #[error("{what}: format version {found} is not supported (this code reads {supported})")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version byte found.
        found: u8,
        /// The version this code reads.
        supported: u8,
    },
    /// A map with no hop.
    #[error("supply-chain map has no hop")]
    EmptyMap,
    /// More hops than the policy allows.
    #[error("supply-chain map has {hops} hops, the policy allows at most {max}")]
    TooManyHops {
        /// Hops in the map.
        hops: usize,
        /// The policy's maximum.
        max: u32,
    },
    /// The map was proven against another credential root than the published one.
    #[error("map is for credential root {found}, the registry published {expected}")]
    CredentialRootMismatch {
        /// Published root (hex).
        expected: String,
        /// The map's root (hex).
        found: String,
    },
    /// The map was proven against another embargo list (version) than the published one.
    #[error("map is for embargo list version {found}, the current one is version {expected}")]
    EmbargoListVersion {
        /// The published list's version.
        expected: u32,
        /// The map's version.
        found: u32,
    },
    /// The map names the published version but another commitment.
    #[error("map's embargo commitment does not match embargo list version {version}")]
    EmbargoCommitmentMismatch {
        /// The version both name.
        version: u32,
    },
    /// A hop proven against another root, embargo list or policy than the map's.
    #[error("hop {hop}: proven against another {what} than the map's")]
    HopContextMismatch {
        /// Hop index.
        hop: usize,
        /// "credential root", "embargo list" or "policy".
        what: &'static str,
    },
    /// A hop whose previous link is not the link of the hop before it (or the order's
    /// first link): a hop omitted, reordered, duplicated or taken from another order.
    #[error("hop {hop}: does not link to {to} (hop omitted, reordered, duplicated or from another order)")]
    BrokenLink {
        /// Hop index.
        hop: usize,
        /// "the order" or "the previous hop".
        to: &'static str,
    },
    /// A hop whose declared upstream count disagrees with its position: the map is
    /// incomplete (declared upstream hops missing) or padded.
    #[error("hop {hop}: declares {declared} upstream hops, its position implies {expected}")]
    UpstreamCount {
        /// Hop index.
        hop: usize,
        /// The hop's declared count.
        declared: u32,
        /// `n − 1 − hop`.
        expected: u32,
    },
}

/// `Result` with the compliance [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
