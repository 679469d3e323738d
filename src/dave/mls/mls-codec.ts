/**
 * TLS presentation (RFC 9420 §2.1) for DAVE: the Reader and Writer every MLS codec uses (MLS
 * varints, opaque vectors), user id byte orders, and the light parsers the gateway side needs
 * without a group: credentials, the op 25 ExternalSender, the external_senders extension (a
 * *vector*, §12.1.8.1), LeafNode, KeyPackage, the PublicMessage header and the commit inside op 28
 * (dave.md Appendix A.4). The full typed MLS structures are in rfc9420/messages.ts.
 * Every parse is bounds-checked and throws MlsCodecError; callers turn that into typed errors.
 */

import { concatBytes } from '../../util/bytes.js';
import {
  MlsContentType,
  MlsCredentialType,
  MlsLeafNodeSource,
  MlsProposalType,
  MlsSenderType,
  MlsWireFormat,
} from '../../protocol/constants.js';

export class MlsCodecError extends Error {
  override readonly name = 'MlsCodecError';
}

/** A well-formed structure of a kind the caller does not accept, told apart from garbage. */
export class MlsWrongMessageError extends MlsCodecError {
  constructor(
    readonly field: 'version' | 'cipher-suite' | 'wire-format' | 'sender-type' | 'content-type',
    message: string,
  ) {
    super(message);
  }
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

/** Growable encoder for TLS presentation (RFC 9420 §2.1); `bytes()` returns the result. */
export class Writer {
  private buf = new Uint8Array(64);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }

  u32(v: number): this {
    return this.u16(Math.floor(v / 0x10000)).u16(v & 0xffff);
  }

  u64(v: bigint): this {
    return this.u32(Number((v >> 32n) & 0xffffffffn)).u32(Number(v & 0xffffffffn));
  }

  raw(bytes: Uint8Array): this {
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  varint(n: number): this {
    return this.raw(encodeVarint(n));
  }

  opaque(bytes: Uint8Array): this {
    return this.varint(bytes.length).raw(bytes);
  }

  /** A vector<V> whose content `fill` writes in place; the length prefix is fitted afterwards. */
  vector(fill: (w: Writer) => void): this {
    this.room(4);
    const start = this.len + 4; // room for the longest varint
    this.len = start;
    fill(this);
    const length = this.len - start;
    const prefix = encodeVarint(length);
    const at = start - prefix.length;
    this.buf.set(prefix, at);
    if (at > start - 4) this.buf.copyWithin(start - 4, at, this.len);
    this.len -= 4 - prefix.length;
    return this;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export { concatBytes };

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

export const CREDENTIAL_BASIC = MlsCredentialType.Basic;

export interface ParsedCredential {
  credentialType: number;
  /** Identity bytes of a basic credential; empty for other credential types. */
  identity: Uint8Array;
}

/**
 * Reads a Credential (RFC 9420 §5.3). Another type's body is read as one opaque vector (x509's
 * `certificates<V>`) and not kept: callers that need a basic credential check credentialType.
 */
export function readCredential(r: Reader): ParsedCredential {
  const credentialType = r.u16('credential type');
  if (credentialType === CREDENTIAL_BASIC)
    return { credentialType, identity: r.opaque('credential identity') };
  r.opaque('credential body');
  return { credentialType, identity: new Uint8Array(0) };
}

export interface ExternalSenderInfo {
  /** SignaturePublicKey bytes (65-byte uncompressed P-256 point from Discord). */
  signatureKey: Uint8Array;
  credential: ParsedCredential;
  /** The exact encoded ExternalSender, for byte-for-byte comparisons (dave.md §6.6). */
  encoded: Uint8Array;
}

/** Reads an ExternalSender; only basic credentials are accepted (DAVE uses nothing else). */
function readExternalSender(r: Reader): ExternalSenderInfo {
  const start = r.offset;
  const signatureKey = r.opaque('external sender signature key');
  if (signatureKey.length === 0) throw new MlsCodecError('empty external sender signature key');
  const credential = readCredential(r);
  if (credential.credentialType !== CREDENTIAL_BASIC) {
    throw new MlsCodecError(`unsupported credential type ${credential.credentialType}`);
  }
  return { signatureKey, credential, encoded: r.bytes.slice(start, r.offset) };
}

/** Parses op 25's payload: exactly one ExternalSender, nothing after it (dave.md §4.7). */
export function parseExternalSender(bytes: Uint8Array): ExternalSenderInfo {
  const r = new Reader(bytes);
  const sender = readExternalSender(r);
  r.expectEnd('external sender');
  return sender;
}

/** An ExternalSender with a basic credential: op 25's payload and an external_senders entry. */
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

// ---- leaf nodes and key packages ----

export const LEAF_SOURCE_KEY_PACKAGE = MlsLeafNodeSource.KeyPackage;
export const LEAF_SOURCE_UPDATE = MlsLeafNodeSource.Update;
export const LEAF_SOURCE_COMMIT = MlsLeafNodeSource.Commit;

export interface ParsedLeafNode {
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credentialType: number;
  /** Identity of a basic credential; empty for other credential types. */
  identity: Uint8Array;
  source: number;
  /** Present when source is key_package. */
  lifetime: { notBefore: bigint; notAfter: bigint } | undefined;
  /** The LeafNode fields covered by its signature (LeafNodeTBS without group context). */
  signedContent: Uint8Array;
  signature: Uint8Array;
}

/** Reads a LeafNode (RFC 9420 §7.2). */
export function readLeafNode(r: Reader): ParsedLeafNode {
  const start = r.offset;
  const encryptionKey = r.opaque('leaf encryption key');
  const signatureKey = r.opaque('leaf signature key');
  const { credentialType, identity } = readCredential(r);
  for (let i = 0; i < 5; i++) r.opaque('capabilities');
  const source = r.u8('leaf node source');
  let lifetime: ParsedLeafNode['lifetime'];
  if (source === LEAF_SOURCE_KEY_PACKAGE)
    lifetime = { notBefore: r.u64('not_before'), notAfter: r.u64('not_after') };
  else if (source === LEAF_SOURCE_COMMIT) r.opaque('parent hash');
  else if (source !== LEAF_SOURCE_UPDATE) throw new MlsCodecError(`invalid leaf node source ${source}`);
  r.opaque('leaf extensions');
  const signedContent = r.bytes.subarray(start, r.offset);
  const signature = r.opaque('leaf signature');
  return {
    encryptionKey,
    signatureKey,
    credentialType,
    identity,
    source,
    lifetime,
    signedContent,
    signature,
  };
}

export interface ParsedKeyPackage {
  version: number;
  cipherSuite: number;
  leaf: ParsedLeafNode;
  /** KeyPackageTBS: the fields its signature covers. */
  signedContent: Uint8Array;
  signature: Uint8Array;
}

/**
 * Reads a KeyPackage (RFC 9420 §10). With `expected`, another version or cipher suite throws
 * MlsWrongMessageError as soon as it is read.
 */
export function readKeyPackage(
  r: Reader,
  expected?: { version: number; cipherSuite: number },
): ParsedKeyPackage {
  const start = r.offset;
  const version = r.u16('key package version');
  if (expected !== undefined && version !== expected.version) {
    throw new MlsWrongMessageError('version', `MLS version ${version}`);
  }
  const cipherSuite = r.u16('key package cipher suite');
  if (expected !== undefined && cipherSuite !== expected.cipherSuite) {
    throw new MlsWrongMessageError('cipher-suite', `cipher suite ${cipherSuite}`);
  }
  r.opaque('init key');
  const leaf = readLeafNode(r);
  r.opaque('key package extensions');
  const signedContent = r.bytes.subarray(start, r.offset);
  const signature = r.opaque('key package signature');
  return { version, cipherSuite, leaf, signedContent, signature };
}

// ---- PublicMessage framing (RFC 9420 §6, §6.2) ----

export const WIRE_FORMAT_PUBLIC_MESSAGE = MlsWireFormat.PublicMessage;
export const CONTENT_TYPE_PROPOSAL = MlsContentType.Proposal;
export const CONTENT_TYPE_COMMIT = MlsContentType.Commit;
export const SENDER_TYPE_MEMBER = MlsSenderType.Member;
export const SENDER_TYPE_EXTERNAL = MlsSenderType.External;
export const SENDER_TYPE_NEW_MEMBER_PROPOSAL = MlsSenderType.NewMemberProposal;
export const SENDER_TYPE_NEW_MEMBER_COMMIT = MlsSenderType.NewMemberCommit;
export const PROPOSAL_TYPE_ADD = MlsProposalType.Add;
export const PROPOSAL_TYPE_REMOVE = MlsProposalType.Remove;

const CONTENT_TYPE_NAMES: Readonly<Record<number, string>> = { 1: 'application', 2: 'proposal', 3: 'commit' };

export interface PublicMessageHeader {
  groupId: Uint8Array;
  epoch: bigint;
  senderType: number;
  /** Leaf index (member) or external sender index; undefined for new_member senders. */
  senderIndex: number | undefined;
}

/**
 * Reads an MLSMessage holding a PublicMessage up to its content_type and checks that it carries
 * `contentType` from one of `senders`. Another MLS version is malformed (its layout is unknown);
 * another wire format, sender type or content type throws MlsWrongMessageError when it is read.
 */
export function readPublicMessageHeader(
  r: Reader,
  contentType: number,
  senders: readonly number[],
): PublicMessageHeader {
  const version = r.u16('version');
  if (version !== 1) throw new MlsCodecError(`unsupported MLS version ${version}`);
  const wireFormat = r.u16('wire format');
  if (wireFormat !== WIRE_FORMAT_PUBLIC_MESSAGE) {
    throw new MlsWrongMessageError('wire-format', `wire format ${wireFormat} is not a PublicMessage`);
  }
  const groupId = r.opaque('group id');
  const epoch = r.u64('epoch');
  const senderType = r.u8('sender type');
  if (!senders.includes(senderType)) {
    throw new MlsWrongMessageError('sender-type', `sender type ${senderType} is not accepted here`);
  }
  const indexed = senderType === SENDER_TYPE_MEMBER || senderType === SENDER_TYPE_EXTERNAL;
  const senderIndex = indexed ? r.u32('sender index') : undefined;
  r.opaque('authenticated data');
  const actual = r.u8('content type');
  if (actual !== contentType) {
    const name = CONTENT_TYPE_NAMES[contentType] ?? String(contentType);
    throw new MlsWrongMessageError('content-type', `content type ${actual} is not ${name}`);
  }
  return { groupId, epoch, senderType, senderIndex };
}

// ---- op 28: commit ‖ optional welcome ----

const ALL_SENDER_TYPES = [
  SENDER_TYPE_MEMBER,
  SENDER_TYPE_EXTERNAL,
  SENDER_TYPE_NEW_MEMBER_PROPOSAL,
  SENDER_TYPE_NEW_MEMBER_COMMIT,
];

export interface ParsedCommit extends PublicMessageHeader {
  /** The commit MLSMessage, byte-identical to the input. */
  commit: Uint8Array;
  /** The bytes after it: op 28's optional bare Welcome. */
  welcome: Uint8Array | undefined;
  /** Content of `ProposalOrRef proposals<V>`. */
  proposals: Uint8Array;
  /** UpdatePath leaf node, when the commit has a path. */
  pathLeaf: ParsedLeafNode | undefined;
}

/**
 * Reads op 28's payload: a PublicMessage commit from one of `senders`, then, with no length
 * prefixes, whatever follows it (the optional Welcome; Appendix A.4). Signatures and tags are
 * skipped, not verified.
 */
export function parseCommitWelcome(
  payload: Uint8Array,
  senders: readonly number[] = ALL_SENDER_TYPES,
): ParsedCommit {
  const r = new Reader(payload);
  const header = readPublicMessageHeader(r, CONTENT_TYPE_COMMIT, senders);
  const proposals = r.opaque('proposals');
  const hasPath = r.u8('path presence');
  let pathLeaf: ParsedLeafNode | undefined;
  if (hasPath === 1) {
    pathLeaf = readLeafNode(r);
    r.opaque('update path nodes');
  } else if (hasPath !== 0) {
    throw new MlsCodecError('invalid optional flag');
  }
  r.opaque('signature');
  r.opaque('confirmation tag');
  if (header.senderType === SENDER_TYPE_MEMBER) r.opaque('membership tag');
  const commit = payload.subarray(0, r.offset);
  const welcome = r.remaining > 0 ? payload.subarray(r.offset) : undefined;
  return { ...header, commit, welcome, proposals, pathLeaf };
}

/** Splits op 28's payload into the commit and the optional Welcome; a path leaf must be basic. */
export function splitCommitWelcome(payload: Uint8Array): {
  commit: Uint8Array;
  welcome: Uint8Array | undefined;
} {
  const { commit, welcome, pathLeaf } = parseCommitWelcome(payload);
  if (pathLeaf !== undefined && pathLeaf.credentialType !== CREDENTIAL_BASIC) {
    throw new MlsCodecError(`unsupported credential type ${pathLeaf.credentialType}`);
  }
  return { commit, welcome };
}
