import { describe, it, expect, afterEach } from 'vitest';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaChannel, MediaEngine, ReceivedRtp } from '../../src/media/index.js';
import { WorkerMediaEngine } from '../../src/media/worker-engine.js';
import {
  CHANNELS_PER_WORKER,
  COOL_LATE_SHARE,
  COOL_UTILIZATION,
  GROW_LATE_SHARE,
  GROW_UTILIZATION,
  MIN_CHANNELS_PER_WORKER,
  isOverloaded,
  placeChannel,
  shardClockOffsetMs,
  shardPolicy,
} from '../../src/media/shard-policy.js';
import { openRtpPacket, sealRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { isVoxcordError } from '../../src/errors.js';
import type { VoxcordError } from '../../src/errors.js';
import { Responder, waitFor } from './udp-responder.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 13) & 0xff);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function responder(): Promise<Responder> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  return r;
}

function engineOf(workers: number | 'auto'): WorkerMediaEngine {
  const engine = createMediaEngine({ workers, channel: { highWaterMark: 50, lowWaterMark: 2 } });
  cleanups.push(() => engine.close());
  if (!(engine instanceof WorkerMediaEngine)) throw new Error('expected the worker engine');
  return engine;
}

const load = (channels: number, overloaded = false): { channels: number; overloaded: boolean } => ({
  channels,
  overloaded,
});

describe('shard placement policy', () => {
  const auto = shardPolicy('auto', 2);

  it("'auto' keeps one worker for a handful of channels, however overloaded", () => {
    expect(placeChannel([], auto)).toBe(0);
    expect(placeChannel([load(1, true)], auto)).toBe(0);
    expect(placeChannel([load(MIN_CHANNELS_PER_WORKER - 1, true)], auto)).toBe(0);
  });

  it("'auto' adds a worker when every worker's clock cannot keep up, or every one is full, up to the cores", () => {
    expect(placeChannel([load(MIN_CHANNELS_PER_WORKER)], auto)).toBe(0);
    expect(placeChannel([load(MIN_CHANNELS_PER_WORKER, true)], auto)).toBe(1);
    expect(placeChannel([load(CHANNELS_PER_WORKER)], auto)).toBe(1);
    // Two cores: never a third worker; the channel goes to the emptier one.
    expect(placeChannel([load(900, true), load(700, true)], auto)).toBe(1);
    // One overloaded worker and one that keeps up: no new worker, the one that keeps up takes it,
    // even when it holds more channels.
    expect(placeChannel([load(200, true), load(300)], shardPolicy('auto', 8))).toBe(1);
    expect(placeChannel([load(200, true), load(150, true)], shardPolicy('auto', 8))).toBe(2);
    expect(shardPolicy('auto', 1).maxWorkers).toBe(1);
    expect(shardPolicy('auto', 64).maxWorkers).toBe(4);
  });

  it('a worker is overloaded from its busy share or its late deliveries, with hysteresis', () => {
    const sample = (utilization: number, lateShare = 0): { utilization: number; lateShare: number } => ({
      utilization,
      lateShare,
    });
    // Becomes overloaded at the grow marks...
    expect(isOverloaded(false, sample(GROW_UTILIZATION - 0.01), auto)).toBe(false);
    expect(isOverloaded(false, sample(GROW_UTILIZATION), auto)).toBe(true);
    expect(isOverloaded(false, sample(0.1, GROW_LATE_SHARE), auto)).toBe(true);
    expect(isOverloaded(false, sample(0.1, GROW_LATE_SHARE / 2), auto)).toBe(false);
    // ...and stays so between the marks: only below both cool marks is it relieved.
    const between = (GROW_UTILIZATION + COOL_UTILIZATION) / 2;
    expect(isOverloaded(true, sample(between), auto)).toBe(true);
    expect(isOverloaded(false, sample(between), auto)).toBe(false);
    expect(isOverloaded(true, sample(COOL_UTILIZATION - 0.01, COOL_LATE_SHARE), auto)).toBe(true);
    expect(isOverloaded(true, sample(COOL_UTILIZATION - 0.01, COOL_LATE_SHARE / 2), auto)).toBe(false);
    expect(COOL_UTILIZATION).toBeLessThan(GROW_UTILIZATION);
    expect(COOL_LATE_SHARE).toBeLessThan(GROW_LATE_SHARE);
    // A fixed count never judges load.
    expect(isOverloaded(false, sample(1, 1), shardPolicy(2))).toBe(false);
  });

  it("staggers the workers' clocks between each other's phase buckets (4 ms apart)", () => {
    expect([0, 1].map((slot) => shardClockOffsetMs(slot, 2))).toEqual([0, 2]);
    expect([0, 1, 2, 3].map((slot) => shardClockOffsetMs(slot, 4))).toEqual([0, 1, 2, 3]);
    expect(shardClockOffsetMs(0, 1)).toBe(0);
    // More shards than places (a fixed count above the cores): they wrap around.
    expect(shardClockOffsetMs(2, 2)).toBe(0);
  });

  it('a fixed count spreads channels evenly over that many workers', () => {
    const two = shardPolicy(2);
    expect(placeChannel([], two)).toBe(0);
    expect(placeChannel([load(1)], two)).toBe(1);
    expect(placeChannel([load(1), load(1)], two)).toBe(0);
    expect(placeChannel([load(5), load(4)], two)).toBe(1);
    expect(placeChannel([load(0), load(4)], two)).toBe(0);
  });
});

describe('worker engine shards', () => {
  it('rejects a bad workers option', () => {
    for (const workers of [0, 1.5, -1, 99]) {
      expect(() => createMediaEngine({ workers })).toThrowError(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
      );
    }
  });

  it("'auto' runs a few channels on one worker", async () => {
    const r = await responder();
    const engine = engineOf('auto');
    for (let i = 0; i < 3; i++)
      await engine.openChannel({ ssrc: i + 1, serverHost: '127.0.0.1', serverPort: r.port });
    const stats = await engine.stats();
    expect(stats.workers).toBe(1);
    expect(engine.workers()).toHaveLength(1);
    expect(stats.channels).toBe(3);
  });

  it("'auto' starts a second worker once the first one's clock cannot keep up, not before", async () => {
    const r = await responder();
    // The real policy with small marks: 2 channels per worker before load counts, 10% busy is
    // overloaded (lateness is left out here: a loaded test machine makes idle ticks late too).
    const policy = {
      ...shardPolicy('auto', 2),
      minChannelsPerWorker: 2,
      growUtilization: 0.1,
      coolUtilization: 0.05,
      growLateShare: Infinity,
      coolLateShare: Infinity,
    };
    const engine = new WorkerMediaEngine({ policy, channel: { highWaterMark: 60, lowWaterMark: 2 } });
    cleanups.push(() => engine.close());
    let ssrc = 1;
    const open = (): Promise<MediaChannel> =>
      engine.openChannel({ ssrc: ssrc++, serverHost: '127.0.0.1', serverPort: r.port });
    const busy = [await open(), await open(), await open(), await open()];
    // Idle channels: the worker keeps up, more channels join it. Each placement judges a window
    // of idle ticks only: stats() closes the window that held the last opening (its work, which a
    // loaded machine stretches in wall time, is not the clock's load).
    const idle = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await engine.stats();
      await new Promise((resolve) => setTimeout(resolve, 300));
    };
    await idle();
    await open();
    await idle();
    await open();
    expect(engine.workerCount).toBe(1);
    // Synthetic overload: 60 KB frames (encrypted and sent by the worker each tick) on 4 channels.
    const big = new Uint8Array(60_000).fill(7);
    for (const ch of busy) {
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      for (let i = 0; i < 50; i++) ch.enqueue(big);
    }
    const until = performance.now() + 4000;
    while (engine.workerCount === 1 && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await open();
    }
    const stats = await engine.stats();
    expect(stats.workers).toBe(2);
    // The new channel went to the new worker, the overloaded one kept its channels.
    expect(stats.perWorker[1]!.channels).toBeGreaterThanOrEqual(1);
    expect(r.rtp().length).toBeGreaterThan(0);
  });

  it('spreads channels over its workers; each sends its frames in order with its own RTP timeline', async () => {
    const r = await responder();
    const engine = engineOf(2);
    const channels: MediaChannel[] = [];
    for (let i = 0; i < 4; i++)
      channels.push(await engine.openChannel({ ssrc: 100 + i, serverHost: '127.0.0.1', serverPort: r.port }));
    const stats = await engine.stats();
    expect(stats.workers).toBe(2);
    expect(stats.perWorker.map((w) => w.channels)).toEqual([2, 2]);
    expect(new Set(engine.workers().map((w) => w.threadId)).size).toBe(2);
    const frames = (ssrc: number): Uint8Array[] =>
      Array.from({ length: 8 }, (_, k) =>
        Uint8Array.from({ length: 20 + k }, (_, j) => (ssrc + k * 5 + j) & 0xff),
      );
    for (const [i, ch] of channels.entries()) {
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      for (const f of frames(100 + i)) ch.enqueue(f);
    }
    await waitFor(() => r.rtp().length >= 4 * 8, 4000);
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    const bySsrc = new Map<number, { sequence: number; timestamp: number; payload: number[] }[]>();
    for (const d of r.rtp()) {
      const o = openRtpPacket(d, cipher);
      if ('drop' in o) throw new Error(o.drop);
      const list = bySsrc.get(o.info.ssrc) ?? [];
      list.push({ sequence: o.info.sequence, timestamp: o.info.timestamp, payload: [...o.payload] });
      bySsrc.set(o.info.ssrc, list);
    }
    for (let i = 0; i < 4; i++) {
      const got = bySsrc.get(100 + i)!;
      expect(got.map((p) => p.payload)).toEqual(frames(100 + i).map((f) => [...f]));
      for (let k = 1; k < got.length; k++) {
        expect(got[k]!.sequence).toBe((got[k - 1]!.sequence + 1) & 0xffff);
        expect(got[k]!.timestamp).toBe((got[k - 1]!.timestamp + 960) % 2 ** 32);
      }
    }
    // The counters in shared memory (read with no message) agree with what the workers answer.
    const shared = engine.clockCounts();
    const after = await engine.stats();
    expect(shared).toHaveLength(2);
    for (const [i, w] of after.perWorker.entries()) {
      expect(shared[i]!.ticksDelivered).toBeGreaterThan(0);
      expect(shared[i]!.ticksDelivered).toBeLessThanOrEqual(w.clock.ticksDelivered);
      expect(shared[i]!.lateTicks).toBeLessThanOrEqual(w.clock.lateTicks);
    }
    // Every shard's clock ticked; the engine sums them.
    expect(after.clock.ticksDelivered).toBe(after.perWorker.reduce((n, w) => n + w.clock.ticksDelivered, 0));
    expect(after.clock.slots).toBe(4);
  });

  it('delivers received packets from every worker to their channel', async () => {
    const servers = [await responder(), await responder()];
    const engine = engineOf(2);
    const got: ReceivedRtp[][] = [[], []];
    for (const [i, r] of servers.entries()) {
      const ch = await engine.openChannel({ ssrc: 7 + i, serverHost: '127.0.0.1', serverPort: r.port });
      await ch.discoverAddress();
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      ch.on('rtp', (p) => got[i]!.push(p));
      await ch.stats();
    }
    expect((await engine.stats()).workers).toBe(2);
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    for (const [i, r] of servers.entries())
      for (let k = 0; k < 3; k++)
        r.sendToPeer(
          sealRtpPacket(
            { sequence: k, timestamp: k * 960, ssrc: 50 + i },
            Uint8Array.of(i, k),
            cipher,
            k + 1,
          ),
        );
    await waitFor(() => got[0]!.length === 3 && got[1]!.length === 3);
    for (const i of [0, 1]) {
      const packets = [...got[i]!].sort((a, b) => a.sequence - b.sequence);
      expect(packets.map((p) => [p.ssrc, [...p.payload]])).toEqual([0, 1, 2].map((k) => [50 + i, [i, k]]));
    }
  });

  it('closing a channel frees its place; the emptier worker takes the next one', async () => {
    const r = await responder();
    const engine = engineOf(2);
    const open = (ssrc: number): Promise<MediaChannel> =>
      engine.openChannel({ ssrc, serverHost: '127.0.0.1', serverPort: r.port });
    const [a, b, c] = [await open(1), await open(2), await open(3)];
    expect((await engine.stats()).perWorker.map((w) => w.channels)).toEqual([2, 1]);
    a.close();
    c.close();
    expect((await engine.stats()).perWorker.map((w) => w.channels)).toEqual([0, 1]);
    await open(4);
    expect((await engine.stats()).perWorker.map((w) => w.channels)).toEqual([1, 1]);
    b.close();
  });

  it('a worker that dies fails its channels with a typed error and counts their queued frames; the others go on', async () => {
    const r = await responder();
    const engine = engineOf(2);
    const open = (ssrc: number): Promise<MediaChannel> =>
      engine.openChannel({ ssrc, serverHost: '127.0.0.1', serverPort: r.port });
    const survivor = await open(1);
    const victim = await open(2);
    // Five frames wait in the second worker (no transport key yet, so nothing is sent).
    for (let i = 0; i < 5; i++) victim.enqueue(Uint8Array.of(i, 1, 2));
    await victim.stats();
    const errors: VoxcordError[] = [];
    const drops: [string, number][] = [];
    victim.on('error', (e) => errors.push(e));
    victim.on('sendDrop', (reason, n) => drops.push([reason, n]));
    await engine.workers()[1]!.terminate();
    await waitFor(() => errors.length === 1);
    expect(isVoxcordError(errors[0], 'UDP_ERROR')).toBe(true);
    expect(drops).toEqual([['session-ended', 5]]);
    expect(victim.sendCounts?.().dropped['session-ended']).toBe(5);
    expect(victim.enqueue(Uint8Array.of(1))).toBe(false);
    await expect(victim.stats()).rejects.toMatchObject({ code: 'DESTROYED' });
    const stats = await engine.stats();
    expect(stats).toMatchObject({ workers: 1, workerCrashes: 1, framesLostInCrashes: 5, channels: 1 });
    // The surviving worker still sends, and the engine still opens channels (on a new worker).
    survivor.setTransport(EncryptionMode.AesGcm, KEY);
    survivor.enqueue(Uint8Array.of(9, 9, 9));
    await waitFor(() => r.rtp().length >= 1);
    const again = await open(3);
    again.setTransport(EncryptionMode.AesGcm, KEY);
    again.enqueue(Uint8Array.of(8, 8, 8));
    await waitFor(() => r.rtp().length >= 2);
    expect((await engine.stats()).workers).toBe(2);
    expect(engine.closed).toBe(false);
  });

  it("reports each worker's own isolate memory: heap by space, external and ArrayBuffer bytes", async () => {
    const r = await responder();
    const engine = engineOf(2);
    const channels: MediaChannel[] = [];
    for (let i = 0; i < 2; i++)
      channels.push(await engine.openChannel({ ssrc: i + 1, serverHost: '127.0.0.1', serverPort: r.port }));
    // A frame queued on one worker only: its send queue's store is that worker's ArrayBuffer.
    channels[0]!.setTransport(EncryptionMode.AesGcm, KEY);
    channels[0]!.enqueue(new Uint8Array(100).fill(1));
    await waitFor(() => r.rtp().length >= 1);
    const report = await engine.workerMemory();
    expect(report).toHaveLength(2);
    for (const m of report) {
      expect(m.spaces.map((s) => s.name)).toEqual(expect.arrayContaining(['new_space', 'old_space']));
      const used = m.spaces.reduce((n, s) => n + s.used, 0);
      expect(used).toBeGreaterThan(1 << 20); // a worker's bootstrap alone is megabytes
      expect(Math.abs(used - m.heapUsed)).toBeLessThan(1 << 20);
      expect(m.external).toBeGreaterThanOrEqual(m.arrayBuffers);
    }
  });

  it('close stops every worker', async () => {
    const r = await responder();
    const engine: MediaEngine = engineOf(2);
    await engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: r.port });
    await engine.openChannel({ ssrc: 2, serverHost: '127.0.0.1', serverPort: r.port });
    const workers = (engine as WorkerMediaEngine).workers();
    const exits = workers.map((w) => new Promise<number>((res) => w.once('exit', res)));
    await engine.close();
    expect(await Promise.all(exits)).toHaveLength(2);
    await expect(
      engine.openChannel({ ssrc: 3, serverHost: '127.0.0.1', serverPort: r.port }),
    ).rejects.toMatchObject({ code: 'DESTROYED' });
  });
});
