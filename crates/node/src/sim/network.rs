//! The simulated wire: links with a latency drawn per link, jitter per message and a
//! bandwidth, kept in order per direction as a data channel is; partitions; and the
//! queue of everything due to happen, ordered by time and then by when it was queued.

use std::collections::{BTreeMap, VecDeque};

use tabchain_core::Timestamp;

use crate::random::Rng;

/// One link between two nodes, `a < b`.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// Tells this link from an earlier one between the same two nodes.
    pub(crate) epoch: u64,
    /// The link manager's session of it, the same on both sides.
    pub(crate) session: u64,
    pub(crate) latency_ms: u64,
    /// When the last frame each way arrives (a→b, b→a): no frame overtakes another.
    pub(crate) busy_until: [Timestamp; 2],
    /// Whether each side (a, b) still has the link open.
    pub(crate) open: [bool; 2],
}

/// The link table key and which direction `from` sends in.
pub(crate) fn key(from: usize, to: usize) -> ((usize, usize), usize) {
    if from < to {
        ((from, to), 0)
    } else {
        ((to, from), 1)
    }
}

/// How frames move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wire {
    /// Mean one-way latency; each link draws its own uniformly in [mean/2, 3·mean/2].
    pub latency_ms: u64,
    /// Each frame waits up to this much more, uniformly.
    pub jitter_ms: u64,
    /// Bytes per millisecond each way (1250 = 10 Mbit/s).
    pub bytes_per_ms: u64,
    /// Share (0 to 1) of gossip frames (announcements, requests, blocks, transactions)
    /// lost on the way, as on the unreliable transport the seeds' gossip is made for.
    pub loss: f64,
}

impl Wire {
    pub(crate) fn link_latency(&self, rng: &mut Rng) -> u64 {
        self.latency_ms / 2 + rng.below(self.latency_ms + 1)
    }

    /// When a frame of `size` bytes sent at `now` on `link` in direction `dir` arrives.
    pub(crate) fn arrival(
        &self,
        link: &mut Link,
        dir: usize,
        size: usize,
        now: Timestamp,
        rng: &mut Rng,
    ) -> Timestamp {
        let jitter = rng.below(self.jitter_ms + 1);
        let transfer = size as u64 / self.bytes_per_ms.max(1);
        let at = now
            .saturating_add(link.latency_ms + jitter + transfer)
            .max(link.busy_until[dir]);
        link.busy_until[dir] = at;
        at
    }
}

/// The event queue: time jumps from one due job to the next. Jobs due at the same
/// millisecond run in the order they were queued. A map of per-millisecond lists, not
/// one heap of every job: a big network has a few hundred thousand jobs in flight but
/// only a few thousand distinct times, so a push or pop touches a small tree and the
/// end of a list.
#[derive(Debug)]
pub(crate) struct Queue<J> {
    due: BTreeMap<Timestamp, VecDeque<J>>,
}

impl<J> Queue<J> {
    pub(crate) fn new() -> Queue<J> {
        Queue {
            due: BTreeMap::new(),
        }
    }

    pub(crate) fn push(&mut self, at: Timestamp, job: J) {
        self.due.entry(at).or_default().push_back(job);
    }

    pub(crate) fn peek_at(&self) -> Option<Timestamp> {
        self.due.first_key_value().map(|(at, _)| *at)
    }

    /// Every job due at the earliest time, in the order they were queued. Jobs queued
    /// for that time while they run come in the next batch.
    pub(crate) fn pop_batch(&mut self) -> Option<(Timestamp, VecDeque<J>)> {
        self.due.pop_first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_their_order_and_the_queue_its_times() {
        let wire = Wire {
            latency_ms: 10,
            jitter_ms: 50,
            bytes_per_ms: 1,
            loss: 0.0,
        };
        let mut rng = Rng::new(3);
        let mut link = Link {
            epoch: 0,
            session: 0,
            latency_ms: 10,
            busy_until: [Timestamp(0); 2],
            open: [true; 2],
        };
        let mut last = Timestamp(0);
        for i in 0..100 {
            let at = wire.arrival(&mut link, 0, 5, Timestamp(i), &mut rng);
            assert!(at >= last && at >= Timestamp(i + 15));
            last = at;
        }
        let mut queue = Queue::new();
        queue.push(Timestamp(5), "b");
        queue.push(Timestamp(1), "a");
        queue.push(Timestamp(5), "c");
        assert_eq!(queue.pop_batch(), Some((Timestamp(1), ["a"].into())));
        queue.push(Timestamp(5), "d");
        assert_eq!(
            queue.pop_batch(),
            Some((Timestamp(5), ["b", "c", "d"].into()))
        );
        assert_eq!(queue.pop_batch(), None);
    }
}
