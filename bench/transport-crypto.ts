/**
 * Micro-benchmark of transport encryption: microseconds per seal/open of a 120-byte payload for
 * each mode and backend. Run: npx tsx bench/transport-crypto.ts
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { availableTransportBackends, createTransportCipher } from '../src/media/transport-cipher.js';
import type { TransportBackend, TransportCipher } from '../src/media/transport-cipher.js';
import { SUPPORTED_MODES } from '../src/protocol/constants.js';
import type { EncryptionMode } from '../src/protocol/constants.js';

const PAYLOAD = randomBytes(120);
const HEADER = Buffer.from('80780001000003c00000002a', 'hex');
const ITERATIONS = 50_000;

function time(fn: (i: number) => unknown): number {
  for (let i = 0; i < 2_000; i++) fn(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) fn(i);
  return ((performance.now() - start) * 1000) / ITERATIONS;
}

function tryCreate(mode: EncryptionMode, backend: TransportBackend): TransportCipher | null {
  try {
    return createTransportCipher(mode, randomBytes(32), { backend });
  } catch {
    return null;
  }
}

const rows: Array<Record<string, string>> = [];
for (const mode of SUPPORTED_MODES) {
  for (const backend of availableTransportBackends()) {
    const cipher = tryCreate(mode, backend);
    if (!cipher) {
      rows.push({ mode, backend, 'seal µs': 'n/a', 'open µs': 'n/a' });
      continue;
    }
    const packet = cipher.seal(HEADER, PAYLOAD, 1);
    const seal = time((i) => cipher.seal(HEADER, PAYLOAD, i + 1));
    const open = time(() => {
      if (cipher.open(packet, 12) === null) throw new Error('benchmark packet failed to open');
    });
    rows.push({ mode, backend, 'seal µs': seal.toFixed(2), 'open µs': open.toFixed(2) });
  }
}
console.log(
  `transport crypto, ${PAYLOAD.length}-byte payload, ${ITERATIONS} iterations, node ${process.version}`,
);
console.table(rows);
