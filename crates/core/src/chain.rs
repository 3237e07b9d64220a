//! The block tree and the active chain: every valid block received, the cumulative work
//! of each, fork choice (most work, first seen wins ties), reorgs of any depth with undo
//! data, and the orphan pool for blocks that arrive before their parents.

use std::collections::HashMap;

use crate::block::{Block, BlockError};
use crate::difficulty::next_difficulty;
use crate::hash::Hash;
use crate::header::Header;
use crate::orphans::OrphanPool;
use crate::params::Params;
use crate::time::Timestamp;
use crate::utxo::{Undo, UtxoSet};

/// How many ancestors' times give the median a new block's time must exceed.
const MEDIAN_TIME_SPAN: usize = 11;

/// What became of a block handed to [`Chain::process_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Already known; nothing changed.
    Duplicate,
    /// Its parent is unknown; it waits in the orphan pool. `missing` is the nearest
    /// ancestor to fetch.
    Orphan { missing: Hash },
    /// Stored in the block tree, and possibly (with orphans it released) a new tip.
    Stored { tip_change: Option<TipChange> },
}

/// How the active chain moved: blocks above `fork_height` were swapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipChange {
    pub fork_height: u64,
    /// Blocks that left the active chain, lowest first.
    pub disconnected: Vec<Hash>,
    /// Blocks that joined it, lowest first; the last is the new tip.
    pub connected: Vec<Hash>,
}

impl TipChange {
    pub fn is_reorg(&self) -> bool {
        !self.disconnected.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validity {
    /// Stored on a side branch; its coins have not been checked yet.
    Unchecked,
    /// Connected to the UTXO set at least once.
    Valid,
    Invalid(BlockError),
}

#[derive(Debug, Clone)]
struct Entry {
    block: Block,
    height: u64,
    /// Cumulative difficulty from genesis up to and including this block.
    work: u128,
    /// Order of arrival: ties in work go to the lowest.
    arrival: u64,
    validity: Validity,
}

#[derive(Debug, Clone)]
pub struct Chain {
    params: Params,
    entries: HashMap<Hash, Entry>,
    children: HashMap<Hash, Vec<Hash>>,
    /// Hashes of the active chain; index = height.
    active: Vec<Hash>,
    utxo: UtxoSet,
    undo: HashMap<Hash, Undo>,
    orphans: OrphanPool,
    arrivals: u64,
}

impl Chain {
    /// A chain holding only the genesis block of `params`.
    pub fn new(params: Params) -> Chain {
        let genesis = params.genesis();
        let hash = genesis.hash();
        let mut utxo = UtxoSet::default();
        let undo = utxo
            .connect(&genesis, 0, 0)
            .expect("the genesis block pays nothing and spends nothing");
        let entry = Entry {
            work: u128::from(genesis.header.difficulty),
            block: genesis,
            height: 0,
            arrival: 0,
            validity: Validity::Valid,
        };
        Chain {
            orphans: OrphanPool::new(params.max_orphans),
            params,
            entries: HashMap::from([(hash, entry)]),
            children: HashMap::new(),
            active: vec![hash],
            utxo,
            undo: HashMap::from([(hash, undo)]),
            arrivals: 1,
        }
    }

    // Getters.

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn genesis_hash(&self) -> Hash {
        self.active[0]
    }

    pub fn tip(&self) -> Hash {
        *self.active.last().expect("genesis is always active")
    }

    pub fn tip_header(&self) -> &Header {
        &self.entries[&self.tip()].block.header
    }

    pub fn height(&self) -> u64 {
        self.active.len() as u64 - 1
    }

    pub fn tip_work(&self) -> u128 {
        self.entries[&self.tip()].work
    }

    pub fn utxo(&self) -> &UtxoSet {
        &self.utxo
    }

    /// A stored block (active or on a side branch); orphans are not included.
    pub fn block(&self, hash: &Hash) -> Option<&Block> {
        self.entries.get(hash).map(|e| &e.block)
    }

    /// Whether the block is stored, waiting as an orphan, or known to be invalid.
    pub fn knows(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash) || self.orphans.contains(hash)
    }

    pub fn height_of(&self, hash: &Hash) -> Option<u64> {
        self.entries.get(hash).map(|e| e.height)
    }

    pub fn is_active(&self, hash: &Hash) -> bool {
        self.height_of(hash)
            .is_some_and(|h| self.active.get(h as usize) == Some(hash))
    }

    /// The active block at `height`.
    pub fn hash_at(&self, height: u64) -> Option<Hash> {
        self.active.get(usize::try_from(height).ok()?).copied()
    }

    pub fn orphan_count(&self) -> usize {
        self.orphans.len()
    }

    /// Hashes that describe the active chain to a peer: the last ten blocks, then
    /// exponentially sparser, ending at genesis. A peer finds the fork point in it.
    pub fn locator(&self) -> Vec<Hash> {
        let mut locator = Vec::new();
        let mut height = self.height() as i64;
        let mut step = 1;
        while height > 0 {
            locator.push(self.active[height as usize]);
            if locator.len() >= 10 {
                step *= 2;
            }
            height -= step;
        }
        locator.push(self.genesis_hash());
        locator
    }

    /// Up to `max` active headers after the first `locator` hash on the active chain
    /// (after genesis if none is), stopping early at `stop`.
    pub fn headers_after(&self, locator: &[Hash], stop: Option<Hash>, max: usize) -> Vec<Header> {
        let start = locator
            .iter()
            .find(|h| self.is_active(h))
            .and_then(|h| self.height_of(h))
            .unwrap_or(0);
        let mut headers = Vec::new();
        for hash in self.active.iter().skip(start as usize + 1).take(max) {
            headers.push(self.entries[hash].block.header);
            if Some(*hash) == stop {
                break;
            }
        }
        headers
    }

    /// The difficulty a child of `parent` must carry; `None` if `parent` is unknown.
    pub fn next_difficulty(&self, parent: &Hash) -> Option<u64> {
        let entry = self.entries.get(parent)?;
        let window = self.params.retarget_window + 1;
        let mut recent: Vec<_> = self
            .ancestors(*parent)
            .take_while(|e| e.height > 0)
            .take(window)
            .map(|e| (e.block.header.time, e.block.header.difficulty))
            .collect();
        recent.reverse();
        Some(next_difficulty(
            &self.params,
            entry.block.header.difficulty,
            &recent,
        ))
    }

    /// The median time of `parent` and its ten ancestors: a child's time must exceed it.
    pub fn median_time_past(&self, parent: &Hash) -> Option<Timestamp> {
        let mut times: Vec<_> = self
            .ancestors(*parent)
            .take(MEDIAN_TIME_SPAN)
            .map(|e| e.block.header.time)
            .collect();
        times.sort();
        times.get(times.len() / 2).copied()
    }

    /// The rules for a header in its place, given its parent is stored: proof of work,
    /// the retargeted difficulty, and a time after the median past and not too far past
    /// `now`. Header-first sync checks headers with this before fetching bodies.
    pub fn check_header(&self, header: &Header, now: Timestamp) -> Result<(), BlockError> {
        let parent = self
            .entries
            .get(&header.prev)
            .ok_or(BlockError::UnknownParent)?;
        if matches!(parent.validity, Validity::Invalid(_)) {
            return Err(BlockError::InvalidParent);
        }
        let expected = self
            .next_difficulty(&header.prev)
            .expect("parent is stored");
        if header.difficulty != expected {
            return Err(BlockError::BadDifficulty {
                expected,
                got: header.difficulty,
            });
        }
        if !header.meets_difficulty() {
            return Err(BlockError::BadPow);
        }
        let median = self
            .median_time_past(&header.prev)
            .expect("parent is stored");
        if header.time <= median {
            return Err(BlockError::TimeTooOld);
        }
        if header.time > now.saturating_add(self.params.max_future_ms) {
            return Err(BlockError::TimeTooNew);
        }
        Ok(())
    }

    // Commands.

    /// Takes a block from anywhere (a peer, the miner, storage): checks it, stores it,
    /// moves the tip if it (or orphans it releases) makes a chain with more work.
    ///
    /// `Err` means this block breaks a rule; blocks of other branches found invalid while
    /// switching are marked so and never tried again.
    pub fn process_block(&mut self, block: Block, now: Timestamp) -> Result<Accepted, BlockError> {
        let hash = block.hash();
        if let Some(entry) = self.entries.get(&hash) {
            return match entry.validity {
                Validity::Invalid(error) => Err(error),
                _ => Ok(Accepted::Duplicate),
            };
        }
        if self.orphans.contains(&hash) {
            return Ok(Accepted::Duplicate);
        }
        block.check()?;
        if !self.entries.contains_key(&block.header.prev) {
            let parent = block.header.prev;
            self.orphans.insert(hash, block);
            return Ok(Accepted::Orphan {
                missing: self.orphans.missing_ancestor(parent),
            });
        }
        let old_tip = self.tip();
        let result = self.accept(hash, block, now);
        self.adopt_orphans(hash, now);
        result?;
        Ok(Accepted::Stored {
            tip_change: self.tip_change_from(old_tip),
        })
    }

    /// Contextual checks, storage and fork choice for a block whose parent is stored.
    fn accept(&mut self, hash: Hash, block: Block, now: Timestamp) -> Result<(), BlockError> {
        self.check_header(&block.header, now)?;
        let parent = &self.entries[&block.header.prev];
        let height = parent.height + 1;
        let coinbase_height = block.coinbase().map_or(0, |tx| tx.height);
        if coinbase_height != height {
            return Err(BlockError::BadCoinbaseHeight {
                expected: height,
                got: coinbase_height,
            });
        }
        let work = parent.work + u128::from(block.header.difficulty);
        self.children
            .entry(block.header.prev)
            .or_default()
            .push(hash);
        self.entries.insert(
            hash,
            Entry {
                block,
                height,
                work,
                arrival: self.arrivals,
                validity: Validity::Unchecked,
            },
        );
        self.arrivals += 1;
        if work > self.tip_work() {
            self.activate(hash);
        }
        match self.entries[&hash].validity {
            Validity::Invalid(error) => Err(error),
            _ => Ok(()),
        }
    }

    /// Feeds in the orphans waiting for `parent`, and theirs in turn.
    fn adopt_orphans(&mut self, parent: Hash, now: Timestamp) {
        let mut ready = vec![parent];
        while let Some(parent) = ready.pop() {
            if !self.entries.contains_key(&parent) {
                continue; // it was refused, so its orphans can never connect
            }
            for child in self.orphans.take_children(&parent) {
                let hash = child.hash();
                // An invalid orphan is dropped; whoever sent it is long past blaming.
                if self.accept(hash, child, now).is_ok() {
                    ready.push(hash);
                }
            }
        }
    }

    /// Makes `target` the tip; if a block on the way turns out invalid, marks it and its
    /// descendants, and settles on the best chain that remains.
    fn activate(&mut self, mut target: Hash) {
        while let Err((bad, error)) = self.reorg_to(target) {
            self.mark_invalid(bad, error);
            target = self.best_valid_tip();
        }
    }

    fn reorg_to(&mut self, target: Hash) -> Result<(), (Hash, BlockError)> {
        let mut path = Vec::new();
        let mut cursor = target;
        while !self.is_active(&cursor) {
            path.push(cursor);
            cursor = self.entries[&cursor].block.header.prev;
        }
        let fork_height = self.entries[&cursor].height;
        while self.height() > fork_height {
            let hash = self.active.pop().expect("above the fork");
            let undo = self
                .undo
                .remove(&hash)
                .expect("active blocks have undo data");
            self.utxo.disconnect(&self.entries[&hash].block, &undo);
        }
        for hash in path.into_iter().rev() {
            let entry = self.entries.get_mut(&hash).expect("on the path");
            let undo = self
                .utxo
                .connect(&entry.block, entry.height, self.params.block_reward)
                .map_err(|error| (hash, error))?;
            entry.validity = Validity::Valid;
            self.undo.insert(hash, undo);
            self.active.push(hash);
        }
        Ok(())
    }

    fn mark_invalid(&mut self, hash: Hash, error: BlockError) {
        let mut stack = vec![(hash, error)];
        while let Some((hash, error)) = stack.pop() {
            if let Some(entry) = self.entries.get_mut(&hash) {
                entry.validity = Validity::Invalid(error);
            }
            for child in self.children.get(&hash).into_iter().flatten() {
                stack.push((*child, BlockError::InvalidParent));
            }
        }
    }

    /// The stored block with the most work, not invalid, first seen among equals.
    fn best_valid_tip(&self) -> Hash {
        self.entries
            .iter()
            .filter(|(_, e)| !matches!(e.validity, Validity::Invalid(_)))
            .max_by(|(_, a), (_, b)| a.work.cmp(&b.work).then(b.arrival.cmp(&a.arrival)))
            .map(|(hash, _)| *hash)
            .expect("genesis is never invalid")
    }

    fn tip_change_from(&self, old_tip: Hash) -> Option<TipChange> {
        if old_tip == self.tip() {
            return None;
        }
        let mut disconnected = Vec::new();
        let mut cursor = old_tip;
        while !self.is_active(&cursor) {
            disconnected.push(cursor);
            cursor = self.entries[&cursor].block.header.prev;
        }
        disconnected.reverse();
        let fork_height = self.entries[&cursor].height;
        Some(TipChange {
            fork_height,
            disconnected,
            connected: self.active[fork_height as usize + 1..].to_vec(),
        })
    }

    /// `hash` and its ancestors, nearest first.
    fn ancestors(&self, hash: Hash) -> impl Iterator<Item = &Entry> {
        let mut next = self.entries.get(&hash);
        std::iter::from_fn(move || {
            let entry = next?;
            next = if entry.height == 0 {
                None
            } else {
                self.entries.get(&entry.block.header.prev)
            };
            Some(entry)
        })
    }
}
