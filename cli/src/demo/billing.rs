//! The bilateral side of the story (MEF 114 §8): contracts, orders, usage through each
//! carrier's billing API, agreed ratings, Option 1 invoices with rating proofs (verified
//! by the buyer's node, then by the registry), an Option 2 invoice, a dispute resolved
//! with a credit note, bilateral netting, and payments — one of them late.
//!
//! | bilateral | contract | orders (seller → buyer) |
//! |---|---|---|
//! | A–B | Net 30, netting | O-AB interconnect A → B, O-BA voice B → A |
//! | B–C | Net 30, netting | O-BC interconnect B → C |
//! | C–D | Net 30, netting | O-DC transit D → C, O-CD interconnect C → D |
//! | D–A | Net 30, netting | O-DA interconnect D → A (its supply chain: D ← C ← B) |
//! | B–D | Net 60, no netting | O-BD capacity B → D (the invoice a financier pledges) |

use super::network::{wait_for, Pair};
use super::story::{CarrierIx, World, A, B, C, D, DAY};
use anyhow::{ensure, Context, Result};
use omni_core::money::format_micros;
use omni_core::tariff::{Pricing, Tariff};
use omni_core::{BillingInterval, IntervalId, UsageRecord};
use omni_node::api::proto::{
    AcceptedChanges, BilateralRef, BillRef, ConfirmReceiptRequest, DisputeBillRequest,
    DisputedItem, EntryAck, IssueCreditNoteRequest, ItemResolution, NettingRef,
    NotifyPaymentRequest, OrderRef, PlaceOrderRequest, ProposeContractRequest,
    ProposeNettingRequest, RatingRef, ResolveDisputeRequest, SubmitUsageRequest, UsageReport,
};
use omni_node::api::rfc3339;
use omni_node::sample;
use omni_node::{BilateralId, Contract};

/// Index of each bilateral in [`World::pairs`].
pub const AB: usize = 0;
/// B–C.
pub const BC: usize = 1;
/// C–D.
pub const CD: usize = 2;
/// D–A.
pub const DA: usize = 3;
/// B–D.
pub const BD: usize = 4;

/// The sample interconnect tariff (every rating rule) under another id, with its own
/// port-rental fee and its usage prices multiplied by `scale`, so that each order bills
/// a different amount.
fn interconnect(id: &str, fee_eur: i64, scale: u64) -> Tariff {
    let mut t = omni_core::sample::interconnect_tariff();
    t.id = id.into();
    t.recurring_fees[0].amount = fee_eur * 1_000_000;
    t.minimum_charge = 0;
    for p in &mut t.products {
        match &mut p.pricing {
            Pricing::Flat { price } | Pricing::Package { price, .. } => *price *= scale,
            Pricing::Graduated { tiers } | Pricing::Volume { tiers } => {
                tiers.iter_mut().for_each(|t| t.price *= scale)
            }
        }
    }
    t
}

/// The orders (bilateral, seller, order id, tariff id), each placed by its seller and
/// accepted by its buyer.
const ORDERS: [(usize, CarrierIx, &str, &str); 7] = [
    (AB, A, "O-AB", "ic-ab"),
    (AB, B, "O-BA", "voice-2026"),
    (BC, B, "O-BC", "ic-bc"),
    (CD, D, "O-DC", "ic-dc"),
    (CD, C, "O-CD", "ic-cd"),
    (DA, D, "O-DA", "ic-da"),
    (BD, B, "O-BD", "ic-bd"),
];

/// The tariff an order is rated under, from the contracts the story proposed.
fn tariff_of(pairs: &[Pair], order: &str) -> Result<Tariff> {
    let (pair, _, _, tariff) =
        ORDERS.iter().find(|o| o.2 == order).with_context(|| format!("no order {order}"))?;
    pairs[*pair]
        .tariffs
        .iter()
        .find(|t| t.id == *tariff)
        .cloned()
        .with_context(|| format!("tariff {tariff} of {order}"))
}

/// The last of the entries a call acknowledged.
fn last(changes: AcceptedChanges, what: &str) -> Result<EntryAck> {
    changes.accepted.into_iter().max_by_key(|a| a.seq).with_context(|| format!("{what}: nothing"))
}

impl World {
    fn contract(
        &self,
        reference: &str,
        (a, b): (CarrierIx, CarrierIx),
        tariffs: Vec<Tariff>,
        net_days: u32,
        netting: bool,
    ) -> Contract {
        let (a, b) = (self.carrier(a), self.carrier(b));
        let mut c = sample::contract(a.party, b.party, netting, self.first.start);
        c.reference = reference.into();
        c.parties[0].name = a.name.clone();
        c.parties[1].name = b.name.clone();
        c.tariffs = tariffs;
        c.tariffs.sort_by(|x, y| x.id.cmp(&y.id));
        c.payment_terms.net_days = net_days;
        c
    }

    /// `carrier` takes a step on bilateral `pair` through its node's `Lifecycle` service;
    /// returns once the counterparty's node holds it.
    fn lifecycle_step<Fut>(
        &self,
        pair: usize,
        carrier: CarrierIx,
        what: &str,
        f: impl FnOnce(
            omni_node::api::proto::lifecycle_client::LifecycleClient<tonic::transport::Channel>,
            String,
        ) -> Fut,
    ) -> Result<EntryAck>
    where
        Fut: std::future::Future<Output = Result<tonic::Response<EntryAck>, tonic::Status>>,
    {
        let bilateral = self.pairs[pair].hex();
        let ack = self.carrier(carrier).lifecycle(what, |c| f(c, bilateral))?;
        self.deliver(pair, carrier, &ack)?;
        Ok(ack)
    }

    /// `carrier` accepts what its counterparty changed on bill `number` (a resolution, a
    /// final invoice, a credit note: MEF 114 R30); the counterparty receives the acceptance.
    pub(super) fn accept_changes(
        &self,
        pair: usize,
        carrier: CarrierIx,
        number: &str,
    ) -> Result<()> {
        let (bilateral, bill_no) = (self.pairs[pair].hex(), number.to_string());
        let changes = self.carrier(carrier).lifecycle("AcceptBillChanges", |mut c| async move {
            c.accept_bill_changes(BillRef { bilateral, bill_no }).await
        })?;
        let ack = last(changes, "AcceptBillChanges")?;
        self.deliver(pair, carrier, &ack)
    }

    /// The five contracts and their orders, each proposed by one party's node and accepted
    /// by the other's (R4–R8, R30); the terms travel as the TOML file a person would write.
    pub fn agree_contracts(&mut self) -> Result<()> {
        let ic = |id, fee, scale| interconnect(id, fee, scale);
        let plans = [
            (
                "MSA-AB",
                (A, B),
                vec![ic("ic-ab", 1_100, 20), omni_core::sample::voice_tariff()],
                30,
                true,
            ),
            ("MSA-BC", (B, C), vec![ic("ic-bc", 700, 16)], 30, true),
            ("MSA-CD", (C, D), vec![ic("ic-cd", 450, 12), ic("ic-dc", 300, 10)], 30, true),
            ("MSA-DA", (D, A), vec![ic("ic-da", 900, 18)], 30, true),
            ("MSA-BD", (B, D), vec![ic("ic-bd", 2_000, 25)], 60, false),
        ];
        let terms_dir = self.root.join("terms");
        std::fs::create_dir_all(&terms_dir)
            .with_context(|| format!("cannot create {}", terms_dir.display()))?;
        for (reference, (a, b), tariffs, net_days, netting) in plans {
            let contract = self.contract(reference, (a, b), tariffs, net_days, netting);
            let terms = omni_node::terms::write_terms(&contract);
            let file = terms_dir.join(format!("{reference}.toml"));
            std::fs::write(&file, &terms)
                .with_context(|| format!("cannot write {}", file.display()))?;
            let proposal = self.carrier(a).lifecycle("ProposeContract", |mut c| async move {
                c.propose_contract(ProposeContractRequest { terms }).await
            })?;
            let id = BilateralId(omni_core::Hash32::from_hex(&proposal.hash)?);
            self.pairs.push(Pair {
                id,
                reference: reference.into(),
                ends: [a, b],
                tariffs: contract.tariffs.clone(),
            });
            let pair = self.pairs.len() - 1;
            self.deliver(pair, a, &proposal)?;
            self.lifecycle_step(pair, b, "AcceptContract", |mut c, bilateral| async move {
                c.accept_contract(BilateralRef { bilateral }).await
            })?;
        }
        let start = rfc3339(self.first.start);
        for (pair, seller, order, tariff) in ORDERS {
            let (o, t, s) = (order.to_string(), tariff.to_string(), start.clone());
            self.lifecycle_step(pair, seller, "PlaceOrder", |mut c, bilateral| async move {
                c.place_order(PlaceOrderRequest {
                    bilateral,
                    order: o,
                    tariff: t,
                    products: Vec::new(),
                    start: s,
                    end: String::new(),
                })
                .await
            })?;
            let buyer = self.pairs[pair].other(seller)?;
            let o = order.to_string();
            self.lifecycle_step(pair, buyer, "AcceptOrder", |mut c, bilateral| async move {
                c.accept_order(OrderRef { bilateral, order: o }).await
            })?;
        }
        self.say(format!(
            "1. contracts {} proposed and accepted through the nodes' APIs (Net 30 with netting; \
             B–D Net 60; terms in {}); {} orders placed and accepted",
            self.pairs.iter().map(|p| p.reference.as_str()).collect::<Vec<_>>().join(", "),
            terms_dir.display(),
            ORDERS.len()
        ));
        Ok(())
    }

    /// The seller's billing systems post TMF635 usage to its node's billing API; the
    /// node de-duplicates, rates and appends it, and the batches go to the buyer.
    fn usage(
        &mut self,
        pair: usize,
        seller: CarrierIx,
        order: &str,
        interval: &BillingInterval,
        records: usize,
        resent: usize,
    ) -> Result<UsageReport> {
        let tariff = tariff_of(&self.pairs, order)?;
        let prefix = format!("cdr-{order}-{}-", interval.id);
        let mut usage: Vec<String> =
            omni_core::sample::usage(&tariff, &prefix, interval.start, records)
                .iter()
                .map(UsageRecord::to_tmf635_json)
                .collect();
        usage.extend_from_within(..resent.min(records));
        let (bilateral, order_id, iv) =
            (self.pairs[pair].hex(), order.to_string(), interval.id.0.clone());
        let report = self.carrier(seller).billing("SubmitUsage", |mut c| async move {
            c.submit_usage(SubmitUsageRequest { bilateral, order: order_id, interval: iv, usage })
                .await
        })?;
        if let Some(&seq) = report.entries.iter().max() {
            let ack = EntryAck { seq, hash: String::new() };
            self.deliver(pair, seller, &ack)?;
        }
        self.outcome.records_ingested += report.accepted as usize;
        self.outcome.duplicates_refused += report.duplicates as usize;
        Ok(report)
    }

    /// The seller's node proposes the interval's rating as its ledger computes it; the
    /// buyer's node recomputes it and its owner agrees (R65–R67).
    fn agree_rating(
        &self,
        pair: usize,
        seller: CarrierIx,
        buyer: CarrierIx,
        order: &str,
        interval: &IntervalId,
    ) -> Result<()> {
        let rating = || RatingRef {
            bilateral: self.pairs[pair].hex(),
            order: order.to_string(),
            interval: interval.0.clone(),
        };
        let proposal = rating();
        self.lifecycle_step(pair, seller, "ProposeRating", |mut c, _| async move {
            c.propose_rating(proposal).await
        })?;
        let agreement = rating();
        self.lifecycle_step(pair, buyer, "AgreeRating", |mut c, _| async move {
            c.agree_rating(agreement).await
        })?;
        Ok(())
    }

    /// The first billing interval (three months back): usage, agreed ratings, two proven
    /// invoices and one generated, a dispute resolved with a credit note, bilateral
    /// netting paid on time, and a payment made late.
    pub fn first_interval(&mut self, records: usize) -> Result<()> {
        let iv = self.first.clone();
        let n = |pct: usize| (records * pct / 100).max(4);
        self.set_clock(iv.start + DAY)?;
        let ab = self.usage(AB, A, "O-AB", &iv, n(120), n(20))?;
        let ba = self.usage(AB, B, "O-BA", &iv, 20 * records, 0)?;
        let dc = self.usage(CD, D, "O-DC", &iv, n(50), 0)?;
        self.say(format!(
            "2. {}: usage posted to the nodes' billing APIs as TMF635 — A {} records ({} re-sent, \
             counted once), B {} voice records, D {}",
            iv.id, ab.accepted, ab.duplicates, ba.accepted, dc.accepted
        ));

        // Invoicing 27 days before the next-but-one month starts puts every due date of
        // this interval early in that month, which is what the bilateral netting needs.
        let t0 = self.second.start - 27 * DAY;
        self.set_clock(t0)?;
        self.agree_rating(AB, A, B, "O-AB", &iv.id)?;
        self.agree_rating(AB, B, A, "O-BA", &iv.id)?;
        self.agree_rating(CD, D, C, "O-DC", &iv.id)?;
        let inv_ab = format!("INV-AB-{}", iv.id);
        let inv_ba = format!("INV-BA-{}", iv.id);
        let inv_dc = format!("INV-DC-{}", iv.id);
        let ab = self.issue(AB, (A, B), &inv_ab, "O-AB", &iv.id, 1)?;
        let dc = self.issue(CD, (D, C), &inv_dc, "O-DC", &iv.id, 1)?;
        // Option 2: the ledger generates B's voice invoice (per-record rounding, which the
        // rating circuit does not cover, so it stays bilateral).
        let ba = self.issue(AB, (B, A), &inv_ba, "O-BA", &iv.id, 2)?;
        self.book[ba].notes.push("Option 2: generated by both ledgers, bilateral only".into());
        self.accept_bill(ba)?;
        self.accept_bill(dc)?;
        for ix in [ab, dc] {
            self.await_registry(ix, &["verified", "accepted"])?;
        }
        self.await_registry(dc, &["accepted"])?;
        self.say(format!(
            "3. ratings agreed; {inv_ab} and {inv_dc} issued with rating proofs (Option 1) \
             proven by the sellers' nodes, verified by the buyers' nodes and by the registry; \
             {inv_ba} generated by the ledger (Option 2)"
        ));

        self.dispute_with_credit_note(ab, t0)?;
        self.bilateral_netting(ab, ba, t0 + 20 * DAY)?;

        // C pays D's invoice twelve days after it was due.
        let due = self.registry_invoice(dc)?.due_date;
        self.set_clock(due + 12 * DAY)?;
        let paid = self.pay_invoice(dc, "PAY-DC-1", "SEPA, 12 days late")?;
        self.await_registry(dc, &["paid"])?;
        self.say(format!(
            "6. C pays {inv_dc} ({} EUR) 12 days after its due date; D confirms receipt; both \
             nodes report it to the registry",
            format_micros(paid)
        ));
        Ok(())
    }

    /// B disputes two usage items of A's invoice through its node's billing API; the
    /// parties resolve the first with a credit note and the second without adjustment
    /// (R78–R81, D21). The nodes report the dispute and the acceptance of the final invoice
    /// to the registry.
    fn dispute_with_credit_note(&mut self, ix: usize, t0: u64) -> Result<()> {
        let bk = self.book[ix].clone();
        let (seller, buyer) = (bk.seller, bk.buyer);
        let bill = self.bill(ix, buyer)?;
        let mut items: Vec<(u32, i64)> = bill
            .items
            .iter()
            .filter(|i| i.description.ends_with(" records)"))
            .map(|i| (i.item, i.amount.as_ref().map_or(0, |m| m.micros)))
            .collect();
        items.sort_by_key(|i| std::cmp::Reverse(i.1));
        ensure!(items.len() >= 2, "{} has at least two usage items", bk.number);
        let ((i1, a1), (i2, a2)) = (items[0], items[1]);
        let (d1, d2) = (a1 / 5, a2 / 4);
        self.set_clock(t0 + DAY)?;
        let bill_no = bk.number.clone();
        let bilateral = self.pairs[bk.pair].hex();
        let ack = self.carrier(buyer).billing("DisputeBill", |mut c| async move {
            let items = vec![
                DisputedItem { item: i1, micros: d1, reason: "records double-counted".into() },
                DisputedItem { item: i2, micros: d2, reason: "outside the SLA window".into() },
            ];
            c.dispute_bill(DisputeBillRequest { bilateral, bill_no, items }).await
        })?;
        self.deliver(bk.pair, buyer, &ack)?;
        self.await_registry(ix, &["disputed"])?;
        self.say(format!(
            "4. B disputes items {i1} ({} EUR) and {i2} ({} EUR) of {} through its node; the node \
             reports the dispute to the registry",
            format_micros(d1),
            format_micros(d2),
            bk.number
        ));

        self.set_clock(t0 + 2 * DAY)?;
        let credit = d1 / 2;
        self.resolve_item(ix, seller, i1, "half agreed, credited by CN-AB-1")?;
        self.accept_changes(bk.pair, buyer, &bk.number)?;
        self.final_bill(ix)?;
        self.accept_changes(bk.pair, buyer, &bk.number)?;
        let bill_no = bk.number.clone();
        self.lifecycle_step(bk.pair, seller, "IssueCreditNote", |mut c, bilateral| async move {
            c.issue_credit_note(IssueCreditNoteRequest {
                bilateral,
                number: "CN-AB-1".into(),
                bill_no,
                micros: credit,
                reason: "half of the double-counted records".into(),
            })
            .await
        })?;
        self.accept_changes(bk.pair, buyer, &bk.number)?;
        self.set_clock(t0 + 3 * DAY)?;
        self.resolve_item(ix, buyer, i2, "the records were within the SLA window")?;
        self.accept_changes(bk.pair, seller, &bk.number)?;
        self.final_bill(ix)?;
        self.accept_changes(bk.pair, buyer, &bk.number)?;
        // Disputed, then accepted again at its final amount: reported by B's node.
        self.await_registry(ix, &["accepted"])?;
        self.outcome.disputes_resolved += 1;
        self.outcome.credit_notes += 1;
        self.book[ix].notes.push(format!(
            "disputed; resolved with credit note CN-AB-1 ({} EUR)",
            format_micros(credit)
        ));
        self.say(format!(
            "   resolved: item {i1} by credit note CN-AB-1 of {} EUR (partially reconciled \
             invoice rev 1), item {i2} without adjustment (final invoice rev 2); B's node accepts \
             it again on the registry",
            format_micros(credit),
        ));
        Ok(())
    }

    /// `who` resolves disputed item `item` of booked invoice `ix` without adjustment.
    fn resolve_item(&self, ix: usize, who: CarrierIx, item: u32, note: &str) -> Result<()> {
        let bk = &self.book[ix];
        let (bill_no, note) = (bk.number.clone(), note.to_string());
        self.lifecycle_step(bk.pair, who, "ResolveDispute", |mut c, bilateral| async move {
            let items = vec![ItemResolution { item, adjustment_micros: 0, note }];
            c.resolve_dispute(ResolveDisputeRequest { bilateral, bill_no, items }).await
        })?;
        Ok(())
    }

    /// The seller issues the final invoice (the next revision) of booked invoice `ix`.
    fn final_bill(&self, ix: usize) -> Result<()> {
        let bk = &self.book[ix];
        let bill_no = bk.number.clone();
        self.lifecycle_step(bk.pair, bk.seller, "IssueFinalBill", |mut c, bilateral| async move {
            c.issue_final_bill(BillRef { bilateral, bill_no }).await
        })?;
        Ok(())
    }

    /// A and B net the reciprocal documents due in the same month (§8.6.3): A's invoice,
    /// B's generated invoice and the credit note; the net payer pays on time, and the
    /// nodes report A's invoice settled to the registry.
    fn bilateral_netting(&mut self, ab: usize, ba: usize, at: u64) -> Result<()> {
        self.set_clock(at)?;
        let id = format!("NET-AB-{}", self.second.id);
        let (bilateral, netting, period) =
            (self.pairs[AB].hex(), id.clone(), self.second.id.0.clone());
        let proposal = self.carrier(A).lifecycle("ProposeNetting", |mut c| async move {
            c.propose_netting(ProposeNettingRequest { bilateral, netting, period }).await
        })?;
        let docs = proposal.documents.len();
        ensure!(docs == 3, "expected three documents to net, found {:?}", proposal.documents);
        self.deliver(AB, A, proposal.entry.as_ref().context("the netting's entry")?)?;
        let netting = id.clone();
        self.lifecycle_step(AB, B, "AcceptNetting", |mut c, bilateral| async move {
            c.accept_netting(NettingRef { bilateral, netting }).await
        })?;
        ensure!(!proposal.payer.is_empty(), "the reciprocal documents cancel out exactly");
        let payer = if proposal.payer == self.carrier(A).party.to_hex() { A } else { B };
        let payee = self.pairs[AB].other(payer)?;
        self.set_clock(at + 5 * DAY)?;
        let (bilateral, netting, micros) = (self.pairs[AB].hex(), id.clone(), proposal.micros);
        let notice = self.carrier(payer).billing("NotifyPayment", |mut c| async move {
            c.notify_payment(NotifyPaymentRequest {
                bilateral,
                bill_no: String::new(),
                payment: "PAY-NET-AB".into(),
                micros,
                reference: "SEPA, net of NET-AB".into(),
                netting,
            })
            .await
        })?;
        self.deliver(AB, payer, &notice)?;
        self.receipt(AB, payee, "PAY-NET-AB")?;
        self.await_registry(ab, &["paid"])?;
        for ix in [ab, ba] {
            self.book[ix].notes.push(format!("settled by bilateral netting {id}"));
        }
        let who = |c| if c == A { "A" } else { "B" };
        self.say(format!(
            "5. bilateral netting {id} of {docs} documents (two invoices, the credit note): {} pays \
             {} {} EUR before the due date; the nodes report {} paid to the registry",
            who(payer),
            who(payee),
            format_micros(micros),
            self.book[ab].number
        ));
        Ok(())
    }

    /// The second billing interval (last month): five orders' usage and agreed ratings,
    /// invoiced now with rating proofs, accepted by the buyers (their nodes report the
    /// acceptance to the registry).
    pub fn second_interval(&mut self, records: usize) -> Result<()> {
        let iv = self.second.clone();
        let n = |pct: usize| (records * pct / 100).max(4);
        let plan = [
            (AB, A, B, "O-AB", n(90)),
            (BC, B, C, "O-BC", n(150)),
            (CD, C, D, "O-CD", n(60)),
            (DA, D, A, "O-DA", n(110)),
            (BD, B, D, "O-BD", n(40)),
        ];
        self.set_clock(iv.start + 16 * DAY)?;
        let mut posted = 0;
        for (pair, seller, _, order, count) in plan {
            posted += self.usage(pair, seller, order, &iv, count, 0)?.accepted;
        }
        self.set_clock(iv.end)?;
        for (pair, seller, buyer, order, _) in plan {
            self.agree_rating(pair, seller, buyer, order, &iv.id)?;
        }
        self.say(format!(
            "7. {}: {posted} usage records posted for five orders; ratings agreed",
            iv.id
        ));
        self.set_clock(self.now)?;
        let mut numbers = Vec::new();
        for (pair, seller, buyer, order, _) in plan {
            let number = format!("INV-{}-{}", &order[2..], iv.id);
            let ix = self.issue(pair, (seller, buyer), &number, order, &iv.id, 1)?;
            self.accept_bill(ix)?;
            numbers.push(ix);
        }
        for &ix in &numbers {
            self.await_registry(ix, &["accepted"])?;
        }
        let names: Vec<&str> = numbers.iter().map(|&ix| self.book[ix].number.as_str()).collect();
        self.say(format!(
            "8. {} proven by the sellers' nodes, verified by each buyer's node and by the \
             registry, accepted on both",
            names.join(", ")
        ));
        Ok(())
    }

    /// The payee's node confirms the receipt of `payment` (R89).
    pub(super) fn receipt(&self, pair: usize, payee: CarrierIx, payment: &str) -> Result<()> {
        let (bilateral, payment) = (self.pairs[pair].hex(), payment.to_string());
        let ack = self.carrier(payee).billing("ConfirmReceipt", |mut c| async move {
            c.confirm_receipt(ConfirmReceiptRequest { bilateral, payment }).await
        })?;
        self.deliver(pair, payee, &ack)
    }

    /// Waits until the registry shows invoice `ix` in one of `statuses`.
    pub(super) fn await_registry(&mut self, ix: usize, statuses: &[&str]) -> Result<()> {
        let number = self.book[ix].number.clone();
        let shown = wait_for(&format!("the registry to show {number} {statuses:?}"), || {
            let inv = self.registry_invoice(ix)?;
            Ok(statuses.contains(&inv.status.as_str()).then_some(()))
        });
        shown.map_err(|e| self.with_outboxes(e))?;
        self.book[ix].registry = Some(self.registry_id(ix));
        Ok(())
    }
}
