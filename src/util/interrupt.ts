import { toError } from '../errors.js';

/**
 * Waits that end early when something happens (an input closed, a read stalled), without racing a
 * long-lived promise: each `race()` registers one waiter and removes it when the operation
 * settles, where `Promise.race([op, closed])` would leave a reaction on `closed` per call (per
 * frame, for the life of a track). `fire()` is for good; `poke()` ends only the waits pending now.
 */
export class Interrupt<R> {
  private fired: { reason: R } | undefined;
  private readonly waiters = new Set<(reason: R) => void>();

  get pending(): number {
    return this.waiters.size;
  }

  /** `operation`'s result, or the reason of a fire()/poke() that comes first. */
  race<T>(operation: Promise<T>, asError: (err: unknown) => Error = toError): Promise<T | R> {
    const fired = this.fired;
    if (fired !== undefined) {
      operation.catch(() => undefined); // nobody waits for it any more
      return Promise.resolve(fired.reason);
    }
    return new Promise<T | R>((resolve, reject) => {
      const waiter = (reason: R): void => resolve(reason);
      this.waiters.add(waiter);
      operation.then(
        (value) => {
          this.waiters.delete(waiter);
          resolve(value);
        },
        (err: unknown) => {
          this.waiters.delete(waiter);
          reject(asError(err));
        },
      );
    });
  }

  /** Ends every pending and future wait with `reason`. */
  fire(reason: R): void {
    if (this.fired !== undefined) return;
    this.fired = { reason };
    this.poke(reason);
  }

  /** Ends the waits pending now with `reason`. */
  poke(reason: R): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w(reason);
  }
}
