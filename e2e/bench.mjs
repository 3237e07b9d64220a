// Figures for the README, measured in headless Chromium. Run by hand, not by test.sh,
// inside a private network namespace (needs dist/ and the release signaling server):
//
//     unshare --net sh -c 'ip link set lo up && node e2e/bench.mjs'
//     ... node e2e/bench.mjs --tabs 8 --blocks 7 --hash-seconds 15
//
// Prints a markdown table:
// - page load -> first connected peer (median over the tabs of one room),
// - block propagation: time from the miner showing a block to every tab showing it
//   (median over several blocks), and over every (block, tab) pair,
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
  launchKillableBrowser,
  log,
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

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => `${Math.round(x)} ms`;
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Proportional set size of every process in the browser's process group, in bytes. */
function groupPss(pgid) {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue; // field 5: pgrp
      const rollup = fs.readFileSync(`/proc/${entry}/smaps_rollup`, 'utf8');
      const pss = /^Pss:\s+(\d+) kB/m.exec(rollup);
      if (pss) total += Number(pss[1]) * 1024;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

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

  // 2. A room of TABS tabs: page load -> first connected peer, full mesh, memory.
  const pss0 = groupPss(chrome.pid);
  const room = uniqueRoom('bench');
  const roomTabs = await Promise.all(
    Array.from({ length: TABS }, (_, i) => openTab(room, `tab${i + 1}`, { difficulty: BLOCK_DIFFICULTY })),
  );
  const mesh = await waitForMesh(roomTabs, { timeout: 60000 });
  const firstPeer = roomTabs.map((t) => {
    const times = [...t.firstSeen].filter(([k]) => /^peer:.*:connected$/.test(k)).map(([, v]) => v);
    return Math.min(...times) - t.loadedAt;
  });
  row(
    'page load → first connected peer',
    ms(median(firstPeer)),
    `median of ${TABS} tabs opened at once (own contexts, via the server); range ${ms(Math.min(...firstPeer))}-${ms(Math.max(...firstPeer))}`,
  );
  const lastLoad = Math.max(...roomTabs.map((t) => t.loadedAt));
  row(
    `full mesh of ${TABS} tabs`,
    ms(Math.max(...mesh.at) - lastLoad),
    `from the last page load to every tab listing all ${TABS - 1} others connected`,
  );
  const navToLoad = roomTabs.map((t) => t.loadedAt - t.navStart);
  row('navigation → load event', ms(median(navToLoad)), `median of ${TABS} tabs loading at once`);

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
  const perPair = [];
  for (let i = 0; i < BLOCKS; i++) {
    const h = miner.last.height;
    await miner.setMining(true);
    await waitFor(() => miner.last.height > h, { timeout: 120000, what: `block ${h + 1}`, explain: () => describeTabs([miner]) });
    await miner.setMining(false);
    const tip = miner.last.tip;
    await waitForTip(roomTabs, tip, { timeout: 30000 });
    for (const b of miner.last.blocks.filter((x) => x.height > h).sort((x, y) => x.height - y.height)) {
      const shown = miner.firstSeen.get(`block:${b.hash}`);
      const delays = others.map((t) => t.firstSeen.get(`block:${b.hash}`) - shown);
      perPair.push(...delays);
      perBlock.push(Math.max(...delays));
      log(`block ${b.height}: every tab after ${ms(Math.max(...delays))} (${delays.map(ms).join(', ')})`);
    }
  }
  row(
    'block propagation to every tab',
    ms(median(perBlock)),
    `median over ${perBlock.length} blocks of the slowest of ${TABS - 1} tabs (max ${ms(Math.max(...perBlock))}); median per tab ${ms(median(perPair))}; pages read every 25 ms, so each figure is ±25 ms`,
  );

  // 4. Download size.
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
