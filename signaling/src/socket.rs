//! One WebSocket connection, from upgrade to close: the challenge and `hello`, joining
//! the room, then the loop that reads the tab's messages, writes its queue and pings
//! it, and at the end leaving the room (everyone left gets `peer_left` at once) and
//! telling the tab why it was closed.
//!
//! Reading and writing run side by side in one task, so a tab that stops reading
//! still has its keepalive and its queue watched: nothing a tab does can make the
//! server wait on it without a deadline.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tabchain_core::{KeyError, NodeId};
use tabchain_signal::{verify_hello, ClientMessage, ErrorCode, Nonce, RoomName, ServerMessage};
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, timeout, timeout_at, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite;

use crate::admission::Address;
use crate::bucket::TokenBucket;
use crate::state::JoinError;
use crate::{turn, Rules, Shared};

/// Bytes read from the socket at a time. Signaling messages are small, and this buffer
/// is allocated per connection; a larger message still arrives whole.
pub const READ_BUFFER: usize = 4096;

/// How long a closing connection may take to deliver its last error and close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// What the room state keeps for a member: its outgoing queue, and a way to have the
/// connection dropped when that queue stays full.
#[derive(Debug, Clone)]
pub struct Peer {
    queue: mpsc::Sender<Message>,
    kick: Arc<Notify>,
}

impl Peer {
    /// Queues a room event without waiting, as it is sent under the rooms lock. These
    /// are rare (joins and leaves); a tab whose queue is full even for them is dropped.
    fn notify(&self, message: Message) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(message) {
            self.kick.notify_one();
        }
    }

    /// Queues `message`, waiting up to `patience` for room: the sender is slowed down
    /// while the tab catches up, and the tab is dropped if it does not. Whether the
    /// message was queued.
    async fn deliver(&self, message: Message, patience: Duration) -> bool {
        let message = match self.queue.try_send(message) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(message)) => message,
        };
        match timeout(patience, self.queue.send(message)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                self.kick.notify_one();
                false
            }
        }
    }
}

/// How a connection ends.
#[derive(Debug)]
enum End {
    /// The tab closed the socket, or it broke: there is no one to tell.
    Gone,
    /// The server ends it: the tab gets the `error`, then a close frame with the code
    /// as its reason.
    Refused(Refusal),
}

impl From<Refusal> for End {
    fn from(refusal: Refusal) -> End {
        End::Refused(refusal)
    }
}

/// An `error` for the tab: what it broke, in a code and in words.
#[derive(Debug)]
struct Refusal {
    code: ErrorCode,
    message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }

    fn binary_frame() -> Refusal {
        Refusal::new(
            ErrorCode::BinaryFrame,
            "the protocol is JSON text frames only",
        )
    }

    fn frame_too_large(max: usize) -> Refusal {
        Refusal::new(
            ErrorCode::FrameTooLarge,
            format!("a message is at most {max} bytes"),
        )
    }

    fn slow_consumer() -> Refusal {
        Refusal::new(
            ErrorCode::SlowConsumer,
            "messages for you waited too long for you to read them",
        )
    }

    fn to_message(&self) -> Message {
        text(&ServerMessage::error(self.code, self.message.clone()))
    }
}

fn text(message: &ServerMessage) -> Message {
    Message::Text(message.to_json().into())
}

/// Runs one connection to its end. `room` is the raw `room` query parameter; the
/// connection was counted (and `--max-connections` checked) when it was accepted.
pub async fn run(
    ws: WebSocket,
    shared: Arc<Shared>,
    address: Address,
    room: Option<String>,
    rules: Rules,
) {
    let (mut sink, mut stream) = ws.split();
    let end = tokio::select! {
        biased;
        () = shared.shutdown.cancelled() => {
            Refusal::new(ErrorCode::ShuttingDown, "the server is shutting down").into()
        }
        end = session(&mut sink, &mut stream, &shared, address, room, rules) => end,
    };
    goodbye(&mut sink, &mut stream, &shared, end).await;
}

/// The handshake and the life of a member. Dropping this future (on shutdown) leaves
/// the room as cleanly as returning does.
async fn session(
    sink: &mut Sink,
    stream: &mut Stream,
    shared: &Shared,
    address: Address,
    room: Option<String>,
    rules: Rules,
) -> End {
    let room: RoomName = match room.as_deref().map(str::parse) {
        Some(Ok(room)) => room,
        Some(Err(err)) => return Refusal::new(ErrorCode::BadRoom, err.to_string()).into(),
        None => return Refusal::new(ErrorCode::BadRoom, "connect to /ws?room=<name>").into(),
    };
    let id = match handshake(sink, stream, shared, &room).await {
        Ok(id) => id,
        Err(end) => return end,
    };
    let (queue, outgoing) = mpsc::channel(shared.limits.queue.max(1));
    let own = Peer {
        queue,
        kick: Arc::new(Notify::new()),
    };
    let member = match Member::join(shared, room.clone(), id, address, own.clone()) {
        Ok(member) => {
            // Only a tab that proved a key and got in starts a keeper.
            if let Some(keepers) = &shared.keepers {
                keepers.ensure(&room, rules);
            }
            member
        }
        Err(err) => {
            if let JoinError::AddressFull { .. } = err {
                shared.metrics.room_address_full();
            }
            return Refusal::new(err.code(), err.to_string()).into();
        }
    };
    tokio::select! {
        biased;
        () = own.kick.notified() => Refusal::slow_consumer().into(),
        end = read_loop(stream, &member, &own) => end,
        end = write_loop(sink, outgoing, shared.limits.ping_interval) => end,
    }
}

/// Sends the challenge and waits for a `hello` that proves a key.
async fn handshake(
    sink: &mut Sink,
    stream: &mut Stream,
    shared: &Shared,
    room: &RoomName,
) -> Result<NodeId, End> {
    let limits = &shared.limits;
    let deadline = Instant::now() + limits.handshake_timeout;
    let too_late = || {
        End::from(Refusal::new(
            ErrorCode::HandshakeTimeout,
            format!("no valid hello within {:?}", limits.handshake_timeout),
        ))
    };
    let nonce = fresh_nonce();
    match timeout_at(
        deadline,
        sink.send(text(&ServerMessage::Challenge { nonce })),
    )
    .await
    {
        Err(_) => return Err(too_late()),
        Ok(Err(_)) => return Err(End::Gone),
        Ok(Ok(())) => {}
    }
    let hello = loop {
        let frame = timeout_at(deadline, stream.next())
            .await
            .map_err(|_| too_late())?;
        match frame {
            None | Some(Ok(Message::Close(_))) => return Err(End::Gone),
            Some(Err(err)) => return Err(read_error(err, limits.max_frame)),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => return Err(Refusal::binary_frame().into()),
            Some(Ok(Message::Text(hello))) => break hello,
        }
    };
    if hello.len() > limits.max_frame {
        return Err(Refusal::frame_too_large(limits.max_frame).into());
    }
    let refusal = match ClientMessage::parse(&hello) {
        Ok(ClientMessage::Hello {
            public_key,
            signature,
        }) => match verify_hello(room, &nonce, &public_key, &signature) {
            Ok(id) => return Ok(id),
            Err(err @ KeyError::BadPublicKey) => {
                Refusal::new(ErrorCode::BadPublicKey, err.to_string())
            }
            Err(err @ KeyError::BadSignature) => {
                Refusal::new(ErrorCode::BadSignature, err.to_string())
            }
        },
        Ok(ClientMessage::Signal { .. }) => Refusal::new(
            ErrorCode::UnexpectedMessage,
            "the first message must be a hello",
        ),
        Err(err) => Refusal::new(err.code(), err.to_string()),
    };
    Err(refusal.into())
}

fn fresh_nonce() -> Nonce {
    let mut bytes = [0; 32];
    // The OS random source does not fail on the systems this server runs on; if it
    // did, no tab could be authenticated, and ending this connection's task is right.
    getrandom::fill(&mut bytes).expect("the OS random source works");
    Nonce(bytes)
}

fn read_error(err: axum::Error, max_frame: usize) -> End {
    match err
        .into_inner()
        .downcast::<tungstenite::Error>()
        .map(|e| *e)
    {
        Ok(tungstenite::Error::Capacity(_)) => Refusal::frame_too_large(max_frame).into(),
        Ok(tungstenite::Error::Utf8(_)) => {
            Refusal::new(ErrorCode::MalformedJson, "a text frame that is not UTF-8").into()
        }
        _ => End::Gone,
    }
}

/// A peer in a room, for as long as this value lives.
struct Member<'a> {
    shared: &'a Shared,
    room: RoomName,
    id: NodeId,
}

impl<'a> Member<'a> {
    /// Joins and announces: the newcomer's `welcome` and everyone's `peer_joined` are
    /// queued under the same lock as the join, so no signal can overtake them.
    fn join(
        shared: &'a Shared,
        room: RoomName,
        id: NodeId,
        address: Address,
        peer: Peer,
    ) -> Result<Member<'a>, JoinError> {
        // Outside the lock: the clock and an HMAC per tab.
        let ice_servers = match &shared.turn {
            Some(turn) => turn.ice_servers(&id, turn::unix_now()),
            None => Vec::new(),
        };
        let mut rooms = shared.rooms();
        rooms.join(&room, id, address, peer.clone())?;
        let peers = rooms.others(&room, &id).map(|(other, _)| *other).collect();
        if shared.turn.is_some() {
            shared.metrics.turn_credential_issued();
        }
        // A fresh queue has room for its first message.
        peer.notify(text(&ServerMessage::Welcome {
            peer_id: id,
            peers,
            ice_servers,
        }));
        let joined = text(&ServerMessage::PeerJoined { peer_id: id });
        for (_, other) in rooms.others(&room, &id) {
            other.notify(joined.clone());
        }
        drop(rooms);
        tracing::debug!(%room, peer = %id, "joined");
        Ok(Member { shared, room, id })
    }

    /// Acts on one text frame from the tab; `Err` is the refusal to send back.
    async fn handle(&self, frame: &str) -> Result<(), Refusal> {
        let max = self.shared.limits.max_frame;
        if frame.len() > max {
            return Err(Refusal::frame_too_large(max));
        }
        match ClientMessage::parse(frame) {
            Ok(ClientMessage::Signal { to, payload }) => self.relay(to, payload).await,
            Ok(ClientMessage::Hello { .. }) => Err(Refusal::new(
                ErrorCode::UnexpectedMessage,
                "already joined: hello is only the first message",
            )),
            Err(err) => Err(Refusal::new(err.code(), err.to_string())),
        }
    }

    async fn relay(&self, to: NodeId, payload: serde_json::Value) -> Result<(), Refusal> {
        // Serialized before taking the lock; `from` is who this connection proved to be.
        let message = text(&ServerMessage::Signal {
            from: self.id,
            payload,
        });
        // The lock is not held across the wait for a full queue.
        let Some(peer) = self.shared.rooms().peer(&self.room, &to).cloned() else {
            return Err(Refusal::new(
                ErrorCode::UnknownPeer,
                format!("no peer {to} in room {}", self.room),
            ));
        };
        if peer
            .deliver(message, self.shared.limits.queue_timeout)
            .await
        {
            self.shared.metrics.relayed();
        }
        Ok(())
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        let left = text(&ServerMessage::PeerLeft { peer_id: self.id });
        let mut rooms = self.shared.rooms();
        rooms.leave(&self.room, &self.id);
        for (_, other) in rooms.others(&self.room, &self.id) {
            other.notify(left.clone());
        }
        drop(rooms);
        tracing::debug!(room = %self.room, peer = %self.id, "left");
    }
}

/// Reads the tab's frames until it closes, breaks a limit, or goes quiet.
async fn read_loop(stream: &mut Stream, member: &Member<'_>, own: &Peer) -> End {
    let limits = &member.shared.limits;
    let start = Instant::now();
    let mut bucket = TokenBucket::new(limits.rate, limits.burst, start);
    let mut errors = 0;
    // Any frame, pongs included, shows the tab is alive; only accepted messages show
    // it active. A refused one (malformed, binary, over the rate, to no one) does not:
    // a signal to an unknown peer is not even counted against --max-errors (it is a
    // race with a leave), so one every 59 minutes would hold a room's place forever.
    let (mut heard, mut active) = (start, start);
    let timer = sleep_until(start);
    tokio::pin!(timer);
    loop {
        let keepalive = heard + limits.ping_timeout;
        let idle = active + limits.idle_timeout;
        timer.as_mut().reset(keepalive.min(idle));
        let frame = tokio::select! {
            frame = stream.next() => frame,
            () = &mut timer => {
                return if keepalive <= idle {
                    Refusal::new(
                        ErrorCode::KeepaliveTimeout,
                        format!("no answer to pings for {:?}", limits.ping_timeout),
                    )
                } else {
                    Refusal::new(
                        ErrorCode::IdleTimeout,
                        format!("no message for {:?}", limits.idle_timeout),
                    )
                }
                .into();
            }
        };
        let now = Instant::now();
        heard = now;
        let refusal = match frame {
            None | Some(Ok(Message::Close(_))) => return End::Gone,
            Some(Err(err)) => return read_error(err, limits.max_frame),
            // Answers to the server's own pings cost nothing to take.
            Some(Ok(Message::Pong(_))) => continue,
            Some(Ok(_)) if !bucket.take(now) => Refusal::new(
                ErrorCode::RateLimited,
                format!(
                    "more than {} messages a second (bursts of {}): message dropped",
                    limits.rate, limits.burst
                ),
            ),
            Some(Ok(Message::Ping(_))) => continue,
            Some(Ok(Message::Binary(_))) => Refusal::binary_frame(),
            Some(Ok(Message::Text(frame))) => match member.handle(&frame).await {
                Ok(()) => {
                    active = now;
                    continue;
                }
                Err(refusal) => refusal,
            },
        };
        if refusal.code == ErrorCode::FrameTooLarge {
            return refusal.into();
        }
        // A signal to a peer that has just left is a race, not a misbehaviour.
        if refusal.code != ErrorCode::UnknownPeer {
            errors += 1;
            if errors > limits.max_errors {
                let message = format!("{}; too many refused messages", refusal.message);
                return Refusal::new(refusal.code, message).into();
            }
        }
        member.shared.metrics.refused(refusal.code);
        if !own
            .deliver(refusal.to_message(), limits.queue_timeout)
            .await
        {
            return Refusal::slow_consumer().into();
        }
    }
}

/// Writes the tab's queue and pings it.
async fn write_loop(
    sink: &mut Sink,
    mut outgoing: mpsc::Receiver<Message>,
    ping_interval: Duration,
) -> End {
    let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let written = tokio::select! {
            message = outgoing.recv() => match message {
                Some(message) => write_batch(sink, message, &mut outgoing).await,
                // The reading half holds a sender until the connection ends.
                None => return End::Gone,
            },
            _ = ping.tick() => sink.send(Message::Ping(Bytes::new())).await,
        };
        if written.is_err() {
            return End::Gone;
        }
    }
}

/// Writes `first` and whatever else is already queued, then flushes once.
async fn write_batch(
    sink: &mut Sink,
    first: Message,
    outgoing: &mut mpsc::Receiver<Message>,
) -> Result<(), axum::Error> {
    sink.feed(first).await?;
    while let Ok(next) = outgoing.try_recv() {
        sink.feed(next).await?;
    }
    sink.flush().await
}

/// Tells a refused tab why, and closes the socket politely but with a deadline.
async fn goodbye(sink: &mut Sink, stream: &mut Stream, shared: &Shared, end: End) {
    let close = async {
        if let End::Refused(refusal) = end {
            let code = refusal.code;
            shared.metrics.refused(code);
            tracing::debug!(code = code.as_str(), message = %refusal.message, "closing a connection");
            let frame = CloseFrame {
                code: close_code_for(code),
                reason: code.as_str().into(),
            };
            if sink.send(refusal.to_message()).await.is_ok() {
                let _ = sink.send(Message::Close(Some(frame))).await;
            }
        }
        // Read on until the tab's own close: frames it still had in flight are dropped
        // here instead of making the kernel reset the connection under the error.
        while let Some(Ok(_)) = stream.next().await {}
    };
    let _ = timeout(CLOSE_TIMEOUT, close).await;
}

fn close_code_for(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::FrameTooLarge => close_code::SIZE,
        ErrorCode::ShuttingDown => close_code::AWAY,
        ErrorCode::ServerFull | ErrorCode::TooManyRooms | ErrorCode::RoomFull => close_code::AGAIN,
        _ => close_code::POLICY,
    }
}
