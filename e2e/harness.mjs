// The browser end-to-end harness: a signaling server (or a plain static file server),
// headless Chromium driven by playwright-core, tabs that open the built page, and
// helpers that read the page's test ids and wait for conditions with a deadline.
//
// Run the tests inside a private network namespace, where 127.0.0.1 is the only address:
//
//     unshare --net sh -c 'ip link set lo up && node --test --test-concurrency=1 e2e/*.test.mjs'
//
// Needs dist/ (trunk build --release) and target/release/tabchain-signaling. Never
// downloads a browser: Chromium is /usr/bin/chromium (or $CHROMIUM).
//
// Environment: E2E_DIST=<dir> serves another build of the site; E2E_CONSOLE=all forwards
// every console message of the pages (default: errors and warnings); E2E_SERVER_LOG=1
// prints the signaling server's log.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// $E2E_DIST serves another build of the site (e.g. a debug build) instead of dist/.
export const DIST = process.env.E2E_DIST ? path.resolve(process.env.E2E_DIST) : path.join(ROOT, 'dist');
export const SIGNALING_BIN = path.join(ROOT, 'target', 'release', 'tabchain-signaling');
export const CHAIN_FILE_BIN = path.join(ROOT, 'target', 'release', 'chain-file');
export const ARTIFACTS = path.join(ROOT, 'e2e', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Expected hashes per block in the tests: blocks come fast, but not instantly. */
export const DIFFICULTY = 20000;
/** Base units per coin, and a block's reward in base units. */
export const COIN = 1000;
export const BLOCK_REWARD = 50 * COIN;

// Repeated --disable-features flags do not merge (the last one wins), and playwright
// passes its own list; ours comes last, so it repeats playwright's (1.65) list and adds
// WebRtcHideLocalIpsWithMdns, without which WebRTC hides 127.0.0.1 behind an mDNS name.
const DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'WebRtcHideLocalIpsWithMdns',
];

/** Headless Chromium that reaches for nothing on its own (no updates, sync or QUIC). */
export const BASE_CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium flags with which tabs link over WebRTC on 127.0.0.1 and nothing else. */
export const CHROMIUM_ARGS = [
  ...BASE_CHROMIUM_ARGS,
  '--allow-loopback-in-peer-connection',
  `--disable-features=${DISABLED_FEATURES.join(',')}`,
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

const T0 = Date.now();
/** A log line with the seconds since this process started. */
export function log(...args) {
  const s = ((Date.now() - T0) / 1000).toFixed(3).padStart(8);
  console.log(`[${s}]`, ...args);
}

// ---------------------------------------------------------------------------------
// Ports and processes

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** GET http://127.0.0.1:port/path; resolves with { status, body } or rejects. */
export function httpGet(port, urlPath, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: timed out`)));
    req.on('error', reject);
  });
}

/**
 * The signaling server serving dist/ on 127.0.0.1:port. `stop()` sends SIGTERM and waits
 * for the exit; `start()` again binds the same port.
 */
export class SignalServer {
  constructor({ port, staticDir = DIST, args = [], name = 'signal' } = {}) {
    this.port = port;
    this.staticDir = staticDir;
    this.args = args;
    this.name = name;
    this.proc = null;
    this.output = [];
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  get running() {
    return this.proc !== null;
  }

  async start({ timeoutMs = 15000 } = {}) {
    if (this.proc) throw new Error('signaling server already running');
    if (!fs.existsSync(SIGNALING_BIN)) {
      throw new Error(`${SIGNALING_BIN} is missing: cargo build --release -p tabchain-signaling`);
    }
    this.port ??= await freePort();
    const deadline = Date.now() + timeoutMs;
    // The port may still be held for a moment after a stop; retry until the deadline.
    for (;;) {
      const proc = this.#spawn();
      const up = await this.#waitHealthy(proc, deadline);
      if (up === true) {
        this.proc = proc;
        log(`${this.name}: listening on ${this.origin} (pid ${proc.pid})`);
        return this;
      }
      if (Date.now() >= deadline) {
        proc.kill('SIGKILL');
        throw new Error(
          `signaling server did not become healthy on port ${this.port}: ${up}\n` +
            this.output.slice(-20).join(''),
        );
      }
      await sleep(100);
    }
  }

  #spawn() {
    const proc = spawn(
      SIGNALING_BIN,
      ['--static', this.staticDir, '--bind', `127.0.0.1:${this.port}`, ...this.args],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' } },
    );
    proc.exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
    const keep = (chunk) => {
      this.output.push(chunk.toString());
      if (this.output.length > 500) this.output.splice(0, 100);
      if (process.env.E2E_SERVER_LOG) process.stderr.write(`[${this.name}] ${chunk}`);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    return proc;
  }

  async #waitHealthy(proc, deadline) {
    let exited = null;
    proc.exited.then((e) => (exited = e));
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (exited) return `exited (${JSON.stringify(exited)})`;
      try {
        const res = await httpGet(this.port, '/healthz', 1000);
        if (res.status === 200) return true;
        last = `GET /healthz: ${res.status}`;
      } catch (err) {
        last = err.message;
      }
      await sleep(25);
    }
    proc.kill('SIGKILL');
    await proc.exited;
    return last;
  }

  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`). */
  async stop({ graceMs = 5000 } = {}) {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    const { code, sig } = await proc.exited;
    clearTimeout(timer);
    log(`${this.name}: stopped (exit ${code ?? sig})`);
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  /** SIGKILL: the process gets no chance to close or flush anything. */
  async kill() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    proc.kill('SIGKILL');
    await proc.exited;
    log(`${this.name}: killed`);
  }
}

/** Starts a signaling server on a free port (or the given one). */
export async function startSignal(opts = {}) {
  return new SignalServer(opts).start();
}

/**
 * A chain file of `room` with `blocks` blocks under `rules` ({ difficulty, block_time }),
 * made by the chain-file tool as a teacher would; returns its path.
 */
export function makeChainFile(room, blocks, rules) {
  if (!fs.existsSync(CHAIN_FILE_BIN)) {
    throw new Error(`${CHAIN_FILE_BIN} is missing: cargo build --release -p tabchain-web --bin chain-file`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabchain-chain-'));
  const out = path.join(dir, `${room}.tabchain`);
  const args = ['--room', room, '--blocks', String(blocks), '--out', out];
  if (rules.difficulty !== undefined) args.push('--difficulty', String(rules.difficulty));
  if (rules.block_time !== undefined) args.push('--block-time', String(rules.block_time));
  execFileSync(CHAIN_FILE_BIN, args);
  return out;
}

// ---------------------------------------------------------------------------------
// A plain static file server: dist/ without the signaling endpoint (no /ws).

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

export class StaticServer {
  constructor({ dir = DIST, port } = {}) {
    this.dir = path.resolve(dir);
    this.port = port;
    this.server = null;
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    this.server = http.createServer((req, res) => this.#handle(req, res));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
    log(`static: serving ${this.dir} on ${this.origin}`);
    return this;
  }

  #handle(req, res) {
    const send = (status, body, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(400, 'bad path\n');
    }
    let file = path.resolve(this.dir, '.' + rel);
    if (file !== this.dir && !file.startsWith(this.dir + path.sep)) return send(404, 'not found\n');
    try {
      if (fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
      const body = fs.readFileSync(file);
      const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      send(404, 'not found\n');
    }
  }

  async stop() {
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
}

export async function startStatic(opts = {}) {
  return new StaticServer(opts).start();
}

// ---------------------------------------------------------------------------------
// Chromium

function launchOptions(extra = {}) {
  return { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ...extra };
}

/** A headless Chromium process. */
export async function launchBrowser(extra = {}) {
  return chromium.launch(launchOptions(extra));
}

/**
 * A Chromium process whose pid we know, so a test can kill it like a crash would:
 * playwright starts it as a browser server and connects to it. `kill()` sends SIGKILL to
 * its whole process group (the browser and its renderer, GPU and network processes);
 * `freeze()` sends SIGSTOP to the group (call `kill()` before `close()` then).
 */
export async function launchKillableBrowser(extra = {}) {
  const server = await chromium.launchServer(launchOptions(extra));
  const browser = await chromium.connect(server.wsEndpoint());
  const pid = server.process().pid;
  return {
    browser,
    server,
    pid,
    kill() {
      signalGroup(pid, 'SIGKILL');
    },
    /** SIGSTOP to the whole group: the browser hangs, its sockets stay open. */
    freeze() {
      signalGroup(pid, 'SIGSTOP');
    },
    async close() {
      await browser.close().catch(() => {});
      await server.close().catch(() => {});
    },
  };
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal); // playwright starts the browser as a process group leader
  } catch {
    process.kill(pid, signal);
  }
}

/** A fresh browser context (its own profile: storage, IndexedDB, BroadcastChannel). */
export async function newContext(browser, origin) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Without a media permission Chromium gathers no loopback ICE candidates.
  await context.grantPermissions(['microphone'], { origin });
  return context;
}

/** A unique room name (1-64 of [A-Za-z0-9_-]). */
export function uniqueRoom(prefix) {
  const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  return `${prefix}-${tag}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
}

export function tabUrl(base, { room, difficulty = DIFFICULTY, workers = 1, signal, params = {} } = {}) {
  const url = new URL('/', base);
  if (room !== undefined) url.searchParams.set('room', room);
  if (difficulty !== undefined) url.searchParams.set('difficulty', String(difficulty));
  if (workers !== undefined) url.searchParams.set('workers', String(workers));
  if (signal !== undefined) url.searchParams.set('signal', signal);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  return url.toString();
}

// What the page shows, read in one round trip.
function readPage() {
  const q = (id) => document.querySelector(`[data-testid="${id}"]`);
  const text = (el) => (el ? el.textContent.trim() : null);
  const num = (v) => (v === null || v === undefined || v === '' ? null : Number(v));
  const peers = [...document.querySelectorAll('[data-testid="peer-row"]')].map((row) => ({
    id: row.dataset.peerId ?? null,
    name: text(row.querySelector('.peer-name')),
    state: row.dataset.state ?? null,
    rtt: text(row.querySelector('[data-testid="peer-rtt"]')),
    path: text(row.querySelector('[data-testid="peer-path"]')),
    roles: row.querySelector('[data-testid="peer-roles"]')?.dataset.roles ?? null,
    reason: text(row.querySelector('[data-testid="peer-reason"]')),
  }));
  const relays = [...document.querySelectorAll('[data-testid="relay"]')].map((el) => ({
    url: el.dataset.url ?? null,
    state: el.dataset.state ?? null,
  }));
  const blocks = [...document.querySelectorAll('[data-testid="block-row"]')].map((row) => ({
    height: num(row.dataset.height),
    hash: row.dataset.hash ?? null,
    miner: text(row.querySelector('[data-testid="block-miner"]')),
  }));
  const signal = q('signal-status');
  const stored = q('stored-blocks');
  const toggle = q('mine-toggle');
  const rate = q('hashrate');
  const balance = q('wallet-balance');
  const send = q('send-status');
  return {
    t: Date.now(),
    origin: performance.timeOrigin,
    url: location.href,
    nodeId: text(q('node-id')),
    signal: signal ? (signal.dataset.state ?? null) : null,
    relays,
    peers,
    height: num(text(q('chain-height'))),
    blocks,
    tip: blocks.length ? blocks[0].hash : null,
    stored: stored ? { loaded: num(stored.dataset.loaded), corrupt: num(stored.dataset.corrupt) } : null,
    mining: toggle ? toggle.getAttribute('aria-pressed') === 'true' : null,
    hps: rate ? num(rate.dataset.hps) : null,
    hashrateText: text(rate),
    address: text(q('wallet-address')),
    balance: balance
      ? {
          confirmed: num(balance.dataset.confirmed),
          maturing: num(balance.dataset.maturing),
          pendingIn: num(balance.dataset.pendingIn),
          pendingOut: num(balance.dataset.pendingOut),
        }
      : null,
    send: send ? { state: send.dataset.state ?? null, message: text(send) } : null,
  };
}

/** Describes a snapshot in one line, for logs and failure messages. */
export function describe(s) {
  if (!s) return '(no snapshot)';
  const peers = s.peers.map((p) => `${(p.id ?? '?').slice(0, 6)}:${p.state}${p.reason ? `(${p.reason})` : ''}`);
  return (
    `id=${(s.nodeId ?? '?').slice(0, 8)} signal=${s.signal} height=${s.height} tip=${(s.tip ?? '-').slice(0, 10)} ` +
    `peers=[${peers.join(' ')}] mining=${s.mining} hps=${s.hps} stored=${JSON.stringify(s.stored)} ` +
    `balance=${JSON.stringify(s.balance)} send=${JSON.stringify(s.send)}`
  );
}

/**
 * One browser tab running the app. While `watch()`ing it reads the page every 25 ms:
 * `last` is the newest snapshot, and `firstSeen` holds, per event key, the page time
 * (ms since the epoch) when the event was first observed:
 *   `peer:<id>:<state>`, `block:<hash>` (any block row), `tip:<hash>`, `height:<n>`,
 *   `signal:<state>`, `relay:<url>:<state>`.
 * `peersEver` is every peer id any snapshot of this tab listed.
 */
export class Tab {
  constructor(page, label) {
    this.page = page;
    this.label = label;
    this.last = null;
    this.firstSeen = new Map();
    this.peersEver = new Set();
    this.events = [];
    this.errors = [];
    this.watching = false;
    this.closed = false;
    page.on('console', (msg) => {
      const type = msg.type();
      if (type === 'error' || type === 'warning' || process.env.E2E_CONSOLE === 'all') {
        const line = `${type}: ${msg.text()}`;
        if (type === 'error') this.errors.push(line);
        log(`[${this.label}] console.${line}`);
      }
    });
    page.on('pageerror', (err) => {
      this.errors.push(`pageerror: ${err.message}`);
      log(`[${this.label}] page error: ${err.stack ?? err.message}`);
    });
    page.on('crash', () => log(`[${this.label}] page crashed`));
    page.on('close', () => {
      this.closed = true;
      this.watching = false;
    });
  }

  async goto(url, { timeout = 30000 } = {}) {
    this.url = url;
    this.navStart = Date.now();
    await this.page.goto(url, { waitUntil: 'load', timeout });
    this.loadedAt = Date.now();
    return this;
  }

  async snapshot() {
    // A read still under way when `forget()` is called belongs to the page before it
    // (a reload, say): it must not count as the new page's.
    // Nor does a read of a document older than the latest `goto()`.
    const epoch = this.epoch;
    const s = await this.page.evaluate(readPage);
    const stale = epoch !== this.epoch || (this.navStart !== undefined && s.origin < this.navStart - 100);
    if (!stale) this.#record(s);
    return s;
  }

  #record(s) {
    this.last = s;
    const seen = (key) => {
      if (!this.firstSeen.has(key)) this.firstSeen.set(key, s.t);
    };
    for (const p of s.peers) {
      if (!p.id) continue;
      this.peersEver.add(p.id);
      seen(`peer:${p.id}:${p.state}`);
    }
    for (const b of s.blocks) if (b.hash) seen(`block:${b.hash}`);
    if (s.tip) seen(`tip:${s.tip}`);
    if (s.height !== null) seen(`height:${s.height}`);
    if (s.signal) seen(`signal:${s.signal}`);
    for (const r of s.relays) seen(`relay:${r.url}:${r.state}`);
    this.#timeline(s);
  }

  // Changes of the peer list and the signal status, for failure reports.
  #timeline(s) {
    const live = new Map();
    const drops = new Map();
    for (const p of s.peers) {
      if (p.state === 'dropped') drops.set(p.id, [...(drops.get(p.id) ?? []), p.reason]);
      else live.set(p.id, p.state);
    }
    const prev = this.prevRows ?? { live: new Map(), drops: new Map(), signal: null };
    const add = (what) => this.events.push({ t: s.t, what });
    if (s.signal !== prev.signal) add(`signal ${prev.signal} -> ${s.signal}`);
    for (const [id, state] of live) {
      if (prev.live.get(id) !== state) add(`peer ${id.slice(0, 8)} ${prev.live.get(id) ?? 'new'} -> ${state}`);
    }
    for (const id of prev.live.keys()) if (!live.has(id)) add(`peer ${id.slice(0, 8)} no longer live`);
    for (const [id, reasons] of drops) {
      for (const reason of reasons.slice((prev.drops.get(id) ?? []).length)) {
        add(`peer ${id.slice(0, 8)} dropped: ${reason}`);
      }
    }
    this.prevRows = { live, drops, signal: s.signal };
    if (this.events.length > 2000) this.events.splice(0, 500);
  }

  /** The timeline of peer and signal changes, relative to `since` (default: navigation start). */
  timeline(since = this.navStart) {
    return this.events.map((e) => `${((e.t - since) / 1000).toFixed(3).padStart(8)} s  ${e.what}`).join('\n');
  }

  /** Starts reading the page every `intervalMs` in the background. */
  watch(intervalMs = 25) {
    if (this.watching) return this;
    this.watching = true;
    const loop = async () => {
      while (this.watching && !this.closed) {
        try {
          await this.snapshot();
        } catch {
          // navigating, closed or crashed: try again next round
        }
        await sleep(intervalMs);
      }
    };
    this.loop = loop();
    return this;
  }

  async unwatch() {
    this.watching = false;
    await this.loop;
  }

  /** Clears what was seen, e.g. before a reload. */
  forget() {
    this.epoch = (this.epoch ?? 0) + 1;
    this.last = null;
    this.prevRows = null;
    this.firstSeen.clear();
  }

  // Shortcuts on the newest snapshot.
  get nodeId() {
    return this.last?.nodeId ?? null;
  }
  peers(state) {
    const rows = this.last?.peers ?? [];
    return state ? rows.filter((p) => p.state === state) : rows;
  }
  /** The set of ids listed with the given state. */
  peerIds(state) {
    return new Set(this.peers(state).map((p) => p.id));
  }
  hasPeer(id, state) {
    return this.peers(state).some((p) => p.id === id);
  }

  // Actions.
  async setMining(on, { timeout = 10000 } = {}) {
    const toggle = this.page.locator('[data-testid="mine-toggle"]');
    if ((await toggle.getAttribute('aria-pressed')) !== String(on)) await toggle.click();
    await this.page.waitForFunction(
      (want) => document.querySelector('[data-testid="mine-toggle"]')?.getAttribute('aria-pressed') === want,
      String(on),
      { timeout, polling: 25 },
    );
  }

  async send(to, coins) {
    await this.page.fill('[data-testid="send-to"]', to);
    await this.page.fill('[data-testid="send-amount"]', String(coins));
    await this.page.click('[data-testid="send-button"]');
  }

  /** Loads a chain file through the chain panel; resolves with { state, text } once the
   *  panel says how that file went (`done` or `refused`). */
  async loadChainFile(file, { timeout = 60_000 } = {}) {
    await this.page.locator('[data-testid="load-chain"]').setInputFiles(file);
    const name = path.basename(file);
    const { value } = await waitFor(
      async () => {
        // State and text in one read: between two reads the page may move on from an
        // earlier file's verdict to this one's.
        const status = await this.page.evaluate(() => {
          const el = document.querySelector('[data-testid="import-status"]');
          return el ? { state: el.dataset.state, text: el.textContent.trim() } : null;
        });
        if (!status) return null;
        const { state, text } = status;
        const finished = text.startsWith(`${name}:`) && (state === 'done' || state === 'refused');
        return finished ? { state, text } : null;
      },
      { timeout, what: `${this.label} to finish loading ${name}` },
    );
    return value;
  }

  /** The height up to which the chain panel says the chain is stored. */
  async storedHeight() {
    return Number(await this.page.locator('[data-testid="stored-height"]').getAttribute('data-height'));
  }

  async screenshot(name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  async close({ runBeforeUnload = true } = {}) {
    this.watching = false;
    await this.page.close({ runBeforeUnload });
    // with runBeforeUnload the call returns before the tab is gone
    if (!this.closed) await this.page.waitForEvent('close', { timeout: 10000 }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------
// Waiting

/**
 * Calls `check` every `interval` ms until it returns a truthy value, and resolves with
 * `{ value, elapsed }` (ms since the call). After `timeout` ms it throws, naming `what`
 * and, if given, the result of `explain()`.
 */
export async function waitFor(check, { timeout = 10000, interval = 25, what = 'condition', explain } = {}) {
  const start = Date.now();
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return { value, elapsed: Date.now() - start };
    } catch (err) {
      lastError = err;
    }
    if (Date.now() - start > timeout) {
      let detail = lastError ? `\nlast error: ${lastError.message}` : '';
      if (explain) detail += `\n${await explain()}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

/** The snapshots of `tabs`, one line each. */
export function describeTabs(tabs) {
  return tabs.map((t) => `  ${t.label}: ${describe(t.last)}`).join('\n');
}

// ---------------------------------------------------------------------------------
// One test's world: a server, browsers, contexts and tabs, all closed at the end.

export class World {
  constructor(name) {
    this.name = name;
    this.tabs = [];
    this.browsers = [];
    this.contexts = [];
    this.servers = [];
    this.cleanups = [];
    this.count = 0;
  }

  /** Starts a world with a signaling server (`server: 'signal'`, default), a static server
   *  (`server: 'static'`) or none, and one Chromium. */
  static async start(name, { server = 'signal' } = {}) {
    const world = new World(name);
    try {
      if (server === 'signal') world.server = await world.addServer(await startSignal());
      else if (server === 'static') world.server = await world.addServer(await startStatic());
      world.browser = await launchBrowser();
      world.browsers.push(world.browser);
      log(`${name}: chromium ${world.browser.version()}`);
    } catch (err) {
      await world.close();
      throw err;
    }
    return world;
  }

  async addServer(server) {
    this.servers.push(server);
    return server;
  }

  get origin() {
    return this.server.origin;
  }

  async newContext(browser = this.browser, origin = this.origin) {
    const context = await newContext(browser, origin);
    this.contexts.push(context);
    return context;
  }

  /**
   * Opens a tab. `context`: a context to share (same profile), else a new one in
   * `browser`. The other options go to `tabUrl` (difficulty, workers, signal, params).
   * Returns the Tab, loaded and being watched.
   */
  async openTab({ room, context, browser = this.browser, label, base = this.origin, watch = true, ...opts } = {}) {
    context ??= await this.newContext(browser, base);
    const page = await context.newPage();
    const tab = new Tab(page, label ?? `tab${++this.count}`);
    tab.context = context;
    this.tabs.push(tab);
    await tab.goto(tabUrl(base, { room, ...opts }));
    if (watch) tab.watch();
    return tab;
  }

  /** Saves a screenshot of every open tab, named after the test. */
  async screenshots(suffix) {
    const files = [];
    for (const tab of this.tabs) {
      if (tab.closed) continue;
      try {
        files.push(await tab.screenshot(`${this.name}-${suffix}-${tab.label}`));
      } catch {
        // a crashed or dead tab
      }
    }
    return files;
  }

  /**
   * Runs `body(world)`; on failure logs every tab's state and its console errors and saves
   * screenshots, then rethrows. Always closes everything.
   */
  async run(body) {
    try {
      return await body(this);
    } catch (err) {
      log(`${this.name}: FAILED: ${err.message}`);
      for (const tab of this.tabs) {
        if (!tab.closed) await tab.snapshot().catch(() => {});
      }
      log(`${this.name}: tabs at failure:\n${describeTabs(this.tabs)}`);
      for (const tab of this.tabs) {
        log(`${tab.label} (${tab.nodeId ?? '?'}) timeline since its navigation start:\n${tab.timeline()}`);
        if (tab.errors.length) log(`${tab.label} errors:\n  ${tab.errors.slice(-20).join('\n  ')}`);
      }
      const files = await this.screenshots('failure');
      if (files.length) log(`screenshots: ${files.join(', ')}`);
      throw err;
    } finally {
      await this.close();
    }
  }

  async close() {
    for (const tab of this.tabs) tab.watching = false;
    for (const fn of this.cleanups.reverse()) await fn().catch(() => {});
    for (const browser of this.browsers) await browser.close().catch(() => {});
    for (const server of this.servers) await server.stop().catch(() => {});
  }
}

/** ms → "0.123 s" */
export function secs(ms) {
  return `${(ms / 1000).toFixed(3)} s`;
}

// ---------------------------------------------------------------------------------
// Conditions several tests share

const ID = /^[0-9a-f]{32}$/;
const HASH = /^[0-9a-f]{64}$/;

/** Waits until every tab shows its 32-hex node id; returns the ids. */
export async function nodeIds(tabs, { timeout = 30000 } = {}) {
  await waitFor(() => tabs.every((t) => ID.test(t.nodeId ?? '')), {
    timeout,
    what: 'every tab to show its node id',
    explain: () => describeTabs(tabs),
  });
  return tabs.map((t) => t.nodeId);
}

/**
 * Waits until every tab lists every other tab of `tabs` as `connected`. Resolves with
 * `{ elapsed, at }`, where `at[i]` is when tab i first showed its last missing link.
 */
export async function waitForMesh(tabs, { timeout = 30000 } = {}) {
  await nodeIds(tabs, { timeout });
  const { elapsed } = await waitFor(
    () => tabs.every((t) => tabs.every((o) => o === t || t.hasPeer(o.nodeId, 'connected'))),
    { timeout, what: `a full mesh of ${tabs.length} tabs`, explain: () => describeTabs(tabs) },
  );
  const at = tabs.map((t) =>
    Math.max(...tabs.filter((o) => o !== t).map((o) => t.firstSeen.get(`peer:${o.nodeId}:connected`))),
  );
  return { elapsed, at };
}

/** Waits until every tab shows `tip` as its newest block (at `height` if given). */
export async function waitForTip(tabs, tip, { height, timeout = 30000 } = {}) {
  assertHash(tip);
  return waitFor(
    () => tabs.every((t) => t.last?.tip === tip && (height === undefined || t.last.height === height)),
    {
      timeout,
      what: `every tab to show tip ${tip.slice(0, 12)}${height === undefined ? '' : ` at height ${height}`}`,
      explain: () => describeTabs(tabs),
    },
  );
}

/**
 * Mines in `miner` until `until(miner.last)` holds, then stops, and waits until the
 * miner's tip has not changed for `quietMs`. Returns the miner's snapshot then.
 */
export async function mineUntil(miner, until, { timeout = 60000, quietMs = 500, what = 'mining' } = {}) {
  await miner.setMining(true);
  try {
    await waitFor(() => miner.last && until(miner.last), {
      timeout,
      what: `${miner.label} ${what}`,
      explain: () => describeTabs([miner]),
    });
  } finally {
    await miner.setMining(false);
  }
  return settle(miner, { quietMs });
}

/** Waits until the tab's tip and height have not changed for `quietMs`; returns the snapshot. */
export async function settle(tab, { quietMs = 500, timeout = 30000 } = {}) {
  let key = null;
  let since = Date.now();
  await waitFor(
    () => {
      const k = `${tab.last?.height}/${tab.last?.tip}`;
      if (k !== key) {
        key = k;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    { timeout, what: `${tab.label}'s tip to settle` },
  );
  return tab.last;
}

export function assertHash(hash) {
  if (!HASH.test(hash ?? '')) throw new Error(`not a 64-hex block hash: ${hash}`);
}

// ---------------------------------------------------------------------------------
// Figures the benches share

/** The median of `xs` (NaN for none). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Proportional set size of every process in the process group `pgid` (a browser and
 *  its children), in bytes. */
export function groupPss(pgid) {
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
