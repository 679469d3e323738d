/**
 * The small pieces of TLS/MLS presentation (RFC 9420 §2.1) that DAVE needs outside ts-mls:
 * MLS varints, opaque vectors, user id byte orders, the op 25 ExternalSender, the
 * external_senders extension (a *vector*, which ts-mls 1.6.4 gets wrong: see ts-mls-fix.ts),
 * and finding the end of the commit inside op 28 (dave.md Appendix A.4).
 * Every parse is bounds-checked and throws MlsCodecError; callers turn that into typed errors.
 */

export class MlsCodecError extends Error {
  override readonly name = 'MlsCodecError';
}

const MAX_VARINT = 0x3fffffff;

/** Bounds-checked reader over a byte string. */
export class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) throw new MlsCodecError(`truncated ${what}: need ${n}, have ${this.remaining}`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.bytes[this.offset++] ?? 0;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = ((this.bytes[this.offset] ?? 0) << 8) | (this.bytes[this.offset + 1] ?? 0);
    this.offset += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const b = this.bytes;
    const o = this.offset;
    const v =
      (((b[o] ?? 0) << 24) >>> 0) + (((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0));
    this.offset += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    const hi = BigInt(this.u32(what));
    const lo = BigInt(this.u32(what));
    return (hi << 32n) | lo;
  }

  take(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** MLS variable-length integer; rejects the invalid 11 prefix and non-minimal encodings. */
  varint(what = 'varint'): number {
    const first = this.u8(what);
    const prefix = first >> 6;
    if (prefix === 0) return first & 0x3f;
    if (prefix === 1) {
      const v = ((first & 0x3f) << 8) | this.u8(what);
      if (v < 64) throw new MlsCodecError(`non-minimal ${what}`);
      return v;
    }
    if (prefix === 2) {
      const rest = this.take(3, what);
      const v =
        (first & 0x3f) * 0x1000000 + (((rest[0] ?? 0) << 16) | ((rest[1] ?? 0) << 8) | (rest[2] ?? 0));
      if (v < 16384) throw new MlsCodecError(`non-minimal ${what}`);
      return v;
    }
    throw new MlsCodecError(`invalid ${what} prefix`);
  }

  /** opaque<V>: varint byte length, then the bytes. */
  opaque(what = 'opaque'): Uint8Array {
    return this.take(this.varint(`${what} length`), what);
  }

  /** A vector<V> as a sub-reader over its content. */
  vector(what = 'vector'): Reader {
    return new Reader(this.opaque(what));
  }

  expectEnd(what: string): void {
    if (this.remaining !== 0) throw new MlsCodecError(`${this.remaining} trailing bytes after ${what}`);
  }
}

export function encodeVarint(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > MAX_VARINT) throw new MlsCodecError(`varint out of range: ${n}`);
  if (n < 64) return Uint8Array.of(n);
  if (n < 16384) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  return Uint8Array.of(0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function encodeOpaque(bytes: Uint8Array): Uint8Array {
  return concatBytes(encodeVarint(bytes.length), bytes);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

// ---- snowflakes ----

const U64_MAX = (1n << 64n) - 1n;

/** Parses a Discord snowflake (decimal string or bigint) into a u64; throws on anything else. */
export function snowflakeToBigInt(id: string | bigint): bigint {
  if (typeof id === 'bigint') {
    if (id < 0n || id > U64_MAX) throw new MlsCodecError('snowflake out of u64 range');
    return id;
  }
  if (!/^[0-9]{1,20}$/.test(id)) throw new MlsCodecError('snowflake is not a decimal u64');
  const v = BigInt(id);
  if (v > U64_MAX) throw new MlsCodecError('snowflake out of u64 range');
  return v;
}

/** 8-byte big-endian (group id = channel id, credential identity = user id; dave.md §5.2/§5.3). */
export function snowflakeToBE64(id: string | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, snowflakeToBigInt(id), false);
  return out;
}

/** 8-byte little-endian (the exporter context; dave.md §8.1). */
export function snowflakeToLE64(id: string | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, snowflakeToBigInt(id), true);
  return out;
}

/** Decodes a BE64 credential identity to the decimal user id; undefined unless exactly 8 bytes. */
export function userIdFromIdentity(identity: Uint8Array): string | undefined {
  if (identity.length !== 8) return undefined;
  return new DataView(identity.buffer, identity.byteOffset, 8).getBigUint64(0, false).toString();
}

// ---- credentials and external senders ----

export const CREDENTIAL_BASIC = 1;

export interface ParsedCredential {
  credentialType: number;
  /** Identity bytes of a basic credential. */
  identity: Uint8Array;
}

/** Reads a Credential; only basic credentials are parsed (DAVE uses nothing else). */
export function readCredential(r: Reader): ParsedCredential {
  const credentialType = r.u16('credential type');
  if (credentialType !== CREDENTIAL_BASIC) {
    throw new MlsCodecError(`unsupported credential type ${credentialType}`);
  }
  return { credentialType, identity: r.opaque('credential identity') };
}

export interface ExternalSenderInfo {
  /** SignaturePublicKey bytes (65-byte uncompressed P-256 point from Discord). */
  signatureKey: Uint8Array;
  credential: ParsedCredential;
  /** The exact encoded ExternalSender, for byte-for-byte comparisons (dave.md §6.6). */
  encoded: Uint8Array;
}

function readExternalSender(r: Reader): ExternalSenderInfo {
  const start = r.offset;
  const signatureKey = r.opaque('external sender signature key');
  if (signatureKey.length === 0) throw new MlsCodecError('empty external sender signature key');
  const credential = readCredential(r);
  return { signatureKey, credential, encoded: r.bytes.slice(start, r.offset) };
}

/** Parses op 25's payload: exactly one ExternalSender, nothing after it (dave.md §4.7). */
export function parseExternalSender(bytes: Uint8Array): ExternalSenderInfo {
  const r = new Reader(bytes);
  const sender = readExternalSender(r);
  r.expectEnd('external sender');
  return sender;
}

export function encodeExternalSender(signatureKey: Uint8Array, identity: Uint8Array): Uint8Array {
  return concatBytes(encodeOpaque(signatureKey), Uint8Array.of(0, CREDENTIAL_BASIC), encodeOpaque(identity));
}

/** extension_data of external_senders: `ExternalSender external_senders<V>` (RFC 9420 §12.1.8.1). */
export function encodeExternalSendersExtensionData(senders: readonly Uint8Array[]): Uint8Array {
  return encodeOpaque(concatBytes(...senders));
}

export function parseExternalSendersExtensionData(data: Uint8Array): ExternalSenderInfo[] {
  const outer = new Reader(data);
  const list = outer.vector('external_senders');
  outer.expectEnd('external_senders');
  const senders: ExternalSenderInfo[] = [];
  while (list.remaining > 0) senders.push(readExternalSender(list));
  return senders;
}

// ---- op 28: commit ‖ optional welcome ----

export const WIRE_FORMAT_PUBLIC_MESSAGE = 1;
export const CONTENT_TYPE_COMMIT = 3;
export const SENDER_TYPE_MEMBER = 1;
export const SENDER_TYPE_EXTERNAL = 2;

function skipLeafNode(r: Reader): void {
  r.opaque('leaf encryption key');
  r.opaque('leaf signature key');
  readCredential(r);
  for (let i = 0; i < 5; i++) r.opaque('capabilities');
  const source = r.u8('leaf node source');
  if (source === 1) r.take(16, 'lifetime');
  else if (source === 3) r.opaque('parent hash');
  else if (source !== 2) throw new MlsCodecError(`invalid leaf node source ${source}`);
  r.opaque('leaf extensions');
  r.opaque('leaf signature');
}

/**
 * Splits op 28's payload into the commit MLSMessage and the optional bare Welcome that follows it
 * (there are no length prefixes; Appendix A.4). Only a PublicMessage commit is accepted.
 */
export function splitCommitWelcome(payload: Uint8Array): {
  commit: Uint8Array;
  welcome: Uint8Array | undefined;
} {
  const r = new Reader(payload);
  const version = r.u16('version');
  if (version !== 1) throw new MlsCodecError(`unsupported MLS version ${version}`);
  const wireFormat = r.u16('wire format');
  if (wireFormat !== WIRE_FORMAT_PUBLIC_MESSAGE)
    throw new MlsCodecError(`commit wire format ${wireFormat} is not public`);
  r.opaque('group id');
  r.u64('epoch');
  const senderType = r.u8('sender type');
  if (senderType === SENDER_TYPE_MEMBER || senderType === SENDER_TYPE_EXTERNAL) r.u32('sender index');
  else if (senderType !== 3 && senderType !== 4) throw new MlsCodecError(`invalid sender type ${senderType}`);
  r.opaque('authenticated data');
  const contentType = r.u8('content type');
  if (contentType !== CONTENT_TYPE_COMMIT)
    throw new MlsCodecError(`content type ${contentType} is not commit`);
  r.opaque('proposals');
  const hasPath = r.u8('path presence');
  if (hasPath === 1) {
    skipLeafNode(r);
    r.opaque('update path nodes');
  } else if (hasPath !== 0) {
    throw new MlsCodecError('invalid optional flag');
  }
  r.opaque('signature');
  r.opaque('confirmation tag');
  if (senderType === SENDER_TYPE_MEMBER) r.opaque('membership tag');
  const commit = payload.subarray(0, r.offset);
  return { commit, welcome: r.remaining > 0 ? payload.subarray(r.offset) : undefined };
}

/** Reads the Welcome's cipher suite and secrets count; validates the framing without decrypting. */
export function parseWelcomeHeader(welcome: Uint8Array): { cipherSuite: number; newMembers: Uint8Array[] } {
  const r = new Reader(welcome);
  const cipherSuite = r.u16('welcome cipher suite');
  const secrets = r.vector('welcome secrets');
  const newMembers: Uint8Array[] = [];
  while (secrets.remaining > 0) {
    newMembers.push(secrets.opaque('new_member'));
    secrets.opaque('kem output');
    secrets.opaque('encrypted group secrets');
  }
  r.opaque('encrypted group info');
  r.expectEnd('welcome');
  return { cipherSuite, newMembers };
}
