// One tab mines; every tab shows the same height and tip within 2 s of the miner.
//
// Tried: four tabs in their own browser contexts form a mesh; tab1 starts mining, and
// stops as soon as it shows height >= 1 (at the test difficulty it may find a few blocks
// before the click lands). Every tab's block rows are read every 25 ms; for every block
// the miner showed, each other tab must show the same block within 2 s of the miner's
// first showing it, and at the end all tabs show the miner's height and tip, with the
// miner's friendly name in the tip's miner column. A full-page
// screenshot of every tab is saved to e2e/artifacts/.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, log, mineUntil, secs, uniqueRoom, waitForMesh, waitForTip } from './harness.mjs';

const BOUND_MS = 2000;

test('a block mined in one tab reaches every tab within 2 s', { timeout: 120_000 }, async () => {
  const world = await World.start('mine');
  await world.run(async () => {
    const room = uniqueRoom('mine');
    const tabs = await Promise.all([1, 2, 3, 4].map((i) => world.openTab({ room, label: `tab${i}` })));
    await waitForMesh(tabs, { timeout: 60_000 });
    const [miner, ...others] = tabs;
    assert.ok(tabs.every((t) => t.last.height === 0), 'every tab starts at height 0');

    const end = await mineUntil(miner, (s) => s.height >= 1);
    log(`${miner.label} mined ${end.height} block(s); tip ${end.tip}`);
    await waitForTip(tabs, end.tip, { height: end.height, timeout: 30_000 });

    const mined = end.blocks.filter((b) => b.height >= 1);
    assert.equal(mined.length, end.height, 'the miner lists every block it mined');
    let worst = 0;
    for (const block of mined) {
      const shown = miner.firstSeen.get(`block:${block.hash}`);
      for (const tab of others) {
        const delay = tab.firstSeen.get(`block:${block.hash}`) - shown;
        worst = Math.max(worst, delay);
        log(`block ${block.height} ${block.hash.slice(0, 12)} shown by ${tab.label} ${secs(delay)} after the miner`);
        assert.ok(delay <= BOUND_MS, `${tab.label} showed block ${block.height} ${secs(delay)} after the miner (bound ${secs(BOUND_MS)})`);
      }
    }
    const tipDelays = others.map((t) => t.firstSeen.get(`tip:${end.tip}`) - miner.firstSeen.get(`tip:${end.tip}`));
    log(`tip at height ${end.height}: other tabs showed it ${tipDelays.map(secs).join(', ')} after the miner; worst block ${secs(worst)}`);
    for (const tab of tabs) {
      assert.equal(tab.last.height, end.height, `${tab.label} height`);
      assert.equal(tab.last.tip, end.tip, `${tab.label} tip`);
    }
    // The miner's blocks are "you" in its own chain table, and go by its friendly name
    // (the one in the peers panel) in the others': it proved its wallet address in the
    // handshake.
    assert.equal(miner.last.blocks[0].miner, 'you');
    for (const tab of others) {
      const name = tab.last.peers.find((p) => p.id === miner.nodeId).name;
      assert.equal(tab.last.blocks[0].miner, name, `${tab.label} names the miner`);
    }
    const files = await world.screenshots('end');
    log(`screenshots: ${files.join(', ')}`);
  });
});
