// Figures for links across separate network hosts (e2e/lan.mjs), direct vs through the
// TURN relay. Run by hand as root, not inside `unshare --net` (it builds its own
// namespaces); needs dist/ and target/release/tabchain-signaling with --turn:
//
//     node e2e/lan-bench.mjs                 # 5 links per mode, one idle minute
//     node e2e/lan-bench.mjs --runs 9 --idle 120
//
// Two modes, each on a LAN of its own with `tabchain-signaling --turn` on the server host
// and one Chromium per laptop:
// - direct: nothing blocked;
// - relay: the laptops' switch ports isolated (what a Wi-Fi access point's client
//   isolation does), so only the relay joins them.
// Per mode it measures:
// - time to link: a tab opened on each laptop at once (a fresh context and room each
//   run), from the later page load to both showing the other connected; median of runs;
// - RTT: the page's `peer-rtt` (the node's ping/pong, whole ms) and getStats'
//   currentRoundTripTime of the selected candidate pair (ICE checks), sampled for 10 s;
// - cost of an idle meshed pair (pings every 500 ms each way) over `--idle` seconds:
//   CPU time of coturn and of the signaling server (/proc/<pid>/stat), bytes through the
//   server host's switch port both ways, and the bytes the link itself carried
//   (getStats: the selected pair's bytes sent + received, both tabs).
// Prints a markdown table with the ratios relay / direct.

import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { log, uniqueRoom } from './harness.mjs';
import { median } from './harness.mjs';
import { INSTRUMENT_ALL, Lan, cpuSeconds, peerRow, rtcStats, waitLinked, waitPaths } from './lan.mjs';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    idle: { type: 'string', default: '60' },
  },
});
const RUNS = Number(opt.runs);
const IDLE_S = Number(opt.idle);

async function measure(mode) {
  return Lan.run({ isolate: mode === 'relay' ? 'switch' : false }, async (lan) => {
    await lan.startSignal({ turn: true });
    const browsers = [await lan.launchBrowser('la'), await lan.launchBrowser('lb')];
    const links = [];
    let tabs;
    for (let run = 1; run <= RUNS; run++) {
      const room = uniqueRoom(`bench-${mode}`);
      tabs = await Promise.all(
        browsers.map((browser, i) => lan.openTab(browser, { label: lan.laptops[i], room, init: INSTRUMENT_ALL })),
      );
      const ms = await waitLinked(tabs, { timeout: 30_000 });
      const rows = await waitPaths(tabs);
      const paths = rows.map((r) => r.path);
      log(`${mode} run ${run}: linked in ${ms} ms, paths ${paths.join('/')} (${rows[0].pathDetail})`);
      links.push({ ms, paths });
      if (run < RUNS) {
        for (const tab of tabs) await tab.context.close();
        await sleep(500);
      }
    }

    // RTT, on the last pair.
    const pageRtt = [];
    const iceRtt = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 10_000) {
      for (const [tab, other] of [tabs, [...tabs].reverse()]) {
        const row = await peerRow(tab, other.nodeId);
        const m = /^(\d+) ms$/.exec(row?.rtt ?? '');
        if (m) pageRtt.push(Number(m[1]));
        else if (row?.rtt === '<1 ms') pageRtt.push(0);
        const stats = await rtcStats(tab);
        const sel = stats.find((s) => s.connectionState === 'connected' && s.selected)?.selected;
        if (typeof sel?.rtt === 'number') iceRtt.push(sel.rtt * 1000);
      }
      await sleep(250);
    }

    // An idle minute.
    const [coturn] = await lan.pidsOf('srv', 'turnserver');
    const linkBytes = async () => {
      let sum = 0;
      for (const tab of tabs) {
        const stats = await rtcStats(tab);
        const pc = stats.find((s) => s.connectionState === 'connected' && s.selected);
        const pair = pc?.pairs.find((p) => p.local === pc.selected.local && p.remote === pc.selected.remote);
        sum += (pair?.bytesSent ?? 0) + (pair?.bytesReceived ?? 0);
      }
      return sum;
    };
    const before = {
      counters: await lan.counters(),
      coturn: coturn ? cpuSeconds(coturn) : null,
      signal: cpuSeconds(lan.signal.pid),
      link: await linkBytes(),
      t: Date.now(),
    };
    await sleep(IDLE_S * 1000);
    const after = {
      counters: await lan.counters(),
      coturn: coturn ? cpuSeconds(coturn) : null,
      signal: cpuSeconds(lan.signal.pid),
      link: await linkBytes(),
      t: Date.now(),
    };
    const seconds = (after.t - before.t) / 1000;
    const srvBytes =
      after.counters.srv.sentBytes - before.counters.srv.sentBytes +
      (after.counters.srv.receivedBytes - before.counters.srv.receivedBytes);
    const srvPackets =
      after.counters.srv.sentPackets - before.counters.srv.sentPackets +
      (after.counters.srv.receivedPackets - before.counters.srv.receivedPackets);
    return {
      mode,
      linkMs: links.map((l) => l.ms),
      paths: [...new Set(links.flatMap((l) => l.paths))],
      pageRtt,
      iceRtt,
      seconds,
      coturnCpu: coturn ? after.coturn - before.coturn : null,
      signalCpu: after.signal - before.signal,
      srvBytes,
      srvPackets,
      linkBytes: (after.link - before.link) / 2, // each byte is counted by both tabs
    };
  });
}

const results = {};
for (const mode of ['direct', 'relay']) results[mode] = await measure(mode);
const { direct: d, relay: r } = results;

const ms = (x) => `${Math.round(x)} ms`;
const f3 = (x) => (x === null || Number.isNaN(x) ? '–' : x.toFixed(3));
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}x` : '–');
const range = (xs) => `${Math.min(...xs)}-${Math.max(...xs)}`;
const perMin = (x, s) => (x * 60) / s;

console.log(`
| what | direct | relay | relay / direct |
|---|---|---|---|
| paths shown | ${d.paths.join(', ')} | ${r.paths.join(', ')} | |
| page load → linked, median of ${RUNS} | ${ms(median(d.linkMs))} (${range(d.linkMs)}) | ${ms(median(r.linkMs))} (${range(r.linkMs)}) | ${ratio(median(r.linkMs), median(d.linkMs))} |
| RTT on the page (peer-rtt, node ping), median | ${median(d.pageRtt)} ms (${d.pageRtt.length} samples) | ${median(r.pageRtt)} ms (${r.pageRtt.length} samples) | ${ratio(median(r.pageRtt), median(d.pageRtt))} |
| RTT of ICE checks (getStats), median | ${median(d.iceRtt).toFixed(2)} ms | ${median(r.iceRtt).toFixed(2)} ms | ${ratio(median(r.iceRtt), median(d.iceRtt))} |
| idle pair: link bytes per minute (data channel, DTLS/SCTP, checks) | ${Math.round(perMin(d.linkBytes, d.seconds))} | ${Math.round(perMin(r.linkBytes, r.seconds))} | ${ratio(r.linkBytes / r.seconds, d.linkBytes / d.seconds)} |
| idle pair: bytes through the server host per minute (both ways) | ${Math.round(perMin(d.srvBytes, d.seconds))} | ${Math.round(perMin(r.srvBytes, r.seconds))} | ${ratio(r.srvBytes / r.seconds, d.srvBytes / d.seconds)} |
| idle pair: packets through the server host per minute | ${Math.round(perMin(d.srvPackets, d.seconds))} | ${Math.round(perMin(r.srvPackets, r.seconds))} | ${ratio(r.srvPackets / r.seconds, d.srvPackets / d.seconds)} |
| idle pair: coturn CPU seconds per minute | ${f3(perMin(d.coturnCpu, d.seconds))} | ${f3(perMin(r.coturnCpu, r.seconds))} | |
| idle pair: signaling server CPU seconds per minute | ${f3(perMin(d.signalCpu, d.seconds))} | ${f3(perMin(r.signalCpu, r.seconds))} | |
`);
const relayed = r.srvBytes - (d.srvBytes * r.seconds) / d.seconds;
console.log(
  `Relay cost per tab of an idle relayed link (half the pair's): ${Math.round(perMin(relayed, r.seconds) / 2)} bytes/min ` +
    `through the server beyond the direct case, ${f3(perMin(r.coturnCpu, r.seconds) / 2)} coturn CPU s/min; ` +
    `server bytes / link bytes = ${(r.srvBytes / Math.max(1, r.linkBytes)).toFixed(2)}.`,
);
console.log(JSON.stringify(results));
