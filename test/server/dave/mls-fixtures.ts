/**
 * Hand-built MLS byte strings for negative tests (dave.md §5.4, Appendix A): key packages with
 * chosen fields (validly signed unless asked otherwise) and commit messages with chosen proposal
 * lists and paths. Built from the RFC 9420 layouts, independently of the code under test's parsers.
 */
import type { KeyObject } from 'node:crypto';
import { concatBytes, encodeOpaque, snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf, signWithLabel } from '../../../src/dave/mls/mls-sign.js';

export interface KeyPackageOptions {
  userId: string;
  signingKey?: KeyObject;
  version?: number;
  suite?: number;
  credentialType?: number;
  identity?: Uint8Array;
  notBefore?: bigint;
  notAfter?: bigint;
  corruptLeafSignature?: boolean;
  corruptKeyPackageSignature?: boolean;
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}
function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}
function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}
function flipLast(sig: Uint8Array): Uint8Array {
  const out = sig.slice();
  out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0x01;
  return out;
}

/** LeafNode content (without signature) of a key_package leaf. */
function leafContent(o: KeyPackageOptions, signatureKey: Uint8Array): Uint8Array {
  return concatBytes(
    encodeOpaque(p256PointOf(generateP256SigningKey())), // encryption key: any valid point
    encodeOpaque(signatureKey),
    u16(o.credentialType ?? 1),
    encodeOpaque(o.identity ?? snowflakeToBE64(o.userId)),
    Uint8Array.of(0x02, 0x00, 0x01), // versions [1]
    Uint8Array.of(0x02, 0x00, 0x02), // suites [2]
    Uint8Array.of(0x00), // extensions
    Uint8Array.of(0x00), // proposals
    Uint8Array.of(0x02, 0x00, 0x01), // credentials [basic]
    Uint8Array.of(0x01), // source key_package
    u64(o.notBefore ?? 0n),
    u64(o.notAfter ?? (1n << 64n) - 1n),
    Uint8Array.of(0x00), // leaf extensions
  );
}

export function buildLeafNode(o: KeyPackageOptions): Uint8Array {
  const key = o.signingKey ?? generateP256SigningKey();
  const content = leafContent(o, p256PointOf(key));
  let sig = signWithLabel(key, 'LeafNodeTBS', content);
  if (o.corruptLeafSignature === true) sig = flipLast(sig);
  return concatBytes(content, encodeOpaque(sig));
}

export function buildKeyPackage(o: KeyPackageOptions): Uint8Array {
  const key = o.signingKey ?? generateP256SigningKey();
  const leaf = buildLeafNode({ ...o, signingKey: key });
  const tbs = concatBytes(
    u16(o.version ?? 1),
    u16(o.suite ?? 2),
    encodeOpaque(p256PointOf(generateP256SigningKey())), // init key
    leaf,
    Uint8Array.of(0x00), // key package extensions
  );
  let sig = signWithLabel(key, 'KeyPackageTBS', tbs);
  if (o.corruptKeyPackageSignature === true) sig = flipLast(sig);
  return concatBytes(tbs, encodeOpaque(sig));
}

export type CraftEntry = { ref: Uint8Array } | { inlineRemove: number };

export interface CommitOptions {
  groupId: Uint8Array;
  epoch: bigint;
  senderLeaf: number;
  entries: CraftEntry[];
  /** A full LeafNode for the UpdatePath (then an empty nodes list follows). */
  pathLeaf?: Uint8Array;
  wireFormat?: number;
  senderType?: number;
  contentType?: number;
}

/** A PublicMessage commit with dummy signature / confirmation tag / membership tag. */
export function craftCommit(o: CommitOptions): Uint8Array {
  const entries = o.entries.map((e) =>
    'ref' in e
      ? concatBytes(Uint8Array.of(0x02), encodeOpaque(e.ref))
      : concatBytes(Uint8Array.of(0x01), u16(3), u32(e.inlineRemove)),
  );
  const path =
    o.pathLeaf === undefined
      ? Uint8Array.of(0x00)
      : concatBytes(Uint8Array.of(0x01), o.pathLeaf, Uint8Array.of(0x00));
  return concatBytes(
    u16(1),
    u16(o.wireFormat ?? 1),
    encodeOpaque(o.groupId),
    u64(o.epoch),
    Uint8Array.of(o.senderType ?? 1),
    u32(o.senderLeaf),
    Uint8Array.of(0x00),
    Uint8Array.of(o.contentType ?? 3),
    encodeOpaque(concatBytes(...entries)),
    path,
    encodeOpaque(new Uint8Array(70).fill(0x30)), // signature (not checked by the gateway)
    encodeOpaque(new Uint8Array(32).fill(0x11)), // confirmation tag
    encodeOpaque(new Uint8Array(32).fill(0x22)), // membership tag
  );
}

/** A syntactically valid Welcome with the given new_member refs (dummy HPKE fields). */
export function craftWelcome(newMembers: Uint8Array[], suite = 2): Uint8Array {
  const secrets = newMembers.map((ref, i) =>
    concatBytes(
      encodeOpaque(ref),
      encodeOpaque(new Uint8Array(65).fill(i + 1)),
      encodeOpaque(new Uint8Array(48).fill(0xee)),
    ),
  );
  return concatBytes(
    u16(suite),
    encodeOpaque(concatBytes(...secrets)),
    encodeOpaque(new Uint8Array(100).fill(0x77)),
  );
}
