import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { loadOpus } from '../../src/audio/opus.js';
import type { OpusCodecFactory } from '../../src/audio/opus.js';
import {
  AudioPlayer,
  DEMO_TONES,
  opusFramesInput,
  opusPacketSamples,
  pcmInput,
  renderTones,
  toneInput,
  toneLength,
} from '../../src/player/index.js';
import type { FrameSource, OpenContext, SourceFrame, ToneSpec } from '../../src/player/index.js';
import { isVoxcordError } from '../../src/errors.js';
import { FakeSession, fakeCodec, hex, packet } from './helpers.js';

const context = (startMs = 0, codec: OpusCodecFactory = fakeCodec()): OpenContext => ({
  startMs,
  codec: async () => codec,
});

async function drain(source: FrameSource): Promise<SourceFrame[]> {
  const out: SourceFrame[] = [];
  for (;;) {
    const f = await source.read();
    if (f === undefined) return out;
    out.push(f);
  }
}

describe('opusPacketSamples', () => {
  it('reads the duration from the TOC byte (RFC 6716 §3.1)', () => {
    expect(opusPacketSamples(Uint8Array.of(0xfc))).toBe(960); // CELT FB 20 ms
    expect(opusPacketSamples(Uint8Array.of(0x78))).toBe(960); // SILK WB 20 ms (config 15 is hybrid: 0x78 = 15)
    expect(opusPacketSamples(Uint8Array.of(0x18))).toBe(2880); // SILK NB 60 ms
    expect(opusPacketSamples(Uint8Array.of(0x00))).toBe(480); // SILK NB 10 ms
    expect(opusPacketSamples(Uint8Array.of(0xe0))).toBe(120); // CELT 2.5 ms
    expect(opusPacketSamples(Uint8Array.of(0xf8 | 1))).toBe(1920); // two 20 ms frames
    expect(opusPacketSamples(Uint8Array.of(0xf8 | 3, 3))).toBe(2880); // code 3, three frames
    expect(opusPacketSamples(Uint8Array.of(0xf8 | 3, 0))).toBeUndefined(); // zero frames
    expect(opusPacketSamples(Uint8Array.of(0xf8 | 3, 7))).toBeUndefined(); // 140 ms > 120
    expect(opusPacketSamples(Uint8Array.of(0xf8 | 3))).toBeUndefined();
    expect(opusPacketSamples(new Uint8Array(0))).toBeUndefined();
  });

  it('re-frames packets of other durations to 20 ms PCM through the decoder', async () => {
    // A codec whose decoder turns a 60 ms packet into 2880 stereo samples counting up.
    const codec = fakeCodec();
    const sixty: OpusCodecFactory = {
      ...codec,
      createDecoder: () => ({
        ...codec.createDecoder(),
        decode: (p: Uint8Array): Int16Array =>
          Int16Array.from({ length: 5760 }, (_, i) => (p[1] ?? 0) * 10 + Math.floor(i / 1920)),
      }),
    };
    const source = await opusFramesInput([Uint8Array.of(0x18, 1), Uint8Array.of(0x18, 2)]).open(
      context(0, sixty),
    );
    const frames = await drain(source);
    expect(frames.map((f) => f.kind)).toEqual(['pcm', 'pcm', 'pcm', 'pcm', 'pcm', 'pcm']);
    expect(frames.map((f) => (f.data as Int16Array)[0])).toEqual([10, 11, 12, 20, 21, 22]);
  });

  it('passes 20 ms packets through untouched and seeks by packet duration', async () => {
    const packets = Array.from({ length: 5 }, (_, i) => packet(1, i));
    const input = opusFramesInput(packets);
    expect(input.seekable).toBe(true);
    const all = await drain(await input.open(context()));
    expect(all.map((f) => (f.kind === 'opus' ? hex(f.data) : 'pcm'))).toEqual(packets.map(hex));
    expect(all[0]!.data).toBe(packets[0]); // no copy
    const from40 = await drain(await input.open(context(40)));
    expect(from40.map((f) => hex(f.data as Uint8Array))).toEqual(packets.slice(2).map(hex));
  });
});

describe('pcmInput', () => {
  it('re-frames chunks of any size, pads the last frame, and seeks a buffer by bytes', async () => {
    const samples = Int16Array.from({ length: 1920 * 2 + 10 }, (_, i) => i % 1000);
    const bytes = new Uint8Array(samples.buffer);
    const chunks = [bytes.subarray(0, 1001), bytes.subarray(1001, 5000), bytes.subarray(5000)];
    const frames = await drain(
      await pcmInput(Readable.from(chunks.map((c) => Buffer.from(c)))).open(context()),
    );
    expect(frames).toHaveLength(3);
    const joined = frames.flatMap((f) => Array.from(f.data as Int16Array));
    expect(joined.slice(0, samples.length)).toEqual(Array.from(samples));
    expect(joined.slice(samples.length).every((v) => v === 0)).toBe(true);

    const input = pcmInput(bytes);
    expect(input.seekable).toBe(true);
    const later = await drain(await input.open(context(20)));
    expect((later[0]!.data as Int16Array)[0]).toBe(1920 % 1000);
  });

  it('a one-shot stream cannot be opened twice', async () => {
    const input = pcmInput(Readable.from([Buffer.alloc(10)]));
    expect(input.seekable).toBe(false);
    await input.open(context());
    expect(() => input.open(context())).toThrow(/already played/);
  });

  it('close() ends a read that waits on an input that never answers', async () => {
    const never: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Uint8Array>>(() => undefined),
      }),
    };
    const source = await pcmInput(never).open(context());
    const pending = source.read();
    source.close();
    expect(await pending).toBeUndefined();
  });
});

describe('tones', () => {
  it('are deterministic, and the input frames are the rendered signal', async () => {
    const a = renderTones(DEMO_TONES);
    const b = renderTones(DEMO_TONES);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(toneLength(DEMO_TONES)).toBe(3000 * 48);
    expect(a.length).toBe(3000 * 48 * 2);
    const peak = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0.39 * 32767);
    expect(peak).toBeLessThanOrEqual(Math.round(0.4 * 32767));
    const frames = await drain(await toneInput(DEMO_TONES).open(context()));
    expect(frames).toHaveLength(150);
    const joined = new Int16Array(frames.length * 1920);
    frames.forEach((f, i) => {
      if (f.kind === 'pcm') joined.set(f.data, i * 1920);
    });
    expect(Buffer.from(joined.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    // Left and right are equal; the 200 ms rest at 1.2 s is silent.
    expect(a[1000]).toBe(a[1001]);
    expect(a.subarray(1300 * 96, 1380 * 96).every((v) => v === 0)).toBe(true);
  });

  it('rejects bad specs', () => {
    expect(() => toneInput({ notes: [] })).toThrow(/at least one note/);
    expect(() => toneInput({ notes: [{ frequency: 440, ms: 0 }] })).toThrow();
    expect(() => toneInput({ notes: [{ frequency: 440, ms: 10, amplitude: 2 }] })).toThrow(/amplitude/);
    // Typed errors for what only plain JavaScript can pass, and for what would render nothing.
    const bad: unknown[] = [
      null,
      { notes: 123 },
      { notes: [null] },
      { notes: [{ frequency: 440, ms: 10 }], fadeMs: Number.POSITIVE_INFINITY },
      { notes: [{ frequency: 440, ms: 10 }], fadeMs: -1 },
    ];
    for (const spec of bad) {
      let error: unknown;
      try {
        toneInput(spec as ToneSpec);
      } catch (e) {
        error = e;
      }
      expect(isVoxcordError(error, 'INVALID_ARGUMENT'), JSON.stringify(spec)).toBe(true);
    }
    // A day-long tone streams, but is too long to render into memory at once.
    const day: ToneSpec = { notes: [{ frequency: 440, ms: 86_400_000 }] };
    expect(() => toneInput(day)).not.toThrow();
    expect(() => renderTones(day)).toThrow(/at most 1 hour/);
  });
});

describe('with a real Opus codec', () => {
  it('encodes PCM, passes Opus through, and a volume change scales the decoded audio', async () => {
    const codec = await loadOpus();
    const encoder = codec.createEncoder();
    const pcm = renderTones({ notes: [{ frequency: 440, ms: 400 }], amplitude: 0.5, fadeMs: 0 });
    const source: Uint8Array[] = [];
    for (let f = 0; f < 20; f++)
      source.push(encoder.encode(new Uint8Array(pcm.slice(f * 1920, (f + 1) * 1920).buffer)));
    encoder.close();

    const player = new AudioPlayer({ opus: codec });
    const session = new FakeSession();
    player.attach(session);
    const track = player.enqueue(opusFramesInput(source));
    const before = await session.pull(8);
    expect(before.map(hex)).toEqual(source.slice(0, 8).map(hex));
    track.volume = 0.25;
    const after = await session.pull(12);
    expect(after.map(hex)).not.toEqual(source.slice(8).map(hex));
    expect(player.stats).toMatchObject({ framesPassthrough: 8, framesEncoded: 12 });

    const rms = (frames: Uint8Array[]): number => {
      const decoder = codec.createDecoder();
      let sum = 0;
      let n = 0;
      for (const f of frames) {
        for (const v of decoder.decode(f)) {
          sum += v * v;
          n++;
        }
      }
      decoder.close();
      return Math.sqrt(sum / n);
    };
    // Steady state after the ramp frame and the encoder's settling: about a quarter of the level.
    const ratio = rms(after.slice(4)) / rms(source.slice(12));
    expect(ratio).toBeGreaterThan(0.2);
    expect(ratio).toBeLessThan(0.3);
    player.destroy();
  });
});
