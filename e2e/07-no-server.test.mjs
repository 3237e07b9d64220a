// Without a signaling server, tabs of one browser profile meet over BroadcastChannel.
//
// Tried: dist/ is served by a plain static file server (no /ws endpoint). Two tabs of one
// browser context must each show the other as its one connected peer, and a block mined
// in one must show up in the other. signal-status must read `none`: there is no server,
// and the page turns to Nostr relays (the default public ones, out of reach here).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, log, mineUntil, secs, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';

test('two tabs of one profile link over BroadcastChannel without a server', { timeout: 120_000 }, async () => {
  const world = await World.start('noserver', { server: 'static' });
  await world.run(async () => {
    const room = uniqueRoom('noserver');
    const context = await world.newContext();
    const t1 = await world.openTab({ room, context, label: 'tab1' });
    const t2 = await world.openTab({ room, context, label: 'tab2' });
    const mesh = await waitForMesh([t1, t2]);
    log(`linked without a server: ${mesh.at.map((at, i) => secs(at - [t1, t2][i].loadedAt)).join(', ')} after each tab's load`);
    for (const tab of [t1, t2]) {
      assert.equal(tab.peers('connected').length, 1, `${tab.label} shows one connected peer`);
    }
    await waitFor(() => [t1, t2].every((t) => t.firstSeen.has('signal:none')), {
      timeout: 30_000,
      what: 'signal-status none (there is no /ws)',
      explain: () => describeTabs([t1, t2]),
    });

    for (const tab of [t1, t2]) {
      assert.ok(!tab.firstSeen.has('signal:connected'), `${tab.label} never shows the server connected`);
      const relays = tab.last.relays;
      assert.ok(relays.length > 0 && relays.every((r) => r.url.startsWith('wss://')), `${tab.label} lists the default public relays: ${JSON.stringify(relays)}`);
    }

    const s = await mineUntil(t1, (x) => x.height >= 1);
    await waitForTip([t1, t2], s.tip, { height: s.height });
    log(`tab2 showed tab1's tip (height ${s.height}) ${secs(t2.firstSeen.get(`tip:${s.tip}`) - t1.firstSeen.get(`tip:${s.tip}`))} after tab1`);
  });
});
