//! The tabchain page: a leptos (CSR) view of one browser node. The root component
//! starts the node ([`tabchain_web::Handle`]), keeps the latest [`tabchain_web::view::View`]
//! in a signal, and lays out one component per panel; panels only read their part of
//! the view and send commands through the handle.
//!
//! Elements tests rely on carry `data-testid` attributes (see the README); keep them.

#![cfg(target_arch = "wasm32")]
#![forbid(unsafe_code)]

mod app;
mod chain;
mod fork_tree;
mod format;
mod gossip_trail;
mod inspector;
mod log;
mod miner;
mod node;
mod peers;
mod room_map;
mod tamper;
mod wallet;

pub use app::App;
