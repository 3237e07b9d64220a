//! Makes a chain file of a room without mining it in a browser: a chain a teacher hands
//! to a class, or the long chains the browser tests start from.
//!
//!     cargo run --release -p tabchain-web --bin chain-file -- \
//!         --room lesson --difficulty 2000 --block-time 10 --blocks 2000 --out lesson.tabchain
//!
//! The room's rules come from the same settings a page reads from its address, so the
//! file loads in `?room=lesson&difficulty=2000&block_time=10`. Blocks are stamped one
//! block time apart, ending now (so the difficulty stays where the room starts it), and
//! mined for real. From the first spendable coinbase on, every block also carries a
//! signed payment between two wallets, so that loading it replays and checks real coins.

use std::path::PathBuf;

use clap::Parser;
use tabchain_core::{pow, Ledger, SecretKey, Timestamp, Wallet, COIN};
use tabchain_web::chainfile;
use tabchain_web::settings::Settings;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    room: String,
    /// Expected hashes per block, as `?difficulty=`.
    #[arg(long)]
    difficulty: Option<u64>,
    /// Seconds per block, as `?block_time=`.
    #[arg(long)]
    block_time: Option<u64>,
    #[arg(long)]
    blocks: u64,
    #[arg(long)]
    out: PathBuf,
}

/// The chain ends now, so that a tab loading it soon finds no block in its future.
#[allow(
    clippy::disallowed_methods,
    reason = "a command-line tool at the edge reads the clock once, for the chain's last stamp"
)]
fn wall_clock_ms() -> Result<u64, std::time::SystemTimeError> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut query = format!("room={}", args.room);
    if let Some(difficulty) = args.difficulty {
        query.push_str(&format!("&difficulty={difficulty}"));
    }
    if let Some(seconds) = args.block_time {
        query.push_str(&format!("&block_time={seconds}"));
    }
    let settings = Settings::from_query(&query)?;
    let params = settings.params();
    let spacing = params.target_block_ms;
    let genesis = params.genesis().hash();
    let miner = Wallet::new(SecretKey::from_seed([1; 32]));
    let friend = Wallet::new(SecretKey::from_seed([2; 32]));
    let mut ledger = Ledger::new(params);
    let now = wall_clock_ms()?;
    let start = now.saturating_sub(args.blocks * spacing);
    let mut blocks = Vec::new();
    for n in 1..=args.blocks {
        let time = Timestamp(start + n * spacing);
        if let Some(coin) = ledger.spendable(&miner.address()).first().copied() {
            let payment = miner.pay(&[coin], friend.address(), COIN, 10, &genesis)?;
            ledger.submit_tx(payment)?;
        }
        let mut block = ledger.template(miner.address(), time);
        assert!(pow::solve(&mut block.header), "no nonce solves the block");
        ledger.submit_block(block.clone(), time)?;
        blocks.push(block);
    }
    let bytes = chainfile::encode(settings.room.as_str(), genesis, blocks);
    std::fs::write(&args.out, &bytes)?;
    eprintln!(
        "{}: {} blocks of room {}, {} bytes",
        args.out.display(),
        args.blocks,
        settings.room.as_str(),
        bytes.len()
    );
    Ok(())
}
