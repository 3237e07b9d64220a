//! The link manager: which WebRTC links a node has or is setting up, how each one's
//! signals travel, and when an attempt is given up. It owns the link table, session
//! ids, the glare rule, the choice of route and the dial deadline, and nothing else:
//! no connection, no socket, no clock. The browser driver, the simulator and a native
//! node drive this same code, so a rule here behaves the same in all of them.
//!
//! # Driving it
//!
//! Like [`crate::Node`]: inputs go in with the time, [`LinkAction`]s come out of
//! [`Links::poll_action`], and [`Links::poll_timeout`] says when to call
//! [`Links::handle_timeout`].
//!
//! - The node's [`crate::Action::Connect`] becomes [`Links::dial`], its
//!   [`crate::Action::Disconnect`] [`Links::close`], and a signal it relayed
//!   ([`crate::Action::Signal`]) [`Links::handle_signal`] with [`Route::Mesh`].
//! - What the platform hears of a connection comes back by session: its description
//!   ([`Links::described`]), its candidates ([`Links::local_candidate`]), its data
//!   channel opening ([`Links::channel_open`]) and its end ([`Links::transport_closed`]).
//! - Who can be reached how: the signaling server's room ([`Links::server_joined`] and
//!   friends) and the tabs of this browser ([`Links::local_here`], [`Links::local_gone`]).
//! - [`LinkAction::Opened`] means: compute the link's binding and report
//!   [`crate::Event::PeerConnected`]. [`LinkAction::Node`] carries an event for the node
//!   as is. [`LinkAction::Ended`] is for the log.
//!
//! # The rules
//!
//! - One link per peer. An offer from a peer we have an open link to is stale (the
//!   other half of a glare already settled) and ignored.
//! - Glare: when both sides dial at once, the offer of the smaller node id wins; the
//!   other side drops its own attempt and answers.
//! - Routes, in order of preference: the browser's own tabs (BroadcastChannel), then
//!   the signaling server if the peer is in its room, then Nostr relays if the peer
//!   announced itself there and we have no link yet (public relays only bootstrap),
//!   then the mesh (through a linked peer). A link keeps the route it started on.
//! - A link whose data channel has not opened within [`DIAL_TIMEOUT_MS`] is given up:
//!   long enough for ICE to try a TURN relay after the direct paths fail.
//! - Offers that come through the mesh or this browser's tabs (rather than the
//!   signaling server, which limits each socket itself) are rate limited, and at most
//!   [`MAX_UNSOLICITED_ANSWERS`] of them are answered at once: a peer cannot make us
//!   open connections without bound.

pub mod sdp;
mod signal;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tabchain_core::{NodeId, Timestamp};

use crate::event::Event;
use crate::random::Rng;
use crate::score::Budget;

pub use signal::{Candidate, Signal};

/// A link whose data channel has not opened by then is given up. Chromium reports a
/// relayed pair within a few seconds once direct candidates fail; 10 s leaves room for
/// a slow TURN allocation on a busy school network.
pub const DIAL_TIMEOUT_MS: u64 = 10_000;

/// Tabs of one browser the manager remembers as reachable over its BroadcastChannel,
/// where any page of the origin can announce any id.
pub const MAX_LOCAL_TABS: usize = 64;

/// Ids the manager remembers in the signaling server's room (a room holds 64 by
/// default; a server run by someone else may claim more).
pub const MAX_ROOM_PEERS: usize = 1_024;

/// Offers through the mesh or the browser's tabs answered at once, and per second after
/// that. A tab answering an offer creates an `RTCPeerConnection`: ICE gathering, DTLS
/// keys. Honest peers dial a few links per second at most (four per topology round).
pub const OFFER_BURST: u32 = 16;
pub const OFFERS_PER_SEC: u32 = 2;
/// Connections answering mesh or tab offers that may be setting up at once.
pub const MAX_UNSOLICITED_ANSWERS: usize = 16;

/// How a link's offer, answer and candidates travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// The browser's BroadcastChannel: the peer is a tab of this browser.
    Local,
    /// The signaling server's room.
    Server,
    /// Public Nostr relays, for a page with no signaling server.
    Nostr,
    /// Through a linked peer ([`crate::Node::send_signal`]).
    Mesh,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Local => "this browser",
            Route::Server => "the signaling server",
            Route::Nostr => "Nostr relays",
            Route::Mesh => "the mesh",
        }
    }
}

/// Why a link ended or was given up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndReason {
    #[error("no data channel within {} s", DIAL_TIMEOUT_MS / 1000)]
    DialTimeout,
    #[error("it left the signaling server")]
    LeftServer,
    #[error("no way to reach it: {0}")]
    Unreachable(String),
    /// The platform's connection ended (a closed channel, ICE failure, a refused SDP).
    #[error("{0}")]
    Transport(String),
    /// Its offer came past the budget for offers through the mesh or the browser.
    #[error("too many offers through {}", .0.as_str())]
    OfferLimit(Route),
}

/// Something for the platform to do, from [`Links::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAction {
    /// Create a connection for `session` as the offering side, with one data channel;
    /// report its description with [`Links::described`].
    Offer { peer: NodeId, session: u64 },
    /// Create a connection for `session` answering `sdp`; report its description.
    Answer {
        peer: NodeId,
        session: u64,
        sdp: String,
    },
    /// The answer to our offer of `session`.
    AcceptAnswer {
        peer: NodeId,
        session: u64,
        sdp: String,
    },
    AddCandidate {
        peer: NodeId,
        session: u64,
        candidate: Candidate,
    },
    /// Carry `signal` to `peer` by `route`; if that is impossible, call
    /// [`Links::unreachable`].
    Send {
        peer: NodeId,
        route: Route,
        signal: Signal,
    },
    /// Tear down the connection of `session`. With `grace`, let frames already queued
    /// on it (a `Goodbye`) leave first.
    Close {
        peer: NodeId,
        session: u64,
        grace: bool,
    },
    /// The data channel of `session` opened: report [`Event::PeerConnected`] with the
    /// binding this connection computes, or end it if it has none.
    Opened { peer: NodeId, session: u64 },
    /// Hand this to [`crate::Node::handle_event`].
    Node(Event),
    /// A link ended or an attempt was given up, for the log.
    Ended { peer: NodeId, reason: EndReason },
}

#[derive(Debug)]
struct Link {
    session: u64,
    route: Route,
    /// We made the offer.
    offerer: bool,
    /// The node asked for this link: a failure is reported as `DialFailed`.
    dialed: bool,
    /// The data channel opened.
    open: bool,
    deadline: Timestamp,
}

/// The link table of one node, and what it knows of the ways to reach others.
#[derive(Debug)]
pub struct Links {
    me: NodeId,
    rng: Rng,
    links: BTreeMap<NodeId, Link>,
    /// Links not open yet: while there are none, nothing has a deadline, and
    /// `poll_timeout` (asked after every input) need not look at every link.
    pending: usize,
    /// Tabs of this browser in the room.
    local: BTreeSet<NodeId>,
    /// The signaling server's room, while joined.
    server: Option<BTreeSet<NodeId>>,
    /// Tabs that announced themselves in the room on Nostr relays.
    nostr: BTreeSet<NodeId>,
    /// Offers through the mesh or the browser's tabs we may still answer.
    offers: Budget,
    actions: VecDeque<LinkAction>,
}

impl Links {
    /// `seed` draws the session ids.
    pub fn new(me: NodeId, seed: u64) -> Links {
        Links {
            me,
            rng: Rng::new(seed),
            links: BTreeMap::new(),
            pending: 0,
            local: BTreeSet::new(),
            server: None,
            nostr: BTreeSet::new(),
            offers: Budget::new(OFFER_BURST, OFFERS_PER_SEC, Timestamp(0)),
            actions: VecDeque::new(),
        }
    }

    // Getters.

    /// Peers whose link is being set up (no data channel yet).
    pub fn dialing(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.links
            .iter()
            .filter(|(_, link)| !link.open)
            .map(|(peer, _)| *peer)
    }

    /// The session of the link to `peer`, if there is one.
    pub fn session(&self, peer: &NodeId) -> Option<u64> {
        self.links.get(peer).map(|link| link.session)
    }

    /// Whether `session` is the open link to `peer`.
    pub fn is_open(&self, peer: &NodeId, session: u64) -> bool {
        self.links
            .get(peer)
            .is_some_and(|link| link.open && link.session == session)
    }

    /// Some link is open: relays are no longer needed to meet the room.
    pub fn any_open(&self) -> bool {
        self.links.values().any(|link| link.open)
    }

    /// Tabs of this browser in the room.
    pub fn local_tabs(&self) -> usize {
        self.local.len()
    }

    /// The best way to reach `peer` now.
    pub fn best_route(&self, peer: &NodeId) -> Route {
        if self.local.contains(peer) {
            Route::Local
        } else if self.server.as_ref().is_some_and(|room| room.contains(peer)) {
            Route::Server
        } else if self.nostr.contains(peer) && !self.any_open() {
            Route::Nostr
        } else {
            Route::Mesh
        }
    }

    // Commands from the node.

    /// The node's [`crate::Action::Connect`].
    pub fn dial(&mut self, now: Timestamp, peer: NodeId) {
        if peer == self.me {
            return;
        }
        if let Some(link) = self.links.get_mut(&peer) {
            // Already answering its offer: that attempt now carries the node's dial, so
            // its failure is reported.
            link.dialed = true;
            return;
        }
        let session = self.rng.next_u64();
        let route = self.best_route(&peer);
        self.insert(
            peer,
            Link {
                session,
                route,
                offerer: true,
                dialed: true,
                open: false,
                deadline: now.saturating_add(DIAL_TIMEOUT_MS),
            },
        );
        self.actions.push_back(LinkAction::Offer { peer, session });
    }

    /// The node's [`crate::Action::Disconnect`]: it has already forgotten the peer.
    pub fn close(&mut self, peer: &NodeId) {
        if let Some(link) = self.remove(peer) {
            self.actions.push_back(LinkAction::Close {
                peer: *peer,
                session: link.session,
                grace: true,
            });
        }
    }

    /// The node is shutting down (its goodbyes are queued): close every link.
    pub fn close_all(&mut self) {
        let peers: Vec<NodeId> = self.links.keys().copied().collect();
        for peer in peers {
            self.close(&peer);
        }
    }

    // Signals.

    /// A signal from `from`, by `route`.
    pub fn handle_signal(&mut self, now: Timestamp, from: NodeId, route: Route, signal: Signal) {
        match signal {
            Signal::Offer { session, sdp } => self.on_offer(now, from, route, session, sdp),
            Signal::Answer { session, sdp } => {
                if self
                    .current(&from, session)
                    .is_some_and(|link| link.offerer)
                {
                    self.actions.push_back(LinkAction::AcceptAnswer {
                        peer: from,
                        session,
                        sdp,
                    });
                }
            }
            Signal::Candidate { session, candidate } => {
                if self.current(&from, session).is_some() {
                    self.actions.push_back(LinkAction::AddCandidate {
                        peer: from,
                        session,
                        candidate,
                    });
                }
            }
        }
    }

    fn on_offer(&mut self, now: Timestamp, from: NodeId, route: Route, session: u64, sdp: String) {
        if from == self.me {
            return;
        }
        if route != Route::Server && !self.links.contains_key(&from) {
            let answering = self
                .links
                .values()
                .filter(|l| !l.open && !l.offerer && !l.dialed && l.route != Route::Server)
                .count();
            if answering >= MAX_UNSOLICITED_ANSWERS || !self.offers.take(1, now) {
                self.actions.push_back(LinkAction::Ended {
                    peer: from,
                    reason: EndReason::OfferLimit(route),
                });
                return;
            }
        }
        let mut dialed = false;
        if let Some(link) = self.links.get(&from) {
            // A link that is up stays: an offer crossing it is the stale half of a
            // glare already settled. (A peer that really starts over says goodbye
            // first, or stops answering pings and is dropped.)
            let ours_wins = link.offerer && self.me < from;
            if link.open || link.session == session || ours_wins {
                return;
            }
            let old = self.remove(&from).expect("just looked it up");
            dialed = old.dialed;
            self.actions.push_back(LinkAction::Close {
                peer: from,
                session: old.session,
                grace: false,
            });
        }
        self.insert(
            from,
            Link {
                session,
                route,
                offerer: false,
                dialed,
                open: false,
                deadline: now.saturating_add(DIAL_TIMEOUT_MS),
            },
        );
        self.actions.push_back(LinkAction::Answer {
            peer: from,
            session,
            sdp,
        });
    }

    // What the platform reports of a connection.

    /// Our offer or answer for `session` is in place: it goes to the peer.
    pub fn described(&mut self, peer: NodeId, session: u64, sdp: String) {
        let Some(link) = self.current(&peer, session) else {
            return;
        };
        let signal = if link.offerer {
            Signal::Offer { session, sdp }
        } else {
            Signal::Answer { session, sdp }
        };
        let route = link.route;
        self.actions.push_back(LinkAction::Send {
            peer,
            route,
            signal,
        });
    }

    pub fn local_candidate(&mut self, peer: NodeId, session: u64, candidate: Candidate) {
        if let Some(link) = self.current(&peer, session) {
            let route = link.route;
            self.actions.push_back(LinkAction::Send {
                peer,
                route,
                signal: Signal::Candidate { session, candidate },
            });
        }
    }

    /// The data channel of `session` shows life (its `open` event, or a frame that
    /// came before it). Returns whether `session` is the current link to `peer`: a
    /// frame from any other is dropped. The first time, [`LinkAction::Opened`] is
    /// queued; carry it out before handing the node a frame from this link.
    pub fn channel_open(&mut self, peer: NodeId, session: u64) -> bool {
        let Some(link) = self.links.get_mut(&peer).filter(|l| l.session == session) else {
            return false;
        };
        if !link.open {
            link.open = true;
            self.pending -= 1;
            self.actions.push_back(LinkAction::Opened { peer, session });
        }
        true
    }

    /// The connection of `session` ended on its own, or could not be set up.
    pub fn transport_closed(&mut self, peer: NodeId, session: u64, why: String) {
        if self.current(&peer, session).is_some() {
            self.end(peer, EndReason::Transport(why));
        }
    }

    /// A signal for `peer` could not be sent by its link's route.
    pub fn unreachable(&mut self, peer: NodeId, why: String) {
        self.end(peer, EndReason::Unreachable(why));
    }

    // Who is reachable how.

    /// Joined the signaling server's room, where `peers` are.
    pub fn server_joined(&mut self, peers: impl IntoIterator<Item = NodeId>) {
        self.server = Some(peers.into_iter().take(MAX_ROOM_PEERS).collect());
    }

    pub fn server_peer_joined(&mut self, peer: NodeId) {
        if let Some(room) = self
            .server
            .as_mut()
            .filter(|room| room.len() < MAX_ROOM_PEERS)
        {
            room.insert(peer);
        }
    }

    /// The server says `peer` is gone: its socket closed, so its tab most likely did.
    pub fn server_peer_left(&mut self, peer: NodeId) {
        if let Some(room) = &mut self.server {
            room.remove(&peer);
        }
        self.end(peer, EndReason::LeftServer);
    }

    /// The connection to the signaling server is lost. Links set up through it stay;
    /// new ones go through the mesh until it is back.
    pub fn server_lost(&mut self) {
        self.server = None;
    }

    /// A tab of this browser is in the room.
    pub fn local_here(&mut self, peer: NodeId) {
        if peer != self.me && self.local.len() < MAX_LOCAL_TABS {
            self.local.insert(peer);
        }
    }

    /// A tab of this browser said goodbye: it is no longer reached over the channel.
    /// Its link stays until it ends on its own (the tab says `Goodbye` on it): anyone
    /// can post a goodbye in another tab's name.
    pub fn local_gone(&mut self, peer: NodeId) {
        self.local.remove(&peer);
    }

    /// A tab announced itself in the room on a Nostr relay.
    pub fn nostr_here(&mut self, peer: NodeId) {
        if peer != self.me && self.nostr.len() < MAX_ROOM_PEERS {
            self.nostr.insert(peer);
        }
    }

    /// A tab said goodbye on the relays. As with the browser's tabs, its link stays
    /// until it ends on its own.
    pub fn nostr_gone(&mut self, peer: NodeId) {
        self.nostr.remove(&peer);
    }

    // Time.

    /// Gives up the attempts past their deadline.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.pending == 0 {
            return;
        }
        let late: Vec<NodeId> = self
            .links
            .iter()
            .filter(|(_, link)| !link.open && link.deadline <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in late {
            self.end(peer, EndReason::DialTimeout);
        }
    }

    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.pending == 0 {
            return None;
        }
        self.links
            .values()
            .filter(|link| !link.open)
            .map(|link| link.deadline)
            .min()
    }

    pub fn poll_action(&mut self) -> Option<LinkAction> {
        self.actions.pop_front()
    }

    /// A new attempt, not open yet.
    fn insert(&mut self, peer: NodeId, link: Link) {
        debug_assert!(!link.open && !self.links.contains_key(&peer));
        self.pending += 1;
        self.links.insert(peer, link);
    }

    fn remove(&mut self, peer: &NodeId) -> Option<Link> {
        let link = self.links.remove(peer)?;
        if !link.open {
            self.pending -= 1;
        }
        Some(link)
    }

    fn current(&self, peer: &NodeId, session: u64) -> Option<&Link> {
        self.links.get(peer).filter(|link| link.session == session)
    }

    /// The link to `peer` is over: close it, and tell the node unless it asked.
    fn end(&mut self, peer: NodeId, reason: EndReason) {
        let Some(link) = self.remove(&peer) else {
            return;
        };
        self.actions.push_back(LinkAction::Close {
            peer,
            session: link.session,
            grace: false,
        });
        if link.open {
            self.actions
                .push_back(LinkAction::Node(Event::PeerDisconnected { peer }));
        } else if link.dialed {
            self.actions
                .push_back(LinkAction::Node(Event::DialFailed { peer }));
        }
        self.actions.push_back(LinkAction::Ended { peer, reason });
    }
}

#[cfg(test)]
mod tests;
