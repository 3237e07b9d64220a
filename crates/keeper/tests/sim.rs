//! The keeper's node in the simulator's network model: the configuration the keeper
//! runs ([`Config::keeper`]), its handshake roles, and its stored blocks across a crash,
//! among simulated tabs that come and go.

use tabchain_core::Hash;
use tabchain_node::sim::{Role, Sim, SimConfig};
use tabchain_node::Roles;

fn mine_blocks(sim: &mut Sim, miner: usize, count: usize) -> Hash {
    sim.set_miner(miner);
    for _ in 0..count {
        sim.mine(miner).expect("the miner has a template");
        sim.run_for(300);
    }
    sim.run_for(2_000);
    sim.node(miner).tip()
}

#[test]
fn a_kept_room_outlives_its_tabs_and_a_keeper_crash() {
    let mut sim = Sim::new(SimConfig::new(11, 10_000));
    let keeper = sim.add_keeper();
    let keeper_id = sim.node(keeper).id();
    let tabs: Vec<usize> = (0..3).map(|_| sim.add_node(Role::Honest)).collect();
    sim.run_for(3_000);
    let tip = mine_blocks(&mut sim, tabs[0], 10);
    assert_eq!(sim.node(keeper).tip(), tip, "the keeper follows the room");
    assert_eq!(sim.node(keeper).height(), 10);
    let seen = sim
        .node(tabs[1])
        .peer(&keeper_id)
        .expect("tabs link to the keeper");
    assert!(seen.roles().has(Roles::KEEPER) && seen.roles().has(Roles::FULL));
    assert!(!seen.roles().has(Roles::MINER), "this keeper does not mine");

    // Every tab closes; a tab that comes later has nobody but the keeper.
    for &tab in &tabs {
        sim.leave(tab);
    }
    sim.run_for(6_000);
    let fresh = sim.add_node(Role::Honest);
    sim.run_for(5_000);
    assert_eq!(sim.node(fresh).tip(), tip, "the keeper hands the chain on");
    sim.leave(fresh);

    // The keeper dies without a word and comes back from what it stored.
    sim.crash(keeper);
    sim.run_for(6_000);
    sim.rejoin(keeper);
    assert_eq!(sim.node(keeper).id(), keeper_id);
    assert_eq!(
        sim.node(keeper).tip(),
        tip,
        "the keeper reloads every stored block"
    );
    let later = sim.add_node(Role::Honest);
    sim.run_for(5_000);
    assert_eq!(sim.node(later).tip(), tip);
}
