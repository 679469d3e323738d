import { afterEach, describe, it, expect } from 'vitest';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VoiceReceiver, type VoiceReceiverOptions } from '../../src/receive/receiver.js';
import { UserAudioStream, type ReceivedFrame } from '../../src/receive/user-stream.js';
import { AudioByteStream } from '../../src/receive/byte-stream.js';
import { OggOpusDemuxer } from '../../src/audio/ogg-opus-demuxer.js';
import type { OpusDecoder } from '../../src/audio/opus.js';
import { isVoxcordError } from '../../src/errors.js';
import * as voxcord from '../../src/index.js';
import { inboundFeed, rtp, runClock, schedule } from './helpers.js';

const SILENCE = Uint8Array.of(0xf8, 0xff, 0xfe);
const receivers: VoiceReceiver[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) r.close();
  for (const c of cleanups.splice(0)) await c();
});

function receiver(options: VoiceReceiverOptions = {}): VoiceReceiver {
  const r = new VoiceReceiver(options);
  receivers.push(r);
  return r;
}

/** PCM filled with the packet's second byte; PLC gives -1. */
const fakeDecoder = (): OpusDecoder => ({
  concealment: 'plc',
  decode: (p) => new Int16Array(1920).fill(p[1] ?? 0),
  conceal: () => new Int16Array(1920).fill(-1),
  close: () => undefined,
});

function feed(r: VoiceReceiver, packets: Uint8Array[], skip: ReadonlySet<number> = new Set()): void {
  const sched = schedule(packets.length).filter((s) => !skip.has(s.index));
  const inbound = alice(r);
  runClock(
    sched,
    sched.at(-1)!.arrival + 1000,
    (s) => inbound.packet(rtp(s.index, packets[s.index]!, s.arrival)),
    (now) => r.tick(now),
  );
}

/** The inbound stage in front of `r`, with the test's SSRC mapped to alice. */
function alice(r: VoiceReceiver): ReturnType<typeof inboundFeed> {
  const inbound = inboundFeed(r);
  inbound.map(1234, 'alice');
  return inbound;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'voxcord-bytes-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('AudioByteStream: a pipe-able view of a user', () => {
  it('PCM: s16le bytes piped to a file, one 3840-byte frame per 20 ms, lost frames concealed in place', async () => {
    const r = receiver({ createDecoder: fakeDecoder, jitter: { adaptive: false } });
    const bytes = r.subscribe('alice').bytes();
    expect(bytes.readableObjectMode).toBe(false);
    const file = join(await tempDir(), 'alice.pcm');
    const written = pipeline(bytes, createWriteStream(file));
    feed(
      r,
      Array.from({ length: 20 }, (_, i) => Uint8Array.of(0xfc, i + 1)),
      new Set([5]),
    );
    r.close();
    await written;
    const out = await readFile(file);
    expect(out.length).toBe(20 * 3840);
    const samples = new Int16Array(out.buffer, out.byteOffset, out.length / 2);
    for (let i = 0; i < 20; i++) expect(samples[i * 1920 + 7]).toBe(i === 5 ? -1 : i + 1);
  });

  it('Opus: one Buffer per packet (object mode); lost packets are left out and counted', async () => {
    const r = receiver({ jitter: { adaptive: false } });
    const bytes = r.subscribe('alice', { mode: 'opus' }).bytes();
    expect(bytes.readableObjectMode).toBe(true);
    const packets = Array.from({ length: 10 }, (_, i) => Uint8Array.of(0xfc, i));
    feed(r, packets, new Set([3, 4]));
    r.close();
    const got: Buffer[] = [];
    for await (const chunk of bytes) got.push(chunk as Buffer);
    expect(got.map((b) => b[1])).toEqual([0, 1, 2, 5, 6, 7, 8, 9]);
    expect(got.every((b) => Buffer.isBuffer(b))).toBe(true);
    expect(bytes.framesLost).toBe(2);
  });

  it('Ogg: a valid Ogg Opus file over a TCP socket; lost packets filled with silence, counted', async () => {
    const received: Buffer[] = [];
    let ended!: () => void;
    const endedP = new Promise<void>((resolve) => (ended = resolve));
    const server: Server = createServer((socket) => {
      socket.on('data', (b: Buffer) => received.push(b));
      socket.on('end', () => ended());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((res) => server.close(() => res())));
    const r = receiver({ jitter: { adaptive: false } });
    const bytes = r.subscribe('alice', { mode: 'opus' }).bytes({ format: 'ogg' });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const sent = pipeline(bytes, socket);
    const packets = Array.from({ length: 60 }, (_, i) => Uint8Array.of(0xfc, i, 0xaa));
    feed(r, packets, new Set([10]));
    r.close();
    await sent;
    await endedP;
    const demuxer = new OggOpusDemuxer();
    const out = demuxer.push(Buffer.concat(received));
    demuxer.end();
    expect(out.length).toBe(60);
    expect(out[10]).toEqual(SILENCE);
    expect(out.filter((_, i) => i !== 10)).toEqual(packets.filter((_, i) => i !== 10));
    expect(bytes.framesFilled).toBe(1);
  });

  it('a slow consumer holds frames back in the capped source queue (drops counted, no unbounded buffer)', async () => {
    const s = new UserAudioStream('u', { mode: 'opus', maxQueuedFrames: 8 });
    const bytes = s.bytes({ highWaterMark: 2 });
    const frame = (i: number): ReceivedFrame => ({
      sequence: i,
      timestamp: i * 960,
      receivedAt: i * 20,
      payload: Uint8Array.of(0xfc, i),
      concealed: false,
    });
    bytes.pause();
    for (let i = 0; i < 40; i++) s.deliver(frame(i), i * 20, true);
    await new Promise((res) => setImmediate(res));
    expect(bytes.readableLength).toBeLessThanOrEqual(2);
    s.finish();
    const got: number[] = [];
    for await (const chunk of bytes) got.push((chunk as Buffer)[1]!);
    // What was read plus what the capped queue dropped is every frame delivered.
    expect(got.length + bytes.framesDropped).toBe(40);
    expect(bytes.framesDropped).toBeGreaterThan(0);
    expect(got).toEqual([...got].sort((a, b) => a - b));
  });

  it('rejects a format that does not fit the subscription mode with a typed error', () => {
    const pcm = new UserAudioStream('u', {});
    const opus = new UserAudioStream('u', { mode: 'opus' });
    for (const make of [() => pcm.bytes({ format: 'ogg' }), () => opus.bytes({ format: 'pcm' })]) {
      try {
        make();
        expect.unreachable();
      } catch (err) {
        expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
      }
    }
    expect(new AudioByteStream(opus).format).toBe('opus');
  });

  it('afterInactivity ends the stream durationMs after the last packet (silence frames count)', async () => {
    const r = receiver({ jitter: { adaptive: false } });
    const inactive = r.subscribe('alice', {
      mode: 'opus',
      end: { behavior: 'afterInactivity', durationMs: 200 },
    });
    const silent = r.subscribe('alice', { mode: 'opus', end: { behavior: 'afterSilence', durationMs: 200 } });
    const bytes = inactive.bytes();
    const packets = [
      ...Array.from({ length: 10 }, (_, i) => Uint8Array.of(0xfc, i)),
      ...Array.from({ length: 20 }, () => SILENCE),
    ];
    let inactiveAt: number | undefined;
    let silentAt: number | undefined;
    const sched = schedule(packets.length);
    const inbound = alice(r);
    runClock(
      sched,
      sched.at(-1)!.arrival + 1000,
      (x) => inbound.packet(rtp(x.index, packets[x.index]!, x.arrival)),
      (now) => {
        r.tick(now);
        if (inactive.isFinished) inactiveAt ??= now;
        if (silent.isFinished) silentAt ??= now;
      },
    );
    const got: Buffer[] = [];
    for await (const chunk of bytes) got.push(chunk as Buffer);
    expect(got.length).toBe(30); // every packet, silence included, then the end
    // afterSilence ended 200 ms after the last voice frame; afterInactivity 200 ms after the last packet.
    expect(silentAt).toBeDefined();
    expect(inactiveAt).toBeDefined();
    expect(inactiveAt! - silentAt!).toBeGreaterThanOrEqual(20 * 20 - 20);
    expect(inactiveAt! - silentAt!).toBeLessThanOrEqual(20 * 20 + 20);
  });

  it('the byte view and the recorders come from the package root', async () => {
    expect(voxcord.AudioByteStream).toBe(AudioByteStream);
    expect(typeof voxcord.recordWav).toBe('function');
    expect(typeof voxcord.recordOggOpus).toBe('function');
    // recordOggOpus from the root writes what the Ogg byte view writes: a file the demuxer reads back.
    const s = new UserAudioStream('u', { mode: 'opus' });
    const file = join(await tempDir(), 'u.ogg');
    const done = voxcord.recordOggOpus(s.frames(), file);
    for (let i = 0; i < 5; i++)
      s.deliver(
        { sequence: i, timestamp: i * 960, receivedAt: i, payload: Uint8Array.of(0xfc, i), concealed: false },
        i,
        true,
      );
    s.finish();
    await done;
    const demuxer = new OggOpusDemuxer();
    const packets = demuxer.push(await readFile(file));
    demuxer.end();
    expect(packets.map((p) => p[1])).toEqual([0, 1, 2, 3, 4]);
  });
});
