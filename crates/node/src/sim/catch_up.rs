//! How long a fresh node takes to catch up: peers that hold a long chain, and a node
//! that joins them with nothing but the genesis block.

use serde::Serialize;

use super::{Role, Sim, SimConfig};

/// A catch-up run: `peers` nodes hold a chain of `blocks` blocks (10-second target, each
/// block only a coinbase) when a fresh node joins them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    pub seed: u64,
    pub peers: usize,
    pub blocks: usize,
    /// The run gives up this long after the join.
    pub limit_ms: u64,
}

/// What a [`CatchUp`] measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatchUpReport {
    pub seed: u64,
    pub peers: usize,
    pub blocks: usize,
    /// Virtual time from the join to the fresh node's tip being the peers', if it got
    /// there within the limit.
    pub synced_ms: Option<u64>,
    /// The fresh node's height at the end.
    pub height: u64,
    /// The most `sync_progress` showed the fresh node to be behind by, and how many
    /// times it was read short of the end: how the page would have shown the catch-up.
    pub most_behind: u64,
    pub progress_reads: u64,
    pub violations: Vec<String>,
}

/// How often the run looks at the fresh node, as a page redraws.
const LOOK_MS: u64 = 100;

impl CatchUp {
    pub fn run(&self) -> CatchUpReport {
        let mut sim = Sim::new(SimConfig::new(self.seed, 10_000));
        for _ in 0..self.peers {
            sim.add_node(Role::Honest);
            sim.run_for(50);
        }
        sim.run_for(3_000);
        let pay_to = sim.address(0);
        let chain = sim.build_chain(self.blocks, pay_to);
        for i in 0..self.peers {
            sim.load(i, &chain);
        }
        let tip = chain.last().map(|b| b.hash());
        let joiner = sim.add_node(Role::Honest);
        let joined = sim.now();
        let (mut most_behind, mut progress_reads) = (0, 0);
        let mut synced_ms = None;
        while sim.now().since(joined) < self.limit_ms {
            if Some(sim.node(joiner).tip()) == tip {
                synced_ms = Some(sim.now().since(joined));
                break;
            }
            if let Some((have, target)) = sim.node(joiner).sync_progress() {
                most_behind = most_behind.max(target - have);
                progress_reads += 1;
            }
            sim.run_for(LOOK_MS);
        }
        CatchUpReport {
            seed: self.seed,
            peers: self.peers,
            blocks: self.blocks,
            synced_ms,
            height: sim.node(joiner).height(),
            most_behind,
            progress_reads,
            violations: sim.check(),
        }
    }
}
