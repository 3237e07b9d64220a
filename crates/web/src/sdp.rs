//! The bytes that bind a node's handshake to one WebRTC link: the DTLS certificate
//! fingerprints both sides announced in their SDPs. A signaling server (or a relaying
//! peer) that swapped in its own certificate would change them, and the handshake
//! signatures would no longer verify.

/// The `a=fingerprint:` value of an SDP (`"sha-256 AB:CD:..."`), upper-cased.
pub fn fingerprint(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|line| line.trim().strip_prefix("a=fingerprint:"))
        .map(|value| value.trim().to_ascii_uppercase())
}

/// Both fingerprints, sorted so both ends compute the same bytes, joined by a newline.
pub fn binding(local_sdp: &str, remote_sdp: &str) -> Option<Vec<u8>> {
    let mut both = [fingerprint(local_sdp)?, fingerprint(remote_sdp)?];
    both.sort();
    Some(both.join("\n").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=fingerprint:sha-256 4A:AD:B9:B1:3F:82\r\na=setup:actpass\r\n";
    const ANSWER: &str = "v=0\r\no=- 3 2 IN IP4 127.0.0.1\r\n\
        a=fingerprint:sha-256 0b:1c:2d:3e:4f:50\r\na=setup:active\r\n";

    #[test]
    fn both_sides_compute_the_same_binding() {
        assert_eq!(
            fingerprint(OFFER).as_deref(),
            Some("SHA-256 4A:AD:B9:B1:3F:82")
        );
        let offerer = binding(OFFER, ANSWER).unwrap();
        let answerer = binding(ANSWER, OFFER).unwrap();
        assert_eq!(offerer, answerer);
        assert_eq!(
            offerer,
            b"SHA-256 0B:1C:2D:3E:4F:50\nSHA-256 4A:AD:B9:B1:3F:82"
        );
    }

    #[test]
    fn an_sdp_without_a_fingerprint_binds_nothing() {
        assert_eq!(binding(OFFER, "v=0\r\ns=-\r\n"), None);
    }
}
