//! The omni-lateral registry's transaction wire format (MEF 114 Smart Omni-Lateral):
//! what a member needs to build, sign and encode a registry transaction.
//!
//! The registry (`omni-registry`) executes these transactions; a member's node (the
//! registry client of `omni-node`) builds and signs them. Both sides take the format from
//! here, so neither depends on the other and a transaction's bytes, hash and signature are
//! the same wherever they are computed.
//!
//! * [`SignedTx`] — `(sender, nonce, body, signature)`, signed under [`TX_SIGNING_TAG`]
//!   over the canonical bytes of `(registry id, sender, nonce, body)`; its canonical bytes
//!   ([`SignedTx::to_bytes`], at most [`MAX_TX_BYTES`]) are what the gRPC `Submit` call
//!   and a block carry, and [`SignedTx::hash`] is how clients and blocks refer to it.
//! * [`TxBody`] — what a transaction asks: membership, anchors, invoices with their rating
//!   proofs, acceptances, disputes, payment attestations, pledges, netting, credentials,
//!   embargo lists ([`EmbargoList`]) and supply-chain maps.
//! * the identifiers and values they carry: [`Role`], [`InvoiceId`], [`Nullifier`],
//!   [`AmountCommitment`], [`Blinding`], [`CycleId`], [`ConformanceDeclaration`],
//!   [`InvoiceSubmission`].
//!
//! Only what can be checked without the registry's state is checked here (encoding,
//! size, signature, the shape of an embargo list). Membership, roles, nonces, proofs and
//! every business rule are the registry's.

mod embargo;
mod tx;

pub use embargo::{EmbargoList, EmbargoListError, EMBARGO_SLOTS, MAX_COUNTRY_CODE};
pub use tx::{
    AmountCommitment, Blinding, ConformanceDeclaration, CycleId, InvoiceId, InvoiceSubmission,
    Nullifier, Role, SignedTx, TxBody, TxHash, MAX_CYCLE_PARTICIPANTS, MAX_INTERVAL_ID_BYTES,
    MAX_STATEMENT_BYTES, MAX_TX_BYTES, TX_SIGNING_TAG,
};

use crate::PartyId;

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Why transaction bytes or a signature were refused before any registry state is
/// consulted. The registry reports the same refusals with the same messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Transaction bytes that do not decode.
    #[error("malformed transaction: {0}")]
    MalformedTx(String),
    /// Transaction bytes longer than the limit.
    #[error("transaction of {size} bytes exceeds the limit of {max} bytes")]
    TxTooLarge {
        /// Size received.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The signature does not verify under the sender's key (or is missing).
    #[error("transaction from {sender} is not validly signed: {reason}")]
    BadSignature {
        /// The claimed sender.
        sender: PartyId,
        /// The verifier's complaint.
        reason: String,
    },
}
