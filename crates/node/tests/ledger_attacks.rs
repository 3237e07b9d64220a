//! The ledger attacks of issue 10 (finding 2), performed by simulated attackers:
//! side branches mined cheaply off genesis, and timestamps stamped late then early.
//! The figures before the fixes are in the comments.

use tabchain_node::sim::{run, AdversaryKind, Role, Scenario, Sim, SimConfig};

#[test]
fn junk_branches_are_not_stored() {
    // Tried: two-block branches of valid 48 KB blocks off genesis, four a second, each
    // block at the low difficulty its place allows. Every honest node stored every one
    // (and would reload them all): 27 times the main chain's bytes here, 36 with
    // `sim --nodes 12 --degree 6 --blocks 30 --adversaries 2 --attack junk-branches`.
    let report = run(&Scenario {
        seed: 7,
        nodes: 12,
        degree: 6,
        blocks: 30,
        txs: 4,
        adversaries: 2,
        attack: Some(AdversaryKind::JunkBranches),
        ..Scenario::default()
    });
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.honest_banned, 0, "{report:#?}");
    assert!(report.max_stored_bytes_ratio < 2.0, "{report:#?}");
}

#[test]
fn a_timewarp_does_not_walk_the_difficulty_down() {
    // Tried: after every honest block the attacker mines one stamped as late as a valid
    // block may be, so the next honest block looks early. With negative solve times
    // clamped to zero each pair counted six targets for two real ones: blocks came at
    // twice the target rate, yet the difficulty fell from 1000 to the minimum of 1.
    let mut config = SimConfig::new(7, 10_000);
    config.params.initial_difficulty = 1_000;
    let mut sim = Sim::new(config);
    for _ in 0..5 {
        sim.add_node(Role::Honest);
    }
    sim.add_node(Role::Adversary(AdversaryKind::Timewarp));
    sim.run_for(3_000);
    for _ in 0..60 {
        sim.run_for(10_000);
        sim.mine(0).expect("a template on the tip is valid");
    }
    sim.run_for(5_000);
    assert!(sim.converged());
    let chain = sim.node(0).ledger().chain();
    assert!(chain.height() > 100, "the attacker mined after each block");
    // Blocks at twice the target rate: an honest retarget raises the difficulty.
    let difficulty = chain.tip_header().difficulty;
    assert!(difficulty >= 1_000, "difficulty {difficulty}");
}
