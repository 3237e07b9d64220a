//! The server's counters and their Prometheus text form for `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tabchain_signal::ErrorCode;

/// Counters shared by every connection. Rooms and peers are not counted here: they are
/// read from the room state when the metrics are rendered, so they cannot drift.
#[derive(Debug, Default)]
pub struct Metrics {
    connections: AtomicUsize,
    relayed: AtomicU64,
    turn_credentials: AtomicU64,
    refusals: [AtomicU64; ErrorCode::ALL.len()],
}

impl Metrics {
    /// Counts a new connection if there is room for it; the slot frees itself when the
    /// connection's task ends, so the gauge also shows tasks left behind.
    pub fn try_connect(&self, max: usize) -> Option<ConnectionSlot<'_>> {
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnectionSlot(self))
    }

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

    /// The Prometheus text exposition format, version 0.0.4. `turn`: whether the
    /// server runs coturn (`--turn`).
    pub fn render(&self, rooms: usize, peers: usize, turn: bool) -> String {
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
            "Open WebSocket connections, joined or still in the handshake.",
            self.connections.load(Ordering::Relaxed) as u64,
        );
        metric(
            "tabchain_signaling_rooms",
            "gauge",
            "Rooms with at least one peer.",
            rooms as u64,
        );
        metric(
            "tabchain_signaling_peers",
            "gauge",
            "Peers that proved their key and are in a room.",
            peers as u64,
        );
        metric(
            "tabchain_signaling_messages_relayed_total",
            "counter",
            "Signals delivered from one peer to another.",
            self.relayed.load(Ordering::Relaxed),
        );
        metric(
            "tabchain_signaling_turn_enabled",
            "gauge",
            "1 when the server runs STUN and TURN (--turn), else 0.",
            u64::from(turn),
        );
        metric(
            "tabchain_signaling_turn_credentials_issued_total",
            "counter",
            "TURN credentials handed to joined tabs in their welcome.",
            self.turn_credentials.load(Ordering::Relaxed),
        );
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

/// One counted connection; dropping it uncounts it.
#[derive(Debug)]
pub struct ConnectionSlot<'a>(&'a Metrics);

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_slots_stop_at_the_limit_and_free_on_drop() {
        let metrics = Metrics::default();
        let a = metrics.try_connect(2).unwrap();
        let _b = metrics.try_connect(2).unwrap();
        assert!(metrics.try_connect(2).is_none());
        drop(a);
        assert!(metrics.try_connect(2).is_some());
    }

    #[test]
    fn the_text_form_has_every_series() {
        let metrics = Metrics::default();
        let _slot = metrics.try_connect(10);
        metrics.relayed();
        metrics.refused(ErrorCode::RoomFull);
        metrics.refused(ErrorCode::RoomFull);
        metrics.turn_credential_issued();
        let text = metrics.render(3, 7, true);
        for line in [
            "tabchain_signaling_connections 1",
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
