// One mining worker's hashrate in headless Chromium with the scalar search (?simd=off)
// and with the four SIMD lanes (the default), side by side in one browser run. Run by
// hand, not by test.sh, inside a private network namespace (needs dist/ and the release
// signaling server):
//
//     unshare --net sh -c 'ip link set lo up && node e2e/simd-bench.mjs'
//     ... node e2e/simd-bench.mjs --rounds 3 --hash-seconds 15
//
// Each round mines in a fresh tab (workers=1, an unreachable difficulty) first with
// ?simd=off, then with SIMD, and reads the page's data-hps every 250 ms after 3 s; the
// figure per path is the median of those samples over all rounds. Alternating the two
// spreads any drift of a shared machine's load over both. Prints a markdown table with
// the ratio.

import { parseArgs } from 'node:util';
import { Tab, launchBrowser, log, median, newContext, startSignal, tabUrl, uniqueRoom, waitFor } from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    'hash-seconds': { type: 'string', default: '10' },
  },
});
const ROUNDS = Number(opt.rounds);
const HASH_SECONDS = Number(opt['hash-seconds']);
const WARMUP_MS = 3000;

const server = await startSignal();
const browser = await launchBrowser();
const version = browser.version();

/** Mines HASH_SECONDS in a new tab; returns the data-hps samples and the path it showed. */
async function measure(simd) {
  const context = await newContext(browser, server.origin);
  try {
    const tab = new Tab(await context.newPage(), simd ? 'simd' : 'scalar');
    const params = simd ? {} : { simd: 'off' };
    await tab.goto(tabUrl(server.origin, { room: uniqueRoom('simd-bench'), difficulty: 1e12, workers: 1, params }));
    tab.watch();
    await waitFor(() => tab.last?.mining === false, { timeout: 30000, what: 'the page to load' });
    const readPath = () =>
      tab.page.evaluate(() => document.querySelector('[data-testid="miner-path"]')?.textContent.trim());
    await waitFor(async () => (await readPath()) !== '–', { timeout: 30000, what: 'a ready worker' });
    await tab.setMining(true);
    const start = Date.now();
    const samples = [];
    while (Date.now() - start < HASH_SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      if (Date.now() - start > WARMUP_MS && tab.last.hps > 0) samples.push(tab.last.hps);
    }
    const path = await readPath();
    await tab.setMining(false);
    log(`${tab.label}: "${path}", median ${(median(samples) / 1e6).toFixed(2)} MH/s over ${samples.length} samples`);
    return { samples, path };
  } finally {
    await context.close();
  }
}

const runs = { scalar: [], simd: [] };
const paths = {};
try {
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round} of ${ROUNDS}`);
    for (const simd of [false, true]) {
      const key = simd ? 'simd' : 'scalar';
      const { samples, path } = await measure(simd);
      runs[key].push(...samples);
      paths[key] = path;
    }
  }
} finally {
  await browser.close();
  await server.stop();
}

const scalar = median(runs.scalar);
const simd = median(runs.simd);
const mhs = (hps) => `${(hps / 1e6).toFixed(2)} MH/s`;
const how = (key) =>
  `miner panel: "${paths[key]}"; median of ${runs[key].length} data-hps samples, ${ROUNDS} × ${HASH_SECONDS} s, ` +
  `range ${mhs(Math.min(...runs[key]))}-${mhs(Math.max(...runs[key]))}`;
console.log(`\nChromium ${version}, ${new Date().toISOString().slice(0, 10)}, one mining worker (workers=1)\n`);
console.log('| search | hashrate | how |');
console.log('|---|---|---|');
console.log(`| scalar (?simd=off) | ${mhs(scalar)} | ${how('scalar')} |`);
console.log(`| 4 lanes (SIMD) | ${mhs(simd)} | ${how('simd')} |`);
console.log(`| ratio | ${(simd / scalar).toFixed(2)}× | SIMD / scalar, same run |`);
