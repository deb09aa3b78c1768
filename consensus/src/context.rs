//! Our Malachite [`Context`]: heights, validator addresses, block ids as consensus values,
//! proposals, proposal parts, votes, a fixed validator set and Ed25519 signing.
//!
//! Consensus agrees on a [`BlockId`] (the SHA-256 of the application's block bytes); the
//! block itself travels as [`ProposalPart`]s streamed by the proposer and is checked by
//! the application before a validator votes for its id.

use crate::ValidatorInfo;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use malachitebft_app_channel::app::types::core::{
    self as mc, NilOrVal, Round, SignedMessage, VoteType, VotingPower,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A block height; the first block is height 1 (0 is the application's genesis state).
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0 + n)
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: the first 20 bytes of the SHA-256 of its Ed25519 public key.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of a public key.
    pub fn of(key: &VerifyingKey) -> Address {
        let digest = Sha256::digest(key.as_bytes());
        let mut a = [0; 20];
        a.copy_from_slice(&digest[..20]);
        Address(a)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl mc::Address for Address {}

/// The value consensus decides on: the SHA-256 of a block's bytes.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockId(pub [u8; 32]);

impl BlockId {
    /// The id of a block's bytes.
    pub fn of(block: &[u8]) -> BlockId {
        let mut h = Sha256::new();
        h.update(b"omni/consensus/block");
        h.update(block);
        BlockId(h.finalize().into())
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({})", hex::encode(self.0))
    }
}

impl mc::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// An Ed25519 signature. Malachite needs signatures to be ordered, which
/// `ed25519_dalek::Signature` is not, hence the byte wrapper.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = serde::Deserialize::deserialize(d)?;
        let array: [u8; 64] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| serde::de::Error::invalid_length(b.len(), &"64 bytes"))?;
        Ok(Signature(array))
    }
}

/// Ed25519 as Malachite's signing scheme.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

impl mc::SigningScheme for Ed25519 {
    type DecodingError = String;
    type Signature = Signature;
    type PublicKey = VerifyingKey;
    type PrivateKey = SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, String> {
        bytes
            .try_into()
            .map(Signature)
            .map_err(|_| format!("a signature is 64 bytes, got {}", bytes.len()))
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }
}

/// A signed proposal's content: the proposer's block id for `(height, round)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockId,
    /// The round in which the proposer saw a polka for the value (Nil if none).
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl mc::Proposal<OmniContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &BlockId {
        &self.value
    }
    fn take_value(self) -> BlockId {
        self.value
    }
    fn pol_round(&self) -> Round {
        self.pol_round
    }
    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// One message of a proposer's stream: the header, a piece of the block, the proposer's
/// signature over both, or — outside any proposal — transactions forwarded to the other
/// validators' mempools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalPart {
    /// First part: what the stream proposes.
    Init {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// Proof-of-lock round (Nil for a new block).
        pol_round: Round,
        /// The proposer.
        proposer: Address,
    },
    /// A piece of the block's bytes, in order.
    Block(Vec<u8>),
    /// Last part: the proposer's signature over [`proposal_sign_bytes`].
    Fin(Signature),
    /// Transactions a validator received from its clients, for every mempool (a stream of
    /// its own: not part of any proposal).
    Transactions(Vec<Vec<u8>>),
}

impl mc::ProposalPart<OmniContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }
    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// What a proposer signs in the [`ProposalPart::Fin`] of its stream.
pub fn proposal_sign_bytes(
    height: Height,
    round: Round,
    pol_round: Round,
    id: &BlockId,
) -> Vec<u8> {
    let mut b = b"omni/consensus/proposal-parts".to_vec();
    b.extend_from_slice(&height.0.to_be_bytes());
    b.extend_from_slice(&round.as_i64().to_be_bytes());
    b.extend_from_slice(&pol_round.as_i64().to_be_bytes());
    b.extend_from_slice(&id.0);
    b
}

/// A prevote or precommit. Vote extensions are not used.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// The voter.
    pub validator: Address,
}

impl mc::Vote<OmniContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }
    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }
    fn vote_type(&self) -> VoteType {
        self.vote_type
    }
    fn validator_address(&self) -> &Address {
        &self.validator
    }
    fn extension(&self) -> Option<&mc::SignedExtension<OmniContext>> {
        None
    }
    fn take_extension(&mut self) -> Option<mc::SignedExtension<OmniContext>> {
        None
    }
    fn extend(self, _extension: mc::SignedExtension<OmniContext>) -> Self {
        // Vote extensions are disabled in our configuration; nothing is carried.
        self
    }
}

fn vote_sign_bytes(v: &Vote) -> Vec<u8> {
    let mut b = b"omni/consensus/vote".to_vec();
    b.push(match v.vote_type {
        VoteType::Prevote => 1,
        VoteType::Precommit => 2,
    });
    b.extend_from_slice(&v.height.0.to_be_bytes());
    b.extend_from_slice(&v.round.as_i64().to_be_bytes());
    match &v.value {
        NilOrVal::Nil => b.push(0),
        NilOrVal::Val(id) => {
            b.push(1);
            b.extend_from_slice(&id.0);
        }
    }
    b.extend_from_slice(&v.validator.0);
    b
}

fn proposal_message_sign_bytes(p: &Proposal) -> Vec<u8> {
    let mut b = b"omni/consensus/proposal".to_vec();
    b.extend_from_slice(&p.height.0.to_be_bytes());
    b.extend_from_slice(&p.round.as_i64().to_be_bytes());
    b.extend_from_slice(&p.value.0);
    b.extend_from_slice(&p.pol_round.as_i64().to_be_bytes());
    b.extend_from_slice(&p.proposer.0);
    b
}

fn part_sign_bytes(part: &ProposalPart) -> Vec<u8> {
    let mut b = b"omni/consensus/part".to_vec();
    b.extend_from_slice(&postcard::to_allocvec(part).unwrap_or_default());
    b
}

/// A validator: its key and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Derived from the key.
    pub address: Address,
    /// Ed25519 public key.
    pub public_key: VerifyingKey,
    /// Voting power.
    pub voting_power: VotingPower,
}

impl mc::Validator<OmniContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }
    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }
    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The fixed validator set, ordered by address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    /// The validators.
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// The set of `validators` (duplicates by key are dropped).
    pub fn new(validators: &[ValidatorInfo]) -> ValidatorSet {
        let mut v: Vec<Validator> = validators
            .iter()
            .map(|i| Validator {
                address: Address::of(&i.public_key),
                public_key: i.public_key,
                voting_power: i.voting_power.max(1),
            })
            .collect();
        v.sort_by_key(|v| v.address);
        v.dedup_by_key(|v| v.address);
        ValidatorSet { validators: v }
    }
}

impl mc::ValidatorSet<OmniContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }
    fn total_voting_power(&self) -> VotingPower {
        self.validators.iter().map(|v| v.voting_power).sum()
    }
    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.address == address)
    }
    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// The registry's consensus context.
#[derive(Clone, Copy, Debug, Default)]
pub struct OmniContext;

impl mc::Context for OmniContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = Vec<u8>;
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        // Round-robin over heights and rounds: every validator proposes in turn, and a
        // failed round moves to the next one.
        let n = validator_set.validators.len().max(1) as u64;
        let round = round.as_u32().unwrap_or(0) as u64;
        let index = (height.0 + round) % n;
        &validator_set.validators[index as usize]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, proposer: address }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote { vote_type: VoteType::Prevote, height, round, value: value_id, validator: address }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote { vote_type: VoteType::Precommit, height, round, value: value_id, validator: address }
    }
}

/// Signs this validator's consensus messages and checks everyone's.
pub struct Ed25519Signer {
    key: SigningKey,
}

impl Ed25519Signer {
    /// A signer with `key`.
    pub fn new(key: SigningKey) -> Ed25519Signer {
        Ed25519Signer { key }
    }

    /// Signs arbitrary bytes (the proposal stream's Fin).
    pub fn sign(&self, bytes: &[u8]) -> Signature {
        Signature(self.key.sign(bytes).to_bytes())
    }

    /// Checks a signature over `bytes`.
    pub fn verify(bytes: &[u8], signature: &Signature, key: &VerifyingKey) -> bool {
        key.verify(bytes, &ed25519_dalek::Signature::from_bytes(&signature.0)).is_ok()
    }
}

impl mc::SigningProvider<OmniContext> for Ed25519Signer {
    fn sign_vote(&self, vote: Vote) -> SignedMessage<OmniContext, Vote> {
        let signature = self.sign(&vote_sign_bytes(&vote));
        SignedMessage::new(vote, signature)
    }

    fn verify_signed_vote(&self, vote: &Vote, signature: &Signature, key: &VerifyingKey) -> bool {
        Self::verify(&vote_sign_bytes(vote), signature, key)
    }

    fn sign_proposal(&self, proposal: Proposal) -> SignedMessage<OmniContext, Proposal> {
        let signature = self.sign(&proposal_message_sign_bytes(&proposal));
        SignedMessage::new(proposal, signature)
    }

    fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        key: &VerifyingKey,
    ) -> bool {
        Self::verify(&proposal_message_sign_bytes(proposal), signature, key)
    }

    fn sign_proposal_part(&self, part: ProposalPart) -> SignedMessage<OmniContext, ProposalPart> {
        let signature = self.sign(&part_sign_bytes(&part));
        SignedMessage::new(part, signature)
    }

    fn verify_signed_proposal_part(
        &self,
        part: &ProposalPart,
        signature: &Signature,
        key: &VerifyingKey,
    ) -> bool {
        Self::verify(&part_sign_bytes(part), signature, key)
    }

    fn sign_vote_extension(&self, extension: Vec<u8>) -> SignedMessage<OmniContext, Vec<u8>> {
        let mut b = b"omni/consensus/extension".to_vec();
        b.extend_from_slice(&extension);
        let signature = self.sign(&b);
        SignedMessage::new(extension, signature)
    }

    fn verify_signed_vote_extension(
        &self,
        extension: &Vec<u8>,
        signature: &Signature,
        key: &VerifyingKey,
    ) -> bool {
        let mut b = b"omni/consensus/extension".to_vec();
        b.extend_from_slice(extension);
        Self::verify(&b, signature, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mc::{Context, SigningProvider};

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn proposer_rotates_over_heights_and_rounds() {
        let infos: Vec<ValidatorInfo> = (1..=4)
            .map(|n| ValidatorInfo {
                public_key: key(n).verifying_key(),
                voting_power: 1,
                p2p: None,
            })
            .collect();
        let set = ValidatorSet::new(&infos);
        let ctx = OmniContext;
        let at = |h, r| ctx.select_proposer(&set, Height(h), Round::new(r)).address;
        let heights: std::collections::BTreeSet<_> = (1..=4).map(|h| at(h, 0)).collect();
        assert_eq!(heights.len(), 4, "four heights, four different proposers");
        assert_ne!(at(5, 0), at(5, 1), "a failed round hands over to the next validator");
    }

    #[test]
    fn a_vote_signature_binds_every_field() {
        let signer = Ed25519Signer::new(key(1));
        let pk = key(1).verifying_key();
        let vote = OmniContext.new_precommit(
            Height(3),
            Round::new(1),
            NilOrVal::Val(BlockId([7; 32])),
            Address::of(&pk),
        );
        let signed = signer.sign_vote(vote.clone());
        assert!(signer.verify_signed_vote(&vote, &signed.signature, &pk));
        let mut other = vote.clone();
        other.value = NilOrVal::Nil;
        assert!(!signer.verify_signed_vote(&other, &signed.signature, &pk));
        other = vote.clone();
        other.round = Round::new(2);
        assert!(!signer.verify_signed_vote(&other, &signed.signature, &pk));
        assert!(!signer.verify_signed_vote(&vote, &signed.signature, &key(2).verifying_key()));
    }
}
