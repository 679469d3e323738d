/**
 * Many periodic checks on one timer: each `add()`ed callback runs every `periodMs`, all from the
 * same interval, which runs only while some callback is registered (and never holds the process
 * open). A node's players each check for a stuck track every 250 ms; at a thousand players that is
 * one timer instead of a thousand. A callback that throws does not stop the others.
 */
export class SharedInterval {
  private readonly callbacks = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly periodMs: number) {}

  /** Runs `callback` every period from now on; the returned function removes it. */
  add(callback: () => void): () => void {
    // A wrapper per registration, so the same function may be added twice and removed once.
    const entry = (): void => callback();
    this.callbacks.add(entry);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.run(), this.periodMs);
      this.timer.unref();
    }
    return () => {
      this.callbacks.delete(entry);
      if (this.callbacks.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  get size(): number {
    return this.callbacks.size;
  }

  private run(): void {
    for (const callback of this.callbacks) {
      try {
        callback();
      } catch {
        // one player's failing check must not stop the others'
      }
    }
  }
}
