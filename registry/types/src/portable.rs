//! Transactions any language can build: the **portable form**, defined in protobuf by
//! `registry/protocol/proto/transaction.proto` (package `omni.registry.tx.v1`) and signed
//! by a rule that needs nothing but the schema, SHA-free Ed25519 and byte concatenation.
//!
//! ```text
//! Transaction { sender = 1 (32 bytes), nonce = 2, body = 3 (bytes of a Body), signature = 4 (64 bytes) }
//! signed message = len(TAG) (1 byte) ‖ TAG ‖ registry id (32) ‖ sender (32) ‖ nonce (8, big-endian) ‖ body
//! TAG = "omni/registry/tx/portable/v1"
//! ```
//!
//! The signature is Ed25519 (RFC 8032, pure) by the sender's key over the signed message;
//! the registry id is the `registry_id` of `GetStatus`, the nonce the sender's
//! `next_nonce` of `GetMember`. `body` is carried as bytes, so the signature covers
//! exactly what was sent. The registry accepts only the canonical encoding (fields in
//! number order, no default values, no unknown fields — what every protobuf library writes
//! by default), so one signed transaction has one byte form and one hash. In blocks a
//! portable transaction is stored as `0x02 ‖ Transaction` (native transactions start with
//! the canonical encoding's version byte `0x01`).
//!
//! The messages here are the schema's, written with `prost`'s derive so that this crate
//! needs no code generation; `omni-registry-protocol` compiles the `.proto` and checks in
//! its tests that both encode every transaction kind to the same bytes.

use crate::error::{Error, Result};
use crate::tx::{AmountCommitment, Blinding, EmbargoList, InvoiceId, Nullifier};
use crate::tx::{ConformanceDeclaration, InvoiceSubmission, Role, TxBody};
use omni_core::{Currency, Hash32, IntervalId, PartyId};
use prost::Message;

/// Domain tag of portable transaction signatures.
pub const PORTABLE_SIGNING_TAG: &str = "omni/registry/tx/portable/v1";

/// The first byte of a portable transaction in a block.
pub const PORTABLE_FORMAT: u8 = 2;

/// A signed portable transaction.
#[derive(Clone, PartialEq, Message)]
pub struct Transaction {
    /// The sender's Ed25519 public key.
    #[prost(bytes = "vec", tag = "1")]
    pub sender: Vec<u8>,
    /// The sender's next nonce.
    #[prost(uint64, tag = "2")]
    pub nonce: u64,
    /// The encoded [`Body`], exactly as signed.
    #[prost(bytes = "vec", tag = "3")]
    pub body: Vec<u8>,
    /// Ed25519 signature over the signed message (module docs).
    #[prost(bytes = "vec", tag = "4")]
    pub signature: Vec<u8>,
}

/// What a transaction asks: one of the twenty kinds.
#[derive(Clone, PartialEq, Message)]
pub struct Body {
    /// The kind.
    #[prost(
        oneof = "Kind",
        tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20"
    )]
    pub kind: Option<Kind>,
}

/// The kinds of [`Body`], by field number.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    #[prost(message, tag = "1")]
    AdmitMember(AdmitMember),
    #[prost(message, tag = "2")]
    RemoveMember(RemoveMember),
    #[prost(message, tag = "3")]
    PublishConformance(PublishConformance),
    #[prost(message, tag = "4")]
    AnchorHead(AnchorHead),
    #[prost(message, tag = "5")]
    SubmitInvoice(SubmitInvoice),
    #[prost(message, tag = "6")]
    AcceptInvoice(InvoiceRef),
    #[prost(message, tag = "7")]
    DisputeInvoice(DisputeInvoice),
    #[prost(message, tag = "8")]
    PaymentNotice(PaymentNotice),
    #[prost(message, tag = "9")]
    PaymentReceipt(PaymentReceipt),
    #[prost(message, tag = "10")]
    Pledge(NullifierRef),
    #[prost(message, tag = "11")]
    ReleasePledge(NullifierRef),
    #[prost(message, tag = "12")]
    OpenNettingCycle(OpenNettingCycle),
    #[prost(message, tag = "13")]
    JoinNettingCycle(CycleRef),
    #[prost(message, tag = "14")]
    SubmitNetOpening(SubmitNetOpening),
    #[prost(message, tag = "15")]
    ConfirmSettlement(ConfirmSettlement),
    #[prost(message, tag = "16")]
    CancelNettingCycle(CycleRef),
    #[prost(message, tag = "17")]
    IssueCredential(IssueCredential),
    #[prost(message, tag = "18")]
    RevokeCredential(RevokeCredential),
    #[prost(message, tag = "19")]
    PublishEmbargoList(PublishEmbargoList),
    #[prost(message, tag = "20")]
    SubmitComplianceMap(SubmitComplianceMap),
}

/// `AdmitMember`: `role` is admin, member, financier, regulator or operator.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct AdmitMember {
    #[prost(bytes = "vec", tag = "1")]
    pub member: Vec<u8>,
    #[prost(string, tag = "2")]
    pub role: String,
}

/// `RemoveMember`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct RemoveMember {
    #[prost(bytes = "vec", tag = "1")]
    pub member: Vec<u8>,
}

/// `PublishConformance`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct PublishConformance {
    #[prost(bytes = "vec", tag = "1")]
    pub document_hash: Vec<u8>,
    #[prost(string, tag = "2")]
    pub statement: String,
}

/// `AnchorHead`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct AnchorHead {
    #[prost(bytes = "vec", tag = "1")]
    pub bilateral: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub seq: u64,
    #[prost(bytes = "vec", tag = "3")]
    pub head: Vec<u8>,
}

/// `SubmitInvoice`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct SubmitInvoice {
    #[prost(bytes = "vec", tag = "1")]
    pub invoice: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub bilateral: Vec<u8>,
    #[prost(string, tag = "3")]
    pub interval: String,
    #[prost(bytes = "vec", tag = "4")]
    pub payer: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub payee: Vec<u8>,
    #[prost(string, tag = "6")]
    pub currency: String,
    #[prost(bytes = "vec", tag = "7")]
    pub amount_commitment: Vec<u8>,
    #[prost(uint64, tag = "8")]
    pub due_date: u64,
    #[prost(bytes = "vec", tag = "9")]
    pub proof: Vec<u8>,
}

/// `AcceptInvoice`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct InvoiceRef {
    #[prost(bytes = "vec", tag = "1")]
    pub invoice: Vec<u8>,
}

/// `DisputeInvoice`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct DisputeInvoice {
    #[prost(bytes = "vec", tag = "1")]
    pub invoice: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub reason: Vec<u8>,
}

/// `PaymentNotice`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct PaymentNotice {
    #[prost(bytes = "vec", tag = "1")]
    pub invoice: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub paid_at: u64,
    #[prost(bytes = "vec", tag = "3")]
    pub payment_ref: Vec<u8>,
}

/// `PaymentReceipt`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct PaymentReceipt {
    #[prost(bytes = "vec", tag = "1")]
    pub invoice: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub payment_ref: Vec<u8>,
}

/// `Pledge`, `ReleasePledge`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct NullifierRef {
    #[prost(bytes = "vec", tag = "1")]
    pub nullifier: Vec<u8>,
}

/// `OpenNettingCycle`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct OpenNettingCycle {
    #[prost(string, tag = "1")]
    pub currency: String,
    #[prost(uint64, tag = "2")]
    pub cutoff: u64,
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub participants: Vec<Vec<u8>>,
}

/// `JoinNettingCycle`, `CancelNettingCycle`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct CycleRef {
    #[prost(uint64, tag = "1")]
    pub cycle: u64,
}

/// `SubmitNetOpening`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct SubmitNetOpening {
    #[prost(uint64, tag = "1")]
    pub cycle: u64,
    #[prost(sint64, tag = "2")]
    pub amount: i64,
    #[prost(bytes = "vec", tag = "3")]
    pub blinding: Vec<u8>,
}

/// `ConfirmSettlement`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct ConfirmSettlement {
    #[prost(uint64, tag = "1")]
    pub cycle: u64,
    #[prost(uint32, tag = "2")]
    pub instruction: u32,
}

/// `IssueCredential`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct IssueCredential {
    #[prost(bytes = "vec", tag = "1")]
    pub member: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub commitment: Vec<u8>,
}

/// `RevokeCredential`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct RevokeCredential {
    #[prost(uint64, tag = "1")]
    pub leaf: u64,
}

/// `PublishEmbargoList`: ISO 3166-1 numeric country codes.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct PublishEmbargoList {
    #[prost(uint32, tag = "1")]
    pub version: u32,
    #[prost(uint32, repeated, tag = "2")]
    pub countries: Vec<u32>,
}

/// `SubmitComplianceMap`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct SubmitComplianceMap {
    #[prost(bytes = "vec", tag = "1")]
    pub map: Vec<u8>,
}

fn bytes32(field: &'static str, b: &[u8]) -> Result<[u8; 32]> {
    b.try_into().map_err(|_| Error::InvalidField {
        field,
        reason: format!("{} bytes, expected 32", b.len()),
    })
}

fn party(field: &'static str, b: &[u8]) -> Result<PartyId> {
    bytes32(field, b).map(PartyId)
}

fn hash(field: &'static str, b: &[u8]) -> Result<Hash32> {
    bytes32(field, b).map(Hash32)
}

fn currency(code: &str) -> Result<Currency> {
    Currency::new(code)
        .map_err(|e| Error::InvalidField { field: "currency", reason: e.to_string() })
}

impl Body {
    /// The portable form of `body`.
    pub fn of(body: &TxBody) -> Body {
        let v = |b: &[u8]| b.to_vec();
        let kind = match body {
            TxBody::AdmitMember { member, role } => {
                Kind::AdmitMember(AdmitMember { member: v(&member.0), role: role.name().into() })
            }
            TxBody::RemoveMember { member } => {
                Kind::RemoveMember(RemoveMember { member: v(&member.0) })
            }
            TxBody::PublishConformance(c) => Kind::PublishConformance(PublishConformance {
                document_hash: v(&c.document_hash.0),
                statement: c.statement.clone(),
            }),
            TxBody::AnchorHead { bilateral, seq, head } => Kind::AnchorHead(AnchorHead {
                bilateral: v(&bilateral.0),
                seq: *seq,
                head: v(&head.0),
            }),
            TxBody::SubmitInvoice(s) => Kind::SubmitInvoice(SubmitInvoice {
                invoice: v(&s.invoice.0 .0),
                bilateral: v(&s.bilateral.0),
                interval: s.interval.0.clone(),
                payer: v(&s.payer.0),
                payee: v(&s.payee.0),
                currency: s.currency.code().into(),
                amount_commitment: v(&s.amount_commitment.0),
                due_date: s.due_date,
                proof: s.proof.clone(),
            }),
            TxBody::AcceptInvoice { invoice } => {
                Kind::AcceptInvoice(InvoiceRef { invoice: v(&invoice.0 .0) })
            }
            TxBody::DisputeInvoice { invoice, reason } => Kind::DisputeInvoice(DisputeInvoice {
                invoice: v(&invoice.0 .0),
                reason: v(&reason.0),
            }),
            TxBody::PaymentNotice { invoice, paid_at, payment_ref } => {
                Kind::PaymentNotice(PaymentNotice {
                    invoice: v(&invoice.0 .0),
                    paid_at: *paid_at,
                    payment_ref: v(&payment_ref.0),
                })
            }
            TxBody::PaymentReceipt { invoice, payment_ref } => {
                Kind::PaymentReceipt(PaymentReceipt {
                    invoice: v(&invoice.0 .0),
                    payment_ref: v(&payment_ref.0),
                })
            }
            TxBody::Pledge { nullifier } => {
                Kind::Pledge(NullifierRef { nullifier: v(&nullifier.0) })
            }
            TxBody::ReleasePledge { nullifier } => {
                Kind::ReleasePledge(NullifierRef { nullifier: v(&nullifier.0) })
            }
            TxBody::OpenNettingCycle { currency, cutoff, participants } => {
                Kind::OpenNettingCycle(OpenNettingCycle {
                    currency: currency.code().into(),
                    cutoff: *cutoff,
                    participants: participants.iter().map(|p| v(&p.0)).collect(),
                })
            }
            TxBody::JoinNettingCycle { cycle } => {
                Kind::JoinNettingCycle(CycleRef { cycle: *cycle })
            }
            TxBody::SubmitNetOpening { cycle, amount, blinding } => {
                Kind::SubmitNetOpening(SubmitNetOpening {
                    cycle: *cycle,
                    amount: *amount,
                    blinding: v(&blinding.0),
                })
            }
            TxBody::ConfirmSettlement { cycle, instruction } => {
                Kind::ConfirmSettlement(ConfirmSettlement {
                    cycle: *cycle,
                    instruction: *instruction,
                })
            }
            TxBody::CancelNettingCycle { cycle } => {
                Kind::CancelNettingCycle(CycleRef { cycle: *cycle })
            }
            TxBody::IssueCredential { member, commitment } => {
                Kind::IssueCredential(IssueCredential {
                    member: v(&member.0),
                    commitment: v(&commitment.0),
                })
            }
            TxBody::RevokeCredential { leaf } => {
                Kind::RevokeCredential(RevokeCredential { leaf: *leaf })
            }
            TxBody::PublishEmbargoList(list) => Kind::PublishEmbargoList(PublishEmbargoList {
                version: list.version(),
                countries: list.countries().iter().map(|&c| u32::from(c)).collect(),
            }),
            TxBody::SubmitComplianceMap { map } => {
                Kind::SubmitComplianceMap(SubmitComplianceMap { map: map.clone() })
            }
        };
        Body { kind: Some(kind) }
    }

    /// The transaction body it asks for; each malformed field named.
    pub fn to_tx_body(&self) -> Result<TxBody> {
        let kind =
            self.kind.as_ref().ok_or_else(|| Error::MalformedTx("a body of no kind".into()))?;
        Ok(match kind {
            Kind::AdmitMember(m) => TxBody::AdmitMember {
                member: party("member", &m.member)?,
                role: Role::from_name(&m.role).ok_or_else(|| Error::InvalidField {
                    field: "role",
                    reason: format!(
                        "{:?}: admin, member, financier, regulator or operator",
                        m.role
                    ),
                })?,
            },
            Kind::RemoveMember(m) => TxBody::RemoveMember { member: party("member", &m.member)? },
            Kind::PublishConformance(c) => TxBody::PublishConformance(ConformanceDeclaration {
                document_hash: hash("document_hash", &c.document_hash)?,
                statement: c.statement.clone(),
            }),
            Kind::AnchorHead(a) => TxBody::AnchorHead {
                bilateral: hash("bilateral", &a.bilateral)?,
                seq: a.seq,
                head: hash("head", &a.head)?,
            },
            Kind::SubmitInvoice(s) => TxBody::SubmitInvoice(InvoiceSubmission {
                invoice: InvoiceId(hash("invoice", &s.invoice)?),
                bilateral: hash("bilateral", &s.bilateral)?,
                interval: IntervalId(s.interval.clone()),
                payer: party("payer", &s.payer)?,
                payee: party("payee", &s.payee)?,
                currency: currency(&s.currency)?,
                amount_commitment: AmountCommitment(bytes32(
                    "amount_commitment",
                    &s.amount_commitment,
                )?),
                due_date: s.due_date,
                proof: s.proof.clone(),
            }),
            Kind::AcceptInvoice(i) => {
                TxBody::AcceptInvoice { invoice: InvoiceId(hash("invoice", &i.invoice)?) }
            }
            Kind::DisputeInvoice(d) => TxBody::DisputeInvoice {
                invoice: InvoiceId(hash("invoice", &d.invoice)?),
                reason: hash("reason", &d.reason)?,
            },
            Kind::PaymentNotice(n) => TxBody::PaymentNotice {
                invoice: InvoiceId(hash("invoice", &n.invoice)?),
                paid_at: n.paid_at,
                payment_ref: hash("payment_ref", &n.payment_ref)?,
            },
            Kind::PaymentReceipt(r) => TxBody::PaymentReceipt {
                invoice: InvoiceId(hash("invoice", &r.invoice)?),
                payment_ref: hash("payment_ref", &r.payment_ref)?,
            },
            Kind::Pledge(p) => {
                TxBody::Pledge { nullifier: Nullifier(bytes32("nullifier", &p.nullifier)?) }
            }
            Kind::ReleasePledge(p) => {
                TxBody::ReleasePledge { nullifier: Nullifier(bytes32("nullifier", &p.nullifier)?) }
            }
            Kind::OpenNettingCycle(o) => TxBody::OpenNettingCycle {
                currency: currency(&o.currency)?,
                cutoff: o.cutoff,
                participants: o
                    .participants
                    .iter()
                    .map(|p| party("participants", p))
                    .collect::<Result<_>>()?,
            },
            Kind::JoinNettingCycle(c) => TxBody::JoinNettingCycle { cycle: c.cycle },
            Kind::SubmitNetOpening(o) => TxBody::SubmitNetOpening {
                cycle: o.cycle,
                amount: o.amount,
                blinding: Blinding(bytes32("blinding", &o.blinding)?),
            },
            Kind::ConfirmSettlement(c) => {
                TxBody::ConfirmSettlement { cycle: c.cycle, instruction: c.instruction }
            }
            Kind::CancelNettingCycle(c) => TxBody::CancelNettingCycle { cycle: c.cycle },
            Kind::IssueCredential(c) => TxBody::IssueCredential {
                member: party("member", &c.member)?,
                commitment: hash("commitment", &c.commitment)?,
            },
            Kind::RevokeCredential(r) => TxBody::RevokeCredential { leaf: r.leaf },
            Kind::PublishEmbargoList(l) => {
                let countries = l
                    .countries
                    .iter()
                    .map(|&c| {
                        u16::try_from(c).map_err(|_| Error::InvalidField {
                            field: "countries",
                            reason: format!("{c} is not an ISO 3166 numeric code"),
                        })
                    })
                    .collect::<Result<Vec<u16>>>()?;
                TxBody::PublishEmbargoList(EmbargoList::new(l.version, countries).map_err(|e| {
                    Error::InvalidField { field: "countries", reason: e.to_string() }
                })?)
            }
            Kind::SubmitComplianceMap(m) => TxBody::SubmitComplianceMap { map: m.map.clone() },
        })
    }
}

/// The message a portable transaction's signature covers (module docs).
pub fn signed_message(registry: &Hash32, sender: &PartyId, nonce: u64, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(72 + body.len());
    m.extend_from_slice(&registry.0);
    m.extend_from_slice(&sender.0);
    m.extend_from_slice(&nonce.to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// Decodes `bytes` as `M`, refusing any encoding but the canonical one.
pub(crate) fn decode_canonical<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M> {
    let m = M::decode(bytes).map_err(|e| Error::MalformedTx(format!("{what}: {e}")))?;
    if m.encode_to_vec() != bytes {
        return Err(Error::MalformedTx(format!(
            "{what}: not the canonical encoding (fields in number order, no defaults, no \
             unknown fields)"
        )));
    }
    Ok(m)
}

/// One body of each of the twenty kinds, with every field set: what this crate, the
/// generated protobuf types and other languages' clients check their encoders against.
pub fn examples() -> Vec<TxBody> {
    let h = |n: u8| Hash32([n; 32]);
    let p = |n: u8| PartyId([n; 32]);
    let eur = Currency::EUR;
    vec![
        TxBody::AdmitMember { member: p(1), role: Role::Financier },
        TxBody::RemoveMember { member: p(2) },
        TxBody::PublishConformance(ConformanceDeclaration {
            document_hash: h(3),
            statement: "MEF 114 R1-R73".into(),
        }),
        TxBody::AnchorHead { bilateral: h(4), seq: 5, head: h(6) },
        TxBody::SubmitInvoice(InvoiceSubmission {
            invoice: InvoiceId(h(7)),
            bilateral: h(8),
            interval: IntervalId("2026-11".into()),
            payer: p(9),
            payee: p(10),
            currency: eur,
            amount_commitment: AmountCommitment([11; 32]),
            due_date: 1_790_000_000,
            proof: vec![1, 2, 3],
        }),
        TxBody::AcceptInvoice { invoice: InvoiceId(h(12)) },
        TxBody::DisputeInvoice { invoice: InvoiceId(h(13)), reason: h(14) },
        TxBody::PaymentNotice {
            invoice: InvoiceId(h(15)),
            paid_at: 1_790_000_001,
            payment_ref: h(16),
        },
        TxBody::PaymentReceipt { invoice: InvoiceId(h(17)), payment_ref: h(18) },
        TxBody::Pledge { nullifier: Nullifier([19; 32]) },
        TxBody::ReleasePledge { nullifier: Nullifier([20; 32]) },
        TxBody::OpenNettingCycle {
            currency: eur,
            cutoff: 1_790_000_002,
            participants: vec![p(21), p(22)],
        },
        TxBody::JoinNettingCycle { cycle: 23 },
        TxBody::SubmitNetOpening { cycle: 24, amount: -25_000_000, blinding: Blinding([26; 32]) },
        TxBody::ConfirmSettlement { cycle: 27, instruction: 28 },
        TxBody::CancelNettingCycle { cycle: 29 },
        TxBody::IssueCredential { member: p(30), commitment: h(31) },
        TxBody::RevokeCredential { leaf: 32 },
        TxBody::PublishEmbargoList(
            EmbargoList::new(2, vec![408, 364, 760, 192]).unwrap_or_else(|_| unreachable!()),
        ),
        TxBody::SubmitComplianceMap { map: vec![33; 40] },
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tx::SignedTx;
    use omni_core::Keypair;

    #[test]
    fn every_kind_converts_both_ways_and_round_trips_signed() {
        let key = Keypair::from_seed([7; 32]);
        let registry = Hash32::digest("test", b"registry");
        let kinds: std::collections::BTreeSet<&str> = examples().iter().map(TxBody::kind).collect();
        assert_eq!(kinds.len(), 20, "one example of each kind");
        for (nonce, body) in examples().into_iter().enumerate() {
            assert_eq!(Body::of(&body).to_tx_body().unwrap(), body);
            let tx = SignedTx::sign_portable(&key, &registry, nonce as u64, body.clone());
            tx.verify_signature(&registry).unwrap();
            let bytes = tx.to_bytes();
            assert_eq!(bytes[0], PORTABLE_FORMAT);
            let back = SignedTx::from_bytes(&bytes).unwrap();
            assert_eq!(back, tx);
            back.verify_signature(&registry).unwrap();
            assert_eq!(back.hash(), tx.hash());
            // The native form of the same body is another transaction, signed differently.
            let native = SignedTx::sign(&key, &registry, nonce as u64, body);
            assert_ne!(native.to_bytes(), bytes);
        }
    }

    #[test]
    fn a_portable_signature_binds_registry_sender_nonce_and_body() {
        let key = Keypair::from_seed([7; 32]);
        let registry = Hash32::digest("test", b"registry");
        let tx = SignedTx::sign_portable(&key, &registry, 4, TxBody::JoinNettingCycle { cycle: 1 });
        assert!(tx.verify_signature(&Hash32::digest("test", b"other")).is_err());
        let mut renumbered = tx.clone();
        renumbered.nonce = 5;
        assert!(renumbered.verify_signature(&registry).is_err());
        let mut other_body = tx.clone();
        other_body.portable =
            Some(Body::of(&TxBody::JoinNettingCycle { cycle: 2 }).encode_to_vec());
        assert!(other_body.verify_signature(&registry).is_err());
        let mut other_sender = tx.clone();
        other_sender.sender = Keypair::from_seed([8; 32]).party();
        assert!(other_sender.verify_signature(&registry).is_err());
    }

    #[test]
    fn only_the_canonical_encoding_is_read() {
        let key = Keypair::from_seed([7; 32]);
        let registry = Hash32::digest("test", b"registry");
        let tx = SignedTx::sign_portable(&key, &registry, 0, TxBody::RevokeCredential { leaf: 3 });
        let bytes = tx.to_bytes();
        // An unknown field appended to the transaction (field 9, varint 1).
        let mut extended = bytes.clone();
        extended.extend([0x48, 0x01]);
        let err = SignedTx::from_bytes(&extended).unwrap_err().to_string();
        assert!(err.contains("canonical"), "{err}");
        // The nonce written as a non-minimal varint (0x80 0x00 for 0).
        let t = Transaction { nonce: 0, ..Transaction::decode(&bytes[1..]).unwrap() };
        let mut body = vec![0x0a, 32];
        body.extend(&t.sender);
        body.extend([0x10, 0x80, 0x00]);
        body.extend([0x1a, t.body.len() as u8]);
        body.extend(&t.body);
        body.extend([0x22, 64]);
        body.extend(&t.signature);
        let mut padded = vec![PORTABLE_FORMAT];
        padded.extend(body);
        assert!(SignedTx::from_bytes(&padded).unwrap_err().to_string().contains("canonical"));
        // A body of no kind, a short key, a bad role.
        for bad in [
            Body { kind: None },
            Body { kind: Some(Kind::RemoveMember(RemoveMember { member: vec![1; 31] })) },
            Body {
                kind: Some(Kind::AdmitMember(AdmitMember {
                    member: vec![1; 32],
                    role: "king".into(),
                })),
            },
        ] {
            let t = Transaction {
                sender: key.party().0.to_vec(),
                nonce: 0,
                body: bad.encode_to_vec(),
                signature: vec![0; 64],
            };
            let mut b = vec![PORTABLE_FORMAT];
            b.extend(t.encode_to_vec());
            assert!(SignedTx::from_bytes(&b).is_err());
        }
    }
}
