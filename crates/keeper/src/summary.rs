//! What a teacher sees of a kept room without opening a tab: `GET /rooms/<room>/chain`
//! on the signaling server, or the keeper's log. Built from the node after each turn.

use serde::Serialize;
use tabchain_node::Node;

/// Recent blocks listed, newest first.
const RECENT: u64 = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub room: String,
    /// The genesis hash: the room's rules.
    pub genesis: String,
    /// The keeper's node id, the same across restarts.
    pub keeper: String,
    pub roles: Vec<&'static str>,
    pub height: u64,
    pub tip: String,
    /// Blocks committed to disk since start or loaded from it.
    pub stored: usize,
    /// Peers linked now (handshake done).
    pub peers: Vec<String>,
    pub recent: Vec<BlockSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockSummary {
    pub height: u64,
    pub hash: String,
    /// Milliseconds since the Unix epoch, as the miner stamped it.
    pub time: u64,
    pub transactions: usize,
    /// The address the block's reward went to.
    pub miner: Option<String>,
}

impl Summary {
    pub fn of(node: &Node, room: &str, stored: usize) -> Summary {
        let chain = node.ledger().chain();
        let recent = (0..=chain.height())
            .rev()
            .take(RECENT as usize)
            .filter_map(|height| {
                let block = chain.block(&chain.hash_at(height)?)?;
                Some(BlockSummary {
                    height,
                    hash: block.hash().to_string(),
                    time: block.header.time.0,
                    transactions: block.transactions.len(),
                    miner: block
                        .coinbase()
                        .and_then(|coinbase| coinbase.outputs.first())
                        .map(|output| output.address.to_string()),
                })
            })
            .collect();
        Summary {
            room: room.to_owned(),
            genesis: chain.genesis_hash().to_string(),
            keeper: node.id().to_string(),
            roles: node.config().roles.names(),
            height: chain.height(),
            tip: chain.tip().to_string(),
            stored,
            peers: node
                .peers()
                .filter(|peer| peer.is_ready())
                .map(|peer| peer.id().to_string())
                .collect(),
            recent,
        }
    }
}
