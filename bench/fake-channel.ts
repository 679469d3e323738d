/**
 * A MediaChannel as far as the transmit pump sees it, for the main-thread micro-benchmarks
 * (transmit-pump.ts, player-memory.ts): a bounded queue that a fake 20 ms clock drains one frame
 * per tick, with the engine's high/low-water marks; and the link a VoiceSession hands the pump.
 */
import { EventEmitter } from 'node:events';

export class FakeChannel extends EventEmitter {
  queued = 0;
  sent = 0;
  private full = false;
  constructor(
    private readonly highWater: number,
    private readonly lowWater: number,
  ) {
    super();
  }
  enqueue(): boolean {
    this.queued++;
    if (this.queued >= this.highWater) this.full = true;
    return !this.full;
  }
  tick(): void {
    if (this.queued === 0) return;
    this.queued--;
    this.sent++;
    if (this.full && this.queued <= this.lowWater) {
      this.full = false;
      this.emit('drain');
    }
  }
  endBurst(): void {
    setImmediate(() => this.emit('burstEnd'));
  }
  clearQueue(): void {
    this.queued = 0;
  }
}

/** What VoiceSession hands the pump (no DAVE: prepareFrame passes the frame through). */
export function fakeLink(channel: FakeChannel): Record<string, unknown> {
  return {
    readyChannel: () => channel,
    readyEpoch: () => 1,
    isDestroyed: () => false,
    sendSpeaking: () => undefined,
    prepareFrame: (frame: Uint8Array) => frame,
    holdFrames: () => false,
    sendHeld: () => false,
    onChange: () => () => undefined,
  };
}
