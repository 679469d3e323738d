/**
 * TreeKEM (RFC 9420 §7.4-§7.6, §12.4.1-§12.4.2): creating an UpdatePath over the committer's
 * filtered direct path, and merging one from another member (parent hashes recomputed, the leaf's
 * parent hash checked, the path secret decrypted at the lowest common node and ratcheted to the
 * root). Private keys are node index -> 32-byte scalar, for the holder's leaf and the parent nodes
 * it knows.
 */
import { randomBytes } from 'node:crypto';
import { bytesEqual } from '../mls-codec.js';
import { decryptWithLabel, deriveSecret, encryptWithLabel, HASH_BYTES } from './crypto.js';
import { hpkeDeriveKeyPair } from './hpke.js';
import type { LeafNode, UpdatePath, UpdatePathNode } from './messages.js';
import type { RatchetTree } from './tree.js';
import { directPath, leafToNode } from './tree-math.js';

export type PrivateKeys = Map<number, Uint8Array>;

/** Thrown when an UpdatePath is invalid for this tree; the message carries no secrets. */
export class TreeKemError extends Error {
  override readonly name = 'TreeKemError';
}

function nodeKeys(pathSecret: Uint8Array): { privateKey: Uint8Array; publicKey: Uint8Array } {
  return hpkeDeriveKeyPair(deriveSecret(pathSecret, 'node'));
}

/** Drops keys of nodes that are blank (or were replaced) on `leafIndex`'s direct path. */
function forgetDirectPath(keys: PrivateKeys, tree: RatchetTree, leafIndex: number): void {
  for (const p of directPath(leafToNode(leafIndex), tree.leafCount)) keys.delete(p);
}

/**
 * Sets the filtered direct path's parent nodes (keys given, unmerged leaves empty) and their
 * parent hashes top-down; returns the parent hash the sender's leaf must carry.
 */
function setPathNodes(
  tree: RatchetTree,
  senderLeaf: number,
  filtered: number[],
  publicKeys: Uint8Array[],
): Uint8Array {
  for (const p of directPath(leafToNode(senderLeaf), tree.leafCount)) tree.setNode(p, undefined);
  let parentHash: Uint8Array = new Uint8Array(0);
  for (let i = filtered.length - 1; i >= 0; i--) {
    const p = filtered[i] ?? 0;
    tree.setNode(p, {
      type: 'parent',
      parent: { encryptionKey: publicKeys[i] ?? new Uint8Array(0), parentHash, unmergedLeaves: [] },
    });
    parentHash = tree.parentHashOf(p, tree.copathChildOf(p, senderLeaf));
  }
  return parentHash;
}

export interface CreatedPath {
  path: UpdatePath;
  commitSecret: Uint8Array;
  /** path_secret of the filtered direct path node that is the lowest common ancestor per leaf. */
  pathSecrets: Map<number, Uint8Array>;
}

/**
 * Builds an UpdatePath from `senderLeaf` on `tree` (proposals already applied), updating `tree`
 * and `keys` in place. `makeLeaf` signs the new leaf with the parent hash it is given;
 * `groupContext` encodes the provisional GroupContext for the updated tree; `exclude` lists
 * leaves added by this commit (they get the path secret through the Welcome).
 */
export function createUpdatePath(
  tree: RatchetTree,
  keys: PrivateKeys,
  senderLeaf: number,
  leafKeyPair: { privateKey: Uint8Array; publicKey: Uint8Array },
  makeLeaf: (parentHash: Uint8Array) => LeafNode,
  groupContext: (tree: RatchetTree) => Uint8Array,
  exclude: ReadonlySet<number>,
): CreatedPath {
  const filtered = tree.filteredDirectPath(senderLeaf);
  const secrets: Uint8Array[] = [];
  const pairs: { privateKey: Uint8Array; publicKey: Uint8Array }[] = [];
  let secret: Uint8Array = new Uint8Array(randomBytes(HASH_BYTES));
  for (let i = 0; i < filtered.length; i++) {
    if (i > 0) secret = deriveSecret(secret, 'path');
    secrets.push(secret);
    pairs.push(nodeKeys(secret));
  }
  const commitSecret = deriveSecret(secret, 'path');
  forgetDirectPath(keys, tree, senderLeaf);
  const leafParentHash = setPathNodes(
    tree,
    senderLeaf,
    filtered,
    pairs.map((p) => p.publicKey),
  );
  const leaf = makeLeaf(leafParentHash);
  tree.setNode(leafToNode(senderLeaf), { type: 'leaf', leaf });
  keys.set(leafToNode(senderLeaf), leafKeyPair.privateKey);
  filtered.forEach((p, i) => keys.set(p, pairs[i]?.privateKey ?? new Uint8Array(0)));
  const context = groupContext(tree);
  const excludedNodes = new Set([...exclude].map(leafToNode));
  const nodes: UpdatePathNode[] = filtered.map((p, i) => {
    const copathChild = tree.copathChildOf(p, senderLeaf);
    const pathSecret = secrets[i] ?? new Uint8Array(0);
    const encryptedPathSecret = tree
      .resolution(copathChild)
      .filter((x) => !excludedNodes.has(x))
      .map((x) =>
        encryptWithLabel(tree.publicKey(x) ?? new Uint8Array(0), 'UpdatePathNode', context, pathSecret),
      );
    return { encryptionKey: pairs[i]?.publicKey ?? new Uint8Array(0), encryptedPathSecret };
  });
  // the secret each other leaf shares with us: the one at our lowest common filtered node
  const pathSecrets = new Map<number, Uint8Array>();
  for (const [leafIndex] of tree.members()) {
    if (leafIndex === senderLeaf) continue;
    const i = filtered.findIndex((p) => directPath(leafToNode(leafIndex), tree.leafCount).includes(p));
    const s = secrets[i];
    if (s !== undefined) pathSecrets.set(leafIndex, s);
  }
  return { path: { leafNode: leaf, nodes }, commitSecret, pathSecrets };
}

/**
 * Merges another member's UpdatePath into `tree` (proposals already applied) and derives the
 * commit secret with our keys; `tree` and `keys` are updated in place. The caller has verified
 * the leaf node's signature. Throws TreeKemError.
 */
export function applyUpdatePath(
  tree: RatchetTree,
  keys: PrivateKeys,
  senderLeaf: number,
  ownLeaf: number,
  path: UpdatePath,
  groupContext: (tree: RatchetTree) => Uint8Array,
  exclude: ReadonlySet<number>,
): { commitSecret: Uint8Array; pathSecret: Uint8Array | undefined } {
  const filtered = tree.filteredDirectPath(senderLeaf);
  if (path.nodes.length !== filtered.length) {
    throw new TreeKemError(
      `update path has ${path.nodes.length} nodes, filtered direct path ${filtered.length}`,
    );
  }
  // where the path secret reaches us: the lowest filtered node on our own direct path
  const ownPath = directPath(leafToNode(ownLeaf), tree.leafCount);
  const at = filtered.findIndex((p) => ownPath.includes(p));
  if (at < 0) throw new TreeKemError('update path does not cover our leaf');
  const p = filtered[at] ?? 0;
  const copathChild = tree.copathChildOf(p, senderLeaf);
  const excludedNodes = new Set([...exclude].map(leafToNode));
  const resolution = tree.resolution(copathChild).filter((x) => !excludedNodes.has(x));
  const position = resolution.findIndex((x) => keys.has(x));
  const holder = resolution[position];
  const node = path.nodes[at];
  if (holder === undefined || node === undefined)
    throw new TreeKemError('no private key for the update path');
  const ciphertext = node.encryptedPathSecret[position];
  if (node.encryptedPathSecret.length !== resolution.length || ciphertext === undefined) {
    throw new TreeKemError('update path node has the wrong number of ciphertexts');
  }
  const holderKey = keys.get(holder) ?? new Uint8Array(0);
  const holderPublic = tree.publicKey(holder);

  forgetDirectPath(keys, tree, senderLeaf);
  const leafParentHash = setPathNodes(
    tree,
    senderLeaf,
    filtered,
    path.nodes.map((n) => n.encryptionKey),
  );
  const claimed = path.leafNode.parentHash ?? new Uint8Array(0);
  if (!bytesEqual(claimed, leafParentHash))
    throw new TreeKemError('leaf parent hash does not match the update path');
  tree.setNode(leafToNode(senderLeaf), { type: 'leaf', leaf: path.leafNode });

  let secret: Uint8Array;
  try {
    secret = decryptWithLabel(holderKey, 'UpdatePathNode', groupContext(tree), ciphertext, holderPublic);
  } catch {
    throw new TreeKemError('could not decrypt the path secret');
  }
  const pathSecret = secret;
  for (let i = at; i < filtered.length; i++) {
    if (i > at) secret = deriveSecret(secret, 'path');
    const pair = nodeKeys(secret);
    if (!bytesEqual(pair.publicKey, path.nodes[i]?.encryptionKey ?? new Uint8Array(0))) {
      throw new TreeKemError('derived public key does not match the update path');
    }
    keys.set(filtered[i] ?? 0, pair.privateKey);
  }
  return { commitSecret: deriveSecret(secret, 'path'), pathSecret };
}

/**
 * Private keys from a path secret for the nodes from `node` up the filtered direct path of the
 * committer (a joiner's Welcome path_secret, §12.4.3.1); checks each derived key against the tree.
 */
export function keysFromPathSecret(
  tree: RatchetTree,
  keys: PrivateKeys,
  ownLeaf: number,
  pathSecret: Uint8Array,
): boolean {
  const ownPath = directPath(leafToNode(ownLeaf), tree.leafCount);
  // the lowest non-blank ancestor whose key derives from the secret; the rest ratchet upward
  let secret = pathSecret;
  let started = false;
  for (const p of ownPath) {
    const pub = tree.publicKey(p);
    if (pub === undefined) continue;
    const pair = nodeKeys(secret);
    if (bytesEqual(pair.publicKey, pub)) {
      keys.set(p, pair.privateKey);
      started = true;
      secret = deriveSecret(secret, 'path');
    } else if (started) {
      return false;
    }
  }
  return started;
}
