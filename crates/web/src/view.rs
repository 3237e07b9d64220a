//! A snapshot of one browser node for the page: everything a panel shows, as plain data.
//!
//! The driver builds a [`View`] after it handled input and hands it to the UI, which only
//! reads it; commands go back through the driver. Each panel's part is its own type, so
//! the UI can redraw only the panels whose part changed.

use std::collections::{HashMap, VecDeque};

use tabchain_core::{Address, Block, Hash, NodeId, Timestamp, Transaction, COIN};
pub use tabchain_miner::SearchPath;
use tabchain_node::{Node, PeerState};
use tabchain_nostr::RelayStatus;

use crate::forks::ForkInfo;
use crate::gossip::TrailInfo;
use crate::inspect::BlockDetail;
use crate::map::MapInfo;
use crate::names::friendly_name;
use crate::path::PathInfo;
use crate::tamper::{OfferReport, RemineInfo, Tamper, TamperReport};

/// Blocks the chain panel lists.
pub const RECENT_BLOCKS: usize = 12;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    pub node: NodeInfo,
    pub signal: SignalInfo,
    pub peers: PeersInfo,
    pub chain: ChainInfo,
    pub miner: MinerInfo,
    pub wallet: WalletInfo,
    pub log: Vec<LogLine>,
    /// The block the inspector shows, if the page asked for one the node holds.
    pub inspected: Option<BlockDetail>,
    pub forks: ForkInfo,
    /// The gossip trail of the inspected block, or of the tip.
    pub trail: Option<TrailInfo>,
    pub map: MapInfo,
    pub tamper: TamperInfo,
}

/// The tamper lab's state: the edited copy's report (or why there is none) and the last
/// offer to peers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TamperInfo {
    pub report: Option<Result<TamperReport, String>>,
    pub remine: Option<RemineInfo>,
    pub offer: Option<OfferReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo {
    pub id: String,
    pub name: String,
    pub room: String,
    /// The page's settings could not be read: the node did not start.
    pub error: Option<String>,
}

/// How this tab reaches the signaling server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignalState {
    #[default]
    Connecting,
    Connected,
    /// Not reachable; retrying. The mesh keeps working meanwhile.
    Offline,
    /// Never reached, and the tab meets its room through Nostr relays instead: a
    /// static site.
    Absent,
}

impl SignalState {
    /// The `data-state` the page shows.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalState::Connecting => "connecting",
            SignalState::Connected => "connected",
            SignalState::Offline => "offline",
            SignalState::Absent => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignalInfo {
    pub state: SignalState,
    pub url: String,
    /// Why it is offline, or when it tries again.
    pub detail: String,
    /// Tabs of this browser in the room, met over BroadcastChannel.
    pub local_tabs: usize,
    /// The Nostr relays the tab meets its room through, if any.
    pub relays: Vec<RelayInfo>,
    /// Bytes this tab has published to them.
    pub relay_bytes: u64,
}

/// How the last chain file went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportInfo {
    pub file: String,
    /// `reading`, `done` or `refused`.
    pub state: &'static str,
    pub text: String,
}

impl ImportInfo {
    pub fn reading(file: &str) -> ImportInfo {
        ImportInfo {
            file: file.to_owned(),
            state: "reading",
            text: "reading".to_owned(),
        }
    }

    pub fn done(file: &str, text: String) -> ImportInfo {
        ImportInfo {
            file: file.to_owned(),
            state: "done",
            text,
        }
    }

    pub fn refused(file: &str, text: String) -> ImportInfo {
        ImportInfo {
            file: file.to_owned(),
            state: "refused",
            text,
        }
    }
}

/// What IndexedDB holds for sure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredInfo {
    /// Every block of the active chain up to here has been written.
    pub height: u64,
    /// Writes sent and not yet committed.
    pub writing: usize,
    /// The last write that failed (or why there is no storage at all).
    pub error: Option<String>,
}

/// A Nostr relay as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayInfo {
    /// Its address without the scheme: `relay.damus.io`.
    pub host: String,
    pub url: String,
    /// `connecting`, `open`, `answering`, `paused` or `down`.
    pub state: &'static str,
    pub detail: String,
    pub heard: u64,
    pub published: u64,
}

impl From<RelayStatus> for RelayInfo {
    fn from(status: RelayStatus) -> RelayInfo {
        let host = status
            .url
            .split_once("://")
            .map_or(status.url.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_owned();
        RelayInfo {
            host,
            state: status.state.as_str(),
            url: status.url,
            detail: status.detail,
            heard: status.heard,
            published: status.published,
        }
    }
}

/// A link as the peers panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// WebRTC is being set up, or the handshake is not done.
    Connecting,
    Connected,
    /// No pong for a while; dropped soon unless one comes.
    Stale,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Stale => "stale",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    pub id: String,
    pub name: String,
    pub state: LinkState,
    pub rtt_ms: Option<u64>,
    /// Recent round trips, oldest first, for the sparkline.
    pub rtt_history: Vec<u64>,
    pub last_pong_ago_ms: Option<u64>,
    /// How the link is carried, once its connection reports a selected pair.
    pub path: Option<PathInfo>,
    /// What it said it does in its `Version` (`miner`, `full`, `keeper`, `light`).
    pub roles: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRow {
    pub id: String,
    pub name: String,
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeersInfo {
    pub live: Vec<PeerRow>,
    /// Newest first.
    pub dropped: Vec<DroppedRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRow {
    pub height: u64,
    pub hash: String,
    /// Who the coinbase pays, shortened; `mine` when it is this tab.
    pub miner: String,
    pub mine: bool,
    /// Payments, not counting the coinbase.
    pub transactions: usize,
    pub time: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainInfo {
    pub height: u64,
    pub tip: String,
    pub blocks: Vec<BlockRow>,
    /// While catching up: our height, and that of the best header heard of.
    pub sync: Option<(u64, u64)>,
    /// Blocks read back from IndexedDB at start, and records found corrupt and dropped.
    pub loaded: usize,
    pub corrupt: usize,
    pub stored: StoredInfo,
    pub import: Option<ImportInfo>,
    /// The room's block time, a rule like the difficulty.
    pub block_time_ms: u64,
    /// Expected hashes for the next block.
    pub next_difficulty: u64,
    pub mempool: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MinerInfo {
    pub mining: bool,
    pub workers: usize,
    /// How the workers search, once one has said (`None` before any is ready).
    pub path: Option<SearchPath>,
    /// Hashes per second over the last two seconds.
    pub hashrate: u64,
    pub blocks_found: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WalletInfo {
    pub address: String,
    /// Spendable coins on the active chain.
    pub confirmed: u64,
    /// Fresh coinbase coins on the active chain, spendable once they mature.
    pub maturing: u64,
    pub pending_in: u64,
    pub pending_out: u64,
    pub pending: Vec<PendingRow>,
    /// What a payment pays the miner, in base units.
    pub fee: u64,
}

/// A waiting payment that touches this wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub txid: String,
    /// Net effect on this wallet, in base units: positive is money in.
    pub net: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Peer,
    Block,
    Message,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: Timestamp,
    pub kind: LogKind,
    pub text: String,
}

/// What the driver knows beyond the node: links still being set up, the signaling
/// status, the workers, storage and the log.
#[derive(Debug)]
pub struct Surroundings<'a> {
    pub room: &'a str,
    pub address: Address,
    pub signal: SignalInfo,
    /// Peers whose WebRTC link is being set up (no data channel yet).
    pub dialing: Vec<NodeId>,
    /// How each open link is carried.
    pub paths: HashMap<NodeId, PathInfo>,
    pub miner: MinerInfo,
    pub loaded: usize,
    pub corrupt: usize,
    pub stored: StoredInfo,
    pub import: Option<ImportInfo>,
    /// The block the page asked to inspect.
    pub inspect: Option<Hash>,
    /// The tamper lab's edit, and its last offer to peers.
    pub tamper: Option<Tamper>,
    pub remine: Option<RemineInfo>,
    pub offer: Option<OfferReport>,
    pub log: &'a VecDeque<LogLine>,
}

impl View {
    pub fn build(node: &Node, around: Surroundings<'_>, now: Timestamp) -> View {
        let chain = node.ledger().chain();
        let balance = node.balance(&around.address);
        let peers = peers(node, &around.dialing, &around.paths, now);
        let hashrate = around.miner.hashrate;
        View {
            node: NodeInfo {
                id: node.id().to_string(),
                name: friendly_name(&node.id()),
                room: around.room.to_owned(),
                error: None,
            },
            signal: around.signal,
            map: MapInfo::of(node, &peers.live),
            peers,
            chain: ChainInfo {
                height: node.height(),
                tip: node.tip().to_string(),
                blocks: node
                    .recent_blocks(RECENT_BLOCKS)
                    .into_iter()
                    .map(|block| block_row(block, node, &around.address))
                    .collect(),
                sync: node.sync_progress(),
                loaded: around.loaded,
                corrupt: around.corrupt,
                stored: around.stored,
                import: around.import,
                block_time_ms: chain.params().target_block_ms,
                next_difficulty: chain.next_difficulty(&chain.tip()).unwrap_or(0),
                mempool: node.ledger().mempool().len(),
            },
            miner: around.miner,
            wallet: WalletInfo {
                address: around.address.to_string(),
                confirmed: balance.confirmed,
                maturing: balance.maturing,
                fee: node.config().payment_fee,
                pending_in: balance.pending_in,
                pending_out: balance.pending_out,
                pending: node
                    .ledger()
                    .mempool()
                    .by_priority()
                    .into_iter()
                    .filter_map(|entry| pending_row(node, &entry.tx, &around.address))
                    .collect(),
            },
            log: around.log.iter().rev().cloned().collect(),
            inspected: around
                .inspect
                .and_then(|hash| BlockDetail::of(chain, &hash, &around.address)),
            forks: ForkInfo::of(node, &around.address),
            trail: TrailInfo::of(node, &around.inspect.unwrap_or_else(|| node.tip())),
            tamper: TamperInfo {
                report: around.tamper.map(|tamper| {
                    tamper
                        .report(chain, hashrate)
                        .map_err(|error| error.to_string())
                }),
                remine: around.remine,
                offer: around.offer,
            },
        }
    }

    /// The view of a page whose settings are wrong: just the reason.
    pub fn failed(error: String) -> View {
        View {
            node: NodeInfo {
                error: Some(error),
                ..NodeInfo::default()
            },
            ..View::default()
        }
    }
}

fn peers(
    node: &Node,
    dialing: &[NodeId],
    paths: &HashMap<NodeId, PathInfo>,
    now: Timestamp,
) -> PeersInfo {
    let mut live: Vec<PeerRow> = node
        .peers()
        .map(|peer| PeerRow {
            id: peer.id().to_string(),
            name: friendly_name(&peer.id()),
            state: match peer.state() {
                PeerState::Handshaking => LinkState::Connecting,
                PeerState::Connected => LinkState::Connected,
                PeerState::Stale => LinkState::Stale,
            },
            rtt_ms: peer.rtt_ms(),
            rtt_history: peer.rtt_history().collect(),
            last_pong_ago_ms: peer.last_pong().map(|at| now.since(at)),
            path: paths.get(&peer.id()).cloned(),
            roles: peer.roles().names(),
        })
        .chain(
            dialing
                .iter()
                .filter(|id| node.peer(id).is_none())
                .map(|id| PeerRow {
                    id: id.to_string(),
                    name: friendly_name(id),
                    state: LinkState::Connecting,
                    rtt_ms: None,
                    rtt_history: Vec::new(),
                    last_pong_ago_ms: None,
                    path: None,
                    roles: Vec::new(),
                }),
        )
        .collect();
    live.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let mut dropped: Vec<DroppedRow> = node
        .dropped_peers()
        .map(|dropped| DroppedRow {
            id: dropped.id.to_string(),
            name: friendly_name(&dropped.id),
            reason: dropped.reason.to_string(),
            at: dropped.at,
        })
        .collect();
    dropped.reverse();
    PeersInfo { live, dropped }
}

fn block_row(block: &Block, node: &Node, ours: &Address) -> BlockRow {
    let chain = node.ledger().chain();
    let hash = block.hash();
    let height = chain.height_of(&hash).unwrap_or(0);
    let payee = block
        .coinbase()
        .and_then(|coinbase| coinbase.outputs.first())
        .map(|output| output.address);
    let mine = payee.as_ref() == Some(ours);
    BlockRow {
        height,
        hash: hash.to_string(),
        miner: match payee {
            _ if height == 0 => "genesis".to_owned(),
            // A peer that proved this address its wallet's goes by its friendly name.
            Some(address) => match node.payee_of(&address) {
                Some(id) => friendly_name(&id),
                None => short_address(&address),
            },
            None => "nobody".to_owned(),
        },
        mine,
        transactions: block.transactions.len().saturating_sub(1),
        time: block.header.time,
    }
}

fn pending_row(node: &Node, tx: &Transaction, ours: &Address) -> Option<PendingRow> {
    let utxo = node.ledger().chain().utxo();
    let spent: u64 = tx
        .inputs
        .iter()
        .filter(|input| input.public_key.address() == *ours)
        .filter_map(|input| utxo.get(&input.prev))
        .map(|coin| coin.output.value)
        .sum();
    let received: u64 = tx
        .outputs
        .iter()
        .filter(|output| output.address == *ours)
        .map(|output| output.value)
        .sum();
    if spent == 0 && received == 0 {
        return None;
    }
    Some(PendingRow {
        txid: tx.id().short(),
        net: received as i64 - spent as i64,
    })
}

/// `tc1a2b…` style: enough of an address to tell miners apart in a table.
pub fn short_address(address: &Address) -> String {
    let text = address.to_string();
    format!("{}…", &text[..10])
}

/// Base units as coins with three decimals: `12500` is `12.500`.
pub fn format_coins(units: u64) -> String {
    format!("{}.{:03}", units / COIN, units % COIN)
}

/// Coins typed by a person (`12.5`, `3`, `0.001`) as base units.
pub fn parse_coins(text: &str) -> Option<u64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || fraction.len() > 3
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u64 = format!("{fraction:0<3}").parse().ok()?;
    whole.checked_mul(COIN)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{pow, Params, SecretKey};
    use tabchain_node::{Config, Event};

    #[test]
    fn coins_read_and_print_with_three_decimals() {
        assert_eq!(parse_coins("12.5"), Some(12_500));
        assert_eq!(parse_coins(" 3 "), Some(3_000));
        assert_eq!(parse_coins(".001"), Some(1));
        assert_eq!(format_coins(12_500), "12.500");
        // Tried: empty, a fourth decimal, a sign, letters, a second point, overflow.
        for bad in [
            "",
            ".",
            "1.2345",
            "-1",
            "1e3",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert_eq!(parse_coins(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_view_shows_the_chain_the_wallet_and_links_being_set_up() {
        let key = SecretKey::from_seed([1; 32]);
        let address = key.public_key().address();
        let now = Timestamp(tabchain_core::params::GENESIS_TIME.millis() + 60_000);
        let mut node = Node::new(Config::default(), key, Params::for_tests("view"), 1, now);
        node.set_mining(now, Some(address));
        let template = std::iter::from_fn(|| node.poll_action())
            .find_map(|action| match action {
                tabchain_node::Action::MineTemplate(block) => Some(block),
                _ => None,
            })
            .expect("mining asks for work");
        let mut block = template;
        assert!(pow::solve(&mut block.header));
        node.handle_event(now, Event::MinedBlock(block.clone()))
            .unwrap();

        let dialing = NodeId([0x55; 16]);
        let log = VecDeque::new();
        let view = View::build(
            &node,
            Surroundings {
                room: "view",
                address,
                signal: SignalInfo::default(),
                dialing: vec![dialing],
                paths: HashMap::new(),
                miner: MinerInfo::default(),
                loaded: 3,
                corrupt: 1,
                stored: StoredInfo::default(),
                import: None,
                inspect: None,
                tamper: None,
                remine: None,
                offer: None,
                log: &log,
            },
            now,
        );
        assert_eq!(view.node.id, node.id().to_string());
        assert_eq!(view.chain.height, 1);
        assert_eq!(view.chain.tip, block.hash().to_string());
        assert_eq!(view.chain.blocks.len(), 2, "the block and genesis");
        assert!(view.chain.blocks[0].mine);
        assert_eq!(view.chain.blocks[1].miner, "genesis");
        assert_eq!((view.chain.loaded, view.chain.corrupt), (3, 1));
        // A fresh coinbase: not spendable until it matures.
        assert_eq!(
            (view.wallet.confirmed, view.wallet.maturing),
            (0, 50 * COIN)
        );
        assert_eq!(view.wallet.address, address.to_string());
        assert_eq!(view.peers.live.len(), 1);
        assert_eq!(view.peers.live[0].id, dialing.to_string());
        assert_eq!(view.peers.live[0].state, LinkState::Connecting);
    }
}
