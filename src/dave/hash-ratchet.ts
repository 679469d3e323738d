/**
 * DAVE sender key derivation (dave.md §8): MLS ExpandWithLabel / DeriveSecret / exporter on
 * HMAC-SHA256, and the per-sender hash ratchet (mlspp HashRatchet). HMAC is the TypeScript one
 * (crypto/sha256.ts: no native object or Buffer per call); the ratchet expands a 16-byte base
 * secret, shorter than an MLS hash output.
 */
import { hmacSha256, sha256 } from '../crypto/sha256.js';
import { DAVE_EXPORTER_LABEL, DAVE_MEDIA_KEY_BYTES } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import {
  concatBytes,
  encodeOpaque,
  MlsCodecError,
  snowflakeToBigInt,
  snowflakeToLE64,
} from './mls/mls-codec.js';
import { inspectCustom, publicView } from '../util/redact.js';
import type { InspectStylized } from '../util/redact.js';
import type { inspect } from 'node:util';

const HASH_BYTES = 32;
const encoder = new TextEncoder();

/** RFC 5869 HKDF-Expand with HMAC-SHA256 (WebCrypto/Node HKDF always extract first; MLS expands only). */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length > 255 * HASH_BYTES) throw new VoxcordError('INVALID_ARGUMENT', 'HKDF-Expand length too large');
  if (length <= HASH_BYTES) {
    // one block: every ExpandWithLabel of the ratchet and of MLS ciphersuite 2
    const block = hmacSha256(prk, info, Uint8Array.of(1));
    return length === HASH_BYTES ? block : block.slice(0, length);
  }
  const out = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  let written = 0;
  for (let counter = 1; written < length; counter++) {
    previous = hmacSha256(prk, previous, info, Uint8Array.of(counter));
    const take = Math.min(previous.length, length - written);
    out.set(previous.subarray(0, take), written);
    written += take;
  }
  return out;
}

/** RFC 9420 ExpandWithLabel: info = u16(L) ‖ opaque<V>("MLS 1.0 " + label) ‖ opaque<V>(context). */
export function expandWithLabel(
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const info = concatBytes(
    Uint8Array.of(length >> 8, length & 0xff),
    encodeOpaque(encoder.encode(`MLS 1.0 ${label}`)),
    encodeOpaque(context),
  );
  return hkdfExpand(secret, info, length);
}

/** RFC 9420 DeriveSecret(secret, label) = ExpandWithLabel(secret, label, "", Nh). */
export function deriveSecret(secret: Uint8Array, label: string): Uint8Array {
  return expandWithLabel(secret, label, new Uint8Array(0), HASH_BYTES);
}

/** RFC 9420 §8.5 MLS-Exporter(label, context, length) from an epoch's exporter_secret. */
export function mlsExporter(
  exporterSecret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const derived = deriveSecret(exporterSecret, label);
  const contextHash = sha256(context);
  return expandWithLabel(derived, 'exported', contextHash, length);
}

/** Parses a Discord snowflake (decimal string or bigint) into an unsigned 64-bit bigint. */
export function parseUserId(userId: string | bigint): bigint {
  try {
    return snowflakeToBigInt(userId);
  } catch (err) {
    if (err instanceof MlsCodecError) throw new VoxcordError('INVALID_ARGUMENT', `user id: ${err.message}`);
    throw err;
  }
}

/**
 * A sender's per-epoch base secret: MLS-Exporter("Discord Secure Frames v0", LE64(userId), 16)
 * (dave.md §8.1). Provided for MLS libraries that expose the exporter_secret but not the exporter.
 */
export function exportBaseSecret(exporterSecret: Uint8Array, userId: string | bigint): Uint8Array {
  const context = snowflakeToLE64(parseUserId(userId));
  return mlsExporter(exporterSecret, DAVE_EXPORTER_LABEL, context, DAVE_MEDIA_KEY_BYTES);
}

function be32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * Per-sender hash ratchet (RFC 9420 secret-tree ratchet as in mlspp, dave.md §8.1). Keys are
 * cached for every generation passed while ratcheting forward; an erased or skipped-over-and-erased
 * generation can never be recovered. Generations are counted beyond 255 (wrapped generations),
 * the 32-bit context uses the low 32 bits.
 */
export class HashRatchet {
  private secret: Uint8Array;
  private nextGen = 0;
  private readonly keys = new Map<number, Uint8Array>();

  constructor(baseSecret: Uint8Array) {
    if (baseSecret.length !== DAVE_MEDIA_KEY_BYTES) {
      throw new VoxcordError('INVALID_ARGUMENT', `DAVE base secret must be ${DAVE_MEDIA_KEY_BYTES} bytes`);
    }
    this.secret = Uint8Array.from(baseSecret);
  }

  /** The next generation the ratchet has not derived yet. */
  get nextGeneration(): number {
    return this.nextGen;
  }

  /** util.inspect: never the secret or the cached keys. */
  [inspectCustom](depth: number, options: InspectStylized, inspectFn: typeof inspect): string {
    return publicView(
      'HashRatchet',
      { nextGeneration: this.nextGen, cachedKeys: this.keys.size },
      depth,
      options,
      inspectFn,
    );
  }

  /** Key for `generation`, or null if it was erased (or lies behind the ratchet). */
  get(generation: number): Uint8Array | null {
    if (!Number.isSafeInteger(generation) || generation < 0) return null;
    const cached = this.keys.get(generation);
    if (cached !== undefined) return cached;
    if (generation < this.nextGen) return null;
    while (this.nextGen <= generation) this.step();
    return this.keys.get(generation) ?? null;
  }

  /** Forgets the key of `generation` (forward secrecy once no frame can still use it). */
  erase(generation: number): void {
    const key = this.keys.get(generation);
    if (key !== undefined) {
      key.fill(0);
      this.keys.delete(generation);
    }
  }

  /** Zeroes the secret and every cached key (the ratchet is no longer used: its epoch ended). */
  destroy(): void {
    this.secret.fill(0);
    for (const key of this.keys.values()) key.fill(0);
    this.keys.clear();
  }

  private step(): void {
    const context = be32(this.nextGen);
    this.keys.set(this.nextGen, expandWithLabel(this.secret, 'key', context, DAVE_MEDIA_KEY_BYTES));
    const next = expandWithLabel(this.secret, 'secret', context, HASH_BYTES);
    this.secret.fill(0);
    this.secret = next;
    this.nextGen++;
  }
}
