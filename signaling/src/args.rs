//! The command line. Every limit has a flag; the defaults are [`Limits::default`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::{Config, Limits};

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
    #[arg(long, default_value = "64")]
    pub max_peers_per_room: usize,
    /// Rooms open at once.
    #[arg(long, default_value = "1000")]
    pub max_rooms: usize,
    /// WebSocket connections open at once (each needs a file descriptor).
    #[arg(long, default_value = "10000")]
    pub max_connections: usize,
    /// Time from connecting to a valid hello, e.g. 10s or 500ms.
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
                max_rooms: self.max_rooms,
                max_connections: self.max_connections,
                handshake_timeout: self.handshake_timeout,
                idle_timeout: self.idle_timeout,
                ping_interval: self.ping_interval,
                ping_timeout: self.ping_timeout,
                queue: self.queue.into(),
                queue_timeout: self.queue_timeout,
            },
            static_dir: self.static_dir.clone(),
        }
    }
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
        ]);
        let config = args.config();
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
