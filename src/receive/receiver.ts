/**
 * VoiceReceiver: the receive path after the session's inbound stage (voice/inbound.ts). Its one
 * door for media is `receive()`: each AudioFrame (Opus, with the user op 5 named) or
 * DaveDecryptFailure the stage emitted. Op 5 and op 13 drive speaking and flushing; a clock calls
 * `tick(now)` (or `start()` runs one interval timer). Per user: jitter buffer -> (when a PCM
 * consumer exists) one Opus decoder with PLC -> subscribers and the mixer. No I/O; no timer per
 * packet. Bad input is counted and dropped; it never ends a stream.
 */
import type { OpusDecoder } from '../audio/opus.js';
import type { AudioFrame, DaveDecryptFailure } from '../voice/inbound.js';
import {
  CHANNELS,
  DECODER_IDLE_RELEASE_MS,
  OPUS_SILENCE_FRAME,
  RECEIVE_MAX_QUEUED_FRAMES,
  SAMPLES_PER_FRAME,
} from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { checkArg, checkDelay, checkOptions, invalidArgument } from '../util/args.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { lateTickAfterIo } from '../util/late-tick.js';
import { DecodeStage } from './decode-stage.js';
import { JitterBuffer, type JitterBufferOptions, type JitterOutput } from './jitter-buffer.js';
import { Mixer, MixedAudioStream, type MixerOptions } from './mixer.js';
import { UserReceiveCounters, type ReceiverTotals, type UserReceiveStats } from './receive-stats.js';
import { SpeakingTracker, type SpeakingEvent } from './speaking-tracker.js';
import { UserAudioStream, validateSubscribeOptions, type SubscribeOptions } from './user-stream.js';

export interface VoiceReceiverOptions {
  /** Creates one Opus decoder per speaking user (e.g. `opusFactory.createDecoder`). Needed for PCM. */
  createDecoder?: () => OpusDecoder;
  jitter?: JitterBufferOptions;
  /** Silence after the last packet that ends a speaking burst, ms (default 200). */
  speakingEndDelayMs?: number;
  /** A user's decoder is released after this long without packets, ms (default 5000). */
  decoderIdleMs?: number;
  /** Clock for op 5 / disconnect / start() (default performance.now). */
  now?: () => number;
}

export interface MixedOptions extends MixerOptions {
  /** Frames kept for a consumer that is not reading (default 500 = 10 s). */
  maxQueuedFrames?: number;
}

export type VoiceReceiverEvents = {
  speakingStart: [userId: string];
  speakingEnd: [userId: string];
  /**
   * Work for the clock may have appeared (a subscription or mixed stream was opened, a packet
   * reached an idle jitter buffer); see `needsClock`.
   */
  wake: [];
  /** close() ran: every stream ended. */
  close: [];
};

export interface SpeakingInput {
  userId: string;
  ssrc: number;
  /** Flags bitmask; 0 = stopped. */
  speaking: number;
}

interface UserPipeline {
  userId: string;
  ssrc: number | undefined;
  jitter: JitterBuffer;
  decode: DecodeStage | undefined;
  counters: UserReceiveCounters;
  subscribers: Set<UserAudioStream>;
  lastPacketAt: number;
}

const SILENCE = OPUS_SILENCE_FRAME;

function isSilenceFrame(p: Uint8Array): boolean {
  return p.length === SILENCE.length && p[0] === SILENCE[0] && p[1] === SILENCE[1] && p[2] === SILENCE[2];
}

/** What may come through the door: a frame or failure of the inbound stage (checked, it is public). */
export type ReceiverInput = AudioFrame | DaveDecryptFailure;

function validSsrc(ssrc: unknown): boolean {
  return Number.isInteger(ssrc) && (ssrc as number) >= 0 && (ssrc as number) <= 0xffff_ffff;
}

function isFailure(input: ReceiverInput): input is DaveDecryptFailure {
  return 'reason' in input;
}

function isWellFormed(input: ReceiverInput): boolean {
  if (typeof input !== 'object' || input === null) return false;
  if (input.userId !== undefined && typeof input.userId !== 'string') return false;
  if (!validSsrc(input.ssrc) || typeof input.sequence !== 'number') return false;
  if (isFailure(input)) return true;
  return (
    typeof input.timestamp === 'number' &&
    input.payload instanceof Uint8Array &&
    typeof input.receivedAt === 'number' &&
    Number.isFinite(input.receivedAt)
  );
}

export class VoiceReceiver extends TypedEmitter<VoiceReceiverEvents> {
  private readonly options: VoiceReceiverOptions;
  private readonly now: () => number;
  private readonly decoderIdleMs: number;
  private readonly users = new Map<string, UserPipeline>();
  private readonly speaking: SpeakingTracker;
  private mixer: Mixer | undefined;
  private readonly mixedStreams = new Set<MixedAudioStream>();
  private readonly totalsCounters = { unknownSsrc: 0, malformed: 0 };
  /** Null prototype: a reason is a key like any other, 'constructor' too. */
  private readonly transportDropped: Record<string, number> = Object.create(null) as Record<string, number>;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** tick()'s reused poll output (undefined while a tick uses it). */
  private pollScratch: JitterOutput[] | undefined = [];

  constructor(options: VoiceReceiverOptions = {}) {
    super();
    checkOptions(options);
    checkArg(options.now, 'now', 'function', 'optional');
    checkArg(options.createDecoder, 'createDecoder', 'function', 'optional');
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.decoderIdleMs = options.decoderIdleMs ?? DECODER_IDLE_RELEASE_MS;
    if (!Number.isFinite(this.decoderIdleMs) || this.decoderIdleMs <= 0) {
      throw new VoxcordError('INVALID_ARGUMENT', 'decoderIdleMs must be a positive number');
    }
    this.speaking = new SpeakingTracker(
      options.speakingEndDelayMs === undefined ? {} : { endDelayMs: options.speakingEndDelayMs },
    );
    // Validate jitter options once, up front, rather than on the first packet.
    new JitterBuffer(options.jitter);
  }

  // ---- input from the session ----

  /**
   * The one door for received media: a frame or a decrypt failure from the session's inbound
   * stage. A frame goes to its user's jitter buffer; a failure is counted by reason and its slot
   * later concealed as lost; either without a user (an SSRC no op 5 named) is counted in
   * `totals().unknownSsrc`, anything malformed in `totals().malformed`.
   */
  receive(input: ReceiverInput): void {
    if (this.closed) return;
    if (!isWellFormed(input)) {
      this.totalsCounters.malformed++;
      return;
    }
    const userId = input.userId;
    if (userId === undefined) {
      this.totalsCounters.unknownSsrc++;
      return;
    }
    const p = this.pipeline(userId);
    if (p.ssrc !== input.ssrc) {
      // The user's SSRC changed (reconnect): a new sequence space.
      if (p.ssrc !== undefined) p.jitter.reset();
      p.ssrc = input.ssrc;
    }
    if (isFailure(input)) {
      p.counters.daveFailure(typeof input.reason === 'string' ? input.reason : 'unknown');
      return;
    }
    const frame = input.payload;
    if (frame.length === 0) {
      p.counters.invalid++;
      return;
    }
    // A packet into an idle buffer is new work: a clock stopped for want of it starts again.
    const idle = !p.jitter.isPlaying && p.jitter.size === 0;
    // The frame carries the packet's fields: no copy per packet (the buffer keeps what it needs).
    const pushed = p.jitter.push(input);
    if (pushed === 'invalid') return;
    if (input.receivedAt > p.lastPacketAt) p.lastPacketAt = input.receivedAt;
    if (pushed === 'buffered' || pushed === 'restart') {
      this.emitSpeaking(this.speaking.onPacket(userId, input.receivedAt, isSilenceFrame(frame)));
    }
    if (idle) this.emit('wake');
  }

  /** A datagram the media channel dropped (counted by reason in `totals().transportDropped`). */
  onTransportDrop(reason: string): void {
    if (this.closed) return;
    this.transportDropped[reason] = (this.transportDropped[reason] ?? 0) + 1;
  }

  /** Op 5 from the server: `speaking: 0` ends a burst (the SSRC map is the inbound stage's). */
  onSpeaking(update: SpeakingInput): void {
    if (this.closed) return;
    if (typeof update?.userId !== 'string' || !Number.isInteger(update.ssrc)) {
      this.totalsCounters.malformed++;
      return;
    }
    this.emitSpeaking(this.speaking.onSpeakingOp(update.userId, update.speaking, this.now()));
  }

  /**
   * Op 13: the user left. Buffered audio is delivered now, their decoder released and their burst
   * ended. Their streams stay open (afterSilence streams end on their own); stats are kept.
   */
  onClientDisconnect(userId: string): void {
    if (this.closed) return;
    const now = this.now();
    const p = this.users.get(userId);
    if (p !== undefined) {
      this.deliverAll(p, p.jitter.flush(now), now);
      p.jitter.reset();
      p.ssrc = undefined;
      this.releaseDecoder(p);
    }
    this.mixer?.remove(userId);
    this.emitSpeaking(this.speaking.remove(userId, now));
  }

  // ---- output ----

  /** A stream of one user's audio (PCM by default). Throws OPUS_UNAVAILABLE for PCM without a decoder. */
  subscribe(userId: string, options: SubscribeOptions = {}): UserAudioStream {
    if (this.closed) throw new VoxcordError('DESTROYED', 'receiver is closed');
    if (typeof userId !== 'string' || userId.length === 0) {
      throw new VoxcordError('INVALID_ARGUMENT', 'userId must be a non-empty string');
    }
    const o = validateSubscribeOptions(options);
    if (o.mode === 'pcm') this.requireDecoder();
    const p = this.pipeline(userId);
    const stream = new UserAudioStream(userId, o, (s) => p.subscribers.delete(s));
    p.subscribers.add(stream);
    this.emit('wake');
    return stream;
  }

  /** All speakers mixed on one 20 ms timeline (silence between bursts by default). */
  mixed(options: MixedOptions = {}): MixedAudioStream {
    if (this.closed) throw new VoxcordError('DESTROYED', 'receiver is closed');
    checkOptions(options);
    this.requireDecoder();
    const maxQueued = options.maxQueuedFrames ?? RECEIVE_MAX_QUEUED_FRAMES;
    if (!Number.isInteger(maxQueued) || maxQueued < 1) {
      throw new VoxcordError('INVALID_ARGUMENT', 'maxQueuedFrames must be a positive integer');
    }
    this.mixer ??= new Mixer(options);
    const stream = new MixedAudioStream(maxQueued, () => {
      this.mixedStreams.delete(stream);
      if (this.mixedStreams.size === 0) this.mixer = undefined;
    });
    this.mixedStreams.add(stream);
    this.emit('wake');
    return stream;
  }

  stats(userId: string): UserReceiveStats | undefined {
    const p = this.users.get(userId);
    return p?.counters.snapshot(p.jitter.stats(), p.decode?.counters);
  }

  totals(): ReceiverTotals {
    return { ...this.totalsCounters, transportDropped: { ...this.transportDropped }, users: this.users.size };
  }

  isSpeaking(userId: string): boolean {
    return this.speaking.isSpeaking(userId);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * True while tick() has something to do: open streams (user or mixed), a speaking burst to end,
   * buffered packets to play out, or a decoder to release. A clock may stop while this is false.
   */
  get needsClock(): boolean {
    if (this.closed) return false;
    if (this.mixedStreams.size > 0 || this.speaking.speakingCount > 0) return true;
    for (const p of this.users.values()) {
      if (p.subscribers.size > 0 || p.decode !== undefined || p.jitter.isPlaying || p.jitter.size > 0) {
        return true;
      }
    }
    return false;
  }

  // ---- clock ----

  /** Plays out everything due at `now`: frames to subscribers and the mixer, speaking ends, stream ends. */
  tick(now: number = this.now()): void {
    if (this.closed) return;
    if (typeof now !== 'number' || Number.isNaN(now)) throw invalidArgument('now', 'a number of ms', now);
    // One output array for every user's poll, every tick (taken while in use: a subscriber's
    // 'data' handler may tick again).
    const out = this.pollScratch ?? [];
    this.pollScratch = undefined;
    for (const p of this.users.values()) {
      p.jitter.poll(now, out);
      if (out.length > 0) {
        this.deliverAll(p, out, now);
        while (out.length > 0) out.pop(); // cheaper than `length = 0` (a runtime call) for 1-2 items
      }
      if (p.decode !== undefined && !p.jitter.isPlaying && now - p.lastPacketAt >= this.decoderIdleMs) {
        this.releaseDecoder(p);
      }
      for (const s of p.subscribers) s.checkSilence(now);
    }
    if (this.mixer !== undefined) {
      const frames = this.mixer.pull(now);
      for (const s of this.mixedStreams) for (const f of frames) s.deliver(f);
    }
    this.pollScratch = out;
    for (const e of this.speaking.sweep(now)) this.emitSpeaking(e);
  }

  /** Runs tick() on an interval timer (default 10 ms) until stop() or close(). */
  start(intervalMs = 10): void {
    checkDelay(intervalMs, 'intervalMs');
    if (this.closed || this.timer !== undefined) return;
    this.timer = setInterval(
      lateTickAfterIo(intervalMs, () => this.tick(this.now())),
      intervalMs,
    );
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Ends every stream, releases decoders and the timer. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.stop();
    for (const p of this.users.values()) {
      for (const s of [...p.subscribers]) s.finish();
      this.releaseDecoder(p);
    }
    for (const s of [...this.mixedStreams]) s.finish();
    this.closed = true;
    this.mixer = undefined;
    this.emit('close');
  }

  // ---- internals ----

  private requireDecoder(): void {
    if (this.options.createDecoder === undefined) {
      throw new VoxcordError(
        'OPUS_UNAVAILABLE',
        'PCM receiving needs an Opus decoder: pass createDecoder (from loadOpus()) to the receiver',
      );
    }
  }

  private pipeline(userId: string): UserPipeline {
    let p = this.users.get(userId);
    if (p === undefined) {
      p = {
        userId,
        ssrc: undefined,
        jitter: new JitterBuffer(this.options.jitter),
        decode: undefined,
        counters: new UserReceiveCounters(),
        subscribers: new Set(),
        lastPacketAt: Number.NEGATIVE_INFINITY,
      };
      this.users.set(userId, p);
    }
    return p;
  }

  private wantsPcm(p: UserPipeline): boolean {
    if (this.mixer !== undefined) return true;
    for (const s of p.subscribers) if (s.mode === 'pcm') return true;
    return false;
  }

  private deliverAll(p: UserPipeline, outputs: JitterOutput[], now: number): void {
    if (outputs.length === 0) return;
    const pcm = this.wantsPcm(p);
    if (pcm && p.decode === undefined) {
      try {
        p.decode = new DecodeStage(this.options.createDecoder!());
      } catch {
        // Decoder creation failed: opus subscribers still get frames; counted as decode errors.
        p.decode = undefined;
      }
    }
    for (const out of outputs) this.deliver(p, out, now, pcm);
  }

  private deliver(p: UserPipeline, out: JitterOutput, now: number, wantPcm: boolean): void {
    const isFrame = out.kind === 'frame';
    const activity = isFrame && !isSilenceFrame(out.payload);
    const receivedAt = isFrame ? out.receivedAt : undefined;
    let decoded: Int16Array | undefined;
    let concealed = !isFrame;
    if (wantPcm) {
      if (p.decode !== undefined) {
        decoded = p.decode.decodeSlot(out);
        concealed = p.decode.lastConcealed;
      } else {
        // No decoder could be created: keep the timeline with silence, counted.
        p.counters.absorbDecode({ decoded: 0, concealed: 1, fecRecovered: 0, decodeErrors: 1 });
        decoded = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
        concealed = true;
      }
    }
    let pcmShared = this.mixer !== undefined;
    for (const s of p.subscribers) {
      if (s.mode === 'opus') {
        s.deliver(
          isFrame
            ? {
                sequence: out.sequence,
                timestamp: out.timestamp,
                receivedAt,
                concealed: false,
                payload: out.payload,
              }
            : { sequence: out.sequence, timestamp: out.timestamp, receivedAt, concealed: true },
          now,
          activity,
        );
      } else if (decoded !== undefined) {
        // Each PCM subscriber gets its own array; the first one may share the decoder's output.
        const pcm = pcmShared ? decoded.slice() : decoded;
        pcmShared = true;
        s.deliver(
          { sequence: out.sequence, timestamp: out.timestamp, receivedAt, pcm, concealed },
          now,
          activity,
        );
      }
    }
    if (decoded !== undefined && this.mixer !== undefined) this.mixer.push(p.userId, decoded);
  }

  private releaseDecoder(p: UserPipeline): void {
    if (p.decode === undefined) return;
    p.counters.absorbDecode(p.decode.counters);
    try {
      p.decode.close();
    } catch {
      // Releasing is best effort.
    }
    p.decode = undefined;
  }

  private emitSpeaking(e: SpeakingEvent | undefined): void {
    if (e === undefined) return;
    this.emit(e.type === 'start' ? 'speakingStart' : 'speakingEnd', e.userId);
  }
}
