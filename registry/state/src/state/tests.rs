//! The state machine's rules, one test per rule or refusal. Every refusal is checked to
//! leave the state root, the sender's nonce and the pending changes exactly as they were.

use super::*;
use crate::commitment::{encode_blinding, Scalar};
use crate::pledge::{self, FinancingPolicy, InvoiceOpening};
use crate::reputation::DAY;
use crate::verification::testing::{valid_bundle, StubRatingVerifier};
use crate::verification::RefuseAllProofs;
use omni_core::{IntervalId, Keypair};

const T0: u64 = 1_800_000_000;

fn key(n: u8) -> Keypair {
    Keypair::from_seed([n; 32])
}

/// A registry with an admin (key 1), three carriers (keys 2, 3, 4), two financiers (keys
/// 5, 6) and a regulator (key 7); key 8 is an outsider.
struct World {
    state: RegistryState,
    ctx: BlockContext,
    verifier: Box<dyn ProofVerifier>,
}

/// An invoice as its seller knows it.
struct Issued {
    id: InvoiceId,
    amount: u64,
    blinding: Blinding,
}

impl World {
    fn new() -> World {
        let admin = key(1);
        let genesis = Genesis {
            name: "test".into(),
            time: T0,
            members: vec![(admin.party(), Role::Admin)],
            rating_keys: None,
        };
        let mut w = World {
            state: RegistryState::genesis(&genesis).unwrap(),
            ctx: BlockContext { height: 1, time: T0 },
            verifier: Box::new(StubRatingVerifier),
        };
        for (n, role) in [
            (2, Role::Member),
            (3, Role::Member),
            (4, Role::Member),
            (5, Role::Financier),
            (6, Role::Financier),
            (7, Role::Regulator),
        ] {
            w.ok(&admin, TxBody::AdmitMember { member: key(n).party(), role });
        }
        w
    }

    fn signed(&self, k: &Keypair, body: TxBody) -> SignedTx {
        SignedTx::sign(k, &self.state.registry_id(), self.state.next_nonce(&k.party()), body)
    }

    fn run(&mut self, k: &Keypair, body: TxBody) -> Result<Vec<Event>> {
        let tx = self.signed(k, body);
        self.apply(&tx)
    }

    fn apply(&mut self, tx: &SignedTx) -> Result<Vec<Event>> {
        self.state.apply(tx, &self.ctx, self.verifier.as_ref())
    }

    fn ok(&mut self, k: &Keypair, body: TxBody) -> Vec<Event> {
        let kind = body.kind();
        self.run(k, body).unwrap_or_else(|e| panic!("{kind} refused: {e}"))
    }

    /// Applies `tx`, expects a refusal, and checks that nothing changed.
    fn refuse_tx(&mut self, tx: &SignedTx) -> Error {
        let root = self.state.state_root();
        let nonce = self.state.next_nonce(&tx.sender);
        self.state.take_changes();
        let err = self.apply(tx).expect_err("expected a refusal");
        assert_eq!(self.state.state_root(), root, "refused {:?} changed the state", tx.body.kind());
        assert_eq!(self.state.next_nonce(&tx.sender), nonce, "refused tx consumed a nonce");
        assert!(self.state.take_changes().is_empty(), "refused tx left pending changes");
        assert!(self.state.dirty.is_empty());
        err
    }

    fn refuse(&mut self, k: &Keypair, body: TxBody) -> Error {
        let tx = self.signed(k, body);
        self.refuse_tx(&tx)
    }

    fn advance_days(&mut self, days: u64) {
        self.ctx.time += days * DAY;
        self.ctx.height += 1;
    }

    fn submission(
        &self,
        seller: &Keypair,
        buyer: &Keypair,
        amount: u64,
        due: u64,
        n: u64,
    ) -> (InvoiceSubmission, Issued) {
        let r = Scalar::from(1_000_003u64 * n + 17);
        let c = commitment::encode(&PedersenCommitment::commit(amount, &r));
        let bilateral =
            Hash32::digest("test/bilateral", &[seller.party().0, buyer.party().0].concat());
        let interval = IntervalId(format!("2027-{n:02}"));
        let id = InvoiceId(Hash32::digest("test/invoice", &n.to_be_bytes()));
        let s = InvoiceSubmission {
            invoice: id,
            bilateral,
            interval: interval.clone(),
            payer: buyer.party(),
            payee: seller.party(),
            currency: Currency::EUR,
            amount_commitment: c,
            due_date: due,
            proof: valid_bundle(&bilateral, &interval, &c),
        };
        (s, Issued { id, amount, blinding: encode_blinding(&r) })
    }

    /// Submits an invoice from `seller` to `buyer`; `n` makes it unique.
    fn invoice(
        &mut self,
        seller: &Keypair,
        buyer: &Keypair,
        amount: u64,
        due: u64,
        n: u64,
    ) -> Issued {
        let (s, issued) = self.submission(seller, buyer, amount, due, n);
        self.ok(seller, TxBody::SubmitInvoice(s));
        issued
    }

    fn accepted(
        &mut self,
        seller: &Keypair,
        buyer: &Keypair,
        amount: u64,
        due: u64,
        n: u64,
    ) -> Issued {
        let i = self.invoice(seller, buyer, amount, due, n);
        self.ok(buyer, TxBody::AcceptInvoice { invoice: i.id });
        i
    }

    /// `seller` credits `amount` against `i` under `reference`; answers the credit's
    /// commitment.
    fn credit(
        &mut self,
        seller: &Keypair,
        i: &Issued,
        amount: u64,
        reference: Hash32,
    ) -> AmountCommitment {
        let credit = credit_commitment(i, amount, &reference);
        self.ok(seller, TxBody::CreditInvoice { invoice: i.id, credit, reference });
        credit
    }

    /// `opener` opens a euro netting cycle with `other` up to `cutoff`, which `other`
    /// joins: its invoices are locked.
    fn two_party_cycle(&mut self, opener: &Keypair, other: &Keypair, cutoff: u64) {
        let participants = vec![opener.party(), other.party()];
        self.ok(opener, TxBody::OpenNettingCycle { currency: Currency::EUR, cutoff, participants });
        let cycle = self.state.meta().next_cycle - 1;
        self.ok(other, TxBody::JoinNettingCycle { cycle });
    }

    fn pay(&mut self, i: &Issued, payer: &Keypair, payee: &Keypair, paid_at: u64) {
        let payment_ref = Hash32::digest("test/payment", &i.id.0 .0);
        self.ok(payer, TxBody::PaymentNotice { invoice: i.id, paid_at, payment_ref });
        self.ok(payee, TxBody::PaymentReceipt { invoice: i.id, payment_ref });
    }
}

// ---------------------------------------------------------------------------------------
// Genesis, members, signatures, nonces
// ---------------------------------------------------------------------------------------

#[test]
fn genesis_needs_an_admin_and_distinct_members() {
    let a = key(1).party();
    let g = |members| Genesis { name: "g".into(), time: 0, members, rating_keys: None };
    assert!(matches!(RegistryState::genesis(&g(vec![])), Err(Error::InvalidGenesis(_))));
    assert!(RegistryState::genesis(&g(vec![(a, Role::Member)])).is_err());
    assert!(RegistryState::genesis(&g(vec![(a, Role::Admin), (a, Role::Member)])).is_err());
    let s = RegistryState::genesis(&g(vec![(a, Role::Admin)])).unwrap();
    assert_eq!(s.registry_id(), g(vec![(a, Role::Admin)]).registry_id());
    assert_ne!(s.registry_id(), g(vec![(key(2).party(), Role::Admin)]).registry_id());
}

#[test]
fn admin_admits_and_removes_members() {
    let mut w = World::new();
    assert_eq!(w.state.member(&key(3).party()).map(|m| m.role), Some(Role::Member));
    let newcomer = key(20).party();
    let admin = key(1);
    assert_eq!(
        w.ok(&admin, TxBody::AdmitMember { member: newcomer, role: Role::Operator }),
        vec![Event::MemberAdmitted { member: newcomer, role: Role::Operator }]
    );
    assert!(matches!(
        w.refuse(&admin, TxBody::AdmitMember { member: newcomer, role: Role::Member }),
        Error::AlreadyMember { .. }
    ));
    // Not an Ed25519 key.
    let not_a_key = (0u8..=255)
        .map(|b| PartyId([b; 32]))
        .find(|p| ed25519_dalek::VerifyingKey::from_bytes(&p.0).is_err())
        .unwrap();
    assert!(matches!(
        w.refuse(&admin, TxBody::AdmitMember { member: not_a_key, role: Role::Member }),
        Error::InvalidField { field: "member", .. }
    ));
    w.ok(&admin, TxBody::RemoveMember { member: newcomer });
    assert!(w.state.member(&newcomer).is_none());
    assert!(matches!(
        w.refuse(&admin, TxBody::RemoveMember { member: newcomer }),
        Error::NotAMember { .. }
    ));
    assert!(matches!(
        w.refuse(&admin, TxBody::RemoveMember { member: admin.party() }),
        Error::LastAdmin { .. }
    ));
}

#[test]
fn wrong_role_and_non_members_are_refused() {
    let mut w = World::new();
    let (seller, outsider, regulator, financier) = (key(2), key(8), key(7), key(5));
    assert!(matches!(
        w.refuse(&seller, TxBody::AdmitMember { member: key(30).party(), role: Role::Admin }),
        Error::WrongRole { required: Role::Admin, role: Role::Member, .. }
    ));
    assert!(matches!(
        w.refuse(
            &outsider,
            TxBody::AnchorHead {
                bilateral: Hash32::digest("t", b"b"),
                seq: 1,
                head: Hash32::digest("t", b"h"),
            }
        ),
        Error::NotAMember { .. }
    ));
    assert!(matches!(
        w.refuse(&regulator, TxBody::Pledge { nullifier: Nullifier([1; 32]) }),
        Error::WrongRole { required: Role::Financier, .. }
    ));
    assert!(matches!(
        w.refuse(&financier, TxBody::AcceptInvoice { invoice: InvoiceId::default() }),
        Error::WrongRole { required: Role::Member, .. }
    ));
    // A removed member is a non-member.
    let admin = key(1);
    w.ok(&admin, TxBody::RemoveMember { member: seller.party() });
    assert!(matches!(
        w.refuse(
            &seller,
            TxBody::PublishConformance(ConformanceDeclaration {
                document_hash: Hash32::ZERO,
                statement: String::new(),
            })
        ),
        Error::NotAMember { .. }
    ));
}

#[test]
fn unsigned_and_wrongly_signed_transactions_are_refused() {
    let mut w = World::new();
    let body = TxBody::AnchorHead {
        bilateral: Hash32::digest("t", b"b"),
        seq: 1,
        head: Hash32::digest("t", b"h"),
    };
    let mut unsigned = w.signed(&key(2), body.clone());
    unsigned.signature = omni_core::Signature([0; 64]);
    assert!(matches!(w.refuse_tx(&unsigned), Error::BadSignature { .. }));
    // Signed by someone else than the claimed sender.
    let mut forged = w.signed(&key(3), body.clone());
    forged.sender = key(2).party();
    assert!(matches!(w.refuse_tx(&forged), Error::BadSignature { .. }));
    // Signed for another registry.
    let other = SignedTx::sign(&key(2), &Hash32::digest("t", b"other registry"), 0, body.clone());
    assert!(matches!(w.refuse_tx(&other), Error::BadSignature { .. }));
    // Tampered after signing.
    let mut tampered = w.signed(&key(2), body);
    tampered.body = TxBody::AnchorHead {
        bilateral: Hash32::digest("t", b"b"),
        seq: 2,
        head: Hash32::digest("t", b"h"),
    };
    assert!(matches!(w.refuse_tx(&tampered), Error::BadSignature { .. }));
}

#[test]
fn replayed_and_skipped_nonces_are_refused() {
    let mut w = World::new();
    let body = |seq| TxBody::AnchorHead {
        bilateral: Hash32::digest("t", b"b"),
        seq,
        head: Hash32::digest("t", &seq.to_be_bytes()),
    };
    let first = w.signed(&key(2), body(1));
    w.apply(&first).unwrap();
    assert_eq!(w.state.next_nonce(&key(2).party()), 1);
    let err = w.refuse_tx(&first);
    assert!(matches!(err, Error::BadNonce { expected: 1, got: 0, .. }));
    assert!(err.to_string().contains("replay"));
    let ahead = SignedTx::sign(&key(2), &w.state.registry_id(), 5, body(2));
    assert!(matches!(w.refuse_tx(&ahead), Error::BadNonce { expected: 1, got: 5, .. }));
    // The mempool check lets a near future nonce through, never a replay nor one so far
    // ahead that it could only wait for transactions that may never come.
    assert!(w.state.check_sender_and_nonce(&ahead).is_ok());
    assert!(matches!(w.state.check_sender_and_nonce(&first), Err(Error::BadNonce { .. })));
    let edge = SignedTx::sign(&key(2), &w.state.registry_id(), 1 + MAX_NONCE_AHEAD, body(2));
    assert!(w.state.check_sender_and_nonce(&edge).is_ok());
    let far = SignedTx::sign(&key(2), &w.state.registry_id(), 2 + MAX_NONCE_AHEAD, body(2));
    let err = w.state.check_sender_and_nonce(&far).unwrap_err();
    assert!(matches!(err, Error::NonceTooFarAhead { expected: 1, .. }), "{err}");
    assert_eq!(err.code(), "bad_nonce");
}

#[test]
fn members_publish_conformance_declarations() {
    let mut w = World::new();
    let regulator = key(7);
    let d = ConformanceDeclaration {
        document_hash: Hash32::digest("t", b"MEF 114 conformance"),
        statement: "Smart Bilateral and Smart Omni-Lateral per MEF 114".into(),
    };
    w.ok(&regulator, TxBody::PublishConformance(d.clone()));
    let m = w.state.member(&regulator.party()).unwrap();
    assert_eq!(m.conformance.as_ref().map(|c| &c.declaration), Some(&d));
    assert!(matches!(
        w.refuse(
            &regulator,
            TxBody::PublishConformance(ConformanceDeclaration {
                document_hash: Hash32::ZERO,
                statement: "x".repeat(MAX_STATEMENT_BYTES + 1),
            })
        ),
        Error::InvalidField { field: "statement", .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Anchors
// ---------------------------------------------------------------------------------------

#[test]
fn either_party_anchors_without_consent_and_forks_are_flagged() {
    let mut w = World::new();
    let (seller, buyer) = (key(2), key(3));
    let b = Hash32::digest("t", b"bilateral");
    let h = |x: &[u8]| Hash32::digest("t/head", x);
    w.ok(&seller, TxBody::AnchorHead { bilateral: b, seq: 10, head: h(b"10") });
    // The buyer alone anchors a later head (R24).
    w.ok(&buyer, TxBody::AnchorHead { bilateral: b, seq: 12, head: h(b"12") });
    // The seller cannot go back …
    assert!(matches!(
        w.refuse(&seller, TxBody::AnchorHead { bilateral: b, seq: 10, head: h(b"10") }),
        Error::StaleAnchor { last: 10, .. }
    ));
    assert!(matches!(
        w.refuse(&seller, TxBody::AnchorHead { bilateral: b, seq: 11, head: Hash32::ZERO }),
        Error::InvalidField { field: "head", .. }
    ));
    // … and anchoring a different head at the buyer's sequence is recorded as a fork.
    let events = w.ok(&seller, TxBody::AnchorHead { bilateral: b, seq: 12, head: h(b"other") });
    assert!(events.contains(&Event::AnchorConflict {
        bilateral: b,
        seq: 12,
        by: seller.party(),
        other: buyer.party(),
    }));
    let anchors: Vec<_> = w.state.anchors_of(&b).map(|a| (a.seq, a.anchored_by)).collect();
    assert_eq!(anchors.len(), 3);
    assert_eq!(anchors[0], (10, seller.party()));
    assert_eq!(w.state.anchors_of(&Hash32::digest("t", b"none")).count(), 0);
}

// ---------------------------------------------------------------------------------------
// Invoices and proofs
// ---------------------------------------------------------------------------------------

#[test]
fn a_verified_invoice_is_recorded_without_its_amount() {
    let mut w = World::new();
    let (seller, buyer) = (key(2), key(3));
    let i = w.invoice(&seller, &buyer, 1_234_000_000, T0 + 30 * DAY, 1);
    let inv = w.state.invoice(&i.id).unwrap();
    assert_eq!(inv.status, InvoiceStatus::Verified);
    assert_eq!((inv.payer, inv.payee), (buyer.party(), seller.party()));
    assert_eq!(w.state.invoices_of_payer(&buyer.party()).count(), 1);
    assert_eq!(w.state.invoices_of_payee(&seller.party()).count(), 1);
    // Nothing in the stored invoice reveals 1_234_000_000.
    let bytes = omni_core::encode(inv);
    assert!(!bytes.windows(8).any(|w| w == 1_234_000_000u64.to_le_bytes()));
}

#[test]
fn a_refusing_verifier_admits_no_invoice() {
    let mut w = World::new();
    w.verifier = Box::new(RefuseAllProofs);
    let (seller, buyer) = (key(2), key(3));
    let (s, _) = w.submission(&seller, &buyer, 100, T0 + DAY, 1);
    let err = w.refuse(&seller, TxBody::SubmitInvoice(s.clone()));
    assert!(matches!(err, Error::ProofRejected { .. }), "{err}");
    assert!(err.to_string().contains("no rating-proof verifying key"));
    assert_eq!(w.state.invoice_count(), 0);
}

#[test]
fn a_proof_that_fails_is_refused() {
    let mut w = World::new();
    let (seller, buyer) = (key(2), key(3));
    let (mut s, _) = w.submission(&seller, &buyer, 100, T0 + DAY, 1);
    // A proof for another interval: the public inputs do not match the claim.
    s.proof = valid_bundle(&s.bilateral, &IntervalId("2027-12".into()), &s.amount_commitment);
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(s.clone())),
        Error::ProofRejected { .. }
    ));
    s.proof = b"garbage".to_vec();
    assert!(matches!(w.refuse(&seller, TxBody::SubmitInvoice(s)), Error::ProofRejected { .. }));
    assert_eq!(w.state.invoice_count(), 0);
}

#[test]
fn invoice_submissions_are_validated() {
    let mut w = World::new();
    let (seller, buyer, third, financier) = (key(2), key(3), key(4), key(5));
    let (s, _) = w.submission(&seller, &buyer, 100, T0 + DAY, 1);
    // Only the payee submits.
    assert!(matches!(w.refuse(&third, TxBody::SubmitInvoice(s.clone())), Error::NotPayee { .. }));
    // The payer must be a carrier member.
    let (mut to_financier, _) = w.submission(&seller, &financier, 100, T0 + DAY, 2);
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(to_financier.clone())),
        Error::PayerNotMember { .. }
    ));
    to_financier.payer = seller.party();
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(to_financier)),
        Error::InvalidField { field: "payer", .. }
    ));
    // Commitments must be points of the subgroup, and not the identity.
    let mut bad = s.clone();
    bad.amount_commitment = AmountCommitment([0xff; 32]);
    assert!(matches!(w.refuse(&seller, TxBody::SubmitInvoice(bad)), Error::InvalidCommitment(_)));
    // On the curve but of order 2, (0, −1), with a "proof" the stub accepts but for the
    // subgroup: admission leaves the subgroup check to the proof, and names the commitment.
    let mut low_order = s.clone();
    let minus_one: [u8; 32] = {
        use ark_ff::{BigInteger, PrimeField};
        (-ark_bn254::Fr::from(1u64)).into_bigint().to_bytes_le().try_into().unwrap()
    };
    low_order.amount_commitment = AmountCommitment(minus_one);
    assert!(PedersenCommitment::from_bytes_on_curve(&low_order.amount_commitment.0).is_ok());
    low_order.proof =
        valid_bundle(&low_order.bilateral, &low_order.interval, &low_order.amount_commitment);
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(low_order)),
        Error::InvalidCommitment(_)
    ));
    let mut identity = s.clone();
    identity.amount_commitment = commitment::encode(&PedersenCommitment::identity());
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(identity)),
        Error::InvalidCommitment(_)
    ));
    let mut no_interval = s.clone();
    no_interval.interval = IntervalId(String::new());
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(no_interval)),
        Error::InvalidField { .. }
    ));

    w.ok(&seller, TxBody::SubmitInvoice(s.clone()));
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(s.clone())),
        Error::DuplicateInvoice(_)
    ));
    // Another invoice reusing the commitment (and so the nullifier) is refused.
    let mut reused = s;
    reused.invoice = InvoiceId(Hash32::digest("t", b"another"));
    assert!(matches!(
        w.refuse(&seller, TxBody::SubmitInvoice(reused)),
        Error::CommitmentReused { .. }
    ));
}

#[test]
fn only_the_payer_accepts_or_disputes() {
    let mut w = World::new();
    let (seller, buyer, third) = (key(2), key(3), key(4));
    let i = w.invoice(&seller, &buyer, 100, T0 + DAY, 1);
    assert!(matches!(
        w.refuse(&seller, TxBody::AcceptInvoice { invoice: i.id }),
        Error::NotPayer { .. }
    ));
    assert!(matches!(
        w.refuse(&third, TxBody::AcceptInvoice { invoice: i.id }),
        Error::NotPayer { .. }
    ));
    assert!(matches!(
        w.refuse(&buyer, TxBody::AcceptInvoice { invoice: InvoiceId::default() }),
        Error::UnknownInvoice(_)
    ));
    let reason = Hash32::digest("t", b"dispute entry");
    assert!(matches!(
        w.refuse(&seller, TxBody::DisputeInvoice { invoice: i.id, reason }),
        Error::NotPayer { .. }
    ));
    w.ok(&buyer, TxBody::DisputeInvoice { invoice: i.id, reason });
    assert_eq!(w.state.invoice(&i.id).unwrap().status, InvoiceStatus::Disputed);
    assert!(matches!(
        w.refuse(&buyer, TxBody::DisputeInvoice { invoice: i.id, reason }),
        Error::InvoiceStatus { status: "disputed", .. }
    ));
    // Resolved on the bilateral: the payer accepts.
    w.ok(&buyer, TxBody::AcceptInvoice { invoice: i.id });
    let inv = w.state.invoice(&i.id).unwrap();
    assert_eq!(inv.status, InvoiceStatus::Accepted);
    assert!(inv.dispute.is_none());
    assert!(matches!(
        w.refuse(&buyer, TxBody::AcceptInvoice { invoice: i.id }),
        Error::InvoiceStatus { status: "accepted", .. }
    ));
}

#[test]
fn payment_notice_and_receipt_make_an_attested_payment() {
    let mut w = World::new();
    let (seller, buyer) = (key(2), key(3));
    let unknown = InvoiceId(Hash32::digest("t", b"unknown"));
    let payment_ref = Hash32::digest("t", b"payment");
    assert!(matches!(
        w.refuse(&seller, TxBody::PaymentReceipt { invoice: unknown, payment_ref }),
        Error::UnknownInvoice(_)
    ));
    let i = w.invoice(&seller, &buyer, 100, T0 + 10 * DAY, 1);
    // Not accepted yet.
    assert!(matches!(
        w.refuse(&buyer, TxBody::PaymentNotice { invoice: i.id, paid_at: T0, payment_ref }),
        Error::InvoiceStatus { status: "verified", .. }
    ));
    w.ok(&buyer, TxBody::AcceptInvoice { invoice: i.id });
    assert!(matches!(
        w.refuse(&seller, TxBody::PaymentReceipt { invoice: i.id, payment_ref }),
        Error::NoPaymentNotice(_)
    ));
    assert!(matches!(
        w.refuse(&seller, TxBody::PaymentNotice { invoice: i.id, paid_at: T0, payment_ref }),
        Error::NotPayer { .. }
    ));
    assert!(matches!(
        w.refuse(&buyer, TxBody::PaymentNotice { invoice: i.id, paid_at: T0 + 1, payment_ref }),
        Error::InvalidField { field: "paid_at", .. }
    ));
    w.ok(&buyer, TxBody::PaymentNotice { invoice: i.id, paid_at: T0, payment_ref });
    assert!(matches!(
        w.refuse(&buyer, TxBody::PaymentReceipt { invoice: i.id, payment_ref }),
        Error::NotPayee { .. }
    ));
    assert!(matches!(
        w.refuse(&seller, TxBody::PaymentReceipt { invoice: i.id, payment_ref: Hash32::ZERO }),
        Error::PaymentRefMismatch { .. }
    ));
    let events = w.ok(&seller, TxBody::PaymentReceipt { invoice: i.id, payment_ref });
    assert_eq!(
        events,
        vec![Event::PaymentAttested { invoice: i.id, paid_at: T0, days_relative_to_terms: -10 }]
    );
    let inv = w.state.invoice(&i.id).unwrap();
    assert_eq!(inv.status, InvoiceStatus::Paid);
    assert_eq!(inv.settlement.as_ref().map(|s| s.paid_at), Some(T0));
    assert!(matches!(
        w.refuse(&seller, TxBody::PaymentReceipt { invoice: i.id, payment_ref }),
        Error::InvoiceStatus { status: "paid", .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Reputation
// ---------------------------------------------------------------------------------------

#[test]
fn reputation_counts_attested_payments_and_overdue_invoices() {
    let mut w = World::new();
    let (seller, buyer) = (key(2), key(3));
    let due = T0 + 30 * DAY;
    let on_time = w.accepted(&seller, &buyer, 100, due, 1);
    let late = w.accepted(&seller, &buyer, 100, due, 2);
    let _overdue = w.accepted(&seller, &buyer, 100, due, 3);
    let _not_due = w.accepted(&seller, &buyer, 100, due + 90 * DAY, 4);
    let unaccepted = w.invoice(&seller, &buyer, 100, due, 5);
    let disputed = w.accepted(&seller, &buyer, 100, due, 6);
    w.ok(&buyer, TxBody::DisputeInvoice { invoice: disputed.id, reason: Hash32::ZERO });
    let _ = unaccepted;

    let fresh = w.state.reputation(&buyer.party(), T0);
    assert_eq!((fresh.invoices, fresh.accepted, fresh.open, fresh.assessed), (6, 4, 4, 0));
    assert_eq!((fresh.paydex, fresh.on_time_ratio_bp), (None, None));

    // Paid 30 days early (at T0), and 10 days late.
    w.pay(&on_time, &buyer, &seller, T0);
    w.advance_days(40);
    w.pay(&late, &buyer, &seller, due + 10 * DAY);
    // Query 20 days after the due date: the third is overdue by 20 days.
    let r = w.state.reputation(&buyer.party(), due + 20 * DAY);
    assert_eq!(r.invoices, 6);
    assert_eq!(r.disputed, 1);
    assert_eq!((r.paid_on_time, r.paid_late, r.overdue, r.open), (1, 1, 1, 1));
    assert_eq!(r.assessed, 3);
    assert_eq!(r.on_time_ratio_bp, Some(3333));
    // (0 + 10 + 20) / 3
    assert_eq!(r.average_days_beyond_terms, Some(10));
    // (100 + 70 + 60) / 3 = 76.67 → 77
    assert_eq!(r.paydex, Some(77));
}

/// The commitment to a credit of `amount` against `i`, as both parties compute it.
fn credit_commitment(i: &Issued, amount: u64, reference: &Hash32) -> AmountCommitment {
    let r = commitment::decode_blinding(&i.blinding).unwrap();
    let rc = commitment::credit_blinding(&r, reference);
    commitment::encode(&PedersenCommitment::commit(amount, &rc))
}

// ---------------------------------------------------------------------------------------
// Credits
// ---------------------------------------------------------------------------------------

#[test]
fn a_credit_lowers_the_amount_due_and_the_payer_accepts_it_anew() {
    let mut w = World::new();
    let (seller, buyer, financier) = (key(2), key(3), key(5));
    let due = T0 + 30 * DAY;
    let i = w.accepted(&seller, &buyer, 5_000_000, due, 1);
    let note = Hash32([40; 32]);
    let events = w.ok(
        &seller,
        TxBody::CreditInvoice {
            invoice: i.id,
            credit: credit_commitment(&i, 1_250_000, &note),
            reference: note,
        },
    );
    assert_eq!(events, vec![Event::InvoiceCredited { invoice: i.id, reference: note, credits: 1 }]);
    let inv = w.state.invoice(&i.id).unwrap().clone();
    assert_eq!(inv.status, InvoiceStatus::Credited);
    assert_eq!(
        inv.amount_commitment,
        commitment::encode(&PedersenCommitment::commit(
            5_000_000,
            &commitment::decode_blinding(&i.blinding).unwrap()
        )),
        "the proven commitment stays"
    );
    // The amount due opens to the proven amount less the credit, under r − r_c.
    let r = commitment::decode_blinding(&i.blinding).unwrap();
    let due_blinding = r - commitment::credit_blinding(&r, &note);
    let amount_due = commitment::decode(&w.state.amount_due(&inv).unwrap()).unwrap();
    assert!(amount_due.opens_to(3_750_000, &due_blinding));

    // Until the payer accepts the credited amount, it can neither pay nor be financed.
    let payment_ref = Hash32([41; 32]);
    assert!(matches!(
        w.refuse(&buyer, TxBody::PaymentNotice { invoice: i.id, paid_at: T0, payment_ref }),
        Error::InvoiceStatus { status: "credited", .. }
    ));
    let rep = w.state.reputation(&buyer.party(), T0);
    let credits = w.state.credits(&i.id).to_vec();
    let policy = FinancingPolicy::default();
    let opening =
        InvoiceOpening { amount: i.amount, blinding: i.blinding, credits: vec![(note, 1_250_000)] };
    let err = pledge::assess(&inv, &credits, &opening, &rep, |_| false, T0, &policy).unwrap_err();
    assert!(err.to_string().contains("not accepted the credited amount"), "{err}");

    w.ok(&buyer, TxBody::AcceptInvoice { invoice: i.id });
    let inv = w.state.invoice(&i.id).unwrap().clone();
    assert_eq!(inv.status, InvoiceStatus::Accepted);
    // The financier sees the amount due, and only from an opening that opens every credit.
    let a = pledge::assess(&inv, &credits, &opening, &rep, |_| false, T0, &policy).unwrap();
    assert_eq!(a.amount, 3_750_000);
    assert_eq!(a.nullifier, pledge::nullifier(&i.blinding).unwrap(), "the invoice's nullifier");
    let stale = InvoiceOpening { credits: vec![], ..opening.clone() };
    let err = pledge::assess(&inv, &credits, &stale, &rep, |_| false, T0, &policy).unwrap_err();
    assert!(err.to_string().contains("does not show credit"), "{err}");
    let wrong = InvoiceOpening { credits: vec![(note, 1_250_001)], ..opening.clone() };
    let err = pledge::assess(&inv, &credits, &wrong, &rep, |_| false, T0, &policy).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    w.ok(&financier, TxBody::Pledge { nullifier: a.nullifier });

    // A credit on a verified or disputed invoice leaves it awaiting the payer's acceptance.
    let disputed = w.accepted(&seller, &buyer, 800, due, 2);
    w.ok(&buyer, TxBody::DisputeInvoice { invoice: disputed.id, reason: Hash32::ZERO });
    w.credit(&seller, &disputed, 300, Hash32([42; 32]));
    assert_eq!(w.state.invoice(&disputed.id).unwrap().status, InvoiceStatus::Disputed);
    w.ok(&buyer, TxBody::AcceptInvoice { invoice: disputed.id });

    // A netting cycle nets the amounts due: 3 750 000 + 500 owed by the buyer.
    w.two_party_cycle(&seller, &buyer, due);
    let r2 = commitment::decode_blinding(&disputed.blinding).unwrap();
    let blinding = due_blinding + r2 - commitment::credit_blinding(&r2, &Hash32([42; 32]));
    let events = w.ok(
        &seller,
        TxBody::SubmitNetOpening {
            cycle: 1,
            amount: 3_750_500,
            blinding: encode_blinding(&blinding),
        },
    );
    assert!(events.iter().any(|e| matches!(e, Event::NetOpened { net: 3_750_500, .. })));
}

#[test]
fn credits_are_refused_unless_from_the_payee_new_and_on_an_open_invoice() {
    let mut w = World::new();
    let (seller, buyer, other) = (key(2), key(3), key(4));
    let due = T0 + 30 * DAY;
    let i = w.accepted(&seller, &buyer, 1_000, due, 1);
    let note = Hash32([50; 32]);
    let credit = credit_commitment(&i, 100, &note);
    let body = |invoice, credit, reference| TxBody::CreditInvoice { invoice, credit, reference };
    // The payer, or anyone else, cannot credit the payee's invoice.
    assert!(matches!(w.refuse(&buyer, body(i.id, credit, note)), Error::NotPayee { .. }));
    assert!(matches!(w.refuse(&other, body(i.id, credit, note)), Error::NotPayee { .. }));
    assert!(matches!(
        w.refuse(&seller, body(InvoiceId(Hash32([9; 32])), credit, note)),
        Error::UnknownInvoice(_)
    ));
    // Commitments that hide nothing or are no point of the subgroup.
    let identity = commitment::encode(&PedersenCommitment::identity());
    assert!(matches!(w.refuse(&seller, body(i.id, identity, note)), Error::InvalidCommitment(_)));
    assert!(matches!(
        w.refuse(&seller, body(i.id, AmountCommitment([0xff; 32]), note)),
        Error::InvalidCommitment(_)
    ));
    w.ok(&seller, body(i.id, credit, note));
    // Once per reference: a replayed credit note is refused, even with another amount.
    let again = credit_commitment(&i, 200, &note);
    assert!(matches!(
        w.refuse(&seller, body(i.id, again, note)),
        Error::CreditRefused { reason, .. } if reason.contains("already recorded")
    ));
    // Not on a paid invoice, nor on one locked in a netting cycle.
    let paid = w.accepted(&seller, &buyer, 1_000, due, 2);
    w.pay(&paid, &buyer, &seller, T0);
    let reference = Hash32([51; 32]);
    assert!(matches!(
        w.refuse(&seller, body(paid.id, credit_commitment(&paid, 1, &reference), reference)),
        Error::InvoiceStatus { status: "paid", .. }
    ));
    let locked = w.accepted(&seller, &buyer, 1_000, due, 3);
    w.two_party_cycle(&seller, &buyer, due);
    assert!(matches!(
        w.refuse(&seller, body(locked.id, credit_commitment(&locked, 1, &reference), reference)),
        Error::InvoiceInNettingCycle { cycle: 1, .. }
    ));
    // At most MAX_CREDITS_PER_INVOICE credits on one invoice.
    let many = w.invoice(&seller, &buyer, 1_000_000, due + DAY, 4);
    for n in 0..MAX_CREDITS_PER_INVOICE {
        w.credit(&seller, &many, 1, Hash32::digest("test/credit", &n.to_be_bytes()));
    }
    let reference = Hash32([52; 32]);
    assert!(matches!(
        w.refuse(&seller, body(many.id, credit_commitment(&many, 1, &reference), reference)),
        Error::CreditRefused { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Pledges
// ---------------------------------------------------------------------------------------

#[test]
fn a_financier_checks_an_invoice_from_its_opening_and_pledges_it_once() {
    let mut w = World::new();
    let (seller, buyer, financier, financier2) = (key(2), key(3), key(5), key(6));
    let due = T0 + 30 * DAY;
    let i = w.accepted(&seller, &buyer, 5_000_000, due, 1);
    let inv = w.state.invoice(&i.id).unwrap().clone();
    let rep = w.state.reputation(&buyer.party(), T0);
    let policy = FinancingPolicy { min_paydex: Some(70), min_on_time_bp: Some(9000) };
    let opening = InvoiceOpening { amount: i.amount, blinding: i.blinding, credits: vec![] };

    let state = &w.state;
    let pledged = |n: &Nullifier| state.pledge(n).is_some();
    let a = pledge::assess(&inv, &[], &opening, &rep, pledged, T0, &policy).unwrap();
    assert_eq!(a.amount, 5_000_000);
    assert_eq!(a.nullifier, pledge::nullifier(&i.blinding).unwrap());

    // A wrong opening, an overdue invoice, someone else's reputation: refused.
    let wrong = InvoiceOpening { amount: i.amount + 1, blinding: i.blinding, credits: vec![] };
    assert!(matches!(
        pledge::assess(&inv, &[], &wrong, &rep, pledged, T0, &policy),
        Err(Error::NotPledgeable { .. })
    ));
    assert!(pledge::assess(&inv, &[], &opening, &rep, pledged, due + 1, &policy).is_err());
    let other_rep = state.reputation(&seller.party(), T0);
    assert!(pledge::assess(&inv, &[], &opening, &other_rep, pledged, T0, &policy).is_err());

    w.ok(&financier, TxBody::Pledge { nullifier: a.nullifier });
    // A second financier shown the same invoice computes the same nullifier: refused.
    let state = &w.state;
    let pledged = |n: &Nullifier| state.pledge(n).is_some();
    assert!(matches!(
        pledge::assess(&inv, &[], &opening, &rep, pledged, T0, &policy),
        Err(Error::AlreadyPledged(_))
    ));
    assert!(matches!(
        w.refuse(&financier2, TxBody::Pledge { nullifier: a.nullifier }),
        Error::AlreadyPledged(_)
    ));
    // Only the holder releases.
    assert!(matches!(
        w.refuse(&financier2, TxBody::ReleasePledge { nullifier: a.nullifier }),
        Error::NotPledgeHolder { .. }
    ));
    assert!(matches!(
        w.refuse(&financier2, TxBody::ReleasePledge { nullifier: Nullifier([9; 32]) }),
        Error::UnknownPledge(_)
    ));
    w.ok(&financier, TxBody::ReleasePledge { nullifier: a.nullifier });
    w.ok(&financier2, TxBody::Pledge { nullifier: a.nullifier });
    assert_eq!(w.state.pledge(&a.nullifier).map(|p| p.financier), Some(financier2.party()));
}

#[test]
fn disputed_unaccepted_and_paid_invoices_are_not_pledgeable() {
    let mut w = World::new();
    let (seller, buyer) = (key(2), key(3));
    let due = T0 + 30 * DAY;
    let policy = FinancingPolicy::default();
    let check = |w: &World, i: &Issued| {
        let inv = w.state.invoice(&i.id).unwrap();
        let rep = w.state.reputation(&inv.payer, T0);
        let opening = InvoiceOpening { amount: i.amount, blinding: i.blinding, credits: vec![] };
        pledge::assess(inv, &[], &opening, &rep, |_| false, T0, &policy)
    };
    let unaccepted = w.invoice(&seller, &buyer, 10, due, 1);
    assert!(check(&w, &unaccepted).unwrap_err().to_string().contains("not accepted"));
    let disputed = w.accepted(&seller, &buyer, 10, due, 2);
    w.ok(&buyer, TxBody::DisputeInvoice { invoice: disputed.id, reason: Hash32::ZERO });
    assert!(check(&w, &disputed).unwrap_err().to_string().contains("disputes"));
    let paid = w.accepted(&seller, &buyer, 10, due, 3);
    w.pay(&paid, &buyer, &seller, T0);
    assert!(check(&w, &paid).unwrap_err().to_string().contains("paid"));
    // A payer with a bad record fails a demanding policy.
    let late = w.accepted(&seller, &buyer, 10, T0 - 60 * DAY, 4);
    let good = w.accepted(&seller, &buyer, 10, due, 5);
    let _ = late;
    let inv = w.state.invoice(&good.id).unwrap();
    let rep = w.state.reputation(&buyer.party(), T0);
    assert_eq!(rep.overdue, 1);
    let strict = FinancingPolicy { min_paydex: Some(80), min_on_time_bp: None };
    let opening = InvoiceOpening { amount: good.amount, blinding: good.blinding, credits: vec![] };
    let err = pledge::assess(inv, &[], &opening, &rep, |_| false, T0, &strict).unwrap_err();
    assert!(err.to_string().contains("PAYDEX"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Netting
// ---------------------------------------------------------------------------------------

/// Sum of blindings of `receivable` minus `payable`, as the member computes it.
fn net_blinding(receivable: &[&Issued], payable: &[&Issued]) -> Blinding {
    let r = |i: &&Issued| commitment::decode_blinding(&i.blinding).unwrap();
    let sum = receivable.iter().map(r).sum::<Scalar>() - payable.iter().map(r).sum::<Scalar>();
    encode_blinding(&sum)
}

#[test]
fn a_netting_cycle_nets_committed_invoices_optimally() {
    let mut w = World::new();
    let (a, b, c) = (key(2), key(3), key(4));
    let due = T0 + 10 * DAY;
    // a → b 100 (b owes a), b → c 80 (c owes b), c → a 30 (a owes c); a late one and an
    // unaccepted one stay out.
    let ab = w.accepted(&a, &b, 100, due, 1);
    let bc = w.accepted(&b, &c, 80, due, 2);
    let ca = w.accepted(&c, &a, 30, due, 3);
    let later = w.accepted(&a, &b, 999, due + 60 * DAY, 4);
    let unaccepted = w.invoice(&a, &c, 555, due, 5);

    let participants = vec![a.party(), b.party(), c.party()];
    let events =
        w.ok(&a, TxBody::OpenNettingCycle { currency: Currency::EUR, cutoff: due, participants });
    assert!(matches!(events[0], Event::NettingCycleOpened { cycle: 1, participants: 3, .. }));
    assert!(matches!(
        w.refuse(&key(5), TxBody::JoinNettingCycle { cycle: 1 }),
        Error::WrongRole { .. }
    ));
    assert!(matches!(
        w.refuse(&a, TxBody::JoinNettingCycle { cycle: 1 }),
        Error::AlreadyDone { .. }
    ));
    assert!(matches!(
        w.refuse(
            &b,
            TxBody::SubmitNetOpening { cycle: 1, amount: 0, blinding: Blinding::default() }
        ),
        Error::CyclePhase { phase: "joining", .. }
    ));
    w.ok(&b, TxBody::JoinNettingCycle { cycle: 1 });
    let events = w.ok(&c, TxBody::JoinNettingCycle { cycle: 1 });
    assert!(events.contains(&Event::NettingCycleLocked { cycle: 1, invoices: 3 }));
    assert_eq!(w.state.invoice(&later.id).unwrap().netting_cycle, None);
    assert_eq!(w.state.invoice(&unaccepted.id).unwrap().netting_cycle, None);
    // Locked invoices cannot be paid or disputed outside the cycle.
    assert!(matches!(
        w.refuse(&b, TxBody::DisputeInvoice { invoice: ab.id, reason: Hash32::ZERO }),
        Error::InvoiceInNettingCycle { cycle: 1, .. }
    ));

    // Nets: a +100 −30 = +70, b −100 +80 = −20, c −80 +30 = −50.
    let open_a =
        TxBody::SubmitNetOpening { cycle: 1, amount: 70, blinding: net_blinding(&[&ab], &[&ca]) };
    // A wrong amount or blinding does not open the homomorphic sum.
    assert!(matches!(
        w.refuse(
            &a,
            TxBody::SubmitNetOpening {
                cycle: 1,
                amount: 71,
                blinding: net_blinding(&[&ab], &[&ca])
            }
        ),
        Error::OpeningMismatch { .. }
    ));
    assert!(matches!(
        w.refuse(
            &a,
            TxBody::SubmitNetOpening { cycle: 1, amount: 70, blinding: net_blinding(&[&ab], &[]) }
        ),
        Error::OpeningMismatch { .. }
    ));
    w.ok(&a, open_a.clone());
    assert!(matches!(w.refuse(&a, open_a), Error::AlreadyDone { .. }));
    w.ok(
        &b,
        TxBody::SubmitNetOpening { cycle: 1, amount: -20, blinding: net_blinding(&[&bc], &[&ab]) },
    );
    let events = w.ok(
        &c,
        TxBody::SubmitNetOpening { cycle: 1, amount: -50, blinding: net_blinding(&[&ca], &[&bc]) },
    );
    assert!(events.contains(&Event::SettlementInstructed { cycle: 1, transfers: 2, volume: 70 }));

    let cycle = w.state.cycle(1).unwrap().clone();
    assert_eq!(cycle.phase, CyclePhase::Settling);
    assert_eq!(cycle.settled_volume(), 70);
    assert!(cycle.instructions.iter().all(|t| t.to == a.party()));
    // Only the receiver confirms.
    assert!(matches!(
        w.refuse(&b, TxBody::ConfirmSettlement { cycle: 1, instruction: 0 }),
        Error::NotParticipant { .. }
    ));
    assert!(matches!(
        w.refuse(&a, TxBody::ConfirmSettlement { cycle: 1, instruction: 7 }),
        Error::UnknownInstruction { .. }
    ));
    w.ok(&a, TxBody::ConfirmSettlement { cycle: 1, instruction: 0 });
    w.advance_days(1);
    let events = w.ok(&a, TxBody::ConfirmSettlement { cycle: 1, instruction: 1 });
    assert!(events.contains(&Event::NettingCycleSettled { cycle: 1, invoices: 3 }));
    for i in [&ab, &bc, &ca] {
        let inv = w.state.invoice(&i.id).unwrap();
        assert_eq!(inv.status, InvoiceStatus::Paid);
        assert_eq!(
            inv.settlement.as_ref().map(|s| s.by.clone()),
            Some(SettledBy::Netting { cycle: 1 })
        );
    }
    assert_eq!(w.state.cycle(1).unwrap().phase, CyclePhase::Settled);
}

#[test]
fn a_netting_cycle_can_be_cancelled_by_its_opener_and_validates_participants() {
    let mut w = World::new();
    let (a, b, c) = (key(2), key(3), key(4));
    let due = T0 + 10 * DAY;
    let ab = w.accepted(&a, &b, 100, due, 1);
    let open = |participants| TxBody::OpenNettingCycle {
        currency: Currency::EUR,
        cutoff: due,
        participants,
    };
    assert!(matches!(w.refuse(&a, open(vec![a.party()])), Error::InvalidField { .. }));
    assert!(matches!(w.refuse(&a, open(vec![b.party(), c.party()])), Error::InvalidField { .. }));
    assert!(matches!(
        w.refuse(&a, open(vec![a.party(), b.party(), b.party()])),
        Error::InvalidField { .. }
    ));
    assert!(matches!(
        w.refuse(&a, open(vec![a.party(), key(5).party()])),
        Error::InvalidField { .. }
    ));
    w.ok(&a, open(vec![a.party(), b.party()]));
    assert!(matches!(
        w.refuse(&c, TxBody::JoinNettingCycle { cycle: 1 }),
        Error::NotParticipant { .. }
    ));
    w.ok(&b, TxBody::JoinNettingCycle { cycle: 1 });
    assert_eq!(w.state.invoice(&ab.id).unwrap().netting_cycle, Some(1));
    assert!(matches!(
        w.refuse(&b, TxBody::CancelNettingCycle { cycle: 1 }),
        Error::NotParticipant { .. }
    ));
    w.ok(&a, TxBody::CancelNettingCycle { cycle: 1 });
    assert_eq!(w.state.invoice(&ab.id).unwrap().netting_cycle, None);
    assert!(matches!(
        w.refuse(&a, TxBody::CancelNettingCycle { cycle: 1 }),
        Error::CyclePhase { phase: "cancelled", .. }
    ));
    assert!(matches!(w.refuse(&a, TxBody::JoinNettingCycle { cycle: 9 }), Error::UnknownCycle(9)));
    // The invoice can be netted again in a new cycle, with all nets zero → settled at once.
    w.ok(&a, open(vec![a.party(), c.party()]));
    let events = w.ok(&c, TxBody::JoinNettingCycle { cycle: 2 });
    assert!(events.contains(&Event::NettingCycleLocked { cycle: 2, invoices: 0 }));
    w.ok(&a, TxBody::SubmitNetOpening { cycle: 2, amount: 0, blinding: Blinding::default() });
    let events =
        w.ok(&c, TxBody::SubmitNetOpening { cycle: 2, amount: 0, blinding: Blinding::default() });
    assert!(events.contains(&Event::NettingCycleSettled { cycle: 2, invoices: 0 }));
}

// ---------------------------------------------------------------------------------------
// Determinism and persistence shape
// ---------------------------------------------------------------------------------------

#[test]
fn restoring_from_entries_reproduces_the_state_and_its_root() {
    let mut w = World::new();
    let (seller, buyer, financier) = (key(2), key(3), key(5));
    let mut entries: BTreeMap<(&'static str, Vec<u8>), Vec<u8>> = BTreeMap::new();
    let mut absorb = |w: &mut World| {
        for c in w.state.take_changes() {
            match c.value {
                Some(v) => entries.insert((c.table, c.key), v),
                None => entries.remove(&(c.table, c.key)),
            };
        }
    };
    absorb(&mut w);
    let i = w.accepted(&seller, &buyer, 100, T0 + DAY, 1);
    let credit = w.credit(&seller, &i, 10, Hash32([4; 32]));
    w.ok(&seller, TxBody::AnchorHead { bilateral: Hash32::ZERO, seq: 1, head: Hash32([1; 32]) });
    w.ok(&financier, TxBody::Pledge { nullifier: pledge::nullifier(&i.blinding).unwrap() });
    w.ok(&financier, TxBody::ReleasePledge { nullifier: pledge::nullifier(&i.blinding).unwrap() });
    w.ok(
        &seller,
        TxBody::OpenNettingCycle {
            currency: Currency::EUR,
            cutoff: T0,
            participants: vec![seller.party(), buyer.party()],
        },
    );
    w.state.end_block(&w.ctx.clone());
    absorb(&mut w);
    let restored =
        RegistryState::restore(entries.into_iter().map(|((t, k), v)| (t, k, v))).unwrap();
    assert_eq!(restored.state_root(), w.state.state_root());
    assert_eq!(restored.height(), w.state.height());
    assert_eq!(restored.invoice(&i.id), w.state.invoice(&i.id));
    assert_eq!(restored.credits(&i.id), w.state.credits(&i.id));
    assert_eq!(restored.credits(&i.id)[0].commitment, credit);
    assert_eq!(restored.next_nonce(&financier.party()), 2);
    assert_eq!(restored.anchors_of(&Hash32::ZERO).count(), 1);
    assert_eq!(restored.invoices_of_payer(&buyer.party()).count(), 1);
    assert_eq!(restored.cycle(1), w.state.cycle(1));
    assert!(restored.pledge(&pledge::nullifier(&i.blinding).unwrap()).is_none());
}

#[test]
fn the_same_transactions_give_the_same_root() {
    let run = || {
        let mut w = World::new();
        let (seller, buyer) = (key(2), key(3));
        w.accepted(&seller, &buyer, 100, T0 + DAY, 1);
        w.state.state_root()
    };
    assert_eq!(run(), run());
    let mut w = World::new();
    let before = w.state.state_root();
    w.invoice(&key(2), &key(3), 100, T0 + DAY, 1);
    assert_ne!(w.state.state_root(), before);
}
