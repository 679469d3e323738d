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
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { availableTransportBackends, createTransportCipher } from '../src/media/transport-cipher.js';
import type { TransportBackend, TransportCipher } from '../src/media/transport-cipher.js';
import { SUPPORTED_MODES } from '../src/protocol/constants.js';
import type { EncryptionMode } from '../src/protocol/constants.js';

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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
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
