// Figures for the README, measured in headless Chromium. Run by hand, not by test.sh,
// inside a private network namespace (needs dist/ and the release signaling server):
//
//     unshare --net sh -c 'ip link set lo up && node e2e/bench.mjs'
//     ... node e2e/bench.mjs --tabs 8 --blocks 7 --hash-seconds 15
//
// Prints a markdown table:
// - page load -> first connected peer (median over tabs joining a room one by one),
//   and the time for TABS tabs opened at once to form a full mesh,
// - block propagation: time from the first tab showing a block to the last one
//   (median over several blocks),
// - hashrate of one miner worker (data-hps, workers=1, mining ~10 s),
// - memory per tab: JS heap of the page (CDP Performance.getMetrics JSHeapUsedSize) and
//   the growth of the whole browser's proportional set size (PSS) per tab,
// - gzip sizes of the wasm files and of all of dist/ (what a first visit transfers).

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import {
  DIST,
  Tab,
  describeTabs,
  groupPss,
  launchKillableBrowser,
  log,
  median,
  newContext,
  startSignal,
  tabUrl,
  uniqueRoom,
  waitFor,
  waitForMesh,
  waitForTip,
} from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    tabs: { type: 'string', default: '6' },
    blocks: { type: 'string', default: '5' },
    'hash-seconds': { type: 'string', default: '10' },
    // Expected hashes for the first block of the propagation run; each later block is
    // at most twice the previous (retargeting toward 10 s), so keep this low.
    'block-difficulty': { type: 'string', default: '1000000' },
  },
});
const TABS = Number(opt.tabs);
const BLOCKS = Number(opt.blocks);
const HASH_SECONDS = Number(opt['hash-seconds']);
const BLOCK_DIFFICULTY = Number(opt['block-difficulty']);

const ms = (x) => `${Math.round(x)} ms`;
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function distSizes() {
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        const body = fs.readFileSync(full);
        files.push({ name: path.relative(DIST, full), raw: body.length, gzip: zlib.gzipSync(body).length });
      }
    }
  };
  walk(DIST);
  return files;
}

const rows = [];
const row = (what, figure, note = '') => {
  rows.push([what, figure, note]);
  log(`${what}: ${figure} ${note}`);
};

const server = await startSignal();
const chrome = await launchKillableBrowser();
const version = chrome.browser.version();
const tabs = [];
const openTab = async (room, label, opts = {}) => {
  const context = await newContext(chrome.browser, server.origin);
  const tab = new Tab(await context.newPage(), label);
  tabs.push(tab);
  await tab.goto(tabUrl(server.origin, { room, ...opts }));
  return tab.watch();
};

try {
  // 1. Hashrate of one worker, alone in the browser.
  {
    const tab = await openTab(uniqueRoom('bench-hash'), 'hash', { difficulty: 1e12 });
    await waitFor(() => tab.last?.mining === false, { timeout: 30000, what: 'the page to load' });
    await tab.setMining(true);
    const start = Date.now();
    const samples = [];
    while (Date.now() - start < HASH_SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      if (Date.now() - start > 3000 && Number.isFinite(tab.last.hps) && tab.last.hps > 0) samples.push(tab.last.hps);
    }
    const text = tab.last.hashrateText;
    await tab.setMining(false);
    row(
      'hashrate, one worker (workers=1)',
      `${(median(samples) / 1e6).toFixed(2)} MH/s`,
      `median of data-hps after 3 s of ${HASH_SECONDS} s mining (max ${(Math.max(...samples) / 1e6).toFixed(2)}); page shows "${text}"`,
    );
    await tab.page.context().close();
    tabs.length = 0;
  }

  // 2. TABS tabs join one room one after another: page load -> first connected peer
  //    (and -> all earlier tabs connected), then memory with the room idle.
  const pss0 = groupPss(chrome.pid);
  const room = uniqueRoom('bench');
  const roomTabs = [await openTab(room, 'tab1', { difficulty: BLOCK_DIFFICULTY })];
  const firstPeer = [];
  const allPeers = [];
  const navToLoad = [];
  for (let i = 2; i <= TABS; i++) {
    const tab = await openTab(room, `tab${i}`, { difficulty: BLOCK_DIFFICULTY });
    const { at } = await waitForMesh([...roomTabs, tab], { timeout: 60000 });
    roomTabs.push(tab);
    const times = [...tab.firstSeen].filter(([k]) => /^peer:.*:connected$/.test(k)).map(([, v]) => v);
    firstPeer.push(Math.min(...times) - tab.loadedAt);
    allPeers.push(at[at.length - 1] - tab.loadedAt);
    navToLoad.push(tab.loadedAt - tab.navStart);
  }
  row(
    'page load → first connected peer',
    ms(median(firstPeer)),
    `median of ${TABS - 1} tabs joining a room one after another (own contexts, via the server); range ${ms(Math.min(...firstPeer))}-${ms(Math.max(...firstPeer))}`,
  );
  row(
    'page load → linked with every tab in the room',
    ms(median(allPeers)),
    `median of the same ${TABS - 1} joins (1 to ${TABS - 1} peers); max ${ms(Math.max(...allPeers))}`,
  );
  row('navigation → load event', ms(median(navToLoad)), `median of the same joins (fetching and compiling the wasm)`);

  await new Promise((r) => setTimeout(r, 3000)); // idle a moment
  const heaps = [];
  for (const t of roomTabs) {
    const cdp = await t.page.context().newCDPSession(t.page);
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    heaps.push(metrics.find((m) => m.name === 'JSHeapUsedSize').value);
    await cdp.detach();
  }
  row('JS heap per tab (main thread)', mib(median(heaps)), 'median JSHeapUsedSize; wasm memory is not included');
  const pss1 = groupPss(chrome.pid);
  row(
    'browser memory per tab',
    mib((pss1 - pss0) / TABS),
    `(PSS of all Chromium processes with ${TABS} idle meshed tabs − without tabs) / ${TABS}; total ${mib(pss1)}`,
  );

  // 3. Block propagation: mine one block at a time in tab1, wait for every tab.
  const [miner, ...others] = roomTabs;
  const perBlock = [];
  for (let i = 0; i < BLOCKS; i++) {
    const h = miner.last.height;
    await miner.setMining(true);
    await waitFor(() => miner.last.height > h, { timeout: 120000, what: `block ${h + 1}`, explain: () => describeTabs([miner]) });
    await miner.setMining(false);
    const tip = miner.last.tip;
    await waitForTip(roomTabs, tip, { timeout: 30000 });
    for (const b of miner.last.blocks.filter((x) => x.height > h).sort((x, y) => x.height - y.height)) {
      // From the first tab showing the block (usually the miner; a tab that renders
      // before the miner has redrawn can be first) to the last.
      const seen = roomTabs.map((t) => t.firstSeen.get(`block:${b.hash}`));
      const first = Math.min(...seen);
      const fromMiner = others.map((t) => t.firstSeen.get(`block:${b.hash}`) - miner.firstSeen.get(`block:${b.hash}`));
      perBlock.push(Math.max(...seen) - first);
      log(`block ${b.height}: all tabs within ${ms(Math.max(...seen) - first)}; after the miner: ${fromMiner.map(ms).join(', ')}`);
    }
  }
  row(
    'block propagation to every tab',
    ms(median(perBlock)),
    `median over ${perBlock.length} blocks of first tab showing it → last of ${TABS} tabs (max ${ms(Math.max(...perBlock))}); pages read every 25 ms`,
  );

  // 4. TABS tabs opened at the same moment in a new room.
  for (const t of roomTabs) await t.page.context().close();
  const room2 = uniqueRoom('bench-burst');
  const burst = await Promise.all(
    Array.from({ length: TABS }, (_, i) => openTab(room2, `burst${i + 1}`, { difficulty: BLOCK_DIFFICULTY })),
  );
  const mesh = await waitForMesh(burst, { timeout: 60000 });
  const lastLoad = Math.max(...burst.map((t) => t.loadedAt));
  row(
    `full mesh of ${TABS} tabs opened at once`,
    ms(Math.max(...mesh.at) - lastLoad),
    `from the last page load to every tab listing all ${TABS - 1} others connected (loads took ${ms(median(burst.map((t) => t.loadedAt - t.navStart)))} median)`,
  );

  // 5. Download size.
  const files = distSizes();
  const wasm = files.filter((f) => f.name.endsWith('.wasm'));
  for (const f of wasm) row(`${f.name}`, kib(f.gzip), `gzip -6; ${kib(f.raw)} uncompressed`);
  const total = files.reduce((a, f) => ({ raw: a.raw + f.raw, gzip: a.gzip + f.gzip }), { raw: 0, gzip: 0 });
  row('all of dist/', kib(total.gzip), `${files.length} files, gzip -6; ${kib(total.raw)} uncompressed`);
} finally {
  await chrome.close();
  await server.stop();
}

console.log(`\nChromium ${version}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| what | figure | how |');
console.log('|---|---|---|');
for (const [what, figure, note] of rows) console.log(`| ${what} | ${figure} | ${note} |`);
