//! What is really on disk: the blocks whose writes committed (or that were read back),
//! and from them how far the active chain is stored without a gap. The page says
//! "stored up to height N" from this, never from what was merely sent to IndexedDB.

use std::collections::HashSet;

use tabchain_core::{Chain, Hash};

#[derive(Debug, Default)]
pub struct Durable {
    on_disk: HashSet<Hash>,
    /// The active chain is on disk up to this height, whose block is this hash: a cache,
    /// good while that block is still on the active chain (then so is everything below
    /// it) and nothing was forgotten.
    stored_to: Option<(u64, Hash)>,
    writing: usize,
    /// The last write that failed, as the browser named it; cleared by the next success.
    error: Option<String>,
}

impl Durable {
    /// Blocks read back from storage.
    pub fn loaded(&mut self, hashes: impl IntoIterator<Item = Hash>) {
        self.on_disk.extend(hashes);
    }

    /// A write was sent.
    pub fn writing(&mut self) {
        self.writing += 1;
    }

    /// A write came back.
    pub fn written(&mut self, hash: Hash, result: Result<(), String>) {
        self.writing = self.writing.saturating_sub(1);
        match result {
            Ok(()) => {
                self.on_disk.insert(hash);
                self.error = None;
            }
            Err(err) => self.error = Some(err),
        }
    }

    /// The store no longer holds `hash` (or never could).
    pub fn forgotten(&mut self, hash: &Hash) {
        self.on_disk.remove(hash);
        self.stored_to = None;
    }

    pub fn failed(&mut self, why: String) {
        self.error = Some(why);
    }

    pub fn pending(&self) -> usize {
        self.writing
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The height up to which every block of `chain`'s active branch is on disk (the
    /// genesis never needs to be: every tab derives it).
    pub fn height(&mut self, chain: &Chain) -> u64 {
        let stored = |height: u64| {
            height == 0
                || chain
                    .hash_at(height)
                    .is_some_and(|hash| self.on_disk.contains(&hash))
        };
        let mut height = match self.stored_to {
            Some((height, hash)) if chain.hash_at(height) == Some(hash) => height,
            _ => 0,
        };
        while height < chain.height() && stored(height + 1) {
            height += 1;
        }
        self.stored_to = chain.hash_at(height).map(|hash| (height, hash));
        height
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{pow, Address, Ledger, Params};

    #[test]
    fn only_committed_writes_count_and_a_gap_stops_the_count() {
        let mut ledger = Ledger::new(Params::for_tests("room"));
        let mut hashes = Vec::new();
        for n in 1..=4u64 {
            let time = tabchain_core::params::GENESIS_TIME.saturating_add(n * 10_000);
            let mut block = ledger.template(Address([1; 20]), time);
            assert!(pow::solve(&mut block.header));
            hashes.push(block.hash());
            ledger.submit_block(block, time).unwrap();
        }
        let chain = ledger.chain();
        let mut durable = Durable::default();
        assert_eq!(durable.height(chain), 0);
        durable.loaded([hashes[0]]);
        for _ in &hashes[1..] {
            durable.writing();
        }
        assert_eq!(durable.height(chain), 1, "sent is not stored");
        durable.written(hashes[2], Ok(()));
        assert_eq!(durable.height(chain), 1, "block 2 is still missing");
        // Tried: the quota runs out on block 2's write.
        durable.written(hashes[1], Err("QuotaExceededError: full".into()));
        assert_eq!(durable.error(), Some("QuotaExceededError: full"));
        assert_eq!(durable.height(chain), 1);
        durable.written(hashes[3], Ok(()));
        assert_eq!(durable.pending(), 0);
        assert_eq!(durable.error(), None);
        durable.loaded([hashes[1]]);
        assert_eq!(durable.height(chain), 4);
        durable.forgotten(&hashes[2]);
        assert_eq!(durable.height(chain), 2, "a forgotten block opens a gap");
    }
}
