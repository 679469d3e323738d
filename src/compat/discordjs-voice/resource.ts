/**
 * createAudioResource and demuxProbe: a @discordjs/voice AudioResource is a voxcord Track (its
 * input chosen by StreamType) plus the fields bots read (`metadata`, `volume`, `playbackDuration`,
 * `started`, `ended`).
 */
import { Readable } from 'node:stream';
import {
  Track,
  VoxcordError,
  ffmpegInput,
  fileInput,
  oggOpusInput,
  opusFramesInput,
  parseOpusHead,
  pcmInput,
  sniffContainer,
  webmOpusInput,
} from '../../index.js';
import type { TrackInput } from '../../index.js';
import { StreamType } from './enums.js';

/** Math on null or a string would make a number of it (null ** x is 0: silence). */
function volumeNumber(value: unknown): number {
  if (typeof value !== 'number') throw new VoxcordError('INVALID_ARGUMENT', 'a volume must be a number');
  return value;
}

export interface CreateAudioResourceOptions<Metadata> {
  inputType?: StreamType;
  metadata?: Metadata;
  /** Lets `resource.volume` change the volume while it plays. */
  inlineVolume?: boolean;
  /** Accepted for compatibility; voxcord always ends a burst with five silence frames. */
  silencePaddingFrames?: number;
}

/** `resource.volume` when created with `inlineVolume: true` (prism-media's VolumeTransformer surface). */
export class VolumeTransformer {
  constructor(private readonly track: Track) {}

  get volume(): number {
    return this.track.volume;
  }

  /** Linear gain; voxcord accepts 0-4 (INVALID_ARGUMENT above that). */
  setVolume(volume: number): void {
    this.track.volume = volume;
  }

  setVolumeDecibels(db: number): void {
    this.setVolume(10 ** (volumeNumber(db) / 20));
  }

  setVolumeLogarithmic(value: number): void {
    this.setVolume(volumeNumber(value) ** 1.660964);
  }

  get volumeDecibels(): number {
    return 20 * Math.log10(this.volume);
  }

  get volumeLogarithmic(): number {
    return this.volume ** (1 / 1.660964);
  }
}

export class AudioResource<Metadata = unknown> {
  /** The voxcord track this resource plays as. */
  readonly track: Track;
  readonly metadata: Metadata;
  readonly volume: VolumeTransformer | undefined;
  /** The stream given to createAudioResource (for a path: an empty, ended stream). */
  readonly playStream: Readable;
  readonly silencePaddingFrames: number;
  /** Set by the player: whether it started, and whether it ended. */
  started = false;
  ended = false;
  /** @internal the player that played it (a resource plays once, as in @discordjs/voice). */
  audioPlayer: object | undefined;
  /** @internal ms played when it ended. */
  playedMs = 0;
  /** @internal the player's frame count when it started. */
  startFrame: number | undefined;
  /** @internal the player's position while it plays. */
  position: (() => number) | undefined;

  constructor(
    track: Track,
    playStream: Readable,
    metadata: Metadata,
    inlineVolume: boolean,
    padding: number,
  ) {
    this.track = track;
    this.playStream = playStream;
    this.metadata = metadata;
    this.volume = inlineVolume ? new VolumeTransformer(track) : undefined;
    this.silencePaddingFrames = padding;
  }

  /** ms of this resource played so far. */
  get playbackDuration(): number {
    return this.position?.() ?? this.playedMs;
  }

  /** True until the resource has ended (it can then not be played again). */
  get readable(): boolean {
    return !this.ended;
  }
}

function inputFor(input: Readable | string, type: StreamType): TrackInput {
  if (typeof input === 'string') {
    return type === StreamType.Arbitrary ? fileInput(input) : inputFor(fileStream(input), type);
  }
  switch (type) {
    case StreamType.Raw:
      return pcmInput(input);
    case StreamType.OggOpus:
      return oggOpusInput(input);
    case StreamType.WebmOpus:
      return webmOpusInput(input);
    case StreamType.Opus:
      return opusFramesInput(input);
    case StreamType.Arbitrary:
      return ffmpegInput(input);
    default:
      throw new VoxcordError('INVALID_ARGUMENT', `unknown StreamType ${String(type)}`);
  }
}

function fileStream(path: string): Readable {
  // Lazily opened so an unplayed resource holds no file descriptor.
  return Readable.from(
    (async function* () {
      const { createReadStream } = await import('node:fs');
      yield* createReadStream(path) as AsyncIterable<Uint8Array>;
    })(),
  );
}

export function createAudioResource<Metadata = null>(
  input: Readable | string,
  options: CreateAudioResourceOptions<Metadata> = {},
): AudioResource<Metadata> {
  if (typeof options !== 'object' || options === null)
    throw new VoxcordError('INVALID_ARGUMENT', 'createAudioResource options must be an object');
  const padding = options.silencePaddingFrames ?? 5;
  if (!(Number.isInteger(padding) && padding >= 0))
    throw new VoxcordError('INVALID_ARGUMENT', 'silencePaddingFrames must be an integer of 0 or more');
  const type = options.inputType ?? StreamType.Arbitrary;
  const metadata = (options.metadata ?? null) as Metadata;
  const track = new Track(inputFor(input, type), {
    metadata,
    title: typeof input === 'string' ? input : type,
  });
  const stream = typeof input === 'string' ? Readable.from([]) : input;
  return new AudioResource(track, stream, metadata, options.inlineVolume === true, padding);
}

export interface ProbeInfo {
  stream: Readable;
  type: StreamType;
}

/** Whether an OpusHead is stereo at 48 kHz, what Discord plays without re-encoding. */
export function validateDiscordOpusHead(opusHead: Buffer): boolean {
  try {
    const head = parseOpusHead(opusHead);
    return head.channels === 2 && head.inputSampleRate === 48_000;
  } catch {
    return false;
  }
}

/** The OpusHead packet of an Ogg stream's first page. */
function oggOpusHead(bytes: Buffer): Buffer {
  const start = 27 + (bytes[26] ?? 0);
  return bytes.subarray(start, start + 19);
}

/**
 * Reads the start of `stream` (up to `probeSize` bytes) and tells Ogg Opus and WebM Opus from
 * anything else (Arbitrary: ffmpeg will decode it); an Ogg stream whose OpusHead `validator`
 * rejects is Arbitrary too. The returned stream replays the bytes read.
 */
export async function demuxProbe(
  stream: Readable,
  probeSize = 1024,
  validator: (opusHead: Buffer) => boolean = validateDiscordOpusHead,
): Promise<ProbeInfo> {
  if (typeof (stream as Partial<AsyncIterable<unknown>> | null)?.[Symbol.asyncIterator] !== 'function')
    throw new VoxcordError('INVALID_ARGUMENT', 'demuxProbe needs a Readable stream');
  if (!(probeSize > 0) || typeof validator !== 'function')
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      'demuxProbe needs a positive probeSize and a validator function',
    );
  const it = (stream as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < probeSize) {
    const next = await it.next();
    if (next.done === true) {
      done = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : Buffer.from(next.value);
    head.push(chunk);
    size += chunk.length;
  }
  const bytes = Buffer.concat(head);
  const container = sniffContainer(bytes);
  const type =
    container === 'ogg-opus' && validator(oggOpusHead(bytes))
      ? StreamType.OggOpus
      : container === 'webm-opus'
        ? StreamType.WebmOpus
        : StreamType.Arbitrary;
  const replay = Readable.from(
    (async function* () {
      yield* head;
      if (done) return;
      for (;;) {
        const next = await it.next();
        if (next.done === true) return;
        yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      }
    })(),
    { objectMode: false },
  );
  return { stream: replay, type };
}
