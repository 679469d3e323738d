/**
 * A Track: an input plus what the player and its listeners need around it — metadata, markers at
 * positions in the track (each with its own metadata, reported by the player's 'marker' event when
 * playback reaches it) and a per-track volume that can change while it plays.
 */
import { VoxcordError } from '../errors.js';
import { checkArrayOf, checkNumber, checkOptions, invalidArgument } from '../util/args.js';
import { FilterChain } from './filters/chain.js';
import type { FilterSettings } from './filters/chain.js';
import type { MediaInfo, TrackInput } from './inputs/source.js';

export interface TrackMarker {
  /** Position in the track, ms. */
  readonly atMs: number;
  readonly metadata: unknown;
}

export interface TrackOptions {
  /** Anything the application wants back in events (title, requester, URL ...). */
  metadata?: unknown;
  /**
   * Display name. Default: the stream's own title (Ogg OpusTags TITLE, WebM Title or TITLE tag, a
   * local MP3/FLAC/MP4 file's tags, ffmpeg's or ffprobe's title tag) once the input is opened, else
   * the file name, else the input kind.
   */
  title?: string;
  /** Length, ms, if the application knows it; else what the container tells when opened. */
  durationMs?: number;
  /** Linear gain, 0-4 (default 1). Unity lets a lone Opus track pass through without re-encoding. */
  volume?: number;
  markers?: readonly { atMs: number; metadata?: unknown }[];
  /** This track's own filters (see FilterChain); change them live with `track.filters.set()`. */
  filters?: FilterSettings;
  /** Where the track ends, ms (see `Track.endMs`); default: the end of its input. */
  endMs?: number;
}

/** Volumes above 1 amplify (soft-clipped); 4 is plenty and keeps a typo from blasting a channel. */
export const MAX_VOLUME = 4;

export function checkVolume(volume: number): number {
  if (typeof volume !== 'number' || !Number.isFinite(volume) || volume < 0 || volume > MAX_VOLUME) {
    throw new VoxcordError('INVALID_ARGUMENT', `volume must be a number from 0 to ${MAX_VOLUME}`);
  }
  return volume;
}

let nextId = 1;

export class Track {
  /** Unique within the process. */
  readonly id: number;
  readonly input: TrackInput;
  readonly metadata: unknown;
  /** Filters on this track's audio alone (before mixing); inactive by default. */
  readonly filters: FilterChain;
  private gain: number;
  private readonly markerList: TrackMarker[] = [];
  private readonly givenTitle: string | undefined;
  private mediaTitle: string | undefined;
  private mediaArtist: string | undefined;
  private length: number | undefined;
  private readonly lengthGiven: boolean;
  private end: number | undefined;

  constructor(input: TrackInput, options: TrackOptions = {}) {
    if (input === null || typeof input !== 'object' || typeof input.open !== 'function') {
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        'a Track needs an input (pcmInput, oggOpusInput, ffmpegInput ...)',
      );
    }
    checkOptions(options);
    if (options.title !== undefined && typeof options.title !== 'string')
      throw invalidArgument('title', 'a string', options.title);
    checkArrayOf(options.markers, 'markers', 'object', 'optional');
    this.id = nextId++;
    this.input = input;
    this.metadata = options.metadata;
    this.givenTitle = options.title;
    this.lengthGiven = options.durationMs !== undefined;
    if (options.durationMs !== undefined) {
      checkNumber(options.durationMs, 'durationMs', { min: 0 });
      this.length = options.durationMs;
    }
    this.gain = checkVolume(options.volume ?? 1);
    this.endMs = options.endMs;
    this.filters = new FilterChain(options.filters);
    for (const m of options.markers ?? []) this.addMarker(m.atMs, m.metadata);
  }

  /** The title given, else the media's own, else the file name, else the input kind. */
  get title(): string {
    return this.givenTitle ?? this.mediaTitle ?? this.input.title ?? this.input.kind;
  }

  /** The media's own artist tag once the input is opened (MP3, FLAC, MP4 tags; ffmpeg's or ffprobe's), else undefined. */
  get artist(): string | undefined {
    return this.mediaArtist;
  }

  /** Length of the media, ms, once known (given, or told by the container, ffmpeg or ffprobe when opened). */
  get durationMs(): number | undefined {
    return this.length;
  }

  /** @internal What the input found out; true when the title, artist or duration changed. */
  learn(info: MediaInfo): boolean {
    let changed = false;
    const title = typeof info.title === 'string' ? info.title.trim().slice(0, 512) : '';
    if (title.length > 0 && title !== this.mediaTitle) {
      this.mediaTitle = title;
      changed = this.givenTitle === undefined || changed;
    }
    const artist = typeof info.artist === 'string' ? info.artist.trim().slice(0, 512) : '';
    if (artist.length > 0 && artist !== this.mediaArtist) {
      this.mediaArtist = artist;
      changed = true;
    }
    const duration = info.durationMs;
    if (
      !this.lengthGiven &&
      typeof duration === 'number' &&
      Number.isFinite(duration) &&
      duration >= 0 &&
      duration !== this.length
    ) {
      this.length = duration;
      changed = true;
    }
    return changed;
  }

  /** This track's gain; takes effect on the next frame (ramped over one frame, no click). */
  get volume(): number {
    return this.gain;
  }

  set volume(value: number) {
    this.gain = checkVolume(value);
  }

  /**
   * Where the track ends, ms in the track (undefined: the end of its input); also while it plays.
   * The player reads no further and the track finishes there as at its input's end: what was
   * produced before plays out, so listeners hear it up to this point. A position already passed
   * ends it at once.
   */
  get endMs(): number | undefined {
    return this.end;
  }

  set endMs(value: number | undefined) {
    if (value !== undefined) checkNumber(value, 'endMs', { min: 0 });
    this.end = value;
  }

  get seekable(): boolean {
    return this.input.seekable;
  }

  /** Markers in time order. */
  get markers(): readonly TrackMarker[] {
    return this.markerList;
  }

  /** Adds a marker (also while playing); one behind the current position fires only if playback gets there again (a seek back). */
  addMarker(atMs: number, metadata?: unknown): TrackMarker {
    if (typeof atMs !== 'number' || !Number.isFinite(atMs) || atMs < 0) {
      throw new VoxcordError('INVALID_ARGUMENT', 'a marker position must be a non-negative number of ms');
    }
    const marker: TrackMarker = Object.freeze({ atMs, metadata });
    let i = this.markerList.length;
    while (i > 0 && (this.markerList[i - 1]?.atMs ?? 0) > atMs) i--;
    this.markerList.splice(i, 0, marker);
    return marker;
  }

  toString(): string {
    return `Track#${this.id}(${this.title})`;
  }
}
