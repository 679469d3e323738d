/**
 * Micro-benchmark of transport encryption: microseconds per seal/open of a 120-byte payload (a
 * typical Opus frame) for each mode and backend, and what that costs at scale: % of one core for
 * 1000 streams at 50 packets/s each. Rounds are interleaved across backends and the median and
 * minimum are reported, so a busy machine skews all backends alike (the minimum is the best
 * estimate of the intrinsic cost). Run: npx tsx bench/transport-crypto.ts
 *
 * This is what decides whether sodium-native (an optional peer dependency) is worth installing:
 * it only serves the XChaCha20 mode, which voxcord picks only when a server does not offer
 * AES-256-GCM.
 *
 * BENCH_CLOCK=cpu times with this process's CPU time (process.cpuUsage) instead of the wall clock:
 * on a machine shared with other loads, time spent descheduled then does not count.
 *
 * `--crossover`: instead, AES-256-GCM seal µs by payload size (120-1275 bytes) of the WebAssembly
 * GCM core and of node:crypto, over 1000 keys round-robin: where JS_AES_GCM_MAX_PAYLOAD belongs.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AesGcm } from '../src/crypto/gcm.js';
import {
  availableTransportBackends,
  createTransportCipher,
  JS_AES_GCM_MAX_PAYLOAD,
} from '../src/media/transport-cipher.js';
import type { TransportBackend, TransportCipher } from '../src/media/transport-cipher.js';
import { EncryptionMode, SUPPORTED_MODES } from '../src/protocol/constants.js';

const PAYLOAD = randomBytes(120);
const HEADER = Buffer.from('80780001000003c00000002a', 'hex');
const ITERATIONS = 20_000;
const ROUNDS = 7;
/** 1000 streams x 50 packets/s, in µs per second of one core: % of a core = µs/packet x 5. */
const CORE_PERCENT_PER_US = (1000 * 50 * 100) / 1e6;

const CPU_CLOCK = process.env.BENCH_CLOCK === 'cpu';

/** µs now: the wall clock, or this process's CPU time with BENCH_CLOCK=cpu. */
function nowUs(): number {
  if (!CPU_CLOCK) return performance.now() * 1000;
  const { user, system } = process.cpuUsage();
  return user + system;
}

function time(fn: (i: number) => unknown): number {
  const start = nowUs();
  for (let i = 0; i < ITERATIONS; i++) fn(i);
  return (nowUs() - start) / ITERATIONS;
}

function tryCreate(mode: EncryptionMode, backend: TransportBackend): TransportCipher | null {
  try {
    return createTransportCipher(mode, randomBytes(32), { backend });
  } catch {
    return null;
  }
}

interface Case {
  mode: EncryptionMode;
  backend: TransportBackend;
  cipher: TransportCipher;
  packet: Buffer;
  seal: number[];
  open: number[];
}

/** Seal µs by payload size, the GCM core against node:crypto, medians of interleaved rounds. */
function crossover(): void {
  const keys = Array.from({ length: 1000 }, () => randomBytes(32));
  const core = keys.map((k) => new AesGcm(k, { ghash: 'byte', keystream: 'wasm' }));
  const native = keys.map((k) => createTransportCipher(EncryptionMode.AesGcm, k, { backend: 'node' }));
  const datagram = new Uint8Array(2048);
  const h = HEADER.length;
  const rows: Array<Record<string, string>> = [];
  for (const p of [120, 256, 384, 512, 640, 768, 896, 1024, 1275]) {
    const wasm: number[] = [];
    const node: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      wasm.push(
        time((i) => core[i % 1000]!.encrypt(i, 0, 0, datagram, 0, h, datagram, h, p, datagram, h, h + p)),
      );
      node.push(time((i) => native[i % 1000]!.sealInPlace(datagram, h, p, i)));
    }
    rows.push({
      'payload bytes': String(p),
      'GCM core µs': median(wasm).toFixed(2),
      'node:crypto µs': median(node).toFixed(2),
    });
  }
  console.log(
    `AES-256-GCM seal by payload, 1000 keys, ${ROUNDS} interleaved rounds x ${ITERATIONS}, ${CPU_CLOCK ? 'CPU time' : 'wall clock'}, node ${process.version}; the 'js' backend takes the core up to ${JS_AES_GCM_MAX_PAYLOAD} bytes`,
  );
  console.table(rows);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
if (process.argv.includes('--crossover')) {
  crossover();
  process.exit(0);
}

const cases: Case[] = [];
const unavailable: Array<[EncryptionMode, TransportBackend]> = [];
for (const mode of SUPPORTED_MODES) {
  for (const backend of availableTransportBackends()) {
    const cipher = tryCreate(mode, backend);
    if (!cipher) unavailable.push([mode, backend]);
    else cases.push({ mode, backend, cipher, packet: cipher.seal(HEADER, PAYLOAD, 1), seal: [], open: [] });
  }
}

for (const c of cases) for (let i = 0; i < 2_000; i++) c.cipher.seal(HEADER, PAYLOAD, i + 1); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    c.seal.push(time((i) => c.cipher.seal(HEADER, PAYLOAD, i + 1)));
    c.open.push(
      time(() => {
        if (c.cipher.open(c.packet, 12) === null) throw new Error('benchmark packet failed to open');
      }),
    );
  }
}

const min = (xs: number[]): number => Math.min(...xs);

const rows: Array<Record<string, string>> = cases.map((c) => ({
  mode: c.mode,
  backend: c.backend,
  'seal µs (median)': median(c.seal).toFixed(2),
  'open µs (median)': median(c.open).toFixed(2),
  'seal µs (min)': min(c.seal).toFixed(2),
  'open µs (min)': min(c.open).toFixed(2),
  '1000 streams, % core (seal+open, min)': ((min(c.seal) + min(c.open)) * CORE_PERCENT_PER_US).toFixed(1),
}));
for (const [mode, backend] of unavailable) rows.push({ mode, backend, 'seal µs (median)': 'n/a' });
console.log(
  `transport crypto, ${PAYLOAD.length}-byte payload, ${ROUNDS} interleaved rounds x ${ITERATIONS} iterations, ${CPU_CLOCK ? 'CPU time' : 'wall clock'}, node ${process.version}`,
);
console.table(rows);
