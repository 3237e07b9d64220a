//! The page's settings, read from its URL: which room, which rules, which servers.
//!
//! `?room=` picks the network (default `lobby`); `?difficulty=` makes blocks easier or
//! harder and `?block_time=` (seconds, 1 to 600, default 10) sets the pace retargeting
//! aims for (both are part of the rules, so they change the genesis and only tabs with
//! the same values link up); `?workers=` sets how many mining workers start; `?signal=` names a
//! signaling server other than the page's own; `?ice=` lists STUN/TURN servers
//! (comma-separated), with `?ice_username=` and `?ice_credential=` for TURN, in addition
//! to those the signaling server hands out in `welcome`. `?relays=` lists Nostr relays
//! (comma-separated `wss://` URLs) to meet the room through as well; a page with no
//! signaling server uses [`tabchain_nostr::DEFAULT_RELAYS`] without it. `?secret=` is
//! the room's password there: tabs with another secret never meet through the relays.
//! `?links=` sets how many peers a tab links to (one more at most, for a newcomer;
//! default: the node's), so that a small class sees gossip cross several hops.
//! `?simd=off` makes the mining workers search one nonce at a time even where the
//! browser runs wasm SIMD, so a class can compare both searches (`?simd=on`, the
//! default, uses SIMD where the browser has it).

use tabchain_core::Params;
use tabchain_signal::{IceServer, RoomName, RoomNameError};

pub const DEFAULT_ROOM: &str = "lobby";

/// The block times a room may choose, in seconds: one second makes a quick demo, ten
/// minutes a lesson about forks in slow motion.
pub const BLOCK_TIMES: std::ops::RangeInclusive<u64> = 1..=600;

/// Workers a page may ask for: more would only fight over the same cores.
pub const MAX_WORKERS: usize = 16;

/// Links a page may cap itself to: one is a chain of tabs, not a mesh.
pub const LINKS: std::ops::RangeInclusive<usize> = 2..=32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub room: RoomName,
    /// Expected hashes per block until retargeting takes over; `None` keeps the
    /// classroom default.
    pub difficulty: Option<u64>,
    /// Seconds per block retargeting aims for; `None` keeps the classroom default.
    pub block_time: Option<u64>,
    pub workers: Option<usize>,
    /// Peers to link to (one more is taken in); `None` keeps the node's default.
    pub links: Option<usize>,
    /// Mining workers may load their SIMD build (`?simd=off` says no).
    pub simd: bool,
    /// A `ws://` or `wss://` URL of the signaling server's `/ws`, without the room.
    pub signal: Option<String>,
    pub ice: Vec<IceServer>,
    /// Nostr relays given by the page's address; `None` if it names none.
    pub relays: Option<Vec<String>>,
    /// The room's password on Nostr relays (empty for none).
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("room: {0}")]
    Room(#[from] RoomNameError),
    #[error("difficulty must be a whole number from 1 up, not {0:?}")]
    Difficulty(String),
    #[error("block_time must be a whole number of seconds from 1 to 600, not {0:?}")]
    BlockTime(String),
    #[error("workers must be a whole number from 1 to {MAX_WORKERS}, not {0:?}")]
    Workers(String),
    #[error("links must be a whole number from 2 to 32, not {0:?}")]
    Links(String),
    #[error("simd must be on or off, not {0:?}")]
    Simd(String),
    #[error("signal must be a ws:// or wss:// URL, not {0:?}")]
    Signal(String),
    #[error("ice servers must be stun:, turn: or turns: URLs, not {0:?}")]
    Ice(String),
    #[error("relays must be ws:// or wss:// URLs, not {0:?}")]
    Relay(String),
}

impl Settings {
    /// Reads a URL's query string (`location.search`, with or without the `?`).
    pub fn from_query(query: &str) -> Result<Settings, SettingsError> {
        let mut room = None;
        let mut settings = Settings {
            room: DEFAULT_ROOM
                .parse()
                .expect("the default room name is valid"),
            difficulty: None,
            block_time: None,
            workers: None,
            links: None,
            simd: true,
            signal: None,
            ice: Vec::new(),
            relays: None,
            secret: String::new(),
        };
        let (mut username, mut credential) = (None, None);
        for pair in query.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "room" => room = Some(value),
                "difficulty" => {
                    settings.difficulty = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|&d| d >= 1)
                            .ok_or(SettingsError::Difficulty(value))?,
                    );
                }
                "block_time" => {
                    settings.block_time = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|s| BLOCK_TIMES.contains(s))
                            .ok_or(SettingsError::BlockTime(value))?,
                    );
                }
                "workers" => {
                    settings.workers = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|n| (1..=MAX_WORKERS).contains(n))
                            .ok_or(SettingsError::Workers(value))?,
                    );
                }
                "links" => {
                    settings.links = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|n| LINKS.contains(n))
                            .ok_or(SettingsError::Links(value))?,
                    );
                }
                "simd" => {
                    settings.simd = match value.as_str() {
                        "on" => true,
                        "off" => false,
                        _ => return Err(SettingsError::Simd(value)),
                    };
                }
                "signal" => {
                    if !(value.starts_with("ws://") || value.starts_with("wss://")) {
                        return Err(SettingsError::Signal(value));
                    }
                    settings.signal = Some(value);
                }
                "ice" => {
                    for url in value.split(',').filter(|url| !url.is_empty()) {
                        if !["stun:", "turn:", "turns:"]
                            .iter()
                            .any(|s| url.starts_with(s))
                        {
                            return Err(SettingsError::Ice(url.to_owned()));
                        }
                        settings.ice.push(IceServer {
                            urls: vec![url.to_owned()],
                            username: None,
                            credential: None,
                        });
                    }
                }
                "relays" => {
                    let mut relays = Vec::new();
                    for url in value.split(',').filter(|url| !url.is_empty()) {
                        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                            return Err(SettingsError::Relay(url.to_owned()));
                        }
                        relays.push(url.to_owned());
                    }
                    settings.relays = Some(relays);
                }
                "secret" => settings.secret = value,
                "ice_username" => username = Some(value),
                "ice_credential" => credential = Some(value),
                _ => {}
            }
        }
        if let Some(room) = room {
            settings.room = room.parse()?;
        }
        for server in settings
            .ice
            .iter_mut()
            .filter(|s| s.urls[0].starts_with("turn"))
        {
            server.username.clone_from(&username);
            server.credential.clone_from(&credential);
        }
        Ok(settings)
    }

    /// The rules of this page's network.
    pub fn params(&self) -> Params {
        Params::for_room(self.room.as_str(), self.block_time, self.difficulty)
    }

    /// The WebSocket URL to join this room: `?signal=` if given, else `/ws` on the
    /// page's own host (`page_protocol` is `location.protocol`, e.g. `https:`).
    pub fn signal_url(&self, page_protocol: &str, page_host: &str) -> String {
        let base = match &self.signal {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if page_protocol == "https:" {
                    "wss"
                } else {
                    "ws"
                };
                format!("{scheme}://{page_host}/ws")
            }
        };
        // The rules ride along so a server that keeps rooms keeps this rule set's chain.
        let mut url = format!("{base}?room={}", self.room.as_str());
        if let Some(seconds) = self.block_time {
            url.push_str(&format!("&block_time={seconds}"));
        }
        if let Some(difficulty) = self.difficulty {
            url.push_str(&format!("&difficulty={difficulty}"));
        }
        url
    }
}

/// `%XX` and `+` decoding of a query value; a malformed escape is kept as it is.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_is_the_lobby_with_classroom_rules() {
        let settings = Settings::from_query("").unwrap();
        assert_eq!(settings.room.as_str(), "lobby");
        assert_eq!(settings.params(), Params::new("lobby"));
        assert_eq!(
            settings.signal_url("http:", "127.0.0.1:8080"),
            "ws://127.0.0.1:8080/ws?room=lobby"
        );
        assert_eq!(
            settings.signal_url("https:", "class.example"),
            "wss://class.example/ws?room=lobby"
        );
    }

    #[test]
    fn every_setting_is_read() {
        let settings = Settings::from_query(
            "?room=class-1&difficulty=20000&block_time=2&workers=3&signal=ws%3A%2F%2F10.0.0.2%3A8080%2Fws\
             &ice=stun:stun.example:3478,turn:turn.example:3478&ice_username=pupil&ice_credential=p%40ss&other=x\
             &relays=wss%3A%2F%2Frelay.one,ws://127.0.0.1:7000&secret=owl+song",
        )
        .unwrap();
        assert_eq!(settings.room.as_str(), "class-1");
        assert_eq!(settings.workers, Some(3));
        assert_eq!(settings.links, None);
        assert_eq!(Settings::from_query("links=3").unwrap().links, Some(3));
        assert!(Settings::from_query("links=1").is_err());
        assert!(settings.simd, "workers use SIMD unless told not to");
        assert!(!Settings::from_query("simd=off").unwrap().simd);
        assert!(Settings::from_query("simd=on").unwrap().simd);
        assert_eq!(settings.params().initial_difficulty, 20_000);
        assert_eq!(settings.params().target_block_ms, 2_000);
        assert_ne!(
            settings.params().genesis(),
            Params::new("class-1").genesis(),
            "difficulty is part of the rules"
        );
        assert_eq!(
            settings.signal_url("https:", "ignored"),
            "ws://10.0.0.2:8080/ws?room=class-1&block_time=2&difficulty=20000"
        );
        assert_eq!(
            settings.ice[0],
            IceServer {
                urls: vec!["stun:stun.example:3478".into()],
                username: None,
                credential: None
            }
        );
        assert_eq!(settings.ice[1].username.as_deref(), Some("pupil"));
        assert_eq!(settings.ice[1].credential.as_deref(), Some("p@ss"));
        assert_eq!(
            settings.relays.as_deref(),
            Some(
                &[
                    "wss://relay.one".to_owned(),
                    "ws://127.0.0.1:7000".to_owned()
                ][..]
            )
        );
        assert_eq!(settings.secret, "owl song");
        assert_eq!(Settings::from_query("").unwrap().relays, None);
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        // Tried: a room with a space, zero and non-numeric difficulty, block times of 0 s,
        // 601 s and "fast", too many workers, simd=no,
        // an http:// signaling URL, an ICE server and a relay that are web pages.
        assert!(matches!(
            Settings::from_query("room=my+room"),
            Err(SettingsError::Room(_))
        ));
        assert_eq!(
            Settings::from_query("difficulty=0"),
            Err(SettingsError::Difficulty("0".into()))
        );
        assert_eq!(
            Settings::from_query("difficulty=easy"),
            Err(SettingsError::Difficulty("easy".into()))
        );
        for pace in ["0", "601", "fast"] {
            assert_eq!(
                Settings::from_query(&format!("block_time={pace}")),
                Err(SettingsError::BlockTime(pace.into()))
            );
        }
        assert_eq!(
            Settings::from_query("workers=99"),
            Err(SettingsError::Workers("99".into()))
        );
        assert_eq!(
            Settings::from_query("simd=no"),
            Err(SettingsError::Simd("no".into()))
        );
        assert!(matches!(
            Settings::from_query("signal=http://x"),
            Err(SettingsError::Signal(_))
        ));
        assert!(matches!(
            Settings::from_query("ice=https://x"),
            Err(SettingsError::Ice(_))
        ));
        assert_eq!(
            Settings::from_query("relays=wss://ok,https://no"),
            Err(SettingsError::Relay("https://no".into()))
        );
    }

    #[test]
    fn malformed_escapes_are_kept_as_written() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
