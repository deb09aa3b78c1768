//! Omnilateral's statements: the R1CS gadgets (and later the circuits) behind the
//! rating proof and the amount commitments, each with the native function that
//! computes the same thing outside a circuit.
//!
//! # Bird's eye view
//!
//! A rating proof (docs/architecture.md, "The proofs") shows that an invoice amount equals
//! `rating(records, tariff)` without revealing records, tariff or amount. Data flows
//! through this crate in one direction:
//!
//! ```text
//!   omni-core records, tariff ──► native witness builders (this crate, plain Rust)
//!                                   │  poseidon_hash*, round_div, PedersenCommitment::commit
//!                                   ▼
//!   prover ──► circuit synthesis over the same values (the `*_var` gadgets)
//!                                   │  R1CS over BN254's scalar field Fr
//!                                   ▼
//!   Groth16 proof ──► verifier, whose public inputs are the native functions' outputs
//! ```
//!
//! Every gadget has a native twin computing the same function, and the tests hold the
//! two equal: the prover derives public inputs natively, and a mismatch would only
//! surface as an unsatisfied constraint system at proving time.
//!
//! # Modules
//!
//! - [`poseidon`]: Poseidon over BN254 `Fr` with circomlib's parameters (t = 3 and
//!   t = 5), plus a length- and domain-separated sponge for longer inputs. Outside tools
//!   (circomlib, circomlibjs) recompute the same values.
//! - [`pedersen`]: additively homomorphic Pedersen commitments `amount·G + r·H` on Baby
//!   Jubjub, whose base field *is* BN254's `Fr`, so curve arithmetic is native R1CS
//!   arithmetic.
//! - [`rating`]: the rating circuits (usage chunks and the final invoice statement)
//!   with their native witness builders.
//! - [`bundle`]: the rating proof's wire format (statement, chunk and final proofs,
//!   verifying key sets), shared by prover and verifier.
//! - [`compliance`]: the halo2 supply-chain compliance proofs (IPA over Pasta):
//!   jurisdiction credentials and their Merkle tree, embargo lists, the hop circuit and
//!   the supply-chain map; its errors are [`compliance::Error`].
//! - [`gadgets`]: range checks, comparisons, integer division and the four rounding
//!   modes of a tariff, with their constraint costs documented per function.
//!
//! # Field choices
//!
//! The compliance proofs are halo2 circuits over Pallas' base field (see
//! [`compliance`]). All R1CS circuits are over `ark_bn254::Fr` (the scalar field of
//! BN254, ≈ 2^253.6), the field Groth16 on BN254 proves statements in. Poseidon hashes in that field; Baby
//! Jubjub (`ark_ed_on_bn254`) is defined over it, so a commitment's coordinates are two
//! `Fr` public inputs; its scalars (`ark_ed_on_bn254::Fr`, 251 bits) enter circuits as
//! bits. Integers (micro-units, quantities) are field elements proven to lie in
//! `[0, 2^n)` with `n` ≤ [`gadgets::MAX_BITS`], so integer arithmetic never wraps.
//!
//! # Conventions
//!
//! A native function and its in-circuit twin share a name, the latter suffixed `_var`
//! (`poseidon_hash2` / `poseidon_hash2_var`). Gadgets that exist only in circuits
//! (`range_check`, `is_less_than`, …) have plain names. Constraint costs in the docs
//! count R1CS constraints for variable (non-constant) operands; constants cost less.

pub mod bundle;
pub mod compliance;
pub mod g2_membership;
pub mod gadgets;
pub mod pedersen;
pub mod poseidon;
pub mod rating;

use ark_relations::r1cs::SynthesisError;

/// Errors of this crate: bad external input (encodings, values out of range) and
/// gadgets used outside their documented limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A constraint system operation failed (missing assignment, unsatisfiable
    /// constant constraint, …).
    #[error("constraint synthesis failed: {0}")]
    Synthesis(#[from] SynthesisError),
    /// A gadget was asked for bit widths whose arithmetic could wrap around the field.
    #[error("{what}: {bits} bits exceeds the limit of {max} bits")]
    BitWidth {
        /// Which operand or intermediate value was too wide.
        what: &'static str,
        /// The requested width.
        bits: usize,
        /// The largest width that keeps the gadget sound.
        max: usize,
    },
    /// A value does not fit the number of bits it was declared to have.
    #[error("value does not fit in {bits} bits")]
    OutOfRange {
        /// The declared width.
        bits: usize,
    },
    /// Division or rounding by a zero divisor.
    #[error("division by zero")]
    DivisionByZero,
    /// A commitment encoding is not 32 bytes of a canonical compressed point.
    #[error("invalid commitment encoding: {0}")]
    InvalidEncoding(&'static str),
    /// The encoded y-coordinate has no matching x on Baby Jubjub.
    #[error("commitment point is not on the Baby Jubjub curve")]
    NotOnCurve,
    /// The encoded point lies on the curve but outside its prime-order subgroup (it has
    /// a small-order component), so it cannot be a commitment.
    #[error("commitment point is not in Baby Jubjub's prime-order subgroup")]
    NotInSubgroup,
    /// A tariff or usage the rating circuit cannot express (per-record rounding, more
    /// products, tiers or discounts than the circuit's fixed shape, …).
    #[error("unsupported by the rating circuit: {0}")]
    Unsupported(String),
    /// A proof bundle or verifying key set is malformed (wrong version, length, point
    /// or field encoding).
    #[error("malformed proof bundle: {0}")]
    Bundle(String),
    /// The rating engine refused the input (unknown product, invalid tariff, overflow, …).
    #[error("rating failed: {0}")]
    Rating(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Lets gadgets be called with `?` inside `ConstraintSynthesizer::generate_constraints`,
/// whose error type is arkworks' [`SynthesisError`].
impl From<Error> for SynthesisError {
    fn from(err: Error) -> Self {
        match err {
            Error::Synthesis(inner) => inner,
            Error::DivisionByZero => SynthesisError::DivisionByZero,
            // A shape error or an out-of-range constant cannot yield a satisfiable system.
            _ => SynthesisError::Unsatisfiable,
        }
    }
}
