/**
 * The player's synchronous passthrough: an Ogg (or WebM) track playing alone at unity gain hands
 * its packets to a pump calling pullNow() without a promise, and everything that is not plain
 * passthrough (a volume ramp, an overlay, markers, the end of the track) behaves as on the slow path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AudioPlayer, oggOpusInput, Track } from '../../src/player/index.js';
import type { PlayerTarget } from '../../src/player/index.js';
import type { Transmission } from '../../src/voice/transmit.js';
import { canPullNow, NOT_READY } from '../../src/voice/frame-pull.js';
import type { SyncPullIterator } from '../../src/voice/frame-pull.js';
import { concatBytes, oggStreamPages } from './containers.js';
import { fakeCodec, fakeDecode, hex, packet, settle, TOC_20MS } from './helpers.js';

/** A fake-codec Opus packet (20 ms TOC + PCM) whose every sample is `value`. */
function pcmPacket(value: number): Uint8Array {
  const pcm = new Int16Array(1920).fill(value);
  const out = new Uint8Array(3841);
  out[0] = TOC_20MS;
  out.set(new Uint8Array(pcm.buffer), 1);
  return out;
}

/** A target whose pump is the test: it keeps the stream's iterator to call pullNow()/next() on. */
class SyncTarget implements PlayerTarget {
  it: SyncPullIterator<Uint8Array> | undefined;
  playOpus(source: AsyncIterable<Uint8Array>): Transmission {
    const it = source[Symbol.asyncIterator]();
    if (!canPullNow(it)) throw new Error('the player stream has no pullNow');
    this.it = it;
    return { finished: new Promise<void>(() => undefined), stop: () => undefined, framesSent: 0 };
  }

  /** Frames taken with pullNow() only, until it answers NOT_READY or the burst ends. */
  pullNow(max: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (out.length < max) {
      const r = this.it?.pullNow();
      if (r === undefined || r === NOT_READY || r.done === true) break;
      out.push(r.value);
    }
    return out;
  }

  /** One frame the way a pump does: pullNow(), else next(). */
  async take(): Promise<Uint8Array | undefined> {
    const it = this.it;
    if (it === undefined) return undefined;
    const now = it.pullNow();
    const r = now === NOT_READY ? await it.next() : now;
    return r.done === true ? undefined : r.value;
  }
}

describe('AudioPlayer: synchronous passthrough of a demuxed track', () => {
  const players: AudioPlayer[] = [];
  afterEach(() => {
    for (const p of players.splice(0)) p.destroy();
  });

  function setup(): { player: AudioPlayer; target: SyncTarget; codec: ReturnType<typeof fakeCodec> } {
    const codec = fakeCodec();
    const player = new AudioPlayer({ opus: codec });
    players.push(player);
    const target = new SyncTarget();
    player.attach(target);
    return { player, target, codec };
  }

  it('hands a whole Ogg chunk over through pullNow(), in order, then ends the track on the slow path', async () => {
    const sent = Array.from({ length: 300 }, (_, i) => packet(i >> 8, i & 0xff));
    const { player, target } = setup();
    const ends: string[] = [];
    player.on('trackEnd', (_t, reason) => ends.push(reason));
    player.enqueue(oggOpusInput(concatBytes(oggStreamPages(sent))));
    const first = await target.take(); // opens the input and reads its first chunk
    const now = target.pullNow(1000);
    // One 64 KiB chunk holds every packet here: all but the first come without a promise.
    expect(now.length).toBe(sent.length - 1);
    expect([first, ...now].map((f) => hex(f))).toEqual(sent.map(hex));
    expect(await target.take()).toBeUndefined(); // the burst end after the last frame
    expect(ends).toEqual(['finished']);
    expect(player.stats).toMatchObject({ framesSent: 300, framesPassthrough: 300, framesEncoded: 0 });
  });

  it('a volume change ramps from the passthrough level (no click), and passthrough resumes at unity', async () => {
    const { player, target, codec } = setup();
    player.enqueue(
      oggOpusInput(concatBytes(oggStreamPages(Array.from({ length: 10 }, () => pcmPacket(1000))))),
    );
    await target.take();
    expect(target.pullNow(2)).toHaveLength(2);
    player.volume = 0.5;
    const down = fakeDecode((await target.take())!);
    // Ramped from 1 (where passthrough left the gain) to 0.5 over the frame.
    expect(down[0]).toBeGreaterThan(990);
    expect(down[1919]).toBe(500);
    const low = fakeDecode((await target.take())!);
    expect(low[0]).toBe(500);
    player.volume = 1;
    const up = fakeDecode((await target.take())!);
    expect(up[0]).toBeLessThan(510);
    expect(up[1919]).toBe(1000);
    const encoded = codec.encoded;
    expect(target.pullNow(1)).toEqual([pcmPacket(1000)]); // at unity again: the packet as it was
    expect(codec.encoded).toBe(encoded);
    expect(player.stats).toMatchObject({ framesPassthrough: 4, framesEncoded: 3 });
  });

  it('markers fire and an overlay is mixed while the main track was passing through', async () => {
    const { player, target, codec } = setup();
    const main = new Track(
      oggOpusInput(concatBytes(oggStreamPages(Array.from({ length: 20 }, () => pcmPacket(100))))),
    );
    main.addMarker(60, 'third');
    const markers: string[] = [];
    player.on('marker', (_t, m) => markers.push(`${String(m.metadata)}@${player.stats.framesSent}`));
    player.enqueue(main);
    await target.take();
    expect(target.pullNow(3)).toHaveLength(3);
    // The marker fired as frame 4 (60-80 ms) was produced: before it was counted.
    expect(markers).toEqual(['third@3']);
    player.mix(oggOpusInput(concatBytes(oggStreamPages([pcmPacket(10), pcmPacket(10)]))));
    await settle();
    const mixed = [fakeDecode((await target.take())!), fakeDecode((await target.take())!)];
    expect(mixed.map((m) => m[100])).toEqual([110, 110]);
    expect(codec.encoded).toBe(2);
    // The overlay ended: back to passthrough (through the slow path once, to notice it).
    const after = [(await target.take())!, ...target.pullNow(2)];
    expect(after.map(hex)).toEqual([pcmPacket(100), pcmPacket(100), pcmPacket(100)].map(hex));
    expect(codec.encoded).toBe(2);
  });
});
