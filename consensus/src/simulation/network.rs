//! The simulated network and clock: messages as the bytes of our wire codec, a queue of
//! events in simulated time, seeded delays, drops and duplicates, and the trace of
//! everything delivered.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

/// Which of Malachite's channels a message travels on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Channel {
    /// Signed proposals and votes.
    Consensus,
    /// Rebroadcast votes and round certificates.
    Liveness,
    /// Proposal streams and forwarded transactions.
    ProposalParts,
    /// Value sync: a peer's committed height.
    SyncStatus,
    /// Value sync: a request for a decided value.
    SyncRequest,
    /// Value sync: a decided value and its certificate.
    SyncResponse,
}

impl Channel {
    fn tag(self) -> u8 {
        self as u8
    }
}

/// A message on the simulated wire: encoded by `crate::codec::WireCodec`, decoded on
/// delivery.
#[derive(Clone, Debug)]
pub(super) struct Wire {
    pub(super) channel: Channel,
    pub(super) bytes: Bytes,
}

/// How the network mistreats messages; each decision is drawn from the simulation's RNG.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkFaults {
    /// Shortest delivery delay.
    pub min_delay: Duration,
    /// Longest delivery delay. Independent delays reorder messages.
    pub max_delay: Duration,
    /// Probability that a message is lost, until `stable_after`.
    pub drop: f64,
    /// Probability that a message is delivered twice (each copy with its own delay).
    pub duplicate: f64,
    /// The global stabilisation time of partial synchrony, the model in which
    /// Tendermint's liveness holds: no message is lost after it. Delays are bounded by
    /// `max_delay` throughout; duplicates and reordering go on.
    pub stable_after: Duration,
}

impl Default for NetworkFaults {
    fn default() -> Self {
        NetworkFaults {
            min_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(120),
            drop: 0.05,
            duplicate: 0.03,
            stable_after: Duration::from_secs(10),
        }
    }
}

/// What the network did, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages delivered (duplicates included).
    pub delivered: u64,
    /// Messages lost on the way.
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Messages that reached a crashed validator.
    pub unreachable: u64,
}

/// An event at a point of simulated time. Events at the same time keep the order in
/// which they were scheduled, so a run depends on the seed alone.
pub(super) struct Scheduled<E> {
    pub(super) at: Duration,
    seq: u64,
    pub(super) event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Scheduled<E> {}

impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Scheduled<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The queue of future events, earliest first.
pub(super) struct Agenda<E> {
    queue: BinaryHeap<Reverse<Scheduled<E>>>,
    seq: u64,
}

impl<E> Agenda<E> {
    pub(super) fn new() -> Agenda<E> {
        Agenda { queue: BinaryHeap::new(), seq: 0 }
    }

    pub(super) fn at(&mut self, at: Duration, event: E) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { at, seq: self.seq, event }));
    }

    pub(super) fn next(&mut self) -> Option<Scheduled<E>> {
        self.queue.pop().map(|Reverse(s)| s)
    }
}

/// A running hash of what happened, in order: two runs with the same trace delivered the
/// same messages at the same times and decided the same blocks.
pub(super) struct Trace(Sha256);

impl Trace {
    pub(super) fn new(seed: u64) -> Trace {
        let mut h = Sha256::new();
        h.update(b"omni/consensus/simulation-trace");
        h.update(seed.to_be_bytes());
        Trace(h)
    }

    pub(super) fn delivered(&mut self, at: Duration, from: usize, to: usize, wire: &Wire) {
        self.0.update([b'm', wire.channel.tag()]);
        self.0.update((at.as_micros() as u64).to_be_bytes());
        self.0.update((from as u64).to_be_bytes());
        self.0.update((to as u64).to_be_bytes());
        self.0.update((wire.bytes.len() as u64).to_be_bytes());
        self.0.update(&wire.bytes);
    }

    pub(super) fn committed(&mut self, at: Duration, validator: usize, height: u64, id: &[u8]) {
        self.0.update([b'c']);
        self.0.update((at.as_micros() as u64).to_be_bytes());
        self.0.update((validator as u64).to_be_bytes());
        self.0.update(height.to_be_bytes());
        self.0.update(id);
    }

    pub(super) fn finish(&self) -> [u8; 32] {
        self.0.clone().finalize().into()
    }
}
