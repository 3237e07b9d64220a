// Nostr for the browser tests: a real relay (nostr-relay from PyPI, installed by
// scripts/setup.sh into .tools/nostr-relay) on 127.0.0.1, and a hostile client that
// speaks NIP-01 to it with its own keys and, knowing a room's name, its key too.
//
// The hostile client seals notes the way crates/nostr does (Argon2id, HKDF-SHA256,
// XChaCha20-Poly1305, ed25519), written again from the description in
// crates/nostr/src/note.rs and room.rs with the @noble libraries: a note it seals in its
// own name is one the tabs can open, so the forgeries it sends fail only where they should.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import { argon2id } from '@noble/hashes/argon2.js';
import { expand as hkdfExpand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import WebSocket from 'ws';
import { ROOT, freePort, log } from './harness.mjs';

export const RELAY_BIN = path.join(ROOT, '.tools', 'nostr-relay', 'bin', 'nostr-relay');
/** The kind of tabchain's events (crates/nostr/src/event.rs). */
export const KIND = 24133;

/** A nostr-relay process on 127.0.0.1 with a database of its own. */
export class NostrRelay {
  constructor({ name = 'relay' } = {}) {
    this.name = name;
    this.proc = null;
    this.output = [];
  }

  get url() {
    return `ws://127.0.0.1:${this.port}`;
  }

  async start({ timeoutMs = 30_000 } = {}) {
    if (!fs.existsSync(RELAY_BIN)) {
      throw new Error(`${RELAY_BIN} is missing: source scripts/setup.sh && setup_nostr_relay`);
    }
    this.port ??= await freePort();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabchain-relay-'));
    const config = path.join(this.dir, 'config.yaml');
    fs.writeFileSync(
      config,
      [
        'DEBUG: false',
        `relay_name: tabchain test relay ${this.name}`,
        'storage:',
        `  sqlalchemy.url: sqlite+aiosqlite:///${path.join(this.dir, 'events.sqlite3')}`,
        '  validators:',
        '    - nostr_relay.validators.is_signed',
        '    - nostr_relay.validators.is_recent',
        'gunicorn:',
        `  bind: 127.0.0.1:${this.port}`,
        '  workers: 1',
        '  loglevel: warning',
        '  reload: false',
        'verification:',
        '  nip05_verification: disabled',
        'authentication:',
        '  enabled: false',
        '',
      ].join('\n'),
    );
    const proc = spawn(RELAY_BIN, ['-c', config, 'serve', '--use-uvicorn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: this.dir,
    });
    proc.exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
    const keep = (chunk) => {
      this.output.push(chunk.toString());
      if (this.output.length > 200) this.output.splice(0, 50);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    this.proc = proc;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.#answers()) {
        log(`${this.name}: nostr-relay on ${this.url} (pid ${proc.pid})`);
        return this;
      }
      await sleep(100);
    }
    proc.kill('SIGKILL');
    throw new Error(`nostr-relay did not start on ${this.url}:\n${this.output.join('')}`);
  }

  async #answers() {
    try {
      const client = await NostrClient.connect(this.url, 1000);
      client.close();
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL: the relay dies mid-lesson, its sockets with it. */
  async kill() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    proc.kill('SIGKILL');
    await proc.exited;
    log(`${this.name}: killed`);
  }

  async stop() {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A NIP-01 client on Node's WebSocket, with a throwaway key. */
export class NostrClient {
  static connect(url, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error(`no relay at ${url}`));
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(new NostrClient(ws));
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new Error(`no relay at ${url}`));
      };
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.key = generateSecretKey();
    this.events = [];
    this.answers = [];
    ws.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame[0] === 'EVENT') this.events.push(frame[2]);
      else this.answers.push(frame);
    };
  }

  /** Every tabchain event on the relay from now on, whatever its room. */
  watch() {
    this.send(JSON.stringify(['REQ', 'watch', { kinds: [KIND] }]));
  }

  send(text) {
    this.ws.send(text);
  }

  /** Publishes an event of tabchain's kind with this content under `topic`, signed by our key. */
  publish(topic, content) {
    const event = finalizeEvent(
      { kind: KIND, created_at: Math.floor(Date.now() / 1000), tags: [['t', topic]], content },
      this.key,
    );
    this.send(JSON.stringify(['EVENT', event]));
    return event;
  }

  close() {
    this.ws.close();
  }
}

const enc = new TextEncoder();
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (text) => new Uint8Array(Buffer.from(text, 'hex'));

/** A room's key and topic (crates/nostr/src/room.rs), from its genesis hash (hex). */
export function roomKey(genesisHex, secret = '') {
  const salt = sha256(concat(enc.encode('tabchain-nostr/v1 salt'), unhex(genesisHex)));
  const root = argon2id(enc.encode(secret), salt, { t: 2, m: 19 * 1024, p: 1, dkLen: 32 });
  return {
    genesis: unhex(genesisHex),
    key: hkdfExpand(sha256, root, enc.encode('tabchain-nostr/v1 key'), 32),
    topic: hex(hkdfExpand(sha256, root, enc.encode('tabchain-nostr/v1 topic'), 16)),
  };
}

const NOTE_DOMAIN = enc.encode('tabchain-nostr/v1 note');

/**
 * A note's content (crates/nostr/src/note.rs): `from` is the public key (hex) it claims,
 * `signer` the ed25519 secret key it is really signed with.
 */
export function sealNote(room, { from, signer, to = null, sent = Date.now(), body }) {
  const json = enc.encode(JSON.stringify({ from, to, sent, body }));
  const signature = ed25519.sign(concat(NOTE_DOMAIN, room.genesis, json), signer);
  const nonce = crypto.getRandomValues(new Uint8Array(24));
  const sealed = xchacha20poly1305(room.key, nonce, NOTE_DOMAIN).encrypt(concat(signature, json));
  return Buffer.from(concat(nonce, sealed)).toString('base64');
}

/** A fresh ed25519 key: { secret, public (hex), id (hex node id: SHA-256 of it, 16 bytes) }. */
export function nodeKey() {
  const secret = ed25519.utils.randomSecretKey();
  const pub = ed25519.getPublicKey(secret);
  return { secret, public: hex(pub), id: hex(sha256(pub).slice(0, 16)) };
}

/** The note in an event's content, read as any room member can: `{ from, to, sent, body }`, or null. */
export function openNote(room, content) {
  try {
    const bytes = new Uint8Array(Buffer.from(content, 'base64'));
    const plain = xchacha20poly1305(room.key, bytes.slice(0, 24), NOTE_DOMAIN).decrypt(bytes.slice(24));
    return JSON.parse(new TextDecoder().decode(plain.slice(64)));
  } catch {
    return null;
  }
}
