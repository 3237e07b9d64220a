// The block inspector: clicking a block row opens it (and puts it in the page's address);
// it shows the header, the hash against the target, each input's signature check, and a
// transaction's merkle proof, which this test recomputes from the shown hashes alone.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { World, describeTabs, mineUntil, uniqueRoom, waitFor } from './harness.mjs';

const sha256 = (...hexes) => createHash('sha256').update(Buffer.concat(hexes.map((h) => Buffer.from(h, 'hex')))).digest('hex');

test('a clicked block opens in the inspector, and a payment\'s merkle proof verifies', { timeout: 120_000 }, async () => {
  const world = await World.start('inspector');
  await world.run(async () => {
    const room = uniqueRoom('inspect');
    const a = await world.openTab({ room, label: 'A' });
    const b = await world.openTab({ room, label: 'B' });
    await mineUntil(a, (s) => s.height >= 11 && s.balance?.confirmed > 0);
    await waitFor(() => b.last?.address, { what: "B's address" });
    await a.send(b.last.address, 2);
    await waitFor(() => a.last.send?.state === 'ok', { what: 'the payment sent', explain: () => describeTabs([a]) });
    const mined = await mineUntil(a, (s) => s.blocks.some((row) => row.height > 11) && s.balance.pendingOut === 0);
    const row = mined.blocks.find((r) => r.height === mined.height);

    await a.page.click(`[data-testid="block-row"][data-hash="${row.hash}"]`);
    const inspector = a.page.locator('[data-testid="block-inspector"]');
    await waitFor(async () => (await inspector.count()) === 1, { what: 'the inspector opens' });
    assert.equal(await inspector.getAttribute('data-hash'), row.hash);
    assert.ok(a.page.url().endsWith(`#block=${row.hash}`), 'the open block is in the address');
    const txs = await a.page.locator('[data-testid="inspect-tx"]').count();
    assert.ok(txs >= 2, 'the coinbase and the payment');
    const signatures = await a.page.locator('[data-testid="inspect-input"]').evaluateAll((els) => els.map((el) => el.dataset.signatureOk));
    assert.ok(signatures.length > 0 && signatures.every((ok) => ok === 'true'), `signatures checked: ${signatures}`);

    // The payment's proof, from its id up to the root, recomputed here.
    await a.page.locator('[data-testid="inspect-tx"] button').nth(1).click();
    const proof = a.page.locator('[data-testid="merkle-proof"]');
    await waitFor(async () => (await proof.count()) === 1, { what: 'the merkle proof' });
    const txid = await proof.getAttribute('data-txid');
    const root = await proof.getAttribute('data-root');
    const steps = await a.page.locator('[data-testid="proof-step"]').evaluateAll((els) =>
      els.map((el) => ({ sibling: el.dataset.sibling, left: el.dataset.siblingLeft === 'true' })),
    );
    let ours = txid;
    for (const step of steps) {
      if (step.sibling) ours = step.left ? sha256(step.sibling, ours) : sha256(ours, step.sibling);
    }
    assert.equal(ours, root, 'the proof climbs to the merkle root');
    assert.equal(await a.page.locator('[data-testid="inspect-merkle-root"]').textContent(), root);

    // A shared link opens the same block in another tab, and going back closes it.
    await b.page.goto(`${b.url}#block=${row.hash}`);
    await waitFor(async () => (await b.page.locator(`[data-testid="block-inspector"][data-hash="${row.hash}"]`).count()) === 1, {
      timeout: 15_000,
      what: 'the link opens the block in B',
    });
    await a.page.goBack();
    await waitFor(async () => (await inspector.count()) === 0, { what: 'back closes the inspector' });
  });
});

test("the room's join link shows as a QR code for the projector", { timeout: 60_000 }, async () => {
  const world = await World.start('join-qr');
  await world.run(async () => {
    const room = uniqueRoom('join');
    const tab = await world.openTab({ room, label: 'teacher', params: { block_time: 30 } });
    await tab.page.click('[data-testid="join-toggle"]');
    const card = tab.page.locator('[data-testid="join-qr"]');
    await waitFor(async () => (await card.count()) === 1, { what: 'the join card' });
    const url = new URL(await card.getAttribute('data-url'));
    assert.equal(url.searchParams.get('room'), room, 'the link joins this room');
    assert.equal(url.searchParams.get('block_time'), '30', 'with its rules');
    assert.equal(url.searchParams.get('workers'), null, "not this device's worker count");
    assert.equal(await card.locator('svg').count(), 1, 'a QR code to scan');
  });
});
