/**
 * Broadcast without a clock of its own: frames are produced when a reader asks for one it has not
 * seen, and kept in a short window so every other reader gets the same frames. Each reader pulls at
 * its own pace (its channel's backpressure); one that falls more than `window` frames behind (a
 * session that was not ready for a while) jumps to the live position, and the frames it missed are
 * counted in `skipped`.
 *
 * `produce` returning undefined marks a burst end (idle, or paused): readers see it in order, and a
 * reader's next() returns undefined there, so each session's stream ends at the same point.
 */
import { NOT_READY } from '../voice/frame-pull.js';
import type { NotReady, SyncPullIterator } from '../voice/frame-pull.js';

const END: unique symbol = Symbol('burst end');
type Item = Uint8Array | typeof END;

export const DEFAULT_FANOUT_WINDOW = 50; // 1 s of 20 ms frames

export class FrameFanout {
  /**
   * The items held, a ring indexed by sequence number (`seq % ring.length`): `count` of them from
   * `base`. A frame costs no allocation here (a pushed-and-spliced array grew and trimmed its store
   * at every frame); the ring doubles only when more than its size is held (never beyond window + 1).
   */
  private ring: (Item | undefined)[] = new Array<Item | undefined>(4).fill(undefined);
  private count = 0;
  /** Sequence number of the oldest item held. */
  private base = 0;
  private producing: Promise<void> | undefined;
  /** An array, not a Set: trim() walks it at every frame, without an iterator object. */
  private readonly readers: FanoutReader[] = [];

  /**
   * `produceNow` (optional) makes a frame without a promise when it can (NOT_READY when not): a
   * reader at the live position then gets it at once, and `produce` runs only when it must wait.
   */
  constructor(
    private readonly produce: () => Promise<Uint8Array | undefined>,
    readonly window: number = DEFAULT_FANOUT_WINDOW,
    private readonly produceNow?: () => Uint8Array | NotReady,
  ) {}

  /** Sequence number of the next item to be produced. */
  get head(): number {
    return this.base + this.count;
  }

  /** A reader starting at the live position. */
  reader(): FanoutReader {
    const reader = new FanoutReader(this, this.head);
    this.readers.push(reader);
    return reader;
  }

  /** @internal */
  remove(reader: FanoutReader): void {
    const i = this.readers.indexOf(reader);
    if (i >= 0) this.readers.splice(i, 1);
    this.trim();
  }

  /** @internal The item at `seq` (undefined when it is not produced yet). */
  itemAt(seq: number): Item | undefined {
    if (seq < this.base || seq >= this.base + this.count) return undefined;
    return this.ring[seq % this.ring.length];
  }

  /** Appends an item at `head`. */
  private append(item: Item): void {
    if (this.count === this.ring.length) {
      // Full: a ring twice the size, the held items at their sequence's slot in it.
      const grown = new Array<Item | undefined>(this.ring.length * 2).fill(undefined);
      for (let seq = this.base; seq < this.base + this.count; seq++)
        grown[seq % grown.length] = this.ring[seq % this.ring.length];
      this.ring = grown;
    }
    this.ring[(this.base + this.count) % this.ring.length] = item;
    this.count++;
  }

  /** @internal Oldest sequence still held. */
  get oldest(): number {
    return this.base;
  }

  /**
   * @internal The next item produced synchronously (undefined when it cannot be now: a production
   * is under way, or the producer must wait).
   */
  pullNow(): Item | undefined {
    if (this.producing !== undefined || this.produceNow === undefined) return undefined;
    const frame = this.produceNow();
    if (frame === NOT_READY) return undefined;
    this.append(frame);
    return frame;
  }

  /** @internal Produces one more item, shared by every reader that waits meanwhile. */
  pull(): Promise<void> {
    this.producing ??= this.produce()
      .then(
        (frame): Item => frame ?? END,
        (): Item => END, // the producer reports its own failures; a reader only sees the burst end
      )
      .then((item) => {
        this.append(item);
        this.producing = undefined;
        this.trim();
      });
    return this.producing;
  }

  /** Drops items every reader has passed, keeping at most `window`. */
  trim(): void {
    let keepFrom = this.head;
    for (let i = 0; i < this.readers.length; i++) keepFrom = Math.min(keepFrom, this.readers[i]!.position);
    keepFrom = Math.max(keepFrom, this.head - this.window, this.base);
    // Dropped items are cleared (not kept alive by the ring).
    for (; this.base < keepFrom; this.base++, this.count--)
      this.ring[this.base % this.ring.length] = undefined;
  }
}

/**
 * What a reader's stream reports to its owner: a pull about to be made, a frame yielded (with its
 * sequence in the fanout: the `head` the fanout had when the frame was produced).
 */
export interface StreamWatch {
  pulling(): void;
  taken(frame: Uint8Array, seq: number): void;
}

export class FanoutReader {
  /** Frames this reader missed because it fell behind. */
  skipped = 0;
  private closed = false;

  constructor(
    private readonly fanout: FrameFanout,
    private cursor: number,
  ) {}

  get position(): number {
    return this.cursor;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The next frame, or undefined at a burst end (or once closed). */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const item = this.nextNow();
      if (item !== NOT_READY) return item;
      await this.fanout.pull();
    }
  }

  /** Like next() when the frame is already produced (another reader asked first); else NOT_READY. */
  nextNow(): Uint8Array | undefined | NotReady {
    if (this.closed) return undefined;
    if (this.cursor < this.fanout.oldest) {
      // Fell out of the window: catch up with the live position.
      this.skipped += this.fanout.head - this.cursor;
      this.cursor = this.fanout.head;
    }
    const item = this.fanout.itemAt(this.cursor) ?? this.fanout.pullNow();
    if (item === undefined) return NOT_READY;
    this.cursor++;
    this.fanout.trim();
    return item === END ? undefined : item;
  }

  /**
   * The frames up to the next burst end, as the stream a transmit pump takes (synchronously when
   * they are produced already). `onBurstEnd` runs when the stream reaches it.
   */
  /**
   * This reader as the transmit pump's source. `watch` (the player's position tracking) sees each
   * pull before it is made and each frame it yields.
   */
  stream(onBurstEnd: () => void, watch?: StreamWatch): AsyncIterable<Uint8Array> {
    let done = false;
    const finished: IteratorResult<Uint8Array> = { done: true, value: undefined };
    const take = (frame: Uint8Array | undefined): IteratorResult<Uint8Array> => {
      if (frame !== undefined) {
        watch?.taken(frame, this.cursor - 1);
        return { done: false, value: frame };
      }
      done = true;
      onBurstEnd();
      return finished;
    };
    return {
      [Symbol.asyncIterator]: (): SyncPullIterator<Uint8Array> => ({
        pullNow: (): IteratorResult<Uint8Array> | NotReady => {
          if (done) return finished;
          watch?.pulling();
          const frame = this.nextNow();
          return frame === NOT_READY ? NOT_READY : take(frame);
        },
        next: async (): Promise<IteratorResult<Uint8Array>> => {
          if (done) return finished;
          watch?.pulling();
          return take(await this.next());
        },
        return: async (): Promise<IteratorResult<Uint8Array>> => {
          done = true;
          return finished;
        },
      }),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fanout.remove(this);
  }
}
