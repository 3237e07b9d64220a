// Whoever carries the signals cannot sit in the middle of a link.
//
// Tried: two victim tabs A and B, each in its own browser context, join one room through
// a tampering relay between them and the signaling server (playwright's routeWebSocket:
// the position of a hostile `?signal=` server, or of a peer relaying mesh signals). The
// relay swallows every signal between the two victims and plays the man in the middle
// with an attacker page holding two RTCPeerConnections:
// - the offer of the victim whose offer wins a glare (the smaller id, X) is answered by
//   the attacker's first connection; the other victim (Y) gets the attacker's second
//   offer, "from X";
// - every SDP the attacker hands a victim carries, before its media section, a
//   session-level `a=fingerprint:` copied from the other victim's real SDP, so the first
//   fingerprint line of each SDP is the one the victim expects, while DTLS (which checks
//   the media-level one) ends at the attacker;
// - candidates cross the same way, and the attacker pipes bytes between its two data
//   channels, so the victims' `Version` signatures over the SDPs' first fingerprint
//   lines would verify.
// Each new attempt (after the 10 s dial deadline) is attacked afresh. The victims must
// refuse the attacker's SDPs and never show each other as connected; the attacker's
// connections never open.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, log, uniqueRoom, waitFor } from './harness.mjs';

const WATCH_MS = 15_000;

function fingerprintLine(sdp) {
  return sdp.split('\r\n').find((line) => line.startsWith('a=fingerprint:'));
}

/** `sdp` with `line` added at session level, before the first media section. */
function withSessionLine(sdp, line) {
  const at = sdp.indexOf('m=');
  return `${sdp.slice(0, at)}${line}\r\n${sdp.slice(at)}`;
}

/** The attacker's page: two connections per attack, piping their data channels. */
async function attackerPage(world, onCandidate) {
  const context = await world.newContext();
  const page = await context.newPage();
  await page.goto(new URL('/healthz', world.origin).toString());
  await page.exposeFunction('mitmCandidate', onCandidate);
  await page.evaluate(() => {
    const pcs = {};
    const channels = {};
    const queued = { x: [], y: [] };
    window.mitmOpened = 0;
    const pipe = (from, to) => (event) => {
      if (channels[to]?.readyState === 'open') channels[to].send(event.data);
      else queued[to].push(event.data);
    };
    const track = (side, channel) => {
      channel.binaryType = 'arraybuffer';
      channels[side] = channel;
      channel.onopen = () => {
        window.mitmOpened += 1;
        for (const data of queued[side].splice(0)) channel.send(data);
      };
      channel.onmessage = pipe(side, side === 'x' ? 'y' : 'x');
    };
    const fresh = (attack, side) => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      pc.onicecandidate = (event) => {
        if (event.candidate) {
          window.mitmCandidate(attack, side, {
            candidate: event.candidate.candidate,
            sdp_mid: event.candidate.sdpMid,
            sdp_m_line_index: event.candidate.sdpMLineIndex,
          });
        }
      };
      pcs[side] = pc;
      return pc;
    };
    window.mitmState = () =>
      Object.entries(pcs).map(([side, pc]) => `${side}: ${pc.connectionState}/${pc.iceConnectionState} channel ${channels[side]?.readyState}`).join('; ');
    window.mitm = {
      async answer(attack, sdp) {
        const pc = fresh(attack, 'x');
        pc.ondatachannel = (event) => track('x', event.channel);
        await pc.setRemoteDescription({ type: 'offer', sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        return pc.localDescription.sdp;
      },
      async offer(attack) {
        const pc = fresh(attack, 'y');
        track('y', pc.createDataChannel('tabchain', { ordered: true }));
        await pc.setLocalDescription(await pc.createOffer());
        return pc.localDescription.sdp;
      },
      async accept(sdp) {
        await pcs.y.setRemoteDescription({ type: 'answer', sdp });
      },
      async candidate(side, c) {
        await pcs[side]
          ?.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdp_mid, sdpMLineIndex: c.sdp_m_line_index })
          .catch(() => {});
      },
    };
  });
  return page;
}

test('a relay that answers both victims itself cannot link them through it', { timeout: 120_000 }, async () => {
  const world = await World.start('mitm');
  await world.run(async () => {
    const room = uniqueRoom('mitm');
    // Per victim label: the socket to the page, its id once welcomed.
    const victims = {};
    const byId = () => Object.fromEntries(Object.values(victims).filter((v) => v.id).map((v) => [v.id, v]));
    let attack = null;
    let attacks = 0;
    let swallowed = 0;
    let relayed = Promise.resolve();

    // Sessions are u64s, beyond a JS number's precision: the relay keeps them as text.
    const parse = (text) => JSON.parse(text.replace(/"session":(\d+)/, '"session":"$1"'));
    const deliver = (to, from, payload) =>
      to.page.send(
        JSON.stringify({ type: 'signal', from: from.id, payload }).replace(/"session":"(\d+)"/, '"session":$1'),
      );
    const attacker = await attackerPage(world, (n, side, candidate) => {
      if (!attack || attack.n !== n) return;
      const signal = { kind: 'candidate', session: attack.session, candidate };
      // The attacker's first connection talks to X as Y, its second to Y as X; Y's
      // candidates wait until Y has the offer.
      if (side === 'x') deliver(attack.x, attack.y, signal);
      else if (attack.offered) deliver(attack.y, attack.x, signal);
      else attack.early.push(signal);
    });

    const tamper = async (from, to, payload) => {
      swallowed += 1;
      if (payload.kind === 'offer' && from.id < to.id) {
        attacks += 1;
        const n = attacks;
        attack = { n, x: from, y: to, session: payload.session, offered: false, early: [] };
        const answer = await attacker.evaluate(([n, sdp]) => window.mitm.answer(n, sdp), [n, payload.sdp]);
        const offer = await attacker.evaluate((n) => window.mitm.offer(n), n);
        attack.answer = answer;
        deliver(to, from, {
          kind: 'offer',
          session: payload.session,
          sdp: withSessionLine(offer, fingerprintLine(payload.sdp)),
        });
        attack.offered = true;
        for (const signal of attack.early.splice(0)) deliver(to, from, signal);
        log(`attack ${n}: answered ${from.label}'s offer, offered ${to.label} the attacker's, "from" ${from.label}`);
      } else if (payload.kind === 'answer' && attack && from === attack.y && payload.session === attack.session) {
        await attacker.evaluate((sdp) => window.mitm.accept(sdp), payload.sdp);
        deliver(attack.x, attack.y, {
          kind: 'answer',
          session: attack.session,
          sdp: withSessionLine(attack.answer, fingerprintLine(payload.sdp)),
        });
        log(`attack ${attack.n}: answered ${attack.x.label} with the attacker's SDP, "from" ${attack.y.label}`);
      } else if (payload.kind === 'candidate' && attack && payload.session === attack.session) {
        await attacker.evaluate(([side, c]) => window.mitm.candidate(side, c), [
          from === attack.x ? 'x' : 'y',
          payload.candidate,
        ]);
      }
    };

    const victimContext = async (label) => {
      const context = await world.newContext();
      victims[label] = { label };
      await context.routeWebSocket(/\/ws/, (page) => {
        const victim = victims[label];
        victim.page = page;
        const server = page.connectToServer();
        server.onMessage((text) => {
          const message = JSON.parse(text);
          if (message.type === 'welcome') victim.id = message.peer_id;
          if (message.type === 'signal' && byId()[message.from]) return; // the relay speaks for victims
          page.send(text);
        });
        page.onMessage((text) => {
          const message = parse(text);
          const to = message.type === 'signal' && byId()[message.to];
          // One signal at a time, in order, as a relay would pass them on.
          if (to) relayed = relayed.then(() => tamper(victim, to, message.payload)).catch((err) => log(`relay: ${err.message}`));
          else server.send(text);
        });
      });
      return context;
    };
    const [a, b] = await Promise.all(
      ['A', 'B'].map(async (label) => world.openTab({ room, label, context: await victimContext(label) })),
    );
    await waitFor(() => attacks >= 1, { timeout: 15_000, what: 'the relay to attack a first offer' });
    await new Promise((resolve) => setTimeout(resolve, WATCH_MS));

    const opened = await attacker.evaluate(() => window.mitmOpened);
    log(`attacker's connections: ${await attacker.evaluate(() => window.mitmState())}`);
    for (const tab of [a, b]) {
      const lines = (await tab.page.locator('.panel.log').innerText()).split('\n').slice(0, 12);
      log(`${tab.label}'s log, newest first:\n  ${lines.join('\n  ')}`);
    }
    log(`${attacks} attacks, ${swallowed} victim signals swallowed, attacker channels opened: ${opened}`);
    for (const [tab, other] of [
      [a, b],
      [b, a],
    ]) {
      assert.ok(
        ![...tab.firstSeen.keys()].some((key) => key === `peer:${other.nodeId}:connected`),
        `${tab.label} never shows ${other.label} connected through the attacker`,
      );
    }
    assert.equal(opened, 0, "the attacker's data channels never open");
    const refusals = await Promise.all(
      [a, b].map((tab) => tab.page.locator('.panel.log').innerText()),
    );
    assert.ok(
      refusals.some((text) => /refused the (offer|answer): it carries 2 DTLS fingerprints/.test(text)),
      `a victim's log names the refusal:\n${refusals.join('\n---\n').slice(0, 2000)}`,
    );
  });
});
