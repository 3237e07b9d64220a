// The TURN server refuses forged and expired credentials: it is not an open relay.
//
// Tried: the LAN of e2e/lan.mjs; the server host runs `tabchain-signaling --turn
// <srv>:3478 --turn-ttl 10s`, so a tab's credential expires 10 s after it joins. One tab
// on a laptop opens the page; its `welcome` (read from the page's WebSocket) carries the
// ICE servers with its TURN credential (username `<expiry>:<peer id>`, password the HMAC
// of it). In that page, a fresh RTCPeerConnection limited to relay candidates gathers:
// - with the welcome's credential as given: a relay candidate over UDP and one over TCP,
//   and no error;
// - with a forged password, and with the username's expiry pushed an hour later (the
//   password kept): no relay candidate, and `icecandidateerror` 401 from every TURN URL;
// - with the welcome's own credential once its expiry has passed: the same refusal.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { log, uniqueRoom, waitFor } from './harness.mjs';
import { Lan, gatherRelay, tabsOnLaptops, welcome } from './lan.mjs';

const TTL_S = 10;

/** The welcome's TURN entry: { urls, username, credential }. */
function turnEntry(servers) {
  const entry = servers.find((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).some((u) => u.startsWith('turn:')));
  assert.ok(entry, `the welcome lists a TURN server: ${JSON.stringify(servers)}`);
  assert.ok(entry.username && entry.credential, 'the TURN entry carries a credential');
  return entry;
}

function assertRefused(result, entry, what) {
  log(`${what}: ${result.relay.length} relay candidate(s); errors ${JSON.stringify(result.errors)}`);
  assert.equal(result.relay.length, 0, `${what}: no relay candidate`);
  const urls = Array.isArray(entry.urls) ? entry.urls : [entry.urls];
  for (const url of urls) {
    assert.ok(
      result.errors.some((e) => e.code === 401 && e.url === url),
      `${what}: a 401 from ${url}; got ${JSON.stringify(result.errors)}`,
    );
  }
}

test('the TURN server refuses forged and expired credentials', { timeout: 120_000 }, async () => {
  await Lan.run({}, async (lan) => {
    await lan.startSignal({ turn: true, args: ['--turn-ttl', `${TTL_S}s`] });
    const [tab] = await tabsOnLaptops(lan, { room: uniqueRoom('lan-cred'), hosts: [lan.laptops[0]] });
    const { value: hello } = await waitFor(() => welcome(tab), { timeout: 15_000, what: 'the welcome' });
    const entry = turnEntry(hello.ice_servers ?? []);
    const [expiry, peer] = entry.username.split(':');
    log(`welcome: ${JSON.stringify(hello.ice_servers.map((s) => s.urls))}; username ${entry.username}`);
    assert.equal(peer, hello.peer_id, 'the credential names the tab');
    const expiresAt = Number(expiry) * 1000;
    assert.ok(expiresAt > Date.now() && expiresAt <= Date.now() + (TTL_S + 2) * 1000, `expiry ${expiry} is within the ttl`);

    const good = await gatherRelay(tab, [entry]);
    log(`the welcome's credential: ${JSON.stringify(good)}`);
    assert.ok(Date.now() < expiresAt, 'the good credential was tried before it expired');
    assert.deepEqual(good.errors, [], 'the welcome credential: no error');
    const transports = good.relay.map((c) => new URL(c.url.replace(/^turn:/, 'turn://')).searchParams.get('transport'));
    assert.ok(transports.includes('udp') && transports.includes('tcp'), `relay candidates over UDP and TCP: ${transports}`);

    const wrong = crypto.randomBytes(20).toString('base64');
    assertRefused(await gatherRelay(tab, [{ ...entry, credential: wrong }]), entry, 'a forged password');
    const later = `${Number(expiry) + 3600}:${peer}`;
    assertRefused(await gatherRelay(tab, [{ ...entry, username: later }]), entry, 'an expiry pushed an hour later');

    const wait = expiresAt + 1500 - Date.now();
    log(`waiting ${(wait / 1000).toFixed(1)} s for the credential to expire`);
    await sleep(Math.max(0, wait));
    assertRefused(await gatherRelay(tab, [entry]), entry, 'the welcome credential after its expiry');
  });
});
