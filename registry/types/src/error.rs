//! The registry's one error type: why a transaction was refused (its rule, in words a
//! member can act on, with a stable code for programs) or why the registry could not
//! serve (storage, encoding, server).

use crate::ids::{CycleId, InvoiceId, Nullifier, Role};
use omni_core::{Hash32, PartyId};

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Why the registry refused something. Every variant names what was wrong with the input.
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
    /// The sender is not a member.
    #[error("{party} is not a member of this registry")]
    NotAMember {
        /// The party.
        party: PartyId,
    },
    /// The sender's role does not allow the transaction.
    #[error("{party} has role {role}; {action} requires role {required}")]
    WrongRole {
        /// The sender.
        party: PartyId,
        /// Its role.
        role: Role,
        /// The transaction kind.
        action: &'static str,
        /// The role required.
        required: Role,
    },
    /// The nonce is not the sender's next one.
    #[error("{sender}: nonce {got} refused, expected {expected}{}", if got < expected { " (replay)" } else { " (gap)" })]
    BadNonce {
        /// The sender.
        sender: PartyId,
        /// The nonce the registry expects.
        expected: u64,
        /// The nonce received.
        got: u64,
    },
    /// The nonce is further ahead of the sender's next one than the mempool waits for.
    #[error(
        "{sender}: nonce {got} is more than {max} ahead of the next nonce {expected}; send the \
         transactions before it first"
    )]
    NonceTooFarAhead {
        /// The sender.
        sender: PartyId,
        /// The nonce the registry expects next.
        expected: u64,
        /// The nonce received.
        got: u64,
        /// [`crate::tx::MAX_NONCE_AHEAD`].
        max: u64,
    },
    /// A field of the transaction is out of its allowed range.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The party is already a member.
    #[error("{party} is already a member")]
    AlreadyMember {
        /// The party.
        party: PartyId,
    },
    /// Removing the last admin would leave nobody able to admit members.
    #[error("{party} is the last admin and cannot be removed")]
    LastAdmin {
        /// The admin.
        party: PartyId,
    },
    /// An anchor that does not advance the sender's last anchor of the bilateral.
    #[error("anchor of bilateral {bilateral} at seq {seq} does not advance past seq {last} anchored before")]
    StaleAnchor {
        /// The bilateral.
        bilateral: Hash32,
        /// Sequence offered.
        seq: u64,
        /// Last sequence this member anchored.
        last: u64,
    },
    /// The rating proof of an invoice did not verify.
    #[error("rating proof of invoice {invoice} refused: {reason}")]
    ProofRejected {
        /// The invoice.
        invoice: InvoiceId,
        /// The verifier's reason.
        reason: String,
    },
    /// An amount commitment that is not a valid point, or the identity.
    #[error("invalid amount commitment: {0}")]
    InvalidCommitment(String),
    /// A blinding that is not a canonical Baby Jubjub scalar.
    #[error("invalid blinding: {0}")]
    InvalidBlinding(String),
    /// An invoice id already on the registry.
    #[error("invoice {0} already submitted")]
    DuplicateInvoice(InvoiceId),
    /// An amount commitment already used by another invoice.
    #[error("amount commitment {commitment} is already used by another invoice")]
    CommitmentReused {
        /// Hex of the commitment.
        commitment: String,
    },
    /// No such invoice.
    #[error("unknown invoice {0}")]
    UnknownInvoice(InvoiceId),
    /// The sender is not the invoice's payer.
    #[error("{sender} is not the payer of invoice {invoice}; only the payer may {action}")]
    NotPayer {
        /// The invoice.
        invoice: InvoiceId,
        /// The sender.
        sender: PartyId,
        /// What was attempted.
        action: &'static str,
    },
    /// The sender is not the invoice's payee.
    #[error("{sender} is not the payee of invoice {invoice}; only the payee may {action}")]
    NotPayee {
        /// The invoice.
        invoice: InvoiceId,
        /// The sender.
        sender: PartyId,
        /// What was attempted.
        action: &'static str,
    },
    /// The invoice's payer is not a carrier member.
    #[error("payer {payer} of invoice {invoice} is not a member with role member")]
    PayerNotMember {
        /// The invoice.
        invoice: InvoiceId,
        /// The payer.
        payer: PartyId,
    },
    /// The transaction does not apply to an invoice in its current status.
    #[error("invoice {invoice} is {status}; cannot {action}")]
    InvoiceStatus {
        /// The invoice.
        invoice: InvoiceId,
        /// Its status.
        status: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// A credit the invoice cannot take.
    #[error("invoice {invoice} cannot be credited: {reason}")]
    CreditRefused {
        /// The invoice.
        invoice: InvoiceId,
        /// Why.
        reason: String,
    },
    /// The invoice is locked in an active netting cycle.
    #[error("invoice {invoice} is being netted in cycle {cycle}; cannot {action}")]
    InvoiceInNettingCycle {
        /// The invoice.
        invoice: InvoiceId,
        /// The cycle.
        cycle: CycleId,
        /// What was attempted.
        action: &'static str,
    },
    /// A payment receipt without a payment notice.
    #[error("invoice {0} has no payment notice to confirm")]
    NoPaymentNotice(InvoiceId),
    /// A payment receipt that names another payment than the notice.
    #[error(
        "payment receipt for invoice {invoice} names payment {receipt}, the notice names {notice}"
    )]
    PaymentRefMismatch {
        /// The invoice.
        invoice: InvoiceId,
        /// The notice's reference.
        notice: Hash32,
        /// The receipt's reference.
        receipt: Hash32,
    },
    /// The nullifier is already pledged. The registry does not know which invoice it is.
    #[error("nullifier {0} is already pledged")]
    AlreadyPledged(Nullifier),
    /// No active pledge under the nullifier.
    #[error("no pledge under nullifier {0}")]
    UnknownPledge(Nullifier),
    /// A pledge can only be released by the financier that holds it.
    #[error("pledge {nullifier} is held by {holder}, not {sender}")]
    NotPledgeHolder {
        /// The pledge.
        nullifier: Nullifier,
        /// The financier that holds it.
        holder: PartyId,
        /// The sender.
        sender: PartyId,
    },
    /// The financier's check of an invoice failed.
    #[error("invoice {invoice} is not pledgeable: {reason}")]
    NotPledgeable {
        /// The invoice.
        invoice: InvoiceId,
        /// Why.
        reason: String,
    },
    /// No such netting cycle.
    #[error("unknown netting cycle {0}")]
    UnknownCycle(CycleId),
    /// The sender does not take part in the cycle (or the instruction is not its).
    #[error("{party} is not {what} of netting cycle {cycle}")]
    NotParticipant {
        /// The cycle.
        cycle: CycleId,
        /// The sender.
        party: PartyId,
        /// The relation required, e.g. "a participant".
        what: &'static str,
    },
    /// The cycle's phase does not allow the transaction.
    #[error("netting cycle {cycle} is {phase}; cannot {action}")]
    CyclePhase {
        /// The cycle.
        cycle: CycleId,
        /// Its phase.
        phase: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// The sender already did this step in the cycle.
    #[error("{party} already {what} in netting cycle {cycle}")]
    AlreadyDone {
        /// The cycle.
        cycle: CycleId,
        /// The sender.
        party: PartyId,
        /// The step, e.g. "joined".
        what: &'static str,
    },
    /// A net opening that does not open the member's homomorphic sum.
    #[error("net opening of {member} in cycle {cycle} does not match the sum of its invoice commitments")]
    OpeningMismatch {
        /// The cycle.
        cycle: CycleId,
        /// The member.
        member: PartyId,
    },
    /// A settlement instruction index beyond the cycle's instructions.
    #[error("netting cycle {cycle} has no settlement instruction {instruction}")]
    UnknownInstruction {
        /// The cycle.
        cycle: CycleId,
        /// The index.
        instruction: u32,
    },
    /// Net positions that do not add up to zero.
    #[error("net positions add up to {sum}, not zero")]
    UnbalancedNets {
        /// Their sum, in micro-units.
        sum: i128,
    },
    /// No credential under that leaf index.
    #[error("no credential at leaf {0}")]
    UnknownCredential(u64),
    /// The credential was revoked.
    #[error("credential at leaf {0} is revoked")]
    CredentialRevoked(u64),
    /// The member already holds a live credential.
    #[error("{member} already holds the credential at leaf {leaf}; revoke it first")]
    CredentialExists {
        /// The member.
        member: PartyId,
        /// Its live credential.
        leaf: u64,
    },
    /// An embargo list whose version does not advance the published one.
    #[error("embargo list version {version} does not advance the current version {current}")]
    EmbargoVersion {
        /// Version offered.
        version: u32,
        /// Current version.
        current: u32,
    },
    /// No embargo list was published yet, so no map can be checked.
    #[error("no embargo list has been published yet")]
    NoEmbargoList,
    /// A map proven against another embargo list version than the current one.
    #[error(
        "map is proven against embargo list version {found}; the current version is {current}"
    )]
    StaleEmbargoList {
        /// The map's version.
        found: u32,
        /// The current version.
        current: u32,
    },
    /// A map proven under a credential root the registry does not accept (a revocation
    /// happened since, or the root was never the registry's).
    #[error("credential root {root} is not accepted: a credential was revoked since, or it was never this registry's root")]
    UnacceptedCredentialRoot {
        /// The map's root.
        root: Hash32,
    },
    /// The order already has a verified map under this embargo list version.
    #[error("order {order} already has a verified map under embargo list version {version}")]
    DuplicateComplianceMap {
        /// The order commitment.
        order: Hash32,
        /// The list version.
        version: u32,
    },
    /// A map whose structure or hop proofs do not verify.
    #[error("supply-chain map of order {order} refused: {reason}")]
    ComplianceMapRejected {
        /// The order commitment.
        order: Hash32,
        /// The verifier's reason.
        reason: String,
    },
    /// A block that does not follow the last executed one.
    #[error("block at height {got} does not follow height {last}")]
    BlockHeight {
        /// Last executed height.
        last: u64,
        /// Height offered.
        got: u64,
    },
    /// A block whose time is before the last block's.
    #[error("block time {got} is before the last block's time {last}")]
    BlockTime {
        /// Last block's time.
        last: u64,
        /// Time offered.
        got: u64,
    },
    /// A genesis that cannot start a registry.
    #[error("invalid genesis: {0}")]
    InvalidGenesis(String),
    /// The data directory holds another registry than the genesis given.
    #[error("data directory holds registry {stored}, not the genesis given ({given})")]
    GenesisMismatch {
        /// The stored registry id.
        stored: Hash32,
        /// The id of the genesis given.
        given: Hash32,
    },
    /// The genesis names rating verifying keys this validator does not run.
    #[error(
        "the genesis names rating verifying keys {genesis}; this validator runs {running}: \
         start it with the keys the genesis names (--rating-keys)"
    )]
    RatingKeysMismatch {
        /// The keys' hash the genesis names.
        genesis: Hash32,
        /// The hash of the keys this validator runs, or "no keys".
        running: String,
    },
    /// A proposed or decided block executes on another state root than this validator's
    /// at the previous height: one of them diverged.
    #[error(
        "the block at height {height} executes on state root {block} of height {}; this \
         validator's root there is {ours}: its state diverged from the block's proposer's",
        height - 1
    )]
    StateRootMismatch {
        /// The block's height.
        height: u64,
        /// The previous root the block commits to.
        block: Hash32,
        /// This validator's root at `height - 1`.
        ours: Hash32,
    },
    /// The store failed or holds something this build cannot read.
    #[error("store: {0}")]
    Store(String),
    /// The server could not start or stopped.
    #[error("server: {0}")]
    Server(String),
}

impl Error {
    /// A short machine-readable code for the API and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MalformedTx(_) | Error::TxTooLarge { .. } => "malformed",
            Error::BadSignature { .. } => "bad_signature",
            Error::NotAMember { .. } | Error::WrongRole { .. } => "unauthorized",
            Error::BadNonce { .. } | Error::NonceTooFarAhead { .. } => "bad_nonce",
            Error::ProofRejected { .. } | Error::ComplianceMapRejected { .. } => "proof_rejected",
            Error::UnknownInvoice(_)
            | Error::UnknownPledge(_)
            | Error::UnknownCycle(_)
            | Error::UnknownInstruction { .. }
            | Error::UnknownCredential(_) => "not_found",
            Error::Store(_) | Error::Server(_) => "internal",
            Error::BlockHeight { .. }
            | Error::BlockTime { .. }
            | Error::StateRootMismatch { .. } => "bad_block",
            _ => "refused",
        }
    }
}
