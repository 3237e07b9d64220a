//! The node: one ledger, its peers, and every node-wide decision (whom to ask for what,
//! what to announce to whom, whom to dial or drop, when to sync). Per-link state lives
//! in [`crate::peer`]; the pieces it decides with live in their own modules.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use tabchain_core::recent::RecentSet;
use tabchain_core::{
    Accepted, Address, Balance, Block, BlockError, Hash, Header, Ledger, LoadReport, MempoolError,
    NodeId, OutPoint, Params, PublicKey, SecretKey, Signatures, Timestamp, TipChange, Transaction,
    TxError, TxId, Wallet,
};

use crate::compact::{CompactBlock, PushKey};
use crate::config::{Config, Gossip};
use crate::discovery::AddressBook;
use crate::event::{Action, DropReason, Event, NodeError, NodeEvent, SignalError};
use crate::gossip::Fetcher;
use crate::handshake::{HandshakeError, Payee, Version};
use crate::liveness::{Liveness, Pong};
use crate::message::{
    DecodeError, InvItem, Message, MessageKind, SignedSignal, MAX_HEADERS, MAX_INV_ITEMS,
    MAX_LOCATOR, MAX_PEERS_LISTED, MAX_SIGNAL_BYTES, PROTOCOL_VERSION,
};
use crate::orphans::Orphans;
use crate::peer::{DroppedList, DroppedPeer, Owed, Peer, PeerState, PeerTimer};
use crate::random::Rng;
use crate::relay::{request_timeout_ms, FastPeers, Infections};
use crate::reorgs::{Reorg, ReorgLog};
use crate::score::Misbehaviour;
use crate::sync::HeaderSync;
use crate::timer::{TimerKind, Timers};
use crate::trail::{Trail, Trails};

/// Node ids remembered for dialling.
const KNOWN_PEERS: usize = 1_024;
/// Proven wallet addresses remembered to name miners: a class's tabs several times over.
const MAX_PAYEES: usize = 1_024;
/// Transactions recently accepted or refused, not fetched again when announced.
const RECENT_TXS: usize = 8_192;
/// Transactions waiting for a coin they spend to appear: its block is still on its
/// way, or a reorg took it and may give it back.
const ORPHAN_TXS: usize = 128;
/// A tip change connecting more blocks than this announces only the new tip: peers
/// that lack the rest fetch them by header sync, not one `Inv` each.
const ANNOUNCE_MAX_BLOCKS: usize = 8;
/// How long a payment counts as new here, so that a push sends it whole rather than by
/// short id (see [`crate::compact`]): the round trip and a half it takes our
/// announcement and the peer's fetch to bring it to a peer, on links of up to 75 ms.
/// Payments first seen in a block count as new too, and those matter most: measured
/// on 1000 simulated nodes, a window of 2 s doubled a push's bytes, and 100 ms to
/// 500 ms gave the same latency.
const FRESH_TX_MS: u64 = 250;
/// How long a peer we asked to stop pushing blocks may still push: our `FastRelay(false)`
/// and its push may cross, and a round trip is far below this.
const PUSH_GRACE_MS: u64 = 10_000;
/// How far apart two tabs' clocks may be for a relayed signal's expiry.
const RELAY_CLOCK_SKEW_MS: u64 = 30_000;
/// New dials per topology round, so a node joining a big room does not dial everyone.
const DIALS_PER_ROUND: usize = 4;
/// How long a relayed signal stays good: a WebRTC offer is useless long before.
const RELAY_TTL_MS: u64 = 30_000;
/// Requests one peer may have waiting for their replies: honest peers have at most
/// [`Config::max_in_flight`] items and one `GetHeaders` out with us.
const MAX_OWED: usize = 2 * MAX_INV_ITEMS;
/// How far above our tip a block whose parent we lack may be, unless header sync asked
/// for it: a peer further ahead is synced with, not taken on its word.
const ORPHAN_REACH: u64 = 16;
/// How far below our tip a branch may fork for an orphan on it to be kept.
const ORPHAN_FORK_DEPTH: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeTimer {
    /// Ping every ready peer. One timer for all of them, so that a node wakes once per
    /// interval rather than once per peer.
    Ping,
    /// Look at the links: dial below the target, trim above the maximum.
    Topology,
    /// Ask a random peer for its peers.
    PeerExchange,
    /// The earliest `GetData` deadline.
    Requests,
}

impl TimerKind for NodeTimer {
    const ALL: &'static [NodeTimer] = &[
        NodeTimer::Ping,
        NodeTimer::Topology,
        NodeTimer::PeerExchange,
        NodeTimer::Requests,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

/// Where a block came from: it decides what is announced, stored and blamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Peer(NodeId),
    Mined,
    Storage,
    /// A chain file a person loaded ([`Node::import`]).
    File,
}

impl Origin {
    fn peer(self) -> Option<NodeId> {
        match self {
            Origin::Peer(peer) => Some(peer),
            Origin::Mined | Origin::Storage | Origin::File => None,
        }
    }
}

/// A tabchain node as a state machine. See the crate docs for how to drive it.
///
/// Methods by role: getters; `handle_event` and `handle_timeout` take input; commands
/// (`set_mining`, `send_signal`, `shutdown`) change what the node does; `poll_action`,
/// `poll_event` and `poll_timeout` drain its output.
#[derive(Debug)]
pub struct Node {
    config: Config,
    key: SecretKey,
    public_key: PublicKey,
    id: NodeId,
    ledger: Ledger,
    rng: Rng,
    /// The latest time handed in; earlier times are not trusted.
    now: Timestamp,
    peers: BTreeMap<NodeId, Peer>,
    /// [`Node::poll_timeout`]'s answer until the next input (`None`: not worked out).
    /// Drivers ask after every input, and working it out walks every peer's timers.
    next_timeout: Cell<Option<Option<Timestamp>>>,
    dropped: DroppedList,
    /// Our wallet's proven address, for our `Version`s.
    payee: Option<Payee>,
    /// Wallet addresses peers proved in their `Version`s, to name a block's miner
    /// after its tab has gone; at most [`MAX_PAYEES`].
    payees: BTreeMap<Address, NodeId>,
    book: AddressBook,
    fetcher: Fetcher,
    /// Peers we asked to push us new blocks ([`Gossip::Hybrid`]).
    fast: FastPeers,
    /// Blocks we are spreading under [`Gossip::Infect`].
    infections: Infections,
    sync: HeaderSync,
    /// Whether the last sync progress shown was short of its target.
    syncing: bool,
    /// Whether our set of ready peers changed since we last listed it to them.
    peers_changed: bool,
    /// Blocks waiting in the chain's own orphan pool (a mined block whose parent was
    /// pruned meanwhile, and blocks built on such a one), to report them when their
    /// parents arrive.
    orphans: HashMap<Hash, Origin>,
    /// Peers' blocks whose parents we lack.
    orphan_pool: Orphans,
    recent_txs: RecentSet<InvItem>,
    /// Payments first seen here lately, oldest first: pushes send them whole.
    fresh_txs: VecDeque<(Timestamp, TxId)>,
    orphan_txs: VecDeque<Transaction>,
    mining: Option<Address>,
    /// Set when the tip or mempool changed: a new template goes out at the end of the call.
    template_due: bool,
    /// Set when something may be fetched: requests are assigned at the end of the call.
    fetch_due: bool,
    /// `Inv` items gathered during a call, sent as one message per peer at its end.
    inv_outbox: BTreeMap<NodeId, Vec<InvItem>>,
    /// The mempool as last reported to the UI: (transactions, bytes).
    mempool_shown: (usize, usize),
    reorgs: ReorgLog,
    trails: Trails,
    /// A block a person made up to show peers ([`Node::offer_block`]): served to whoever
    /// asks for it, never stored or relayed.
    offered: Option<Block>,
    timers: Timers<NodeTimer, 4>,
    actions: VecDeque<Action>,
    events: VecDeque<NodeEvent>,
}

impl Node {
    /// A node with only the genesis block of `params`; load stored blocks with
    /// [`Node::load_stored`]. All its randomness comes from `rng_seed`.
    pub fn new(
        config: Config,
        key: SecretKey,
        params: Params,
        rng_seed: u64,
        now: Timestamp,
    ) -> Node {
        let public_key = key.public_key();
        let id = public_key.node_id();
        let mut timers = Timers::new();
        timers.set(NodeTimer::Ping, now.saturating_add(config.ping_interval_ms));
        timers.set(NodeTimer::Topology, now);
        timers.set(
            NodeTimer::PeerExchange,
            now.saturating_add(config.peer_exchange_interval_ms),
        );
        Node {
            config,
            key,
            public_key,
            id,
            ledger: Ledger::new(params),
            rng: Rng::new(rng_seed),
            now,
            peers: BTreeMap::new(),
            next_timeout: Cell::new(None),
            dropped: DroppedList::new(),
            payee: None,
            payees: BTreeMap::new(),
            book: AddressBook::new(id, KNOWN_PEERS),
            fetcher: Fetcher::default(),
            fast: FastPeers::default(),
            infections: Infections::default(),
            sync: HeaderSync::default(),
            syncing: false,
            peers_changed: false,
            orphans: HashMap::new(),
            orphan_pool: Orphans::default(),
            recent_txs: RecentSet::new(RECENT_TXS),
            fresh_txs: VecDeque::new(),
            orphan_txs: VecDeque::new(),
            mining: None,
            template_due: false,
            fetch_due: false,
            inv_outbox: BTreeMap::new(),
            mempool_shown: (0, 0),
            reorgs: ReorgLog::default(),
            trails: Trails::default(),
            offered: None,
            timers,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // Getters.

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The latest time the node was given.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The chain and mempool.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn tip(&self) -> Hash {
        self.ledger.chain().tip()
    }

    pub fn height(&self) -> u64 {
        self.ledger.chain().height()
    }

    /// Up to `count` blocks of the active chain, the tip first.
    pub fn recent_blocks(&self, count: usize) -> Vec<&Block> {
        let chain = self.ledger.chain();
        (0..=chain.height())
            .rev()
            .take(count)
            .filter_map(|height| chain.block(&chain.hash_at(height)?))
            .collect()
    }

    pub fn balance(&self, address: &Address) -> Balance {
        self.ledger.balance(address)
    }

    /// Linked peers, by id.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    pub fn peer(&self, id: &NodeId) -> Option<&Peer> {
        self.peers.get(id)
    }

    /// The node that proved `address` its wallet's in a handshake, if any did.
    pub fn payee_of(&self, address: &Address) -> Option<NodeId> {
        self.payees.get(address).copied()
    }

    /// Recently dropped peers with why and when, oldest first.
    pub fn dropped_peers(&self) -> impl Iterator<Item = &DroppedPeer> {
        self.dropped.iter()
    }

    /// Bytes of peers' blocks waiting for their parents.
    pub fn orphan_bytes(&self) -> usize {
        self.orphan_pool.bytes()
    }

    /// Whether `id` is refused now for misbehaving.
    pub fn is_banned(&self, id: &NodeId) -> bool {
        self.book.is_banned(id, self.now)
    }

    /// The node ids banned now.
    pub fn banned(&self) -> impl Iterator<Item = &NodeId> + '_ {
        self.book.banned(self.now)
    }

    /// Node ids heard of, linked or not.
    pub fn known_peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.book.ids()
    }

    /// While catching up: our height, and the height of the best header heard of
    /// (header-first sync learns it before fetching the blocks).
    pub fn sync_progress(&self) -> Option<(u64, u64)> {
        let height = self.height();
        self.sync
            .target()
            .filter(|target| *target > height)
            .map(|target| (height, target))
    }

    /// The recent reorgs, oldest first.
    pub fn reorgs(&self) -> impl DoubleEndedIterator<Item = &Reorg> {
        self.reorgs.iter()
    }

    /// How block `hash` spread through this node, if it is recent.
    pub fn trail(&self, hash: &Hash) -> Option<&Trail> {
        self.trails.get(hash)
    }

    /// Where mined coins go, if mining is on.
    pub fn mining(&self) -> Option<Address> {
        self.mining
    }

    // Input.

    /// Takes one event from outside. `Err` only refuses a local input (a mined block,
    /// a wallet's transaction); whatever a peer sends never makes one.
    pub fn handle_event(&mut self, now: Timestamp, event: Event) -> Result<(), NodeError> {
        self.advance(now);
        let result = match event {
            Event::PeerConnected { peer, binding } => {
                self.on_linked(peer, binding);
                Ok(())
            }
            Event::PeerDisconnected { peer } => {
                self.drop_peer(peer, DropReason::Closed);
                Ok(())
            }
            Event::DialFailed { peer } => {
                if self.book.dial_done(&peer) {
                    let until = self.now.saturating_add(self.config.redial_after_ms);
                    self.book.back_off(peer, until);
                }
                Ok(())
            }
            Event::Message { peer, bytes } => {
                self.on_frame(peer, &bytes);
                Ok(())
            }
            Event::MinedBlock(block) => {
                let accepted = self.accept_block(block, Origin::Mined);
                if accepted.is_err() {
                    // A stale or refused solution: the miner gets a template on the
                    // current tip rather than idling.
                    self.template_due = true;
                }
                accepted.map_err(NodeError::InvalidMinedBlock)
            }
            Event::SubmitTx(tx) => self.add_tx(tx, None).map(|_| ()).map_err(NodeError::Tx),
            Event::PeersKnown(ids) => {
                for id in ids {
                    self.book.add(id, self.now, &mut self.rng);
                }
                if self.peers.len() < self.config.target_peers {
                    self.timers.set(NodeTimer::Topology, self.now);
                }
                Ok(())
            }
        };
        self.finish();
        result
    }

    /// Fires the timers due at `now`. Call it when [`Node::poll_timeout`]'s time comes.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.advance(now);
        while let Some(timer) = self.timers.pop_expired(self.now) {
            match timer {
                NodeTimer::Ping => {
                    for peer in self.ready_peers() {
                        let nonce = self.rng.next_u64();
                        if let Some(liveness) =
                            self.peers.get_mut(&peer).and_then(|p| p.liveness.as_mut())
                        {
                            liveness.ping_sent(nonce, self.now);
                        }
                        self.send(peer, &Message::Ping { nonce });
                    }
                    self.timers.set(
                        NodeTimer::Ping,
                        self.now.saturating_add(self.config.ping_interval_ms),
                    );
                }
                NodeTimer::Topology => {
                    self.topology();
                    let interval = self.config.topology_interval_ms;
                    // Jitter keeps a room of tabs opened together from dialling in step.
                    let next = interval * 3 / 4 + self.rng.below(interval / 2 + 1);
                    self.timers
                        .set(NodeTimer::Topology, self.now.saturating_add(next));
                }
                NodeTimer::PeerExchange => {
                    let ready = self.ready_peers();
                    if !ready.is_empty() {
                        let peer = ready[self.rng.index(ready.len())];
                        self.send(peer, &Message::GetPeers);
                    }
                    self.timers.set(
                        NodeTimer::PeerExchange,
                        self.now
                            .saturating_add(self.config.peer_exchange_interval_ms),
                    );
                }
                NodeTimer::Requests => {
                    for (item, peer, asked_at) in self.fetcher.expire(self.now) {
                        self.request_expired(peer, item, asked_at);
                    }
                    self.fetch_due = true;
                }
            }
        }
        let ids: Vec<NodeId> = self.peers.keys().copied().collect();
        for id in ids {
            while let Some(timer) = self
                .peers
                .get_mut(&id)
                .and_then(|p| p.timers.pop_expired(self.now))
            {
                self.peer_timer(id, timer);
            }
        }
        self.finish();
    }

    // Commands.

    /// Loads the blocks storage kept, each with the key it was filed under (its hash),
    /// in any order; call it once at start, before any peer links. Blocks are checked
    /// and connected in chain order as [`tabchain_core::Chain::load_stored`] describes,
    /// the tip moves once, to the most-work valid branch, and none is announced (peers
    /// learn of the chain in the handshake).
    ///
    /// The payments' signatures are not verified again: this node verified them before
    /// storing, and a forgery edited into the store under a re-mined proof of work only
    /// fools this tab, since peers verify every block it serves them.
    ///
    /// Storage should then delete what the [`Action::ForgetBlock`]s name: the refused
    /// records (peers still have the good ones; sync fetches them) and side branches
    /// too far behind the tip to keep. The report says why each record was refused.
    pub fn load_stored(&mut self, now: Timestamp, records: Vec<(Hash, Block)>) -> LoadReport {
        self.load(now, records, Signatures::Trust, Origin::Storage)
    }

    /// Takes a chain a person handed in (a saved lesson, a prepared chain): every block
    /// is checked as a peer's would be, signatures included, in chain order as
    /// [`Node::load_stored`] does; what is stored is written ([`Action::StoreBlock`]) and
    /// a new tip is announced to peers. Blocks that do not connect are left out and
    /// named in the report's `waiting`.
    pub fn import(&mut self, now: Timestamp, blocks: Vec<Block>) -> LoadReport {
        let records = blocks.into_iter().map(|b| (b.hash(), b)).collect();
        self.load(now, records, Signatures::Check, Origin::File)
    }

    fn load(
        &mut self,
        now: Timestamp,
        records: Vec<(Hash, Block)>,
        signatures: Signatures,
        origin: Origin,
    ) -> LoadReport {
        self.advance(now);
        let report = self.ledger.load_stored(records, self.now, signatures);
        for hash in &report.stored {
            self.sync.block_done(hash);
            self.report_block(*hash, origin);
        }
        let forget = report
            .refused
            .iter()
            .map(|(key, _)| key)
            .chain(&report.pruned);
        self.actions
            .extend(forget.copied().map(Action::ForgetBlock));
        if let Some(change) = &report.tip_change {
            self.tip_moved(change, origin);
        }
        self.finish();
        report
    }

    /// Starts (`Some`) or stops (`None`) emitting templates paying `pay_to`.
    /// Our wallet's address as peers will learn it from our next handshakes: `payee`
    /// proves it with the wallet's key ([`Payee::new`]).
    pub fn set_payee(&mut self, payee: Option<Payee>) {
        self.next_timeout.take();
        self.payee = payee;
    }

    pub fn set_mining(&mut self, now: Timestamp, pay_to: Option<Address>) {
        self.advance(now);
        self.mining = pay_to;
        self.template_due = false;
        match pay_to {
            Some(address) => {
                let template = self.ledger.template(address, self.now);
                self.actions.push_back(Action::MineTemplate(template));
            }
            None => self.actions.push_back(Action::StopMining),
        }
    }

    /// Announces `block` to every ready peer and serves it to those that ask, without
    /// checking, storing or relaying it: the tamper lab shows a class what peers do with
    /// a block someone altered. Returns how many peers were told. A later offer replaces
    /// this one.
    pub fn offer_block(&mut self, now: Timestamp, block: Block) -> usize {
        self.advance(now);
        let item = InvItem::Block(block.hash());
        self.offered = Some(block);
        let told = self
            .peers
            .values()
            .filter(|p| p.is_ready() && !p.known.contains(&item))
            .count();
        self.announce(item, None);
        self.finish();
        told
    }

    /// Pays `amount` base units to `to` from `wallet`'s spendable coins but `reserved`
    /// (coins another tab sharing the wallet is spending), plus the configured fee, and
    /// submits the payment.
    pub fn pay(
        &mut self,
        now: Timestamp,
        wallet: &Wallet,
        to: Address,
        amount: u64,
        reserved: &HashSet<OutPoint>,
    ) -> Result<TxId, NodeError> {
        let mut coins = self.ledger.spendable(&wallet.address());
        coins.retain(|(outpoint, _)| !reserved.contains(outpoint));
        let genesis = self.ledger.chain().genesis_hash();
        let tx = wallet.pay(&coins, to, amount, self.config.payment_fee, &genesis)?;
        let id = tx.id();
        self.handle_event(now, Event::SubmitTx(tx))?;
        Ok(id)
    }

    /// Sends an opaque signaling payload (a WebRTC offer, answer or candidate) to `to`
    /// through the mesh: straight to it if linked, else through a peer that listed it
    /// among its own. `to` receives it as [`Action::Signal`]. The node signs it with its
    /// key, so that no peer on the way can pass off a signal of its own as ours.
    pub fn send_signal(&mut self, to: NodeId, payload: Vec<u8>) -> Result<(), SignalError> {
        self.next_timeout.take();
        if payload.len() > MAX_SIGNAL_BYTES {
            return Err(SignalError::TooLarge {
                size: payload.len(),
                max: MAX_SIGNAL_BYTES,
            });
        }
        let via = if self.peers.get(&to).is_some_and(Peer::is_ready) {
            to
        } else {
            let routes: Vec<NodeId> = self
                .peers
                .values()
                .filter(|p| p.is_ready() && p.neighbours.contains(&to))
                .map(|p| p.id)
                .collect();
            if routes.is_empty() {
                return Err(SignalError::NoRoute);
            }
            routes[self.rng.index(routes.len())]
        };
        let from = self.id;
        let expires = self.now.saturating_add(RELAY_TTL_MS);
        let payload = SignedSignal::sign(&self.key, &to, expires, payload).encode();
        self.send(via, &Message::Relay { to, from, payload });
        Ok(())
    }

    /// Says goodbye to every peer and lets them go: call it when the tab closes
    /// (`pagehide`), then carry out the actions before closing the links.
    pub fn shutdown(&mut self, now: Timestamp) {
        self.advance(now);
        let ids: Vec<NodeId> = self.peers.keys().copied().collect();
        for id in ids {
            self.drop_peer(id, DropReason::Shutdown);
        }
    }

    // Output.

    /// The next thing for the driver to do. Drain it after every `handle_*` call and
    /// command.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next thing for the UI to show.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    /// When [`Node::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if let Some(next) = self.next_timeout.get() {
            debug_assert_eq!(next, self.next_timer(), "an input left it stale");
            return next;
        }
        let next = self.next_timer();
        self.next_timeout.set(Some(next));
        next
    }

    fn next_timer(&self) -> Option<Timestamp> {
        let mut next = self.timers.next();
        for peer in self.peers.values() {
            if let Some(at) = peer.timers.next() {
                if next.is_none_or(|n| at < n) {
                    next = Some(at);
                }
            }
        }
        next
    }

    // Links.

    /// Every input that can change a timer starts here (or forgets `next_timeout` as
    /// this does).
    fn advance(&mut self, now: Timestamp) {
        self.next_timeout.take();
        self.now = self.now.max(now);
    }

    fn on_linked(&mut self, peer: NodeId, binding: Vec<u8>) {
        let dialled = self.book.dial_done(&peer);
        let refusal = if peer == self.id {
            Some(HandshakeError::SelfConnection)
        } else if self.peers.contains_key(&peer) {
            Some(HandshakeError::DuplicateConnection)
        } else if self.book.is_banned(&peer, self.now) {
            Some(HandshakeError::Banned)
        } else if !dialled && self.peers.len() >= self.config.max_peers {
            Some(HandshakeError::TooManyPeers)
        } else {
            None
        };
        if let Some(error) = refusal {
            let reason = DropReason::Refused(error);
            if error != HandshakeError::DuplicateConnection {
                // So that the dialler moves on at once. Not to a duplicate: the `Send`
                // would go down the first link.
                self.send(peer, &Message::Goodbye);
            }
            self.actions.push_back(Action::Disconnect { peer, reason });
            self.record_drop(peer, reason);
            return;
        }
        self.book.add(peer, self.now, &mut self.rng);
        let version = Version::new(
            &self.key,
            self.ledger.chain().genesis_hash(),
            self.height(),
            self.tip(),
            self.config.roles,
            self.payee.clone(),
            &binding,
        );
        self.peers
            .insert(peer, Peer::new(peer, binding, &self.config, self.now));
        self.events.push_back(NodeEvent::PeerState {
            peer,
            state: PeerState::Handshaking,
        });
        self.send(peer, &Message::Version(version));
    }

    /// Forgets `peer`, tells the driver to close its link (unless it is already
    /// closed) and the UI why, and keeps it from being dialled for a while.
    fn drop_peer(&mut self, peer: NodeId, reason: DropReason) {
        let Some(state) = self.peers.get(&peer).map(|p| p.state) else {
            return;
        };
        if !matches!(reason, DropReason::Closed | DropReason::Goodbye) {
            // So that the other side drops us at once too, rather than after missed pongs.
            self.send(peer, &Message::Goodbye);
        }
        self.peers.remove(&peer);
        if reason != DropReason::Closed {
            self.actions.push_back(Action::Disconnect { peer, reason });
        }
        self.record_drop(peer, reason);
        // Until the handshake proves the key, the id is only what the dialler (or a
        // forged signal) said: banning it would let anyone get an honest node banned.
        let proven = state != PeerState::Handshaking;
        let ban = proven
            && match reason {
                DropReason::Misbehaved(_) => true,
                DropReason::Refused(error) => error.is_forgery(),
                _ => false,
            };
        if ban {
            self.book
                .ban(peer, self.now.saturating_add(self.config.ban_ms));
        } else {
            let until = self.now.saturating_add(self.config.redial_after_ms);
            self.book.back_off(peer, until);
        }
        if state != PeerState::Handshaking {
            self.fetcher.peer_gone(peer);
            self.fetch_due = true;
            self.peers_changed = true;
        }
        self.inv_outbox.remove(&peer);
        self.fast.remove(&peer);
        if self.sync.peer() == Some(peer) {
            self.sync.stop();
            self.maybe_sync();
        }
    }

    fn record_drop(&mut self, peer: NodeId, reason: DropReason) {
        self.events
            .push_back(NodeEvent::PeerDropped { peer, reason });
        if self.config.dropped_history > 0 {
            if self.dropped.len() == self.config.dropped_history {
                self.dropped.pop_front();
            }
            self.dropped.push_back(DroppedPeer {
                id: peer,
                reason,
                at: self.now,
            });
        }
    }

    fn misbehaved(&mut self, peer: NodeId, what: Misbehaviour) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.score = p.score.saturating_add(what.penalty());
        let score = p.score;
        self.events
            .push_back(NodeEvent::Misbehaved { peer, what, score });
        if score >= self.config.score_limit {
            self.drop_peer(peer, DropReason::Misbehaved(what));
        }
    }

    fn ready_peers(&self) -> Vec<NodeId> {
        self.peers
            .values()
            .filter(|p| p.is_ready())
            .map(|p| p.id)
            .collect()
    }

    fn peer_timer(&mut self, peer: NodeId, timer: PeerTimer) {
        match timer {
            PeerTimer::Handshake => {
                self.drop_peer(peer, DropReason::Refused(HandshakeError::Timeout));
            }
            PeerTimer::Stale => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.state = PeerState::Stale;
                    self.events.push_back(NodeEvent::PeerState {
                        peer,
                        state: PeerState::Stale,
                    });
                }
            }
            PeerTimer::Dead => self.drop_peer(peer, DropReason::Timeout),
            PeerTimer::Headers => {
                self.sync.stop();
                self.claim_unproven(peer);
                self.misbehaved(peer, Misbehaviour::Withheld);
                self.maybe_sync();
            }
            PeerTimer::Serve => self.serve_owed(peer),
            PeerTimer::Late => self.late_requests(peer),
        }
    }

    /// A `GetData` for `item` asked of `peer` at `asked_at` is past its deadline, and
    /// the item goes to the next source. A peer that had the whole
    /// [`Config::request_timeout_ms`] withheld it; one whose deadline came sooner, from
    /// its round trip, still has until then before that counts against it.
    fn request_expired(&mut self, peer: NodeId, item: InvItem, asked_at: Timestamp) {
        let due = asked_at.saturating_add(self.config.request_timeout_ms);
        if due <= self.now {
            return self.misbehaved(peer, Misbehaviour::Withheld);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.late.push((item, due));
            if p.late.len() == 1 {
                p.timers.set(PeerTimer::Late, due);
            }
        }
    }

    /// Late requests whose time is up: one neither this peer nor another delivered was
    /// withheld.
    fn late_requests(&mut self, peer: NodeId) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let now = self.now;
        let (due, waiting): (Vec<_>, Vec<_>) = p.late.drain(..).partition(|(_, at)| *at <= now);
        p.late = waiting;
        if let Some(next) = p.late.iter().map(|(_, at)| *at).min() {
            p.timers.set(PeerTimer::Late, next);
        }
        let mut withheld = 0;
        for (item, _) in due {
            let p = self.peers.get_mut(&peer).expect("looked up above");
            if p.requested.remove(&item) && !self.holds(&item) {
                withheld += 1;
            }
        }
        for _ in 0..withheld {
            self.misbehaved(peer, Misbehaviour::Withheld);
        }
    }

    /// Whether this node has `item` (a block in its tree, a transaction it took).
    fn holds(&self, item: &InvItem) -> bool {
        match item {
            InvItem::Block(hash) => {
                self.ledger.chain().knows(hash) || self.orphan_pool.contains(hash)
            }
            InvItem::Tx(txid) => {
                self.ledger.mempool().contains(txid) || self.recent_txs.contains(item)
            }
        }
    }

    /// Dials known peers while below the target, and lets random peers go above the
    /// maximum.
    fn topology(&mut self) {
        let linked = self.peers.len() + self.book.dialing();
        if linked < self.config.target_peers {
            let mut candidates = self
                .book
                .candidates(self.now, |id| self.peers.contains_key(id));
            self.rng.shuffle(&mut candidates);
            let wanted = (self.config.target_peers - linked).min(DIALS_PER_ROUND);
            for peer in candidates.into_iter().take(wanted) {
                self.book.dial(peer);
                self.actions.push_back(Action::Connect { peer });
            }
        }
        if std::mem::take(&mut self.peers_changed) {
            // Once a round at most, however many links came and went: peers route
            // signals through us by these lists, so stale ones send dials nowhere.
            for peer in self.ready_peers() {
                self.list_peers_to(peer);
            }
        }
        if self.peers.len() > self.config.max_peers {
            let mut ready = self.ready_peers();
            self.rng.shuffle(&mut ready);
            let excess = self.peers.len() - self.config.max_peers;
            for peer in ready.into_iter().take(excess) {
                self.drop_peer(peer, DropReason::Trimmed);
            }
        }
    }

    // Messages.

    fn send(&mut self, peer: NodeId, message: &Message) {
        self.send_frame(peer, message.kind(), message.encode());
    }

    fn send_frame(&mut self, peer: NodeId, kind: MessageKind, bytes: Vec<u8>) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.bytes_out += bytes.len() as u64;
        }
        self.events.push_back(NodeEvent::MessageOut {
            peer,
            kind,
            bytes: bytes.len(),
        });
        self.actions.push_back(Action::Send { peer, bytes });
    }

    fn on_frame(&mut self, peer: NodeId, bytes: &[u8]) {
        let Some(p) = self.peers.get_mut(&peer) else {
            // A frame that was under way when we dropped the peer.
            return;
        };
        p.bytes_in += bytes.len() as u64;
        let ready = p.is_ready();
        let message = match Message::decode(bytes) {
            Ok(message) => message,
            // A newer or older node is not a liar: refuse it as the handshake would.
            Err(DecodeError::UnsupportedVersion(theirs)) if !ready => {
                let error = HandshakeError::ProtocolVersion {
                    ours: PROTOCOL_VERSION,
                    theirs,
                };
                return self.drop_peer(peer, DropReason::Refused(error));
            }
            Err(error) => return self.misbehaved(peer, Misbehaviour::Undecodable(error)),
        };
        let kind = message.kind();
        self.events.push_back(NodeEvent::MessageIn {
            peer,
            kind,
            bytes: bytes.len(),
        });
        match message {
            Message::Goodbye => self.drop_peer(peer, DropReason::Goodbye),
            Message::Version(version) => self.on_version(peer, version),
            Message::Verack => self.on_verack(peer),
            _ if !ready => self.misbehaved(peer, Misbehaviour::OutOfTurn(kind)),
            Message::Ping { nonce } => self.send(peer, &Message::Pong { nonce }),
            Message::Pong { nonce } => self.on_pong(peer, nonce),
            Message::Inv(items) => self.on_inv(peer, items),
            Message::GetData(items) => self.on_get_data(peer, items),
            Message::NotFound(items) => self.on_not_found(peer, items),
            Message::Block(block) => self.on_block(peer, block, kind, bytes.len()),
            Message::CompactBlock(compact) => self.on_compact_block(peer, compact, bytes.len()),
            Message::GetPushed(key) => self.on_get_pushed(peer, key),
            Message::Tx(tx) => self.on_tx(peer, tx),
            Message::GetHeaders { locator, stop } => self.on_get_headers(peer, locator, stop),
            Message::Headers(headers) => self.on_headers(peer, &headers),
            Message::GetPeers => self.on_get_peers(peer),
            Message::Peers(ids) => self.on_peers(peer, ids),
            Message::Relay { to, from, payload } => self.on_relay(peer, to, from, payload),
            Message::FastRelay(on) => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.wants_pushes = on;
                }
            }
        }
    }

    fn on_version(&mut self, peer: NodeId, version: Version) {
        let genesis = self.ledger.chain().genesis_hash();
        let p = &self.peers[&peer];
        if p.got_version {
            return self.misbehaved(peer, Misbehaviour::OutOfTurn(MessageKind::Version));
        }
        if let Err(error) = version.check(peer, &self.public_key, genesis, &p.binding) {
            return self.drop_peer(peer, DropReason::Refused(error));
        }
        let p = self.peers.get_mut(&peer).expect("checked above");
        p.got_version = true;
        p.best_height = version.best_height;
        p.best_hash = version.best_hash;
        p.roles = version.roles;
        if let Some(payee) = &version.payee {
            let address = payee.address();
            if self.payees.len() < MAX_PAYEES || self.payees.contains_key(&address) {
                self.payees.insert(address, peer);
            }
        }
        let p = self.peers.get_mut(&peer).expect("checked above");
        let done = p.got_verack;
        self.send(peer, &Message::Verack);
        if done {
            self.handshake_done(peer);
        }
    }

    fn on_verack(&mut self, peer: NodeId) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        if !p.got_version {
            return self.drop_peer(peer, DropReason::Refused(HandshakeError::OutOfOrder));
        }
        if p.got_verack {
            return self.misbehaved(peer, Misbehaviour::OutOfTurn(MessageKind::Verack));
        }
        p.got_verack = true;
        self.handshake_done(peer);
    }

    fn handshake_done(&mut self, peer: NodeId) {
        let p = self.peers.get_mut(&peer).expect("called for linked peers");
        p.state = PeerState::Connected;
        p.timers.stop(PeerTimer::Handshake);
        p.liveness = Some(Liveness::new(self.now, self.config.rtt_history));
        p.arm_liveness(&self.config);
        let best_hash = p.best_hash;
        let best_height = p.best_height;
        self.events.push_back(NodeEvent::PeerState {
            peer,
            state: PeerState::Connected,
        });
        self.peers_changed = true;
        self.send(peer, &Message::GetPeers);
        if let Gossip::Hybrid { fast } = self.config.gossip {
            // Until blocks show who tells us first, the first peers linked push to us:
            // a room's first block spreads no slower than its later ones.
            if self.fast.len() < fast {
                self.told_first(peer);
            }
        }
        let waiting: Vec<InvItem> = self
            .ledger
            .mempool()
            .by_priority()
            .into_iter()
            .take(MAX_INV_ITEMS)
            .map(|entry| InvItem::Tx(entry.tx.id()))
            .collect();
        for item in waiting {
            self.announce_to(peer, item);
        }
        if !self.has_header_in_tree(&best_hash)
            && best_height >= self.height()
            && self.sync.peer().is_none()
        {
            self.start_headers(peer);
        }
        self.fetch_due = true;
    }

    fn on_pong(&mut self, peer: NodeId, nonce: u64) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        let Some(liveness) = &mut p.liveness else {
            return;
        };
        if let Pong::Answered { rtt_ms } = liveness.pong(nonce, self.now) {
            p.arm_liveness(&self.config);
            self.events.push_back(NodeEvent::Rtt { peer, rtt_ms });
            if p.state == PeerState::Stale {
                p.state = PeerState::Connected;
                self.events.push_back(NodeEvent::PeerState {
                    peer,
                    state: PeerState::Connected,
                });
            }
        }
    }

    /// Sends `peer` the ids of our other ready peers: where it can relay through us.
    fn list_peers_to(&mut self, peer: NodeId) {
        let ids: Vec<NodeId> = self
            .ready_peers()
            .into_iter()
            .filter(|id| *id != peer)
            .take(MAX_PEERS_LISTED)
            .collect();
        self.send(peer, &Message::Peers(ids));
    }

    fn on_get_peers(&mut self, peer: NodeId) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        if !p.take_get_peers(self.now) {
            // A list costs a hundred times the request: not on demand.
            return self.misbehaved(peer, Misbehaviour::RequestFlood(MessageKind::GetPeers));
        }
        self.list_peers_to(peer);
    }

    fn on_peers(&mut self, peer: NodeId, ids: Vec<NodeId>) {
        let own = self.id;
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        if !p.peers_budget.take(1, self.now) {
            return self.misbehaved(peer, Misbehaviour::PeersFlood);
        }
        // Ids new to the address book spend the peer's budget (Bitcoin Core's
        // `m_addr_token_bucket`): a list of made-up ids cannot push out the real ones.
        for id in &ids {
            if !self.book.knows(id) && p.take_new_id(self.now) {
                self.book.add(*id, self.now, &mut self.rng);
            }
        }
        p.neighbours = ids.into_iter().filter(|id| *id != own).collect();
    }

    fn on_relay(&mut self, peer: NodeId, to: NodeId, from: NodeId, payload: Vec<u8>) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        if !p.relay_budget.take(1, self.now) {
            return self.misbehaved(peer, Misbehaviour::RelayFlood);
        }
        let Some(signed) = SignedSignal::open(&payload, &from, &to) else {
            // Honest relays check the signature before passing a signal on.
            return self.misbehaved(peer, Misbehaviour::BadRelay);
        };
        if to == self.id {
            // Clocks of tabs on different laptops disagree by seconds, whatever the room's
            // pace (its future-time limit grows with a slow block time).
            let skew = RELAY_CLOCK_SKEW_MS;
            let stale = signed.expires.saturating_add(skew) < self.now;
            let far = signed.expires > self.now.saturating_add(RELAY_TTL_MS + skew);
            if !stale && !far {
                self.actions.push_back(Action::Signal {
                    from,
                    payload: signed.signal,
                });
            }
        } else if from != peer {
            // Only the author may ask for a hop: no spoofed senders, no longer routes.
            self.misbehaved(peer, Misbehaviour::BadRelay);
        } else if self.peers.get(&to).is_some_and(Peer::is_ready) {
            self.send(to, &Message::Relay { to, from, payload });
        }
        // Otherwise the route is gone; the dialling side times out and tries elsewhere.
    }

    // Gossip.

    fn on_inv(&mut self, peer: NodeId, items: Vec<InvItem>) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        if !p.inv_budget.take(items.len(), self.now) {
            return self.misbehaved(peer, Misbehaviour::InvFlood);
        }
        let chain = self.ledger.chain();
        let next_height = chain.height() + 1;
        let mut first = false;
        let mut had_it = Vec::new();
        for item in items {
            p.known.insert(item);
            match item {
                InvItem::Block(hash) => {
                    self.trails
                        .announced(hash, peer, self.now, chain.knows(&hash));
                    if let Some(height) = chain.height_of(&hash) {
                        p.holds(hash, height);
                        had_it.push(hash);
                    } else {
                        p.announced = Some(hash);
                        if !chain.knows(&hash) && !self.orphan_pool.contains(&hash) {
                            first |= !self.fetcher.is_wanted(&item);
                            self.fetch_due |= self.fetcher.want(item, peer, next_height);
                        }
                    }
                }
                InvItem::Tx(txid) => {
                    if !self.ledger.mempool().contains(&txid) && !self.recent_txs.contains(&item) {
                        self.fetch_due |= self.fetcher.want(item, peer, u64::MAX);
                    }
                }
            }
        }
        if first {
            self.told_first(peer);
        }
        if let Gossip::Infect {
            saturation, limit, ..
        } = self.config.gossip
        {
            for hash in had_it {
                if let Some(next) = self.infections.had_it(&hash, peer, saturation, limit) {
                    self.push_block(next, hash);
                }
            }
        }
    }

    /// `peer` told us of a block nobody had told us of: under [`Gossip::Hybrid`] it
    /// becomes one of the fast peers we ask to push us new blocks.
    fn told_first(&mut self, peer: NodeId) {
        let Gossip::Hybrid { fast } = self.config.gossip else {
            return;
        };
        let change = self.fast.first_from(peer, fast);
        if let Some(added) = change.added {
            self.send(added, &Message::FastRelay(true));
        }
        if let Some(removed) = change.removed {
            self.send(removed, &Message::FastRelay(false));
            if let Some(p) = self.peers.get_mut(&removed) {
                p.pushes_until = self.now.saturating_add(PUSH_GRACE_MS);
            }
        }
    }

    /// Sends `peer` the block `hash` unasked, as a strategy that pushes does, in compact
    /// form: the peer most likely holds its parent and payments.
    fn push_block(&mut self, peer: NodeId, hash: Hash) {
        let Some(block) = self.held_block(&hash) else {
            return;
        };
        let height = self.ledger.chain().height_of(&hash);
        let key = PushKey::of(&block.header);
        // The tamper lab's block goes whole: what was altered may be the merkle root,
        // which the compact form leaves out.
        let compact = (self.ledger.chain().block(&hash))
            .and_then(|block| CompactBlock::of(block, |txid| self.is_fresh(txid)));
        let (kind, bytes) = match compact {
            Some(compact) => (
                MessageKind::CompactBlock,
                Message::CompactBlock(compact).encode(),
            ),
            None => (MessageKind::Block, Message::block_frame(block)),
        };
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.known.insert(InvItem::Block(hash));
        // It will hold the block: its tip, if higher.
        if let Some(height) = height {
            p.holds(hash, height);
        }
        p.pushed(key, hash);
        self.trails.pushed(hash, peer, self.now, bytes.len());
        self.send_frame(peer, kind, bytes);
    }

    /// `peer` could not rebuild a block we pushed it: it gets the whole block, as if
    /// it had asked for it by hash. A key we did not push it lately asks for nothing.
    fn on_get_pushed(&mut self, peer: NodeId, key: PushKey) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        if let Some(hash) = p.pushed_hash(&key) {
            self.on_get_data(peer, vec![InvItem::Block(hash)]);
        }
    }

    /// A block the chain stores, or the one we offered peers while the chain held it
    /// back.
    fn held_block(&self, hash: &Hash) -> Option<&Block> {
        let offered = self.offered.as_ref().filter(|block| block.hash() == *hash);
        self.ledger.chain().block(hash).or(offered)
    }

    /// The frame that delivers `item`, if this node holds it.
    fn frame_for(&self, item: InvItem) -> Option<(MessageKind, Vec<u8>)> {
        match item {
            InvItem::Block(hash) => self
                .held_block(&hash)
                .map(|block| (MessageKind::Block, Message::block_frame(block))),
            InvItem::Tx(txid) => self
                .ledger
                .mempool()
                .get(&txid)
                .map(|entry| (MessageKind::Tx, Message::tx_frame(&entry.tx))),
        }
    }

    /// Queues the items for `peer`, within its budget of bytes owed (Bitcoin Core's
    /// `ProcessGetData` pauses while the peer's send buffer is full). An item named
    /// twice, or again after it was sent, is a repeat: the reply would cost us its
    /// size again for a few bytes of the peer's.
    fn on_get_data(&mut self, peer: NodeId, items: Vec<InvItem>) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        let mut seen = std::collections::HashSet::new();
        let mut repeated = false;
        let mut fresh = Vec::new();
        for item in items {
            if !seen.insert(item) {
                repeated = true;
                continue;
            }
            repeated |= p.served.contains(&item) || p.owed.contains(&Owed::Item(item));
            fresh.push(item);
        }
        if p.owed.len() + fresh.len() > MAX_OWED {
            return self.misbehaved(peer, Misbehaviour::RequestFlood(MessageKind::GetData));
        }
        p.owed.extend(fresh.into_iter().map(Owed::Item));
        if repeated {
            self.misbehaved(peer, Misbehaviour::RepeatedRequest);
        }
        self.serve_owed(peer);
    }

    /// One `GetHeaders` waits at a time: a newer one replaces it (an honest peer asks
    /// again after its timeout). The same locator answered before, with our tip
    /// unchanged since, asks for the very same reply: a repeat.
    fn on_get_headers(&mut self, peer: NodeId, locator: Vec<Hash>, stop: Option<Hash>) {
        let tip = self.tip();
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        let key = (locator, stop, tip);
        let repeated = p.last_headers.as_ref() == Some(&key);
        let (locator, stop, _) = key;
        p.owed.retain(|owed| !matches!(owed, Owed::Headers { .. }));
        p.owed.push_back(Owed::Headers { locator, stop });
        if repeated {
            self.misbehaved(peer, Misbehaviour::RepeatedRequest);
        }
        self.serve_owed(peer);
    }

    /// Answers `peer`'s waiting requests while its reply budget lasts; the rest wait
    /// for [`PeerTimer::Serve`].
    fn serve_owed(&mut self, peer: NodeId) {
        let mut missing = Vec::new();
        loop {
            let Some(p) = self.peers.get_mut(&peer) else {
                return;
            };
            if p.owed.is_empty() {
                p.timers.stop(PeerTimer::Serve);
                break;
            }
            if !p.serve_budget.ready(self.now) {
                let at = p.serve_budget.ready_at();
                p.timers.set(PeerTimer::Serve, at);
                break;
            }
            let owed = p.owed.pop_front().expect("not empty");
            let (kind, bytes) = match owed {
                Owed::Item(item) => match self.frame_for(item) {
                    Some(frame) => {
                        let height = match item {
                            InvItem::Block(hash) => self.ledger.chain().height_of(&hash),
                            InvItem::Tx(_) => None,
                        };
                        let p = self.peers.get_mut(&peer).expect("looked up above");
                        p.known.insert(item);
                        p.served.insert(item);
                        if let InvItem::Block(hash) = item {
                            // It will hold the block: its tip, if higher.
                            if let Some(height) = height {
                                p.holds(hash, height);
                            }
                            self.trails.served(hash, peer, self.now, frame.1.len());
                        }
                        frame
                    }
                    None => {
                        missing.push(item);
                        continue;
                    }
                },
                Owed::Headers { locator, stop } => {
                    let headers = self
                        .ledger
                        .chain()
                        .headers_after(&locator, stop, MAX_HEADERS);
                    // Only an answered request makes the same one again a repeat: one we
                    // kept waiting may honestly be asked again.
                    let tip = self.tip();
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.last_headers = Some((locator, stop, tip));
                    }
                    (MessageKind::Headers, Message::Headers(headers).encode())
                }
            };
            if let Some(p) = self.peers.get_mut(&peer) {
                p.serve_budget.spend(bytes.len());
            }
            self.send_frame(peer, kind, bytes);
        }
        if !missing.is_empty() {
            self.send(peer, &Message::NotFound(missing));
        }
    }

    fn on_not_found(&mut self, peer: NodeId, items: Vec<InvItem>) {
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        let mut lied = false;
        let mut txs = 0;
        for item in items {
            if p.requested.remove(&item) {
                // A peer may honestly have lost a transaction (confirmed or evicted)
                // since announcing it, but never a block: blocks are kept. A block we
                // asked for and it knows of is one it announced.
                lied |= matches!(item, InvItem::Block(_)) && p.known.contains(&item);
                txs += usize::from(matches!(item, InvItem::Tx(_)));
                self.fetcher.not_found(&item, peer);
                self.fetch_due = true;
            }
        }
        // We ask only announcers: past a few, an announcement it cannot back costs.
        let broke = txs > 0 && !p.promises_budget.take(txs, self.now);
        if lied {
            self.misbehaved(peer, Misbehaviour::Withheld);
        }
        if broke {
            self.misbehaved(peer, Misbehaviour::BrokenPromises);
        }
    }

    /// Marks `item` as delivered by `peer`; false if the peer was dropped for sending
    /// it unasked.
    fn delivered(&mut self, peer: NodeId, item: InvItem, kind: MessageKind) -> bool {
        let wanted = self.fetcher.is_wanted(&item);
        let new = !self.holds(&item) && !wanted;
        let newest = match item {
            InvItem::Block(hash) => {
                wanted || self.ledger.chain().height_of(&hash) >= Some(self.height())
            }
            InvItem::Tx(_) => false,
        };
        let fast = self.fast.contains(&peer);
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        let requested = p.requested.remove(&item);
        p.known.insert(item);
        // A block nobody asked for is welcome from a peer we asked to push, and when
        // nobody told us of it yet (a miner pushes its own block to every peer); a copy
        // of one we had, or were fetching, is the bytes that asking first saves. Except
        // once per newest block: a miner's push to every peer may cross the block's
        // arrival by a shorter way, and an honest miner pushes many blocks in a lesson.
        let pushed = match item {
            InvItem::Block(hash) => {
                self.config.gossip.takes_pushed_blocks()
                    || fast
                    || self.now < p.pushes_until
                    || new
                    || (newest && p.first_crossing(hash))
            }
            InvItem::Tx(_) => self.config.gossip == Gossip::Flood,
        };
        if !requested {
            if let (InvItem::Block(hash), false) = (item, new) {
                // A pushed copy is a duplicate announcement.
                self.trails.announced(hash, peer, self.now, true);
            }
            if !pushed {
                self.misbehaved(peer, Misbehaviour::UnrequestedData(kind));
            } else if new {
                self.told_first(peer);
            }
        }
        self.fetcher.received(&item);
        self.fetch_due = true;
        self.peers.contains_key(&peer)
    }

    /// A pushed block, rebuilt from our chain and mempool, is then taken as a whole one
    /// would be; one we cannot rebuild we ask the pusher for, once, whole. That is no
    /// fault of the pusher's: our mempool may lack a payment.
    fn on_compact_block(&mut self, peer: NodeId, compact: CompactBlock, size: usize) {
        match compact.rebuild(self.ledger.chain(), self.ledger.mempool()) {
            Ok(block) => self.on_block(peer, block, MessageKind::CompactBlock, size),
            Err(_) => {
                let key = compact.key();
                let p = self.peers.get_mut(&peer).expect("on_frame checked");
                if p.ask_whole(key) {
                    self.send(peer, &Message::GetPushed(key));
                }
            }
        }
    }

    /// `kind`: how the block came (whole or compact). `size`: the frame's bytes, what a
    /// held block costs the peer's side-branch budget.
    fn on_block(&mut self, peer: NodeId, block: Block, kind: MessageKind, size: usize) {
        let item = InvItem::Block(block.hash());
        let had_it = self.holds(&item);
        let p = self.peers.get_mut(&peer).expect("on_frame checked");
        if p.whole_arrived(&PushKey::of(&block.header)) {
            p.requested.insert(item);
        }
        if !self.delivered(peer, item, kind) {
            return;
        }
        if !had_it {
            // A payment first seen in a block is as new to our peers as to us.
            for tx in block.transactions.iter().skip(1) {
                let txid = tx.id();
                if !self.ledger.mempool().contains(&txid) {
                    self.note_fresh(txid);
                }
            }
        }
        if had_it && matches!(self.config.gossip, Gossip::Infect { .. }) {
            // The answer the spreading peer counts: "I had it already".
            self.send(peer, &Message::Inv(vec![item]));
        }
        self.trails.received(block.hash(), size);
        // A parent the chain holds in any form (stored, held back, waiting itself) is
        // the chain's to connect; only a parent nobody here has makes an orphan.
        let chain = self.ledger.chain();
        if !chain.knows(&block.header.prev) && !chain.knows(&block.hash()) {
            return self.keep_orphan(peer, block);
        }
        let hash = block.hash();
        match self.accept_block(block, Origin::Peer(peer)) {
            // A clock ahead of ours is not a lie; the block is simply not taken yet.
            Ok(()) | Err(BlockError::TimeTooNew) => {}
            Err(error) => return self.misbehaved(peer, Misbehaviour::InvalidBlock(error)),
        }
        // It holds what it sent: its tip, if higher (a pushed block had no `Inv`).
        if let (Some(height), Some(p)) = (
            self.ledger.chain().height_of(&hash),
            self.peers.get_mut(&peer),
        ) {
            p.holds(hash, height);
        }
        // Held: valid, but on a branch too light to store. The chain's room for those is
        // shared, so each peer pays for what it puts there.
        if self.ledger.chain().is_held(&hash) {
            let now = self.now;
            let paid = self
                .peers
                .get_mut(&peer)
                .is_some_and(|p| p.side_budget.take(size.div_ceil(1024), now));
            if !paid {
                self.misbehaved(peer, Misbehaviour::SideBranchFlood);
            }
        }
    }

    fn on_tx(&mut self, peer: NodeId, tx: Transaction) {
        if !self.delivered(peer, InvItem::Tx(tx.id()), MessageKind::Tx) {
            return;
        }
        if let Err(error) = self.add_tx(tx, Some(peer)) {
            // Missing, already spent or not yet mature coins can be a race with a block
            // (or a branch of another height); the rest an honest node never relays.
            let blameless = matches!(
                error,
                MempoolError::Duplicate
                    | MempoolError::Full
                    | MempoolError::Invalid(TxError::MissingInput { .. })
                    | MempoolError::Invalid(TxError::DoubleSpend { .. })
                    | MempoolError::Invalid(TxError::ImmatureCoinbase { .. })
            );
            if !blameless {
                self.misbehaved(peer, Misbehaviour::InvalidTx(error));
            }
        }
    }

    /// Tells every ready peer not known to have `item`, except `except`, by the
    /// strategy: an `Inv`, or the block or transaction itself where it pushes.
    fn announce(&mut self, item: InvItem, except: Option<NodeId>) {
        let mut ids: Vec<NodeId> = self
            .peers
            .values()
            .filter(|p| p.is_ready() && Some(p.id) != except && !p.known.contains(&item))
            .map(|p| p.id)
            .collect();
        let InvItem::Block(hash) = item else {
            for peer in ids {
                self.announce_to(peer, item);
            }
            return;
        };
        match self.config.gossip {
            Gossip::Pull | Gossip::Flood | Gossip::Hybrid { .. } => {
                for peer in ids {
                    self.announce_to(peer, item);
                }
            }
            Gossip::PushK { k } => {
                self.rng.shuffle(&mut ids);
                for peer in ids.into_iter().take(k) {
                    self.push_block(peer, hash);
                }
            }
            Gossip::Infect { k, .. } => {
                self.rng.shuffle(&mut ids);
                for peer in self.infections.start(hash, ids, k) {
                    self.push_block(peer, hash);
                }
            }
        }
    }

    fn announce_to(&mut self, peer: NodeId, item: InvItem) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let push = match (self.config.gossip, item) {
            (Gossip::Flood, _) => true,
            (Gossip::Hybrid { .. }, InvItem::Block(_)) => p.wants_pushes,
            _ => false,
        };
        if !p.known.insert(item) {
            return;
        }
        match item {
            InvItem::Block(hash) if push => self.push_block(peer, hash),
            InvItem::Tx(_) if push => {
                if let Some((kind, bytes)) = self.frame_for(item) {
                    self.send_frame(peer, kind, bytes);
                }
            }
            _ => {
                if let InvItem::Block(hash) = item {
                    self.trails.told(hash, peer, self.now);
                }
                self.inv_outbox.entry(peer).or_default().push(item);
            }
        }
    }

    // Blocks and transactions.

    fn accept_block(&mut self, block: Block, origin: Origin) -> Result<(), BlockError> {
        let hash = block.hash();
        // A block off our tip may switch branches; see `keep_dropped`.
        let waiting: Vec<Transaction> = if block.header.prev != self.tip() {
            let mempool = self.ledger.mempool().by_priority();
            mempool.into_iter().map(|entry| entry.tx.clone()).collect()
        } else {
            Vec::new()
        };
        let accepted = self.ledger.submit_block(block, self.now);
        self.sync.block_done(&hash);
        match accepted? {
            // A held block is not in the block tree: nothing to store or relay yet.
            Accepted::Duplicate | Accepted::Held => {}
            Accepted::Orphan { missing } => {
                self.orphans.insert(hash, origin);
                if let Some(peer) = origin.peer() {
                    // Fetch the missing parent from whoever sent the child, and, since
                    // more may be missing, ask that peer for headers too.
                    let priority = self.height() + 1;
                    self.fetch_due |= self.fetcher.want(InvItem::Block(missing), peer, priority);
                    if self.sync.peer().is_none() {
                        self.start_headers(peer);
                    }
                }
            }
            Accepted::Stored {
                tip_change,
                released,
                pruned,
            } => {
                if let Some(change) = tip_change.as_ref().filter(|c| c.is_reorg()) {
                    self.keep_dropped(waiting, change);
                }
                // Held ancestors this block brought within reach are stored before it;
                // released orphans are reported by `block_stored`.
                for h in &released {
                    if !self.orphans.contains_key(h) {
                        self.sync.block_done(h);
                        self.report_block(*h, origin);
                    }
                }
                self.block_stored(hash, origin, tip_change);
                self.actions
                    .extend(pruned.into_iter().map(Action::ForgetBlock));
                // Peers' orphans waiting for any block that just joined the tree.
                for h in released.into_iter().chain([hash]) {
                    self.release_orphans(h);
                }
            }
        }
        Ok(())
    }

    /// A block from `peer` whose parent we lack: checked on its own, held to the
    /// lowest difficulty any branch we could be shown would demand at its height, and
    /// kept within the peer's share of the pool while its ancestors are fetched.
    fn keep_orphan(&mut self, peer: NodeId, block: Block) {
        let hash = block.hash();
        if let Err(error) = block.check() {
            return self.misbehaved(peer, Misbehaviour::InvalidBlock(error));
        }
        let height = block.coinbase().map_or(0, |tx| tx.height);
        if !self.sync.has(&hash) {
            // Header sync checked the headers it asked blocks for; anything else is taken
            // on the sender's word only near our tip.
            match self.lowest_difficulty(height) {
                None => {
                    if self.sync.peer().is_none() {
                        self.start_headers(peer);
                    }
                    return;
                }
                Some(floor) if block.header.difficulty < floor => {
                    return self.misbehaved(peer, Misbehaviour::LowWorkOrphan);
                }
                Some(_) => {}
            }
        }
        let bytes = Message::block_frame(&block).len();
        let missing = self.orphan_pool.missing_ancestor(block.header.prev);
        self.orphan_pool.insert(
            hash,
            block,
            peer,
            bytes,
            self.config.orphan_bytes_per_peer,
            self.config.orphan_bytes,
        );
        // Fetch the missing parent from whoever sent the child, and, since more may be
        // missing, ask that peer for headers too.
        let priority = self.height() + 1;
        self.fetch_due |= self.fetcher.want(InvItem::Block(missing), peer, priority);
        if self.sync.peer().is_none() {
            self.start_headers(peer);
        }
    }

    /// The lowest difficulty a block at `height` could be asked for on any branch that
    /// forks from our active chain within [`ORPHAN_FORK_DEPTH`] of the tip, however
    /// slowly its blocks came: the same idea as Bitcoin Core's
    /// `PermittedDifficultyTransition`, worked out with the chain's own retarget rule.
    /// `None` if the height is out of reach.
    fn lowest_difficulty(&self, height: u64) -> Option<u64> {
        let chain = self.ledger.chain();
        let params = chain.params();
        let tip = chain.height();
        if height == 0 || height > tip.saturating_add(ORPHAN_REACH) {
            return None;
        }
        let first = tip.saturating_sub(ORPHAN_FORK_DEPTH);
        let last = tip.min(height - 1);
        if first > last {
            return None;
        }
        // Longer than any solve time the rule counts, so each step is the largest drop.
        let pause = params.target_block_ms.saturating_mul(1_000);
        let header_at = |h: u64| Some(chain.block(&chain.hash_at(h)?)?.header);
        (first..=last)
            .filter_map(|fork| {
                let start = fork
                    .saturating_sub(params.retarget_window as u64 + 1)
                    .max(1);
                let mut recent: Vec<(tabchain_core::Timestamp, u64)> = (start..=fork)
                    .filter_map(header_at)
                    .map(|h| (h.time, h.difficulty))
                    .collect();
                let mut parent = header_at(fork)?.difficulty;
                let mut time = header_at(fork)?.time;
                for _ in fork + 1..height {
                    parent = tabchain_core::difficulty::next_difficulty(params, parent, &recent);
                    time = time.saturating_add(pause);
                    recent.push((time, parent));
                }
                Some(tabchain_core::difficulty::next_difficulty(
                    params, parent, &recent,
                ))
            })
            .min()
    }

    /// Hands the chain the peers' orphans that `parent` (just stored) was missing.
    fn release_orphans(&mut self, parent: Hash) {
        for (block, from) in self.orphan_pool.take_children(&parent) {
            if let Err(error) = self.accept_block(block, Origin::Peer(from)) {
                if error != BlockError::TimeTooNew {
                    self.misbehaved(from, Misbehaviour::InvalidBlock(error));
                }
            }
        }
    }

    fn block_stored(&mut self, hash: Hash, origin: Origin, tip_change: Option<TipChange>) {
        self.report_block(hash, origin);
        // Orphans this block released joined the tree too.
        let chain = self.ledger.chain();
        let mut released: Vec<(u64, Hash, Origin)> = self
            .orphans
            .iter()
            .filter_map(|(h, o)| Some((chain.height_of(h)?, *h, *o)))
            .collect();
        // Lowest first, and in an order that does not depend on the map's hasher: the
        // driver stores them in this order and reloads them so.
        released.sort_unstable_by_key(|(height, h, _)| (*height, *h));
        for (_, h, o) in released {
            self.orphans.remove(&h);
            self.sync.block_done(&h);
            self.report_block(h, o);
        }
        if self.orphans.len() > 2 * self.ledger.chain().params().max_orphans {
            // The chain's pool evicted some; forget those.
            let chain = self.ledger.chain();
            self.orphans.retain(|h, _| chain.knows(h));
        }
        match tip_change {
            Some(change) => self.tip_moved(&change, origin),
            None if self.is_rival_of_tip(&hash)
                && matches!(origin, Origin::Peer(_) | Origin::Mined) =>
            {
                // A tie: the first seen stays the tip, and the rival is passed on too,
                // so that the room knows both branches when the next block settles it
                // rather than fetching the winner only then.
                self.announce(InvItem::Block(hash), origin.peer());
            }
            None => {}
        }
    }

    /// Whether `hash` is another child of the tip's parent (a rival with the same work,
    /// since its parent sets its difficulty) that is valid as far as this node can
    /// tell. A side block's payments are checked against the coins only if its branch
    /// wins, and passing on one that fails then would get this node blamed: so only a
    /// rival whose sole transaction is a coinbase of its height paying at most the
    /// reward (no coins to check; what most classroom blocks are) is passed on.
    fn is_rival_of_tip(&self, hash: &Hash) -> bool {
        let chain = self.ledger.chain();
        let Some(block) = chain.block(hash) else {
            return false;
        };
        let coinbase_only = match block.transactions.as_slice() {
            [coinbase] => {
                coinbase.height == chain.height()
                    && coinbase
                        .output_value()
                        .is_ok_and(|paid| paid <= chain.params().block_reward)
            }
            _ => false,
        };
        *hash != chain.tip() && block.header.prev == chain.tip_header().prev && coinbase_only
    }

    /// Tells the UI and peers of a new tip, returns the payments of a lost branch to
    /// them, and moves mining and sync on.
    fn tip_moved(&mut self, change: &TipChange, origin: Origin) {
        let tip = self.tip();
        self.events.push_back(NodeEvent::NewTip {
            hash: tip,
            height: self.height(),
        });
        if change.is_reorg() {
            self.events.push_back(NodeEvent::Reorg {
                fork_height: change.fork_height,
                disconnected: change.disconnected.clone(),
                connected: change.connected.clone(),
            });
        }
        if origin != Origin::Storage {
            let connected = &change.connected;
            let skip = if connected.len() > ANNOUNCE_MAX_BLOCKS {
                connected.len() - 1
            } else {
                0
            };
            for h in &connected[skip..] {
                if origin == Origin::Mined && matches!(self.config.gossip, Gossip::Hybrid { .. }) {
                    // Nobody else has a block we just found: it is new to every peer, and
                    // the first hop costs the room one block per link of ours.
                    let ready: Vec<NodeId> = self.ready_peers();
                    for peer in ready {
                        self.push_block(peer, *h);
                    }
                } else {
                    self.announce(InvItem::Block(*h), origin.peer());
                }
            }
        }
        if change.is_reorg() {
            // Payments of the abandoned branch are back in the mempool; peers that only
            // saw them inside blocks need to hear of them as transactions.
            let returned: Vec<TxId> = change
                .disconnected
                .iter()
                .filter_map(|h| self.ledger.chain().block(h))
                .flat_map(|b| b.transactions.iter().skip(1).map(Transaction::id))
                .filter(|txid| self.ledger.mempool().contains(txid))
                .collect();
            for txid in &returned {
                self.announce(InvItem::Tx(*txid), None);
            }
            self.reorgs.push(Reorg {
                at: self.now,
                fork_height: change.fork_height,
                disconnected: change.disconnected.clone(),
                connected: change.connected.clone(),
                returned,
            });
        }
        self.template_due = true;
        self.retry_orphan_txs();
        self.release_sync_window();
        self.report_sync();
    }

    fn report_block(&mut self, hash: Hash, origin: Origin) {
        let chain = self.ledger.chain();
        let (Some(height), Some(block)) = (chain.height_of(&hash), chain.block(&hash)) else {
            return;
        };
        if origin != Origin::Storage {
            self.actions.push_back(Action::StoreBlock(block.clone()));
            self.trails.arrived(hash, origin.peer(), self.now);
        }
        for p in self.peers.values_mut() {
            if p.announced == Some(hash) {
                p.announced = None;
                p.holds(hash, height);
            } else if origin.peer() == Some(p.id) {
                p.holds(hash, height);
            }
        }
        self.events.push_back(NodeEvent::BlockAccepted {
            hash,
            height,
            from: origin.peer(),
        });
    }

    fn add_tx(&mut self, tx: Transaction, from: Option<NodeId>) -> Result<TxId, MempoolError> {
        let item = InvItem::Tx(tx.id());
        let waiting = from.map(|_| tx.clone());
        match self.ledger.submit_tx(tx) {
            Ok(txid) => {
                self.recent_txs.insert(item);
                self.note_fresh(txid);
                self.announce(item, from);
                self.template_due = true;
                Ok(txid)
            }
            Err(error) => {
                match (error, waiting) {
                    (
                        MempoolError::Invalid(
                            TxError::MissingInput { .. } | TxError::ImmatureCoinbase { .. },
                        ),
                        Some(tx),
                    ) => {
                        // Its coin may be in a block still on its way, or mature in
                        // the blocks still on their way.
                        self.keep_orphan_tx(tx);
                    }
                    (MempoolError::Full | MempoolError::Duplicate, _) => {}
                    _ => {
                        self.recent_txs.insert(item);
                    }
                }
                Err(error)
            }
        }
    }

    /// Whether `txid` is a payment first seen here within [`FRESH_TX_MS`].
    fn is_fresh(&self, txid: &TxId) -> bool {
        (self.fresh_txs.iter().rev())
            .take_while(|(at, _)| at.saturating_add(FRESH_TX_MS) > self.now)
            .any(|(_, fresh)| fresh == txid)
    }

    /// `txid` is a payment first seen here now.
    fn note_fresh(&mut self, txid: TxId) {
        while let Some(&(at, _)) = self.fresh_txs.front() {
            if at.saturating_add(FRESH_TX_MS) > self.now && self.fresh_txs.len() < RECENT_TXS {
                break;
            }
            self.fresh_txs.pop_front();
        }
        self.fresh_txs.push_back((self.now, txid));
    }

    /// A branch switch drops the payments (waiting, or in the abandoned blocks) whose
    /// coins the new branch lacks. They are kept aside, to come back if the coins do
    /// (the chain may switch back, or another block may bring them): peers will not
    /// announce them to us again.
    fn keep_dropped(&mut self, waiting: Vec<Transaction>, change: &TipChange) {
        let chain = self.ledger.chain();
        let abandoned: Vec<Transaction> = change
            .disconnected
            .iter()
            .filter_map(|hash| chain.block(hash))
            .flat_map(|block| block.transactions.iter().skip(1).cloned())
            .collect();
        let dropped: Vec<Transaction> = waiting
            .into_iter()
            .chain(abandoned)
            .filter(|tx| {
                let txid = tx.id();
                // Unspent outputs of its own mean the new branch confirmed it.
                let confirmed = chain.utxo().get(&OutPoint { txid, index: 0 }).is_some();
                !confirmed && !self.ledger.mempool().contains(&txid)
            })
            .collect();
        for tx in dropped {
            self.keep_orphan_tx(tx);
        }
    }

    fn keep_orphan_tx(&mut self, tx: Transaction) {
        if self.orphan_txs.len() == ORPHAN_TXS {
            self.orphan_txs.pop_front();
        }
        self.orphan_txs.push_back(tx);
    }

    fn retry_orphan_txs(&mut self) {
        for tx in std::mem::take(&mut self.orphan_txs) {
            let item = InvItem::Tx(tx.id());
            match self.ledger.submit_tx(tx.clone()) {
                Ok(_) => {
                    self.recent_txs.insert(item);
                    self.announce(item, None);
                }
                Err(MempoolError::Invalid(
                    TxError::MissingInput { .. } | TxError::ImmatureCoinbase { .. },
                )) => {
                    self.orphan_txs.push_back(tx);
                }
                Err(_) => {}
            }
        }
    }

    // Sync.

    /// Whether `hash` is in our block tree, or will be once sync fetches it. An orphan
    /// does not count: a peer whose tip we hold only as an orphan (a block lost from
    /// storage below it) still has headers we lack.
    fn has_header_in_tree(&self, hash: &Hash) -> bool {
        self.ledger.chain().height_of(hash).is_some() || self.sync.has(hash)
    }

    fn start_headers(&mut self, peer: NodeId) {
        let locator = self.ledger.chain().locator();
        self.request_headers(peer, locator);
    }

    fn request_headers(&mut self, peer: NodeId, mut locator: Vec<Hash>) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.timers.set(
            PeerTimer::Headers,
            self.now.saturating_add(self.config.request_timeout_ms),
        );
        self.sync.start(peer);
        locator.truncate(MAX_LOCATOR);
        self.send(
            peer,
            &Message::GetHeaders {
                locator,
                stop: None,
            },
        );
    }

    /// `peer` finished showing its chain at `shown` height: if it claimed more (a height,
    /// a best block we still do not have), it is held to what it showed, so the next
    /// sync goes to someone else, and the empty promise costs it (Bitcoin Core rotates
    /// a headers-sync peer that does not deliver, `m_headers_sync_timeout`).
    fn check_promise(&mut self, peer: NodeId, shown: u64) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let (claimed_hash, claimed) = (p.best_hash, p.best_height);
        if claimed > shown && !self.has_header_in_tree(&claimed_hash) {
            self.claim_unproven(peer);
            self.misbehaved(peer, Misbehaviour::EmptyPromise);
        }
    }

    /// Forgets what `peer` claimed beyond what it showed: its best is our tip's height.
    fn claim_unproven(&mut self, peer: NodeId) {
        let (height, tip) = (self.height(), self.tip());
        if let Some(p) = self.peers.get_mut(&peer) {
            p.best_height = p.best_height.min(height);
            p.best_hash = tip;
        }
    }

    /// Starts header sync with the peer furthest ahead whose best block we do not know.
    fn maybe_sync(&mut self) {
        if self.sync.peer().is_some() {
            return;
        }
        let height = self.height();
        let best = self
            .peers
            .values()
            .filter(|p| {
                p.is_ready() && p.best_height > height && !self.has_header_in_tree(&p.best_hash)
            })
            .max_by_key(|p| p.best_height)
            .map(|p| p.id);
        if let Some(peer) = best {
            self.start_headers(peer);
        }
    }

    fn on_headers(&mut self, peer: NodeId, headers: &[Header]) {
        if self.sync.peer() != Some(peer) {
            return self.misbehaved(peer, Misbehaviour::UnrequestedData(MessageKind::Headers));
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.timers.stop(PeerTimer::Headers);
        }
        match self
            .sync
            .add_headers(headers, self.ledger.chain(), self.now)
        {
            Err(_) => {
                self.sync.stop();
                self.misbehaved(peer, Misbehaviour::InvalidHeaders);
                self.maybe_sync();
                return;
            }
            Ok(Some((last, height))) => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.best_height = p.best_height.max(height);
                }
                if headers.len() == MAX_HEADERS && self.sync.has_room() {
                    let mut locator = vec![last];
                    locator.extend(self.ledger.chain().locator());
                    self.request_headers(peer, locator);
                } else {
                    self.sync.stop();
                    self.check_promise(peer, height);
                }
            }
            Ok(None) => {
                self.sync.stop();
                let height = self.height();
                self.check_promise(peer, height);
            }
        }
        self.maybe_sync();
        self.release_sync_window();
        self.report_sync();
    }

    /// Hands the fetcher the pending blocks within the download window, each to be
    /// asked of any peer whose chain reaches that high.
    fn release_sync_window(&mut self) {
        let window = self
            .sync
            .in_window(self.height(), self.config.download_window);
        for (height, hash) in window {
            if self.orphan_pool.contains(&hash) {
                continue;
            }
            if self.ledger.chain().knows(&hash) {
                self.sync.block_done(&hash);
                continue;
            }
            let item = InvItem::Block(hash);
            for p in self.peers.values() {
                if p.is_ready() && p.best_height >= height {
                    self.fetch_due |= self.fetcher.want(item, p.id, height);
                }
            }
        }
    }

    fn report_sync(&mut self) {
        let height = self.height();
        match self.sync.target() {
            Some(target) if target > height => {
                self.syncing = true;
                self.events
                    .push_back(NodeEvent::SyncProgress { height, target });
            }
            _ if self.syncing => {
                self.syncing = false;
                self.events.push_back(NodeEvent::SyncProgress {
                    height,
                    target: height,
                });
            }
            _ => {}
        }
    }

    // End of every call.

    /// Sends what the call gathered: requests, announcements, a new template, the
    /// mempool's new size; and sets the request timer.
    fn finish(&mut self) {
        // Most inputs set `fetch_due` without queueing a want: then there is nothing to
        // assign, and the table of every peer's free slots is not worth building.
        if std::mem::take(&mut self.fetch_due) && self.fetcher.has_queued() {
            let mut free: BTreeMap<NodeId, usize> = self
                .peers
                .values()
                .filter(|p| p.is_ready())
                .map(|p| (p.id, p.free_slots(&self.config)))
                .collect();
            let max_ms = self.config.request_timeout_ms;
            let adaptive = matches!(self.config.gossip, Gossip::Hybrid { .. });
            let peers = &self.peers;
            let timeout = |peer: &NodeId| match peers.get(peer) {
                Some(p) if adaptive => request_timeout_ms(p.rtt_ms(), max_ms),
                _ => max_ms,
            };
            let assignment = self.fetcher.assign(self.now, timeout, &mut free);
            for item in assignment.abandoned {
                if let InvItem::Block(hash) = item {
                    self.sync.block_lost(&hash);
                }
            }
            for (peer, items) in assignment.requests {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.requested.extend(items.iter().copied());
                }
                for chunk in items.chunks(MAX_INV_ITEMS) {
                    self.send(peer, &Message::GetData(chunk.to_vec()));
                }
            }
        }
        for (peer, items) in std::mem::take(&mut self.inv_outbox) {
            for chunk in items.chunks(MAX_INV_ITEMS) {
                self.send(peer, &Message::Inv(chunk.to_vec()));
            }
        }
        match self.fetcher.next_deadline() {
            Some(at) => self.timers.set(NodeTimer::Requests, at),
            None => self.timers.stop(NodeTimer::Requests),
        }
        if std::mem::take(&mut self.template_due) {
            if let Some(address) = self.mining {
                let template = self.ledger.template(address, self.now);
                self.actions.push_back(Action::MineTemplate(template));
            }
        }
        let mempool = self.ledger.mempool();
        let shown = (mempool.len(), mempool.bytes());
        if shown != self.mempool_shown {
            self.mempool_shown = shown;
            self.events.push_back(NodeEvent::MempoolChanged {
                transactions: shown.0,
                bytes: shown.1,
            });
        }
    }
}
