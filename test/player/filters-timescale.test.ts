import { describe, expect, it } from 'vitest';
import { isVoxcordError } from '../../src/errors.js';
import { AudioPlayer, FilterChain, opusFramesInput, Track } from '../../src/player/index.js';
import type { FilterSettings } from '../../src/player/index.js';
import { FakeSession, fakeCodec, fakeDecode, frequency, tonePackets } from './helpers.js';

const RATE = 48_000;
const FRAME_VALUES = 1920;

/** RMS of channel 0 between 100 ms from each end. */
function rms(pcm: Int16Array): number {
  const n = pcm.length / 2;
  let sum = 0;
  let count = 0;
  for (let i = Math.round(0.1 * RATE); i < n - Math.round(0.1 * RATE); i++, count++)
    sum += ((pcm[2 * i] ?? 0) / 32768) ** 2;
  return Math.sqrt(sum / count);
}

/** Plays a 440 Hz tone of `seconds` through a player with `filters`; all its output frames, decoded. */
async function play(filters: FilterSettings, seconds = 2): Promise<{ pcm: Int16Array; frames: number }> {
  const player = new AudioPlayer({ opus: fakeCodec(), filters });
  const session = new FakeSession();
  player.attach(session);
  player.enqueue(opusFramesInput(tonePackets(seconds, 440)));
  const frames = await session.pull(10_000);
  const pcm = new Int16Array(frames.length * FRAME_VALUES);
  frames.forEach((f, i) => pcm.set(fakeDecode(f), i * FRAME_VALUES));
  player.destroy();
  return { pcm, frames: frames.length };
}

describe('timescale in the AudioPlayer', () => {
  it('rate 2.0: a 440 Hz tone comes out at 880 Hz in half the frames', async () => {
    const { pcm, frames } = await play({ timescale: { rate: 2 } });
    expect(frequency(pcm)).toBeGreaterThan(880 * 0.97);
    expect(frequency(pcm)).toBeLessThan(880 * 1.03);
    expect(frames).toBeGreaterThanOrEqual(48);
    expect(frames).toBeLessThanOrEqual(53);
    expect(rms(pcm)).toBeGreaterThan(0.3); // 0.5 / √2 ≈ 0.354: no level loss
  });

  it('speed 2.0: a 2 s track gives ~1 s of frames, the tone stays at 440 Hz', async () => {
    const { pcm, frames } = await play({ timescale: { speed: 2 } });
    expect(frames).toBeGreaterThanOrEqual(48);
    expect(frames).toBeLessThanOrEqual(53);
    expect(frequency(pcm)).toBeGreaterThan(440 * 0.97);
    expect(frequency(pcm)).toBeLessThan(440 * 1.03);
    expect(rms(pcm)).toBeGreaterThan(0.3);
  });

  it('pitch 2.0: the duration is kept (~100 frames) and the tone doubles to 880 Hz', async () => {
    const { pcm, frames } = await play({ timescale: { pitch: 2 } });
    expect(frames).toBeGreaterThanOrEqual(98);
    expect(frames).toBeLessThanOrEqual(103);
    expect(frequency(pcm)).toBeGreaterThan(880 * 0.97);
    expect(frequency(pcm)).toBeLessThan(880 * 1.03);
  });

  it('speed 0.5: twice the frames, same tone', async () => {
    const { pcm, frames } = await play({ timescale: { speed: 0.5 } }, 1);
    expect(frames).toBeGreaterThanOrEqual(98);
    expect(frames).toBeLessThanOrEqual(103);
    expect(frequency(pcm)).toBeGreaterThan(440 * 0.97);
    expect(frequency(pcm)).toBeLessThan(440 * 1.03);
  });

  it('no filter: Opus frames pass through untouched', async () => {
    const packets = tonePackets(0.2, 440);
    const player = new AudioPlayer({ opus: fakeCodec() });
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets));
    const frames = await session.pull(100);
    expect(frames).toEqual(packets);
    expect(frames[0]).toBe(packets[0]);
    player.destroy();
  });

  it('turned on and off live: the position stays in track time and the track ends on its last frame', async () => {
    const player = new AudioPlayer({ opus: fakeCodec() });
    const session = new FakeSession();
    player.attach(session);
    const packets = tonePackets(2, 440);
    player.enqueue(opusFramesInput(packets));
    await session.pull(10);
    player.filters.set({ timescale: { speed: 2 } });
    await session.pull(20); // ~40 input frames
    expect(player.playbackDuration).toBeGreaterThanOrEqual(900);
    expect(player.playbackDuration).toBeLessThanOrEqual(1100);
    player.filters.clear();
    const rest = await session.pull(1000);
    // 100 input frames: 10 + ~40 + the rest, plus at most a frame of the timescale's buffered output.
    expect(10 + 20 + rest.length).toBeGreaterThanOrEqual(78);
    expect(10 + 20 + rest.length).toBeLessThanOrEqual(82);
    expect(player.stats.framesPassthrough).toBeGreaterThan(40);
    player.destroy();
  });
});

describe('timescale settings', () => {
  it('rejects < 0.1, > 10 and non-numbers with INVALID_ARGUMENT, keeping the previous set', () => {
    const chain = new FilterChain({ timescale: { speed: 1.5 } });
    const bads = [{ speed: 0 }, { speed: 1e-7 }, { pitch: 0.099 }, { pitch: -1 }, { rate: 11 }];
    for (const bad of [...bads, { rate: Number.NaN }, { speed: '2' }]) {
      let error: unknown;
      try {
        chain.set({ timescale: bad as never });
      } catch (err) {
        error = err;
      }
      expect(isVoxcordError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(chain.applied.timescale).toEqual({ speed: 1.5, pitch: 1, rate: 1 });
  });

  it('at the bounds (every factor 0.1 or 10) makes at most 100 output frames per input frame', () => {
    const input = new Int16Array(FRAME_VALUES).map((_, i) => Math.round(8000 * Math.sin(i / 7)));
    for (const speed of [0.1, 10])
      for (const pitch of [0.1, 10])
        for (const rate of [0.1, 10]) {
          const chain = new FilterChain({ timescale: { speed, pitch, rate } });
          const out = new Int16Array(FRAME_VALUES);
          let pulled = 0;
          let heard = false;
          // Enough input for speed 10 to make frames; little for speed 0.1 (one frame makes up to 100).
          const frames = speed < 1 ? 20 : 150;
          // What the window and the resampler still hold, in input frames (about 100 at speed 10).
          const held = speed < 1 ? 2 : 100;
          for (let f = 0; f < frames; f++) {
            chain.push(input);
            while (chain.pull(out)) {
              pulled++;
              heard ||= out.some((v) => Math.abs(v) > 100);
            }
          }
          const settings = JSON.stringify({ speed, pitch, rate });
          expect(pulled, settings).toBeLessThanOrEqual(frames * 100 + 2);
          expect(pulled, settings).toBeGreaterThanOrEqual((frames - held) / (speed * rate) - 2);
          expect(heard, settings).toBe(true);
        }
  });

  it('all 1 is no filter; a track takes timescale as its own filter', () => {
    expect(new FilterChain({ timescale: {} }).active).toBe(false);
    const track = new Track(opusFramesInput([]), { filters: { timescale: { speed: 2 } } });
    expect(track.filters.timescaleActive).toBe(true);
  });
});
