//! Blocks that arrived before their parents, kept (boundedly) until the parents come.

use std::collections::{HashMap, VecDeque};

use crate::block::Block;
use crate::hash::Hash;

/// A bounded pool of blocks whose parents are unknown. When full, the oldest goes: a
/// peer sending junk orphans can only push out other orphans, never chain blocks.
#[derive(Debug, Clone)]
pub struct OrphanPool {
    blocks: HashMap<Hash, Block>,
    by_parent: HashMap<Hash, Vec<Hash>>,
    arrival: VecDeque<Hash>,
    limit: usize,
}

impl OrphanPool {
    pub fn new(limit: usize) -> OrphanPool {
        OrphanPool {
            blocks: HashMap::new(),
            by_parent: HashMap::new(),
            arrival: VecDeque::new(),
            limit,
        }
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// The nearest ancestor of `hash` that is not in the pool: the block to fetch next.
    pub fn missing_ancestor(&self, hash: Hash) -> Hash {
        let mut missing = hash;
        while let Some(block) = self.blocks.get(&missing) {
            missing = block.header.prev;
        }
        missing
    }

    pub fn insert(&mut self, hash: Hash, block: Block) {
        if self.limit == 0 || self.blocks.contains_key(&hash) {
            return;
        }
        while self.blocks.len() >= self.limit {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            self.remove(&oldest);
        }
        self.by_parent
            .entry(block.header.prev)
            .or_default()
            .push(hash);
        self.arrival.push_back(hash);
        self.blocks.insert(hash, block);
    }

    /// Takes out the orphans whose parent is `parent`.
    pub fn take_children(&mut self, parent: &Hash) -> Vec<Block> {
        let children = self.by_parent.remove(parent).unwrap_or_default();
        children
            .iter()
            .filter_map(|child| {
                self.arrival.retain(|h| h != child);
                self.blocks.remove(child)
            })
            .collect()
    }

    fn remove(&mut self, hash: &Hash) {
        if let Some(block) = self.blocks.remove(hash) {
            if let Some(siblings) = self.by_parent.get_mut(&block.header.prev) {
                siblings.retain(|h| h != hash);
                if siblings.is_empty() {
                    self.by_parent.remove(&block.header.prev);
                }
            }
        }
    }
}
