//! The harness: a server on 127.0.0.1 port 0, real WebSocket clients, and a bare HTTP
//! client for the plain routes.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tabchain_core::{NodeId, SecretKey};
use tabchain_signal::{hello, ClientMessage, ErrorCode, IceServer, Nonce, RoomName, ServerMessage};
use tabchain_signaling::{serve, Config, Limits, ServeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, connect_async, MaybeTlsStream, WebSocketStream};

/// The upper bound on any wait for an event that should come promptly.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestServer {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { addr, stop, task }
    }

    pub async fn with_limits(limits: Limits) -> TestServer {
        TestServer::start(Config {
            limits,
            ..Config::default()
        })
        .await
    }

    /// Shuts the server down as SIGTERM would and waits for `serve` to return.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        timeout(PATIENCE, self.task)
            .await
            .expect("the server stops in time")
            .unwrap()
            .unwrap();
    }

    /// Opens a WebSocket with this raw query string (`room=a`).
    pub async fn open(&self, query: &str) -> Ws {
        open(self.addr, query).await
    }

    /// Opens a WebSocket to `room` and reads the challenge.
    pub async fn challenge(&self, room: &str) -> (Ws, Nonce) {
        challenge(self.addr, room).await
    }

    /// A client that joined `room` with `key`.
    pub async fn join(&self, room: &str, key: &SecretKey) -> Client {
        join(self.addr, room, key).await
    }

    /// The `/metrics` values by series name (labels included).
    pub async fn metrics(&self) -> HashMap<String, f64> {
        self.try_metrics()
            .await
            .expect("the server answers a scrape")
    }

    /// The `/metrics` values, or None if the server closed the connection unanswered
    /// (as it does at accept when a limit is reached).
    pub async fn try_metrics(&self) -> Option<HashMap<String, f64>> {
        self.metrics_from(IpAddr::from([127, 0, 0, 1])).await
    }

    /// The `/metrics` values, scraped from the source address `from`.
    pub async fn metrics_from(&self, from: IpAddr) -> Option<HashMap<String, f64>> {
        let stream = connect_from(from, self.addr).await.ok()?;
        let response = http_get_on(stream, self.addr, "/metrics", &[]).await.ok()?;
        assert_eq!(response.status, 200);
        Some(
            String::from_utf8(response.body)
                .unwrap()
                .lines()
                .filter(|line| !line.starts_with('#'))
                .map(|line| {
                    let (name, value) = line.rsplit_once(' ').unwrap();
                    (name.to_owned(), value.parse().unwrap())
                })
                .collect(),
        )
    }

    /// Waits until the gauges read `connections` (not counting the scrape's own
    /// connection, which the server counts like any other), `rooms` and `peers`.
    pub async fn await_gauges(&self, connections: f64, rooms: f64, peers: f64) {
        let want = [connections, rooms, peers];
        let reached = timeout(PATIENCE, async {
            loop {
                let m = self.metrics().await;
                let now = [
                    m["tabchain_signaling_connections"] - 1.0,
                    m["tabchain_signaling_rooms"],
                    m["tabchain_signaling_peers"],
                ];
                if now == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            reached.is_ok(),
            "gauges did not reach {want:?}: {:?}",
            self.metrics().await
        );
    }
}

/// Opens a WebSocket to the server at `addr` with this raw query string (`room=a`).
pub async fn open(addr: SocketAddr, query: &str) -> Ws {
    let url = format!("ws://{addr}/ws?{query}");
    connect_async(url).await.expect("the upgrade succeeds").0
}

/// A TCP connection to `addr` from the source address `from`. Linux routes all of
/// 127.0.0.0/8 to the loopback interface, so a test can be several clients on as
/// many addresses.
pub async fn connect_from(from: IpAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

/// Opens a WebSocket from the source address `from` with this raw query string; an
/// error if the server closes the socket instead.
pub async fn open_from(
    from: IpAddr,
    addr: SocketAddr,
    query: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let stream = connect_from(from, addr).await?;
    let url = format!("ws://{addr}/ws?{query}");
    let (ws, _) = client_async(url, MaybeTlsStream::Plain(stream)).await?;
    Ok(ws)
}

/// Opens a WebSocket to `room` and reads the challenge.
pub async fn challenge(addr: SocketAddr, room: &str) -> (Ws, Nonce) {
    let ws = open(addr, &format!("room={room}")).await;
    read_challenge(ws).await
}

async fn read_challenge(mut ws: Ws) -> (Ws, Nonce) {
    match recv(&mut ws).await {
        ServerMessage::Challenge { nonce } => (ws, nonce),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// A client that joined `room` with `key` on the server at `addr`.
pub async fn join(addr: SocketAddr, room: &str, key: &SecretKey) -> Client {
    let (ws, nonce) = challenge(addr, room).await;
    finish_join(ws, nonce, room, key).await
}

/// Opens a WebSocket to `room` from the source address `from`, and says hello with
/// `key`; the welcome or the refusal is for the caller to read.
pub async fn hello_from(from: IpAddr, addr: SocketAddr, room: &str, key: &SecretKey) -> Ws {
    let ws = open_from(from, addr, &format!("room={room}"))
        .await
        .expect("the upgrade succeeds");
    let (mut ws, nonce) = read_challenge(ws).await;
    send(&mut ws, &hello(key, &room_name(room), &nonce)).await;
    ws
}

/// A client that joined `room` with `key` from the source address `from`.
pub async fn join_from(from: IpAddr, addr: SocketAddr, room: &str, key: &SecretKey) -> Client {
    let ws = open_from(from, addr, &format!("room={room}"))
        .await
        .expect("the upgrade succeeds");
    let (ws, nonce) = read_challenge(ws).await;
    finish_join(ws, nonce, room, key).await
}

async fn finish_join(mut ws: Ws, nonce: Nonce, room: &str, key: &SecretKey) -> Client {
    send(&mut ws, &hello(key, &room_name(room), &nonce)).await;
    match recv(&mut ws).await {
        ServerMessage::Welcome {
            peer_id,
            peers,
            ice_servers,
        } => {
            assert_eq!(peer_id, key.public_key().node_id());
            Client {
                ws,
                id: peer_id,
                peers,
                ice_servers,
            }
        }
        other => panic!("expected a welcome, got {other:?}"),
    }
}

pub struct Client {
    pub ws: Ws,
    pub id: NodeId,
    /// The peer list of the welcome.
    pub peers: Vec<NodeId>,
    /// The STUN and TURN servers of the welcome.
    pub ice_servers: Vec<IceServer>,
}

impl Client {
    pub async fn recv(&mut self) -> ServerMessage {
        recv(&mut self.ws).await
    }

    pub async fn signal(&mut self, to: NodeId, payload: Value) {
        send(&mut self.ws, &ClientMessage::Signal { to, payload }).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Receives the next message and checks it is this signal.
    pub async fn expect_signal(&mut self, from: NodeId, payload: Value) {
        assert_eq!(
            self.recv().await,
            ServerMessage::Signal { from, payload },
            "at {}",
            self.id.short()
        );
    }

    pub async fn expect_error(&mut self, code: ErrorCode) {
        match self.recv().await {
            ServerMessage::Error { code: got, .. } if got == code => {}
            other => panic!("expected a {code:?} error, got {other:?}"),
        }
    }
}

pub fn key(n: u32) -> SecretKey {
    let mut seed = [0; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_seed(seed)
}

pub fn room_name(name: &str) -> RoomName {
    name.parse().unwrap()
}

pub async fn send(ws: &mut Ws, message: &ClientMessage) {
    ws.send(Message::text(message.to_json())).await.unwrap();
}

/// The next server message, skipping control frames; panics on a close or after
/// [`PATIENCE`].
pub async fn recv(ws: &mut Ws) -> ServerMessage {
    let next = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => return ServerMessage::parse(&text).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    };
    timeout(PATIENCE, next).await.expect("a message in time")
}

/// Reads to the end of the connection, as a browser does (which completes the close
/// handshake), and returns the `error` codes seen on the way and the close frame
/// (None if the socket ended without one).
pub async fn read_to_close(ws: &mut Ws) -> (Vec<ErrorCode>, Option<CloseFrame>) {
    let mut errors = Vec::new();
    let mut close = None;
    let read = async {
        while let Some(Ok(message)) = ws.next().await {
            match message {
                Message::Text(text) => {
                    if let ServerMessage::Error { code, .. } = ServerMessage::parse(&text).unwrap()
                    {
                        errors.push(code);
                    }
                }
                Message::Close(frame) => close = frame,
                _ => {}
            }
        }
    };
    timeout(PATIENCE, read)
        .await
        .expect("the socket closes in time");
    (errors, close)
}

/// Checks that the server refused with `code`: an `error` with that code, then a close
/// frame whose reason is the code and whose status is `status`.
pub async fn expect_refusal(ws: &mut Ws, code: ErrorCode, status: u16) {
    let (errors, frame) = read_to_close(ws).await;
    assert_eq!(
        errors.last(),
        Some(&code),
        "errors before the close: {errors:?}"
    );
    let frame = frame.expect("a close frame");
    assert_eq!(frame.reason.as_str(), code.as_str());
    assert_eq!(u16::from(frame.code), status);
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A bare HTTP/1.1 GET with `Connection: close`: enough to check statuses and headers
/// without pulling in an HTTP client.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let stream = TcpStream::connect(addr).await.unwrap();
    http_get_on(stream, addr, path, headers)
        .await
        .expect("a response")
}

/// [`http_get`] on a connected `stream`; an error if the server closes it unanswered.
pub async fn http_get_on(
    mut stream: TcpStream,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<HttpResponse> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("a response in time")?;
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed without a response",
        ));
    };
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}
