//! The block tree and the active chain: the valid blocks received, the cumulative work
//! of each, fork choice (most work, first seen wins ties), reorgs of any depth with undo
//! data, and the orphan pool for blocks that arrive before their parents.
//!
//! Side branches cost whoever mines them the work of their blocks, but a branch forked
//! deep in the past trails the tip by so much work that its blocks cost nearly nothing
//! next to what it would take to overtake. So a block is stored only while its branch is
//! within [`MAX_BRANCH_DEFICIT`] blocks of work of the tip; a lighter one is held, in
//! memory and bounded, until descendants bring its branch within reach (a partition that
//! heals delivers the heavier branch from its fork point, one light block after another),
//! and side blocks that fall further behind are pruned. Bitcoin Core likewise refuses to
//! process unrequested blocks with less work than its tip (`AcceptBlock`).

mod load;

use std::collections::{HashMap, HashSet, VecDeque};

use crate::block::{Block, BlockError};
use crate::context::HeaderContext;
use crate::hash::Hash;
use crate::header::Header;
use crate::orphans::OrphanPool;
use crate::params::Params;
use crate::recent::RecentSet;
use crate::time::Timestamp;
use crate::tx::TxId;
use crate::utxo::{Signatures, SpendRules, Undo, UtxoSet};

pub use load::{LoadError, LoadReport};

/// Payments whose checked signatures a chain remembers.
const VERIFIED_TXS: usize = 16_384;
/// How many blocks of the tip's difficulty a side branch may trail the tip by and still
/// be stored. Past it the branch's blocks are held (new) or pruned (stored).
pub const MAX_BRANCH_DEFICIT: u128 = 6;
/// Bytes of held blocks kept at most; past it the oldest go. A healing classroom
/// partition needs a few dozen small blocks held; a junk branch gets no more than this.
const MAX_HELD_BYTES: usize = 256 * 1024;

/// What became of a block handed to [`Chain::process_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Already known; nothing changed.
    Duplicate,
    /// Its parent is unknown; it waits in the orphan pool. `missing` is the nearest
    /// ancestor to fetch.
    Orphan { missing: Hash },
    /// Its branch trails the tip by more than [`MAX_BRANCH_DEFICIT`] blocks of work: held
    /// in memory (not stored, so not to be persisted or relayed) until descendants bring
    /// the branch within reach, or it is evicted.
    Held,
    /// Stored in the block tree, and possibly (with orphans or held blocks it released)
    /// a new tip.
    Stored {
        tip_change: Option<TipChange>,
        /// Other blocks that joined the block tree with this one (orphans it released,
        /// held ancestors it brought within reach), lowest first.
        released: Vec<Hash>,
        /// Side-branch blocks that fell too far behind the tip and were dropped from the
        /// block tree: storage can forget them.
        pruned: Vec<Hash>,
    },
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
    /// Stored blocks not on the active chain: what pruning looks at.
    side: HashSet<Hash>,
    orphans: OrphanPool,
    held: HeldBlocks,
    arrivals: u64,
    /// Payments taken into the mempool recently: their signatures were verified under
    /// this chain's genesis. A block carrying them is not made to pay for those checks
    /// again, as Bitcoin Core's signature cache spares it: most of what checking a block
    /// costs, and so what each hop adds to its spreading. A txid commits to the whole
    /// payment, signatures included, so the same payment signed otherwise is another id.
    verified: RecentSet<TxId>,
}

impl Chain {
    /// A chain holding only the genesis block of `params`.
    pub fn new(params: Params) -> Chain {
        let genesis = params.genesis();
        let hash = genesis.hash();
        let params_limit = params.max_orphans;
        let mut utxo = UtxoSet::default();
        let rules = SpendRules {
            genesis: hash,
            height: 0,
            maturity: params.coinbase_maturity,
        };
        let undo = utxo
            .connect(&genesis, &rules, 0)
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
            side: HashSet::new(),
            held: HeldBlocks::new(params_limit),
            arrivals: 1,
            verified: RecentSet::new(VERIFIED_TXS),
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

    /// `txid`'s signatures checked out under this chain's genesis (the mempool took
    /// it): a block carrying it need not check them again.
    pub fn note_verified(&mut self, txid: TxId) {
        self.verified.insert(txid);
    }

    pub fn tip_work(&self) -> u128 {
        self.entries[&self.tip()].work
    }

    pub fn utxo(&self) -> &UtxoSet {
        &self.utxo
    }

    /// The rules a payment in the next block on the tip is checked under.
    pub fn next_spend_rules(&self) -> SpendRules {
        SpendRules {
            genesis: self.genesis_hash(),
            height: self.height() + 1,
            maturity: self.params.coinbase_maturity,
        }
    }

    /// A stored block (active or on a side branch); orphans are not included.
    pub fn block(&self, hash: &Hash) -> Option<&Block> {
        self.entries.get(hash).map(|e| &e.block)
    }

    /// Whether the block is stored, waiting as an orphan or held, or known to be invalid.
    pub fn knows(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash) || self.orphans.contains(hash) || self.held.contains(hash)
    }

    /// How many blocks are stored: the active chain and the side branches kept.
    pub fn stored_count(&self) -> usize {
        self.entries.len()
    }

    /// Stored blocks off the active chain (side branches), in no order.
    pub fn side_blocks(&self) -> impl Iterator<Item = &Hash> {
        self.side.iter()
    }

    /// Whether this block is held in memory, its branch too light to store.
    pub fn is_held(&self, hash: &Hash) -> bool {
        self.held.contains(hash)
    }

    /// How many light blocks are held in memory, waiting for their branch to catch up.
    pub fn held_count(&self) -> usize {
        self.held.len()
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

    /// The context a child of `hash` is checked in; `None` if `hash` is not stored.
    /// Header-first sync starts from it and [`HeaderContext::extend`]s it header by header.
    pub fn header_context(&self, hash: &Hash) -> Option<HeaderContext> {
        let entry = self.entries.get(hash)?;
        let mut recent: Vec<_> = self
            .ancestors(*hash)
            .take(HeaderContext::span(&self.params))
            .map(|e| (e.height, e.block.header.time, e.block.header.difficulty))
            .collect();
        recent.reverse();
        Some(HeaderContext::new(
            &self.params,
            *hash,
            entry.height,
            entry.work,
            recent,
        ))
    }

    /// The difficulty a child of `parent` must carry; `None` if `parent` is unknown.
    pub fn next_difficulty(&self, parent: &Hash) -> Option<u64> {
        Some(self.header_context(parent)?.next_difficulty(&self.params))
    }

    /// The median time of `parent` and its ten ancestors: a child's time must exceed it.
    pub fn median_time_past(&self, parent: &Hash) -> Option<Timestamp> {
        Some(self.header_context(parent)?.median_time_past())
    }

    /// The rules for a header in its place, given its parent is stored: proof of work,
    /// the retargeted difficulty, and a time after the median past and not too far past
    /// `now`. For a run of headers whose parents are not stored yet, see
    /// [`Chain::check_headers`].
    pub fn check_header(&self, header: &Header, now: Timestamp) -> Result<(), BlockError> {
        let parent = self
            .entries
            .get(&header.prev)
            .ok_or(BlockError::UnknownParent)?;
        if matches!(parent.validity, Validity::Invalid(_)) {
            return Err(BlockError::InvalidParent);
        }
        self.header_context(&header.prev)
            .expect("parent is stored")
            .check(&self.params, header, now)
    }

    /// Header-first sync's check of a run of headers, each the child of the one before,
    /// the first a child of a stored block: every header in its place (the difficulty its
    /// ancestry requires, proof of work, time). Returns the context after the last, from
    /// which a further run continues; `Err` names the first header that fails and why.
    pub fn check_headers(
        &self,
        headers: &[Header],
        now: Timestamp,
    ) -> Result<Option<HeaderContext>, (usize, BlockError)> {
        let Some(first) = headers.first() else {
            return Ok(None);
        };
        self.check_header(first, now).map_err(|error| (0, error))?;
        let mut context = self.header_context(&first.prev).expect("checked above");
        context.push(first);
        context
            .extend_all(&self.params, &headers[1..], now)
            .map_err(|(index, error)| (index + 1, error))?;
        Ok(Some(context))
    }

    /// The work a side branch must at least have to be stored.
    fn least_work(&self) -> u128 {
        let bound = MAX_BRANCH_DEFICIT * u128::from(self.tip_header().difficulty);
        self.tip_work().saturating_sub(bound)
    }

    // Commands.

    /// Takes a block from anywhere (a peer, the miner, storage): checks it, stores it
    /// (or holds it, if its branch is too light), moves the tip if it (or blocks it
    /// releases) makes a chain with more work, and prunes side branches left too far
    /// behind.
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
        if self.orphans.contains(&hash) || self.held.contains(&hash) {
            return Ok(Accepted::Duplicate);
        }
        block.check()?;
        let parent = block.header.prev;
        if !self.entries.contains_key(&parent) && !self.held.contains(&parent) {
            self.orphans.insert(hash, block);
            return Ok(Accepted::Orphan {
                missing: self.orphans.missing_ancestor(parent),
            });
        }
        let old_tip = self.tip();
        let mut joined = Vec::new();
        let result = self.place(hash, block, now, &mut joined);
        if result.is_ok() {
            self.adopt_orphans(hash, now, &mut joined);
        }
        let tip_change = self.tip_change_from(old_tip);
        // What left the active chain just now stays until the next block, so that the
        // caller can still read it (the ledger returns its payments to the mempool).
        let keep: HashSet<Hash> = tip_change
            .iter()
            .flat_map(|change| change.disconnected.iter().copied())
            .collect();
        let pruned = self.prune(&keep);
        result?;
        if !self.entries.contains_key(&hash) && !pruned.contains(&hash) {
            return Ok(Accepted::Held);
        }
        joined.retain(|h| *h != hash);
        Ok(Accepted::Stored {
            tip_change,
            released: joined,
            pruned,
        })
    }

    /// Stores a block whose parent is stored or held, or holds it if its branch is too
    /// light; a block that brings a held branch within reach stores it, lowest first.
    /// Every block stored is pushed to `joined`.
    fn place(
        &mut self,
        hash: Hash,
        block: Block,
        now: Timestamp,
        joined: &mut Vec<Hash>,
    ) -> Result<(), BlockError> {
        let difficulty = u128::from(block.header.difficulty);
        if let Some(parent) = self.entries.get(&block.header.prev) {
            if parent.work + difficulty >= self.least_work() {
                self.accept(hash, block, now)?;
                joined.push(hash);
            } else {
                self.check_header(&block.header, now)?;
                self.check_coinbase_height(&block, parent.height + 1)?;
                self.held.insert(hash, block);
            }
            return Ok(());
        }
        // The parent is held: check this header in the context of the held branch.
        let path = self.held.path_to(block.header.prev);
        let root = self.held.get(&path[0]).expect("on the path").header.prev;
        let Some(mut context) = self.header_context(&root) else {
            // The branch's root was pruned: it can never connect.
            return Err(BlockError::UnknownParent);
        };
        for h in &path {
            context.push(&self.held.get(h).expect("on the path").header);
        }
        context.check(&self.params, &block.header, now)?;
        self.check_coinbase_height(&block, context.height() + 1)?;
        if context.work() + difficulty < self.least_work() {
            self.held.insert(hash, block);
            return Ok(());
        }
        for h in path {
            let held = self.held.remove(&h).expect("on the path");
            self.accept(h, held, now)
                .map_err(|_| BlockError::InvalidParent)?;
            joined.push(h);
        }
        self.accept(hash, block, now)?;
        joined.push(hash);
        Ok(())
    }

    fn check_coinbase_height(&self, block: &Block, height: u64) -> Result<(), BlockError> {
        let coinbase_height = block.coinbase().map_or(0, |tx| tx.height);
        if coinbase_height != height {
            return Err(BlockError::BadCoinbaseHeight {
                expected: height,
                got: coinbase_height,
            });
        }
        Ok(())
    }

    /// Contextual checks, storage and fork choice for a block whose parent is stored.
    fn accept(&mut self, hash: Hash, block: Block, now: Timestamp) -> Result<(), BlockError> {
        let work = self.insert(hash, block, now)?;
        if work > self.tip_work() {
            self.activate(hash, Signatures::Check);
        }
        match self.entries[&hash].validity {
            Validity::Invalid(error) => Err(error),
            _ => Ok(()),
        }
    }

    /// Contextual checks of the header and the coinbase's height, then storage on a side
    /// branch (fork choice may make it active); returns its cumulative work.
    fn insert(&mut self, hash: Hash, block: Block, now: Timestamp) -> Result<u128, BlockError> {
        self.check_header(&block.header, now)?;
        let parent = &self.entries[&block.header.prev];
        let height = parent.height + 1;
        let work = parent.work + u128::from(block.header.difficulty);
        self.check_coinbase_height(&block, height)?;
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
        self.side.insert(hash);
        Ok(work)
    }

    /// Feeds in the orphans waiting for `parent`, and theirs in turn.
    fn adopt_orphans(&mut self, parent: Hash, now: Timestamp, joined: &mut Vec<Hash>) {
        let mut ready = vec![parent];
        while let Some(parent) = ready.pop() {
            if !self.entries.contains_key(&parent) && !self.held.contains(&parent) {
                continue; // it was refused, so its orphans can never connect
            }
            for child in self.orphans.take_children(&parent) {
                let hash = child.hash();
                // An invalid orphan is dropped; whoever sent it is long past blaming.
                if self.place(hash, child, now, joined).is_ok() {
                    ready.push(hash);
                }
            }
        }
    }

    /// Drops side-branch blocks whose branch trails the tip by more than
    /// [`MAX_BRANCH_DEFICIT`] blocks of work, leaves first, so that every stored block's
    /// ancestors stay stored; `keep` are spared this time.
    fn prune(&mut self, keep: &HashSet<Hash>) -> Vec<Hash> {
        let least = self.least_work();
        let mut leaves: Vec<Hash> = self
            .side
            .iter()
            .filter(|h| !self.children.contains_key(h))
            .copied()
            .collect();
        leaves.sort_unstable(); // the order pruned blocks are reported in is the same everywhere
        let mut pruned = Vec::new();
        while let Some(hash) = leaves.pop() {
            let entry = &self.entries[&hash];
            if entry.work >= least || keep.contains(&hash) {
                continue;
            }
            let parent = entry.block.header.prev;
            self.entries.remove(&hash);
            self.side.remove(&hash);
            if let Some(siblings) = self.children.get_mut(&parent) {
                siblings.retain(|h| *h != hash);
                if siblings.is_empty() {
                    self.children.remove(&parent);
                    if self.side.contains(&parent) {
                        leaves.push(parent);
                    }
                }
            }
            pruned.push(hash);
        }
        pruned
    }

    /// Makes `target` the tip; if a block on the way turns out invalid, marks it and its
    /// descendants, and settles on the best chain that remains.
    fn activate(&mut self, mut target: Hash, signatures: Signatures) {
        while let Err((bad, error)) = self.reorg_to(target, signatures) {
            self.mark_invalid(bad, error);
            target = self.best_valid_tip();
        }
    }

    fn reorg_to(&mut self, target: Hash, signatures: Signatures) -> Result<(), (Hash, BlockError)> {
        let mut path = Vec::new();
        let mut cursor = target;
        while !self.is_active(&cursor) {
            path.push(cursor);
            cursor = self.entries[&cursor].block.header.prev;
        }
        let fork_height = self.entries[&cursor].height;
        while self.height() > fork_height {
            let hash = self.active.pop().expect("above the fork");
            self.side.insert(hash);
            let undo = self
                .undo
                .remove(&hash)
                .expect("active blocks have undo data");
            self.utxo.disconnect(&self.entries[&hash].block, &undo);
        }
        for hash in path.into_iter().rev() {
            let entry = self.entries.get_mut(&hash).expect("on the path");
            let rules = SpendRules {
                genesis: self.active[0],
                height: entry.height,
                maturity: self.params.coinbase_maturity,
            };
            let undo = self
                .utxo
                .connect_with(
                    &entry.block,
                    &rules,
                    self.params.block_reward,
                    signatures,
                    &self.verified,
                )
                .map_err(|error| (hash, error))?;
            entry.validity = Validity::Valid;
            self.undo.insert(hash, undo);
            self.side.remove(&hash);
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

/// Light blocks waiting for their branch to come within reach of the tip: bounded in
/// count and bytes, oldest out first, never stored.
#[derive(Debug, Clone)]
struct HeldBlocks {
    blocks: HashMap<Hash, (Block, usize)>,
    arrival: VecDeque<Hash>,
    bytes: usize,
    limit: usize,
}

impl HeldBlocks {
    fn new(limit: usize) -> HeldBlocks {
        HeldBlocks {
            blocks: HashMap::new(),
            arrival: VecDeque::new(),
            bytes: 0,
            limit,
        }
    }

    fn len(&self) -> usize {
        self.blocks.len()
    }

    fn contains(&self, hash: &Hash) -> bool {
        self.blocks.contains_key(hash)
    }

    fn get(&self, hash: &Hash) -> Option<&Block> {
        self.blocks.get(hash).map(|(block, _)| block)
    }

    /// The held ancestors of `hash` (itself held), from the one whose parent is not held
    /// down to `hash`.
    fn path_to(&self, hash: Hash) -> Vec<Hash> {
        let mut path = vec![hash];
        while let Some(block) = self.get(path.last().expect("not empty")) {
            if !self.contains(&block.header.prev) {
                break;
            }
            path.push(block.header.prev);
        }
        path.reverse();
        path
    }

    fn insert(&mut self, hash: Hash, block: Block) {
        let size = block.encode().len();
        if self.limit == 0 || size > MAX_HELD_BYTES {
            return;
        }
        while self.blocks.len() >= self.limit || self.bytes + size > MAX_HELD_BYTES {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            if let Some((_, size)) = self.blocks.remove(&oldest) {
                self.bytes -= size;
            }
        }
        self.arrival.push_back(hash);
        self.bytes += size;
        self.blocks.insert(hash, (block, size));
    }

    fn remove(&mut self, hash: &Hash) -> Option<Block> {
        let (block, size) = self.blocks.remove(hash)?;
        self.arrival.retain(|h| h != hash);
        self.bytes -= size;
        Some(block)
    }
}
