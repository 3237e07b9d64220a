//! The tabchain browser node: [`Handle::start`] runs a `tabchain_node::Node` in a page,
//! linked to the room's other tabs over WebRTC, and hands the page a [`view::View`] of
//! it whenever something changed.
//!
//! What each part owns:
//! - `driver`: the node's event loop; carries out the link manager's decisions;
//! - `rtc`: one `RTCPeerConnection` and its data channel; `stats`: what its
//!   `getStats()` says (the certificates DTLS verified, the selected candidate pair);
//! - `socket`: a WebSocket, to the signaling server or a Nostr relay;
//! - `broadcast`: the BroadcastChannel shared by the room's tabs of one browser;
//! - `miners`: the mining workers; `store`: IndexedDB; `identity`: the node key, per
//!   tab (sessionStorage); `wallet_store`: the wallet, per profile (IndexedDB);
//! - `js`: the clock, randomness, timers and the one place closures are leaked.
//!
//! The parts that need no browser ([`settings`], [`durable`], [`chainfile`], [`backup`], [`inspect`], [`forks`], [`gossip`], [`map`], [`tamper`], [`sdp`], [`names`], [`path`], [`view`],
//! [`record`], [`wire`], [`hashrate`], [`log`]) build and test natively.

#![forbid(unsafe_code)]

pub mod backup;
pub mod chainfile;
pub mod durable;
pub mod forks;
pub mod gossip;
pub mod hashrate;
pub mod inspect;
pub mod log;
pub mod map;
pub mod names;
pub mod path;
pub mod record;
pub mod settings;
pub mod tamper;
pub mod view;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod broadcast;
#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod identity;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod miners;
#[cfg(target_arch = "wasm32")]
mod rtc;
#[cfg(target_arch = "wasm32")]
mod socket;
#[cfg(target_arch = "wasm32")]
pub mod stats;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(target_arch = "wasm32")]
mod wallet_store;

#[cfg(target_arch = "wasm32")]
pub use driver::{Handle, PayError};
