// A tab that leaves and comes back loads its blocks from IndexedDB and catches up; a
// corrupt stored block is dropped at load, fetched again from peers and stored intact.
//
// Tried: miner A and tab B in their own contexts. A mines 3+ blocks, B syncs them; B
// navigates to about:blank; A mines 2+ more; B goes back to the same URL in the same tab
// (same sessionStorage, so the same node id). B must report data-loaded >= the height it
// had and reach A's tip. Then the stored record of one of B's blocks (below the tip) has
// four bytes flipped in page.evaluate; after a reload B must report data-corrupt = 1,
// reach A's tip again, and the record must be stored again with the original bytes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, describeTabs, log, mineUntil, secs, uniqueRoom, waitFor, waitForMesh, waitForTip } from './harness.mjs';

// In the page: the tabchain-* database's `blocks` record under `key`, as an array of bytes.
async function readRecord(page, key) {
  return page.evaluate(async (key) => {
    // The room's block database (the profile's wallet has a database of its own).
    const dbs = (await indexedDB.databases()).filter((d) => d.name.startsWith('tabchain-') && d.name !== 'tabchain-wallet');
    if (dbs.length !== 1) throw new Error(`expected one tabchain-* database, found ${JSON.stringify(dbs)}`);
    const db = await new Promise((ok, fail) => {
      const req = indexedDB.open(dbs[0].name);
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
    try {
      const value = await new Promise((ok, fail) => {
        const req = db.transaction('blocks', 'readonly').objectStore('blocks').get(key);
        req.onsuccess = () => ok(req.result);
        req.onerror = () => fail(req.error);
      });
      if (value === undefined) return null;
      if (!(value instanceof Uint8Array)) throw new Error(`record is a ${Object.prototype.toString.call(value)}`);
      return { db: dbs[0].name, bytes: Array.from(value) };
    } finally {
      db.close();
    }
  }, key);
}

async function writeRecord(page, key, bytes) {
  return page.evaluate(
    async ({ key, bytes }) => {
      const name = (await indexedDB.databases()).find((d) => d.name.startsWith('tabchain-') && d.name !== 'tabchain-wallet').name;
      const db = await new Promise((ok, fail) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => ok(req.result);
        req.onerror = () => fail(req.error);
      });
      try {
        await new Promise((ok, fail) => {
          const tx = db.transaction('blocks', 'readwrite');
          tx.objectStore('blocks').put(new Uint8Array(bytes), key);
          tx.oncomplete = ok;
          tx.onerror = () => fail(tx.error);
        });
      } finally {
        db.close();
      }
    },
    { key, bytes },
  );
}

test('a tab reloads its chain from IndexedDB, catches up, and repairs a corrupt record', { timeout: 240_000 }, async () => {
  const world = await World.start('reload');
  await world.run(async () => {
    const room = uniqueRoom('reload');
    const [a, b] = await Promise.all(['A', 'B'].map((label) => world.openTab({ room, label })));
    await waitForMesh([a, b]);
    const bId = b.nodeId;

    let s = await mineUntil(a, (x) => x.height >= 3, { what: 'mining 3 blocks' });
    await waitForTip([a, b], s.tip, { height: s.height });
    const hadHeight = b.last.height;
    log(`B synced ${hadHeight} blocks`);

    await b.unwatch();
    const leftAt = Date.now();
    await b.page.goto('about:blank');
    await waitFor(() => a.hasPeer(bId, 'dropped'), { timeout: 10_000 }).then(
      () => log(`A shows B dropped ${secs(a.firstSeen.get(`peer:${bId}:dropped`) - leftAt)} after B navigated away`),
      () => log(`note: A still does not show B dropped 10 s after B navigated away:\n${describeTabs([a])}`),
    );
    s = await mineUntil(a, (x) => x.height >= hadHeight + 2, { what: 'mining 2 more blocks' });
    log(`A mined on to height ${s.height} while B was away`);

    b.forget();
    await b.goto(b.url);
    b.watch();
    // The figures may show 0 until the store has been read: wait for them, with a deadline.
    const loaded = await waitFor(() => b.nodeId && b.last.stored?.loaded >= hadHeight, {
      timeout: 30_000,
      what: `B's stored-blocks data-loaded to reach the ${hadHeight} blocks it had`,
      explain: () => describeTabs([b]),
    });
    assert.equal(b.nodeId, bId, 'B keeps its node id (sessionStorage) when it comes back in the same tab');
    log(`B came back: loaded ${b.last.stored.loaded}, corrupt ${b.last.stored.corrupt} (shown ${secs(loaded.elapsed)} after load)`);
    assert.equal(b.last.stored.corrupt, 0, 'nothing corrupt after a clean reload');
    const caught = await waitForTip([b], s.tip, { height: s.height });
    log(`B reached A's tip (height ${s.height}) ${secs(caught.elapsed)} after its stored blocks showed, ${secs(Date.now() - b.loadedAt)} after load`);

    // Corrupt one stored block below the tip.
    const victim = b.last.blocks.find((blk) => blk.height === Math.max(1, Math.floor(s.height / 2)));
    assert.ok(victim, 'a block row for the victim height');
    const original = await readRecord(b.page, victim.hash);
    assert.ok(original, `block ${victim.height} ${victim.hash} is stored in ${'IndexedDB'}`);
    log(`database ${original.db}: corrupting block ${victim.height} ${victim.hash.slice(0, 12)} (${original.bytes.length} bytes)`);
    const broken = original.bytes.slice();
    const at = Math.min(40, broken.length - 4);
    for (let i = at; i < at + 4; i++) broken[i] ^= 0xff;
    await writeRecord(b.page, victim.hash, broken);
    assert.deepEqual((await readRecord(b.page, victim.hash)).bytes, broken, 'the corrupt record is written');

    await b.unwatch();
    b.forget();
    await b.page.reload({ waitUntil: 'load' });
    b.loadedAt = Date.now();
    b.watch();
    await waitFor(() => b.last?.stored?.corrupt >= 1, {
      timeout: 30_000,
      what: "B's stored-blocks data-corrupt to count the corrupt record after the reload",
      explain: () => describeTabs([b]),
    });
    log(`B after reload with a corrupt record: loaded ${b.last.stored.loaded}, corrupt ${b.last.stored.corrupt}`);
    assert.equal(b.last.stored.corrupt, 1, 'one corrupt record found and dropped');
    const again = await waitForTip([b], s.tip, { height: s.height, timeout: 30_000 });
    log(`B reached the tip again ${secs(again.elapsed)} after its stored-blocks figures showed`);
    const repaired = await waitFor(
      async () => {
        const rec = await readRecord(b.page, victim.hash);
        return rec && rec.bytes.length === original.bytes.length && rec.bytes.every((x, i) => x === original.bytes[i]);
      },
      { timeout: 10_000, interval: 100, what: 'the block record to be stored again intact' },
    );
    log(`the record is intact again (${secs(repaired.elapsed)} after B showed the tip)`);
  });
});
