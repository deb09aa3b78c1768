//! The one way a seller's invoice becomes a `SubmitInvoice` transaction: the invoice's
//! public part ([`RegistryInvoice`]) joined to its rating-proof bundle, whose statement
//! must prove that invoice's bilateral and billing interval. The node's registry reporter
//! and the benches build submissions here, so what a node sends is what a bench measures.

use crate::error::{Error, Result};
use crate::tx::{AmountCommitment, InvoiceId, InvoiceSubmission, MAX_INTERVAL_ID_BYTES};
use omni_core::{Currency, Hash32, IntervalId, PartyId};
use omni_verifier::{
    bilateral_pseudonym, interval_field, ExpectedRatingStatement, RatingProofBundle, RatingVerifier,
};

/// What the registry learns of an invoice besides its proof: the seller's submission
/// without the proof bytes and the amount commitment, which come from the proof bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryInvoice {
    /// The invoice's id on the registry ([`InvoiceId::for_bill`]).
    pub invoice: InvoiceId,
    /// The bilateral it belongs to.
    pub bilateral: Hash32,
    /// Its billing interval (R58).
    pub interval: IntervalId,
    /// The buyer, who owes the amount.
    pub payer: PartyId,
    /// The seller, who submits it.
    pub payee: PartyId,
    /// Currency of the amount.
    pub currency: Currency,
    /// Payment due date, UTC seconds.
    pub due_date: u64,
}

impl InvoiceId {
    /// The registry id of bill `number` of `bilateral`: both parties' nodes derive the same
    /// id from their ledgers, and the registry learns neither the number nor the
    /// bilateral's contents from it.
    pub fn for_bill(bilateral: &Hash32, number: &str) -> InvoiceId {
        InvoiceId(Hash32::digest(
            "omni/registry/invoice-id",
            &omni_core::encode(&(bilateral, number)),
        ))
    }
}

impl InvoiceSubmission {
    /// The seller's submission of `invoice` with its rating proof: the amount commitment
    /// is the bundle's; a bundle that does not prove the invoice's bilateral and interval
    /// is refused here ([`Error::ProofRejected`]) rather than by the registry.
    pub fn proven(
        invoice: RegistryInvoice,
        bundle: &RatingProofBundle,
    ) -> Result<InvoiceSubmission> {
        if invoice.interval.0.is_empty() || invoice.interval.0.len() > MAX_INTERVAL_ID_BYTES {
            return Err(Error::InvalidField {
                field: "interval",
                reason: format!("must be 1..={MAX_INTERVAL_ID_BYTES} bytes"),
            });
        }
        let expected = ExpectedRatingStatement {
            pseudonym: Some(bilateral_pseudonym(&invoice.bilateral.0)),
            interval: Some(interval_field(&invoice.interval.0)),
            ..ExpectedRatingStatement::default()
        };
        RatingVerifier::check_statement(bundle, &expected).map_err(|e| Error::ProofRejected {
            invoice: invoice.invoice,
            reason: e.to_string(),
        })?;
        Ok(InvoiceSubmission {
            invoice: invoice.invoice,
            bilateral: invoice.bilateral,
            interval: invoice.interval,
            payer: invoice.payer,
            payee: invoice.payee,
            currency: invoice.currency,
            amount_commitment: AmountCommitment(bundle.statement.amount_commitment.0),
            due_date: invoice.due_date,
            proof: bundle.to_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bill_has_one_registry_id_per_bilateral() {
        let (a, b) = (Hash32([3; 32]), Hash32([4; 32]));
        assert_eq!(InvoiceId::for_bill(&a, "INV-1"), InvoiceId::for_bill(&a, "INV-1"));
        assert_ne!(InvoiceId::for_bill(&a, "INV-1"), InvoiceId::for_bill(&a, "INV-2"));
        assert_ne!(InvoiceId::for_bill(&a, "INV-1"), InvoiceId::for_bill(&b, "INV-1"));
    }
}
