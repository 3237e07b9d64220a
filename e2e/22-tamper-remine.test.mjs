// The tamper lab's re-mining: the workers redo one block's work on the altered copy, which
// then has a valid hash and merkle root. Offered, it costs this tab nothing: the peer keeps
// it as a side branch, behind the longer chain it does not beat, and the offering tab's
// own chain never holds it.
//
// Tried: A and B mesh; A mines two blocks; in A's lab the tip's coinbase pays 1 coin;
// `Re-mine it in the workers` runs until the workers find a nonce; `Offer it to peers`
// then predicts no penalty, and B's fork tree shows the copy off its main chain while
// B stays linked to A.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, mineUntil, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';

const DIFFICULTY = 2_000_000;

test('a re-mined tampered block is valid but loses: the peer keeps it on a side branch', { timeout: 150_000 }, async () => {
  const world = await World.start('tamper-remine');
  await world.run(async () => {
    const room = uniqueRoom('remine');
    const a = await world.openTab({ room, label: 'A', difficulty: DIFFICULTY });
    const b = await world.openTab({ room, label: 'B', difficulty: DIFFICULTY });
    await waitForMesh([a, b]);
    const end = await mineUntil(a, (s) => s.height >= 2);
    await waitForTip([a, b], end.tip, { height: end.height });

    const lab = a.page.locator('[data-testid="tamper-lab"]');
    await lab.locator('[data-testid="tamper-value"]').fill('1');
    await lab.locator('[data-testid="tamper-apply"]').click();
    await waitFor(async () => (await lab.locator('[data-testid="tamper-result"]').getAttribute('data-error').catch(() => null)) === 'BadMerkleRoot', {
      what: "the lab's verdict",
    });
    await lab.locator('[data-testid="tamper-remine"]').click();
    const status = lab.locator('[data-testid="tamper-remine-status"]');
    await waitFor(async () => (await status.getAttribute('data-state').catch(() => null)) === 'found', {
      timeout: 60_000,
      what: 'the workers to re-mine the copy',
      explain: async () => (await status.textContent().catch(() => '')) + '\n' + describeTabs([a, b]),
    });
    const text = await status.textContent();
    const copy = text.match(/hash is now ([0-9a-f]{8})…([0-9a-f]{6})/);
    assert.ok(copy, `the copy's new hash is shown: ${text}`);

    await lab.locator('[data-testid="tamper-offer"]').click();
    const offer = lab.locator('[data-testid="tamper-offer-status"]');
    await waitFor(async () => (await offer.count()) === 1, { what: 'the offer status' });
    assert.equal(await offer.getAttribute('data-penalty'), '0', `no penalty: ${await offer.textContent()}`);

    // B keeps the copy off its main chain; A's own chain never holds it.
    const isCopy = (hash) => hash.startsWith(copy[1]) && hash.endsWith(copy[2]);
    const { value: kept } = await waitFor(
      async () => {
        const blocks = await b.page.locator('[data-testid="fork-block"]').evaluateAll((els) => els.map((el) => ({ hash: el.dataset.hash, main: el.dataset.main })));
        return blocks.find((blk) => isCopy(blk.hash)) ?? null;
      },
      { timeout: 15_000, what: "the copy in B's fork tree", explain: () => describeTabs([a, b]) },
    );
    assert.equal(kept.main, 'false', 'on a side branch');
    assert.equal((await b.snapshot()).tip, end.tip, "B's tip is unchanged");
    const ours = await a.page.locator('[data-testid="fork-block"]').evaluateAll((els) => els.map((el) => el.dataset.hash));
    assert.ok(!ours.some(isCopy), "A's chain never holds the copy");
    assert.ok(a.hasPeer(b.nodeId, 'connected') && b.hasPeer(a.nodeId, 'connected'), 'still linked: nothing invalid was sent');
  });
});
