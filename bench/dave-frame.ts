/**
 * DAVE media frame encrypt/decrypt cost for a 120-byte Opus frame: voxcord's pure-TypeScript codec
 * versus the same codec on node:crypto (createCipheriv per frame), and davey (native) when a
 * davey-only MLS group can be set up. Run: npx tsx bench/dave-frame.ts
 *
 * DAVE_FRAME_BYTES sets the frame size; DAVE_KEYS=1000 encrypts round-robin across that many
 * independent senders (each its own ratchet key, like 1000 connections), so per-key state no
 * longer stays in cache between two frames of the same key. BENCH_CLOCK=cpu times with this
 * process's CPU time instead of the wall clock (robust on a machine shared with other loads).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FrameEncryptor } from '../src/dave/frame-encryptor.js';
import { FrameDecryptor } from '../src/dave/frame-decryptor.js';
import {
  createParsedFrame,
  parseProtocolFrame,
  protocolFrameSize,
  writeTrailer,
} from '../src/dave/frame-codec.js';
import { HashRatchet } from '../src/dave/hash-ratchet.js';
import { createDaveyPair } from '../test/dave/davey-pair.js';

const FRAME_BYTES = Number(process.env.DAVE_FRAME_BYTES ?? 120);
const KEYS = Math.max(1, Number(process.env.DAVE_KEYS ?? 1));
const FRAMES = 50_000;
const ROUNDS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const CPU_CLOCK = process.env.BENCH_CLOCK === 'cpu';

/** µs now: the wall clock, or this process's CPU time with BENCH_CLOCK=cpu. */
function nowUs(): number {
  if (!CPU_CLOCK) return Number(process.hrtime.bigint()) / 1000;
  const { user, system } = process.cpuUsage();
  return user + system;
}

interface Case {
  name: string;
  op: 'encrypt' | 'decrypt';
  /** Runs before each round, untimed (fresh state, fresh frames). */
  prepare: () => void;
  run: (i: number) => void;
  results: number[];
}

const cases: Case[] = [];

function measure(name: string, op: Case['op'], prepare: () => void, run: (i: number) => void): void {
  cases.push({ name, op, prepare, run, results: [] });
}

/**
 * Rounds are interleaved across implementations so that load from other processes on a shared
 * machine hits every implementation alike; the first round is a warm-up.
 */
function runAll(): void {
  for (let r = 0; r <= ROUNDS; r++) {
    for (const c of cases) {
      c.prepare();
      const start = nowUs();
      for (let i = 0; i < FRAMES; i++) c.run(i);
      if (r > 0) c.results.push((nowUs() - start) / FRAMES);
    }
  }
}

const secrets = Array.from({ length: KEYS }, () => randomBytes(16));
const opus = randomBytes(FRAME_BYTES);

// ---- voxcord ----
{
  let encs: FrameEncryptor[] = [];
  measure(
    'voxcord (pure TS AES-GCM)',
    'encrypt',
    () => {
      // One untimed frame per sender: key derivation and cipher setup happen once per connection.
      encs = secrets.map((secret) => {
        const enc = new FrameEncryptor();
        enc.setRatchet(secret);
        enc.encrypt(opus);
        return enc;
      });
    },
    (i) => {
      encs[i % KEYS]!.encrypt(opus);
    },
  );
  const sources = secrets.map((secret) => {
    const source = new FrameEncryptor();
    source.setRatchet(secret);
    return source;
  });
  // KEYS extra frames: the first frame of each sender is decrypted untimed (cipher setup).
  const encrypted = Array.from({ length: FRAMES + KEYS }, (_, i) => sources[i % KEYS]!.encrypt(opus)!);
  let decs: FrameDecryptor[] = [];
  measure(
    'voxcord (pure TS AES-GCM)',
    'decrypt',
    () => {
      decs = secrets.map((secret, k) => {
        const dec = new FrameDecryptor();
        dec.transitionToRatchet(secret);
        if (!dec.decrypt(encrypted[k]!).ok) throw new Error('warm-up decrypt failed');
        return dec;
      });
    },
    (i) => {
      const r = decs[i % KEYS]!.decrypt(encrypted[KEYS + i]!);
      if (!r.ok) throw new Error(`decrypt failed: ${r.reason}`);
    },
  );
}

// ---- the same frame codec on node:crypto ----
{
  const keys = secrets.map((secret) => new HashRatchet(secret).get(0)!);
  const counters = new Uint32Array(KEYS);
  const iv = Buffer.alloc(12);
  const nodeEncrypt = (frame: Uint8Array, k: number): Uint8Array => {
    const counter = (counters[k] = (counters[k]! + 1) >>> 0);
    iv.writeUInt32LE(counter, 8);
    const c = createCipheriv('aes-128-gcm', keys[k]!, iv);
    const ct = c.update(frame);
    c.final();
    const out = Buffer.allocUnsafe(protocolFrameSize(frame.length, counter));
    out.set(ct, 0);
    out.set(c.getAuthTag().subarray(0, 8), frame.length);
    writeTrailer(out, frame.length + 8, counter);
    return out;
  };
  const parsed = createParsedFrame();
  const nodeDecrypt = (frame: Uint8Array, k: number): Uint8Array => {
    if (parseProtocolFrame(frame, parsed) !== 'ok') throw new Error('parse');
    iv.writeUInt32LE(parsed.nonce, 8);
    const d = createDecipheriv('aes-128-gcm', keys[k]!, iv, { authTagLength: 8 });
    d.setAuthTag(frame.subarray(parsed.tagOffset, parsed.tagOffset + 8));
    const pt = d.update(frame.subarray(0, parsed.mediaLength));
    d.final();
    return pt;
  };
  const encrypted = Array.from({ length: FRAMES }, (_, i) => nodeEncrypt(opus, i % KEYS));
  measure(
    'node:crypto createCipheriv per frame',
    'encrypt',
    () => {},
    (i) => {
      nodeEncrypt(opus, i % KEYS);
    },
  );
  measure(
    'node:crypto createCipheriv per frame',
    'decrypt',
    () => {},
    (i) => {
      nodeDecrypt(encrypted[i]!, i % KEYS);
    },
  );
}

// ---- davey (native Rust), through two-member davey groups (one per key) ----
try {
  const pairs = Array.from({ length: KEYS }, () => createDaveyPair());
  const input = Buffer.from(opus);
  measure(
    '@snazzah/davey (native)',
    'encrypt',
    () => {},
    (i) => {
      pairs[i % KEYS]!.alice.encryptOpus(input);
    },
  );
  const encrypted: Buffer[] = [];
  measure(
    '@snazzah/davey (native)',
    'decrypt',
    () => {
      // davey's receiver keeps a replay window: every round needs fresh frames.
      for (let i = 0; i < FRAMES; i++) encrypted[i] = pairs[i % KEYS]!.alice.encryptOpus(input);
    },
    (i) => {
      const pair = pairs[i % KEYS]!;
      pair.bob.decrypt(pair.aliceId, 0, encrypted[i]!);
    },
  );
} catch (err) {
  console.error('davey group setup failed, davey not measured:', err);
}

runAll();
console.log(
  `DAVE Opus frame, ${FRAME_BYTES} bytes, ${KEYS} key(s) round-robin: median of ${ROUNDS} interleaved rounds x ${FRAMES} frames (µs/frame, ${CPU_CLOCK ? 'CPU time' : 'wall clock'})`,
);
const names = [...new Set(cases.map((c) => c.name))];
for (const name of names) {
  const cell = (op: Case['op']): string => {
    const c = cases.find((x) => x.name === name && x.op === op);
    return c === undefined ? '     -' : median(c.results).toFixed(2).padStart(6);
  };
  console.log(`${name.padEnd(38)} encrypt ${cell('encrypt')}   decrypt ${cell('decrypt')}`);
}
