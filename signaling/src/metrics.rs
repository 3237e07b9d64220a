//! The server's counters and their Prometheus text form for `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use tabchain_signal::ErrorCode;

/// Counters shared by every connection. Gauges (connections, rooms, peers) are not
/// counted here: they are read from where they are kept when the metrics are
/// rendered, so they cannot drift.
#[derive(Debug, Default)]
pub struct Metrics {
    relayed: AtomicU64,
    turn_credentials: AtomicU64,
    refusals: [AtomicU64; ErrorCode::ALL.len()],
    // Sockets closed at accept: over --max-connections, over --max-per-address.
    server_full: AtomicU64,
    address_full: AtomicU64,
    header_timeouts: AtomicU64,
    room_address_full: AtomicU64,
}

/// The gauges, read when the metrics are rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Accepted TCP connections still open.
    pub connections: usize,
    /// Client addresses (IPv4, or IPv6 /64) those come from.
    pub addresses: usize,
    pub rooms: usize,
    pub peers: usize,
    /// Whether the server runs coturn (`--turn`).
    pub turn: bool,
}

impl Metrics {
    pub fn relayed(&self) {
        self.relayed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn turn_credential_issued(&self) {
        self.turn_credentials.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, code: ErrorCode) {
        let index = ErrorCode::ALL
            .iter()
            .position(|c| *c == code)
            .expect("ALL lists every code");
        self.refusals[index].fetch_add(1, Ordering::Relaxed);
    }

    /// A socket closed at accept, as the server is full.
    pub fn server_full(&self) {
        self.server_full.fetch_add(1, Ordering::Relaxed);
    }

    /// A socket closed at accept, as its address holds its share.
    pub fn address_full(&self) {
        self.address_full.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection closed because no complete request head came in time.
    pub fn header_timeout(&self) {
        self.header_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// A join refused because the tab's address holds its share of the room.
    pub fn room_address_full(&self) {
        self.room_address_full.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "tabchain_signaling_connections",
            "gauge",
            "Open TCP connections, counted from accept: HTTP requests (this scrape too), WebSockets in the handshake and joined tabs.",
            gauges.connections as u64,
        );
        metric(
            "tabchain_signaling_addresses",
            "gauge",
            "Client addresses (IPv4, or IPv6 /64) with an open connection.",
            gauges.addresses as u64,
        );
        metric(
            "tabchain_signaling_rooms",
            "gauge",
            "Rooms with at least one peer.",
            gauges.rooms as u64,
        );
        metric(
            "tabchain_signaling_peers",
            "gauge",
            "Peers that proved their key and are in a room.",
            gauges.peers as u64,
        );
        metric(
            "tabchain_signaling_messages_relayed_total",
            "counter",
            "Signals delivered from one peer to another.",
            self.relayed.load(Ordering::Relaxed),
        );
        metric(
            "tabchain_signaling_header_timeouts_total",
            "counter",
            "Connections closed because a request head was not complete within --header-timeout (half-open requests, and keep-alive connections left idle).",
            self.header_timeouts.load(Ordering::Relaxed),
        );
        metric(
            "tabchain_signaling_room_address_full_total",
            "counter",
            "Joins refused because the tab's address already had --max-room-peers-per-address peers in the room (also counted as room_full refusals).",
            self.room_address_full.load(Ordering::Relaxed),
        );
        metric(
            "tabchain_signaling_turn_enabled",
            "gauge",
            "1 when the server runs STUN and TURN (--turn), else 0.",
            u64::from(gauges.turn),
        );
        metric(
            "tabchain_signaling_turn_credentials_issued_total",
            "counter",
            "TURN credentials handed to joined tabs in their welcome.",
            self.turn_credentials.load(Ordering::Relaxed),
        );
        let name = "tabchain_signaling_connections_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} Sockets closed at accept, before anything is read, by the limit they hit.\n# TYPE {name} counter"
        );
        for (reason, count) in [
            ("server_full", &self.server_full),
            ("address_full", &self.address_full),
        ] {
            let _ = writeln!(
                out,
                "{name}{{reason=\"{reason}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let name = "tabchain_signaling_refusals_total";
        let _ = writeln!(
            out,
            "# HELP {name} Errors sent to clients, by code.\n# TYPE {name} counter"
        );
        for (code, count) in ErrorCode::ALL.iter().zip(&self.refusals) {
            let _ = writeln!(
                out,
                "{name}{{code=\"{}\"}} {}",
                code.as_str(),
                count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_has_every_series() {
        let metrics = Metrics::default();
        metrics.relayed();
        metrics.address_full();
        metrics.header_timeout();
        metrics.header_timeout();
        metrics.room_address_full();
        metrics.refused(ErrorCode::RoomFull);
        metrics.refused(ErrorCode::RoomFull);
        metrics.turn_credential_issued();
        let text = metrics.render(Gauges {
            connections: 1,
            addresses: 1,
            rooms: 3,
            peers: 7,
            turn: true,
        });
        for line in [
            "tabchain_signaling_connections 1",
            "tabchain_signaling_addresses 1",
            "tabchain_signaling_header_timeouts_total 2",
            "tabchain_signaling_room_address_full_total 1",
            "tabchain_signaling_connections_refused_total{reason=\"server_full\"} 0",
            "tabchain_signaling_connections_refused_total{reason=\"address_full\"} 1",
            "tabchain_signaling_rooms 3",
            "tabchain_signaling_peers 7",
            "tabchain_signaling_messages_relayed_total 1",
            "tabchain_signaling_turn_enabled 1",
            "tabchain_signaling_turn_credentials_issued_total 1",
            "tabchain_signaling_refusals_total{code=\"room_full\"} 2",
            "tabchain_signaling_refusals_total{code=\"bad_signature\"} 0",
            "# TYPE tabchain_signaling_messages_relayed_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
