//! Block relay beyond announce-and-fetch: the fast peers a node asks to push it new
//! blocks ([`crate::Gossip::Hybrid`]), the spreading of one block under
//! [`crate::Gossip::Infect`], and how long a request waits for a peer of known round
//! trip.

use std::collections::{HashMap, VecDeque};

use tabchain_core::{Hash, NodeId};

/// The shortest a `GetData` waits before the next source is asked: a peer whose pings
/// come back in 5 ms still gets time to look the item up and send it.
const MIN_REQUEST_MS: u64 = 250;
/// Round trips a request waits for: the request and its reply take one, and a block of
/// some size, or a peer busy for a moment, more.
const REQUEST_RTTS: u64 = 4;
/// Blocks being spread under `Infect` at once; a newer one pushes out the oldest.
const MAX_INFECTIONS: usize = 64;

/// How long a `GetData` to a peer waits before the next source is asked: a few of its
/// smoothed round trips, within [`MIN_REQUEST_MS`] and `max_ms` (also the wait for a
/// peer whose round trip is not measured yet).
pub(crate) fn request_timeout_ms(smoothed_rtt_ms: Option<u64>, max_ms: u64) -> u64 {
    smoothed_rtt_ms.map_or(max_ms, |rtt| {
        (REQUEST_RTTS * rtt).clamp(MIN_REQUEST_MS.min(max_ms), max_ms)
    })
}

/// The peers asked to push new blocks: those that most recently told us of a new block
/// first, newest first (BIP152 picks its three high-bandwidth peers the same way).
#[derive(Debug, Clone, Default)]
pub(crate) struct FastPeers {
    order: VecDeque<NodeId>,
}

/// What a change of fast peers asks of the node: who to send `FastRelay(true)`, and who
/// `FastRelay(false)`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FastChange {
    pub(crate) added: Option<NodeId>,
    pub(crate) removed: Option<NodeId>,
}

impl FastPeers {
    pub(crate) fn contains(&self, peer: &NodeId) -> bool {
        self.order.contains(peer)
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// `peer` told us of a new block before anyone else; at most `max` are kept.
    pub(crate) fn first_from(&mut self, peer: NodeId, max: usize) -> FastChange {
        if max == 0 {
            return FastChange::default();
        }
        if let Some(at) = self.order.iter().position(|p| *p == peer) {
            self.order.remove(at);
            self.order.push_front(peer);
            return FastChange::default();
        }
        self.order.push_front(peer);
        FastChange {
            added: Some(peer),
            removed: (self.order.len() > max)
                .then(|| self.order.pop_back())
                .flatten(),
        }
    }

    pub(crate) fn remove(&mut self, peer: &NodeId) {
        self.order.retain(|p| p != peer);
    }
}

/// One block being spread under [`crate::Gossip::Infect`].
#[derive(Debug, Clone)]
struct Infection {
    /// Peers not pushed to yet, in the order they will be.
    next: VecDeque<NodeId>,
    /// Peers pushed to that have not said they had it: new infections, as far as we
    /// know.
    pushed: Vec<NodeId>,
    /// Peers that said they had it already.
    had_it: usize,
}

/// The blocks this node is spreading under `Infect`, newest last.
#[derive(Debug, Clone, Default)]
pub(crate) struct Infections {
    blocks: HashMap<Hash, Infection>,
    order: VecDeque<Hash>,
}

impl Infections {
    /// Starts spreading `hash` to `peers` (shuffled by the caller); returns the first
    /// `k` to push it to.
    pub(crate) fn start(&mut self, hash: Hash, peers: Vec<NodeId>, k: usize) -> Vec<NodeId> {
        let mut next: VecDeque<NodeId> = peers.into();
        let first: Vec<NodeId> = next.drain(..k.min(next.len())).collect();
        if self.order.len() == MAX_INFECTIONS {
            if let Some(old) = self.order.pop_front() {
                self.blocks.remove(&old);
            }
        }
        self.order.push_back(hash);
        self.blocks.insert(
            hash,
            Infection {
                next,
                pushed: first.clone(),
                had_it: 0,
            },
        );
        first
    }

    /// `peer`, pushed `hash`, says it had it already: the next peer to push it to, unless
    /// `limit` new infections or `saturation` such answers end the spreading.
    pub(crate) fn had_it(
        &mut self,
        hash: &Hash,
        peer: NodeId,
        saturation: usize,
        limit: usize,
    ) -> Option<NodeId> {
        let infection = self.blocks.get_mut(hash)?;
        let at = infection.pushed.iter().position(|p| *p == peer)?;
        infection.pushed.swap_remove(at);
        infection.had_it += 1;
        if infection.had_it >= saturation || infection.pushed.len() >= limit {
            return None;
        }
        let next = infection.next.pop_front()?;
        infection.pushed.push(next);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId([n; 16])
    }

    #[test]
    fn a_request_waits_a_few_round_trips_within_bounds() {
        assert_eq!(request_timeout_ms(None, 3_000), 3_000);
        assert_eq!(request_timeout_ms(Some(100), 3_000), 400);
        assert_eq!(request_timeout_ms(Some(1), 3_000), MIN_REQUEST_MS);
        assert_eq!(request_timeout_ms(Some(5_000), 3_000), 3_000);
        assert_eq!(request_timeout_ms(Some(1), 100), 100);
    }

    #[test]
    fn the_latest_first_tellers_are_the_fast_peers() {
        let mut fast = FastPeers::default();
        assert_eq!(fast.first_from(id(1), 2).added, Some(id(1)));
        assert_eq!(fast.first_from(id(2), 2).removed, None);
        // Already fast: moved to the front, nothing to say.
        assert_eq!(fast.first_from(id(1), 2), FastChange::default());
        // A third pushes out the one that told us first least recently.
        assert_eq!(
            fast.first_from(id(3), 2),
            FastChange {
                added: Some(id(3)),
                removed: Some(id(2)),
            }
        );
        assert!(fast.contains(&id(1)) && !fast.contains(&id(2)));
        fast.remove(&id(1));
        assert!(!fast.contains(&id(1)));
        assert_eq!(fast.first_from(id(4), 0), FastChange::default());
    }

    #[test]
    fn infection_replaces_each_had_it_until_saturation_or_limit() {
        let hash = Hash([7; 32]);
        let peers: Vec<NodeId> = (1..=6).map(id).collect();
        let mut spread = Infections::default();
        assert_eq!(spread.start(hash, peers, 2), vec![id(1), id(2)]);
        // Not pushed to 5: its word is not an answer.
        assert_eq!(spread.had_it(&hash, id(5), 2, 3), None);
        assert_eq!(spread.had_it(&hash, id(1), 2, 3), Some(id(3)));
        // The second "had it" reaches the saturation.
        assert_eq!(spread.had_it(&hash, id(2), 2, 3), None);

        let other = Hash([8; 32]);
        let peers: Vec<NodeId> = (1..=6).map(id).collect();
        spread.start(other, peers, 3);
        // Three pushed, none answered: the limit of 2 new infections is reached.
        assert_eq!(spread.had_it(&other, id(1), 5, 2), None);
    }
}
