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
import { Readable } from 'node:stream';

/** pullNow(): nothing ready now; await next(). */
export const NOT_READY: unique symbol = Symbol('voxcord.frame-pull.not-ready');
export type NotReady = typeof NOT_READY;

export interface SyncPullIterator<T> extends AsyncIterator<T> {
  pullNow(): IteratorResult<T> | NotReady;
}

export function canPullNow<T>(it: AsyncIterator<T>): it is SyncPullIterator<T> {
  return typeof (it as Partial<SyncPullIterator<T>>).pullNow === 'function';
}

/**
 * An async iterator over any (async) iterable. A sync iterable is pulled synchronously, and so is
 * a Readable while it has objects buffered (`read()`; its end and its errors still come through
 * its own async iterator; return() destroys it, as that iterator does).
 */
export function pullIterator(source: unknown): AsyncIterator<unknown> | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  if (source instanceof Readable) return readableIterator(source);
  const asyncIt = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  if (typeof asyncIt === 'function') return asyncIt.call(source);
  const syncIt = (source as Partial<Iterable<unknown>>)[Symbol.iterator];
  if (typeof syncIt !== 'function') return undefined;
  const inner = syncIt.call(source);
  const it: SyncPullIterator<unknown> = {
    pullNow: () => inner.next(),
    next: async () => inner.next(),
    return: async () => inner.return?.() ?? { done: true, value: undefined },
  };
  return it;
}

function readableIterator(stream: Readable): SyncPullIterator<unknown> {
  const inner = stream[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  return {
    pullNow: () => {
      if (stream.destroyed || stream.readableLength === 0) return NOT_READY;
      const chunk: unknown = stream.read();
      return chunk === null ? NOT_READY : { done: false, value: chunk };
    },
    next: () => inner.next(),
    return: async () => {
      // Destroyed first: a next() still waiting for data (queued before return() in the async
      // generator) settles now instead of holding the stream open until data comes.
      if (!stream.destroyed) stream.destroy();
      return (await inner.return?.()) ?? { done: true, value: undefined };
    },
  };
}
