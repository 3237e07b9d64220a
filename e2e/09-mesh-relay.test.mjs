// A tab links to a peer it only heard of through the mesh: the WebRTC offer, answer and
// candidates travel through a peer both are linked to (Node::send_signal / Relay).
//
// Tried: tabs A and B share signaling server 1; tab C uses a second signaling server
// (`?signal=`) and shares B's browser profile, so B and C meet over BroadcastChannel. A
// shares no server and no BroadcastChannel with C: it can only learn of C from B's peer
// list and reach it by relaying signals through B. A must show C connected, and a block
// C mines must reach A.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  World,
  describeTabs,
  log,
  mineUntil,
  nodeIds,
  secs,
  startSignal,
  uniqueRoom,
  waitFor,
  waitForTip,
} from './harness.mjs';

test('a tab links to a peer it only heard of through the mesh', { timeout: 120_000 }, async () => {
  const world = await World.start('relay');
  await world.run(async () => {
    const second = await world.addServer(await startSignal({ name: 'signal2' }));
    const room = uniqueRoom('relay');
    const a = await world.openTab({ room, label: 'A' });
    const shared = await world.newContext();
    const b = await world.openTab({ room, context: shared, label: 'B' });
    const c = await world.openTab({
      room,
      context: shared,
      label: 'C',
      signal: `ws://127.0.0.1:${second.port}/ws`,
    });
    const [idA, idB, idC] = await nodeIds([a, b, c]);

    const linked = await waitFor(() => a.hasPeer(idC, 'connected') && c.hasPeer(idA, 'connected'), {
      timeout: 30_000,
      what: 'A and C linked through B',
      explain: () => describeTabs([a, b, c]),
    });
    log(`A and C linked through B ${secs(linked.elapsed)} after the wait began`);
    assert.ok(a.hasPeer(idB, 'connected'), 'A keeps its link to B');
    assert.ok(c.hasPeer(idB, 'connected'), 'C keeps its link to B');

    const s = await mineUntil(c, (x) => x.height >= 1);
    await waitForTip([a, b, c], s.tip, { height: s.height });
  });
});
