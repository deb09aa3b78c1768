//! Groth16 key setup, proving and proof bundles (the rating-proof issue builds this crate).
