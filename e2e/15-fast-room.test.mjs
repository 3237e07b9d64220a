// A fast room for a demo: `?block_time=1` is a rule of the room. Tabs with another pace
// never link with it; three tabs mining in it together make a couple of hundred blocks
// (forks and all, at one block a second) and end on the same chain.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { World, describeTabs, log, secs, uniqueRoom, waitFor, waitForMesh } from './harness.mjs';

const BLOCKS = 200;

test(`three tabs mining at block_time=1 make ${BLOCKS} blocks and agree; another pace never links`, { timeout: 600_000 }, async () => {
  const world = await World.start('fast-room');
  await world.run(async () => {
    const room = uniqueRoom('fast');
    const open = (label, blockTime) =>
      world.openTab({ room, label, difficulty: 200_000, params: { block_time: blockTime } });
    const miners = [await open('m1', 1), await open('m2', 1), await open('m3', 1)];
    // Tried: a tab of the same room at the default pace.
    const slow = await open('slow', 10);
    await waitForMesh(miners);
    for (const tab of miners) {
      const pace = await tab.page.locator('[data-testid="block-time"]').getAttribute('data-ms');
      assert.equal(pace, '1000', `${tab.label} shows the room's block time`);
    }

    const started = Date.now();
    for (const tab of miners) await tab.setMining(true);
    await waitFor(() => miners.every((t) => t.last.height >= BLOCKS), {
      timeout: 480_000,
      interval: 500,
      what: `every miner at height ${BLOCKS}`,
      explain: () => describeTabs(miners),
    });
    const took = Date.now() - started;
    for (const tab of miners) await tab.setMining(false);
    log(`${BLOCKS} blocks in ${secs(took)} (${(took / BLOCKS / 1000).toFixed(2)} s a block on average)`);

    // Blocks found just before the stop still travel: wait for one tip everywhere.
    await waitFor(() => new Set(miners.map((t) => t.last.tip)).size === 1, {
      timeout: 30_000,
      what: 'every miner on the same tip',
      explain: () => describeTabs(miners),
    });
    await sleep(1_000);
    const tips = new Set(miners.map((t) => `${t.last.height}/${t.last.tip}`));
    assert.equal(tips.size, 1, `one chain: ${[...tips].join(', ')}`);
    // It meets them on the signaling server (same room name), but the handshake finds
    // another genesis: no link ever comes up.
    const linked = [...slow.firstSeen.keys()].filter((k) => k.startsWith('peer:') && k.endsWith(':connected'));
    assert.deepEqual(linked, [], 'the tab at another pace never linked');
    for (const tab of miners) assert.ok(!tab.firstSeen.has(`peer:${slow.nodeId}:connected`));
    assert.equal(slow.last.height, 0);
  });
});
