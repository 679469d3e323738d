/**
 * @discordjs/voice's VoiceReceiver on voxcord's: `subscribe(userId, { end })` gives an object-mode
 * Readable of Opus packets (Buffers, DAVE-decrypted, in timeline order; lost packets are left out,
 * as @discordjs/voice has nothing to push for them), `subscriptions`, and `speaking` (SpeakingMap).
 */
import { EventEmitter } from 'node:events';
import type { ReadableOptions } from 'node:stream';
import { AudioByteStream, VoxcordError, protocol } from '../../index.js';
import type { UserAudioStream, VoiceReceiver as VoxcordReceiver } from '../../index.js';
import { EndBehaviorType } from './enums.js';

export type EndBehavior =
  | { behavior: EndBehaviorType.AfterInactivity | EndBehaviorType.AfterSilence; duration: number }
  | { behavior: EndBehaviorType.Manual };

export interface AudioReceiveStreamOptions extends ReadableOptions {
  end: EndBehavior;
}

/**
 * The user's Opus packets, one Buffer per chunk: voxcord's AudioByteStream in its 'opus' format
 * (lost packets are left out, counted in `framesLost`), with @discordjs/voice's `end` property.
 */
export class AudioReceiveStream extends AudioByteStream {
  readonly end: EndBehavior;

  constructor(source: UserAudioStream, { end, ...options }: AudioReceiveStreamOptions) {
    super(source, { ...options, format: 'opus' });
    this.end = end;
  }
}

/** Who is speaking now: userId → when their burst started (Date.now()); 'start' and 'end' events. */
export class SpeakingMap extends EventEmitter {
  /** ms of silence before 'end' (voxcord's speaking tracker; @discordjs/voice's is 100). */
  static readonly DELAY = protocol.SPEAKING_END_DELAY_MS;
  readonly users = new Map<string, number>();

  /** @internal */
  onStart(userId: string): void {
    if (this.users.has(userId)) return;
    this.users.set(userId, Date.now());
    this.emit('start', userId);
  }

  /** @internal */
  onEnd(userId: string): void {
    if (!this.users.delete(userId)) return;
    this.emit('end', userId);
  }
}

export class VoiceReceiver {
  readonly subscriptions = new Map<string, AudioReceiveStream>();
  readonly speaking = new SpeakingMap();

  constructor(
    /** voxcord's receiver underneath (PCM streams, the mixed stream, stats ...). */
    readonly voxcord: VoxcordReceiver,
  ) {
    voxcord.on('speakingStart', (userId) => this.speaking.onStart(userId));
    voxcord.on('speakingEnd', (userId) => this.speaking.onEnd(userId));
  }

  /** The user's Opus packets; the same stream while it is open (as in @discordjs/voice). */
  subscribe(userId: string, options: Partial<AudioReceiveStreamOptions> = {}): AudioReceiveStream {
    const existing = this.subscriptions.get(userId);
    if (existing !== undefined) return existing;
    const end = options.end ?? { behavior: EndBehaviorType.Manual };
    if (end.behavior !== EndBehaviorType.Manual && !(end.duration > 0))
      throw new VoxcordError('INVALID_ARGUMENT', 'end.duration must be a positive number of ms');
    // Checked before subscribing: the stream's constructor would refuse it after the subscription opened.
    const { highWaterMark } = options;
    if (highWaterMark != null && !(Number.isInteger(highWaterMark) && highWaterMark >= 0))
      throw new VoxcordError('INVALID_ARGUMENT', 'highWaterMark must be an integer of 0 or more');
    const source = this.voxcord.subscribe(userId, {
      mode: 'opus',
      end:
        end.behavior === EndBehaviorType.AfterSilence
          ? { behavior: 'afterSilence', durationMs: end.duration }
          : end.behavior === EndBehaviorType.AfterInactivity
            ? { behavior: 'afterInactivity', durationMs: end.duration }
            : { behavior: 'manual' },
    });
    const stream = new AudioReceiveStream(source, { ...options, end });
    this.subscriptions.set(userId, stream);
    const forget = (): void => {
      if (this.subscriptions.get(userId) === stream) this.subscriptions.delete(userId);
    };
    stream.once('end', forget);
    stream.once('close', forget);
    return stream;
  }
}
