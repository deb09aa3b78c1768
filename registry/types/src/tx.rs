//! Registry transactions: what members submit, how it is signed, how it travels.
//!
//! A [`SignedTx`] is `(sender, nonce, body, signature)`. The signature covers the
//! canonical bytes of `(registry id, sender, nonce, body)` under the domain tag
//! [`TX_SIGNING_TAG`]: the registry id (the hash of the registry's genesis) binds a
//! transaction to one registry, so it cannot be replayed on another one that admitted the
//! same key, and the nonce binds it to one position in its sender's sequence, so it
//! cannot be replayed on this one.
//!
//! Transactions travel as canonical bytes ([`SignedTx::to_bytes`]), at most
//! [`MAX_TX_BYTES`] long; that is what the gRPC `Submit` call and a block carry.

use crate::error::{Error, Result};
pub use crate::ids::{AmountCommitment, Blinding, CycleId, InvoiceId, Nullifier, Role};
pub use omni_core::embargo::EmbargoList;
use omni_core::{Currency, Hash32, IntervalId, Keypair, PartyId, Signature};
use serde::{Deserialize, Serialize};

/// Domain tag of registry transaction signatures.
pub const TX_SIGNING_TAG: &str = "omni/registry/tx";

/// Largest accepted transaction, in canonical bytes. A rating-proof bundle of a large
/// invoice carries one Groth16 proof per chunk (a few hundred bytes each), so 1 MiB leaves
/// room for thousands of chunks while bounding what one transaction can cost a validator.
pub const MAX_TX_BYTES: usize = 1 << 20;

/// Longest conformance statement a member may publish, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 1024;

/// Longest billing-interval id, in bytes (as in [`omni_core::BillingInterval`]).
pub const MAX_INTERVAL_ID_BYTES: usize = 64;

/// Most participants of one netting cycle. The cycle is one state entry that every join,
/// opening and confirmation rewrites, so it is kept to the size of a real clearing group.
pub const MAX_CYCLE_PARTICIPANTS: usize = 1024;

/// How far ahead of a sender's next nonce the mempool admits a transaction: a member may
/// have this many in flight; one further ahead could only wait, holding a place in every
/// validator's mempool, for transactions that may never come.
pub const MAX_NONCE_AHEAD: u64 = 256;

/// Most credits one invoice can carry: each is a credit note or the final invoice of a
/// dispute, so a real invoice has a handful.
pub const MAX_CREDITS_PER_INVOICE: usize = 64;

/// A MEF 114 conformance declaration (R13): the hash of the declaration document and a
/// short statement of what the member claims to implement.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConformanceDeclaration {
    /// SHA-256 (or other agreed hash) of the full declaration document.
    pub document_hash: Hash32,
    /// A short human-readable statement, at most [`MAX_STATEMENT_BYTES`].
    pub statement: String,
}

/// The public part of an invoice the seller submits with its rating proof.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvoiceSubmission {
    /// The invoice's identifier.
    pub invoice: InvoiceId,
    /// The bilateral's pseudonym, a public input of the rating proof.
    pub bilateral: Hash32,
    /// The billing interval (R58), a public input of the rating proof.
    pub interval: IntervalId,
    /// The buyer, who owes the amount.
    pub payer: PartyId,
    /// The seller, who is owed the amount and submits the invoice.
    pub payee: PartyId,
    /// Currency of the committed amount; netting adds up only one currency at a time.
    pub currency: Currency,
    /// Pedersen commitment to the amount in micro-units, a public input of the proof.
    pub amount_commitment: AmountCommitment,
    /// Payment due date, UTC seconds.
    pub due_date: u64,
    /// The rating-proof bundle (the rating-proof issue's versioned format).
    pub proof: Vec<u8>,
}

/// What a transaction asks the registry to do.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum TxBody {
    /// Admit a member with a role (admin only; R53).
    AdmitMember {
        /// The new member's key.
        member: PartyId,
        /// Its role.
        role: Role,
    },
    /// Remove a member (admin only). The last admin cannot be removed.
    RemoveMember {
        /// The member to remove.
        member: PartyId,
    },
    /// Publish the sender's MEF 114 conformance declaration (any member; R13).
    PublishConformance(ConformanceDeclaration),
    /// Anchor the sender's view of a bilateral's head (R24): either party may do it alone.
    AnchorHead {
        /// The bilateral's id (hash of its genesis entry).
        bilateral: Hash32,
        /// Sequence number of the head entry.
        seq: u64,
        /// Hash of the head entry.
        head: Hash32,
    },
    /// Submit an invoice with its rating proof (the payee).
    SubmitInvoice(InvoiceSubmission),
    /// The payer accepts an invoice.
    AcceptInvoice {
        /// The invoice.
        invoice: InvoiceId,
    },
    /// The payer disputes an invoice; the dispute itself is resolved on the bilateral.
    DisputeInvoice {
        /// The invoice.
        invoice: InvoiceId,
        /// Hash of the dispute entry on the bilateral ledger.
        reason: Hash32,
    },
    /// The payer states that it paid (R87).
    PaymentNotice {
        /// The invoice.
        invoice: InvoiceId,
        /// Value date of the payment, UTC seconds.
        paid_at: u64,
        /// Hash of the payment record (TMF676 payment) both parties hold.
        payment_ref: Hash32,
    },
    /// The payee confirms the payment its payer noticed (R88–R89).
    PaymentReceipt {
        /// The invoice.
        invoice: InvoiceId,
        /// Must equal the notice's `payment_ref`.
        payment_ref: Hash32,
    },
    /// A financier pledges an invoice it checked, under its nullifier.
    Pledge {
        /// The nullifier computed from the invoice commitment's opening.
        nullifier: Nullifier,
    },
    /// The financier that pledged releases the pledge (e.g. on payment).
    ReleasePledge {
        /// The pledge's nullifier.
        nullifier: Nullifier,
    },
    /// Open a netting cycle among named members in one currency.
    OpenNettingCycle {
        /// The currency netted.
        currency: Currency,
        /// Accepted invoices due at or before this time (UTC seconds) are netted.
        cutoff: u64,
        /// The members invited; each must join. Includes the sender.
        participants: Vec<PartyId>,
    },
    /// A participant joins (consents to) a netting cycle.
    JoinNettingCycle {
        /// The cycle.
        cycle: CycleId,
    },
    /// A participant opens its net position: the amount and the blinding of the sum of its
    /// receivable minus payable commitments in the cycle.
    SubmitNetOpening {
        /// The cycle.
        cycle: CycleId,
        /// Net position in micro-units (positive: the member is owed).
        amount: i64,
        /// Sum of receivable blindings minus sum of payable blindings.
        blinding: Blinding,
    },
    /// The receiving side of a settlement instruction confirms the transfer arrived.
    ConfirmSettlement {
        /// The cycle.
        cycle: CycleId,
        /// Index of the instruction in the cycle's settlement.
        instruction: u32,
    },
    /// The member that opened a cycle cancels it before settlement is instructed,
    /// releasing its invoices.
    CancelNettingCycle {
        /// The cycle.
        cycle: CycleId,
    },
    /// The membership administrator puts a member's jurisdiction credential commitment in
    /// the credential tree (issue 5; the credential itself stays with the member).
    IssueCredential {
        /// The member the credential was issued to.
        member: PartyId,
        /// The credential's commitment (canonical Pallas base field bytes).
        commitment: Hash32,
    },
    /// The membership administrator revokes a credential (empties its leaf).
    RevokeCredential {
        /// The credential's leaf index.
        leaf: u64,
    },
    /// A regulator publishes a new version of the embargo list.
    PublishEmbargoList(EmbargoList),
    /// A seller submits the supply-chain map of an order (hop proofs; MEF 114 R15).
    SubmitComplianceMap {
        /// The map's canonical encoding (`ComplianceMap::to_bytes`).
        map: Vec<u8>,
    },
    /// The payee records a credit against an invoice that both parties agreed on the
    /// bilateral: a credit note, or a final invoice below the proven amount (MEF 114
    /// R78–R81). The amount due becomes the proven commitment minus the credits; the
    /// payer accepts the credited amount anew.
    CreditInvoice {
        /// The invoice.
        invoice: InvoiceId,
        /// Pedersen commitment to the credited amount (micro-units).
        credit: AmountCommitment,
        /// Hash of the bilateral entry that agreed it; an invoice is credited once per
        /// entry.
        reference: Hash32,
    },
}

impl TxBody {
    /// Short name of the transaction kind, for logs, errors and the API.
    pub fn kind(&self) -> &'static str {
        match self {
            TxBody::AdmitMember { .. } => "AdmitMember",
            TxBody::RemoveMember { .. } => "RemoveMember",
            TxBody::PublishConformance(_) => "PublishConformance",
            TxBody::AnchorHead { .. } => "AnchorHead",
            TxBody::SubmitInvoice(_) => "SubmitInvoice",
            TxBody::AcceptInvoice { .. } => "AcceptInvoice",
            TxBody::DisputeInvoice { .. } => "DisputeInvoice",
            TxBody::PaymentNotice { .. } => "PaymentNotice",
            TxBody::PaymentReceipt { .. } => "PaymentReceipt",
            TxBody::Pledge { .. } => "Pledge",
            TxBody::ReleasePledge { .. } => "ReleasePledge",
            TxBody::OpenNettingCycle { .. } => "OpenNettingCycle",
            TxBody::JoinNettingCycle { .. } => "JoinNettingCycle",
            TxBody::SubmitNetOpening { .. } => "SubmitNetOpening",
            TxBody::ConfirmSettlement { .. } => "ConfirmSettlement",
            TxBody::CancelNettingCycle { .. } => "CancelNettingCycle",
            TxBody::IssueCredential { .. } => "IssueCredential",
            TxBody::RevokeCredential { .. } => "RevokeCredential",
            TxBody::PublishEmbargoList(_) => "PublishEmbargoList",
            TxBody::SubmitComplianceMap { .. } => "SubmitComplianceMap",
            TxBody::CreditInvoice { .. } => "CreditInvoice",
        }
    }
}

/// A signed registry transaction.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignedTx {
    /// The sender's key; must be a member with the role the body requires.
    pub sender: PartyId,
    /// The sender's next nonce (0 for its first transaction).
    pub nonce: u64,
    /// What to do.
    pub body: TxBody,
    /// Ed25519 signature by `sender` over [`SignedTx::signing_bytes`], or for a portable
    /// transaction over [`crate::portable::signed_message`].
    pub signature: Signature,
    /// For a portable transaction ([`crate::portable`]): the protobuf `Body` bytes it was
    /// signed as. Not part of the native encoding.
    #[serde(skip)]
    pub portable: Option<Vec<u8>>,
}

/// Hash of a transaction's canonical bytes: how clients and blocks refer to it.
pub type TxHash = Hash32;

impl SignedTx {
    /// The bytes a sender signs: canonical `(registry, sender, nonce, body)`.
    pub fn signing_bytes(
        registry: &Hash32,
        sender: &PartyId,
        nonce: u64,
        body: &TxBody,
    ) -> Vec<u8> {
        omni_core::encode(&(registry, sender, nonce, body))
    }

    /// Signs `body` as `key`'s transaction number `nonce` on registry `registry`.
    pub fn sign(key: &Keypair, registry: &Hash32, nonce: u64, body: TxBody) -> SignedTx {
        let sender = key.party();
        let signature =
            key.sign(TX_SIGNING_TAG, &Self::signing_bytes(registry, &sender, nonce, &body));
        SignedTx { sender, nonce, body, signature, portable: None }
    }

    /// Signs `body` in the portable form ([`crate::portable`]), as a client in another
    /// language would.
    pub fn sign_portable(key: &Keypair, registry: &Hash32, nonce: u64, body: TxBody) -> SignedTx {
        use prost::Message;
        let sender = key.party();
        let bytes = body.to_portable().encode_to_vec();
        let message = crate::portable::signed_message(registry, &sender, nonce, &bytes);
        let signature = key.sign(crate::portable::PORTABLE_SIGNING_TAG, &message);
        SignedTx { sender, nonce, body, signature, portable: Some(bytes) }
    }

    /// Checks the signature against the sender's key for registry `registry`.
    pub fn verify_signature(&self, registry: &Hash32) -> Result<()> {
        let (tag, bytes) = match &self.portable {
            Some(body) => (
                crate::portable::PORTABLE_SIGNING_TAG,
                crate::portable::signed_message(registry, &self.sender, self.nonce, body),
            ),
            None => (
                TX_SIGNING_TAG,
                Self::signing_bytes(registry, &self.sender, self.nonce, &self.body),
            ),
        };
        self.sender
            .verify(tag, &bytes, &self.signature)
            .map_err(|e| Error::BadSignature { sender: self.sender, reason: e.to_string() })
    }

    /// Canonical bytes, as submitted and stored in blocks: the native encoding, or `0x02 ‖`
    /// the portable `Transaction`.
    pub fn to_bytes(&self) -> Vec<u8> {
        use prost::Message;
        match &self.portable {
            None => omni_core::encode(self),
            Some(body) => {
                let tx = crate::portable::Transaction {
                    sender: self.sender.0.to_vec(),
                    nonce: self.nonce,
                    body: body.clone(),
                    signature: self.signature.0.to_vec(),
                };
                let mut out = vec![crate::portable::PORTABLE_FORMAT];
                out.extend(tx.encode_to_vec());
                out
            }
        }
    }

    /// Decodes canonical bytes (native, or portable after its format byte), refusing
    /// oversize input, unknown versions, trailing bytes and non-canonical encodings.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedTx> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(Error::TxTooLarge { size: bytes.len(), max: MAX_TX_BYTES });
        }
        match bytes.split_first() {
            Some((&crate::portable::PORTABLE_FORMAT, rest)) => Self::from_portable(rest),
            _ => {
                omni_core::decode("SignedTx", bytes).map_err(|e| Error::MalformedTx(e.to_string()))
            }
        }
    }

    /// Decodes a portable `Transaction` (without the format byte).
    pub fn from_portable(bytes: &[u8]) -> Result<SignedTx> {
        use crate::portable::{decode_canonical, Body, Transaction};
        let tx: Transaction = decode_canonical("Transaction", bytes)?;
        let body: Body = decode_canonical("Transaction.body", &tx.body)?;
        let sender: [u8; 32] =
            tx.sender.as_slice().try_into().map_err(|_| Error::InvalidField {
                field: "sender",
                reason: format!("{} bytes, expected 32", tx.sender.len()),
            })?;
        let signature: [u8; 64] =
            tx.signature.as_slice().try_into().map_err(|_| Error::InvalidField {
                field: "signature",
                reason: format!("{} bytes, expected 64", tx.signature.len()),
            })?;
        Ok(SignedTx {
            sender: PartyId(sender),
            nonce: tx.nonce,
            body: TxBody::from_portable(&body)?,
            signature: Signature(signature),
            portable: Some(tx.body),
        })
    }

    /// Hash of `bytes`, the transaction's canonical encoding.
    pub fn hash_bytes(bytes: &[u8]) -> TxHash {
        Hash32::digest("omni/registry/tx-hash", bytes)
    }

    /// Hash of this transaction.
    pub fn hash(&self) -> TxHash {
        Self::hash_bytes(&self.to_bytes())
    }
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

impl TxBody {
    /// Its portable form ([`crate::portable`]).
    pub fn to_portable(&self) -> crate::portable::Body {
        use crate::portable::*;
        let body = self;
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
            TxBody::CreditInvoice { invoice, credit, reference } => {
                Kind::CreditInvoice(CreditInvoice {
                    invoice: v(&invoice.0 .0),
                    credit: v(&credit.0),
                    reference: v(&reference.0),
                })
            }
        };
        Body { kind: Some(kind) }
    }

    /// The body a portable `Body` asks for; each malformed field named.
    pub fn from_portable(portable: &crate::portable::Body) -> Result<TxBody> {
        use crate::portable::*;
        let kind =
            portable.kind.as_ref().ok_or_else(|| Error::MalformedTx("a body of no kind".into()))?;
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
            Kind::CreditInvoice(c) => TxBody::CreditInvoice {
                invoice: InvoiceId(hash("invoice", &c.invoice)?),
                credit: AmountCommitment(bytes32("credit", &c.credit)?),
                reference: hash("reference", &c.reference)?,
            },
        })
    }
}

impl TxBody {
    /// One body of each of the twenty-one kinds, with every field set: what this crate, the
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
            TxBody::SubmitNetOpening {
                cycle: 24,
                amount: -25_000_000,
                blinding: Blinding([26; 32]),
            },
            TxBody::ConfirmSettlement { cycle: 27, instruction: 28 },
            TxBody::CancelNettingCycle { cycle: 29 },
            TxBody::IssueCredential { member: p(30), commitment: h(31) },
            TxBody::RevokeCredential { leaf: 32 },
            TxBody::PublishEmbargoList(
                EmbargoList::new(2, vec![408, 364, 760, 192]).unwrap_or_else(|_| unreachable!()),
            ),
            TxBody::SubmitComplianceMap { map: vec![33; 40] },
            TxBody::CreditInvoice {
                invoice: InvoiceId(h(34)),
                credit: AmountCommitment([35; 32]),
                reference: h(36),
            },
        ]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod portable_tests {
    use super::*;
    use crate::portable::*;
    use prost::Message;

    #[test]
    fn every_kind_converts_both_ways_and_round_trips_signed() {
        let key = Keypair::from_seed([7; 32]);
        let registry = Hash32::digest("test", b"registry");
        let kinds: std::collections::BTreeSet<&str> =
            TxBody::examples().iter().map(TxBody::kind).collect();
        assert_eq!(kinds.len(), 21, "one example of each kind");
        for (nonce, body) in TxBody::examples().into_iter().enumerate() {
            assert_eq!(TxBody::from_portable(&body.to_portable()).unwrap(), body);
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
            Some(TxBody::JoinNettingCycle { cycle: 2 }.to_portable().encode_to_vec());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Keypair, Hash32, SignedTx) {
        let key = Keypair::from_seed([5; 32]);
        let registry = Hash32::digest("test", b"registry");
        let tx = SignedTx::sign(
            &key,
            &registry,
            3,
            TxBody::AnchorHead {
                bilateral: Hash32::digest("test", b"bilateral"),
                seq: 9,
                head: Hash32::digest("test", b"head"),
            },
        );
        (key, registry, tx)
    }

    #[test]
    fn signature_binds_registry_nonce_and_body() {
        let (_, registry, tx) = sample();
        tx.verify_signature(&registry).unwrap();
        let other_registry = Hash32::digest("test", b"other");
        assert!(matches!(tx.verify_signature(&other_registry), Err(Error::BadSignature { .. })));
        let mut renumbered = tx.clone();
        renumbered.nonce = 4;
        assert!(renumbered.verify_signature(&registry).is_err());
        let mut rewritten = tx.clone();
        rewritten.body = TxBody::JoinNettingCycle { cycle: 1 };
        assert!(rewritten.verify_signature(&registry).is_err());
        let mut unsigned = tx;
        unsigned.signature = Signature([0; 64]);
        assert!(unsigned.verify_signature(&registry).is_err());
    }

    #[test]
    fn bytes_round_trip_and_refusals() {
        let (_, _, tx) = sample();
        let bytes = tx.to_bytes();
        assert_eq!(SignedTx::from_bytes(&bytes).unwrap(), tx);
        assert!(matches!(
            SignedTx::from_bytes(&bytes[..bytes.len() - 1]),
            Err(Error::MalformedTx(_))
        ));
        assert!(matches!(SignedTx::from_bytes(b"\x01garbage"), Err(Error::MalformedTx(_))));
        assert!(matches!(SignedTx::from_bytes(&[]), Err(Error::MalformedTx(_))));
        assert!(matches!(
            SignedTx::from_bytes(&vec![1u8; MAX_TX_BYTES + 1]),
            Err(Error::TxTooLarge { .. })
        ));
    }

    #[test]
    fn encoding_is_pinned() {
        // A change of the transaction format changes every signature: this must be seen.
        let (_, _, tx) = sample();
        assert_eq!(
            tx.hash().to_hex(),
            "4bd74a2927a4799c3658786259f7fa55c38085c4da051aa5569f729ee4b6ac99"
        );
    }

    #[test]
    fn embargo_list_encoding_is_pinned() {
        // The list moved from omni-circuits to here; its wire format must not move with it.
        let key = Keypair::from_seed([6; 32]);
        let registry = Hash32::digest("test", b"registry");
        let list = EmbargoList::new(2, vec![408, 364]).unwrap();
        let tx = SignedTx::sign(&key, &registry, 0, TxBody::PublishEmbargoList(list));
        assert_eq!(SignedTx::from_bytes(&tx.to_bytes()).unwrap(), tx);
        assert_eq!(
            tx.hash().to_hex(),
            "3ca3ee1c7fb23a2aad7240a2e4b3e10db89f1a6770c9601e7ca9e2dbec8ea620"
        );
    }

    #[test]
    fn role_names_round_trip() {
        for r in [Role::Admin, Role::Member, Role::Regulator, Role::Financier, Role::Operator] {
            assert_eq!(Role::from_name(r.name()), Some(r));
        }
        assert_eq!(Role::from_name("root"), None);
    }
}
