/**
 * One audio source shared by successive voice sessions. When a connection replaces its session
 * (region move, channel move, rejoin) the new session must continue where the old one stopped,
 * not start over and not end the source: each session gets a `view()`, and closing a view (what
 * a `for await` does when its session dies) leaves the shared iterator open.
 */

export class RelaySource<T> implements AsyncIterable<T> {
  private readonly iterator: AsyncIterator<T>;
  private finished = false;
  /** Pulls are chained so two views never call next() concurrently on the shared iterator. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(source: AsyncIterable<T>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** True once the source is exhausted, failed, or was closed (and nothing is held back). */
  get ended(): boolean {
    return this.finished && this.pushedBack.length === 0 && this.restoring === 0;
  }

  /** restore() calls whose values have not been put back yet. */
  private restoring = 0;
  /** close() was called: nothing is put back any more. */
  private closed = false;

  /**
   * Puts values back in front of the source (frames a session took but never sent): the next
   * pulls return them first, in order, before anything held back or not read yet.
   */
  restore(values: Promise<T[]>): void {
    this.restoring++;
    const next = this.chain.then(async () => {
      try {
        const restored = await values;
        if (!this.closed) this.pushedBack.unshift(...restored);
      } finally {
        this.restoring--;
      }
    });
    this.chain = next.catch(() => undefined);
  }

  /** Values pulled for a view that detached before they arrived: the next view gets them first. */
  private readonly pushedBack: T[] = [];

  private pull(isDetached: () => boolean): Promise<IteratorResult<T>> {
    const next = this.chain.then(async (): Promise<IteratorResult<T>> => {
      const kept = this.pushedBack.shift();
      if (kept !== undefined) return { done: false, value: kept };
      if (this.finished) return { done: true, value: undefined };
      try {
        const result = await this.iterator.next();
        if (result.done === true) this.finished = true;
        else if (isDetached()) {
          // Its session died while waiting (the pump dropped the pending pull): keep the position.
          this.pushedBack.push(result.value);
        }
        return result;
      } catch (err) {
        this.finished = true;
        throw err;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** A consumer's view: its return() detaches the consumer only. */
  view(): AsyncIterable<T> {
    let detached = false;
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<T> => ({
        next: (): Promise<IteratorResult<T>> =>
          detached ? Promise.resolve({ done: true, value: undefined }) : this.pull(() => detached),
        return: (): Promise<IteratorResult<T>> => {
          detached = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.view()[Symbol.asyncIterator]();
  }

  /** Ends the shared source for good (calls the source's return()). */
  async close(): Promise<void> {
    this.closed = true;
    this.pushedBack.length = 0;
    if (this.finished) return;
    this.finished = true;
    try {
      await this.iterator.return?.();
    } catch {
      // The source's own cleanup failing changes nothing for us: it is closed either way.
    }
  }
}
