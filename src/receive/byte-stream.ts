/**
 * A byte view of one user's audio, for `pipe` to a file or a socket: a Readable over a
 * UserAudioStream that converts each frame as it is read, so a slow consumer holds frames back in
 * the UserAudioStream (whose capped queue counts what it drops) instead of queueing without bound.
 *
 * - PCM streams give s16le stereo 48 kHz bytes, one 3840-byte chunk per 20 ms (concealed frames
 *   included: their PLC output keeps the timeline).
 * - Opus streams give one Buffer per packet (`format: 'opus'`, object mode, as @discordjs/voice's
 *   AudioReceiveStream; a lost packet has nothing to push and is counted in `framesLost`), or an
 *   Ogg Opus file's bytes (`format: 'ogg'`; a lost packet is written as an Opus silence frame so
 *   the file's timeline holds, counted in `framesFilled`).
 */
import { Readable } from 'node:stream';
import type { ReadableOptions } from 'node:stream';
import { VoxcordError } from '../errors.js';
import { checkMethods, checkOptions } from '../util/args.js';
import { OPUS_SILENCE_FRAME } from '../protocol/constants.js';
import { OggOpusPager, pcmBytes } from './recorder.js';
import type { OggOpusOptions } from './recorder.js';
import type { FrameStream, ReceivedFrame } from './received-frame.js';

export type ByteStreamFormat = 'pcm' | 'opus' | 'ogg';

export interface AudioByteStreamOptions extends Omit<ReadableOptions, 'objectMode' | 'read' | 'destroy'> {
  /** Default: 'pcm' for a PCM stream, 'opus' for an Opus stream. 'ogg' needs an Opus stream. */
  format?: ByteStreamFormat;
  /** Ogg header options (`format: 'ogg'`). */
  ogg?: OggOpusOptions;
}

export class AudioByteStream extends Readable {
  readonly format: ByteStreamFormat;
  /** Opus format: frames whose packet was lost (nothing to push for them). */
  framesLost = 0;
  /** Ogg format: lost frames written as silence to keep the timeline. */
  framesFilled = 0;
  private readonly pager: OggOpusPager | undefined;
  private wanted = false;
  private ended = false;

  constructor(
    /** The frame stream underneath (its `dropped` counts frames a slow consumer missed). */
    readonly source: FrameStream,
    options: AudioByteStreamOptions = {},
  ) {
    checkMethods(source, 'source', 'a receive stream', ['read', 'on', 'once']);
    checkOptions(options);
    const { format, ogg, ...readableOptions } = options;
    const chosen = format ?? (source.mode === 'pcm' ? 'pcm' : 'opus');
    if (chosen !== 'pcm' && chosen !== 'opus' && chosen !== 'ogg') {
      throw new VoxcordError('INVALID_ARGUMENT', "byte stream format must be 'pcm', 'opus' or 'ogg'");
    }
    if ((chosen === 'pcm') !== (source.mode === 'pcm')) {
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        `a '${chosen}' byte stream needs a stream subscribed with mode '${chosen === 'pcm' ? 'pcm' : 'opus'}'`,
      );
    }
    super({ ...readableOptions, objectMode: chosen === 'opus' });
    this.format = chosen;
    if (chosen === 'ogg') {
      this.pager = new OggOpusPager(ogg);
      for (const page of this.pager.headers()) this.push(Buffer.from(page));
    }
    source.on('readable', () => this.pull());
    source.once('end', () => this.finish());
    // Destroyed without an end (the receiver's owner gave up on it): what was read still counts.
    source.once('close', () => this.finish());
    source.once('error', (error: Error) => this.destroy(error));
  }

  /** Frames the source dropped because this stream's consumer was not reading fast enough. */
  get framesDropped(): number {
    return this.source.dropped;
  }

  override _read(): void {
    this.wanted = true;
    this.pull();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.ended = true;
    if (!this.source.destroyed) this.source.destroy();
    callback(error);
  }

  private pull(): void {
    while (this.wanted && !this.ended) {
      const frame = this.source.read() as ReceivedFrame | null;
      if (frame === null) return;
      const chunk = this.convert(frame);
      if (chunk !== undefined) this.wanted = this.push(chunk);
    }
  }

  private convert(frame: ReceivedFrame): Buffer | undefined {
    if (this.format === 'pcm') {
      return frame.pcm === undefined ? undefined : Buffer.from(pcmBytes(frame.pcm));
    }
    const packet = frame.concealed ? undefined : frame.payload;
    if (this.pager === undefined) {
      if (packet === undefined) {
        this.framesLost++;
        return undefined;
      }
      return Buffer.from(packet);
    }
    if (packet === undefined) this.framesFilled++;
    const pages = this.pager.packet(packet ?? OPUS_SILENCE_FRAME.slice());
    return pages.length === 0 ? undefined : Buffer.concat(pages);
  }

  private finish(): void {
    if (this.ended || this.destroyed) return;
    // Frames still readable in the source are converted first (bounded by its queue cap).
    for (let frame = this.source.read() as ReceivedFrame | null; frame !== null;) {
      const chunk = this.convert(frame);
      if (chunk !== undefined) this.push(chunk);
      frame = this.source.read() as ReceivedFrame | null;
    }
    this.ended = true;
    if (this.pager !== undefined) this.push(Buffer.from(this.pager.end()));
    this.push(null);
  }
}
