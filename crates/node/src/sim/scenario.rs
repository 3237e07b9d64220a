//! Parameterised runs: nodes join, miners find blocks, wallets pay, nodes leave, crash
//! and return, the network splits and heals, adversaries misbehave; then the network
//! settles, the invariants are checked and the figures measured.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tabchain_core::{Timestamp, COIN};

use super::{AdversaryKind, Role, Sim, SimConfig};
use crate::config::Gossip;
use crate::event::DropReason;
use crate::random::Rng;

/// The initial difficulty of attack runs: blocks that honest miners solve in a few
/// hundred hashes, far above the lowest difficulty an attacker can use for free.
pub const ATTACK_DIFFICULTY: u64 = 256;

/// A run of the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    /// Honest nodes.
    pub nodes: usize,
    /// Links each node aims for ([`crate::Config::target_peers`]).
    pub degree: usize,
    /// Mean one-way link latency.
    pub latency_ms: u64,
    /// Blocks mined after the network formed; one more (two after a partition) is
    /// mined at the end to settle ties between tips of equal work.
    pub blocks: usize,
    /// Mean time between blocks (exponential), also the chain's target block time.
    pub block_interval_ms: u64,
    /// Payments made while blocks are mined.
    pub txs: usize,
    /// Share of honest non-mining nodes that leave while blocks are mined (half say
    /// goodbye, half crash); half of those come back later with their stored chain.
    pub churn: f64,
    /// Adversarial nodes, of each [`AdversaryKind`] in turn.
    pub adversaries: usize,
    /// Makes every adversary run this attack instead, on a chain whose difficulty
    /// starts at [`ATTACK_DIFFICULTY`] so that work can be told from no work.
    pub attack: Option<AdversaryKind>,
    /// Split the network in two for the middle third of the mining, then heal.
    pub partition: bool,
    /// How blocks spread: what tabs do ([`Gossip::default`]), or one of the strategies
    /// to compare it with.
    pub gossip: Gossip,
    /// How often nodes ping each peer (the tabs' 500 ms by default); a peer is shown
    /// stale after two intervals without a pong and dropped after four, as in a tab.
    /// Pings are most of a big run's frames, so a 10 000-node run may space them out.
    pub ping_ms: u64,
    /// Share (0 to 1) of gossip frames between nodes (announcements, requests, blocks,
    /// transactions) that are lost on the way. A data channel is reliable and would
    /// retransmit them late instead; losing them outright is the setting the seeds'
    /// gossip is made for. Handshakes, pings and relayed signals always arrive.
    pub loss: f64,
    /// Honest nodes that mine, with hashrate shares 1, 1/2, 1/3, ...
    pub miners: usize,
    /// Nodes arrive over this long at the start.
    pub join_ms: u64,
    /// Then this long for the mesh to form before the first block.
    pub warmup_ms: u64,
    /// Quiet time at the end for the network to converge.
    pub settle_ms: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 1,
            nodes: 100,
            degree: 8,
            latency_ms: 50,
            blocks: 20,
            block_interval_ms: 5_000,
            txs: 20,
            churn: 0.0,
            adversaries: 0,
            attack: None,
            partition: false,
            gossip: Gossip::default(),
            ping_ms: 500,
            loss: 0.0,
            miners: 8,
            join_ms: 2_000,
            warmup_ms: 3_000,
            settle_ms: 10_000,
        }
    }
}

/// What a run showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub seed: u64,
    /// Honest nodes, and how many were live at the end.
    pub nodes: usize,
    pub live_nodes: usize,
    pub adversaries: usize,
    pub degree: usize,
    /// Links per live node at the end.
    pub mean_links: f64,
    /// The gossip strategy's name ([`Gossip::name`]).
    pub gossip: &'static str,
    pub loss: f64,
    pub blocks_mined: usize,
    /// Blocks mined in the run that ended on the best chain.
    pub main_chain_blocks: usize,
    /// Blocks mined in the run that did not: work lost to forks, more of it the slower
    /// blocks spread.
    pub stale_blocks: usize,
    /// Of those blocks times live honest nodes, the share each node has.
    pub delivered_fraction: f64,
    pub converged: bool,
    /// From a block being mined to each node (present then) taking it in.
    pub propagation_ms_p50: u64,
    pub propagation_ms_p99: u64,
    pub propagation_ms_max: u64,
    /// Block frame bytes honest nodes received, over the sizes of the blocks they took
    /// in from peers: 1.0 means each block came once.
    pub block_bytes_per_node_per_block: f64,
    /// Block frames honest nodes received carrying a block they already had, per block
    /// taken in from a peer.
    pub duplicates_per_node_per_block: f64,
    /// Block announcements honest nodes received (`Inv` items, and pushed blocks) per
    /// block taken in from a peer.
    pub announcements_per_node_per_block: f64,
    /// Frames and bytes each honest node received from honest peers, on average.
    pub frames_per_node: f64,
    pub bytes_per_node: f64,
    /// Adversaries that some honest node dropped for misbehaving.
    pub misbehavers_dropped: usize,
    /// Why honest nodes dropped adversaries, by reason.
    pub adversary_drop_reasons: BTreeMap<String, usize>,
    /// Honest nodes dropped by honest nodes for misbehaving (should be none).
    pub honest_misbehaviour_drops: usize,
    /// Why, by reason.
    pub honest_drop_reasons: BTreeMap<String, usize>,
    /// The attack run (`--attack`), if any.
    pub attack: Option<String>,
    /// (Honest node, honest peer) pairs where the node refuses the peer as banned at
    /// the end: must be 0.
    pub honest_banned: usize,
    /// Adversaries some honest node dropped for misbehaving.
    pub attackers_dropped: usize,
    /// Bytes honest nodes sent adversaries over the bytes adversaries sent them.
    pub amplification: f64,
    /// The most block bytes an honest node holds (stored, and waiting as orphans) over
    /// the size of the best chain.
    pub max_stored_bytes_ratio: f64,
    /// How far a block's difficulty on the best chain strays from what the honest
    /// schedule (the blocks' real mining times) demands: |actual / expected - 1|, at
    /// most.
    pub max_difficulty_error: f64,
    pub signals_via_mesh: u64,
    pub signals_via_server: u64,
    /// Frames lost crossing a partition.
    pub frames_cut: u64,
    /// Frames lost to `loss`.
    pub frames_lost: u64,
    pub txs_submitted: usize,
    pub txs_confirmed: usize,
    pub virtual_ms: u64,
    /// Broken invariants; empty in a good run.
    pub violations: Vec<String>,
}

impl Report {
    /// Whether the run kept every invariant and delivered every block everywhere.
    pub fn ok(&self) -> bool {
        self.violations.is_empty() && self.converged && self.delivered_fraction == 1.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Join(usize),
    Mine,
    Pay,
    Leave { node: usize, goodbye: bool },
    Rejoin(usize),
    Partition,
    Heal,
}

/// Runs `scenario` and reports. The same scenario always gives the same report.
pub fn run(scenario: &Scenario) -> Report {
    let s = scenario;
    let mut config = SimConfig::new(s.seed, s.block_interval_ms);
    config.wire.latency_ms = s.latency_ms;
    config.wire.jitter_ms = s.latency_ms / 10;
    config.wire.loss = s.loss;
    config.node.target_peers = s.degree;
    config.node.max_peers = s.degree + (s.degree / 2).max(2);
    config.node.gossip = s.gossip;
    config.node.ping_interval_ms = s.ping_ms;
    config.node.stale_after_ms = 2 * s.ping_ms;
    config.node.drop_after_ms = 4 * s.ping_ms;
    if s.attack.is_some() {
        config.params.initial_difficulty = ATTACK_DIFFICULTY;
    }
    let start = config.start;
    let maturity = config.params.coinbase_maturity as usize;
    let mut sim = Sim::new(config);
    // The plan has its own stream, so that it does not shift with what the nodes draw.
    let mut plan_rng = Rng::new(s.seed ^ 0x5ce7_a210);
    let total = s.nodes + s.adversaries;
    let roles: Vec<Role> = (0..total)
        .map(|i| match i.checked_sub(s.nodes) {
            None => Role::Honest,
            Some(k) => Role::Adversary(
                s.attack
                    .unwrap_or(AdversaryKind::ALL[k % AdversaryKind::ALL.len()]),
            ),
        })
        .collect();

    let mut plan: Vec<(Timestamp, Step)> = Vec::new();
    let mut joins: Vec<u64> = (1..total).map(|_| plan_rng.below(s.join_ms + 1)).collect();
    joins.sort_unstable();
    plan.push((start, Step::Join(0)));
    for (i, offset) in joins.into_iter().enumerate() {
        plan.push((start.saturating_add(offset), Step::Join(i + 1)));
    }

    let mining_start = start.saturating_add(s.join_ms + s.warmup_ms);
    let mut t = mining_start.millis() as f64;
    let mut block_times = Vec::new();
    for _ in 0..s.blocks {
        t += plan_rng.exponential(s.block_interval_ms as f64);
        block_times.push(Timestamp(t as u64));
    }
    let mining_end = block_times.last().copied().unwrap_or(mining_start);
    let span = mining_end.since(mining_start);
    plan.extend(block_times.iter().map(|&at| (at, Step::Mine)));

    let mut miners: Vec<usize> = (0..s.nodes).collect();
    plan_rng.shuffle(&mut miners);
    miners.truncate(s.miners.max(1).min(s.nodes));
    let shares: Vec<f64> = (0..miners.len()).map(|k| 1.0 / (k + 1) as f64).collect();

    // Payments start once the first block's coinbase can be spent, as many blocks later
    // as coinbases take to mature.
    let first_block = block_times
        .get(maturity.saturating_sub(1))
        .or(block_times.last())
        .copied()
        .unwrap_or(mining_start);
    for _ in 0..s.txs {
        let offset = plan_rng.below(mining_end.since(first_block) + 1);
        plan.push((first_block.saturating_add(offset + 1), Step::Pay));
    }

    let miner_set: BTreeSet<usize> = miners.iter().copied().collect();
    let mut churners: Vec<usize> = (0..s.nodes).filter(|i| !miner_set.contains(i)).collect();
    plan_rng.shuffle(&mut churners);
    churners.truncate((s.churn * churners.len() as f64).round() as usize);
    for (k, &node) in churners.iter().enumerate() {
        let leave = mining_start.saturating_add(plan_rng.below(span.max(1)));
        let goodbye = plan_rng.chance(0.5);
        plan.push((leave, Step::Leave { node, goodbye }));
        if k % 2 == 0 {
            let away = s.block_interval_ms * (1 + plan_rng.below(4));
            plan.push((
                leave.saturating_add(away).min(mining_end),
                Step::Rejoin(node),
            ));
        }
    }

    let mut sides = vec![false; total];
    if s.partition {
        for (k, &m) in miners.iter().enumerate() {
            sides[m] = k % 2 == 1;
        }
        for (i, side) in sides.iter_mut().enumerate() {
            if !miner_set.contains(&i) {
                *side = plan_rng.chance(0.5);
            }
        }
        plan.push((mining_start.saturating_add(span / 3), Step::Partition));
        plan.push((mining_start.saturating_add(2 * span / 3), Step::Heal));
    }
    // Blocks found close together leave nodes split between tips of equal work (the
    // first seen wins ties), as may a partition. One more block after a quiet spell
    // settles it; two after a partition, whose sides need time to link up again.
    let mut end = mining_end;
    for _ in 0..if s.partition { 2 } else { 1 } {
        end = end.saturating_add(s.block_interval_ms);
        plan.push((end, Step::Mine));
    }
    plan.sort_by_key(|(at, _)| *at);

    let mut txs_submitted = 0;
    for (at, step) in plan {
        sim.run_until(at);
        match step {
            Step::Join(i) => {
                let index = sim.add_node(roles[i]);
                debug_assert_eq!(index, i);
                if miner_set.contains(&i) {
                    sim.set_miner(i);
                }
            }
            Step::Mine => {
                let live: Vec<(usize, f64)> = miners
                    .iter()
                    .zip(&shares)
                    .filter(|(m, _)| sim.is_alive(**m))
                    .map(|(m, w)| (*m, *w))
                    .collect();
                let total_share: f64 = live.iter().map(|(_, w)| w).sum();
                let mut pick = plan_rng.unit() * total_share;
                if let Some(&(miner, _)) = live.iter().find(|(_, w)| {
                    pick -= w;
                    pick < 0.0
                }) {
                    sim.mine(miner)
                        .expect("a template mined on the tip is valid");
                }
            }
            Step::Pay => {
                let mut payers = miners.clone();
                plan_rng.shuffle(&mut payers);
                let to = plan_rng.index(s.nodes);
                payers.retain(|&m| sim.is_alive(m) && m != to);
                if payers
                    .into_iter()
                    .any(|m| sim.pay(m, to, COIN, 10).is_some())
                {
                    txs_submitted += 1;
                }
            }
            Step::Leave { node, goodbye } => {
                if goodbye {
                    sim.leave(node);
                } else {
                    sim.crash(node);
                }
            }
            Step::Rejoin(node) => sim.rejoin(node),
            Step::Partition => {
                let sides = sides.clone();
                sim.partition(move |i| sides.get(i).copied().unwrap_or(false));
            }
            Step::Heal => sim.heal(),
        }
    }
    sim.run_until(end.saturating_add(s.settle_ms));
    report(&sim, s, txs_submitted)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn report(sim: &Sim, s: &Scenario, txs_submitted: usize) -> Report {
    let honest = sim.live_honest();
    let reference = sim.reference();
    let main_chain: Vec<_> = sim
        .blocks
        .iter()
        .filter(|(hash, _)| reference.is_some_and(|r| sim.node(r).ledger().chain().is_active(hash)))
        .collect();

    let mut have = 0usize;
    let mut delays = Vec::new();
    for (hash, record) in &main_chain {
        have += honest
            .iter()
            .filter(|&&i| sim.node(i).ledger().chain().block(hash).is_some())
            .count();
        for &(node, at, _) in &record.arrivals {
            let present = sim.nodes[node].joined_at <= record.mined_at;
            if node != record.miner && present && honest.contains(&node) {
                delays.push(at.since(record.mined_at));
            }
        }
    }
    if std::env::var("TMP_DBG").is_ok() {
        for (hash, record) in &main_chain {
            let mut d: Vec<u64> = record
                .arrivals
                .iter()
                .filter(|a| a.0 != record.miner)
                .map(|a| a.1.since(record.mined_at))
                .collect();
            d.sort();
            eprintln!(
                "{} t={} n={} p50={} p99={} max={}",
                &format!("{hash:?}")[..12],
                record.mined_at.0 % 1000000,
                d.len(),
                d.get(d.len() / 2).copied().unwrap_or(0),
                d.get(d.len() * 99 / 100).copied().unwrap_or(0),
                d.last().copied().unwrap_or(0)
            );
        }
    }
    delays.sort_unstable();
    let slots = main_chain.len() * honest.len();

    let (mut received, mut received_bytes) = (0u64, 0u64);
    for record in sim.blocks.values() {
        for &(node, _, from_peer) in &record.arrivals {
            if from_peer && sim.nodes[node].role == Role::Honest {
                received += 1;
                received_bytes += record.size as u64;
            }
        }
    }
    // A block frame that answered no request was pushed: it announced the block too.
    let pushed = sim
        .stats
        .block_frames
        .saturating_sub(sim.stats.block_requests);
    let announcements = sim.stats.inv_block_items + pushed;

    let mut reasons = BTreeMap::new();
    let mut dropped_adversaries = BTreeSet::new();
    let mut honest_drops = 0;
    let mut honest_reasons = BTreeMap::new();
    for drop in sim.drops() {
        let DropReason::Misbehaved(what) = drop.reason else {
            continue;
        };
        if sim.role(drop.node) != Role::Honest {
            continue;
        }
        if sim.role(drop.peer) == Role::Honest {
            // In full: a wrong drop is a bug to find.
            honest_drops += 1;
            *honest_reasons.entry(format!("{what:?}")).or_insert(0) += 1;
            continue;
        }
        dropped_adversaries.insert(drop.peer);
        let name = format!("{what:?}");
        let name = name.split('(').next().unwrap_or_default().to_owned();
        *reasons.entry(name).or_insert(0) += 1;
    }

    let live = (0..sim.len()).filter(|&i| sim.is_alive(i)).count();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let txs_confirmed = reference.map_or(0, |r| {
        let chain = sim.node(r).ledger().chain();
        sim.txs
            .iter()
            .filter(|tx| {
                let txid = tx.id();
                (1..=chain.height()).any(|h| {
                    chain
                        .hash_at(h)
                        .and_then(|hash| chain.block(&hash))
                        .is_some_and(|b| b.transactions.iter().any(|t| t.id() == txid))
                })
            })
            .count()
    });
    Report {
        seed: s.seed,
        nodes: s.nodes,
        live_nodes: honest.len(),
        adversaries: s.adversaries,
        degree: s.degree,
        mean_links: ratio(2 * sim.links() as u64, live as u64),
        gossip: s.gossip.name(),
        loss: s.loss,
        blocks_mined: sim.blocks.len(),
        main_chain_blocks: main_chain.len(),
        stale_blocks: sim.blocks.len() - main_chain.len(),
        delivered_fraction: if slots == 0 {
            1.0
        } else {
            have as f64 / slots as f64
        },
        converged: sim.converged(),
        propagation_ms_p50: percentile(&delays, 0.50),
        propagation_ms_p99: percentile(&delays, 0.99),
        propagation_ms_max: delays.last().copied().unwrap_or(0),
        block_bytes_per_node_per_block: ratio(sim.stats.block_frame_bytes, received_bytes),
        duplicates_per_node_per_block: ratio(
            sim.stats.block_frames.saturating_sub(received),
            received,
        ),
        announcements_per_node_per_block: ratio(announcements, received),
        frames_per_node: ratio(sim.stats.frames, s.nodes as u64),
        bytes_per_node: ratio(sim.stats.bytes, s.nodes as u64),
        misbehavers_dropped: dropped_adversaries.len(),
        attack: s.attack.map(AdversaryKind::name),
        honest_banned: honest_banned(sim),
        attackers_dropped: dropped_adversaries.len(),
        amplification: ratio(sim.stats.to_attackers, sim.stats.from_attackers),
        max_stored_bytes_ratio: max_stored_bytes_ratio(sim, reference),
        max_difficulty_error: max_difficulty_error(sim, reference),
        adversary_drop_reasons: reasons,
        honest_misbehaviour_drops: honest_drops,
        honest_drop_reasons: honest_reasons,
        signals_via_mesh: sim.stats.signals_mesh,
        signals_via_server: sim.stats.signals_server,
        frames_cut: sim.stats.cut,
        frames_lost: sim.stats.lost,
        txs_submitted,
        txs_confirmed,
        virtual_ms: sim.now().since(sim.config.start),
        violations: sim.check(),
    }
}

/// (Honest node, honest peer) pairs where the node holds a ban on the peer.
fn honest_banned(sim: &Sim) -> usize {
    let honest = |i: usize| sim.role(i) == Role::Honest;
    (0..sim.len())
        .filter(|&i| honest(i) && sim.is_alive(i))
        .map(|i| {
            (sim.node(i).banned())
                .filter(|id| sim.index_of(id).is_some_and(|j| j != i && honest(j)))
                .count()
        })
        .sum()
}

fn block_bytes(block: &tabchain_core::Block) -> u64 {
    crate::message::Message::block_frame(block).len() as u64
}

fn max_stored_bytes_ratio(sim: &Sim, reference: Option<usize>) -> f64 {
    let Some(r) = reference else {
        return 0.0;
    };
    let chain = sim.node(r).ledger().chain();
    let main: u64 = (1..=chain.height())
        .filter_map(|h| chain.block(&chain.hash_at(h)?))
        .map(block_bytes)
        .sum();
    let most = sim
        .live_honest()
        .into_iter()
        .map(|i| sim.held_block_bytes(i))
        .max()
        .unwrap_or(0);
    if main == 0 {
        0.0
    } else {
        most as f64 / main as f64
    }
}

fn max_difficulty_error(sim: &Sim, reference: Option<usize>) -> f64 {
    let Some(r) = reference else {
        return 0.0;
    };
    let chain = sim.node(r).ledger().chain();
    let params = chain.params();
    // (time, difficulty) after genesis, times as the blocks were really mined.
    let mut history: Vec<(Timestamp, u64)> = Vec::new();
    let mut parent = params.initial_difficulty;
    let mut worst: f64 = 0.0;
    for height in 1..=chain.height() {
        let Some(hash) = chain.hash_at(height) else {
            break;
        };
        let Some(block) = chain.block(&hash) else {
            break;
        };
        let expected = tabchain_core::difficulty::next_difficulty(params, parent, &history);
        let actual = block.header.difficulty;
        worst = worst.max((actual as f64 / expected.max(1) as f64 - 1.0).abs());
        let time = sim
            .blocks
            .get(&hash)
            .map_or(block.header.time, |record| record.mined_at);
        history.push((time, actual));
        parent = actual;
    }
    worst
}
