//! One simulated validator: Malachite's consensus core and, around it, what the engine's
//! actors and our driver do for it, as plain code run on the simulation's events.
//!
//! The core (`core-consensus`, the state machine Malachite's engine runs) asks for
//! everything it needs through effects: sign this, verify that, schedule a timeout,
//! publish a message, build a value, commit a decision. [`Replica::input`] answers them
//! the way the engine and `crate::driver` do, except that messages become [`Action`]s for
//! the simulated network and timers become simulated events.

use super::network::{Channel, Wire};
use super::SimError;
use crate::codec::{decode_certificate, encode_certificate, WireCodec};
use crate::context::{
    Address, BlockId, Ed25519Signer, Height, OmniContext, ProposalPart, ValidatorSet,
};
use crate::proposal_stream::{assemble, proposal_messages, ProposalStreams, SignedProposal};
use crate::{Application, BlockRefusal, Timeouts};
use bytes::Bytes;
use ed25519_dalek::SigningKey;
use malachitebft_app_channel::app::consensus::{
    self as core, ConsensusMsg, Effect, LivenessMsg, LocallyProposedValue, Params, ProposedValue,
    Resumable, Resume, SignedConsensusMsg, ThresholdParams,
};
use malachitebft_app_channel::app::metrics::Metrics;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, Round, SigningProvider, SigningProviderExt, Timeout, TimeoutKind, Validity,
    ValueOrigin, ValuePayload, ValueResponse,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_app_channel::app::types::PeerId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

type Input = core::Input<OmniContext>;

/// Most inputs for future heights the core keeps (the engine's `queue_capacity`).
const QUEUE_CAPACITY: usize = 100;

/// What a replica asks of the simulation after an input.
pub(super) enum Action {
    /// Send to every other validator.
    Broadcast(Wire),
    /// Send to one validator.
    Send(usize, Wire),
    /// Fire `timeout` after `after`, unless rescheduled or cancelled meanwhile.
    Timer { timeout: Timeout, generation: u64, after: Duration },
    /// Build this validator's block for `(height, round)` (after a simulated build time).
    Build { height: Height, round: Round },
    /// This validator committed `block` at `height`; `synced` if value sync brought it.
    Committed { height: u64, block: BlockId, synced: bool },
}

/// The engine's step timeouts: each grows by a quarter every time it fires, and all go
/// back to the configured values when a height starts.
struct StepTimeouts {
    base: Timeouts,
    current: Timeouts,
}

impl StepTimeouts {
    fn duration(&self, kind: TimeoutKind) -> Duration {
        let t = &self.current;
        match kind {
            TimeoutKind::Propose => t.propose,
            TimeoutKind::Prevote => t.prevote,
            TimeoutKind::Precommit => t.precommit,
            TimeoutKind::Rebroadcast => t.propose + t.prevote + t.precommit,
        }
    }

    fn increase(&mut self, kind: TimeoutKind) {
        let (t, b) = (&mut self.current, &self.base);
        match kind {
            TimeoutKind::Propose => t.propose += b.propose / 4,
            TimeoutKind::Prevote => t.prevote += b.prevote / 4,
            TimeoutKind::Precommit => t.precommit += b.precommit / 4,
            TimeoutKind::Rebroadcast => {}
        }
    }
}

/// Everything around the consensus core: the application, keys, blocks seen, streams,
/// timers, and what the current input produced.
struct Host<A> {
    index: usize,
    incarnation: u32,
    app: A,
    signer: Ed25519Signer,
    address: Address,
    validators: ValidatorSet,
    codec: WireCodec,
    /// Every validator's network identity, by index.
    peers: Vec<PeerId>,
    /// Blocks seen and not yet committed, by id, with their height.
    blocks: BTreeMap<BlockId, (Height, Vec<u8>)>,
    /// Blocks that came through value sync.
    synced: BTreeSet<BlockId>,
    /// This validator's own proposals, so a round never gets two.
    own: BTreeMap<(Height, Round), BlockId>,
    /// Complete proposals for later heights, checked when their round starts.
    early: Vec<ProposedValue<OmniContext>>,
    streams: ProposalStreams<(usize, Bytes)>,
    stream_counter: u64,
    timeouts: StepTimeouts,
    timers: Vec<(Timeout, u64)>,
    next_generation: u64,
    /// Inputs the current one led to (a proposal built, a height started, a synced value).
    inputs: VecDeque<Input>,
    actions: Vec<Action>,
}

/// One validator of the simulation.
pub(super) struct Replica<A> {
    consensus: core::State<OmniContext>,
    metrics: Metrics,
    host: Host<A>,
}

/// The libp2p identity of a validator, as value sync reports it.
pub(super) fn peer_id(key: &ed25519_dalek::VerifyingKey) -> Result<PeerId, SimError> {
    let mut identity = vec![0x00, 0x20];
    identity.extend_from_slice(key.as_bytes());
    PeerId::from_bytes(&identity).map_err(|e| SimError::PeerId(e.to_string()))
}

impl<A: Application> Replica<A> {
    /// A validator starting from what `app` committed, as the engine starts: at the next
    /// height, with no memory of votes (the simulation has no WAL).
    pub(super) fn start(
        index: usize,
        incarnation: u32,
        key: SigningKey,
        validators: ValidatorSet,
        peers: Vec<PeerId>,
        timeouts: Timeouts,
        app: A,
    ) -> (Replica<A>, Vec<Action>) {
        let address = Address::of(&key.verifying_key());
        let height = Height(app.committed_height() + 1);
        let params = Params {
            initial_height: height,
            initial_validator_set: validators.clone(),
            address,
            threshold_params: ThresholdParams::default(),
            value_payload: ValuePayload::ProposalAndParts,
        };
        let host = Host {
            index,
            incarnation,
            app,
            signer: Ed25519Signer::new(key),
            address,
            validators: validators.clone(),
            codec: WireCodec::new(false),
            peers,
            blocks: BTreeMap::new(),
            synced: BTreeSet::new(),
            own: BTreeMap::new(),
            early: Vec::new(),
            streams: ProposalStreams::new(),
            stream_counter: 0,
            timeouts: StepTimeouts { base: timeouts, current: timeouts },
            timers: Vec::new(),
            next_generation: 0,
            inputs: VecDeque::new(),
            actions: Vec::new(),
        };
        let mut replica = Replica {
            consensus: core::State::new(OmniContext, params, QUEUE_CAPACITY),
            metrics: Metrics::new(),
            host,
        };
        let actions = replica.input(Input::StartHeight(height, validators));
        (replica, actions)
    }

    pub(super) fn app(&self) -> &A {
        &self.host.app
    }

    pub(super) fn into_app(self) -> A {
        self.host.app
    }

    /// The height this validator last committed.
    pub(super) fn committed(&self) -> u64 {
        self.host.app.committed_height()
    }

    /// Runs `input` through the consensus core, and every input it leads to.
    pub(super) fn input(&mut self, input: Input) -> Vec<Action> {
        self.host.inputs.push_back(input);
        while let Some(input) = self.host.inputs.pop_front() {
            let host = &mut self.host;
            let result: Result<(), core::Error<OmniContext>> = core::process!(
                input: input,
                state: &mut self.consensus,
                metrics: &self.metrics,
                with: effect => host.effect(effect)
            );
            if let Err(e) = result {
                tracing::debug!(validator = self.host.index, "consensus refused an input: {e}");
            }
        }
        std::mem::take(&mut self.host.actions)
    }

    /// A timer fired: the core sees it unless it was cancelled or rescheduled since.
    pub(super) fn timer(&mut self, timeout: Timeout, generation: u64) -> Vec<Action> {
        let host = &mut self.host;
        let Some(at) = host.timers.iter().position(|t| t.0 == timeout && t.1 == generation) else {
            return Vec::new();
        };
        host.timers.swap_remove(at);
        host.timeouts.increase(timeout.kind);
        self.input(Input::TimeoutElapsed(timeout))
    }

    /// Builds this validator's block for `(height, round)` with the application, proposes
    /// it to the core and streams it to the others (`crate::driver`'s `GetValue`).
    pub(super) fn build(
        &mut self,
        height: Height,
        round: Round,
        runtime: &tokio::runtime::Runtime,
    ) -> Vec<Action> {
        if self.consensus.height() != height {
            return Vec::new();
        }
        let bytes = runtime.block_on(self.host.app.propose(height.0, Duration::ZERO));
        let id = self.host.keep(height, bytes.clone());
        self.host.own.insert((height, round), id);
        self.host.stream_block(height, round, Round::Nil, &bytes);
        self.input(Input::Propose(LocallyProposedValue::new(height, round, id)))
    }

    /// A message from validator `from`.
    pub(super) fn receive(&mut self, from: usize, wire: Wire) -> Vec<Action> {
        let codec = self.host.codec;
        let decoded =
            match wire.channel {
                Channel::Consensus => Codec::<SignedConsensusMsg<OmniContext>>::decode(
                    &codec, wire.bytes,
                )
                .map(|msg| match msg {
                    SignedConsensusMsg::Vote(v) => Some(Input::Vote(v)),
                    SignedConsensusMsg::Proposal(p) => Some(Input::Proposal(p)),
                }),
                Channel::Liveness => Codec::<LivenessMsg<OmniContext>>::decode(&codec, wire.bytes)
                    .map(|msg| match msg {
                        LivenessMsg::Vote(v) => Some(Input::Vote(v)),
                        LivenessMsg::PolkaCertificate(c) => Some(Input::PolkaCertificate(c)),
                        LivenessMsg::SkipRoundCertificate(c) => Some(Input::RoundCertificate(c)),
                    }),
                Channel::ProposalParts => {
                    Codec::<StreamMessage<ProposalPart>>::decode(&codec, wire.bytes).map(|part| {
                        let (height, committed) = (self.consensus.height(), self.committed());
                        self.host
                            .received_part(from, part, height, committed)
                            .map(|value| Input::ProposedValue(value, ValueOrigin::Consensus))
                    })
                }
                Channel::SyncRequest => Codec::<Request<OmniContext>>::decode(&codec, wire.bytes)
                    .map(|Request::ValueRequest(r)| {
                        self.host.answer_sync(from, r.height);
                        None
                    }),
                Channel::SyncResponse => Codec::<Response<OmniContext>>::decode(&codec, wire.bytes)
                    .map(|Response::ValueResponse(r)| {
                        r.value.and_then(|v| self.value_response(from, v))
                    }),
                // Peer status is the simulation's business (it decides whom to ask).
                Channel::SyncStatus => Ok(None),
            };
        match decoded {
            Ok(Some(input)) => self.input(input),
            Ok(None) => std::mem::take(&mut self.host.actions),
            Err(e) => {
                tracing::debug!(validator = self.host.index, from, "undecodable message: {e}");
                Vec::new()
            }
        }
    }

    /// A decided value a peer sent through value sync, for the core to check (its
    /// certificate against the validator set) and decide.
    fn value_response(&self, from: usize, value: RawDecidedValue<OmniContext>) -> Option<Input> {
        let certificate: CommitCertificate<OmniContext> = value.certificate;
        let proposer = *self.consensus.get_proposer(certificate.height, certificate.round);
        let peer = self.host.peer_of(from)?;
        Some(Input::SyncValueResponse(ValueResponse::new(
            peer,
            proposer,
            value.value_bytes,
            certificate,
        )))
    }

    /// This validator's status for value sync: the height it committed.
    pub(super) fn status(&self) -> Option<Wire> {
        let status = Status {
            peer_id: self.host.peer_of(self.host.index)?,
            tip_height: Height(self.committed()),
            history_min_height: Height(1),
        };
        self.host.wire(Channel::SyncStatus, &status)
    }

    /// Forwards transactions this validator's clients gave it to the others' mempools.
    pub(super) fn forward(&mut self, txs: Vec<Vec<u8>>) -> Vec<Action> {
        self.host.forward(txs);
        std::mem::take(&mut self.host.actions)
    }

    /// A request for the decided value at `height`.
    pub(super) fn sync_request(&self, height: u64) -> Option<Wire> {
        let request = Request::ValueRequest(malachitebft_sync::ValueRequest::new(Height(height)));
        self.host.wire(Channel::SyncRequest, &request)
    }
}

impl<A: Application> Host<A> {
    /// Answers one effect of the consensus core, as the engine does.
    fn effect(&mut self, effect: Effect<OmniContext>) -> Result<Resume<OmniContext>, SimError> {
        let ctx = OmniContext;
        Ok(match effect {
            Effect::ResetTimeouts(r) => {
                self.timeouts.current = self.timeouts.base;
                r.resume_with(())
            }
            Effect::CancelAllTimeouts(r) => {
                self.timers.clear();
                r.resume_with(())
            }
            Effect::CancelTimeout(timeout, r) => {
                self.timers.retain(|t| t.0 != timeout);
                r.resume_with(())
            }
            Effect::ScheduleTimeout(timeout, r) => {
                self.schedule(timeout);
                r.resume_with(())
            }
            Effect::GetValidatorSet(_, r) => r.resume_with(Some(self.validators.clone())),
            Effect::StartRound(height, round, _, _, r) => {
                self.started_round(height, round);
                r.resume_with(())
            }
            Effect::PublishConsensusMsg(msg, r) => {
                self.broadcast(Channel::Consensus, &msg);
                r.resume_with(())
            }
            Effect::PublishLivenessMsg(msg, r) => {
                self.broadcast(Channel::Liveness, &msg);
                r.resume_with(())
            }
            Effect::RepublishVote(vote, r) => {
                self.broadcast(Channel::Liveness, &LivenessMsg::Vote(vote));
                r.resume_with(())
            }
            Effect::RepublishRoundCertificate(certificate, r) => {
                self.broadcast(Channel::Liveness, &LivenessMsg::SkipRoundCertificate(certificate));
                r.resume_with(())
            }
            Effect::GetValue(height, round, _, r) => {
                self.get_value(height, round);
                r.resume_with(())
            }
            Effect::RestreamProposal(height, round, valid_round, _, id, r) => {
                if let Some((_, bytes)) = self.blocks.get(&id).cloned() {
                    self.stream_block(height, round, valid_round, &bytes);
                }
                r.resume_with(())
            }
            Effect::SyncValue(value, r) => {
                self.sync_value(value);
                r.resume_with(())
            }
            Effect::Decide(certificate, _, r) => {
                self.decide(certificate);
                r.resume_with(())
            }
            Effect::SignVote(vote, r) => r.resume_with(self.signer.sign_vote(vote)),
            Effect::SignProposal(proposal, r) => r.resume_with(self.signer.sign_proposal(proposal)),
            Effect::VerifySignature(msg, key, r) => {
                let valid = match msg.message {
                    ConsensusMsg::Vote(v) => {
                        self.signer.verify_signed_vote(&v, &msg.signature, &key)
                    }
                    ConsensusMsg::Proposal(p) => {
                        self.signer.verify_signed_proposal(&p, &msg.signature, &key)
                    }
                };
                r.resume_with(valid)
            }
            Effect::VerifyCommitCertificate(c, set, thresholds, r) => {
                r.resume_with(self.signer.verify_commit_certificate(&ctx, &c, &set, thresholds))
            }
            Effect::VerifyPolkaCertificate(c, set, thresholds, r) => {
                r.resume_with(self.signer.verify_polka_certificate(&ctx, &c, &set, thresholds))
            }
            Effect::VerifyRoundCertificate(c, set, thresholds, r) => {
                r.resume_with(self.signer.verify_round_certificate(&ctx, &c, &set, thresholds))
            }
            // No WAL: a restarted validator starts its height afresh (module docs).
            Effect::WalAppend(_, r) => r.resume_with(()),
            Effect::ExtendVote(_, _, _, r) => r.resume_with(None),
            Effect::VerifyVoteExtension(_, _, _, _, _, r) => r.resume_with(Ok(())),
        })
    }

    fn schedule(&mut self, timeout: Timeout) {
        self.next_generation += 1;
        let generation = self.next_generation;
        self.timers.retain(|t| t.0 != timeout);
        self.timers.push((timeout, generation));
        let after = self.timeouts.duration(timeout.kind);
        self.actions.push(Action::Timer { timeout, generation, after });
    }

    /// Proposals that arrived before their height started, now checkable.
    fn started_round(&mut self, height: Height, round: Round) {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early)
            .into_iter()
            .partition(|p| p.height == height && p.round == round);
        self.early = later.into_iter().filter(|p| p.height >= height).collect();
        for mut value in now {
            let bytes = self.blocks.get(&value.value).map(|(_, b)| b);
            if let Some(validity) = bytes.and_then(|b| self.validity(height, b)) {
                value.validity = validity;
                self.inputs.push_back(Input::ProposedValue(value, ValueOrigin::Consensus));
            }
        }
    }

    /// The consensus core wants a value: the same block again if this validator already
    /// proposed one for this round, else a new one once built.
    fn get_value(&mut self, height: Height, round: Round) {
        let proposed = self.own.get(&(height, round)).copied();
        match proposed.and_then(|id| self.blocks.get(&id).map(|(_, b)| (id, b.clone()))) {
            Some((id, bytes)) => {
                self.stream_block(height, round, Round::Nil, &bytes);
                self.inputs.push_back(Input::Propose(LocallyProposedValue::new(height, round, id)));
            }
            None => self.actions.push(Action::Build { height, round }),
        }
    }

    /// A synced value whose certificate the core accepted: decided, whatever its content
    /// (`crate::driver`'s `ProcessSyncedValue`).
    fn sync_value(&mut self, value: ValueResponse<OmniContext>) {
        let certificate = value.certificate;
        let id = self.keep(certificate.height, value.value_bytes.to_vec());
        self.synced.insert(id);
        if id != certificate.value_id {
            tracing::warn!(validator = self.index, height = %certificate.height, "a synced value does not match its certificate");
        }
        self.inputs.push_back(Input::ProposedValue(
            ProposedValue {
                height: certificate.height,
                round: certificate.round,
                valid_round: Round::Nil,
                proposer: value.proposer,
                value: id,
                validity: Validity::Valid,
            },
            ValueOrigin::Sync(value.peer),
        ));
    }

    /// Commits a decided block and starts the next height, or restarts this one if the
    /// application could not commit (`crate::driver`'s `Decided`).
    fn decide(&mut self, certificate: CommitCertificate<OmniContext>) {
        let height = certificate.height;
        let committed = match self.blocks.get(&certificate.value_id) {
            Some((_, bytes)) => self.app.commit(height.0, bytes, encode_certificate(&certificate)),
            None => Err(format!("decided block {} was never received", certificate.value_id)),
        };
        let next = match committed {
            Ok(()) => {
                let (block, synced) =
                    (certificate.value_id, self.synced.contains(&certificate.value_id));
                self.actions.push(Action::Committed { height: height.0, block, synced });
                self.synced.clear();
                self.blocks.retain(|_, (h, _)| *h > height);
                self.own.retain(|(h, _), _| *h > height);
                self.early.retain(|p| p.height > height);
                self.streams.prune(height);
                Height(height.0 + 1)
            }
            Err(e) => {
                tracing::error!(validator = self.index, %height, "committing a decided block failed: {e}");
                height
            }
        };
        self.inputs.push_back(Input::StartHeight(next, self.validators.clone()));
    }

    fn keep(&mut self, height: Height, bytes: Vec<u8>) -> BlockId {
        let id = BlockId::of(&bytes);
        self.blocks.entry(id).or_insert((height, bytes));
        id
    }

    /// The application's verdict (as the driver's); `None`: it cannot judge the block.
    fn validity(&self, height: Height, bytes: &[u8]) -> Option<Validity> {
        match self.app.check_block(height.0, bytes) {
            Ok(()) => Some(Validity::Valid),
            Err(BlockRefusal::Invalid(why)) => {
                tracing::debug!(validator = self.index, %height, "refusing a proposed block: {why}");
                Some(Validity::Invalid)
            }
            Err(BlockRefusal::Unjudged(why)) => {
                tracing::debug!(validator = self.index, %height, "not voting on a proposed block: {why}");
                None
            }
        }
    }

    fn wire<T>(&self, channel: Channel, msg: &T) -> Option<Wire>
    where
        WireCodec: Codec<T>,
        <WireCodec as Codec<T>>::Error: std::fmt::Display,
    {
        match self.codec.encode(msg) {
            Ok(bytes) => Some(Wire { channel, bytes }),
            Err(e) => {
                tracing::error!(validator = self.index, "cannot encode a message: {e}");
                None
            }
        }
    }

    fn broadcast<T>(&mut self, channel: Channel, msg: &T)
    where
        WireCodec: Codec<T>,
        <WireCodec as Codec<T>>::Error: std::fmt::Display,
    {
        if let Some(wire) = self.wire(channel, msg) {
            self.actions.push(Action::Broadcast(wire));
        }
    }

    fn next_stream_id(&mut self, kind: &[u8]) -> StreamId {
        self.stream_counter += 1;
        let mut b = kind.to_vec();
        b.extend_from_slice(&self.incarnation.to_be_bytes());
        b.extend_from_slice(&self.stream_counter.to_be_bytes());
        StreamId::new(Bytes::from(b))
    }

    /// Streams a block to the others as `crate::driver` does (`proposal_messages`), each
    /// part its own message.
    fn stream_block(&mut self, height: Height, round: Round, pol_round: Round, bytes: &[u8]) {
        let stream = self.next_stream_id(b"pr");
        let at = (height, round, pol_round);
        for msg in proposal_messages(stream, at, self.address, &self.signer, bytes) {
            self.broadcast(Channel::ProposalParts, &msg);
        }
    }

    /// Transactions this validator's clients gave it, for the others' mempools.
    fn forward(&mut self, txs: Vec<Vec<u8>>) {
        let stream = self.next_stream_id(b"tx");
        let msg =
            StreamMessage::new(stream, 0, StreamContent::Data(ProposalPart::Transactions(txs)));
        self.broadcast(Channel::ProposalParts, &msg);
    }

    /// One part of a peer's stream; a proposal once its stream is complete and signed.
    fn received_part(
        &mut self,
        from: usize,
        msg: StreamMessage<ProposalPart>,
        height_now: Height,
        committed: u64,
    ) -> Option<ProposedValue<OmniContext>> {
        if let StreamContent::Data(ProposalPart::Transactions(txs)) = msg.content {
            self.app.received_transactions(txs);
            return None;
        }
        let key = (from, msg.stream_id.to_bytes());
        let parts = self.streams.add(key, msg.sequence, msg.content)?;
        let SignedProposal { height, round, pol_round, proposer, id, bytes } =
            assemble(parts, &self.validators).ok()?;
        if height.0 <= committed {
            return None;
        }
        self.keep(height, bytes);
        let value = ProposedValue {
            height,
            round,
            valid_round: pol_round,
            proposer,
            value: id,
            validity: Validity::Invalid,
        };
        if height != height_now || height.0 != committed + 1 {
            self.early.push(value);
            return None;
        }
        let validity = match self.blocks.get(&id) {
            Some((_, b)) => self.validity(height, b)?,
            None => Validity::Invalid,
        };
        Some(ProposedValue { validity, ..value })
    }

    /// Answers a peer's value-sync request with what this validator committed there.
    fn answer_sync(&mut self, to: usize, height: Height) {
        let value = self.app.decided(height.0).and_then(|(block, certificate)| {
            decode_certificate(&certificate)
                .map(|c| RawDecidedValue::new(Bytes::from(block), c))
                .ok()
        });
        let response =
            Response::ValueResponse(malachitebft_sync::ValueResponse::new(height, value));
        if let Some(wire) = self.wire(Channel::SyncResponse, &response) {
            self.actions.push(Action::Send(to, wire));
        }
    }

    fn peer_of(&self, index: usize) -> Option<PeerId> {
        self.peers.get(index).cloned()
    }
}
