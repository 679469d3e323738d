import { afterEach, describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { transmit } from '../../src/voice/transmit.js';
import type { TransmitLink } from '../../src/voice/transmit.js';
import { isVoxcordError } from '../../src/errors.js';
import { FakeChannel, PushSource, until } from './fakes.js';

class FakeLink implements TransmitLink {
  ready = true;
  epoch = 1;
  destroyed = false;
  readonly speaking: number[] = [];
  /** When set, frames go through it (DAVE): null drops the frame. */
  prepare: ((frame: Uint8Array) => Uint8Array | null) | undefined;
  private listeners = new Set<() => void>();
  constructor(
    readonly channel: FakeChannel,
    readonly log: string[],
  ) {}
  readyChannel(): FakeChannel | undefined {
    return this.ready && !this.destroyed ? this.channel : undefined;
  }
  readyEpoch(): number {
    return this.epoch;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  sendSpeaking(flags: number): void {
    this.speaking.push(flags);
    this.log.push(`speaking:${flags}`);
  }
  prepareFrame(frame: Uint8Array): Uint8Array | null {
    return this.prepare === undefined ? frame : this.prepare(frame);
  }
  hold: (() => boolean) | undefined;
  holdFrames(): boolean {
    return this.hold?.() ?? false;
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  change(update: Partial<Pick<FakeLink, 'ready' | 'epoch' | 'destroyed'>>): void {
    Object.assign(this, update);
    for (const l of [...this.listeners]) l();
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}

function setup(): { log: string[]; channel: FakeChannel; link: FakeLink } {
  const log: string[] = [];
  const channel = new FakeChannel(
    { ssrc: 1, serverHost: '127.0.0.1', serverPort: 1 },
    log,
    new Promise(() => undefined),
  );
  return { log, channel, link: new FakeLink(channel, log) };
}

const frame = (n: number): Uint8Array => Uint8Array.of(0xfc, n);

describe('transmit', () => {
  let cleanup: (() => void) | undefined;
  afterEach(() => {
    cleanup?.();
    cleanup = undefined;
  });

  it('enqueues what prepareFrame returns and skips dropped frames (no Speaking for them)', async () => {
    const { log, channel, link } = setup();
    link.prepare = (f) => (f[1] === 2 ? null : Uint8Array.of(...f, 0xfa, 0xfa));
    const t = transmit(link, [frame(1), frame(2), frame(3)] as unknown as AsyncIterable<Uint8Array>);
    await t.finished;
    expect(channel.enqueued.map((f) => [...f])).toEqual([
      [0xfc, 1, 0xfa, 0xfa],
      [0xfc, 3, 0xfa, 0xfa],
    ]);
    expect(t.framesSent).toBe(2);
    expect(log.filter((e) => e.startsWith('speaking'))).toEqual(['speaking:1', 'speaking:0']);
  });

  it('holds frames while the link says so, then sends every one of them in order', async () => {
    const { channel, link } = setup();
    let keyed = false;
    const prepared: number[] = [];
    link.hold = () => !keyed;
    link.prepare = (f) => {
      prepared.push(f[1]!);
      return f;
    };
    const t = transmit(link, [frame(1), frame(2), frame(3)] as unknown as AsyncIterable<Uint8Array>);
    await new Promise((r) => setTimeout(r, 60));
    // Nothing was prepared (so nothing encrypted with no key, nothing dropped) while held.
    expect(prepared).toEqual([]);
    expect(channel.enqueued).toEqual([]);
    keyed = true;
    await t.finished;
    expect(prepared).toEqual([1, 2, 3]);
    expect(channel.enqueued.map((f) => f[1])).toEqual([1, 2, 3]);
  });

  it('a dropped frame still takes its time slot: an endless source does not starve the event loop', async () => {
    const { channel, link } = setup();
    link.prepare = () => null;
    let pulled = 0;
    const endless = (async function* () {
      for (;;) {
        pulled++;
        yield frame(pulled & 0xff);
      }
    })();
    const t = transmit(link, endless);
    // A timer can only fire if the pump yields to the event loop between dropped frames.
    await new Promise((r) => setTimeout(r, 50));
    expect(pulled).toBeLessThan(50);
    expect(pulled).toBeGreaterThan(0);
    t.stop();
    await t.finished;
    expect(channel.enqueued).toEqual([]);
    expect(link.listenerCount).toBe(0);
  });

  it('sends Speaking before the first frame, then endBurst, then Speaking 0 after burstEnd', async () => {
    const { log, channel, link } = setup();
    const t = transmit(link, [frame(1), frame(2), frame(3)] as unknown as AsyncIterable<Uint8Array>);
    await t.finished;
    expect(log).toEqual([
      'speaking:1',
      'enqueue',
      'enqueue',
      'enqueue',
      'endBurst',
      'burstEnd',
      'speaking:0',
    ]);
    expect(channel.enqueued).toEqual([frame(1), frame(2), frame(3)]);
    expect(t.framesSent).toBe(3);
    expect(link.listenerCount).toBe(0);
  });

  it('accepts an object-mode Readable and skips empty frames', async () => {
    const { channel, link } = setup();
    const t = transmit(link, Readable.from([frame(1), new Uint8Array(0), Buffer.from([0xfc, 2])]));
    await t.finished;
    expect(channel.enqueued.map((f) => f[1])).toEqual([1, 2]);
  });

  it('uses the given speaking flags', async () => {
    const { link } = setup();
    await transmit(link, Readable.from([frame(1)]), { speakingFlags: 5 }).finished;
    expect(link.speaking).toEqual([5, 0]);
  });

  it('does not send Speaking at all for an empty source', async () => {
    const { log, link } = setup();
    await transmit(link, Readable.from([])).finished;
    expect(log).toEqual([]);
  });

  it('respects backpressure: no enqueue after false until drain', async () => {
    const { channel, link } = setup();
    channel.highWater = 2;
    const source = new PushSource();
    const t = transmit(link, source);
    source.push(frame(1), frame(2), frame(3), frame(4));
    await until(() => channel.enqueued.length === 2);
    // Give the pump every chance to misbehave.
    await new Promise((r) => setTimeout(r, 30));
    expect(channel.enqueued.length).toBe(2);
    channel.consume(2);
    channel.emit('drain');
    await until(() => channel.enqueued.length === 4);
    // Full again after frame 4: ending the source still ends the burst without another drain.
    source.end();
    await t.finished;
    expect(t.framesSent).toBe(4);
  });

  it('a drain that happens while the session is resuming is not missed', async () => {
    const { channel, link } = setup();
    channel.highWater = 1;
    const source = new PushSource();
    const t = transmit(link, source);
    source.push(frame(1), frame(2));
    await until(() => channel.enqueued.length === 1);
    link.change({ ready: false });
    channel.consume(1);
    channel.emit('drain');
    link.change({ ready: true, epoch: 2 });
    await until(() => channel.enqueued.length === 2);
    source.end();
    await t.finished;
  });

  it('waits while the session is not ready, then sends Speaking before the first frame', async () => {
    const { log, link } = setup();
    link.ready = false;
    const t = transmit(link, Readable.from([frame(1)]));
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual([]);
    link.change({ ready: true });
    await t.finished;
    expect(log.slice(0, 2)).toEqual(['speaking:1', 'enqueue']);
  });

  it('re-sends Speaking before the next frame after the session re-entered ready', async () => {
    const { log, channel, link } = setup();
    const source = new PushSource();
    const t = transmit(link, source);
    source.push(frame(1));
    await until(() => channel.enqueued.length === 1);
    link.change({ ready: false }); // resuming
    link.change({ ready: true, epoch: 2 }); // resumed
    source.push(frame(2));
    await until(() => channel.enqueued.length === 2);
    source.end();
    await t.finished;
    expect(log).toEqual([
      'speaking:1',
      'enqueue',
      'speaking:1',
      'enqueue',
      'endBurst',
      'burstEnd',
      'speaking:0',
    ]);
  });

  it('stop() drops the queue, ends the burst, sends Speaking 0, releases the source', async () => {
    const { log, channel, link } = setup();
    const source = new PushSource();
    const t = transmit(link, source);
    source.push(frame(1));
    await until(() => channel.enqueued.length === 1);
    t.stop();
    await t.finished;
    expect(log).toEqual(['speaking:1', 'enqueue', 'clearQueue', 'endBurst', 'burstEnd', 'speaking:0']);
    await until(() => source.returned);
  });

  it('flush() and stop() hand the session the frame held back for room too, to count with the queue', async () => {
    const { log, channel } = setup();
    channel.highWater = 2;
    const discarded: number[] = [];
    // A session's link: it takes its queue back and counts it, with the held frames.
    const counting = new (class extends FakeLink {
      discardQueued(held = 0): void {
        discarded.push(held);
        channel.clearQueue();
      }
    })(channel, log);
    const source = new PushSource();
    const t = transmit(counting, source);
    source.push(frame(1), frame(2), frame(3), frame(4), frame(5), frame(6));
    await until(() => channel.enqueued.length === 2);
    await new Promise((r) => setTimeout(r, 10));
    t.flush?.(); // frames 1-2 queued, 3 held for room
    await until(() => channel.enqueued.length === 4); // 4 and 5: the held 3 is not sent
    await new Promise((r) => setTimeout(r, 10));
    t.stop(); // 4-5 queued, 6 held
    await t.finished;
    expect(discarded).toEqual([1, 1]);
    expect(channel.enqueued.map((f) => f[1])).toEqual([1, 2, 4, 5]);
  });

  it('a stop while the session resumes (not ready, its channel kept) is counted by the session too', async () => {
    const { log, channel } = setup();
    channel.highWater = 2;
    const asked: Array<[number, unknown]> = [];
    const counting = new (class extends FakeLink {
      discardQueued(held: number, queued: FakeChannel | undefined): void {
        asked.push([held, queued]);
        queued?.clearQueue();
      }
    })(channel, log);
    const source = new PushSource();
    const t = transmit(counting, source);
    source.push(frame(1), frame(2), frame(3));
    await until(() => channel.enqueued.length === 2);
    await new Promise((r) => setTimeout(r, 10));
    counting.change({ ready: false }); // resuming: the channel stays and sends on
    t.stop();
    await t.finished;
    // Before, the queue was cleared and neither it nor the held frame 3 was counted.
    expect(asked).toEqual([[1, channel]]);
    expect(t.framesSent).toBe(3);
  });

  describe('an async generator, which the pump reads ahead (up to 32 frames)', () => {
    /** A session's link that records what it is asked to count. */
    function countingSetup(): {
      channel: FakeChannel;
      link: FakeLink;
      discarded: number[];
      counted: Array<[number, string]>;
    } {
      const { log, channel } = setup();
      channel.highWater = 2;
      const discarded: number[] = [];
      const counted: Array<[number, string]> = [];
      const link = new (class extends FakeLink {
        discardQueued(held = 0): void {
          discarded.push(held);
          channel.clearQueue();
        }
        countDropped(frames: Promise<number>, reason: string): void {
          void frames.then((n) => counted.push([n, reason]));
        }
      })(channel, log);
      return { channel, link, discarded, counted };
    }
    let given = 0;
    async function* frames(): AsyncGenerator<Uint8Array> {
      for (let i = 1; i <= 200; i++) {
        given = i;
        yield frame(i);
      }
    }
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

    it('flush() drops what was read ahead with the queue: the next frame sent is the next the source gives', async () => {
      const { channel, link, discarded, counted } = countingSetup();
      given = 0;
      const t = transmit(link, frames());
      await until(() => channel.enqueued.length === 2);
      await settle(); // 3 waits for room, 4-35 are read ahead
      const givenAtFlush = given;
      expect(givenAtFlush).toBe(35);
      t.flush?.();
      await until(() => channel.enqueued.length === 4);
      // Before, the 32 frames read ahead were sent after the flush.
      expect(channel.enqueued[2]![1]).toBe(givenAtFlush + 1);
      expect(discarded).toEqual([givenAtFlush - 2]);
      await settle();
      t.stop();
      await t.finished;
      await settle();
      // What was read ahead at the stop is counted too: everything the source gave is in framesSent.
      expect(counted.length).toBe(1);
      expect(counted[0]![1]).toBe('stopped');
      expect(counted[0]![0]).toBeGreaterThan(0);
      expect(t.framesSent).toBe(given);
    });

    it("a destroyed session: the frame held for room and those read ahead are counted ('session-ended')", async () => {
      const { channel, link, counted } = countingSetup();
      given = 0;
      const t = transmit(link, frames());
      t.finished.catch(() => undefined);
      await until(() => channel.enqueued.length === 2);
      await settle();
      link.change({ destroyed: true });
      await t.finished.catch(() => undefined);
      await settle();
      expect(counted).toEqual([[given - 2, 'session-ended']]);
      expect(t.framesSent).toBe(given);
    });
  });

  it('a failing source rejects finished with AUDIO_INPUT_ERROR after ending the burst', async () => {
    const { log, channel, link } = setup();
    const source = new PushSource();
    const t = transmit(link, source);
    source.push(frame(1));
    await until(() => channel.enqueued.length === 1);
    source.fail(new Error('disk gone'));
    const err: unknown = await t.finished.catch((e: unknown) => e);
    expect(isVoxcordError(err, 'AUDIO_INPUT_ERROR')).toBe(true);
    expect(log.slice(-3)).toEqual(['endBurst', 'burstEnd', 'speaking:0']);
  });

  it('a source that fails after stop() ended its wait: no unhandled rejection, no second settle', async () => {
    const { channel, link } = setup();
    let fail: ((err: Error) => void) | undefined;
    let calls = 0;
    const source: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          calls++;
          if (calls === 1) return Promise.resolve({ done: false, value: frame(1) });
          return new Promise<IteratorResult<Uint8Array>>((_, reject) => (fail = reject));
        },
      }),
    };
    const t = transmit(link, source);
    await until(() => channel.enqueued.length === 1 && fail !== undefined);
    t.stop();
    await t.finished; // the wait for frame 2 ended with stop(), not with the source
    fail!(new Error('late failure'));
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(2);
    expect(channel.enqueued.map((f) => f[1])).toEqual([1]);
  });

  it('rejects items that are not bytes', async () => {
    const { link } = setup();
    const err: unknown = await transmit(link, Readable.from(['text'])).finished.catch((e: unknown) => e);
    expect(isVoxcordError(err, 'AUDIO_INPUT_ERROR')).toBe(true);
  });

  it('destroy while waiting rejects finished with DESTROYED', async () => {
    const { channel, link } = setup();
    const source = new PushSource();
    const t = transmit(link, source);
    source.push(frame(1));
    await until(() => channel.enqueued.length === 1);
    link.change({ destroyed: true });
    const err: unknown = await t.finished.catch((e: unknown) => e);
    expect(isVoxcordError(err, 'DESTROYED')).toBe(true);
    expect(channel.endBursts).toBe(0);
    await until(() => source.returned);
  });

  it('does not hang when the channel never reports burstEnd', async () => {
    const { log, channel, link } = setup();
    channel.autoBurstEnd = false;
    await transmit(link, Readable.from([frame(1)])).finished;
    expect(log).toEqual(['speaking:1', 'enqueue', 'endBurst', 'speaking:0']);
  });

  it('starts only after the previous transmission finished', async () => {
    const { log, link } = setup();
    const first = new PushSource();
    const a = transmit(link, first);
    first.push(frame(1));
    const b = transmit(link, Readable.from([frame(2)]), { after: a.finished });
    await until(() => log.length >= 2);
    a.stop();
    await Promise.all([a.finished, b.finished]);
    expect(log).toEqual([
      'speaking:1',
      'enqueue',
      'clearQueue',
      'endBurst',
      'burstEnd',
      'speaking:0',
      'speaking:1',
      'enqueue',
      'endBurst',
      'burstEnd',
      'speaking:0',
    ]);
  });
});

describe('transmit: release() for the next session', () => {
  it('gives back the queued frames and the one waiting for room, in order, with no burst end', async () => {
    const { log, channel, link } = setup();
    channel.highWater = 3;
    const taken: Uint8Array[] = [];
    (link as FakeLink & { takeUnsent(): Promise<Uint8Array[]> }).takeUnsent = async () => {
      taken.push(...channel.enqueued);
      return [...channel.enqueued];
    };
    const frames = Array.from({ length: 10 }, (_, i) => frame(i));
    const t = transmit(link, frames as unknown as AsyncIterable<Uint8Array>);
    // The queue is full after 3; the pump holds frame 3 and waits for 'drain'.
    await until(() => channel.enqueued.length === 3);
    await new Promise((resolve) => setImmediate(resolve));
    const back = await t.release();
    expect(back.map((f) => f[1])).toEqual([0, 1, 2, 3]);
    await t.finished;
    expect(channel.enqueued).toHaveLength(3); // nothing more was queued
    expect(t.framesSent).toBe(0); // handed over, not sent
    expect(log).not.toContain('endBurst');
    expect(link.speaking).toEqual([1]); // no Speaking 0 on the session being left
    expect(await t.release()).toEqual([]);
  });
});
