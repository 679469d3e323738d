/**
 * One subscriber's view of one user's audio: a Node Readable in object mode whose chunks are
 * ReceivedFrame, also usable as a typed async iterable (`for await (const f of stream.frames())`).
 *
 * The receiver pushes frames in timeline order (jitter-buffered, gaps included as concealed frames).
 * Nothing a packet contains can end or destroy the stream; it ends only by its end behaviour, by
 * `destroy()`, or when the receiver closes. Frames are pushed on the receiver's clock, so a consumer
 * that stops reading gets its oldest-first queue capped; newer frames are dropped and counted.
 */
import { Readable } from 'node:stream';
import { RECEIVE_MAX_QUEUED_FRAMES } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { checkOptions } from '../util/args.js';
import { AudioByteStream } from './byte-stream.js';
import type { AudioByteStreamOptions } from './byte-stream.js';
import type { ReceiveMode, ReceivedFrame } from './received-frame.js';

export type { ReceiveMode, ReceivedFrame } from './received-frame.js';

export type EndBehavior =
  /** Ends only when destroyed or when the receiver closes. */
  | { behavior: 'manual' }
  /** Ends after `durationMs` without audio (silence frames do not count), from the first frame on. */
  | { behavior: 'afterSilence'; durationMs: number }
  /**
   * Ends `durationMs` after the last packet received (silence frames count, lost ones do not),
   * from the first frame on: @discordjs/voice's AfterInactivity.
   */
  | { behavior: 'afterInactivity'; durationMs: number };

export interface SubscribeOptions {
  /** 'pcm' (default): decoded s16le stereo 48 kHz; 'opus': the (DAVE-decrypted) Opus frames. */
  mode?: ReceiveMode;
  end?: EndBehavior;
  /** Frames kept for a consumer that is not reading (default 500 = 10 s). */
  maxQueuedFrames?: number;
}

export function validateSubscribeOptions(options: SubscribeOptions): Required<SubscribeOptions> {
  checkOptions(options);
  const mode = options.mode ?? 'pcm';
  if (mode !== 'pcm' && mode !== 'opus') {
    throw new VoxcordError('INVALID_ARGUMENT', "subscribe mode must be 'pcm' or 'opus'");
  }
  const end = options.end ?? { behavior: 'manual' };
  if (end.behavior === 'afterSilence' || end.behavior === 'afterInactivity') {
    if (!Number.isFinite(end.durationMs) || end.durationMs <= 0) {
      throw new VoxcordError('INVALID_ARGUMENT', `${end.behavior} durationMs must be a positive number`);
    }
  } else if (end.behavior !== 'manual') {
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      "end behavior must be 'manual', 'afterSilence' or 'afterInactivity'",
    );
  }
  const maxQueuedFrames = options.maxQueuedFrames ?? RECEIVE_MAX_QUEUED_FRAMES;
  if (!Number.isInteger(maxQueuedFrames) || maxQueuedFrames < 1) {
    throw new VoxcordError('INVALID_ARGUMENT', 'maxQueuedFrames must be a positive integer');
  }
  return { mode, end, maxQueuedFrames };
}

export class UserAudioStream extends Readable {
  readonly userId: string;
  readonly mode: ReceiveMode;
  readonly endBehavior: EndBehavior;
  /** Frames dropped because the consumer was not reading. */
  dropped = 0;
  /** Frames delivered to the readable queue. */
  delivered = 0;
  private readonly maxQueuedFrames: number;
  private lastActivityAt: number | undefined;
  private lastPacketAt: number | undefined;
  private finished = false;
  private closeNotified = false;

  constructor(
    userId: string,
    options: SubscribeOptions = {},
    private readonly onClose: (stream: UserAudioStream) => void = () => {},
  ) {
    super({ objectMode: true, highWaterMark: 16 });
    const o = validateSubscribeOptions(options);
    this.userId = userId;
    this.mode = o.mode;
    this.endBehavior = o.end;
    this.maxQueuedFrames = o.maxQueuedFrames;
  }

  /** True once ended or destroyed; no more frames are accepted. */
  get isFinished(): boolean {
    return this.finished || this.destroyed;
  }

  /**
   * @internal Called by the receiver with frames in timeline order. `activity` is false for
   * concealed and silence frames (they do not hold an afterSilence stream open).
   */
  deliver(frame: ReceivedFrame, now: number, activity: boolean): void {
    if (this.isFinished) return;
    if (activity || this.lastActivityAt === undefined) this.lastActivityAt = now;
    if (frame.receivedAt !== undefined || this.lastPacketAt === undefined) this.lastPacketAt = now;
    if (this.readableLength >= this.maxQueuedFrames) {
      this.dropped++;
      return;
    }
    this.delivered++;
    this.push(frame);
  }

  /**
   * @internal Ends the stream if its afterSilence / afterInactivity window has passed. Returns true
   * if it ended.
   */
  checkSilence(now: number): boolean {
    const end = this.endBehavior;
    if (this.isFinished || end.behavior === 'manual') return false;
    const last = end.behavior === 'afterSilence' ? this.lastActivityAt : this.lastPacketAt;
    if (last === undefined || now - last < end.durationMs) return false;
    this.finish();
    return true;
  }

  /** Ends the stream gracefully: queued frames can still be read (idempotent). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.destroyed) this.push(null);
    this.notifyClose();
  }

  /**
   * A byte view of this stream for `pipe`: PCM as s16le bytes, Opus as one Buffer per packet, or
   * Opus in an Ogg container (see AudioByteStream). Read either this stream or its byte view.
   */
  bytes(options: AudioByteStreamOptions = {}): AudioByteStream {
    return new AudioByteStream(this, options);
  }

  /** Typed async iteration over the frames. */
  async *frames(): AsyncGenerator<ReceivedFrame> {
    for await (const f of this) yield f as ReceivedFrame;
  }

  override _read(): void {
    // Frames are pushed on the receiver's clock; nothing to pull.
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.finished = true;
    this.notifyClose();
    callback(error);
  }

  private notifyClose(): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    this.onClose(this);
  }
}
