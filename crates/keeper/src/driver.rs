//! The keeper's run loop: the same [`Node`] and [`Links`] a tab drives, carried out on a
//! WebSocket to the signaling server, UDP sockets for WebRTC (one per local address, so
//! str0m knows where each datagram arrived), a redb store and a mining thread.
//!
//! Each turn feeds one input (a server message, a datagram, a solved block, a timer),
//! then [`Keeper::pump`]s: the node's and the link manager's actions are carried out
//! until neither has more, every link's str0m output is sent, the blocks the node asked
//! to store are committed in one transaction, and the summary is refreshed.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the native edge: str0m runs on std::time::Instant, and the node's time comes from the system clock here"
)]

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tabchain_core::{Address, Block, Hash, NodeId, Params, SecretKey, Timestamp};
use tabchain_node::link::{LinkAction, Links, Route, Signal};
use tabchain_node::{Action, Config, Event, Node};
use tabchain_signal::{hello, Backoff, ClientMessage, RoomName, ServerMessage};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::identity::{self, IdentityError};
use crate::miner::Miner;
use crate::rtc::{Conn, ConnEvent};
use crate::store::{Store, StoreError};
use crate::summary::Summary;

/// How soon a lost signaling server is tried again, doubling up to the longest.
const SERVER_RETRY_FIRST_MS: u64 = 500;
const SERVER_RETRY_LONGEST_MS: u64 = 10_000;
/// The largest UDP datagram read; WebRTC's are under 1500 bytes.
const DATAGRAM: usize = 2048;

/// What a keeper keeps, and where.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The signaling server's WebSocket endpoint, `ws://host:port/ws`.
    pub signal: String,
    pub room: RoomName,
    /// The room's rules as its pages state them (`?block_time=`, `?difficulty=`): the
    /// genesis follows from them, and they go to the server with the room's name.
    pub block_time: Option<u64>,
    pub difficulty: Option<u64>,
    /// This room's directory: the node key and the block database.
    pub data: PathBuf,
    /// Mine, paying the rewards to this address.
    pub mine: Option<Address>,
    /// Local addresses to take WebRTC traffic on (host candidates).
    pub hosts: Vec<IpAddr>,
}

impl Settings {
    pub fn params(&self) -> Params {
        Params::for_room(self.room.as_str(), self.block_time, self.difficulty)
    }

    /// The URL a tab with these rules joins by (`Settings::signal_url` of the page).
    fn join_url(&self) -> String {
        let mut url = format!("{}?room={}", self.signal, self.room.as_str());
        if let Some(seconds) = self.block_time {
            url.push_str(&format!("&block_time={seconds}"));
        }
        if let Some(difficulty) = self.difficulty {
            url.push_str(&format!("&difficulty={difficulty}"));
        }
        url
    }
}

/// Why a keeper could not start.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot take WebRTC traffic on {addr}: {source}")]
    Socket {
        addr: IpAddr,
        source: std::io::Error,
    },
}

fn timestamp() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(since.as_millis() as u64)
}

/// Runs a keeper until `shutdown` resolves: it says goodbye to its peers and returns.
pub async fn run(
    settings: Settings,
    summary: watch::Sender<Summary>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), KeeperError> {
    std::fs::create_dir_all(&settings.data).map_err(|source| KeeperError::DataDir {
        path: settings.data.display().to_string(),
        source,
    })?;
    let key = identity::load_or_create(&settings.data)?;
    let store = Store::open(&settings.data.join("blocks.redb"))?;
    let (datagrams_tx, mut datagrams) = mpsc::channel(1024);
    let mut sockets = Vec::new();
    for ip in &settings.hosts {
        let socket = UdpSocket::bind((*ip, 0))
            .await
            .map_err(|source| KeeperError::Socket { addr: *ip, source })?;
        let addr = socket
            .local_addr()
            .map_err(|source| KeeperError::Socket { addr: *ip, source })?;
        let socket = Arc::new(socket);
        tokio::spawn(receive(Arc::clone(&socket), addr, datagrams_tx.clone()));
        sockets.push((addr, socket));
    }
    let (found_tx, mut found) = mpsc::unbounded_channel();
    let mut keeper = Keeper::new(&settings, key, store, sockets, found_tx)?;
    tracing::info!(
        room = settings.room.as_str(),
        keeper = %keeper.node.id(),
        height = keeper.node.height(),
        "keeping the room's chain"
    );
    let mut server = None;
    let mut backoff = Backoff::new(
        SERVER_RETRY_FIRST_MS,
        SERVER_RETRY_LONGEST_MS,
        keeper.seed(),
    );
    let mut retry_at = Instant::now();
    tokio::pin!(shutdown);
    loop {
        keeper.pump();
        summary.send_if_modified(|old| {
            let new = keeper.summary();
            let changed = *old != new;
            *old = new;
            changed
        });
        if server.is_none() && retry_at <= Instant::now() {
            let url = settings.join_url();
            match tokio_tungstenite::connect_async(&url).await {
                Ok((socket, _)) => server = Some(socket),
                Err(err) => {
                    let delay = backoff.next_delay_ms();
                    tracing::warn!("no signaling server at {url}: {err}; again in {delay} ms");
                    retry_at = Instant::now() + Duration::from_millis(delay);
                }
            }
        }
        if let Some(socket) = &mut server {
            let mut failed = false;
            for text in keeper.to_server.drain(..) {
                failed |= socket.send(WsMessage::text(text)).await.is_err();
            }
            if failed {
                server = None;
                keeper.server_lost();
                continue;
            }
        } else {
            keeper.to_server.clear();
        }
        let wake = keeper.next_wake().min(if server.is_none() {
            retry_at
        } else {
            Instant::now() + Duration::from_secs(3600)
        });
        tokio::select! {
            () = &mut shutdown => break,
            frame = next_frame(&mut server) => match frame {
                Some(text) => keeper.on_server(&text),
                None => {
                    server = None;
                    keeper.server_lost();
                    let delay = backoff.next_delay_ms();
                    retry_at = Instant::now() + Duration::from_millis(delay);
                }
            },
            Some((bytes, from, to)) = datagrams.recv() => keeper.on_datagram(&bytes, from, to),
            Some(block) = found.recv() => keeper.on_mined(block),
            () = tokio::time::sleep_until(wake.into()) => keeper.on_timeout(),
        }
        if keeper.joined {
            backoff.reset();
        }
    }
    keeper.shut_down();
    if let Some(socket) = &mut server {
        for text in keeper.to_server.drain(..) {
            let _ = socket.send(WsMessage::text(text)).await;
        }
        let _ = socket.close(None).await;
    }
    Ok(())
}

type ServerSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame from the server, or `None` when it is gone. Pending forever
/// while there is no server, so the select waits on the other inputs.
async fn next_frame(server: &mut Option<ServerSocket>) -> Option<String> {
    let Some(socket) = server else {
        return std::future::pending().await;
    };
    loop {
        match socket.next().await? {
            Ok(WsMessage::Text(text)) => return Some(text.to_string()),
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Reads one socket's datagrams into the loop, with the local address they came to.
async fn receive(
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    sink: mpsc::Sender<(Vec<u8>, SocketAddr, SocketAddr)>,
) {
    let mut buf = vec![0; DATAGRAM];
    while let Ok((len, from)) = socket.recv_from(&mut buf).await {
        if sink.send((buf[..len].to_vec(), from, local)).await.is_err() {
            return;
        }
    }
}

/// Sends a link's datagram from the socket of its source address. A full send buffer
/// drops it, as a network would: SCTP and ICE retransmit.
fn send(sockets: &[(SocketAddr, Arc<UdpSocket>)], datagram: &str0m::net::Transmit) {
    if let Some((_, socket)) = sockets.iter().find(|(addr, _)| *addr == datagram.source) {
        let _ = socket.try_send_to(&datagram.contents, datagram.destination);
    }
}

/// One WebRTC link and the session the link manager knows it by.
#[derive(Debug)]
struct Link {
    session: u64,
    conn: Conn,
    due: Option<Instant>,
}

#[derive(Debug)]
struct Keeper {
    room: RoomName,
    key: SecretKey,
    node: Node,
    links: Links,
    conns: HashMap<NodeId, Link>,
    store: Store,
    stored: usize,
    unwritten: Vec<Block>,
    forgotten: Vec<Hash>,
    /// Each UDP socket with the local address it is bound to (a host candidate).
    sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
    hosts: Vec<SocketAddr>,
    to_server: Vec<String>,
    joined: bool,
    miner: Option<Miner>,
}

impl Keeper {
    fn new(
        settings: &Settings,
        key: SecretKey,
        store: Store,
        sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
        found: mpsc::UnboundedSender<Block>,
    ) -> Result<Keeper, KeeperError> {
        let now = timestamp();
        let config = Config::default().keeper(settings.mine.is_some());
        let mut seed = [0u8; 16];
        getrandom::fill(&mut seed).expect("the OS has randomness");
        let mut node = Node::new(
            config,
            key.clone(),
            settings.params(),
            u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
            now,
        );
        let loaded = store.load()?;
        for hash in &loaded.undecodable {
            tracing::warn!("dropped stored record {hash}: not a block");
        }
        let report = node.load_stored(now, loaded.blocks);
        for (hash, err) in &report.refused {
            tracing::warn!("dropped stored block {hash}: {err}");
        }
        let links = Links::new(
            node.id(),
            u64::from_le_bytes(seed[8..].try_into().expect("8 bytes")),
        );
        let hosts = sockets.iter().map(|(addr, _)| *addr).collect();
        let mut keeper = Keeper {
            room: settings.room.clone(),
            key,
            node,
            links,
            conns: HashMap::new(),
            store,
            stored: report.stored.len(),
            unwritten: Vec::new(),
            forgotten: Vec::new(),
            sockets,
            hosts,
            to_server: Vec::new(),
            joined: false,
            miner: settings.mine.map(|_| Miner::start(found)),
        };
        if let Some(address) = settings.mine {
            keeper.node.set_mining(now, Some(address));
        }
        Ok(keeper)
    }

    fn seed(&self) -> u64 {
        u64::from_le_bytes(self.node.tip().0[..8].try_into().expect("8 bytes"))
    }

    fn summary(&self) -> Summary {
        Summary::of(&self.node, self.room.as_str(), self.stored)
    }

    /// When the loop must come back without input: the node's, the link manager's and
    /// the links' timers.
    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let now_ms = timestamp();
        let node = [self.node.poll_timeout(), self.links.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map(|at| now + Duration::from_millis(at.0.saturating_sub(now_ms.0)));
        self.conns
            .values()
            .filter_map(|link| link.due)
            .chain(node)
            .min()
            .unwrap_or(now + Duration::from_secs(1))
    }

    // Inputs.

    fn on_server(&mut self, text: &str) {
        let now = timestamp();
        let message = match ServerMessage::parse(text) {
            Ok(message) => message,
            Err(err) => return tracing::warn!("the signaling server sent {err}: {text:.80}"),
        };
        match message {
            ServerMessage::Challenge { nonce } => self
                .to_server
                .push(hello(&self.key, &self.room, &nonce).to_json()),
            ServerMessage::Welcome { peers, .. } => {
                self.joined = true;
                tracing::info!(tabs = peers.len(), "joined the room");
                self.links.server_joined(peers.iter().copied());
                let _ = self.node.handle_event(now, Event::PeersKnown(peers));
            }
            ServerMessage::PeerJoined { peer_id } => {
                self.links.server_peer_joined(peer_id);
                let _ = self
                    .node
                    .handle_event(now, Event::PeersKnown(vec![peer_id]));
            }
            ServerMessage::PeerLeft { peer_id } => self.links.server_peer_left(peer_id),
            ServerMessage::Signal { from, payload } => {
                match serde_json::from_value::<Signal>(payload) {
                    Ok(signal) => self.links.handle_signal(now, from, Route::Server, signal),
                    Err(err) => tracing::debug!("unreadable signal from {from}: {err}"),
                }
            }
            ServerMessage::Error { code, message } => {
                tracing::warn!("signaling server: {}: {message}", code.as_str());
            }
        }
    }

    fn server_lost(&mut self) {
        self.joined = false;
        self.links.server_lost();
    }

    /// A datagram for whichever link claims it; one no link claims (garbage, a stray
    /// probe, a closed link's late packet) is dropped.
    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr, to: SocketAddr) {
        let now = Instant::now();
        if let Some(link) = self
            .conns
            .values_mut()
            .find(|link| link.conn.accepts(now, from, to, bytes))
        {
            link.conn.receive(now, from, to, bytes);
            link.due = Some(now);
        }
    }

    fn on_mined(&mut self, block: Block) {
        if let Err(err) = self
            .node
            .handle_event(timestamp(), Event::MinedBlock(block))
        {
            tracing::debug!("mined block not taken: {err}");
        }
    }

    fn on_timeout(&mut self) {
        let now = timestamp();
        self.node.handle_timeout(now);
        self.links.handle_timeout(now);
        let instant = Instant::now();
        for link in self.conns.values_mut() {
            if link.due.is_some_and(|due| due <= instant) {
                link.conn.handle_timeout(instant);
            }
        }
    }

    fn shut_down(&mut self) {
        self.node.shutdown(timestamp());
        self.pump();
        self.links.close_all();
        self.pump();
    }

    // Carrying out.

    /// Carries out what the node, the link manager and the links have queued, until
    /// none has more; then stores what the node asked to.
    fn pump(&mut self) {
        let now = timestamp();
        loop {
            if let Some(action) = self.node.poll_action() {
                self.node_action(now, action);
            } else if let Some(action) = self.links.poll_action() {
                self.link_action(now, action);
            } else if !self.poll_conns(now) {
                break;
            }
        }
        while self.node.poll_event().is_some() {}
        self.write_blocks();
    }

    /// Drains every link's str0m output; whether anything came of it for the node or
    /// the link manager.
    fn poll_conns(&mut self, now: Timestamp) -> bool {
        let mut happened = Vec::new();
        for (peer, link) in &mut self.conns {
            let sockets = &self.sockets;
            let (events, due) = link.conn.poll(|datagram| send(sockets, &datagram));
            link.due = due;
            for event in events {
                happened.push((*peer, link.session, event));
            }
        }
        let any = !happened.is_empty();
        for (peer, session, event) in happened {
            match event {
                ConnEvent::Open => {
                    self.links.channel_open(peer, session);
                }
                ConnEvent::Message(bytes) => {
                    // The node hears of the link (LinkAction::Opened) before its frames.
                    if self.links.channel_open(peer, session) {
                        while let Some(action) = self.links.poll_action() {
                            self.link_action(now, action);
                        }
                        let _ = self.node.handle_event(now, Event::Message { peer, bytes });
                    }
                }
                ConnEvent::Closed(why) => {
                    self.conns.remove(&peer);
                    self.links.transport_closed(peer, session, why);
                }
            }
        }
        any
    }

    fn node_action(&mut self, now: Timestamp, action: Action) {
        match action {
            Action::Send { peer, bytes } => {
                if let Some(link) = self.conns.get_mut(&peer) {
                    if self.links.is_open(&peer, link.session) {
                        link.conn.send(bytes);
                    }
                }
            }
            Action::Disconnect { peer, .. } => self.links.close(&peer),
            Action::Connect { peer } => self.links.dial(now, peer),
            Action::Signal { from, payload } => match Signal::from_bytes(&payload) {
                Ok(signal) => self.links.handle_signal(now, from, Route::Mesh, signal),
                Err(err) => tracing::debug!("unreadable signal relayed from {from}: {err}"),
            },
            Action::MineTemplate(template) => {
                if let Some(miner) = &self.miner {
                    miner.mine(template);
                }
            }
            Action::StopMining => {
                if let Some(miner) = &self.miner {
                    miner.stop();
                }
            }
            Action::StoreBlock(block) => self.unwritten.push(block),
            Action::ForgetBlock(hash) => self.forgotten.push(hash),
        }
    }

    fn link_action(&mut self, now: Timestamp, action: LinkAction) {
        let instant = Instant::now();
        match action {
            LinkAction::Offer { peer, session } => {
                let (conn, sdp) = Conn::offer(instant, &self.hosts);
                self.keep(peer, session, conn, sdp, instant);
            }
            LinkAction::Answer { peer, session, sdp } => {
                match Conn::answer(instant, &self.hosts, &sdp) {
                    Ok((conn, sdp)) => self.keep(peer, session, conn, sdp, instant),
                    Err(why) => self.links.transport_closed(peer, session, why),
                }
            }
            LinkAction::AcceptAnswer { peer, session, sdp } => {
                if let Some(link) = self.conns.get_mut(&peer).filter(|l| l.session == session) {
                    if let Err(why) = link.conn.accept_answer(&sdp) {
                        self.conns.remove(&peer);
                        self.links.transport_closed(peer, session, why);
                    } else {
                        link.due = Some(instant);
                    }
                }
            }
            LinkAction::AddCandidate {
                peer,
                session,
                candidate,
            } => {
                if let Some(link) = self.conns.get_mut(&peer).filter(|l| l.session == session) {
                    link.conn.add_candidate(&candidate);
                    link.due = Some(instant);
                }
            }
            LinkAction::Send {
                peer,
                route,
                signal,
            } => match route {
                Route::Server if self.joined => {
                    let payload = serde_json::to_value(&signal).expect("signals always encode");
                    self.to_server
                        .push(ClientMessage::Signal { to: peer, payload }.to_json());
                }
                Route::Mesh => {
                    if let Err(err) = self.node.send_signal(peer, signal.to_bytes()) {
                        self.links.unreachable(peer, err.to_string());
                    }
                }
                _ => self
                    .links
                    .unreachable(peer, format!("no way through {}", route.as_str())),
            },
            LinkAction::Close { peer, session, .. } => {
                if self.conns.get(&peer).is_some_and(|l| l.session == session) {
                    let mut link = self.conns.remove(&peer).expect("just looked");
                    link.conn.close();
                    // Its last datagrams (the goodbye, DTLS's close) still leave.
                    let _ = link.conn.poll(|datagram| send(&self.sockets, &datagram));
                }
            }
            LinkAction::Opened { peer, session } => {
                let binding = self
                    .conns
                    .get_mut(&peer)
                    .filter(|l| l.session == session)
                    .and_then(|link| link.conn.binding());
                match binding {
                    Some(binding) => {
                        let _ = self
                            .node
                            .handle_event(now, Event::PeerConnected { peer, binding });
                    }
                    None => self.links.transport_closed(
                        peer,
                        session,
                        "no DTLS fingerprints on an open channel".into(),
                    ),
                }
            }
            LinkAction::Node(event) => {
                let _ = self.node.handle_event(now, event);
            }
            LinkAction::Ended { peer, reason } => {
                tracing::info!("link to {peer} ended: {reason}");
            }
        }
    }

    /// A new link's connection, and its description for the link manager to send.
    fn keep(&mut self, peer: NodeId, session: u64, conn: Conn, sdp: String, now: Instant) {
        let link = Link {
            session,
            conn,
            due: Some(now),
        };
        self.conns.insert(peer, link);
        self.links.described(peer, session, sdp);
    }

    /// Commits the blocks the node asked to store in one transaction, and deletes the
    /// ones it let go. A failed write is tried again with the next.
    fn write_blocks(&mut self) {
        if !self.unwritten.is_empty() {
            match self.store.put_all(&self.unwritten) {
                Ok(()) => {
                    self.stored += self.unwritten.len();
                    self.unwritten.clear();
                }
                Err(err) => {
                    tracing::error!("could not store {} blocks: {err}", self.unwritten.len())
                }
            }
        }
        if !self.forgotten.is_empty() {
            match self.store.forget(&self.forgotten) {
                Ok(()) => {
                    self.stored = self.stored.saturating_sub(self.forgotten.len());
                    self.forgotten.clear();
                }
                Err(err) => tracing::error!("could not forget blocks: {err}"),
            }
        }
    }
}
