//! What a node can be tuned with. The defaults suit browser tabs on one network: a
//! silent peer is noticed within a second and dropped within two (NOTES.md: a 250 ms
//! heartbeat caught a killed tab in ~1 s, while WebRTC itself takes 6-16 s).

use crate::handshake::Roles;

/// How new blocks spread. Transactions are announced and fetched (`Inv`, `GetData`)
/// under every strategy but [`Gossip::Flood`], which pushes them too.
///
/// Tabs use [`Gossip::Hybrid`]; the others are there for the simulator to compare
/// (`sim --gossip`), as the seeds describe them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gossip {
    /// Announce with `Inv`, send only what a peer asks for: each node receives each
    /// block about once, a round trip and a half per hop.
    Pull,
    /// Push every new block and transaction to every peer not known to have it: each
    /// node receives each block about once per link, half a round trip per hop.
    Flood,
    /// Push a new block to `k` random peers not known to have it, and nothing to the
    /// rest (seed 002).
    PushK { k: usize },
    /// Push a new block to `k` random peers; for each that answers it had it already,
    /// push to one more; stop after `limit` new infections or `saturation` answers of
    /// "had it" (seed 004).
    Infect {
        k: usize,
        saturation: usize,
        limit: usize,
    },
    /// Pull, but each node asks the `fast` peers that most recently told it of a new
    /// block first to push it new blocks at once (BIP152's high-bandwidth mode), and
    /// gives up on a request after a few of the peer's round trips instead of the fixed
    /// [`Config::request_timeout_ms`].
    Hybrid { fast: usize },
}

impl Default for Gossip {
    fn default() -> Self {
        Gossip::Hybrid { fast: 4 }
    }
}

impl Gossip {
    /// The strategy's name, as `sim --gossip` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Gossip::Pull => "pull",
            Gossip::Flood => "flood",
            Gossip::PushK { .. } => "push-k",
            Gossip::Infect { .. } => "infect",
            Gossip::Hybrid { .. } => "hybrid",
        }
    }

    /// Whether a peer may send a block it was not asked for (we asked fast peers of
    /// [`Gossip::Hybrid`] ourselves: that is checked per peer).
    pub(crate) fn takes_pushed_blocks(self) -> bool {
        matches!(
            self,
            Gossip::Flood | Gossip::PushK { .. } | Gossip::Infect { .. }
        )
    }
}

/// Timings (in milliseconds) and limits of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How often each connected peer is pinged.
    pub ping_interval_ms: u64,
    /// A peer with no pong for this long is shown as stale.
    pub stale_after_ms: u64,
    /// A peer with no pong for this long is dropped.
    pub drop_after_ms: u64,
    /// A link whose `Version`/`Verack` exchange is not done by then is dropped.
    pub handshake_timeout_ms: u64,
    /// A `GetData` or `GetHeaders` not answered by then goes to another peer, and an
    /// item still owed by then costs the peer points. Under [`Gossip::Hybrid`] a `GetData`
    /// goes to the next peer after a few of the asked peer's round trips already.
    pub request_timeout_ms: u64,
    /// Links the node tries to keep: below it, it dials every peer it knows of (a full
    /// mesh in a small room).
    pub target_peers: usize,
    /// Links the node accepts; above it, it lets random ones go.
    pub max_peers: usize,
    /// How often the node looks at its links and dials or trims.
    pub topology_interval_ms: u64,
    /// How long before a peer that failed or left is dialled again.
    pub redial_after_ms: u64,
    /// How long a peer dropped for misbehaving is refused and not dialled.
    pub ban_ms: u64,
    /// How often one random peer is asked for the peers it has.
    pub peer_exchange_interval_ms: u64,
    /// Outstanding `GetData` items per peer. A catch-up from one peer moves this many
    /// blocks per round trip: 128 took a fresh node through 2000 blocks from one peer in
    /// 1.7 s of simulated time, where 32 took 4.8 s (`sim --catch-up 2000 --nodes 1`).
    pub max_in_flight: usize,
    /// How many blocks past the tip header-first sync fetches at once, from every peer
    /// that has them. Blocks that arrive before their parents wait among the peers'
    /// orphans, within their sender's bytes; one evicted there is asked again as the
    /// window moves on.
    pub download_window: u64,
    /// `Inv` items a peer may send at once, and per second after that.
    pub inv_burst: u32,
    pub inv_per_sec: u32,
    /// Relayed signaling payloads a peer may send at once, and per second after that.
    pub relay_burst: u32,
    pub relay_per_sec: u32,
    /// Bytes of replies (blocks, transactions, headers, peer lists) a peer's requests
    /// may have us send at once, and per second after that; past it its requests wait.
    pub serve_burst_bytes: u64,
    pub serve_bytes_per_sec: u64,
    /// Bytes of blocks whose parents are missing kept for one peer, and for all.
    pub orphan_bytes_per_peer: usize,
    pub orphan_bytes: usize,
    /// Misbehaviour points at which a peer is dropped and banned.
    pub score_limit: u32,
    /// RTT samples kept per peer for the UI's chart.
    pub rtt_history: usize,
    /// Dropped peers remembered for the UI.
    pub dropped_history: usize,
    pub gossip: Gossip,
    /// What this node's wallet pays the miner per payment, in base units.
    pub payment_fee: u64,
    /// What this node tells its peers it does, in its `Version`.
    pub roles: Roles,
}

/// Links a keeper accepts: it is there for a whole class (30 students, a few tabs each,
/// each tab keeping up to 12 links of which the keeper is one).
pub const KEEPER_MAX_PEERS: usize = 64;

impl Config {
    /// This configuration for a keeper: a native node that stays in the room for
    /// whoever comes later. It takes many more links than a tab, and says what it is
    /// in its `Version`.
    pub fn keeper(self, mine: bool) -> Config {
        let mut roles = Roles::FULL.with(Roles::KEEPER);
        if mine {
            roles = roles.with(Roles::MINER);
        }
        Config {
            roles,
            max_peers: KEEPER_MAX_PEERS,
            ..self
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_interval_ms: 500,
            stale_after_ms: 1_000,
            drop_after_ms: 2_000,
            handshake_timeout_ms: 3_000,
            request_timeout_ms: 3_000,
            target_peers: 8,
            max_peers: 12,
            topology_interval_ms: 1_000,
            redial_after_ms: 5_000,
            ban_ms: 10 * 60 * 1_000,
            peer_exchange_interval_ms: 30_000,
            max_in_flight: 128,
            download_window: 512,
            inv_burst: 2_000,
            inv_per_sec: 1_000,
            relay_burst: 64,
            relay_per_sec: 20,
            serve_burst_bytes: 4 * 1024 * 1024,
            serve_bytes_per_sec: 1024 * 1024,
            orphan_bytes_per_peer: 4 * 1024 * 1024,
            orphan_bytes: 16 * 1024 * 1024,
            score_limit: 100,
            rtt_history: 32,
            dropped_history: 64,
            gossip: Gossip::default(),
            payment_fee: 10,
            roles: Roles::TAB,
        }
    }
}
