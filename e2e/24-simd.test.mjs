// The mining worker's two searches: four nonces at once with wasm SIMD by default, one at
// a time with ?simd=off, and a block either one mines is valid to the other.
//
// Tried: two tabs in one room, one with default settings and one with ?simd=off. The
// miner panel of the first names the SIMD path ("4 lanes (SIMD)", data-path="lanes"),
// the second's the scalar one. The SIMD tab mines a block, then the scalar tab mines one
// on top of it, then the SIMD tab again: both tabs end on the same tip and height, and
// the chain they show holds blocks by both miners. Screenshots of the miner panel at
// 1280 px and 390 px wide are saved to e2e/artifacts/.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ARTIFACTS, World, log, mineUntil, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';
import path from 'node:path';

/** The miner panel's search path: its data-path and its text. */
function minerPath(tab) {
  return tab.page.evaluate(() => {
    const el = document.querySelector('[data-testid="miner-path"]');
    return el ? { path: el.dataset.path, text: el.textContent.trim() } : null;
  });
}

async function waitForPath(tab, want) {
  let seen = null;
  await waitFor(async () => (seen = await minerPath(tab))?.path === want, {
    timeout: 30_000,
    what: `${tab.label} to show the ${want} path`,
    explain: () => JSON.stringify(seen),
  });
  return seen;
}

test('SIMD and scalar miners build one chain', { timeout: 180_000 }, async () => {
  const world = await World.start('simd');
  await world.run(async () => {
    const room = uniqueRoom('simd');
    const simd = await world.openTab({ room, label: 'simd' });
    const scalar = await world.openTab({ room, label: 'scalar', params: { simd: 'off' } });
    await waitForMesh([simd, scalar], { timeout: 60_000 });

    const shown = [await waitForPath(simd, 'lanes'), await waitForPath(scalar, 'scalar')];
    log(`miner panels: simd tab "${shown[0].text}", scalar tab "${shown[1].text}"`);
    assert.equal(shown[0].text, '4 lanes (SIMD)');
    assert.equal(shown[1].text, 'scalar');

    // Each miner in turn builds on the other's block.
    for (const [miner, other] of [
      [simd, scalar],
      [scalar, simd],
      [simd, scalar],
    ]) {
      const height = miner.last.height;
      const end = await mineUntil(miner, (s) => s.height > height, { what: `mining on height ${height}` });
      await waitForTip([miner, other], end.tip, { height: end.height, timeout: 30_000 });
      log(`${miner.label} mined up to height ${end.height}; ${other.label} took it`);
    }

    assert.equal(simd.last.tip, scalar.last.tip, 'one tip');
    assert.equal(simd.last.height, scalar.last.height, 'one height');
    // A tab lists its own blocks as "you", the other's under the other's name.
    for (const tab of [simd, scalar]) {
      const miners = new Set(tab.last.blocks.filter((b) => b.height >= 1).map((b) => b.miner));
      assert.ok(miners.has('you'), `${tab.label} shows blocks it mined`);
      assert.ok([...miners].some((m) => m !== 'you'), `${tab.label} shows blocks the other mined`);
    }

    for (const [width, height] of [
      [1280, 900],
      [390, 844],
    ]) {
      await simd.page.setViewportSize({ width, height });
      const file = path.join(ARTIFACTS, `simd-miner-panel-${width}.png`);
      await simd.page.locator('.panel.miner').screenshot({ path: file });
      log(`screenshot: ${file}`);
    }
  });
});
