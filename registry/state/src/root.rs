//! The state root: a Merkle commitment to every state entry, kept up to date
//! incrementally.
//!
//! Validators compare state roots to see that they executed the same blocks to the same
//! state (the consensus issue), and every query answer names the root it was read from.
//! Rehashing the whole state per block would cost time proportional to the state, so the
//! root is a fixed-depth binary Merkle tree over [`BUCKETS`] buckets:
//!
//! ```text
//! key_hash   = H("omni/registry/state-key",   len‖table ‖ len‖key)
//! entry_hash = H("omni/registry/state-entry", key_hash ‖ len‖value)
//! bucket     = first 16 bits of key_hash
//! leaf       = EMPTY[0] = 0³²                       if the bucket is empty
//!            = H("omni/registry/state-bucket", (key_hash ‖ entry_hash)* in key_hash order)
//! node       = H("omni/registry/state-node", left ‖ right);  EMPTY[l+1] = node(EMPTY[l], EMPTY[l])
//! root       = the node at depth 0
//! ```
//!
//! A change rehashes its bucket (on average `entries / 65 536` entries) and the 16 nodes
//! above it. The root depends only on the set of `(table, key, value)` entries, never on
//! the order in which they were written, so two validators that reach the same state by
//! different histories agree on it. (`H` is [`omni_core::Hash32::digest`]'s tagged SHA-256.)

use omni_core::hash::Hasher;
use omni_core::Hash32;
use std::collections::{BTreeMap, BTreeSet};

/// Depth of the tree.
pub const DEPTH: usize = 16;
/// Number of buckets (leaves).
pub const BUCKETS: usize = 1 << DEPTH;

/// Incrementally maintained Merkle root over `(table, key, value)` entries.
#[derive(Clone)]
pub struct StateTree {
    /// `key_hash → entry_hash` of every entry.
    entries: BTreeMap<Hash32, Hash32>,
    /// Heap-ordered nodes: `nodes[1]` is the root, the leaves are `nodes[BUCKETS..]`.
    nodes: Vec<Hash32>,
    /// Buckets changed since the last [`StateTree::commit`].
    dirty: BTreeSet<usize>,
}

impl std::fmt::Debug for StateTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateTree({} entries, root {:?})", self.entries.len(), self.nodes[1])
    }
}

impl Default for StateTree {
    fn default() -> StateTree {
        StateTree::new()
    }
}

fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Hasher::new("omni/registry/state-node");
    h.update(&left.0);
    h.update(&right.0);
    h.finish()
}

/// Hash that names an entry's `(table, key)`.
pub fn key_hash(table: &str, key: &[u8]) -> Hash32 {
    let mut h = Hasher::new("omni/registry/state-key");
    h.update_field(table.as_bytes());
    h.update_field(key);
    h.finish()
}

fn entry_hash(key_hash: &Hash32, value: &[u8]) -> Hash32 {
    let mut h = Hasher::new("omni/registry/state-entry");
    h.update(&key_hash.0);
    h.update_field(value);
    h.finish()
}

fn bucket_of(key_hash: &Hash32) -> usize {
    usize::from(u16::from_be_bytes([key_hash.0[0], key_hash.0[1]]))
}

impl StateTree {
    /// The tree of the empty state.
    pub fn new() -> StateTree {
        // nodes[i] for i in [2^l, 2^(l+1)) sit at depth l; leaves at depth DEPTH.
        let mut empty = [Hash32::ZERO; DEPTH + 1];
        for level in 1..=DEPTH {
            empty[level] = node_hash(&empty[level - 1], &empty[level - 1]);
        }
        let mut nodes = vec![Hash32::ZERO; 2 * BUCKETS];
        for depth in 0..=DEPTH {
            let height = DEPTH - depth;
            for node in &mut nodes[1 << depth..2 << depth] {
                *node = empty[height];
            }
        }
        StateTree { entries: BTreeMap::new(), nodes, dirty: BTreeSet::new() }
    }

    /// Sets (`Some`) or deletes (`None`) the entry `(table, key)`. Takes effect on the root
    /// at the next [`StateTree::commit`].
    pub fn set(&mut self, table: &str, key: &[u8], value: Option<&[u8]>) {
        let kh = key_hash(table, key);
        match value {
            Some(v) => {
                self.entries.insert(kh, entry_hash(&kh, v));
            }
            None => {
                self.entries.remove(&kh);
            }
        }
        self.dirty.insert(bucket_of(&kh));
    }

    /// Rehashes the buckets changed since the last commit and the paths above them.
    pub fn commit(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        let mut parents = BTreeSet::new();
        for bucket in dirty {
            self.nodes[BUCKETS + bucket] = self.bucket_hash(bucket);
            parents.insert((BUCKETS + bucket) / 2);
        }
        // Level by level, so that each internal node is hashed once however many of its
        // descendants changed.
        while !parents.is_empty() {
            let mut next = BTreeSet::new();
            for i in parents {
                self.nodes[i] = node_hash(&self.nodes[2 * i], &self.nodes[2 * i + 1]);
                if i > 1 {
                    next.insert(i / 2);
                }
            }
            parents = next;
        }
    }

    fn bucket_hash(&self, bucket: usize) -> Hash32 {
        let mut lo = [0u8; 32];
        lo[..2].copy_from_slice(&(bucket as u16).to_be_bytes());
        let mut hi = [0xffu8; 32];
        hi[..2].copy_from_slice(&(bucket as u16).to_be_bytes());
        let mut range = self.entries.range(Hash32(lo)..=Hash32(hi)).peekable();
        if range.peek().is_none() {
            return Hash32::ZERO;
        }
        let mut h = Hasher::new("omni/registry/state-bucket");
        for (k, e) in range {
            h.update(&k.0);
            h.update(&e.0);
        }
        h.finish()
    }

    /// The root as of the last [`StateTree::commit`].
    pub fn root(&self) -> Hash32 {
        self.nodes[1]
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_depends_on_content_not_history() {
        let mut a = StateTree::new();
        let empty = a.root();
        a.set("members", b"alice", Some(b"admin"));
        a.set("members", b"bob", Some(b"member"));
        a.set("nonces", b"alice", Some(b"1"));
        a.commit();

        let mut b = StateTree::new();
        b.set("nonces", b"alice", Some(b"0"));
        b.set("members", b"carol", Some(b"member"));
        b.commit();
        b.set("members", b"bob", Some(b"member"));
        b.set("nonces", b"alice", Some(b"1"));
        b.set("members", b"carol", None);
        b.set("members", b"alice", Some(b"admin"));
        b.commit();
        assert_eq!(a.root(), b.root());
        assert_eq!(a.len(), 3);

        // Table and key boundaries are unambiguous; values matter.
        let mut c = StateTree::new();
        c.set("member", b"salice", Some(b"admin"));
        c.commit();
        let mut d = StateTree::new();
        d.set("members", b"alice", Some(b"admin"));
        d.commit();
        assert_ne!(c.root(), d.root());
        d.set("members", b"alice", Some(b"admix"));
        d.commit();
        let before = d.root();
        d.set("members", b"alice", None);
        d.commit();
        assert_eq!(d.root(), empty);
        assert_ne!(before, empty);
    }

    #[test]
    fn empty_root_is_pinned() {
        // Pinned: a change of the tree's hashing changes every state root.
        assert_eq!(
            StateTree::new().root().to_hex(),
            "3dcb2e0d45917ca7b2f669d1650f290507c49ce601b74a05fce966fe3bd79588"
        );
    }
}
