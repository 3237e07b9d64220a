//! The tabchain peer protocol as a sans-IO state machine, and a deterministic network
//! simulator that drives it.
//!
//! A [`Node`] never touches a socket, a clock or a source of randomness: the browser
//! driver, the simulator ([`sim`]) and the tests hand it time as a
//! [`tabchain_core::Timestamp`] and frames as bytes, and carry out the [`Action`]s it
//! returns. So everything a node says to its peers, timeouts and gossip choices
//! included, runs the same in a tab as in a thousand-node simulation.
//!
//! # Driving a node
//!
//! ```text
//! let mut node = Node::new(Config::default(), key, params, seed, now);
//! let report = node.load_stored(now, stored_records);      // (key, block), any order
//! node.handle_event(now, Event::PeersKnown(ids_from_signaling_server))?;
//! loop {
//!     // 1. Carry out every action, in order, before the next input.
//!     while let Some(action) = node.poll_action() {
//!         match action {
//!             Action::Send { peer, bytes } => channel(peer).send(bytes),
//!             Action::Disconnect { peer, .. } => close(peer),   // after queued sends
//!             Action::Connect { peer } => dial(peer),           // offer via server or send_signal
//!             Action::Signal { from, payload } => webrtc_signal(from, payload),
//!             Action::MineTemplate(block) => workers.mine(block),
//!             Action::StopMining => workers.stop(),
//!             Action::StoreBlock(block) => indexeddb.put(block),
//!             Action::ForgetBlock(key) => indexeddb.delete(key),
//!         }
//!     }
//!     // 2. Show what happened.
//!     while let Some(event) = node.poll_event() { ui.show(event); }
//!     // 3. Wait for the next input or the node's timeout, whichever comes first.
//!     let deadline = node.poll_timeout();
//!     match wait_for_input_until(deadline) {
//!         Input::Timeout(now) => node.handle_timeout(now),
//!         Input::Event(now, event) => { let _ = node.handle_event(now, event); }
//!     }
//! }
//! ```
//!
//! The contract:
//!
//! - `now` is milliseconds since the Unix epoch (`Date.now()` in a browser). A time
//!   earlier than one already seen is treated as that one.
//! - After `handle_event`, `handle_timeout` or a command, drain `poll_action` (and
//!   `poll_event`), then ask `poll_timeout` again: any call may move the deadline.
//!   Calling `handle_timeout` early or late is harmless; it fires what is due.
//! - Links are named by the peer's [`tabchain_core::NodeId`]; keep at most one per
//!   peer (resolve WebRTC glare in the driver). Report [`Event::PeerConnected`] when
//!   the data channel opens, before any [`Event::Message`] from it, with `binding`
//!   bytes both sides compute alike (the two DTLS fingerprints, sorted and joined). The
//!   node then proves the peer's identity in the handshake.
//! - One [`Event::Message`] per data-channel message, in order. Whatever the bytes are,
//!   the node answers with actions: a malformed frame becomes misbehaviour, a
//!   [`NodeEvent::Misbehaved`] and, past the limit, [`Action::Disconnect`].
//! - When the node decides to drop a peer it sends it a `Goodbye` and then asks for
//!   [`Action::Disconnect`]; it has already forgotten the peer. When a link closes on
//!   its own (or the signaling server says the peer left), report
//!   [`Event::PeerDisconnected`]. When the tab closes, call [`Node::shutdown`] and carry
//!   out its actions.
//! - [`Action::Connect`] asks for a new link: reach the peer through the signaling
//!   server, or through the mesh with [`Node::send_signal`] (the peer receives the
//!   payload as [`Action::Signal`] and answers the same way). Report the outcome as
//!   `PeerConnected` or [`Event::DialFailed`]. The node signs what it relays with its
//!   own key and checks the origin's signature before an `Action::Signal`, so its
//!   `from` is proven; a link that fails before its handshake bans no id.
//! - Every peer works within budgets (see [`score`]): bytes of replies its requests
//!   may cost, requests and wants outstanding, orphan bytes, peer lists, relays. Past
//!   one, its requests wait or it loses points; nothing a peer sends grows without
//!   bound.
//! - `Err` from `handle_event` only refuses a local input (a mined block, a wallet's
//!   transaction); it is never caused by a peer.
//!
//! # Modules
//!
//! [`message`] (the wire format), [`handshake`], `liveness` (ping/pong and RTT),
//! `gossip` (announce and fetch), `relay` (fast peers' pushes, the seeds' push
//! strategies, request timeouts from round trips), [`compact`] (how a pushed block
//! travels and is rebuilt), `sync` (header-first catch-up),
//! `discovery` (known peers, dials, bans), [`score`] (misbehaviour), [`peer`] (one
//! link's state), [`node`] (the decisions), [`sim`] (the simulator).

#![forbid(unsafe_code)]

pub mod compact;
pub mod config;
mod discovery;
pub mod event;
mod gossip;
pub mod handshake;
pub mod link;
mod liveness;
pub mod message;
pub mod node;
mod orphans;
pub mod peer;
mod random;
mod relay;
pub mod reorgs;
pub mod score;
pub mod sim;
mod sync;
mod timer;
pub mod trail;

pub use config::{Config, Gossip};
pub use event::{Action, DropReason, Event, NodeError, NodeEvent, SignalError};
pub use handshake::{HandshakeError, Payee, Roles, Version};
pub use message::{DecodeError, InvItem, Message, MessageKind, PROTOCOL_VERSION};
pub use node::Node;
pub use peer::{DroppedPeer, Peer, PeerState};
pub use reorgs::Reorg;
pub use score::Misbehaviour;
pub use trail::Trail;
