/**
 * The synchronous frame pull: an async iterator that can also hand over, without a promise, the
 * item it already has. The transmit pump takes frames this way while its channel accepts them
 * (one call per frame instead of one promise and one microtask turn), and awaits `next()` only
 * when `pullNow()` says nothing is ready.
 *
 * An async generator (`async function*`, what most bots hand over) cannot say whether it has an
 * item: it is read ahead instead (ReadAhead), one next() call after another, so that the items it
 * had ready meanwhile are taken without a promise each.
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

/**
 * Items an async generator is read ahead by: a worker engine's refill, which can be its whole
 * queue (25 frames) when its dequeue reports come late, plus the pump's pending frame. Measured in
 * the send bench at N = 100: with 16, a third of the frames still waited for a promise each.
 */
export const READ_AHEAD_ITEMS = 32;

/**
 * The transmit pump's iterator over `source`: pullIterator()'s, with a native async generator read
 * ahead. (The connection's relay takes pullIterator()'s as is: it keeps the source's position
 * across sessions itself, and a view closed early must not have run the generator to its end.)
 */
export function pumpIterator(source: unknown): AsyncIterator<unknown> | undefined {
  const it = pullIterator(source);
  return it !== undefined && isAsyncGenerator(it) ? new ReadAhead(it) : it;
}

/**
 * Only native async generators are read ahead: they queue next() calls and settle them in order
 * (ECMA-262 AsyncGeneratorEnqueue); a hand-written async iterator may not expect concurrent calls.
 */
function isAsyncGenerator(it: unknown): it is AsyncGenerator<unknown> {
  return Object.prototype.toString.call(it) === '[object AsyncGenerator]';
}

/**
 * An async generator read up to `depth` items ahead; what its next() calls resolved with waits in
 * order and pullNow() hands it over without a promise. The generator's end or error comes after
 * the items before it, as it would one next() at a time. `takeAll()` gives back what was read
 * ahead (a transmission handing its frames to the next session); `return()` drops it.
 */
export class ReadAhead<T> implements SyncPullIterator<T> {
  /** Settled results not handed over yet, oldest first (never a `done` one: see `end`). */
  private readonly ready: T[] = [];
  private head = 0;
  private inFlight = 0;
  /** The generator finished or failed (seen in order): no more calls; handed over once `ready` is empty. */
  private end: { error: unknown } | { done: true } | undefined;
  /** Set by return()/takeAll(): what still arrives is kept for takeAll() or dropped, never handed over. */
  private closed = false;
  private waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | undefined;
  private settledAll: (() => void) | undefined;
  private readonly onValue = (result: IteratorResult<T>): void => this.settle(result, undefined);
  private readonly onError = (error: unknown): void => this.settle(undefined, { error });

  constructor(
    private readonly inner: AsyncIterator<T>,
    private readonly depth = READ_AHEAD_ITEMS,
  ) {}

  /** Items read ahead and not handed over yet. */
  get buffered(): number {
    return this.ready.length - this.head;
  }

  pullNow(): IteratorResult<T> | NotReady {
    const result = this.take();
    this.request(); // the item taken is read again ahead
    return result ?? NOT_READY;
  }

  next(): Promise<IteratorResult<T>> {
    try {
      const result = this.take();
      this.request();
      if (result !== undefined) return Promise.resolve(result);
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the generator's own reason, unchanged (as next() one at a time)
      return Promise.reject(err);
    }
    this.request();
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Closes the generator; what was read ahead is not handed over any more (kept for a takeAll() under way). */
  async return(value?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return (await this.inner.return?.(value)) ?? { done: true, value: undefined };
  }

  /**
   * Stops reading ahead; resolves with every item read ahead and not handed over, in order, once
   * the call in flight (if any) settled: the generator owes it an answer.
   */
  async takeAll(): Promise<T[]> {
    this.close();
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.settledAll = resolve));
    const items = this.ready.slice(this.head);
    this.ready.length = 0;
    this.head = 0;
    return items;
  }

  /** Drops the items read ahead and not handed over, and reads on (a flush); returns them. */
  discardReady(): T[] {
    const items = this.ready.slice(this.head);
    this.ready.length = 0;
    this.head = 0;
    this.request();
    return items;
  }

  private close(): void {
    this.closed = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ done: true, value: undefined });
  }

  /** The next item or the end (throws a failure), or undefined when nothing settled yet. */
  private take(): IteratorResult<T> | undefined {
    if (this.closed) return { done: true, value: undefined };
    if (this.head < this.ready.length) {
      const value = this.ready[this.head]!;
      this.ready[this.head++] = undefined as T; // not kept alive by the buffer
      if (this.head === this.ready.length) {
        this.ready.length = 0;
        this.head = 0;
      }
      return { done: false, value };
    }
    const end = this.end;
    if (end === undefined) return undefined;
    if ('error' in end) {
      this.end = { done: true }; // thrown once, then finished (as a generator that threw)
      throw end.error;
    }
    return { done: true, value: undefined };
  }

  /**
   * One next() call at a time, the next one as soon as it settled, until `depth` items wait: a
   * generator with items ready fills the buffer within a few microtask turns, while a live one
   * (items in real time) has one call pending, as without read-ahead, so return() is not queued
   * behind calls that wait for audio not produced yet.
   */
  private request(): void {
    if (this.closed || this.end !== undefined || this.inFlight > 0 || this.buffered >= this.depth) return;
    this.inFlight++;
    this.inner.next().then(this.onValue, this.onError);
  }

  private settle(result: IteratorResult<T> | undefined, failure: { error: unknown } | undefined): void {
    this.inFlight--;
    if (this.end === undefined) {
      if (failure !== undefined) this.end = failure;
      else if (result!.done === true) this.end = { done: true };
      else this.ready.push(result!.value);
    }
    if (this.inFlight === 0) {
      const settled = this.settledAll;
      this.settledAll = undefined;
      settled?.();
    }
    const waiter = this.waiter;
    if (waiter !== undefined) {
      let next: IteratorResult<T> | undefined;
      try {
        next = this.take();
      } catch (err) {
        this.waiter = undefined;
        waiter.reject(err);
        return;
      }
      if (next !== undefined) {
        this.waiter = undefined;
        waiter.resolve(next);
      }
    }
    this.request();
  }
}
