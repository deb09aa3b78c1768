//! The wire and WAL encoding of consensus messages: postcard over small serde mirrors of
//! Malachite's generic types (which carry no serde implementation of their own).
//!
//! Anything that does not decode is refused with [`WireError`]; Malachite drops such a
//! message and keeps going, so garbage from a peer cannot stop a validator.

use crate::context::{
    Address, BlockId, Height, OmniContext, Proposal, ProposalPart, Signature, Vote,
};
use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, NilOrVal, PolkaCertificate, PolkaSignature, Round,
    RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, Validity, VoteType,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_sync::{ValueRequest, ValueResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("consensus wire format: {0}")]
pub struct WireError(pub String);

/// Postcard encoding of every consensus, sync and WAL message.
#[derive(Clone, Copy, Debug, Default)]
pub struct WireCodec {
    /// A Byzantine validator's codec: about half of what it sends is random bytes.
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    garbage: bool,
}

impl WireCodec {
    /// The codec; `garbage` only for a deliberately faulty validator in fault tests.
    pub fn new(garbage: bool) -> WireCodec {
        WireCodec { garbage }
    }

    /// What goes on the wire: `bytes`, or for a garbage-sending validator, now and then,
    /// random bytes in their place.
    #[cfg(not(feature = "fault-injection"))]
    fn outgoing(&self, bytes: Bytes) -> Bytes {
        bytes
    }

    #[cfg(feature = "fault-injection")]
    fn outgoing(&self, bytes: Bytes) -> Bytes {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        if self.garbage && rng.gen_bool(0.5) {
            let len = rng.gen_range(0..2 * bytes.len().max(8));
            Bytes::from((0..len).map(|_| rng.gen::<u8>()).collect::<Vec<u8>>())
        } else {
            bytes
        }
    }
}

#[derive(Serialize, Deserialize)]
struct WireVote {
    precommit: bool,
    height: Height,
    round: Round,
    value: Option<BlockId>,
    validator: Address,
}

impl From<&Vote> for WireVote {
    fn from(v: &Vote) -> Self {
        WireVote {
            precommit: v.vote_type == VoteType::Precommit,
            height: v.height,
            round: v.round,
            value: match v.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(id) => Some(id),
            },
            validator: v.validator,
        }
    }
}

impl From<WireVote> for Vote {
    fn from(v: WireVote) -> Self {
        Vote {
            vote_type: if v.precommit { VoteType::Precommit } else { VoteType::Prevote },
            height: v.height,
            round: v.round,
            value: v.value.map_or(NilOrVal::Nil, NilOrVal::Val),
            validator: v.validator,
        }
    }
}

#[derive(Serialize, Deserialize)]
enum WireConsensusMsg {
    Vote(WireVote, Signature),
    Proposal(Proposal, Signature),
}

#[derive(Serialize, Deserialize)]
struct WireCommitCertificate {
    height: Height,
    round: Round,
    value_id: BlockId,
    signatures: Vec<(Address, Signature)>,
}

impl From<&CommitCertificate<OmniContext>> for WireCommitCertificate {
    fn from(c: &CommitCertificate<OmniContext>) -> Self {
        WireCommitCertificate {
            height: c.height,
            round: c.round,
            value_id: c.value_id,
            signatures: c.commit_signatures.iter().map(|s| (s.address, s.signature)).collect(),
        }
    }
}

impl From<WireCommitCertificate> for CommitCertificate<OmniContext> {
    fn from(c: WireCommitCertificate) -> Self {
        CommitCertificate {
            height: c.height,
            round: c.round,
            value_id: c.value_id,
            commit_signatures: c
                .signatures
                .into_iter()
                .map(|(address, signature)| CommitSignature { address, signature })
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize)]
enum WireLiveness {
    Vote(WireVote, Signature),
    Polka { height: Height, round: Round, value_id: BlockId, signatures: Vec<(Address, Signature)> },
    SkipRound { height: Height, round: Round, precommit: bool, signatures: Vec<WireRoundSignature> },
}

#[derive(Serialize, Deserialize)]
struct WireRoundSignature {
    precommit: bool,
    value_id: Option<BlockId>,
    address: Address,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
struct WireStreamMessage {
    stream_id: Vec<u8>,
    sequence: u64,
    /// `None`: the end of the stream.
    part: Option<ProposalPart>,
}

#[derive(Serialize, Deserialize)]
struct WireStatus {
    peer_id: Vec<u8>,
    tip_height: Height,
    history_min_height: Height,
}

#[derive(Serialize, Deserialize)]
struct WireValueResponse {
    height: Height,
    value: Option<(Vec<u8>, WireCommitCertificate)>,
}

#[derive(Serialize, Deserialize)]
struct WireProposedValue {
    height: Height,
    round: Round,
    valid_round: Round,
    proposer: Address,
    value: BlockId,
    valid: bool,
}

fn to_bytes<T: Serialize>(v: &T) -> Result<Bytes, WireError> {
    postcard::to_allocvec(v).map(Bytes::from).map_err(|e| WireError(e.to_string()))
}

fn from_bytes<T: DeserializeOwned>(what: &str, b: &[u8]) -> Result<T, WireError> {
    postcard::from_bytes(b).map_err(|e| WireError(format!("{what}: {e}")))
}

/// Encodes a commit certificate for the application to store with its block.
pub fn encode_certificate(c: &CommitCertificate<OmniContext>) -> Vec<u8> {
    postcard::to_allocvec(&WireCommitCertificate::from(c)).unwrap_or_default()
}

/// Decodes a certificate stored by [`encode_certificate`].
pub fn decode_certificate(b: &[u8]) -> Result<CommitCertificate<OmniContext>, WireError> {
    from_bytes::<WireCommitCertificate>("commit certificate", b).map(Into::into)
}

impl Codec<ProposalPart> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<ProposalPart, WireError> {
        from_bytes("proposal part", &b)
    }
    fn encode(&self, p: &ProposalPart) -> Result<Bytes, WireError> {
        to_bytes(p)
    }
}

impl Codec<SignedConsensusMsg<OmniContext>> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<SignedConsensusMsg<OmniContext>, WireError> {
        Ok(match from_bytes("consensus message", &b)? {
            WireConsensusMsg::Vote(v, s) => {
                SignedConsensusMsg::Vote(SignedMessage::new(Vote::from(v), s))
            }
            WireConsensusMsg::Proposal(p, s) => {
                SignedConsensusMsg::Proposal(SignedMessage::new(p, s))
            }
        })
    }
    fn encode(&self, m: &SignedConsensusMsg<OmniContext>) -> Result<Bytes, WireError> {
        to_bytes(&match m {
            SignedConsensusMsg::Vote(v) => WireConsensusMsg::Vote((&v.message).into(), v.signature),
            SignedConsensusMsg::Proposal(p) => {
                WireConsensusMsg::Proposal(p.message.clone(), p.signature)
            }
        })
        .map(|b| self.outgoing(b))
    }
}

impl Codec<LivenessMsg<OmniContext>> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<LivenessMsg<OmniContext>, WireError> {
        Ok(match from_bytes("liveness message", &b)? {
            WireLiveness::Vote(v, s) => LivenessMsg::Vote(SignedMessage::new(Vote::from(v), s)),
            WireLiveness::Polka { height, round, value_id, signatures } => {
                LivenessMsg::PolkaCertificate(PolkaCertificate {
                    height,
                    round,
                    value_id,
                    polka_signatures: signatures
                        .into_iter()
                        .map(|(address, signature)| PolkaSignature { address, signature })
                        .collect(),
                })
            }
            WireLiveness::SkipRound { height, round, precommit, signatures } => {
                LivenessMsg::SkipRoundCertificate(RoundCertificate {
                    height,
                    round,
                    cert_type: if precommit {
                        RoundCertificateType::Precommit
                    } else {
                        RoundCertificateType::Skip
                    },
                    round_signatures: signatures
                        .into_iter()
                        .map(|s| RoundSignature {
                            vote_type: if s.precommit {
                                VoteType::Precommit
                            } else {
                                VoteType::Prevote
                            },
                            value_id: s.value_id.map_or(NilOrVal::Nil, NilOrVal::Val),
                            address: s.address,
                            signature: s.signature,
                        })
                        .collect(),
                })
            }
        })
    }
    fn encode(&self, m: &LivenessMsg<OmniContext>) -> Result<Bytes, WireError> {
        to_bytes(&match m {
            LivenessMsg::Vote(v) => WireLiveness::Vote((&v.message).into(), v.signature),
            LivenessMsg::PolkaCertificate(c) => WireLiveness::Polka {
                height: c.height,
                round: c.round,
                value_id: c.value_id,
                signatures: c.polka_signatures.iter().map(|s| (s.address, s.signature)).collect(),
            },
            LivenessMsg::SkipRoundCertificate(c) => WireLiveness::SkipRound {
                height: c.height,
                round: c.round,
                precommit: c.cert_type == RoundCertificateType::Precommit,
                signatures: c
                    .round_signatures
                    .iter()
                    .map(|s| WireRoundSignature {
                        precommit: s.vote_type == VoteType::Precommit,
                        value_id: match s.value_id {
                            NilOrVal::Nil => None,
                            NilOrVal::Val(id) => Some(id),
                        },
                        address: s.address,
                        signature: s.signature,
                    })
                    .collect(),
            },
        })
        .map(|b| self.outgoing(b))
    }
}

impl Codec<StreamMessage<ProposalPart>> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<StreamMessage<ProposalPart>, WireError> {
        let m: WireStreamMessage = from_bytes("stream message", &b)?;
        Ok(StreamMessage::new(
            StreamId::new(m.stream_id.into()),
            m.sequence,
            m.part.map_or(StreamContent::Fin, StreamContent::Data),
        ))
    }
    fn encode(&self, m: &StreamMessage<ProposalPart>) -> Result<Bytes, WireError> {
        to_bytes(&WireStreamMessage {
            stream_id: m.stream_id.to_bytes().to_vec(),
            sequence: m.sequence,
            part: match &m.content {
                StreamContent::Data(p) => Some(p.clone()),
                StreamContent::Fin => None,
            },
        })
        .map(|b| self.outgoing(b))
    }
}

impl Codec<Status<OmniContext>> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<Status<OmniContext>, WireError> {
        let s: WireStatus = from_bytes("sync status", &b)?;
        Ok(Status {
            peer_id: PeerId::from_bytes(&s.peer_id)
                .map_err(|e| WireError(format!("sync status peer id: {e}")))?,
            tip_height: s.tip_height,
            history_min_height: s.history_min_height,
        })
    }
    fn encode(&self, s: &Status<OmniContext>) -> Result<Bytes, WireError> {
        to_bytes(&WireStatus {
            peer_id: s.peer_id.to_bytes(),
            tip_height: s.tip_height,
            history_min_height: s.history_min_height,
        })
    }
}

impl Codec<Request<OmniContext>> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<Request<OmniContext>, WireError> {
        let height: Height = from_bytes("sync request", &b)?;
        Ok(Request::ValueRequest(ValueRequest::new(height)))
    }
    fn encode(&self, r: &Request<OmniContext>) -> Result<Bytes, WireError> {
        match r {
            Request::ValueRequest(v) => to_bytes(&v.height),
        }
    }
}

impl Codec<Response<OmniContext>> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<Response<OmniContext>, WireError> {
        let r: WireValueResponse = from_bytes("sync response", &b)?;
        Ok(Response::ValueResponse(ValueResponse::new(
            r.height,
            r.value.map(|(bytes, c)| RawDecidedValue::new(bytes.into(), c.into())),
        )))
    }
    fn encode(&self, r: &Response<OmniContext>) -> Result<Bytes, WireError> {
        match r {
            Response::ValueResponse(v) => to_bytes(&WireValueResponse {
                height: v.height,
                value: v.value.as_ref().map(|d| (d.value_bytes.to_vec(), (&d.certificate).into())),
            }),
        }
    }
}

impl Codec<ProposedValue<OmniContext>> for WireCodec {
    type Error = WireError;
    fn decode(&self, b: Bytes) -> Result<ProposedValue<OmniContext>, WireError> {
        let v: WireProposedValue = from_bytes("proposed value", &b)?;
        Ok(ProposedValue {
            height: v.height,
            round: v.round,
            valid_round: v.valid_round,
            proposer: v.proposer,
            value: v.value,
            validity: Validity::from_bool(v.valid),
        })
    }
    fn encode(&self, v: &ProposedValue<OmniContext>) -> Result<Bytes, WireError> {
        to_bytes(&WireProposedValue {
            height: v.height,
            round: v.round,
            valid_round: v.valid_round,
            proposer: v.proposer,
            value: v.value,
            valid: v.validity.is_valid(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let vote = Vote {
            vote_type: VoteType::Prevote,
            height: Height(9),
            round: Round::new(2),
            value: NilOrVal::Val(BlockId([4; 32])),
            validator: Address([1; 20]),
        };
        let msg = SignedConsensusMsg::<OmniContext>::Vote(SignedMessage::new(
            vote.clone(),
            Signature([5; 64]),
        ));
        let bytes =
            Codec::<SignedConsensusMsg<OmniContext>>::encode(&WireCodec::default(), &msg).unwrap();
        let back =
            Codec::<SignedConsensusMsg<OmniContext>>::decode(&WireCodec::default(), bytes).unwrap();
        assert_eq!(back, msg);

        let part = StreamMessage::new(
            StreamId::new(Bytes::from_static(b"s")),
            3,
            StreamContent::Data(ProposalPart::Block(vec![1, 2, 3])),
        );
        let bytes =
            Codec::<StreamMessage<ProposalPart>>::encode(&WireCodec::default(), &part).unwrap();
        let back =
            Codec::<StreamMessage<ProposalPart>>::decode(&WireCodec::default(), bytes).unwrap();
        assert_eq!((back.sequence, back.content), (3, part.content));

        for garbage in [&b""[..], b"\xff\xff\xff\xff\xff", b"\x07garbage"] {
            let g = Bytes::copy_from_slice(garbage);
            assert!(Codec::<SignedConsensusMsg<OmniContext>>::decode(
                &WireCodec::default(),
                g.clone()
            )
            .is_err());
            assert!(Codec::<Response<OmniContext>>::decode(&WireCodec::default(), g).is_err());
        }
    }

    /// Every message this codec writes to the network or the WAL (votes, signed
    /// proposals, liveness certificates, proposal streams, sync status, requests and
    /// responses, proposed values, commit certificates), encoded and hashed together. A
    /// format change — which would split a validator set running two versions, or make a
    /// WAL unreadable after an upgrade — fails here.
    #[test]
    fn every_message_encoding_is_pinned() {
        use sha2::{Digest, Sha256};
        let codec = WireCodec::default();
        let (address, signature, block) = (Address([1; 20]), Signature([5; 64]), BlockId([4; 32]));
        let vote = Vote {
            vote_type: VoteType::Precommit,
            height: Height(9),
            round: Round::new(2),
            value: NilOrVal::Val(block),
            validator: address,
        };
        let proposal = Proposal {
            height: Height(9),
            round: Round::new(2),
            value: block,
            pol_round: Round::Nil,
            proposer: address,
        };
        let certificate = CommitCertificate::<OmniContext> {
            height: Height(9),
            round: Round::new(2),
            value_id: block,
            commit_signatures: vec![CommitSignature { address, signature }],
        };
        let mut encodings: Vec<Bytes> = Vec::new();
        for m in [
            SignedConsensusMsg::<OmniContext>::Vote(SignedMessage::new(vote.clone(), signature)),
            SignedConsensusMsg::Proposal(SignedMessage::new(proposal, signature)),
        ] {
            encodings.push(Codec::<SignedConsensusMsg<OmniContext>>::encode(&codec, &m).unwrap());
        }
        for m in [
            LivenessMsg::<OmniContext>::Vote(SignedMessage::new(vote, signature)),
            LivenessMsg::PolkaCertificate(PolkaCertificate {
                height: Height(9),
                round: Round::new(2),
                value_id: block,
                polka_signatures: vec![PolkaSignature { address, signature }],
            }),
            LivenessMsg::SkipRoundCertificate(RoundCertificate {
                height: Height(9),
                round: Round::new(3),
                cert_type: RoundCertificateType::Skip,
                round_signatures: vec![RoundSignature {
                    vote_type: VoteType::Prevote,
                    value_id: NilOrVal::Nil,
                    address,
                    signature,
                }],
            }),
        ] {
            encodings.push(Codec::<LivenessMsg<OmniContext>>::encode(&codec, &m).unwrap());
        }
        let init = ProposalPart::Init {
            height: Height(9),
            round: Round::new(2),
            pol_round: Round::Nil,
            proposer: address,
        };
        let parts = [
            StreamContent::Data(init),
            StreamContent::Data(ProposalPart::Block(vec![1, 2, 3])),
            StreamContent::Data(ProposalPart::Fin(signature)),
            StreamContent::Data(ProposalPart::Transactions(vec![vec![7; 3]])),
            StreamContent::Fin,
        ];
        for (sequence, content) in parts.into_iter().enumerate() {
            let stream_id = StreamId::new(Bytes::from_static(b"stream"));
            let m = StreamMessage::new(stream_id, sequence as u64, content);
            encodings.push(Codec::<StreamMessage<ProposalPart>>::encode(&codec, &m).unwrap());
        }
        let mut peer = vec![0x12, 0x20];
        peer.extend([6; 32]);
        let status = Status::<OmniContext> {
            peer_id: PeerId::from_bytes(&peer).unwrap(),
            tip_height: Height(9),
            history_min_height: Height(1),
        };
        encodings.push(Codec::<Status<OmniContext>>::encode(&codec, &status).unwrap());
        let request = Request::<OmniContext>::ValueRequest(ValueRequest::new(Height(9)));
        encodings.push(Codec::<Request<OmniContext>>::encode(&codec, &request).unwrap());
        let decided = RawDecidedValue::new(Bytes::from_static(b"block"), certificate.clone());
        let response =
            Response::<OmniContext>::ValueResponse(ValueResponse::new(Height(9), Some(decided)));
        encodings.push(Codec::<Response<OmniContext>>::encode(&codec, &response).unwrap());
        let value = ProposedValue::<OmniContext> {
            height: Height(9),
            round: Round::new(2),
            valid_round: Round::Nil,
            proposer: address,
            value: block,
            validity: Validity::Valid,
        };
        encodings.push(Codec::<ProposedValue<OmniContext>>::encode(&codec, &value).unwrap());
        encodings.push(encode_certificate(&certificate).into());

        let mut hash = Sha256::new();
        for e in &encodings {
            hash.update((e.len() as u64).to_le_bytes());
            hash.update(e);
        }
        assert_eq!(
            hex::encode(hash.finalize()),
            "3cc2b7c9fed13ceb4ed5b067519d41967f44a87e2ccab71df3c0d3a8e26016ff",
            "the consensus wire or WAL format changed"
        );
    }
}
