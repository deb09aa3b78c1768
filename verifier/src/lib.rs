//! Single and batch verification of Omnilateral proofs (the rating-proof issue builds this crate).

/// The commitment and hash primitives a verifier's caller recomputes from public data:
/// Pedersen amount commitments on Baby Jubjub (added up homomorphically by the registry,
/// opened by their owners) and circomlib-compatible Poseidon (pledge nullifiers).
pub use omni_circuits::{pedersen, poseidon};
