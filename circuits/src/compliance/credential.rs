//! Jurisdiction credentials and the registry's credential Merkle tree.
//!
//! At admission the membership administrator issues a member a
//! [`JurisdictionCredential`] binding its pseudonym to its country and attribute and to
//! the hash of a secret only the member knows; the credential's commitment becomes a leaf
//! of the [`CredentialTree`]. The member keeps a [`CredentialOpening`] (credential,
//! secret, leaf index) and asks the registry for its [`MerklePath`] under the current
//! root when it proves a hop. Revocation sets the leaf back to the empty value `0`, so
//! every later root excludes it while the other members' leaves stay where they are.
//!
//! The tree has a fixed depth of [`CREDENTIAL_TREE_DEPTH`] = 16 (65,536 credentials):
//! each level costs the hop circuit one Poseidon permutation (39 rows), and 16 keeps the
//! whole circuit within 2^10 rows. It is stored sparsely: the issued leaves and, per
//! level, the nodes over them; absent subtrees hash to precomputed empty roots.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::hash::{fp_serde, fp_vec_serde, poseidon, tags, Fp};
use super::{Error, Result};

/// Depth of the credential tree: paths have this many siblings, the tree has 2^depth
/// leaves.
pub const CREDENTIAL_TREE_DEPTH: usize = 16;

/// The value of an empty (never issued or revoked) leaf.
pub const EMPTY_LEAF: Fp = <Fp as ff::Field>::ZERO;

/// Largest ISO 3166 numeric country code.
pub const MAX_COUNTRY: u16 = 999;

/// The hash of a member's secret `s`: `H(TAG_SECRET, s)`, what the member hands the
/// administrator instead of `s`.
pub fn secret_hash(secret: &Fp) -> Fp {
    poseidon([Fp::from(tags::TAG_SECRET), *secret])
}

/// A fresh uniformly random member secret from the operating system's generator.
pub fn random_secret() -> Fp {
    use ff::Field;
    use rand_halo2::{rand_core::UnwrapErr, rngs::SysRng};
    Fp::random(&mut UnwrapErr(SysRng))
}

/// Checks an ISO 3166 numeric code (1–999; 0 is the padding value of embargo lists).
pub fn check_country(country: u16) -> Result<()> {
    if country == 0 || country > MAX_COUNTRY {
        return Err(Error::InvalidCountry(country));
    }
    Ok(())
}

/// A credential binding a member's pseudonym to its jurisdiction, as issued by the
/// registry's membership administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CredentialRepr", into = "CredentialRepr")]
pub struct JurisdictionCredential {
    pseudonym: Fp,
    country: u16,
    attribute: u16,
    secret_hash: Fp,
}

#[derive(Serialize, Deserialize)]
struct CredentialRepr {
    #[serde(with = "fp_serde")]
    pseudonym: Fp,
    country: u16,
    attribute: u16,
    #[serde(with = "fp_serde")]
    secret_hash: Fp,
}

impl TryFrom<CredentialRepr> for JurisdictionCredential {
    type Error = Error;
    fn try_from(r: CredentialRepr) -> Result<Self> {
        Self::issue(r.pseudonym, r.country, r.attribute, r.secret_hash)
    }
}

impl From<JurisdictionCredential> for CredentialRepr {
    fn from(c: JurisdictionCredential) -> Self {
        CredentialRepr {
            pseudonym: c.pseudonym,
            country: c.country,
            attribute: c.attribute,
            secret_hash: c.secret_hash,
        }
    }
}

impl JurisdictionCredential {
    /// Issues a credential for `pseudonym` located in `country` (ISO 3166 numeric,
    /// 1–999) with `attribute` (e.g. the MEF circuit-type code the member provides;
    /// ≥ 1), bound to the member's [`secret_hash`].
    pub fn issue(pseudonym: Fp, country: u16, attribute: u16, secret_hash: Fp) -> Result<Self> {
        check_country(country)?;
        if attribute == 0 {
            return Err(Error::InvalidAttribute);
        }
        Ok(Self { pseudonym, country, attribute, secret_hash })
    }

    /// The member's pseudonym.
    pub fn pseudonym(&self) -> Fp {
        self.pseudonym
    }

    /// The member's country (ISO 3166 numeric).
    pub fn country(&self) -> u16 {
        self.country
    }

    /// The member's attribute code.
    pub fn attribute(&self) -> u16 {
        self.attribute
    }

    /// The hash of the member's secret.
    pub fn secret_hash(&self) -> Fp {
        self.secret_hash
    }

    /// The leaf: `H(TAG_CREDENTIAL, pseudonym, country, attribute, secret_hash)`.
    pub fn commitment(&self) -> Fp {
        poseidon([
            Fp::from(tags::TAG_CREDENTIAL),
            self.pseudonym,
            Fp::from(u64::from(self.country)),
            Fp::from(u64::from(self.attribute)),
            self.secret_hash,
        ])
    }
}

/// What a member keeps to prove hops: its credential, its secret and its leaf index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialOpening {
    /// The issued credential.
    pub credential: JurisdictionCredential,
    /// The secret whose hash the credential holds.
    #[serde(with = "fp_serde")]
    pub secret: Fp,
    /// The credential's leaf in the tree.
    pub leaf_index: u64,
}

impl CredentialOpening {
    /// Checks that `secret` is the credential's secret.
    pub fn is_consistent(&self) -> bool {
        secret_hash(&self.secret) == self.credential.secret_hash
    }
}

/// An authentication path: the sibling at each level from the leaf up, and the leaf's
/// index, whose bit `d` says whether the node at level `d` is a right child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerklePath {
    /// The leaf's index.
    pub leaf_index: u64,
    /// [`CREDENTIAL_TREE_DEPTH`] siblings, leaf level first.
    #[serde(with = "fp_vec_serde")]
    pub siblings: Vec<Fp>,
}

impl MerklePath {
    /// Checks the path's shape against the tree's.
    pub fn check_shape(&self) -> Result<()> {
        if self.siblings.len() != CREDENTIAL_TREE_DEPTH {
            return Err(Error::MalformedPath(format!(
                "{} siblings, the tree has depth {CREDENTIAL_TREE_DEPTH}",
                self.siblings.len()
            )));
        }
        if self.leaf_index >= 1 << CREDENTIAL_TREE_DEPTH {
            return Err(Error::MalformedPath(format!(
                "leaf index {} beyond the tree's {} leaves",
                self.leaf_index,
                1u64 << CREDENTIAL_TREE_DEPTH
            )));
        }
        Ok(())
    }

    /// The index bit at level `level` (1: the node there is a right child).
    pub fn bit(&self, level: usize) -> bool {
        (self.leaf_index >> level) & 1 == 1
    }

    /// The root this path leads to from `leaf`.
    pub fn root(&self, leaf: Fp) -> Result<Fp> {
        self.check_shape()?;
        Ok(self.siblings.iter().enumerate().fold(leaf, |cur, (level, sibling)| {
            if self.bit(level) {
                poseidon([*sibling, cur])
            } else {
                poseidon([cur, *sibling])
            }
        }))
    }
}

/// Roots of empty subtrees: `empty_roots()[d]` is the root of an empty subtree of height
/// `d` (`[0]` is the empty leaf).
fn empty_roots() -> &'static [Fp; CREDENTIAL_TREE_DEPTH + 1] {
    static ROOTS: OnceLock<[Fp; CREDENTIAL_TREE_DEPTH + 1]> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = [EMPTY_LEAF; CREDENTIAL_TREE_DEPTH + 1];
        for d in 1..=CREDENTIAL_TREE_DEPTH {
            roots[d] = poseidon([roots[d - 1], roots[d - 1]]);
        }
        roots
    })
}

/// The registry's credential tree: leaves are issued left to right; revocation empties a
/// leaf in place. Serializes as its leaves only; the inner nodes are recomputed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TreeRepr", into = "TreeRepr")]
pub struct CredentialTree {
    /// `levels[0]` are the issued leaves; `levels[d]` the nodes of height `d` over them
    /// (`levels[DEPTH]` holds the root once a leaf exists).
    levels: Vec<Vec<Fp>>,
}

#[derive(Serialize, Deserialize)]
struct TreeRepr {
    depth: u8,
    #[serde(with = "fp_vec_serde")]
    leaves: Vec<Fp>,
}

impl TryFrom<TreeRepr> for CredentialTree {
    type Error = Error;
    fn try_from(repr: TreeRepr) -> Result<Self> {
        if usize::from(repr.depth) != CREDENTIAL_TREE_DEPTH {
            return Err(Error::MalformedPath(format!(
                "tree of depth {}, this code uses depth {CREDENTIAL_TREE_DEPTH}",
                repr.depth
            )));
        }
        if repr.leaves.len() > 1 << CREDENTIAL_TREE_DEPTH {
            return Err(Error::TreeFull { capacity: 1 << CREDENTIAL_TREE_DEPTH });
        }
        let mut levels = vec![repr.leaves];
        for d in 0..CREDENTIAL_TREE_DEPTH {
            let below = &levels[d];
            let above = below
                .chunks(2)
                .map(|pair| poseidon([pair[0], pair.get(1).copied().unwrap_or(empty_roots()[d])]))
                .collect();
            levels.push(above);
        }
        Ok(Self { levels })
    }
}

impl From<CredentialTree> for TreeRepr {
    fn from(mut tree: CredentialTree) -> Self {
        TreeRepr { depth: CREDENTIAL_TREE_DEPTH as u8, leaves: std::mem::take(&mut tree.levels[0]) }
    }
}

impl Default for CredentialTree {
    fn default() -> Self {
        Self::new()
    }
}

impl CredentialTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self { levels: vec![Vec::new(); CREDENTIAL_TREE_DEPTH + 1] }
    }

    /// Number of leaves issued so far (revoked ones included).
    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Whether no leaf was ever issued.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The current root.
    pub fn root(&self) -> Fp {
        self.levels[CREDENTIAL_TREE_DEPTH]
            .first()
            .copied()
            .unwrap_or(empty_roots()[CREDENTIAL_TREE_DEPTH])
    }

    /// The leaf at `index` (the empty value if revoked).
    pub fn leaf(&self, index: u64) -> Result<Fp> {
        self.node(0, index).ok_or(Error::UnknownLeaf(index))
    }

    fn node(&self, level: usize, index: u64) -> Option<Fp> {
        usize::try_from(index).ok().and_then(|i| self.levels[level].get(i).copied())
    }

    /// Appends a credential commitment; returns its leaf index.
    pub fn insert(&mut self, commitment: Fp) -> Result<u64> {
        if commitment == EMPTY_LEAF {
            return Err(Error::EmptyCommitment);
        }
        let index = self.len();
        if index >= 1 << CREDENTIAL_TREE_DEPTH {
            return Err(Error::TreeFull { capacity: 1 << CREDENTIAL_TREE_DEPTH });
        }
        self.levels[0].push(commitment);
        self.update_path(index);
        Ok(index)
    }

    /// Revokes the credential at `index`: its leaf becomes empty, so no root from now on
    /// includes it.
    pub fn revoke(&mut self, index: u64) -> Result<()> {
        let leaf = self.leaf(index)?;
        if leaf == EMPTY_LEAF {
            return Err(Error::AlreadyRevoked(index));
        }
        // `leaf` succeeded, so `index` fits usize.
        self.levels[0][index as usize] = EMPTY_LEAF;
        self.update_path(index);
        Ok(())
    }

    /// The authentication path of the leaf at `index` under the current root.
    pub fn path(&self, index: u64) -> Result<MerklePath> {
        self.leaf(index)?;
        let siblings = (0..CREDENTIAL_TREE_DEPTH)
            .map(|d| self.node(d, (index >> d) ^ 1).unwrap_or(empty_roots()[d]))
            .collect();
        Ok(MerklePath { leaf_index: index, siblings })
    }

    /// Recomputes the nodes above leaf `index`; `index` is an existing leaf.
    fn update_path(&mut self, index: u64) {
        let mut i = index as usize;
        for d in 0..CREDENTIAL_TREE_DEPTH {
            let left = self.levels[d][i & !1];
            let right = self.levels[d].get(i | 1).copied().unwrap_or(empty_roots()[d]);
            let parent = poseidon([left, right]);
            i >>= 1;
            let above = &mut self.levels[d + 1];
            if i < above.len() {
                above[i] = parent;
            } else {
                above.push(parent);
            }
        }
    }
}
