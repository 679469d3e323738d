/**
 * The ratchet tree (RFC 9420 §4, §7): nodes in array order, resolution, filtered direct path,
 * tree hash, parent hash, add/update/remove with truncation, and the validation a joiner runs on a
 * received tree (§7.9.2, §12.4.3.1). Nodes are treated as immutable values: a changed node is
 * replaced, so trees can share nodes across copies.
 */
import { bytesEqual, Writer } from '../mls-codec.js';
import { sha256, verifyWithLabel } from './crypto.js';
import { leafNodeTbs, LeafNodeSource, writeLeafNode, writeParentNode } from './messages.js';
import type { LeafNode, ParentNode, TreeNode } from './messages.js';
import {
  directPath,
  isDescendant,
  leafToNode,
  left,
  level,
  nodeWidth,
  right,
  root,
  sibling,
} from './tree-math.js';

export type Nodes = (TreeNode | undefined)[];

/** The encoded LeafNode. */
export function encodedLeaf(leaf: LeafNode): Uint8Array {
  const w = new Writer();
  writeLeafNode(w, leaf);
  return w.bytes();
}

export class RatchetTree {
  /**
   * Tree hash per node (a node's hash depends only on its subtree, not on the tree's size);
   * every change clears the entries of the node and its ancestors.
   */
  private hashes: (Uint8Array | undefined)[];

  /** Always nodeWidth(leafCount) entries; leafCount is a power of two. */
  private constructor(
    readonly nodes: Nodes,
    readonly leafCount: number,
    hashes: (Uint8Array | undefined)[] = [],
  ) {
    this.hashes = hashes;
  }

  /** A tree from the ratchet_tree extension's node list (trailing blanks may be omitted). */
  static fromNodes(list: Nodes): RatchetTree {
    if (list.length === 0) throw new RangeError('empty ratchet tree');
    let leaves = 1;
    while (nodeWidth(leaves) < list.length) leaves *= 2;
    const nodes: Nodes = list.slice();
    while (nodes.length < nodeWidth(leaves)) nodes.push(undefined);
    if (list.length % 2 === 0) throw new RangeError('ratchet tree ends with a parent node');
    return new RatchetTree(nodes, leaves);
  }

  static single(leaf: LeafNode): RatchetTree {
    return new RatchetTree([{ type: 'leaf', leaf }], 1);
  }

  /** Forgets cached hashes: a kept epoch holds only the nodes (memory per connection). */
  dropCaches(): void {
    this.hashes = [];
  }

  clone(): RatchetTree {
    return new RatchetTree(this.nodes.slice(), this.leafCount, this.hashes.slice());
  }

  get root(): number {
    return root(this.leafCount);
  }

  node(x: number): TreeNode | undefined {
    return this.nodes[x];
  }

  leaf(leafIndex: number): LeafNode | undefined {
    const n = this.nodes[leafToNode(leafIndex)];
    return n?.type === 'leaf' ? n.leaf : undefined;
  }

  parentNode(x: number): ParentNode | undefined {
    const n = this.nodes[x];
    return n?.type === 'parent' ? n.parent : undefined;
  }

  /** Encryption key of a non-blank node. */
  publicKey(x: number): Uint8Array | undefined {
    const n = this.nodes[x];
    if (n === undefined) return undefined;
    return n.type === 'leaf' ? n.leaf.encryptionKey : n.parent.encryptionKey;
  }

  /** Indices of non-blank leaves. */
  *members(): Generator<[number, LeafNode]> {
    for (let i = 0; i < this.leafCount; i++) {
      const leaf = this.leaf(i);
      if (leaf !== undefined) yield [i, leaf];
    }
  }

  /** Resolution of node x (§4.1.1), unmerged leaves included. */
  resolution(x: number, out: number[] = []): number[] {
    const n = this.nodes[x];
    if (n !== undefined) {
      out.push(x);
      if (n.type === 'parent') for (const l of n.parent.unmergedLeaves) out.push(leafToNode(l));
    } else if (level(x) > 0) {
      this.resolution(left(x), out);
      this.resolution(right(x), out);
    }
    return out;
  }

  /**
   * Filtered direct path of a leaf (§4.1.2): its direct path without the nodes whose child on the
   * leaf's copath has an empty resolution.
   */
  filteredDirectPath(leafIndex: number): number[] {
    const x = leafToNode(leafIndex);
    const path: number[] = [];
    let child = x;
    for (const p of directPath(x, this.leafCount)) {
      const copathChild = sibling(child, this.leafCount);
      if (this.resolution(copathChild).length > 0) path.push(p);
      child = p;
    }
    return path;
  }

  /** The copath child (of each filtered direct path node) on the side away from the leaf. */
  copathChildOf(p: number, leafIndex: number): number {
    return leafToNode(leafIndex) < p ? right(p) : left(p);
  }

  // ---- hashes (§7.8, §7.9) ----

  /** Tree hash of the subtree at x; `excluded` leaves count as blank and leave unmerged lists. */
  treeHash(x: number = this.root, excluded?: ReadonlySet<number>): Uint8Array {
    if (excluded === undefined) {
      const hit = this.hashes[x];
      if (hit !== undefined) return hit;
      const h = this.computeTreeHash(x, undefined);
      this.hashes[x] = h;
      return h;
    }
    return this.computeTreeHash(x, excluded);
  }

  private computeTreeHash(x: number, excluded: ReadonlySet<number> | undefined): Uint8Array {
    const w = new Writer();
    const n = this.nodes[x];
    if (level(x) === 0) {
      const leafIndex = x / 2;
      w.u8(1).u32(leafIndex);
      if (n === undefined || n.type !== 'leaf' || excluded?.has(leafIndex) === true) w.u8(0);
      else w.u8(1).raw(encodedLeaf(n.leaf));
      return sha256(w.bytes());
    }
    w.u8(2);
    if (n === undefined || n.type !== 'parent') w.u8(0);
    else {
      const p = n.parent;
      const unmerged =
        excluded === undefined ? p.unmergedLeaves : p.unmergedLeaves.filter((l) => !excluded.has(l));
      writeParentNode(w.u8(1), { ...p, unmergedLeaves: unmerged });
    }
    w.opaque(this.treeHash(left(x), excluded)).opaque(this.treeHash(right(x), excluded));
    return sha256(w.bytes());
  }

  /** ParentHash of parent node p seen from its child on the side opposite `copathChild`. */
  parentHashOf(p: number, copathChild: number): Uint8Array {
    const node = this.parentNode(p);
    if (node === undefined) throw new Error('parent hash of a blank node');
    const excluded = node.unmergedLeaves.length > 0 ? new Set(node.unmergedLeaves) : undefined;
    const w = new Writer()
      .opaque(node.encryptionKey)
      .opaque(node.parentHash)
      .opaque(this.treeHash(copathChild, excluded));
    return sha256(w.bytes());
  }

  // ---- changes (§7.7, §12.1) ----

  private blankDirectPath(leafIndex: number): void {
    for (const p of directPath(leafToNode(leafIndex), this.leafCount)) this.nodes[p] = undefined;
    this.invalidate(leafToNode(leafIndex));
  }

  /** Forgets the cached hashes of x and its ancestors. */
  private invalidate(x: number): void {
    this.hashes[x] = undefined;
    for (const p of directPath(x, this.leafCount)) this.hashes[p] = undefined;
  }

  /** Adds a leaf in the leftmost blank slot (extending the tree if needed); returns its index. */
  addLeaf(leaf: LeafNode): number {
    let index = 0;
    while (index < this.leafCount && this.nodes[leafToNode(index)] !== undefined) index++;
    if (index === this.leafCount) {
      const grown = this.leafCount * 2;
      while (this.nodes.length < nodeWidth(grown)) this.nodes.push(undefined);
      (this as { leafCount: number }).leafCount = grown;
    }
    this.invalidate(leafToNode(index));
    const x = leafToNode(index);
    this.nodes[x] = { type: 'leaf', leaf };
    for (const p of directPath(x, this.leafCount)) {
      const n = this.nodes[p];
      if (n?.type === 'parent') {
        this.nodes[p] = {
          type: 'parent',
          parent: { ...n.parent, unmergedLeaves: [...n.parent.unmergedLeaves, index] },
        };
      }
    }
    return index;
  }

  /** Replaces a member's leaf (Update proposal) and blanks its direct path. */
  updateLeaf(leafIndex: number, leaf: LeafNode): void {
    this.nodes[leafToNode(leafIndex)] = { type: 'leaf', leaf };
    this.blankDirectPath(leafIndex);
  }

  /** Blanks a leaf and its direct path, then truncates blank right halves. */
  removeLeaf(leafIndex: number): void {
    this.nodes[leafToNode(leafIndex)] = undefined;
    this.blankDirectPath(leafIndex);
    this.truncate();
  }

  private truncate(): void {
    while (this.leafCount > 1) {
      const half = this.leafCount / 2;
      let blank = true;
      for (let i = half; i < this.leafCount && blank; i++) blank = this.nodes[leafToNode(i)] === undefined;
      if (!blank) return;
      this.nodes.length = nodeWidth(half);
      if (this.hashes.length > this.nodes.length) this.hashes.length = this.nodes.length;
      (this as { leafCount: number }).leafCount = half;
    }
  }

  setNode(x: number, node: TreeNode | undefined): void {
    this.nodes[x] = node;
    this.invalidate(x);
  }

  // ---- validation (§7.9.2, §12.4.3.1) ----

  /**
   * Every non-blank parent node is covered by exactly one parent-hash chain from a leaf
   * (§7.9.2): walking up from each leaf, a node's parent_hash must equal the ParentHash of its
   * nearest non-blank ancestor computed with the copath child on the other side.
   */
  verifyParentHashes(): boolean {
    const coverage = new Map<number, number>();
    const r = this.root;
    for (let leafIndex = 0; leafIndex < this.leafCount; leafIndex++) {
      let x = leafToNode(leafIndex);
      if (this.nodes[x] === undefined) continue;
      while (x !== r) {
        const n = this.nodes[x];
        if (n === undefined) break;
        // nearest non-blank ancestor and the child of it on the path from x
        let child = x;
        let p = -1;
        for (const a of directPath(x, this.leafCount)) {
          if (this.nodes[a] !== undefined) {
            p = a;
            break;
          }
          child = a;
        }
        if (p < 0) break;
        const expected =
          n.type === 'parent'
            ? n.parent.parentHash
            : n.leaf.source === LeafNodeSource.Commit
              ? n.leaf.parentHash
              : undefined;
        if (expected === undefined) break;
        const other = child < p ? right(p) : left(p);
        if (!bytesEqual(this.parentHashOf(p, other), expected)) break;
        coverage.set(p, (coverage.get(p) ?? 0) + 1);
        x = p;
      }
    }
    for (let x = 1; x < this.nodes.length; x += 2) {
      if (this.nodes[x] !== undefined && coverage.get(x) !== 1) return false;
    }
    return true;
  }

  /**
   * Unmerged leaves (§12.4.3.1): each entry of a parent's unmerged_leaves is a non-blank leaf below
   * it, and every non-blank node strictly between that leaf and the parent lists it too. Nothing
   * more: the lists of nodes along a path need not be equal (ts-mls 1.6.4 demanded that).
   */
  verifyUnmergedLeaves(): boolean {
    for (let x = 1; x < this.nodes.length; x += 2) {
      const p = this.parentNode(x);
      if (p === undefined) continue;
      for (const l of p.unmergedLeaves) {
        const lx = leafToNode(l);
        if (l >= this.leafCount || this.nodes[lx] === undefined || !isDescendant(lx, x)) return false;
        for (const a of directPath(lx, this.leafCount)) {
          if (a === x) break;
          const between = this.parentNode(a);
          if (between !== undefined && !between.unmergedLeaves.includes(l)) return false;
        }
      }
    }
    return true;
  }

  /** Leaf signatures (LeafNodeTBS with the group id for update/commit sources). */
  verifyLeafSignatures(groupId: Uint8Array): boolean {
    for (const [i, leaf] of this.members()) {
      if (!verifyWithLabel(leaf.signatureKey, 'LeafNodeTBS', leafNodeTbs(leaf, groupId, i), leaf.signature))
        return false;
    }
    return true;
  }

  /** No encryption or signature key appears twice (§7.9.2 uniqueness). */
  verifyKeysUnique(): boolean {
    const seenHpke = new Set<string>();
    const seenSig = new Set<string>();
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
    for (let x = 0; x < this.nodes.length; x++) {
      const n = this.nodes[x];
      if (n === undefined) continue;
      if ((level(x) === 0) !== (n.type === 'leaf')) return false;
      const hpke = b64(n.type === 'leaf' ? n.leaf.encryptionKey : n.parent.encryptionKey);
      if (seenHpke.has(hpke)) return false;
      seenHpke.add(hpke);
      if (n.type === 'leaf') {
        const sig = b64(n.leaf.signatureKey);
        if (seenSig.has(sig)) return false;
        seenSig.add(sig);
      }
    }
    return true;
  }
}
