//! A deterministic network simulator: many [`Node`]s driven exactly as a browser driver
//! drives one, over simulated links.
//!
//! One seed decides everything: keys, each node's RNG, link latencies, jitter, who mines
//! which block, churn, adversaries. Virtual time jumps from one due job to the next, so
//! minutes of network life take milliseconds. The simulator plays every driver's part:
//! each node has the browser's own link manager ([`crate::link::Links`]), whose offers
//! and answers it carries by the route the manager picks (a simulated signaling server
//! that every node has joined, or the mesh with [`Node::send_signal`]); it opens a link
//! about a round trip after the answer arrives, carries frames, reports closes the far
//! side notices late (as WebRTC does), and keeps what nodes ask it to store.
//!
//! [`Sim`] is the harness for hand-written scenarios; [`Scenario`] and [`run`] are the
//! parameterised runs the `sim` binary and the larger tests use, and [`CatchUp`] times
//! a fresh node syncing a long chain. [`Sim::check`] holds
//! the invariants every run must keep.

mod adversary;
mod catch_up;
mod check;
mod network;
mod scenario;

use std::collections::{BTreeMap, HashMap, VecDeque};

use rayon::iter::{IntoParallelIterator, ParallelIterator};

use tabchain_core::{
    pow, Address, Block, Hash, Ledger, NodeId, Params, SecretKey, Timestamp, Transaction, TxId,
    Wallet,
};

use crate::event::{Action, DropReason, Event, NodeError, NodeEvent};
use crate::link::{LinkAction, Links, Route, Signal, MAX_ROOM_PEERS};
use crate::message::{InvItem, Message, MessageKind};
use crate::node::Node;
use crate::random::Rng;
use crate::Config;

pub use adversary::AdversaryKind;
pub use catch_up::{CatchUp, CatchUpReport};
pub use network::Wire;
pub use scenario::{run, Report, Scenario};

use network::{key, Link, Queue};

/// Node ids the simulated signaling server hands a joining node.
const SERVER_LIST: usize = 16;
/// Inputs given ahead in one batch below which they are taken on this thread: handing
/// out a few costs more than taking them.
const PARALLEL_BATCH: usize = 16;

/// How a simulation is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub wire: Wire,
    /// Every node's configuration.
    pub node: Config,
    pub params: Params,
    /// How long after one side closes a link the other side's WebRTC notices (NOTES.md:
    /// `connectionState` went `disconnected` ~5.7 s after a tab closed).
    pub close_notice_ms: u64,
    /// Virtual time at the start.
    pub start: Timestamp,
}

impl SimConfig {
    /// 50 ms links, 10 Mbit/s, default node configuration, test difficulty with
    /// `block_ms` as the target block time.
    pub fn new(seed: u64, block_ms: u64) -> SimConfig {
        let mut params = Params::for_tests("sim");
        params.target_block_ms = block_ms.max(1);
        SimConfig {
            seed,
            wire: Wire {
                latency_ms: 50,
                jitter_ms: 5,
                bytes_per_ms: 1_250,
                loss: 0.0,
            },
            node: Config::default(),
            params,
            close_notice_ms: 5_000,
            // A day after genesis, so that a preloaded chain fits before it.
            start: tabchain_core::params::GENESIS_TIME.saturating_add(24 * 3600 * 1000),
        }
    }
}

/// Whether a frame carries gossip: what [`Wire::loss`] may lose. The rest (handshakes,
/// pings, relayed signals) a data channel delivers, and the protocol counts on it.
fn is_gossip(frame: &[u8]) -> bool {
    matches!(
        MessageKind::of_frame(frame),
        Some(
            MessageKind::Inv
                | MessageKind::GetData
                | MessageKind::NotFound
                | MessageKind::Block
                | MessageKind::Tx
                | MessageKind::CompactBlock
                | MessageKind::GetPushed
        )
    )
}

/// What a simulated node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Honest,
    Adversary(AdversaryKind),
}

#[derive(Debug)]
struct SimNode {
    node: Node,
    links: Links,
    key_seed: [u8; 32],
    role: Role,
    alive: bool,
    /// When this incarnation joined.
    joined_at: Timestamp,
    /// The wake-up queued for the node's timers.
    wake: Option<Timestamp>,
    mining: bool,
    template: Option<Block>,
    /// What the node asked to store, in order: what it reloads after a restart.
    stored: Vec<Hash>,
    side: u8,
    /// Started with [`Sim::add_keeper`].
    keeper: bool,
}

#[derive(Debug)]
enum Job {
    Deliver {
        from: usize,
        to: usize,
        epoch: u64,
        bytes: Vec<u8>,
    },
    Wake {
        node: usize,
    },
    /// A signal through the server.
    ServerSignal {
        from: usize,
        to: usize,
        signal: Signal,
    },
    /// ICE and DTLS are done for the link `session` that `a` offered `b`.
    Open {
        a: usize,
        b: usize,
        session: u64,
    },
    /// `node` notices that `peer` closed their link.
    Notice {
        node: usize,
        peer: usize,
        epoch: u64,
    },
    Adversary {
        node: usize,
    },
    /// A link `honest` answered for `victim` opens, with `attacker` at the far end.
    ForgedOpen {
        honest: usize,
        attacker: usize,
        victim: NodeId,
        session: u64,
    },
}

/// What a frame, a wake-up or a server signal hands its node; [`Sim::run_batch`]
/// may hand it ahead of the batch's order.
#[derive(Debug)]
enum Input {
    Frame {
        peer: NodeId,
        bytes: Vec<u8>,
    },
    Timeout,
    /// Through the signaling server.
    Signal {
        from: NodeId,
        signal: Signal,
    },
}

impl SimNode {
    fn take(&mut self, now: Timestamp, input: Input) {
        match input {
            Input::Frame { peer, bytes } => {
                let _ = self.node.handle_event(now, Event::Message { peer, bytes });
            }
            Input::Timeout => {
                self.node.handle_timeout(now);
                self.links.handle_timeout(now);
            }
            Input::Signal { from, signal } => {
                self.links.handle_signal(now, from, Route::Server, signal);
            }
        }
        // Worked out here, where a batch's inputs are taken side by side; `after_call`
        // asks for it.
        self.node.poll_timeout();
    }
}

/// What is left of a batch's job once the inputs given ahead are in.
#[derive(Debug)]
enum Step {
    /// Carry out what node's input ahead made it do.
    After(usize),
    Job(Job),
}

/// A block mined in the simulation, and when each node took it in.
#[derive(Debug, Clone)]
pub(crate) struct BlockRecord {
    pub(crate) mined_at: Timestamp,
    pub(crate) miner: usize,
    /// Its frame size.
    pub(crate) size: usize,
    /// Node, time, and whether it came from a peer (not mined or reloaded).
    pub(crate) arrivals: Vec<(usize, Timestamp, bool)>,
}

/// A peer drop some node decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropRecord {
    pub at: Timestamp,
    pub node: usize,
    pub peer: usize,
    pub reason: DropReason,
}

/// Counters over the frames honest nodes received from honest nodes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    pub(crate) block_frames: u64,
    pub(crate) block_frame_bytes: u64,
    pub(crate) inv_block_items: u64,
    /// Blocks asked for in `GetData`s.
    pub(crate) block_requests: u64,
    /// Frames lost to a partition.
    pub(crate) cut: u64,
    /// Frames lost to the wire's `loss`.
    pub(crate) lost: u64,
    pub(crate) signals_mesh: u64,
    pub(crate) signals_server: u64,
    /// Bytes honest nodes sent adversaries, and adversaries sent honest nodes.
    pub(crate) to_attackers: u64,
    pub(crate) from_attackers: u64,
}

/// The simulated network.
#[derive(Debug)]
pub struct Sim {
    config: SimConfig,
    rng: Rng,
    now: Timestamp,
    queue: Queue<Job>,
    nodes: Vec<SimNode>,
    /// Per node, whether a job of the running batch touched it yet (see
    /// `run_batch`); all false between batches.
    touched: Vec<bool>,
    index: HashMap<NodeId, usize>,
    /// A hash map: two lookups per frame, in a table of every link of the network.
    links: HashMap<(usize, usize), Link>,
    next_epoch: u64,
    partitioned: bool,
    /// The signaling server is down: links form only through the mesh.
    server_down: bool,
    /// Every block any node stored, to reload restarted nodes from.
    store: HashMap<Hash, Block>,
    blocks: BTreeMap<Hash, BlockRecord>,
    /// Blocks adversaries made invalid on purpose.
    bad_blocks: BTreeMap<Hash, Block>,
    /// Made-up blocks whose parents nobody has.
    junk: HashMap<Hash, Block>,
    /// Offers forged by an attacker: (honest node, session) to the attacker.
    forged: HashMap<(usize, u64), usize>,
    txs: Vec<Transaction>,
    drops: Vec<DropRecord>,
    stats: Stats,
}

impl Sim {
    pub fn new(config: SimConfig) -> Sim {
        Sim {
            rng: Rng::new(config.seed),
            now: config.start,
            config,
            queue: Queue::new(),
            nodes: Vec::new(),
            touched: Vec::new(),
            index: HashMap::new(),
            links: HashMap::new(),
            next_epoch: 0,
            partitioned: false,
            server_down: false,
            store: HashMap::new(),
            blocks: BTreeMap::new(),
            bad_blocks: BTreeMap::new(),
            junk: HashMap::new(),
            forged: HashMap::new(),
            txs: Vec::new(),
            drops: Vec::new(),
            stats: Stats::default(),
        }
    }

    // Getters.

    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i].node
    }

    pub fn is_alive(&self, i: usize) -> bool {
        self.nodes[i].alive
    }

    pub fn role(&self, i: usize) -> Role {
        self.nodes[i].role
    }

    /// The simulation index of a node id.
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn address(&self, i: usize) -> Address {
        SecretKey::from_seed(self.nodes[i].key_seed)
            .public_key()
            .address()
    }

    /// Live honest nodes.
    pub fn live_honest(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.nodes[i].role == Role::Honest)
            .collect()
    }

    /// Every peer drop any node decided, in order.
    pub fn drops(&self) -> &[DropRecord] {
        &self.drops
    }

    /// Open links.
    pub fn links(&self) -> usize {
        self.links.len()
    }

    /// Signals carried so far (through the mesh, through the server).
    pub fn signals(&self) -> (u64, u64) {
        (self.stats.signals_mesh, self.stats.signals_server)
    }

    /// Whether every live honest node has the same tip.
    pub fn converged(&self) -> bool {
        let mut tips = self.live_honest().into_iter().map(|i| self.node(i).tip());
        let first = tips.next();
        tips.all(|tip| Some(tip) == first)
    }

    // Commands.

    /// A new node joins now: it gets a few ids from the "signaling server" and dials.
    pub fn add_node(&mut self, role: Role) -> usize {
        self.add(role, false)
    }

    /// A keeper joins now: an honest node with the keeper's configuration
    /// ([`Config::keeper`]), which keeps what it stores across [`Sim::crash`] and
    /// [`Sim::rejoin`] like any node here.
    pub fn add_keeper(&mut self) -> usize {
        self.add(Role::Honest, true)
    }

    fn add(&mut self, role: Role, keeper: bool) -> usize {
        let key_seed = self.rng.bytes32();
        let i = self.nodes.len();
        let node = self.fresh_node(key_seed, keeper);
        let links = Links::new(node.id(), self.rng.next_u64());
        self.index.insert(node.id(), i);
        self.touched.push(false);
        self.nodes.push(SimNode {
            node,
            links,
            key_seed,
            role,
            alive: true,
            joined_at: self.now,
            wake: None,
            mining: false,
            template: None,
            stored: Vec::new(),
            side: 0,
            keeper,
        });
        self.introduce(i);
        if let Role::Adversary(_) = role {
            let at = self.now.saturating_add(200);
            self.queue.push(at, Job::Adversary { node: i });
        }
        i
    }

    /// Switches node `i`'s mining on, so that [`Sim::mine`] can pick it.
    pub fn set_miner(&mut self, i: usize) {
        self.nodes[i].mining = true;
        let address = self.address(i);
        let now = self.now;
        self.nodes[i].node.set_mining(now, Some(address));
        self.after_call(i);
    }

    /// Node `i` finds a block now on its latest template.
    pub fn mine(&mut self, i: usize) -> Result<Hash, NodeError> {
        if !self.nodes[i].mining {
            self.set_miner(i);
        }
        let mut block = self.nodes[i]
            .template
            .clone()
            .expect("a miner always has a template");
        block.header.time = block.header.time.max(self.now);
        assert!(pow::solve(&mut block.header), "test difficulty is solvable");
        let hash = block.hash();
        self.blocks.insert(
            hash,
            BlockRecord {
                mined_at: self.now,
                miner: i,
                size: Message::block_frame(&block).len(),
                arrivals: Vec::new(),
            },
        );
        let result = self.call(i, Event::MinedBlock(block));
        result.map(|()| hash)
    }

    /// Node `i` pays `amount` to node `to` from its coins, if it has enough.
    pub fn pay(&mut self, i: usize, to: usize, amount: u64, fee: u64) -> Option<TxId> {
        let wallet = Wallet::new(SecretKey::from_seed(self.nodes[i].key_seed));
        let coins = self.node(i).ledger().spendable(&wallet.address());
        let genesis = self.node(i).ledger().chain().genesis_hash();
        let tx = wallet
            .pay(&coins, self.address(to), amount, fee, &genesis)
            .ok()?;
        let txid = tx.id();
        self.call(i, Event::SubmitTx(tx.clone())).ok()?;
        self.txs.push(tx);
        Some(txid)
    }

    /// Hands node `i` stored blocks, as a reloaded tab would.
    pub fn load(&mut self, i: usize, blocks: &[Block]) {
        let mut records = Vec::with_capacity(blocks.len());
        for block in blocks {
            let hash = block.hash();
            self.store.insert(hash, block.clone());
            self.nodes[i].stored.push(hash);
            records.push((hash, block.clone()));
        }
        let now = self.now;
        self.nodes[i].node.load_stored(now, records);
        self.after_call(i);
    }

    /// Node `i`'s storage loses a block, as when a browser finds a record corrupt and
    /// drops it: the next [`Sim::rejoin`] reloads the others without it.
    pub fn lose_stored(&mut self, i: usize, hash: &Hash) {
        self.nodes[i].stored.retain(|stored| stored != hash);
    }

    /// A chain of `count` blocks paying `pay_to`, timed one target block time apart and
    /// ending now, outside any node.
    pub fn build_chain(&mut self, count: usize, pay_to: Address) -> Vec<Block> {
        let params = self.config.params.clone();
        let mut ledger = Ledger::new(params.clone());
        let start = self
            .now
            .millis()
            .saturating_sub(count as u64 * params.target_block_ms);
        (1..=count as u64)
            .map(|n| {
                let time = Timestamp(start + n * params.target_block_ms);
                let mut block = ledger.template(pay_to, time);
                assert!(pow::solve(&mut block.header));
                ledger
                    .submit_block(block.clone(), time)
                    .expect("built on its own tip");
                block
            })
            .collect()
    }

    /// Node `i` closes: it says goodbye to its peers and is gone.
    pub fn leave(&mut self, i: usize) {
        let now = self.now;
        self.nodes[i].node.shutdown(now);
        self.after_call(i);
        self.kill(i);
    }

    /// Node `i` dies without a word.
    pub fn crash(&mut self, i: usize) {
        self.kill(i);
    }

    /// Node `i` comes back (a reloaded tab): same key, a fresh node that reloads the
    /// blocks it had stored.
    pub fn rejoin(&mut self, i: usize) {
        assert!(!self.nodes[i].alive, "rejoin a node that left");
        let node = self.fresh_node(self.nodes[i].key_seed, self.nodes[i].keeper);
        let links = Links::new(node.id(), self.rng.next_u64());
        let n = &mut self.nodes[i];
        n.node = node;
        n.links = links;
        n.alive = true;
        n.joined_at = self.now;
        n.wake = None;
        n.template = None;
        let stored: Vec<Block> = n.stored.iter().map(|h| self.store[h].clone()).collect();
        n.stored.clear();
        self.load(i, &stored);
        if self.nodes[i].mining {
            self.set_miner(i);
        }
        self.introduce(i);
    }

    /// Cuts the network in two: frames and new links between sides are lost.
    pub fn partition(&mut self, side_of: impl Fn(usize) -> bool) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            node.side = u8::from(side_of(i));
        }
        self.partitioned = true;
    }

    pub fn heal(&mut self) {
        self.partitioned = false;
    }

    /// The signaling server goes away: every node loses its room, and new links can
    /// only be set up through the mesh.
    pub fn stop_server(&mut self) {
        self.server_down = true;
        for n in &mut self.nodes {
            n.links.server_lost();
        }
    }

    /// Runs every job due up to `until`, then sets the clock there.
    pub fn run_until(&mut self, until: Timestamp) {
        // On one of rayon's threads, so that a batch's inputs are shared out to the
        // others without this thread waiting on a hand-off for every batch.
        rayon::scope(|_| self.run_jobs_until(until));
    }

    fn run_jobs_until(&mut self, until: Timestamp) {
        while let Some(at) = self.queue.peek_at() {
            if at > until {
                break;
            }
            let (at, jobs) = self.queue.pop_batch().expect("peeked");
            self.now = self.now.max(at);
            self.run_batch(jobs);
        }
        self.now = self.now.max(until);
    }

    /// Runs the jobs due at one millisecond, in order, the nodes' part of them on
    /// rayon's threads where that changes nothing.
    ///
    /// A frame, a wake-up or a signal for a node that no earlier job of the batch
    /// touches reaches the node first, beside the others': nothing before it in the
    /// batch reads or writes that node, and everything the input makes it do (frames,
    /// dials, records, its next wake-up, each draw of the wire's RNG) is carried out
    /// afterwards in the batch's order. A run is the same, frame for frame, on any
    /// number of threads.
    fn run_batch(&mut self, jobs: VecDeque<Job>) {
        // Attackers reach into other nodes: their batches run in order.
        if jobs
            .iter()
            .any(|job| matches!(job, Job::Adversary { .. } | Job::ForgedOpen { .. }))
        {
            return jobs.into_iter().for_each(|job| self.run_job(job));
        }
        let now = self.now;
        let mut touched_nodes = Vec::new();
        let mut ahead: Vec<(usize, Input)> = Vec::new();
        let mut steps: Vec<Step> = Vec::with_capacity(jobs.len());
        for job in jobs {
            let touched: &[usize] = match &job {
                Job::Deliver { to, .. } | Job::ServerSignal { to, .. } => &[*to],
                Job::Wake { node } | Job::Notice { node, .. } => &[*node],
                Job::Open { a, b, .. } => &[*a, *b],
                Job::Adversary { .. } | Job::ForgedOpen { .. } => unreachable!("run above"),
            };
            let first = touched.iter().all(|&node| !self.touched[node]);
            for &node in touched {
                if !std::mem::replace(&mut self.touched[node], true) {
                    touched_nodes.push(node);
                }
            }
            // An adversary's frames reach into the simulation (`intercept`): in order.
            let to_adversary =
                matches!(job, Job::Deliver { to, .. } if self.nodes[to].role != Role::Honest);
            if !first || to_adversary {
                steps.push(Step::Job(job));
                continue;
            }
            // Its checks and counts, made now: nothing before it in the batch changes
            // what they see.
            match self.input_of(job) {
                Ok(Some((node, input))) => {
                    ahead.push((node, input));
                    steps.push(Step::After(node));
                }
                Ok(None) => {}
                Err(job) => steps.push(Step::Job(job)),
            }
        }
        for node in touched_nodes {
            self.touched[node] = false;
        }
        ahead.sort_unstable_by_key(|(node, _)| *node);
        let mut work: Vec<(&mut SimNode, Input)> = Vec::with_capacity(ahead.len());
        let mut rest = self.nodes.as_mut_slice();
        let mut base = 0;
        for (i, input) in ahead {
            let (node, tail) = std::mem::take(&mut rest)[i - base..]
                .split_first_mut()
                .expect("a node of the simulation");
            work.push((node, input));
            rest = tail;
            base = i + 1;
        }
        let take = |(n, input): (&mut SimNode, Input)| n.take(now, input);
        // A handful is quicker on this thread than handed out.
        if work.len() < PARALLEL_BATCH {
            work.into_iter().for_each(take);
        } else {
            work.into_par_iter().for_each(take);
        }
        for step in steps {
            match step {
                Step::After(node) => self.after_call(node),
                Step::Job(job) => self.run_job(job),
            }
        }
    }

    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now.saturating_add(ms));
    }

    // The driver's part.

    fn fresh_node(&mut self, key_seed: [u8; 32], keeper: bool) -> Node {
        let seed = self.rng.next_u64();
        let config = if keeper {
            self.config.node.clone().keeper(false)
        } else {
            self.config.node.clone()
        };
        Node::new(
            config,
            SecretKey::from_seed(key_seed),
            self.config.params.clone(),
            seed,
            self.now,
        )
    }

    /// Node `i` joins the signaling server's room: it learns who is there (its link
    /// manager routes offers to them through the server), everyone there learns of it,
    /// and its node hears of a sample of live nodes on its side of any partition.
    fn introduce(&mut self, i: usize) {
        assert!(!self.server_down, "nodes join through the signaling server");
        let id = self.nodes[i].node.id();
        let mut room: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| j != i && self.nodes[j].alive)
            .collect();
        if room.len() > MAX_ROOM_PEERS {
            // A node keeps that many of a bigger room: some random share of it, from
            // which the ids it is handed come too.
            self.rng.shuffle(&mut room);
            room.truncate(MAX_ROOM_PEERS);
        }
        let ids: Vec<NodeId> = room.iter().map(|&j| self.nodes[j].node.id()).collect();
        self.nodes[i].links.server_joined(ids);
        for j in 0..self.nodes.len() {
            if j != i && self.nodes[j].alive {
                self.nodes[j].links.server_peer_joined(id);
            }
        }
        let mut others: Vec<usize> = room.into_iter().filter(|&j| !self.cut(i, j)).collect();
        self.rng.shuffle(&mut others);
        let ids = others
            .into_iter()
            .take(SERVER_LIST)
            .map(|j| self.nodes[j].node.id())
            .collect();
        let _ = self.call(i, Event::PeersKnown(ids));
    }

    fn kill(&mut self, i: usize) {
        self.nodes[i].alive = false;
        self.nodes[i].wake = None;
        let mut mine: Vec<(usize, usize)> = self
            .links
            .keys()
            .filter(|(a, b)| *a == i || *b == i)
            .copied()
            .collect();
        // In pair order, whatever the map's: the closes queue the peers' notices.
        mine.sort_unstable();
        for pair in mine {
            let other = if pair.0 == i { pair.1 } else { pair.0 };
            self.close(i, other);
        }
        if self.server_down {
            return;
        }
        // The server sees the socket close and tells the room.
        let id = self.nodes[i].node.id();
        for j in 0..self.nodes.len() {
            if self.nodes[j].alive {
                self.nodes[j].links.server_peer_left(id);
                self.after_call(j);
            }
        }
    }

    fn cut(&self, a: usize, b: usize) -> bool {
        self.partitioned && self.nodes[a].side != self.nodes[b].side
    }

    fn call(&mut self, i: usize, event: Event) -> Result<(), NodeError> {
        let now = self.now;
        let result = self.nodes[i].node.handle_event(now, event);
        self.after_call(i);
        result
    }

    /// Carries out node `i`'s actions and its link manager's, reads its events, and
    /// queues its next wake-up.
    fn after_call(&mut self, i: usize) {
        loop {
            let mut busy = false;
            while let Some(action) = self.nodes[i].node.poll_action() {
                busy = true;
                self.node_action(i, action);
            }
            while let Some(action) = self.nodes[i].links.poll_action() {
                busy = true;
                self.link_action(i, action);
            }
            if !busy {
                break;
            }
        }
        while let Some(event) = self.nodes[i].node.poll_event() {
            match event {
                NodeEvent::BlockAccepted { hash, from, .. } => {
                    if let Some(record) = self.blocks.get_mut(&hash) {
                        record.arrivals.push((i, self.now, from.is_some()));
                    }
                }
                NodeEvent::PeerDropped { peer, reason } => {
                    if let Some(j) = self.index_of(&peer) {
                        self.drops.push(DropRecord {
                            at: self.now,
                            node: i,
                            peer: j,
                            reason,
                        });
                    }
                }
                _ => {}
            }
        }
        let next = [
            self.nodes[i].node.poll_timeout(),
            self.nodes[i].links.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = next {
            if self.nodes[i].alive && next != self.nodes[i].wake {
                self.nodes[i].wake = next;
                self.queue.push(at.max(self.now), Job::Wake { node: i });
            }
        }
    }

    fn node_action(&mut self, i: usize, action: Action) {
        let now = self.now;
        match action {
            Action::Send { peer, bytes } => {
                if let Some(j) = self.index_of(&peer) {
                    if !self.withholds(i, &bytes) {
                        let bytes = self.rewrite(i, bytes);
                        self.transmit(i, j, bytes);
                    }
                }
            }
            Action::Disconnect { peer, .. } => self.nodes[i].links.close(&peer),
            Action::Connect { peer } => self.nodes[i].links.dial(now, peer),
            Action::Signal { from, payload } => {
                if let Ok(signal) = Signal::from_bytes(&payload) {
                    self.nodes[i]
                        .links
                        .handle_signal(now, from, Route::Mesh, signal);
                }
            }
            Action::MineTemplate(block) => self.nodes[i].template = Some(block),
            Action::StopMining => self.nodes[i].template = None,
            Action::StoreBlock(block) => {
                let hash = block.hash();
                self.nodes[i].stored.push(hash);
                self.store.entry(hash).or_insert(block);
            }
            Action::ForgetBlock(hash) => self.nodes[i].stored.retain(|h| *h != hash),
        }
    }

    /// Plays the platform's part for node `i`'s link manager: connections describe
    /// themselves at once, carry no candidates, and open a round trip after the answer.
    fn link_action(&mut self, i: usize, action: LinkAction) {
        let now = self.now;
        match action {
            LinkAction::Offer { peer, session } => {
                self.nodes[i].links.described(peer, session, "offer".into());
            }
            LinkAction::Answer { peer, session, .. } => {
                self.nodes[i]
                    .links
                    .described(peer, session, "answer".into());
            }
            LinkAction::AcceptAnswer { peer, session, .. } => {
                if let Some(j) = self.index_of(&peer) {
                    let at = now.saturating_add(2 * self.config.wire.latency_ms);
                    self.queue.push(
                        at,
                        Job::Open {
                            a: i,
                            b: j,
                            session,
                        },
                    );
                }
            }
            LinkAction::AddCandidate { .. } => {}
            LinkAction::Send {
                peer,
                route,
                signal,
            } => {
                let Some(j) = self.index_of(&peer) else {
                    return;
                };
                if self.hijacks(i, peer, &signal) {
                    return;
                }
                if route == Route::Mesh {
                    self.stats.signals_mesh += 1;
                    if let Err(err) = self.nodes[i].node.send_signal(peer, signal.to_bytes()) {
                        self.nodes[i].links.unreachable(peer, err.to_string());
                    }
                } else {
                    // A round trip to the server.
                    self.stats.signals_server += 1;
                    let at = now.saturating_add(2 * self.config.wire.latency_ms);
                    self.queue.push(
                        at,
                        Job::ServerSignal {
                            from: i,
                            to: j,
                            signal,
                        },
                    );
                }
            }
            LinkAction::Close { peer, session, .. } => {
                if let Some(j) = self.index_of(&peer) {
                    let pair = key(i, j).0;
                    if self.links.get(&pair).is_some_and(|l| l.session == session) {
                        self.close(i, j);
                    }
                }
            }
            LinkAction::Opened { peer, session } => {
                // Both sides know the session: it stands in for the DTLS fingerprints.
                let binding = session.to_le_bytes().to_vec();
                let _ = self.nodes[i]
                    .node
                    .handle_event(now, Event::PeerConnected { peer, binding });
            }
            LinkAction::Node(event) => {
                let _ = self.nodes[i].node.handle_event(now, event);
            }
            LinkAction::Ended { .. } => {}
        }
    }

    /// Puts a frame from `from` on its link to `to`.
    fn transmit(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        let (pair, dir) = key(from, to);
        let cut = self.cut(from, to);
        let Some(link) = self.links.get_mut(&pair) else {
            return;
        };
        if !link.open[dir] {
            return;
        }
        if cut {
            self.stats.cut += 1;
            return;
        }
        // Drawn only when frames can be lost, so that lossless runs stay as they were.
        if self.config.wire.loss > 0.0
            && is_gossip(&bytes)
            && self.rng.chance(self.config.wire.loss)
        {
            self.stats.lost += 1;
            return;
        }
        let at = self
            .config
            .wire
            .arrival(link, dir, bytes.len(), self.now, &mut self.rng);
        let epoch = link.epoch;
        self.queue.push(
            at,
            Job::Deliver {
                from,
                to,
                epoch,
                bytes,
            },
        );
    }

    /// `from` closes its side of the link to `to`; `to` notices later, unless it closes
    /// its side first (as after a `Goodbye`).
    fn close(&mut self, from: usize, to: usize) {
        let (pair, dir) = key(from, to);
        let Some(link) = self.links.get_mut(&pair) else {
            return;
        };
        link.open[dir] = false;
        if !link.open[1 - dir] {
            self.links.remove(&pair);
            return;
        }
        let epoch = link.epoch;
        let at = self.now.saturating_add(self.config.close_notice_ms);
        self.queue.push(
            at,
            Job::Notice {
                node: to,
                peer: from,
                epoch,
            },
        );
    }

    fn run_job(&mut self, job: Job) {
        let job = match self.input_of(job) {
            Ok(Some((node, input))) => {
                let now = self.now;
                self.nodes[node].take(now, input);
                return self.after_call(node);
            }
            Ok(None) => return,
            Err(job) => job,
        };
        match job {
            Job::Deliver { .. } | Job::Wake { .. } | Job::ServerSignal { .. } => {
                unreachable!("inputs, taken above")
            }
            Job::Open { a, b, session } => self.open(a, b, session),
            Job::Notice { node, peer, epoch } => {
                let (pair, dir) = key(node, peer);
                let current = self
                    .links
                    .get(&pair)
                    .is_some_and(|l| l.epoch == epoch && l.open[dir]);
                if current {
                    let session = self.links.remove(&pair).expect("current").session;
                    if self.nodes[node].alive {
                        let peer = self.nodes[peer].node.id();
                        self.nodes[node].links.transport_closed(
                            peer,
                            session,
                            "the data channel closed".into(),
                        );
                        self.after_call(node);
                    }
                }
            }
            Job::ForgedOpen {
                honest,
                attacker,
                victim,
                session,
            } => self.forged_open(honest, attacker, victim, session),
            Job::Adversary { node } => {
                if self.nodes[node].alive {
                    self.adversary_tick(node);
                    let at = self.now.saturating_add(200 + self.rng.below(100));
                    self.queue.push(at, Job::Adversary { node });
                }
            }
        }
    }

    /// The link `a` offered `b` comes up, if both still want it and can reach each
    /// other; otherwise the attempt runs into its deadline, as in a browser.
    fn open(&mut self, a: usize, b: usize, session: u64) {
        let (pair, _) = key(a, b);
        let (a_id, b_id) = (self.nodes[a].node.id(), self.nodes[b].node.id());
        if self.links.contains_key(&pair)
            || !self.nodes[a].alive
            || !self.nodes[b].alive
            || self.cut(a, b)
            || self.nodes[a].links.session(&b_id) != Some(session)
            || self.nodes[b].links.session(&a_id) != Some(session)
        {
            return;
        }
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let latency_ms = self.config.wire.link_latency(&mut self.rng);
        self.links.insert(
            pair,
            Link {
                epoch,
                session,
                latency_ms,
                busy_until: [self.now; 2],
                open: [true; 2],
            },
        );
        self.nodes[a].links.channel_open(b_id, session);
        self.after_call(a);
        self.nodes[b].links.channel_open(a_id, session);
        self.after_call(b);
    }

    /// The input a frame, wake-up or server signal job hands its node, once the checks
    /// of its kind pass (a frame is counted, and shown to an adversary first); `None`
    /// if it hands nothing: the link is gone, the node is dead, the wake-up was moved.
    /// `Err` gives back a job of another kind.
    fn input_of(&mut self, job: Job) -> Result<Option<(usize, Input)>, Job> {
        Ok(match job {
            Job::Deliver {
                from,
                to,
                epoch,
                bytes,
            } => {
                if !self.is_current(from, to, epoch) {
                    return Ok(None);
                }
                self.tally(from, to, &bytes);
                self.intercept(to, from, &bytes);
                if self.swallows(to, &bytes) {
                    return Ok(None);
                }
                let peer = self.nodes[from].node.id();
                Some((to, Input::Frame { peer, bytes }))
            }
            Job::Wake { node } => {
                let n = &mut self.nodes[node];
                if !n.alive || n.wake != Some(self.now) {
                    return Ok(None);
                }
                n.wake = None;
                Some((node, Input::Timeout))
            }
            Job::ServerSignal { from, to, signal } => {
                if !self.nodes[to].alive || self.cut(from, to) {
                    return Ok(None);
                }
                let from = self.nodes[from].node.id();
                Some((to, Input::Signal { from, signal }))
            }
            job => return Err(job),
        })
    }

    /// Whether a frame sent on link `epoch` from `from` still reaches `to`: the link is
    /// that one, `to` has its side open, and `to` is alive.
    fn is_current(&self, from: usize, to: usize, epoch: u64) -> bool {
        let (pair, dir) = key(to, from);
        self.nodes[to].alive
            && self
                .links
                .get(&pair)
                .is_some_and(|l| l.epoch == epoch && l.open[dir])
    }

    /// Counts a delivered frame in the stats of its kind of link.
    fn tally(&mut self, from: usize, to: usize, bytes: &[u8]) {
        match (self.nodes[from].role, self.nodes[to].role) {
            (Role::Honest, Role::Honest) => self.count(bytes),
            (Role::Honest, Role::Adversary(_)) => self.stats.to_attackers += bytes.len() as u64,
            (Role::Adversary(_), Role::Honest) => {
                self.stats.from_attackers += bytes.len() as u64;
            }
            _ => {}
        }
    }

    fn count(&mut self, bytes: &[u8]) {
        self.stats.frames += 1;
        self.stats.bytes += bytes.len() as u64;
        match MessageKind::of_frame(bytes) {
            Some(MessageKind::Block | MessageKind::CompactBlock) => {
                self.stats.block_frames += 1;
                self.stats.block_frame_bytes += bytes.len() as u64;
            }
            Some(MessageKind::Inv | MessageKind::GetData) => {
                let blocks = |items: &[InvItem]| {
                    items
                        .iter()
                        .filter(|item| matches!(item, InvItem::Block(_)))
                        .count() as u64
                };
                match Message::decode(bytes) {
                    Ok(Message::Inv(items)) => self.stats.inv_block_items += blocks(&items),
                    Ok(Message::GetData(items)) => self.stats.block_requests += blocks(&items),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use tabchain_core::COIN;

    use super::*;

    /// Every due job in queue order, one at a time: what [`Sim::run_batch`] must match.
    fn run_in_order(sim: &mut Sim, until: Timestamp) {
        while sim.queue.peek_at().is_some_and(|at| at <= until) {
            let (at, jobs) = sim.queue.pop_batch().expect("peeked");
            sim.now = sim.now.max(at);
            jobs.into_iter().for_each(|job| sim.run_job(job));
        }
        sim.now = sim.now.max(until);
    }

    /// A network forms, mines, pays and loses nodes, run by `run`; what it recorded.
    fn lesson(run: fn(&mut Sim, Timestamp)) -> String {
        let mut sim = Sim::new(SimConfig::new(7, 1_000));
        let step = |sim: &mut Sim, ms: u64| {
            let until = sim.now.saturating_add(ms);
            run(sim, until);
        };
        for _ in 0..150 {
            sim.add_node(Role::Honest);
        }
        step(&mut sim, 5_000);
        // Past coinbase maturity, so that node 0 can pay.
        for round in 0..12 {
            sim.mine(round % 3).expect("a block on its template");
            step(&mut sim, 700);
        }
        assert!(sim.pay(0, 5, COIN, 10).is_some());
        for i in 10..40 {
            if i % 2 == 0 {
                sim.crash(i);
            } else {
                sim.leave(i);
            }
            step(&mut sim, 20);
        }
        // Blocks after it, whose arrival times show any draw of the wire's RNG made
        // out of turn.
        for round in 0..3 {
            sim.mine(round).expect("a block on its template");
            step(&mut sim, 700);
        }
        step(&mut sim, 3_000);
        // And each node's tip and its count of bytes each way with each peer: an input
        // taken out of turn shows there even when no frame it made got through.
        let peers: Vec<_> = (0..sim.len())
            .map(|i| {
                let node = sim.node(i);
                let bytes: Vec<_> = node
                    .peers()
                    .map(|p| (p.id, p.bytes_in(), p.bytes_out()))
                    .collect();
                (node.tip(), bytes)
            })
            .collect();
        format!(
            "{:?}\n{:?}\n{:?}\n{peers:?}",
            sim.stats, sim.blocks, sim.drops
        )
    }

    /// Tried: the same lesson with each batch's inputs taken ahead (on rayon's threads)
    /// and with every job run on its own in queue order.
    #[test]
    fn a_batch_runs_as_its_jobs_would_one_by_one() {
        assert_eq!(lesson(Sim::run_until), lesson(run_in_order));
    }
}
