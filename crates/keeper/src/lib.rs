//! The tabchain keeper: a native full node that keeps a room's chain when every tab is
//! gone (the seeds' "full-fledged node").
//!
//! It is the same [`tabchain_node::Node`] state machine and the same link manager
//! ([`tabchain_node::link::Links`]) a tab drives, with a native driver:
//!
//! - it joins the room through the signaling server like a tab: the same challenge,
//!   the same peer id (from its ed25519 key, kept on disk: [`identity`]), the same
//!   signed, link-bound handshake, in which it states the roles `full` and `keeper`
//!   (and `miner` with `--mine`);
//! - it links to tabs over real WebRTC data channels with str0m, a sans-IO WebRTC
//!   stack driven like the node itself (inputs with the time in, outputs drained), so
//!   the driver is one loop over one set of inputs. webrtc-rs would bring its own
//!   tasks and timers and hide the state the node needs to see;
//! - blocks go to redb ([`store`]), each turn's in one durable transaction, and load
//!   back in chain order through the node's checks on start;
//! - it can mine natively ([`miner`]) with the core's PoW search;
//! - it publishes a [`Summary`] of its chain, which the signaling server serves as
//!   `GET /rooms/<room>/chain`.
//!
//! Whatever a tab may send a keeper goes through the same node rules, budgets and
//! decoders as between tabs; datagrams no link claims are dropped before str0m parses
//! them.

pub mod driver;
pub mod identity;
pub mod miner;
pub mod rtc;
pub mod store;
pub mod summary;

pub use driver::{run, KeeperError, Settings};
pub use summary::Summary;

/// The local addresses a keeper takes WebRTC traffic on by default: every IPv4
/// address of the machine, loopback included (a tab on the same machine).
pub fn local_addresses() -> Vec<std::net::IpAddr> {
    let mut addresses: Vec<std::net::IpAddr> = if_addrs::get_if_addrs()
        .map(|interfaces| {
            interfaces
                .into_iter()
                .map(|interface| interface.ip())
                .filter(|ip| ip.is_ipv4())
                .collect()
        })
        .unwrap_or_default();
    addresses.sort();
    addresses.dedup();
    addresses
}
