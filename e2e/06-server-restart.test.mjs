// The mesh outlives the signaling server, and heals when it comes back.
//
// Tried: three tabs in their own contexts mesh through the server; the server gets
// SIGTERM. tab1 then mines; the block must reach the other two over the existing WebRTC
// links, and every tab's signal-status must go `offline`. The server is started again on
// the same port: the three tabs must show `connected` again, and a new tab in its own
// context (so only the server can introduce it) must link up with them and sync to the
// tip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, log, mineUntil, secs, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';

test('the mesh relays blocks without the server and rejoins it after a restart', { timeout: 240_000 }, async () => {
  const world = await World.start('restart');
  await world.run(async () => {
    const room = uniqueRoom('restart');
    const tabs = await Promise.all([1, 2, 3].map((i) => world.openTab({ room, label: `tab${i}` })));
    await waitForMesh(tabs);
    assert.ok(tabs.every((t) => t.last.signal === 'connected'), 'every tab is connected to the server');

    // While it retries, a tab may show `connecting` between `offline` spells: what counts
    // is that each tab shows `offline` at some point after the stop.
    for (const tab of tabs) tab.firstSeen.delete('signal:offline');
    const stoppedAt = Date.now();
    await world.server.stop();
    const [miner] = tabs;
    const s = await mineUntil(miner, (x) => x.height >= 1);
    const relayed = await waitForTip(tabs, s.tip, { height: s.height });
    log(
      `without the server, block ${s.height} reached every tab; delays after the miner: ` +
        tabs
          .slice(1)
          .map((t) => secs(t.firstSeen.get(`tip:${s.tip}`) - miner.firstSeen.get(`tip:${s.tip}`)))
          .join(', '),
    );
    assert.ok(relayed);
    await waitFor(() => tabs.every((t) => t.firstSeen.has('signal:offline')), {
      timeout: 30_000,
      what: 'every tab to show signal-status offline',
      explain: () => describeTabs(tabs),
    });
    log(`signal-status offline after ${tabs.map((t) => secs(t.firstSeen.get('signal:offline') - stoppedAt)).join(', ')}`);
    for (const tab of tabs) {
      assert.equal(tab.peers('connected').length, 2, `${tab.label} keeps its two links without the server`);
    }

    const restartedAt = Date.now();
    await world.server.start();
    for (const tab of tabs) tab.firstSeen.delete('signal:connected');
    const back = await waitFor(() => tabs.every((t) => t.last.signal === 'connected'), {
      timeout: 30_000,
      what: 'every tab to show signal-status connected after the restart',
      explain: () => describeTabs(tabs),
    });
    log(
      `server restarted on port ${world.server.port}; tabs connected again after ` +
        tabs.map((t) => secs(t.firstSeen.get('signal:connected') - restartedAt)).join(', ') +
        ` (all by ${secs(back.elapsed)})`,
    );

    const late = await world.openTab({ room, label: 'tab4' });
    const mesh = await waitForMesh([...tabs, late], { timeout: 60_000 });
    const synced = await waitForTip([late], s.tip, { height: s.height });
    log(`the new tab linked with all three ${secs(mesh.at[3] - late.loadedAt)} after its load and synced to height ${s.height} (${secs(synced.elapsed)} after that)`);
  });
});
