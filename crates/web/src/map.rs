//! The room as far as this node knows it: itself, its links, and the links its peers
//! listed in their last `Peers` message. Nodes are placed by hops from this one.

use std::collections::BTreeMap;

use tabchain_core::NodeId;
use tabchain_node::Node;

use crate::names::friendly_name;
use crate::view::{LinkState, PeerRow};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapInfo {
    /// This node first, then its peers, then the nodes only they link to.
    pub nodes: Vec<MapNode>,
    pub links: Vec<MapLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapNode {
    pub id: String,
    pub name: String,
    /// 0 for this node, 1 for its peers, 2 for their peers.
    pub hops: u8,
    /// What it said it does, for this node and its linked peers (`keeper`, `miner`…);
    /// empty for nodes only heard of.
    pub roles: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapLink {
    /// Indices into [`MapInfo::nodes`].
    pub a: usize,
    pub b: usize,
    /// This node's own links have a state; links between others are only heard of.
    pub state: Option<LinkState>,
}

impl MapInfo {
    /// `live` is the peers panel's rows: links still being dialled included.
    pub fn of(node: &Node, live: &[PeerRow]) -> MapInfo {
        let mut index: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut map = MapInfo::default();
        let mut add = |map: &mut MapInfo, id: NodeId, hops: u8| -> usize {
            *index.entry(id).or_insert_with(|| {
                let roles = if id == node.id() {
                    node.config().roles.names()
                } else {
                    node.peer(&id)
                        .map(|peer| peer.roles().names())
                        .unwrap_or_default()
                };
                map.nodes.push(MapNode {
                    id: id.to_string(),
                    name: friendly_name(&id),
                    hops,
                    roles,
                });
                map.nodes.len() - 1
            })
        };
        add(&mut map, node.id(), 0);
        for row in live {
            let Ok(id) = row.id.parse::<NodeId>() else {
                continue;
            };
            let b = add(&mut map, id, 1);
            map.links.push(MapLink {
                a: 0,
                b,
                state: Some(row.state),
            });
        }
        let mut heard = Vec::new();
        for peer in node.peers().filter(|p| p.is_ready()) {
            for other in peer.neighbours().filter(|id| *id != node.id()) {
                heard.push((peer.id(), other));
            }
        }
        for (peer, other) in heard {
            let a = add(&mut map, peer, 1);
            let b = add(&mut map, other, 2);
            // Two peers listing each other is one link.
            let (a, b) = (a.min(b), a.max(b));
            if !map.links.iter().any(|l| (l.a, l.b) == (a, b)) {
                map.links.push(MapLink { a, b, state: None });
            }
        }
        map
    }
}
