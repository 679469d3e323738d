/**
 * Audio that outlives voice sessions. A VoiceConnection replaces its VoiceSession on region
 * moves, channel moves and rejoins; a Playback is attached to each new session in turn and feeds
 * it from one RelaySource, so the audio continues from where it was (it does not restart, and
 * frames are not consumed while no session is ready to send them).
 */
import type { Readable } from 'node:stream';
import { isVoxcordError, toError, VoxcordError } from '../errors.js';
import type { SessionTransmission, Transmission } from '../voice/transmit.js';
import type { VoiceSession } from '../voice/session.js';
import { RelaySource } from './relay-source.js';

/**
 * The hook a VoiceConnection offers to anything that sends audio: `attach` is called with the
 * current session (if any) and with every new session; `detach` when a session is dropped (it is
 * destroyed right after). An audio player implements this to survive session changes.
 */
export interface SessionSubscriber {
  attach(session: VoiceSession): void;
  detach(session: VoiceSession): void;
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

  constructor(source: AsyncIterable<Uint8Array> | Readable) {
    this.relay = new RelaySource<Uint8Array>(source as AsyncIterable<Uint8Array>);
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
