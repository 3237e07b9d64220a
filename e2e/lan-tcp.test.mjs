// With all UDP blocked on the laptops, TURN over TCP carries the link.
//
// Tried: the LAN of e2e/lan.mjs with every UDP datagram into or out of each laptop
// prohibited (policy routing rules; checked with a datagram each way), the way a
// firewall that lets only TCP through would. The server host runs
// `tabchain-signaling --turn <srv>:3478`; each laptop its own Chromium with default WebRTC,
// the page loaded from the server's address (HTTP and the signaling WebSocket are TCP)
// with no ICE parameter. Neither laptop can use a host, STUN or UDP TURN candidate, so
// the only way is each side's TURN allocation over TCP. The tab on each laptop must show
// the other `connected` within 10 s of the later page load, both peer rows must show
// `relay` in `peer-path`, and each side's selected candidate pair (getStats) must be a
// relay candidate reached over TCP.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { log, uniqueRoom } from './harness.mjs';
import { Lan, TURN_PORT, assertLinkedVia, explainLinks, selectedPair, tabsOnLaptops } from './lan.mjs';


test('with UDP blocked on the laptops, TURN over TCP carries the link', { timeout: 120_000 }, async () => {
  await Lan.run({ blockUdp: true }, async (lan) => {
    await lan.startSignal({ turn: true });
    for (const host of lan.laptops) {
      const out = await lan.udpProbe(host, 'srv');
      const into = await lan.udpProbe('srv', host);
      log(`UDP ${host} -> srv: ${out.sent ? 'sent' : `refused (${out.error})`}, arrived ${out.arrived}; srv -> ${host}: arrived ${into.arrived}`);
      assert.equal(out.arrived, false, `UDP from ${host} reached the server`);
      assert.equal(into.arrived, false, `UDP from the server reached ${host}`);
      assert.equal(await lan.tcpProbe(host, lan.serverIp, TURN_PORT), 'open', `${host} reaches TURN over TCP`);
    }
    const tabs = await tabsOnLaptops(lan, { room: uniqueRoom('lan-tcp') });
    try {
      await assertLinkedVia(tabs, 'relay');
      for (const tab of tabs) {
        const pair = await selectedPair(tab);
        log(`${tab.label} selected pair: ${JSON.stringify(pair)}`);
        assert.match(pair?.local ?? '', /^relay .* via tcp$/, `${tab.label}'s selected local candidate is a relay over TCP`);
      }
    } catch (err) {
      log(await explainLinks(tabs));
      throw err;
    }
  });
});
