// The page on a phone: at 390 px wide nothing pushes the page sideways and every control
// is at least 44 px each way; at 1280 px the panels sit side by side. Screenshots of both
// go to e2e/artifacts/ (the README shows them).
//
// Tried: two tabs mesh and one mines a dozen blocks and pays the other, so that every
// panel has rows: peers, chain, fork tree, gossip trail, room map, wallet, log. The second tab is
// narrowed to 390 x 844 (an iPhone 12-15), opens a block in the inspector and sets up the
// tamper lab. The page's own width must stay 390, no element may reach past the right
// edge (except inside the fork tree's own scrolling box), and each visible button, select,
// input and clickable row must be 44 px high and wide or more.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, World, mineUntil, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';

const PHONE = { width: 390, height: 844 };

/** What sticks out at the current width, and the controls too small for a thumb. */
function measure() {
  const width = document.documentElement.clientWidth;
  const inScroller = (el) => el.closest('.tree');
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const name = (el) => `${el.tagName.toLowerCase()}${el.dataset.testid ? `[${el.dataset.testid}]` : ''}.${[...el.classList].join('.')} "${(el.textContent || el.value || '').trim().slice(0, 30)}"`;
  const overflowing = [...document.querySelectorAll('body *')]
    .filter((el) => !inScroller(el) && visible(el) && el.getBoundingClientRect().right > width + 0.5)
    .map(name);
  const small = [...document.querySelectorAll('button, select, input:not([type="file"]), label.button, tr.link')]
    .filter((el) => visible(el))
    .filter((el) => {
      const r = el.getBoundingClientRect();
      return r.height < 44 || r.width < 44;
    })
    .map((el) => `${name(el)} ${Math.round(el.getBoundingClientRect().width)}x${Math.round(el.getBoundingClientRect().height)}`);
  return { width, scrollWidth: document.documentElement.scrollWidth, overflowing, small };
}

test('every panel fits a 390 px phone with thumb-sized controls, and both widths are photographed', { timeout: 150_000 }, async () => {
  const world = await World.start('phone');
  await world.run(async () => {
    const room = uniqueRoom('phone');
    const a = await world.openTab({ room, label: 'desk' });
    const b = await world.openTab({ room, label: 'phone' });
    await waitForMesh([a, b]);
    const end = await mineUntil(a, (s) => s.height >= 12 && s.balance?.confirmed > 0);
    await waitForTip([a, b], end.tip, { height: end.height });
    // A payment left waiting, so that the wallets list a pending row too. (Mining it
    // could take long: a dozen quick blocks raised the difficulty.)
    await waitFor(() => b.last?.address, { what: "the phone's address" });
    await a.send(b.last.address, 1);
    await waitFor(() => a.last.send?.state === 'ok', { what: 'the payment sent' });

    await b.page.setViewportSize(PHONE);
    await b.page.click(`[data-testid="block-row"][data-hash="${end.tip}"]`);
    await waitFor(async () => (await b.page.locator('[data-testid="block-inspector"]').count()) === 1, { what: 'the inspector' });
    await b.page.locator('[data-testid="tamper-apply"]').click();
    await waitFor(async () => (await b.page.locator('[data-testid="tamper-result"]').count()) === 1, { what: "the lab's verdict" });

    const m = await b.page.evaluate(measure);
    assert.equal(m.width, PHONE.width);
    assert.ok(m.scrollWidth <= PHONE.width, `the page is ${m.scrollWidth} px wide on a ${PHONE.width} px screen`);
    assert.deepEqual(m.overflowing, [], 'nothing reaches past the right edge');
    assert.deepEqual(m.small, [], 'every control is at least 44 x 44 px');

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await b.page.screenshot({ path: path.join(ARTIFACTS, 'phone-390.png'), fullPage: true });
    await a.page.screenshot({ path: path.join(ARTIFACTS, 'desk-1280.png'), fullPage: true });
  });
});
