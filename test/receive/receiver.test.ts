import { afterEach, beforeAll, describe, it, expect } from 'vitest';
import { loadOpus, type OpusCodecFactory, type OpusDecoder } from '../../src/audio/opus.js';
import { VoiceReceiver, type ReceiverInput, type VoiceReceiverOptions } from '../../src/receive/receiver.js';
import type { ReceivedFrame } from '../../src/receive/user-stream.js';
import type { MixedFrame } from '../../src/receive/mixer.js';
import type { DaveDecrypt } from '../../src/voice/inbound.js';
import { isVoxcordError } from '../../src/errors.js';
import { bestLag, correlation, inboundFeed, rtp, runClock, schedule, toneSequence } from './helpers.js';

const SILENCE = Uint8Array.of(0xf8, 0xff, 0xfe);

let opus: OpusCodecFactory;
beforeAll(async () => {
  opus = await loadOpus(['opusscript']);
});

const receivers: VoiceReceiver[] = [];
/** Each receiver is fed through the session's inbound stage (voice/inbound.ts), as in a call. */
const feeds = new Map<VoiceReceiver, ReturnType<typeof inboundFeed>>();
afterEach(() => {
  for (const r of receivers.splice(0)) r.close();
  feeds.clear();
});

function receiver(options: VoiceReceiverOptions = {}, dave?: DaveDecrypt): VoiceReceiver {
  const r = new VoiceReceiver(options);
  receivers.push(r);
  feeds.set(r, inboundFeed(r, dave));
  return r;
}

function feedOf(r: VoiceReceiver): ReturnType<typeof inboundFeed> {
  return feeds.get(r)!;
}

/** A fake decoder: PCM filled with the payload's second byte; PLC gives -1. Counts lifecycle. */
function fakeDecoders(): { create: () => OpusDecoder; created: number; closed: number } {
  const state = {
    created: 0,
    closed: 0,
    create: (): OpusDecoder => {
      state.created++;
      return {
        concealment: 'plc',
        decode(p) {
          if (p[0] === 0x03) throw new Error('invalid packet');
          return new Int16Array(1920).fill(p[1] ?? 0);
        },
        conceal: () => new Int16Array(1920).fill(-1),
        close: () => {
          state.closed++;
        },
      };
    },
  };
  return state;
}

function encodeTones(frames: number): { packets: Uint8Array[]; samples: Int16Array } {
  const { bytes, samples } = toneSequence(frames);
  const enc = opus.createEncoder({ bitrate: 64_000 });
  const packets = bytes.map((b) => enc.encode(b));
  enc.close();
  return { packets, samples };
}

/** Collects a stream's frames after the receiver has finished it. */
async function drain<T>(s: { frames(): AsyncGenerator<T> }): Promise<T[]> {
  const out: T[] = [];
  for await (const f of s.frames()) out.push(f);
  return out;
}

function pcmOf(frames: ReceivedFrame[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + (f.pcm?.length ?? 0), 0));
  let o = 0;
  for (const f of frames) {
    out.set(f.pcm!, o);
    o += f.pcm!.length;
  }
  return out;
}

/** Feeds a schedule of frames for `userId` and runs the clock 1 s past the last arrival. */
function play(
  r: VoiceReceiver,
  packets: Uint8Array[],
  sched: { index: number; arrival: number }[],
  userId = 'alice',
  opts: { ssrc?: number; seqBase?: number } = {},
): void {
  const last = Math.max(...sched.map((s) => s.arrival));
  const feed = feedOf(r);
  feed.map(opts.ssrc ?? 1234, userId);
  runClock(
    sched,
    last + 1000,
    (s) => feed.packet(rtp(s.index, packets[s.index]!, s.arrival, opts)),
    (now) => r.tick(now),
  );
}

describe('VoiceReceiver: decoded audio', () => {
  it('0% loss, jitter: the PCM matches the sent tone sequence and has its exact length', async () => {
    const { packets, samples } = encodeTones(150);
    const r = receiver({ createDecoder: () => opus.createDecoder() });
    const s = r.subscribe('alice', { maxQueuedFrames: 1000 });
    play(r, packets, schedule(150, { jitterMs: 30, seed: 11 }), 'alice', { seqBase: 65_500 });
    r.close();
    const frames = await drain(s);
    expect(frames.length).toBe(150);
    expect(frames.every((f) => !f.concealed)).toBe(true);
    const pcm = pcmOf(frames);
    expect(pcm.length).toBe(samples.length);
    const lag = bestLag(samples, pcm, 960);
    expect(correlation(samples, pcm, lag)).toBeGreaterThan(0.95);
    expect(r.stats('alice')).toMatchObject({ received: 150, lost: 0, late: 0, concealed: 0 });
  });

  it('10% loss + reordering: gaps concealed with PLC, timeline kept, signal still correlates', async () => {
    const { packets, samples } = encodeTones(250);
    const sched = schedule(250, { loss: 0.1, jitterMs: 35, seed: 5 });
    const dropped = 250 - sched.length;
    expect(dropped).toBeGreaterThan(15);
    const r = receiver({ createDecoder: () => opus.createDecoder() });
    const s = r.subscribe('alice', { maxQueuedFrames: 1000 });
    play(r, packets, sched);
    r.close();
    const frames = await drain(s);
    // Length within one frame of the sent audio.
    expect(Math.abs(frames.length - 250)).toBeLessThanOrEqual(1);
    const seqs = frames.map((f) => f.sequence);
    expect(seqs).toEqual(Array.from({ length: frames.length }, (_, i) => i));
    const concealed = frames.filter((f) => f.concealed).length;
    expect(concealed).toBe(dropped);
    // PLC really synthesises audio for this backend (not silence).
    const plcEnergy = frames
      .filter((f) => f.concealed)
      .map((f) => f.pcm!.reduce((a, v) => a + Math.abs(v), 0));
    expect(plcEnergy.filter((e) => e > 0).length).toBeGreaterThan(dropped / 2);
    const pcm = pcmOf(frames);
    const lag = bestLag(samples, pcm, 960);
    expect(correlation(samples, pcm, lag)).toBeGreaterThan(0.8);
    // Concealed frames continue the tone (PLC), so they correlate with what was lost.
    const concealedCorr = frames
      .map((f, i) =>
        f.concealed && i > 0 ? correlation(samples, pcm, lag, i * 960 - lag, i * 960 + 960 - lag) : NaN,
      )
      .filter((c) => !Number.isNaN(c));
    const meanConcealedCorr = concealedCorr.reduce((a, c) => a + c, 0) / concealedCorr.length;
    expect(meanConcealedCorr).toBeGreaterThan(0.4); // silence instead of PLC would give 0
    expect(r.stats('alice')).toMatchObject({
      lost: dropped,
      concealed: dropped,
      late: 0,
      received: sched.length,
    });
  });

  it('opus mode hands through the sent frames; lost slots arrive as concealed markers', async () => {
    const packets = Array.from({ length: 30 }, (_, i) => Uint8Array.of(0xfc, i));
    const sched = schedule(30).filter((s) => s.index !== 7);
    const r = receiver();
    const s = r.subscribe('alice', { mode: 'opus' });
    play(r, packets, sched);
    r.close();
    const frames = await drain(s);
    expect(frames.length).toBe(30);
    expect(frames[7]).toEqual({ sequence: 7, timestamp: 7 * 960, receivedAt: undefined, concealed: true });
    expect(frames[8]!.payload).toEqual(Uint8Array.of(0xfc, 8));
    expect(frames[8]!.receivedAt).toBe(1000 + 8 * 20);
  });

  it('afterSilence ends the stream after the silence following a burst (silence frames do not count)', async () => {
    const packets = [
      ...Array.from({ length: 40 }, (_, i) => Uint8Array.of(0xfc, i)),
      ...Array.from({ length: 5 }, () => SILENCE),
    ];
    const fake = fakeDecoders();
    const r = receiver({ createDecoder: fake.create, jitter: { adaptive: false } });
    const s = r.subscribe('alice', { end: { behavior: 'afterSilence', durationMs: 300 } });
    const manual = r.subscribe('alice');
    let endedAt: number | undefined;
    let ended = false;
    s.on('end', () => (ended = true));
    s.resume(); // consume so 'end' can fire
    const sched = schedule(45);
    const feed = feedOf(r);
    feed.map(1234, 'alice');
    runClock(
      sched,
      sched.at(-1)!.arrival + 1000,
      (x) => feed.packet(rtp(x.index, packets[x.index]!, x.arrival)),
      (now) => {
        r.tick(now);
        if (s.isFinished) endedAt ??= now;
      },
    );
    await new Promise((res) => setImmediate(res));
    expect(ended).toBe(true);
    // The last real frame (39) plays at 1000 + 39·20 + 60; the stream ends 300 ms after that.
    expect(endedAt).toBeDefined();
    expect(endedAt!).toBeGreaterThanOrEqual(1000 + 39 * 20 + 60 + 300);
    expect(endedAt!).toBeLessThan(1000 + 39 * 20 + 60 + 300 + 20);
    expect(s.delivered).toBe(45);
    expect(manual.isFinished).toBe(false);
  });

  it('speaking events fire once per burst', () => {
    const r = receiver({ speakingEndDelayMs: 200 });
    const events: string[] = [];
    r.on('speakingStart', (u) => events.push(`start:${u}`));
    r.on('speakingEnd', (u) => events.push(`end:${u}`));
    const packets = Array.from({ length: 100 }, (_, i) => Uint8Array.of(0xfc, i));
    const sched = [
      ...schedule(40, { jitterMs: 30, seed: 2 }),
      ...schedule(40, { jitterMs: 30, seed: 3, start: 3000 }).map((s) => ({ ...s, index: s.index + 40 })),
    ].sort((a, b) => a.arrival - b.arrival);
    play(r, packets, sched);
    expect(events).toEqual(['start:alice', 'end:alice', 'start:alice', 'end:alice']);
    // op 5 speaking: 0 ends a burst immediately.
    feedOf(r).packet(rtp(100, Uint8Array.of(0xfc, 1), 9000));
    expect(r.isSpeaking('alice')).toBe(true);
    r.onSpeaking({ userId: 'alice', ssrc: 1234, speaking: 0 });
    expect(events.slice(-2)).toEqual(['start:alice', 'end:alice']);
  });
});

describe('VoiceReceiver: bad input', () => {
  it('a stream survives garbage packets, undecodable frames and unknown SSRCs (all counted)', async () => {
    const fake = fakeDecoders();
    const r = receiver({ createDecoder: fake.create });
    const s = r.subscribe('alice');
    const packets = Array.from({ length: 30 }, (_, i) => Uint8Array.of(0xfc, i));
    packets[10] = Uint8Array.of(0x03); // the decoder rejects it
    const sched = schedule(30);
    const feed = feedOf(r);
    feed.map(1234, 'alice');
    let n = 0;
    runClock(
      sched,
      sched.at(-1)!.arrival + 500,
      (x) => {
        feed.packet(rtp(x.index, packets[x.index]!, x.arrival));
        // Interleave garbage of every kind.
        const garbage: unknown[] = [
          null,
          {},
          { ssrc: 1234, sequence: 1, timestamp: 1, payload: 'x', receivedAt: 1 },
          { ssrc: -1, sequence: 1, timestamp: 1, payload: new Uint8Array(3), receivedAt: 1 },
          { ssrc: 1234, sequence: 70_000, timestamp: 1, payload: Uint8Array.of(1), receivedAt: x.arrival },
          { ssrc: 1234, sequence: 5, timestamp: 1, payload: new Uint8Array(0), receivedAt: x.arrival },
        ];
        // Garbage comes through the receiver's door itself (the stage's own input is typed).
        const g = garbage[n++ % garbage.length];
        r.receive((typeof g === 'object' && g !== null ? { ...g, userId: 'alice' } : g) as ReceiverInput);
        feed.packet(rtp(x.index, packets[x.index]!, x.arrival, { ssrc: 999 })); // unmapped SSRC, no user id
      },
      (now) => r.tick(now),
    );
    expect(s.isFinished).toBe(false);
    // The unmapped SSRC's packets were held for an op 5; the connection ends: counted.
    feedOf(r).stage.reset();
    r.close();
    const frames = await drain(s);
    expect(frames.length).toBe(30);
    expect(frames[10]!.concealed).toBe(true);
    expect(frames[10]!.pcm![0]).toBe(-1);
    expect(frames[11]!.pcm![0]).toBe(11);
    const stats = r.stats('alice')!;
    expect(stats.decodeErrors).toBe(1);
    expect(stats.invalid).toBeGreaterThanOrEqual(5);
    expect(r.totals().unknownSsrc).toBe(30);
    expect(r.totals().malformed).toBeGreaterThanOrEqual(15);
  });

  it('DAVE failures are counted by reason and their slots concealed', async () => {
    const fake = fakeDecoders();
    const r = receiver(
      { createDecoder: fake.create },
      {
        decrypt: (_user, payload) => {
          if (payload[0] === 0xee) return { ok: false, reason: 'no-key' };
          if (payload[0] === 0xdd) return { ok: false, reason: 'auth-failed' };
          if (payload[0] === 0xcc) throw new Error('decryptor bug');
          return { ok: true, frame: payload.subarray(1) }; // strip a fake 1-byte envelope
        },
      },
    );
    const s = r.subscribe('alice');
    const packets = Array.from({ length: 20 }, (_, i) => Uint8Array.of(0x00, 0xfc, i));
    packets[3] = Uint8Array.of(0xee);
    packets[4] = Uint8Array.of(0xee);
    packets[9] = Uint8Array.of(0xdd);
    packets[12] = Uint8Array.of(0xcc);
    play(r, packets, schedule(20));
    r.close();
    const frames = await drain(s);
    expect(frames.length).toBe(20);
    expect(frames.filter((f) => f.concealed).map((f) => f.sequence)).toEqual([3, 4, 9, 12]);
    expect(frames[5]!.pcm![0]).toBe(5);
    expect(r.stats('alice')!.daveFailures).toEqual({ 'no-key': 2, 'auth-failed': 1, exception: 1 });
  });

  it('maps SSRCs from op 5, forgets them on disconnect, and flushes buffered audio', async () => {
    const r = receiver({ jitter: { adaptive: false } });
    const feed = feedOf(r);
    feed.speaking({ userId: 'bob', ssrc: 77, speaking: 1 });
    const s = r.subscribe('bob', { mode: 'opus' });
    for (let i = 0; i < 3; i++) feed.packet(rtp(i, Uint8Array.of(0xfc, i), 1000 + i * 20, { ssrc: 77 }));
    r.tick(1010); // nothing due yet (60 ms delay)
    feed.disconnect('bob', 1010);
    // Past the 1 s the websocket and UDP may disagree by, the SSRC is nobody's.
    feed.packet(rtp(3, Uint8Array.of(0xfc, 3), 2011, { ssrc: 77 }));
    // Held for an op 5 that does not come within the same 1 s: then given up, and counted.
    expect(r.totals().unknownSsrc).toBe(0);
    feed.packet(rtp(4, Uint8Array.of(0xfc, 4), 3012, { ssrc: 78 }));
    expect(r.totals().unknownSsrc).toBe(1);
    expect(r.isSpeaking('bob')).toBe(false);
    r.close();
    expect((await drain(s)).map((f) => f.sequence)).toEqual([0, 1, 2]);
    r.onSpeaking({ userId: 'x', ssrc: 'no' as unknown as number, speaking: 1 });
  });
});

describe('VoiceReceiver: mixing, decoders, lifecycle', () => {
  it('mixes speakers onto one timeline', async () => {
    const fake = fakeDecoders();
    const r = receiver({ createDecoder: fake.create, jitter: { adaptive: false } });
    const m = r.mixed({ maxQueuedFrames: 1000 });
    const a = Array.from({ length: 25 }, () => Uint8Array.of(0xfc, 10));
    const b = Array.from({ length: 25 }, () => Uint8Array.of(0xfc, 100));
    const arrivals = [
      ...schedule(25, { start: 1000 }).map((s) => ({ ...s, user: 'a', p: a })),
      ...schedule(25, { start: 1300 }).map((s) => ({ ...s, user: 'b', p: b })),
    ].sort((x, y) => x.arrival - y.arrival);
    const feed = feedOf(r);
    feed.map(1, 'a');
    feed.map(2, 'b');
    runClock(
      arrivals,
      2500,
      (x) => feed.packet(rtp(x.index, x.p[x.index]!, x.arrival, { ssrc: x.user === 'a' ? 1 : 2 })),
      (now) => r.tick(now),
    );
    r.close();
    const frames: MixedFrame[] = await drain(m);
    // Continuous timeline from the first tick, 20 ms per frame.
    expect(frames.map((f) => f.timestamp)).toEqual(frames.map((_, i) => i * 960));
    expect(frames.length).toBe(Math.floor((2500 - 1000) / 20) + 1);
    const kinds = frames.map((f) => f.speakers.slice().sort().join('+') || '-');
    const runs = kinds.filter((k, i) => i === 0 || kinds[i - 1] !== k);
    expect(runs).toEqual(['-', 'a', 'a+b', 'b', '-']);
    expect(frames.find((f) => f.speakers.length === 2)!.pcm[0]).toBe(110);
  });

  it('creates a decoder only for PCM consumers and releases it after the idle timeout', () => {
    const fake = fakeDecoders();
    const r = receiver({ createDecoder: fake.create, decoderIdleMs: 2000 });
    r.subscribe('alice', { mode: 'opus' });
    const packets = Array.from({ length: 10 }, (_, i) => Uint8Array.of(0xfc, i));
    play(r, packets, schedule(10));
    expect(fake.created).toBe(0);
    const s1 = r.subscribe('alice');
    const s2 = r.subscribe('alice');
    const got: Int16Array[] = [];
    s1.on('data', (f: ReceivedFrame) => got.push(f.pcm!));
    s2.on('data', (f: ReceivedFrame) => got.push(f.pcm!));
    play(r, packets, schedule(10, { start: 5000 }), 'alice', { seqBase: 10 });
    expect(fake.created).toBe(1);
    expect(fake.closed).toBe(0);
    r.tick(5000 + 9 * 20 + 2000 + 1);
    expect(fake.closed).toBe(1);
    expect(r.stats('alice')!.received).toBe(20);
    r.close();
    expect(fake.closed).toBe(1);
  });

  it('PCM without a decoder factory is a typed error; close() ends streams and stops the clock', async () => {
    const r = receiver();
    expect(() => r.subscribe('a')).toThrow(expect.objectContaining({ code: 'OPUS_UNAVAILABLE' }) as Error);
    expect(() => r.mixed()).toThrow(expect.objectContaining({ code: 'OPUS_UNAVAILABLE' }) as Error);
    const s = r.subscribe('a', { mode: 'opus' });
    r.start(5);
    r.close();
    r.close();
    expect(await drain(s)).toEqual([]);
    try {
      r.subscribe('a', { mode: 'opus' });
      expect.unreachable();
    } catch (err) {
      expect(isVoxcordError(err, 'DESTROYED')).toBe(true);
    }
    feedOf(r).map(1234, 'a');
    feedOf(r).packet(rtp(0, Uint8Array.of(1), 0)); // ignored after close
    expect(r.stats('a')!.received).toBe(0);
  });

  it('a destroyed subscriber is detached; other subscribers keep receiving', async () => {
    const r = receiver();
    const a = r.subscribe('u', { mode: 'opus' });
    const b = r.subscribe('u', { mode: 'opus' });
    a.destroy();
    play(r, [Uint8Array.of(0xfc, 0), Uint8Array.of(0xfc, 1)], schedule(2), 'u');
    r.close();
    expect((await drain(b)).length).toBe(2);
  });
});

describe('VoiceReceiver: decoder failures', () => {
  it('keeps the PCM timeline with silence when no decoder can be created', async () => {
    const r = receiver({
      createDecoder: () => {
        throw new Error('no wasm');
      },
    });
    const s = r.subscribe('u');
    play(r, [Uint8Array.of(0xfc, 0), Uint8Array.of(0xfc, 1)], schedule(2), 'u');
    r.close();
    const frames = await drain(s);
    expect(frames.map((f) => [f.concealed, f.pcm!.length, f.pcm!.some((v) => v !== 0)])).toEqual([
      [true, 1920, false],
      [true, 1920, false],
    ]);
    expect(r.stats('u')).toMatchObject({ decodeErrors: 2, concealed: 2 });
  });
});
