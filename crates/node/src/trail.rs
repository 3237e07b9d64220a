//! Each recent block's gossip trail, kept for the UI: who announced it and when, whom
//! it was fetched from, the announcements ignored because the node already had it, whom
//! the node told, who fetched it from here and whom it was pushed to, and the bytes
//! each way. A copy pushed to the node once it had the block counts as an ignored
//! announcement. It is how a class
//! sees one block spread hop by hop, and that duplicates cost only an `Inv`.

use std::collections::{HashMap, VecDeque};

use tabchain_core::{Hash, NodeId, Timestamp};

/// Blocks whose trails are kept.
const BLOCKS: usize = 64;
/// Entries per list of one trail: a peer repeating itself adds nothing to see.
const ENTRIES: usize = 32;

/// One block's trail through this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trail {
    /// Announcements that came before the node had the block.
    pub announced: Vec<(NodeId, Timestamp)>,
    /// Announcements that came after: ignored, the hash was known.
    pub ignored: Vec<(NodeId, Timestamp)>,
    /// When the block joined the tree, and from which peer (`None`: mined here).
    pub arrived: Option<(Option<NodeId>, Timestamp)>,
    pub bytes_in: u64,
    /// Peers this node announced it to.
    pub told: Vec<(NodeId, Timestamp)>,
    /// Peers that fetched it from this node.
    pub served: Vec<(NodeId, Timestamp)>,
    /// Peers this node sent it to unasked: those that asked for new blocks at once,
    /// and every peer, for a block mined here.
    pub pushed: Vec<(NodeId, Timestamp)>,
    pub bytes_out: u64,
}

fn push(list: &mut Vec<(NodeId, Timestamp)>, peer: NodeId, at: Timestamp) {
    if list.len() < ENTRIES {
        list.push((peer, at));
    }
}

/// The trails of the last [`BLOCKS`] blocks heard of.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trails {
    trails: HashMap<Hash, Trail>,
    order: VecDeque<Hash>,
}

impl Trails {
    pub(crate) fn get(&self, hash: &Hash) -> Option<&Trail> {
        self.trails.get(hash)
    }

    fn entry(&mut self, hash: Hash) -> &mut Trail {
        if !self.trails.contains_key(&hash) {
            if self.order.len() == BLOCKS {
                if let Some(old) = self.order.pop_front() {
                    self.trails.remove(&old);
                }
            }
            self.order.push_back(hash);
        }
        self.trails.entry(hash).or_default()
    }

    /// `had`: the node held the block already, so the announcement is a duplicate.
    pub(crate) fn announced(&mut self, hash: Hash, peer: NodeId, at: Timestamp, had: bool) {
        let trail = self.entry(hash);
        push(
            if had {
                &mut trail.ignored
            } else {
                &mut trail.announced
            },
            peer,
            at,
        );
    }

    pub(crate) fn received(&mut self, hash: Hash, bytes: usize) {
        self.entry(hash).bytes_in += bytes as u64;
    }

    pub(crate) fn arrived(&mut self, hash: Hash, from: Option<NodeId>, at: Timestamp) {
        let trail = self.entry(hash);
        trail.arrived.get_or_insert((from, at));
    }

    pub(crate) fn told(&mut self, hash: Hash, peer: NodeId, at: Timestamp) {
        push(&mut self.entry(hash).told, peer, at);
    }

    pub(crate) fn served(&mut self, hash: Hash, peer: NodeId, at: Timestamp, bytes: usize) {
        let trail = self.entry(hash);
        push(&mut trail.served, peer, at);
        trail.bytes_out += bytes as u64;
    }

    pub(crate) fn pushed(&mut self, hash: Hash, peer: NodeId, at: Timestamp, bytes: usize) {
        let trail = self.entry(hash);
        push(&mut trail.pushed, peer, at);
        trail.bytes_out += bytes as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_trails_go_and_lists_stay_bounded() {
        let mut trails = Trails::default();
        let peer = NodeId([1; 16]);
        for n in 0..=BLOCKS as u8 {
            trails.announced(Hash([n; 32]), peer, Timestamp(0), false);
        }
        assert!(trails.get(&Hash([0; 32])).is_none(), "the oldest went");
        for _ in 0..100 {
            trails.announced(Hash([1; 32]), peer, Timestamp(0), true);
        }
        assert_eq!(trails.get(&Hash([1; 32])).unwrap().ignored.len(), ENTRIES);
    }
}
