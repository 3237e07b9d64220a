// The tamper lab: a copy of a block with an output's amount changed fails the core's
// merkle root check; offered to a peer, it is fetched, refused with the rule it breaks,
// and the offering tab is dropped for it. Neither tab's chain takes it in.
//
// Tried: A and B mesh; A mines a few blocks, which B takes. In A's lab the coinbase's
// first output of A's tip is set to 1 coin: the lab names `BadMerkleRoot` (the header is
// untouched, so the hash is too). A offers the resealed copy (its root recomputed, its
// work not redone): the lab predicts the refusal and its cost, B fetches the copy, logs
// the misbehaviour and drops A with the rule's name, and both tips stay where they were.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, mineUntil, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';

// Real work per block, so that a header changed after mining misses its target.
const DIFFICULTY = 2_000_000;

test("a tampered amount breaks the merkle root, and a peer offered the block refuses it by name", { timeout: 150_000 }, async () => {
  const world = await World.start('tamper-lab');
  await world.run(async () => {
    const room = uniqueRoom('tamper');
    const a = await world.openTab({ room, label: 'A', difficulty: DIFFICULTY });
    const b = await world.openTab({ room, label: 'B', difficulty: DIFFICULTY });
    await waitForMesh([a, b]);
    const end = await mineUntil(a, (s) => s.height >= 2);
    await waitForTip([a, b], end.tip, { height: end.height });

    const lab = a.page.locator('[data-testid="tamper-lab"]');
    await lab.locator('[data-testid="tamper-field"]').selectOption('amount');
    await lab.locator('[data-testid="tamper-tx"]').fill('0');
    await lab.locator('[data-testid="tamper-index"]').fill('0');
    await lab.locator('[data-testid="tamper-value"]').fill('1');
    await lab.locator('[data-testid="tamper-apply"]').click();
    const result = lab.locator('[data-testid="tamper-result"]');
    await waitFor(async () => (await result.count()) === 1, { what: "the lab's verdict" });
    assert.equal(await result.getAttribute('data-error'), 'BadMerkleRoot');
    assert.match(await result.textContent(), /BadMerkleRoot/);
    assert.match(await lab.textContent(), /pays 1\.000 instead of 50\.000/, 'the edit in words');

    await lab.locator('[data-testid="tamper-offer"]').click();
    const status = lab.locator('[data-testid="tamper-offer-status"]');
    await waitFor(async () => (await status.count()) === 1, { what: 'the offer status' });
    assert.equal(await status.getAttribute('data-peers'), '1', 'offered to B');
    assert.equal(await status.getAttribute('data-penalty'), '100', 'the cost is shown');
    const predicted = (await status.textContent()).match(/refuses it: (\w+) \(([^)]+)\)/);
    assert.ok(predicted, `the lab names the refusal: ${await status.textContent()}`);
    const [, rule, sentence] = predicted;

    // B names the rule it found broken, in its log and in its list of dropped peers.
    // (A may dial B again meanwhile and be refused as banned: another row.)
    const reasons = b.page.locator(`[data-testid="peer-row"][data-state="dropped"][data-peer-id="${a.nodeId}"] [data-testid="peer-reason"]`);
    await waitFor(async () => (await reasons.count()) > 0, { timeout: 15_000, what: 'B drops A', explain: () => describeTabs([a, b]) });
    const dropped = await reasons.allTextContents();
    assert.ok(
      dropped.some((reason) => reason.includes(`misbehaved: sent an invalid block: ${sentence}`)),
      `B's reasons: ${dropped.join(' | ')} (the lab said ${rule})`,
    );
    const logged = await b.page.locator('.log li').allTextContents();
    assert.ok(logged.some((line) => line.includes('misbehaved') && line.includes(sentence)), `B's log:\n${logged.join('\n')}`);
    await waitFor(() => a.peers().some((p) => p.id === b.nodeId && p.state === 'dropped'), { what: 'A sees the link gone' });

    // The copy touched nobody's chain.
    for (const tab of [a, b]) {
      const s = await tab.snapshot();
      assert.equal(s.tip, end.tip, `${tab.label}'s tip is unchanged`);
      const hashes = await tab.page.locator('[data-testid="fork-block"]').evaluateAll((els) => els.map((el) => el.dataset.hash));
      assert.ok(hashes.length >= end.height && hashes.every((h) => end.blocks.some((row) => row.hash === h)), `${tab.label} holds only the real blocks`);
    }
    await world.screenshots('done');
  });
});
