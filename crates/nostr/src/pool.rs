//! The relay pool: one tab's connections to several Nostr relays, as a sans-IO state
//! machine like the node's. The platform opens the sockets ([`PoolAction::Connect`]),
//! passes their frames in ([`Pool::received`]) and sends what it is told
//! ([`PoolAction::Send`]); the pool decides what to publish, what to believe and when to
//! try a relay again.
//!
//! # Manners
//!
//! Public relays serve everyone for free, so the pool asks little of them:
//! - every note goes to every relay that is up, once; what comes back from several is
//!   taken once;
//! - presence is published when a relay opens and then every [`PRESENCE_MS`]; a
//!   [`Body::Hello`] (published only while the tab has no link) is answered with one
//!   [`Body::Here`] per [`HERE_GAP_MS`] at most, however many tabs say hello;
//! - the signals of one link attempt that come within [`COALESCE_MS`] go in one note;
//! - a relay that says `NOTICE`, or refuses an event as `rate-limited:`, gets nothing
//!   from this tab for a while, doubling each time;
//! - a relay that fails or closes is tried again later, doubling up to five minutes.
//!
//! # Trust
//!
//! Nothing a relay (or anyone publishing to it) says is believed unless it is a note of
//! this room ([`crate::note::open`]), fresh by its sender's clock ([`FRESH_MS`]), not
//! already seen, not our own, and addressed to us or to the room.

use std::collections::{BTreeMap, HashSet, VecDeque};

use k256::schnorr::SigningKey;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tabchain_core::{NodeId, SecretKey, Timestamp};
use tabchain_node::link::Signal;
use tabchain_signal::Backoff;

use crate::event::{publish, subscribe, Event, RelayMessage, KIND};
use crate::note::{open, seal, Body, Note, MAX_CONTENT, MAX_SIGNALS};
use crate::room::RoomKey;

/// Presence is published this often (and on every relay's opening).
pub const PRESENCE_MS: u64 = 30_000;
/// Hellos are answered at most this often.
pub const HERE_GAP_MS: u64 = 3_000;
/// Signals for one peer wait this long for the rest of their batch (an offer's
/// candidates come within tens of milliseconds of it).
pub const COALESCE_MS: u64 = 100;
/// A note sent further than this from our clock, either way, is dropped: old ones are
/// replays, and laptops' clocks agree to within seconds.
pub const FRESH_MS: u64 = 60_000;
/// Notes remembered as seen: more than a room of tabs says within [`FRESH_MS`].
pub const SEEN: usize = 4_096;
/// A relay's frame longer than this is not parsed: an event carrying the largest note
/// we open, with its id, keys, signature and tags, is well under it.
pub const MAX_FRAME: usize = 2 * MAX_CONTENT;

const RETRY_FIRST_MS: u64 = 2_000;
const RETRY_LONGEST_MS: u64 = 300_000;
const PAUSE_FIRST_MS: u64 = 10_000;
const PAUSE_LONGEST_MS: u64 = 300_000;

/// The subscription id this tab uses on every relay.
const SUBSCRIPTION: &str = "tabchain";

/// How one relay is doing, for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    Connecting,
    /// Open, but it has not yet confirmed our subscription.
    Open,
    /// Open and answering.
    Answering,
    /// It asked us to slow down: nothing is published to it for a while.
    Paused,
    /// Failed or closed; tried again later.
    Down,
}

impl RelayState {
    pub fn as_str(self) -> &'static str {
        match self {
            RelayState::Connecting => "connecting",
            RelayState::Open => "open",
            RelayState::Answering => "answering",
            RelayState::Paused => "paused",
            RelayState::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayStatus {
    pub url: String,
    pub state: RelayState,
    /// Why it is down or paused.
    pub detail: String,
    /// Events of this room it passed on to us.
    pub heard: u64,
    /// Events we published to it.
    pub published: u64,
}

/// Something for the platform to do, from [`Pool::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolAction {
    /// Open a WebSocket to `url` for relay `relay`; report [`Pool::opened`] or
    /// [`Pool::closed`].
    Connect { relay: usize, url: String },
    /// Send this text frame on relay `relay`'s socket.
    Send { relay: usize, text: String },
    /// Close relay `relay`'s socket; it is tried again later.
    Disconnect { relay: usize },
    /// A note for this tab: presence of a tab in the room, or signals for us.
    Heard(Note),
}

#[derive(Debug)]
struct Relay {
    url: String,
    state: RelayState,
    detail: String,
    retry_at: Option<Timestamp>,
    retry: Backoff,
    paused_until: Option<Timestamp>,
    pause: Backoff,
    heard: u64,
    published: u64,
}

/// A secp256k1 key that only ever signs this tab's events.
struct EventKey(SigningKey);

impl std::fmt::Debug for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EventKey({})",
            hex::encode(self.0.verifying_key().to_bytes())
        )
    }
}

/// Signals waiting to go to one peer in one note.
#[derive(Debug)]
struct Batch {
    due: Timestamp,
    signals: Vec<Signal>,
}

/// One tab's relays.
#[derive(Debug)]
pub struct Pool {
    room: RoomKey,
    key: SecretKey,
    me: NodeId,
    /// The throwaway key this tab's events are signed with: not the node key, so relays
    /// cannot link events to a node.
    event_key: EventKey,
    rng: ChaCha20Rng,
    relays: Vec<Relay>,
    seen: HashSet<[u8; 64]>,
    seen_order: VecDeque<[u8; 64]>,
    /// The tab has no link: its presence asks others to answer.
    looking: bool,
    presence_due: Option<Timestamp>,
    here_due: Option<Timestamp>,
    last_here: Option<Timestamp>,
    outbox: BTreeMap<NodeId, Batch>,
    bytes_published: u64,
    actions: VecDeque<PoolAction>,
}

impl Pool {
    /// A pool for the node with `key` in `room`, over `urls`; `seed` draws the event
    /// key, nonces and backoff jitter (give it 32 bytes of real randomness).
    pub fn new(room: RoomKey, key: SecretKey, urls: &[String], seed: [u8; 32]) -> Pool {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let event_key = loop {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            if let Ok(key) = SigningKey::from_bytes(&bytes) {
                break EventKey(key);
            }
        };
        let relays = urls
            .iter()
            .map(|url| Relay {
                url: url.clone(),
                state: RelayState::Down,
                detail: String::new(),
                retry_at: None,
                retry: Backoff::new(RETRY_FIRST_MS, RETRY_LONGEST_MS, rng.next_u64()),
                paused_until: None,
                pause: Backoff::new(PAUSE_FIRST_MS, PAUSE_LONGEST_MS, rng.next_u64()),
                heard: 0,
                published: 0,
            })
            .collect();
        Pool {
            me: key.public_key().node_id(),
            room,
            key,
            event_key,
            rng,
            relays,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            looking: true,
            presence_due: None,
            here_due: None,
            last_here: None,
            outbox: BTreeMap::new(),
            bytes_published: 0,
            actions: VecDeque::new(),
        }
    }

    // Getters.

    pub fn status(&self) -> Vec<RelayStatus> {
        self.relays
            .iter()
            .map(|relay| RelayStatus {
                url: relay.url.clone(),
                state: relay.state,
                detail: relay.detail.clone(),
                heard: relay.heard,
                published: relay.published,
            })
            .collect()
    }

    /// Bytes of `EVENT` frames published, over all relays.
    pub fn bytes_published(&self) -> u64 {
        self.bytes_published
    }

    /// Some relay carries what we publish now.
    pub fn is_up(&self) -> bool {
        self.relays.iter().any(Relay::takes_events)
    }

    // Commands.

    /// Opens every relay.
    pub fn start(&mut self) {
        for relay in 0..self.relays.len() {
            self.connect(relay);
        }
    }

    /// Whether the tab has no link (so its presence asks others to answer).
    pub fn set_looking(&mut self, looking: bool) {
        self.looking = looking;
    }

    /// Queues `signal` for `peer`; it leaves within [`COALESCE_MS`] with the others of
    /// its batch. Fails if no relay is up to carry it.
    pub fn send_signal(
        &mut self,
        now: Timestamp,
        peer: NodeId,
        signal: Signal,
    ) -> Result<(), String> {
        if !self.is_up() {
            return Err("no Nostr relay is up".to_owned());
        }
        let batch = self.outbox.entry(peer).or_insert_with(|| Batch {
            due: now.saturating_add(COALESCE_MS),
            signals: Vec::new(),
        });
        batch.signals.push(signal);
        if batch.signals.len() >= MAX_SIGNALS {
            let batch = self.outbox.remove(&peer).expect("just added");
            self.publish(
                now,
                Some(peer),
                Body::Signals {
                    signals: batch.signals,
                },
            );
        }
        Ok(())
    }

    /// The tab is closing: say so.
    pub fn leave(&mut self, now: Timestamp) {
        self.flush(now, true);
        self.publish(now, None, Body::Bye);
    }

    // What the platform reports.

    pub fn opened(&mut self, now: Timestamp, relay: usize) {
        let Some(r) = self.relays.get_mut(relay) else {
            return;
        };
        r.state = RelayState::Open;
        r.detail.clear();
        // A few seconds back: nothing is stored (the kind is ephemeral), but a relay
        // that does keep events briefly may hand over a hello just missed.
        let since = (now.millis() / 1000).saturating_sub(10);
        self.actions.push_back(PoolAction::Send {
            relay,
            text: subscribe(SUBSCRIPTION, self.room.topic(), since),
        });
        let body = self.presence();
        let text = self.event_text(now, None, body);
        self.send_event(relay, text);
        self.presence_due
            .get_or_insert(now.saturating_add(PRESENCE_MS));
    }

    /// Relay `relay`'s socket closed, or never opened.
    pub fn closed(&mut self, now: Timestamp, relay: usize, why: String) {
        let Some(r) = self.relays.get_mut(relay) else {
            return;
        };
        let delay = r.retry.next_delay_ms();
        r.state = RelayState::Down;
        r.paused_until = None;
        r.detail = format!("{why}; trying again in {} s", delay.div_ceil(1000));
        r.retry_at = Some(now.saturating_add(delay));
    }

    /// A text frame from relay `relay`.
    pub fn received(&mut self, now: Timestamp, relay: usize, text: &str) {
        if relay >= self.relays.len() || text.len() > MAX_FRAME {
            return;
        }
        let Ok(message) = RelayMessage::parse(text) else {
            // A relay that speaks nonsense is not worth a reconnect: ignore the frame.
            return;
        };
        match message {
            RelayMessage::Event { event, .. } => self.on_event(now, relay, event),
            RelayMessage::EndOfStored { .. } => {
                let r = &mut self.relays[relay];
                r.retry.reset();
                if r.state == RelayState::Open {
                    r.state = RelayState::Answering;
                }
            }
            RelayMessage::Ok {
                accepted: false,
                message,
                ..
            } if message.starts_with("rate-limited") => self.pause(now, relay, message),
            RelayMessage::Ok { .. } => {}
            RelayMessage::Notice { message } => self.pause(now, relay, message),
            RelayMessage::Closed { message, .. } => {
                self.actions.push_back(PoolAction::Disconnect { relay });
                self.closed(now, relay, format!("it ended our subscription: {message}"));
            }
        }
    }

    fn on_event(&mut self, now: Timestamp, relay: usize, event: Event) {
        if event.kind != KIND || event.tag("t") != Some(self.room.topic()) {
            return;
        }
        let r = &mut self.relays[relay];
        r.heard += 1;
        if r.state == RelayState::Open {
            r.state = RelayState::Answering;
        }
        let Ok(note) = open(&self.room, &event.content) else {
            return;
        };
        let skew = now.millis().abs_diff(note.sent.millis());
        if note.from == self.me
            || note.to.is_some_and(|to| to != self.me)
            || skew > FRESH_MS
            || !self.first_sight(note.signature)
        {
            return;
        }
        if note.body == Body::Hello && self.here_due.is_none() {
            let earliest = self
                .last_here
                .map_or(now, |at| at.saturating_add(HERE_GAP_MS));
            self.here_due = Some(earliest.max(now));
        }
        self.actions.push_back(PoolAction::Heard(note));
    }

    fn first_sight(&mut self, signature: [u8; 64]) -> bool {
        if !self.seen.insert(signature) {
            return false;
        }
        self.seen_order.push_back(signature);
        if self.seen_order.len() > SEEN {
            let oldest = self.seen_order.pop_front().expect("over the limit");
            self.seen.remove(&oldest);
        }
        true
    }

    fn pause(&mut self, now: Timestamp, relay: usize, why: String) {
        let r = &mut self.relays[relay];
        let delay = r.pause.next_delay_ms();
        r.paused_until = Some(now.saturating_add(delay));
        r.state = RelayState::Paused;
        r.detail = format!(
            "asked us to slow down ({why:.80}); quiet for {} s",
            delay.div_ceil(1000)
        );
    }

    // Time.

    pub fn handle_timeout(&mut self, now: Timestamp) {
        for relay in 0..self.relays.len() {
            let r = &mut self.relays[relay];
            if r.retry_at.is_some_and(|at| at <= now) {
                r.retry_at = None;
                self.connect(relay);
            } else if r.paused_until.is_some_and(|at| at <= now) {
                r.paused_until = None;
                r.state = RelayState::Answering;
                r.detail.clear();
            }
        }
        self.flush(now, false);
        if self.here_due.is_some_and(|at| at <= now) {
            self.here_due = None;
            self.last_here = Some(now);
            self.presence_due = Some(now.saturating_add(PRESENCE_MS));
            self.publish(now, None, Body::Here);
        }
        if self.presence_due.is_some_and(|at| at <= now) {
            self.presence_due = Some(now.saturating_add(PRESENCE_MS));
            let body = self.presence();
            self.publish(now, None, body);
        }
    }

    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let relays = self
            .relays
            .iter()
            .flat_map(|r| [r.retry_at, r.paused_until]);
        let batches = self.outbox.values().map(|batch| Some(batch.due));
        relays
            .chain(batches)
            .chain([self.here_due, self.presence_due])
            .flatten()
            .min()
    }

    pub fn poll_action(&mut self) -> Option<PoolAction> {
        self.actions.pop_front()
    }

    // Publishing.

    fn presence(&self) -> Body {
        if self.looking {
            Body::Hello
        } else {
            Body::Here
        }
    }

    fn connect(&mut self, relay: usize) {
        let r = &mut self.relays[relay];
        r.state = RelayState::Connecting;
        self.actions.push_back(PoolAction::Connect {
            relay,
            url: r.url.clone(),
        });
    }

    /// Publishes the batches that are due (all of them with `all`).
    fn flush(&mut self, now: Timestamp, all: bool) {
        let due: Vec<NodeId> = self
            .outbox
            .iter()
            .filter(|(_, batch)| all || batch.due <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            let batch = self.outbox.remove(&peer).expect("listed");
            self.publish(
                now,
                Some(peer),
                Body::Signals {
                    signals: batch.signals,
                },
            );
        }
    }

    fn publish(&mut self, now: Timestamp, to: Option<NodeId>, body: Body) {
        let text = self.event_text(now, to, body);
        for relay in 0..self.relays.len() {
            if self.relays[relay].takes_events() {
                self.send_event(relay, text.clone());
            }
        }
    }

    fn event_text(&mut self, now: Timestamp, to: Option<NodeId>, body: Body) -> String {
        let mut nonce = [0u8; 24];
        let mut aux = [0u8; 32];
        self.rng.fill_bytes(&mut nonce);
        self.rng.fill_bytes(&mut aux);
        let content = seal(&self.room, &self.key, to, now, body, nonce);
        let tags = vec![vec!["t".to_owned(), self.room.topic().to_owned()]];
        publish(&Event::sign(
            &self.event_key.0,
            now.millis() / 1000,
            tags,
            content,
            &aux,
        ))
    }

    fn send_event(&mut self, relay: usize, text: String) {
        self.bytes_published += text.len() as u64;
        self.relays[relay].published += 1;
        self.actions.push_back(PoolAction::Send { relay, text });
    }
}

impl Relay {
    fn takes_events(&self) -> bool {
        matches!(self.state, RelayState::Open | RelayState::Answering)
    }
}

#[cfg(test)]
mod tests;
