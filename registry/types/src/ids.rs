//! The identifiers and values registry transactions and records carry: a member's
//! [`Role`], an [`InvoiceId`], a pledge [`Nullifier`], an [`AmountCommitment`] and its
//! [`Blinding`], a netting [`CycleId`].

use omni_core::Hash32;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A member's role on the registry (MEF 114 R53).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum Role {
    /// Membership administrator: admits and removes members.
    Admin,
    /// A carrier or service provider: anchors bilaterals, submits and accepts invoices,
    /// attests payments, nets.
    Member,
    /// A regulator: reads anchors and verified invoices; publishes embargo lists (a later
    /// issue).
    Regulator,
    /// A financier: pledges invoices as collateral.
    Financier,
    /// A registry operator: runs a validator (the consensus issue).
    Operator,
}

impl Role {
    /// Lower-case name, as in the protobuf and the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Regulator => "regulator",
            Role::Financier => "financier",
            Role::Operator => "operator",
        }
    }

    /// Parses a lower-case role name.
    pub fn from_name(name: &str) -> Option<Role> {
        [Role::Admin, Role::Member, Role::Regulator, Role::Financier, Role::Operator]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An invoice's identifier on the registry: a hash the seller derives from the invoice on
/// its bilateral ledger. It names the invoice without revealing its content.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct InvoiceId(pub Hash32);

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A pledge nullifier: a value fixed by an invoice commitment's opening
/// (the registry's `pledge::nullifier`) that names the pledged invoice to nobody who has not seen
/// the opening.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct Nullifier(pub [u8; 32]);

impl fmt::Display for Nullifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A Pedersen commitment to an invoice amount: the 32-byte compressed Baby Jubjub point of
/// `omni_verifier::pedersen::PedersenCommitment`. Kept as bytes in transactions and state
/// so that encoding stays canonical; decoded and checked (on the curve, in the prime-order
/// subgroup) before the registry accepts it.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct AmountCommitment(pub [u8; 32]);

impl fmt::Display for AmountCommitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A Pedersen blinding: a Baby Jubjub scalar, 32 bytes little-endian, canonical
/// (below the subgroup order).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct Blinding(pub [u8; 32]);

/// Number of a netting cycle, assigned by the registry in opening order from 1.
pub type CycleId = u64;
