/**
 * Wires a VoiceReceiver to a VoiceSession: the session's DAVE-decrypted 'audioFrame's, decrypt
 * failures, op 5 and op 13 go to the receiver, and a clock ticks the receiver only while it has
 * work (open streams, a speaking burst, buffered packets). One clock per receiver, however many
 * sessions it is attached to over time (a connection re-attaches it on every new session); the
 * clocks of all receivers share one timer per tick interval.
 */
import type { OpusCodecFactory, OpusDecoder } from '../audio/opus.js';
import { loadOpus } from '../audio/opus.js';
import { VoxcordError, toError } from '../errors.js';
import type { VoiceSession, VoiceSessionEvents } from '../voice/session.js';
import type { VoiceSessionState } from '../voice/session-state.js';
import type { AudioFrame, DaveDecryptFailure } from '../voice/session-dave.js';
import { checkArg, checkDelay, checkMethods, checkOptions } from '../util/args.js';
import { lateTickAfterIo } from '../util/late-tick.js';
import { VoiceReceiver } from './receiver.js';
import type { VoiceReceiverOptions } from './receiver.js';

/**
 * Default interval of the receiver clock, ms: one tick per 20 ms slot of the jitter buffer, which
 * plays every slot due by the tick (a slot goes out at most one interval after it is due, well
 * inside the buffer's 40-200 ms delay). Each tick is a main-thread wake-up: 10 ms cost 1-2 µs per
 * frame at 100 streams and more at 20 (bench/receive-path.ts, alternated).
 */
export const RECEIVER_TICK_MS = 20;

/** What the feed needs of a session (a VoiceSession, or a test double). */
export interface ReceiverFeedSource {
  on<E extends keyof VoiceSessionEvents>(
    event: E,
    listener: (...args: VoiceSessionEvents[E]) => void,
  ): unknown;
  off<E extends keyof VoiceSessionEvents>(
    event: E,
    listener: (...args: VoiceSessionEvents[E]) => void,
  ): unknown;
}

export interface ReceiverClockOptions {
  /** Tick interval, ms (default 20, RECEIVER_TICK_MS). Only the first attachment of a receiver sets it. */
  tickIntervalMs?: number;
}

/**
 * One unref'd interval timer per tick interval, shared by every receiver clock that is running
 * with that interval: a process with many connections wakes once per interval, not once per
 * receiver. The timer exists only while some clock runs.
 */
class SharedTicker {
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly members = new Set<ReceiverClock>();

  constructor(private readonly intervalMs: number) {}

  add(clock: ReceiverClock): void {
    this.members.add(clock);
    if (this.timer !== undefined) return;
    this.timer = setInterval(lateTickAfterIo(this.intervalMs, this.fire), this.intervalMs);
    this.timer.unref?.();
  }

  remove(clock: ReceiverClock): void {
    if (!this.members.delete(clock) || this.members.size > 0) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly fire = (): void => {
    // One receiver's failure must not starve the others of their tick; it is rethrown after.
    let failure: { error: unknown } | undefined;
    for (const clock of this.members) {
      try {
        clock.tick();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  };
}

const tickers = new Map<number, SharedTicker>();

function tickerFor(intervalMs: number): SharedTicker {
  let ticker = tickers.get(intervalMs);
  if (ticker === undefined) {
    ticker = new SharedTicker(intervalMs);
    tickers.set(intervalMs, ticker);
  }
  return ticker;
}

/**
 * Ticks one receiver on its interval's shared timer, only while `receiver.needsClock`: it starts
 * on the receiver's 'wake' (a subscription, a packet into an idle jitter buffer) or a speaking
 * start, and stops on the first idle tick. It goes away when the receiver closes.
 */
class ReceiverClock {
  private active = false;
  private readonly ticker: SharedTicker;

  constructor(
    private readonly receiver: VoiceReceiver,
    intervalMs: number,
  ) {
    this.ticker = tickerFor(intervalMs);
    receiver.on('wake', this.wake);
    receiver.on('speakingStart', this.wake);
    receiver.once('close', () => {
      this.stop();
      receiver.off('wake', this.wake);
      receiver.off('speakingStart', this.wake);
      clocks.delete(receiver);
    });
  }

  get running(): boolean {
    return this.active;
  }

  /** Joins the shared timer if the receiver has work and this clock is not running. */
  readonly wake = (): void => {
    if (this.active || !this.receiver.needsClock) return;
    this.active = true;
    this.ticker.add(this);
  };

  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.ticker.remove(this);
  }

  /** @internal Called by the shared timer. */
  tick(): void {
    this.receiver.tick();
    if (!this.receiver.needsClock) this.stop();
  }
}

const clocks = new WeakMap<VoiceReceiver, ReceiverClock>();

function clockFor(receiver: VoiceReceiver, options: ReceiverClockOptions): ReceiverClock {
  let clock = clocks.get(receiver);
  if (clock === undefined) {
    checkDelay(options.tickIntervalMs, 'tickIntervalMs', 'optional');
    const interval = options.tickIntervalMs ?? RECEIVER_TICK_MS;
    clock = new ReceiverClock(receiver, interval);
    clocks.set(receiver, clock);
  }
  return clock;
}

/** True while the receiver's feed clock is running (diagnostics and tests). */
export function isReceiverClockRunning(receiver: VoiceReceiver): boolean {
  return clocks.get(receiver)?.running ?? false;
}

/**
 * Routes `session`'s receive events into `receiver` until the returned function is called (or the
 * receiver closes):
 * - 'audioFrame' (Opus, already DAVE-decrypted by the session's inbound stage) and
 *   'daveDecryptFailure' -> `receiver.receive()`, the receiver's one door: the user's jitter
 *   buffer, or `stats(userId).daveFailures[reason]` (the slot is later concealed); either from an
 *   SSRC with no user is counted in `totals().unknownSsrc`;
 * - 'rtpDrop' (transport: replay, auth-failed...) -> `totals().transportDropped[reason]`;
 * - 'speaking' (op 5) -> burst ends (`speaking: 0`); 'clientDisconnect' (op 13) -> the user's
 *   buffered audio is delivered and their decoder released.
 */
export function attachReceiver(
  receiver: VoiceReceiver,
  session: ReceiverFeedSource,
  options: ReceiverClockOptions = {},
): () => void {
  checkMethods(receiver, 'receiver', 'a VoiceReceiver', ['receive', 'onSpeaking', 'close']);
  checkMethods(session, 'session', 'a VoiceSession', ['on', 'off']);
  checkOptions(options);
  if (receiver.isClosed) throw new VoxcordError('DESTROYED', 'receiver is closed');
  const clock = clockFor(receiver, options);
  // Frames and failures go straight through the receiver's door (it wakes the clock itself).
  const door: (input: AudioFrame | DaveDecryptFailure) => void = receiver.receive.bind(receiver);
  const onSpeaking: (...args: VoiceSessionEvents['speaking']) => void = (update) => {
    receiver.onSpeaking(update);
    clock.wake();
  };
  const onDisconnect = (userId: string): void => {
    receiver.onClientDisconnect(userId);
    clock.wake();
  };
  const onDrop = (reason: string): void => receiver.onTransportDrop(reason);
  session.on('audioFrame', door);
  session.on('rtpDrop', onDrop);
  session.on('daveDecryptFailure', door);
  session.on('speaking', onSpeaking);
  session.on('clientDisconnect', onDisconnect);
  let attached = true;
  const detach = (): void => {
    if (!attached) return;
    attached = false;
    receiver.off('close', detach);
    session.off('audioFrame', door);
    session.off('rtpDrop', onDrop);
    session.off('daveDecryptFailure', door);
    session.off('speaking', onSpeaking);
    session.off('clientDisconnect', onDisconnect);
  };
  receiver.once('close', detach);
  return detach;
}

/**
 * A decoder factory that loads an Opus library (loadOpus()) in the background on first use of the
 * returned function's owner. Until it has loaded (milliseconds), or if none is installed, creating
 * a decoder throws; the receiver then fills the slots with silence, counted as decode errors, and
 * retries on the next frames.
 */
export function lazyDecoderFactory(load: () => Promise<OpusCodecFactory> = () => loadOpus()): {
  createDecoder: () => OpusDecoder;
  ready: Promise<OpusCodecFactory | undefined>;
} {
  let factory: OpusCodecFactory | undefined;
  let failure: VoxcordError | undefined;
  const ready = load().then(
    (f) => {
      factory = f;
      return f;
    },
    (err: unknown) => {
      failure =
        err instanceof VoxcordError
          ? err
          : new VoxcordError('OPUS_UNAVAILABLE', 'could not load an Opus library', { cause: toError(err) });
      return undefined;
    },
  );
  return {
    ready,
    createDecoder(): OpusDecoder {
      if (factory !== undefined) return factory.createDecoder();
      throw failure ?? new VoxcordError('OPUS_UNAVAILABLE', 'the Opus library is still loading');
    },
  };
}

export interface CreateVoiceReceiverOptions extends VoiceReceiverOptions, ReceiverClockOptions {}

/**
 * A VoiceReceiver fed by a bare VoiceSession (without a VoiceConnection; a connection has
 * `connection.receiver`). PCM needs a decoder: `createDecoder` (e.g. from loadOpus()), else one
 * is loaded in the background. The receiver closes when the session is destroyed; closing the
 * receiver detaches it.
 */
export function createVoiceReceiver(
  session: VoiceSession,
  options: CreateVoiceReceiverOptions = {},
): VoiceReceiver {
  checkMethods(session, 'session', 'a VoiceSession', ['on', 'off']);
  checkArg(session.state, 'session.state', 'object');
  checkOptions(options);
  const { tickIntervalMs, ...receiverOptions } = options;
  // The decrypt hook of earlier versions: the session's inbound stage decrypts.
  if ('decrypt' in receiverOptions && receiverOptions.decrypt !== undefined) {
    throw new VoxcordError('INVALID_ARGUMENT', 'the session decrypts DAVE itself: do not pass decrypt');
  }
  receiverOptions.createDecoder ??= lazyDecoderFactory().createDecoder;
  const receiver = new VoiceReceiver(receiverOptions);
  if (session.state.status === 'destroyed') {
    receiver.close();
    return receiver;
  }
  attachReceiver(receiver, session, tickIntervalMs === undefined ? {} : { tickIntervalMs });
  const onState = (_old: VoiceSessionState, next: VoiceSessionState): void => {
    if (next.status === 'destroyed') receiver.close();
  };
  session.on('stateChange', onState);
  receiver.once('close', () => session.off('stateChange', onState));
  return receiver;
}
