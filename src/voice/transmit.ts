/**
 * The transmit pump: moves Opus frames from an async source into the session's MediaChannel with
 * backpressure (taken synchronously while the source has them ready, see frame-pull.ts), and
 * drives op 5 Speaking around each burst (voice-gateway.md §5.7):
 * Speaking (Microphone) before the first frame, and again before the next frame after the session
 * re-entered 'ready' (resume or fresh connect); endBurst() when the source ends or stop() is called;
 * Speaking 0 once the channel reports 'burstEnd' (trailing silence sent).
 * While the session is not ready the pump waits; it fails only on a source error or destroy.
 */
import { FRAME_DURATION_MS, SILENCE_FRAMES_AT_END, SpeakingFlag } from '../protocol/constants.js';
import { VoxcordError, isVoxcordError } from '../errors.js';
import type { MediaChannel } from '../media/media-engine.js';
import { canPullNow, NOT_READY, pumpIterator, ReadAhead } from './frame-pull.js';
import type { NotReady } from './frame-pull.js';

/** What the pump needs from the session (kept narrow so tests can fake it). */
export interface TransmitLink {
  /** The media channel while the session is 'ready', else undefined. */
  readyChannel(): MediaChannel | undefined;
  /** Changes each time the session (re)enters 'ready': Speaking has to be sent again. */
  readyEpoch(): number;
  isDestroyed(): boolean;
  /** Sends op 5 with our SSRC and these flags (0 = stopped). */
  sendSpeaking(flags: number): void;
  /**
   * Calls `listener` after every session state change and when held frames may go (a DAVE send
   * key arrived); returns the unsubscribe function.
   */
  onChange(listener: () => void): () => void;
  /**
   * Turns an Opus frame into what goes on the wire right before it is queued (DAVE encryption),
   * or null to drop it (no send key yet). Absent = frames go out unchanged.
   */
  prepareFrame?(frame: Uint8Array): Uint8Array | null;
  /**
   * True while frames should wait rather than be prepared (a DAVE group is forming). Re-checked on
   * onChange() and every frame duration (which also ends the bounded wait).
   */
  holdFrames?(): boolean;
  /** True while the engine keeps queued frames waiting (a DAVE group is forming): the burst's end waits too. */
  sendHeld?(): boolean;
  /** Takes back the frames queued and not sent (plain Opus), for another session. */
  takeUnsent?(): Promise<Uint8Array[]>;
  /**
   * Drops the frames queued on `channel` and not sent, counting them as 'stopped' with `held` more
   * that the pump had taken and not queued (stop(), flush()); absent = channel.clearQueue(). A
   * channel the session has left had its queue counted then: only `held` is counted.
   */
  discardQueued?(held: number, channel: MediaChannel | undefined): void;
  /**
   * Counts frames the pump took from the source and will never queue: read ahead at a stop
   * ('stopped'), or taken when the session was destroyed ('session-ended').
   */
  countDropped?(frames: Promise<number>, reason: 'stopped' | 'session-ended'): void;
}

export interface Transmission {
  /** Resolves when the burst has ended (source done or stop()); rejects with AUDIO_INPUT_ERROR or DESTROYED. */
  readonly finished: Promise<void>;
  /** Stops at once: drops queued frames, sends the trailing silence, then Speaking 0. */
  stop(): void;
  /**
   * Drops the frames handed over and not sent yet (counted in `session.sendStats` as 'stopped')
   * and goes on with the source, whose next frame is then heard at once (a skip, a seek).
   * Absent: the queue plays out.
   */
  flush?(): void;
  /**
   * Frames handed to the media channel so far, less those taken back by release(), plus those a
   * stop() or flush() dropped before they got there (frames dropped instead of sent are counted
   * in `session.sendStats`).
   */
  readonly framesSent: number;
  /**
   * Of those, frames not on the wire yet: taken from the source but waiting to be queued, or in
   * the media channel's queue (with a worker engine, as of its last report). Absent: unknown.
   */
  readonly framesUnsent?: number;
}

/** A transmission on one voice session, which can hand its unsent frames to the next session. */
export interface SessionTransmission extends Transmission {
  /**
   * Stops pumping without dropping anything: resolves with the frames that were handed over but
   * not sent yet (queued, or waiting for the session), oldest first, for the connection's next
   * session. No trailing silence and no Speaking 0 are sent on this session.
   */
  release(): Promise<Uint8Array[]>;
}

export interface TransmitOptions {
  /** op 5 flags for this burst; default Microphone. */
  speakingFlags?: number;
  /** Start only after this settles (the previous transmission), so Speaking 0/1 never interleave. */
  after?: Promise<unknown>;
}

/** Extra wait on top of the queue length before giving up on a 'burstEnd' that never comes. */
const BURST_END_GRACE_MS = 1_000;

type Cancel = () => void;

/** A source's rejection as an Error (one function for every frame's wait, not a closure per frame). */
function sourceError(err: unknown): Error {
  return err instanceof Error
    ? err
    : new VoxcordError('AUDIO_INPUT_ERROR', 'the audio source failed', { cause: err });
}

/** A wake-up source that fires after one frame duration (polling while frames are held or dropped). */
function afterOneFrame(fire: () => void): () => void {
  const timer = setTimeout(fire, FRAME_DURATION_MS);
  return () => clearTimeout(timer);
}

class TransmitPump implements SessionTransmission {
  readonly finished: Promise<void>;
  private frames = 0;
  private stopped = false;
  private released = false;
  /** The frame taken from the source and not queued yet (waiting for the session or for room). */
  private pending: Uint8Array | undefined;
  /** Waiters woken by stop() or by 'drain'. */
  private readonly kickListeners = new Set<() => void>();
  /**
   * The pending nextItem() wait, ended by the source or by stop()/release()/a destroy (session
   * changes reach interrupt()). Its settle functions live here and the source's promise gets the
   * two handlers below, made once: a wait costs one promise, no closure and no waiter set (the
   * race of util/interrupt cost about 1.2 µs per frame, half the pump's time with an async source).
   */
  private itemResolve: ((item: IteratorResult<unknown> | undefined) => void) | undefined;
  private itemReject: ((err: Error) => void) | undefined;
  private readonly onItem = (item: IteratorResult<unknown>): void => this.settleItem(item, undefined);
  private readonly onItemError = (err: unknown): void => this.settleItem(undefined, sourceError(err));
  /**
   * The pump's plain wait (for a session change, stop() or 'drain'; see waitForChange()): settled
   * through run()'s one session subscription and kick(), so a wait costs one promise, not a
   * subscription, closures and a listener set entry (the pump waits for room every few frames).
   */
  private changeResolve: (() => void) | undefined;
  private readonly changeExecutor = (resolve: () => void): void => {
    this.changeResolve = resolve;
  };
  /** The channel whose enqueue() returned false, until it emits 'drain'. */
  private blocked: MediaChannel | undefined;
  /** 'drain' of the blocked channel: made once (a pump blocks every few frames). */
  private readonly onDrain = (): void => {
    this.unblock();
    this.kick();
  };
  /** The channel this burst queues on (its `queued` counts our unsent frames). */
  private queueChannel: MediaChannel | undefined;
  /** The source when it is read ahead (an async generator): frames taken from it, not queued yet. */
  private ahead: ReadAhead<unknown> | undefined;

  constructor(
    private readonly link: TransmitLink,
    private readonly source: AsyncIterable<unknown>,
    private readonly options: TransmitOptions,
  ) {
    this.finished = this.run();
    // `finished` may never be awaited: keep its rejection from becoming an unhandled one.
    this.finished.catch(() => undefined);
  }

  get framesSent(): number {
    return this.frames;
  }

  get framesUnsent(): number {
    if (this.stopped || this.released) return 0;
    return (
      (this.pending === undefined ? 0 : 1) + (this.ahead?.buffered ?? 0) + (this.queueChannel?.queued ?? 0)
    );
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.kick();
  }

  flush(): void {
    if (this.halted) return;
    // The pump drops its pending frame when its wait ends (it sees `pending` changed).
    const held = (this.pending === undefined ? 0 : 1) + frameCount(this.ahead?.discardReady() ?? []);
    this.pending = undefined;
    this.dropQueued(this.queueChannel, held);
    // An emptied queue may never say 'drain': try again now (a full one blocks again until it does).
    this.unblock();
    this.kick();
  }

  release(): Promise<Uint8Array[]> {
    if (this.released || this.stopped) return Promise.resolve([]);
    this.released = true;
    // The pump is suspended at an await: what it holds now is all it will ever have.
    const pending = this.pending;
    this.pending = undefined;
    // Read ahead of the pending frame (ends the pump's wait for the source, if any).
    const ahead = this.ahead?.takeAll() ?? Promise.resolve([]);
    this.kick();
    const queued = this.link.takeUnsent?.() ?? Promise.resolve([]);
    return Promise.all([queued, ahead]).then(([frames, later]) => {
      this.frames = Math.max(0, this.frames - frames.length); // handed over, not sent
      const unsent = pending === undefined ? frames : [...frames, pending];
      for (const item of later) if (isFrame(item)) unsent.push(item);
      return unsent;
    });
  }

  /**
   * Drops what this burst queued on `channel` and the `held` frames taken and not queued, counted
   * by the session (also while it is not ready: a resume keeps the channel, which sends on).
   */
  private dropQueued(channel: MediaChannel | undefined, held: number): void {
    if (channel === undefined && held === 0) return; // nothing of ours anywhere
    if (this.link.discardQueued !== undefined) {
      // Handed over and dropped, as the queued ones: sent + dropped stays what the source gave.
      this.frames += held;
      this.link.discardQueued(held, channel);
    } else channel?.clearQueue();
  }

  /**
   * Counts `taken` frames and what the source had read ahead (the call in flight included, once
   * it settles) as dropped, and in framesSent (sent + dropped = what the source gave).
   */
  private countDropped(taken: number, reason: 'stopped' | 'session-ended'): void {
    if (this.link.countDropped === undefined || (taken === 0 && this.ahead === undefined)) return;
    const readAhead = this.ahead?.takeAll() ?? Promise.resolve([]);
    const dropped = readAhead.then((items) => {
      const frames = taken + frameCount(items);
      this.frames += frames;
      return frames;
    });
    this.link.countDropped(dropped, reason);
  }

  private get halted(): boolean {
    return this.stopped || this.released;
  }

  private kick(): void {
    if (this.kickListeners.size > 0) for (const listener of [...this.kickListeners]) listener();
    this.changed();
    this.interrupt();
  }

  /** Ends the pending waitForChange(), if any. */
  private changed(): void {
    const resolve = this.changeResolve;
    this.changeResolve = undefined;
    resolve?.();
  }

  /** wake() with nothing extra, while run() holds its session subscription (which calls changed()). */
  private waitForChange(): Promise<void> {
    return new Promise<void>(this.changeExecutor);
  }

  private interrupt(): void {
    if (this.halted || this.link.isDestroyed()) this.settleItem(undefined, undefined);
  }

  /** Ends the pending nextItem() wait, if any (an item, an error, or undefined when interrupted). */
  private settleItem(item: IteratorResult<unknown> | undefined, err: Error | undefined): void {
    const resolve = this.itemResolve;
    const reject = this.itemReject;
    this.itemResolve = undefined;
    this.itemReject = undefined;
    if (err !== undefined) reject?.(err);
    else resolve?.(item);
  }

  /**
   * Marks `channel` full. The drain listener stays until 'drain' even across waits for other
   * reasons (a resume), so a drain is never missed.
   */
  private block(channel: MediaChannel): void {
    this.unblock();
    channel.on('drain', this.onDrain);
    this.blocked = channel;
  }

  /** Removes the drain listener, if any. */
  private unblock(): void {
    this.blocked?.off('drain', this.onDrain);
    this.blocked = undefined;
  }

  /**
   * Resolves when any of: stop() or 'drain' (unless `ignoreKicks`), a session state change, or
   * the `extra` registration fires. Everything registered is removed once it resolves.
   */
  private wake(extra?: (wake: () => void) => Cancel, ignoreKicks = false): Promise<void> {
    return this.waiter(extra, ignoreKicks).promise;
  }

  /** Like wake(), plus `cancel` to drop the registrations when something else won a race. */
  private waiter(
    extra?: (wake: () => void) => Cancel,
    ignoreKicks = false,
  ): { promise: Promise<void>; cancel: Cancel } {
    const cancels: Cancel[] = [];
    let done = false;
    let resolvePromise: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => (resolvePromise = resolve));
    const cancel = (): void => {
      if (done) return;
      done = true;
      for (const c of cancels) c();
    };
    const fire = (): void => {
      cancel();
      resolvePromise();
    };
    cancels.push(this.link.onChange(fire));
    if (!ignoreKicks) {
      this.kickListeners.add(fire);
      cancels.push(() => this.kickListeners.delete(fire));
    }
    if (extra) cancels.push(extra(fire));
    return { promise, cancel };
  }

  /**
   * The next source item, or undefined when stopped or destroyed while waiting for it. This runs
   * once per frame, so it costs one promise, no per-frame subscription (session changes reach
   * interrupt() through the one subscription held by run()). Once interrupted the pump asks for
   * no more items, so a source that settles late finds no wait to end (its rejection is handled).
   */
  private nextItem(it: AsyncIterator<unknown>): Promise<IteratorResult<unknown> | undefined> {
    if (this.halted || this.link.isDestroyed()) return Promise.resolve(undefined);
    const item = it.next();
    const wait = new Promise<IteratorResult<unknown> | undefined>((resolve, reject) => {
      this.itemResolve = resolve;
      this.itemReject = reject;
    });
    item.then(this.onItem, this.onItemError);
    return wait;
  }

  private async run(): Promise<void> {
    if (this.options.after) await this.options.after.catch(() => undefined);
    const flags = this.options.speakingFlags ?? SpeakingFlag.Microphone;
    const it = iterate(this.source);
    if (it instanceof ReadAhead) this.ahead = it;
    const pullNow = canPullNow(it) ? () => it.pullNow() : undefined;
    let spokenEpoch: number | undefined;
    let burstChannel: MediaChannel | undefined;
    let failure: VoxcordError | undefined;
    let sourceDone = false;
    const unsubscribe = this.link.onChange(() => {
      this.changed();
      this.interrupt();
    });

    try {
      pump: while (!this.halted) {
        let result: IteratorResult<unknown> | NotReady | undefined = NOT_READY;
        try {
          // Synchronously while the source has frames ready; one promise per frame only when not.
          if (pullNow !== undefined && !this.link.isDestroyed()) result = pullNow();
          if (result === NOT_READY) result = await this.nextItem(it);
        } catch (err) {
          sourceDone = true; // a throwing iterator is finished
          // Typed errors from a frame source (OPUS_UNAVAILABLE, AUDIO_INPUT_ERROR) pass through.
          throw isVoxcordError(err)
            ? err
            : new VoxcordError('AUDIO_INPUT_ERROR', 'the audio source failed', { cause: err });
        }
        if (result === undefined) break;
        if (result.done === true) {
          sourceDone = true;
          break;
        }
        const frame = result.value;
        if (!(frame instanceof Uint8Array)) {
          throw new VoxcordError('AUDIO_INPUT_ERROR', 'an Opus source must yield Uint8Array frames', {
            details: { type: typeof frame },
          });
        }
        if (frame.byteLength === 0) continue;
        this.pending = frame;

        // Wait until the session is ready and the channel has room (backpressure).
        let channel: MediaChannel | undefined;
        for (;;) {
          if (this.link.isDestroyed() || this.halted) break pump;
          channel = this.link.readyChannel();
          if (channel === undefined || this.blocked === channel) await this.waitForChange();
          else if (this.link.holdFrames?.() === true) await this.wake(afterOneFrame);
          else break;
        }
        const flushed = this.pending !== frame;
        this.pending = undefined;
        if (flushed) continue;
        // The engine encrypts as the frame leaves; endpoints that cannot hand it the key encrypt here.
        const wire = this.link.prepareFrame ? this.link.prepareFrame(frame) : frame;
        if (wire === null) {
          // Dropped (no DAVE send key yet; counted there): the frame still takes its 20 ms, or a
          // fast source would spin through without ever yielding to the event loop.
          await this.wake(afterOneFrame);
          continue;
        }
        if (spokenEpoch !== this.link.readyEpoch()) {
          // Before the first frame of the burst, and again after every resume (voice-gateway.md §7.5).
          this.link.sendSpeaking(flags);
          spokenEpoch = this.link.readyEpoch();
        }
        burstChannel = channel;
        this.queueChannel = channel;
        this.frames += 1;
        if (!channel.enqueue(wire)) this.block(channel);
      }
    } catch (err) {
      failure =
        err instanceof VoxcordError
          ? err
          : new VoxcordError('AUDIO_INPUT_ERROR', 'the audio source failed', { cause: err });
    }

    unsubscribe();
    this.unblock();
    if (!sourceDone) {
      // Release the source (e.g. destroy a Readable) without waiting on it.
      Promise.resolve()
        .then(() => it.return?.())
        .catch(() => undefined);
    }
    const held = this.pending === undefined ? 0 : 1;
    if (this.stopped) {
      this.dropQueued(burstChannel, held);
      this.countDropped(0, 'stopped');
    } else if (!this.released && this.link.isDestroyed()) {
      this.countDropped(held, 'session-ended');
    }
    if (burstChannel !== undefined && spokenEpoch !== undefined && !this.released)
      await this.endBurst(burstChannel);

    if (failure) throw failure;
    if (this.link.isDestroyed()) throw new VoxcordError('DESTROYED', 'the voice session was destroyed');
  }

  /** endBurst, wait for the trailing silence, then Speaking 0 (if the session is still ready). */
  private async endBurst(channel: MediaChannel): Promise<void> {
    if (this.link.isDestroyed() || this.link.readyChannel() !== channel) return;
    const limitMs = (channel.queued + SILENCE_FRAMES_AT_END) * FRAME_DURATION_MS + BURST_END_GRACE_MS;
    const waited = this.wake((fire) => {
      channel.on('burstEnd', fire);
      // A channel that never reports the end must not hang `finished`; frames the engine holds
      // for a DAVE key (bounded there) are still to be sent, so the wait goes on while it does.
      let timer: NodeJS.Timeout;
      const arm = (ms: number): void => {
        timer = setTimeout(() => (this.link.sendHeld?.() === true ? arm(limitMs) : fire()), ms);
      };
      arm(limitMs);
      return () => {
        channel.off('burstEnd', fire);
        clearTimeout(timer);
      };
    }, true);
    channel.endBurst();
    await waited;
    // Left 'ready' meanwhile: the speaking state starts over on the next ready anyway.
    if (this.link.readyChannel() === channel) this.link.sendSpeaking(SpeakingFlag.None);
  }
}

/** What the pump sends: a non-empty Uint8Array (it skips empty ones). */
function isFrame(item: unknown): item is Uint8Array {
  return item instanceof Uint8Array && item.byteLength > 0;
}

function frameCount(items: readonly unknown[]): number {
  let n = 0;
  for (const item of items) if (isFrame(item)) n += 1;
  return n;
}

/** The source's iterator (see frame-pull.ts); anything else yields one bad item that fails the pump. */
function iterate(source: unknown): AsyncIterator<unknown> {
  return (
    pumpIterator(source) ?? {
      next: async () => {
        throw new VoxcordError('AUDIO_INPUT_ERROR', 'the audio source is not an (async) iterable');
      },
    }
  );
}

/** Starts pumping `source` (one Opus frame per item) into the link's channel. */
export function transmit(
  link: TransmitLink,
  source: AsyncIterable<unknown>,
  options: TransmitOptions = {},
): SessionTransmission {
  return new TransmitPump(link, source, options);
}
