// Peers that leave are shown dropped: a closed tab within 1 s, a killed browser within 3 s.
//
// Tried: three tabs in their own contexts form a mesh; tab3 is closed the way a user
// closes it (beforeunload/pagehide run, so the page can say goodbye). The two others must
// show tab3's row `dropped`, with a reason, within 1 s of the close call. Then a second
// Chromium process opens two tabs in the same room; once all four are meshed, that whole
// browser (its process group: browser, renderers, network service) gets SIGKILL, so no
// goodbye is sent; the first browser's tabs must show both peers dropped within 3 s.
// (Killing only the browser's main process takes its children down as fast: measured.)
// A second test freezes a browser instead, which only the heartbeat can notice.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, launchKillableBrowser, log, secs, uniqueRoom, waitFor, describeTabs, waitForMesh } from './harness.mjs';

const CLOSE_BOUND_MS = 1000;
const KILL_BOUND_MS = 3000;

test('a closed tab shows dropped within 1 s, a killed browser within 3 s', { timeout: 180_000 }, async () => {
  const world = await World.start('drop');
  await world.run(async () => {
    const room = uniqueRoom('drop');
    const [t1, t2, t3] = await Promise.all([1, 2, 3].map((i) => world.openTab({ room, label: `tab${i}` })));
    await waitForMesh([t1, t2, t3]);
    const gone = t3.nodeId;

    const closedAt = Date.now();
    await t3.close({ runBeforeUnload: true });
    await waitFor(() => t1.hasPeer(gone, 'dropped') && t2.hasPeer(gone, 'dropped'), {
      timeout: 20_000,
      what: `tab3 (${gone.slice(0, 8)}) to show dropped in tab1 and tab2`,
      explain: () => describeTabs([t1, t2]),
    });
    for (const tab of [t1, t2]) {
      const delay = tab.firstSeen.get(`peer:${gone}:dropped`) - closedAt;
      const row = tab.peers('dropped').find((p) => p.id === gone);
      log(`${tab.label} shows the closed tab dropped ${secs(delay)} after the close; reason "${row.reason}"`);
      assert.ok(row.reason, `${tab.label}: a dropped row shows a reason`);
      assert.ok(delay <= CLOSE_BOUND_MS, `${tab.label} took ${secs(delay)} (bound ${secs(CLOSE_BOUND_MS)})`);
      assert.ok(tab.hasPeer((tab === t1 ? t2 : t1).nodeId, 'connected'), `${tab.label} keeps its other link`);
    }

    const second = await launchKillableBrowser();
    world.cleanups.push(() => second.close());
    log(`second chromium: pid ${second.pid}`);
    const [t4, t5] = await Promise.all(
      [4, 5].map((i) => world.openTab({ room, label: `tab${i}`, browser: second.browser })),
    );
    await waitForMesh([t1, t2, t4, t5], { timeout: 60_000 });
    const killed = [t4.nodeId, t5.nodeId];

    const killedAt = Date.now();
    second.kill();
    t4.watching = t5.watching = false;
    await waitFor(() => [t1, t2].every((t) => killed.every((id) => t.hasPeer(id, 'dropped'))), {
      timeout: 30_000,
      what: 'the killed browser\'s tabs to show dropped in tab1 and tab2',
      explain: () => describeTabs([t1, t2]),
    });
    for (const tab of [t1, t2]) {
      for (const id of killed) {
        const delay = tab.firstSeen.get(`peer:${id}:dropped`) - killedAt;
        const row = tab.peers('dropped').find((p) => p.id === id);
        log(`${tab.label} shows killed peer ${id.slice(0, 8)} dropped ${secs(delay)} after SIGKILL; reason "${row.reason}"`);
        assert.ok(row.reason, `${tab.label}: a dropped row shows a reason`);
        assert.ok(delay <= KILL_BOUND_MS, `${tab.label} took ${secs(delay)} (bound ${secs(KILL_BOUND_MS)}) for ${id.slice(0, 8)}`);
      }
    }
    assert.ok(t1.hasPeer(t2.nodeId, 'connected') && t2.hasPeer(t1.nodeId, 'connected'), 'tab1 and tab2 stay linked');
  });
});

// Tried: a browser that hangs instead of dying. A second Chromium's two tabs mesh with
// two tabs of the first; then the second browser's whole process group gets SIGSTOP, so
// its sockets stay open and nothing says goodbye or closes: only the ping/pong heartbeat
// can tell. The first browser's tabs must show the frozen peers `stale`, then `dropped`,
// within 3 s of the SIGSTOP.
test('a frozen browser shows stale, then dropped within 3 s', { timeout: 180_000 }, async () => {
  const world = await World.start('freeze');
  await world.run(async () => {
    const room = uniqueRoom('freeze');
    const [t1, t2] = await Promise.all([1, 2].map((i) => world.openTab({ room, label: `tab${i}` })));
    const second = await launchKillableBrowser();
    world.cleanups.push(async () => {
      second.kill();
      await second.close();
    });
    const [t3, t4] = await Promise.all(
      [3, 4].map((i) => world.openTab({ room, label: `tab${i}`, browser: second.browser })),
    );
    await waitForMesh([t1, t2, t3, t4], { timeout: 60_000 });
    const frozen = [t3.nodeId, t4.nodeId];
    await t3.unwatch();
    await t4.unwatch();

    const frozenAt = Date.now();
    second.freeze();
    await waitFor(() => [t1, t2].every((t) => frozen.every((id) => t.hasPeer(id, 'dropped'))), {
      timeout: 30_000,
      what: "the frozen browser's tabs to show dropped in tab1 and tab2",
      explain: () => describeTabs([t1, t2]),
    });
    for (const tab of [t1, t2]) {
      for (const id of frozen) {
        const stale = tab.firstSeen.get(`peer:${id}:stale`);
        const dropped = tab.firstSeen.get(`peer:${id}:dropped`) - frozenAt;
        const row = tab.peers('dropped').find((p) => p.id === id);
        log(
          `${tab.label} shows frozen peer ${id.slice(0, 8)} stale ${stale ? secs(stale - frozenAt) : '(never seen)'}, ` +
            `dropped ${secs(dropped)} after SIGSTOP; reason "${row.reason}"`,
        );
        assert.ok(stale && stale - frozenAt < dropped, `${tab.label} shows ${id.slice(0, 8)} stale before dropping it`);
        assert.ok(dropped <= KILL_BOUND_MS, `${tab.label} took ${secs(dropped)} (bound ${secs(KILL_BOUND_MS)}) for ${id.slice(0, 8)}`);
      }
    }
    assert.ok(t1.hasPeer(t2.nodeId, 'connected') && t2.hasPeer(t1.nodeId, 'connected'), 'tab1 and tab2 stay linked');
  });
});
