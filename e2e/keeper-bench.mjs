// The keeper's figures, measured in headless Chromium against the release signaling
// server with --keep. Run by hand, not by test.sh, inside a private network namespace
// (needs dist/, the release signaling server, tabchain-keeper and the chain-file tool):
//
//     unshare --net sh -c 'ip link set lo up && node e2e/keeper-bench.mjs'
//     ... node e2e/keeper-bench.mjs --blocks 2000 --rooms 3
//
// 1. The server's memory (RSS) and CPU with no room kept, then with ROOMS rooms kept,
//    each holding BLOCKS blocks that a tab loaded from a chain file and the keeper
//    synced; CPU is read over 20 s with every tab closed. Per room = the difference
//    divided by ROOMS.
// 2. Blocks per second the keeper serves: a fresh profile opens a kept room with no
//    other tab there; the time from navigation to the tip shown.
// 3. Native vs wasm hashrate, side by side: `tabchain-keeper --hashrate` (one core)
//    and one mining worker in the tab, run one after the other in this run.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ROOT,
  Tab,
  httpGet,
  launchBrowser,
  log,
  makeChainFile,
  newContext,
  secs,
  startSignal,
  tabUrl,
  uniqueRoom,
  waitFor,
} from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    blocks: { type: 'string', default: '2000' },
    rooms: { type: 'string', default: '3' },
  },
});
const BLOCKS = Number(opt.blocks);
const ROOMS = Number(opt.rooms);
const RULES = { difficulty: 2000, block_time: 1 };
const KEEPER_BIN = path.join(ROOT, 'target', 'release', 'tabchain-keeper');

/** Resident memory (KiB) and CPU time (ms) of process `pid`. */
function usage(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssKiB: rss, cpuMs: (ticks * 1000) / 100 };
}

async function kept(server, room) {
  const res = await httpGet(server.port, `/rooms/${room}/chain?block_time=${RULES.block_time}&difficulty=${RULES.difficulty}`);
  return res.status === 200 ? JSON.parse(res.body.toString()) : null;
}

async function openTab(browser, server, room, label) {
  const context = await newContext(browser, server.origin);
  const page = await context.newPage();
  const tab = new Tab(page, label);
  const started = Date.now();
  await tab.goto(tabUrl(server.origin, { room, difficulty: RULES.difficulty, params: { block_time: RULES.block_time } }));
  tab.watch();
  return { tab, context, started };
}

const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tabchain-keeper-bench-'));
const server = await startSignal({ args: ['--keep', '--data', data] });
const browser = await launchBrowser();
try {
  const pid = server.proc.pid;
  await new Promise((ok) => setTimeout(ok, 2000));
  const idle = usage(pid);
  const rooms = [];
  for (let i = 0; i < ROOMS; i++) {
    const room = uniqueRoom(`bench${i}`);
    const { tab, context } = await openTab(browser, server, room, `loader${i}`);
    const loaded = await tab.loadChainFile(makeChainFile(room, BLOCKS, RULES));
    if (loaded.state !== 'done') throw new Error(loaded.text);
    const synced = Date.now();
    await waitFor(async () => (await kept(server, room))?.height === BLOCKS, { timeout: 120_000, what: `the keeper of ${room} at ${BLOCKS}` });
    log(`keeper of room ${i + 1} synced ${BLOCKS} blocks from a tab in ${secs(Date.now() - synced)}`);
    await context.close();
    rooms.push(room);
  }
  await new Promise((ok) => setTimeout(ok, 3000));
  const before = usage(pid);
  await new Promise((ok) => setTimeout(ok, 20_000));
  const after = usage(pid);
  const perRoomKiB = (after.rssKiB - idle.rssKiB) / ROOMS;
  const cpuPct = ((after.cpuMs - before.cpuMs) / 20_000) * 100;

  const { tab, context, started } = await openTab(browser, server, rooms[0], 'fresh');
  await waitFor(() => tab.last?.height === BLOCKS, { timeout: 120_000, what: 'the fresh tab at the kept tip' });
  const served = Date.now() - started;
  const nativeText = execFileSync(KEEPER_BIN, ['--hashrate']).toString();
  const native = Number(/^(\d+)/.exec(nativeText)[1]);
  await tab.setMining(true);
  await new Promise((ok) => setTimeout(ok, 10_000));
  const wasm = tab.last.hps;
  await tab.setMining(false);
  await context.close();

  log('--- keeper figures ---');
  log(`server with no room kept: ${(idle.rssKiB / 1024).toFixed(1)} MiB RSS`);
  log(`per kept room of ${BLOCKS} blocks: ${(perRoomKiB / 1024).toFixed(1)} MiB RSS, ${(cpuPct / ROOMS).toFixed(2)} % of a core idle`);
  log(`a fresh tab got ${BLOCKS} blocks from the keeper alone in ${secs(served)} (page load included): ${Math.round((BLOCKS * 1000) / served)} blocks/s`);
  log(`hashrate, one core: native ${(native / 1e6).toFixed(1)} MH/s, wasm worker ${(wasm / 1e6).toFixed(1)} MH/s: native/wasm ${(native / wasm).toFixed(2)}`);
} finally {
  await browser.close();
  await server.stop();
  fs.rmSync(data, { recursive: true, force: true });
}
