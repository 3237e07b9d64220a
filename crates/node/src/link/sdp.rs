//! What the node handshake is bound to, and what a remote SDP may carry: the same rules
//! for a tab (`RTCPeerConnection`) and the native keeper (str0m).
//!
//! The binding is the two DTLS certificate fingerprints of the link as DTLS verified
//! them (read from `getStats()` once the channel is open), never as an SDP states them:
//! Chromium accepts an SDP with a session-level fingerprint *and* a media-level one and
//! checks only the latter, so the first `a=fingerprint:` line of a relayed SDP can be a
//! lie. Whoever carries the signals (the server, a relaying peer, a page on the
//! BroadcastChannel) could otherwise end DTLS at itself on both sides while copying each
//! victim's real fingerprint into a session-level line, and both handshakes would verify.
//! A remote SDP with more or fewer than one fingerprint is refused before it is applied.
//!
//! Outgoing SDPs advertise the protocol's frame cap as `a=max-message-size`, so an
//! honest peer's browser never sends more than the node accepts.

use crate::message::MessageKind;

/// The largest frame of the peer protocol: a block's.
pub fn max_frame() -> usize {
    MessageKind::Block.max_frame()
}

/// Why a remote SDP is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("it carries no DTLS fingerprint")]
    NoFingerprint,
    #[error("it carries {0} DTLS fingerprints; one is expected")]
    SeveralFingerprints(usize),
}

/// Checks a remote SDP before it is applied: exactly one `a=fingerprint:` line, so the
/// fingerprint stated is the one DTLS will check.
pub fn check_remote(sdp: &str) -> Result<(), SdpError> {
    match sdp
        .lines()
        .filter(|line| line.trim().starts_with("a=fingerprint:"))
        .count()
    {
        0 => Err(SdpError::NoFingerprint),
        1 => Ok(()),
        n => Err(SdpError::SeveralFingerprints(n)),
    }
}

/// One certificate fingerprint as `getStats()` reports it, in one canonical form
/// (`SHA-256 AB:CD:...`).
pub fn fingerprint(algorithm: &str, value: &str) -> String {
    format!("{algorithm} {value}").trim().to_ascii_uppercase()
}

/// Both fingerprints, sorted so both ends compute the same bytes, joined by a newline.
pub fn binding(local: &str, remote: &str) -> Vec<u8> {
    let mut both = [local, remote];
    both.sort();
    both.join("\n").into_bytes()
}

/// `sdp` with its `a=max-message-size` set to the protocol's frame cap (added to the
/// data channel's media section if the browser wrote none).
pub fn advertise_max_message_size(sdp: &str) -> String {
    let line = format!("a=max-message-size:{}", max_frame());
    let stated = sdp.contains("a=max-message-size:");
    sdp.split("\r\n")
        .flat_map(|original| {
            if original.starts_with("a=max-message-size:") {
                vec![line.clone()]
            } else if !stated && original.starts_with("a=sctp-port:") {
                vec![original.to_owned(), line.clone()]
            } else {
                vec![original.to_owned()]
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 3 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
        a=fingerprint:sha-256 0B:1C:2D:3E:4F:50\r\na=setup:active\r\n\
        a=sctp-port:5000\r\na=max-message-size:262144\r\n";

    #[test]
    fn both_sides_compute_the_same_binding() {
        let ours = fingerprint("sha-256", "4a:ad:b9:b1:3f:82");
        let theirs = fingerprint("sha-256", "0B:1C:2D:3E:4F:50");
        assert_eq!(ours, "SHA-256 4A:AD:B9:B1:3F:82");
        assert_eq!(binding(&ours, &theirs), binding(&theirs, &ours));
        assert_eq!(
            binding(&ours, &theirs),
            b"SHA-256 0B:1C:2D:3E:4F:50\nSHA-256 4A:AD:B9:B1:3F:82"
        );
    }

    #[test]
    fn a_remote_sdp_must_state_exactly_one_fingerprint() {
        assert_eq!(check_remote(ANSWER), Ok(()));
        assert_eq!(check_remote("v=0\r\ns=-\r\n"), Err(SdpError::NoFingerprint));
        // The man in the middle's trick: a session-level line before the real one.
        let forged = ANSWER.replace(
            "t=0 0\r\n",
            "t=0 0\r\na=fingerprint:sha-256 AA:AA:AA:AA:AA:AA\r\n",
        );
        assert_eq!(check_remote(&forged), Err(SdpError::SeveralFingerprints(2)));
    }

    #[test]
    fn outgoing_sdps_advertise_the_protocol_frame_cap() {
        let cap = format!("a=max-message-size:{}", max_frame());
        let advertised = advertise_max_message_size(ANSWER);
        assert!(advertised.contains(&cap));
        assert!(!advertised.contains("262144"));
        let without = ANSWER.replace("a=max-message-size:262144\r\n", "");
        assert!(advertise_max_message_size(&without).contains(&cap));
        // No frame of any kind is larger than the cap.
        for tag in 0..=255u8 {
            if let Some(kind) = MessageKind::of_frame(&[1, tag]) {
                assert!(kind.max_frame() <= max_frame(), "{kind:?}");
            }
        }
    }
}
