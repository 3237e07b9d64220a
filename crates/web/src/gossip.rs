//! One block's gossip trail through this node, with names instead of ids: the gossip
//! trail panel shows the inspected block's, or the tip's.

use tabchain_core::{Hash, NodeId, Timestamp};
use tabchain_node::Node;

use crate::names::friendly_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailInfo {
    pub hash: String,
    pub height: u64,
    /// Mined by this tab.
    pub mined: bool,
    /// When it joined this node's tree, and from whom (`None` if mined here or loaded).
    pub arrived: Option<(Option<Step>, Timestamp)>,
    pub announced: Vec<Step>,
    pub ignored: Vec<Step>,
    pub told: Vec<Step>,
    pub served: Vec<Step>,
    pub pushed: Vec<Step>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub at: Timestamp,
}

fn steps(list: &[(NodeId, Timestamp)]) -> Vec<Step> {
    list.iter()
        .map(|(id, at)| Step {
            id: id.to_string(),
            name: friendly_name(id),
            at: *at,
        })
        .collect()
}

impl TrailInfo {
    /// `None` if the node holds no such block or has no trail for it (it came from
    /// storage, or long ago).
    pub fn of(node: &Node, hash: &Hash) -> Option<TrailInfo> {
        let chain = node.ledger().chain();
        let height = chain.height_of(hash)?;
        let trail = node.trail(hash)?;
        let arrived = trail.arrived.map(|(from, at)| {
            let from = from.map(|id| Step {
                id: id.to_string(),
                name: friendly_name(&id),
                at,
            });
            (from, at)
        });
        Some(TrailInfo {
            hash: hash.to_string(),
            height,
            mined: matches!(trail.arrived, Some((None, _))),
            arrived,
            announced: steps(&trail.announced),
            ignored: steps(&trail.ignored),
            told: steps(&trail.told),
            served: steps(&trail.served),
            pushed: steps(&trail.pushed),
            bytes_in: trail.bytes_in,
            bytes_out: trail.bytes_out,
        })
    }
}
