/**
 * The synchronous frame pull: an async iterator that can also hand over, without a promise, the
 * item it already has. The transmit pump takes frames this way while its channel accepts them
 * (one call per frame instead of one promise and one microtask turn), and awaits `next()` only
 * when `pullNow()` says nothing is ready.
 *
 * Contract for `pullNow()`: it returns what `next()` would resolve with, if that is known now, or
 * NOT_READY; it throws what `next()` would reject with. A caller never calls it while one of its
 * `next()` calls is still pending, so the two never reorder items.
 */

/** pullNow(): nothing ready now; await next(). */
export const NOT_READY: unique symbol = Symbol('voxcord.frame-pull.not-ready');
export type NotReady = typeof NOT_READY;

export interface SyncPullIterator<T> extends AsyncIterator<T> {
  pullNow(): IteratorResult<T> | NotReady;
}

export function canPullNow<T>(it: AsyncIterator<T>): it is SyncPullIterator<T> {
  return typeof (it as Partial<SyncPullIterator<T>>).pullNow === 'function';
}

/** An async iterator over any (async) iterable; a sync one is pulled synchronously. */
export function pullIterator(source: unknown): AsyncIterator<unknown> | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const asyncIt = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  if (typeof asyncIt === 'function') return asyncIt.call(source) as AsyncIterator<unknown>;
  const syncIt = (source as Partial<Iterable<unknown>>)[Symbol.iterator];
  if (typeof syncIt !== 'function') return undefined;
  const inner = syncIt.call(source) as Iterator<unknown>;
  const it: SyncPullIterator<unknown> = {
    pullNow: () => inner.next(),
    next: async () => inner.next(),
    return: async () => inner.return?.() ?? { done: true, value: undefined },
  };
  return it;
}
