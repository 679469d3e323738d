/**
 * AudioPlayer.drained(): "sent", not "handed out". 'trackEnd' fires when the player hands out its
 * last frame, while the session still has frames queued and the trailing silence to send;
 * drained() waits for the transmissions to finish (the last frame and the silence left).
 */
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AudioPlayer } from '../../src/player/audio-player.js';
import type { PlayerTarget } from '../../src/player/audio-player.js';
import { opusFramesInput } from '../../src/player/inputs/opus-frames.js';
import type { Transmission } from '../../src/voice/transmit.js';
import { settle } from './helpers.js';

/** A session that reads its stream at once but reports it sent only when told to. */
class SlowSession implements PlayerTarget {
  readonly frames: Uint8Array[] = [];
  private sent: Array<() => void> = [];
  streamEnded = false;

  playOpus(source: AsyncIterable<Uint8Array> | Readable): Transmission {
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    this.sent.push(finish);
    void (async () => {
      for await (const frame of source as AsyncIterable<Uint8Array>) this.frames.push(frame);
      this.streamEnded = true;
    })();
    return {
      finished,
      stop: () => finish(),
      get framesSent() {
        return 0;
      },
    };
  }

  /** The queue and the trailing silence have gone out. */
  finishSending(): void {
    for (const finish of this.sent.splice(0)) finish();
  }
}

const FRAMES = Array.from({ length: 10 }, (_, i) => Uint8Array.of(0xfc, i, 1, 2));

describe('AudioPlayer.drained()', () => {
  it('resolves at once with nothing to play', async () => {
    const player = new AudioPlayer();
    await player.drained();
    player.attach(new SlowSession());
    await player.drained();
  });

  it('waits past trackEnd until every attached session has sent the last frame and the silence', async () => {
    const player = new AudioPlayer();
    const session = new SlowSession();
    player.attach(session);
    const events: string[] = [];
    player.on('trackEnd', (_t, reason) => events.push(`trackEnd ${reason}`));
    player.play(opusFramesInput(FRAMES));
    const drained = player.drained().then(() => events.push('drained'));
    for (let i = 0; i < 20 && !session.streamEnded; i++) await settle();
    expect(session.streamEnded).toBe(true);
    expect(session.frames).toHaveLength(10);
    expect(player.status).toBe('idle');
    await settle();
    // Handed out, not yet sent.
    expect(events).toEqual(['trackEnd finished']);
    session.finishSending();
    await drained;
    expect(events).toEqual(['trackEnd finished', 'drained']);
  });

  it('waits through a pause, and resolves when the player is destroyed', async () => {
    const player = new AudioPlayer();
    const session = new SlowSession();
    player.attach(session);
    player.play(opusFramesInput(FRAMES));
    player.pause();
    let done = false;
    const drained = player.drained().then(() => (done = true));
    await settle();
    session.finishSending();
    await settle();
    expect(done).toBe(false);
    player.destroy();
    await drained;
  });
});
