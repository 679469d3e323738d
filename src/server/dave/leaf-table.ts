/**
 * The gateway's view of the MLS tree's leaves (dave.md §7.9): leaf index -> user, plus the leaf's
 * signature key for commit path checks. Remove blanks a leaf and truncates trailing blanks; Add
 * takes the leftmost blank leaf or appends (RFC 9420 §7.7, §12.1.1).
 */

export interface LeafEntry {
  readonly userId: string;
  /** 65-byte P-256 point, when known (from the key package or a commit path). */
  signatureKey: Uint8Array | undefined;
}

export class LeafTable {
  private readonly leaves: (LeafEntry | null)[] = [];

  /** Number of occupied leaves. */
  get size(): number {
    let n = 0;
    for (const leaf of this.leaves) if (leaf !== null) n++;
    return n;
  }

  /** Leaf count including blanks (the tree's width in leaves). */
  get width(): number {
    return this.leaves.length;
  }

  indexOf(userId: string): number | undefined {
    const i = this.leaves.findIndex((leaf) => leaf !== null && leaf.userId === userId);
    return i < 0 ? undefined : i;
  }

  at(index: number): LeafEntry | undefined {
    return this.leaves[index] ?? undefined;
  }

  /** Occupied leaves in index order. */
  entries(): { index: number; leaf: LeafEntry }[] {
    const out: { index: number; leaf: LeafEntry }[] = [];
    this.leaves.forEach((leaf, index) => {
      if (leaf !== null) out.push({ index, leaf });
    });
    return out;
  }

  userIds(): string[] {
    return this.entries().map((e) => e.leaf.userId);
  }

  add(userId: string, signatureKey: Uint8Array | undefined): number {
    const entry: LeafEntry = { userId, signatureKey };
    const blank = this.leaves.indexOf(null);
    if (blank >= 0) {
      this.leaves[blank] = entry;
      return blank;
    }
    this.leaves.push(entry);
    return this.leaves.length - 1;
  }

  /** Blanks a leaf; false if it was already blank or out of range. */
  remove(index: number): boolean {
    if (this.leaves[index] === undefined || this.leaves[index] === null) return false;
    this.leaves[index] = null;
    while (this.leaves.length > 0 && this.leaves[this.leaves.length - 1] === null) this.leaves.pop();
    return true;
  }

  clear(): void {
    this.leaves.length = 0;
  }
}
