//! Invoices across the two layers: an entry on the bilateral is delivered to the
//! counterparty, and what the registry must know follows through the member's seam.
//!
//! * [`World::issue_proven`] — MEF 114 Option 1: the seller issues the invoice of the
//!   agreed rating, proves the rating and attaches the proof; the buyer's node verifies
//!   it against its own ledger on receipt.
//! * [`World::submit_to_registry`], [`World::accept_on_registry`] — the same proof and the
//!   amount's commitment go to the registry, which verifies them; the buyer accepts there.
//! * [`World::accept_bill`], [`World::notify_payment`] — the carriers' billing systems call
//!   their node's billing API (gRPC); [`World::pay_invoice`] and
//!   [`World::attest_payment`] record a payment on both ledgers and attest it on the
//!   registry (R87–R89).

use super::story::{Booked, CarrierIx, World};
use anyhow::{bail, ensure, Context, Result};
use omni_core::{Currency, Hash32, IntervalId};
use omni_node::api::proto::billing_client::BillingClient;
use omni_node::api::proto::{BillRef, EntryAck, NotifyPaymentRequest};
use omni_node::invoice::invoice_from_rating;
use omni_node::rating_proof::prove_invoice;
use omni_node::settlement::{PaymentReceipt, SettlementRef};
use omni_node::state::RatingStatus;
use omni_node::EntryBody;
use omni_registry::commitment::{self, PedersenCommitment};
use omni_registry::tx::{InvoiceId, InvoiceSubmission};
use omni_registry::{Event, TxBody};
use std::time::Instant;
use tonic::transport::Channel;

/// The invoice's identifier on the registry: a hash of the bilateral and the invoice
/// number, which names the invoice without revealing it.
pub fn registry_invoice_id(bilateral: &omni_node::BilateralId, number: &str) -> InvoiceId {
    InvoiceId(Hash32::digest(
        "omni/registry/invoice-id",
        &omni_core::encode(&(bilateral.0, number)),
    ))
}

impl World {
    /// A call of `carrier`'s billing systems on its node's API that appends an entry,
    /// which then goes to the counterparty.
    pub(super) fn via_billing_api<F, Fut>(
        &self,
        pair: usize,
        carrier: CarrierIx,
        what: &str,
        f: F,
    ) -> Result<EntryAck>
    where
        F: FnOnce(BillingClient<Channel>, String) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<EntryAck>, tonic::Status>>,
    {
        let p = &self.pairs[pair];
        let bilateral = p.id.0.to_hex();
        let ack = self.carrier(carrier).billing(what, |c| f(c, bilateral))?;
        p.deliver(self.carrier(carrier).party)?;
        Ok(ack)
    }

    /// The buyer's billing systems accept the bill (the node refuses an Option 1 invoice
    /// whose rating proof it has not verified).
    pub(super) fn accept_bill(&self, ix: usize) -> Result<()> {
        let (pair, buyer, bill_no) =
            (self.book[ix].pair, self.book[ix].buyer, self.book[ix].number.clone());
        self.via_billing_api(pair, buyer, "AcceptBill", |mut c, bilateral| async move {
            c.accept_bill(BillRef { bilateral, bill_no }).await
        })?;
        Ok(())
    }

    /// The payer's billing systems notify a payment of `micros` on the bill; returns the
    /// hash of the notice entry, the payment record both ledgers hold.
    pub(super) fn notify_payment(
        &self,
        ix: usize,
        payment: &str,
        micros: i64,
        reference: &str,
    ) -> Result<Hash32> {
        let (pair, payer, bill_no) =
            (self.book[ix].pair, self.book[ix].buyer, self.book[ix].number.clone());
        let (payment, reference) = (payment.to_string(), reference.to_string());
        let ack =
            self.via_billing_api(pair, payer, "NotifyPayment", |mut c, bilateral| async move {
                c.notify_payment(NotifyPaymentRequest {
                    bilateral,
                    bill_no,
                    payment,
                    micros,
                    reference,
                    netting: String::new(),
                })
                .await
            })?;
        Ok(Hash32::from_hex(&ack.hash)?)
    }

    /// The payee confirms the payment `payment` of `micros` on `target` (R89).
    pub(super) fn receipt(
        &self,
        pair: usize,
        payee: CarrierIx,
        payment: &str,
        target: SettlementRef,
        micros: i64,
    ) -> Result<()> {
        let body = EntryBody::PaymentReceipt(PaymentReceipt {
            payment: payment.into(),
            target,
            amount: micros,
        });
        self.pairs[pair].append(self.carrier(payee).party, body)?;
        Ok(())
    }

    /// MEF 114 Option 1: the seller issues the invoice of the agreed rating, proves its
    /// rating (progress shown) and attaches the proof; the buyer's node verifies the proof
    /// against its own ledger when it receives it. Returns the invoice's index in the book.
    pub(super) fn issue_proven(
        &mut self,
        pair: usize,
        (seller, buyer): (CarrierIx, CarrierIx),
        number: &str,
        order: &str,
        interval: &IntervalId,
    ) -> Result<usize> {
        let p = self.pairs[pair].clone();
        let (s, b) = (self.carrier(seller).party, self.carrier(buyer).party);
        let rating =
            p.read(s, |l, id| Ok(l.state(id)?.account(order, interval).map(|a| a.rating.clone())))?;
        let rating = match rating {
            Some(RatingStatus::Agreed { rating, .. }) => rating,
            other => bail!("{order} in {interval}: rating not agreed ({other:?})"),
        };
        let invoice = invoice_from_rating(number, order, interval, Currency::EUR, &rating);
        let total = invoice.total;
        p.append(s, EntryBody::Invoice(invoice))?;
        let claim = p.read(s, |l, id| l.invoice_claim(id, number))?;
        let bar = self.bar(&format!("proving {number}"));
        let started = Instant::now();
        let attachment =
            prove_invoice(&self.keys, &claim, number, &mut rand::rngs::OsRng, &|d, t| {
                bar.update(d, t)
            })
            .with_context(|| format!("proving the rating of {number}"))?;
        bar.finish();
        self.outcome.proving_s += started.elapsed().as_secs_f64();
        self.outcome.records_proven += claim.records.len();
        let (blinding, bundle) = (attachment.blinding, attachment.bundle.clone());
        p.append(s, EntryBody::RatingProof(attachment))?;
        let buyer_verified = p.read(b, |l, id| {
            Ok(l.state(id)?.invoice(number).is_some_and(|i| i.rating_proof.is_some()))
        })?;
        let due_date = p
            .read(s, |l, id| Ok(l.state(id)?.due_date(&SettlementRef::Invoice(number.into()))))?
            .with_context(|| format!("{number}'s due date"))?;
        self.book.push(Booked {
            number: number.into(),
            pair,
            seller,
            buyer,
            interval: interval.clone(),
            option: 1,
            total,
            due_date,
            buyer_verified,
            registry: None,
            blinding: Some(blinding),
            bundle,
            notes: Vec::new(),
        });
        Ok(self.book.len() - 1)
    }

    /// The seller submits a proven invoice to the registry (`SubmitInvoice`: commitment,
    /// due date, payer and payee, the same rating proof); the registry verifies the proof.
    pub(super) fn submit_to_registry(&mut self, ix: usize) -> Result<InvoiceId> {
        let bk = &self.book[ix];
        let p = &self.pairs[bk.pair];
        let blinding = bk.blinding.context("an Option 2 invoice has no rating proof to submit")?;
        let r = omni_verifier::pedersen::scalar_from_bytes(&blinding)
            .map_err(|e| anyhow::anyhow!("{}: blinding: {e}", bk.number))?;
        let amount = u64::try_from(bk.total).context("a negative invoice total")?;
        let id = registry_invoice_id(&p.id, &bk.number);
        let body = TxBody::SubmitInvoice(InvoiceSubmission {
            invoice: id,
            bilateral: p.id.0,
            interval: bk.interval.clone(),
            payer: self.carrier(bk.buyer).party,
            payee: self.carrier(bk.seller).party,
            currency: Currency::EUR,
            amount_commitment: commitment::encode(&PedersenCommitment::commit(amount, &r)),
            due_date: bk.due_date,
            proof: bk.bundle.clone(),
        });
        let events = self.carrier(bk.seller).member.submit(body)?;
        ensure!(
            events.iter().any(|e| matches!(e, Event::InvoiceVerified { .. })),
            "{}: the registry did not report the invoice verified: {events:?}",
            bk.number
        );
        self.book[ix].registry = Some(id);
        Ok(id)
    }

    /// The buyer's acceptance on the registry (after its ledger accepted the invoice).
    pub(super) fn accept_on_registry(&self, ix: usize) -> Result<()> {
        let bk = &self.book[ix];
        let invoice =
            bk.registry.with_context(|| format!("{} is not on the registry", bk.number))?;
        self.carrier(bk.buyer).member.submit(TxBody::AcceptInvoice { invoice })?;
        Ok(())
    }

    /// Records a payment on the payer's and payee's ledgers and attests it on the
    /// registry (notice by the payer with its value date, receipt by the payee).
    pub(super) fn pay_invoice(&mut self, ix: usize, payment: &str, reference: &str) -> Result<i64> {
        let bk = self.book[ix].clone();
        let target = SettlementRef::Invoice(bk.number.clone());
        let payer = self.carrier(bk.buyer).party;
        let outstanding = self.pairs[bk.pair]
            .read(payer, |l, id| Ok(l.state(id)?.outstanding(&target)))?
            .with_context(|| format!("{} is not payable", bk.number))?;
        let payment_ref = self.notify_payment(ix, payment, outstanding, reference)?;
        self.receipt(bk.pair, bk.seller, payment, target, outstanding)?;
        if let Some(invoice) = bk.registry {
            self.attest_payment(ix, invoice, self.clock.now(), payment_ref)?;
        }
        Ok(outstanding)
    }

    /// Payer's notice and payee's receipt of a payment on the registry (R87–R89).
    pub(super) fn attest_payment(
        &mut self,
        ix: usize,
        invoice: InvoiceId,
        paid_at: u64,
        payment_ref: Hash32,
    ) -> Result<()> {
        let bk = &self.book[ix];
        self.carrier(bk.buyer).member.submit(TxBody::PaymentNotice {
            invoice,
            paid_at,
            payment_ref,
        })?;
        let events = self
            .carrier(bk.seller)
            .member
            .submit(TxBody::PaymentReceipt { invoice, payment_ref })?;
        for e in events {
            if let Event::PaymentAttested { days_relative_to_terms: d, .. } = e {
                let note = match d {
                    d if d > 0 => format!("paid {d} days late"),
                    0 => "paid on the due date".to_string(),
                    d => format!("paid {} days early", -d),
                };
                self.book[ix].notes.push(note);
            }
        }
        Ok(())
    }
}
