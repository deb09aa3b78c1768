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
        let bytes = crate::portable::Body::of(&body).encode_to_vec();
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
            body: body.to_tx_body()?,
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
