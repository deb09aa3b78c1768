//! Pedersen amount commitments as the registry uses them.
//!
//! The commitment scheme itself (`C = amount·G + r·H` on Baby Jubjub, generators,
//! canonical 32-byte encoding) is `omni_circuits::pedersen`, re-exported by the verifier;
//! this module adds what the registry needs around it: decoding the bytes a transaction
//! carries, blindings as canonical 32-byte scalars, and **signed** openings, because a
//! member's net position (receivable minus payable) is negative when it owes.
//!
//! A negative amount `a` is committed as the scalar `ℓ − |a|` (ℓ the subgroup order),
//! which is exactly what subtracting commitments produces: `C(a₁, r₁) − C(a₂, r₂) =
//! C(a₁ − a₂ mod ℓ, r₁ − r₂ mod ℓ)`. Because every amount is below 2⁶³ and a cycle has
//! at most [`crate::tx::MAX_CYCLE_PARTICIPANTS`] members, the integers involved stay far
//! below ℓ ≈ 2²⁵¹, so an opening modulo ℓ is also an opening over the integers.

use crate::error::{Error, Result};
use crate::tx::{AmountCommitment, Blinding};
use omni_core::Hash32;

pub use omni_verifier::pedersen::{PedersenCommitment, Scalar};

/// Decodes a transaction's commitment bytes: a canonical point of the prime-order
/// subgroup.
pub fn decode(c: &AmountCommitment) -> Result<PedersenCommitment> {
    PedersenCommitment::from_bytes(&c.0).map_err(|e| Error::InvalidCommitment(e.to_string()))
}

/// The bytes of a commitment.
pub fn encode(c: &PedersenCommitment) -> AmountCommitment {
    AmountCommitment(c.to_bytes())
}

/// Decodes a blinding: 32 bytes little-endian, strictly below the subgroup order.
pub fn decode_blinding(b: &Blinding) -> Result<Scalar> {
    omni_verifier::pedersen::scalar_from_bytes(&b.0).map_err(|_| {
        Error::InvalidBlinding("not a canonical scalar (at or above the subgroup order)".into())
    })
}

/// The 32-byte little-endian encoding of a blinding.
pub fn encode_blinding(s: &Scalar) -> Blinding {
    Blinding(omni_verifier::pedersen::scalar_to_bytes(s))
}

/// The blinding of a credit against an invoice ([`crate::tx::TxBody::CreditInvoice`]):
/// drawn from a ChaCha20 stream seeded with the hash of the invoice commitment's blinding
/// and the credit's reference (the bilateral entry that agreed it). Both parties hold the
/// invoice's blinding on their ledgers, so each computes the same credit commitment
/// without a new secret to exchange, and a financier shown the invoice's opening can open
/// every credit recorded on it; nobody without that blinding can.
pub fn credit_blinding(invoice_blinding: &Scalar, reference: &Hash32) -> Scalar {
    use rand::SeedableRng;
    let mut seed = omni_verifier::pedersen::scalar_to_bytes(invoice_blinding).to_vec();
    seed.extend_from_slice(&reference.0);
    let seed = Hash32::digest("omni/registry/credit-blinding", &seed);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed.0);
    omni_verifier::pedersen::random_blinding(&mut rng)
}

/// The amount due of an invoice: its proven commitment minus its credits' commitments.
pub fn amount_due(
    proven: &AmountCommitment,
    credits: impl IntoIterator<Item = AmountCommitment>,
) -> Result<AmountCommitment> {
    let mut due = decode(proven)?;
    for c in credits {
        due -= decode(&c)?;
    }
    Ok(encode(&due))
}

/// The commitment to a signed amount (micro-units) under `blinding`.
pub fn commit_signed(amount: i64, blinding: &Scalar) -> PedersenCommitment {
    PedersenCommitment::commit_scalar(&Scalar::from(amount), blinding)
}

/// Whether `c` opens to the signed `amount` with `blinding`.
pub fn opens_to_signed(c: &PedersenCommitment, amount: i64, blinding: &Scalar) -> bool {
    *c == commit_signed(amount, blinding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;
    use rand::SeedableRng;

    #[test]
    fn signed_openings_match_homomorphic_differences() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let (r1, r2) = (Scalar::rand(&mut rng), Scalar::rand(&mut rng));
        let receivable = PedersenCommitment::commit(1_000_000, &r1);
        let payable = PedersenCommitment::commit(3_500_000, &r2);
        let net = receivable - payable;
        assert!(opens_to_signed(&net, -2_500_000, &(r1 - r2)));
        assert!(!opens_to_signed(&net, 2_500_000, &(r1 - r2)));
        assert!(!opens_to_signed(&net, -2_500_000, &(r1 + r2)));
        assert_eq!(commit_signed(7, &r1), PedersenCommitment::commit(7, &r1));
    }

    #[test]
    fn blinding_and_commitment_bytes_round_trip_and_refuse_garbage() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let r = Scalar::rand(&mut rng);
        assert_eq!(decode_blinding(&encode_blinding(&r)).unwrap(), r);
        assert!(matches!(decode_blinding(&Blinding([0xff; 32])), Err(Error::InvalidBlinding(_))));
        let c = PedersenCommitment::commit(42, &r);
        assert_eq!(decode(&encode(&c)).unwrap(), c);
        assert!(matches!(decode(&AmountCommitment([0xff; 32])), Err(Error::InvalidCommitment(_))));
    }
}
