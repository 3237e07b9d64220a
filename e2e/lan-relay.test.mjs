// Two laptops that cannot reach each other link through the server's TURN relay, and a
// block crosses.
//
// Tried: three hosts in network namespaces on one bridge (e2e/lan.mjs). The server host
// runs `tabchain-signaling --turn <srv>:3478`; each laptop runs its own Chromium with
// default WebRTC (host candidates hidden behind mDNS names) and opens the page from the
// server's address with no ICE parameter, so the STUN/TURN servers and the tab's TURN
// credential come only from the server's `welcome`. The laptops are cut off from each
// other (they still reach the server host), in two ways, one test each:
// - the switch drops every frame between them (bridge port isolation, what a Wi-Fi
//   access point's client isolation does): a send succeeds and the packet vanishes;
// - a blackhole route each way on the laptops: a send to the other laptop fails at once
//   (EINVAL), and Chromium then closes the UDP socket its host, STUN and UDP TURN
//   candidates share, so only TURN over TCP is left to carry the link.
// In each, the tab on each laptop must show the other `connected` within 10 s of the
// later page load, both peer rows must show `relay` in `peer-path`, and a block mined on
// one laptop must reach the other. A screenshot of a laptop's page goes to e2e/artifacts/.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { log, mineUntil, secs, uniqueRoom, waitForTip } from './harness.mjs';
import { Lan, assertLinkedVia, explainLinks, selectedPair, tabsOnLaptops } from './lan.mjs';


for (const how of ['switch', 'blackhole']) {
  test(`laptops isolated (${how}) link through the relay within 10 s and a block crosses`, { timeout: 150_000 }, async () => {
    await Lan.run({ isolate: how }, async (lan) => {
      // The laptops really are cut off from each other, and reach the server.
      const [la, lb] = lan.laptops;
      assert.notEqual(await lan.tcpProbe(la, lan.ip(lb), 9), 'open');
      const udp = await lan.udpProbe(la, lb);
      assert.equal(udp.arrived, false, `a datagram from ${la} reached ${lb}`);
      log(`${la} -> ${lb}: UDP ${udp.sent ? 'sent' : `refused (${udp.error})`}, not arrived`);

      await lan.startSignal({ turn: true });
      const room = uniqueRoom(`lan-relay-${how}`);
      const tabs = await tabsOnLaptops(lan, { room });
      const [ta, tb] = tabs;
      try {
        await assertLinkedVia(tabs, 'relay');
        for (const tab of tabs) log(`${tab.label} selected pair: ${JSON.stringify(await selectedPair(tab))}`);
        await ta.page.locator('section.peers').screenshot({ path: `/tmp/lan-relay-${how}-peers.png` }).catch(() => {});
        await ta.screenshot(`lan-relay-${how}-${ta.label}`);

        const end = await mineUntil(ta, (s) => s.height >= 1);
        log(`${ta.label} mined ${end.height} block(s); tip ${end.tip.slice(0, 12)}`);
        await waitForTip(tabs, end.tip, { height: end.height, timeout: 30_000 });
        const crossed = tb.firstSeen.get(`tip:${end.tip}`) - ta.firstSeen.get(`tip:${end.tip}`);
        log(`${tb.label} showed the tip ${secs(crossed)} after ${ta.label}`);
      } catch (err) {
        log(await explainLinks(tabs));
        throw err;
      }
    });
  });
}
