/**
 * Bounds for maps and sets that a peer fills (SSRCs, user ids): before adding `key`, forget the
 * oldest entries (insertion order) so that at most `max` remain after the add.
 */
export function makeRoom<K>(collection: Map<K, unknown> | Set<K>, key: K, max: number): void {
  if (collection.has(key)) return;
  while (collection.size >= max) {
    const oldest = collection.keys().next();
    if (oldest.done === true) return;
    collection.delete(oldest.value);
  }
}
