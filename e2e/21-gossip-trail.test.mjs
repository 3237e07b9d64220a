// The gossip trail: how one block spread, told by each tab from its own side. The tab
// that mined it says so and pushed it to every peer at once (nobody else can have a
// block just mined); a tab that got it says whom it came from, unasked, with the bytes,
// and a copy from the other peer is an ignored duplicate. Usually both others have it
// from the miner, but the tab that gets it first pushes it on at once, and on a busy
// machine that copy can beat the miner's own to the third tab: then the third tab's
// trail names the relaying tab, and the relaying tab's names the miner.
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

test("each tab tells the tip's gossip trail: the miner pushed it, the others had it pushed from the miner or the tab that had it first", { timeout: 120_000 }, async () => {
  const world = await World.start('gossip-trail');
  await world.run(async () => {
    const room = uniqueRoom('trail');
    const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((label) => world.openTab({ room, label })));
    await waitForMesh([a, b, c]);
    const end = await mineUntil(a, (s) => s.height >= 1);
    await waitForTip([a, b, c], end.tip, { height: end.height });

    // The miner: it mined it and pushed it to both peers.
    const { value: mined } = await waitFor(
      async () => {
        const t = await trail(a);
        return t.hash === end.tip && t.steps.some((s) => s.kind === 'pushed') ? t : null;
      },
      { what: "A's trail of its block", explain: () => describeTabs([a, b, c]) },
    );
    assert.equal(mined.steps[0].kind, 'arrived');
    assert.match(mined.steps[0].text, /This tab mined it/);
    assert.match(mined.steps.find((s) => s.kind === 'pushed').text, /pushed it at once to 2 peers/);
    assert.ok(mined.bytesOut > 0, 'bytes out');

    // The others: it came unasked, with its bytes, from A or from the tab that had it
    // first; and that tab had it from A.
    const from = new Map();
    for (const [tab, other] of [[b, c], [c, b]]) {
      const t = await trail(tab);
      assert.equal(t.hash, end.tip, `${tab.label} shows the tip's trail`);
      const arrived = t.steps.find((s) => s.kind === 'arrived');
      assert.ok(arrived, `${tab.label} has the block: ${JSON.stringify(t.steps)}`);
      assert.ok(
        [a.nodeId, other.nodeId].includes(arrived.peer),
        `${tab.label} had it from the miner or from ${other.label}: ${JSON.stringify(t.steps)}`,
      );
      from.set(tab, arrived.peer);
      assert.match(arrived.text, /pushed the block to this tab without being asked/);
      assert.ok(t.bytesIn > 0, `${tab.label} counted the bytes in`);
      for (const s of t.steps.filter((s) => s.kind === 'ignored')) {
        assert.ok(t.steps.indexOf(s) > t.steps.indexOf(arrived), 'a copy after the block is a duplicate');
      }
    }
    assert.ok(
      from.get(b) === a.nodeId || from.get(c) === a.nodeId,
      'whichever of B and C had it first had it from the miner',
    );
  });
});
