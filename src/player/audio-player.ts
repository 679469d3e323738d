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
import { checkArg, checkDelay, checkMethods, checkNumber, checkOneOf, checkOptions } from '../util/args.js';
import { Interrupt } from '../util/interrupt.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { NOT_READY } from '../voice/frame-pull.js';
import type { NotReady } from '../voice/frame-pull.js';
import type { Transmission } from '../voice/transmit.js';
import { FrameFanout, DEFAULT_FANOUT_WINDOW } from './fanout.js';
import { FilterChain } from './filters/chain.js';
import type { FilterSettings } from './filters/chain.js';
import type { FanoutReader } from './fanout.js';
import { framesIn } from './inputs/source.js';
import type { FrameSource, OpenContext, SourceFrame, TrackInput } from './inputs/source.js';
import { FRAME_SAMPLES, Mixer } from './mixer.js';
import type { MixerInput } from './mixer.js';
import { checkVolume, Track } from './track.js';
import type { TrackMarker, TrackOptions } from './track.js';

/** 'autopaused': there is audio to play but nothing to send it to (see `noSubscriber`). */
export type PlayerStatus = 'idle' | 'playing' | 'paused' | 'autopaused' | 'destroyed';
export type PauseMode = 'gap' | 'silence';
/** Repeat the current track, or the whole queue (each finished or skipped track goes back to its end). */
export type LoopMode = 'off' | 'track' | 'queue';
/**
 * What the player does while no session, connection or subscription is attached to take its
 * frames: 'pause' (status 'autopaused' until one is attached), 'play' (keep playing at the real-time
 * pace to nobody: every frame is counted in `stats.framesDropped['no-subscriber']`), 'stop' (stop
 * and clear the queue, as stop() does). Checked one event-loop turn after the change, so
 * `enqueue()` then `attach()` in the same turn never stops or pauses.
 */
export type NoSubscriberBehavior = 'pause' | 'play' | 'stop';
/** Why a frame the player produced was heard by nobody. */
export type PlayerDropReason = 'no-subscriber';
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
  /** Frames produced that nobody heard, by reason ('no-subscriber': `noSubscriber: 'play'` with nothing attached). */
  framesDropped: Record<PlayerDropReason, number>;
}

export type AudioPlayerEvents = {
  stateChange: [oldStatus: PlayerStatus, newStatus: PlayerStatus];
  trackStart: [track: Track];
  trackEnd: [track: Track, reason: TrackEndReason];
  /** The track's input failed, stalled, ended early or was not audio; 'trackEnd' ('error') follows. */
  trackError: [track: Track, error: VoxcordError];
  /** Playback reached a marker (emitted when the frame holding it is handed to the sessions). */
  marker: [track: Track, marker: TrackMarker];
  /** Every `positionIntervalMs` while playing: the position listeners hear in the current track. */
  position: [track: Track, positionMs: number];
  /** The input told the track its title, artist or duration (stream metadata, container headers, ffprobe). */
  trackInfo: [track: Track];
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
  /** 'off' (default), 'track' or 'queue'; change it live with `player.loop`. */
  loop?: LoopMode;
  /** What to do while nothing is attached (default 'pause'). */
  noSubscriber?: NoSubscriberBehavior;
  /** Interval of 'position' events while playing, ms (default 1000; 0 turns them off). */
  positionIntervalMs?: number;
}

export const DEFAULT_STALL_TIMEOUT_MS = 10_000;
export const DEFAULT_POSITION_INTERVAL_MS = 1_000;
/**
 * Produced frames remembered to map what a listener hears back to a track position: 2.56 s, four
 * times what a session holds unsent (the engine's queue of 25 frames, the pump's frame); an older
 * heard frame falls back to the produced position. Per player, so kept small (node, P players).
 */
const HEARD_HISTORY = 128;
/** Fanout items whose player seq is remembered, at least (more than twice the fanout's window). */
const ITEM_SEQ_RING = 128;
/** ... and at most (a reader 20 min behind only estimates its position from the frames it took). */
const MAX_ITEM_SEQ_RING = 65_536;

const PAUSE_MODES: readonly PauseMode[] = ['gap', 'silence'];
const LOOP_MODES: readonly LoopMode[] = ['off', 'track', 'queue'];
const NO_SUBSCRIBER_BEHAVIORS: readonly NoSubscriberBehavior[] = ['pause', 'play', 'stop'];

/** What the player produced as frame number `seq`: the main track and its position after it. */
interface Produced {
  seq: number;
  track: Track | undefined;
  frames: number;
}

const CLOSED: unique symbol = Symbol('closed');
/** readSlot's answer at the end of the input when the caller finishes the slot itself. */
const END: unique symbol = Symbol('end');
const STALLED: unique symbol = Symbol('stalled');

/** The slot's position has reached its track's endMs: read no further. */
function atEnd(slot: Slot): boolean {
  const end = slot.track.endMs;
  return end !== undefined && slot.frames >= framesIn(end);
}

/** A slot's frame for this tick; `stretched` when it came out of its track's own timescale. */
interface Ready {
  slot: Slot;
  frame: SourceFrame;
  stretched: boolean;
}

/** One track while it plays (the main track or an overlay). */
class Slot {
  source: FrameSource | undefined;
  /** Position in 20 ms frames. */
  frames = 0;
  pendingSeekFrames: number | undefined;
  started = false;
  ended = false;
  /** The input ended while its track's timescale still holds output (drained before the end). */
  inputDone = false;
  /** Ends the slot's pending input wait: for good when it closes, once when a read stalls. */
  readonly interrupt = new Interrupt<typeof CLOSED | typeof STALLED>();
  /** The slot's one stall timer, re-armed at each guarded read (not a timer per read). */
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly track: Track,
    readonly layer: 'main' | 'overlay',
  ) {}

  /** A guarded read starts: STALLED reaches it if it is still pending after `ms`. */
  watchStall(ms: number): void {
    if (this.stallTimer === undefined) this.stallTimer = setTimeout(() => this.interrupt.poke(STALLED), ms);
    else this.stallTimer.refresh().ref();
  }

  /** The read is over: the timer may fire idle, and holds nothing open meanwhile. */
  unwatchStall(): void {
    this.stallTimer?.unref();
  }

  close(): void {
    this.interrupt.fire(CLOSED);
    clearTimeout(this.stallTimer);
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
  /** Player frame number of the last frame this target took. */
  lastSeq: number | undefined;
  /** The heard frame as the transmission last told it (-1: not yet), and since when. */
  rawHeard: number;
  rawAt: number;
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
  /** produce() is waiting for an input (for missedFrames). */
  private producing = false;
  private loopMode: LoopMode;
  private readonly noSubscriber: NoSubscriberBehavior;
  private readonly positionIntervalMs: number;
  private positionTimer: NodeJS.Timeout | undefined;
  private consumerCheck: NodeJS.Immediate | undefined;
  /** The real-time puller of `noSubscriber: 'play'`. */
  private sink: { stop(): void } | undefined;
  private readonly droppedFrames: Record<PlayerDropReason, number> = { 'no-subscriber': 0 };
  /**
   * The last HEARD_HISTORY produced frames, as a ring of parallel arrays (not an object per frame:
   * 50 allocations a second and ~25 KiB per player): its seq (0 = empty slot) and that track's
   * frame count then, side by side in one 32-bit array (2^32 frames are 2.7 years), and the main
   * track.
   */
  private readonly history = new Uint32Array(2 * HEARD_HISTORY);
  private readonly historyTrack: (Track | undefined)[] = new Array<Track | undefined>(HEARD_HISTORY).fill(
    undefined,
  );
  /**
   * The player's frame seq of each fanout item, by the item's fanout sequence (a ring: a reader is
   * never more than the fanout's window behind). Not a WeakMap keyed by frame: a weak entry per
   * frame costs the GC at 50 frames a second per player. 32-bit, as the history's seqs.
   */
  private readonly itemSeq: Uint32Array;

  constructor(options: AudioPlayerOptions = {}) {
    super();
    checkOptions(options);
    checkArg(options.now, 'now', 'function', 'optional');
    if (options.opus !== undefined && typeof options.opus !== 'function')
      checkMethods(options.opus, 'opus', 'an Opus codec factory or a function giving one', [
        'createEncoder',
        'createDecoder',
      ]);
    this.pauseMode = checkOneOf(options.pauseMode ?? 'gap', 'pauseMode', PAUSE_MODES);
    checkDelay(options.stallTimeoutMs, 'stallTimeoutMs', 'optional');
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.gain = checkVolume(options.volume ?? 1);
    this.filters = new FilterChain(options.filters);
    this.now = options.now ?? (() => performance.now());
    const opus = options.opus;
    this.loadCodec =
      opus === undefined ? () => loadOpus() : typeof opus === 'function' ? opus : () => Promise.resolve(opus);
    this.loopMode = checkOneOf(options.loop ?? 'off', 'loop', LOOP_MODES);
    this.noSubscriber = checkOneOf(options.noSubscriber ?? 'pause', 'noSubscriber', NO_SUBSCRIBER_BEHAVIORS);
    // 0: off.
    checkDelay(options.positionIntervalMs, 'positionIntervalMs', 'optional', 'zero');
    this.positionIntervalMs = options.positionIntervalMs ?? DEFAULT_POSITION_INTERVAL_MS;
    // At least one frame: with none, the fanout could never hand a frame to anyone (it looped).
    checkNumber(options.broadcastWindow, 'broadcastWindow (frames)', {
      integer: true,
      min: 1,
      optional: true,
    });
    const broadcastWindow = options.broadcastWindow ?? DEFAULT_FANOUT_WINDOW;
    this.mixer = new Mixer(() => this.codec());
    this.fanout = new FrameFanout(
      () => this.produce(),
      broadcastWindow,
      () => this.produceNow(),
    );
    const window = this.fanout.window;
    const ring = Number.isFinite(window) ? Math.max(ITEM_SEQ_RING, 2 * Math.ceil(window) + 2) : 0;
    this.itemSeq = new Uint32Array(Math.min(ring || MAX_ITEM_SEQ_RING, MAX_ITEM_SEQ_RING));
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

  /**
   * Position in the current main track that listeners hear now, ms (0 when none): the frame the
   * media engine sent last, not the one the player produced (`aheadMs` earlier). With a worker
   * engine the queue is known as of the worker's last report (it reports when the queue falls to
   * its low-water mark); in between, the engine's clock is taken to send one frame per 20 ms.
   */
  get playbackDuration(): number {
    const slot = this.main;
    if (slot === undefined) return 0;
    if (slot.pendingSeekFrames !== undefined) return slot.pendingSeekFrames * FRAME_DURATION_MS;
    const heard = this.heard();
    if (heard === undefined) return slot.frames * FRAME_DURATION_MS; // older than the history
    return heard.track === slot.track ? heard.frames * FRAME_DURATION_MS : 0;
  }

  /**
   * The track of the frame listeners heard last, and its position then, ms; undefined before the
   * first frame or when that frame is older than the player's history. Unlike `playbackDuration`
   * it follows a track that the player has finished producing until its last frame is heard.
   */
  get lastHeard(): { track: Track; positionMs: number } | undefined {
    const heard = this.heard();
    if (heard?.track === undefined) return undefined;
    return { track: heard.track, positionMs: heard.frames * FRAME_DURATION_MS };
  }

  /** How far the player's production runs ahead of what listeners hear, ms. */
  get aheadMs(): number {
    const heard = this.heard();
    return heard === undefined ? 0 : (this.counters.framesSent - heard.seq) * FRAME_DURATION_MS;
  }

  /**
   * Consecutive 20 ms frames the player owes right now because its input has not delivered in
   * time (0 when on time): @discordjs/voice's missedFrames. A stall beyond `stallTimeoutMs` fails the track.
   */
  get missedFrames(): number {
    if (!this.producing || this.burstStart === undefined) return 0;
    const due = this.burstStart + this.burstFrames * FRAME_DURATION_MS;
    return Math.max(0, Math.floor((this.now() - due) / FRAME_DURATION_MS));
  }

  get loop(): LoopMode {
    return this.loopMode;
  }

  set loop(mode: LoopMode) {
    this.loopMode = checkOneOf(mode, 'loop', LOOP_MODES);
  }

  /**
   * Notes the target's heard frame as its transmission tells it, and when that changed. Called as
   * the pump asks for a frame too: it asks right after the engine reported room in its queue.
   */
  private observe(entry: TargetEntry, now: number): void {
    if (entry.lastSeq === undefined) return;
    const raw = Math.max(0, entry.lastSeq - (entry.transmission?.framesUnsent ?? 0));
    if (raw === entry.rawHeard) return;
    entry.rawHeard = raw;
    entry.rawAt = now;
  }

  /** The last frame heard: by the most advanced attached target, else the last frame produced. */
  private heard(): Produced | undefined {
    const produced = this.counters.framesSent;
    const now = this.now();
    let best: number | undefined;
    for (const entry of this.targets.values()) {
      if (entry.lastSeq === undefined) continue;
      this.observe(entry, now);
      // A worker engine reports its queue only now and then; in between its clock still sends a
      // frame per tick (the estimate never passes the frames the target took).
      const ticks = Math.floor((now - entry.rawAt) / FRAME_DURATION_MS);
      best = Math.max(best ?? 0, Math.min(entry.lastSeq, entry.rawHeard + ticks));
    }
    const seq = best ?? produced;
    if (seq === 0) return { seq: 0, track: undefined, frames: 0 }; // nothing heard yet
    const i = seq % HEARD_HISTORY;
    if (this.history[2 * i] !== seq) return undefined;
    return { seq, track: this.historyTrack[i], frames: this.history[2 * i + 1] ?? 0 };
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
      framesDropped: { ...this.droppedFrames },
    };
  }

  // ---- queue control ----

  /** Adds a track (or an input, wrapped in a Track) to the end of the queue; starts playing if idle. */
  enqueue(item: Track | TrackInput, options?: TrackOptions): Track {
    this.assertAlive();
    const track = asTrack(item, options);
    this.upcoming.push(track);
    if (this.current === 'idle') this.setPlaying();
    this.kick();
    return track;
  }

  /** Plays a track now: the current main track ends ('replaced'); the queue stays. Resumes if paused. */
  play(item: Track | TrackInput, options?: TrackOptions): Track {
    this.assertAlive();
    const track = asTrack(item, options);
    if (this.main) this.endSlot(this.main, 'replaced');
    this.upcoming.unshift(track);
    if (this.current !== 'playing' && this.current !== 'autopaused') this.setPlaying();
    this.kick();
    return track;
  }

  /** Plays a track on top of the main track (an effect), mixed with its own volume. */
  mix(item: Track | TrackInput, options?: TrackOptions): Track {
    this.assertAlive();
    const track = asTrack(item, options);
    this.overlays.add(new Slot(track, 'overlay'));
    if (this.current === 'idle') this.setPlaying();
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
    if (this.current !== 'playing' && this.current !== 'autopaused') return false;
    this.setStatus('paused');
    return true;
  }

  resume(): boolean {
    if (this.current !== 'paused') return false;
    this.setPlaying();
    this.kick();
    return true;
  }

  /**
   * Ends the current main track ('skipped'); the next queued one follows, heard at once (as with
   * stop()). With none started yet, drops the next queued track instead (without events). False
   * if nothing was playing or queued.
   */
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

  /**
   * Ends everything ('stopped') and clears the queue. Listeners hear it at once: the frames the
   * attached connections had queued ahead (`aheadMs`) are dropped, counted in their sendStats as
   * 'stopped', and the burst ends with its trailing silence.
   */
  stop(): void {
    if (this.current === 'destroyed') return;
    this.upcoming.length = 0;
    if (this.main) this.endSlot(this.main, 'stopped');
    for (const slot of [...this.overlays]) this.endSlot(slot, 'stopped');
    this.settleIfEmpty();
    for (const entry of this.targets.values()) {
      if (entry.transmission === undefined) continue;
      // Its end restarts streaming (the next play() finds the target free), as a burst end does.
      entry.burstEnded = true;
      entry.transmission.stop();
    }
  }

  /**
   * Moves within the current main track. Seekable inputs (files, buffers, tones) reopen at the
   * position; others can only move forward (frames are read and dropped). Markers in between do not fire.
   * Heard at once: what the targets queued from the old position is dropped (as with stop()).
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
    this.cutAhead();
  }

  // ---- sessions ----

  /**
   * Sends the player's frames to `target` too (broadcast). The session plays the player from the
   * live position; a new burst starts whenever the player has audio after a pause or idle time.
   * Also the SessionSubscriber hook, so a VoiceConnection can keep the player across its sessions.
   */
  attach(target: PlayerTarget): void {
    this.assertAlive();
    if (typeof (target as Partial<PlayerTarget> | null)?.playOpus !== 'function')
      throw new VoxcordError('INVALID_ARGUMENT', 'attach needs a VoiceConnection or a voice session');
    if (this.targets.has(target)) return;
    const entry: TargetEntry = {
      target,
      reader: this.fanout.reader(),
      transmission: undefined,
      burstEnded: false,
      lastSeq: undefined,
      rawHeard: -1,
      rawAt: 0,
    };
    this.targets.set(target, entry);
    this.consumersChanged();
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
    this.consumersChanged();
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
    this.consumersChanged();
    const close = (): void => {
      if (!this.subscriptions.delete(reader)) return;
      this.counters.skippedBefore += reader.skipped;
      reader.close();
      this.consumersChanged();
    };
    return {
      frames: () => this.streamOf(reader, undefined, () => undefined),
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
    this.stopSink();
    if (this.consumerCheck !== undefined) clearImmediate(this.consumerCheck);
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

  // ---- internals: nothing attached (noSubscriber) ----

  private get consumers(): number {
    return this.targets.size + this.subscriptions.size;
  }

  /** 'playing', or 'autopaused' when nothing is attached and noSubscriber is 'pause'. */
  private setPlaying(): void {
    if (this.consumers === 0) this.consumersChanged();
    this.setStatus('playing');
  }

  /** Re-evaluates noSubscriber one turn later (an attach in the same turn counts). */
  private consumersChanged(): void {
    if (this.consumers > 0) {
      this.stopSink();
      if (this.current === 'autopaused') {
        this.setStatus('playing');
        this.kick();
      }
      return;
    }
    if (this.consumerCheck !== undefined || this.current === 'destroyed') return;
    this.consumerCheck = setImmediate(() => {
      this.consumerCheck = undefined;
      if (this.consumers > 0 || this.current !== 'playing') return;
      if (this.noSubscriber === 'stop') this.stop();
      else if (this.noSubscriber === 'pause') this.setStatus('autopaused');
      else this.startSink();
    });
  }

  /** noSubscriber 'play': takes the frames at the real-time pace; each is counted as unheard. */
  private startSink(): void {
    if (this.sink !== undefined) return;
    const reader = this.fanout.reader();
    let running = true;
    const sink = {
      stop: (): void => {
        running = false;
        reader.close();
      },
    };
    this.sink = sink;
    const pull = async (): Promise<void> => {
      let start = this.now();
      for (let n = 1; running; n++) {
        const frame = await reader.next();
        if (!running) return;
        if (frame === undefined) break; // idle or paused: a later check starts a new one
        this.droppedFrames['no-subscriber']++;
        const wait = start + n * FRAME_DURATION_MS - this.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        // After a stall, go on at the real-time pace (a wire clock does not catch up either).
        else if (wait < -FRAME_DURATION_MS) start = this.now() - n * FRAME_DURATION_MS;
      }
      if (this.sink === sink) this.sink = undefined;
      reader.close();
    };
    pull().catch((err: unknown) => this.debug(`no-subscriber clock failed: ${toError(err).message}`));
  }

  private stopSink(): void {
    this.sink?.stop();
    this.sink = undefined;
  }

  private streamOf(
    reader: FanoutReader,
    entry: TargetEntry | undefined,
    onBurstEnd: () => void,
  ): AsyncIterable<Uint8Array> {
    if (entry === undefined) return reader.stream(onBurstEnd);
    return reader.stream(onBurstEnd, {
      pulling: () => this.observe(entry, this.now()),
      taken: (_frame, item) => {
        const seq = this.itemSeq[item % this.itemSeq.length];
        if (seq !== undefined && seq > 0) entry.lastSeq = seq;
      },
    });
  }

  private startStreaming(entry: TargetEntry): void {
    if (entry.transmission !== undefined || !this.active || this.targets.get(entry.target) !== entry) return;
    entry.burstEnded = false;
    const stream = this.streamOf(entry.reader, entry, () => (entry.burstEnded = true));
    let transmission: Transmission;
    try {
      transmission = entry.target.playOpus(stream);
    } catch (err) {
      // A destroyed session: drop it (a connection attaches its next session).
      this.debug(`session refused the stream: ${toError(err).message}`);
      this.detach(entry.target);
      return;
    }
    if (typeof (transmission as Partial<Transmission> | null)?.finished?.then !== 'function') {
      // Not a target of ours (attach only saw that it has playOpus): it cannot be followed.
      this.detach(entry.target);
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        'a player target must return a transmission from playOpus()',
      );
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
      try {
        if (entry.burstEnded) this.startStreaming(entry);
      } catch (restartError) {
        // Nobody to throw to here (a target that stopped returning transmissions is dropped).
        this.debug(toError(restartError).message);
      }
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
    this.producing = true;
    try {
      return await this.produceFrame();
    } finally {
      this.producing = false;
    }
  }

  /**
   * The passthrough fast path: while one Opus track plays alone at unity gain with no filter, its
   * next frame comes without a promise when the input has it at hand. Anything else (a burst end,
   * a track change, a seek, mixing, an input that must wait) goes through produceFrame().
   */
  private produceNow(): Uint8Array | NotReady {
    if (this.current !== 'playing' || this.overlays.size > 0) return NOT_READY;
    const slot = this.main;
    if (slot === undefined || !slot.started || slot.ended || slot.pendingSeekFrames !== undefined)
      return NOT_READY;
    const source = slot.source;
    if (source?.readOpusNow === undefined) return NOT_READY;
    const track = slot.track;
    const filters = this.filters;
    if (filters.active || filters.timescaleActive || filters.draining || track.filters.active)
      return NOT_READY;
    if (this.gain * track.volume !== 1 || !this.mixer.passThrough(slot) || atEnd(slot)) return NOT_READY;
    const frame = source.readOpusNow();
    if (frame === NOT_READY) return NOT_READY;
    this.counters.framesPassthrough++;
    this.advance(slot);
    return this.account(frame);
  }

  private async produceFrame(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.current === 'destroyed' || this.current === 'idle' || this.current === 'autopaused')
        return this.burstEnd();
      if (this.current === 'paused') {
        if (this.pauseMode === 'gap') return this.burstEnd();
        this.counters.framesSilent++;
        return this.account(OPUS_SILENCE_FRAME.slice());
      }
      if (this.filters.timescaleActive || this.filters.draining) {
        const frame = await this.produceTimescaled();
        if (frame !== undefined) return this.account(frame);
        this.settleIfEmpty();
        continue;
      }
      const ready = await this.readTick();
      if (ready.length === 0) {
        this.settleIfEmpty();
        continue;
      }
      const mixed = await this.mixTick(ready, (inputs) => this.mixer.mix(inputs, this.filters));
      if (mixed === undefined) {
        this.settleIfEmpty();
        continue;
      }
      if (mixed.passthrough) this.counters.framesPassthrough++;
      else this.counters.framesEncoded++;
      for (const { slot, stretched } of ready) if (!slot.ended && !stretched) this.advance(slot);
      return this.account(mixed.frame);
    }
  }

  /**
   * Mixes one tick's frames with `mix`; slots whose frame failed end with 'error'. Undefined when
   * nothing could be mixed.
   */
  private async mixTick<T extends { failed: { key: object; error: VoxcordError }[] }>(
    ready: readonly Ready[],
    mix: (inputs: MixerInput[]) => Promise<T>,
  ): Promise<T | undefined> {
    const inputs: MixerInput[] = ready.map(({ slot, frame, stretched }) => ({
      key: slot,
      frame,
      gain: this.gain * slot.track.volume,
      // A frame out of the track's own timescale went through its other filters already.
      filters: stretched ? undefined : slot.track.filters,
    }));
    let mixed: T;
    try {
      mixed = await mix(inputs);
    } catch (err) {
      const error = isVoxcordError(err)
        ? err
        : new VoxcordError('AUDIO_INPUT_ERROR', 'mixing failed', { cause: toError(err) });
      for (const { slot } of ready) this.endSlot(slot, 'error', error);
      return undefined;
    }
    for (const failure of mixed.failed) this.endSlot(failure.key as Slot, 'error', failure.error);
    return mixed.failed.length === ready.length ? undefined : mixed;
  }

  /** One frame from each playing slot (main and overlays). */
  private async readTick(): Promise<Ready[]> {
    const overlays = [...this.overlays];
    const reads = await Promise.all([this.readMain(), ...overlays.map((slot) => this.readOverlay(slot))]);
    const ready: Ready[] = [];
    for (const r of reads) if (r !== undefined && !r.slot.ended) ready.push(r);
    return ready;
  }

  /**
   * One output frame through the timescale: pulls as many input ticks as it needs (speed × rate per
   * frame on average). Slots advance per input frame, so positions and markers stay in track time
   * and a track at speed 2 ends in half the wall time. Undefined when nothing is left to play
   * (after the buffered output was drained).
   */
  private async produceTimescaled(): Promise<Uint8Array | undefined> {
    const chain = this.filters;
    const pcm = new Int16Array(FRAME_SAMPLES);
    for (;;) {
      // A seek (also one asked while the last tick was read): nothing from before it comes out.
      if (this.main?.pendingSeekFrames !== undefined) chain.reset();
      if (!chain.timescaleActive) {
        // Turned off: its buffered output plays out before the input is read 1:1 again.
        if (chain.drain(pcm) === 0) return undefined;
        break;
      }
      if (chain.pull(pcm)) break;
      if (this.current !== 'playing') return undefined;
      const ready = await this.readTick();
      if (ready.length === 0) {
        if (chain.drain(pcm) > 0) break;
        return undefined;
      }
      const mixed = await this.mixTick(ready, (inputs) => this.mixer.mixPcm(inputs));
      if (mixed === undefined) continue;
      for (const { slot, stretched } of ready) if (!slot.ended && !stretched) this.advance(slot);
      chain.push(mixed.pcm);
    }
    try {
      const frame = await this.mixer.encode(pcm);
      this.counters.framesEncoded++;
      return frame;
    } catch (err) {
      const error = isVoxcordError(err)
        ? err
        : new VoxcordError('AUDIO_INPUT_ERROR', 'encoding failed', { cause: toError(err) });
      for (const slot of [this.main, ...this.overlays])
        if (slot !== undefined) this.endSlot(slot, 'error', error);
      return undefined;
    }
  }

  private burstEnd(): undefined {
    this.burstStart = undefined;
    return undefined;
  }

  /** Counts a produced frame, and whether it came later than its place on the timeline. */
  private account(frame: Uint8Array): Uint8Array {
    const now = this.now();
    const seq = ++this.counters.framesSent;
    const main = this.main;
    const i = seq % HEARD_HISTORY;
    this.history[2 * i] = seq;
    this.historyTrack[i] = main?.track;
    this.history[2 * i + 1] = main?.frames ?? 0;
    // The frame is the fanout's next item (production is serial: account() runs in produce()).
    this.itemSeq[this.fanout.head % this.itemSeq.length] = seq;
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
  private async readMain(): Promise<Ready | undefined> {
    for (;;) {
      if (this.current === 'destroyed') return undefined;
      let slot = this.main;
      if (slot === undefined) {
        const track = this.upcoming.shift();
        if (track === undefined) return undefined;
        slot = new Slot(track, 'main');
        this.main = slot;
      }
      const read = await this.readFrame(slot);
      if (read !== undefined) return read;
      // The slot ended (finished, failed, or was skipped meanwhile): next track.
      if (!slot.ended) this.endSlot(slot, 'finished');
    }
  }

  private async readOverlay(slot: Slot): Promise<Ready | undefined> {
    return this.readFrame(slot);
  }

  /** The slot's next frame for the mix: from its input, or out of its track's own timescale. */
  private async readFrame(slot: Slot): Promise<Ready | undefined> {
    const chain = slot.track.filters;
    // A track played again (loop, queued twice) starts without the tail of its last play.
    if (!slot.started) chain.reset();
    if (chain.timescaleActive || chain.draining || slot.inputDone) {
      const frame = await this.readStretched(slot, chain);
      if (frame === undefined) return undefined;
      if (frame !== END) return { slot, frame, stretched: true };
    }
    const frame = await this.readSlot(slot);
    return frame === undefined ? undefined : { slot, frame, stretched: false };
  }

  /**
   * One 20 ms frame (PCM) out of the track's own timescale: reads, decodes and pushes as many input
   * frames as it takes, advancing the slot per input frame (so positions and markers stay in track
   * time). At the input's end the buffered output is drained before the track finishes. END when
   * the timescale is off and drained (read the input 1:1 again); undefined when the slot ended.
   */
  private async readStretched(slot: Slot, chain: FilterChain): Promise<SourceFrame | typeof END | undefined> {
    const pcm = new Int16Array(FRAME_SAMPLES);
    for (;;) {
      if (slot.ended) return undefined;
      if (slot.pendingSeekFrames !== undefined) {
        // Nothing from before a seek comes out (also a frame read while the seek was asked).
        chain.reset();
        slot.inputDone = false;
      }
      if (slot.inputDone || !chain.timescaleActive) {
        if (chain.drain(pcm) > 0) return { kind: 'pcm', data: pcm };
        if (!slot.inputDone) return END;
        this.endSlot(slot, 'finished');
        return undefined;
      }
      if (chain.pull(pcm)) return { kind: 'pcm', data: pcm };
      const frame = await this.readSlot(slot, true);
      if (frame === undefined) return undefined;
      if (frame === END) {
        slot.inputDone = true;
        continue;
      }
      let samples: Int16Array;
      try {
        samples = await this.mixer.decode(slot, frame);
      } catch (err) {
        if (!slot.ended) this.endSlot(slot, 'error', asInputError(err));
        return undefined;
      }
      if (slot.ended) return undefined;
      chain.push(samples);
      this.advance(slot);
    }
  }

  /**
   * The slot's next frame; undefined when it ended (its events already emitted) or was closed. At
   * the input's end, END with `keepAtEnd` (the caller finishes the slot), else the slot finishes.
   */
  private async readSlot(slot: Slot): Promise<SourceFrame | undefined>;
  private async readSlot(slot: Slot, keepAtEnd: true): Promise<SourceFrame | typeof END | undefined>;
  private async readSlot(slot: Slot, keepAtEnd = false): Promise<SourceFrame | typeof END | undefined> {
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
      if (atEnd(slot)) return this.endOfInput(slot, keepAtEnd);
      if (slot.source === undefined && !(await this.open(slot))) return undefined;
      const source = slot.source;
      if (source === undefined) return undefined;
      const frame = await this.guard(slot, source.read());
      if (frame === CLOSED || slot.ended) return undefined;
      return frame ?? this.endOfInput(slot, keepAtEnd);
    } catch (err) {
      if (!slot.ended) this.endSlot(slot, 'error', asInputError(err));
      return undefined;
    }
  }

  /** The slot's input is at its end (or the track's endMs): END for the caller to finish it, or finished here. */
  private endOfInput(slot: Slot, keepAtEnd: boolean): typeof END | undefined {
    if (keepAtEnd) return END;
    this.endSlot(slot, 'finished');
    return undefined;
  }

  /** Opens the slot's input at its position; false when the slot was closed meanwhile. */
  private async open(slot: Slot): Promise<boolean> {
    const context: OpenContext = {
      startMs: slot.track.input.seekable ? slot.frames * FRAME_DURATION_MS : 0,
      codec: () => this.codec(),
      info: (info) => {
        if (!slot.ended && slot.track.learn(info)) this.safeEmit('trackInfo', slot.track);
      },
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
    slot.watchStall(this.stallTimeoutMs);
    try {
      const result = await slot.interrupt.race(operation);
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
      slot.unwatchStall();
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
    // Cut off (not played to its end): what the player's timescale still holds of it is not
    // heard, nor what the targets queued of it.
    if (slot.layer === 'main' && (reason === 'skipped' || reason === 'replaced' || reason === 'stopped')) {
      this.filters.reset();
      this.cutAhead();
    }
    if (!slot.started) return;
    if (error !== undefined) this.safeEmit('trackError', slot.track, error);
    this.safeEmit('trackEnd', slot.track, reason);
    // A loop replays only a track that played something (an empty one would spin).
    if (slot.layer === 'main' && slot.frames > 0 && this.current !== 'destroyed') {
      if (this.loopMode === 'track' && reason === 'finished') this.upcoming.unshift(slot.track);
      else if (this.loopMode === 'queue' && (reason === 'finished' || reason === 'skipped'))
        this.upcoming.push(slot.track);
    }
  }

  /**
   * Drops what the targets queued ahead of the wire (`aheadMs`), so a cut is heard at once; they
   * count it in their sendStats as 'stopped'. Queued frames carry the overlays mixed into them:
   * while one plays, the queue plays out instead.
   */
  private cutAhead(): void {
    if (this.overlays.size > 0) return;
    for (const entry of this.targets.values()) entry.transmission?.flush?.();
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
    this.updatePositionTimer();
    this.safeEmit('stateChange', old, next);
    this.checkDrained();
  }

  /** 'position' events run while playing. */
  private updatePositionTimer(): void {
    const want = this.current === 'playing' && this.positionIntervalMs > 0;
    if (!want) {
      if (this.positionTimer !== undefined) clearInterval(this.positionTimer);
      this.positionTimer = undefined;
      return;
    }
    if (this.positionTimer !== undefined) return;
    this.positionTimer = setInterval(() => {
      if (this.listenerCount('position') === 0) return; // nobody listens: no position to work out
      const track = this.main?.track;
      if (track !== undefined && this.main?.started === true)
        this.safeEmit('position', track, this.playbackDuration);
    }, this.positionIntervalMs);
    this.positionTimer.unref();
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
