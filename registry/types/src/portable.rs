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
//! its tests that both encode every transaction kind to the same bytes. The conversions to
//! and from the registry's `TxBody` are `TxBody::to_portable` and `TxBody::from_portable`.

use crate::error::{Error, Result};
use omni_core::{Hash32, PartyId};
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

/// What a transaction asks: one of the twenty-one kinds.
#[derive(Clone, PartialEq, Message)]
pub struct Body {
    /// The kind.
    #[prost(
        oneof = "Kind",
        tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21"
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
    #[prost(message, tag = "21")]
    CreditInvoice(CreditInvoice),
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

/// `CreditInvoice`.
#[allow(missing_docs)]
#[derive(Clone, PartialEq, Message)]
pub struct CreditInvoice {
    #[prost(bytes = "vec", tag = "1")]
    pub invoice: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub credit: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub reference: Vec<u8>,
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
