//! How a link is carried, read from its connection's selected ICE candidate pair: the
//! same machine, straight across the network, through a NAT found by STUN, or through
//! the TURN relay. The browser part reads `getStats()`; the rule is here, testable.

/// The path a link's packets take, as the peers panel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPath {
    /// Both ends on one machine.
    Local,
    /// Straight between two machines.
    Direct,
    /// Through a NAT's mapping that STUN found (a public address).
    Stun,
    /// Through the TURN relay.
    Relay,
}

impl LinkPath {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPath::Local => "local",
            LinkPath::Direct => "direct",
            LinkPath::Stun => "stun",
            LinkPath::Relay => "relay",
        }
    }
}

/// One end of the selected candidate pair, as `getStats()` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// `candidateType`: `host`, `srflx`, `prflx` or `relay`.
    pub kind: String,
    /// `address` (empty when the browser hides it, as for a peer's mDNS name).
    pub address: String,
    /// `relayProtocol` of a local relay candidate: how we reach the TURN server.
    pub relay_protocol: String,
}

/// A link's path and the details behind it, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    pub path: LinkPath,
    /// Like `10.0.0.2 ⇄ relay 10.0.0.1 over tcp`.
    pub detail: String,
}

impl PathInfo {
    pub fn of(local: &Endpoint, remote: &Endpoint) -> PathInfo {
        let path = if local.kind == "relay" || remote.kind == "relay" {
            LinkPath::Relay
        } else if [local, remote]
            .iter()
            .any(|end| end.kind == "srflx" && !is_private(&end.address))
        {
            // A server-reflexive address in a private range is what a STUN server on
            // the school's own network sees: no NAT between, so the link is direct.
            LinkPath::Stun
        } else if is_loopback(&local.address)
            || (!local.address.is_empty() && local.address == remote.address)
        {
            // Host or peer-reflexive on both ends: a peer-reflexive candidate is the
            // address a check really came from, so it tells the machine apart too.
            LinkPath::Local
        } else {
            LinkPath::Direct
        };
        let end = |end: &Endpoint| {
            let address = if end.address.is_empty() {
                "hidden address"
            } else {
                &end.address
            };
            match end.kind.as_str() {
                "relay" if !end.relay_protocol.is_empty() => {
                    format!("relay {address} over {}", end.relay_protocol)
                }
                "host" | "" => address.to_owned(),
                kind => format!("{kind} {address}"),
            }
        };
        PathInfo {
            path,
            detail: format!("{} ⇄ {}", end(local), end(remote)),
        }
    }
}

fn is_loopback(address: &str) -> bool {
    address.starts_with("127.") || address == "::1"
}

/// RFC 1918 and link-local IPv4, unique-local and link-local IPv6. (100.64.0.0/10 is a
/// carrier's NAT: a mapping there is STUN's work.)
fn is_private(address: &str) -> bool {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_private() || ip.is_link_local(),
        Ok(std::net::IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(kind: &str, address: &str) -> Endpoint {
        Endpoint {
            kind: kind.into(),
            address: address.into(),
            relay_protocol: String::new(),
        }
    }

    #[test]
    fn the_path_is_named_by_the_most_indirect_end() {
        let path = |local, remote| PathInfo::of(&local, &remote).path;
        assert_eq!(
            path(end("host", "127.0.0.1"), end("host", "127.0.0.1")),
            LinkPath::Local
        );
        assert_eq!(
            path(end("host", "10.0.0.2"), end("prflx", "10.0.0.2")),
            LinkPath::Local
        );
        assert_eq!(
            path(end("host", "10.0.0.2"), end("prflx", "10.0.0.3")),
            LinkPath::Direct
        );
        assert_eq!(
            path(end("host", "10.0.0.2"), end("host", "")),
            LinkPath::Direct,
            "a peer behind an mDNS name is another machine as far as we can tell"
        );
        assert_eq!(
            path(end("srflx", "203.0.113.5"), end("host", "10.0.0.3")),
            LinkPath::Stun
        );
        assert_eq!(
            path(end("host", "10.0.0.2"), end("srflx", "10.0.0.3")),
            LinkPath::Direct,
            "a STUN server on the school network maps nothing: both ends see the same LAN"
        );
        assert_eq!(
            path(end("srflx", "100.64.1.2"), end("prflx", "10.0.0.3")),
            LinkPath::Stun
        );
        assert_eq!(
            path(end("host", "10.0.0.2"), end("relay", "10.0.0.1")),
            LinkPath::Relay
        );
        assert_eq!(
            path(end("relay", "10.0.0.1"), end("srflx", "10.0.0.3")),
            LinkPath::Relay
        );
    }

    #[test]
    fn the_detail_says_how_the_relay_is_reached() {
        let local = Endpoint {
            kind: "relay".into(),
            address: "10.0.0.1".into(),
            relay_protocol: "tcp".into(),
        };
        assert_eq!(
            PathInfo::of(&local, &end("host", "")).detail,
            "relay 10.0.0.1 over tcp ⇄ hidden address"
        );
    }
}
