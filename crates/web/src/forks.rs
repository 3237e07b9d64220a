//! The fork tree: every block the node holds near its tip, side branches included, laid
//! out in lanes (the main chain in lane 0), each linked peer's tip marked on it, and the
//! reorgs the node went through.

use std::collections::{HashMap, HashSet};

use tabchain_core::{Address, Hash, Timestamp};
use tabchain_node::Node;

use crate::names::friendly_name;

/// Heights below the tip the tree shows: enough for a lesson's forks, few enough to read.
pub const TREE_HEIGHTS: u64 = 16;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForkInfo {
    /// Highest first; within a height, lane order.
    pub blocks: Vec<ForkBlock>,
    /// Newest first.
    pub reorgs: Vec<ReorgRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkBlock {
    pub hash: String,
    pub height: u64,
    /// The parent's hash; it may be below the tree.
    pub prev: String,
    /// On the active chain.
    pub main: bool,
    /// The column it is drawn in: 0 for the main chain, one more per side branch.
    pub lane: usize,
    /// Mined by this tab.
    pub mine: bool,
    /// Linked peers whose best block this is.
    pub tips: Vec<PeerTip>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTip {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReorgRow {
    pub at: Timestamp,
    pub fork_height: u64,
    /// Blocks undone.
    pub depth: usize,
    /// Blocks of the winning branch.
    pub connected: usize,
    /// The blocks that lost, lowest first.
    pub lost: Vec<String>,
    /// Payments of the lost blocks now waiting again.
    pub returned: Vec<String>,
}

impl ForkInfo {
    pub fn of(node: &Node, ours: &Address) -> ForkInfo {
        let chain = node.ledger().chain();
        let bottom = chain.height().saturating_sub(TREE_HEIGHTS - 1);
        let mut side: Vec<(u64, Hash)> = chain
            .side_blocks()
            .filter_map(|hash| Some((chain.height_of(hash)?, *hash)))
            .filter(|(height, _)| *height >= bottom)
            .collect();
        // Parents before children, and a stable order between branches.
        side.sort_unstable();
        let mut lanes: HashMap<Hash, usize> = (bottom..=chain.height())
            .filter_map(|height| chain.hash_at(height))
            .map(|hash| (hash, 0))
            .collect();
        // A side block continues its parent's lane if it is that parent's first child
        // drawn; otherwise (a fork off the main chain or off a branch) it opens a lane.
        let mut continued = HashSet::new();
        let mut next_lane = 1;
        for (_, hash) in &side {
            let prev = chain
                .block(hash)
                .map(|b| b.header.prev)
                .unwrap_or(Hash::ZERO);
            let lane = match lanes.get(&prev) {
                Some(&lane) if lane > 0 && continued.insert(prev) => lane,
                _ => {
                    next_lane += 1;
                    next_lane - 1
                }
            };
            lanes.insert(*hash, lane);
        }
        let mut tips: HashMap<Hash, Vec<PeerTip>> = HashMap::new();
        for peer in node.peers().filter(|p| p.is_ready()) {
            tips.entry(peer.best_hash()).or_default().push(PeerTip {
                id: peer.id().to_string(),
                name: friendly_name(&peer.id()),
            });
        }
        let mut blocks: Vec<ForkBlock> = lanes
            .iter()
            .filter_map(|(hash, lane)| {
                let block = chain.block(hash)?;
                let mine = block
                    .coinbase()
                    .and_then(|tx| tx.outputs.first())
                    .is_some_and(|output| output.address == *ours);
                Some(ForkBlock {
                    hash: hash.to_string(),
                    height: chain.height_of(hash)?,
                    prev: block.header.prev.to_string(),
                    main: *lane == 0,
                    lane: *lane,
                    mine: mine && chain.height_of(hash)? > 0,
                    tips: tips.remove(hash).unwrap_or_default(),
                })
            })
            .collect();
        blocks.sort_by(|a, b| b.height.cmp(&a.height).then(a.lane.cmp(&b.lane)));
        let reorgs = node
            .reorgs()
            .map(|reorg| ReorgRow {
                at: reorg.at,
                fork_height: reorg.fork_height,
                depth: reorg.depth(),
                connected: reorg.connected.len(),
                lost: reorg.disconnected.iter().map(Hash::to_string).collect(),
                returned: reorg.returned.iter().map(Hash::to_string).collect(),
            })
            .rev()
            .collect();
        ForkInfo { blocks, reorgs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{pow, Block, Params, SecretKey};
    use tabchain_node::{Action, Config, Event};

    fn miner(seed: u8, now: Timestamp) -> (Node, Address) {
        let key = SecretKey::from_seed([seed; 32]);
        let address = key.public_key().address();
        let mut node = Node::new(Config::default(), key, Params::for_tests("forks"), 1, now);
        node.set_mining(now, Some(address));
        (node, address)
    }

    fn mine(node: &mut Node, now: Timestamp) -> Block {
        let mut block = std::iter::from_fn(|| node.poll_action())
            .filter_map(|action| match action {
                Action::MineTemplate(block) => Some(block),
                _ => None,
            })
            .last()
            .expect("mining asks for work");
        assert!(pow::solve(&mut block.header));
        node.handle_event(now, Event::MinedBlock(block.clone()))
            .unwrap();
        block
    }

    #[test]
    fn a_lost_branch_stays_beside_the_main_chain_and_the_reorg_is_logged() {
        let now = Timestamp(tabchain_core::params::GENESIS_TIME.millis() + 60_000);
        let (mut a, ours) = miner(1, now);
        let (mut b, _) = miner(2, now);
        let lost = mine(&mut a, now);
        let won: Vec<Block> = (0..2).map(|_| mine(&mut b, now)).collect();
        for block in &won {
            a.handle_event(now, Event::MinedBlock(block.clone()))
                .unwrap();
        }
        let forks = ForkInfo::of(&a, &ours);
        let shown = |hash: &Hash| forks.blocks.iter().find(|b| b.hash == hash.to_string());
        let side = shown(&lost.hash()).expect("the lost block is drawn");
        assert!(!side.main && side.lane == 1 && side.mine);
        assert_eq!(side.height, 1);
        assert!(won
            .iter()
            .all(|b| shown(&b.hash()).is_some_and(|b| b.main && b.lane == 0)));
        assert_eq!(
            forks.blocks[0].hash,
            won[1].hash().to_string(),
            "the tip first"
        );
        assert_eq!(forks.reorgs.len(), 1);
        assert_eq!((forks.reorgs[0].depth, forks.reorgs[0].connected), (1, 2));
        assert_eq!(forks.reorgs[0].lost, vec![lost.hash().to_string()]);
    }
}
