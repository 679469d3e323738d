import { describe, it, expect } from 'vitest';
import { emptySendSlot, SendQueue } from '../../src/media/send-queue.js';

function make(options = {}): { q: SendQueue; drains: number[] } {
  const drains: number[] = [];
  const q: SendQueue = new SendQueue({ drain: () => drains.push(q.length) }, options);
  return { q, drains };
}

const frame = (n: number): Uint8Array => Uint8Array.of(n);

describe('SendQueue', () => {
  it('returns false at the high-water mark and drains at the low-water mark', () => {
    const { q, drains } = make({ highWaterMark: 4, lowWaterMark: 1 });
    expect([1, 2, 3, 4].map((n) => q.enqueue(frame(n)))).toEqual([true, true, true, false]);
    expect(q.length).toBe(4);
    expect(q.next()?.frame).toEqual(frame(1));
    expect(q.next()?.frame).toEqual(frame(2));
    expect(drains).toEqual([]);
    expect(q.next()?.frame).toEqual(frame(3));
    expect(drains).toEqual([1]);
    expect(q.next()?.frame).toEqual(frame(4));
    expect(q.next()).toBeUndefined();
    expect(drains).toEqual([1]);
  });

  it('sends five silence frames after the queue empties when a burst ends', () => {
    const { q } = make();
    q.enqueue(frame(9));
    q.endBurst();
    const items = Array.from({ length: 8 }, () => q.next());
    expect(items[0]).toEqual({ frame: frame(9), silence: false, endsBurst: false });
    for (let i = 1; i <= 5; i++) {
      expect(items[i]?.silence).toBe(true);
      expect(Array.from(items[i]!.frame)).toEqual([0xf8, 0xff, 0xfe]);
      expect(items[i]?.endsBurst).toBe(i === 5);
    }
    expect(items[6]).toBeUndefined();
    expect(q.busy).toBe(false);
  });

  it('finishes a silence tail before frames queued during it', () => {
    const { q } = make();
    q.endBurst();
    q.next();
    q.enqueue(frame(7));
    const rest = Array.from({ length: 5 }, () => q.next());
    expect(rest.slice(0, 4).every((i) => i?.silence)).toBe(true);
    expect(rest[3]?.endsBurst).toBe(true);
    expect(rest[4]?.frame).toEqual(frame(7));
  });

  it('clear drops frames and signals drain to a waiting producer', () => {
    const { q, drains } = make({ highWaterMark: 3, lowWaterMark: 1 });
    q.enqueue(frame(1));
    q.enqueue(frame(2));
    expect(q.enqueue(frame(3))).toBe(false);
    q.clear();
    expect(q.length).toBe(0);
    expect(drains).toEqual([0]);
    expect(q.next()).toBeUndefined();
  });

  it('keeps order over many frames (compaction)', () => {
    const { q } = make({ highWaterMark: 1000 });
    const out: number[] = [];
    for (let i = 0; i < 500; i++) {
      q.enqueue(frame(i & 0xff));
      if (i % 3 === 0) out.push(q.next()!.frame[0]!);
    }
    for (let item = q.next(); item; item = q.next()) out.push(item.frame[0]!);
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i & 0xff));
  });

  it('keeps a copy of each frame: the caller may reuse its array at once', () => {
    const { q } = make();
    const scratch = Uint8Array.of(1, 2, 3);
    q.enqueue(scratch);
    scratch.set([7, 7, 7]);
    q.enqueue(scratch);
    expect(Array.from(q.next()!.frame)).toEqual([1, 2, 3]);
    expect(Array.from(q.next()!.frame)).toEqual([7, 7, 7]);
  });

  it('keeps every byte in order over frames of many sizes (store moves and growth)', () => {
    const { q } = make({ highWaterMark: 10_000 });
    const sizeOf = (i: number): number => (i * 37) % 700;
    const bytesOf = (i: number): Uint8Array =>
      Uint8Array.from({ length: sizeOf(i) }, (_, k) => (i * 31 + k) & 0xff);
    const out: Uint8Array[] = [];
    let next = 0;
    for (let i = 0; i < 3000; i++) {
      // Bursts of enqueues and of sends, so the queue grows and shrinks many times.
      const burst = Math.floor(i / 200) % 2 === 0 ? 3 : 1;
      for (let k = 0; k < burst; k++) q.enqueue(bytesOf(next++));
      out.push(q.next()!.frame.slice());
      if (i % 2 === 1) out.push(q.next()!.frame.slice());
    }
    for (let item = q.next(); item; item = q.next()) out.push(item.frame.slice());
    expect(out.length).toBe(next);
    const wrong = out.filter((frame, i) => Buffer.compare(frame, bytesOf(i)) !== 0).length;
    expect(wrong).toBe(0);
  });

  it("a queue refilled from 'drain' keeps its bytes in order in a store of about its high-water bytes", () => {
    // The worker engine's marks (25/15) and voice-sized frames (150-199 bytes): the refills wrap
    // around the store's end while a frame is lent.
    const sizeOf = (i: number): number => 150 + ((i * 37) % 50);
    const bytesOf = (i: number): Uint8Array =>
      Uint8Array.from({ length: sizeOf(i) }, (_, k) => (i * 31 + k) & 0xff);
    let next = 0;
    let q: SendQueue | undefined = undefined;
    const fill = (): void => {
      while (q!.enqueue(bytesOf(next++)));
    };
    q = new SendQueue({ drain: fill }, { highWaterMark: 25, lowWaterMark: 15 });
    fill();
    let wrong = 0;
    let largest = 0;
    for (let i = 0; i < 5000; i++) {
      const frame = q.next()!.frame;
      if (Buffer.compare(frame, bytesOf(i)) !== 0) wrong++;
      largest = Math.max(largest, q.storeBytes);
    }
    expect(wrong).toBe(0);
    // 25 frames of at most 199 bytes are 4975 bytes; a store that moves its bytes back to the
    // start needed half again as much (8 KiB).
    expect(largest).toBeLessThanOrEqual(6 * 1024);
  });

  it("matches a plain list over random enqueues, sends, takes and clears (also from 'drain')", () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    let nextId = 0;
    // A frame carries its id in its first 4 bytes and bytes derived from it after them.
    const frameOf = (length: number): Uint8Array => {
      const id = nextId++;
      const f = Uint8Array.from({ length: length + 4 }, (_, i) => (id + i) & 0xff);
      new DataView(f.buffer).setUint32(0, id);
      return f;
    };
    const isFrame = (f: Uint8Array, id: number): boolean =>
      f.length >= 4 &&
      new DataView(f.buffer, f.byteOffset).getUint32(0) === id &&
      f.subarray(4).every((b, i) => b === ((id + i + 4) & 0xff));
    let bad = 0;
    for (let trial = 0; trial < 40; trial++) {
      const model: number[] = [];
      let inNext = false;
      let q: SendQueue | undefined = undefined;
      const add = (): void => {
        const r = random();
        const f = frameOf(
          r < 0.05 ? 0 : r < 0.1 ? Math.floor(random() * 1500) : 100 + Math.floor(random() * 120),
        );
        model.push(nextId - 1);
        q!.enqueue(f);
      };
      const takeAll = (): void => {
        // The frame next() is handing out is no longer queued.
        const expected = model.splice(inNext ? 1 : 0);
        const taken = q!.take();
        if (taken.length !== expected.length || taken.some((f, i) => !isFrame(f, expected[i]!))) bad++;
      };
      q = new SendQueue(
        {
          drain: () => {
            const r = random();
            if (r < 0.6) for (let k = Math.floor(random() * 12); k > 0; k--) add();
            else if (r < 0.7) takeAll();
            else if (r < 0.75) {
              model.splice(inNext ? 1 : 0);
              q!.clear();
            }
          },
        },
        { highWaterMark: 1 + Math.floor(random() * 30), lowWaterMark: Math.floor(random() * 20) },
      );
      for (let step = 0; step < 1500; step++) {
        const r = random();
        if (r < 0.45) add();
        else if (r < 0.9) {
          const expected = model[0];
          inNext = true;
          const item = q.next();
          inNext = false;
          if (item !== undefined && !item.silence) {
            model.shift();
            if (!isFrame(item.frame, expected!)) bad++;
          } else if (item === undefined && model.length > 0) bad++;
        } else if (r < 0.93) takeAll();
        else if (r < 0.95) {
          model.splice(0);
          q.clear();
        } else if (r < 0.98) q.endBurst();
        if (q.length !== model.length) bad++;
      }
    }
    expect(bad).toBe(0);
  });

  it("a producer that refills from 'drain' does not overwrite the frame being sent", () => {
    let q: SendQueue | undefined = undefined;
    let refill = 0;
    q = new SendQueue(
      {
        drain: () => {
          // Big frames: the store must move or grow while the taken frame is still unused.
          for (let i = 0; i < 4; i++) q!.enqueue(new Uint8Array(900).fill(0xa0 + refill));
          refill++;
        },
      },
      { highWaterMark: 3, lowWaterMark: 1 },
    );
    q.enqueue(new Uint8Array(600).fill(1));
    q.enqueue(new Uint8Array(600).fill(2));
    expect(q.next()!.frame).toEqual(new Uint8Array(600).fill(1));
    const taken = q.next()!.frame; // crosses the low-water mark: 'drain' refills in the call
    expect(refill).toBe(1);
    expect(taken).toEqual(new Uint8Array(600).fill(2));
    for (let i = 0; i < 4; i++) expect(q.next()!.frame).toEqual(new Uint8Array(900).fill(0xa0));
  });

  it("take() from a 'drain' listener returns the frames after the one being sent", () => {
    let q: SendQueue | undefined = undefined;
    let taken: Uint8Array[] = [];
    q = new SendQueue(
      {
        drain: () => {
          q!.enqueue(Uint8Array.of(9));
          taken = q!.take();
        },
      },
      { highWaterMark: 3, lowWaterMark: 1 },
    );
    q.enqueue(Uint8Array.of(1));
    q.enqueue(Uint8Array.of(2));
    q.enqueue(Uint8Array.of(3));
    expect(Array.from(q.next()!.frame)).toEqual([1]);
    expect(Array.from(q.next()!.frame)).toEqual([2]);
    expect(taken.map((f) => Array.from(f))).toEqual([[3], [9]]);
    expect(q.next()).toBeUndefined();
    q.enqueue(Uint8Array.of(4));
    expect(Array.from(q.next()!.frame)).toEqual([4]);
  });

  it('holds no store before its first frame, and lets a big one go once empty', () => {
    const { q } = make({ highWaterMark: 1000 });
    expect(q.storeBytes).toBe(0);
    q.enqueue(new Uint8Array(160));
    const small = q.storeBytes;
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThanOrEqual(4096);
    for (let i = 0; i < 600; i++) q.enqueue(new Uint8Array(160));
    expect(q.storeBytes).toBeGreaterThan(64 * 1024);
    while (q.next()) {
      // send everything
    }
    expect(q.storeBytes).toBe(0);
  });

  it('lets its store go when a burst ends with nothing queued, and keeps it while frames wait', () => {
    const { q } = make({ highWaterMark: 25 });
    for (let i = 0; i < 25; i++) q.enqueue(new Uint8Array(160).fill(i));
    expect(q.storeBytes).toBeGreaterThanOrEqual(25 * 160);
    q.endBurst();
    for (let i = 0; i < 25; i++) expect(q.next()!.frame[0]).toBe(i);
    for (let i = 0; i < 4; i++) expect(q.next()!.silence).toBe(true);
    // A frame queued during the tail keeps the store; it goes out after the tail.
    q.enqueue(Uint8Array.of(42));
    expect(q.next()).toMatchObject({ silence: true, endsBurst: true });
    expect(q.storeBytes).toBeGreaterThan(0);
    expect(Array.from(q.next()!.frame)).toEqual([42]);
    q.endBurst();
    const tail = Array.from({ length: 5 }, () => q.next()!);
    expect(tail.map((t) => [t.silence, t.endsBurst])).toEqual([
      [true, false],
      [true, false],
      [true, false],
      [true, false],
      [true, true],
    ]);
    expect(q.storeBytes).toBe(0);
    expect(q.next()).toBeUndefined();
    // The next burst starts a fresh store and its frames arrive intact.
    q.enqueue(Uint8Array.of(7, 8));
    expect(Array.from(q.next()!.frame)).toEqual([7, 8]);
  });

  it('a burst end with no silence frames also lets the store go', () => {
    const { q } = make({ silenceFrames: 0 });
    q.enqueue(new Uint8Array(160));
    q.next();
    q.endBurst();
    expect(q.next()).toMatchObject({ silence: true, endsBurst: true });
    expect(q.storeBytes).toBe(0);
  });

  it('nextInto hands out each frame where it lies, the silence tail, then nothing, in one slot', () => {
    const { q } = make({ silenceFrames: 2 });
    const frames = [Uint8Array.of(1, 2, 3), new Uint8Array(200).fill(9), Uint8Array.of(4)];
    for (const f of frames) q.enqueue(f);
    q.endBurst();
    const slot = emptySendSlot();
    const seen: [number[], boolean, boolean][] = [];
    while (q.nextInto(slot)) {
      seen.push([
        Array.from(slot.bytes.subarray(slot.offset, slot.offset + slot.length)),
        slot.silence,
        slot.endsBurst,
      ]);
    }
    expect(seen).toEqual([
      [[1, 2, 3], false, false],
      [Array.from(frames[1]!), false, false],
      [[4], false, false],
      [[0xf8, 0xff, 0xfe], true, false],
      [[0xf8, 0xff, 0xfe], true, true],
    ]);
    expect(q.nextInto(slot)).toBe(false);
    expect(q.busy).toBe(false);
  });

  it('nextInto keeps the frame readable when the drain listener refills past the store', () => {
    const slot = emptySendSlot();
    let refill = true;
    const q: SendQueue = new SendQueue(
      {
        drain: () => {
          // Enough new bytes to make the store grow (and move) while the frame is lent.
          if (refill) for (let i = 0; i < 10; i++) q.enqueue(new Uint8Array(300).fill(i));
          refill = false;
        },
      },
      { highWaterMark: 20, lowWaterMark: 1 },
    );
    q.enqueue(Uint8Array.of(5, 6, 7));
    q.enqueue(Uint8Array.of(8));
    expect(q.nextInto(slot)).toBe(true);
    expect(Array.from(slot.bytes.subarray(slot.offset, slot.offset + slot.length))).toEqual([5, 6, 7]);
    expect(q.nextInto(slot)).toBe(true);
    expect(Array.from(slot.bytes.subarray(slot.offset, slot.offset + slot.length))).toEqual([8]);
    for (let i = 0; i < 10; i++) {
      expect(q.nextInto(slot)).toBe(true);
      expect(slot.length).toBe(300);
      expect(slot.bytes.subarray(slot.offset, slot.offset + 300).every((x) => x === i)).toBe(true);
    }
  });
});
