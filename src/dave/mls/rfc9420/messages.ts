/**
 * The RFC 9420 structures DAVE's MLS layer reads and writes, as typed values with one encoder and
 * one decoder each (§5-§12): credentials, capabilities, extensions, LeafNode, KeyPackage, the
 * ratchet tree nodes, UpdatePath, every proposal type (so any Commit can be read), Commit,
 * FramedContent, PublicMessage, PrivateMessage (read and written as opaque fields only), GroupContext,
 * GroupInfo, GroupSecrets, Welcome, MLSMessage. Decoders throw MlsCodecError on malformed input.
 */
import {
  MLS_PROTOCOL_VERSION,
  MlsContentType,
  MlsExtensionType,
  MlsLeafNodeSource,
  MlsProposalType,
  MlsSenderType,
  MlsWireFormat,
} from '../../../protocol/constants.js';
import { MlsCodecError, Reader, Writer } from '../mls-codec.js';

export const MLS_VERSION_10 = MLS_PROTOCOL_VERSION;

export const WireFormat = MlsWireFormat;
export type WireFormat = (typeof WireFormat)[keyof typeof WireFormat];
export const ContentType = MlsContentType;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];
export const SenderType = MlsSenderType;
export type SenderType = (typeof SenderType)[keyof typeof SenderType];
export const ProposalType = MlsProposalType;
export type ProposalType = (typeof ProposalType)[keyof typeof ProposalType];
export const LeafNodeSource = MlsLeafNodeSource;
export type LeafNodeSource = (typeof LeafNodeSource)[keyof typeof LeafNodeSource];

export const EXTENSION_RATCHET_TREE = MlsExtensionType.RatchetTree;
export const EXTENSION_EXTERNAL_SENDERS = MlsExtensionType.ExternalSenders;

// ---- basic pieces ----

export interface Credential {
  credentialType: number;
  /** basic: the identity; x509: the content of `certificates<V>`. */
  identity: Uint8Array;
}

export interface Capabilities {
  readonly versions: readonly number[];
  readonly cipherSuites: readonly number[];
  readonly extensions: readonly number[];
  readonly proposals: readonly number[];
  readonly credentials: readonly number[];
}

export interface Extension {
  extensionType: number;
  extensionData: Uint8Array;
}

function writeU16List(w: Writer, list: readonly number[]): void {
  w.vector((v) => {
    for (const x of list) v.u16(x);
  });
}

function readU16List(r: Reader, what: string): number[] {
  const v = r.vector(what);
  // Exact size (push would leave room for 16 more numbers behind each short list).
  const out = new Array<number>(v.remaining >> 1);
  for (let i = 0; i < out.length; i++) out[i] = v.u16(what);
  if (v.remaining > 0) v.u16(what); // an odd trailing byte: the same error as before
  return out;
}

export function writeCredential(w: Writer, c: Credential): void {
  w.u16(c.credentialType).opaque(c.identity);
}

export function readCredential(r: Reader): Credential {
  const credentialType = r.u16('credential type');
  if (credentialType !== 1 && credentialType !== 2) {
    throw new MlsCodecError(`unknown credential type ${credentialType}`);
  }
  return { credentialType, identity: r.opaque('credential') };
}

function writeCapabilities(w: Writer, c: Capabilities): void {
  writeU16List(w, c.versions);
  writeU16List(w, c.cipherSuites);
  writeU16List(w, c.extensions);
  writeU16List(w, c.proposals);
  writeU16List(w, c.credentials);
}

/**
 * Parsed capabilities, shared (frozen) between every leaf that advertises the same ones: a tree
 * keeps one leaf per member for as long as the group lives, and every DAVE member advertises the
 * same five short lists (about 1 KiB per leaf as separate arrays grown by push). Bounded, so
 * arbitrary input cannot grow it; a set beyond the bound is returned unshared.
 */
const internedCapabilities = new Map<string, Capabilities>();
const MAX_INTERNED_CAPABILITIES = 32;

/** The shared, frozen Capabilities equal to `c` (c itself, frozen, the first time it is seen). */
export function sharedCapabilities(c: Capabilities): Capabilities {
  const lists = [c.versions, c.cipherSuites, c.extensions, c.proposals, c.credentials];
  const key = lists.map((list) => list.join(',')).join(';');
  const known = internedCapabilities.get(key);
  if (known !== undefined) return known;
  for (const list of lists) Object.freeze(list);
  const capabilities = Object.freeze(c);
  if (internedCapabilities.size < MAX_INTERNED_CAPABILITIES && key.length <= 256)
    internedCapabilities.set(key, capabilities);
  return capabilities;
}

function readCapabilities(r: Reader): Capabilities {
  return sharedCapabilities({
    versions: readU16List(r, 'versions'),
    cipherSuites: readU16List(r, 'cipher suites'),
    extensions: readU16List(r, 'extensions'),
    proposals: readU16List(r, 'proposals'),
    credentials: readU16List(r, 'credentials'),
  });
}

export function writeExtensions(w: Writer, list: readonly Extension[]): void {
  w.vector((v) => {
    for (const e of list) v.u16(e.extensionType).opaque(e.extensionData);
  });
}

export function readExtensions(r: Reader): Extension[] {
  const v = r.vector('extensions');
  const out: Extension[] = [];
  while (v.remaining > 0)
    out.push({ extensionType: v.u16('extension type'), extensionData: v.opaque('extension data') });
  return exactSize(out);
}

function readList<T>(r: Reader, what: string, item: (r: Reader) => T): T[] {
  const v = r.vector(what);
  const out: T[] = [];
  while (v.remaining > 0) out.push(item(v));
  return exactSize(out);
}

/**
 * A parsed list without the spare room push leaves (room for 16 more after the first): lists of a
 * group's state (extensions, tree nodes) live as long as the group does.
 */
function exactSize<T>(list: T[]): T[] {
  return list.length === 0 ? list : list.slice();
}

function writeOptional<T>(w: Writer, value: T | undefined, write: (w: Writer, v: T) => void): void {
  if (value === undefined) w.u8(0);
  else {
    w.u8(1);
    write(w, value);
  }
}

function readOptional<T>(r: Reader, read: (r: Reader) => T): T | undefined {
  const flag = r.u8('optional');
  if (flag === 0) return undefined;
  if (flag !== 1) throw new MlsCodecError('invalid optional flag');
  return read(r);
}

// ---- LeafNode (§7.2) and KeyPackage (§10) ----

export interface LeafNode {
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credential: Credential;
  capabilities: Capabilities;
  source: LeafNodeSource;
  /** key_package source. */
  lifetime?: Readonly<{ notBefore: bigint; notAfter: bigint }>;
  /** commit source. */
  parentHash?: Uint8Array;
  extensions: Extension[];
  signature: Uint8Array;
}

/** The LeafNode fields before the signature (the start of LeafNodeTBS). */
export function writeLeafNodeContent(w: Writer, n: LeafNode): void {
  w.opaque(n.encryptionKey).opaque(n.signatureKey);
  writeCredential(w, n.credential);
  writeCapabilities(w, n.capabilities);
  w.u8(n.source);
  if (n.source === LeafNodeSource.KeyPackage) {
    const lt = n.lifetime ?? { notBefore: 0n, notAfter: 0n };
    w.u64(lt.notBefore).u64(lt.notAfter);
  } else if (n.source === LeafNodeSource.Commit) {
    w.opaque(n.parentHash ?? new Uint8Array(0));
  }
  writeExtensions(w, n.extensions);
}

/** LeafNodeTBS (§7.2): group id and leaf index follow for update and commit sources. */
export function leafNodeTbs(n: LeafNode, groupId: Uint8Array, leafIndex: number): Uint8Array {
  const w = new Writer();
  writeLeafNodeContent(w, n);
  if (n.source !== LeafNodeSource.KeyPackage) w.opaque(groupId).u32(leafIndex);
  return w.bytes();
}

export function writeLeafNode(w: Writer, n: LeafNode): void {
  writeLeafNodeContent(w, n);
  w.opaque(n.signature);
}

/** not_before = 0, not_after = 2^64-1: the lifetime of every DAVE key package (dave.md §5.4). */
export const DAVE_LIFETIME: Readonly<{ notBefore: bigint; notAfter: bigint }> = Object.freeze({
  notBefore: 0n,
  notAfter: (1n << 64n) - 1n,
});

/** A key_package leaf's lifetime; DAVE's (every member's) is one shared object, not one per leaf. */
function readLifetime(r: Reader): Readonly<{ notBefore: bigint; notAfter: bigint }> {
  const notBefore = r.u64('not_before');
  const notAfter = r.u64('not_after');
  return notBefore === DAVE_LIFETIME.notBefore && notAfter === DAVE_LIFETIME.notAfter
    ? DAVE_LIFETIME
    : { notBefore, notAfter };
}

export function readLeafNode(r: Reader): LeafNode {
  const encryptionKey = r.opaque('encryption key');
  const signatureKey = r.opaque('signature key');
  const credential = readCredential(r);
  const capabilities = readCapabilities(r);
  const source = r.u8('leaf node source') as LeafNodeSource;
  const node: LeafNode = {
    encryptionKey,
    signatureKey,
    credential,
    capabilities,
    source,
    extensions: [],
    signature: new Uint8Array(0),
  };
  if (source === LeafNodeSource.KeyPackage) node.lifetime = readLifetime(r);
  else if (source === LeafNodeSource.Commit) node.parentHash = r.opaque('parent hash');
  else if (source !== LeafNodeSource.Update)
    throw new MlsCodecError(`invalid leaf node source ${String(source)}`);
  node.extensions = readExtensions(r);
  node.signature = r.opaque('leaf signature');
  return node;
}

export interface KeyPackage {
  version: number;
  cipherSuite: number;
  initKey: Uint8Array;
  leafNode: LeafNode;
  extensions: Extension[];
  signature: Uint8Array;
}

export function keyPackageTbs(kp: KeyPackage): Uint8Array {
  const w = new Writer().u16(kp.version).u16(kp.cipherSuite).opaque(kp.initKey);
  writeLeafNode(w, kp.leafNode);
  writeExtensions(w, kp.extensions);
  return w.bytes();
}

export function writeKeyPackage(w: Writer, kp: KeyPackage): void {
  w.raw(keyPackageTbs(kp)).opaque(kp.signature);
}

export function readKeyPackage(r: Reader): KeyPackage {
  const version = r.u16('version');
  const cipherSuite = r.u16('cipher suite');
  const initKey = r.opaque('init key');
  const leafNode = readLeafNode(r);
  const extensions = readExtensions(r);
  return {
    version,
    cipherSuite,
    initKey,
    leafNode,
    extensions,
    signature: r.opaque('key package signature'),
  };
}

// ---- ratchet tree nodes (§7.1, §12.4.3.3) ----

export interface ParentNode {
  encryptionKey: Uint8Array;
  parentHash: Uint8Array;
  unmergedLeaves: number[];
}

export type TreeNode = { type: 'leaf'; leaf: LeafNode } | { type: 'parent'; parent: ParentNode };

export function writeParentNode(w: Writer, p: ParentNode): void {
  w.opaque(p.encryptionKey).opaque(p.parentHash);
  w.vector((v) => {
    for (const l of p.unmergedLeaves) v.u32(l);
  });
}

function readParentNode(r: Reader): ParentNode {
  const encryptionKey = r.opaque('encryption key');
  const parentHash = r.opaque('parent hash');
  const v = r.vector('unmerged leaves');
  const unmergedLeaves: number[] = [];
  while (v.remaining > 0) unmergedLeaves.push(v.u32('unmerged leaf'));
  return { encryptionKey, parentHash, unmergedLeaves: exactSize(unmergedLeaves) };
}

export function writeTreeNode(w: Writer, n: TreeNode): void {
  if (n.type === 'leaf') writeLeafNode(w.u8(1), n.leaf);
  else writeParentNode(w.u8(2), n.parent);
}

function readTreeNode(r: Reader): TreeNode {
  const t = r.u8('node type');
  if (t === 1) return { type: 'leaf', leaf: readLeafNode(r) };
  if (t === 2) return { type: 'parent', parent: readParentNode(r) };
  throw new MlsCodecError(`invalid node type ${t}`);
}

/** `optional<Node> ratchet_tree<V>`: trailing blanks are not sent. */
export function writeRatchetTree(w: Writer, tree: readonly (TreeNode | undefined)[]): void {
  let end = tree.length;
  while (end > 0 && tree[end - 1] === undefined) end--;
  w.vector((v) => {
    for (let i = 0; i < end; i++) writeOptional(v, tree[i], writeTreeNode);
  });
}

export function readRatchetTree(r: Reader): (TreeNode | undefined)[] {
  return readList(r, 'ratchet tree', (v) => readOptional(v, readTreeNode));
}

// ---- UpdatePath (§7.6) ----

export interface HpkeCiphertext {
  kemOutput: Uint8Array;
  ciphertext: Uint8Array;
}

export interface UpdatePathNode {
  encryptionKey: Uint8Array;
  encryptedPathSecret: HpkeCiphertext[];
}

export interface UpdatePath {
  leafNode: LeafNode;
  nodes: UpdatePathNode[];
}

function writeHpkeCiphertext(w: Writer, c: HpkeCiphertext): void {
  w.opaque(c.kemOutput).opaque(c.ciphertext);
}

function readHpkeCiphertext(r: Reader): HpkeCiphertext {
  return { kemOutput: r.opaque('kem output'), ciphertext: r.opaque('ciphertext') };
}

export function writeUpdatePath(w: Writer, p: UpdatePath): void {
  writeLeafNode(w, p.leafNode);
  w.vector((v) => {
    for (const n of p.nodes) {
      v.opaque(n.encryptionKey);
      v.vector((c) => {
        for (const ct of n.encryptedPathSecret) writeHpkeCiphertext(c, ct);
      });
    }
  });
}

export function readUpdatePath(r: Reader): UpdatePath {
  const leafNode = readLeafNode(r);
  const nodes = readList(r, 'update path nodes', (v) => ({
    encryptionKey: v.opaque('encryption key'),
    encryptedPathSecret: readList(v, 'encrypted path secret', readHpkeCiphertext),
  }));
  return { leafNode, nodes };
}

// ---- proposals (§12.1) and commits (§12.4) ----

export interface PreSharedKeyId {
  pskType: number;
  /** external */
  pskId?: Uint8Array;
  /** resumption */
  usage?: number;
  pskGroupId?: Uint8Array;
  pskEpoch?: bigint;
  pskNonce: Uint8Array;
}

function writePskId(w: Writer, p: PreSharedKeyId): void {
  w.u8(p.pskType);
  if (p.pskType === 1) w.opaque(p.pskId ?? new Uint8Array(0));
  else
    w.u8(p.usage ?? 0)
      .opaque(p.pskGroupId ?? new Uint8Array(0))
      .u64(p.pskEpoch ?? 0n);
  w.opaque(p.pskNonce);
}

function readPskId(r: Reader): PreSharedKeyId {
  const pskType = r.u8('psk type');
  if (pskType === 1) return { pskType, pskId: r.opaque('psk id'), pskNonce: r.opaque('psk nonce') };
  if (pskType !== 2) throw new MlsCodecError(`invalid psk type ${pskType}`);
  return {
    pskType,
    usage: r.u8('psk usage'),
    pskGroupId: r.opaque('psk group id'),
    pskEpoch: r.u64('psk epoch'),
    pskNonce: r.opaque('psk nonce'),
  };
}

export type Proposal =
  | { type: typeof ProposalType.Add; keyPackage: KeyPackage }
  | { type: typeof ProposalType.Update; leafNode: LeafNode }
  | { type: typeof ProposalType.Remove; removed: number }
  | { type: typeof ProposalType.PreSharedKey; psk: PreSharedKeyId }
  | {
      type: typeof ProposalType.ReInit;
      groupId: Uint8Array;
      version: number;
      cipherSuite: number;
      extensions: Extension[];
    }
  | { type: typeof ProposalType.ExternalInit; kemOutput: Uint8Array }
  | { type: typeof ProposalType.GroupContextExtensions; extensions: Extension[] };

export function writeProposal(w: Writer, p: Proposal): void {
  w.u16(p.type);
  switch (p.type) {
    case ProposalType.Add:
      return writeKeyPackage(w, p.keyPackage);
    case ProposalType.Update:
      return writeLeafNode(w, p.leafNode);
    case ProposalType.Remove:
      w.u32(p.removed);
      return;
    case ProposalType.PreSharedKey:
      return writePskId(w, p.psk);
    case ProposalType.ReInit:
      w.opaque(p.groupId).u16(p.version).u16(p.cipherSuite);
      return writeExtensions(w, p.extensions);
    case ProposalType.ExternalInit:
      w.opaque(p.kemOutput);
      return;
    case ProposalType.GroupContextExtensions:
      return writeExtensions(w, p.extensions);
  }
}

export function readProposal(r: Reader): Proposal {
  const type = r.u16('proposal type');
  switch (type) {
    case ProposalType.Add:
      return { type: ProposalType.Add, keyPackage: readKeyPackage(r) };
    case ProposalType.Update:
      return { type: ProposalType.Update, leafNode: readLeafNode(r) };
    case ProposalType.Remove:
      return { type: ProposalType.Remove, removed: r.u32('removed') };
    case ProposalType.PreSharedKey:
      return { type: ProposalType.PreSharedKey, psk: readPskId(r) };
    case ProposalType.ReInit:
      return {
        type,
        groupId: r.opaque('group id'),
        version: r.u16('version'),
        cipherSuite: r.u16('cipher suite'),
        extensions: readExtensions(r),
      };
    case ProposalType.ExternalInit:
      return { type: ProposalType.ExternalInit, kemOutput: r.opaque('kem output') };
    case ProposalType.GroupContextExtensions:
      return { type: ProposalType.GroupContextExtensions, extensions: readExtensions(r) };
    default:
      throw new MlsCodecError(`unknown proposal type ${type}`);
  }
}

export type ProposalOrRef = { kind: 'proposal'; proposal: Proposal } | { kind: 'reference'; ref: Uint8Array };

export interface Commit {
  proposals: ProposalOrRef[];
  path?: UpdatePath;
}

export function writeCommit(w: Writer, c: Commit): void {
  w.vector((v) => {
    for (const p of c.proposals) {
      if (p.kind === 'proposal') writeProposal(v.u8(1), p.proposal);
      else v.u8(2).opaque(p.ref);
    }
  });
  writeOptional(w, c.path, writeUpdatePath);
}

export function readCommit(r: Reader): Commit {
  const proposals = readList(r, 'proposals', (v): ProposalOrRef => {
    const t = v.u8('proposal or ref');
    if (t === 1) return { kind: 'proposal', proposal: readProposal(v) };
    if (t === 2) return { kind: 'reference', ref: v.opaque('proposal ref') };
    throw new MlsCodecError(`invalid ProposalOrRef type ${t}`);
  });
  const path = readOptional(r, readUpdatePath);
  return path === undefined ? { proposals } : { proposals, path };
}

// ---- framing (§6) ----

export interface Sender {
  type: SenderType;
  /** Leaf index (member) or external sender index. */
  index: number;
}

export type FramedBody =
  | { contentType: typeof ContentType.Application; data: Uint8Array }
  | { contentType: typeof ContentType.Proposal; proposal: Proposal }
  | { contentType: typeof ContentType.Commit; commit: Commit };

export interface FramedContent {
  groupId: Uint8Array;
  epoch: bigint;
  sender: Sender;
  authenticatedData: Uint8Array;
  body: FramedBody;
}

export function writeSender(w: Writer, s: Sender): void {
  w.u8(s.type);
  if (s.type === SenderType.Member || s.type === SenderType.External) w.u32(s.index);
}

function readSender(r: Reader): Sender {
  const type = r.u8('sender type');
  if (type === SenderType.Member || type === SenderType.External)
    return { type, index: r.u32('sender index') };
  if (type === SenderType.NewMemberProposal || type === SenderType.NewMemberCommit) return { type, index: 0 };
  throw new MlsCodecError(`invalid sender type ${type}`);
}

export function writeFramedContent(w: Writer, c: FramedContent): void {
  w.opaque(c.groupId).u64(c.epoch);
  writeSender(w, c.sender);
  w.opaque(c.authenticatedData).u8(c.body.contentType);
  if (c.body.contentType === ContentType.Application) w.opaque(c.body.data);
  else if (c.body.contentType === ContentType.Proposal) writeProposal(w, c.body.proposal);
  else writeCommit(w, c.body.commit);
}

export function readFramedContent(r: Reader): FramedContent {
  const groupId = r.opaque('group id');
  const epoch = r.u64('epoch');
  const sender = readSender(r);
  const authenticatedData = r.opaque('authenticated data');
  const contentType = r.u8('content type');
  let body: FramedBody;
  if (contentType === ContentType.Application)
    body = { contentType: ContentType.Application, data: r.opaque('application data') };
  else if (contentType === ContentType.Proposal)
    body = { contentType: ContentType.Proposal, proposal: readProposal(r) };
  else if (contentType === ContentType.Commit)
    body = { contentType: ContentType.Commit, commit: readCommit(r) };
  else throw new MlsCodecError(`invalid content type ${contentType}`);
  return { groupId, epoch, sender, authenticatedData, body };
}

export interface FramedContentAuthData {
  signature: Uint8Array;
  /** Commits only. */
  confirmationTag?: Uint8Array;
}

export function writeAuthData(w: Writer, contentType: ContentType, a: FramedContentAuthData): void {
  w.opaque(a.signature);
  if (contentType === ContentType.Commit) w.opaque(a.confirmationTag ?? new Uint8Array(0));
}

function readAuthData(r: Reader, contentType: ContentType): FramedContentAuthData {
  const signature = r.opaque('signature');
  return contentType === ContentType.Commit
    ? { signature, confirmationTag: r.opaque('confirmation tag') }
    : { signature };
}

export interface PublicMessage {
  content: FramedContent;
  auth: FramedContentAuthData;
  /** Member senders only. */
  membershipTag?: Uint8Array;
}

export function writePublicMessage(w: Writer, m: PublicMessage): void {
  writeFramedContent(w, m.content);
  writeAuthData(w, m.content.body.contentType, m.auth);
  if (m.content.sender.type === SenderType.Member) w.opaque(m.membershipTag ?? new Uint8Array(0));
}

function readPublicMessage(r: Reader): PublicMessage {
  const content = readFramedContent(r);
  const auth = readAuthData(r, content.body.contentType);
  if (content.sender.type === SenderType.Member)
    return { content, auth, membershipTag: r.opaque('membership tag') };
  return { content, auth };
}

export interface PrivateMessage {
  groupId: Uint8Array;
  epoch: bigint;
  contentType: number;
  authenticatedData: Uint8Array;
  encryptedSenderData: Uint8Array;
  ciphertext: Uint8Array;
}

// ---- group state messages (§8.1, §12.4.3) ----

export interface GroupContext {
  version: number;
  cipherSuite: number;
  groupId: Uint8Array;
  epoch: bigint;
  treeHash: Uint8Array;
  confirmedTranscriptHash: Uint8Array;
  extensions: Extension[];
}

export function writeGroupContext(w: Writer, g: GroupContext): void {
  w.u16(g.version)
    .u16(g.cipherSuite)
    .opaque(g.groupId)
    .u64(g.epoch)
    .opaque(g.treeHash)
    .opaque(g.confirmedTranscriptHash);
  writeExtensions(w, g.extensions);
}

export function encodeGroupContext(g: GroupContext): Uint8Array {
  const w = new Writer();
  writeGroupContext(w, g);
  return w.bytes();
}

export function readGroupContext(r: Reader): GroupContext {
  return {
    version: r.u16('version'),
    cipherSuite: r.u16('cipher suite'),
    groupId: r.opaque('group id'),
    epoch: r.u64('epoch'),
    treeHash: r.opaque('tree hash'),
    confirmedTranscriptHash: r.opaque('confirmed transcript hash'),
    extensions: readExtensions(r),
  };
}

export interface GroupInfo {
  groupContext: GroupContext;
  extensions: Extension[];
  confirmationTag: Uint8Array;
  signer: number;
  signature: Uint8Array;
}

export function groupInfoTbs(g: GroupInfo): Uint8Array {
  const w = new Writer();
  writeGroupContext(w, g.groupContext);
  writeExtensions(w, g.extensions);
  return w.opaque(g.confirmationTag).u32(g.signer).bytes();
}

export function writeGroupInfo(w: Writer, g: GroupInfo): void {
  w.raw(groupInfoTbs(g)).opaque(g.signature);
}

export function readGroupInfo(r: Reader): GroupInfo {
  return {
    groupContext: readGroupContext(r),
    extensions: readExtensions(r),
    confirmationTag: r.opaque('confirmation tag'),
    signer: r.u32('signer'),
    signature: r.opaque('signature'),
  };
}

export interface GroupSecrets {
  joinerSecret: Uint8Array;
  pathSecret?: Uint8Array;
  psks: PreSharedKeyId[];
}

export function writeGroupSecrets(w: Writer, g: GroupSecrets): void {
  w.opaque(g.joinerSecret);
  writeOptional(w, g.pathSecret, (x, v) => x.opaque(v));
  w.vector((v) => {
    for (const p of g.psks) writePskId(v, p);
  });
}

export function readGroupSecrets(r: Reader): GroupSecrets {
  const joinerSecret = r.opaque('joiner secret');
  const pathSecret = readOptional(r, (x) => x.opaque('path secret'));
  const psks = readList(r, 'psks', readPskId);
  return pathSecret === undefined ? { joinerSecret, psks } : { joinerSecret, pathSecret, psks };
}

export interface EncryptedGroupSecrets {
  newMember: Uint8Array;
  encryptedGroupSecrets: HpkeCiphertext;
}

export interface Welcome {
  cipherSuite: number;
  secrets: EncryptedGroupSecrets[];
  encryptedGroupInfo: Uint8Array;
}

export function writeWelcome(w: Writer, m: Welcome): void {
  w.u16(m.cipherSuite);
  w.vector((v) => {
    for (const s of m.secrets) writeHpkeCiphertext(v.opaque(s.newMember), s.encryptedGroupSecrets);
  });
  w.opaque(m.encryptedGroupInfo);
}

export function readWelcome(r: Reader): Welcome {
  const cipherSuite = r.u16('cipher suite');
  const secrets = readList(r, 'welcome secrets', (v) => ({
    newMember: v.opaque('new member'),
    encryptedGroupSecrets: readHpkeCiphertext(v),
  }));
  return { cipherSuite, secrets, encryptedGroupInfo: r.opaque('encrypted group info') };
}

// ---- MLSMessage (§6) ----

export type MlsMessage =
  | { wireFormat: typeof WireFormat.PublicMessage; publicMessage: PublicMessage }
  | { wireFormat: typeof WireFormat.PrivateMessage; privateMessage: PrivateMessage }
  | { wireFormat: typeof WireFormat.Welcome; welcome: Welcome }
  | { wireFormat: typeof WireFormat.GroupInfo; groupInfo: GroupInfo }
  | { wireFormat: typeof WireFormat.KeyPackage; keyPackage: KeyPackage };

export function writeMlsMessage(w: Writer, m: MlsMessage): void {
  w.u16(MLS_VERSION_10).u16(m.wireFormat);
  switch (m.wireFormat) {
    case WireFormat.PublicMessage:
      return writePublicMessage(w, m.publicMessage);
    case WireFormat.PrivateMessage: {
      const p = m.privateMessage;
      w.opaque(p.groupId).u64(p.epoch).u8(p.contentType).opaque(p.authenticatedData);
      w.opaque(p.encryptedSenderData).opaque(p.ciphertext);
      return;
    }
    case WireFormat.Welcome:
      return writeWelcome(w, m.welcome);
    case WireFormat.GroupInfo:
      return writeGroupInfo(w, m.groupInfo);
    case WireFormat.KeyPackage:
      return writeKeyPackage(w, m.keyPackage);
  }
}

export function readMlsMessage(r: Reader): MlsMessage {
  const version = r.u16('version');
  if (version !== MLS_VERSION_10) throw new MlsCodecError(`unsupported MLS version ${version}`);
  const wireFormat = r.u16('wire format');
  switch (wireFormat) {
    case WireFormat.PublicMessage:
      return { wireFormat: WireFormat.PublicMessage, publicMessage: readPublicMessage(r) };
    case WireFormat.PrivateMessage:
      return {
        wireFormat,
        privateMessage: {
          groupId: r.opaque('group id'),
          epoch: r.u64('epoch'),
          contentType: r.u8('content type'),
          authenticatedData: r.opaque('authenticated data'),
          encryptedSenderData: r.opaque('encrypted sender data'),
          ciphertext: r.opaque('ciphertext'),
        },
      };
    case WireFormat.Welcome:
      return { wireFormat: WireFormat.Welcome, welcome: readWelcome(r) };
    case WireFormat.GroupInfo:
      return { wireFormat: WireFormat.GroupInfo, groupInfo: readGroupInfo(r) };
    case WireFormat.KeyPackage:
      return { wireFormat: WireFormat.KeyPackage, keyPackage: readKeyPackage(r) };
    default:
      throw new MlsCodecError(`unknown wire format ${wireFormat}`);
  }
}

/** Encodes with `write` into a fresh buffer. */
export function encode<T>(write: (w: Writer, v: T) => void, value: T): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.bytes();
}

/** Decodes all of `bytes` with `read`; trailing bytes are malformed. */
export function decode<T>(read: (r: Reader) => T, bytes: Uint8Array, what: string): T {
  const r = new Reader(bytes);
  const value = read(r);
  r.expectEnd(what);
  return value;
}
