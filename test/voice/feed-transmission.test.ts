/**
 * A file feed as a session's transmission (voice/feed-transmission.ts): op 5 around it, and which
 * stops count the frames the feed threw away as dropped ('stopped').
 */
import { describe, expect, it } from 'vitest';
import { feedTransmission } from '../../src/voice/feed-transmission.js';
import type { TransmitLink } from '../../src/voice/transmit.js';
import type { FileFeedEnd, FileFeedOptions, MediaFileFeed } from '../../src/media/media-engine.js';
import { FakeChannel, until } from './fakes.js';

/** A channel whose feed takes `taken` frames and holds `held` more until it is stopped. */
class FeedChannel extends FakeChannel {
  onEnd: ((end: FileFeedEnd) => void) | undefined;
  constructor(
    private readonly taken: number,
    private readonly held: number,
  ) {
    super({ ssrc: 1, serverHost: '127.0.0.1', serverPort: 1 }, [], new Promise(() => undefined));
  }
  feedOggOpusFile = (
    _path: string,
    _options: FileFeedOptions,
    onEnd: (end: FileFeedEnd) => void,
  ): MediaFileFeed => {
    this.onEnd = onEnd;
    let discarded = 0;
    let ended = false;
    const taken = this.taken;
    const held = this.held;
    return {
      frames: taken,
      framesAt: 0,
      get discarded() {
        return discarded;
      },
      stop: async () => {
        if (!ended) {
          ended = true;
          discarded = held;
          onEnd({ reason: 'stopped', frames: taken });
        }
        return taken;
      },
    };
  };
}

function link(channel: FakeChannel, speaking: number[]): TransmitLink {
  return {
    readyChannel: () => channel,
    readyEpoch: () => 1,
    isDestroyed: () => false,
    sendSpeaking: (flags) => speaking.push(flags),
    onChange: () => () => undefined,
  };
}

describe('feed transmission', () => {
  it('a final stop() counts the frames the feed threw away; stopFeed() (to play on) does not', async () => {
    for (const final of [true, false]) {
      const channel = new FeedChannel(30, 12);
      const speaking: number[] = [];
      const counted: number[] = [];
      const t = feedTransmission(
        link(channel, speaking),
        'a.opus',
        {},
        () => undefined,
        undefined,
        (n) => counted.push(n),
      );
      await until(() => channel.onEnd !== undefined);
      expect(speaking).toEqual([1]);
      if (final) t.stop();
      else expect(await t.stopFeed()).toBe(30);
      await t.finished;
      await new Promise((r) => setTimeout(r, 0));
      expect(counted).toEqual(final ? [12] : []);
      expect(t.framesSent).toBe(30);
    }
  });

  it('a stop() after the feed had ended (handed over, or its channel closed) counts nothing', async () => {
    const channel = new FeedChannel(30, 12);
    const counted: number[] = [];
    const t = feedTransmission(
      link(channel, []),
      'a.opus',
      {},
      () => undefined,
      undefined,
      (n) => counted.push(n),
    );
    await until(() => channel.onEnd !== undefined);
    await t.stopFeed(); // the caller plays the 12 frames again from frame 30
    t.stop();
    await new Promise((r) => setTimeout(r, 0));
    expect(counted).toEqual([]);
  });
});
