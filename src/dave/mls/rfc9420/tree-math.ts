/**
 * Array-based tree math (RFC 9420 §4.1, Appendix C). Node indices: leaves at even indices
 * (leaf i = node 2i), parents at odd ones; the tree is complete with a power-of-two leaf count.
 */

/** Level of node x: the number of trailing one bits (leaves are level 0). */
export function level(x: number): number {
  if ((x & 1) === 0) return 0;
  let k = 0;
  while (((x >> k) & 1) === 1) k++;
  return k;
}

export function nodeWidth(nLeaves: number): number {
  return nLeaves === 0 ? 0 : 2 * (nLeaves - 1) + 1;
}

export function root(nLeaves: number): number {
  const w = nodeWidth(nLeaves);
  return (1 << Math.floor(Math.log2(w))) - 1;
}

export function left(x: number): number {
  const k = level(x);
  if (k === 0) throw new RangeError('leaf has no children');
  return x ^ (1 << (k - 1));
}

export function right(x: number): number {
  const k = level(x);
  if (k === 0) throw new RangeError('leaf has no children');
  return x ^ (3 << (k - 1));
}

export function parent(x: number, nLeaves: number): number {
  if (x === root(nLeaves)) throw new RangeError('root has no parent');
  const k = level(x);
  const b = (x >> (k + 1)) & 1;
  return (x | (1 << k)) ^ (b << (k + 1));
}

export function sibling(x: number, nLeaves: number): number {
  const p = parent(x, nLeaves);
  return x < p ? right(p) : left(p);
}

/** Ancestors of x from its parent to the root. */
export function directPath(x: number, nLeaves: number): number[] {
  const r = root(nLeaves);
  const path: number[] = [];
  while (x !== r) {
    x = parent(x, nLeaves);
    path.push(x);
  }
  return path;
}

/** Siblings of x and of each ancestor below the root. */
export function copath(x: number, nLeaves: number): number[] {
  const r = root(nLeaves);
  if (x === r) return [];
  const d = [x, ...directPath(x, nLeaves)];
  d.pop();
  return d.map((y) => sibling(y, nLeaves));
}

/** True when node x is in the subtree rooted at y. */
export function isDescendant(x: number, y: number): boolean {
  const half = (1 << level(y)) - 1;
  return x >= y - half && x <= y + half;
}

export function leafToNode(leaf: number): number {
  return leaf * 2;
}

export function nodeToLeaf(node: number): number {
  return node / 2;
}
