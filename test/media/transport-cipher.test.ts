import { describe, it, expect } from 'vitest';
import {
  JS_AES_GCM_MAX_PAYLOAD,
  availableTransportBackends,
  createJsAesGcmCipher,
  createTransportCipher,
} from '../../src/media/transport-cipher.js';
import type { TransportBackend, TransportCipher } from '../../src/media/transport-cipher.js';
import { loadSodium, sodiumHasAesGcm } from '../../src/media/sodium.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { isVoxcordError } from '../../src/errors.js';
import { hexBuffer as hex } from '../support/bytes.js';
import { caught } from '../support/errors.js';

const KEY = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const HEADER = hex('80780001000003c00000002a');
const SILENCE = hex('f8fffe');

// media.md §7
const VECTORS: Record<EncryptionMode, string> = {
  [EncryptionMode.AesGcm]: '80780001000003c00000002a bcc933 01b2b31f703712d9eef67671717d1054 00000001',
  [EncryptionMode.XChaCha]: '80780001000003c00000002a f158af 2618db247ce207fb334177b356a29f9f 00000001',
};
const EXT_PACKET = hex(
  '9078000700001a400000002abede0001 bc835ace6aff08 5c83cb301e31646dfc337b03c83e36a5 00000002',
);

const sodium = loadSodium();
const MODES = [EncryptionMode.AesGcm, EncryptionMode.XChaCha] as const;

/** Every (mode, backend) pair this machine can run. */
function combos(): Array<[EncryptionMode, TransportBackend]> {
  const out: Array<[EncryptionMode, TransportBackend]> = [];
  for (const mode of MODES) {
    out.push([mode, 'node']);
    if (mode === EncryptionMode.AesGcm) out.push([mode, 'js']);
    if (sodium && (mode === EncryptionMode.XChaCha || sodiumHasAesGcm(sodium))) out.push([mode, 'sodium']);
  }
  return out;
}

function randomBytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
}

describe.each(combos())('%s via %s', (mode, backend) => {
  const cipher: TransportCipher = createTransportCipher(mode, KEY, { backend });

  it('reports its mode and backend', () => {
    expect(cipher.mode).toBe(mode);
    expect(cipher.backend).toBe(backend);
  });

  it('seals the media.md §7 golden packet', () => {
    const header = Buffer.from(HEADER);
    const payload = Buffer.from(SILENCE);
    const packet = cipher.seal(header, payload, 1);
    expect(packet.toString('hex')).toBe(VECTORS[mode].replace(/\s+/g, ''));
    expect(header.equals(HEADER)).toBe(true); // inputs untouched
    expect(payload.equals(SILENCE)).toBe(true);
  });

  it('opens the golden packet', () => {
    expect(cipher.open(hex(VECTORS[mode]), 12)?.toString('hex')).toBe('f8fffe');
  });

  it('returns independent buffers from consecutive seals', () => {
    const a = cipher.seal(HEADER, SILENCE, 1);
    const copy = Buffer.from(a);
    cipher.seal(HEADER, Buffer.from('0102030405', 'hex'), 2);
    expect(a.equals(copy)).toBe(true);
  });

  it('round-trips empty, small and large payloads at edge counters', () => {
    for (const [len, counter] of [
      [0, 0],
      [1, 1],
      [120, 0x7fffffff],
      [1275, 0xffffffff],
    ] as const) {
      const payload = randomBytes(len);
      const packet = cipher.seal(HEADER, payload, counter);
      expect(packet.length).toBe(12 + len + 20);
      expect(packet.readUInt32BE(packet.length - 4)).toBe(counter);
      expect(cipher.open(packet, 12)?.equals(payload)).toBe(true);
    }
  });

  it('wraps the counter argument to 32 bits', () => {
    expect(cipher.seal(HEADER, SILENCE, 2 ** 32 + 1).equals(cipher.seal(HEADER, SILENCE, 1))).toBe(true);
  });

  it('uses the counter as the nonce: different counters give different ciphertexts', () => {
    const a = cipher.seal(HEADER, SILENCE, 1).subarray(12, 31);
    const b = cipher.seal(HEADER, SILENCE, 2).subarray(12, 31);
    expect(a.equals(b)).toBe(false);
  });

  it('returns null for tampered, truncated or misframed packets without throwing', () => {
    const good = cipher.seal(HEADER, randomBytes(40), 77);
    for (const i of [0, 5, 11, 12, 30, good.length - 20, good.length - 5, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x01;
      expect(cipher.open(bad, 12)).toBeNull();
    }
    expect(cipher.open(good.subarray(0, good.length - 1), 12)).toBeNull();
    expect(cipher.open(new Uint8Array(0), 0)).toBeNull();
    expect(cipher.open(new Uint8Array(31), 12)).toBeNull();
    expect(cipher.open(good, 13)).toBeNull(); // wrong AAD boundary
    expect(cipher.open(good, -1)).toBeNull();
    expect(cipher.open(good, 1.5)).toBeNull();
    expect(cipher.open(good, good.length)).toBeNull();
    expect(cipher.open(good, Number.NaN)).toBeNull();
    const other = createTransportCipher(mode, Buffer.alloc(32, 7), { backend });
    expect(other.open(good, 12)).toBeNull();
    // Still works afterwards (no state poisoned by failures).
    expect(cipher.open(good, 12)).not.toBeNull();
  });

  it("sealInPlace writes the datagram seal() returns, in the caller's buffer past any prefix", () => {
    const ext = hex('9078000700001a400000002abede0001');
    for (const header of [HEADER, ext]) {
      for (const len of [0, 3, 120, JS_AES_GCM_MAX_PAYLOAD + 1, 1275]) {
        const payload = randomBytes(len);
        const counter = 0xfffffff0 + len;
        const expected = cipher.seal(header, payload, counter);
        // Bytes after the datagram stay as they were.
        const buf = Buffer.alloc(header.length + len + 20 + 8, 0xa5);
        buf.set(header, 0);
        buf.set(payload, header.length);
        expect(cipher.sealInPlace(buf, header.length, len, counter)).toBe(expected.length);
        expect(buf.subarray(0, expected.length).toString('hex')).toBe(expected.toString('hex'));
        expect(buf.subarray(expected.length).equals(Buffer.alloc(8, 0xa5))).toBe(true);
        expect(cipher.open(buf.subarray(0, expected.length), header.length)?.equals(payload)).toBe(true);
      }
    }
  });

  it('sealInPlace seals the media.md §7 golden packet', () => {
    const buf = Buffer.concat([HEADER, SILENCE, Buffer.alloc(20)]);
    expect(cipher.sealInPlace(buf, 12, 3, 1)).toBe(35);
    expect(buf.toString('hex')).toBe(VECTORS[mode].replace(/\s+/g, ''));
  });

  it('accepts a plain Uint8Array view into a larger buffer', () => {
    const packet = cipher.seal(HEADER, SILENCE, 5);
    const big = new Uint8Array(packet.length + 10);
    big.set(packet, 5);
    expect(cipher.open(big.subarray(5, 5 + packet.length), 12)?.toString('hex')).toBe('f8fffe');
  });
});

describe('header-extension receive vector (media.md §7, AES-256-GCM)', () => {
  it('authenticates the 16-byte AAD and returns ext body ‖ payload', () => {
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    expect(cipher.open(EXT_PACKET, 16)?.toString('hex')).toBe('10ff0000f8fffe');
    expect(cipher.open(EXT_PACKET, 12)).toBeNull();
    expect(cipher.seal(EXT_PACKET.subarray(0, 16), hex('10ff0000f8fffe'), 2).equals(EXT_PACKET)).toBe(true);
  });
});

describe.skipIf(!sodium)('node and sodium backends interoperate', () => {
  it.each(MODES.filter((m) => m === EncryptionMode.XChaCha || (sodium && sodiumHasAesGcm(sodium))))(
    '%s both ways',
    (mode) => {
      const key = randomBytes(32);
      const viaNode = createTransportCipher(mode, key, { backend: 'node' });
      const viaSodium = createTransportCipher(mode, key, { backend: 'sodium' });
      for (let i = 0; i < 25; i++) {
        const header = randomBytes(12 + 4 * (i % 3));
        const payload = randomBytes(i * 13);
        const counter = (Math.random() * 2 ** 32) >>> 0;
        const a = viaNode.seal(header, payload, counter);
        const b = viaSodium.seal(header, payload, counter);
        expect(a.equals(b)).toBe(true);
        expect(viaSodium.open(a, header.length)?.equals(payload)).toBe(true);
        expect(viaNode.open(b, header.length)?.equals(payload)).toBe(true);
      }
    },
  );
});

describe('js and node AES-256-GCM backends interoperate', () => {
  it('on random keys, headers, counters and payload sizes on both sides of the js size limit', () => {
    for (let i = 0; i < 60; i++) {
      const key = randomBytes(32);
      const viaNode = createTransportCipher(EncryptionMode.AesGcm, key, { backend: 'node' });
      const viaJs = createTransportCipher(EncryptionMode.AesGcm, key, { backend: 'js' });
      const header = randomBytes(12 + 4 * (i % 3));
      const size = i < 50 ? (i * 29) % (JS_AES_GCM_MAX_PAYLOAD + 1) : JS_AES_GCM_MAX_PAYLOAD - 5 + i - 50;
      const payload = randomBytes(size);
      const counter = (Math.random() * 2 ** 32) >>> 0;
      const a = viaNode.seal(header, payload, counter);
      const b = viaJs.seal(header, payload, counter);
      expect(b.equals(a)).toBe(true);
      expect(viaJs.open(a, header.length)?.equals(payload)).toBe(true);
      expect(viaNode.open(b, header.length)?.equals(payload)).toBe(true);
      // A flipped ciphertext or tag byte never opens.
      const bad = Buffer.from(b);
      bad[header.length + (size > 0 ? size - 1 : 0)]! ^= 1;
      expect(viaJs.open(bad, header.length)).toBeNull();
    }
  });

  it("makes its node:crypto fallback from its own copy of the key (the caller's array may change)", () => {
    const key = randomBytes(32);
    const viaNode = createTransportCipher(EncryptionMode.AesGcm, key, { backend: 'node' });
    const mine = Uint8Array.from(key);
    const viaJs = createTransportCipher(EncryptionMode.AesGcm, mine, { backend: 'js' });
    mine.fill(0); // e.g. a session that wipes the key it handed over
    for (const size of [120, JS_AES_GCM_MAX_PAYLOAD + 1, 1275, 120]) {
      const payload = randomBytes(size);
      const sealed = viaJs.seal(HEADER, payload, size);
      expect(sealed.equals(viaNode.seal(HEADER, payload, size))).toBe(true);
      expect(viaJs.open(sealed, HEADER.length)?.equals(payload)).toBe(true);
    }
  });

  it.each(['rounds', 'native', 'wasm'] as const)(
    "gives the same packets with the GCM core's '%s' keystream as with node:crypto",
    (keystream) => {
      const key = randomBytes(32);
      const viaNode = createTransportCipher(EncryptionMode.AesGcm, key, { backend: 'node' });
      const viaTs = createJsAesGcmCipher(key, { keystream });
      expect(viaTs.seal(HEADER, SILENCE, 1).equals(viaNode.seal(HEADER, SILENCE, 1))).toBe(true);
      for (const size of [0, 1, 15, 16, 17, 120, JS_AES_GCM_MAX_PAYLOAD]) {
        const payload = randomBytes(size);
        const a = viaTs.seal(HEADER, payload, 0xfffffff0 + size);
        expect(a.equals(viaNode.seal(HEADER, payload, 0xfffffff0 + size))).toBe(true);
        expect(viaTs.open(a, 12)?.equals(payload)).toBe(true);
      }
      const golden = createJsAesGcmCipher(KEY, { keystream });
      expect(golden.seal(HEADER, SILENCE, 1).toString('hex')).toBe(
        VECTORS[EncryptionMode.AesGcm].replace(/\s+/g, ''),
      );
    },
  );

  it('is what auto picks for AES-256-GCM unless sodium has it', () => {
    const c = createTransportCipher(EncryptionMode.AesGcm, KEY);
    expect(c.backend).toBe(sodium && sodiumHasAesGcm(sodium) ? 'sodium' : 'js');
  });

  it('refuses XChaCha', () => {
    const err = caught(() => createTransportCipher(EncryptionMode.XChaCha, KEY, { backend: 'js' }));
    expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('createTransportCipher', () => {
  it('lists node always and sodium when it loads', () => {
    const backends = availableTransportBackends();
    expect(backends).toContain('node');
    expect(backends).toContain('js');
    expect(backends.includes('sodium')).toBe(sodium !== null);
  });

  it('auto picks sodium for XChaCha when it is loaded', () => {
    const c = createTransportCipher(EncryptionMode.XChaCha, KEY);
    expect(c.backend).toBe(sodium ? 'sodium' : 'node');
    expect(createTransportCipher(EncryptionMode.AesGcm, KEY, { backend: 'auto' }).mode).toBe(
      EncryptionMode.AesGcm,
    );
  });

  it('copies the key: later changes to the caller buffer do not matter', () => {
    for (const [mode, backend] of combos()) {
      const key = Buffer.from(KEY);
      const c = createTransportCipher(mode, key, { backend });
      key.fill(0);
      expect(c.seal(HEADER, SILENCE, 1).toString('hex')).toBe(VECTORS[mode].replace(/\s+/g, ''));
    }
  });

  it('throws INVALID_ARGUMENT for bad keys, modes and backends, never echoing the key', () => {
    const bad: Array<() => unknown> = [
      () => createTransportCipher(EncryptionMode.AesGcm, KEY.subarray(0, 31)),
      () => createTransportCipher(EncryptionMode.XChaCha, Buffer.concat([KEY, Buffer.alloc(1)])),
      () => createTransportCipher(EncryptionMode.XChaCha, Array.from(KEY) as unknown as Uint8Array),
      () => createTransportCipher('xsalsa20_poly1305' as EncryptionMode, KEY),
      () => createTransportCipher(EncryptionMode.AesGcm, KEY, { backend: 'openssl' as TransportBackend }),
    ];
    if (!sodium) bad.push(() => createTransportCipher(EncryptionMode.XChaCha, KEY, { backend: 'sodium' }));
    if (sodium && !sodiumHasAesGcm(sodium)) {
      bad.push(() => createTransportCipher(EncryptionMode.AesGcm, KEY, { backend: 'sodium' }));
    }
    for (const fn of bad) {
      const err = caught(fn);
      expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
      const text = `${(err as Error).message} ${JSON.stringify((err as { details?: unknown }).details ?? {})}`;
      expect(text).not.toContain(KEY.toString('hex').slice(0, 16));
      expect(text).not.toContain('0,1,2,3,4');
    }
  });
});
