// Signaling through a Nostr relay against the signaling server, measured side by side in
// one run. Run by hand, not by test.sh, inside a private network namespace (needs dist/,
// the release signaling server and the test relay from scripts/setup.sh):
//
//     unshare --net sh -c 'ip link set lo up && node e2e/nostr-bench.mjs'
//     ... node e2e/nostr-bench.mjs --pairs 5 --minutes 2
//
// Prints, for PAIRS pairs of tabs (each tab in a profile of its own, joining a room
// where the other already is): the time from the second tab's load to the link, through
// the signaling server and through the relay (medians); and the bytes each tab published
// to the relay per minute once linked, counted by a client watching the relay.

import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { World, log, median, startSignal, startStatic, uniqueRoom, waitForMesh } from './harness.mjs';
import { KIND, NostrClient, NostrRelay } from './nostr.mjs';

const { values: opt } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5' },
    minutes: { type: 'string', default: '1' },
  },
});
const PAIRS = Number(opt.pairs);
const MINUTES = Number(opt.minutes);


async function linkTimes(world, base, params) {
  const times = [];
  for (let i = 0; i < PAIRS; i++) {
    const room = uniqueRoom('bench');
    const a = await world.openTab({ room, base, params, label: `a${i}` });
    const b = await world.openTab({ room, base, params, label: `b${i}` });
    const mesh = await waitForMesh([a, b], { timeout: 60_000 });
    times.push(mesh.at[1] - b.loadedAt);
    if (i < PAIRS - 1) {
      await a.close();
      await b.close();
    }
  }
  return times;
}

const world = await World.start('nostr-bench', { server: 'none' });
await world.run(async () => {
  const signal = await world.addServer(await startSignal());
  const site = await world.addServer(await startStatic());
  const relay = await new NostrRelay().start();
  world.servers.push(relay);

  const viaServer = await linkTimes(world, signal.origin, {});
  const viaRelay = await linkTimes(world, site.origin, { relays: relay.url });

  // The last pair stays linked: count what each tab publishes for MINUTES.
  const watcher = await NostrClient.connect(relay.url);
  // From now on only: this relay keeps ephemeral events until its next clean-up.
  const since = Math.floor(Date.now() / 1000);
  watcher.send(JSON.stringify(['REQ', 'bench', { kinds: [KIND], since }]));
  await sleep(MINUTES * 60_000);
  const bytes = new Map();
  for (const event of watcher.events.filter((e) => e.created_at >= since)) {
    const frame = JSON.stringify(['EVENT', event]).length;
    bytes.set(event.pubkey, (bytes.get(event.pubkey) ?? 0) + frame);
  }
  watcher.close();
  const perMinute = [...bytes.values()].map((b) => Math.round(b / MINUTES));

  const row = (name, xs) => `| ${name} | ${Math.round(median(xs))} ms | ${xs.map((x) => Math.round(x)).join(', ')} |`;
  console.log(`\n| second tab's load to its link (${PAIRS} pairs) | median | each |`);
  console.log('|---|---|---|');
  console.log(row('signaling server', viaServer));
  console.log(row('Nostr relay', viaRelay));
  console.log(`| ratio relay / server | ${(median(viaRelay) / median(viaServer)).toFixed(2)} | |`);
  console.log(`\nbytes each linked tab published to the relay per minute: ${perMinute.join(', ')}`);
  log('done');
});
