//! Single and batch verification of Omnilateral proofs (the rating-proof issue builds this crate).
