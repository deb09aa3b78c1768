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

use super::network::Pair;
use super::story::{Booked, CarrierIx, World, A, B, C, D, DAY};
use anyhow::{ensure, Context, Result};
use omni_core::money::format_micros;
use omni_core::tariff::{Pricing, Tariff};
use omni_core::{BillingInterval, Hash32, IntervalId, UsageRecord};
use omni_node::api::proto::{DisputeBillRequest, DisputedItem, SubmitUsageRequest, UsageReport};
use omni_node::invoice::{Charge, CreditNote, DisputeResolution, FinalInvoice, ItemResolution};
use omni_node::sample;
use omni_node::settlement::{PaymentNotice, PaymentReceipt, SettlementRef};
use omni_node::{Contract, EntryBody};
use omni_registry::TxBody;

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

fn tmf635(records: &[UsageRecord]) -> Vec<String> {
    records.iter().map(UsageRecord::to_tmf635_json).collect()
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

    /// The five contracts and their orders, each signed by both parties (R4–R8, R30).
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
        for (reference, parties, tariffs, net_days, netting) in plans {
            let contract = self.contract(reference, parties, tariffs, net_days, netting);
            let (a, b) = (self.carrier(parties.0), self.carrier(parties.1));
            self.pairs.push(Pair::agree(self.transport.clone(), a.end(), b.end(), contract)?);
        }
        let orders = [
            (AB, A, "O-AB", "ic-ab"),
            (AB, B, "O-BA", "voice-2026"),
            (BC, B, "O-BC", "ic-bc"),
            (CD, D, "O-DC", "ic-dc"),
            (CD, C, "O-CD", "ic-cd"),
            (DA, D, "O-DA", "ic-da"),
            (BD, B, "O-BD", "ic-bd"),
        ];
        for (pair, seller, order, tariff) in orders {
            let p = &self.pairs[pair];
            let seller = self.carrier(seller).party;
            let t = p
                .read(seller, |l, id| Ok(l.state(id)?.contract().tariff(tariff).cloned()))?
                .with_context(|| format!("tariff {tariff} of {}", p.reference))?;
            let body = EntryBody::Order(sample::order(order, seller, &t, self.first.start));
            p.propose(seller, body)?;
        }
        self.say(format!(
            "1. contracts {} agreed (Net 30 with netting; B–D Net 60); {} orders signed by both sides",
            self.pairs.iter().map(|p| p.reference.as_str()).collect::<Vec<_>>().join(", "),
            orders.len()
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
        let p = self.pairs[pair].clone();
        let tariff = p
            .read(self.carrier(seller).party, |l, id| {
                let state = l.state(id)?;
                Ok(state
                    .order(order)
                    .and_then(|o| state.contract().tariff(&o.order.tariff).cloned()))
            })?
            .with_context(|| format!("order {order}'s tariff"))?;
        let prefix = format!("cdr-{order}-{}-", interval.id);
        let mut usage =
            tmf635(&omni_core::sample::usage(&tariff, &prefix, interval.start, records));
        usage.extend_from_within(..resent.min(records));
        let (bilateral, order_id, iv) = (p.id.0.to_hex(), order.to_string(), interval.id.0.clone());
        let report = self.carrier(seller).billing("SubmitUsage", |mut c| async move {
            c.submit_usage(SubmitUsageRequest { bilateral, order: order_id, interval: iv, usage })
                .await
        })?;
        p.deliver(self.carrier(seller).party)?;
        self.outcome.records_ingested += report.accepted as usize;
        self.outcome.duplicates_refused += report.duplicates as usize;
        Ok(report)
    }

    /// The seller proposes the interval's rating as its ledger computes it; the buyer's
    /// ledger recomputes it and its owner agrees (R65–R67).
    fn agree_rating(
        &self,
        pair: usize,
        seller: CarrierIx,
        buyer: CarrierIx,
        order: &str,
        interval: &IntervalId,
    ) -> Result<()> {
        let p = &self.pairs[pair];
        let seq =
            p.act(self.carrier(seller).party, |l, id| l.propose_rating(id, order, interval))?.seq;
        p.accept(self.carrier(buyer).party, seq)?;
        Ok(())
    }

    /// The first billing interval (three months back): usage, agreed ratings, two proven
    /// invoices and one generated, a dispute resolved with a credit note, bilateral
    /// netting paid on time, and a payment made late.
    pub fn first_interval(&mut self, records: usize) -> Result<()> {
        let iv = self.first.clone();
        let n = |pct: usize| (records * pct / 100).max(4);
        self.clock.set(iv.start + DAY);
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
        self.clock.set(t0);
        self.agree_rating(AB, A, B, "O-AB", &iv.id)?;
        self.agree_rating(AB, B, A, "O-BA", &iv.id)?;
        self.agree_rating(CD, D, C, "O-DC", &iv.id)?;
        let inv_ab = format!("INV-AB-{}", iv.id);
        let inv_ba = format!("INV-BA-{}", iv.id);
        let inv_dc = format!("INV-DC-{}", iv.id);
        let ab = self.issue_proven(AB, (A, B), &inv_ab, "O-AB", &iv.id)?;
        let dc = self.issue_proven(CD, (D, C), &inv_dc, "O-DC", &iv.id)?;
        // Option 2: the ledger generates B's voice invoice (per-record rounding, which the
        // rating circuit does not cover, so it stays bilateral).
        self.pairs[AB]
            .act(self.carrier(B).party, |l, id| l.generate_invoice(id, &inv_ba, "O-BA", &iv.id))?;
        let (total, due_date) = self.pairs[AB]
            .read(self.carrier(B).party, |l, id| {
                let state = l.state(id)?;
                Ok(state
                    .invoice(&inv_ba)
                    .map(|i| i.invoice.total)
                    .zip(state.due_date(&SettlementRef::Invoice(inv_ba.clone()))))
            })?
            .context("the generated invoice")?;
        self.book.push(Booked {
            number: inv_ba.clone(),
            pair: AB,
            seller: B,
            buyer: A,
            interval: iv.id.clone(),
            option: 2,
            total,
            due_date,
            buyer_verified: false,
            registry: None,
            blinding: None,
            bundle: Vec::new(),
            notes: vec!["Option 2: generated by both ledgers, bilateral only".into()],
        });
        let ba = self.book.len() - 1;
        self.accept_bill(ba)?;
        self.accept_bill(dc)?;
        for ix in [ab, dc] {
            self.submit_to_registry(ix)?;
        }
        self.accept_on_registry(dc)?;
        self.say(format!(
            "3. ratings agreed; {inv_ab} and {inv_dc} issued with rating proofs (Option 1), \
             verified by the buyers' nodes and by the registry; {inv_ba} generated by the \
             ledger (Option 2)"
        ));

        self.dispute_with_credit_note(ab, t0)?;
        self.bilateral_netting(ab, ba, t0 + 20 * DAY)?;

        // C pays D's invoice twelve days after it was due.
        let late = self.book[dc].due_date + 12 * DAY;
        self.clock.set(late);
        let paid = self.pay_invoice(dc, "PAY-DC-1", "SEPA, 12 days late")?;
        self.say(format!(
            "6. C pays {inv_dc} ({} EUR) 12 days after its due date; D confirms receipt; both \
             attested on the registry",
            format_micros(paid)
        ));
        Ok(())
    }

    /// B disputes two usage items of A's invoice (on its ledger through the billing API,
    /// and on the registry); the parties resolve the first with a credit note and the
    /// second without adjustment (R78–R81, D21), and B accepts the final invoice on the
    /// registry.
    fn dispute_with_credit_note(&mut self, ix: usize, t0: u64) -> Result<()> {
        let bk = self.book[ix].clone();
        let p = self.pairs[bk.pair].clone();
        let (seller, buyer) = (self.carrier(bk.seller).party, self.carrier(bk.buyer).party);
        let mut items = p.read(buyer, |l, id| {
            Ok(l.state(id)?
                .invoice(&bk.number)
                .map(|i| i.invoice.items.clone())
                .unwrap_or_default())
        })?;
        items.retain(|i| matches!(i.charge, Charge::Usage { .. }));
        items.sort_by_key(|i| std::cmp::Reverse(i.amount));
        ensure!(items.len() >= 2, "{} has at least two usage items", bk.number);
        let (i1, i2) = (items[0].clone(), items[1].clone());
        let (d1, d2) = (i1.amount / 5, i2.amount / 4);
        self.clock.set(t0 + DAY);
        let bill_no = bk.number.clone();
        let ack = self.via_billing_api(
            bk.pair,
            bk.buyer,
            "DisputeBill",
            |mut c, bilateral| async move {
                let items = vec![
                    DisputedItem {
                        item: i1.item,
                        micros: d1,
                        reason: "records double-counted".into(),
                    },
                    DisputedItem {
                        item: i2.item,
                        micros: d2,
                        reason: "outside the SLA window".into(),
                    },
                ];
                c.dispute_bill(DisputeBillRequest { bilateral, bill_no, items }).await
            },
        )?;
        let invoice = bk.registry.context("the disputed invoice is on the registry")?;
        let reason = Hash32::from_hex(&ack.hash)?;
        self.carrier(bk.buyer).member.submit(TxBody::DisputeInvoice { invoice, reason })?;
        self.say(format!(
            "4. B disputes items {} ({} EUR) and {} ({} EUR) of {} on its ledger and on the registry",
            i1.item,
            format_micros(d1),
            i2.item,
            format_micros(d2),
            bk.number
        ));

        let number = bk.number.clone();
        let resolve = |item: u32, note: &str| {
            EntryBody::DisputeResolution(DisputeResolution {
                invoice: number.clone(),
                resolutions: vec![ItemResolution { item, adjustment: 0, note: note.into() }],
            })
        };
        let final_invoice = |revision: u32| -> Result<EntryBody> {
            let (net, tax, total, _) = p
                .read(seller, |l, id| Ok(l.state(id)?.reconciled_amounts(&number)))?
                .map_err(anyhow::Error::msg)?;
            Ok(EntryBody::FinalInvoice(FinalInvoice {
                invoice: number.clone(),
                revision,
                net,
                tax,
                total,
            }))
        };
        self.clock.set(t0 + 2 * DAY);
        let credit = d1 / 2;
        p.propose(seller, resolve(i1.item, "half agreed, credited by CN-AB-1"))?;
        p.propose(seller, final_invoice(1)?)?;
        p.propose(
            seller,
            EntryBody::CreditNote(CreditNote {
                number: "CN-AB-1".into(),
                invoice: Some(number.clone()),
                amount: credit,
                reason: "half of the double-counted records".into(),
            }),
        )?;
        self.clock.set(t0 + 3 * DAY);
        p.propose(buyer, resolve(i2.item, "the records were within the SLA window"))?;
        p.propose(seller, final_invoice(2)?)?;
        self.carrier(bk.buyer).member.submit(TxBody::AcceptInvoice { invoice })?;
        self.outcome.disputes_resolved += 1;
        self.outcome.credit_notes += 1;
        self.book[ix].notes.push(format!(
            "disputed; resolved with credit note CN-AB-1 ({} EUR)",
            format_micros(credit)
        ));
        self.say(format!(
            "   resolved: item {} by credit note CN-AB-1 of {} EUR (partially reconciled \
             invoice rev 1), item {} without adjustment (final invoice rev 2); B accepts it on \
             the registry",
            i1.item,
            format_micros(credit),
            i2.item
        ));
        Ok(())
    }

    /// A and B net the reciprocal documents due in the same month (§8.6.3): A's invoice,
    /// B's generated invoice and the credit note; the net payer pays on time, and the
    /// invoice on the registry is attested paid with the net payment as its record.
    fn bilateral_netting(&mut self, ab: usize, ba: usize, at: u64) -> Result<()> {
        let p = self.pairs[AB].clone();
        let (pa, pb) = (self.carrier(A).party, self.carrier(B).party);
        self.clock.set(at);
        let id = format!("NET-AB-{}", self.second.id);
        let proposal = p
            .read(pa, |l, bid| Ok(l.state(bid)?.netting_proposal(&id, &self.second.id)))?
            .map_err(anyhow::Error::msg)?;
        let (payer, amount, docs) = (proposal.payer, proposal.amount, proposal.documents.len());
        ensure!(docs == 3, "expected three documents to net, found {docs}");
        p.propose(pa, EntryBody::Netting(proposal))?;
        let payer = payer.context("the reciprocal documents cancel out exactly")?;
        let payee = if payer == pa { pb } else { pa };
        self.clock.set(at + 5 * DAY);
        let target = SettlementRef::Netting(id.clone());
        let notice = p.append(
            payer,
            EntryBody::PaymentNotice(PaymentNotice {
                payment: "PAY-NET-AB".into(),
                target: target.clone(),
                amount,
                reference: "SEPA, net of NET-AB".into(),
            }),
        )?;
        p.append(
            payee,
            EntryBody::PaymentReceipt(PaymentReceipt {
                payment: "PAY-NET-AB".into(),
                target,
                amount,
            }),
        )?;
        let invoice = self.book[ab].registry.context("A's invoice is on the registry")?;
        self.attest_payment(ab, invoice, self.clock.now(), notice.hash())?;
        for ix in [ab, ba] {
            self.book[ix].notes.push(format!("settled by bilateral netting {id}"));
        }
        let who = |p| if p == pa { "A" } else { "B" };
        self.say(format!(
            "5. bilateral netting {id} of {docs} documents (two invoices, the credit note): {} pays \
             {} {} EUR before the due date; the registry attests {} paid",
            who(payer),
            who(payee),
            format_micros(amount),
            self.book[ab].number
        ));
        Ok(())
    }

    /// The second billing interval (last month): five orders' usage and agreed ratings,
    /// invoiced now with rating proofs, accepted by the buyers on their ledgers and on the
    /// registry.
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
        self.clock.set(self.clock.now().max(iv.start + 16 * DAY));
        let mut posted = 0;
        for (pair, seller, _, order, count) in plan {
            posted += self.usage(pair, seller, order, &iv, count, 0)?.accepted;
        }
        self.clock.set(self.clock.now().max(iv.end));
        for (pair, seller, buyer, order, _) in plan {
            self.agree_rating(pair, seller, buyer, order, &iv.id)?;
        }
        self.say(format!(
            "7. {}: {posted} usage records posted for five orders; ratings agreed",
            iv.id
        ));
        self.clock.set(self.clock.now().max(self.now));
        let mut numbers = Vec::new();
        for (pair, seller, buyer, order, _) in plan {
            let number = format!("INV-{}-{}", &order[2..], iv.id);
            let ix = self.issue_proven(pair, (seller, buyer), &number, order, &iv.id)?;
            self.accept_bill(ix)?;
            self.submit_to_registry(ix)?;
            self.accept_on_registry(ix)?;
            numbers.push(number);
        }
        self.say(format!(
            "8. {} issued with rating proofs, verified by each buyer's node and by the registry, \
             accepted on both",
            numbers.join(", ")
        ));
        Ok(())
    }
}
