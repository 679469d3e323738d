/**
 * The receive clock's timing: one ticker per tick interval, shared by every receiver clock running
 * with that interval, so a process with many connections wakes once per interval, not once per
 * receiver. While a media worker keeps its receive cadence (media/receive-pulse.ts: one message of
 * received packets per 20 ms while packets come), the ticker ticks on those messages and runs no
 * timer: the main thread then wakes once per 20 ms for packets and ticks together. Its own unref'd
 * interval timer runs only while no cadence does (no packets, an inline engine): it is started and
 * cleared when packets start and stop, never per batch, since a cleared Node timer still wakes the
 * thread at its old expiry.
 */
import { onReceivePulse, RECEIVE_PULSE_MS, receivePulseActive } from '../media/receive-pulse.js';

export interface TickerMember {
  tick(): void;
}

export class SharedTicker {
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly members = new Set<TickerMember>();
  private unlisten: (() => void) | undefined;
  private lastFire = Number.NEGATIVE_INFINITY;
  /**
   * A pulse this soon after the last tick is skipped (two worker shards' cadences, or a first
   * packet's message just before a period's): ticks stay at least half a pulse period apart.
   */
  private readonly minGap: number;
  /** Pulses are too far apart for a shorter interval: it keeps its own timer. */
  private readonly pulseDriven: boolean;

  constructor(private readonly intervalMs: number) {
    this.pulseDriven = intervalMs >= RECEIVE_PULSE_MS;
    this.minGap = intervalMs - RECEIVE_PULSE_MS / 2;
  }

  add(member: TickerMember): void {
    this.members.add(member);
    this.sync();
  }

  remove(member: TickerMember): void {
    if (this.members.delete(member)) this.sync();
  }

  /** Listens to pulses while it has members; runs its own timer while no cadence drives it. */
  private sync(): void {
    const running = this.members.size > 0;
    if (running && this.unlisten === undefined && this.pulseDriven) {
      this.unlisten = onReceivePulse({ pulse: this.onPulse, cadenceChanged: () => this.sync() });
    } else if (!running && this.unlisten !== undefined) {
      this.unlisten();
      this.unlisten = undefined;
    }
    const ownTimer = running && !(this.pulseDriven && receivePulseActive());
    if (ownTimer && this.timer === undefined) {
      this.timer = setInterval(this.fire, this.intervalMs);
      this.timer.unref?.();
    } else if (!ownTimer && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private readonly onPulse = (): void => {
    if (performance.now() - this.lastFire >= this.minGap) this.fire();
  };

  private readonly fire = (): void => {
    this.lastFire = performance.now();
    // One receiver's failure must not starve the others of their tick; it is rethrown after.
    let failure: { error: unknown } | undefined;
    for (const member of this.members) {
      try {
        member.tick();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  };
}

const tickers = new Map<number, SharedTicker>();

/** The ticker of one interval, ms (made on first use). */
export function tickerFor(intervalMs: number): SharedTicker {
  let ticker = tickers.get(intervalMs);
  if (ticker === undefined) {
    ticker = new SharedTicker(intervalMs);
    tickers.set(intervalMs, ticker);
  }
  return ticker;
}
