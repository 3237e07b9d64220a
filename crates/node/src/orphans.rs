//! Blocks from peers whose parents we lack, kept until the parents come: bounded in
//! bytes per peer and overall, so that a peer sending made-up blocks only ever pushes
//! out its own (Bitcoin Core bounds its orphan transactions per peer the same way,
//! `TxOrphanage::LimitOrphans`). The chain's own pool holds only stored blocks whose
//! damaged ancestor is being fetched again; peers' blocks wait here.

use std::collections::{BTreeSet, HashMap};

use tabchain_core::{Block, Hash, NodeId};

#[derive(Debug, Clone)]
struct Orphan {
    block: Block,
    from: NodeId,
    bytes: usize,
    seq: u64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Orphans {
    blocks: HashMap<Hash, Orphan>,
    by_parent: HashMap<Hash, Vec<Hash>>,
    /// Arrival order, oldest first.
    order: BTreeSet<(u64, Hash)>,
    by_peer: HashMap<NodeId, usize>,
    bytes: usize,
    seq: u64,
}

impl Orphans {
    pub(crate) fn contains(&self, hash: &Hash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Bytes held, for everyone.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The nearest ancestor of a block with parent `parent` that is not held here.
    pub(crate) fn missing_ancestor(&self, parent: Hash) -> Hash {
        let mut missing = parent;
        while let Some(orphan) = self.blocks.get(&missing) {
            missing = orphan.block.header.prev;
        }
        missing
    }

    /// Keeps `block` (`bytes` long) from `from`. Past `per_peer` bytes its sender's
    /// oldest go; past `total`, the oldest of whoever holds the most.
    pub(crate) fn insert(
        &mut self,
        hash: Hash,
        block: Block,
        from: NodeId,
        bytes: usize,
        per_peer: usize,
        total: usize,
    ) {
        if self.blocks.contains_key(&hash) || bytes > per_peer || bytes > total {
            return;
        }
        while self.by_peer.get(&from).copied().unwrap_or(0) + bytes > per_peer {
            self.evict_oldest_of(from);
        }
        while self.bytes + bytes > total {
            let Some((&heaviest, _)) = self.by_peer.iter().max_by_key(|(id, b)| (**b, **id)) else {
                break;
            };
            self.evict_oldest_of(heaviest);
        }
        self.seq += 1;
        self.by_parent
            .entry(block.header.prev)
            .or_default()
            .push(hash);
        self.order.insert((self.seq, hash));
        *self.by_peer.entry(from).or_default() += bytes;
        self.bytes += bytes;
        self.blocks.insert(
            hash,
            Orphan {
                block,
                from,
                bytes,
                seq: self.seq,
            },
        );
    }

    /// Takes out the orphans whose parent is `parent`, with who sent each.
    pub(crate) fn take_children(&mut self, parent: &Hash) -> Vec<(Block, NodeId)> {
        let children = self.by_parent.remove(parent).unwrap_or_default();
        children
            .into_iter()
            .filter_map(|child| self.remove(&child))
            .map(|orphan| (orphan.block, orphan.from))
            .collect()
    }

    fn evict_oldest_of(&mut self, peer: NodeId) {
        let oldest = self
            .order
            .iter()
            .find(|(_, hash)| self.blocks[hash].from == peer)
            .map(|(_, hash)| *hash);
        match oldest {
            Some(hash) => {
                self.remove(&hash);
            }
            None => {
                self.by_peer.remove(&peer);
            }
        }
    }

    fn remove(&mut self, hash: &Hash) -> Option<Orphan> {
        let orphan = self.blocks.remove(hash)?;
        self.order.remove(&(orphan.seq, *hash));
        let prev = orphan.block.header.prev;
        if let Some(siblings) = self.by_parent.get_mut(&prev) {
            siblings.retain(|h| h != hash);
            if siblings.is_empty() {
                self.by_parent.remove(&prev);
            }
        }
        self.bytes -= orphan.bytes;
        if let Some(held) = self.by_peer.get_mut(&orphan.from) {
            *held -= orphan.bytes;
            if *held == 0 {
                self.by_peer.remove(&orphan.from);
            }
        }
        Some(orphan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::Params;

    fn block(prev: u8, n: u64) -> Block {
        let mut block = Params::for_tests("orphans").genesis();
        block.header.prev = Hash([prev; 32]);
        block.header.nonce = n;
        block
    }

    #[test]
    fn a_peer_only_ever_pushes_out_its_own_orphans() {
        let (honest, junk) = (NodeId([1; 16]), NodeId([2; 16]));
        let mut pool = Orphans::default();
        let first = block(9, 0);
        pool.insert(first.hash(), first.clone(), honest, 100, 300, 500);
        for n in 1..=20 {
            let b = block(8, n);
            pool.insert(b.hash(), b, junk, 100, 300, 500);
        }
        assert!(
            pool.contains(&first.hash()),
            "the honest peer's orphan stays"
        );
        assert_eq!(pool.bytes(), 400, "the junk peer keeps 300 bytes at most");
        // Past the total, the heaviest holder loses its oldest.
        for n in 0..2 {
            let b = block(7, 100 + n);
            pool.insert(b.hash(), b, NodeId([3; 16]), 100, 300, 500);
        }
        assert!(pool.contains(&first.hash()));
        assert!(pool.bytes() <= 500);
        assert_eq!(pool.missing_ancestor(first.hash()), Hash([9; 32]));
        let released = pool.take_children(&Hash([9; 32]));
        assert_eq!(released, vec![(first, honest)]);
    }
}
