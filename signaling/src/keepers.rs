//! `--keep`: a keeper (`tabchain-keeper`) for every room and rule set that has tabs, run
//! in this process. Each joins through this server's own WebSocket like any tab, links
//! to the tabs over WebRTC, and keeps the room's chain under the data directory, so a
//! room outlives its last tab and the next class finds it. `GET /rooms/<room>/chain`
//! reads a keeper's summary.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use tabchain_core::Params;
use tabchain_keeper::{Settings, Summary};
use tabchain_signal::RoomName;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What `--keep` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepConfig {
    /// Each kept room's key and blocks go under `<data>/<room>-<genesis>`.
    pub data: PathBuf,
    /// Rooms (and rule sets) kept at once; the ones past it are not kept.
    pub max_rooms: usize,
    /// Local addresses the keepers take WebRTC traffic on.
    pub hosts: Vec<IpAddr>,
}

/// A room's rules as its pages' WebSocket URL states them (`&block_time=`,
/// `&difficulty=`); pages with other rules are another chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
pub struct Rules {
    pub block_time: Option<u64>,
    pub difficulty: Option<u64>,
}

impl Rules {
    /// The rules a page accepts (`block_time` 1 to 600 s, `difficulty` from 1): no
    /// keeper is started for rules no page could have.
    fn is_valid(self) -> bool {
        self.block_time
            .is_none_or(|seconds| (1..=600).contains(&seconds))
            && self.difficulty.is_none_or(|difficulty| difficulty >= 1)
    }
}

#[derive(Debug)]
pub(crate) struct Keepers {
    config: KeepConfig,
    /// This server's WebSocket endpoint, as the keepers reach it.
    signal: String,
    kept: Mutex<HashMap<(RoomName, Rules), watch::Receiver<Summary>>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Keepers {
    /// Keepers for a server listening on `listening` (an unspecified address is reached
    /// on loopback).
    pub fn new(config: KeepConfig, listening: SocketAddr, shutdown: CancellationToken) -> Keepers {
        let mut reach = listening;
        if reach.ip().is_unspecified() {
            reach.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Keepers {
            config,
            signal: format!("ws://{reach}/ws"),
            kept: Mutex::new(HashMap::new()),
            shutdown,
            tasks: TaskTracker::new(),
        }
    }

    /// A tab joined `room` with `rules`: start its keeper unless it has one, or the
    /// bound is reached.
    pub fn ensure(&self, room: &RoomName, rules: Rules) {
        if !rules.is_valid() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (room.clone(), rules);
        if kept.contains_key(&key) {
            return;
        }
        if kept.len() >= self.config.max_rooms {
            tracing::warn!(
                room = room.as_str(),
                "not keeping the room: {} rooms are kept already",
                kept.len()
            );
            return;
        }
        let params = Params::for_room(room.as_str(), rules.block_time, rules.difficulty);
        let genesis = params.genesis().hash().to_string();
        let settings = Settings {
            signal: self.signal.clone(),
            room: room.clone(),
            block_time: rules.block_time,
            difficulty: rules.difficulty,
            data: self
                .config
                .data
                .join(format!("{}-{}", room.as_str(), &genesis[..16])),
            mine: None,
            hosts: self.config.hosts.clone(),
        };
        let (summary, watcher) = watch::channel(Summary::default());
        kept.insert(key.clone(), watcher);
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            if let Err(err) =
                tabchain_keeper::run(settings, summary, shutdown.cancelled_owned()).await
            {
                tracing::error!(room = key.0.as_str(), "the room's keeper stopped: {err}");
            }
        });
    }

    /// The summary of the keeper of `room` with `rules`, if it is kept.
    pub fn summary(&self, room: &RoomName, rules: Rules) -> Option<Summary> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(&(room.clone(), rules))
            .map(|watcher| watcher.borrow().clone())
    }

    /// Waits for every keeper to say goodbye and store its last blocks.
    pub async fn stopped(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}
