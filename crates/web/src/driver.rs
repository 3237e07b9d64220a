//! The browser node: one [`Node`] driven by the clock, WebRTC links, the signaling
//! server or Nostr relays, the room's BroadcastChannel, mining workers and IndexedDB.
//!
//! Every browser callback turns into an [`Input`] delivered to the [`Driver`]; after
//! each one the driver carries out the node's actions, re-arms its one timer and, at
//! most every [`VIEW_INTERVAL_MS`], hands the page a fresh [`View`]. A callback that
//! fires while the driver is busy (a JS API that reports synchronously) is queued and
//! handled before the driver lets go, so inputs are never lost or re-entered.
//!
//! Which links exist, how their signals travel and when an attempt is given up is the
//! link manager's ([`Links`], shared with the simulator); this driver only carries out
//! its actions with real `RTCPeerConnection`s, the signaling server's socket, the
//! relays' sockets (for the relay pool, [`Pool`], which decides what to say on them) and
//! the room's BroadcastChannel.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::{Rc, Weak};

use tabchain_core::{Address, Block, Hash, NodeId, OutPoint, SecretKey, Timestamp, Wallet};
use tabchain_node::link::{LinkAction, Links, Route, Signal};
use tabchain_node::{Action, Config, Event, Node, NodeError, Payee};
use tabchain_nostr::{Body, Pool, PoolAction, RoomKey, DEFAULT_RELAYS};
use tabchain_signal::{hello, Backoff, ClientMessage, IceServer, ServerMessage};
use wasm_bindgen::prelude::*;
use web_sys::PageTransitionEvent;

use crate::backup;
use crate::broadcast::LocalRoom;
use crate::chainfile;
use crate::durable::Durable;
use crate::identity;
use crate::js::{forever, now, random_bytes, random_u64, warn, window, Sink, Timer};
use crate::log::Log;
use crate::miners::{Miners, Report};
use crate::path::PathInfo;
use crate::record;
use crate::rtc::{describe, Link, RtcEvent};
use crate::settings::Settings;
use crate::socket::{SocketEvent, TextSocket};
use crate::store::{Records, Store};
use crate::tamper::{OfferReport, RemineInfo, Tamper};
use crate::view::{
    parse_coins, ImportInfo, LogKind, MinerInfo, RelayInfo, SignalInfo, SignalState, StoredInfo,
    Surroundings, View,
};
use crate::wallet_store::WalletStore;
use crate::wire::{self, Broadcast};

/// The page gets a new view at most this often (a busy miner reports ~60 times a second).
pub const VIEW_INTERVAL_MS: u64 = 100;

/// How often open links are asked which path they take (ICE may move a link from the
/// relay to a direct pair, or back).
const PATH_INTERVAL_MS: u64 = 2_000;

/// Waits before trying the signaling server again: it is our own, on the school's
/// network, and back within seconds of a restart.
const SERVER_RETRY_FIRST_MS: u64 = 500;
const SERVER_RETRY_LONGEST_MS: u64 = 5_000;

/// Node-initiated closes wait this long so the `Goodbye` queued before them leaves.
const GOODBYE_GRACE_MS: u32 = 200;

/// A tab answers `hello`s on the BroadcastChannel with one `here` at most this often:
/// every tab of the channel hears each `here`, so one answers a burst of newcomers, and
/// a page posting thousands of forged `hello`s cannot make every tab post thousands.
const HERE_GAP_MS: u64 = 500;

/// Something that happened in the browser.
#[derive(Debug)]
enum Input {
    Tick,
    Loaded {
        blocks: Result<(Store, Records), String>,
        wallet: Result<(WalletStore, [u8; 32]), String>,
    },
    Server(SocketEvent),
    Relay {
        relay: usize,
        event: SocketEvent,
    },
    Local(Broadcast),
    Rtc {
        peer: NodeId,
        session: u64,
        event: RtcEvent,
    },
    Miner(Report),
    /// A write of these blocks to IndexedDB committed, or failed.
    Stored(Vec<Hash>, Result<(), String>),
    /// The bytes of a chain file the person loaded.
    ChainFile(Result<Vec<u8>, String>),
    PageHide,
}

/// Frames a link may bring before its DTLS certificates are read and the node hears of
/// it (a handshake is two).
const MAX_EARLY_FRAMES: usize = 16;

/// A connection the link manager asked for: its session and its `RTCPeerConnection`.
#[derive(Debug)]
struct Conn {
    session: u64,
    link: Link,
    path: Option<PathInfo>,
    /// Frames held until the node hears of the link; `None` once it has.
    early: Option<Vec<Vec<u8>>>,
}

#[derive(Debug)]
struct Server {
    url: String,
    socket: Option<TextSocket>,
    /// It welcomed us once: this page has a signaling server.
    seen: bool,
    state: SignalState,
    detail: String,
    /// STUN and TURN servers the server handed out in its `welcome`.
    ice: Vec<IceServer>,
    retry_at: Option<Timestamp>,
    backoff: Backoff,
}

/// The Nostr relays this tab meets the room through, and their sockets.
#[derive(Debug)]
struct Relays {
    pool: Pool,
    sockets: Vec<Option<TextSocket>>,
}

/// Why the wallet could not pay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    #[error("not an address: {0}")]
    Address(String),
    #[error("the amount must be coins with at most three decimals, like 12.5")]
    Amount,
    #[error("{0}")]
    Refused(#[from] NodeError),
    #[error("the node is not running")]
    NotRunning,
    #[error("the wallet's storage failed: {0}")]
    Storage(String),
}

struct Shared {
    driver: RefCell<Driver>,
    queue: RefCell<VecDeque<Input>>,
    on_view: Box<dyn Fn(View)>,
}

/// The page's handle on its node: commands go in here, views come out through the
/// callback given to [`Handle::start`].
#[derive(Clone)]
pub struct Handle {
    shared: Option<Rc<Shared>>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("running", &self.shared.is_some())
            .finish()
    }
}

impl Handle {
    /// Reads the settings from the page's URL and starts the node: it loads the stored
    /// chain, then joins the room. `on_view` is called with every new view.
    pub fn start(on_view: impl Fn(View) + 'static) -> Handle {
        let location = window().location();
        let settings = match Settings::from_query(&location.search().unwrap_or_default()) {
            Ok(settings) => settings,
            Err(err) => {
                on_view(View::failed(format!(
                    "This page's address is not right: {err}."
                )));
                return Handle { shared: None };
            }
        };
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            let sink = Sink::new(move |input| {
                if let Some(shared) = weak.upgrade() {
                    deliver(&shared, input);
                }
            });
            Shared {
                driver: RefCell::new(Driver::new(settings, sink)),
                queue: RefCell::new(VecDeque::new()),
                on_view: Box::new(on_view),
            }
        });
        let sink = shared.driver.borrow().sink.clone();
        listen_for_page_exit(sink.clone());
        let name = shared.driver.borrow().network_name();
        wasm_bindgen_futures::spawn_local(async move {
            let blocks = async {
                let store = Store::open(&name).await?;
                let records = store.load().await?;
                Ok::<_, JsValue>((store, records))
            };
            let wallet = async {
                let store = WalletStore::open().await?;
                let seed = store.seed(random_bytes()).await?;
                Ok::<_, JsValue>((store, seed))
            };
            sink.send(Input::Loaded {
                blocks: blocks.await.map_err(|err| describe(&err)),
                wallet: wallet.await.map_err(|err| describe(&err)),
            });
        });
        let handle = Handle {
            shared: Some(shared),
        };
        handle.run(|_| ());
        handle
    }

    pub fn set_mining(&self, on: bool) {
        self.run(|driver| {
            let pay_to = driver.address().filter(|_| on);
            driver.node.set_mining(now(), pay_to);
        });
    }

    pub fn set_workers(&self, count: usize) {
        self.run(|driver| {
            if let Err(err) = driver.miners.set_count(count) {
                driver.warn(format!(
                    "could not start a mining worker: {}",
                    describe(&err)
                ));
            }
        });
    }

    /// Shows block `hash` (hex) in the inspector, or closes it.
    pub fn inspect(&self, hash: Option<&str>) {
        let hash = hash.and_then(|hex| tabchain_core::keys::parse_hex::<32>(hex).ok().map(Hash));
        self.run(|driver| {
            driver.inspect = hash;
            driver.dirty = true;
        });
    }

    /// Sets the tamper lab's edit (a copy is made and checked for every view), or clears
    /// the lab.
    pub fn tamper(&self, tamper: Option<Tamper>) {
        self.run(|driver| {
            driver.tamper = tamper;
            driver.offer = None;
            driver.stop_remining();
            driver.remined = None;
            driver.dirty = true;
        });
    }

    /// Re-mines the tamper lab's resealed copy in the mining workers (the tab stops its
    /// own mining for it), so that a student sees what one block's work takes.
    pub fn remine_tampered(&self) {
        self.run(|driver| {
            let Some(tamper) = driver.tamper else {
                return;
            };
            let Ok(mut copy) = tamper.resealed(driver.node.ledger().chain()) else {
                return;
            };
            let now = now();
            driver.node.set_mining(now, None);
            // Its `StopMining` first, or it would stop the copy's job too.
            driver.pump();
            copy.header.nonce = 0;
            driver.remine = Some(RemineInfo {
                started: now,
                difficulty: copy.header.difficulty,
                found: None,
                interrupted: false,
            });
            driver.remined = None;
            driver.miners.mine(copy);
            driver.dirty = true;
        });
    }

    /// Announces the tamper lab's resealed copy to every peer, which will fetch it,
    /// refuse it and score this tab for it: the lab shows the cost beforehand.
    pub fn offer_tampered(&self) {
        self.run(|driver| {
            let Some(tamper) = driver.tamper else {
                return;
            };
            let chain = driver.node.ledger().chain();
            match tamper.offer(chain, driver.node.config(), driver.remined.clone(), now()) {
                Ok((block, mut report)) => {
                    let hash = block.hash();
                    report.peers = driver.node.offer_block(now(), block);
                    let text = format!(
                        "offered a tampered copy of block {} as {} to {} peers",
                        tamper.block.short(),
                        hash.short(),
                        report.peers
                    );
                    driver.log.push(now(), LogKind::Warning, text);
                    driver.offer = Some(report);
                }
                Err(error) => driver.warn(format!("nothing to offer: {error}")),
            }
            driver.dirty = true;
        });
    }

    /// Offers the room's chain as a file to download.
    pub fn save_chain(&self) {
        self.run(Driver::save_chain);
    }

    /// Loads a chain file the person picked or dropped; the chain panel says how it went.
    pub fn load_chain(&self, file: web_sys::File) {
        let Some(sink) = self.run(|driver| {
            driver.import = Some(ImportInfo::reading(&file.name()));
            driver.sink.clone()
        }) else {
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            let bytes = if file.size() > chainfile::MAX_FILE_BYTES as f64 {
                Err(chainfile::ChainFileError::TooLarge {
                    size: file.size() as usize,
                }
                .to_string())
            } else {
                crate::js::read_file(&file)
                    .await
                    .map_err(|err| describe(&err))
            };
            sink.send(Input::ChainFile(bytes));
        });
    }

    /// Pays `amount` coins (text as typed) to `to`; returns the transaction id. The
    /// coins are chosen in one transaction with the profile's other tabs' payments
    /// ([`WalletStore::spend`]), so two tabs never spend the same coin.
    pub async fn pay(&self, to: String, amount: String) -> Result<String, PayError> {
        let shared = self.shared.clone().ok_or(PayError::NotRunning)?;
        let (store, network) = {
            let driver = shared.driver.borrow();
            let store = driver
                .wallet
                .as_ref()
                .ok_or(PayError::NotRunning)?
                .1
                .clone();
            (store, driver.network_name())
        };
        let build = |reserved: &HashSet<OutPoint>| run(&shared, |d| d.pay(&to, &amount, reserved));
        match store {
            Some(store) => store
                .spend(&network, now(), build)
                .await
                .map_err(PayError::Storage)?,
            None => build(&HashSet::new()).map(|(id, _)| id),
        }
    }

    /// The wallet's backup code, to copy or scan on another device.
    pub fn wallet_code(&self) -> Option<String> {
        self.run(|driver| {
            let (wallet, _) = driver.wallet.as_ref()?;
            Some(backup::encode(&wallet.key().seed()))
        })
        .flatten()
    }

    /// Makes the wallet of `code` this profile's, then reloads the page with it.
    pub async fn restore_wallet(&self, code: String) -> Result<(), String> {
        let seed = backup::decode(&code).map_err(|err| err.to_string())?;
        let store = self
            .run(|driver| driver.wallet.as_ref().and_then(|(_, store)| store.clone()))
            .flatten()
            .ok_or("this browser keeps no wallet (no IndexedDB)")?;
        store.replace_seed(seed).await?;
        let _ = window().location().reload();
        Ok(())
    }

    fn run<R>(&self, command: impl FnOnce(&mut Driver) -> R) -> Option<R> {
        self.shared.as_ref().map(|shared| run(shared, command))
    }
}

/// Handles `input` now, or after the input being handled if the driver is busy.
fn deliver(shared: &Rc<Shared>, input: Input) {
    if shared.driver.try_borrow_mut().is_ok() {
        run(shared, |driver| driver.handle(input));
    } else {
        shared.queue.borrow_mut().push_back(input);
    }
}

fn run<R>(shared: &Shared, command: impl FnOnce(&mut Driver) -> R) -> R {
    let (result, view) = {
        let mut driver = shared.driver.borrow_mut();
        let result = command(&mut driver);
        loop {
            driver.pump();
            let Some(input) = shared.queue.borrow_mut().pop_front() else {
                break;
            };
            driver.handle(input);
        }
        driver.arm_timer();
        (result, driver.take_view())
    };
    // Outside the borrow: the page may send a command while it draws.
    if let Some(view) = view {
        (shared.on_view)(view);
    }
    result
}

fn listen_for_page_exit(sink: Sink<Input>) {
    let on_hide = forever(Closure::<dyn FnMut()>::new(move || {
        sink.send(Input::PageHide)
    }));
    // A page restored from the back/forward cache has closed every link on `pagehide`:
    // start it afresh.
    let on_show = forever(Closure::<dyn FnMut(PageTransitionEvent)>::new(
        |event: PageTransitionEvent| {
            if event.persisted() {
                let _ = window().location().reload();
            }
        },
    ));
    let _ = window().add_event_listener_with_callback("pagehide", &on_hide);
    let _ = window().add_event_listener_with_callback("pageshow", &on_show);
}

struct Driver {
    node: Node,
    /// This tab's node key: its id on the network (per tab).
    key: SecretKey,
    /// The profile's wallet, shared by its tabs, and where its reservations are kept;
    /// known once storage is open.
    wallet: Option<(Wallet, Option<WalletStore>)>,
    settings: Settings,
    sink: Sink<Input>,
    timer: Timer,
    links: Links,
    conns: HashMap<NodeId, Conn>,
    paths_due: Timestamp,
    server: Server,
    /// Started when the page names relays, or has no signaling server.
    relays: Option<Relays>,
    local: Option<LocalRoom>,
    /// Sent with this tab's `Hello`: what an older tab with the same key must sign.
    hello_nonce: [u8; 32],
    /// When this tab last said `here`, and when it owes the channel its next one.
    here_at: Timestamp,
    here_due: Option<Timestamp>,
    miners: Miners,
    store: Option<Store>,
    loaded: usize,
    corrupt: usize,
    durable: Durable,
    /// Blocks to write at the end of this turn.
    unwritten: Vec<Block>,
    /// Blocks whose write failed, tried again with the next write.
    rewrite: HashSet<Hash>,
    /// How the last chain file loaded.
    import: Option<ImportInfo>,
    /// The block the page's inspector asks for.
    inspect: Option<Hash>,
    /// The tamper lab's edit, and its last offer to peers.
    tamper: Option<Tamper>,
    /// The workers re-mining the lab's copy, and the block once they solved it.
    remine: Option<RemineInfo>,
    remined: Option<Block>,
    offer: Option<OfferReport>,
    /// `pagehide` came: the node said goodbye and everything is closed.
    closed: bool,
    log: Log,
    dirty: bool,
    last_view: Timestamp,
    view_due: Option<Timestamp>,
}

impl Driver {
    fn new(settings: Settings, sink: Sink<Input>) -> Driver {
        let now = now();
        let key = identity::load_or_create();
        let mut config = Config::default();
        if let Some(links) = settings.links {
            // One slot above the target takes a newcomer in: with none, a group of tabs
            // that filled each other's slots would shut the rest of the room out.
            config.target_peers = links;
            config.max_peers = links + 1;
        }
        let node = Node::new(config, key.clone(), settings.params(), random_u64(), now);
        let location = window().location();
        let url = settings.signal_url(
            &location.protocol().unwrap_or_default(),
            &location.host().unwrap_or_default(),
        );
        let workers = settings.workers.unwrap_or_else(default_workers);
        let timer = Timer::new({
            let sink = sink.clone();
            move || sink.send(Input::Tick)
        });
        let mut log = Log::default();
        let mut miners = Miners::new(workers, settings.simd, sink.map(Input::Miner));
        if let Err(err) = miners.start() {
            let text = format!("could not start the mining workers: {}", describe(&err));
            warn(&text);
            log.push(now, LogKind::Warning, text);
        }
        Driver {
            miners,
            links: Links::new(node.id(), random_u64()),
            conns: HashMap::new(),
            paths_due: now,
            node,
            wallet: None,
            key,
            settings,
            timer,
            server: Server {
                url,
                socket: None,
                seen: false,
                state: SignalState::Connecting,
                detail: "reading stored blocks".into(),
                ice: Vec::new(),
                retry_at: None,
                backoff: Backoff::new(SERVER_RETRY_FIRST_MS, SERVER_RETRY_LONGEST_MS, random_u64()),
            },
            relays: None,
            local: None,
            hello_nonce: random_bytes(),
            here_at: Timestamp(0),
            here_due: None,
            store: None,
            loaded: 0,
            corrupt: 0,
            durable: Durable::default(),
            unwritten: Vec::new(),
            rewrite: HashSet::new(),
            import: None,
            inspect: None,
            tamper: None,
            remine: None,
            remined: None,
            offer: None,
            closed: false,
            log,
            dirty: true,
            last_view: Timestamp(0),
            view_due: None,
            sink,
        }
    }

    /// The IndexedDB database and BroadcastChannel of this room and rule set.
    fn network_name(&self) -> String {
        let genesis = self.node.ledger().chain().genesis_hash().to_string();
        format!(
            "tabchain-{}-{}",
            self.settings.room.as_str(),
            &genesis[..16]
        )
    }

    fn handle(&mut self, input: Input) {
        self.dirty = true;
        if self.closed {
            return;
        }
        let now = now();
        match input {
            Input::Tick => {
                self.timer.fired();
                self.on_tick(now);
            }
            Input::Loaded { blocks, wallet } => {
                self.on_wallet(now, wallet);
                self.on_loaded(now, blocks);
            }
            Input::Server(event) => self.on_server(now, event),
            Input::Relay { relay, event } => self.on_relay(now, relay, event),
            Input::Local(message) => self.on_local(now, message),
            Input::Rtc {
                peer,
                session,
                event,
            } => self.on_rtc(now, peer, session, event),
            Input::Miner(report) => {
                if report.report.is_none() {
                    self.warn(format!("mining worker {} failed", report.worker));
                }
                if let Some(block) = self.miners.on_report(report, now) {
                    match &mut self.remine {
                        // The lab's copy, not a block for the chain.
                        Some(remine) if remine.found.is_none() && !remine.interrupted => {
                            remine.found = Some((now, block.hash().to_string()));
                            self.remined = Some(block);
                            self.dirty = true;
                        }
                        _ => {
                            if let Err(err) = self.node.handle_event(now, Event::MinedBlock(block))
                            {
                                self.warn(format!("{err}"));
                            }
                        }
                    }
                }
            }
            Input::Stored(hashes, result) => {
                if let Err(err) = &result {
                    self.warn(format!("could not store {} blocks: {err}", hashes.len()));
                    // The next write carries them again: a full disk may have room later.
                    self.rewrite.extend(&hashes);
                }
                for hash in hashes {
                    self.durable.written(hash, result.clone());
                }
            }
            Input::ChainFile(bytes) => self.on_chain_file(now, bytes),
            Input::PageHide => self.on_page_hide(now),
        }
    }

    fn on_tick(&mut self, now: Timestamp) {
        self.node.handle_timeout(now);
        self.links.handle_timeout(now);
        if let Some(relays) = &mut self.relays {
            relays.pool.handle_timeout(now);
        }
        if self.paths_due <= now {
            self.paths_due = now.saturating_add(PATH_INTERVAL_MS);
            for (peer, conn) in &self.conns {
                if self.links.is_open(peer, conn.session) {
                    conn.link.read_path();
                }
            }
        }
        if self.server.retry_at.is_some_and(|at| at <= now) {
            self.server.retry_at = None;
            self.connect_server(now);
        }
        self.say_here(now);
        if self.view_due.is_some_and(|at| at <= now) {
            self.view_due = None;
        }
    }

    fn on_wallet(&mut self, now: Timestamp, wallet: Result<(WalletStore, [u8; 32]), String>) {
        self.wallet = Some(match wallet {
            Ok((store, seed)) => (Wallet::new(SecretKey::from_seed(seed)), Some(store)),
            Err(err) => {
                self.log.push(
                    now,
                    LogKind::Warning,
                    format!("no wallet storage ({err}): this tab's coins will not outlive it"),
                );
                (Wallet::new(SecretKey::from_seed(random_bytes())), None)
            }
        });
        // Peers learn our wallet's address in the handshake, to name our blocks.
        if let Some((wallet, _)) = &self.wallet {
            let payee = Payee::new(wallet.key(), &self.key.public_key());
            self.node.set_payee(Some(payee));
        }
    }

    /// Where mined coins and payments go: the profile's wallet, once it is known.
    fn address(&self) -> Option<Address> {
        self.wallet.as_ref().map(|(wallet, _)| wallet.address())
    }

    fn on_loaded(&mut self, now: Timestamp, loaded: Result<(Store, Records), String>) {
        match loaded {
            Ok((store, records)) => {
                let mut blocks = Vec::with_capacity(records.len());
                for (key, bytes) in records {
                    match record::decode(&key, &bytes) {
                        Ok(block) => blocks.push(block),
                        Err(err) => {
                            self.corrupt += 1;
                            store.delete(&key);
                            self.warn(format!("dropped stored block {key:.12}: {err}"));
                        }
                    }
                }
                // Refused records are forgotten through the node's `ForgetBlock`s.
                let report = self.node.load_stored(now, blocks);
                self.durable
                    .loaded(report.stored.iter().chain(&report.waiting).copied());
                self.loaded = report.stored.len();
                self.corrupt += report.refused.len();
                for (hash, err) in &report.refused {
                    self.warn(format!(
                        "dropped stored block {:.12}: {err}",
                        hash.to_string()
                    ));
                }
                if !report.waiting.is_empty() {
                    self.warn(format!(
                        "{} stored blocks wait for a missing ancestor, to be fetched again",
                        report.waiting.len()
                    ));
                }
                self.log.push(
                    now,
                    LogKind::Block,
                    format!(
                        "read {} stored blocks, height {}",
                        self.loaded,
                        self.node.height()
                    ),
                );
                self.store = Some(store);
            }
            Err(err) => {
                self.durable.failed(format!("no IndexedDB: {err}"));
                self.warn(format!(
                    "no IndexedDB ({err}): blocks will not survive a reload"
                ));
            }
        }
        self.connect_server(now);
        if self.settings.relays.is_some() {
            self.start_relays(now);
        }
        match LocalRoom::join(&self.network_name(), self.sink.map(Input::Local)) {
            Ok(room) => {
                room.post(&Broadcast::Hello {
                    from: self.node.id().to_string(),
                    nonce: hex::encode(self.hello_nonce),
                });
                self.local = Some(room);
            }
            Err(err) => self.warn(format!("no BroadcastChannel: {}", describe(&err))),
        }
    }

    // The signaling server.

    fn connect_server(&mut self, now: Timestamp) {
        self.server.state = SignalState::Connecting;
        self.server.detail.clear();
        match TextSocket::open(&self.server.url, self.sink.map(Input::Server)) {
            Ok(socket) => self.server.socket = Some(socket),
            Err(err) => {
                let why = describe(&err);
                self.server_lost(now, why);
            }
        }
    }

    fn server_lost(&mut self, now: Timestamp, why: String) {
        self.server.socket = None;
        self.links.server_lost();
        self.server.state = SignalState::Offline;
        let delay = self.server.backoff.next_delay_ms();
        self.server.retry_at = Some(now.saturating_add(delay));
        self.server.detail = format!("{why}; trying again in {:.1} s", delay as f64 / 1000.0);
        // A page with no signaling server of its own (a static site) meets its room
        // through public relays; one that names another server relies on it.
        if !self.server.seen && self.settings.signal.is_none() {
            self.start_relays(now);
        }
    }

    fn on_server(&mut self, now: Timestamp, event: SocketEvent) {
        let message = match event {
            SocketEvent::Open => return,
            SocketEvent::Text(text) => match ServerMessage::parse(&text) {
                Ok(message) => message,
                Err(err) => {
                    return self.warn(format!("signaling server sent {err}: {text:.80}"));
                }
            },
            SocketEvent::Closed { code, reason } => {
                let why = match (self.server.state, reason.is_empty()) {
                    (SignalState::Connected, true) => "the server closed".to_owned(),
                    (_, true) => format!("no server at {} (code {code})", self.server.url),
                    (_, false) => format!("the server closed: {reason}"),
                };
                if self.server.state == SignalState::Connected {
                    self.log.push(now, LogKind::Warning, why.clone());
                }
                return self.server_lost(now, why);
            }
        };
        match message {
            ServerMessage::Challenge { nonce } => {
                if let Some(socket) = &self.server.socket {
                    socket.send(&hello(&self.key, &self.settings.room, &nonce).to_json());
                }
            }
            ServerMessage::Welcome {
                peers, ice_servers, ..
            } => {
                self.server.state = SignalState::Connected;
                self.server.seen = true;
                self.server.detail.clear();
                self.server.backoff.reset();
                self.server.ice = ice_servers;
                self.links.server_joined(peers.iter().copied());
                self.log.push(
                    now,
                    LogKind::Peer,
                    format!(
                        "joined room {} on the signaling server: {} tabs there",
                        self.settings.room.as_str(),
                        peers.len()
                    ),
                );
                let _ = self.node.handle_event(now, Event::PeersKnown(peers));
            }
            ServerMessage::PeerJoined { peer_id } => {
                self.links.server_peer_joined(peer_id);
                let _ = self
                    .node
                    .handle_event(now, Event::PeersKnown(vec![peer_id]));
            }
            ServerMessage::PeerLeft { peer_id } => {
                self.links.server_peer_left(peer_id);
            }
            ServerMessage::Signal { from, payload } => {
                match serde_json::from_value::<Signal>(payload) {
                    Ok(signal) => self.links.handle_signal(now, from, Route::Server, signal),
                    Err(err) => self.warn(format!("unreadable signal from {from}: {err}")),
                }
            }
            ServerMessage::Error { code, message } => {
                self.warn(format!("signaling server: {}: {message}", code.as_str()));
            }
        }
    }

    // Nostr relays.

    fn start_relays(&mut self, now: Timestamp) {
        if self.relays.is_some() {
            return;
        }
        let urls: Vec<String> = match &self.settings.relays {
            Some(urls) => urls.clone(),
            None => DEFAULT_RELAYS.iter().map(|url| (*url).to_owned()).collect(),
        };
        let genesis = self.node.ledger().chain().genesis_hash();
        let room = RoomKey::derive(genesis, &self.settings.secret);
        let mut pool = Pool::new(room, self.key.clone(), &urls, random_bytes());
        pool.start();
        self.log.push(
            now,
            LogKind::Peer,
            format!("meeting the room through {} Nostr relays", urls.len()),
        );
        self.relays = Some(Relays {
            pool,
            sockets: urls.iter().map(|_| None).collect(),
        });
    }

    fn on_relay(&mut self, now: Timestamp, relay: usize, event: SocketEvent) {
        let Some(relays) = &mut self.relays else {
            return;
        };
        match event {
            SocketEvent::Open => relays.pool.opened(now, relay),
            SocketEvent::Text(text) => relays.pool.received(now, relay, &text),
            SocketEvent::Closed { code, reason } => {
                if let Some(socket) = relays.sockets.get_mut(relay) {
                    *socket = None;
                }
                let why = if reason.is_empty() {
                    format!("closed (code {code})")
                } else {
                    format!("closed: {reason}")
                };
                relays.pool.closed(now, relay, why);
            }
        }
    }

    fn pool_action(&mut self, now: Timestamp, action: PoolAction) {
        let Some(relays) = &mut self.relays else {
            return;
        };
        match action {
            PoolAction::Connect { relay, url } => {
                let sink = self.sink.map(move |event| Input::Relay { relay, event });
                match TextSocket::open(&url, sink) {
                    Ok(socket) => relays.sockets[relay] = Some(socket),
                    Err(err) => relays.pool.closed(now, relay, describe(&err)),
                }
            }
            PoolAction::Send { relay, text } => {
                if let Some(socket) = &relays.sockets[relay] {
                    socket.send(&text);
                }
            }
            PoolAction::Disconnect { relay } => relays.sockets[relay] = None,
            PoolAction::Heard(note) => {
                let from = note.from;
                match note.body {
                    Body::Hello | Body::Here => {
                        self.links.nostr_here(from);
                        // A tab with a link meets the rest through the mesh; it only
                        // answers hellos, so that the newcomer dials it.
                        if !self.links.any_open() {
                            let _ = self.node.handle_event(now, Event::PeersKnown(vec![from]));
                        }
                    }
                    Body::Bye => self.links.nostr_gone(from),
                    Body::Signals { signals } => {
                        for signal in signals {
                            self.links.handle_signal(now, from, Route::Nostr, signal);
                        }
                    }
                }
            }
        }
    }

    // Tabs of this browser.

    fn on_local(&mut self, now: Timestamp, message: Broadcast) {
        let me = self.node.id();
        let parse = |id: &str| id.parse::<NodeId>().ok();
        match message {
            // A duplicated tab starts with a copy of this tab's sessionStorage, so with
            // its identity: the older tab proves it holds the key over the copy's nonce,
            // and the copy takes a new one. Any page of this origin can post here, so a
            // claim without that proof changes nothing (it would cost the tab its key,
            // which is its wallet).
            Broadcast::Hello { from, nonce } if parse(&from) == Some(me) => {
                if let (Some(room), Ok(bytes)) =
                    (&self.local, tabchain_core::keys::parse_hex::<32>(&nonce))
                {
                    let signature = self.key.sign(&wire::taken_bytes(&bytes));
                    room.post(&Broadcast::Taken {
                        from,
                        nonce,
                        signature: signature.to_string(),
                    });
                }
            }
            Broadcast::Taken {
                from,
                nonce,
                signature,
            } if parse(&from) == Some(me) => {
                let proven = nonce == hex::encode(self.hello_nonce)
                    && signature.parse().is_ok_and(|signature| {
                        self.key
                            .public_key()
                            .verify(&wire::taken_bytes(&self.hello_nonce), &signature)
                            .is_ok()
                    });
                if proven {
                    identity::forget();
                    let _ = window().location().reload();
                } else {
                    self.warn("ignored an unproven claim that this tab's id is taken".into());
                }
            }
            Broadcast::Taken { .. } => {}
            Broadcast::Hello { from, .. } => {
                if let Some(peer) = parse(&from) {
                    self.here_due = Some(now.max(self.here_at.saturating_add(HERE_GAP_MS)));
                    self.say_here(now);
                    self.links.local_here(peer);
                    let _ = self.node.handle_event(now, Event::PeersKnown(vec![peer]));
                }
            }
            Broadcast::Here { from } => {
                if let Some(peer) = parse(&from) {
                    self.links.local_here(peer);
                    let _ = self.node.handle_event(now, Event::PeersKnown(vec![peer]));
                }
            }
            Broadcast::Bye { from } => {
                if let Some(peer) = parse(&from) {
                    self.links.local_gone(peer);
                }
            }
            Broadcast::Signal { from, to, signal } => {
                if let (Some(peer), Some(to)) = (parse(&from), parse(&to)) {
                    if to == me {
                        self.links.handle_signal(now, peer, Route::Local, signal);
                    }
                }
            }
        }
    }

    // Links: the link manager decides, this carries it out.

    /// Posts the `here` the channel is owed, once its time has come.
    fn say_here(&mut self, now: Timestamp) {
        if self.here_due.is_none_or(|due| due > now) {
            return;
        }
        if let Some(room) = &self.local {
            room.post(&Broadcast::Here {
                from: self.node.id().to_string(),
            });
        }
        self.here_at = now;
        self.here_due = None;
    }

    fn ice_servers(&self) -> Vec<IceServer> {
        let mut servers = self.settings.ice.clone();
        servers.extend(self.server.ice.iter().cloned());
        servers
    }

    fn rtc_sink(&self, peer: NodeId, session: u64) -> Sink<RtcEvent> {
        self.sink.map(move |event| Input::Rtc {
            peer,
            session,
            event,
        })
    }

    fn conn(&mut self, peer: &NodeId, session: u64) -> Option<&mut Conn> {
        self.conns
            .get_mut(peer)
            .filter(|conn| conn.session == session)
    }

    fn on_rtc(&mut self, now: Timestamp, peer: NodeId, session: u64, event: RtcEvent) {
        let Some(conn) = self.conn(&peer, session) else {
            return;
        };
        match event {
            RtcEvent::LocalDescription(sdp) => self.links.described(peer, session, sdp),
            RtcEvent::RemoteSet => conn.link.remote_set(),
            RtcEvent::LocalCandidate(candidate) => {
                self.links.local_candidate(peer, session, candidate)
            }
            RtcEvent::Channel(channel) => conn.link.attach(channel),
            RtcEvent::Open => {
                self.links.channel_open(peer, session);
            }
            RtcEvent::Message(bytes) => {
                // A frame can come before the channel's `open` event, and before DTLS's
                // certificates are read: the node must hear of the link first, and
                // must not miss the frame.
                if !self.links.channel_open(peer, session) {
                    return;
                }
                self.pump();
                let Some(conn) = self.conn(&peer, session) else {
                    return;
                };
                match &mut conn.early {
                    None => {
                        let _ = self.node.handle_event(now, Event::Message { peer, bytes });
                    }
                    Some(early) if early.len() < MAX_EARLY_FRAMES => early.push(bytes),
                    Some(_) => self.links.transport_closed(
                        peer,
                        session,
                        format!("more than {MAX_EARLY_FRAMES} frames before the handshake"),
                    ),
                }
            }
            RtcEvent::Bound(binding) => {
                let Some(early) = conn.early.take() else {
                    return;
                };
                conn.link.read_path();
                let _ = self
                    .node
                    .handle_event(now, Event::PeerConnected { peer, binding });
                for bytes in early {
                    let _ = self.node.handle_event(now, Event::Message { peer, bytes });
                }
            }
            RtcEvent::Path(path) => {
                if conn.path.as_ref() != Some(&path) {
                    let text = format!(
                        "link to {} goes {}: {}",
                        crate::names::friendly_name(&peer),
                        path.path.as_str(),
                        path.detail
                    );
                    conn.path = Some(path);
                    self.log.push(now, LogKind::Peer, text);
                }
            }
            RtcEvent::Closed(why) => self.links.transport_closed(peer, session, why),
        }
    }

    fn link_action(&mut self, now: Timestamp, action: LinkAction) {
        match action {
            LinkAction::Offer { peer, session } => {
                match Link::offer(&self.ice_servers(), self.rtc_sink(peer, session)) {
                    Ok(link) => self.keep(peer, session, link),
                    Err(err) => {
                        let why = format!("could not make an offer: {}", describe(&err));
                        self.links.transport_closed(peer, session, why);
                    }
                }
            }
            LinkAction::Answer { peer, session, sdp } => {
                match Link::answer(&sdp, &self.ice_servers(), self.rtc_sink(peer, session)) {
                    Ok(link) => self.keep(peer, session, link),
                    Err(err) => {
                        let why = format!("could not answer: {}", describe(&err));
                        self.links.transport_closed(peer, session, why);
                    }
                }
            }
            LinkAction::AcceptAnswer { peer, session, sdp } => {
                if let Some(conn) = self.conn(&peer, session) {
                    conn.link.accept_answer(&sdp);
                }
            }
            LinkAction::AddCandidate {
                peer,
                session,
                candidate,
            } => {
                if let Some(conn) = self.conn(&peer, session) {
                    conn.link.add_candidate(&candidate);
                }
            }
            LinkAction::Send {
                peer,
                route,
                signal,
            } => {
                if let Err(why) = self.send_signal(peer, route, signal) {
                    self.links.unreachable(peer, why);
                }
            }
            LinkAction::Close {
                peer,
                session,
                grace,
            } => {
                if self.conns.get(&peer).is_some_and(|c| c.session == session) {
                    let conn = self.conns.remove(&peer).expect("just looked");
                    if grace {
                        conn.link.close_after(GOODBYE_GRACE_MS);
                    }
                }
            }
            LinkAction::Opened { peer, session } => {
                if let Some(conn) = self.conn(&peer, session) {
                    conn.link.read_binding();
                }
            }
            LinkAction::Node(event) => {
                let _ = self.node.handle_event(now, event);
            }
            LinkAction::Ended { peer, reason } => self.log.push(
                now,
                LogKind::Peer,
                format!(
                    "link to {} ended: {reason}",
                    crate::names::friendly_name(&peer)
                ),
            ),
        }
    }

    fn keep(&mut self, peer: NodeId, session: u64, link: Link) {
        self.conns.insert(
            peer,
            Conn {
                session,
                link,
                path: None,
                early: Some(Vec::new()),
            },
        );
    }

    fn send_signal(&mut self, peer: NodeId, route: Route, signal: Signal) -> Result<(), String> {
        match route {
            Route::Server => match &self.server.socket {
                Some(socket) if self.server.state == SignalState::Connected => {
                    let payload = serde_json::to_value(&signal).expect("signals always encode");
                    socket.send(&ClientMessage::Signal { to: peer, payload }.to_json());
                    Ok(())
                }
                _ => Err("the signaling server is gone".to_owned()),
            },
            Route::Local => match &self.local {
                Some(room) => {
                    room.post(&Broadcast::Signal {
                        from: self.node.id().to_string(),
                        to: peer.to_string(),
                        signal,
                    });
                    Ok(())
                }
                None => Err("no BroadcastChannel".to_owned()),
            },
            Route::Nostr => match &mut self.relays {
                Some(relays) => relays.pool.send_signal(now(), peer, signal),
                None => Err("no Nostr relays".to_owned()),
            },
            Route::Mesh => self
                .node
                .send_signal(peer, signal.to_bytes())
                .map_err(|err| err.to_string()),
        }
    }

    fn on_page_hide(&mut self, now: Timestamp) {
        self.node.shutdown(now);
        self.pump();
        // Goodbyes are on their way; closing now still lets them leave (the channel
        // flushes before the connection is torn down), and the tab will not wait.
        self.links.close_all();
        self.conns.clear();
        if let Some(room) = &self.local {
            room.post(&Broadcast::Bye {
                from: self.node.id().to_string(),
            });
        }
        self.local = None;
        self.server.socket = None;
        if let Some(relays) = &mut self.relays {
            relays.pool.leave(now);
            while let Some(action) = relays.pool.poll_action() {
                if let PoolAction::Send { relay, text } = action {
                    if let Some(socket) = &relays.sockets[relay] {
                        socket.send(&text);
                    }
                }
            }
        }
        self.relays = None;
        self.miners.stop();
        self.closed = true;
    }

    // The node's actions.

    /// Carries out every action the node and the link manager have queued (each may
    /// give the other more), and logs the node's events.
    fn pump(&mut self) {
        let now = now();
        loop {
            if let Some(action) = self.node.poll_action() {
                self.node_action(now, action);
            } else if let Some(action) = self.links.poll_action() {
                self.link_action(now, action);
            } else if let Some(action) = self.relays.as_mut().and_then(|r| r.pool.poll_action()) {
                self.pool_action(now, action);
            } else {
                break;
            }
        }
        if let Some(relays) = &mut self.relays {
            relays.pool.set_looking(!self.links.any_open());
        }
        while let Some(event) = self.node.poll_event() {
            self.log.node_event(now, &event);
        }
        self.write_blocks();
    }

    /// Writes the blocks the node asked to store since the last call, in one
    /// transaction: a synced or loaded chain comes in thousands at once.
    fn write_blocks(&mut self) {
        let Some(store) = self.store.clone().filter(|_| !self.unwritten.is_empty()) else {
            return;
        };
        let mut blocks = std::mem::take(&mut self.unwritten);
        let chain = self.node.ledger().chain();
        for hash in std::mem::take(&mut self.rewrite) {
            if let Some(block) = chain.block(&hash) {
                self.durable.writing();
                blocks.push(block.clone());
            }
        }
        let sink = self.sink.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let hashes: Vec<Hash> = blocks.iter().map(|block| block.hash()).collect();
            let records: Vec<(String, Vec<u8>)> = hashes
                .iter()
                .zip(&blocks)
                .map(|(hash, block)| (hash.to_string(), block.encode()))
                .collect();
            let result = store.put_all(&records).await;
            sink.send(Input::Stored(hashes, result));
        });
    }

    fn node_action(&mut self, now: Timestamp, action: Action) {
        match action {
            Action::Send { peer, bytes } => {
                if let Some(conn) = self
                    .conns
                    .get(&peer)
                    .filter(|conn| self.links.is_open(&peer, conn.session))
                {
                    conn.link.send(&bytes);
                }
            }
            Action::Disconnect { peer, .. } => self.links.close(&peer),
            Action::Connect { peer } => self.links.dial(now, peer),
            Action::Signal { from, payload } => match Signal::from_bytes(&payload) {
                Ok(signal) => self.links.handle_signal(now, from, Route::Mesh, signal),
                Err(err) => self.warn(format!("unreadable signal relayed from {from}: {err}")),
            },
            Action::MineTemplate(template) => {
                self.stop_remining();
                self.miners.mine(template);
            }
            Action::StopMining => self.miners.stop(),
            Action::StoreBlock(block) => {
                if self.store.is_some() {
                    self.durable.writing();
                    self.unwritten.push(block);
                }
            }
            Action::ForgetBlock(hash) => {
                self.durable.forgotten(&hash);
                if let Some(store) = &self.store {
                    store.delete(&hash.to_string());
                }
            }
        }
    }

    fn arm_timer(&mut self) {
        let earliest = [
            self.node.poll_timeout(),
            self.links.poll_timeout(),
            (!self.conns.is_empty()).then_some(self.paths_due),
            self.server.retry_at,
            self.here_due,
            self.relays.as_ref().and_then(|r| r.pool.poll_timeout()),
            self.view_due,
        ]
        .into_iter()
        .flatten()
        .min();
        self.timer.arm(earliest, now());
    }

    // Commands.

    fn save_chain(&mut self) {
        let chain = self.node.ledger().chain();
        let blocks = (1..=chain.height())
            .filter_map(|height| chain.block(&chain.hash_at(height)?).cloned())
            .collect();
        let room = self.settings.room.as_str();
        let bytes = chainfile::encode(room, chain.genesis_hash(), blocks);
        let name = chainfile::file_name(room, chain.height());
        if let Err(err) = crate::js::download(&name, &bytes) {
            self.warn(format!("could not save the chain: {}", describe(&err)));
        }
    }

    fn on_chain_file(&mut self, now: Timestamp, bytes: Result<Vec<u8>, String>) {
        let genesis = self.node.ledger().chain().genesis_hash();
        let outcome = bytes
            .and_then(|bytes| chainfile::decode(&bytes, genesis).map_err(|err| err.to_string()));
        let name = self.import.take().map(|i| i.file).unwrap_or_default();
        let info = match outcome {
            Err(err) => ImportInfo::refused(&name, err),
            Ok(blocks) => {
                let count = blocks.len();
                let report = self.node.import(now, blocks);
                let height = self.node.height();
                match report.refused.first() {
                    Some((hash, err)) => ImportInfo::refused(
                        &name,
                        format!("block {:.12} is not valid: {err} (height now {height})", hash.to_string()),
                    ),
                    None if !report.waiting.is_empty() => ImportInfo::refused(
                        &name,
                        format!(
                            "{} of its {count} blocks do not connect to this chain (height now {height})",
                            report.waiting.len()
                        ),
                    ),
                    None => ImportInfo::done(&name, format!("{count} blocks checked: height {height}")),
                }
            }
        };
        self.log.push(
            now,
            LogKind::Block,
            format!("chain file {}: {}", info.file, info.text),
        );
        self.import = Some(info);
    }

    /// Pays from coins not `reserved`; returns the payment's id and the coins it spent.
    fn pay(
        &mut self,
        to: &str,
        amount: &str,
        reserved: &HashSet<OutPoint>,
    ) -> Result<(String, Vec<OutPoint>), PayError> {
        let to: Address = to
            .trim()
            .parse()
            .map_err(|err: tabchain_core::keys::ParseError| PayError::Address(err.to_string()))?;
        let amount = parse_coins(amount).ok_or(PayError::Amount)?;
        let (wallet, _) = self.wallet.as_ref().ok_or(PayError::NotRunning)?;
        let id = self.node.pay(now(), wallet, to, amount, reserved)?;
        let spent = self
            .node
            .ledger()
            .mempool()
            .get(&id)
            .map(|entry| entry.tx.inputs.iter().map(|input| input.prev).collect())
            .unwrap_or_default();
        Ok((id.to_string(), spent))
    }

    /// The tab's own mining (or a new edit) takes the workers back from the lab's copy.
    /// Their job ends here, so that a late solution never reaches the node as mined.
    fn stop_remining(&mut self) {
        if let Some(remine) = self
            .remine
            .as_mut()
            .filter(|r| r.found.is_none() && !r.interrupted)
        {
            remine.interrupted = true;
            self.miners.stop();
            self.dirty = true;
        }
    }

    // The view.

    fn warn(&mut self, text: String) {
        warn(&text);
        self.log.push(now(), LogKind::Warning, text);
    }

    /// A new view if something changed and the last one is old enough; otherwise the
    /// timer is set for when it will be.
    fn take_view(&mut self) -> Option<View> {
        let now = now();
        if !self.dirty {
            return None;
        }
        // Nothing to show before the wallet is known (storage opens within moments).
        let address = self.address()?;
        let next = self.last_view.saturating_add(VIEW_INTERVAL_MS);
        if now < next {
            if self.view_due.is_none() {
                self.view_due = Some(next);
                self.arm_timer();
            }
            return None;
        }
        self.dirty = false;
        self.last_view = now;
        // A page whose own server never answered, meeting its room through relays: its
        // retries go on quietly.
        let static_site =
            self.relays.is_some() && !self.server.seen && self.server.state == SignalState::Offline;
        let surroundings = Surroundings {
            room: self.settings.room.as_str(),
            address,
            signal: SignalInfo {
                state: if static_site {
                    SignalState::Absent
                } else {
                    self.server.state
                },
                url: self.server.url.clone(),
                detail: if static_site {
                    String::new()
                } else {
                    self.server.detail.clone()
                },
                local_tabs: self.links.local_tabs(),
                relays: self
                    .relays
                    .iter()
                    .flat_map(|r| r.pool.status())
                    .map(RelayInfo::from)
                    .collect(),
                relay_bytes: self.relays.as_ref().map_or(0, |r| r.pool.bytes_published()),
            },
            dialing: self.links.dialing().collect(),
            paths: self
                .conns
                .iter()
                .filter_map(|(peer, conn)| Some((*peer, conn.path.clone()?)))
                .collect(),
            miner: MinerInfo {
                mining: self.node.mining().is_some(),
                workers: self.miners.wanted(),
                path: self.miners.path(),
                hashrate: self.miners.hashrate(now),
                blocks_found: self.miners.found(),
            },
            loaded: self.loaded,
            corrupt: self.corrupt,
            import: self.import.clone(),
            inspect: self.inspect,
            tamper: self.tamper,
            remine: self.remine.clone(),
            offer: self.offer.clone(),
            stored: StoredInfo {
                height: self.durable.height(self.node.ledger().chain()),
                writing: self.durable.pending(),
                error: self.durable.error().map(str::to_owned),
            },
            log: self.log.lines(),
        };
        Some(View::build(&self.node, surroundings, now))
    }
}

/// One worker per core, leaving one for the page, at least one.
fn default_workers() -> usize {
    let cores = window().navigator().hardware_concurrency() as usize;
    cores.saturating_sub(1).max(1)
}
