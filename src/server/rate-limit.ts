/**
 * A fixed-window message counter for one websocket (the local voice gateway's rate limit). Pure:
 * the caller passes the clock.
 */
export class MessageRateLimit {
  private windowStart = -Infinity;
  private count = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one message at `now` (ms); false once more than `maxMessages` arrived in the window. */
  take(now: number): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count++;
    return this.count <= this.maxMessages;
  }
}
