// A room outlives its tabs: with `--keep` the signaling server runs a keeper (a native
// full node, crates/keeper) for the room; it links to the tabs over WebRTC like a tab,
// stores their chain in its database, and hands it to a browser that comes later.
//
// Tried: tabs A and B (own profiles) mine 10 blocks with the keeper on; both close. A
// fresh profile C opens the room with no other tab there and must reach the same tip,
// with the keeper as its only peer, shown with the role `keeper`. Then the server (and
// the keeper in it) is killed with SIGKILL, started again on the same data directory,
// and a fresh profile D must still reach that tip from the keeper, whose id has not
// changed. GET /rooms/<room>/chain must show the kept height and tip throughout.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  DIFFICULTY,
  World,
  describeTabs,
  httpGet,
  launchBrowser,
  log,
  mineUntil,
  startSignal,
  uniqueRoom,
  waitFor,
  waitForMesh,
  waitForTip,
} from './harness.mjs';

async function keptChain(server, room) {
  const res = await httpGet(server.port, `/rooms/${room}/chain?difficulty=${DIFFICULTY}`);
  return res.status === 200 ? JSON.parse(res.body.toString()) : null;
}

/** Waits until `tab` shows `tip` at `height` and lists the keeper, linked, as a keeper. */
async function reachesFromKeeper(tab, keeper, tip, height) {
  await waitForTip([tab], tip, { height, timeout: 60_000 });
  await waitFor(() => tab.hasPeer(keeper, 'connected'), { what: `${tab.label} linked to the keeper`, explain: () => describeTabs([tab]) });
  const row = tab.last.peers.find((p) => p.id === keeper);
  assert.ok(row.roles.split(' ').includes('keeper'), `the keeper's row shows its roles: ${row.roles}`);
  assert.deepEqual(
    tab.last.peers.filter((p) => p.state === 'connected').map((p) => p.id),
    [keeper],
    'the keeper is the only peer: no tab is left to give the chain',
  );
}

test('a kept room reaches a fresh browser after every tab closed, and after kill -9', { timeout: 300_000 }, async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tabchain-keep-'));
  const world = new World('keeper');
  world.server = await world.addServer(await startSignal({ args: ['--keep', '--data', data] }));
  world.browser = await launchBrowser();
  world.browsers.push(world.browser);
  await world.run(async () => {
    const room = uniqueRoom('keep');
    const [a, b] = await Promise.all(['A', 'B'].map((label) => world.openTab({ room, label })));
    await waitForMesh([a, b]);
    const { value: first } = await waitFor(async () => (await keptChain(world.server, room))?.keeper, {
      timeout: 20_000,
      what: 'the server to keep the room',
    });
    const keeper = first;
    log(`keeper ${keeper.slice(0, 8)} keeps ${room}`);
    await waitFor(() => a.hasPeer(keeper, 'connected') && b.hasPeer(keeper, 'connected'), {
      timeout: 30_000,
      what: 'both tabs linked to the keeper',
      explain: () => describeTabs([a, b]),
    });

    const s = await mineUntil(a, (x) => x.height >= 10, { what: 'mining 10 blocks' });
    await waitForTip([a, b], s.tip, { height: s.height });
    await waitFor(async () => (await keptChain(world.server, room))?.tip === s.tip, {
      timeout: 20_000,
      what: `the keeper to keep tip ${s.tip.slice(0, 10)}`,
    });
    log(`tabs mined ${s.height} blocks; closing every tab`);
    await a.close();
    await b.close();

    const c = await world.openTab({ room, label: 'C' });
    await reachesFromKeeper(c, keeper, s.tip, s.height);
    log(`fresh profile C reached height ${s.height} from the keeper alone`);
    log(`screenshots: ${(await world.screenshots('kept')).join(', ')}`);
    await c.close();

    await world.server.kill();
    await world.server.start();
    const d = await world.openTab({ room, label: 'D' });
    await waitFor(async () => (await keptChain(world.server, room))?.height === s.height, {
      timeout: 20_000,
      what: 'the restarted keeper to load its chain',
    });
    const after = await keptChain(world.server, room);
    assert.equal(after.keeper, keeper, 'the keeper keeps its id across kill -9');
    assert.equal(after.tip, s.tip);
    assert.ok(after.roles.includes('keeper'));
    await reachesFromKeeper(d, keeper, s.tip, s.height);
    log(`after kill -9, fresh profile D reached height ${s.height} from the same keeper`);
  });
  fs.rmSync(data, { recursive: true, force: true });
});
