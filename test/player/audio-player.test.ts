import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { OPUS_SILENCE_FRAME } from '../../src/protocol/constants.js';
import { isVoxcordError, VoxcordError } from '../../src/errors.js';
import { AudioPlayer, Track, opusFramesInput, pcmInput, toneInput } from '../../src/player/index.js';
import type { AudioPlayerOptions, TrackEndReason } from '../../src/player/index.js';
import {
  FakeSession,
  fakeCodec,
  fakeDecode,
  fakePacket,
  hex,
  packet,
  packets,
  pcmBytes,
  settle,
} from './helpers.js';

/** Records every player event as a short string. */
function record(player: AudioPlayer): string[] {
  const log: string[] = [];
  const name = (t: Track): string => String(t.metadata);
  player.on('trackStart', (t) => log.push(`start:${name(t)}`));
  player.on('trackEnd', (t, reason: TrackEndReason) => log.push(`end:${name(t)}:${reason}`));
  player.on('trackError', (t, e) => log.push(`error:${name(t)}:${e.code}`));
  player.on('marker', (t, m) => log.push(`marker:${name(t)}:${String(m.metadata)}`));
  player.on('stateChange', (_o, n) => log.push(`state:${n}`));
  return log;
}

describe('AudioPlayer', () => {
  const players: AudioPlayer[] = [];
  const make = (options: AudioPlayerOptions = {}): AudioPlayer => {
    const p = new AudioPlayer({ opus: fakeCodec(), ...options });
    players.push(p);
    return p;
  };
  afterEach(() => {
    for (const p of players.splice(0)) p.destroy();
  });

  it('plays the queue in order through one stream, then ends the burst and goes idle', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    expect(session.transmissions).toBe(0); // idle: nothing to send
    player.enqueue(opusFramesInput(packets(1, 3)), { metadata: 'a' });
    player.enqueue(opusFramesInput(packets(2, 2)), { metadata: 'b' });
    expect(player.queue.map((t) => t.metadata)).toEqual(['a', 'b']);
    expect(session.transmissions).toBe(1);

    const frames = await session.pull(100);
    expect(frames.map(hex)).toEqual([...packets(1, 3), ...packets(2, 2)].map(hex));
    expect(session.streaming).toBe(false); // the stream ended at the burst end
    expect(session.transmissions).toBe(1); // and was not restarted while idle
    expect(log).toEqual([
      'state:playing',
      'start:a',
      'end:a:finished',
      'start:b',
      'end:b:finished',
      'state:idle',
    ]);
    expect(player.stats).toMatchObject({
      framesSent: 5,
      framesPassthrough: 5,
      framesEncoded: 0,
      framesSilent: 0,
    });

    // More audio later starts a new burst.
    player.enqueue(opusFramesInput(packets(3, 1)), { metadata: 'c' });
    await settle();
    expect(session.transmissions).toBe(2);
    expect((await session.pull(10)).map(hex)).toEqual([hex(packet(3, 0))]);
  });

  it('finishes a track at its endMs, also one set while it plays or already passed, after sending what came before', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    const a = player.enqueue(opusFramesInput(packets(1, 10)), { metadata: 'a', endMs: 100 });
    const b = player.enqueue(opusFramesInput(packets(2, 10)), { metadata: 'b' });
    const c = player.enqueue(opusFramesInput(packets(3, 10)), { metadata: 'c' });
    expect(a.endMs).toBe(100);
    expect((await session.pull(7)).map(hex)).toEqual([...packets(1, 5), ...packets(2, 2)].map(hex));
    b.endMs = 80; // while it plays, ahead of it
    expect((await session.pull(2)).map(hex)).toEqual([packet(2, 2), packet(2, 3)].map(hex));
    expect((await session.pull(2)).map(hex)).toEqual(packets(3, 2).map(hex));
    c.endMs = 20; // already passed: c ends before another frame
    expect(await session.pull(5)).toHaveLength(0);
    expect(log.filter((e) => e.startsWith('end:'))).toEqual([
      'end:a:finished',
      'end:b:finished',
      'end:c:finished',
    ]);
    expect(() => (c.endMs = -1)).toThrow(/endMs must be a finite number of 0 or more/);
    expect(() => new Track(opusFramesInput(packets(4, 1)), { endMs: Number.NaN })).toThrow(VoxcordError);
    c.endMs = undefined;
    expect(c.endMs).toBeUndefined();
  });

  it('pause (gap mode) ends the burst and sends nothing; resume starts a new burst where it was', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets(1, 10)), { metadata: 'a' });
    expect(await session.pull(3)).toHaveLength(3);
    expect(player.pause()).toBe(true);
    expect(player.pause()).toBe(false);
    expect(await session.pull(5)).toHaveLength(0); // burst end, no frames
    expect(session.streaming).toBe(false);
    expect(session.transmissions).toBe(1);
    expect(player.playbackDuration).toBe(60);

    expect(player.resume()).toBe(true);
    await settle();
    expect(session.transmissions).toBe(2);
    const rest = await session.pull(100);
    expect(rest.map(hex)).toEqual(packets(1, 10).slice(3).map(hex));
    expect(player.stats.framesSent).toBe(10);
    expect(player.stats.framesSilent).toBe(0);
    expect(log).toEqual([
      'state:playing',
      'start:a',
      'state:paused',
      'state:playing',
      'end:a:finished',
      'state:idle',
    ]);
  });

  it("pause in 'silence' mode keeps the burst going with silence frames", async () => {
    const player = make({ pauseMode: 'silence' });
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets(1, 5)));
    await session.pull(2);
    player.pause();
    const silent = await session.pull(4);
    expect(silent.map(hex)).toEqual(Array.from({ length: 4 }, () => hex(OPUS_SILENCE_FRAME)));
    player.resume();
    const rest = await session.pull(100);
    expect(rest.map(hex)).toEqual(packets(1, 5).slice(2).map(hex));
    expect(session.transmissions).toBe(1);
    expect(player.stats).toMatchObject({ framesSent: 9, framesSilent: 4 });
  });

  it('skip moves to the next track in the same burst; stop clears the queue and ends the burst', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets(1, 10)), { metadata: 'a' });
    player.enqueue(opusFramesInput(packets(2, 10)), { metadata: 'b' });
    player.enqueue(opusFramesInput(packets(3, 10)), { metadata: 'c' });
    await session.pull(2);
    expect(player.skip()).toBe(true);
    const next = await session.pull(2);
    expect(next.map(hex)).toEqual(packets(2, 2).map(hex));
    expect(player.currentTrack?.metadata).toBe('b');
    player.stop();
    expect(player.status).toBe('idle');
    expect(player.queue).toHaveLength(0);
    expect(await session.pull(5)).toHaveLength(0);
    expect(session.streaming).toBe(false);
    expect(log).toEqual([
      'state:playing',
      'start:a',
      'end:a:skipped',
      'start:b',
      'end:b:stopped',
      'state:idle',
    ]);
    expect(player.stats.framesSent).toBe(4);
  });

  it('play() replaces the current track and keeps the queue', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets(1, 10)), { metadata: 'a' });
    player.enqueue(opusFramesInput(packets(2, 1)), { metadata: 'b' });
    await session.pull(1);
    player.play(opusFramesInput(packets(9, 1)), { metadata: 'now' });
    const frames = await session.pull(10);
    expect(frames.map(hex)).toEqual([packet(9, 0), packet(2, 0)].map(hex));
    expect(log.filter((l) => l.startsWith('end'))).toEqual([
      'end:a:replaced',
      'end:now:finished',
      'end:b:finished',
    ]);
  });

  it('passes a lone Opus track at unity through byte-identical, and mixes/encodes otherwise', async () => {
    const codec = fakeCodec();
    const player = make({ opus: codec });
    const session = new FakeSession();
    player.attach(session);
    const source = [fakePacket(1000), fakePacket(1000), fakePacket(1000), fakePacket(1000)];
    const track = player.enqueue(opusFramesInput(source));
    const first = await session.pull(1);
    expect(first[0]).toBe(source[0]); // the very same bytes, not a copy of a re-encode
    expect(codec.encoded).toBe(0);
    expect(codec.decoded).toBe(0);

    track.volume = 0.5; // live volume change: decode, ramp 1 -> 0.5 over one frame, encode
    const [ramp, half] = await session.pull(2);
    expect(codec.encoded).toBe(2);
    const rampPcm = fakeDecode(ramp!);
    expect(rampPcm[0]).toBe(Math.round(1000 * (1 - 0.5 / 960))); // first stereo pair of the ramp
    expect(rampPcm[1919]).toBe(500); // ramp done at the frame's end
    expect(new Set(fakeDecode(half!))).toEqual(new Set([500]));

    track.volume = 1; // back to unity: one ramp frame, then passthrough again
    player.volume = 1;
    const [rampUp] = await session.pull(1);
    expect(fakeDecode(rampUp!)[1919]).toBe(1000);
    expect(player.stats).toMatchObject({ framesPassthrough: 1, framesEncoded: 3 });
  });

  it('player volume multiplies with track volume', async () => {
    const player = make({ volume: 0.5 });
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput([fakePacket(1000), fakePacket(1000)]), { volume: 0.5 });
    const [a] = await session.pull(1);
    expect(new Set(fakeDecode(a!))).toEqual(new Set([250]));
    expect(player.stats.framesPassthrough).toBe(0);
  });

  it('mixes an overlay with the main track in PCM (no passthrough while two play)', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(
      opusFramesInput([fakePacket(1000), fakePacket(1000), fakePacket(1000), fakePacket(1000)]),
      {
        metadata: 'music',
      },
    );
    await session.pull(1);
    player.mix(pcmInput(pcmBytes(2, () => -300)), { metadata: 'fx', volume: 0.5 });
    const [m1, m2, solo] = await session.pull(3);
    expect(new Set(fakeDecode(m1!))).toEqual(new Set([850]));
    expect(new Set(fakeDecode(m2!))).toEqual(new Set([850]));
    expect(hex(solo)).toBe(hex(fakePacket(1000))); // effect over: passthrough again
    expect(log).toContain('end:fx:finished');
    expect(player.stats).toMatchObject({ framesPassthrough: 2, framesEncoded: 2 });
  });

  it('fires markers when playback reaches them, with their metadata', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    const track = new Track(opusFramesInput(packets(1, 4)), {
      metadata: 't',
      markers: [
        { atMs: 30, metadata: 'thirty' },
        { atMs: 0, metadata: 'zero' },
        { atMs: 500, metadata: 'past-the-end' },
      ],
    });
    track.addMarker(79, 'last-frame');
    player.enqueue(track);
    await session.pull(1);
    expect(log.filter((l) => l.startsWith('marker'))).toEqual(['marker:t:zero']);
    await session.pull(1);
    expect(log.filter((l) => l.startsWith('marker'))).toEqual(['marker:t:zero', 'marker:t:thirty']);
    await session.pull(1);
    expect(log.filter((l) => l.startsWith('marker'))).toHaveLength(2);
    await session.pull(5);
    expect(log.filter((l) => l.startsWith('marker'))).toEqual([
      'marker:t:zero',
      'marker:t:thirty',
      'marker:t:last-frame',
    ]);
    expect(log.at(-2)).toBe('end:t:finished');
  });

  it('seeks a seekable input by reopening it, and a stream only forward', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    const track = new Track(opusFramesInput(packets(1, 10)), {
      metadata: 't',
      markers: [{ atMs: 100, metadata: 'skipped-over' }],
    });
    player.enqueue(track);
    await session.pull(2);
    player.seek(140);
    expect(player.playbackDuration).toBe(140);
    expect((await session.pull(1)).map(hex)).toEqual([hex(packet(1, 7))]);
    player.seek(20);
    expect((await session.pull(1)).map(hex)).toEqual([hex(packet(1, 1))]);
    expect(player.playbackDuration).toBe(40);
    expect(log.some((l) => l.includes('skipped-over'))).toBe(false);
    player.stop();

    // A generator (one-shot stream): forward only.
    async function* gen(): AsyncGenerator<Uint8Array> {
      yield* packets(2, 10);
    }
    player.enqueue(opusFramesInput(gen()));
    await settle();
    await session.pull(3);
    expect(() => player.seek(0)).toThrow(VoxcordError);
    player.seek(160);
    expect((await session.pull(1)).map(hex)).toEqual([hex(packet(2, 8))]);
  });

  it('seeks generated tones exactly', async () => {
    const player = make();
    const a = new FakeSession();
    player.attach(a);
    const spec = { notes: [{ frequency: 440, ms: 2000 }] };
    player.enqueue(toneInput(spec));
    const [first] = await a.pull(1);
    player.seek(1000);
    const [at1s] = await a.pull(1);
    const direct = new AudioPlayer({ opus: fakeCodec() });
    players.push(direct);
    const b = new FakeSession();
    direct.attach(b);
    direct.enqueue(toneInput(spec));
    const all = await b.pull(51);
    expect(hex(first)).toBe(hex(all[0]));
    expect(hex(at1s)).toBe(hex(all[50]));
  });

  it('an input that throws midway gives trackError (with the track) and the next track plays', async () => {
    const player = make();
    const log = record(player);
    const errors: unknown[] = [];
    player.on('trackError', (_t, e) => errors.push(e));
    const session = new FakeSession();
    player.attach(session);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield packet(1, 0);
      yield packet(1, 1);
      throw new Error('disk on fire');
    }
    player.enqueue(opusFramesInput(failing()), { metadata: 'bad' });
    player.enqueue(opusFramesInput(packets(2, 2)), { metadata: 'good' });
    const frames = await session.pull(10);
    expect(frames.map(hex)).toEqual([packet(1, 0), packet(1, 1), packet(2, 0), packet(2, 1)].map(hex));
    expect(log).toEqual([
      'state:playing',
      'start:bad',
      'error:bad:AUDIO_INPUT_ERROR',
      'end:bad:error',
      'start:good',
      'end:good:finished',
      'state:idle',
    ]);
    expect(isVoxcordError(errors[0], 'AUDIO_INPUT_ERROR')).toBe(true);
    expect((errors[0] as Error).cause).toBeInstanceOf(Error);
  });

  it('a stalled input times out as a track error', async () => {
    const player = make({ stallTimeoutMs: 40 });
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    const never: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Uint8Array>>(() => undefined),
      }),
    };
    player.enqueue(opusFramesInput(never), { metadata: 'stuck' });
    player.enqueue(opusFramesInput(packets(2, 1)), { metadata: 'next' });
    const frames = await session.pull(5);
    expect(frames.map(hex)).toEqual([hex(packet(2, 0))]);
    expect(log).toContain('error:stuck:AUDIO_INPUT_ERROR');
    expect(log).toContain('end:stuck:error');
  });

  it('a stall after frames times out too (the slot has one timer is re-armed per read), a slow read does not', async () => {
    const player = make({ stallTimeoutMs: 150 });
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    async function* slowThenStuck(): AsyncGenerator<Uint8Array> {
      // Each read takes 50 ms: five of them span 250 ms, more than the timeout, but none stalls
      // (a timer may fire 100 ms late on a loaded machine before one would).
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 50));
        yield packet(3, i);
      }
      await new Promise(() => undefined);
    }
    player.enqueue(opusFramesInput(slowThenStuck()), { metadata: 'slow' });
    const frames = await session.pull(6);
    expect(frames.map(hex)).toEqual(packets(3, 5).map(hex));
    expect(log).toContain('error:slow:AUDIO_INPUT_ERROR');
    expect(log).toContain('end:slow:error');
  });

  it('inputs that are not audio give track errors, never a crash', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(pcmInput(Readable.from(['text, not audio'])), { metadata: 'text' });
    player.enqueue(opusFramesInput([Uint8Array.of(0x03, 0x00)]), { metadata: 'bad-opus' }); // code 3, 0 frames
    player.enqueue(opusFramesInput([42 as unknown as Uint8Array]), { metadata: 'number' });
    player.enqueue(
      { kind: 'broken', seekable: false, open: () => Promise.reject(new Error('nope')) },
      { metadata: 'open' },
    );
    player.enqueue(opusFramesInput(packets(5, 1)), { metadata: 'ok' });
    const frames = await session.pull(10);
    expect(frames.map(hex)).toEqual([hex(packet(5, 0))]);
    for (const name of ['text', 'bad-opus', 'number', 'open'])
      expect(log).toContain(`error:${name}:AUDIO_INPUT_ERROR`);
    expect(log.at(-1)).toBe('state:idle');
  });

  it('broadcasts the same frames to every attached session and counts a frame once', async () => {
    const player = make();
    const a = new FakeSession();
    const b = new FakeSession();
    player.attach(a);
    player.attach(b);
    player.enqueue(opusFramesInput(packets(1, 6)));
    const fromA = await a.pull(3);
    const fromB = await b.pull(10);
    const restA = await a.pull(6);
    expect([...fromA, ...restA].map(hex)).toEqual(packets(1, 6).map(hex));
    expect(fromB.map(hex)).toEqual(packets(1, 6).map(hex));
    expect(player.stats.framesSent).toBe(6);
    expect(a.streaming).toBe(false);
    expect(b.streaming).toBe(false);
  });

  it('a session that falls behind the window jumps to the live position', async () => {
    const player = make({ broadcastWindow: 4 });
    const a = new FakeSession();
    const b = new FakeSession();
    player.attach(a);
    player.attach(b);
    player.enqueue(opusFramesInput(packets(1, 20)));
    await b.pull(1);
    await a.pull(10);
    const next = await b.pull(1);
    expect(hex(next[0])).toBe(hex(packet(1, 10)));
    expect(player.stats.framesSkipped).toBe(9);
    player.detach(b);
    expect(player.attached).toEqual([a]);
    expect(player.stats.framesSkipped).toBe(9);
  });

  it('counts frames produced later than real time as late', async () => {
    let now = 0;
    const player = make({ now: () => now });
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets(1, 10)));
    await session.pull(3); // produced at t=0: early, fine
    now = 60; // frame 3 is due at 60
    await session.pull(1);
    now = 200; // frame 4 was due at 80: late
    await session.pull(1);
    now = 220; // on time again after re-anchoring
    await session.pull(1);
    expect(player.stats.framesLate).toBe(1);
  });

  it('a subscription pulls the same frames without a session', async () => {
    const player = make();
    const sub = player.subscribe();
    player.enqueue(opusFramesInput(packets(1, 3)));
    const got: string[] = [];
    for await (const frame of sub.frames()) got.push(hex(frame));
    expect(got).toEqual(packets(1, 3).map(hex));
    sub.close();
  });

  it('drops a destroyed session and restarts bursts only after its own burst end', async () => {
    const player = make();
    const refusing = {
      playOpus: (): never => {
        throw new VoxcordError('DESTROYED', 'gone');
      },
    };
    player.attach(refusing);
    player.enqueue(opusFramesInput(packets(1, 2)));
    expect(player.attached).toEqual([]);

    // Someone else took the session over (our transmission was stopped): we do not fight for it.
    const session = new FakeSession();
    player.attach(session);
    await settle();
    await session.pull(1);
    const ours = session.transmissions;
    session.playOpus(Readable.from([]));
    await settle();
    expect(session.transmissions).toBe(ours + 1);
  });

  it('refuses options out of range, and a target that cannot play, with INVALID_ARGUMENT', () => {
    for (const options of [
      { broadcastWindow: 0 }, // used to freeze the process at the first frame
      { broadcastWindow: -1 },
      { broadcastWindow: Number.NaN },
      { stallTimeoutMs: 0 },
      { positionIntervalMs: -1 },
    ] as AudioPlayerOptions[]) {
      let error: unknown;
      try {
        new AudioPlayer(options);
      } catch (e) {
        error = e;
      }
      expect(isVoxcordError(error, 'INVALID_ARGUMENT'), JSON.stringify(options)).toBe(true);
    }
    expect(() => new AudioPlayer({ broadcastWindow: 1 }).destroy()).not.toThrow();
    // Nor does it take something that cannot play as a target.
    const player = new AudioPlayer();
    for (const target of [null, 123, {}]) {
      let error: unknown;
      try {
        player.attach(target as unknown as FakeSession);
      } catch (e) {
        error = e;
      }
      expect(isVoxcordError(error, 'INVALID_ARGUMENT'), JSON.stringify(target)).toBe(true);
    }
    player.destroy();
  });

  it('destroy ends the tracks and refuses further use', async () => {
    const player = make();
    const log = record(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets(1, 10)), { metadata: 'a' });
    await session.pull(1);
    player.destroy();
    expect(log.slice(-2)).toEqual(['end:a:destroyed', 'state:destroyed']);
    expect(() => player.enqueue(opusFramesInput([]))).toThrow(VoxcordError);
    expect(await session.pull(3)).toHaveLength(0);
  });

  it('a listener that throws does not break playback', async () => {
    const player = make();
    player.on('trackStart', () => {
      throw new Error('bad listener');
    });
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(opusFramesInput(packets(1, 2)));
    expect(await session.pull(5)).toHaveLength(2);
  });
});
