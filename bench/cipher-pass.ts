/**
 * Micro-benchmark of the two AES-GCM passes of a DAVE send, per packet, over N keys round-robin
 * (DAVE_KEYS, default 1000: per-key state out of cache between two packets of one key, like N
 * connections): the DAVE pass (AES-128-GCM, 8-byte tag, no AAD) on a FRAME_BYTES Opus frame
 * (default 160) and the transport pass (AES-256-GCM rtpsize, 12-byte header as AAD) on the DAVE
 * frame (FRAME_BYTES + 12 bytes; FRAME_BYTES=108 for a 120-byte transport payload), both sealed
 * and opened (the open allocates its output Buffer, as the transport's open does), each split into its keystream and GHASH parts, with node:crypto's createCipheriv on the
 * same sizes for reference. CPU µs per packet, medians over alternated rounds (min..max).
 *
 * Run: npx tsx bench/cipher-pass.ts [--root <other tree>/src] [--no-split] [--no-node] (the second
 * tree's passes are measured in the same rounds, alternated, as "B": an A/B of two builds in one
 * process). The split lines time the TypeScript parts (unrolled AES-128, byte GHASH) alone.
 * Environment: DAVE_KEYS, FRAME_BYTES, PACKETS, ROUNDS; TRANSPORT_KEYSTREAM (the GCM core
 * strategy of this tree's transport cipher: 'wasm' by default, 'native', 'rounds').
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import type * as AesModule from '../src/crypto/aes.js';
import type * as GhashModule from '../src/crypto/ghash.js';
import type * as DaveGcmModule from '../src/dave/aes128gcm.js';
import type * as TransportModule from '../src/media/transport-cipher.js';

const KEYS = Math.max(1, Number(process.env.DAVE_KEYS ?? 1000));
const FRAME_BYTES = Number(process.env.FRAME_BYTES ?? 160);
const PACKETS = Number(process.env.PACKETS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const HEADER_BYTES = 12;
/** The DAVE frame for a transport payload: 8-byte tag and a short trailer. */
const DAVE_FRAME_BYTES = FRAME_BYTES + 8 + 1 + 1 + 2;

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Case {
  name: string;
  run: (i: number) => void;
  results: number[];
}

const cases: Case[] = [];

async function addTree(label: string, root: string): Promise<void> {
  const { Aes128Gcm } = (await import(`${root}/dave/aes128gcm.ts`)) as typeof DaveGcmModule;
  const { createJsAesGcmCipher } = (await import(
    `${root}/media/transport-cipher.ts`
  )) as typeof TransportModule;
  const dave = Array.from({ length: KEYS }, () => new Aes128Gcm(randomBytes(16)));
  const transport = Array.from({ length: KEYS }, () =>
    createJsAesGcmCipher(randomBytes(32), {
      keystream: (process.env.TRANSPORT_KEYSTREAM as 'wasm' | undefined) ?? 'wasm',
    }),
  );
  const opus = randomBytes(FRAME_BYTES);
  const frame = new Uint8Array(DAVE_FRAME_BYTES + 64);
  const datagram = new Uint8Array(HEADER_BYTES + DAVE_FRAME_BYTES + 64);
  const counters = new Uint32Array(KEYS);
  cases.push({
    name: `${label} dave seal`,
    run: (i) => {
      const k = i % KEYS;
      dave[k]!.sealDave(++counters[k]!, opus, 0, FRAME_BYTES, frame, 0);
    },
    results: [],
  });
  cases.push({
    name: `${label} transport seal`,
    run: (i) => {
      const k = i % KEYS;
      transport[k]!.sealInPlace(datagram, HEADER_BYTES, DAVE_FRAME_BYTES, ++counters[k]!);
    },
    results: [],
  });
  // Opens: each key's own sealed frame / datagram, opened into another buffer (the receive side).
  const sealedFrames = dave.map((d) => {
    const f = new Uint8Array(FRAME_BYTES + 8);
    d.sealDave(1, opus, 0, FRAME_BYTES, f, 0);
    return f;
  });
  const plain = new Uint8Array(FRAME_BYTES + 64);
  cases.push({
    name: `${label} dave open`,
    run: (i) => {
      const k = i % KEYS;
      if (!dave[k]!.openDave(1, sealedFrames[k]!, 0, FRAME_BYTES, sealedFrames[k]!, FRAME_BYTES, plain, 0))
        throw new Error('benchmark frame failed to open');
    },
    results: [],
  });
  const header = randomBytes(HEADER_BYTES);
  const payload = randomBytes(DAVE_FRAME_BYTES);
  const packets = transport.map((t) => t.seal(header, payload, 1));
  cases.push({
    name: `${label} transport open`,
    run: (i) => {
      const k = i % KEYS;
      if (transport[k]!.open(packets[k]!, HEADER_BYTES) === null)
        throw new Error('benchmark packet failed to open');
    },
    results: [],
  });
  if (!args.includes('--no-split'))
    addSplit(
      label,
      (await import(`${root}/crypto/aes.ts`)) as typeof AesModule,
      (await import(`${root}/crypto/ghash.ts`)) as typeof GhashModule,
    );
  cases.push({
    name: `${label} both`,
    run: (i) => {
      const k = i % KEYS;
      const c = ++counters[k]!;
      dave[k]!.sealDave(c, opus, 0, FRAME_BYTES, datagram, HEADER_BYTES);
      transport[k]!.sealInPlace(datagram, HEADER_BYTES, DAVE_FRAME_BYTES, c);
    },
    results: [],
  });
  // Both passes through the core's stage (one copy in, one out), where this tree has it.
  const d0 = dave[0]! as Partial<{ sealDaveToStage: unknown }>;
  const t0 = transport[0]!;
  if (typeof d0.sealDaveToStage === 'function' && (t0.stagedPayloadMax ?? 0) > 0) {
    const trailer = Uint8Array.of(1, DAVE_FRAME_BYTES - FRAME_BYTES - 3, 0xfa, 0xfa);
    cases.push({
      name: `${label} both staged`,
      run: (i) => {
        const k = i % KEYS;
        const c = ++counters[k]!;
        const n = dave[k]!.sealDaveToStage(c, opus, 0, FRAME_BYTES, trailer, trailer.length);
        transport[k]!.sealStaged!(datagram, HEADER_BYTES, n, c);
      },
      results: [],
    });
  }
}

/** The parts of the passes alone: DAVE keystream (start + tag block + payload blocks), GHASH per pass. */
function addSplit(label: string, aesMod: typeof AesModule, ghashMod: typeof GhashModule): void {
  const blocks = Math.ceil(FRAME_BYTES / 16);
  const tBlocks = Math.ceil(DAVE_FRAME_BYTES / 16) + 2;
  const aes = Array.from(
    { length: KEYS },
    () => new aesMod.Aes128CtrUnrolled(aesMod.expandKey(randomBytes(16))),
  );
  const gd = Array.from({ length: KEYS }, () => ghashMod.createGhash('byte', 1, 2, 3, 4 + 0));
  const gt = Array.from({ length: KEYS }, (_, k) => ghashMod.createGhash('byte', k, 5, 6, 7));
  let sink = 0;
  cases.push({
    name: `${label}   dave keystream (${blocks + 1} AES blocks)`,
    run: (i) => {
      const a = aes[i % KEYS]!;
      a.start(0, 0, i);
      for (let b = 1; b <= blocks + 1; b++) a.block(b);
      sink ^= a.o0;
    },
    results: [],
  });
  cases.push({
    name: `${label}   dave ghash (${blocks + 1} blocks)`,
    run: (i) => {
      const g = gd[i % KEYS]!;
      g.reset();
      for (let b = 0; b <= blocks; b++) g.block(i, b, 0, 0);
      sink ^= g.g0;
    },
    results: [],
  });
  cases.push({
    name: `${label}   transport ghash (${tBlocks} blocks)`,
    run: (i) => {
      const g = gt[i % KEYS]!;
      g.reset();
      for (let b = 0; b < tBlocks; b++) g.block(i, b, 0, 0);
      sink ^= g.g0;
    },
    results: [],
  });
  process.on('exit', () => sink === 0.5 && console.log(sink));
}

function addNode(): void {
  const k128 = Array.from({ length: KEYS }, () => randomBytes(16));
  const k256 = Array.from({ length: KEYS }, () => randomBytes(32));
  const iv = Buffer.alloc(12);
  const opus = randomBytes(FRAME_BYTES);
  const header = randomBytes(HEADER_BYTES);
  const payload = randomBytes(DAVE_FRAME_BYTES);
  cases.push({
    name: 'node:crypto aes-128-gcm (dave size)',
    run: (i) => {
      iv.writeUInt32LE(i >>> 0, 8);
      const c = createCipheriv('aes-128-gcm', k128[i % KEYS]!, iv, { authTagLength: 8 });
      c.update(opus);
      c.final();
      c.getAuthTag();
    },
    results: [],
  });
  cases.push({
    name: 'node:crypto aes-256-gcm (transport size)',
    run: (i) => {
      iv.writeUInt32BE(i >>> 0, 0);
      const c = createCipheriv('aes-256-gcm', k256[i % KEYS]!, iv);
      c.setAAD(header);
      c.update(payload);
      c.final();
      c.getAuthTag();
    },
    results: [],
  });
}

const args = process.argv.slice(2);
const rootIndex = args.indexOf('--root');
const here = new URL('../src', import.meta.url).pathname;
await addTree('A', here);
if (rootIndex >= 0) await addTree('B', args[rootIndex + 1]!);
if (!args.includes('--no-node')) addNode();

for (const c of cases) for (let i = 0; i < 20_000; i++) c.run(i);
for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    const t0 = cpuUs();
    for (let i = 0; i < PACKETS; i++) c.run(i);
    c.results.push((cpuUs() - t0) / PACKETS);
  }
}
console.log(
  `keys ${KEYS}, frame ${FRAME_BYTES} B (transport payload ${DAVE_FRAME_BYTES} B), ${ROUNDS} rounds x ${PACKETS}`,
);
for (const c of cases) {
  const r = c.results;
  console.log(
    `${c.name.padEnd(42)} ${median(r).toFixed(3)} µs  (${Math.min(...r).toFixed(3)}..${Math.max(...r).toFixed(3)})`,
  );
}
