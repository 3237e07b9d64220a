// An hour-long lesson's chain: a 2000-block chain file (made by the chain-file tool, as
// a teacher would prepare one) is loaded in a tab, every block checked and written; the
// tab reloads with the server stopped and no other tab, and shows the whole chain
// within a second of its load; a fresh tab then catches up from it. Files of another
// room, and cut-short files, are refused by name and change nothing.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  Tab,
  World,
  describeTabs,
  log,
  makeChainFile,
  mineUntil,
  secs,
  startSignal,
  tabUrl,
  uniqueRoom,
  waitFor,
} from './harness.mjs';

/** The rules of the rooms here: easy blocks, one a second. */
const RULES = { difficulty: 2000, block_time: 1 };
const BLOCKS = 2000;

const chainFile = (room, blocks) => makeChainFile(room, blocks, RULES);

function openRoom(world, room, opts = {}) {
  return world.openTab({ room, difficulty: RULES.difficulty, params: { block_time: RULES.block_time }, ...opts });
}

/** A world whose page comes from a static server and whose signaling server can stop. */
async function startWorld(name) {
  const world = await World.start(name, { server: 'static' });
  world.signal = await world.addServer(await startSignal());
  return world;
}

test('a 2000-block chain file loads, reloads whole with no server and no peer, and a new tab catches up', { timeout: 240_000 }, async () => {
  const world = await startWorld('long-chain');
  await world.run(async () => {
    const room = uniqueRoom('lesson');
    const file = chainFile(room, BLOCKS);
    const signal = `ws://127.0.0.1:${world.signal.port}/ws`;
    const a = await openRoom(world, room, { label: 'A', signal });
    const started = Date.now();
    const loaded = await a.loadChainFile(file);
    assert.equal(loaded.state, 'done', loaded.text);
    await waitFor(() => a.last?.height === BLOCKS, { timeout: 30_000, what: `A at height ${BLOCKS}`, explain: () => describeTabs([a]) });
    log(`A checked and took ${BLOCKS} blocks from the file in ${secs(Date.now() - started)}`);
    await waitFor(async () => (await a.storedHeight()) === BLOCKS, { timeout: 60_000, what: `A's chain stored up to ${BLOCKS}` });
    log(`A stored them all ${secs(Date.now() - started)} after the file was picked`);

    // Alone: no signaling server, no other tab.
    await world.signal.stop();
    a.forget();
    await a.goto(a.url);
    await waitFor(() => a.last?.height === BLOCKS, { timeout: 30_000, what: `A back at height ${BLOCKS}`, explain: () => describeTabs([a]) });
    const shownAfterLoad = a.firstSeen.get(`height:${BLOCKS}`) - a.loadedAt;
    log(`A reloaded: height ${BLOCKS} shown ${secs(a.firstSeen.get(`height:${BLOCKS}`) - a.navStart)} after navigation, ${secs(shownAfterLoad)} after the load event`);
    assert.ok(shownAfterLoad <= 1000, `the whole chain shows within 1 s of load (took ${shownAfterLoad} ms)`);
    assert.equal(a.last.stored.loaded, BLOCKS);
    assert.equal(a.last.stored.corrupt, 0);

    // A classmate arrives: header-first sync, blocks from A.
    await world.signal.start();
    const b = await openRoom(world, room, { label: 'B', signal });
    await waitFor(() => b.last?.height === BLOCKS, { timeout: 60_000, what: `B catches up to ${BLOCKS}`, explain: () => describeTabs([a, b]) });
    const linked = b.firstSeen.get(`peer:${a.nodeId}:connected`);
    log(`B caught up ${secs(b.firstSeen.get(`height:${BLOCKS}`) - linked)} after its link to A (${secs(b.firstSeen.get(`height:${BLOCKS}`) - b.loadedAt)} after its load)`);
    assert.equal(b.last.tip, a.last.tip);
    await world.screenshots('caught-up');
  });
});

test("a chain file of another room, and a cut-short one, are refused by name and change nothing", { timeout: 120_000 }, async () => {
  const world = await World.start('chain-files');
  await world.run(async () => {
    const room = uniqueRoom('lesson');
    const tab = await openRoom(world, room, { label: 'tab' });
    // Tried: another room's file; this room's file cut in half.
    const other = await tab.loadChainFile(chainFile(uniqueRoom('elsewhere'), 20));
    assert.equal(other.state, 'refused');
    assert.match(other.text, /is a chain of room "elsewhere-/);
    const whole = chainFile(room, 20);
    const cut = whole.replace(/\.tabchain$/, '-cut.tabchain');
    const bytes = fs.readFileSync(whole);
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    const truncated = await tab.loadChainFile(cut);
    assert.equal(truncated.state, 'refused');
    assert.match(truncated.text, /cut short or damaged/);
    await tab.snapshot();
    assert.equal(tab.last.height, 0, 'nothing was taken from either file');
    // The whole file loads, so the refusals above were the files', not the page's.
    const good = await tab.loadChainFile(whole);
    assert.equal(good.state, 'done', good.text);
    await waitFor(() => tab.last?.height === 20, { timeout: 10_000, what: 'height 20' });
  });
});

test('writes the browser refuses are named on the page, which never claims them stored', { timeout: 120_000 }, async () => {
  const world = await World.start('storage-quota');
  await world.run(async () => {
    const room = uniqueRoom('quota');
    const file = chainFile(room, 200);
    // A profile on disk: Chromium enforces a quota override there (not in the
    // in-memory profiles of the other tests).
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tabchain-profile-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    world.cleanups.push(async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    });
    const tab = new Tab(await context.newPage(), 'tab');
    world.tabs.push(tab);
    // Tried: the browser's storage quota for the page's origin cut to one byte before
    // the page opens (as on a full disk), then a 200-block chain loaded: every write is
    // refused.
    const cdp = await context.newCDPSession(tab.page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: world.origin, quotaSize: 1 });
    await tab.goto(tabUrl(world.origin, { room, difficulty: RULES.difficulty, params: { block_time: RULES.block_time } }));
    tab.watch();
    await waitFor(() => tab.last?.nodeId, { what: 'the page up' });
    const loaded = await tab.loadChainFile(file);
    assert.equal(loaded.state, 'done', loaded.text);
    const stored = tab.page.locator('[data-testid="stored-height"]');
    await waitFor(async () => /QuotaExceededError/.test(await stored.getAttribute('data-error')), {
      timeout: 30_000,
      what: 'the chain panel names the refused write',
    });
    log(`the page says: ${(await stored.textContent()).trim()}`);
    await tab.snapshot();
    assert.equal(tab.last.height, 200);
    assert.equal(await tab.storedHeight(), 0, 'nothing is claimed stored');
    // Room again: the next block's write carries the refused ones, and nothing is lost.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: world.origin });
    const mined = await mineUntil(tab, (s) => s.height >= 201);
    await waitFor(async () => (await tab.storedHeight()) === mined.height, {
      timeout: 30_000,
      what: 'the whole chain stored once there is room',
    });
    assert.equal(await stored.getAttribute('data-error'), '');
  });
});
