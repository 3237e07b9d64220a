// The gossip trail: how one block spread, told by each tab from its own side. The tab
// that mined it says so, told its peers, and saw them fetch it; a tab that got it says
// who announced it and whom it fetched it from, with the bytes.
//
// Tried: three tabs mesh; A mines until it has a block, and every tab's gossip trail
// (which shows the tip's when no block is open) is read once all show A's tip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, mineUntil, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';

function trail(tab) {
  return tab.page.evaluate(() => {
    const head = document.querySelector('[data-testid="gossip-trail"]');
    return {
      hash: head?.dataset.hash ?? null,
      bytesIn: Number(head?.dataset.bytesIn ?? 0),
      bytesOut: Number(head?.dataset.bytesOut ?? 0),
      steps: [...document.querySelectorAll('[data-testid="trail-step"]')].map((el) => ({
        kind: el.dataset.kind,
        peer: el.dataset.peerId,
        text: el.textContent.trim(),
      })),
    };
  });
}

test("each tab tells the tip's gossip trail: who announced it, whom it came from, who fetched it", { timeout: 120_000 }, async () => {
  const world = await World.start('gossip-trail');
  await world.run(async () => {
    const room = uniqueRoom('trail');
    const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((label) => world.openTab({ room, label })));
    await waitForMesh([a, b, c]);
    const end = await mineUntil(a, (s) => s.height >= 1);
    await waitForTip([a, b, c], end.tip, { height: end.height });

    // The miner: it mined it, told both peers, and at least one fetched it from here.
    const { value: mined } = await waitFor(
      async () => {
        const t = await trail(a);
        return t.hash === end.tip && t.steps.some((s) => s.kind === 'served') ? t : null;
      },
      { what: "A's trail of its block", explain: () => describeTabs([a, b, c]) },
    );
    assert.equal(mined.steps[0].kind, 'arrived');
    assert.match(mined.steps[0].text, /This tab mined it/);
    assert.match(mined.steps.find((s) => s.kind === 'told').text, /told 2 peers/);
    for (const s of mined.steps.filter((s) => s.kind === 'served')) {
      assert.ok([b.nodeId, c.nodeId].includes(s.peer), 'fetched by a peer');
    }
    assert.ok(mined.bytesOut > 0, 'bytes out');

    // The others: heard of it from a peer, then fetched it from one that announced it.
    for (const tab of [b, c]) {
      const t = await trail(tab);
      assert.equal(t.hash, end.tip, `${tab.label} shows the tip's trail`);
      const heard = t.steps.filter((s) => s.kind === 'announced');
      const arrived = t.steps.find((s) => s.kind === 'arrived');
      assert.ok(heard.length >= 1, `${tab.label} heard it announced: ${JSON.stringify(t.steps)}`);
      assert.match(heard[0].text, /said it has this block/);
      assert.ok(arrived && heard.some((s) => s.peer === arrived.peer), `${tab.label} fetched it from an announcer`);
      assert.ok(t.steps.indexOf(arrived) > t.steps.indexOf(heard[0]), 'announced, then fetched');
      assert.ok(t.bytesIn > 0, `${tab.label} counted the bytes in`);
    }
  });
});
