//! A proposal as it travels: a stream of parts (`Init` header · `Block` pieces ·
//! `Fin(signature)`, then the end of the stream), reassembled in sequence order and
//! accepted only when its proposer, a member of the validator set, signed
//! `(height, round, pol_round, block id)`. The driver and the deterministic simulation
//! send and receive proposals through this one implementation.

use crate::context::{
    proposal_sign_bytes, Address, BlockId, Ed25519Signer, Height, ProposalPart, ValidatorSet,
};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{Round, ValidatorSet as _};
use std::collections::BTreeMap;

/// Largest piece of a block in one proposal part.
const PART_BYTES: usize = 256 * 1024;

/// The messages of stream `stream` that propose `bytes` at `(height, round)`, signed by
/// `proposer` with `signer`: `Init`, the block in pieces of at most [`PART_BYTES`] (one
/// empty piece for an empty block), `Fin(signature)`, then the end of the stream.
pub(crate) fn proposal_messages(
    stream: StreamId,
    (height, round, pol_round): (Height, Round, Round),
    proposer: Address,
    signer: &Ed25519Signer,
    bytes: &[u8],
) -> Vec<StreamMessage<ProposalPart>> {
    let id = BlockId::of(bytes);
    let signature = signer.sign(&proposal_sign_bytes(height, round, pol_round, &id));
    let mut parts = vec![ProposalPart::Init { height, round, pol_round, proposer }];
    parts.extend(bytes.chunks(PART_BYTES).map(|c| ProposalPart::Block(c.to_vec())));
    if bytes.is_empty() {
        parts.push(ProposalPart::Block(Vec::new()));
    }
    parts.push(ProposalPart::Fin(signature));
    let end = parts.len() as u64;
    let mut messages: Vec<StreamMessage<ProposalPart>> = parts
        .into_iter()
        .enumerate()
        .map(|(seq, part)| {
            StreamMessage::new(stream.clone(), seq as u64, StreamContent::Data(part))
        })
        .collect();
    messages.push(StreamMessage::new(stream, end, StreamContent::Fin));
    messages
}

/// A stream from one peer, being reassembled.
#[derive(Default)]
struct PartialStream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
}

/// The streams being reassembled, by `K` (the sender and the stream's id).
pub(crate) struct ProposalStreams<K> {
    streams: BTreeMap<K, PartialStream>,
}

impl<K: Ord + Clone> ProposalStreams<K> {
    pub(crate) fn new() -> ProposalStreams<K> {
        ProposalStreams { streams: BTreeMap::new() }
    }

    /// Adds part `sequence` of stream `key`; the stream's parts in order once every part
    /// up to its end arrived (the stream is then forgotten).
    pub(crate) fn add(
        &mut self,
        key: K,
        sequence: u64,
        content: StreamContent<ProposalPart>,
    ) -> Option<Vec<ProposalPart>> {
        let stream = self.streams.entry(key.clone()).or_default();
        match content {
            StreamContent::Data(part) => {
                stream.parts.insert(sequence, part);
            }
            StreamContent::Fin => stream.end = Some(sequence),
        }
        let complete = stream.end.is_some_and(|end| {
            stream.parts.len() as u64 == end && stream.parts.keys().copied().eq(0..end)
        });
        if !complete {
            return None;
        }
        self.streams.remove(&key).map(|s| s.parts.into_values().collect())
    }

    /// Forgets the streams of proposals for `height` or below (committed: they can no
    /// longer matter).
    pub(crate) fn prune(&mut self, height: Height) {
        self.streams.retain(|_, s| {
            !matches!(s.parts.get(&0), Some(ProposalPart::Init { height: h, .. }) if *h <= height)
        });
    }
}

/// A complete proposal, signed by its proposer.
pub(crate) struct SignedProposal {
    pub(crate) height: Height,
    pub(crate) round: Round,
    pub(crate) pol_round: Round,
    pub(crate) proposer: Address,
    pub(crate) id: BlockId,
    pub(crate) bytes: Vec<u8>,
}

/// Why a complete stream was dropped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Dropped {
    #[error("proposal stream without a header")]
    NoHeader,
    #[error("proposal from {0}, outside the validator set")]
    NotAValidator(Address),
    #[error("proposal from {0} with a bad signature")]
    BadSignature(Address),
}

/// The proposal a complete stream's `parts` make, if its proposer is in `validators` and
/// signed it.
pub(crate) fn assemble(
    parts: Vec<ProposalPart>,
    validators: &ValidatorSet,
) -> Result<SignedProposal, Dropped> {
    let mut parts = parts.into_iter();
    let Some(ProposalPart::Init { height, round, pol_round, proposer }) = parts.next() else {
        return Err(Dropped::NoHeader);
    };
    let (mut bytes, mut signature) = (Vec::new(), None);
    for part in parts {
        match part {
            ProposalPart::Block(piece) => bytes.extend_from_slice(&piece),
            ProposalPart::Fin(s) => signature = Some(s),
            _ => {}
        }
    }
    let id = BlockId::of(&bytes);
    let validator = validators.get_by_address(&proposer).ok_or(Dropped::NotAValidator(proposer))?;
    let signed = signature.is_some_and(|s| {
        Ed25519Signer::verify(
            &proposal_sign_bytes(height, round, pol_round, &id),
            &s,
            &validator.public_key,
        )
    });
    if !signed {
        return Err(Dropped::BadSignature(proposer));
    }
    Ok(SignedProposal { height, round, pol_round, proposer, id, bytes })
}
