//! The command line. Every limit has a flag; the defaults are [`Limits::default`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::turn::{PortRange, TurnConfig, TurnSecret};
use crate::{Config, KeepConfig, Limits};

/// The tabchain signaling server: browser tabs meet in rooms here and trade WebRTC
/// offers, answers and ICE candidates. With --static it also serves the built site.
#[derive(Debug, Parser)]
#[command(name = "tabchain-signaling", version)]
pub struct Args {
    /// Address to listen on. Use 0.0.0.0:8080 to let other machines in.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Serve the built site (trunk's dist/) from this directory.
    #[arg(long = "static", value_name = "DIR")]
    pub static_dir: Option<PathBuf>,
    /// Largest message a tab may send, in bytes.
    #[arg(long, default_value = "65536", value_name = "BYTES")]
    pub max_frame: usize,
    /// Messages per second a connection may send on average.
    #[arg(long, default_value = "100")]
    pub rate: u32,
    /// Messages a connection may send in a burst.
    #[arg(long, default_value = "400")]
    pub burst: u32,
    /// Refused messages a connection may send before it is closed.
    #[arg(long, default_value = "10")]
    pub max_errors: u32,
    /// Peers in one room.
    #[arg(long, default_value = "128")]
    pub max_peers_per_room: usize,
    /// Peers in one room from one client address (an IPv4 address, or an IPv6 /64).
    /// Keep it below --max-peers-per-room, so that made-up identities from one
    /// address cannot fill a room; keep it above the tabs of a class behind one NAT.
    #[arg(long, default_value = "96", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_room_peers_per_address: u32,
    /// Rooms open at once.
    #[arg(long, default_value = "1000")]
    pub max_rooms: usize,
    /// TCP connections open at once, counted from accept: HTTP requests and
    /// WebSockets (each needs a file descriptor).
    #[arg(long, default_value = "10000")]
    pub max_connections: usize,
    /// TCP connections open at once from one client address (an IPv4 address, or an
    /// IPv6 /64). A class behind one NAT shares one address.
    #[arg(long, default_value = "512", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_address: u32,
    /// Time from accepting a connection, or from the end of its last request, to the
    /// end of the next request head; a half-open request is closed after it.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Time from the WebSocket upgrade to a valid hello, e.g. 10s or 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,
    /// A joined tab that sends no message for this long is closed.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// How often the server pings each tab.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub ping_interval: Duration,
    /// A tab that answers nothing for this long is dropped.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub ping_timeout: Duration,
    /// Messages waiting to be written to one tab; when it is full, senders wait.
    #[arg(long, default_value = "128", value_parser = clap::value_parser!(u16).range(1..))]
    pub queue: u16,
    /// A tab whose queue stays full this long is dropped as too slow.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub queue_timeout: Duration,
    /// Also serve STUN and TURN, over UDP and TCP, on this address (through coturn's
    /// `turnserver`), and give every joined tab its own TURN credentials. The address
    /// tabs reach, e.g. the LAN address: not 0.0.0.0.
    #[arg(long, value_name = "IP:PORT", value_parser = parse_turn_addr)]
    pub turn: Option<SocketAddr>,
    /// How long after joining a tab's TURN credential can still open relays.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub turn_ttl: Duration,
    /// Relays one credential (one tab) may hold at once. A link takes one per TURN
    /// URL (UDP and TCP): 12 links, 24 relays.
    #[arg(long, default_value = "24", value_parser = clap::value_parser!(u32).range(1..))]
    pub turn_quota: u32,
    /// Relays the whole server may hold at once.
    #[arg(long, default_value = "1000", value_parser = clap::value_parser!(u32).range(1..))]
    pub turn_total_quota: u32,
    /// Bytes per second one relay may carry, each direction.
    #[arg(long, default_value = "100000", value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub turn_max_bps: u64,
    /// Bytes per second all relays together may carry. Each relay reserves
    /// --turn-max-bps of it, and none is opened when it is used up.
    #[arg(long, default_value = "100000000", value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub turn_capacity_bps: u64,
    /// The UDP ports relays are opened on.
    #[arg(long, default_value = "49152-65535", value_name = "FIRST-LAST")]
    pub turn_ports: PortRange,
    /// Print this URL and a QR code of it once the server is ready, for a class to
    /// scan off the projector.
    #[arg(long, value_name = "URL")]
    pub join_url: Option<String>,
    /// Keep every room that has tabs: a native full node per room (and rule set)
    /// links to its tabs and stores its chain under --data, so the room outlives its
    /// last tab. `GET /rooms/<room>/chain` shows a kept chain.
    #[arg(long)]
    pub keep: bool,
    /// Where kept rooms are stored, one directory each.
    #[arg(long, value_name = "DIR", default_value = "tabchain-data")]
    pub data: PathBuf,
    /// Rooms kept at once.
    #[arg(long, default_value = "16", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_rooms: u32,
    /// A local address the keepers take WebRTC traffic on (repeat for several;
    /// default: every IPv4 address of the machine).
    #[arg(long = "keep-ip", value_name = "IP")]
    pub keep_ips: Vec<std::net::IpAddr>,
}

impl Args {
    pub fn config(&self) -> Config {
        Config {
            limits: Limits {
                max_frame: self.max_frame,
                rate: self.rate,
                burst: self.burst,
                max_errors: self.max_errors,
                max_peers_per_room: self.max_peers_per_room,
                max_room_peers_per_address: self.max_room_peers_per_address as usize,
                max_rooms: self.max_rooms,
                max_connections: self.max_connections,
                max_per_address: self.max_per_address as usize,
                header_timeout: self.header_timeout,
                handshake_timeout: self.handshake_timeout,
                idle_timeout: self.idle_timeout,
                ping_interval: self.ping_interval,
                ping_timeout: self.ping_timeout,
                queue: self.queue.into(),
                queue_timeout: self.queue_timeout,
            },
            static_dir: self.static_dir.clone(),
            turn: self.turn.map(|addr| TurnConfig {
                addr,
                secret: TurnSecret::random(),
                ttl: self.turn_ttl,
                user_quota: self.turn_quota,
                total_quota: self.turn_total_quota,
                max_bps: self.turn_max_bps,
                capacity_bps: self.turn_capacity_bps,
                relay_ports: self.turn_ports,
            }),
            keep: self.keep.then(|| KeepConfig {
                data: self.data.clone(),
                max_rooms: self.keep_rooms as usize,
                hosts: if self.keep_ips.is_empty() {
                    tabchain_keeper::local_addresses()
                } else {
                    self.keep_ips.clone()
                },
            }),
        }
    }
}

/// Why a `--turn` address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnAddrError {
    #[error("expected IP:PORT, e.g. 192.168.1.20:3478")]
    Malformed,
    #[error("TURN needs the address tabs reach (e.g. the LAN address), not {0}")]
    Unspecified(SocketAddr),
    #[error("TURN needs a port")]
    NoPort,
}

fn parse_turn_addr(text: &str) -> Result<SocketAddr, TurnAddrError> {
    let addr: SocketAddr = text.parse().map_err(|_| TurnAddrError::Malformed)?;
    if addr.ip().is_unspecified() {
        return Err(TurnAddrError::Unspecified(addr));
    }
    if addr.port() == 0 {
        return Err(TurnAddrError::NoPort);
    }
    Ok(addr)
}

/// Why a duration flag does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("expected a number and a unit (ms, s, m or h), e.g. 30s")]
    Malformed,
    #[error("a duration must be longer than zero")]
    Zero,
}

/// `250ms`, `30s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(DurationError::Malformed)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| DurationError::Malformed)?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => return Err(DurationError::Malformed),
    };
    if duration.is_zero() {
        return Err(DurationError::Zero);
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_defaults_are_the_library_defaults() {
        let args = Args::parse_from(["tabchain-signaling"]);
        assert_eq!(args.config().limits, Limits::default());
        assert_eq!(args.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(args.static_dir, None);
        assert!(args.config().turn.is_none());
        let args = Args::parse_from(["tabchain-signaling", "--turn", "192.0.2.1:3478"]);
        let flags = args.config().turn.unwrap();
        let library = TurnConfig::new(flags.addr);
        assert_eq!(
            flags,
            TurnConfig {
                secret: flags.secret.clone(),
                ..library
            }
        );
        assert_ne!(flags.secret, library.secret, "a fresh secret each start");
    }

    #[test]
    fn turn_flags_set_the_relay_limits() {
        let args = Args::parse_from([
            "tabchain-signaling",
            "--turn",
            "[fd00::2]:3479",
            "--turn-ttl",
            "90m",
            "--turn-quota",
            "12",
            "--turn-total-quota",
            "300",
            "--turn-max-bps",
            "5000",
            "--turn-capacity-bps",
            "1500000",
            "--turn-ports",
            "40000-40100",
            "--join-url",
            "http://192.0.2.1:8080/",
        ]);
        let turn = args.config().turn.unwrap();
        assert_eq!(turn.addr, "[fd00::2]:3479".parse().unwrap());
        assert_eq!(turn.ttl, Duration::from_secs(5400));
        assert_eq!((turn.user_quota, turn.total_quota), (12, 300));
        assert_eq!((turn.max_bps, turn.capacity_bps), (5000, 1_500_000));
        assert_eq!(turn.relay_ports, "40000-40100".parse().unwrap());
        assert_eq!(args.join_url.as_deref(), Some("http://192.0.2.1:8080/"));
        for bad in [
            ["--turn-quota", "0"],
            ["--turn-ports", "5000-4000"],
            ["--turn-max-bps", "0"],
        ] {
            let mut argv = vec!["tabchain-signaling", "--turn", "192.0.2.1:3478"];
            argv.extend(bad);
            assert!(Args::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn turn_needs_the_address_tabs_reach() {
        assert_eq!(
            parse_turn_addr("0.0.0.0:3478"),
            Err(TurnAddrError::Unspecified("0.0.0.0:3478".parse().unwrap()))
        );
        assert!(matches!(
            parse_turn_addr("[::]:3478"),
            Err(TurnAddrError::Unspecified(_))
        ));
        assert_eq!(parse_turn_addr("10.0.0.1:0"), Err(TurnAddrError::NoPort));
        assert_eq!(parse_turn_addr("10.0.0.1"), Err(TurnAddrError::Malformed));
        assert_eq!(
            parse_turn_addr("turn.example:3478"),
            Err(TurnAddrError::Malformed)
        );
        assert_eq!(
            parse_turn_addr("127.0.0.1:3478"),
            Ok("127.0.0.1:3478".parse().unwrap())
        );
    }

    #[test]
    fn flags_set_the_limits() {
        let args = Args::parse_from([
            "tabchain-signaling",
            "--static",
            "dist",
            "--max-frame",
            "1000",
            "--ping-timeout",
            "250ms",
            "--idle-timeout",
            "5m",
            "--header-timeout",
            "3s",
            "--max-per-address",
            "40",
            "--max-room-peers-per-address",
            "20",
        ]);
        let config = args.config();
        assert_eq!(config.limits.header_timeout, Duration::from_secs(3));
        assert_eq!(config.limits.max_per_address, 40);
        assert_eq!(config.limits.max_room_peers_per_address, 20);
        for zero in ["--max-per-address", "--max-room-peers-per-address"] {
            assert!(Args::try_parse_from(["tabchain-signaling", zero, "0"]).is_err());
        }
        assert_eq!(config.static_dir, Some(PathBuf::from("dist")));
        assert_eq!(config.limits.max_frame, 1000);
        assert_eq!(config.limits.ping_timeout, Duration::from_millis(250));
        assert_eq!(config.limits.idle_timeout, Duration::from_secs(300));
        assert!(Args::try_parse_from(["tabchain-signaling", "--queue", "0"]).is_err());
    }

    #[test]
    fn durations_need_a_number_and_a_unit() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        for text in ["", "30", "s", "1.5s", "-1s", "10 s", "3d"] {
            assert_eq!(
                parse_duration(text),
                Err(DurationError::Malformed),
                "{text}"
            );
        }
        assert_eq!(parse_duration("0s"), Err(DurationError::Zero));
    }
}
