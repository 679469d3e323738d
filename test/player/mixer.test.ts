import { describe, expect, it } from 'vitest';
import { FRAME_SAMPLES, Mixer, mixFrames, softClip, SOFT_CLIP_KNEE } from '../../src/player/mixer.js';
import { fakeCodec, fakeDecode, fakePacket } from './helpers.js';

const constant = (v: number): Int16Array => new Int16Array(FRAME_SAMPLES).fill(v);

describe('softClip', () => {
  it('is the identity up to the knee', () => {
    for (const x of [0, 0.1, -0.5, SOFT_CLIP_KNEE, -SOFT_CLIP_KNEE]) expect(softClip(x)).toBe(x);
  });

  it('is continuous, odd and monotonic above the knee, and never reaches full scale', () => {
    const eps = 1e-9;
    expect(softClip(SOFT_CLIP_KNEE + eps)).toBeCloseTo(SOFT_CLIP_KNEE, 8);
    let last = softClip(SOFT_CLIP_KNEE);
    for (let x = SOFT_CLIP_KNEE + 0.01; x < 2.5; x += 0.01) {
      const y = softClip(x);
      expect(y).toBeGreaterThan(last);
      expect(y).toBeLessThan(1);
      expect(softClip(-x)).toBe(-y);
      last = y;
    }
    expect(softClip(1)).toBeLessThan(1);
    expect(softClip(1000)).toBeLessThanOrEqual(1);
    expect(softClip(1)).toBeGreaterThan(0.9);
  });
});

describe('mixFrames', () => {
  it('sums with gains, exactly linear while the gains add up to at most 1', () => {
    const out = mixFrames([
      { samples: constant(10000), fromGain: 0.5, toGain: 0.5 },
      { samples: constant(-4000), fromGain: 0.5, toGain: 0.5 },
    ]);
    expect(new Set(out)).toEqual(new Set([3000]));
    // Loud samples pass untouched when nothing can overflow (no soft clipping of a lone source).
    const loud = mixFrames([{ samples: constant(32000), fromGain: 1, toGain: 1 }]);
    expect(new Set(loud)).toEqual(new Set([32000]));
  });

  it('soft-clips a sum that exceeds full scale instead of wrapping or hard clipping', () => {
    const out = mixFrames([
      { samples: constant(30000), fromGain: 1, toGain: 1 },
      { samples: constant(30000), fromGain: 1, toGain: 1 },
    ]);
    const v = out[0]!;
    expect(v).toBe(Math.round(softClip(60000 / 32768) * 32768));
    expect(v).toBeLessThan(32767);
    expect(v).toBeGreaterThan(30000);
    // Quiet parts of a clipped mix stay linear.
    const quiet = mixFrames([
      { samples: constant(1000), fromGain: 1, toGain: 1 },
      { samples: constant(2000), fromGain: 1, toGain: 1 },
    ]);
    expect(quiet[0]).toBe(3000);
    const negative = mixFrames([
      { samples: constant(-32768), fromGain: 2, toGain: 2 },
      { samples: constant(-32768), fromGain: 2, toGain: 2 },
    ]);
    expect(negative[0]).toBeGreaterThanOrEqual(-32768);
    expect(negative[0]).toBeLessThan(-32000);
  });

  it('ramps a gain change across the frame, per stereo pair', () => {
    const out = mixFrames([{ samples: constant(9600), fromGain: 0, toGain: 1 }]);
    expect(out[0]).toBe(10); // pair 0: gain 1/960
    expect(out[1]).toBe(10); // same pair, same gain
    expect(out[2]).toBe(20);
    expect(out[FRAME_SAMPLES - 1]).toBe(9600);
  });

  it('gives silence for no inputs', () => {
    expect(new Set(mixFrames([]))).toEqual(new Set([0]));
  });
});

describe('Mixer', () => {
  it('passes through exactly one Opus frame at unity gain, nothing else', async () => {
    const codec = fakeCodec();
    const mixer = new Mixer(async () => codec);
    const a = {};
    const b = {};
    const frame = fakePacket(100);
    const one = await mixer.mix([{ key: a, frame: { kind: 'opus', data: frame }, gain: 1 }]);
    expect(one.passthrough).toBe(true);
    expect(one.frame).toBe(frame);
    expect(codec.encoded + codec.decoded).toBe(0);

    const two = await mixer.mix([
      { key: a, frame: { kind: 'opus', data: frame }, gain: 1 },
      { key: b, frame: { kind: 'opus', data: fakePacket(50) }, gain: 1 },
    ]);
    expect(two.passthrough).toBe(false);
    expect(fakeDecode(two.frame)[7]).toBe(150);

    const pcm = await mixer.mix([{ key: b, frame: { kind: 'pcm', data: constant(7) }, gain: 1 }]);
    expect(pcm.passthrough).toBe(false); // PCM always needs encoding
    expect(fakeDecode(pcm.frame)[0]).toBe(7);

    const quiet = await mixer.mix([{ key: a, frame: { kind: 'opus', data: frame }, gain: 0.999 }]);
    expect(quiet.passthrough).toBe(false);
    mixer.close();
  });

  it('reports a source whose frame cannot be decoded and mixes the others', async () => {
    const codec = fakeCodec();
    const broken = {
      ...codec,
      createDecoder: () => ({
        ...codec.createDecoder(),
        decode: (): Int16Array => {
          throw new Error('corrupt');
        },
      }),
    };
    const mixer = new Mixer(async () => broken);
    const bad = {};
    const good = {};
    const result = await mixer.mix([
      { key: bad, frame: { kind: 'opus', data: fakePacket(1) }, gain: 1 },
      { key: good, frame: { kind: 'pcm', data: constant(5) }, gain: 1 },
    ]);
    expect(result.failed.map((f) => f.key)).toEqual([bad]);
    expect(result.failed[0]!.error.code).toBe('AUDIO_INPUT_ERROR');
    expect(fakeDecode(result.frame)[0]).toBe(5);
    mixer.close();
  });
});
