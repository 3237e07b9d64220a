//! Loading a stored block set whole. Storage files blocks by hash, so they come back in
//! no useful order; fed one by one, children would wait in the bounded orphan pool for
//! parents still to come and be evicted. Instead the set is put in chain order by its
//! parent links, each block is checked in its place and stored, and only then is the tip
//! chosen and the coins replayed along it, once.

use std::collections::{HashMap, HashSet};

use super::{Chain, TipChange, Validity};
use crate::block::{Block, BlockError};
use crate::hash::Hash;
use crate::time::Timestamp;
use crate::utxo::Signatures;

/// Why a stored record was refused. Storage should delete it: whatever the chain needs
/// of it, peers still have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the block hashes to {actual}, not to the key it was filed under")]
    WrongKey { actual: Hash },
    #[error("{0}")]
    Invalid(BlockError),
}

/// Stored blocks with the keys they were filed under.
type Records = Vec<(Hash, Block)>;

/// What [`Chain::load_stored`] made of a stored set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Blocks now in the block tree, parents first.
    pub stored: Vec<Hash>,
    /// Records refused, by the key they were filed under.
    pub refused: Vec<(Hash, LoadError)>,
    /// Sound records whose parent is neither stored nor among the records (a damaged
    /// record's descendants): not refused, since a lone tab may have no peer to fetch
    /// them from. They wait in the orphan pool (as many as it holds) and in storage,
    /// and connect when the missing ancestor comes back.
    pub waiting: Vec<Hash>,
    /// Valid side-branch blocks too far behind the tip to keep: storage can forget them.
    pub pruned: Vec<Hash>,
    pub tip_change: Option<TipChange>,
}

impl Chain {
    /// Loads blocks from storage, each with the key it was filed under (its hash), in
    /// any order; meant for start-up, before any peer's block. Every record is checked
    /// on its own (key, proof of work, merkle root, transactions' form), then in its
    /// place in the tree (parent link, required difficulty, time, coinbase height); the
    /// tip moves to the most-work valid branch, whose coins are replayed from the blocks.
    /// Side branches are stored as far as [`super::MAX_BRANCH_DEFICIT`] allows; the rest
    /// are pruned. No block goes through the orphan pool or the held room.
    ///
    /// Records of equal work are taken lowest first, then earliest stamped, then by
    /// hash, so any order of the same records gives the same tip.
    ///
    /// `signatures` says whether the payments' signatures are verified again. The node
    /// trusts them ([`Signatures::Trust`]): it stored only blocks it had checked whole,
    /// and while a person at the devtools can edit the store, a forged payment must
    /// still carry a valid proof of work under its key and pass every other check here;
    /// it fools only that person's own tab, since peers check every block it serves
    /// them in full. Bitcoin Core likewise trusts its block files, and revalidates only
    /// on request (`-checkblocks`). Verifying costs one ed25519 check per input, most of
    /// the work: the ledger bench's `load_2000_blocks` loads 2000 blocks with 6000
    /// payments in about 280 ms checked and 22 ms trusted (natively; wasm is slower).
    pub fn load_stored(
        &mut self,
        records: Vec<(Hash, Block)>,
        now: Timestamp,
        signatures: Signatures,
    ) -> LoadReport {
        let mut report = LoadReport::default();
        let old_tip = self.tip();
        let (ordered, waiting) = self.chain_order(records, &mut report.refused);
        // Refused here, so their descendants are too. Those refused on their own never
        // reach this loop, and neither do their descendants, which cannot connect.
        let mut refused = HashSet::new();
        for (hash, block) in ordered {
            let result = if refused.contains(&block.header.prev) {
                Err(BlockError::InvalidParent)
            } else {
                self.insert(hash, block, now).map(|_| ())
            };
            match result {
                Ok(()) => report.stored.push(hash),
                Err(error) => {
                    refused.insert(hash);
                    report.refused.push((hash, LoadError::Invalid(error)));
                }
            }
        }
        let best = self.best_valid_tip();
        if self.entries[&best].work > self.tip_work() {
            self.activate(best, signatures);
        }
        report
            .stored
            .retain(|hash| match self.entries[hash].validity {
                Validity::Invalid(error) => {
                    report.refused.push((*hash, LoadError::Invalid(error)));
                    false
                }
                Validity::Unchecked | Validity::Valid => true,
            });
        report.tip_change = self.tip_change_from(old_tip);
        // What left the active chain stays until the next block, as in `process_block`.
        let keep: HashSet<Hash> = report
            .tip_change
            .iter()
            .flat_map(|change| change.disconnected.iter().copied())
            .collect();
        report.pruned = self.prune(&keep);
        report.stored.retain(|hash| self.entries.contains_key(hash));
        for (hash, block) in waiting {
            report.waiting.push(hash);
            self.orphans.insert(hash, block);
        }
        report
    }

    /// The records that pass the checks of a block on its own and descend from a stored
    /// block, parents first, and those that pass but do not connect; the others go to
    /// `refused`. Sorted by the work they claim
    /// (a header's difficulty is checked once its parent is stored), then height, time
    /// and hash: work never falls from parent to child and height always rises, so this
    /// is a chain order, and one that ignores the order the records came in.
    fn chain_order(
        &self,
        records: Vec<(Hash, Block)>,
        refused: &mut Vec<(Hash, LoadError)>,
    ) -> (Records, Records) {
        let mut by_parent: HashMap<Hash, Vec<(Hash, Block)>> = HashMap::new();
        let mut seen = HashSet::new();
        for (key, block) in records {
            let hash = block.hash();
            if hash != key {
                refused.push((key, LoadError::WrongKey { actual: hash }));
            } else if let Err(error) = block.check() {
                refused.push((key, LoadError::Invalid(error)));
            } else if !self.entries.contains_key(&hash) && seen.insert(hash) {
                by_parent
                    .entry(block.header.prev)
                    .or_default()
                    .push((hash, block));
            }
        }
        let mut ready: Vec<(Hash, u64, u128)> = by_parent
            .keys()
            .filter_map(|parent| {
                let entry = self.entries.get(parent)?;
                Some((*parent, entry.height, entry.work))
            })
            .collect();
        let mut ordered = Vec::new();
        while let Some((parent, height, work)) = ready.pop() {
            for (hash, block) in by_parent.remove(&parent).unwrap_or_default() {
                let work = work + u128::from(block.header.difficulty);
                ready.push((hash, height + 1, work));
                ordered.push(((work, height + 1, block.header.time, hash), block));
            }
        }
        let mut waiting: Vec<(Hash, Block)> = by_parent.into_values().flatten().collect();
        // Highest first: the bounded orphan pool evicts what came first, so it keeps the
        // ones nearest the gap, which connect first.
        waiting.sort_unstable_by_key(|(hash, block)| {
            (
                std::cmp::Reverse(block.coinbase().map_or(0, |tx| tx.height)),
                *hash,
            )
        });
        ordered.sort_unstable_by_key(|(order, _)| *order);
        let ordered = ordered
            .into_iter()
            .map(|((_, _, _, hash), block)| (hash, block))
            .collect();
        (ordered, waiting)
    }
}
