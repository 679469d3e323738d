/**
 * The MLS group state machine for the DAVE profile (RFC 9420 §11-§12): create a one-member group,
 * verify and cache external proposals, create a commit by reference with an UpdatePath (and a
 * Welcome with the ratchet tree for adds), process another member's commit, join from a Welcome,
 * export secrets. States are immutable values: every operation returns a new state and leaves its
 * input usable (DAVE keeps the pre-commit state until the gateway announces which commit won).
 * Only what the next epoch needs is kept: no past epochs, no secret tree (DAVE has no
 * PrivateMessages). Failures throw MlsGroupError with a short reason and no secret material.
 */
import { randomBytes } from 'node:crypto';
import { MLS_CIPHERSUITE, MlsCredentialType } from '../../../protocol/constants.js';
import { mlsExporter } from '../../hash-ratchet.js';
import { bytesEqual, Writer } from '../mls-codec.js';
import { keyPackageRef, proposalRefOfMessage } from '../mls-sign.js';
import {
  decryptWithLabel,
  encryptWithLabel,
  extract,
  deriveSecret,
  hmacSha256,
  macEqual,
  signWithLabel,
  verifyWithLabel,
  HASH_BYTES,
} from './crypto.js';
import { aesGcmDecrypt, aesGcmEncrypt, generateP256KeyPair } from './hpke.js';
import {
  confirmationTag,
  confirmedTranscriptHash,
  epochSecrets,
  interimTranscriptHash,
  joinerSecret,
  pskSecret,
  welcomeKeyNonce,
} from './key-schedule.js';
import type { EpochSecrets } from './key-schedule.js';
import {
  ContentType,
  decode,
  encode,
  encodeGroupContext,
  EXTENSION_RATCHET_TREE,
  groupInfoTbs,
  keyPackageTbs,
  LeafNodeSource,
  leafNodeTbs,
  MLS_VERSION_10,
  ProposalType,
  readGroupInfo,
  readGroupSecrets,
  readMlsMessage,
  readRatchetTree,
  readWelcome,
  SenderType,
  WireFormat,
  writeAuthData,
  writeFramedContent,
  writeGroupInfo,
  writeGroupSecrets,
  writeKeyPackage,
  writeMlsMessage,
  writeRatchetTree,
  writeWelcome,
  DAVE_LIFETIME,
  sharedCapabilities,
} from './messages.js';
import type {
  Capabilities,
  Commit,
  Extension,
  FramedContent,
  GroupContext,
  GroupInfo,
  GroupSecrets,
  KeyPackage,
  LeafNode,
  Proposal,
  PublicMessage,
  TreeNode,
} from './messages.js';
import { encodedLeaf, RatchetTree } from './tree.js';
import { applyUpdatePath, createUpdatePath, keysFromPathSecret, TreeKemError } from './treekem.js';
import type { CreatedPath, PrivateKeys } from './treekem.js';
import { leafToNode } from './tree-math.js';

export const CIPHER_SUITE_P256 = MLS_CIPHERSUITE;

export class MlsGroupError extends Error {
  override readonly name = 'MlsGroupError';
}

/** A key package with its private keys. */
export interface KeyPackageBundle {
  keyPackage: KeyPackage;
  /** The encoded KeyPackage (what its reference hashes). */
  encoded: Uint8Array;
  initPrivate: Uint8Array;
  encryptionPrivate: Uint8Array;
  signaturePrivate: Uint8Array;
}

export interface GroupState {
  readonly context: GroupContext;
  readonly tree: RatchetTree;
  readonly ownLeaf: number;
  /** Node index -> HPKE private key, for our leaf and the parents we know. */
  readonly keys: ReadonlyMap<number, Uint8Array>;
  readonly signaturePrivate: Uint8Array;
  readonly interimTranscriptHash: Uint8Array;
  readonly initSecret: Uint8Array;
  readonly exporterSecret: Uint8Array;
  readonly epochAuthenticator: Uint8Array;
  /** (No confirmation_key: it serves only the commit that starts the epoch, checked before.) */
  readonly membershipKey: Uint8Array;
}

/** A verified proposal waiting for a commit, keyed by its ProposalRef. */
export interface CachedProposal {
  ref: Uint8Array;
  proposal: Proposal;
}

const EMPTY: Uint8Array = new Uint8Array(0);

// ---- key packages and leaves ----

/** What libdave advertises: MLS 1.0, suite 2, basic credentials, nothing else (dave.md §5.4). One shared object. */
const DAVE_CAPABILITIES: Capabilities = sharedCapabilities({
  versions: [MLS_VERSION_10],
  cipherSuites: [CIPHER_SUITE_P256],
  extensions: [],
  proposals: [],
  credentials: [MlsCredentialType.Basic],
});

/** A fresh key package (new init and leaf HPKE keys) for a basic credential `identity`. */
export function createKeyPackage(
  identity: Uint8Array,
  signature: { privateKey: Uint8Array; publicKey: Uint8Array },
): KeyPackageBundle {
  const init = generateP256KeyPair();
  const leafKeys = generateP256KeyPair();
  const leafNode: LeafNode = {
    encryptionKey: leafKeys.publicKey,
    signatureKey: signature.publicKey,
    credential: { credentialType: MlsCredentialType.Basic, identity },
    capabilities: DAVE_CAPABILITIES,
    source: LeafNodeSource.KeyPackage,
    lifetime: DAVE_LIFETIME,
    extensions: [],
    signature: EMPTY,
  };
  leafNode.signature = signWithLabel(signature.privateKey, 'LeafNodeTBS', leafNodeTbs(leafNode, EMPTY, 0));
  const keyPackage: KeyPackage = {
    version: MLS_VERSION_10,
    cipherSuite: CIPHER_SUITE_P256,
    initKey: init.publicKey,
    leafNode,
    extensions: [],
    signature: EMPTY,
  };
  keyPackage.signature = signWithLabel(signature.privateKey, 'KeyPackageTBS', keyPackageTbs(keyPackage));
  return {
    keyPackage,
    encoded: encode(writeKeyPackage, keyPackage),
    initPrivate: init.privateKey,
    encryptionPrivate: leafKeys.privateKey,
    signaturePrivate: signature.privateKey,
  };
}

/** KeyPackage checks a member makes before adding it (§10.1). */
function verifyKeyPackage(kp: KeyPackage): void {
  if (kp.version !== MLS_VERSION_10 || kp.cipherSuite !== CIPHER_SUITE_P256)
    throw new MlsGroupError('key package version or cipher suite');
  if (kp.leafNode.source !== LeafNodeSource.KeyPackage) throw new MlsGroupError('key package leaf source');
  if (bytesEqual(kp.initKey, kp.leafNode.encryptionKey))
    throw new MlsGroupError('key package init key equals leaf key');
  if (
    !verifyWithLabel(
      kp.leafNode.signatureKey,
      'LeafNodeTBS',
      leafNodeTbs(kp.leafNode, EMPTY, 0),
      kp.leafNode.signature,
    )
  ) {
    throw new MlsGroupError('key package leaf signature');
  }
  if (!verifyWithLabel(kp.leafNode.signatureKey, 'KeyPackageTBS', keyPackageTbs(kp), kp.signature)) {
    throw new MlsGroupError('key package signature');
  }
}

// ---- epochs ----

function withEpoch(
  context: GroupContext,
  tree: RatchetTree,
  ownLeaf: number,
  keys: PrivateKeys,
  signaturePrivate: Uint8Array,
  secrets: EpochSecrets,
  interim: Uint8Array,
): GroupState {
  tree.dropCaches();
  return {
    context,
    tree,
    ownLeaf,
    keys,
    signaturePrivate,
    interimTranscriptHash: interim,
    initSecret: secrets.initSecret,
    exporterSecret: secrets.exporterSecret,
    epochAuthenticator: secrets.epochAuthenticator,
    membershipKey: secrets.membershipKey,
  };
}

/** A one-member group at epoch 0 (§11) with the given GroupContext extensions. */
export function createGroup(
  groupId: Uint8Array,
  bundle: KeyPackageBundle,
  extensions: Extension[],
): GroupState {
  const tree = RatchetTree.single(bundle.keyPackage.leafNode);
  const context: GroupContext = {
    version: MLS_VERSION_10,
    cipherSuite: CIPHER_SUITE_P256,
    groupId,
    epoch: 0n,
    treeHash: tree.treeHash(),
    confirmedTranscriptHash: EMPTY,
    extensions,
  };
  const gc = encodeGroupContext(context);
  const secrets = epochSecrets(
    joinerSecret(new Uint8Array(randomBytes(HASH_BYTES)), undefined, gc),
    undefined,
    gc,
  );
  const tag = confirmationTag(secrets.confirmationKey, EMPTY);
  const keys: PrivateKeys = new Map([[0, bundle.encryptionPrivate]]);
  return withEpoch(
    context,
    tree,
    0,
    keys,
    bundle.signaturePrivate,
    secrets,
    interimTranscriptHash(EMPTY, tag),
  );
}

/** MLS-Exporter of the current epoch (§8.5). */
export function exportSecret(
  state: GroupState,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  return mlsExporter(state.exporterSecret, label, context, length);
}

// ---- framing (§6.1-§6.2) ----

/** FramedContentTBS: version, wire format, content, and the GroupContext for member senders. */
function framedContentTbs(content: FramedContent, context: GroupContext | undefined): Uint8Array {
  const w = new Writer().u16(MLS_VERSION_10).u16(WireFormat.PublicMessage);
  writeFramedContent(w, content);
  if (context !== undefined) w.raw(encodeGroupContext(context));
  return w.bytes();
}

function membershipTag(membershipKey: Uint8Array, tbs: Uint8Array, message: PublicMessage): Uint8Array {
  const w = new Writer().raw(tbs);
  writeAuthData(w, message.content.body.contentType, message.auth);
  return hmacSha256(membershipKey, w.bytes());
}

/** ConfirmedTranscriptHashInput: wire format, FramedContent, signature. */
function confirmedInput(content: FramedContent, signature: Uint8Array): Uint8Array {
  const w = new Writer().u16(WireFormat.PublicMessage);
  writeFramedContent(w, content);
  return w.opaque(signature).bytes();
}

/** Parses an MLSMessage that must be a PublicMessage. */
export function readPublicMessage(bytes: Uint8Array): PublicMessage {
  const message = decode(readMlsMessage, bytes, 'MLS message');
  if (message.wireFormat !== WireFormat.PublicMessage) throw new MlsGroupError('not a PublicMessage');
  return message.publicMessage;
}

/**
 * Verifies a PublicMessage from a member sender (§6.2): membership tag and signature.
 * Used for the message-protection vectors and for commits.
 */
export function verifyMemberMessage(
  message: PublicMessage,
  context: GroupContext,
  membershipKey: Uint8Array,
  signatureKey: Uint8Array,
): void {
  const tbs = framedContentTbs(message.content, context);
  const tag = message.membershipTag;
  if (tag === undefined || !macEqual(tag, membershipTag(membershipKey, tbs, message)))
    throw new MlsGroupError('bad membership tag');
  if (!verifyWithLabel(signatureKey, 'FramedContentTBS', tbs, message.auth.signature))
    throw new MlsGroupError('bad signature');
}

/** Signs a member PublicMessage and adds its membership tag (confirmation tag, if any, set before). */
export function protectMemberMessage(
  content: FramedContent,
  context: GroupContext,
  membershipKey: Uint8Array,
  signaturePrivate: Uint8Array,
  confirmationTagValue?: Uint8Array,
): PublicMessage {
  const tbs = framedContentTbs(content, context);
  const signature = signWithLabel(signaturePrivate, 'FramedContentTBS', tbs);
  const message: PublicMessage = {
    content,
    auth:
      confirmationTagValue === undefined
        ? { signature }
        : { signature, confirmationTag: confirmationTagValue },
  };
  message.membershipTag = membershipTag(membershipKey, tbs, message);
  return message;
}

/**
 * Verifies an external proposal (sender type external, PublicMessage) against the external
 * sender's key and returns it with its ProposalRef. The caller checks the DAVE rules.
 */
export function verifyExternalProposal(
  state: GroupState,
  bytes: Uint8Array,
  externalSignatureKey: Uint8Array,
): CachedProposal {
  const message = readPublicMessage(bytes);
  const c = message.content;
  if (c.sender.type !== SenderType.External) throw new MlsGroupError('not an external sender');
  if (!bytesEqual(c.groupId, state.context.groupId) || c.epoch !== state.context.epoch)
    throw new MlsGroupError('wrong group or epoch');
  if (c.body.contentType !== ContentType.Proposal) throw new MlsGroupError('not a proposal');
  if (
    !verifyWithLabel(
      externalSignatureKey,
      'FramedContentTBS',
      framedContentTbs(c, undefined),
      message.auth.signature,
    )
  ) {
    throw new MlsGroupError('bad signature');
  }
  if (c.body.proposal.type === ProposalType.Add) verifyKeyPackage(c.body.proposal.keyPackage);
  return { ref: proposalRefOfMessage(bytes), proposal: c.body.proposal };
}

// ---- commits (§12.4) ----

interface Applied {
  tree: RatchetTree;
  keys: PrivateKeys;
  added: { leaf: number; keyPackage: KeyPackage }[];
  removedSelf: boolean;
}

/** Applies Remove then Add proposals (the RFC's order for the types DAVE allows) to a copy. */
function applyProposals(state: GroupState, proposals: readonly Proposal[]): Applied {
  const tree = state.tree.clone();
  const keys: PrivateKeys = new Map(state.keys);
  let removedSelf = false;
  for (const p of proposals) {
    if (p.type !== ProposalType.Remove) continue;
    if (tree.leaf(p.removed) === undefined) throw new MlsGroupError('remove of a blank leaf');
    if (p.removed === state.ownLeaf) removedSelf = true;
    tree.removeLeaf(p.removed);
  }
  const added: Applied['added'] = [];
  for (const p of proposals) {
    if (p.type === ProposalType.Remove) continue;
    if (p.type !== ProposalType.Add) throw new MlsGroupError(`unsupported proposal type ${p.type}`);
    added.push({ leaf: tree.addLeaf(p.keyPackage.leafNode), keyPackage: p.keyPackage });
  }
  // a key package whose keys are already in the group would make an invalid tree (§7.9.2)
  if (added.length > 0 && !tree.verifyKeysUnique()) throw new MlsGroupError('added keys are not unique');
  // keys of nodes that became blank are useless; drop them
  for (const x of [...keys.keys()]) if (tree.node(x) === undefined) keys.delete(x);
  return { tree, keys, added, removedSelf };
}

/** The member's state in the epoch a commit (ours or another member's) starts. */
function afterCommit(
  state: GroupState,
  context: GroupContext,
  tree: RatchetTree,
  keys: PrivateKeys,
  secrets: EpochSecrets,
  tag: Uint8Array,
): GroupState {
  const interim = interimTranscriptHash(context.confirmedTranscriptHash, tag);
  return withEpoch(context, tree, state.ownLeaf, keys, state.signaturePrivate, secrets, interim);
}

function provisionalContext(state: GroupState, tree: RatchetTree): GroupContext {
  return { ...state.context, epoch: state.context.epoch + 1n, treeHash: tree.treeHash() };
}

export interface CreatedCommit {
  /** MLSMessage (PublicMessage) of the commit. */
  commit: Uint8Array;
  /** Bare Welcome (not MLSMessage-wrapped) when the commit adds members. */
  welcome: Uint8Array | undefined;
  /** The state to adopt if this commit is the one the delivery service accepts. */
  state: GroupState;
}

/** An UpdatePath is required unless the commit only adds members (RFC 9420 §12.4). */
function pathRequired(proposals: readonly Proposal[]): boolean {
  return proposals.length === 0 || proposals.some((p) => p.type !== ProposalType.Add);
}

/** Our UpdatePath over `tree` (proposals applied): a fresh leaf key, signed commit-source leaf. */
function commitPath(
  state: GroupState,
  tree: RatchetTree,
  keys: PrivateKeys,
  ownOld: LeafNode,
  exclude: ReadonlySet<number>,
): CreatedPath {
  const leafKeys = generateP256KeyPair();
  const groupId = state.context.groupId;
  const makeLeaf = (parentHash: Uint8Array): LeafNode => {
    const leaf: LeafNode = {
      encryptionKey: leafKeys.publicKey,
      signatureKey: ownOld.signatureKey,
      credential: ownOld.credential,
      capabilities: ownOld.capabilities,
      source: LeafNodeSource.Commit,
      parentHash,
      extensions: ownOld.extensions,
      signature: EMPTY,
    };
    leaf.signature = signWithLabel(
      state.signaturePrivate,
      'LeafNodeTBS',
      leafNodeTbs(leaf, groupId, state.ownLeaf),
    );
    return leaf;
  };
  return createUpdatePath(
    tree,
    keys,
    state.ownLeaf,
    leafKeys,
    makeLeaf,
    (t) => encodeGroupContext(provisionalContext(state, t)),
    exclude,
  );
}

/**
 * A commit of `proposals` by reference; with an UpdatePath when one is required (any remove),
 * none for adds only, as davey/OpenMLS do (a path costs an HPKE encryption per copath node).
 */
export function createCommit(state: GroupState, proposals: readonly CachedProposal[]): CreatedCommit {
  const applied = applyProposals(
    state,
    proposals.map((p) => p.proposal),
  );
  if (applied.removedSelf) throw new MlsGroupError('commit would remove ourselves');
  const { tree, keys } = applied;
  const ownOld = tree.leaf(state.ownLeaf);
  if (ownOld === undefined) throw new MlsGroupError('own leaf is blank');
  const groupId = state.context.groupId;
  const exclude = new Set(applied.added.map((a) => a.leaf));
  const created = pathRequired(proposals.map((p) => p.proposal))
    ? commitPath(state, tree, keys, ownOld, exclude)
    : undefined;
  const commit: Commit = {
    proposals: proposals.map((p) => ({ kind: 'reference', ref: p.ref })),
    ...(created === undefined ? {} : { path: created.path }),
  };
  const content: FramedContent = {
    groupId,
    epoch: state.context.epoch,
    sender: { type: SenderType.Member, index: state.ownLeaf },
    authenticatedData: EMPTY,
    body: { contentType: ContentType.Commit, commit },
  };
  const tbs = framedContentTbs(content, state.context);
  const signature = signWithLabel(state.signaturePrivate, 'FramedContentTBS', tbs);
  const confirmed = confirmedTranscriptHash(state.interimTranscriptHash, confirmedInput(content, signature));
  const context: GroupContext = { ...provisionalContext(state, tree), confirmedTranscriptHash: confirmed };
  const gc = encodeGroupContext(context);
  const joiner = joinerSecret(state.initSecret, created?.commitSecret, gc);
  const secrets = epochSecrets(joiner, undefined, gc);
  const tag = confirmationTag(secrets.confirmationKey, confirmed);
  const message: PublicMessage = { content, auth: { signature, confirmationTag: tag } };
  message.membershipTag = membershipTag(state.membershipKey, tbs, message);
  const next = afterCommit(state, context, tree, keys, secrets, tag);

  let welcome: Uint8Array | undefined;
  if (applied.added.length > 0) {
    const groupInfo: GroupInfo = {
      groupContext: context,
      extensions: [
        { extensionType: EXTENSION_RATCHET_TREE, extensionData: encode(writeRatchetTree, tree.nodes) },
      ],
      confirmationTag: tag,
      signer: state.ownLeaf,
      signature: EMPTY,
    };
    groupInfo.signature = signWithLabel(state.signaturePrivate, 'GroupInfoTBS', groupInfoTbs(groupInfo));
    const { key, nonce } = welcomeKeyNonce(secrets.welcomeSecret);
    const encryptedGroupInfo = aesGcmEncrypt(key, nonce, EMPTY, encode(writeGroupInfo, groupInfo));
    const secretsList = applied.added.map(({ leaf, keyPackage }) => {
      const pathSecret = created?.pathSecrets.get(leaf);
      const groupSecrets = encode(
        writeGroupSecrets,
        pathSecret === undefined
          ? { joinerSecret: joiner, psks: [] }
          : { joinerSecret: joiner, pathSecret, psks: [] },
      );
      return {
        newMember: keyPackageRef(encode(writeKeyPackage, keyPackage)),
        encryptedGroupSecrets: encryptWithLabel(
          keyPackage.initKey,
          'Welcome',
          encryptedGroupInfo,
          groupSecrets,
        ),
      };
    });
    welcome = encode(writeWelcome, {
      cipherSuite: CIPHER_SUITE_P256,
      secrets: secretsList,
      encryptedGroupInfo,
    });
  }
  return {
    commit: encode(writeMlsMessage, { wireFormat: WireFormat.PublicMessage, publicMessage: message }),
    welcome,
    state: next,
  };
}

export type ProcessedCommit = { kind: 'state'; state: GroupState } | { kind: 'removed' };

/**
 * Processes a commit from another member (§12.4.2): membership tag, signature, proposals by
 * reference from `cache`, the UpdatePath, the confirmation tag. Throws MlsGroupError.
 */
export function processCommit(
  state: GroupState,
  bytes: Uint8Array,
  cache: ReadonlyMap<string, CachedProposal>,
): ProcessedCommit {
  const message = readPublicMessage(bytes);
  const content = message.content;
  if (!bytesEqual(content.groupId, state.context.groupId)) throw new MlsGroupError('wrong group');
  if (content.epoch !== state.context.epoch) throw new MlsGroupError('wrong epoch');
  if (content.sender.type !== SenderType.Member) throw new MlsGroupError('commit not from a member');
  if (content.body.contentType !== ContentType.Commit) throw new MlsGroupError('not a commit');
  const senderLeaf = content.sender.index;
  if (senderLeaf === state.ownLeaf) throw new MlsGroupError('own commit');
  const sender = state.tree.leaf(senderLeaf);
  if (sender === undefined) throw new MlsGroupError('commit from a blank leaf');
  verifyMemberMessage(message, state.context, state.membershipKey, sender.signatureKey);

  const commit = content.body.commit;
  const proposals: Proposal[] = [];
  for (const entry of commit.proposals) {
    if (entry.kind !== 'reference') throw new MlsGroupError('inline proposal');
    const cached = cache.get(Buffer.from(entry.ref).toString('base64'));
    if (cached === undefined) throw new MlsGroupError('unknown proposal reference');
    proposals.push(cached.proposal);
  }
  if (proposals.some((p) => p.type === ProposalType.Remove && p.removed === senderLeaf)) {
    throw new MlsGroupError('committer removes itself');
  }
  const applied = applyProposals(state, proposals);
  if (applied.removedSelf) return { kind: 'removed' };
  const { tree, keys } = applied;
  const path = commit.path;
  if (path === undefined && pathRequired(proposals))
    throw new MlsGroupError('commit without a required path');

  let commitSecret: Uint8Array | undefined;
  if (path !== undefined) {
    const leaf = path.leafNode;
    if (leaf.source !== LeafNodeSource.Commit) throw new MlsGroupError('path leaf source is not commit');
    if (
      !verifyWithLabel(
        leaf.signatureKey,
        'LeafNodeTBS',
        leafNodeTbs(leaf, state.context.groupId, senderLeaf),
        leaf.signature,
      )
    ) {
      throw new MlsGroupError('path leaf signature');
    }
    const exclude = new Set(applied.added.map((a) => a.leaf));
    try {
      commitSecret = applyUpdatePath(
        tree,
        keys,
        senderLeaf,
        state.ownLeaf,
        path,
        (t) => encodeGroupContext(provisionalContext(state, t)),
        exclude,
      ).commitSecret;
    } catch (err) {
      if (err instanceof TreeKemError) throw new MlsGroupError(err.message);
      throw err;
    }
    if (!tree.verifyKeysUnique()) throw new MlsGroupError('update path reuses a key of the group');
  }
  const confirmed = confirmedTranscriptHash(
    state.interimTranscriptHash,
    confirmedInput(content, message.auth.signature),
  );
  const context: GroupContext = { ...provisionalContext(state, tree), confirmedTranscriptHash: confirmed };
  const gc = encodeGroupContext(context);
  const secrets = epochSecrets(joinerSecret(state.initSecret, commitSecret, gc), undefined, gc);
  const tag = message.auth.confirmationTag ?? EMPTY;
  if (!macEqual(tag, confirmationTag(secrets.confirmationKey, confirmed)))
    throw new MlsGroupError('bad confirmation tag');
  return {
    kind: 'state',
    state: afterCommit(state, context, tree, keys, secrets, tag),
  };
}

// ---- joining (§12.4.3.1) ----

export interface JoinOptions {
  /** The tree when the Welcome has no ratchet_tree extension. */
  ratchetTree?: (TreeNode | undefined)[];
  /** External PSKs by encoded psk_id (hex). */
  externalPsks?: ReadonlyMap<string, Uint8Array>;
}

export interface OpenedWelcome {
  groupSecrets: GroupSecrets;
  groupInfo: GroupInfo;
  /** psk_secret, when the Welcome names PSKs. */
  psk: Uint8Array | undefined;
}

/** Decrypts our GroupSecrets and the GroupInfo of a bare Welcome (§12.4.3.1), nothing checked. */
export function openWelcome(
  welcomeBytes: Uint8Array,
  keyPackage: { encoded: Uint8Array; initPrivate: Uint8Array; initPublic: Uint8Array },
  externalPsks?: ReadonlyMap<string, Uint8Array>,
): OpenedWelcome {
  const welcome = decode(readWelcome, welcomeBytes, 'welcome');
  if (welcome.cipherSuite !== CIPHER_SUITE_P256) throw new MlsGroupError('welcome cipher suite');
  const ref = keyPackageRef(keyPackage.encoded);
  const entry = welcome.secrets.find((s) => bytesEqual(s.newMember, ref));
  if (entry === undefined) throw new MlsGroupError('welcome has no secrets for our key package');
  let groupSecrets: GroupSecrets;
  try {
    const plain = decryptWithLabel(
      keyPackage.initPrivate,
      'Welcome',
      welcome.encryptedGroupInfo,
      entry.encryptedGroupSecrets,
      keyPackage.initPublic,
    );
    groupSecrets = decode(readGroupSecrets, plain, 'group secrets');
  } catch {
    throw new MlsGroupError('could not decrypt the group secrets');
  }
  const psks = groupSecrets.psks.map((id) => {
    if (id.pskType !== 1 || id.pskId === undefined) throw new MlsGroupError('unsupported PSK');
    const psk = externalPsks?.get(Buffer.from(id.pskId).toString('hex'));
    if (psk === undefined) throw new MlsGroupError('unknown PSK');
    const w = new Writer().u8(1).opaque(id.pskId).opaque(id.pskNonce);
    return { pskId: w.bytes(), psk };
  });
  const psk: Uint8Array | undefined = psks.length === 0 ? undefined : pskSecret(psks);
  const welcomeSecret = deriveSecret(
    extract(groupSecrets.joinerSecret, psk ?? new Uint8Array(HASH_BYTES)),
    'welcome',
  );
  const { key, nonce } = welcomeKeyNonce(welcomeSecret);
  let groupInfo: GroupInfo;
  try {
    groupInfo = decode(
      readGroupInfo,
      aesGcmDecrypt(key, nonce, EMPTY, welcome.encryptedGroupInfo),
      'group info',
    );
  } catch {
    throw new MlsGroupError('could not decrypt the group info');
  }
  return { groupSecrets, groupInfo, psk };
}

/** Joins from a bare Welcome with our key package; validates the tree and the GroupInfo. */
export function joinFromWelcome(
  welcomeBytes: Uint8Array,
  bundle: KeyPackageBundle,
  options: JoinOptions = {},
): GroupState {
  const { groupSecrets, groupInfo, psk } = openWelcome(
    welcomeBytes,
    { encoded: bundle.encoded, initPrivate: bundle.initPrivate, initPublic: bundle.keyPackage.initKey },
    options.externalPsks,
  );
  const context = groupInfo.groupContext;
  if (context.version !== MLS_VERSION_10 || context.cipherSuite !== CIPHER_SUITE_P256)
    throw new MlsGroupError('group version or cipher suite');
  const treeExt = groupInfo.extensions.find((e) => e.extensionType === EXTENSION_RATCHET_TREE);
  const nodes =
    treeExt !== undefined
      ? decode(readRatchetTree, treeExt.extensionData, 'ratchet tree')
      : options.ratchetTree;
  if (nodes === undefined) throw new MlsGroupError('no ratchet tree');
  let tree: RatchetTree;
  try {
    tree = RatchetTree.fromNodes(nodes);
  } catch {
    throw new MlsGroupError('malformed ratchet tree');
  }
  const signer = tree.leaf(groupInfo.signer);
  if (signer === undefined) throw new MlsGroupError('group info signer is blank');
  if (!verifyWithLabel(signer.signatureKey, 'GroupInfoTBS', groupInfoTbs(groupInfo), groupInfo.signature)) {
    throw new MlsGroupError('bad group info signature');
  }
  if (!bytesEqual(tree.treeHash(), context.treeHash)) throw new MlsGroupError('tree hash mismatch');
  if (!tree.verifyKeysUnique()) throw new MlsGroupError('tree keys not unique or nodes misplaced');
  if (!tree.verifyParentHashes()) throw new MlsGroupError('invalid parent hashes');
  if (!tree.verifyUnmergedLeaves()) throw new MlsGroupError('invalid unmerged leaves');
  if (!tree.verifyLeafSignatures(context.groupId)) throw new MlsGroupError('invalid leaf signature');
  const ownEncoded = encodedLeaf(bundle.keyPackage.leafNode);
  let ownLeaf = -1;
  for (const [i, leaf] of tree.members()) {
    if (bytesEqual(encodedLeaf(leaf), ownEncoded)) ownLeaf = i;
  }
  if (ownLeaf < 0) throw new MlsGroupError('our leaf is not in the tree');
  const keys: PrivateKeys = new Map([[leafToNode(ownLeaf), bundle.encryptionPrivate]]);
  if (
    groupSecrets.pathSecret !== undefined &&
    !keysFromPathSecret(tree, keys, ownLeaf, groupSecrets.pathSecret)
  ) {
    throw new MlsGroupError('path secret does not match the tree');
  }
  const gc = encodeGroupContext(context);
  const secrets = epochSecrets(groupSecrets.joinerSecret, psk, gc);
  if (
    !macEqual(
      groupInfo.confirmationTag,
      confirmationTag(secrets.confirmationKey, context.confirmedTranscriptHash),
    )
  ) {
    throw new MlsGroupError('bad confirmation tag');
  }
  return withEpoch(
    context,
    tree,
    ownLeaf,
    keys,
    bundle.signaturePrivate,
    secrets,
    interimTranscriptHash(context.confirmedTranscriptHash, groupInfo.confirmationTag),
  );
}

/** Key of a ProposalRef in a proposal cache. */
export function proposalKey(ref: Uint8Array): string {
  return Buffer.from(ref).toString('base64');
}
