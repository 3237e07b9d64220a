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

    /// A datagram for this link. One str0m cannot parse or refuses is dropped, not
    /// fatal: anyone on the network can send a datagram from the peer's address, and
    /// must not be able to end the link with it.
    pub fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        if let Ok(receive) = Receive::new(Protocol::Udp, from, to, bytes) {
            if let Err(err) = self.rtc.handle_input(Input::Receive(now, receive)) {
                tracing::debug!("dropped a datagram from {from}: {err}");
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

#[cfg(test)]
mod tests {
    #![allow(
        clippy::disallowed_methods,
        reason = "a start instant for a simulated clock"
    )]

    use std::time::Duration;

    use super::*;

    const A: &str = "127.0.0.1:40001";
    const B: &str = "127.0.0.1:40002";

    /// Carries each side's datagrams to the other for `ms` of simulated time; returns
    /// what each side reported.
    fn run(
        a: &mut Conn,
        b: &mut Conn,
        now: &mut Instant,
        ms: u64,
    ) -> (Vec<ConnEvent>, Vec<ConnEvent>) {
        let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
        for _ in 0..ms / 5 {
            *now += Duration::from_millis(5);
            a.handle_timeout(*now);
            b.handle_timeout(*now);
            let mut to_b = Vec::new();
            let (events, _) = a.poll(|d| to_b.push((d.source, d.destination, d.contents.to_vec())));
            seen_a.extend(events);
            for (from, to, bytes) in to_b {
                b.receive(*now, from, to, &bytes);
            }
            let mut to_a = Vec::new();
            let (events, _) = b.poll(|d| to_a.push((d.source, d.destination, d.contents.to_vec())));
            seen_b.extend(events);
            for (from, to, bytes) in to_a {
                a.receive(*now, from, to, &bytes);
            }
        }
        (seen_a, seen_b)
    }

    #[test]
    fn two_links_open_agree_on_the_binding_and_shrug_off_garbage() {
        let mut now = Instant::now();
        let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
        let (mut a, offer) = Conn::offer(now, &[a_addr]);
        let (mut b, answer) = Conn::answer(now, &[b_addr], &offer).unwrap();
        a.accept_answer(&answer).unwrap();
        let (seen_a, seen_b) = run(&mut a, &mut b, &mut now, 3_000);
        assert!(seen_a.contains(&ConnEvent::Open) && seen_b.contains(&ConnEvent::Open));
        let binding = a.binding().expect("DTLS is done");
        assert_eq!(
            Some(binding),
            b.binding(),
            "both ends sign the same binding"
        );

        // Tried: datagrams from the peer's own address that are no protocol at all,
        // cut-short STUN, DTLS and RTP headers, and an empty one.
        let garbage: [&[u8]; 6] = [
            b"",
            b"\x00\x01\x00\x08\x21\x12\xa4\x42",
            &[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 9, 0, 40],
            &[23, 254, 253, 0, 1, 0, 0, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4],
            &[0x80; 64],
            &[0xff; 1200],
        ];
        for bytes in garbage {
            b.receive(now, a_addr, b_addr, bytes);
            a.receive(now, b_addr, a_addr, bytes);
        }
        a.send(b"still here".to_vec());
        let (seen_a, seen_b) = run(&mut a, &mut b, &mut now, 500);
        assert!(
            seen_b.contains(&ConnEvent::Message(b"still here".to_vec())),
            "{seen_b:?}"
        );
        assert!(!seen_a
            .iter()
            .chain(&seen_b)
            .any(|e| matches!(e, ConnEvent::Closed(_))));
    }

    #[test]
    fn an_offer_with_two_fingerprints_is_refused_by_name() {
        let now = Instant::now();
        let (_, offer) = Conn::offer(now, &["127.0.0.1:40003".parse().unwrap()]);
        // Tried: the man in the middle's session-level fingerprint before the real one.
        let forged = offer.replacen(
            "a=fingerprint:",
            "a=fingerprint:sha-256 AA:AA:AA:AA\r\na=fingerprint:",
            1,
        );
        let err = Conn::answer(now, &["127.0.0.1:40004".parse().unwrap()], &forged).unwrap_err();
        assert!(err.contains("2 DTLS fingerprints"), "{err}");
    }
}
