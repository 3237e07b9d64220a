//! The tabchain signaling protocol, shared by the signaling server and the browser.
//!
//! Tabs meet through the signaling server, trade WebRTC offers, answers and ICE
//! candidates through it, and then talk directly. This crate holds the wire types and
//! the one function that builds the bytes a tab signs, so both ends agree by
//! construction, and the [`Backoff`] every signaling route retries with. It depends on
//! serde, serde_json, a seeded RNG and `tabchain-core` only, and builds for wasm32.
//!
//! # The protocol
//!
//! A tab opens a WebSocket to `GET /ws?room=<name>`, where the room name is 1 to 64
//! characters of `[A-Za-z0-9_-]` ([`RoomName`]). Every message is one JSON text frame
//! whose `type` field names it ([`ClientMessage`], [`ServerMessage`]).
//!
//! 1. The server sends a fresh challenge:
//!    `{"type":"challenge","nonce":"<64 hex>"}`.
//! 2. The tab answers
//!    `{"type":"hello","public_key":"<64 hex>","signature":"<128 hex>"}`: its ed25519
//!    public key and a signature over [`challenge_bytes`], which are the ASCII bytes of
//!    `tabchain-signal/v1`, then the room name, then the nonce as the 64 lowercase hex
//!    characters it was sent as (not the 32 raw bytes). [`hello`] builds this message.
//! 3. The tab's peer id is its [`NodeId`](tabchain_core::NodeId): the first 16 bytes of
//!    SHA-256 of the public key, as 32 lowercase hex digits. The server answers
//!    `{"type":"welcome","peer_id":"<id>","peers":["<id>", ...]}` with the ids already
//!    in the room, and tells each of them `{"type":"peer_joined","peer_id":"<id>"}`.
//!    A malformed key, a signature that does not verify, or an id already in the room
//!    gets an `error` and a close. A server that runs STUN and TURN adds
//!    `"ice_servers"`, a list of [`IceServer`]s in the JSON shape of `RTCIceServer`
//!    for the tab to hand to `RTCPeerConnection` as they are:
//!    `{"urls":["stun:IP:PORT"]}` and `{"urls":["turn:IP:PORT?transport=udp",
//!    "turn:IP:PORT?transport=tcp"],"username":"<unix expiry>:<id>",
//!    "credential":"<base64>"}`. The TURN credential is the tab's own, in the TURN REST
//!    API form (base64 of HMAC-SHA1 over the username with a secret the server shares
//!    with its TURN server), and opens relays only until the expiry. Without STUN and
//!    TURN the field is absent.
//! 4. A tab sends `{"type":"signal","to":"<id>","payload":<any JSON>}`; the peer `to`
//!    receives `{"type":"signal","from":"<sender id>","payload":<the same JSON>}`. The
//!    server writes `from` itself, so no tab can speak as another. An unknown `to` gets
//!    an `unknown_peer` error and the connection stays open.
//! 5. When a socket closes, or stops answering the server's WebSocket pings, everyone
//!    left in the room receives `{"type":"peer_left","peer_id":"<id>"}` at once.
//! 6. Every refusal is `{"type":"error","code":"<snake_case>","message":"<text>"}`
//!    with an [`ErrorCode`]; when the server also closes the socket, the close frame's
//!    reason is the same code.
//!
//! ```
//! use tabchain_core::SecretKey;
//! use tabchain_signal::{hello, verify_hello, ClientMessage, Nonce, RoomName, ServerMessage};
//!
//! let room: RoomName = "class-1".parse().unwrap();
//! let challenge = r#"{"type":"challenge","nonce":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
//! let ServerMessage::Challenge { nonce } = ServerMessage::parse(challenge).unwrap() else {
//!     unreachable!()
//! };
//! let key = SecretKey::from_seed([7; 32]);
//! let answer = hello(&key, &room, &nonce).to_json();
//!
//! // What the server does with it:
//! let Ok(ClientMessage::Hello { public_key, signature }) = ClientMessage::parse(&answer) else {
//!     unreachable!()
//! };
//! let id = verify_hello(&room, &nonce, &public_key, &signature).unwrap();
//! assert_eq!(id, key.public_key().node_id());
//! ```

pub mod backoff;
mod hello;
mod message;
mod room;
mod text;

pub use backoff::Backoff;
pub use hello::{challenge_bytes, hello, verify_hello, Nonce, DOMAIN};
pub use message::{ClientMessage, ErrorCode, IceServer, MessageError, ServerMessage};
pub use room::{RoomName, RoomNameError};
