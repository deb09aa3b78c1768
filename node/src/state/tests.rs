//! State-machine tests: the whole MEF 114 §8 lifecycle and every refusal, with no disk.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::contract::{DisputeThreshold, OrderItem};
use crate::entry::Termination;
use crate::invoice::{DisputedItem, ItemResolution};
use crate::sample::{self, ORDER_AB, ORDER_BA};
use omni_core::sample::{interconnect_tariff, usage, voice_tariff};
use omni_core::{Keypair, Unit};
use proptest::prelude::*;

const DAY: u64 = 86_400;

fn nov() -> BillingInterval {
    BillingInterval::month(2026, 11).unwrap()
}

fn iv(s: &str) -> IntervalId {
    IntervalId(s.into())
}

/// Two carriers and the one state both their nodes compute.
struct Pair {
    a: Keypair,
    b: Keypair,
    state: BilateralState,
    entries: Vec<Entry>,
    now: u64,
}

impl Pair {
    /// A contract proposed by A and accepted by B, effective at November's start.
    fn new(netting: bool) -> Pair {
        Pair::with_contract(|c| c.netting = netting)
    }

    fn with_contract(f: impl FnOnce(&mut Contract)) -> Pair {
        let (a, b) = (sample::carrier_a(), sample::carrier_b());
        let mut c = sample::contract(a.party(), b.party(), false, nov().start);
        f(&mut c);
        let now = nov().start - DAY;
        let genesis =
            Entry::sign(&a, BilateralId::GENESIS, 0, Hash32::ZERO, now, EntryBody::Contract(c));
        let (state, _) = BilateralState::genesis(&genesis).unwrap();
        let mut p = Pair { a, b, state, entries: vec![genesis], now };
        p.accept_by_b(0);
        p
    }

    fn key(&self, who: char) -> &Keypair {
        if who == 'a' {
            &self.a
        } else {
            &self.b
        }
    }

    fn sign(&self, who: char, body: EntryBody) -> Entry {
        let head = self.state.head();
        Entry::sign(self.key(who), self.state.id(), head.seq + 1, head.hash, self.now, body)
    }

    fn push(&mut self, who: char, body: EntryBody) -> Result<Applied> {
        let e = self.sign(who, body);
        let applied = self.state.apply(&e)?;
        self.entries.push(e);
        Ok(applied)
    }

    /// Pushes and expects success; returns the entry's sequence number.
    fn ok(&mut self, who: char, body: EntryBody) -> u64 {
        match self.push(who, body) {
            Ok(a) => a.seq,
            Err(e) => panic!("refused: {e}"),
        }
    }

    /// Pushes an entry that must be refused; checks the state is unchanged and returns the
    /// error's message.
    fn refused(&mut self, who: char, body: EntryBody) -> String {
        let e = self.sign(who, body);
        self.refused_entry(&e)
    }

    fn refused_entry(&mut self, e: &Entry) -> String {
        let before = self.state.digest();
        let snapshot = self.state.snapshot().clone();
        let err = self.state.apply(e).expect_err("the entry must be refused").to_string();
        assert_eq!(self.state.digest(), before, "state changed by a refused entry: {err}");
        assert_eq!(self.state.snapshot(), &snapshot);
        err
    }

    fn answer(&mut self, who: char, seq: u64) -> u64 {
        let hash = self.state.pending().find(|p| p.seq == seq).unwrap().hash;
        self.ok(who, EntryBody::Accept(Accept { entry_seq: seq, entry_hash: hash }))
    }

    fn accept_by_b(&mut self, seq: u64) -> u64 {
        self.answer('b', seq)
    }

    fn accept_by_a(&mut self, seq: u64) -> u64 {
        self.answer('a', seq)
    }

    fn party(&self, who: char) -> PartyId {
        self.key(who).party()
    }

    /// An agreed order `id` sold by `seller` under `tariff`.
    fn order(&mut self, id: &str, seller: char, tariff: &Tariff) {
        let o = sample::order(id, self.party(seller), tariff, nov().start);
        let buyer = if seller == 'a' { 'b' } else { 'a' };
        let seq = self.ok(buyer, EntryBody::Order(o));
        self.answer(seller, seq);
    }

    fn usage(
        &mut self,
        who: char,
        order: &str,
        records: Vec<omni_core::UsageRecord>,
    ) -> Result<Applied> {
        self.push(
            who,
            EntryBody::UsageBatch(UsageBatch {
                order: order.into(),
                interval: iv("2026-11"),
                records,
            }),
        )
    }

    /// Rates November of `order` (seller `who`) and has the buyer agree.
    fn agree_rating(&mut self, who: char, order: &str) -> Rating {
        self.now = self.now.max(nov().end);
        let rating = self.state.expected_rating(order, &iv("2026-11")).unwrap();
        let seq = self.ok(
            who,
            EntryBody::Rating(RatingProposal {
                order: order.into(),
                interval: iv("2026-11"),
                rating: rating.clone(),
            }),
        );
        self.answer(if who == 'a' { 'b' } else { 'a' }, seq);
        rating
    }

    fn generate(&mut self, who: char, number: &str, order: &str) -> u64 {
        self.ok(
            who,
            EntryBody::GenerateInvoice(GenerateInvoice {
                number: number.into(),
                order: order.into(),
                interval: iv("2026-11"),
            }),
        )
    }

    fn replayed(&self) -> BilateralState {
        let (mut s, _) = BilateralState::genesis(&self.entries[0]).unwrap();
        for e in &self.entries[1..] {
            s.apply(e).unwrap();
        }
        s
    }
}

/// A with a billed, agreed interconnect order towards B, 2000 records in November.
fn rated_pair() -> (Pair, Rating) {
    let mut p = Pair::new(false);
    p.order(ORDER_AB, 'a', &interconnect_tariff());
    let records = usage(&interconnect_tariff(), "cdr-", nov().start, 2000);
    p.usage('a', ORDER_AB, records[..1000].to_vec()).unwrap();
    p.usage('a', ORDER_AB, records[1000..].to_vec()).unwrap();
    let r = p.agree_rating('a', ORDER_AB);
    (p, r)
}

fn pay(p: &mut Pair, payer: char, payment: &str, target: SettlementRef, amount: Micros) {
    p.ok(
        payer,
        EntryBody::PaymentNotice(PaymentNotice {
            payment: payment.into(),
            target: target.clone(),
            amount,
            reference: "SEPA".into(),
        }),
    );
    let payee = if payer == 'a' { 'b' } else { 'a' };
    p.ok(
        payee,
        EntryBody::PaymentReceipt(PaymentReceipt { payment: payment.into(), target, amount }),
    );
}

#[test]
fn lifecycle_option2_dispute_partial_reconciliation_credit_note_payment_termination() {
    let (mut p, rating) = rated_pair();
    let inv_ref = SettlementRef::Invoice("INV-1".into());

    // MEF 114 R71 Option 2: the ledger generates the invoice from the agreed rating.
    let seq = p.generate('a', "INV-1", ORDER_AB);
    let inv = p.state.invoice("INV-1").unwrap();
    assert!(inv.generated);
    assert_eq!(inv.status(), InvoiceStatus::Issued);
    assert_eq!(inv.invoice.total, rating.total);
    assert_eq!(
        inv.invoice,
        invoice_from_rating("INV-1", ORDER_AB, &iv("2026-11"), omni_core::Currency::EUR, &rating)
    );
    assert_eq!(p.state.awaiting(&p.party('b')).len(), 1);
    assert_eq!(p.state.awaiting(&p.party('b'))[0].seq, seq);
    assert!(p.state.awaiting(&p.party('a')).is_empty());
    // not payable before the buyer's answer
    let err = p.refused(
        'b',
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "P0".into(),
            target: inv_ref.clone(),
            amount: 1,
            reference: String::new(),
        }),
    );
    assert!(err.contains("has not accepted it"), "{err}");

    // CR21: the buyer disputes two items; below the 1 % threshold is refused.
    let items = largest_items(&p, "INV-1");
    let (i1, i2) = (items[0].item, items[1].item);
    let threshold = DisputeThreshold::BasisPoints(100).for_invoice(rating.net);
    let small = Dispute {
        invoice: "INV-1".into(),
        items: vec![DisputedItem { item: i1, amount: threshold - 1, reason: "too much".into() }],
    };
    let err = p.refused('b', EntryBody::Dispute(small));
    assert!(err.contains("below the contract's dispute threshold"), "{err}");
    let (d1, d2) = (items[0].amount / 2, items[1].amount / 3);
    assert!(d1 + d2 >= threshold);
    let dispute = Dispute {
        invoice: "INV-1".into(),
        items: vec![
            DisputedItem { item: i1, amount: d1, reason: "records double-counted".into() },
            DisputedItem { item: i2, amount: d2, reason: "records outside SLA".into() },
        ],
    };
    let err = p.refused('a', EntryBody::Dispute(dispute.clone()));
    assert!(err.contains("only the invoice's buyer"), "{err}");
    p.ok('b', EntryBody::Dispute(dispute));
    assert_eq!(p.state.invoice("INV-1").unwrap().status(), InvoiceStatus::Disputed);
    assert!(p.state.pending().all(|x| x.seq != seq), "the dispute answers the issued invoice");

    // R79–R80: resolve the first item only (half of it credited); the other stays open.
    let res = DisputeResolution {
        invoice: "INV-1".into(),
        resolutions: vec![ItemResolution {
            item: i1,
            adjustment: d1 / 2,
            note: "half agreed".into(),
        }],
    };
    let rs = p.ok('a', EntryBody::DisputeResolution(res));
    // a second proposal on the same invoice waits for the first
    let err = p.refused(
        'a',
        EntryBody::FinalInvoice(FinalInvoice {
            invoice: "INV-1".into(),
            revision: 1,
            net: 0,
            tax: 0,
            total: 0,
        }),
    );
    assert!(err.contains("awaits acceptance"), "{err}");
    p.accept_by_b(rs);
    let st = p.state.invoice("INV-1").unwrap();
    assert_eq!(st.status(), InvoiceStatus::PartiallyResolved);
    assert_eq!(st.dispute.as_ref().unwrap().open_items(), 1);

    // R79: the partially reconciled invoice bills what is not in dispute.
    let (net, tax, total, open) = p.state.reconciled_amounts("INV-1").unwrap();
    assert_eq!(open, 1);
    assert_eq!(net, rating.net - d1 / 2 - d2);
    let wrong = FinalInvoice { invoice: "INV-1".into(), revision: 1, net, tax, total: total + 1 };
    let err = p.refused('a', EntryBody::FinalInvoice(wrong));
    assert!(err.contains("reconciled"), "{err}");
    let err = p.refused(
        'a',
        EntryBody::FinalInvoice(FinalInvoice {
            invoice: "INV-1".into(),
            revision: 2,
            net,
            tax,
            total,
        }),
    );
    assert!(err.contains("next revision is 1"), "{err}");
    let f1 = p.ok(
        'a',
        EntryBody::FinalInvoice(FinalInvoice {
            invoice: "INV-1".into(),
            revision: 1,
            net,
            tax,
            total,
        }),
    );
    p.accept_by_b(f1);
    let st = p.state.invoice("INV-1").unwrap();
    assert_eq!(st.amount_due(), total);
    assert_eq!(st.status(), InvoiceStatus::PartiallyResolved, "the other item stays open (R80)");
    assert!(st.not_payable().is_none(), "the reconciled part is payable");

    // Item 2 resolved without adjustment; the final invoice (R78, R81) adds it back.
    let rs = p.ok(
        'b',
        EntryBody::DisputeResolution(DisputeResolution {
            invoice: "INV-1".into(),
            resolutions: vec![ItemResolution {
                item: i2,
                adjustment: 0,
                note: "records were fine".into(),
            }],
        }),
    );
    let err = p
        .refused('b', EntryBody::Accept(Accept { entry_seq: rs, entry_hash: p.state.head().hash }));
    assert!(err.contains("only the counterparty"), "{err}");
    p.accept_by_a(rs);
    assert_eq!(p.state.invoice("INV-1").unwrap().status(), InvoiceStatus::Resolved);
    let (net, tax, total, open) = p.state.reconciled_amounts("INV-1").unwrap();
    assert_eq!((net, open), (rating.net - d1 / 2, 0));
    let f2 = p.ok(
        'a',
        EntryBody::FinalInvoice(FinalInvoice {
            invoice: "INV-1".into(),
            revision: 2,
            net,
            tax,
            total,
        }),
    );
    p.accept_by_b(f2);
    assert_eq!(p.state.invoice("INV-1").unwrap().status(), InvoiceStatus::Final);
    assert_eq!(p.state.outstanding(&inv_ref), Some(total));
    assert_eq!(p.state.due_date(&inv_ref), Some(p.now + 30 * DAY));

    // D21: a credit note against the invoice, settled in the other direction.
    let cn = CreditNote {
        number: "CN-1".into(),
        invoice: Some("INV-1".into()),
        amount: 5_000_000,
        reason: "SLA credit".into(),
    };
    let err = p.refused('b', EntryBody::CreditNote(cn.clone()));
    assert!(err.contains("credited invoice's seller"), "{err}");
    let too_much = CreditNote { amount: total + 1, number: "CN-X".into(), ..cn.clone() };
    assert!(p.refused('a', EntryBody::CreditNote(too_much)).contains("more than invoice"));
    let c = p.ok('a', EntryBody::CreditNote(cn));
    p.accept_by_b(c);
    let b = p.state.balances();
    assert_eq!((b.net.a_owes_b, b.net.b_owes_a), (5_000_000, total));

    // R86–R89: the buyer pays after the discount window, the seller confirms.
    p.now += 20 * DAY;
    assert_eq!(p.state.early_payment_discount("INV-1", p.now), None);
    let over = PaymentNotice {
        payment: "PAY-1".into(),
        target: inv_ref.clone(),
        amount: total + 1,
        reference: "SEPA".into(),
    };
    assert!(p.refused('b', EntryBody::PaymentNotice(over)).contains("exceeds"));
    p.ok(
        'b',
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "PAY-1".into(),
            target: inv_ref.clone(),
            amount: total,
            reference: "SEPA".into(),
        }),
    );
    let err = p.refused(
        'a',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "PAY-1".into(),
            target: inv_ref.clone(),
            amount: total - 1,
        }),
    );
    assert!(err.contains("the notice says"), "{err}");
    let err = p.refused(
        'b',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "PAY-1".into(),
            target: inv_ref.clone(),
            amount: total,
        }),
    );
    assert!(err.contains("only the payee"), "{err}");
    p.ok(
        'a',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "PAY-1".into(),
            target: inv_ref.clone(),
            amount: total,
        }),
    );
    assert_eq!(p.state.invoice("INV-1").unwrap().status(), InvoiceStatus::Paid);
    let err = p.refused(
        'a',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "PAY-1".into(),
            target: inv_ref,
            amount: total,
        }),
    );
    assert!(err.contains("already confirmed"), "{err}");
    pay(&mut p, 'a', "PAY-2", SettlementRef::CreditNote("CN-1".into()), 5_000_000);
    assert_eq!(p.state.balances().net.amount, 0);
    assert_eq!((p.state.balances().net.a_owes_b, p.state.balances().net.b_owes_a), (0, 0));

    // Termination: no new orders or usage afterwards.
    p.ok('b', EntryBody::Termination(Termination { reason: "end of term".into() }));
    let err = p.refused(
        'a',
        EntryBody::Order(sample::order("O-9", p.party('a'), &interconnect_tariff(), nov().end)),
    );
    assert!(err.contains("terminated"), "{err}");
    assert!(p
        .refused('b', EntryBody::Termination(Termination { reason: "again".into() }))
        .contains("terminated"));

    assert_eq!(p.replayed().digest(), p.state.digest());
}

#[test]
fn option1_invoice_is_validated_and_early_payment_earns_the_discount() {
    let mut p = Pair::new(false);
    p.order(ORDER_BA, 'b', &voice_tariff());
    let records = usage(&voice_tariff(), "v-", nov().start, 500);
    p.usage('b', ORDER_BA, records).unwrap();
    // R66: no invoice before the rating is agreed
    let err = p.refused(
        'b',
        EntryBody::GenerateInvoice(GenerateInvoice {
            number: "B-1".into(),
            order: ORDER_BA.into(),
            interval: iv("2026-11"),
        }),
    );
    assert!(err.contains("R66"), "{err}");
    let rating = p.agree_rating('b', ORDER_BA);

    let good =
        invoice_from_rating("B-1", ORDER_BA, &iv("2026-11"), omni_core::Currency::EUR, &rating);
    let mut bad = good.clone();
    bad.items[0].amount += 1_000;
    let err = p.refused('b', EntryBody::Invoice(bad));
    assert!(err.contains("does not match the agreed rating"), "{err}");
    let mut bad = good.clone();
    bad.total -= 1;
    assert!(p.refused('b', EntryBody::Invoice(bad)).contains("total"));
    // only the order's seller invoices
    assert!(p.refused('a', EntryBody::Invoice(good.clone())).contains("order's seller"));
    let seq = p.ok('b', EntryBody::Invoice(good.clone()));
    assert!(!p.state.invoice("B-1").unwrap().generated);
    // a second invoice of the same rating is refused
    let again = Invoice { number: "B-2".into(), ..good };
    assert!(p.refused('b', EntryBody::Invoice(again)).contains("already invoiced"));
    // an invoice cannot be rejected, only disputed
    let h = p.state.pending().find(|x| x.seq == seq).unwrap().hash;
    let err = p.refused(
        'a',
        EntryBody::Reject(Reject { entry_seq: seq, entry_hash: h, reason: "no".into() }),
    );
    assert!(err.contains("dispute it instead"), "{err}");
    p.accept_by_a(seq);
    assert_eq!(p.state.invoice("B-1").unwrap().status(), InvoiceStatus::Accepted);

    // "2/10 Net 30": within ten days, paying total − 2 % settles in full.
    p.now += 5 * DAY;
    let total = rating.total;
    let discount = p.state.early_payment_discount("B-1", p.now).unwrap();
    assert_eq!(discount, apply_bps(total, 200, voice_tariff().rounding.mode));
    assert!(discount > 0);
    let r = SettlementRef::Invoice("B-1".into());
    p.ok(
        'a',
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "P-1".into(),
            target: r.clone(),
            amount: total - discount,
            reference: "SEPA".into(),
        }),
    );
    assert_eq!(p.state.payment("P-1").unwrap().discount, discount);
    // not settled until the payee confirms
    assert_eq!(p.state.invoice("B-1").unwrap().status(), InvoiceStatus::Accepted);
    p.ok(
        'b',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "P-1".into(),
            target: r,
            amount: total - discount,
        }),
    );
    let st = p.state.invoice("B-1").unwrap();
    assert_eq!(
        (st.status(), st.discount_taken, st.outstanding()),
        (InvoiceStatus::Paid, discount, 0)
    );
    assert_eq!(p.replayed().digest(), p.state.digest());
}

#[test]
fn late_payment_earns_no_discount() {
    let (mut p, rating) = rated_pair();
    let seq = p.generate('a', "INV-1", ORDER_AB);
    p.accept_by_b(seq);
    p.now += 11 * DAY;
    assert_eq!(p.state.early_payment_discount("INV-1", p.now), None);
    let d = apply_bps(rating.total, 200, interconnect_tariff().rounding.mode);
    let r = SettlementRef::Invoice("INV-1".into());
    pay(&mut p, 'b', "P-1", r.clone(), rating.total - d);
    let st = p.state.invoice("INV-1").unwrap();
    assert_eq!((st.status(), st.outstanding()), (InvoiceStatus::Accepted, d));
    pay(&mut p, 'b', "P-2", r, d);
    assert_eq!(p.state.invoice("INV-1").unwrap().status(), InvoiceStatus::Paid);
}

/// Reciprocal trade: A sells interconnect to B, B sells voice to A; §8.6.3 nets both
/// directions' invoices due in the same period into one payment.
fn reciprocal_pair() -> (Pair, Rating, Rating) {
    let mut p = Pair::new(true);
    p.order(ORDER_AB, 'a', &interconnect_tariff());
    p.order(ORDER_BA, 'b', &voice_tariff());
    p.usage('a', ORDER_AB, usage(&interconnect_tariff(), "ab-", nov().start, 800)).unwrap();
    p.usage('b', ORDER_BA, usage(&voice_tariff(), "ba-", nov().start, 3000)).unwrap();
    let ab = p.agree_rating('a', ORDER_AB);
    let ba = p.agree_rating('b', ORDER_BA);
    let s = p.generate('a', "A-1", ORDER_AB);
    p.accept_by_b(s);
    let s = p.generate('b', "B-1", ORDER_BA);
    p.accept_by_a(s);
    (p, ab, ba)
}

#[test]
fn reciprocal_invoices_are_netted_into_one_payment() {
    let (mut p, ab, ba) = reciprocal_pair();
    // Both due 30 days after December 1st: in the 2026-12 interval.
    let proposal = p.state.netting_proposal("N-1", &iv("2026-12")).unwrap();
    assert_eq!(proposal.documents.len(), 2);
    let (payer, amount) = if ab.total > ba.total {
        (p.party('b'), ab.total - ba.total)
    } else {
        (p.party('a'), ba.total - ab.total)
    };
    assert_eq!((proposal.payer, proposal.amount), (Some(payer), amount));

    // the ledger recomputes the result (CD2)
    let mut wrong = proposal.clone();
    wrong.amount += 1;
    assert!(p.refused('a', EntryBody::Netting(wrong)).contains("the documents net to"));
    let mut one_way = proposal.clone();
    one_way.documents.truncate(1);
    assert!(p.refused('a', EntryBody::Netting(one_way)).contains("both directions"));
    let mut other_period = proposal.clone();
    other_period.period = iv("2027-01");
    assert!(p.refused('a', EntryBody::Netting(other_period)).contains("not due in 2027-01"));

    let seq = p.ok('a', EntryBody::Netting(proposal));
    // while proposed, its documents cannot be paid separately
    let err = p.refused(
        'b',
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "X".into(),
            target: SettlementRef::Invoice("A-1".into()),
            amount: 1,
            reference: String::new(),
        }),
    );
    assert!(err.contains("proposed netting"), "{err}");
    p.accept_by_b(seq);
    assert_eq!(p.state.invoice("A-1").unwrap().status(), InvoiceStatus::Netted);
    assert_eq!(p.state.invoice("B-1").unwrap().status(), InvoiceStatus::Netted);
    let b = p.state.balances();
    assert_eq!((b.net.payer, b.net.amount), (Some(payer), amount));

    // CR23: the net amount is paid like an invoice.
    let who = if payer == p.party('a') { 'a' } else { 'b' };
    pay(&mut p, who, "NET-1", SettlementRef::Netting("N-1".into()), amount);
    assert_eq!(p.state.balances().net.amount, 0);
    assert_eq!(p.state.netting("N-1").unwrap().paid, amount);
    assert_eq!(p.replayed().digest(), p.state.digest());
}

/// A registry netting cycle's result (CR22): either party proposes the invoices the cycle
/// settled, the other accepts; the invoices are then netted on the ledger, with no
/// payment on the bilateral. A result naming no invoice, one twice, an unknown one, or one
/// already settled is refused, and a cycle is recorded once.
#[test]
fn a_netting_cycle_result_settles_its_invoices_once_both_agree() {
    let (mut p, _, _) = reciprocal_pair();
    let result = |cycle: u64, invoices: &[&str]| {
        EntryBody::CycleNetting(crate::settlement::CycleNetting {
            cycle,
            invoices: invoices.iter().map(|s| s.to_string()).collect(),
        })
    };
    assert!(p.refused('a', result(7, &[])).contains("no invoice"));
    assert!(p.refused('a', result(7, &["A-1", "A-1"])).contains("listed twice"));
    assert!(p.refused('a', result(7, &["A-9"])).contains("A-9"));
    let seq = p.ok('b', result(7, &["A-1", "B-1"]));
    assert!(p.refused('a', result(7, &["A-1"])).contains("already recorded"));
    // While proposed, the invoices cannot be netted elsewhere.
    assert!(p.refused('a', result(8, &["B-1"])).contains("cycle-7"));
    p.accept_by_a(seq);
    for number in ["A-1", "B-1"] {
        let inv = p.state.invoice(number).unwrap();
        assert_eq!(inv.status(), InvoiceStatus::Netted, "{number}");
        assert_eq!(inv.paid, 0, "{number}: nothing paid on the bilateral");
    }
    assert!(p.refused('a', result(8, &["A-1"])).contains("settled by netting"));
    assert_eq!(p.replayed().digest(), p.state.digest());
}

#[test]
fn netting_needs_a_netting_agreement() {
    let mut p = Pair::new(false);
    let n = Netting {
        id: "N".into(),
        period: iv("2026-12"),
        documents: vec![],
        payer: None,
        amount: 0,
    };
    assert!(p.refused('a', EntryBody::Netting(n)).contains("no netting agreement"));
}

#[test]
fn chain_and_signer_refusals_leave_the_state_unchanged() {
    let (mut p, _) = rated_pair();
    let body = || EntryBody::Termination(Termination { reason: "x".into() });

    // forged signature: a flipped bit
    let mut e = p.sign('a', body());
    e.signature.0[5] ^= 1;
    assert!(p.refused_entry(&e).contains("signature by"), "forged signature");
    // claims A as author, signed by someone else
    let mallory = Keypair::from_seed([0x66; 32]);
    let mut e = Entry::sign(
        &mallory,
        p.state.id(),
        p.state.head().seq + 1,
        p.state.head().hash,
        p.now,
        body(),
    );
    let err = p.refused_entry(&e);
    assert!(err.contains("is not an authorised signatory"), "{err}");
    e.author = p.party('a');
    assert!(p.refused_entry(&e).contains("does not verify"));
    // out of sequence, wrong previous hash, wrong bilateral, time going back
    let head = p.state.head();
    let e = Entry::sign(&p.a, p.state.id(), head.seq + 2, head.hash, p.now, body());
    assert!(p.refused_entry(&e).contains("out of sequence"));
    let e = Entry::sign(&p.a, p.state.id(), head.seq + 1, Hash32::digest("x", b"y"), p.now, body());
    assert!(p.refused_entry(&e).contains("does not match head"));
    let e = Entry::sign(
        &p.a,
        BilateralId(Hash32::digest("x", b"z")),
        head.seq + 1,
        head.hash,
        p.now,
        body(),
    );
    assert!(p.refused_entry(&e).contains("is not this ledger's"));
    let e = Entry::sign(&p.a, p.state.id(), head.seq + 1, head.hash, head.timestamp - 1, body());
    assert!(p.refused_entry(&e).contains("before the previous entry's"));
    // replay of an applied entry
    let last = p.entries.last().unwrap().clone();
    assert!(p.refused_entry(&last).contains("replayed"));
    // a second contract
    let c = p.state.contract().clone();
    assert!(p.refused('a', EntryBody::Contract(c)).contains("exactly one contract"));
}

#[test]
fn acceptance_rules() {
    let mut p = Pair::new(false);
    let seq = p.ok(
        'b',
        EntryBody::Order(sample::order(
            ORDER_AB,
            p.party('a'),
            &interconnect_tariff(),
            nov().start,
        )),
    );
    let hash = p.entries.last().unwrap().hash();
    // by a key that is not an authorised signatory
    let mallory = Keypair::from_seed([0x66; 32]);
    let head = p.state.head();
    let e = Entry::sign(
        &mallory,
        p.state.id(),
        head.seq + 1,
        head.hash,
        p.now,
        EntryBody::Accept(Accept { entry_seq: seq, entry_hash: hash }),
    );
    assert!(p.refused_entry(&e).contains("not an authorised signatory"));
    // by the proposer itself
    assert!(p
        .refused('b', EntryBody::Accept(Accept { entry_seq: seq, entry_hash: hash }))
        .contains("only the counterparty"));
    // naming another content
    assert!(p
        .refused('a', EntryBody::Accept(Accept { entry_seq: seq, entry_hash: Hash32::ZERO }))
        .contains("the answer names"));
    // an entry that awaits nothing
    assert!(p
        .refused('a', EntryBody::Accept(Accept { entry_seq: 1, entry_hash: hash }))
        .contains("not awaiting acceptance"));
    // usage before the order is agreed (R60)
    let recs = usage(&interconnect_tariff(), "r", nov().start, 3);
    assert!(p
        .usage('a', ORDER_AB, recs.clone())
        .unwrap_err()
        .to_string()
        .contains("not agreed by both parties"));
    p.accept_by_a(seq);
    assert!(p
        .refused('a', EntryBody::Accept(Accept { entry_seq: seq, entry_hash: hash }))
        .contains("not awaiting acceptance"));
    p.usage('a', ORDER_AB, recs).unwrap();

    // a rejected order cannot be billed
    let seq = p.ok(
        'b',
        EntryBody::Order(sample::order("O-2", p.party('a'), &voice_tariff(), nov().start)),
    );
    let h = p.entries.last().unwrap().hash();
    p.ok(
        'a',
        EntryBody::Reject(Reject { entry_seq: seq, entry_hash: h, reason: "no capacity".into() }),
    );
    assert_eq!(p.state.order("O-2").unwrap().status, OrderStatus::Rejected);
    let v = usage(&voice_tariff(), "v", nov().start, 2);
    assert!(p.usage('a', "O-2", v).unwrap_err().to_string().contains("not agreed"));
}

#[test]
fn contract_must_be_accepted_before_anything_else() {
    let (a, b) = (sample::carrier_a(), sample::carrier_b());
    let c = sample::contract(a.party(), b.party(), false, nov().start);
    let g =
        Entry::sign(&a, BilateralId::GENESIS, 0, Hash32::ZERO, 1, EntryBody::Contract(c.clone()));
    let (mut s, _) = BilateralState::genesis(&g).unwrap();
    let o = sample::order(ORDER_AB, a.party(), &interconnect_tariff(), nov().start);
    let e = Entry::sign(&b, s.id(), 1, s.head().hash, 1, EntryBody::Order(o));
    assert!(s.apply(&e).unwrap_err().to_string().contains("not yet accepted"));
    // invalid contracts and genesis entries
    let mut bad = c.clone();
    bad.parties[1].id = bad.parties[0].id;
    let g2 = Entry::sign(&a, BilateralId::GENESIS, 0, Hash32::ZERO, 1, EntryBody::Contract(bad));
    assert!(BilateralState::genesis(&g2).unwrap_err().to_string().contains("must differ"));
    let g3 =
        Entry::sign(&a, BilateralId::GENESIS, 1, Hash32::ZERO, 1, EntryBody::Contract(c.clone()));
    assert!(BilateralState::genesis(&g3).unwrap_err().to_string().contains("first entry"));
    let mallory = Keypair::from_seed([0x66; 32]);
    let g4 =
        Entry::sign(&mallory, BilateralId::GENESIS, 0, Hash32::ZERO, 1, EntryBody::Contract(c));
    assert!(matches!(BilateralState::genesis(&g4), Err(Error::NotASignatory { .. })));
    // a rejected contract closes the bilateral
    let r = Entry::sign(
        &b,
        s.id(),
        1,
        s.head().hash,
        1,
        EntryBody::Reject(Reject { entry_seq: 0, entry_hash: s.id().0, reason: "terms".into() }),
    );
    s.apply(&r).unwrap();
    let t = Entry::sign(
        &a,
        s.id(),
        2,
        s.head().hash,
        1,
        EntryBody::Termination(Termination { reason: "x".into() }),
    );
    assert!(s.apply(&t).unwrap_err().to_string().contains("rejected"));
}

#[test]
fn usage_refusals() {
    let mut p = Pair::new(false);
    p.order(ORDER_AB, 'a', &interconnect_tariff());
    let t = interconnect_tariff();
    let mut recs = usage(&t, "u-", nov().start, 10);
    let check = |p: &mut Pair, recs: Vec<omni_core::UsageRecord>, who: char, expect: &str| {
        let err = p.refused(
            who,
            EntryBody::UsageBatch(UsageBatch {
                order: ORDER_AB.into(),
                interval: iv("2026-11"),
                records: recs,
            }),
        );
        assert!(err.contains(expect), "expected {expect:?} in {err}");
    };
    // unknown product
    let mut r = recs.clone();
    r[3].usage_type = omni_core::ProductId::new("satellite");
    check(&mut p, r, 'a', "usage record 3: usage record \"u-3\": unknown product \"satellite\"");
    // overflowing quantity
    let mut r = recs.clone();
    r[2].quantity = omni_core::usage::MAX_QUANTITY;
    check(&mut p, r, 'a', "exceeds 2^48");
    // unit of another product
    let mut r = recs.clone();
    r[1].unit = Unit::Byte;
    check(&mut p, r, 'a', "is not product");
    // outside the interval, before the order
    let mut r = recs.clone();
    r[4].usage_date = nov().end;
    check(&mut p, r, 'a', "outside billing interval 2026-11");
    // duplicate within the batch
    let mut r = recs.clone();
    r[5].id = r[0].id.clone();
    check(&mut p, r, 'a', "usage record 5 (\"u-0\"): duplicate record id");
    // by the buyer
    check(&mut p, recs.clone(), 'b', "only the order's seller");
    // an interval the order does not cover / a malformed interval id
    let e = p.refused(
        'a',
        EntryBody::UsageBatch(UsageBatch {
            order: ORDER_AB.into(),
            interval: iv("2026-10"),
            records: recs.clone(),
        }),
    );
    assert!(e.contains("outside order"), "{e}");
    let e = p.refused(
        'a',
        EntryBody::UsageBatch(UsageBatch {
            order: ORDER_AB.into(),
            interval: iv("Nov"),
            records: recs.clone(),
        }),
    );
    assert!(e.contains("YYYY-MM"), "{e}");
    check(&mut p, vec![], 'a', "1..=");
    // a product the tariff prices but the order does not include (R4)
    let mut narrow = sample::order("O-N", p.party('a'), &t, nov().start);
    narrow.items.retain(|i| i.product.0 == "voice-termination");
    let s = p.ok('b', EntryBody::Order(narrow));
    p.accept_by_a(s);
    let e = p.refused(
        'a',
        EntryBody::UsageBatch(UsageBatch {
            order: "O-N".into(),
            interval: iv("2026-11"),
            records: recs[..2].to_vec(),
        }),
    );
    assert!(e.contains("is not part of order"), "{e}");

    // accepted once; the same ids again are duplicates, even in another order's account
    p.usage('a', ORDER_AB, recs.clone()).unwrap();
    check(&mut p, recs[..1].to_vec(), 'a', "duplicate record id");
    recs.truncate(1);
    recs[0].usage_type = omni_core::ProductId::new("voice-termination");
    recs[0].unit = Unit::Second;
    let e = p.refused(
        'a',
        EntryBody::UsageBatch(UsageBatch {
            order: "O-N".into(),
            interval: iv("2026-11"),
            records: recs,
        }),
    );
    assert!(e.contains("duplicate record id"), "{e}");
}

#[test]
fn rating_refusals_and_closure() {
    let mut p = Pair::new(false);
    p.order(ORDER_AB, 'a', &interconnect_tariff());
    p.usage('a', ORDER_AB, usage(&interconnect_tariff(), "u-", nov().start, 100)).unwrap();
    let rating = p.state.expected_rating(ORDER_AB, &iv("2026-11")).unwrap();
    let prop = |r: Rating| {
        EntryBody::Rating(RatingProposal {
            order: ORDER_AB.into(),
            interval: iv("2026-11"),
            rating: r,
        })
    };
    // before the interval ends
    assert!(p.refused('a', prop(rating.clone())).contains("cannot be rated"));
    p.now = nov().end;
    // a rating that is not the ledger's (R65)
    let mut wrong = rating.clone();
    wrong.total += 1;
    let err = p.refused('a', prop(wrong));
    assert!(err.contains("does not match the ledger's rating") && err.contains("total"), "{err}");
    assert!(p.refused('b', prop(rating.clone())).contains("order's seller"));
    let seq = p.ok('a', prop(rating.clone()));
    // usage is closed while the rating is proposed
    let more = usage(&interconnect_tariff(), "late-", nov().start, 3);
    assert!(p
        .usage('a', ORDER_AB, more.clone())
        .unwrap_err()
        .to_string()
        .contains("closed: rating proposed"));
    assert!(p.refused('a', prop(rating.clone())).contains("already has a rating proposed"));
    // the buyer rejects it: usage reopens
    let h = p.entries.last().unwrap().hash();
    p.ok(
        'b',
        EntryBody::Reject(Reject {
            entry_seq: seq,
            entry_hash: h,
            reason: "missing records".into(),
        }),
    );
    p.usage('a', ORDER_AB, more).unwrap();
    let r2 = p.agree_rating('a', ORDER_AB);
    assert_ne!(r2, rating);
    assert_eq!(p.state.account(ORDER_AB, &iv("2026-11")).unwrap().records(), 103);
    // R63: the one-time fee is billed in the interval the order starts
    assert!(r2.fees.iter().any(|f| f.one_time));
    // closed for good; keys of agreed accounts are dropped from memory
    assert!(!p.state.has_open_record(&RecordKey::of(&p.state.id(), "u-1")));
}

#[test]
fn order_based_billing_without_usage() {
    // R63: an order with no usage is billed its fixed fees (and the minimum charge).
    let mut p = Pair::new(false);
    p.order(ORDER_AB, 'a', &interconnect_tariff());
    let r = p.agree_rating('a', ORDER_AB);
    assert!(r.lines.is_empty());
    assert_eq!(r.fees.len(), 2);
    assert_eq!(r.net, interconnect_tariff().minimum_charge);
    let s = p.generate('a', "FEES-1", ORDER_AB);
    p.accept_by_b(s);
    assert_eq!(p.state.invoice("FEES-1").unwrap().amount_due(), r.total);
}

#[test]
fn payment_refusals() {
    let (mut p, rating) = rated_pair();
    let unknown = SettlementRef::Invoice("NOPE".into());
    let err = p.refused(
        'a',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "P".into(),
            target: unknown.clone(),
            amount: 1,
        }),
    );
    assert!(err.contains("unknown invoice \"NOPE\""), "{err}");
    let err = p.refused(
        'b',
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "P".into(),
            target: unknown,
            amount: 1,
            reference: String::new(),
        }),
    );
    assert!(err.contains("unknown invoice"), "{err}");
    let s = p.generate('a', "INV-1", ORDER_AB);
    p.accept_by_b(s);
    let r = SettlementRef::Invoice("INV-1".into());
    // receipt without a notice
    let err = p.refused(
        'a',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "P".into(),
            target: r.clone(),
            amount: rating.total,
        }),
    );
    assert!(err.contains("no payment notice"), "{err}");
    // the seller cannot notify a payment of its own invoice
    assert!(p
        .refused(
            'a',
            EntryBody::PaymentNotice(PaymentNotice {
                payment: "P".into(),
                target: r.clone(),
                amount: 1,
                reference: String::new()
            })
        )
        .contains("only the payer"));
    assert!(p
        .refused(
            'b',
            EntryBody::PaymentNotice(PaymentNotice {
                payment: "P".into(),
                target: r.clone(),
                amount: 0,
                reference: String::new()
            })
        )
        .contains("positive"));
    p.ok(
        'b',
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "P".into(),
            target: r.clone(),
            amount: 10,
            reference: String::new(),
        }),
    );
    assert!(p
        .refused(
            'b',
            EntryBody::PaymentNotice(PaymentNotice {
                payment: "P".into(),
                target: r.clone(),
                amount: 10,
                reference: String::new()
            })
        )
        .contains("already used"));
    // a receipt naming another document than its notice
    p.ok(
        'a',
        EntryBody::CreditNote(CreditNote {
            number: "CN".into(),
            invoice: None,
            amount: 7,
            reason: "goodwill".into(),
        }),
    );
    let err = p.refused(
        'a',
        EntryBody::PaymentReceipt(PaymentReceipt {
            payment: "P".into(),
            target: SettlementRef::CreditNote("CN".into()),
            amount: 10,
        }),
    );
    assert!(err.contains("the notice pays invoice"), "{err}");
    // a dispute after payments started is refused
    let err = p.refused(
        'b',
        EntryBody::Dispute(Dispute {
            invoice: "INV-1".into(),
            items: vec![DisputedItem { item: 1, amount: 1, reason: "x".into() }],
        }),
    );
    assert!(err.contains("being settled"), "{err}");
}

#[test]
fn dispute_refusals() {
    let (mut p, _) = rated_pair();
    let s = p.generate('a', "INV-1", ORDER_AB);
    let mk = |items: Vec<(u32, Micros)>| {
        EntryBody::Dispute(Dispute {
            invoice: "INV-1".into(),
            items: items
                .into_iter()
                .map(|(item, amount)| DisputedItem { item, amount, reason: "r".into() })
                .collect(),
        })
    };
    let top = &largest_items(&p, "INV-1")[..2];
    let (n1, item1, n2) = (top[0].item, top[0].amount, top[1].item);
    assert!(p.refused('b', mk(vec![(99, 1)])).contains("no item 99"));
    assert!(p.refused('b', mk(vec![(n1, item1 + 1)])).contains("at most the item's"));
    assert!(p.refused('b', mk(vec![(n1, 1), (n1, 1)])).contains("disputed twice"));
    assert!(p.refused('b', mk(vec![])).contains("no disputed item"));
    assert!(p
        .refused('b', EntryBody::Dispute(Dispute { invoice: "X".into(), items: vec![] }))
        .contains("unknown invoice"));
    p.accept_by_b(s);
    // disputing an accepted invoice is allowed (§8.5.2), once
    p.ok('b', mk(vec![(n1, item1)]));
    assert!(p.refused('b', mk(vec![(n1, item1)])).contains("already disputed"));
    let res = |adj| {
        EntryBody::DisputeResolution(DisputeResolution {
            invoice: "INV-1".into(),
            resolutions: vec![ItemResolution { item: n1, adjustment: adj, note: String::new() }],
        })
    };
    assert!(p.refused('a', res(item1 + 1)).contains("between 0 and the disputed"));
    assert!(p
        .refused(
            'a',
            EntryBody::DisputeResolution(DisputeResolution {
                invoice: "INV-1".into(),
                resolutions: vec![ItemResolution { item: n2, adjustment: 0, note: String::new() }]
            })
        )
        .contains(&format!("item {n2} is not disputed")));
    // not payable while disputed without a reconciled invoice
    let err = p.refused(
        'b',
        EntryBody::PaymentNotice(PaymentNotice {
            payment: "P".into(),
            target: SettlementRef::Invoice("INV-1".into()),
            amount: 1,
            reference: String::new(),
        }),
    );
    assert!(err.contains("disputed"), "{err}");
    // only the seller issues the final invoice
    assert!(p
        .refused(
            'b',
            EntryBody::FinalInvoice(FinalInvoice {
                invoice: "INV-1".into(),
                revision: 1,
                net: 0,
                tax: 0,
                total: 0
            })
        )
        .contains("invoice's seller"));
}

#[test]
fn snapshot_restore_checks_the_key_sets() {
    let mut p = Pair::new(false);
    p.order(ORDER_AB, 'a', &interconnect_tariff());
    p.usage('a', ORDER_AB, usage(&interconnect_tariff(), "k-", nov().start, 50)).unwrap();
    let key = AccountKey::new(ORDER_AB, &iv("2026-11"));
    let set: RecordKeySet =
        (0..50).map(|i| RecordKey::of(&p.state.id(), &format!("k-{i}"))).collect();
    let mut keys = BTreeMap::new();
    keys.insert(key.clone(), set.clone());
    let restored = BilateralState::restore(p.state.snapshot().clone(), keys).unwrap();
    assert_eq!(restored.digest(), p.state.digest());
    assert!(restored.has_open_record(&RecordKey::of(&p.state.id(), "k-7")));
    let mut short = set;
    short.remove(&RecordKey::of(&p.state.id(), "k-7"));
    let mut keys = BTreeMap::new();
    keys.insert(key, short);
    assert!(BilateralState::restore(p.state.snapshot().clone(), keys)
        .unwrap_err()
        .to_string()
        .contains("usage index"));
}

#[test]
fn signatories_other_than_the_party_key_sign_for_it() {
    let delegate = Keypair::from_seed([0x77; 32]);
    let mut p = Pair::with_contract(|c| c.parties[1].signatories.push(delegate.party()));
    let seq = p.ok(
        'a',
        EntryBody::Order(sample::order(
            ORDER_AB,
            p.party('a'),
            &interconnect_tariff(),
            nov().start,
        )),
    );
    let head = p.state.head();
    let e = Entry::sign(
        &delegate,
        p.state.id(),
        head.seq + 1,
        head.hash,
        p.now,
        EntryBody::Accept(Accept { entry_seq: seq, entry_hash: p.entries.last().unwrap().hash() }),
    );
    p.state.apply(&e).unwrap();
    assert_eq!(p.state.order(ORDER_AB).unwrap().status, OrderStatus::Agreed);
    // a key may sign for one party only
    let (a, b) = (sample::carrier_a(), sample::carrier_b());
    let mut c = sample::contract(a.party(), b.party(), false, 0);
    c.parties[1].signatories.push(a.party());
    assert!(c.validate().unwrap_err().contains("signs for both parties"));
    // orders are checked against the contract
    let mut o = sample::order("O", a.party(), &interconnect_tariff(), 0);
    o.items.push(OrderItem { product: omni_core::ProductId::new("nope"), quantity: 1 });
    assert!(o.validate(&c).unwrap_err().to_string().contains("not priced"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Replaying a ledger's entries rebuilds the same state, whatever the batch split and
    /// however far the lifecycle got; the rating does not depend on the split.
    #[test]
    fn replay_rebuilds_the_same_state(
        splits in proptest::collection::vec(1usize..60, 1..5),
        steps in 0usize..6,
        seed in 0u64..1000,
    ) {
        let mut p = Pair::new(true);
        p.order(ORDER_AB, 'a', &interconnect_tariff());
        let total: usize = splits.iter().sum();
        let records = usage(&interconnect_tariff(), &format!("s{seed}-"), nov().start + seed, total);
        let mut at = 0;
        for n in &splits {
            p.usage('a', ORDER_AB, records[at..at + n].to_vec()).unwrap();
            at += n;
        }
        let (one_batch, _) = omni_core::rating::rate(&interconnect_tariff(), &records, &RatingOptions { include_one_time_fees: true }).unwrap();
        prop_assert_eq!(p.state.expected_rating(ORDER_AB, &iv("2026-11")).unwrap(), one_batch);
        if steps > 0 { p.agree_rating('a', ORDER_AB); }
        if steps > 1 { let s = p.generate('a', "I", ORDER_AB); p.accept_by_b(s); }
        if steps > 2 {
            let top = largest_items(&p, "I")[0].clone();
            p.ok('b', EntryBody::Dispute(Dispute { invoice: "I".into(), items: vec![DisputedItem { item: top.item, amount: top.amount, reason: "r".into() }] }));
        }
        if steps > 3 {
            let s = p.ok('a', EntryBody::DisputeResolution(DisputeResolution { invoice: "I".into(), resolutions: vec![ItemResolution { item: largest_items(&p, "I")[0].item, adjustment: amount_half(&p), note: String::new() }] }));
            p.accept_by_b(s);
        }
        if steps > 4 {
            let (net, tax, total, _) = p.state.reconciled_amounts("I").unwrap();
            let s = p.ok('a', EntryBody::FinalInvoice(FinalInvoice { invoice: "I".into(), revision: 1, net, tax, total }));
            p.accept_by_b(s);
            pay(&mut p, 'b', "P", SettlementRef::Invoice("I".into()), total);
        }
        let replayed = p.replayed();
        prop_assert_eq!(replayed.digest(), p.state.digest());
        prop_assert_eq!(replayed.snapshot(), p.state.snapshot());
    }

    /// Netting conserves value on the ledger: the agreed net amount is the difference of
    /// what each side owes, and paying it leaves nothing owed.
    #[test]
    fn ledger_netting_conserves_value(
        a_notes in proptest::collection::vec(1i64..1_000_000_000, 1..5),
        b_notes in proptest::collection::vec(1i64..1_000_000_000, 1..5),
    ) {
        let mut p = Pair::new(true);
        let mut n = 0;
        for (who, notes) in [('a', &a_notes), ('b', &b_notes)] {
            for amount in notes {
                n += 1;
                let s = p.ok(who, EntryBody::CreditNote(CreditNote { number: format!("CN-{n}"), invoice: None, amount: *amount, reason: "credit".into() }));
                p.answer(if who == 'a' { 'b' } else { 'a' }, s);
            }
        }
        let (ab, ba): (i64, i64) = (a_notes.iter().sum(), b_notes.iter().sum());
        let before = p.state.balances().net;
        prop_assert_eq!((before.a_owes_b, before.b_owes_a), (ab, ba));
        let period = p.state.contract().billing_cycle.interval_containing(p.now + 30 * DAY).unwrap().id;
        let proposal = p.state.netting_proposal("N", &period).unwrap();
        prop_assert_eq!(proposal.documents.len(), a_notes.len() + b_notes.len());
        let s = p.ok('b', EntryBody::Netting(proposal.clone()));
        p.accept_by_a(s);
        let signed = match proposal.payer { Some(x) if x == p.party('a') => proposal.amount, Some(_) => -proposal.amount, None => 0 };
        prop_assert_eq!(signed, ab - ba);
        let after = p.state.balances().net;
        prop_assert_eq!((after.payer, after.amount), (proposal.payer, proposal.amount));
        if let Some(payer) = proposal.payer {
            let who = if payer == p.party('a') { 'a' } else { 'b' };
            pay(&mut p, who, "NET", SettlementRef::Netting("N".into()), proposal.amount);
        }
        prop_assert_eq!(p.state.balances().net.amount, 0);
    }
}

fn amount_half(p: &Pair) -> Micros {
    largest_items(p, "I")[0].amount / 2
}

/// An invoice's items, largest amount first (disputes must reach the threshold).
fn largest_items(p: &Pair, number: &str) -> Vec<crate::invoice::InvoiceItem> {
    let mut items = p.state.invoice(number).unwrap().invoice.items.clone();
    items.sort_by_key(|i| std::cmp::Reverse(i.amount));
    items
}
