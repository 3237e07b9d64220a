//! Signaling through public Nostr relays, for a page that has no signaling server of
//! its own (a static site): tabs of a room find each other and trade their first
//! WebRTC offers, answers and candidates as NIP-01 events. Once a tab has one link, the
//! mesh carries the rest, as with the signaling server.
//!
//! - [`room`]: the room's key and topic, from its genesis and `?secret=` (Argon2id).
//! - [`note`]: what a tab says, signed by its node key and encrypted to the room.
//! - [`event`]: NIP-01 events and messages.
//! - [`pool`]: the relays of one tab, sans-IO: what to publish, what to believe, when
//!   to try again.
//!
//! It builds for wasm32 and natively; the browser driver moves the WebSocket frames.

pub mod event;
pub mod note;
pub mod pool;
pub mod room;

pub use note::{Body, Note, NoteError};
pub use pool::{Pool, PoolAction, RelayState, RelayStatus};
pub use room::RoomKey;

/// Relays asked when the page gives no `?relays=`: long-running public relays that
/// accept ephemeral events from anyone.
pub const DEFAULT_RELAYS: &[&str] = &[
    "wss://relay.damus.io",
    "wss://nos.lol",
    "wss://relay.primal.net",
    "wss://relay.nostr.band",
    "wss://offchain.pub",
];
