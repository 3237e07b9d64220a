//! `tabchain-keeper`: keeps one room's chain, joining it through a signaling server.
//! The signaling server's `--keep` runs the same keeper for every room with tabs; this
//! binary is for one room on another machine, or by hand.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use tabchain_core::Address;
use tabchain_keeper::{local_addresses, run, Settings};
use tabchain_signal::RoomName;

/// A native full node that keeps a tabchain room's chain when every tab is gone.
#[derive(Debug, Parser)]
#[command(name = "tabchain-keeper", version)]
struct Args {
    /// The signaling server's WebSocket endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    signal: String,
    /// The room to keep.
    #[arg(long, default_value = "lobby")]
    room: RoomName,
    /// The room's block time in seconds, as its pages' `?block_time=`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=600))]
    block_time: Option<u64>,
    /// The room's first difficulty, as its pages' `?difficulty=`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    difficulty: Option<u64>,
    /// Where the node key and the blocks are kept (default: tabchain-data/<room>).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Mine, paying the rewards to this address.
    #[arg(long, value_name = "ADDRESS")]
    mine: Option<Address>,
    /// Take WebRTC traffic on this local address (repeat for several; default: every
    /// IPv4 address of the machine).
    #[arg(long = "ice-ip", value_name = "IP")]
    ice_ips: Vec<IpAddr>,
    /// Measure this machine's mining speed on one core for 3 s, print it and exit.
    #[arg(long)]
    hashrate: bool,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if args.hashrate {
        let rate = tabchain_keeper::miner::measure_hashrate(3.0);
        println!("{rate:.0} hashes/s on one core ({:.1} MH/s)", rate / 1e6);
        return;
    }
    let settings = Settings {
        block_time: args.block_time,
        difficulty: args.difficulty,
        data: args
            .data
            .unwrap_or_else(|| PathBuf::from("tabchain-data").join(args.room.as_str())),
        signal: args.signal,
        room: args.room,
        mine: args.mine,
        hosts: if args.ice_ips.is_empty() {
            local_addresses()
        } else {
            args.ice_ips
        },
    };
    let (summary, _) = tokio::sync::watch::channel(Default::default());
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(err) = run(settings, summary, shutdown).await {
        eprintln!("tabchain-keeper: {err}");
        std::process::exit(1);
    }
}
