// Runs the simulator once per gossip strategy and condition, and prints the README's
// table of them (markdown). Run by hand, after `cargo build --release --bin sim`:
//
//     node scripts/gossip-table.mjs                      # 1000 nodes, seed 11
//     NODES=300 SEED=1 node scripts/gossip-table.mjs
//     SIM=/path/to/sim node scripts/gossip-table.mjs     # another build of it
//
// Each run is deterministic for its seed; the wall time is this machine's.

import { execFileSync } from 'node:child_process';

const nodes = process.env.NODES ?? '1000';
const seed = process.env.SEED ?? '11';
const sim = process.env.SIM ?? 'target/release/sim';
const strategies = ['flood', 'pull', 'push-k', 'infect', 'hybrid'];
const conditions = [
  ['no loss', []],
  ['10% loss', ['--loss', '0.1']],
  ['20% churn', ['--churn', '0.2']],
];

const rows = [];
for (const [condition, flags] of conditions) {
  for (const gossip of strategies) {
    const args = ['--nodes', nodes, '--degree', '8', '--seed', seed, '--gossip', gossip, '--json', ...flags];
    let out;
    try {
      out = execFileSync(sim, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    } catch (err) {
      // A run that broke an invariant (say, nodes left behind) still prints its report.
      out = err.stdout;
    }
    const r = JSON.parse(out);
    rows.push(
      `| ${gossip} | ${condition} | ${r.propagation_ms_p50} / ${r.propagation_ms_p99} ms | ` +
        `${r.block_bytes_per_node_per_block.toFixed(2)} | ${r.duplicates_per_node_per_block.toFixed(2)} | ` +
        `${r.delivered_fraction.toFixed(3)} | ${r.stale_blocks} | ${(r.wall_ms / 1000).toFixed(1)} s |`,
    );
    console.error(rows.at(-1));
  }
}
console.log(`${nodes} nodes, degree 8, seed ${seed}:\n`);
console.log('| gossip | condition | propagation p50 / p99 | block bytes per node per block | duplicates per node per block | delivered | stale blocks | wall time |');
console.log('|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
