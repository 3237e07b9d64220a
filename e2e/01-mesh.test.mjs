// Four tabs in one room: each shows the other three as connected peers within 5 s.
//
// Tried: four tabs, each in its own browser context (so they can only meet through the
// signaling server, not over BroadcastChannel), opened at the same time. The bound is
// measured per tab from the moment the last of the four pages fired `load` (a tab cannot
// list a peer whose page has not loaded) to the first snapshot that lists all three
// others as `connected`; the time from the tab's own navigation start is reported too.
// Every link then shows its path as `local`: all four tabs are on this machine.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, log, secs, uniqueRoom, waitFor, describeTabs, waitForMesh } from './harness.mjs';

const BOUND_MS = 5000;

test('four tabs in one room each show three connected peers within 5 s of page load', { timeout: 120_000 }, async () => {
  const world = await World.start('mesh');
  await world.run(async () => {
    const room = uniqueRoom('mesh');
    const tabs = await Promise.all([1, 2, 3, 4].map((i) => world.openTab({ room, label: `tab${i}` })));
    const lastLoad = Math.max(...tabs.map((t) => t.loadedAt));
    const { at } = await waitForMesh(tabs, { timeout: 60_000 });

    const ids = tabs.map((t) => t.nodeId);
    assert.equal(new Set(ids).size, 4, 'four distinct node ids');
    for (const [i, tab] of tabs.entries()) {
      const others = ids.filter((id) => id !== tab.nodeId);
      const live = tab.peers().filter((p) => p.state !== 'dropped');
      assert.deepEqual(
        new Set(live.map((p) => p.id)),
        new Set(others),
        `${tab.label} lists exactly the three other tabs`,
      );
      const sinceLastLoad = at[i] - lastLoad;
      log(
        `${tab.label}: three peers connected ${secs(sinceLastLoad)} after the last page load, ` +
          `${secs(at[i] - tab.loadedAt)} after its own load, ${secs(at[i] - tab.navStart)} after navigation start; ` +
          `rtt ${live.map((p) => p.rtt).join(', ')}`,
      );
      assert.ok(
        sinceLastLoad <= BOUND_MS,
        `${tab.label} took ${secs(sinceLastLoad)} (bound ${secs(BOUND_MS)}) to show three connected peers`,
      );
    }
    // The path comes from getStats() after the channel opens (and every 2 s after).
    await waitFor(
      () => tabs.every((tab) => tab.peers().filter((p) => p.state === 'connected').every((p) => p.path === 'local')),
      { timeout: 5000, what: 'every link to show the path local', explain: () => describeTabs(tabs) },
    );
  });
});
