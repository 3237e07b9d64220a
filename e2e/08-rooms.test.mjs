// Rooms are separate networks on one server.
//
// Tried: room A has tabs A1 and A2, room B has B1 and B2. A1 and B1 have their own
// contexts; A2 and B2 share one context, so the rooms also share a BroadcastChannel
// origin there. Every snapshot of every tab is checked: no A tab ever lists a B node id
// and the other way round. A block mined in A reaches A2 and leaves B at height 0.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, log, mineUntil, settle, uniqueRoom, waitForMesh, waitForTip } from './harness.mjs';

test('tabs of two rooms on one server never see each other', { timeout: 120_000 }, async () => {
  const world = await World.start('rooms');
  await world.run(async () => {
    const roomA = uniqueRoom('roomA');
    const roomB = uniqueRoom('roomB');
    const shared = await world.newContext();
    const [a1, b1, a2, b2] = await Promise.all([
      world.openTab({ room: roomA, label: 'A1' }),
      world.openTab({ room: roomB, label: 'B1' }),
      world.openTab({ room: roomA, label: 'A2', context: shared }),
      world.openTab({ room: roomB, label: 'B2', context: shared }),
    ]);
    await Promise.all([waitForMesh([a1, a2]), waitForMesh([b1, b2])]);

    const s = await mineUntil(a1, (x) => x.height >= 1);
    await waitForTip([a1, a2], s.tip, { height: s.height });
    await new Promise((r) => setTimeout(r, 2000));
    await settle(b1);

    const idsA = new Set([a1.nodeId, a2.nodeId]);
    const idsB = new Set([b1.nodeId, b2.nodeId]);
    for (const tab of [a1, a2, b1, b2]) {
      const foreign = idsA.has(tab.nodeId) ? idsB : idsA;
      const seen = [...tab.peersEver];
      log(`${tab.label} (${tab.nodeId.slice(0, 8)}) listed peers ever: ${seen.map((id) => id.slice(0, 8)).join(', ')}`);
      assert.ok(!seen.some((id) => foreign.has(id)), `${tab.label} never lists a peer of the other room`);
      assert.equal(seen.length, 1, `${tab.label} only ever lists the other tab of its room`);
    }
    for (const tab of [b1, b2]) {
      assert.equal(tab.last.height, 0, `${tab.label} stays at height 0`);
      assert.ok(!tab.firstSeen.has('height:1'), `${tab.label} never showed height 1`);
      assert.ok(!tab.firstSeen.has(`block:${s.tip}`), `${tab.label} never showed room A's block`);
    }
    log(`room A reached height ${s.height}; room B stayed at 0`);
  });
});
