//! The tabchain signaling server: tabs meet in rooms here, prove their keys, and trade
//! WebRTC offers, answers and ICE candidates; with `--static` it also serves the built
//! site. The protocol is documented in `tabchain-signal`.
//!
//! Layout: `args.rs` (the command line), `accept.rs` (the accept loop and HTTP/1.1
//! connections, with the header-read timeout), `admission.rs` (connections counted from
//! accept, in all and per client address), `state.rs` (rooms, pure), `socket.rs` (one
//! WebSocket from upgrade to close), `bucket.rs` (the rate limit), `metrics.rs`,
//! `site.rs` (static files) with `precompressed.rs` (the build's brotli and gzip copies
//! of them), `turn.rs` (coturn as a child process and the tabs' TURN
//! credentials), `join.rs` (the join URL as a QR code); this file wires them into an
//! axum router and runs it.
//! Every wait and deadline uses `tokio::time`, which the workspace's clock ban (meant
//! for the sans-IO core) leaves alone.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod accept;
mod admission;
pub mod args;
mod bucket;
pub mod join;
pub mod keepers;
mod metrics;
mod precompressed;
mod site;
mod socket;
mod state;
pub mod turn;

pub use args::Args;
pub use keepers::{KeepConfig, Rules};
pub use turn::{TurnConfig, TurnCredential, TurnError, TurnSecret};

use admission::{Address, Connections};
use keepers::Keepers;
use metrics::{Gauges, Metrics};
use socket::Peer;
use state::Rooms;
use turn::TurnServer;

/// How long shutdown waits for connections to say goodbye before it stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the server allows each connection, room and the whole server.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// The largest text message a tab may send, in bytes.
    pub max_frame: usize,
    /// Messages per second a connection may send on average...
    pub rate: u32,
    /// ...and in a burst (a tab joining a busy room sends an offer to everyone).
    pub burst: u32,
    /// Refused messages (malformed, unknown, over the rate) before the server closes.
    pub max_errors: u32,
    pub max_peers_per_room: usize,
    /// Peers in one room from one client address (an IPv4 address or an IPv6 /64).
    /// Below `max_peers_per_room`, so that one address's made-up identities cannot
    /// fill a room.
    pub max_room_peers_per_address: usize,
    pub max_rooms: usize,
    /// Open TCP connections, counted from accept: HTTP requests and WebSockets.
    pub max_connections: usize,
    /// Open TCP connections from one client address.
    pub max_per_address: usize,
    /// From accepting a connection (or finishing a request on it) to the end of the
    /// next request head; bounds half-open requests and idle keep-alive connections.
    pub header_timeout: Duration,
    /// From the WebSocket upgrade to a valid `hello`.
    pub handshake_timeout: Duration,
    /// A joined tab that sends no message for this long is closed.
    pub idle_timeout: Duration,
    /// How often the server pings each tab.
    pub ping_interval: Duration,
    /// A tab the server hears nothing from (not even a pong) for this long is dropped.
    pub ping_timeout: Duration,
    /// Messages waiting to be written to one tab. When it is full, senders wait...
    pub queue: usize,
    /// ...this long at most; a tab whose queue stays full that long is dropped as too
    /// slow, so a slow reader costs a bounded amount of memory.
    pub queue_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame: 64 * 1024,
            rate: 100,
            burst: 400,
            max_errors: 10,
            // A class of 30 with three tabs each (90) fits in one room...
            max_peers_per_room: 128,
            // ...even when the whole class is behind one school NAT address, and a
            // quarter of the room stays out of any one address's reach: a student
            // minting identities (a key is free) from an address of their own (a
            // phone's hotspot) cannot take the room from the class, nor the class's
            // address from the teacher or pupils on another network.
            max_room_peers_per_address: 96,
            max_rooms: 1000,
            max_connections: 10_000,
            // One NAT address for a class of 30: three tabs' WebSockets each, plus
            // the up to 6 connections per host a browser opens to load the page, is
            // 270 at the start of a lesson; 512 leaves room for reloads whose old
            // sockets are still closing. It still takes 20 addresses to fill the server.
            max_per_address: 512,
            // A browser sends a request head in one packet; 10 s is generous on slow
            // Wi-Fi, and a tenth of hyper's default (30 s), as half-open requests are
            // the cheapest way to hold a server's sockets.
            header_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(3600),
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(30),
            queue: 128,
            queue_timeout: Duration::from_secs(2),
        }
    }
}

/// Everything the server needs besides its listener.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub limits: Limits,
    /// Serve this directory's files for every path that is not the API.
    pub static_dir: Option<PathBuf>,
    /// Run coturn for STUN and TURN, and hand each joined tab its credentials.
    pub turn: Option<TurnConfig>,
    /// Keep every room that has tabs with a keeper of its own.
    pub keep: Option<KeepConfig>,
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the TURN server")]
    Turn(#[from] TurnError),
}

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    limits: Limits,
    turn: Option<TurnConfig>,
    connections: Arc<Connections>,
    rooms: Mutex<Rooms<Peer>>,
    metrics: Metrics,
    keepers: Option<Keepers>,
    shutdown: CancellationToken,
    // Every connection's task and every upgraded socket's: shutdown waits for them.
    tasks: TaskTracker,
}

impl Shared {
    fn rooms(&self) -> MutexGuard<'_, Rooms<Peer>> {
        // A panic while holding the lock leaves the rooms as they were between two
        // complete operations (none of them panics halfway), so keep serving.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves on `listener` until `shutdown` completes, then closes every WebSocket with
/// `shutting_down` and returns once they are gone (or after a grace period).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    Server::start(listener, config).await?.run(shutdown).await
}

/// A server that is ready: listening, and with `--turn` coturn answering. Split from
/// [`serve`] so the binary announces the join URL only once tabs can join.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    static_dir: Option<PathBuf>,
    relay: Option<TurnServer>,
}

impl Server {
    /// Starts coturn when `config.turn` asks for it and waits until it answers.
    pub async fn start(listener: TcpListener, config: Config) -> Result<Server, ServeError> {
        let relay = match &config.turn {
            Some(turn) => Some(TurnServer::start(turn).await?),
            None => None,
        };
        let shutdown = CancellationToken::new();
        let listening = listener
            .local_addr()
            .expect("a bound listener has an address");
        let keepers = config
            .keep
            .map(|keep| Keepers::new(keep, listening, shutdown.clone()));
        let shared = Arc::new(Shared {
            connections: Arc::new(Connections::new(
                config.limits.max_connections,
                config.limits.max_per_address,
            )),
            rooms: Mutex::new(Rooms::new(
                config.limits.max_rooms,
                config.limits.max_peers_per_room,
                config.limits.max_room_peers_per_address,
            )),
            limits: config.limits,
            turn: config.turn,
            metrics: Metrics::default(),
            keepers,
            shutdown,
            tasks: TaskTracker::new(),
        });
        Ok(Server {
            listener,
            shared,
            static_dir: config.static_dir,
            relay,
        })
    }

    /// Serves until `shutdown` completes; see [`serve`]. coturn stops last.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Server {
            listener,
            shared,
            static_dir,
            relay,
        } = self;
        let mut app = Router::new()
            .route("/ws", get(websocket))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/metrics", get(metrics))
            .route("/rooms/{room}/chain", get(room_chain))
            .with_state(shared.clone());
        if let Some(dir) = &static_dir {
            app = app.fallback_service(site::router(dir));
        }
        accept::accept_loop(listener, app, shared.clone(), shutdown).await;
        // Stops the accept loop's connections (gracefully) and every WebSocket (with
        // `shutting_down`); the listener is already closed.
        shared.shutdown.cancel();
        if let Some(keepers) = &shared.keepers {
            // Their goodbyes go through this server's sockets, which are still open.
            if tokio::time::timeout(SHUTDOWN_GRACE, keepers.stopped())
                .await
                .is_err()
            {
                tracing::warn!("keepers did not stop in time");
            }
        }
        shared.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = shared.tasks.len(),
                "connections did not close in time"
            );
        }
        if let Some(relay) = relay {
            relay.stop().await;
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct WebSocketQuery {
    room: Option<String>,
    block_time: Option<u64>,
    difficulty: Option<u64>,
}

async fn websocket(
    State(shared): State<Arc<Shared>>,
    Extension(address): Extension<Address>,
    Query(query): Query<WebSocketQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Frames up to twice the limit are read whole, so that a tab that sends one too
    // large still gets a clean error and close; only beyond that is the socket cut.
    let hard_limit = shared.limits.max_frame.saturating_mul(2);
    let rules = Rules {
        block_time: query.block_time,
        difficulty: query.difficulty,
    };
    upgrade
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        // The default 128 KiB is allocated per connection; signaling messages are small.
        .read_buffer_size(socket::READ_BUFFER)
        .on_upgrade(move |ws| {
            let tasks = shared.tasks.clone();
            tasks.track_future(socket::run(ws, shared, address, query.room, rules))
        })
}

/// `GET /rooms/<room>/chain[?block_time=&difficulty=]`: the kept chain's height, tip
/// and recent blocks as JSON.
async fn room_chain(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(room): axum::extract::Path<String>,
    Query(rules): Query<Rules>,
) -> Response {
    use axum::http::StatusCode;
    let Ok(room) = room.parse() else {
        return (StatusCode::BAD_REQUEST, "not a room name\n").into_response();
    };
    match shared
        .keepers
        .as_ref()
        .and_then(|keepers| keepers.summary(&room, rules))
    {
        Some(summary) => (
            [(CONTENT_TYPE, "application/json")],
            serde_json::to_string(&summary).expect("a summary serializes"),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "this room is not kept here\n").into_response(),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let (rooms, peers) = {
        let rooms = shared.rooms();
        (rooms.room_count(), rooms.peer_count())
    };
    let (connections, addresses) = shared.connections.open();
    let gauges = Gauges {
        connections,
        addresses,
        rooms,
        peers,
        turn: shared.turn.is_some(),
    };
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        shared.metrics.render(gauges),
    )
}
