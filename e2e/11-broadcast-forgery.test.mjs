// A page of the same origin in the victim's browser posts forgeries on the room's
// BroadcastChannel; the victim keeps its identity, its coins and its links.
//
// Tried: victim V and its peer L are tabs of one browser profile (linked over the
// BroadcastChannel route). V mines a block, so it has coins. Then an attacker page of
// the same origin in that profile (a student's devtools) posts on the room's channel:
// - `here` in V's name (what told a duplicated tab to give up its key), and `taken` in
//   V's name with a made-up nonce and signature;
// - `bye` in L's name (what ended V's link to L);
// - 5000 `hello`s from made-up ids.
// V must keep its node id (its key, which is also its wallet) and balance, without a
// reload, keep L connected, and show a bounded number of would-be peers. A real
// duplicate (a tab opened with a copy of V's sessionStorage) still proves V holds the key
// and takes a new id of its own, while V keeps its.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { World, log, mineUntil, settle, uniqueRoom, waitFor, waitForMesh } from './harness.mjs';

const hex = (n) => randomBytes(n).toString('hex');

test('forged here, taken, bye and hello on the BroadcastChannel take nothing from a tab', { timeout: 120_000 }, async () => {
  const world = await World.start('forgery');
  await world.run(async () => {
    const room = uniqueRoom('forgery');
    const profile = await world.newContext();
    // Which channel the room's tabs use, as a student would read it off devtools; and
    // a count of page loads per tab, to see a reload.
    await profile.addInitScript(() => {
      sessionStorage.setItem('e2e-loads', String(Number(sessionStorage.getItem('e2e-loads') ?? 0) + 1));
      const Native = window.BroadcastChannel;
      window.__channels = [];
      window.BroadcastChannel = function (name) {
        window.__channels.push(name);
        return new Native(name);
      };
      window.BroadcastChannel.prototype = Native.prototype;
    });
    const v = await world.openTab({ room, label: 'V', context: profile });
    const l = await world.openTab({ room, label: 'L', context: profile });
    await waitForMesh([v, l]);
    const mined = await mineUntil(v, (s) => s.height >= 1 && s.balance?.confirmed > 0);
    const before = { id: v.nodeId, balance: mined.balance.confirmed, navigations: await navigations(v) };
    log(`V ${before.id.slice(0, 8)} has ${before.balance} base units; L is ${l.nodeId.slice(0, 8)}`);

    const [channel] = await v.page.evaluate(() => window.__channels);
    const attacker = await profile.newPage();
    await attacker.goto(new URL('/healthz', world.origin).toString());
    const attackAt = Date.now();
    const posted = await attacker.evaluate(
      ({ channel, victim, peer, forged }) => {
        const bc = new BroadcastChannel(channel);
        const post = (message) => bc.postMessage(JSON.stringify(message));
        post({ type: 'here', from: victim });
        post({ type: 'taken', from: victim, nonce: forged.nonce, signature: forged.signature });
        post({ type: 'hello', from: victim, nonce: forged.nonce });
        post({ type: 'bye', from: peer });
        for (const id of forged.ids) post({ type: 'hello', from: id, nonce: forged.nonce });
        return 4 + forged.ids.length;
      },
      {
        channel,
        victim: v.nodeId,
        peer: l.nodeId,
        forged: { nonce: hex(32), signature: hex(64), ids: Array.from({ length: 5000 }, () => hex(16)) },
      },
    );
    log(`attacker posted ${posted} messages on ${channel}`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const after = await settle(v);

    assert.equal(await navigations(v), before.navigations, 'V did not reload');
    assert.equal(after.nodeId, before.id, 'V keeps its node id (its key and wallet)');
    assert.equal(after.balance.confirmed, before.balance, 'V keeps its coins');
    assert.ok(
      ![...v.firstSeen.entries()].some(([key, at]) => key === `peer:${l.nodeId}:dropped` && at >= attackAt),
      'V never dropped L',
    );
    await waitFor(() => v.peers('connected').some((p) => p.id === l.nodeId), {
      timeout: 2000,
      what: 'V still shows L connected',
    });
    const live = after.peers.filter((p) => p.state !== 'dropped');
    log(`V after the attack: ${live.length} live peer rows (${live.filter((p) => p.state === 'connecting').length} connecting)`);
    assert.ok(live.length <= 13, `V's peer list stays bounded: ${live.length} rows`);

    const [copy] = await Promise.all([profile.waitForEvent('page'), v.page.evaluate(() => window.open(location.href))]);
    const { value: copyId } = await waitFor(
      async () => {
        const id = (await copy.locator('[data-testid="node-id"]').textContent({ timeout: 500 }))?.trim();
        return id && id !== before.id ? id : null;
      },
      { timeout: 15_000, what: 'the duplicated tab to take an id of its own' },
    );
    log(`the duplicated tab took ${copyId.slice(0, 8)}; V is still ${v.nodeId.slice(0, 8)}`);
    assert.equal((await settle(v)).nodeId, before.id, 'V keeps its id when a real duplicate appears');
  });
});

/** How many times the tab's page has been loaded in this session (a reload adds one). */
async function navigations(tab) {
  return tab.page.evaluate(() => Number(sessionStorage.getItem('e2e-loads')));
}
