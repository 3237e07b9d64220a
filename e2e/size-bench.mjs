// What a first visit transfers, as headless Chromium counts it. Run by hand, not by
// test.sh (needs dist/ from `trunk build --release` and the release signaling server):
//
//     unshare --net sh -c 'ip link set lo up && node e2e/size-bench.mjs'
//
// With a non-loopback address too, the way a classroom's laptops load the page
// (http://192.168.x.y, where Chromium offers no brotli: only https and localhost get it):
//
//     unshare --net sh -c 'ip link set lo up && ip link add v0 type veth peer name v1 &&
//       ip addr add 192.168.77.1/24 dev v0 && ip link set v0 up && ip link set v1 up &&
//       node e2e/size-bench.mjs --lan 192.168.77.1'
//
// Each row is one fresh browser context opening the page until it shows its node id and
// the mining worker has loaded, then 1 s more: the bytes Chromium received for each of the
// page's and the worker's requests (playwright's request.sizes(): response headers plus
// the body as sent, i.e. compressed), summed, and per file the bytes and the
// Content-Encoding. Two servings of the same build:
// - before: dist/ without its precompressed copies, so the server compresses on the fly
//   (gzip at its default level, as before the copies existed);
// - after: dist/ as built, so the server sends the .br or .gz copy.
// `--before DIR` serves another build (say main's dist/) as "before" instead.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CHROMIUM_ARGS,
  DIST,
  SIGNALING_BIN,
  freePort,
  httpGet,
  launchBrowser,
  log,
  tabUrl,
  uniqueRoom,
  waitFor,
} from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    lan: { type: 'string' },
    before: { type: 'string' },
  },
});

const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;

/** dist/ as it was before precompressed copies: a temporary copy without them. */
function withoutCopies(dir) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tabchain-size-'));
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.br') || name.endsWith('.gz')) continue;
    fs.copyFileSync(path.join(dir, name), path.join(out, name));
  }
  return out;
}

/** The signaling server serving `dir` on every address of this host. */
async function serve(dir) {
  const port = await freePort();
  const proc = spawn(SIGNALING_BIN, ['--static', dir, '--bind', `0.0.0.0:${port}`], { stdio: 'ignore' });
  await waitFor(async () => (await httpGet(port, '/healthz').catch(() => null))?.status === 200, {
    timeout: 15000,
    what: 'the signaling server to answer',
  });
  return {
    port,
    stop: () => {
      proc.kill('SIGTERM');
      return new Promise((resolve) => proc.on('exit', resolve));
    },
  };
}

/**
 * One first visit to `origin` in a fresh context (its own empty cache):
 * { total, files: [{ name, bytes, encoding }] }.
 */
async function firstVisit(browser, origin) {
  const context = await browser.newContext();
  const done = [];
  // The context's requests include the mining worker's (its script and wasm).
  context.on('requestfinished', (request) => done.push(request));
  const page = await context.newPage();
  await page.goto(tabUrl(origin, { room: uniqueRoom('size') }), { waitUntil: 'load' });
  await waitFor(async () => /^[0-9a-f]{32}$/.test((await page.textContent('[data-testid="node-id"]').catch(() => '')) ?? ''), {
    timeout: 30000,
    what: 'the node id',
  });
  // The SIMD build where the browser has wasm SIMD, the scalar one elsewhere.
  await waitFor(() => done.some((r) => /miner(_simd)?_bg\.wasm$/.test(r.url())), {
    timeout: 30000,
    what: 'the mining worker to load its wasm',
  });
  await sleep(1000);
  const files = [];
  for (const request of done) {
    const response = await request.response();
    const headers = (await response?.allHeaders()) ?? {};
    const sizes = await request.sizes();
    // Chromium reports no body size for a worker's main script: its Content-Length then.
    const body = sizes.responseBodySize || Number(headers['content-length'] ?? 0);
    files.push({
      name: path.basename(new URL(request.url()).pathname) || '/',
      bytes: sizes.responseHeadersSize + body,
      encoding: headers['content-encoding'] ?? 'identity',
    });
  }
  await context.close();
  return { total: files.reduce((sum, f) => sum + f.bytes, 0), files };
}

const builds = [
  ['before', opt.before ? path.resolve(opt.before) : withoutCopies(DIST)],
  ['after', DIST],
];
const hosts = [['127.0.0.1', '127.0.0.1'], ...(opt.lan ? [[`LAN ${opt.lan}`, opt.lan]] : [])];

// The harness's resolver rules let Chromium reach loopback only: the LAN address too.
const args = CHROMIUM_ARGS.map((arg) =>
  opt.lan && arg.startsWith('--host-resolver-rules=') ? `${arg}, EXCLUDE ${opt.lan}` : arg,
);
const browser = await launchBrowser({ args });
const results = [];
try {
  for (const [build, dir] of builds) {
    const server = await serve(dir);
    try {
      for (const [where, host] of hosts) {
        const visit = await firstVisit(browser, `http://${host}:${server.port}`);
        results.push({ build, where, ...visit });
        log(`${build} on ${where}: ${visit.total} bytes`);
        for (const f of visit.files) log(`  ${f.name}: ${f.bytes} (${f.encoding})`);
      }
    } finally {
      await server.stop();
    }
  }
} finally {
  await browser.close();
}

console.log('\n| first visit | before | after | after/before | encoding after |');
console.log('|---|---|---|---|---|');
for (const [where] of hosts) {
  const before = results.find((r) => r.build === 'before' && r.where === where);
  const after = results.find((r) => r.build === 'after' && r.where === where);
  const wasm = after.files.find((f) => f.name.endsWith('_bg.wasm') && !f.name.startsWith('miner'));
  console.log(
    `| ${where} | ${kb(before.total)} | ${kb(after.total)} | ${(after.total / before.total).toFixed(3)} | ${wasm?.encoding ?? '?'} |`,
  );
}
