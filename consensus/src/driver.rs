//! The app-channel loop: answers Malachite's requests with the [`Application`]'s blocks.

use crate::codec::{decode_certificate, encode_certificate};
use crate::context::{
    Address, BlockId, Ed25519Signer, Height, OmniContext, ProposalPart, ValidatorSet,
};
use crate::proposal_stream::{assemble, proposal_messages, ProposalStreams, SignedProposal};
use crate::{Application, BlockRefusal, Byzantine, Error, Result};
use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::Next;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{Round, Validity};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A block the driver has seen and not yet committed, as kept on disk.
#[derive(Clone, Serialize, Deserialize)]
struct KeptBlock {
    height: Height,
    bytes: Vec<u8>,
}

/// Blocks by id until they are committed, each also written (and synced) to a file, so a
/// validator restarted from its WAL can commit a block it voted for before a crash; and
/// this validator's own proposals by `(height, round)`, so it never proposes two blocks
/// for one round (a restart would otherwise make it equivocate).
struct BlockKeeper {
    dir: PathBuf,
    blocks: HashMap<BlockId, KeptBlock>,
    own: HashMap<(u64, u32), BlockId>,
}

fn io_err(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Blocks { path: path.display().to_string(), message: e.to_string() }
}

impl BlockKeeper {
    fn open(dir: PathBuf, committed: u64) -> Result<BlockKeeper> {
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let mut keeper =
            BlockKeeper { dir: dir.clone(), blocks: HashMap::new(), own: HashMap::new() };
        for entry in std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))? {
            let path = entry.map_err(|e| io_err(&dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
            if let Some(rest) = name.strip_prefix("own-") {
                let mut it = rest.split('-');
                let (Some(h), Some(r)) = (it.next(), it.next()) else { continue };
                let (Ok(h), Ok(r)) = (h.parse::<u64>(), r.parse::<u32>()) else { continue };
                let Ok(id) = <[u8; 32]>::try_from(bytes.as_slice()) else { continue };
                if h > committed {
                    keeper.own.insert((h, r), BlockId(id));
                }
            } else if let Ok(kept) = postcard::from_bytes::<KeptBlock>(&bytes) {
                if kept.height.0 > committed {
                    keeper.blocks.insert(BlockId::of(&kept.bytes), kept);
                    continue;
                }
            }
            // Committed or unreadable (a crash mid-write): no longer needed.
            let _ = std::fs::remove_file(&path);
        }
        Ok(keeper)
    }

    fn write_synced(&self, name: &str, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))
    }

    fn keep(&mut self, height: Height, bytes: Vec<u8>) -> Result<BlockId> {
        let id = BlockId::of(&bytes);
        if !self.blocks.contains_key(&id) {
            let kept = KeptBlock { height, bytes };
            let encoded = postcard::to_allocvec(&kept).map_err(|e| io_err(&self.dir, e))?;
            self.write_synced(&format!("{}-{}", height.0, hex::encode(id.0)), &encoded)?;
            self.blocks.insert(id, kept);
        }
        Ok(id)
    }

    fn keep_own(&mut self, height: Height, round: u32, id: BlockId) -> Result<()> {
        self.write_synced(&format!("own-{}-{round}", height.0), &id.0)?;
        self.own.insert((height.0, round), id);
        Ok(())
    }

    /// Forgets everything at or below a committed height.
    fn prune(&mut self, committed: u64) {
        let dir = self.dir.clone();
        self.blocks.retain(|id, b| {
            let keep = b.height.0 > committed;
            if !keep {
                let _ =
                    std::fs::remove_file(dir.join(format!("{}-{}", b.height.0, hex::encode(id.0))));
            }
            keep
        });
        self.own.retain(|(h, r), _| {
            let keep = *h > committed;
            if !keep {
                let _ = std::fs::remove_file(dir.join(format!("own-{h}-{r}")));
            }
            keep
        });
    }
}

/// Where a complete proposal came from.
struct Proposed {
    height: Height,
    round: Round,
    pol_round: Round,
    proposer: Address,
    id: BlockId,
}

/// A block the application built, on its way back to the loop.
struct Built {
    height: Height,
    round: Round,
    bytes: Vec<u8>,
    reply: oneshot::Sender<LocallyProposedValue<OmniContext>>,
}

pub(crate) struct Driver {
    app: Arc<dyn Application>,
    signer: Ed25519Signer,
    address: Address,
    validators: ValidatorSet,
    keeper: BlockKeeper,
    streams: ProposalStreams<(PeerId, Bytes)>,
    /// Complete proposals seen, by height, for `StartedRound` after they arrived early.
    proposals: Vec<Proposed>,
    height: Height,
    round: Round,
    empty_block_interval: Duration,
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    byzantine: Byzantine,
    stream_counter: u64,
    /// Blocks being built by the application (they hold it; the engine stops them).
    building: Building,
}

/// Tasks building blocks, shared with the [`crate::Engine`] that stops them.
pub(crate) type Building = Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>;

impl Driver {
    pub(crate) fn new(
        app: Arc<dyn Application>,
        signer: Ed25519Signer,
        address: Address,
        validators: ValidatorSet,
        dir: PathBuf,
        empty_block_interval: Duration,
        byzantine: Byzantine,
    ) -> Result<Driver> {
        let committed = app.committed_height();
        Ok(Driver {
            keeper: BlockKeeper::open(dir, committed)?,
            app,
            signer,
            address,
            validators,
            streams: ProposalStreams::new(),
            proposals: Vec::new(),
            height: Height(committed + 1),
            round: Round::Nil,
            empty_block_interval,
            byzantine,
            stream_counter: rand::random::<u32>() as u64,
            building: Building::default(),
        })
    }

    /// The block-building tasks, for the engine to stop.
    pub(crate) fn building(&self) -> Building {
        self.building.clone()
    }

    pub(crate) async fn run(
        &mut self,
        channels: &mut Channels<OmniContext>,
        mut gossip: mpsc::Receiver<Vec<Vec<u8>>>,
    ) -> eyre::Result<()> {
        let (built_tx, mut built_rx) = mpsc::channel::<Built>(4);
        loop {
            tokio::select! {
                msg = channels.consensus.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg, channels, &built_tx).await?;
                }
                Some(built) = built_rx.recv() => {
                    self.proposal_built(built, channels).await?;
                }
                Some(txs) = gossip.recv() => {
                    let stream = self.next_stream_id(b"tx");
                    let msg = StreamMessage::new(stream, 0, StreamContent::Data(ProposalPart::Transactions(txs)));
                    channels.network.send(NetworkMsg::PublishProposalPart(msg)).await?;
                }
            }
        }
        // The engine closes its channel when it stops (a shutdown, or its own failure,
        // which the engine's task reports): nothing is left to drive.
        tracing::info!("the consensus engine closed its channel; the driver stops");
        Ok(())
    }

    fn next_stream_id(&mut self, kind: &[u8]) -> StreamId {
        self.stream_counter += 1;
        let mut b = kind.to_vec();
        b.extend_from_slice(&self.stream_counter.to_be_bytes());
        StreamId::new(Bytes::from(b))
    }

    /// The application's verdict on a proposed block; `None` when it cannot judge it
    /// (the proposal is then left unanswered: no vote for or against it).
    fn validity(&self, height: Height, bytes: &[u8]) -> Option<Validity> {
        match self.app.check_block(height.0, bytes) {
            Ok(()) => Some(Validity::Valid),
            Err(BlockRefusal::Invalid(why)) => {
                tracing::warn!(%height, "refusing a proposed block: {why}");
                Some(Validity::Invalid)
            }
            Err(BlockRefusal::Unjudged(why)) => {
                tracing::warn!(%height, "not voting on a proposed block: {why}");
                None
            }
        }
    }

    async fn handle(
        &mut self,
        msg: AppMsg<OmniContext>,
        channels: &mut Channels<OmniContext>,
        built_tx: &mpsc::Sender<Built>,
    ) -> eyre::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let start = Height(self.app.committed_height() + 1);
                tracing::info!(%start, "consensus ready");
                let _ = reply.send((start, self.validators.clone()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                tracing::debug!(%height, %round, %proposer, ?role, "round started");
                self.height = height;
                self.round = round;
                // Proposals that arrived before this height started, now checkable.
                let mut early = Vec::new();
                for p in self.proposals.iter().filter(|p| p.height == height && p.round == round) {
                    let kept = self.keeper.blocks.get(&p.id);
                    if let Some(validity) = kept.and_then(|k| self.validity(height, &k.bytes)) {
                        early.push(ProposedValue {
                            height,
                            round,
                            valid_round: p.pol_round,
                            proposer: p.proposer,
                            value: p.id,
                            validity,
                        });
                    }
                }
                let _ = reply_value.send(early);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                let r = round.as_u32().unwrap_or(0);
                if let Some(id) = self.keeper.own.get(&(height.0, r)).copied() {
                    // Proposed before (and then restarted): the same block again, never a
                    // second one for the same round.
                    if let Some(kept) = self.keeper.blocks.get(&id) {
                        let bytes = kept.bytes.clone();
                        let _ = reply.send(LocallyProposedValue::new(height, round, id));
                        self.stream_block(height, round, Round::Nil, &bytes, channels).await?;
                        return Ok(());
                    }
                }
                let app = self.app.clone();
                let wait = self.empty_block_interval.min(timeout / 2);
                let built_tx = built_tx.clone();
                // Built off the loop: while the proposer waits for transactions it keeps
                // taking forwarded ones into its mempool.
                let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
                    let bytes = app.propose(height.0, wait).await;
                    let _ = built_tx.send(Built { height, round, bytes, reply }).await;
                }));
                if let Ok(mut building) = self.building.lock() {
                    building.retain(|task| !task.is_finished());
                    building.push(task);
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtension { reply, .. } => {
                let _ = reply.send(Ok(()));
            }
            AppMsg::RestreamProposal { height, round, valid_round, value_id, .. } => {
                if let Some(kept) = self.keeper.blocks.get(&value_id) {
                    let bytes = kept.bytes.clone();
                    self.stream_block(height, round, valid_round, &bytes, channels).await?;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart { from, part, reply } => {
                let value = self.received_part(from, part)?;
                let _ = reply.send(value);
            }
            AppMsg::GetValidatorSet { reply, .. } => {
                let _ = reply.send(Some(self.validators.clone()));
            }
            AppMsg::Decided { certificate, reply, .. } => {
                let height = certificate.height;
                let next = match self.keeper.blocks.get(&certificate.value_id) {
                    Some(kept) => {
                        // Executing a block is blocking work (it may verify proofs, or wait
                        // for the mempool check verifying them, and writes RocksDB): off the
                        // async workers, which other validators' tasks share in one process.
                        let (app, bytes) = (self.app.clone(), kept.bytes.clone());
                        let encoded = encode_certificate(&certificate);
                        let committed = tokio::task::spawn_blocking(move || {
                            app.commit(height.0, &bytes, encoded)
                        })
                        .await
                        .unwrap_or_else(|e| Err(format!("the commit task failed: {e}")));
                        match committed {
                            Ok(()) => {
                                tracing::debug!(%height, round = %certificate.round, block = %certificate.value_id, "committed");
                                self.keeper.prune(height.0);
                                self.proposals.retain(|p| p.height > height);
                                self.streams.prune(height);
                                Next::Start(Height(height.0 + 1), self.validators.clone())
                            }
                            Err(e) => {
                                tracing::error!(%height, "committing a decided block failed: {e}");
                                Next::Restart(height, self.validators.clone())
                            }
                        }
                    }
                    None => {
                        tracing::error!(%height, block = %certificate.value_id, "decided a block this validator never received; restarting the height to sync it");
                        Next::Restart(height, self.validators.clone())
                    }
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValue { height, reply } => {
                let value = self.app.decided(height.0).and_then(|(block, cert)| {
                    decode_certificate(&cert)
                        .map(|certificate| RawDecidedValue::new(Bytes::from(block), certificate))
                        .map_err(|e| tracing::error!(%height, "stored certificate: {e}"))
                        .ok()
                });
                let _ = reply.send(value);
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                // A synced value arrives with a commit certificate that consensus checks
                // against the validator set: it is decided, whatever its content.
                let id = self.keeper.keep(height, value_bytes.to_vec())?;
                let _ = reply.send(Some(ProposedValue {
                    height,
                    round,
                    valid_round: Round::Nil,
                    proposer,
                    value: id,
                    validity: Validity::Valid,
                }));
            }
        }
        Ok(())
    }

    async fn proposal_built(
        &mut self,
        built: Built,
        channels: &mut Channels<OmniContext>,
    ) -> eyre::Result<()> {
        let Built { height, round, bytes, reply } = built;
        #[cfg(feature = "fault-injection")]
        let bytes = match self.byzantine.invalid_blocks {
            true => b"not a block".iter().chain(&height.0.to_be_bytes()).copied().collect(),
            false => bytes,
        };
        let id = self.keeper.keep(height, bytes.clone())?;
        self.keeper.keep_own(height, round.as_u32().unwrap_or(0), id)?;
        let _ = reply.send(LocallyProposedValue::new(height, round, id));
        self.stream_block(height, round, Round::Nil, &bytes, channels).await?;
        #[cfg(feature = "fault-injection")]
        if self.byzantine.equivocate {
            // A second, different block for the same height and round, properly signed.
            let mut other = bytes.clone();
            other.extend_from_slice(b"equivocation");
            tracing::warn!(%height, %round, "byzantine: streaming a second proposal");
            self.stream_block(height, round, Round::Nil, &other, channels).await?;
        }
        Ok(())
    }

    async fn stream_block(
        &mut self,
        height: Height,
        round: Round,
        pol_round: Round,
        bytes: &[u8],
        channels: &mut Channels<OmniContext>,
    ) -> eyre::Result<()> {
        let stream = self.next_stream_id(b"pr");
        let at = (height, round, pol_round);
        for msg in proposal_messages(stream, at, self.address, &self.signer, bytes) {
            channels.network.send(NetworkMsg::PublishProposalPart(msg)).await?;
        }
        Ok(())
    }

    fn received_part(
        &mut self,
        from: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Result<Option<ProposedValue<OmniContext>>> {
        if let StreamContent::Data(ProposalPart::Transactions(txs)) = msg.content {
            self.app.received_transactions(txs);
            return Ok(None);
        }
        let key = (from, msg.stream_id.to_bytes());
        let Some(parts) = self.streams.add(key, msg.sequence, msg.content) else {
            return Ok(None);
        };
        let SignedProposal { height, round, pol_round, proposer, id, bytes } =
            match assemble(parts, &self.validators) {
                Ok(proposal) => proposal,
                Err(dropped) => {
                    tracing::warn!(%from, "{dropped}; dropped");
                    return Ok(None);
                }
            };
        let committed = self.app.committed_height();
        if height.0 <= committed {
            return Ok(None);
        }
        self.keeper.keep(height, bytes)?;
        if height != self.height || height.0 != committed + 1 {
            // Early: checked when its height starts (StartedRound).
            self.proposals.push(Proposed { height, round, pol_round, proposer, id });
            return Ok(None);
        }
        let validity = match self.keeper.blocks.get(&id) {
            Some(kept) => match self.validity(height, &kept.bytes) {
                Some(validity) => validity,
                None => return Ok(None),
            },
            None => Validity::Invalid,
        };
        Ok(Some(ProposedValue {
            height,
            round,
            valid_round: pol_round,
            proposer,
            value: id,
            validity,
        }))
    }
}
