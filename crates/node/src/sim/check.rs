//! The invariants a run must keep, checked after it: live honest nodes agree on the tip,
//! no node's active chain holds an invalid block, and every valid transaction is either
//! confirmed or waiting in every live honest node's mempool.

use std::collections::{BTreeMap, HashSet};

use tabchain_core::{Accepted, Chain, Hash, TxId};

use super::Sim;

impl Sim {
    /// The tip with the most work among live honest nodes; among equals, the one most
    /// nodes have.
    pub fn best_tip(&self) -> Option<Hash> {
        let mut tips: BTreeMap<Hash, (u128, usize)> = BTreeMap::new();
        for i in self.live_honest() {
            let chain = self.node(i).ledger().chain();
            tips.entry(chain.tip()).or_insert((chain.tip_work(), 0)).1 += 1;
        }
        tips.into_iter()
            .max_by_key(|(_, (work, count))| (*work, *count))
            .map(|(tip, _)| tip)
    }

    /// The bytes of the blocks node `i` holds: stored, and waiting for their parents.
    pub(crate) fn held_block_bytes(&self, i: usize) -> u64 {
        let node = self.node(i);
        let chain = node.ledger().chain();
        let mut stored: Vec<&Hash> = self.nodes[i].stored.iter().collect();
        stored.sort_unstable();
        stored.dedup();
        let stored: u64 = stored
            .into_iter()
            .filter_map(|h| self.store.get(h))
            .map(|b| crate::message::Message::block_frame(b).len() as u64)
            .sum();
        // Orphans in the chain's own pool: known but not stored.
        let orphans: u64 = self
            .junk
            .iter()
            .chain(self.store.iter())
            .filter(|(h, _)| chain.knows(h) && chain.block(h).is_none())
            .map(|(_, b)| crate::message::Message::block_frame(b).len() as u64)
            .sum();
        stored + orphans + node.orphan_bytes() as u64
    }

    /// A node on [`Sim::best_tip`].
    pub(crate) fn reference(&self) -> Option<usize> {
        let tip = self.best_tip()?;
        self.live_honest()
            .into_iter()
            .find(|&i| self.node(i).tip() == tip)
    }

    /// Every invariant the run broke, described; empty if none.
    pub fn check(&self) -> Vec<String> {
        let mut violations = Vec::new();
        let honest = self.live_honest();
        let Some(reference) = self.reference() else {
            return violations;
        };
        let tip = self.node(reference).tip();
        let behind: Vec<usize> = honest
            .iter()
            .copied()
            .filter(|&i| self.node(i).tip() != tip)
            .collect();
        if !behind.is_empty() {
            violations.push(format!(
                "not converged: {} of {} live honest nodes are not on tip {tip:?} (e.g. node {})",
                behind.len(),
                honest.len(),
                behind[0]
            ));
        }
        self.check_chains(&honest, &mut violations);
        self.check_txs(reference, &honest, &mut violations);
        violations
    }

    /// Replays each distinct active chain into a fresh chain: every block must connect.
    fn check_chains(&self, honest: &[usize], violations: &mut Vec<String>) {
        let mut seen = HashSet::new();
        for &i in honest {
            let chain = self.node(i).ledger().chain();
            if !seen.insert(chain.tip()) {
                continue;
            }
            let mut replay = Chain::new(self.config.params.clone());
            let far_future = self.now.saturating_add(1 << 40);
            for height in 1..=chain.height() {
                let block = chain
                    .block(&chain.hash_at(height).expect("active height"))
                    .expect("active blocks are stored");
                match replay.process_block(block.clone(), far_future) {
                    Ok(Accepted::Stored { .. }) => {}
                    other => {
                        violations.push(format!(
                            "node {i}: active block at height {height} does not replay: {other:?}"
                        ));
                        break;
                    }
                }
            }
            for bad in self.bad_blocks.keys() {
                if chain.is_active(bad) {
                    violations.push(format!("node {i}: invalid block {bad:?} is active"));
                }
            }
        }
    }

    fn check_txs(&self, reference: usize, honest: &[usize], violations: &mut Vec<String>) {
        let chain = self.node(reference).ledger().chain();
        let confirmed: HashSet<TxId> = (1..=chain.height())
            .filter_map(|h| chain.block(&chain.hash_at(h)?))
            .flat_map(|b| b.transactions.iter().map(|tx| tx.id()))
            .collect();
        for tx in &self.txs {
            let txid = tx.id();
            if confirmed.contains(&txid) {
                continue;
            }
            // A payment the final chain made impossible (its coin went another way in a
            // reorg) is no longer valid, so nobody need keep it.
            let valid = tx
                .inputs
                .iter()
                .all(|input| chain.utxo().get(&input.prev).is_some());
            if !valid {
                continue;
            }
            let lacking: Vec<usize> = honest
                .iter()
                .copied()
                .filter(|&i| !self.node(i).ledger().mempool().contains(&txid))
                .collect();
            if !lacking.is_empty() {
                violations.push(format!(
                    "valid transaction {txid:?} is unconfirmed and missing from {} \
                     mempools (e.g. node {})",
                    lacking.len(),
                    lacking[0]
                ));
            }
        }
    }
}
