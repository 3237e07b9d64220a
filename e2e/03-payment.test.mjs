// A payment from tab A to tab B.
//
// Tried: A and B in their own browser contexts link up. A mines until its confirmed
// (spendable) balance is positive and stops: a coinbase matures after some blocks, so
// that takes a few more than one, the rest of A's rewards showing as maturing. A sends
// 12.5 coins to the address B shows. B's pending-in must show 12500 units. A mines
// again until B's confirmed balance shows the payment. Exact checks: B (which never
// mines) ends with confirmed = 12500 and nothing maturing or pending; A ends with
// confirmed + maturing = before + 50000 per block it mined since - 12500 (A mined every
// block, so the fee it paid came back to it in its own coinbase) and nothing pending.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BLOCK_REWARD,
  World,
  describeTabs,
  log,
  mineUntil,
  secs,
  settle,
  uniqueRoom,
  waitFor,
  waitForMesh,
  waitForTip,
} from './harness.mjs';

const AMOUNT_COINS = '12.5';
const AMOUNT = 12500;

test('a payment from tab A to tab B is pending, then confirmed in the next block', { timeout: 180_000 }, async () => {
  const world = await World.start('payment');
  await world.run(async () => {
    const room = uniqueRoom('pay');
    const [a, b] = await Promise.all(['A', 'B'].map((label) => world.openTab({ room, label })));
    await waitForMesh([a, b]);
    await waitFor(() => a.last.address && b.last.address && a.last.balance && b.last.balance, {
      what: 'addresses and balances',
      explain: () => describeTabs([a, b]),
    });
    assert.notEqual(a.last.address, b.last.address);
    assert.equal(b.last.balance.confirmed, 0, 'B starts with nothing');

    let s = await mineUntil(a, (x) => x.balance?.confirmed > 0, { what: 'mining until its balance is positive' });
    await waitForTip([a, b], s.tip, { height: s.height });
    const total = (x) => x.balance.confirmed + x.balance.maturing;
    await waitFor(() => total(a.last) === s.height * BLOCK_REWARD && a.last.balance.maturing > 0, {
      what: `A's balance to equal ${s.height} rewards, the newest maturing`,
      explain: () => describeTabs([a]),
    });
    const a0 = total(a.last);
    const h0 = s.height;
    log(`A mined ${h0} block(s): confirmed ${a.last.balance.confirmed}, maturing ${a.last.balance.maturing}`);

    const sentAt = Date.now();
    await a.send(b.last.address, AMOUNT_COINS);
    const sent = await waitFor(() => a.last.send?.state && a.last.send, {
      what: 'the send status',
      explain: () => describeTabs([a]),
    });
    assert.equal(sent.value.state, 'ok', `send status: ${sent.value.message}`);
    const pendingIn = await waitFor(() => b.last.balance.pendingIn === AMOUNT, {
      what: `B's pending-in to show ${AMOUNT}`,
      explain: () => describeTabs([a, b]),
    });
    log(`B shows ${AMOUNT} pending ${secs(Date.now() - sentAt)} after the send click (waited ${secs(pendingIn.elapsed)}); A: ${JSON.stringify(a.last.balance)}, "${a.last.send.message}"`);
    assert.equal(b.last.balance.confirmed, 0, 'nothing confirmed for B yet');
    // A's page redraws at most every 100 ms, so B may show the payment first.
    await waitFor(() => a.last.balance.pendingOut >= AMOUNT, {
      timeout: 2000,
      what: `A's pending-out to cover ${AMOUNT}`,
      explain: () => describeTabs([a]),
    });

    s = await mineUntil(a, () => b.last.balance.confirmed > 0, { what: 'mining until the payment confirms' });
    await waitForTip([a, b], s.tip, { height: s.height });
    await settle(b);
    const k = s.height - h0;
    const want = a0 + k * BLOCK_REWARD - AMOUNT;
    await waitFor(() => total(a.last) === want && a.last.balance.pendingOut === 0, {
      timeout: 5000,
      what: `A's confirmed and maturing balance ${want} (${a0} + ${k} x ${BLOCK_REWARD} - ${AMOUNT}) and nothing pending out`,
      explain: () => describeTabs([a, b]),
    });
    log(`after ${k} more block(s): A ${JSON.stringify(a.last.balance)}, B ${JSON.stringify(b.last.balance)}`);
    assert.deepEqual(b.last.balance, { confirmed: AMOUNT, maturing: 0, pendingIn: 0, pendingOut: 0 });
    assert.ok(total(a.last) < a0 + k * BLOCK_REWARD, "A's balance dropped by the payment");
  });
});
