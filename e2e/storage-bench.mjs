// Long chains in a tab, measured in headless Chromium. Run by hand, not by test.sh,
// inside a private network namespace (needs dist/, the release signaling server and the
// chain-file tool):
//
//     unshare --net sh -c 'ip link set lo up && node e2e/storage-bench.mjs'
//     ... node e2e/storage-bench.mjs --heights 100,1000,2000 --reloads 5
//
// For each height N, in a fresh browser: a tab loads an N-block chain file (made by the
// chain-file tool, with a signed payment in most blocks), then reloads RELOADS times
// alone (no server, no peer). Prints the reload time (navigation to height N shown,
// median), the bytes stored per block (the records' values, read back from IndexedDB),
// the node's wasm memory, the page's JS heap and the whole browser's memory (PSS of all
// its processes) with the chain loaded, and their growth per block between the smallest and largest height.
// Then a fresh tab in another profile joins the tab at the largest height: the time from
// its link to the tip.

import { parseArgs } from 'node:util';
import {
  DIST,
  Tab,
  groupPss,
  launchKillableBrowser,
  log,
  makeChainFile,
  median,
  newContext,
  secs,
  startSignal,
  startStatic,
  tabUrl,
  uniqueRoom,
  waitFor,
} from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    heights: { type: 'string', default: '100,1000,2000' },
    reloads: { type: 'string', default: '3' },
  },
});
const HEIGHTS = opt.heights.split(',').map(Number);
const RELOADS = Number(opt.reloads);
const RULES = { difficulty: 2000, block_time: 1 };

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function jsHeap(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  return metrics.find((m) => m.name === 'JSHeapUsedSize').value;
}

/** Bytes of the values in the page's tabchain-* block store, and their count. */
function storedBytes(page) {
  return page.evaluate(async () => {
    const name = (await indexedDB.databases()).find((d) => d.name.startsWith('tabchain-') && d.name !== 'tabchain-wallet').name;
    const db = await new Promise((ok, fail) => {
      const req = indexedDB.open(name);
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
    const values = await new Promise((ok, fail) => {
      const req = db.transaction('blocks').objectStore('blocks').getAll();
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
    db.close();
    return { count: values.length, bytes: values.reduce((n, v) => n + v.byteLength, 0) };
  });
}

const site = await startStatic({ dir: DIST });
const signal = await startSignal();
const ws = `ws://127.0.0.1:${signal.port}/ws`;
const rows = [];
let last = null;
try {
  for (const height of HEIGHTS) {
    const room = uniqueRoom(`bench${height}`);
    const file = makeChainFile(room, height, RULES);
    const chrome = await launchKillableBrowser();
    try {
      const url = tabUrl(site.origin, { room, difficulty: RULES.difficulty, signal: ws, params: { block_time: RULES.block_time } });
      const context = await newContext(chrome.browser, site.origin);
      // trunk's loader announces the instance: keep it, to read the wasm memory's size.
      await context.addInitScript(() =>
        addEventListener('TrunkApplicationStarted', (e) => (window.tabchainWasm = e.detail.wasm)),
      );
      const tab = new Tab(await context.newPage(), `h${height}`);
      await tab.goto(url);
      tab.watch();
      const loaded = await tab.loadChainFile(file);
      if (loaded.state !== 'done') throw new Error(loaded.text);
      await waitFor(async () => (await tab.storedHeight()) === height, { timeout: 60_000, what: 'all stored' });
      const reloads = [];
      for (let i = 0; i < RELOADS; i++) {
        tab.forget();
        await tab.goto(url);
        await waitFor(() => tab.last?.height === height, { timeout: 30_000, what: `height ${height} after reload` });
        reloads.push(tab.firstSeen.get(`height:${height}`) - tab.navStart);
      }
      await new Promise((r) => setTimeout(r, 1000));
      const stored = await storedBytes(tab.page);
      const row = {
        height,
        reload: median(reloads),
        perBlock: stored.bytes / stored.count,
        heap: await jsHeap(tab.page),
        wasm: await tab.page.evaluate(() => window.tabchainWasm?.memory?.buffer.byteLength ?? NaN),
        pss: groupPss(chrome.pid),
      };
      rows.push(row);
      log(JSON.stringify(row));
      if (height === HEIGHTS.at(-1)) {
        const other = new Tab(await (await newContext(chrome.browser, site.origin)).newPage(), 'joiner');
        await other.goto(url);
        other.watch();
        await waitFor(() => other.last?.height === height, { timeout: 60_000, what: 'the joiner catches up' });
        last = other.firstSeen.get(`height:${height}`) - other.firstSeen.get(`peer:${tab.nodeId}:connected`);
        await other.unwatch();
      }
      await tab.unwatch();
    } finally {
      await chrome.close();
    }
  }
} finally {
  await signal.stop();
  await site.stop();
}

console.log('\n| chain | reload to the whole chain (median) | bytes stored per block | wasm memory | JS heap | browser memory (PSS) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.height} blocks | ${Math.round(r.reload)} ms | ${Math.round(r.perBlock)} B | ${mib(r.wasm)} | ${mib(r.heap)} | ${mib(r.pss)} |`,
  );
}
const [lo, hi] = [rows[0], rows.at(-1)];
const blocks = hi.height - lo.height;
console.log(
  `\ngrowth per block from ${lo.height} to ${hi.height}: wasm memory ${Math.round((hi.wasm - lo.wasm) / blocks)} B, ` +
    `JS heap ${Math.round((hi.heap - lo.heap) / blocks)} B, ` +
    `browser memory ${Math.round((hi.pss - lo.pss) / blocks)} B`,
);
console.log(`a fresh tab's link to the tip at ${hi.height} blocks: ${secs(last)}`);
