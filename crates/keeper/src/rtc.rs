//! One WebRTC link to a tab, on str0m: one ordered, reliable data channel (the one a
//! tab's `RTCPeerConnection` makes or expects, labelled `tabchain`), the keeper's host
//! candidates written into its own SDP, the tab's candidates trickled in, and the DTLS
//! fingerprints that bind the node handshake to this link.
//!
//! Like the node, a [`Conn`] does no I/O: datagrams go in with [`Conn::receive`], and
//! [`Conn::poll`] returns what to send, what happened, and when to call it again.

#![allow(
    clippy::disallowed_types,
    reason = "str0m runs on std::time::Instant; the keeper's driver passes it in"
)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tabchain_node::link::{sdp, Candidate as SignalCandidate};

/// The data channel's label: what a tab names the channel it opens.
const LABEL: &str = "tabchain";

/// Bytes str0m may hold unacknowledged for one link: a whole block of the largest size
/// and then some, so a catch-up is not held to 128 KiB per round trip.
const MAX_BUFFERED: usize = 4 * 1024 * 1024;

/// What a link reports from [`Conn::poll`].
#[derive(Debug, PartialEq, Eq)]
pub enum ConnEvent {
    /// The data channel opened: compute the binding and tell the link manager.
    Open,
    Message(Vec<u8>),
    /// The link is over (ICE gave up, DTLS or SCTP closed, str0m refused something).
    Closed(String),
}

#[derive(Debug)]
pub struct Conn {
    rtc: Rtc,
    /// Our offer, until the tab's answer comes.
    pending: Option<SdpPendingOffer>,
    channel: Option<ChannelId>,
    /// Frames the channel had no room for yet, in order.
    outbox: VecDeque<Vec<u8>>,
    /// Why str0m gave up on an input, to report from the next [`Conn::poll`].
    failed: Option<String>,
}

impl Conn {
    fn new(now: Instant, hosts: &[SocketAddr]) -> Conn {
        // str0m 0.24 advertises (and takes) frames of up to 256 KiB: a block that large
        // from a tab would not reach the keeper, which a classroom's blocks never are.
        let mut rtc = RtcConfig::new()
            .set_sctp_max_buffered_amount(MAX_BUFFERED)
            .build(now);
        for host in hosts {
            if let Ok(candidate) = Candidate::host(*host, "udp") {
                rtc.add_local_candidate(candidate);
            }
        }
        Conn {
            rtc,
            pending: None,
            channel: None,
            outbox: VecDeque::new(),
            failed: None,
        }
    }

    /// A link on which we offer, with our SDP to send.
    pub fn offer(now: Instant, hosts: &[SocketAddr]) -> (Conn, String) {
        let mut conn = Conn::new(now, hosts);
        let mut api = conn.rtc.sdp_api();
        api.add_channel(LABEL.to_owned());
        let (offer, pending) = api.apply().expect("a new data channel is a change");
        conn.pending = Some(pending);
        (conn, offer.to_sdp_string())
    }

    /// A link answering the tab's offer, with our answer to send.
    pub fn answer(
        now: Instant,
        hosts: &[SocketAddr],
        offer: &str,
    ) -> Result<(Conn, String), String> {
        sdp::check_remote(offer).map_err(|err| format!("refused the offer: {err}"))?;
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|err| format!("refused the offer: {err}"))?;
        let mut conn = Conn::new(now, hosts);
        let answer = conn
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|err| format!("refused the offer: {err}"))?;
        Ok((conn, answer.to_sdp_string()))
    }

    pub fn accept_answer(&mut self, answer: &str) -> Result<(), String> {
        sdp::check_remote(answer).map_err(|err| format!("refused the answer: {err}"))?;
        let answer = SdpAnswer::from_sdp_string(answer)
            .map_err(|err| format!("refused the answer: {err}"))?;
        let pending = self.pending.take().ok_or("an answer to no offer")?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|err| format!("refused the answer: {err}"))
    }

    /// A candidate the tab trickled. One we cannot use (an mDNS `.local` name, a TCP
    /// candidate) is skipped: the tab's checks to our host candidates still find a path.
    pub fn add_candidate(&mut self, candidate: &SignalCandidate) {
        let line = candidate.candidate.trim_start_matches("a=");
        if let Ok(candidate) = Candidate::from_sdp_string(line) {
            self.rtc.add_remote_candidate(candidate);
        }
    }

    /// Both DTLS fingerprints as DTLS verified them, sorted and joined as a tab joins
    /// them ([`sdp::binding`]); `None` before DTLS is done.
    pub fn binding(&mut self) -> Option<Vec<u8>> {
        let api = self.rtc.direct_api();
        let local = fingerprint(api.local_dtls_fingerprint());
        let remote = fingerprint(api.remote_dtls_fingerprint()?);
        Some(sdp::binding(&local, &remote))
    }

    /// Queues one frame of the peer protocol on the data channel.
    pub fn send(&mut self, bytes: Vec<u8>) {
        self.outbox.push_back(bytes);
        self.flush();
    }

    /// Whether this datagram belongs to this link (its ICE credentials or its peer's
    /// address).
    pub fn accepts(&self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) -> bool {
        Receive::new(Protocol::Udp, from, to, bytes)
            .is_ok_and(|receive| self.rtc.accepts(&Input::Receive(now, receive)))
    }

    /// A datagram for this link. Anything str0m cannot parse is dropped.
    pub fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        if let Ok(receive) = Receive::new(Protocol::Udp, from, to, bytes) {
            if let Err(err) = self.rtc.handle_input(Input::Receive(now, receive)) {
                self.close_with(format!("the WebRTC stack failed: {err}"));
            }
        }
    }

    /// Lets str0m's timers run.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(err) = self.rtc.handle_input(Input::Timeout(now)) {
            self.close_with(format!("the WebRTC stack failed: {err}"));
        }
    }

    /// Drains str0m: datagrams go to `transmit`, events are returned, and the instant
    /// at which [`Conn::handle_timeout`] is due.
    pub fn poll(
        &mut self,
        mut transmit: impl FnMut(Transmit),
    ) -> (Vec<ConnEvent>, Option<Instant>) {
        let mut events = Vec::new();
        if let Some(why) = self.failed.take() {
            return (vec![ConnEvent::Closed(why)], None);
        }
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => return (events, Some(at)),
                Ok(Output::Transmit(datagram)) => transmit(datagram),
                Ok(Output::Event(event)) => match event {
                    Event::ChannelOpen(id, _) if self.channel.is_none() => {
                        self.channel = Some(id);
                        events.push(ConnEvent::Open);
                        self.flush();
                    }
                    Event::ChannelData(data) if Some(data.id) == self.channel => {
                        events.push(ConnEvent::Message(data.data));
                    }
                    Event::ChannelBufferedAmountLow(_) => self.flush(),
                    Event::ChannelClose(id) if Some(id) == self.channel => {
                        events.push(ConnEvent::Closed("the data channel closed".into()));
                        return (events, None);
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        events.push(ConnEvent::Closed("ICE lost the peer".into()));
                        return (events, None);
                    }
                    _ => {}
                },
                Err(err) => {
                    events.push(ConnEvent::Closed(format!("the WebRTC stack failed: {err}")));
                    return (events, None);
                }
            }
        }
    }

    /// Hands queued frames to the channel while it has room.
    fn flush(&mut self) {
        let Some(id) = self.channel else {
            return;
        };
        let Some(mut channel) = self.rtc.channel(id) else {
            return;
        };
        while let Some(frame) = self.outbox.front() {
            match channel.write(true, frame) {
                Ok(true) => {
                    self.outbox.pop_front();
                }
                Ok(false) => {
                    channel.set_buffered_amount_low_threshold(MAX_BUFFERED / 2);
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// Closes the link; its goodbye, if already handed to the channel, still leaves.
    pub fn close(&mut self) {
        self.rtc.disconnect();
    }

    fn close_with(&mut self, why: String) {
        self.failed = Some(why);
        self.rtc.disconnect();
    }
}

/// A fingerprint in the form [`sdp::fingerprint`] gives for a tab's `getStats()`.
fn fingerprint(print: &str0m::crypto::Fingerprint) -> String {
    let hex: Vec<String> = print.bytes.iter().map(|b| format!("{b:02X}")).collect();
    sdp::fingerprint(&print.hash_func, &hex.join(":"))
}
