/**
 * The one way a sender follows a VoiceConnection across its sessions. A connection replaces its
 * VoiceSession on region moves, channel moves and rejoins; a ConnectionPlayback is attached to
 * each new session in turn and feeds it from one RelaySource, so the audio continues from where
 * it was: it does not restart, frames are not consumed while no session is ready to send them,
 * and the frames the old session was given but did not send come back to the front
 * (`SessionTransmission.release()`) and go out first on the next one. `connection.playOpus()`
 * creates it; an AudioPlayer attached to a connection (`player.attach(connection)`) sends through
 * it, one playback per burst.
 */
import type { Readable } from 'node:stream';
import { isVoxcordError, toError, VoxcordError } from '../errors.js';
import type { SessionTransmission, Transmission } from '../voice/transmit.js';
import type { VoiceSession } from '../voice/session.js';
import { canPullNow, NOT_READY, pullIterator } from '../voice/frame-pull.js';
import type { NotReady, SyncPullIterator } from '../voice/frame-pull.js';

/**
 * The hook a VoiceConnection offers to what follows its sessions: `attach` is called with the
 * current session (if any) and with every new session; `detach` when a session is dropped (it is
 * destroyed right after). The receiver and recorders observe sessions through it; senders go
 * through `connection.playOpus()` (a ConnectionPlayback, which is this hook's one sender), so
 * unsent frames are carried to the next session instead of dropped with the old one.
 */
export interface SessionSubscriber {
  attach(session: VoiceSession): void;
  detach(session: VoiceSession): void;
}

/**
 * An audio player handed to `connection.subscribe()` (the @discordjs/voice idiom). It sends, so
 * the connection attaches it to itself (`player.attach(connection)`, which goes through
 * `playOpus()`) rather than to each session: one way for every sender. Told apart from session
 * observers by what only a sender has, `drained()`.
 */
export interface ConnectionSender {
  attach(target: { playOpus(source: AsyncIterable<Uint8Array>): Transmission }): void;
  detach(target: { playOpus(source: AsyncIterable<Uint8Array>): Transmission }): void;
  drained(): Promise<void>;
}

export function isConnectionSender(
  subscriber: SessionSubscriber,
): subscriber is SessionSubscriber & ConnectionSender {
  return typeof (subscriber as Partial<ConnectionSender>).drained === 'function';
}

export interface Playback extends Transmission {
  /** Sessions this playback has been sent on so far. */
  readonly sessions: number;
}

export class ConnectionPlayback implements Playback, SessionSubscriber {
  readonly finished: Promise<void>;
  private readonly relay: RelaySource<Uint8Array>;
  private current: { session: VoiceSession; transmission: SessionTransmission } | undefined;
  private framesBefore = 0;
  private sessionCount = 0;
  private settled = false;
  private stopped = false;
  private resolveFinished!: () => void;
  private rejectFinished!: (error: Error) => void;
  /** Called once when the playback is over, so the connection drops its subscription. */
  onSettled: (() => void) | undefined;

  /**
   * `onDropped`: frames the playback held between sessions (carried from the last one, not yet
   * taken by the next) and dropped at a stop or a cut. No session counts them; the connection does.
   */
  constructor(source: AsyncIterable<Uint8Array> | Readable, onDropped?: (frames: number) => void) {
    this.relay = new RelaySource<Uint8Array>(source as AsyncIterable<Uint8Array>, onDropped);
    this.finished = new Promise<void>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    // Callers may never await `finished`.
    this.finished.catch(() => undefined);
  }

  get framesSent(): number {
    return this.framesBefore + (this.current?.transmission.framesSent ?? 0);
  }

  get framesUnsent(): number {
    return this.current?.transmission.framesUnsent ?? 0;
  }

  get sessions(): number {
    return this.sessionCount;
  }

  attach(session: VoiceSession): void {
    if (this.settled || this.current?.session === session) return;
    this.detachCurrent();
    let transmission: SessionTransmission;
    try {
      transmission = session.playOpus(this.relay.view());
    } catch (err) {
      // A destroyed session: the next one will get us.
      void err;
      return;
    }
    const entry = { session, transmission };
    this.current = entry;
    this.sessionCount += 1;
    transmission.finished.then(
      () => {
        // A transmission also "finishes" when stopped; only the end of the source is the end.
        if (this.current === entry && (this.relay.ended || this.stopped)) this.settle();
      },
      (err: unknown) => {
        if (this.current !== entry) return;
        // The session went away under the pump: wait for the next session.
        if (isVoxcordError(err, 'DESTROYED') && !this.relay.ended) return;
        if (isVoxcordError(err, 'DESTROYED')) this.settle();
        else this.settle(toError(err));
      },
    );
  }

  detach(session: VoiceSession): void {
    if (this.current?.session === session) this.detachCurrent();
  }

  /**
   * The session goes away: the frames it was given but did not send come back to the front of
   * the relay, so the next session sends them (audio continues where it was, nothing skipped).
   */
  private detachCurrent(): void {
    if (this.current === undefined) return;
    const { transmission } = this.current;
    this.current = undefined;
    if (this.stopped || this.settled) {
      this.framesBefore += transmission.framesSent;
      return;
    }
    this.relay.restore(
      transmission.release().then((frames) => {
        this.framesBefore += transmission.framesSent; // without the frames taken back
        return frames;
      }),
    );
  }

  /** Drops what is queued and not sent: on the current session, and what an earlier one left. */
  flush(): void {
    if (this.stopped || this.settled) return;
    this.current?.transmission.flush?.();
    this.relay.discardHeld();
  }

  stop(): void {
    if (this.stopped || this.settled) return;
    this.stopped = true;
    void this.relay.close();
    if (this.current === undefined) this.settle();
    else this.current.transmission.stop();
  }

  private settle(error?: Error): void {
    if (this.settled) return;
    this.settled = true;
    void this.relay.close();
    if (error === undefined) this.resolveFinished();
    else
      this.rejectFinished(
        isVoxcordError(error)
          ? error
          : new VoxcordError('AUDIO_INPUT_ERROR', 'playback failed', { cause: error }),
      );
    this.onSettled?.();
  }
}

/**
 * One audio source shared by successive voice sessions: each session gets a `view()`, and closing
 * a view (what a `for await` does when its session dies) leaves the shared iterator open.
 */
export class RelaySource<T> implements AsyncIterable<T> {
  private readonly iterator: AsyncIterator<T>;
  private finished = false;
  /** Pulls are chained so two views never call next() concurrently on the shared iterator. */
  private chain: Promise<unknown> = Promise.resolve();
  /** pull() calls not settled yet: pullNow() must not overtake them. */
  private pulling = 0;
  /** Bumped by discardHeld(): a restore begun before it brings back values that are dropped. */
  private generation = 0;

  /** `onDiscarded`: how many values close() or discardHeld() dropped (held back or being put back). */
  constructor(
    source: AsyncIterable<T>,
    private readonly onDiscarded: (count: number) => void = () => undefined,
  ) {
    this.iterator = (pullIterator(source) ?? {
      next: () =>
        Promise.reject(new VoxcordError('AUDIO_INPUT_ERROR', 'the audio source is not an (async) iterable')),
    }) as AsyncIterator<T>;
  }

  /** True once the source is exhausted, failed, or was closed (and nothing is held back). */
  get ended(): boolean {
    return this.finished && this.pushedBack.length === 0 && this.restoring === 0;
  }

  /** restore() calls whose values have not been put back yet. */
  private restoring = 0;
  /** close() was called: nothing is put back any more. */
  private closed = false;

  /**
   * Puts values back in front of the source (frames a session took but never sent): the next
   * pulls return them first, in order, before anything held back or not read yet.
   */
  restore(values: Promise<T[]>): void {
    this.restoring++;
    const generation = this.generation;
    const next = this.chain.then(async () => {
      try {
        const restored = await values;
        if (this.closed || generation !== this.generation) this.discarded(restored.length);
        else this.pushedBack.unshift(...restored);
      } finally {
        this.restoring--;
      }
    });
    this.chain = next.catch(() => undefined);
  }

  /** Values pulled for a view that detached before they arrived: the next view gets them first. */
  private readonly pushedBack: T[] = [];

  /**
   * The next value if it is there now (held back, or ready in a source that can say so), without
   * a promise; NOT_READY while a pull or a restore is under way, so order is kept.
   */
  private pullNow(): IteratorResult<T> | NotReady {
    if (this.pulling > 0 || this.restoring > 0) return NOT_READY;
    const kept = this.pushedBack.shift();
    if (kept !== undefined) return { done: false, value: kept };
    if (this.finished) return { done: true, value: undefined };
    if (!canPullNow(this.iterator)) return NOT_READY;
    try {
      const result = this.iterator.pullNow();
      if (result !== NOT_READY && result.done === true) this.finished = true;
      return result;
    } catch (err) {
      this.finished = true;
      throw err;
    }
  }

  private pull(isDetached: () => boolean): Promise<IteratorResult<T>> {
    this.pulling++;
    const next = this.chain.then(async (): Promise<IteratorResult<T>> => {
      try {
        const kept = this.pushedBack.shift();
        if (kept !== undefined) return { done: false, value: kept };
        if (this.finished) return { done: true, value: undefined };
        const result = await this.iterator.next();
        if (result.done === true) this.finished = true;
        else if (isDetached()) {
          // Its session died while waiting (the pump dropped the pending pull): keep the position.
          this.pushedBack.push(result.value);
        }
        return result;
      } catch (err) {
        this.finished = true;
        throw err;
      } finally {
        this.pulling--;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** A consumer's view: its return() detaches the consumer only. */
  view(): AsyncIterable<T> {
    let detached = false;
    return {
      [Symbol.asyncIterator]: (): SyncPullIterator<T> => ({
        pullNow: (): IteratorResult<T> | NotReady =>
          detached ? { done: true, value: undefined } : this.pullNow(),
        next: (): Promise<IteratorResult<T>> =>
          detached ? Promise.resolve({ done: true, value: undefined }) : this.pull(() => detached),
        return: (): Promise<IteratorResult<T>> => {
          detached = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.view()[Symbol.asyncIterator]();
  }

  /** Drops what is held back and what restores under way bring back (a cut: none of it is to be heard). */
  discardHeld(): void {
    this.generation++;
    this.discarded(this.pushedBack.splice(0).length);
  }

  private discarded(count: number): void {
    if (count > 0) this.onDiscarded(count);
  }

  /** Ends the shared source for good (calls the source's return()); what it held is discarded. */
  async close(): Promise<void> {
    this.closed = true;
    this.discarded(this.pushedBack.splice(0).length);
    if (this.finished) return;
    this.finished = true;
    try {
      await this.iterator.return?.();
    } catch {
      // The source's own cleanup failing changes nothing for us: it is closed either way.
    }
  }
}
