/**
 * AudioPlayer: a queue of tracks (plus overlay tracks mixed on top) turned into one stream of 20 ms
 * Opus frames, sent to one or many voice sessions at once (broadcast: every attached session gets
 * the same frames).
 *
 * The player has no clock. It produces a frame when a session's transmit pump asks for one, which
 * the pump does at the pace its media channel accepts (20 ms ticks plus a short queue), so the
 * wire's clock paces everything and a player with no session attached does not advance.
 *
 * Pausing (default `pauseMode: 'gap'`): each session's stream ends, so its transmit pump ends the
 * burst — five silence frames, then Speaking 0 — and nothing is sent until resume() starts a new
 * burst; the RTP timestamps keep advancing through the gap (the media clock counts ticks, not
 * packets), so receivers place the resumed audio correctly. With `pauseMode: 'silence'` the player
 * instead keeps producing Opus silence frames while paused (counted in stats.framesSilent).
 * When nothing is left to play the player goes 'idle' and each stream ends the same way.
 */
import type { Readable } from 'node:stream';
import { loadOpus } from '../audio/opus.js';
import type { OpusCodecFactory } from '../audio/opus.js';
import { isVoxcordError, toError, VoxcordError } from '../errors.js';
import { FRAME_DURATION_MS, OPUS_SILENCE_FRAME } from '../protocol/constants.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { Transmission } from '../voice/transmit.js';
import { FrameFanout, DEFAULT_FANOUT_WINDOW } from './fanout.js';
import { FilterChain } from './filters/chain.js';
import type { FilterSettings } from './filters/chain.js';
import type { FanoutReader } from './fanout.js';
import { framesIn } from './inputs/source.js';
import type { FrameSource, OpenContext, SourceFrame, TrackInput } from './inputs/source.js';
import { Mixer } from './mixer.js';
import type { MixerInput } from './mixer.js';
import { checkVolume, Track } from './track.js';
import type { TrackMarker, TrackOptions } from './track.js';

export type PlayerStatus = 'idle' | 'playing' | 'paused' | 'destroyed';
export type PauseMode = 'gap' | 'silence';
/** Why a track stopped playing. Every 'trackStart' is followed by exactly one 'trackEnd'. */
export type TrackEndReason = 'finished' | 'skipped' | 'replaced' | 'stopped' | 'error' | 'destroyed';

/** What the player needs from a voice session (VoiceSession fits; tests use fakes). */
export interface PlayerTarget {
  playOpus(source: AsyncIterable<Uint8Array> | Readable): Transmission;
}

export interface PlayerStats {
  /** Frames produced (each counted once, however many sessions it went to). */
  framesSent: number;
  /** Of those, silence frames produced while paused in 'silence' mode. */
  framesSilent: number;
  /**
   * Frames produced more than one frame duration after their place on the playback timeline (the
   * input or a consumer was slower than real time, so listeners heard a gap).
   */
  framesLate: number;
  /** Frames sent as the source's own Opus packet (no decode/encode). */
  framesPassthrough: number;
  /** Frames mixed and encoded. */
  framesEncoded: number;
  /** Frames sessions missed because they fell more than the broadcast window behind. */
  framesSkipped: number;
}

export type AudioPlayerEvents = {
  stateChange: [oldStatus: PlayerStatus, newStatus: PlayerStatus];
  trackStart: [track: Track];
  trackEnd: [track: Track, reason: TrackEndReason];
  /** The track's input failed, stalled, ended early or was not audio; 'trackEnd' ('error') follows. */
  trackError: [track: Track, error: VoxcordError];
  /** Playback reached a marker (emitted when the frame holding it is handed to the sessions). */
  marker: [track: Track, marker: TrackMarker];
  debug: [message: string];
};

export interface AudioPlayerOptions {
  /** 'gap' (default): end the burst and send nothing while paused; 'silence': send silence frames. */
  pauseMode?: PauseMode;
  /** An input that yields no frame for this long gets a track error (default 10 000 ms). */
  stallTimeoutMs?: number;
  /** Player gain, 0-4 (default 1), multiplied with each track's own volume. */
  volume?: number;
  /** The Opus codec, or a loader; default loadOpus() when first needed (a lone Opus track at unity never needs it). */
  opus?: OpusCodecFactory | (() => Promise<OpusCodecFactory>);
  /** Frames a lagging session may fall behind before it jumps to the live position (default 50). */
  broadcastWindow?: number;
  /** Monotonic clock for the lateness stat, ms (default performance.now). */
  now?: () => number;
  /** Filters on the player's output (see FilterChain); change them live with `player.filters.set()`. */
  filters?: FilterSettings;
}

export const DEFAULT_STALL_TIMEOUT_MS = 10_000;

const CLOSED: unique symbol = Symbol('closed');
const STALLED: unique symbol = Symbol('stalled');

/** One track while it plays (the main track or an overlay). */
class Slot {
  source: FrameSource | undefined;
  /** Position in 20 ms frames. */
  frames = 0;
  pendingSeekFrames: number | undefined;
  started = false;
  ended = false;
  readonly closed: Promise<typeof CLOSED>;
  private wake: () => void = () => undefined;

  constructor(
    readonly track: Track,
    readonly layer: 'main' | 'overlay',
  ) {
    this.closed = new Promise((resolve) => (this.wake = () => resolve(CLOSED)));
  }

  close(): void {
    this.wake();
    const source = this.source;
    this.source = undefined;
    try {
      source?.close();
    } catch {
      // releasing a failed input must not fail the player
    }
  }
}

interface TargetEntry {
  readonly target: PlayerTarget;
  readonly reader: FanoutReader;
  transmission: Transmission | undefined;
  /** The current stream reached a burst end (so a new burst starts when there is audio again). */
  burstEnded: boolean;
}

export interface PlayerSubscription {
  /** Frames until the next burst end (pause or idle); call again for the next burst. */
  frames(): AsyncIterable<Uint8Array>;
  /** Frames this subscription missed by falling behind the broadcast window. */
  readonly skipped: number;
  close(): void;
}

function asTrack(item: Track | TrackInput, options?: TrackOptions): Track {
  return item instanceof Track ? item : new Track(item, options);
}

export class AudioPlayer extends TypedEmitter<AudioPlayerEvents> {
  private current: PlayerStatus = 'idle';
  private readonly pauseMode: PauseMode;
  private readonly stallTimeoutMs: number;
  private readonly now: () => number;
  private gain: number;
  /** Filters on the mixed output, live; inactive by default (Opus passes through). */
  readonly filters: FilterChain;
  private readonly upcoming: Track[] = [];
  private main: Slot | undefined;
  private readonly overlays = new Set<Slot>();
  private readonly mixer: Mixer;
  private readonly fanout: FrameFanout;
  private readonly targets = new Map<PlayerTarget, TargetEntry>();
  private readonly subscriptions = new Set<FanoutReader>();
  private codecPromise: Promise<OpusCodecFactory> | undefined;
  private readonly loadCodec: () => Promise<OpusCodecFactory>;
  private readonly counters = {
    framesSent: 0,
    framesSilent: 0,
    framesLate: 0,
    framesPassthrough: 0,
    framesEncoded: 0,
    skippedBefore: 0,
  };
  /** drained() callers waiting. */
  private drainWaiters: Array<() => void> = [];
  /** Lateness timeline of the current burst. */
  private burstStart: number | undefined;
  private burstFrames = 0;

  constructor(options: AudioPlayerOptions = {}) {
    super();
    this.pauseMode = options.pauseMode ?? 'gap';
    if (this.pauseMode !== 'gap' && this.pauseMode !== 'silence')
      throw new VoxcordError('INVALID_ARGUMENT', "pauseMode must be 'gap' or 'silence'");
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    if (!(this.stallTimeoutMs > 0))
      throw new VoxcordError('INVALID_ARGUMENT', 'stallTimeoutMs must be positive');
    this.gain = checkVolume(options.volume ?? 1);
    this.filters = new FilterChain(options.filters);
    this.now = options.now ?? (() => performance.now());
    const opus = options.opus;
    this.loadCodec =
      opus === undefined ? () => loadOpus() : typeof opus === 'function' ? opus : () => Promise.resolve(opus);
    this.mixer = new Mixer(() => this.codec());
    this.fanout = new FrameFanout(() => this.produce(), options.broadcastWindow ?? DEFAULT_FANOUT_WINDOW);
  }

  // ---- state ----

  get status(): PlayerStatus {
    return this.current;
  }

  /** The main track playing (or paused), if any. */
  get currentTrack(): Track | undefined {
    return this.main?.track;
  }

  /** Tracks waiting, in order. */
  get queue(): readonly Track[] {
    return [...this.upcoming];
  }

  /** Overlay tracks playing on top of the main track. */
  get overlayTracks(): readonly Track[] {
    return [...this.overlays].map((s) => s.track);
  }

  /** Position in the current main track, ms (0 when none). */
  get playbackDuration(): number {
    const slot = this.main;
    if (slot === undefined) return 0;
    return (slot.pendingSeekFrames ?? slot.frames) * FRAME_DURATION_MS;
  }

  get volume(): number {
    return this.gain;
  }

  /** Player gain (0-4); applies from the next frame, ramped over that frame. */
  set volume(value: number) {
    this.gain = checkVolume(value);
  }

  get stats(): PlayerStats {
    let skipped = this.counters.skippedBefore;
    for (const entry of this.targets.values()) skipped += entry.reader.skipped;
    for (const reader of this.subscriptions) skipped += reader.skipped;
    return {
      framesSent: this.counters.framesSent,
      framesSilent: this.counters.framesSilent,
      framesLate: this.counters.framesLate,
      framesPassthrough: this.counters.framesPassthrough,
      framesEncoded: this.counters.framesEncoded,
      framesSkipped: skipped,
    };
  }

  // ---- queue control ----

  /** Adds a track (or an input, wrapped in a Track) to the end of the queue; starts playing if idle. */
  enqueue(item: Track | TrackInput, options?: TrackOptions): Track {
    this.assertAlive();
    const track = asTrack(item, options);
    this.upcoming.push(track);
    if (this.current === 'idle') this.setStatus('playing');
    this.kick();
    return track;
  }

  /** Plays a track now: the current main track ends ('replaced'); the queue stays. Resumes if paused. */
  play(item: Track | TrackInput, options?: TrackOptions): Track {
    this.assertAlive();
    const track = asTrack(item, options);
    if (this.main) this.endSlot(this.main, 'replaced');
    this.upcoming.unshift(track);
    if (this.current !== 'playing') this.setStatus('playing');
    this.kick();
    return track;
  }

  /** Plays a track on top of the main track (an effect), mixed with its own volume. */
  mix(item: Track | TrackInput, options?: TrackOptions): Track {
    this.assertAlive();
    const track = asTrack(item, options);
    this.overlays.add(new Slot(track, 'overlay'));
    if (this.current === 'idle') this.setStatus('playing');
    this.kick();
    return track;
  }

  /** Removes a waiting track from the queue; false if it was not queued. */
  remove(track: Track): boolean {
    const i = this.upcoming.indexOf(track);
    if (i < 0) return false;
    this.upcoming.splice(i, 1);
    return true;
  }

  clearQueue(): void {
    this.upcoming.length = 0;
  }

  pause(): boolean {
    if (this.current !== 'playing') return false;
    this.setStatus('paused');
    return true;
  }

  resume(): boolean {
    if (this.current !== 'paused') return false;
    this.setStatus('playing');
    this.kick();
    return true;
  }

  /** Ends the current main track ('skipped'); the next queued one follows. False if none was playing. */
  skip(): boolean {
    if (this.main === undefined) {
      const next = this.upcoming.shift();
      if (next === undefined) return false;
      // Not started yet: dropped without events, like a removed one.
      this.settleIfEmpty();
      return true;
    }
    this.endSlot(this.main, 'skipped');
    this.settleIfEmpty();
    return true;
  }

  /** Ends everything ('stopped') and clears the queue. */
  stop(): void {
    if (this.current === 'destroyed') return;
    this.upcoming.length = 0;
    if (this.main) this.endSlot(this.main, 'stopped');
    for (const slot of [...this.overlays]) this.endSlot(slot, 'stopped');
    this.settleIfEmpty();
  }

  /**
   * Moves within the current main track. Seekable inputs (files, buffers, tones) reopen at the
   * position; others can only move forward (frames are read and dropped). Markers in between do not fire.
   */
  seek(ms: number): void {
    this.assertAlive();
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
      throw new VoxcordError('INVALID_ARGUMENT', 'seek position must be a non-negative number of ms');
    const slot = this.main;
    if (slot === undefined) throw new VoxcordError('INVALID_ARGUMENT', 'nothing is playing to seek in');
    const target = framesIn(ms);
    if (!slot.track.input.seekable && target < (slot.pendingSeekFrames ?? slot.frames)) {
      throw new VoxcordError('INVALID_ARGUMENT', 'this input is a stream: it can only seek forward', {
        details: { kind: slot.track.input.kind },
      });
    }
    slot.pendingSeekFrames = target;
  }

  // ---- sessions ----

  /**
   * Sends the player's frames to `target` too (broadcast). The session plays the player from the
   * live position; a new burst starts whenever the player has audio after a pause or idle time.
   * Also the SessionSubscriber hook, so a VoiceConnection can keep the player across its sessions.
   */
  attach(target: PlayerTarget): void {
    this.assertAlive();
    if (this.targets.has(target)) return;
    const entry: TargetEntry = {
      target,
      reader: this.fanout.reader(),
      transmission: undefined,
      burstEnded: false,
    };
    this.targets.set(target, entry);
    this.startStreaming(entry);
  }

  /** Stops sending to `target` (its transmission ends with the usual trailing silence). */
  detach(target: PlayerTarget): void {
    const entry = this.targets.get(target);
    if (entry === undefined) return;
    this.targets.delete(target);
    this.counters.skippedBefore += entry.reader.skipped;
    entry.reader.close();
    entry.transmission?.stop();
    entry.transmission = undefined;
    this.checkDrained();
  }

  get attached(): readonly PlayerTarget[] {
    return [...this.targets.keys()];
  }

  /**
   * Resolves once everything played has been sent: the player has nothing left to play ('idle',
   * or 'destroyed') and, on every attached connection or session, the last frame and the burst's
   * trailing silence have left for the network. Resolves at once when that is already so; waits
   * through a pause. Await it before `connection.destroy()`, which drops whatever is still queued.
   * (A connection that moves to a new session meanwhile sends the rest there first.)
   */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private isDrained(): boolean {
    if (this.current !== 'idle' && this.current !== 'destroyed') return false;
    for (const entry of this.targets.values()) if (entry.transmission !== undefined) return false;
    return true;
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0 || !this.isDrained()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Pulls the player's frames directly (recording, tests, custom transports); shares the broadcast. */
  subscribe(): PlayerSubscription {
    this.assertAlive();
    const reader = this.fanout.reader();
    this.subscriptions.add(reader);
    const close = (): void => {
      if (!this.subscriptions.delete(reader)) return;
      this.counters.skippedBefore += reader.skipped;
      reader.close();
    };
    return {
      frames: () => this.streamOf(reader, () => undefined),
      get skipped() {
        return reader.skipped;
      },
      close,
    };
  }

  /** Stops everything, detaches every session and frees the codecs. */
  destroy(): void {
    if (this.current === 'destroyed') return;
    this.upcoming.length = 0;
    if (this.main) this.endSlot(this.main, 'destroyed');
    for (const slot of [...this.overlays]) this.endSlot(slot, 'destroyed');
    for (const target of [...this.targets.keys()]) this.detach(target);
    for (const reader of [...this.subscriptions]) reader.close();
    this.subscriptions.clear();
    this.mixer.close();
    this.setStatus('destroyed');
  }

  // ---- internals: streaming to sessions ----

  private get active(): boolean {
    return this.current === 'playing' || (this.current === 'paused' && this.pauseMode === 'silence');
  }

  private kick(): void {
    if (!this.active) return;
    for (const entry of this.targets.values()) this.startStreaming(entry);
  }

  private streamOf(reader: FanoutReader, onBurstEnd: () => void): AsyncIterable<Uint8Array> {
    return reader.stream(onBurstEnd);
  }

  private startStreaming(entry: TargetEntry): void {
    if (entry.transmission !== undefined || !this.active || this.targets.get(entry.target) !== entry) return;
    entry.burstEnded = false;
    const stream = this.streamOf(entry.reader, () => (entry.burstEnded = true));
    let transmission: Transmission;
    try {
      transmission = entry.target.playOpus(stream);
    } catch (err) {
      // A destroyed session: drop it (a connection attaches its next session).
      this.debug(`session refused the stream: ${toError(err).message}`);
      this.detach(entry.target);
      return;
    }
    entry.transmission = transmission;
    const after = (err?: unknown): void => {
      if (entry.transmission !== transmission) return;
      entry.transmission = undefined;
      if (err !== undefined && isVoxcordError(err, 'DESTROYED')) {
        this.detach(entry.target);
        return;
      }
      if (err !== undefined) this.debug(`transmission failed: ${toError(err).message}`);
      // Restart only after our own burst end: if someone else took the session over, leave it to them.
      if (entry.burstEnded) this.startStreaming(entry);
      this.checkDrained();
    };
    transmission.finished.then(
      () => after(),
      (err: unknown) => after(err ?? new Error('transmission failed')),
    );
  }

  // ---- internals: producing frames ----

  private codec(): Promise<OpusCodecFactory> {
    this.codecPromise ??= this.loadCodec();
    return this.codecPromise;
  }

  /** One frame for the broadcast, or undefined for a burst end. Only the fanout calls this, one at a time. */
  private async produce(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.current === 'destroyed' || this.current === 'idle') return this.burstEnd();
      if (this.current === 'paused') {
        if (this.pauseMode === 'gap') return this.burstEnd();
        this.counters.framesSilent++;
        return this.account(OPUS_SILENCE_FRAME.slice());
      }
      const overlays = [...this.overlays];
      const reads = await Promise.all([this.readMain(), ...overlays.map((slot) => this.readOverlay(slot))]);
      const ready: { slot: Slot; frame: SourceFrame }[] = [];
      for (const r of reads) if (r !== undefined && !r.slot.ended) ready.push(r);
      if (ready.length === 0) {
        this.settleIfEmpty();
        continue;
      }
      const inputs: MixerInput[] = ready.map(({ slot, frame }) => ({
        key: slot,
        frame,
        gain: this.gain * slot.track.volume,
        filters: slot.track.filters,
      }));
      let mixed;
      try {
        mixed = await this.mixer.mix(inputs, this.filters);
      } catch (err) {
        const error = isVoxcordError(err)
          ? err
          : new VoxcordError('AUDIO_INPUT_ERROR', 'mixing failed', { cause: toError(err) });
        for (const { slot } of ready) this.endSlot(slot, 'error', error);
        this.settleIfEmpty();
        continue;
      }
      for (const failure of mixed.failed) {
        const slot = failure.key as Slot;
        this.endSlot(slot, 'error', failure.error);
      }
      if (mixed.failed.length === ready.length) {
        this.settleIfEmpty();
        continue;
      }
      if (mixed.passthrough) this.counters.framesPassthrough++;
      else this.counters.framesEncoded++;
      for (const { slot } of ready) if (!slot.ended) this.advance(slot);
      return this.account(mixed.frame);
    }
  }

  private burstEnd(): undefined {
    this.burstStart = undefined;
    return undefined;
  }

  /** Counts a produced frame, and whether it came later than its place on the timeline. */
  private account(frame: Uint8Array): Uint8Array {
    const now = this.now();
    this.counters.framesSent++;
    if (this.burstStart === undefined) {
      this.burstStart = now;
      this.burstFrames = 0;
    }
    const due = this.burstStart + this.burstFrames * FRAME_DURATION_MS;
    if (now - due > FRAME_DURATION_MS) {
      this.counters.framesLate++;
      // Re-anchor: one stall is one late frame, not a late rest of the burst.
      this.burstStart = now - this.burstFrames * FRAME_DURATION_MS;
    }
    this.burstFrames++;
    return frame;
  }

  /** Moves a slot one frame on and fires the markers inside that frame. */
  private advance(slot: Slot): void {
    const from = slot.frames * FRAME_DURATION_MS;
    slot.frames++;
    const to = from + FRAME_DURATION_MS;
    for (const marker of slot.track.markers) {
      if (marker.atMs >= to) break;
      if (marker.atMs >= from) this.safeEmit('marker', slot.track, marker);
    }
  }

  /** The main track's next frame, moving through the queue past tracks that end or fail. */
  private async readMain(): Promise<{ slot: Slot; frame: SourceFrame } | undefined> {
    for (;;) {
      if (this.current === 'destroyed') return undefined;
      let slot = this.main;
      if (slot === undefined) {
        const track = this.upcoming.shift();
        if (track === undefined) return undefined;
        slot = new Slot(track, 'main');
        this.main = slot;
      }
      const frame = await this.readSlot(slot);
      if (frame !== undefined) return { slot, frame };
      // The slot ended (finished, failed, or was skipped meanwhile): next track.
      if (!slot.ended) this.endSlot(slot, 'finished');
    }
  }

  private async readOverlay(slot: Slot): Promise<{ slot: Slot; frame: SourceFrame } | undefined> {
    const frame = await this.readSlot(slot);
    return frame === undefined ? undefined : { slot, frame };
  }

  /** The slot's next frame; undefined when it ended (its events already emitted) or was closed. */
  private async readSlot(slot: Slot): Promise<SourceFrame | undefined> {
    if (slot.ended) return undefined;
    if (!slot.started) {
      slot.started = true;
      this.safeEmit('trackStart', slot.track);
      if (slot.ended) return undefined;
    }
    try {
      if (slot.pendingSeekFrames !== undefined) {
        const target = slot.pendingSeekFrames;
        slot.pendingSeekFrames = undefined;
        if (slot.track.input.seekable) {
          const old = slot.source;
          slot.source = undefined;
          old?.close();
          slot.frames = target;
        } else {
          if (slot.source === undefined && !(await this.open(slot))) return undefined;
          const source = slot.source;
          if (source === undefined) return undefined;
          const skip = Math.max(0, target - slot.frames);
          // Each read is guarded (stall, close) on its own.
          for (let i = 0; i < skip; i++) {
            const r = await this.guard(slot, source.read());
            if (r === CLOSED) return undefined;
            if (r === undefined) break;
          }
          slot.frames = target;
        }
      }
      if (slot.source === undefined && !(await this.open(slot))) return undefined;
      const source = slot.source;
      if (source === undefined) return undefined;
      const frame = await this.guard(slot, source.read());
      if (frame === CLOSED || slot.ended) return undefined;
      if (frame === undefined) {
        this.endSlot(slot, 'finished');
        return undefined;
      }
      return frame;
    } catch (err) {
      if (!slot.ended) this.endSlot(slot, 'error', asInputError(err));
      return undefined;
    }
  }

  /** Opens the slot's input at its position; false when the slot was closed meanwhile. */
  private async open(slot: Slot): Promise<boolean> {
    const context: OpenContext = {
      startMs: slot.track.input.seekable ? slot.frames * FRAME_DURATION_MS : 0,
      codec: () => this.codec(),
    };
    if (!slot.track.input.seekable) slot.frames = 0;
    const opening = Promise.resolve().then(() => slot.track.input.open(context));
    // Whatever wins the race below, a source that arrives for a closed slot is released.
    opening.then(
      (source) => {
        if (slot.ended) source.close();
      },
      () => undefined,
    );
    const source = await this.guard(slot, opening);
    if (source === CLOSED || slot.ended) return false;
    slot.source = source;
    return true;
  }

  /** Races an input operation against the slot being closed and the stall timeout. */
  private async guard<T>(slot: Slot, operation: Promise<T>): Promise<T | typeof CLOSED> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<typeof STALLED>((resolve) => {
      timer = setTimeout(() => resolve(STALLED), this.stallTimeoutMs);
    });
    try {
      const result = await Promise.race([operation, slot.closed, stalled]);
      if (result === STALLED) {
        throw new VoxcordError(
          'AUDIO_INPUT_ERROR',
          `the input stalled: no audio for ${this.stallTimeoutMs} ms`,
          {
            details: { reason: 'stalled', timeoutMs: this.stallTimeoutMs },
          },
        );
      }
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends a playing slot: closes its input and reports it (if it had started). */
  private endSlot(slot: Slot, reason: TrackEndReason, error?: VoxcordError): void {
    if (slot.ended) return;
    slot.ended = true;
    slot.close();
    if (this.main === slot) this.main = undefined;
    this.overlays.delete(slot);
    this.mixer.drop(slot);
    if (!slot.started) return;
    if (error !== undefined) this.safeEmit('trackError', slot.track, error);
    this.safeEmit('trackEnd', slot.track, reason);
  }

  /** Goes idle when nothing is left to play. */
  private settleIfEmpty(): void {
    if (this.current === 'destroyed' || this.current === 'idle') return;
    if (this.main === undefined && this.upcoming.length === 0 && this.overlays.size === 0)
      this.setStatus('idle');
  }

  private setStatus(next: PlayerStatus): void {
    const old = this.current;
    if (old === next) return;
    this.current = next;
    this.safeEmit('stateChange', old, next);
    this.checkDrained();
  }

  private assertAlive(): void {
    if (this.current === 'destroyed') throw new VoxcordError('DESTROYED', 'the audio player was destroyed');
  }

  private debug(message: string): void {
    if (this.listenerCount('debug') > 0) this.safeEmit('debug', message);
  }

  /** A listener that throws must not break playback. */
  private safeEmit<E extends keyof AudioPlayerEvents>(event: E, ...args: AudioPlayerEvents[E]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      if (event !== 'debug') this.debug(`a '${event}' listener threw: ${toError(err).message}`);
    }
  }
}

function asInputError(err: unknown): VoxcordError {
  if (isVoxcordError(err)) return err;
  return new VoxcordError('AUDIO_INPUT_ERROR', 'the audio input failed', { cause: toError(err) });
}
