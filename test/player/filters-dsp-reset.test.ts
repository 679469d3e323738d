/**
 * Per-track timescale (a Track's own filters) and the timescale's state across seeks and track
 * changes: after a seek, a skip or a replace no sample of the audio before it comes out.
 */
import { describe, expect, it } from 'vitest';
import { AudioPlayer, opusFramesInput, Track } from '../../src/player/index.js';
import type { FilterSettings } from '../../src/player/index.js';
import { FakeSession, fakeCodec, fakeDecode, fakePacket, frequency, tonePackets } from './helpers.js';

const FRAME_VALUES = 1920;

function decodeAll(frames: readonly Uint8Array[]): Int16Array {
  const pcm = new Int16Array(frames.length * FRAME_VALUES);
  frames.forEach((f, i) => pcm.set(fakeDecode(f), i * FRAME_VALUES));
  return pcm;
}

/**
 * Frames 0..99 at +8000 (before), 100..199 at −8000 (after): a sample above +2000 is "before"
 * (the resampler's ringing where the drained tail steps to silence stays far below).
 */
function twoHalves(): Uint8Array[] {
  return Array.from({ length: 200 }, (_, f) => fakePacket(f < 100 ? 8000 : -8000));
}

function positives(frames: readonly Uint8Array[]): number {
  let n = 0;
  for (const v of decodeAll(frames)) if (v > 2000) n++;
  return n;
}

/** Plays twoHalves() on `player`, seeks from the first half into the second: nothing from before comes out. */
async function seekAcrossHalves(player: AudioPlayer, track: { filters?: FilterSettings }): Promise<void> {
  const session = new FakeSession();
  player.attach(session);
  player.enqueue(new Track(opusFramesInput(twoHalves()), track));
  const before = await session.pull(10);
  expect(positives(before)).toBeGreaterThan(0);
  player.seek(3000);
  const after = await session.pull(10_000);
  player.destroy();
  expect(after.length).toBeGreaterThan(10);
  expect(positives(after)).toBe(0);
}

const STRETCH: FilterSettings = { timescale: { speed: 1.5, pitch: 1.2 } };

describe("a track's own timescale", () => {
  it('rate 2 on one track: its tone doubles in half the frames, the next track passes through untouched', async () => {
    const player = new AudioPlayer({ opus: fakeCodec() });
    const session = new FakeSession();
    player.attach(session);
    const ends: string[] = [];
    player.on('trackEnd', (track, reason) => ends.push(`${track.title}:${reason}`));
    const plain = tonePackets(0.4, 440);
    player.enqueue(
      new Track(opusFramesInput(tonePackets(2, 440)), { title: 'fast', filters: { timescale: { rate: 2 } } }),
    );
    player.enqueue(new Track(opusFramesInput(plain), { title: 'plain' }));
    const frames = await session.pull(10_000);
    player.destroy();
    // 100 input frames at rate 2 → ~50 output frames (plus the drained tail), then the 20 plain ones.
    const fast = frames.slice(0, frames.length - plain.length);
    expect(fast.length).toBeGreaterThanOrEqual(48);
    expect(fast.length).toBeLessThanOrEqual(53);
    const f = frequency(decodeAll(fast));
    expect(f).toBeGreaterThan(880 * 0.97);
    expect(f).toBeLessThan(880 * 1.03);
    // The plain track's packets are sent as they are (passthrough), in order.
    expect(frames.slice(-plain.length)).toEqual(plain);
    expect(ends).toEqual(['fast:finished', 'plain:finished']);
  });

  it('speed 2: position and markers stay in track time; set live on track.filters, then off again', async () => {
    const player = new AudioPlayer({ opus: fakeCodec() });
    const session = new FakeSession();
    player.attach(session);
    const marks: number[] = [];
    player.on('marker', (_t, marker) => marks.push(marker.atMs));
    const track = player.enqueue(opusFramesInput(tonePackets(4, 440)), {
      markers: [{ atMs: 1000 }, { atMs: 3000 }],
    });
    await session.pull(10); // 10 frames at speed 1: 200 ms of track time
    track.filters.set({ timescale: { speed: 2 } });
    await session.pull(20); // 20 frames at speed 2: ~800 ms more
    const mid = track.filters.timescaleActive;
    expect(marks).toEqual([1000]);
    track.filters.set({});
    const rest = await session.pull(10_000);
    player.destroy();
    expect(mid).toBe(true);
    expect(marks).toEqual([1000, 3000]);
    // 200 input frames: 10 + ~40 (consumed by 20 stretched frames, give or take the buffer) + the rest.
    const total = 10 + 20 + rest.length;
    expect(total).toBeGreaterThanOrEqual(175);
    expect(total).toBeLessThanOrEqual(185);
    // Off again: the rest of the track passes through (after the buffered output drained).
    expect(player.stats.framesPassthrough).toBeGreaterThan(100);
  });

  it('a seek on a track with its own timescale: no sample from before the seek comes out', async () => {
    await seekAcrossHalves(new AudioPlayer({ opus: fakeCodec() }), { filters: STRETCH });
  });
});

describe("the player's timescale across seeks and track changes", () => {
  it('a seek: no sample from before it comes out (the window and resampler start over)', async () => {
    await seekAcrossHalves(new AudioPlayer({ opus: fakeCodec(), filters: STRETCH }), {});
  });

  it('a replace or a skip: nothing of the cut-off track comes out after it', async () => {
    const player = new AudioPlayer({ opus: fakeCodec(), filters: STRETCH });
    const session = new FakeSession();
    player.attach(session);
    const up = (): Uint8Array[] => Array.from({ length: 100 }, () => fakePacket(8000));
    const down = (): Uint8Array[] => Array.from({ length: 30 }, () => fakePacket(-8000));
    player.enqueue(opusFramesInput(up()));
    expect(positives(await session.pull(10))).toBeGreaterThan(0);
    player.play(opusFramesInput(down()));
    const afterReplace = await session.pull(5);
    expect(positives(afterReplace)).toBe(0);
    player.enqueue(opusFramesInput(up()));
    player.skip(); // skips the −8000 track mid-way: the next (+8000) one starts clean
    const afterSkip = await session.pull(5);
    let negatives = 0;
    for (const v of decodeAll(afterSkip)) if (v < -2000) negatives++;
    expect(negatives).toBe(0);
    player.destroy();
  });
});
