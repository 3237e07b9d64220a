// The room map: with each tab keeping three links (`?links=3`, four at most), six tabs
// cannot all be linked to each other, and each tab's map shows the nodes it reaches only through its
// peers, from the lists of links those peers send.
//
// Tried: six tabs in their own browser contexts join one room with `links=3`. Every tab
// must end with fewer than five links of its own, a map node for itself and each peer,
// and at least one node two hops away; and some tab must see all six.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, nodeIds, uniqueRoom, waitFor } from './harness.mjs';

// The map and the peers panel in one read, so both come from the same view: links
// change as tabs trim to `links=3`.
function roomMap(tab) {
  return tab.page.evaluate(() => ({
    nodes: [...document.querySelectorAll('[data-testid="room-map"] [data-testid="map-node"]')].map((el) => ({
      id: el.dataset.peerId,
      hops: Number(el.dataset.hops),
    })),
    peers: [...document.querySelectorAll('[data-testid="peer-row"]')].map((row) => ({
      id: row.dataset.peerId,
      state: row.dataset.state,
    })),
  }));
}

test('the room map of six tabs with three or four links each shows nodes two hops away', { timeout: 150_000 }, async () => {
  const world = await World.start('room-map');
  await world.run(async () => {
    const room = uniqueRoom('map');
    const tabs = [];
    for (let i = 1; i <= 6; i++) tabs.push(await world.openTab({ room, label: `tab${i}`, params: { links: 3 } }));
    const ids = await nodeIds(tabs);
    const everyone = new Set(ids);

    const { value: maps } = await waitFor(
      async () => {
        const maps = await Promise.all(tabs.map(roomMap));
        const ok = tabs.every((tab, i) => {
          const linked = maps[i].peers.filter((p) => p.state === 'connected').length;
          const map = maps[i].nodes;
          return (
            linked >= 1 &&
            linked < 5 &&
            map.some((n) => n.hops === 0 && n.id === tab.nodeId) &&
            map.some((n) => n.hops === 2)
          );
        });
        return ok && maps.some((map) => map.nodes.length === 6) ? maps : null;
      },
      { timeout: 60_000, what: 'every map to reach two hops', explain: () => describeTabs(tabs) },
    );
    maps.forEach(({ nodes: map, peers }, i) => {
      const tab = tabs[i];
      const direct = new Set(peers.filter((p) => p.state === 'connected').map((p) => p.id));
      const listed = new Set(peers.filter((p) => p.state !== 'dropped').map((p) => p.id));
      for (const node of map) {
        assert.ok(everyone.has(node.id), `${tab.label} maps only real tabs`);
        if (node.hops === 1) assert.ok(listed.has(node.id), `${tab.label}: a hop-1 node is a peer`);
        if (node.hops === 2) assert.ok(!direct.has(node.id), `${tab.label}: a hop-2 node is not linked directly`);
      }
      assert.equal(new Set(map.map((n) => n.id)).size, map.length, 'one node per id');
    });
    await world.screenshots('done');
  });
});
