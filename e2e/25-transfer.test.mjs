// The page as the signaling server sends it from a release build's precompressed copies.
//
// Tried: two tabs, each in its own browser context, open the page from the server's
// --static dist/. Each shows its node id and the two link. Every wasm, js and css
// response came with `Content-Encoding: br` (Chromium offers brotli to 127.0.0.1) and
// `Vary: Accept-Encoding`, and the body of each the page fetched itself is exactly as
// long as the `.br` copy in dist/: the build's copy went out, not one compressed on the fly.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DIST, World, log, uniqueRoom, waitForMesh } from './harness.mjs';

const CHECKED = /\.(wasm|js|css)$/;

test('the page served from precompressed copies loads compressed and links two tabs', { timeout: 120_000 }, async () => {
  const copies = fs.readdirSync(DIST).filter((name) => name.endsWith('.br'));
  assert.ok(
    copies.some((name) => name.endsWith('.wasm.br')),
    `${DIST} has no precompressed copies: build it with trunk build --release (Trunk.toml's post_build hook)`,
  );

  const world = await World.start('transfer');
  await world.run(async () => {
    const room = uniqueRoom('transfer');
    const responses = [];
    const tabs = [];
    for (const label of ['tab1', 'tab2']) {
      const context = await world.newContext();
      context.on('response', (response) => responses.push(response));
      tabs.push(await world.openTab({ room, context, label }));
    }
    await waitForMesh(tabs, { timeout: 30_000 });

    const files = responses.filter((r) => CHECKED.test(new URL(r.url()).pathname));
    const names = new Set(files.map((r) => path.basename(new URL(r.url()).pathname)));
    for (const kind of ['.wasm', '.js', '.css']) {
      assert.ok([...names].some((n) => n.endsWith(kind)), `the page fetched a ${kind} file: ${[...names]}`);
    }
    for (const response of files) {
      const name = path.basename(new URL(response.url()).pathname);
      const headers = await response.allHeaders();
      const { responseBodySize } = await response.request().sizes();
      log(`${name}: ${response.status()} ${headers['content-encoding'] ?? 'identity'}, ${responseBodySize} bytes`);
      // A second tab may take the file from the HTTP cache (fingerprinted names).
      if (response.status() !== 200 || response.fromServiceWorker()) continue;
      assert.equal(headers['content-encoding'], 'br', `${name} came brotli-compressed`);
      assert.match(headers.vary ?? '', /accept-encoding/i, `${name} varies by Accept-Encoding`);
      // Playwright reports no body size (0) for the mining worker's own requests.
      if (responseBodySize === 0) continue;
      const copy = fs.statSync(path.join(DIST, `${name}.br`)).size;
      assert.equal(responseBodySize, copy, `${name} is the build's .br copy (${copy} bytes)`);
    }
  });
});
