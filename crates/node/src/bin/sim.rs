//! `sim`: runs the deterministic network simulator once and prints what it measured.
//!
//! ```sh
//! cargo run --release --bin sim -- --nodes 1000 --degree 8 --json
//! cargo run --release --bin sim -- --nodes 1000 --gossip pull --loss 0.1
//! cargo run --release --bin sim -- --nodes 30 --attack orphan-flood --json
//! cargo run --release --bin sim -- --catch-up 2000 --nodes 4
//! ```

// A big run allocates a frame per message across thousands of nodes' state: mimalloc
// takes a tenth off its time against the system allocator (same output, side by side).
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use tabchain_node::sim::{run, AdversaryKind, CatchUp, Report, Scenario};
use tabchain_node::Gossip;

/// Simulate a tabchain network: nodes join, mine, gossip, churn, split and heal; then
/// check that honest nodes converged and measure block propagation.
#[derive(Debug, Parser)]
#[command(name = "sim", version)]
struct Args {
    /// Honest nodes.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// Links each node aims for.
    #[arg(long, default_value_t = 8)]
    degree: usize,
    /// Mean one-way link latency (each link draws its own in [L/2, 3L/2]).
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Blocks mined once the network has formed.
    #[arg(long, default_value_t = 20)]
    blocks: usize,
    /// Mean time between blocks.
    #[arg(long, default_value_t = 5_000)]
    block_interval_ms: u64,
    /// Payments made while blocks are mined.
    #[arg(long, default_value_t = 20)]
    txs: usize,
    /// Share (0 to 1) of honest non-mining nodes that leave mid-run (half crash, half
    /// say goodbye; half of them return).
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// Adversarial nodes (garbage frames, invalid blocks, inv floods, withholding).
    #[arg(long, default_value_t = 0)]
    adversaries: usize,
    /// Every adversary runs this attack (three adversaries unless --adversaries says):
    /// getdata-amplify, want-flood, forged-relay, sync-hog, peers-flood, orphan-flood.
    #[arg(long, value_parser = parse_attack)]
    attack: Option<AdversaryKind>,
    /// Split the network in two for the middle third of the mining, then heal.
    #[arg(long)]
    partition: bool,
    /// Honest nodes that mine (hashrate shares 1, 1/2, 1/3, ...).
    #[arg(long, default_value_t = 8)]
    miners: usize,
    /// The seed that decides the whole run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How blocks spread: hybrid (what tabs do: announce and fetch, plus pushes from
    /// each node's --fast peers), pull (announce and fetch), flood (push to every peer),
    /// push-k (push to --k random peers), infect (push to --k, one more for each that had
    /// it, up to --limit new or --saturation had-it answers).
    #[arg(long, default_value = "hybrid", value_parser = ["hybrid", "pull", "flood", "push-k", "infect"])]
    gossip: String,
    /// hybrid: peers each node asks to push it new blocks.
    #[arg(long, default_value_t = 4)]
    fast: usize,
    /// push-k and infect: peers a new block is pushed to first.
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// infect: "had it" answers that end the spreading.
    #[arg(long, default_value_t = 3)]
    saturation: usize,
    /// infect: new infections that end the spreading.
    #[arg(long, default_value_t = 4)]
    limit: usize,
    /// Share (0 to 1) of gossip frames (announcements, requests, blocks, transactions)
    /// lost on the way; handshakes, pings and relayed signals always arrive.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// How often nodes ping each peer (a peer is dropped after four intervals without a
    /// pong); pings are most of the frames of a big run.
    #[arg(long, default_value_t = 500)]
    ping_ms: u64,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
    /// Instead: a fresh node joins `--nodes` peers holding a chain of this many blocks;
    /// measure how long it takes to catch up.
    #[arg(long)]
    catch_up: Option<usize>,
}

impl Args {
    fn gossip(&self) -> Gossip {
        match self.gossip.as_str() {
            "pull" => Gossip::Pull,
            "flood" => Gossip::Flood,
            "push-k" => Gossip::PushK { k: self.k },
            "infect" => Gossip::Infect {
                k: self.k,
                saturation: self.saturation,
                limit: self.limit,
            },
            _ => Gossip::Hybrid { fast: self.fast },
        }
    }

    fn scenario(&self) -> Scenario {
        Scenario {
            seed: self.seed,
            nodes: self.nodes,
            degree: self.degree,
            latency_ms: self.latency_ms,
            blocks: self.blocks,
            block_interval_ms: self.block_interval_ms,
            txs: self.txs,
            churn: self.churn.clamp(0.0, 1.0),
            adversaries: match (self.attack, self.adversaries) {
                (Some(_), 0) => 3,
                (_, n) => n,
            },
            attack: self.attack,
            partition: self.partition,
            gossip: self.gossip(),
            loss: self.loss.clamp(0.0, 1.0),
            ping_ms: self.ping_ms.max(1),
            miners: self.miners,
            ..Scenario::default()
        }
    }
}

fn parse_attack(name: &str) -> Result<AdversaryKind, String> {
    AdversaryKind::attack(name).ok_or_else(|| {
        let names: Vec<&str> = AdversaryKind::ATTACKS.iter().map(|(n, _)| *n).collect();
        format!("unknown attack {name:?}; one of {}", names.join(", "))
    })
}

fn print_summary(report: &Report, wall_ms: u128) {
    println!(
        "{} honest nodes ({} live, {:.1} links each), {} adversaries, {} gossip, {}% loss, seed {}",
        report.nodes,
        report.live_nodes,
        report.mean_links,
        report.adversaries,
        report.gossip,
        report.loss * 100.0,
        report.seed
    );
    println!(
        "blocks: {} mined, {} on the best chain, {} stale, delivered {:.4}, converged {}",
        report.blocks_mined,
        report.main_chain_blocks,
        report.stale_blocks,
        report.delivered_fraction,
        report.converged
    );
    println!(
        "propagation: p50 {} ms, p99 {} ms, max {} ms",
        report.propagation_ms_p50, report.propagation_ms_p99, report.propagation_ms_max
    );
    println!(
        "per node per block: {:.2} block bytes / block size, {:.2} duplicates, {:.2} announcements",
        report.block_bytes_per_node_per_block,
        report.duplicates_per_node_per_block,
        report.announcements_per_node_per_block
    );
    println!(
        "misbehavers dropped: {} {:?}; transactions: {} submitted, {} confirmed",
        report.misbehavers_dropped,
        report.adversary_drop_reasons,
        report.txs_submitted,
        report.txs_confirmed
    );
    println!(
        "signals via mesh {}, via server {}; {} virtual s in {wall_ms} ms",
        report.signals_via_mesh,
        report.signals_via_server,
        report.virtual_ms / 1000
    );
    if let Some(attack) = &report.attack {
        println!(
            "attack {attack}: honest banned {}, attackers dropped {}, amplification {:.2}, \
             stored bytes ratio {:.2}, difficulty error {:.3}",
            report.honest_banned,
            report.attackers_dropped,
            report.amplification,
            report.max_stored_bytes_ratio,
            report.max_difficulty_error
        );
    }
    for violation in &report.violations {
        println!("VIOLATION: {violation}");
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The simulator itself never reads a clock; this measures how long the run took on
    // this machine, which is one of the figures the binary reports.
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    let started = std::time::Instant::now();
    if let Some(blocks) = args.catch_up {
        let run = CatchUp {
            seed: args.seed,
            peers: args.nodes,
            blocks,
            limit_ms: 3_600_000,
        };
        let report = run.run();
        let wall_ms = started.elapsed().as_millis();
        if args.json {
            let mut value = serde_json::to_value(&report).expect("a report serializes");
            value["wall_ms"] = serde_json::Value::from(wall_ms as u64);
            println!("{value}");
        } else {
            let synced = report.synced_ms.map_or("not within the hour".into(), |ms| {
                format!("in {ms} virtual ms")
            });
            println!(
                "a fresh node caught up with {} peers' {} blocks {synced} (height {}, \
                 {wall_ms} ms of wall-clock time); progress shown {} times, at most {} behind",
                report.peers,
                report.blocks,
                report.height,
                report.progress_reads,
                report.most_behind
            );
            for violation in &report.violations {
                println!("VIOLATION: {violation}");
            }
        }
        return if report.synced_ms.is_some() && report.violations.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let report = run(&args.scenario());
    let wall_ms = started.elapsed().as_millis();
    if args.json {
        let mut value = serde_json::to_value(&report).expect("a report serializes");
        value["wall_ms"] = serde_json::Value::from(wall_ms as u64);
        println!("{value}");
    } else {
        print_summary(&report, wall_ms);
    }
    if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
