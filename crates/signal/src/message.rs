//! The messages of the protocol, the error codes, and the parsing of client frames
//! into either a message or the precise reason it is refused.

use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::Value;
use tabchain_core::{NodeId, PublicKey, Signature};

use crate::Nonce;

/// What a tab sends to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The answer to the challenge: the tab's key and its signature over
    /// [`challenge_bytes`](crate::challenge_bytes). Only valid as the first message.
    Hello {
        #[serde(with = "crate::text")]
        public_key: PublicKey,
        #[serde(with = "crate::text")]
        signature: Signature,
    },
    /// Any JSON value (an SDP offer or answer, an ICE candidate) for the peer `to` in
    /// the same room.
    Signal {
        #[serde(with = "crate::text")]
        to: NodeId,
        payload: Value,
    },
}

impl ClientMessage {
    /// The `type` tags of the variants: a tag outside this list is `unknown_type`.
    const TYPES: [&'static str; 2] = ["hello", "signal"];

    /// Reads a text frame, telling apart text that is not JSON, an unknown `type`, a
    /// malformed key or signature and any other wrong shape.
    pub fn parse(text: &str) -> Result<ClientMessage, MessageError> {
        serde_json::from_str(text).map_err(|err| classify(text, err))
    }

    pub fn to_json(&self) -> String {
        // Infallible: every field serializes to JSON (no maps with non-string keys).
        serde_json::to_string(self).expect("a client message serializes")
    }
}

/// What the server sends to a tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The first message on every connection: sign it to join.
    Challenge { nonce: Nonce },
    /// The tab joined: its id and the ids of everyone already in the room.
    Welcome {
        #[serde(with = "crate::text")]
        peer_id: NodeId,
        #[serde(with = "crate::text::list")]
        peers: Vec<NodeId>,
        /// STUN and TURN servers for this tab's links, with short-lived TURN
        /// credentials of its own. Empty when the server offers none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// Another tab joined the room.
    PeerJoined {
        #[serde(with = "crate::text")]
        peer_id: NodeId,
    },
    /// A tab left the room: its socket closed or stopped answering keepalives.
    PeerLeft {
        #[serde(with = "crate::text")]
        peer_id: NodeId,
    },
    /// A `signal` from the peer `from`; the server sets `from`, so it cannot be forged.
    Signal {
        #[serde(with = "crate::text")]
        from: NodeId,
        payload: Value,
    },
    /// A refusal. Whether the connection stays open depends on the code.
    Error { code: ErrorCode, message: String },
}

impl ServerMessage {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }

    pub fn parse(text: &str) -> Result<ServerMessage, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        // Infallible: every field serializes to JSON (no maps with non-string keys).
        serde_json::to_string(self).expect("a server message serializes")
    }
}

/// One entry of `RTCConfiguration.iceServers`, in its own JSON shape, so a tab hands
/// it to `RTCPeerConnection` as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp` or `...?transport=tcp`.
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Every reason the server refuses something. Sent as the `code` of an `error` message
/// and, when the server closes the socket, as the close frame's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The `room` query parameter is missing or not a valid room name. Closes.
    BadRoom,
    /// The server holds its maximum number of connections. Closes.
    ServerFull,
    /// Joining would open a room past the server's maximum number of rooms. Closes.
    TooManyRooms,
    /// The room holds its maximum number of peers. Closes.
    RoomFull,
    /// No valid `hello` came within the handshake timeout. Closes.
    HandshakeTimeout,
    /// The `hello`'s public key is not 64 hex digits or not an ed25519 point. Closes.
    BadPublicKey,
    /// The `hello`'s signature is malformed or does not verify. Closes.
    BadSignature,
    /// A peer with the same id is already in the room. Closes.
    DuplicatePeer,
    /// A text frame is not JSON.
    MalformedJson,
    /// A message's `type` is not one the client may send.
    UnknownType,
    /// A known message type with missing or ill-typed fields.
    InvalidMessage,
    /// A binary frame: the protocol is JSON text only.
    BinaryFrame,
    /// A message out of order: anything but `hello` first (closes), or a second `hello`.
    UnexpectedMessage,
    /// A frame larger than the server's frame limit. Closes.
    FrameTooLarge,
    /// More messages than the connection's rate allows; the message was dropped.
    RateLimited,
    /// A `signal` to an id that is not in the room (it may just have left).
    UnknownPeer,
    /// No message from the tab within the idle timeout. Closes.
    IdleTimeout,
    /// The tab stopped answering the server's WebSocket pings. Closes.
    KeepaliveTimeout,
    /// The tab read its messages too slowly and its queue filled up. Closes.
    SlowConsumer,
    /// The server is shutting down. Closes.
    ShuttingDown,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::BadRoom,
        ErrorCode::ServerFull,
        ErrorCode::TooManyRooms,
        ErrorCode::RoomFull,
        ErrorCode::HandshakeTimeout,
        ErrorCode::BadPublicKey,
        ErrorCode::BadSignature,
        ErrorCode::DuplicatePeer,
        ErrorCode::MalformedJson,
        ErrorCode::UnknownType,
        ErrorCode::InvalidMessage,
        ErrorCode::BinaryFrame,
        ErrorCode::UnexpectedMessage,
        ErrorCode::FrameTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::UnknownPeer,
        ErrorCode::IdleTimeout,
        ErrorCode::KeepaliveTimeout,
        ErrorCode::SlowConsumer,
        ErrorCode::ShuttingDown,
    ];

    /// The snake_case name, as in JSON: for close reasons and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRoom => "bad_room",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::HandshakeTimeout => "handshake_timeout",
            ErrorCode::BadPublicKey => "bad_public_key",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::DuplicatePeer => "duplicate_peer",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::BinaryFrame => "binary_frame",
            ErrorCode::UnexpectedMessage => "unexpected_message",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::IdleTimeout => "idle_timeout",
            ErrorCode::KeepaliveTimeout => "keepalive_timeout",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::ShuttingDown => "shutting_down",
        }
    }
}

/// Why a client's text frame is not a [`ClientMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("not JSON: {0}")]
    MalformedJson(String),
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("the public key is not 64 hex digits")]
    BadPublicKey,
    #[error("the signature is not 128 hex digits")]
    BadSignature,
    #[error("invalid message: {0}")]
    Invalid(String),
}

impl MessageError {
    pub fn code(&self) -> ErrorCode {
        match self {
            MessageError::MalformedJson(_) => ErrorCode::MalformedJson,
            MessageError::UnknownType(_) => ErrorCode::UnknownType,
            MessageError::BadPublicKey => ErrorCode::BadPublicKey,
            MessageError::BadSignature => ErrorCode::BadSignature,
            MessageError::Invalid(_) => ErrorCode::InvalidMessage,
        }
    }
}

/// Finds out what is wrong with a frame serde refused. Only refused frames pay for the
/// second parse.
fn classify(text: &str, err: serde_json::Error) -> MessageError {
    if matches!(
        err.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return MessageError::MalformedJson(err.to_string());
    }
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return MessageError::MalformedJson(err.to_string());
    };
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let kind = field("type");
    if kind == Some("hello") {
        if field("public_key")
            .and_then(|k| k.parse::<PublicKey>().ok())
            .is_none()
        {
            return MessageError::BadPublicKey;
        }
        if field("signature")
            .and_then(|s| s.parse::<Signature>().ok())
            .is_none()
        {
            return MessageError::BadSignature;
        }
    }
    match kind {
        // Echo a bounded prefix: the refusal should not be a way to amplify a frame.
        Some(kind) if !ClientMessage::TYPES.contains(&kind) => {
            MessageError::UnknownType(kind.chars().take(32).collect())
        }
        _ => MessageError::Invalid(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::SecretKey;

    fn id(n: u8) -> NodeId {
        SecretKey::from_seed([n; 32]).public_key().node_id()
    }

    #[test]
    fn client_messages_have_the_documented_json() {
        let key = SecretKey::from_seed([1; 32]);
        let hello = ClientMessage::Hello {
            public_key: key.public_key(),
            signature: key.sign(b"x"),
        };
        let json: Value = serde_json::from_str(&hello.to_json()).unwrap();
        assert_eq!(json["type"], "hello");
        assert_eq!(json["public_key"], key.public_key().to_string());
        assert_eq!(json["signature"].as_str().unwrap().len(), 128);
        assert_eq!(ClientMessage::parse(&hello.to_json()), Ok(hello));

        let text = format!(
            r#"{{"type":"signal","to":"{}","payload":{{"sdp":"v=0"}}}}"#,
            id(2)
        );
        assert_eq!(
            ClientMessage::parse(&text),
            Ok(ClientMessage::Signal {
                to: id(2),
                payload: serde_json::json!({"sdp": "v=0"})
            })
        );
    }

    #[test]
    fn server_messages_have_the_documented_json() {
        let cases = [
            (
                ServerMessage::Challenge {
                    nonce: Nonce([0xcd; 32]),
                },
                format!(r#"{{"type":"challenge","nonce":"{}"}}"#, "cd".repeat(32)),
            ),
            (
                ServerMessage::Welcome {
                    peer_id: id(1),
                    peers: vec![id(2), id(3)],
                    ice_servers: Vec::new(),
                },
                format!(
                    r#"{{"type":"welcome","peer_id":"{}","peers":["{}","{}"]}}"#,
                    id(1),
                    id(2),
                    id(3)
                ),
            ),
            (
                ServerMessage::PeerJoined { peer_id: id(1) },
                format!(r#"{{"type":"peer_joined","peer_id":"{}"}}"#, id(1)),
            ),
            (
                ServerMessage::PeerLeft { peer_id: id(1) },
                format!(r#"{{"type":"peer_left","peer_id":"{}"}}"#, id(1)),
            ),
            (
                ServerMessage::Signal {
                    from: id(1),
                    payload: serde_json::json!([1, "two"]),
                },
                format!(
                    r#"{{"type":"signal","from":"{}","payload":[1,"two"]}}"#,
                    id(1)
                ),
            ),
            (
                ServerMessage::error(ErrorCode::RoomFull, "full"),
                r#"{"type":"error","code":"room_full","message":"full"}"#.to_owned(),
            ),
        ];
        for (message, json) in cases {
            assert_eq!(message.to_json(), json);
            assert_eq!(ServerMessage::parse(&json).unwrap(), message);
        }
    }

    #[test]
    fn error_code_names_match_their_json() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    #[test]
    fn refused_frames_name_what_is_wrong() {
        let key = SecretKey::from_seed([1; 32]).public_key().to_string();
        let sig = "00".repeat(64);
        let cases = [
            ("{not json", ErrorCode::MalformedJson),
            ("", ErrorCode::MalformedJson),
            ("[1,2]", ErrorCode::InvalidMessage),
            (r#"{"payload":1}"#, ErrorCode::InvalidMessage),
            (r#"{"type":7}"#, ErrorCode::InvalidMessage),
            (r#"{"type":"welcome","peers":[]}"#, ErrorCode::UnknownType),
            (
                r#"{"type":"hello","signature":"00"}"#,
                ErrorCode::BadPublicKey,
            ),
            (
                &format!(
                    r#"{{"type":"hello","public_key":"zz{}","signature":"{sig}"}}"#,
                    &key[2..]
                ),
                ErrorCode::BadPublicKey,
            ),
            (
                &format!(r#"{{"type":"hello","public_key":"{key}","signature":"abc"}}"#),
                ErrorCode::BadSignature,
            ),
            (
                r#"{"type":"signal","to":"nobody","payload":1}"#,
                ErrorCode::InvalidMessage,
            ),
            (
                &format!(r#"{{"type":"signal","to":"{}"}}"#, id(1)),
                ErrorCode::InvalidMessage,
            ),
        ];
        for (text, code) in cases {
            assert_eq!(
                ClientMessage::parse(text).map_err(|e| e.code()),
                Err(code),
                "{text}"
            );
        }
    }

    #[test]
    fn an_unknown_type_is_echoed_only_in_part() {
        let text = format!(r#"{{"type":"{}"}}"#, "x".repeat(1000));
        assert_eq!(
            ClientMessage::parse(&text),
            Err(MessageError::UnknownType("x".repeat(32)))
        );
    }
}
