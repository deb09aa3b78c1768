//! Between the registry's records ([`omni_registry_types::records`]) and their protobuf
//! form: what the server answers and what a member's node, a financier's or a regulator's
//! tool reads back as the registry's own record, so that checks such as
//! [`omni_registry_types::pledge::assess`] run on the client's side on the same types.
//! Reading back refuses a malformed answer, naming the field.

use crate::proto;
use omni_core::{Hash32, PartyId};
use omni_registry_types::records::{
    Anchor, DisputeRecord, Invoice, InvoiceCredit, InvoiceStatus, PaymentNoticeRecord, SettledBy,
    Settlement,
};
use omni_registry_types::reputation::Reputation;
use omni_registry_types::tx::{AmountCommitment, InvoiceId};
use omni_registry_types::Error;

/// The protobuf form of an invoice and the credits recorded on it.
pub fn invoice_to_proto(i: &Invoice, credits: &[InvoiceCredit]) -> proto::Invoice {
    let (paid_by, payment_ref) = match i.settlement.as_ref().map(|s| &s.by) {
        Some(SettledBy::Payment { payment_ref }) => ("payment", payment_ref.0.to_vec()),
        Some(SettledBy::Netting { .. }) => ("netting", Vec::new()),
        None => ("", Vec::new()),
    };
    proto::Invoice {
        invoice_id: i.invoice.0 .0.to_vec(),
        bilateral: i.bilateral.0.to_vec(),
        interval: i.interval.0.clone(),
        payer: i.payer.0.to_vec(),
        payee: i.payee.0.to_vec(),
        currency: i.currency.code().to_string(),
        amount_commitment: i.amount_commitment.0.to_vec(),
        due_date: i.due_date,
        proof_hash: i.proof_hash.0.to_vec(),
        submitted_at: i.submitted_at,
        submitted_height: i.submitted_height,
        status: i.status.name().to_string(),
        accepted_at: i.accepted_at,
        disputed_at: i.dispute.as_ref().map(|d| d.disputed_at),
        dispute_reason: i.dispute.as_ref().map(|d| d.reason.0.to_vec()).unwrap_or_default(),
        notice_paid_at: i.payment_notice.as_ref().map(|n| n.paid_at),
        notice_payment_ref: i
            .payment_notice
            .as_ref()
            .map(|n| n.payment_ref.0.to_vec())
            .unwrap_or_default(),
        paid_at: i.settlement.as_ref().map(|s| s.paid_at),
        payment_attested_at: i.settlement.as_ref().map(|s| s.attested_at),
        paid_by: paid_by.to_string(),
        payment_ref,
        netting_cycle: i.netting_cycle,
        credits: credits
            .iter()
            .map(|c| proto::InvoiceCredit {
                reference: c.reference.0.to_vec(),
                commitment: c.commitment.0.to_vec(),
                credited_at: c.credited_at,
                height: c.height,
            })
            .collect(),
        // Recorded credits are points of the subgroup (the registry decoded each), so the
        // difference is always defined.
        amount_due_commitment: omni_registry_types::commitment::amount_due(
            &i.amount_commitment,
            credits.iter().map(|c| c.commitment),
        )
        .unwrap_or(i.amount_commitment)
        .0
        .to_vec(),
    }
}

/// The credits of an invoice's protobuf form, oldest first ([`invoice_to_proto`]).
pub fn credits_from_proto(p: &proto::Invoice) -> Result<Vec<InvoiceCredit>, Error> {
    p.credits
        .iter()
        .map(|c| {
            Ok(InvoiceCredit {
                reference: Hash32(field32("credits.reference", &c.reference)?),
                commitment: AmountCommitment(field32("credits.commitment", &c.commitment)?),
                credited_at: c.credited_at,
                height: c.height,
            })
        })
        .collect()
}

/// The protobuf form of a reputation.
pub fn reputation_to_proto(r: &Reputation) -> proto::Reputation {
    proto::Reputation {
        payer: r.payer.map(|p| p.0.to_vec()).unwrap_or_default(),
        computed_at: r.at,
        invoices: r.invoices,
        accepted: r.accepted,
        disputed: r.disputed,
        paid_on_time: r.paid_on_time,
        paid_late: r.paid_late,
        overdue: r.overdue,
        open: r.open,
        assessed: r.assessed,
        on_time_ratio_bp: r.on_time_ratio_bp,
        average_days_beyond_terms: r.average_days_beyond_terms,
        paydex: r.paydex.map(u32::from),
    }
}

fn field32(field: &'static str, v: &[u8]) -> Result<[u8; 32], Error> {
    v.try_into().map_err(|_| Error::InvalidField {
        field,
        reason: format!("expected 32 bytes, got {}", v.len()),
    })
}

/// An invoice from its protobuf form ([`invoice_to_proto`]'s inverse, except that a
/// pending payment notice comes back with `noticed_at` 0: the answer does not carry that
/// block time): what a financier or regulator reads over the API, as the registry's own
/// record, so that the checks of [`omni_registry_types::pledge::assess`] run on the client's side.
/// Refuses a malformed answer, naming the field.
pub fn invoice_from_proto(p: &proto::Invoice) -> Result<Invoice, Error> {
    let invalid = |field: &'static str, reason: String| Error::InvalidField { field, reason };
    let status = InvoiceStatus::named(&p.status)
        .ok_or_else(|| invalid("status", format!("unknown status {:?}", p.status)))?;
    let currency =
        omni_core::Currency::new(&p.currency).map_err(|e| invalid("currency", e.to_string()))?;
    let dispute = match p.disputed_at {
        Some(disputed_at) => Some(DisputeRecord {
            reason: Hash32(field32("dispute_reason", &p.dispute_reason)?),
            disputed_at,
        }),
        None => None,
    };
    let payment_notice = match p.notice_paid_at {
        Some(paid_at) => Some(PaymentNoticeRecord {
            paid_at,
            payment_ref: Hash32(field32("notice_payment_ref", &p.notice_payment_ref)?),
            // The block time of the notice is not part of the protobuf answer.
            noticed_at: 0,
        }),
        None => None,
    };
    let settlement = match (p.paid_at, p.paid_by.as_str()) {
        (None, _) => None,
        (Some(paid_at), by) => Some(Settlement {
            paid_at,
            attested_at: p.payment_attested_at.unwrap_or(paid_at),
            by: match (by, p.netting_cycle) {
                ("payment", _) => SettledBy::Payment {
                    payment_ref: Hash32(field32("payment_ref", &p.payment_ref)?),
                },
                ("netting", Some(cycle)) => SettledBy::Netting { cycle },
                (other, _) => {
                    return Err(invalid("paid_by", format!("unknown settlement {other:?}")))
                }
            },
        }),
    };
    Ok(Invoice {
        invoice: InvoiceId(Hash32(field32("invoice_id", &p.invoice_id)?)),
        bilateral: Hash32(field32("bilateral", &p.bilateral)?),
        interval: omni_core::IntervalId(p.interval.clone()),
        payer: PartyId(field32("payer", &p.payer)?),
        payee: PartyId(field32("payee", &p.payee)?),
        currency,
        amount_commitment: AmountCommitment(field32("amount_commitment", &p.amount_commitment)?),
        due_date: p.due_date,
        proof_hash: Hash32(field32("proof_hash", &p.proof_hash)?),
        submitted_at: p.submitted_at,
        submitted_height: p.submitted_height,
        status,
        accepted_at: p.accepted_at,
        dispute,
        payment_notice,
        settlement,
        netting_cycle: p.netting_cycle,
    })
}

/// A reputation from its protobuf form ([`reputation_to_proto`]'s inverse).
pub fn reputation_from_proto(p: &proto::Reputation) -> Result<Reputation, Error> {
    let paydex = match p.paydex {
        Some(v) => Some(u8::try_from(v).map_err(|_| Error::InvalidField {
            field: "paydex",
            reason: format!("{v} is not a score of 1–100"),
        })?),
        None => None,
    };
    Ok(Reputation {
        payer: if p.payer.is_empty() { None } else { Some(PartyId(field32("payer", &p.payer)?)) },
        at: p.computed_at,
        invoices: p.invoices,
        accepted: p.accepted,
        disputed: p.disputed,
        paid_on_time: p.paid_on_time,
        paid_late: p.paid_late,
        overdue: p.overdue,
        open: p.open,
        assessed: p.assessed,
        on_time_ratio_bp: p.on_time_ratio_bp,
        average_days_beyond_terms: p.average_days_beyond_terms,
        paydex,
    })
}

/// The protobuf form of a bilateral's anchor.
pub fn anchor_to_proto(a: &Anchor) -> proto::Anchor {
    proto::Anchor {
        bilateral: a.bilateral.0.to_vec(),
        seq: a.seq,
        head: a.head.0.to_vec(),
        anchored_by: a.anchored_by.0.to_vec(),
        height: a.height,
        time: a.time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_invoice() -> Invoice {
        Invoice {
            invoice: InvoiceId(Hash32([1; 32])),
            bilateral: Hash32([2; 32]),
            interval: omni_core::IntervalId("2026-10".into()),
            payer: PartyId([3; 32]),
            payee: PartyId([4; 32]),
            currency: omni_core::Currency::EUR,
            amount_commitment: AmountCommitment([5; 32]),
            due_date: 9_000,
            proof_hash: Hash32([6; 32]),
            submitted_at: 7_000,
            submitted_height: 3,
            status: InvoiceStatus::Accepted,
            accepted_at: Some(7_100),
            dispute: None,
            payment_notice: Some(PaymentNoticeRecord {
                paid_at: 7_200,
                payment_ref: Hash32([7; 32]),
                noticed_at: 0,
            }),
            settlement: None,
            netting_cycle: Some(2),
        }
    }

    #[test]
    fn invoices_and_reputations_round_trip_through_their_protobuf_form() {
        let mut i = sample_invoice();
        assert_eq!(invoice_from_proto(&invoice_to_proto(&i, &[])).unwrap(), i);
        i.status = InvoiceStatus::Paid;
        i.payment_notice = None;
        i.settlement = Some(Settlement {
            paid_at: 8_000,
            attested_at: 8_100,
            by: SettledBy::Payment { payment_ref: Hash32([8; 32]) },
        });
        assert_eq!(invoice_from_proto(&invoice_to_proto(&i, &[])).unwrap(), i);
        i.settlement = Some(Settlement {
            paid_at: 8_000,
            attested_at: 8_000,
            by: SettledBy::Netting { cycle: 2 },
        });
        i.dispute = Some(DisputeRecord { reason: Hash32([9; 32]), disputed_at: 7_150 });
        assert_eq!(invoice_from_proto(&invoice_to_proto(&i, &[])).unwrap(), i);

        let credit = InvoiceCredit {
            reference: Hash32([10; 32]),
            commitment: AmountCommitment([11; 32]),
            credited_at: 7_160,
            height: 4,
        };
        let p = invoice_to_proto(&i, &[credit]);
        assert_eq!(credits_from_proto(&p).unwrap(), vec![credit]);
        let mut bad = p.clone();
        bad.credits[0].reference.pop();
        assert!(credits_from_proto(&bad).unwrap_err().to_string().contains("credits.reference"));

        let mut bad = invoice_to_proto(&i, &[]);
        bad.payer.truncate(5);
        let err = invoice_from_proto(&bad).unwrap_err();
        assert!(err.to_string().contains("payer"), "{err}");
        let mut bad = invoice_to_proto(&i, &[]);
        bad.status = "lost".into();
        assert!(invoice_from_proto(&bad).unwrap_err().to_string().contains("lost"));

        let r = Reputation {
            payer: Some(PartyId([3; 32])),
            at: 10_000,
            invoices: 4,
            accepted: 3,
            disputed: 1,
            paid_on_time: 1,
            paid_late: 1,
            overdue: 1,
            open: 0,
            assessed: 3,
            on_time_ratio_bp: Some(3_333),
            average_days_beyond_terms: Some(5),
            paydex: Some(61),
        };
        assert_eq!(reputation_from_proto(&reputation_to_proto(&r)).unwrap(), r);
        let mut bad = reputation_to_proto(&r);
        bad.paydex = Some(300);
        assert!(reputation_from_proto(&bad).is_err());
    }
}
