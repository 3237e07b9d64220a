//! One link's state: where its handshake stands, its liveness and timers, what it is
//! known to have, what we asked of it, its budgets and its misbehaviour score. The
//! node-wide decisions that use it are in [`crate::node`].

use std::collections::{BTreeSet, HashSet, VecDeque};

use tabchain_core::recent::RecentSet;
use tabchain_core::{Hash, NodeId, Timestamp};

use crate::compact::PushKey;
use crate::config::Config;
use crate::handshake::Roles;
use crate::liveness::Liveness;
use crate::message::InvItem;
use crate::score::{Budget, ByteBudget};
use crate::timer::{TimerKind, Timers};

/// Inventory remembered per peer.
const KNOWN_PER_PEER: usize = 4_096;
/// `GetPeers` a peer may send at once, and how many seconds it must wait between more
/// after that: honest nodes ask one random peer every 30 s, and each peer once at the
/// handshake.
const GET_PEERS_BURST: u32 = 3;
const GET_PEERS_EVERY_S: u32 = 10;
/// Unasked `Peers` a peer may send at once and per second: an honest node lists its
/// links at most once a topology round (0.75 to 1.25 s) when they changed.
const PEERS_BURST: u32 = 8;
const PEERS_PER_SEC: u32 = 2;
/// New ids a peer may add to the address book at once, and one per this many seconds
/// after: Bitcoin Core's address budget (`MAX_ADDR_PROCESSING_TOKEN_BUCKET`, 0.1/s).
const NEW_IDS_BURST: u32 = 100;
const NEW_ID_EVERY_S: u32 = 10;
/// `NotFound`s for announced transactions tolerated at once and per second: a payment
/// can be mined between its `Inv` and our `GetData` (gossipsub's
/// `behaviour_penalty_threshold`: a few broken promises are noise).
const BROKEN_PROMISES_BURST: u32 = 64;
const BROKEN_PROMISES_PER_SEC: u32 = 4;
/// KiB of blocks a peer may send that the chain only holds (a branch too light to store)
/// at once, and per second after: a partition healing after a lesson's worth of blocks
/// needs a few KiB of them, while the chain holds 256 KiB of such blocks in all, so one
/// peer cannot crowd out the rest.
const SIDE_KIB_BURST: u32 = 64;
const SIDE_KIB_PER_SEC: u32 = 1;
/// Blocks pushed to a peer that it may still ask for whole, pushes it could not rebuild
/// that we asked it for whole, and its pushes that crossed a block's arrival: a push is
/// of a new block, and asked for or crossed at once.
const PUSHES_REMEMBERED: usize = 8;

/// A request of the peer's waiting for its reply, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owed {
    Item(InvItem),
    Headers {
        locator: Vec<Hash>,
        stop: Option<Hash>,
    },
}

/// Where a link stands, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Linked; `Version`/`Verack` not done yet.
    Handshaking,
    /// Handshake done and answering pings.
    Connected,
    /// Handshake done but no pong for [`Config::stale_after_ms`]; dropped at
    /// [`Config::drop_after_ms`].
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerTimer {
    /// The handshake must be done by then.
    Handshake,
    /// No pong for a while: show the peer as stale.
    Stale,
    /// No pong for too long: drop the peer.
    Dead,
    /// Our `GetHeaders` must be answered by then.
    Headers,
    /// The reply budget has room again for what the peer's requests are owed.
    Serve,
    /// A request that went to the next source early is due from this peer by then.
    Late,
}

impl TimerKind for PeerTimer {
    const ALL: &'static [PeerTimer] = &[
        PeerTimer::Handshake,
        PeerTimer::Stale,
        PeerTimer::Dead,
        PeerTimer::Headers,
        PeerTimer::Serve,
        PeerTimer::Late,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

/// A linked peer. Read-only outside the crate: the getters are what a UI shows.
#[derive(Debug, Clone)]
pub struct Peer {
    pub(crate) id: NodeId,
    pub(crate) binding: Vec<u8>,
    pub(crate) state: PeerState,
    pub(crate) linked_at: Timestamp,
    pub(crate) got_version: bool,
    pub(crate) got_verack: bool,
    pub(crate) best_height: u64,
    pub(crate) best_hash: Hash,
    /// From its `Version`.
    pub(crate) roles: Roles,
    /// The last block it announced that we did not have: its tip once we hold it too.
    pub(crate) announced: Option<Hash>,
    /// Set when the handshake is done.
    pub(crate) liveness: Option<Liveness>,
    pub(crate) timers: Timers<PeerTimer, 6>,
    pub(crate) score: u32,
    /// What it announced, sent, or was sent or announced by us.
    pub(crate) known: RecentSet<InvItem>,
    /// What we asked it for and it has not answered, late answers included.
    pub(crate) requested: HashSet<InvItem>,
    /// Requests that went to the next source before their time with this peer was up,
    /// with when that time is up (see [`crate::Config::request_timeout_ms`]).
    pub(crate) late: Vec<(InvItem, Timestamp)>,
    /// It asked us to push it new blocks (`FastRelay(true)`).
    pub(crate) wants_pushes: bool,
    /// Until then it may still push us blocks after we asked it to stop: our `false`
    /// may cross its push.
    pub(crate) pushes_until: Timestamp,
    /// Blocks we pushed it lately, for a `GetPushed`.
    pushed: VecDeque<(PushKey, Hash)>,
    /// Its pushes we could not rebuild and asked for whole.
    asked_whole: VecDeque<PushKey>,
    /// Its last pushes that crossed the block's arrival by another way.
    crossed: RecentSet<Hash>,
    pub(crate) inv_budget: Budget,
    pub(crate) relay_budget: Budget,
    /// Replies its requests may cost, and the requests waiting for room.
    pub(crate) serve_budget: ByteBudget,
    pub(crate) owed: VecDeque<Owed>,
    /// Items sent on its requests: a second request for one is a repeat.
    pub(crate) served: RecentSet<InvItem>,
    /// The last `GetHeaders` answered, and our tip then: the same again is a repeat.
    pub(crate) last_headers: Option<(Vec<Hash>, Option<Hash>, Hash)>,
    pub(crate) get_peers_budget: Budget,
    pub(crate) peers_budget: Budget,
    pub(crate) new_ids_budget: Budget,
    pub(crate) promises_budget: Budget,
    /// Side-branch blocks (held, not stored) it may send, in KiB.
    pub(crate) side_budget: Budget,
    /// The peers it listed in its last `Peers`: where a `Relay` through it can go.
    pub(crate) neighbours: BTreeSet<NodeId>,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
}

impl Peer {
    pub(crate) fn new(id: NodeId, binding: Vec<u8>, config: &Config, now: Timestamp) -> Peer {
        let mut timers = Timers::new();
        timers.set(
            PeerTimer::Handshake,
            now.saturating_add(config.handshake_timeout_ms),
        );
        Peer {
            id,
            binding,
            state: PeerState::Handshaking,
            linked_at: now,
            got_version: false,
            got_verack: false,
            best_height: 0,
            best_hash: Hash::ZERO,
            roles: Roles::default(),
            announced: None,
            liveness: None,
            timers,
            score: 0,
            known: RecentSet::new(KNOWN_PER_PEER),
            requested: HashSet::new(),
            late: Vec::new(),
            wants_pushes: false,
            pushes_until: now,
            pushed: VecDeque::new(),
            asked_whole: VecDeque::new(),
            crossed: RecentSet::new(PUSHES_REMEMBERED),
            inv_budget: Budget::new(config.inv_burst, config.inv_per_sec, now),
            relay_budget: Budget::new(config.relay_burst, config.relay_per_sec, now),
            serve_budget: ByteBudget::new(
                config.serve_burst_bytes,
                config.serve_bytes_per_sec,
                now,
            ),
            owed: VecDeque::new(),
            served: RecentSet::new(KNOWN_PER_PEER),
            last_headers: None,
            get_peers_budget: Budget::new(GET_PEERS_BURST * GET_PEERS_EVERY_S, 1, now),
            peers_budget: Budget::new(PEERS_BURST, PEERS_PER_SEC, now),
            new_ids_budget: Budget::new(NEW_IDS_BURST * NEW_ID_EVERY_S, 1, now),
            promises_budget: Budget::new(BROKEN_PROMISES_BURST, BROKEN_PROMISES_PER_SEC, now),
            side_budget: Budget::new(SIDE_KIB_BURST, SIDE_KIB_PER_SEC, now),
            neighbours: BTreeSet::new(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// We pushed it the block `hash`, whose header has `key`.
    pub(crate) fn pushed(&mut self, key: PushKey, hash: Hash) {
        remember(&mut self.pushed, (key, hash));
    }

    /// The block with `key` that we pushed it lately.
    pub(crate) fn pushed_hash(&self, key: &PushKey) -> Option<Hash> {
        self.pushed.iter().find(|(k, _)| k == key).map(|(_, h)| *h)
    }

    /// Notes that we ask it for its push with `key` whole; false if we already did.
    pub(crate) fn ask_whole(&mut self, key: PushKey) -> bool {
        if self.asked_whole.contains(&key) {
            return false;
        }
        remember(&mut self.asked_whole, key);
        true
    }

    /// Whether a block with `key` is one we asked it for whole (asked no more).
    pub(crate) fn whole_arrived(&mut self, key: &PushKey) -> bool {
        let asked = self.asked_whole.iter().position(|k| k == key);
        asked.map(|i| self.asked_whole.remove(i)).is_some()
    }

    /// Whether its unasked copy of `hash` is its first: a push that crossed the
    /// block's arrival by another way, not a repeat.
    pub(crate) fn first_crossing(&mut self, hash: Hash) -> bool {
        self.crossed.insert(hash)
    }

    /// Whether the handshake is done (the peer is `Connected` or `Stale`).
    pub fn is_ready(&self) -> bool {
        self.state != PeerState::Handshaking
    }

    // Getters.

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn state(&self) -> PeerState {
        self.state
    }

    /// When the driver reported the link.
    pub fn linked_at(&self) -> Timestamp {
        self.linked_at
    }

    /// The roles it stated in its `Version` (none before it came).
    pub fn roles(&self) -> Roles {
        self.roles
    }

    /// Its best chain as far as we know: from its `Version`, raised by the highest block
    /// it announced, sent us or fetched from us.
    pub fn best_height(&self) -> u64 {
        self.best_height
    }

    pub fn best_hash(&self) -> Hash {
        self.best_hash
    }

    /// Smoothed round-trip time, once a pong has come.
    pub fn rtt_ms(&self) -> Option<u64> {
        self.liveness.as_ref().and_then(Liveness::smoothed_ms)
    }

    /// Recent round-trip times, oldest first, at most [`Config::rtt_history`].
    pub fn rtt_history(&self) -> impl Iterator<Item = u64> + '_ {
        self.liveness
            .iter()
            .flat_map(|l| l.samples().iter().copied())
    }

    /// When the last pong came (the handshake's end before the first).
    pub fn last_pong(&self) -> Option<Timestamp> {
        self.liveness.as_ref().map(Liveness::last_pong)
    }

    /// Misbehaviour points so far.
    pub fn score(&self) -> u32 {
        self.score
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// The peer's own peers, as it last listed them.
    pub fn neighbours(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.neighbours.iter().copied()
    }

    /// `GetPeers` cost: one request every [`GET_PEERS_EVERY_S`] seconds.
    /// The peer has block `hash` at `height`: its tip, if higher than the last one known.
    pub(crate) fn holds(&mut self, hash: Hash, height: u64) {
        if height > self.best_height {
            self.best_height = height;
            self.best_hash = hash;
        }
    }

    pub(crate) fn take_get_peers(&mut self, now: Timestamp) -> bool {
        self.get_peers_budget.take(GET_PEERS_EVERY_S as usize, now)
    }

    /// Whether one more new id from this peer may enter the address book.
    pub(crate) fn take_new_id(&mut self, now: Timestamp) -> bool {
        self.new_ids_budget.take(NEW_ID_EVERY_S as usize, now)
    }

    pub(crate) fn free_slots(&self, config: &Config) -> usize {
        config.max_in_flight.saturating_sub(self.requested.len())
    }

    /// Moves the liveness timers on from the last pong.
    pub(crate) fn arm_liveness(&mut self, config: &Config) {
        if let Some(liveness) = &self.liveness {
            let last = liveness.last_pong();
            self.timers
                .set(PeerTimer::Stale, last.saturating_add(config.stale_after_ms));
            self.timers
                .set(PeerTimer::Dead, last.saturating_add(config.drop_after_ms));
        }
    }
}

/// A peer that was dropped, for the UI's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedPeer {
    pub id: NodeId,
    pub reason: crate::event::DropReason,
    pub at: Timestamp,
}

/// Recent dropped peers, newest last.
pub(crate) type DroppedList = VecDeque<DroppedPeer>;

/// Keeps the last [`PUSHES_REMEMBERED`] of `list`.
fn remember<T>(list: &mut VecDeque<T>, item: T) {
    if list.len() == PUSHES_REMEMBERED {
        list.pop_front();
    }
    list.push_back(item);
}
