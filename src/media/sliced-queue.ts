/**
 * Work items run a slice at a time: at most `sliceMax` items or `sliceMs` of work per slice (at
 * least one item), the next slice scheduled after the loop's timers. The media worker answers
 * stats requests through one: hundreds of them at once (a user reading every connection's stats)
 * must not hold the clock's next tick.
 */
export class SlicedQueue<T> {
  private readonly items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (item: T) => void,
    private readonly sliceMs: number,
    private readonly sliceMax: number,
    private readonly now: () => number = () => performance.now(),
    private readonly schedule: (slice: () => void) => void = (slice) => void setImmediate(slice),
  ) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(this.slice);
  }

  private readonly slice = (): void => {
    const until = this.now() + this.sliceMs;
    const n = Math.min(this.items.length, this.sliceMax);
    let i = 0;
    try {
      while (i < n && (i === 0 || this.now() < until)) this.run(this.items[i++]!);
    } finally {
      this.items.splice(0, i);
      if (this.items.length > 0) this.schedule(this.slice);
      else this.scheduled = false;
    }
  };
}
