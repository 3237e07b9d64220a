// The fork tree: two tabs mine apart, then meet; the one whose branch loses shows its
// own blocks beside the main chain, the reorg that undid them, and the other tab's tip.
//
// Tried: B opens first, in its own browser profile, with a signaling server that does not
// exist (`?signal=` to a closed port), so it meets nobody, and mines a block or two. A opens
// in the same room with the real server and mines two more blocks than B has. B then
// reloads with the real server: it loads its own blocks from IndexedDB, links to A, fetches
// A's longer chain and switches to it. No hook holds anything back: the two tabs simply
// could not reach each other.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, freePort, mineUntil, tabUrl, uniqueRoom, waitFor, waitForTip } from './harness.mjs';

// A block takes a worker about a third of a second: few blocks, so both branches stay in view.
const DIFFICULTY = 2_000_000;

/** The fork tree as the page draws it. */
function forkTree(tab) {
  return tab.page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="fork-tree"] [data-testid="fork-block"]')].map((el) => ({
      hash: el.dataset.hash,
      height: Number(el.dataset.height),
      main: el.dataset.main,
      tips: [...el.querySelectorAll('[data-testid="peer-tip"]')].map((t) => t.dataset.peerId),
    })),
  );
}

test('two tabs that mined apart meet, and the fork tree shows the stale branch and the reorg', { timeout: 180_000 }, async () => {
  const world = await World.start('fork-tree');
  await world.run(async () => {
    const room = uniqueRoom('fork');
    const nowhere = `ws://127.0.0.1:${await freePort()}/ws`;
    const b = await world.openTab({ room, label: 'B', difficulty: DIFFICULTY, signal: nowhere });
    const bAlone = await mineUntil(b, (s) => s.height >= 1);
    const lost = bAlone.blocks.filter((row) => row.height >= 1).map((row) => row.hash);
    assert.equal(bAlone.peers.length, 0, 'B met nobody');

    const a = await world.openTab({ room, label: 'A', difficulty: DIFFICULTY });
    const aEnd = await mineUntil(a, (s) => s.height >= bAlone.height + 2);
    assert.ok(!aEnd.blocks.some((row) => lost.includes(row.hash)), 'A never saw B\'s blocks');

    await b.goto(tabUrl(world.origin, { room, difficulty: DIFFICULTY }));
    await waitForTip([b], aEnd.tip, { height: aEnd.height, timeout: 60_000 });

    // B's tree: its own blocks off the main chain, A's blocks on it, A's tip flagged.
    const { value: tree } = await waitFor(
      async () => {
        const tree = await forkTree(b);
        const tip = tree.find((blk) => blk.hash === aEnd.tip);
        return tip?.tips.includes(a.nodeId) ? tree : null;
      },
      { timeout: 15_000, what: "A's tip flagged in B's fork tree", explain: () => describeTabs([a, b]) },
    );
    for (const hash of lost) {
      const block = tree.find((blk) => blk.hash === hash);
      assert.ok(block, `B still shows its block ${hash.slice(0, 12)}`);
      assert.equal(block.main, 'false', 'on a side branch');
    }
    for (const row of aEnd.blocks.filter((r) => r.height >= 1)) {
      assert.equal(tree.find((blk) => blk.hash === row.hash)?.main, 'true', `A's block ${row.height} is B's main chain`);
    }
    const reorg = b.page.locator('[data-testid="fork-tree"] [data-testid="reorg"]');
    assert.equal(await reorg.count(), 1, 'one reorg logged');
    assert.equal(Number(await reorg.getAttribute('data-depth')), lost.length, 'as deep as B\'s own branch');
    assert.equal(Number(await reorg.getAttribute('data-fork-height')), 0, 'the branches share only genesis');

    // A's tree: B's tip is A's tip, since B fetched it; B's blocks never reached A.
    await waitFor(
      async () => (await forkTree(a)).find((blk) => blk.hash === aEnd.tip)?.tips.includes(b.nodeId),
      { timeout: 15_000, what: "B's tip flagged in A's fork tree" },
    );
    assert.equal(await a.page.locator('[data-testid="reorg"]').count(), 0, 'A never switched');
    await world.screenshots('done');
  });
});
