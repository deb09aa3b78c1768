//! The pledge register: invoices as collateral, each financed at most once.
//!
//! A seller that wants an invoice financed shows the financier the invoice id and the
//! **opening** of its amount commitment (amount, blinding). The financier checks it
//! ([`assess`]) against what the registry says of the invoice — verified, accepted, not
//! disputed, not overdue, not paid, its payer's reputation — and pledges it under its
//! **nullifier**:
//!
//! ```text
//! nullifier = Poseidon_sponge(domain = NULLIFIER_DOMAIN, [r])      r = the blinding
//! ```
//!
//! with `omni_verifier::poseidon::poseidon_hash_with_domain` (circomlib's t = 5 Poseidon
//! over BN254, the sponge documented there; `r < ℓ < p` is taken as a BN254 scalar as it
//! is). The blinding is fixed by the commitment (Pedersen commitments are binding), so
//! a second financier shown the same invoice computes the same nullifier, and the
//! registry refuses the second pledge ([`crate::Error::AlreadyPledged`]). The pledge
//! transaction carries the nullifier only: the registry, which does not know `r`, cannot
//! tell which invoice is pledged, and nobody can link a nullifier to a commitment
//! without the opening. (Poseidon is one-way and `r` is a uniformly random 251-bit
//! scalar, so the nullifier cannot be brute-forced.)
//!
//! The check runs on the financier's side, because it needs the opening, which must not
//! reach the registry (it reveals the amount): the financier reads the invoice and the
//! payer's reputation through the query API and asks whether the nullifier is pledged
//! as separate questions, so the registry never sees an invoice and a nullifier together.
//!
//! A credit recorded on the invoice after it was proven (a credit note, or a final invoice
//! below the proven amount) lowers its amount due. Each credit's blinding derives from the
//! invoice's ([`crate::commitment::credit_blinding`]), so the seller's opening lists each
//! credit's amount and the financier checks those too ([`InvoiceOpening::amount_due`]); an
//! opening that does not open every credit the registry records is refused. The nullifier
//! stays the invoice's: a credit does not make an invoice pledgeable twice.
//!
//! The financier that holds a pledge releases it (for instance once the payment is
//! attested); a released invoice can be pledged again.

use crate::commitment;
use crate::error::{Error, Result};
use crate::records::{Invoice, InvoiceCredit, InvoiceStatus};
use crate::reputation::Reputation;
use crate::tx::{AmountCommitment, Blinding, Nullifier};
use ark_ff::{BigInteger, PrimeField};
use omni_core::{Hash32, Micros, PartyId};
use omni_verifier::poseidon::poseidon_hash_with_domain;
use serde::{Deserialize, Serialize};

/// Poseidon sponge domain of pledge nullifiers: the ASCII bytes `omni/nul` read as a
/// big-endian `u64`.
pub const NULLIFIER_DOMAIN: u64 = u64::from_be_bytes(*b"omni/nul");

/// An active pledge.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Pledge {
    /// The nullifier it is registered under.
    pub nullifier: Nullifier,
    /// The financier that holds it.
    pub financier: PartyId,
    /// Block time it was registered.
    pub pledged_at: u64,
    /// Block height it was registered at.
    pub height: u64,
}

/// The opening of an invoice's amount commitment, which the seller shows a financier,
/// with the amounts of the credits recorded on it since.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvoiceOpening {
    /// Amount in micro-units, as proven.
    pub amount: u64,
    /// The commitment's blinding.
    pub blinding: Blinding,
    /// Credited amounts (micro-units) by the reference of their credit: each credit's
    /// blinding derives from `blinding` ([`commitment::credit_blinding`]).
    pub credits: Vec<(Hash32, u64)>,
}

impl InvoiceOpening {
    /// Whether it opens `commitment` (the amount and blinding it was made from).
    pub fn opens(&self, commitment: &AmountCommitment) -> Result<bool> {
        let c = commitment::decode(commitment)?;
        let r = commitment::decode_blinding(&self.blinding)?;
        Ok(c.opens_to(self.amount, &r))
    }

    /// The amount due after `credits` (as the registry records them), if this opening
    /// opens each of them; otherwise why not.
    pub fn amount_due(&self, credits: &[InvoiceCredit]) -> std::result::Result<u64, String> {
        let r = commitment::decode_blinding(&self.blinding).map_err(|e| e.to_string())?;
        let mut due = self.amount;
        for credit in credits {
            let Some(&(_, amount)) = self.credits.iter().find(|(c, _)| *c == credit.reference)
            else {
                return Err(format!(
                    "the opening does not show credit {} recorded on the invoice; ask the \
                     seller for a current opening",
                    credit.reference
                ));
            };
            let c = commitment::decode(&credit.commitment).map_err(|e| e.to_string())?;
            if !c.opens_to(amount, &commitment::credit_blinding(&r, &credit.reference)) {
                return Err(format!(
                    "the opening's amount of credit {} does not match its commitment",
                    credit.reference
                ));
            }
            due = due.checked_sub(amount).ok_or_else(|| {
                format!("credits exceed the proven amount (credit {})", credit.reference)
            })?;
        }
        Ok(due)
    }
}

/// The pledge nullifier fixed by an opening's blinding (module docs).
pub fn nullifier(blinding: &Blinding) -> Result<Nullifier> {
    let r = commitment::decode_blinding(blinding)?;
    // r < ℓ < p: the same integer is a BN254 scalar.
    let r = ark_bn254::Fr::from_bigint(r.into_bigint()).ok_or_else(|| {
        Error::InvalidBlinding("blinding does not fit the BN254 scalar field".into())
    })?;
    let n = poseidon_hash_with_domain(NULLIFIER_DOMAIN, &[r]);
    let mut out = [0u8; 32];
    out.copy_from_slice(&n.into_bigint().to_bytes_le());
    Ok(Nullifier(out))
}

/// What a financier requires of the payer, beyond the invoice being good.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct FinancingPolicy {
    /// Least PAYDEX-style score of the payer; a payer with no assessed invoice passes.
    pub min_paydex: Option<u8>,
    /// Least on-time ratio (basis points) of the payer; same proviso.
    pub min_on_time_bp: Option<u32>,
}

/// The outcome of a successful check: what the financier may pledge.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Assessment {
    /// The nullifier to pledge under.
    pub nullifier: Nullifier,
    /// The amount due: the opened amount less the opened credits.
    pub amount: Micros,
    /// The invoice's due date.
    pub due_date: u64,
    /// The payer's reputation the check used.
    pub reputation: Reputation,
}

/// The financier's check of `invoice` and its `credits` (as the registry reports them)
/// from the seller's `opening`, at time `now`, given the payer's reputation and whether
/// the nullifier is already pledged. Each refusal says why.
pub fn assess(
    invoice: &Invoice,
    credits: &[InvoiceCredit],
    opening: &InvoiceOpening,
    reputation: &Reputation,
    nullifier_pledged: impl FnOnce(&Nullifier) -> bool,
    now: u64,
    policy: &FinancingPolicy,
) -> Result<Assessment> {
    let refuse = |reason: String| Error::NotPledgeable { invoice: invoice.invoice, reason };
    if !opening.opens(&invoice.amount_commitment)? {
        return Err(refuse("the opening does not match the invoice's amount commitment".into()));
    }
    let amount = opening.amount_due(credits).map_err(refuse)?;
    let amount = Micros::try_from(amount)
        .map_err(|_| refuse("the amount exceeds the largest representable amount".into()))?;
    match invoice.status {
        InvoiceStatus::Accepted => {}
        InvoiceStatus::Credited => {
            return Err(refuse("the payer has not accepted the credited amount yet".into()))
        }
        InvoiceStatus::Verified => return Err(refuse("the payer has not accepted it".into())),
        InvoiceStatus::Disputed => return Err(refuse("the payer disputes it".into())),
        InvoiceStatus::Paid => return Err(refuse("it is already paid".into())),
    }
    if now > invoice.due_date {
        return Err(refuse(format!("it is overdue since {}", invoice.due_date)));
    }
    if let Some(cycle) = invoice.netting_cycle {
        return Err(refuse(format!("it is being netted in cycle {cycle}")));
    }
    if reputation.payer != Some(invoice.payer) {
        return Err(refuse("the reputation given is not the payer's".into()));
    }
    if let (Some(min), Some(score)) = (policy.min_paydex, reputation.paydex) {
        if score < min {
            return Err(refuse(format!("payer's PAYDEX-style score {score} is below {min}")));
        }
    }
    if let (Some(min), Some(ratio)) = (policy.min_on_time_bp, reputation.on_time_ratio_bp) {
        if ratio < min {
            return Err(refuse(format!("payer's on-time ratio {ratio} bp is below {min} bp")));
        }
    }
    let nullifier = nullifier(&opening.blinding)?;
    if nullifier_pledged(&nullifier) {
        return Err(Error::AlreadyPledged(nullifier));
    }
    Ok(Assessment { nullifier, amount, due_date: invoice.due_date, reputation: reputation.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commitment::{encode_blinding, Scalar};

    #[test]
    fn nullifier_is_fixed_by_the_blinding_and_pinned() {
        let b = encode_blinding(&Scalar::from(123_456_789u64));
        let n = nullifier(&b).unwrap();
        assert_eq!(n, nullifier(&b).unwrap());
        assert_ne!(n, nullifier(&encode_blinding(&Scalar::from(123_456_790u64))).unwrap());
        assert_eq!(
            n.to_string(),
            "90913cd1a81ca5f08f019508466baaebbca97b2cc8f87451e7f5c4425ae9661d"
        );
        assert!(nullifier(&Blinding([0xff; 32])).is_err());
    }
}
