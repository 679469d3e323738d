/**
 * An interval timer's callback that runs `tick` at once when the timer fires on time, and after
 * this loop turn's I/O when it fires late. After a main-thread stall the overdue timer runs before
 * the I/O that came meanwhile (packets queued on the media worker's port or a socket), so a tick
 * then judges from stale input: a receiver ended speaking bursts that never went silent (its
 * streams were spared by the jitter buffer's delay: the frames still buffered when the stall began
 * go out at that first tick). On-time ticks run inline, as they always did.
 */
export function lateTickAfterIo(intervalMs: number, tick: () => void): () => void {
  let lastFireAt = performance.now();
  let deferred = false;
  const run = (): void => {
    deferred = false;
    tick();
  };
  return () => {
    const now = performance.now();
    const late = now - lastFireAt > 2 * intervalMs;
    lastFireAt = now;
    if (deferred) return;
    if (!late) return tick();
    deferred = true;
    setImmediate(run);
  };
}
