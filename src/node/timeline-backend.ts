/**
 * A backend without audio: each player keeps a real-time timeline (position, pause, seek,
 * endTime, the natural end of tracks with a known length) and accepts voice credentials without
 * connecting. It lets clients drive the whole protocol while the voice backend is not plugged in,
 * and is the test double of the protocol tests. It never claims audio it did not send: `frames` is
 * undefined (no frameStats), `connected` is false.
 */
import { resolveFilters } from '../player/filters/chain.js';
import type { FilterSettings } from '../player/filters/chain.js';
import { checkArg, checkOptions } from '../util/args.js';
import { setLongTimeout } from '../util/long-timeout.js';
import type {
  BackendPlayer,
  BackendPlayerContext,
  BackendPlayerListener,
  NodePlayerBackend,
  PlayableTrack,
  PlayOptions,
  VoiceCredentials,
} from './backend.js';

export interface TimelineBackendOptions {
  /** Clock, ms (default Date.now). */
  now?: () => number;
}

export class TimelinePlayer implements BackendPlayer {
  private track: PlayableTrack | undefined;
  /** Position at `since` (ms) and the time it was taken. */
  private base = 0;
  private since = 0;
  private paused = false;
  private endTime: number | undefined;
  /** Track ms per wall ms: a timescale's speed × rate (a track at speed 2 ends in half the time). */
  private tempo = 1;
  private cancelEnd: (() => void) | undefined;
  private destroyed = false;
  volume = 100;
  filters: FilterSettings = {};
  voice: VoiceCredentials | undefined;

  constructor(
    private readonly listener: BackendPlayerListener,
    private readonly now: () => number,
  ) {}

  get position(): number {
    if (this.track === undefined) return 0;
    return this.paused ? this.base : this.base + (this.now() - this.since) * this.tempo;
  }

  get connected(): boolean {
    return false;
  }

  get ping(): number {
    return -1;
  }

  get frames(): undefined {
    return undefined;
  }

  play(track: PlayableTrack, options: PlayOptions): void {
    this.track = track;
    this.base = options.startMs;
    this.since = this.now();
    this.paused = options.paused;
    this.endTime = options.endTimeMs;
    queueMicrotask(() => {
      if (this.track === track && !this.destroyed) this.listener.trackStart();
    });
    this.schedule();
  }

  stop(): void {
    this.track = undefined;
    this.clear();
  }

  setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.base = this.position;
    this.since = this.now();
    this.paused = paused;
    this.schedule();
  }

  seek(ms: number): void {
    if (this.track === undefined) return;
    this.base = ms;
    this.since = this.now();
    this.schedule();
  }

  setEndTime(ms: number | undefined): void {
    this.endTime = ms;
    this.schedule();
  }

  setVolume(volume: number): void {
    this.volume = volume;
  }

  setFilters(filters: FilterSettings): void {
    this.filters = filters;
    const t = resolveFilters(filters).timescale;
    const tempo = t === undefined ? 1 : t.speed * t.rate;
    if (tempo === this.tempo) return;
    this.base = this.position;
    this.since = this.now();
    this.tempo = tempo;
    this.schedule();
  }

  connect(voice: VoiceCredentials): Promise<void> {
    this.voice = voice;
    return Promise.resolve();
  }

  destroy(): void {
    this.destroyed = true;
    this.stop();
  }

  private clear(): void {
    this.cancelEnd?.();
    this.cancelEnd = undefined;
  }

  /** Arms the timer for the track's end (its length, or the endTime marker). */
  private schedule(): void {
    this.clear();
    const track = this.track;
    if (track === undefined || this.paused) return;
    const length = track.info.isStream || track.info.length <= 0 ? Infinity : track.info.length;
    const end = Math.min(length, this.endTime ?? Infinity);
    if (!Number.isFinite(end)) return;
    const wait = Math.max(0, (end - this.position) / this.tempo);
    // A client's encoded track may say any length: past 2^31 ms a plain setTimeout fires at once.
    this.cancelEnd = setLongTimeout(() => {
      if (this.track !== track) return;
      this.track = undefined;
      this.listener.trackEnd('finished');
    }, wait);
  }
}

export function createTimelineBackend(options: TimelineBackendOptions = {}): NodePlayerBackend & {
  readonly players: ReadonlyMap<string, TimelinePlayer>;
} {
  checkOptions(options);
  checkArg(options.now, 'now', 'function', 'optional');
  const now = options.now ?? Date.now;
  const players = new Map<string, TimelinePlayer>();
  return {
    name: 'timeline',
    players,
    createPlayer(context: BackendPlayerContext, listener: BackendPlayerListener): BackendPlayer {
      const player = new TimelinePlayer(listener, now);
      const key = `${context.sessionId}/${context.guildId}`;
      players.set(key, player);
      const destroy = player.destroy.bind(player);
      player.destroy = () => {
        players.delete(key);
        destroy();
      };
      return player;
    },
  };
}
