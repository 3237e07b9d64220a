// Two laptops on one LAN with nothing blocked link directly, not through the relay.
//
// Tried: the LAN of e2e/lan.mjs with nothing blocked: the server host runs
// `tabchain-signaling --turn <srv>:3478`, each laptop its own Chromium with default
// WebRTC, the page loaded from the server's address with no ICE parameter. The laptops
// cannot resolve each other's mDNS host candidates (Chromium resolves no name here), so
// what lets them find each other is the server-reflexive address STUN tells each of them:
// there is no NAT on this LAN, so it is the laptop's own address, and the selected pair
// is a host candidate against the other's server-reflexive (or peer-reflexive) one. The tab on each laptop must show the other
// `connected` within 10 s of the later page load, and both peer rows must show `direct`
// in `peer-path`, and neither side's selected candidate pair (getStats) may hold a relay
// candidate: the packets go straight between the laptops.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { log, uniqueRoom } from './harness.mjs';
import { Lan, assertLinkedVia, explainLinks, selectedPair, tabsOnLaptops } from './lan.mjs';


test('laptops on an open LAN link directly', { timeout: 120_000 }, async () => {
  await Lan.run({}, async (lan) => {
    await lan.startSignal({ turn: true });
    const tabs = await tabsOnLaptops(lan, { room: uniqueRoom('lan-direct') });
    try {
      await assertLinkedVia(tabs, 'direct');
      for (const tab of tabs) {
        const pair = await selectedPair(tab);
        log(`${tab.label} selected pair: ${JSON.stringify(pair)}`);
        assert.ok(pair, `${tab.label} has a selected candidate pair`);
        assert.doesNotMatch(`${pair.local} ${pair.remote}`, /relay/, `${tab.label}'s link does not use the relay`);
      }
    } catch (err) {
      log(await explainLinks(tabs));
      throw err;
    }
  });
});
