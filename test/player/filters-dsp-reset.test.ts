/**
 * Per-track timescale (a Track's own filters) and the timescale's state across seeks and track
 * changes: after a seek, a skip or a replace no sample of the audio before it comes out.
 */
import { describe, expect, it } from 'vitest';
import { AudioPlayer, opusFramesInput, Track } from '../../src/player/index.js';
import type { FilterSettings } from '../../src/player/index.js';
import { FakeSession, fakeCodec, fakeDecode, fakePacket, TOC_20MS } from './helpers.js';

const RATE = 48_000;
const FRAME_VALUES = 1920;

/** `seconds` of a stereo sine at amplitude 0.5, as fake-codec packets (the fake codec is lossless). */
function tonePackets(seconds: number, hz: number): Uint8Array[] {
  const frames = Math.round((seconds * RATE) / 960);
  const out: Uint8Array[] = [];
  for (let f = 0; f < frames; f++) {
    const pcm = new Int16Array(FRAME_VALUES);
    for (let i = 0; i < 960; i++) {
      const v = Math.round(0.5 * 32767 * Math.sin((2 * Math.PI * hz * (f * 960 + i)) / RATE));
      pcm[2 * i] = v;
      pcm[2 * i + 1] = v;
    }
    const packet = new Uint8Array(3841);
    packet[0] = TOC_20MS;
    packet.set(new Uint8Array(pcm.buffer), 1);
    out.push(packet);
  }
  return out;
}

/** Frequency of channel 0 from its upward zero crossings, skipping the first and last 100 ms. */
function frequency(pcm: Int16Array): number {
  const n = pcm.length / 2;
  const ups: number[] = [];
  for (let i = Math.round(0.1 * RATE) + 1; i < n - Math.round(0.1 * RATE); i++) {
    const a = pcm[2 * (i - 1)] ?? 0;
    const b = pcm[2 * i] ?? 0;
    if (a < 0 && b >= 0) ups.push(i - 1 + a / (a - b));
  }
  return ((ups.length - 1) * RATE) / ((ups[ups.length - 1] ?? 0) - (ups[0] ?? 0));
}

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
    const player = new AudioPlayer({ opus: fakeCodec() });
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(new Track(opusFramesInput(twoHalves()), { filters: STRETCH }));
    const before = await session.pull(10);
    expect(positives(before)).toBeGreaterThan(0);
    player.seek(3000);
    const after = await session.pull(10_000);
    player.destroy();
    expect(after.length).toBeGreaterThan(10);
    expect(positives(after)).toBe(0);
  });
});

describe("the player's timescale across seeks and track changes", () => {
  it('a seek: no sample from before it comes out (the window and resampler start over)', async () => {
    const player = new AudioPlayer({ opus: fakeCodec(), filters: STRETCH });
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(twoHalves()));
    const before = await session.pull(10);
    expect(positives(before)).toBeGreaterThan(0);
    player.seek(3000);
    const after = await session.pull(10_000);
    player.destroy();
    expect(after.length).toBeGreaterThan(10);
    expect(positives(after)).toBe(0);
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
