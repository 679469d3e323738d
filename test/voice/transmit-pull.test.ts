/**
 * The synchronous frame pull (voice/frame-pull.ts): the transmit pump takes frames from a source
 * that has them ready without a promise per frame, and keeps order, backpressure, the end of the
 * source and typed errors exactly as the awaited path does.
 */
import { describe, it, expect } from 'vitest';
import { PassThrough } from 'node:stream';
import { transmit } from '../../src/voice/transmit.js';
import type { TransmitLink } from '../../src/voice/transmit.js';
import { NOT_READY, pumpIterator, READ_AHEAD_ITEMS, ReadAhead } from '../../src/voice/frame-pull.js';
import type { NotReady, SyncPullIterator } from '../../src/voice/frame-pull.js';
import { RelaySource } from '../../src/gateway/playback.js';
import { FrameFanout } from '../../src/player/fanout.js';
import { isVoxcordError, VoxcordError } from '../../src/errors.js';
import { FakeChannel, until } from './fakes.js';

const frame = (n: number): Uint8Array => Uint8Array.of(0xfc, n);
const ids = (frames: readonly Uint8Array[]): number[] => frames.map((f) => f[1]!);

function setup(): { log: string[]; channel: FakeChannel; link: TransmitLink } {
  const log: string[] = [];
  const channel = new FakeChannel(
    { ssrc: 1, serverHost: '127.0.0.1', serverPort: 1 },
    log,
    new Promise(() => undefined),
  );
  const link: TransmitLink = {
    readyChannel: () => channel,
    readyEpoch: () => 1,
    isDestroyed: () => false,
    sendSpeaking: (flags) => log.push(`speaking:${flags}`),
    onChange: () => () => undefined,
  };
  return { log, channel, link };
}

/**
 * A source whose frames are either ready (pullNow() hands them over) or not yet (only next(),
 * which waits for them, does); it records how each frame left and notes any pullNow() that
 * overtakes a pending next().
 */
class ScriptedSource implements AsyncIterable<Uint8Array> {
  private readonly items: { frame: Uint8Array; ready: boolean }[] = [];
  ended = false;
  failure: Error | undefined;
  syncPulls = 0;
  asyncPulls = 0;
  returned = false;
  overtaken = false;
  private pending = 0;

  push(ready: boolean, ...frames: Uint8Array[]): void {
    for (const f of frames) this.items.push({ frame: f, ready });
  }
  get left(): number {
    return this.items.length;
  }

  [Symbol.asyncIterator](): SyncPullIterator<Uint8Array> {
    return {
      pullNow: (): IteratorResult<Uint8Array> | NotReady => {
        if (this.pending > 0) this.overtaken = true;
        const head = this.items[0];
        if (head?.ready === true) {
          this.items.shift();
          this.syncPulls++;
          return { done: false, value: head.frame };
        }
        if (head !== undefined) return NOT_READY;
        if (this.failure !== undefined) throw this.failure;
        if (this.ended) return { done: true, value: undefined };
        return NOT_READY;
      },
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        this.pending++;
        do await new Promise((r) => setTimeout(r, 1));
        while (this.items.length === 0 && !this.ended && this.failure === undefined && !this.returned);
        this.pending--;
        const head = this.items.shift();
        if (head !== undefined) {
          this.asyncPulls++;
          return { done: false, value: head.frame };
        }
        if (this.failure !== undefined) throw this.failure;
        return { done: true, value: undefined };
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        this.returned = true;
        return { done: true, value: undefined };
      },
    };
  }
}

describe('transmit: synchronous frame pull', () => {
  it('takes ready frames without awaiting next(), in order, and stops pulling when the channel is full', async () => {
    const { channel, link } = setup();
    channel.highWater = 3;
    const source = new ScriptedSource();
    for (let i = 1; i <= 6; i++) source.push(true, frame(i));
    source.ended = true;
    const t = transmit(link, source);
    await until(() => channel.enqueued.length === 3);
    await new Promise((r) => setTimeout(r, 30));
    // Full after frame 3: frame 4 is held by the pump (pending), 5 and 6 are left in the source.
    expect(ids(channel.enqueued)).toEqual([1, 2, 3]);
    expect(source.left).toBe(2);
    channel.consume(3);
    channel.emit('drain');
    await t.finished;
    expect(ids(channel.enqueued)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(source.syncPulls).toBe(6);
    expect(source.asyncPulls).toBe(0);
    expect(t.framesSent).toBe(6);
    // The source ended by itself: not returned.
    expect(source.returned).toBe(false);
  });

  it('falls back to next() when nothing is ready and keeps the order across both ways', async () => {
    const { log, channel, link } = setup();
    const source = new ScriptedSource();
    source.push(true, frame(1), frame(2));
    source.push(false, frame(3));
    const t = transmit(link, source);
    await until(() => channel.enqueued.length === 3);
    source.push(true, frame(4), frame(5));
    source.push(false, frame(6));
    source.ended = true;
    await t.finished;
    expect(ids(channel.enqueued)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(source.overtaken).toBe(false);
    expect(source.asyncPulls).toBeGreaterThanOrEqual(2);
    expect(log.filter((l) => l.startsWith('speaking'))).toEqual(['speaking:1', 'speaking:0']);
  });

  it('an error thrown by pullNow() rejects finished with AUDIO_INPUT_ERROR after the burst ends', async () => {
    const { log, channel, link } = setup();
    const source = new ScriptedSource();
    source.push(true, frame(1));
    source.failure = new Error('disk gone');
    const err: unknown = await transmit(link, source).finished.catch((e: unknown) => e);
    expect(isVoxcordError(err, 'AUDIO_INPUT_ERROR')).toBe(true);
    expect((err as VoxcordError).cause).toBe(source.failure);
    expect(ids(channel.enqueued)).toEqual([1]);
    expect(log.slice(-3)).toEqual(['endBurst', 'burstEnd', 'speaking:0']);
  });

  it('a typed error from a sync source passes through unchanged', async () => {
    const { link } = setup();
    const typed = new VoxcordError('OPUS_UNAVAILABLE', 'no Opus backend');
    function* failing(): Generator<Uint8Array> {
      yield frame(1);
      throw typed;
    }
    const err: unknown = await transmit(
      link,
      failing() as unknown as AsyncIterable<Uint8Array>,
    ).finished.catch((e: unknown) => e);
    expect(err).toBe(typed);
  });

  it('an object-mode Readable: buffered frames are read synchronously, stop() still destroys it', async () => {
    const { channel, link } = setup();
    channel.highWater = 4;
    const stream = new PassThrough({ objectMode: true });
    for (let i = 1; i <= 8; i++) stream.write(frame(i));
    const t = transmit(link, stream);
    await until(() => channel.enqueued.length === 4);
    channel.consume(4);
    channel.emit('drain');
    await until(() => channel.enqueued.length === 8);
    expect(ids(channel.enqueued)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    t.stop();
    await t.finished;
    await until(() => stream.destroyed);
  });
});

describe('transmit: an async generator is read ahead', () => {
  it('frames it had ready are queued synchronously on drain, in order, none skipped', async () => {
    const { channel, link } = setup();
    channel.highWater = 4;
    async function* gen(): AsyncGenerator<Uint8Array> {
      for (let i = 1; i <= 40; i++) yield frame(i);
    }
    const t = transmit(link, gen());
    await until(() => channel.enqueued.length === 4);
    await new Promise((r) => setImmediate(r)); // the reads in flight settle meanwhile
    channel.consume(4);
    channel.emit('drain');
    // Taken without a promise each: the pump's one wake-up queues all four (awaiting each frame
    // from the generator takes several microtask turns per frame).
    for (let i = 0; i < 4; i++) await Promise.resolve();
    expect(ids(channel.enqueued)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (let sent = 8; sent < 40; sent += 4) {
      await new Promise((r) => setImmediate(r));
      channel.consume(4);
      channel.emit('drain');
    }
    await t.finished;
    expect(ids(channel.enqueued)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it("a generator's error comes after the frames it yielded before it", async () => {
    const { channel, link } = setup();
    async function* gen(): AsyncGenerator<Uint8Array> {
      yield frame(1);
      yield frame(2);
      throw new Error('boom');
    }
    const err: unknown = await transmit(link, gen()).finished.catch((e: unknown) => e);
    expect(ids(channel.enqueued)).toEqual([1, 2]);
    expect(isVoxcordError(err, 'AUDIO_INPUT_ERROR')).toBe(true);
  });

  it('release() hands back the frames read ahead after the queued and pending ones: none lost, none twice', async () => {
    const { channel, link } = setup();
    channel.highWater = 3;
    const taken: Uint8Array[] = [];
    link.takeUnsent = async () => taken.splice(0);
    channel.enqueue = (f: Uint8Array): boolean => {
      taken.push(f);
      return taken.length < 3;
    };
    let pulled = 0;
    async function* gen(): AsyncGenerator<Uint8Array> {
      for (let i = 1; i <= 100; i++) {
        pulled = i;
        yield frame(i);
      }
    }
    const t = transmit(link, gen());
    await until(() => taken.length === 3);
    await new Promise((r) => setImmediate(r));
    const back = await t.release();
    await t.finished;
    expect(pulled).toBeGreaterThan(4); // read ahead past the pending frame
    expect(ids(back)).toEqual(Array.from({ length: back.length }, (_, i) => i + 1));
    expect(back.length).toBeGreaterThanOrEqual(pulled - 1); // the generator's last yield may be unread
  });

  it('a live generator has one next() pending at most: stop() closes it after one more item, not 32', async () => {
    const { channel, link } = setup();
    channel.highWater = 2;
    let produced = 0;
    let closedAt = -1;
    async function* live(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          await new Promise((r) => setTimeout(r, 10)); // audio in real time
          yield frame(++produced);
        }
      } finally {
        closedAt = produced;
      }
    }
    const t = transmit(link, live());
    await until(() => channel.enqueued.length === 2);
    const producedAtStop = produced;
    t.stop();
    await t.finished;
    await until(() => closedAt >= 0);
    expect(closedAt).toBeLessThanOrEqual(producedAtStop + 1);
  });

  it('reads at most READ_AHEAD_ITEMS ahead, and only native async generators', async () => {
    let calls = 0;
    async function* gen(): AsyncGenerator<number> {
      for (let i = 0; ; i++) {
        calls++;
        yield i;
      }
    }
    const it = pumpIterator(gen()) as ReadAhead<number>;
    expect(it).toBeInstanceOf(ReadAhead);
    expect(it.pullNow()).toBe(NOT_READY);
    await new Promise((r) => setImmediate(r));
    expect(it.buffered).toBe(READ_AHEAD_ITEMS);
    expect(calls).toBeLessThanOrEqual(READ_AHEAD_ITEMS + 1);
    expect(it.pullNow()).toEqual({ done: false, value: 0 });
    await it.return();
    expect(it.pullNow()).toEqual({ done: true, value: undefined });

    // A hand-written async iterator never gets a second next() before the first settled.
    let inFlight = 0;
    let most = 0;
    const custom: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 1));
          inFlight--;
          return { done: false, value: frame(1) };
        },
      }),
    };
    const { channel, link } = setup();
    channel.highWater = 3;
    const t = transmit(link, custom);
    await until(() => channel.enqueued.length === 3);
    t.stop();
    await t.finished;
    expect(most).toBe(1);
  });
});

describe('RelaySource: synchronous pull', () => {
  it('hands ready values at once, never overtakes a restore, and puts restored values first', async () => {
    const relay = new RelaySource<number>([0, 1, 2, 3] as unknown as AsyncIterable<number>);
    const it = relay.view()[Symbol.asyncIterator]() as SyncPullIterator<number>;
    expect(it.pullNow()).toEqual({ done: false, value: 0 });
    expect(it.pullNow()).toEqual({ done: false, value: 1 });
    let give: (v: number[]) => void = () => undefined;
    relay.restore(new Promise<number[]>((r) => (give = r)));
    expect(it.pullNow()).toBe(NOT_READY);
    const next = it.next();
    give([10, 11]);
    expect(await next).toEqual({ done: false, value: 10 });
    expect(it.pullNow()).toEqual({ done: false, value: 11 });
    expect(it.pullNow()).toEqual({ done: false, value: 2 });
    expect(it.pullNow()).toEqual({ done: false, value: 3 });
    expect(it.pullNow()).toEqual({ done: true, value: undefined });
    expect(relay.ended).toBe(true);
  });

  it('is NOT_READY over an async source, and a source error thrown synchronously ends the relay', async () => {
    async function* gen(): AsyncGenerator<number> {
      yield 1;
    }
    const relay = new RelaySource<number>(gen());
    const it = relay.view()[Symbol.asyncIterator]() as SyncPullIterator<number>;
    expect(it.pullNow()).toBe(NOT_READY);
    expect(await it.next()).toEqual({ done: false, value: 1 });

    // eslint-disable-next-line require-yield -- fails on its first pull
    function* failing(): Generator<number> {
      throw new Error('boom');
    }
    const broken = new RelaySource<number>(failing() as unknown as AsyncIterable<number>);
    const bit = broken.view()[Symbol.asyncIterator]() as SyncPullIterator<number>;
    expect(() => bit.pullNow()).toThrow('boom');
    expect(broken.ended).toBe(true);
  });
});

describe('FrameFanout: synchronous pull', () => {
  it('a reader behind another gets the produced frames at once; the first waits for production', async () => {
    let n = 0;
    const fanout = new FrameFanout(() => Promise.resolve(++n <= 3 ? frame(n) : undefined));
    const ends: string[] = [];
    const streamA = fanout.reader().stream(() => ends.push('a'));
    const streamB = fanout.reader().stream(() => ends.push('b'));
    const a = streamA[Symbol.asyncIterator]() as SyncPullIterator<Uint8Array>;
    const b = streamB[Symbol.asyncIterator]() as SyncPullIterator<Uint8Array>;
    expect(a.pullNow()).toBe(NOT_READY);
    const got: number[] = [];
    for (;;) {
      const r = await a.next();
      if (r.done === true) break;
      got.push(r.value[1]!);
    }
    expect(got).toEqual([1, 2, 3]);
    const fromB: number[] = [];
    for (;;) {
      const r = b.pullNow();
      if (r === NOT_READY) throw new Error('b should have every frame ready');
      if (r.done === true) break;
      fromB.push(r.value[1]!);
    }
    expect(fromB).toEqual([1, 2, 3]);
    expect(ends).toEqual(['a', 'b']);
  });
});
