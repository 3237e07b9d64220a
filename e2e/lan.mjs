// Separate network hosts on this machine, for the tests across a LAN (e2e/lan-*.test.mjs):
// a server host `srv` (10.N.0.1) running the signaling server (and its TURN server), and
// "laptop" hosts (10.N.0.2, .3, ...), each running its own Chromium. Each host is a
// network namespace with one interface, `e0`, one end of a veth pair whose other end is
// a port of a bridge that lives in a namespace of its own (the switch). Nothing is added
// to the machine's own namespace, and a new namespace does not forward, so nothing leaves
// the machine: `Lan.create` checks that (see `checkContained`).
//
// The page is served from the server host's address, which is not a secure context, and
// Chromium runs with its default WebRTC behaviour (host candidates hidden behind mDNS
// names, no loopback), unlike the loopback tests of harness.mjs. It keeps the flags that
// stop it from reaching the internet, and resolves no name at all.
//
// Scenarios: `isolate` cuts the laptops off from each other (they still reach the
// server host), the Wi-Fi client isolation of a school network: 'switch' drops frames
// between their switch ports silently, as an access point does; 'blackhole' (or `true`)
// and 'unreachable' put a route of that type on each laptop. Mind the difference: a send
// over a blackhole route fails with EINVAL, which Chromium's network service takes for a
// fatal socket error (socket_udp.cc logs "Error when sending data in UDP socket: -4")
// and closes the UDP socket that the host, STUN and UDP TURN candidates of a connection
// share; EHOSTUNREACH (unreachable) and EACCES (prohibit) are transient to it. So with
// blackhole routes the first connectivity check towards the other laptop kills UDP TURN
// as well, and only TURN over TCP can carry the link. `blockUdp: true` forbids UDP into
// and out of the laptops (a firewall that lets only TCP through), with policy routing
// rules.
//
// Needs root (CI runs as root), iproute2, coturn, dist/ (trunk build --release),
// target/release/tabchain-signaling and /usr/bin/chromium. It builds its own isolated
// namespaces, so it needs no `unshare --net` around it (and works inside one too).
//
// Everything is torn down by `close()`: the processes running in the namespaces (killed
// by pid), the namespaces, and with them the veth pairs and the bridge. A crash of the
// test process still removes them (an exit hook), and a later run removes what a killed
// run (SIGKILL) left behind: namespace names carry the pid of the process that made them.
//
// Environment: E2E_SERVER_LOG=1 prints the server's (and TURN server's) output.

import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { BASE_CHROMIUM_ARGS, CHROMIUM, DIST, SIGNALING_BIN, Tab, describeTabs, log, secs, tabUrl, waitFor, waitForMesh } from './harness.mjs';

const run = promisify(execFile);

/** Namespace names of this harness: `tcl<pid>-<tag>-<host>`. */
const PREFIX = 'tcl';
const NAME = /^tcl(\d+)-[a-z0-9]+-[a-z0-9]+$/;

/** The TURN server's port on the server host (the standard one). */
export const TURN_PORT = 3478;
/** The signaling server's port on the server host. */
export const SIGNAL_PORT = 8080;

/** `ip args...`; rejects with ip's stderr. */
async function ip(...args) {
  try {
    const { stdout } = await run('ip', args, { maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function namespaces() {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(' ')[0])
      .filter(Boolean);
  } catch {
    return [];
  }
}

function nsPids(ns) {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Kills every process in the namespaces (by pid) and deletes them. Synchronous, for exit hooks. */
function removeNamespacesSync(names) {
  for (let round = 0; round < 20; round++) {
    const pids = names.flatMap(nsPids);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    execFileSync('sleep', ['0.05']);
  }
  for (const ns of names) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // gone already
    }
  }
}

/** Removes namespaces a killed earlier run of this harness left behind. */
function removeLeftovers() {
  const stale = namespaces().filter((ns) => {
    const m = NAME.exec(ns);
    return m && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  if (stale.length) {
    log(`lan: removing namespaces left by a dead run: ${stale.join(' ')}`);
    removeNamespacesSync(stale);
  }
}

const live = new Set();
let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const lan of live) lan.closeSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      for (const lan of live) lan.closeSync();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

/** Chromium's flags on a laptop host: default WebRTC (mDNS host candidates), nothing
 *  reaching the internet, no name resolved but the server's address. */
export function lanChromiumArgs(serverIp) {
  return [...BASE_CHROMIUM_ARGS, `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${serverIp}`];
}

/** A child process running in a host's namespace, with its output kept. */
class HostProcess {
  constructor(lan, host, name, argv, env = {}) {
    this.name = name;
    this.output = [];
    this.listeners = new Set();
    // `ip netns exec` execs the program, so the pid is the program's; detached makes it a
    // process group leader, so its children (coturn under the server) die with it.
    this.proc = spawn('ip', ['netns', 'exec', lan.ns(host), ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...env },
    });
    this.pid = this.proc.pid;
    this.exit = null;
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, sig) => {
        this.exit = { code, sig };
        resolve(this.exit);
      }),
    );
    let partial = '';
    const keep = (chunk) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop();
      for (const line of lines) {
        this.output.push(line);
        if (process.env.E2E_SERVER_LOG) process.stderr.write(`[${name}] ${line}\n`);
        for (const fn of this.listeners) fn(line);
      }
      if (this.output.length > 20000) this.output.splice(0, 5000);
    };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
  }

  /** Calls fn(line) for every line of output from now on; returns an unsubscribe function. */
  onLine(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  tail(n = 30) {
    return this.output.slice(-n).join('\n');
  }

  /** SIGTERM to the group, then SIGKILL after `graceMs`; waits for the exit. */
  async stop({ graceMs = 3000 } = {}) {
    if (this.exit) return this.exit;
    const kill = (sig) => {
      try {
        process.kill(-this.pid, sig);
      } catch {
        try {
          process.kill(this.pid, sig);
        } catch {
          // gone
        }
      }
    };
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    kill('SIGKILL'); // whatever of the group outlived its leader
    return exit;
  }
}

/**
 * A LAN of network hosts: `srv` and the laptops. Create with `Lan.create`, always
 * `close()` (or use `Lan.run`).
 */
export class Lan {
  /**
   * laptops: their names (1-6 of [a-z0-9]); isolate: cut the laptops off from each
   * other ('switch', 'blackhole' or true, 'unreachable': see `isolateLaptops`);
   * blockUdp: no UDP in or out of the laptops.
   */
  static async create({ laptops = ['la', 'lb'], isolate = false, blockUdp = false } = {}) {
    if (process.getuid?.() !== 0) throw new Error('the LAN tests need root (network namespaces)');
    hookExit();
    removeLeftovers();
    const lan = new Lan(laptops);
    live.add(lan);
    try {
      await lan.#build();
      if (isolate) await lan.isolateLaptops(isolate === true ? 'blackhole' : isolate);
      if (blockUdp) for (const host of laptops) await lan.blockUdp(host);
      await lan.checkContained();
    } catch (err) {
      await lan.close();
      throw err;
    }
    return lan;
  }

  /** Creates a LAN, runs `body(lan)`, and tears it all down whatever happens. */
  static async run(options, body) {
    const lan = await Lan.create(options);
    try {
      return await body(lan);
    } finally {
      await lan.close();
    }
  }

  constructor(laptops) {
    this.tag = Math.floor(Math.random() * 36 ** 5).toString(36);
    this.octet = 64 + Math.floor(Math.random() * 190);
    this.laptops = laptops;
    this.hosts = ['srv', ...laptops];
    this.switchNs = `${PREFIX}${process.pid}-${this.tag}-sw`;
    this.made = []; // namespaces created so far
    this.processes = [];
    this.browsers = [];
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tabchain-lan-${this.tag}-`));
    this.closed = false;
  }

  /** The namespace of a host. */
  ns(host) {
    if (!this.hosts.includes(host)) throw new Error(`no host ${host}`);
    return `${PREFIX}${process.pid}-${this.tag}-${host}`;
  }

  /** A host's address. */
  ip(host) {
    return `10.${this.octet}.0.${this.hosts.indexOf(host) + 1}`;
  }

  get serverIp() {
    return this.ip('srv');
  }

  /** The switch port (in the switch namespace) of a host. */
  port(host) {
    return `p${this.hosts.indexOf(host) + 1}`;
  }

  async #build() {
    await ip('netns', 'add', this.switchNs);
    this.made.push(this.switchNs);
    const sw = ['-n', this.switchNs];
    await ip(...sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ip(...sw, 'link', 'set', 'br0', 'up');
    for (const host of this.hosts) {
      const ns = this.ns(host);
      await ip('netns', 'add', ns);
      this.made.push(ns);
      await ip(...sw, 'link', 'add', this.port(host), 'type', 'veth', 'peer', 'name', 'e0', 'netns', ns);
      await ip(...sw, 'link', 'set', this.port(host), 'master', 'br0', 'up');
      await ip('-n', ns, 'addr', 'add', `${this.ip(host)}/24`, 'dev', 'e0');
      await ip('-n', ns, 'link', 'set', 'e0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      // The server host is the laptops' gateway, as on a LAN (it forwards nothing).
      if (host !== 'srv') await ip('-n', ns, 'route', 'add', 'default', 'via', this.serverIp);
    }
    log(`lan ${this.tag}: ${this.hosts.map((h) => `${h}=${this.ip(h)}`).join(' ')} (namespaces ${this.ns('srv')}, ...)`);
  }

  /**
   * Cuts the laptops off from each other; they still reach the server host.
   * - 'blackhole' (the default): a blackhole route to every other laptop on each laptop.
   *   A send to a blackholed address fails at once with EINVAL, and Chromium then closes
   *   the UDP socket it sent from (see the top of this file).
   * - 'unreachable': an unreachable route instead (a send fails with EHOSTUNREACH).
   * - 'switch': the laptops' switch ports are isolated (the bridge's port isolation, as a
   *   Wi-Fi access point's client isolation does it): frames between them are dropped
   *   silently, and the laptops' sends succeed.
   */
  async isolateLaptops(how = 'blackhole') {
    if (how === 'switch') {
      for (const host of this.laptops) {
        await run('bridge', ['-n', this.switchNs, 'link', 'set', 'dev', this.port(host), 'isolated', 'on']);
      }
    } else if (how === 'blackhole' || how === 'unreachable') {
      for (const a of this.laptops) {
        for (const b of this.laptops) {
          if (a !== b) await ip('-n', this.ns(a), 'route', 'add', how, `${this.ip(b)}/32`);
        }
      }
    } else {
      throw new Error(`isolateLaptops: unknown way ${how}`);
    }
    this.isolated = how;
    log(`lan ${this.tag}: laptops isolated from each other (${how})`);
  }

  /**
   * No UDP in or out of `host` (loopback excepted). Policy routing: incoming UDP is
   * prohibited before the local table is consulted (the local rule moves from priority 0
   * to 100), outgoing UDP to any address not local to the host after it.
   */
  async blockUdp(host) {
    const n = ['-n', this.ns(host)];
    await ip(...n, 'rule', 'add', 'pref', '10', 'iif', 'e0', 'ipproto', 'udp', 'prohibit');
    await ip(...n, 'rule', 'add', 'pref', '100', 'lookup', 'local');
    await ip(...n, 'rule', 'del', 'pref', '0');
    await ip(...n, 'rule', 'add', 'pref', '1000', 'ipproto', 'udp', 'prohibit');
    log(`lan ${this.tag}: UDP blocked on ${host}`);
  }

  /** Runs a command on a host; resolves with { code, stdout, stderr } (never rejects). */
  async exec(host, argv, { timeoutMs = 10000 } = {}) {
    try {
      const { stdout, stderr } = await run('ip', ['netns', 'exec', this.ns(host), ...argv], {
        timeout: timeoutMs,
        maxBuffer: 16 << 20,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      return { code: err.code ?? err.signal ?? 'error', stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
    }
  }

  /** A TCP connection from `host` to ip:port: 'open', or the error bash reports. */
  async tcpProbe(host, addr, port, { timeoutSec = 2 } = {}) {
    const r = await this.exec(host, ['timeout', String(timeoutSec), 'bash', '-c', `exec 3<>/dev/tcp/${addr}/${port}`]);
    if (r.code === 0) return 'open';
    if (r.code === 124) return 'timed out';
    return r.stderr.trim().split('\n').pop() || `exit ${r.code}`;
  }

  /** Sends one UDP datagram from `from` to `to`:port and reports whether it arrived. */
  async udpProbe(from, to, port = 40000 + Math.floor(Math.random() * 20000)) {
    const listener = spawn(
      'ip',
      [
        'netns', 'exec', this.ns(to), process.execPath, '-e',
        `const s=require('dgram').createSocket('udp4');s.on('message',()=>{console.log('got');process.exit(0)});` +
          `s.bind(${port},'${this.ip(to)}',()=>console.log('bound'));setTimeout(()=>process.exit(3),1500)`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    listener.stdout.on('data', (c) => (out += c));
    const done = new Promise((resolve) => listener.on('exit', resolve));
    await waitFor(() => out.includes('bound'), { timeout: 5000, what: 'a UDP listener' });
    const sent = await this.exec(from, ['bash', '-c', `echo probe > /dev/udp/${this.ip(to)}/${port}`]);
    await done;
    return { sent: sent.code === 0, arrived: out.includes('got'), error: sent.stderr.trim() };
  }

  /**
   * Checks that nothing can leave the machine: no namespace of this LAN forwards, the
   * server host has no route beyond the LAN, every host has only lo and e0, the switch
   * only the bridge and its ports, and a connection to an outside address fails.
   */
  async checkContained() {
    const problems = [];
    for (const host of this.hosts) {
      const fwd = (await this.exec(host, ['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim();
      if (fwd !== '0') problems.push(`${host} forwards IPv4 (${fwd})`);
      const fwd6 = (await this.exec(host, ['cat', '/proc/sys/net/ipv6/conf/all/forwarding'])).stdout.trim();
      if (fwd6 !== '0') problems.push(`${host} forwards IPv6 (${fwd6})`);
      const links = JSON.parse(await ip('-n', this.ns(host), '-j', 'link', 'show')).map((l) => l.ifname);
      if (links.sort().join(',') !== 'e0,lo') problems.push(`${host} has interfaces ${links.join(',')}`);
    }
    const swLinks = JSON.parse(await ip('-n', this.switchNs, '-j', 'link', 'show')).map((l) => l.ifname);
    const want = ['br0', 'lo', ...this.hosts.map((h) => this.port(h))].sort();
    if (swLinks.sort().join(',') !== want.join(',')) problems.push(`the switch has interfaces ${swLinks.join(',')}`);
    const srvRoutes = JSON.parse(await ip('-n', this.ns('srv'), '-j', 'route', 'show')).map((r) => r.dst);
    if (srvRoutes.join(',') !== `10.${this.octet}.0.0/24`) problems.push(`srv routes: ${srvRoutes.join(',')}`);
    // An outside address (a public DNS server's) from the server host and from a laptop.
    const fromSrv = await this.tcpProbe('srv', '1.1.1.1', 443, { timeoutSec: 1 });
    if (fromSrv === 'open') problems.push('srv reached 1.1.1.1');
    const fromLaptop = await this.tcpProbe(this.laptops[0], '1.1.1.1', 443, { timeoutSec: 1 });
    if (fromLaptop === 'open') problems.push(`${this.laptops[0]} reached 1.1.1.1`);
    if (problems.length) throw new Error(`the LAN is not contained: ${problems.join('; ')}`);
    log(`lan ${this.tag}: contained (no forwarding; 1.1.1.1:443 from srv: ${fromSrv}, from ${this.laptops[0]}: ${fromLaptop})`);
  }

  // -------------------------------------------------------------------------------
  // Processes on the hosts

  /** Starts a program on a host (its output kept, killed at close). */
  spawn(host, name, argv, env) {
    const p = new HostProcess(this, host, name, argv, env);
    this.processes.push(p);
    return p;
  }

  /** Waits until host can open a TCP connection to addr:port. */
  async waitListening(host, addr, port, { timeout = 15000, proc } = {}) {
    await waitFor(
      async () => {
        if (proc?.exit) throw new Error(`${proc.name} exited (${JSON.stringify(proc.exit)}):\n${proc.tail()}`);
        return (await this.tcpProbe(host, addr, port, { timeoutSec: 1 })) === 'open';
      },
      { timeout, interval: 100, what: `${addr}:${port} to accept connections from ${host}`, explain: () => proc?.tail() ?? '' },
    );
  }

  /**
   * The signaling server on the server host, serving dist/ on srv:8080. `turn: true` adds
   * `--turn <srv>:3478` (the server runs its TURN server and hands tabs credentials).
   */
  async startSignal({ turn = false, args = [], rustLog = 'info', port = SIGNAL_PORT } = {}) {
    if (!fs.existsSync(SIGNALING_BIN)) throw new Error(`${SIGNALING_BIN} is missing: cargo build --release -p tabchain-signaling`);
    const argv = [SIGNALING_BIN, '--static', DIST, '--bind', `${this.serverIp}:${port}`];
    if (turn) argv.push('--turn', `${this.serverIp}:${TURN_PORT}`);
    argv.push(...args);
    const proc = this.spawn('srv', 'signal', argv, { RUST_LOG: rustLog });
    await this.waitListening(this.laptops[0], this.serverIp, port, { proc });
    if (turn) await this.waitListening(this.laptops[0], this.serverIp, TURN_PORT, { proc });
    this.signal = proc;
    this.origin = `http://${this.serverIp}:${port}`;
    log(`lan ${this.tag}: signaling server on ${this.origin}${turn ? ` with TURN on :${TURN_PORT}` : ''} (pid ${proc.pid})`);
    return proc;
  }

  /**
   * Debian's coturn on the server host, started by hand (long-term credentials, one
   * static user), for when the signaling server's --turn is not used.
   */
  async startCoturn({ user = 'u', password = 'p', secret, realm = 'r', verbose = true, logFile, args = [] } = {}) {
    // One static user, or with `secret` the TURN REST API credentials (HMAC of the username).
    const auth = secret
      ? ['--use-auth-secret', `--static-auth-secret=${secret}`]
      : ['--lt-cred-mech', `--user=${user}:${password}`];
    // stdbuf: coturn's log is block-buffered on a pipe, and lost when it is killed.
    const argv = [
      'stdbuf', '-oL', '-eL', '/usr/bin/turnserver', '-n', ...auth, `--realm=${realm}`,
      `--listening-ip=${this.serverIp}`, `--relay-ip=${this.serverIp}`, `--listening-port=${TURN_PORT}`,
      '--no-tls', '--no-dtls', '--no-cli', `--log-file=${logFile ?? 'stdout'}`, '--simple-log',
      `--pidfile=${path.join(this.tmp, 'turnserver.pid')}`,
      ...(verbose ? ['-V'] : []),
      ...args,
    ];
    const proc = this.spawn('srv', 'coturn', argv);
    await this.waitListening(this.laptops[0], this.serverIp, TURN_PORT, { proc });
    this.coturn = proc;
    log(`lan ${this.tag}: coturn on ${this.serverIp}:${TURN_PORT} (pid ${proc.pid})`);
    return proc;
  }

  /** The pids of the processes running on a host whose command name is `comm`. */
  async pidsOf(host, comm) {
    const pids = (await ip('netns', 'pids', this.ns(host))).split('\n').filter(Boolean).map(Number);
    return pids.filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    });
  }

  /** Chromium on a laptop host: a playwright browser, with the pid of its process group. */
  async launchBrowser(host, { args = [] } = {}) {
    if (!this.laptops.includes(host)) throw new Error(`${host} is not a laptop`);
    const wrapper = path.join(this.tmp, `chromium-${host}`);
    // Chromium's own log (stderr) goes to a file: see `chromiumLog`.
    const logFile = path.join(this.tmp, `chromium-${host}.log`);
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${this.ns(host)} ${CHROMIUM} "$@" 2>>${logFile}\n`, {
      mode: 0o755,
    });
    const server = await chromium.launchServer({
      executablePath: wrapper,
      headless: true,
      args: [...lanChromiumArgs(this.serverIp), ...args],
    });
    const browser = await chromium.connect(server.wsEndpoint());
    const entry = { host, browser, server, pid: server.process().pid };
    this.browsers.push(entry);
    log(`lan ${this.tag}: chromium ${browser.version()} on ${host} (pid ${entry.pid})`);
    return browser;
  }

  /** What the Chromium on `host` wrote to stderr so far. */
  chromiumLog(host) {
    try {
      return fs.readFileSync(path.join(this.tmp, `chromium-${host}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * Opens the page in a new context of `browser` on the server's origin and watches it.
   * `params` go into the URL (room, difficulty, workers, params: {...}). `init`: a script
   * run in the page before its own (e.g. `instrumentRtc`).
   */
  async openTab(browser, { label, init, ...params } = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (init) await context.addInitScript(init);
    const page = await context.newPage();
    const tab = new Tab(page, label ?? `tab${this.browsers.length}`);
    tab.context = context;
    await tab.goto(tabUrl(this.origin, params));
    tab.watch();
    return tab;
  }

  // -------------------------------------------------------------------------------
  // Measurements

  /** Byte and packet counters of every host's link, as the switch sees them. */
  async counters() {
    const links = JSON.parse(await ip('-n', this.switchNs, '-s', '-j', 'link', 'show'));
    const out = {};
    for (const host of this.hosts) {
      const l = links.find((x) => x.ifname === this.port(host));
      // The switch port receives what the host sends, and sends what the host receives.
      out[host] = {
        sentBytes: l.stats64.rx.bytes,
        sentPackets: l.stats64.rx.packets,
        receivedBytes: l.stats64.tx.bytes,
        receivedPackets: l.stats64.tx.packets,
      };
    }
    return out;
  }

  // -------------------------------------------------------------------------------
  // Teardown

  async close() {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    for (const b of this.browsers) {
      await Promise.race([b.browser.close().catch(() => {}), sleep(5000)]);
      await Promise.race([b.server.close().catch(() => {}), sleep(5000)]);
      try {
        process.kill(-b.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const p of this.processes.reverse()) await p.stop().catch(() => {});
    this.closeSync();
    log(`lan ${this.tag}: torn down`);
  }

  /** Kills whatever still runs in the namespaces (by pid), deletes them, the veths and the bridge. */
  closeSync() {
    this.closed = true;
    live.delete(this);
    for (const b of this.browsers) {
      try {
        process.kill(-b.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const p of this.processes) {
      if (!p.exit) {
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    removeNamespacesSync(this.made);
    this.made = [];
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------
// In-page instruments

/**
 * An init script for `Lan.openTab`: wraps RTCPeerConnection so the test can see every
 * connection the page makes (`window.__rtc.pcs`), the candidates it gathers and is given,
 * and ICE errors, in order, with times (`window.__rtc.events`).
 */
export function instrumentRtc() {
  const Native = window.RTCPeerConnection;
  const rtc = (window.__rtc = { pcs: [], events: [] });
  const t0 = performance.now();
  const note = (pc, what, detail) =>
    rtc.events.push({ t: Math.round(performance.now() - t0), pc: pc.__n, what, detail });
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super(config, ...rest);
      this.__n = rtc.pcs.length;
      rtc.pcs.push(this);
      note(this, 'new', JSON.stringify(config?.iceServers ?? []));
      this.addEventListener('icecandidate', (e) => note(this, 'local-candidate', e.candidate ? e.candidate.candidate : '(end)'));
      this.addEventListener('icecandidateerror', (e) =>
        note(this, 'candidate-error', `${e.errorCode} ${e.errorText} ${e.url} ${e.address ?? ''}:${e.port ?? ''}`),
      );
      this.addEventListener('icegatheringstatechange', () => note(this, 'gathering', this.iceGatheringState));
      this.addEventListener('iceconnectionstatechange', () => note(this, 'ice', this.iceConnectionState));
      this.addEventListener('connectionstatechange', () => note(this, 'connection', this.connectionState));
      this.addEventListener('signalingstatechange', () => note(this, 'signaling', this.signalingState));
    }
    addIceCandidate(candidate, ...rest) {
      note(this, 'remote-candidate', candidate?.candidate ?? '(end)');
      return super.addIceCandidate(candidate, ...rest);
    }
    setLocalDescription(d, ...rest) {
      note(this, 'set-local', d?.type ?? '(implicit)');
      return super.setLocalDescription(d, ...rest);
    }
    setRemoteDescription(d, ...rest) {
      note(this, 'set-remote', d?.type);
      return super.setRemoteDescription(d, ...rest);
    }
    close() {
      note(this, 'close', '');
      return super.close();
    }
  };
}

/**
 * An init script for `Lan.openTab`: records the text frames of the page's WebSockets
 * (the signaling protocol), both ways, with times: `window.__ws` (`{ t, dir, msg }`,
 * `dir` is `in` or `out`, `msg` the parsed JSON).
 */
export function instrumentSignaling() {
  const Native = window.WebSocket;
  const frames = (window.__ws = []);
  const t0 = performance.now();
  const keep = (dir, data) => {
    if (typeof data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      msg = data;
    }
    frames.push({ t: Math.round(performance.now() - t0), dir, msg });
    if (frames.length > 5000) frames.splice(0, 1000);
  };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => keep('in', e.data));
    }
    send(data) {
      keep('out', data);
      return super.send(data);
    }
  };
}

/** The signaling frames the page sent and received so far (needs `instrumentSignaling`). */
export async function signalingFrames(tab) {
  return tab.page.evaluate(() => window.__ws ?? []);
}

/** The `welcome` the page received last (needs `instrumentSignaling`), or null. */
export async function welcome(tab) {
  const frames = await signalingFrames(tab);
  return frames.filter((f) => f.dir === 'in' && f.msg?.type === 'welcome').pop()?.msg ?? null;
}

/** Both instruments in one init script (its source text). */
export const INSTRUMENT_ALL = `(${instrumentRtc})();\n(${instrumentSignaling})();`;

/** The page's RTC events so far (needs `instrumentRtc`). */
export async function rtcEvents(tab) {
  return tab.page.evaluate(() => window.__rtc?.events ?? []);
}

/**
 * getStats() of every connection the page made (needs `instrumentRtc`): per connection,
 * its states, its local and remote candidates and candidate pairs, and the selected pair.
 */
export async function rtcStats(tab) {
  return tab.page.evaluate(async () => {
    const out = [];
    for (const pc of window.__rtc?.pcs ?? []) {
      const stats = [...(await pc.getStats()).values()];
      const byId = new Map(stats.map((s) => [s.id, s]));
      const cand = (s) =>
        s && `${s.candidateType} ${s.protocol} ${s.address ?? '?'}:${s.port}${s.relayProtocol ? ` via ${s.relayProtocol}` : ''}`;
      const transport = stats.find((s) => s.type === 'transport');
      const selected = transport?.selectedCandidatePairId ? byId.get(transport.selectedCandidatePairId) : null;
      out.push({
        n: pc.__n,
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
        local: stats.filter((s) => s.type === 'local-candidate').map(cand),
        remote: stats.filter((s) => s.type === 'remote-candidate').map(cand),
        pairs: stats
          .filter((s) => s.type === 'candidate-pair')
          .map((p) => ({
            state: p.state,
            nominated: p.nominated,
            local: cand(byId.get(p.localCandidateId)),
            remote: cand(byId.get(p.remoteCandidateId)),
            requestsSent: p.requestsSent,
            responsesReceived: p.responsesReceived,
            rtt: p.currentRoundTripTime,
            bytesSent: p.bytesSent,
            bytesReceived: p.bytesReceived,
          })),
        selected: selected
          ? {
              local: cand(byId.get(selected.localCandidateId)),
              remote: cand(byId.get(selected.remoteCandidateId)),
              rtt: selected.currentRoundTripTime,
            }
          : null,
      });
    }
    return out;
  });
}

/** Each peer row's id, state, path (`peer-path`, with its details in `pathDetail`) and RTT text. */
export async function peerPaths(tab) {
  return tab.page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="peer-row"]')].map((row) => {
      const path = row.querySelector('[data-testid="peer-path"]');
      return {
        id: row.dataset.peerId ?? null,
        state: row.dataset.state ?? null,
        path: path?.textContent.trim() ?? null,
        pathDetail: path?.getAttribute('title') ?? null,
        rtt: row.querySelector('[data-testid="peer-rtt"]')?.textContent.trim() ?? null,
      };
    }),
  );
}

/** The live (not dropped) row of `peerId` in `tab`, from `peerPaths`. */
export async function peerRow(tab, peerId) {
  return (await peerPaths(tab)).find((r) => r.id === peerId && r.state !== 'dropped') ?? null;
}

/**
 * In the page: a fresh RTCPeerConnection with `iceServers` (relay candidates only)
 * gathers its candidates. Resolves with the relay candidates it found and the
 * `icecandidateerror`s it got (`{ code, text, url }`), once gathering completes or
 * after `timeoutMs`. A relay candidate is `{ candidate, relayProtocol, url }`:
 * `relayProtocol` is how the browser reaches the TURN server (udp or tcp).
 */
export async function gatherRelay(tab, iceServers, { timeoutMs = 8000 } = {}) {
  return tab.page.evaluate(
    ([iceServers, timeoutMs]) =>
      new Promise((resolve) => {
        const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
        const relay = [];
        const errors = [];
        let done = false;
        const finish = (why) => {
          if (done) return;
          done = true;
          pc.close();
          resolve({ relay, errors, why });
        };
        pc.addEventListener('icecandidate', (e) => {
          if (!e.candidate) return finish('complete');
          if (/ typ relay /.test(e.candidate.candidate)) {
            relay.push({
              candidate: e.candidate.candidate,
              relayProtocol: e.candidate.relayProtocol ?? null,
              url: e.candidate.url ?? e.url ?? null,
            });
          }
        });
        pc.addEventListener('icecandidateerror', (e) => errors.push({ code: e.errorCode, text: e.errorText, url: e.url }));
        pc.createDataChannel('probe');
        pc.setLocalDescription();
        setTimeout(() => finish('timeout'), timeoutMs);
      }),
    [iceServers, timeoutMs],
  );
}

/** CPU time (user + system) of a process so far, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLK_TCK;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---------------------------------------------------------------------------------
// What the LAN tests share

/**
 * Starts a Chromium on each of `hosts` (default: every laptop) and opens one tab in
 * each, in `room`, at once; the tabs are instrumented (`INSTRUMENT_ALL`) and watched.
 */
export async function tabsOnLaptops(lan, { room, hosts = lan.laptops, params = {}, init = INSTRUMENT_ALL } = {}) {
  const browsers = [];
  for (const host of hosts) browsers.push(await lan.launchBrowser(host));
  return Promise.all(hosts.map((host, i) => lan.openTab(browsers[i], { label: host, room, init, params })));
}

/**
 * Waits until every tab shows every other `connected`; returns the time from the later
 * page load to the last link shown, in ms.
 */
export async function waitLinked(tabs, { timeout = 30000 } = {}) {
  const { at } = await waitForMesh(tabs, { timeout });
  return Math.max(...at) - Math.max(...tabs.map((t) => t.loadedAt));
}

/** The issue's bound: a tab on each laptop shows the other connected this soon. */
export const LINK_BOUND_MS = 10_000;

/**
 * Asserts that the tabs link within `LINK_BOUND_MS` of the later page load and that
 * every tab's row of every other shows `path`; returns the rows (see `waitPaths`).
 */
export async function assertLinkedVia(tabs, path) {
  const linkMs = await waitLinked(tabs, { timeout: 30_000 });
  log(`linked ${secs(linkMs)} after the later page load`);
  assert.ok(linkMs <= LINK_BOUND_MS, `linked ${secs(linkMs)} after the later page load (bound ${secs(LINK_BOUND_MS)})`);
  const rows = await waitPaths(tabs);
  for (const row of rows) log(`${row.tab} shows ${row.peer}: path ${row.path} (${row.pathDetail}), rtt ${row.rtt}`);
  for (const row of rows) assert.equal(row.path, path, `${row.tab}'s row of ${row.peer}`);
  return rows;
}

/**
 * Waits until each tab's row of each other tab shows a path (`peer-path`); returns, per
 * tab, the rows of the others: `{ id, state, path, pathDetail, rtt }`.
 */
export async function waitPaths(tabs, { timeout = 10000 } = {}) {
  const { value } = await waitFor(
    async () => {
      const rows = [];
      for (const tab of tabs) {
        for (const other of tabs) {
          if (other === tab) continue;
          const row = await peerRow(tab, other.nodeId);
          if (!row?.path) return false;
          rows.push({ tab: tab.label, peer: other.label, ...row });
        }
      }
      return rows;
    },
    { timeout, what: 'every link to show its path (peer-path)', explain: () => describeTabs(tabs) },
  );
  return value;
}

/** The selected candidate pair of the page's connected RTCPeerConnection (needs `instrumentRtc`). */
export async function selectedPair(tab) {
  const stats = await rtcStats(tab);
  return stats.filter((s) => s.connectionState === 'connected' && s.selected).map((s) => s.selected).pop() ?? null;
}

/** Logs what each tab knows of its links, for failure reports: RTC events, signaling, stats. */
export async function explainLinks(tabs) {
  const out = [describeTabs(tabs)];
  for (const tab of tabs) {
    out.push(`${tab.label} (${tab.nodeId ?? '?'}) timeline since its navigation start:\n${tab.timeline()}`);
    if (tab.errors.length) out.push(`${tab.label} errors:\n  ${tab.errors.slice(-20).join('\n  ')}`);
    try {
      const events = await rtcEvents(tab);
      out.push(`${tab.label} RTC events:\n  ${events.slice(-60).map((e) => `${e.t} pc${e.pc} ${e.what} ${e.detail}`.slice(0, 200)).join('\n  ')}`);
      out.push(`${tab.label} stats: ${JSON.stringify(await rtcStats(tab))}`);
    } catch (err) {
      out.push(`${tab.label}: ${err.message}`);
    }
  }
  return out.join('\n');
}
