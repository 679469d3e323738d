/**
 * The DAVE side of one VoiceSession connection: owns the DaveEndpoint, holds its outgoing messages
 * while the websocket is down (a resume delivers them), tells the media channel how to send
 * queued frames (encrypt with the send key in force, hold while a group forms, drop when alone or
 * keyless), counts every frame sent, dropped or carried over, and hands its endpoint to the
 * session's inbound stage (inbound.ts), which decrypts received frames. No sockets: the session
 * hands it messages and its channel, and sends what it returns.
 */
import { DAVE_ALONE_GRACE_MS, DAVE_SEND_KEY_WAIT_MS, VoiceOpcode } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { invalidArgument } from '../util/args.js';
import { emptySendDrops, SEND_DROP_REASONS } from '../media/media-engine.js';
import type { FrameProtection, MediaChannel, SendCounts, SendDropReason } from '../media/media-engine.js';
import type {
  DaveClientMessage,
  DaveEndpoint,
  DaveEndpointFactory,
  DaveEpochInfo,
  DaveInbound,
} from '../dave/dave-endpoint.js';

import { InboundStage } from './inbound.js';
import type { InboundDavePort, InboundSink, InboundStats } from './inbound.js';

export type { AudioFrame, DaveDecryptFailure, ReceiveOutcome } from './inbound.js';

export interface VoiceDaveStats extends InboundStats {
  /** Our frames sent as DAVE protocol frames. */
  framesEncrypted: number;
  /** Our frames sent unchanged (silence, or passthrough in a transport-only call). */
  framesUnencrypted: number;
  /**
   * Our frames dropped for want of a send key (counted, never sent in clear): nobody else in the
   * call, or no key in time. By reason in `session.sendStats`.
   */
  framesDropped: number;
  /** Rejected DAVE gateway input (each also emitted as 'daveError'). */
  errors: number;
}

/** What became of the audio frames a session was given (`session.sendStats`). */
export interface VoiceSendStats {
  /** Audio frames that left for the network (the trailing silence of a burst not included). */
  framesSent: number;
  /**
   * Audio frames not sent, by reason: 'alone' (nobody else in the DAVE call to hear them, dropped
   * at the real-time pace), 'no-key' (no DAVE send key within the wait), 'stopped' (queued when
   * the transmission was stopped: a new playback replaced it, a player was detached), 'session-ended' (still
   * queued when the session ended, and no later session took them over).
   */
  framesDropped: Record<SendDropReason, number>;
  /** Frames still queued when the session ended, handed over to the connection's next session. */
  framesCarried: number;
  /**
   * 20 ms ticks inside a burst at which no frame went out (the source fell behind, or frames
   * were held while a DAVE group formed): the gaps a listener hears as silence.
   */
  emptyTicks: number;
  /**
   * When these counts were taken: the due time (`performance.now()`) of the last 20 ms tick they
   * include. With the worker media engine they are its last report's, up to a few hundred ms old,
   * so rates are computed over the span between two `countedAt`s. Undefined before the first tick
   * and once the counts are final (the channel closed).
   */
  countedAt?: number;
}

/** The DAVE state of a session, as seen from the outside (`session.dave`). */
export interface VoiceDave {
  /** DAVE was offered in Identify (max_dave_protocol_version >= 1) on the current connection. */
  readonly enabled: boolean;
  /** Executed protocol version; 0 = transport encryption only (plain Opus frames). */
  readonly protocolVersion: number;
  /** MLS epoch of the current group; undefined without a group. */
  readonly epoch: bigint | undefined;
  /** 30-digit privacy code of the current epoch; undefined without a group. */
  readonly privacyCode: string | undefined;
  /** RFC 9420 epoch authenticator of the current epoch. */
  readonly epochAuthenticator: Uint8Array | undefined;
  /** 45-digit verification code with another member (rejects INVALID_ARGUMENT otherwise). */
  verificationCode(userId: string): Promise<string>;
  readonly stats: VoiceDaveStats;
  /** Resolves once every DAVE message received so far has been processed. */
  settled(): Promise<void>;
}

export interface SessionDaveHooks {
  /**
   * The session's inbound stage (inbound.ts): it is handed each new endpoint to decrypt received
   * frames with, and its counters show in `stats`. Absent: the receive counters stay 0.
   */
  inbound?: InboundDavePort;
  send(message: DaveClientMessage): boolean;
  epoch(info: DaveEpochInfo): void;
  privacyCode(code: string | undefined): void;
  error(error: VoxcordError): void;
  debug(message: string): void;
  /**
   * Frames were being held (holdFrames() said so) and a send key now exists: the sender should
   * look again at once instead of at its next poll.
   */
  sendKeyReady?(): void;
  /** Audio frames started being dropped for `reason` (once per run of drops, not per frame). */
  sendDrop?(reason: SendDropReason): void;
}

/** Outgoing DAVE messages kept while the websocket is down; more than this means something is stuck. */
const MAX_HELD_MESSAGES = 64;

/** For a SessionDave made without a session's inbound stage (its receive counters stay 0). */
const DISCARD: InboundSink = { frame: () => undefined, failure: () => undefined };

function emptyCounts(): SendCounts {
  return { encrypted: 0, plain: 0, dropped: emptySendDrops(), emptyTicks: 0 };
}

function addCounts(into: SendCounts, from: SendCounts): void {
  into.encrypted += from.encrypted;
  into.plain += from.plain;
  into.emptyTicks += from.emptyTicks;
  for (const reason of SEND_DROP_REASONS) into.dropped[reason] += from.dropped[reason];
}

/** Closed channels whose counts are still read live (see SessionDave.retired). */
const MAX_RETIRED_CHANNELS = 4;

/** A channel's counts; only its drops when frames were encrypted (and counted) before queueing. */
function addChannelCounts(into: SendCounts, channel: MediaChannel, plainQueue: boolean): void {
  const counts = channel.sendCounts?.();
  if (counts === undefined) return;
  if (plainQueue) addCounts(into, counts);
  else {
    for (const reason of SEND_DROP_REASONS) into.dropped[reason] += counts.dropped[reason];
    into.emptyTicks += counts.emptyTicks;
  }
}

function sameProtection(a: FrameProtection | undefined, b: FrameProtection): boolean {
  if (a === undefined || a.mode !== b.mode) return false;
  if (a.mode === 'encrypt' && b.mode === 'encrypt') return a.key === b.key;
  if (a.mode === 'drop' && b.mode === 'drop') return a.reason === b.reason;
  return true;
}

export class SessionDave implements VoiceDave {
  /** Rejected DAVE gateway input. */
  private errors = 0;
  private endpoint: DaveEndpoint | undefined;
  private holdingSince: number | undefined;
  /** The media channel frames go to; with the endpoint's sendKey() it encrypts them at send time. */
  private channel: MediaChannel | undefined;
  private unbindChannel: (() => void) | undefined;
  private applied: FrameProtection | undefined;
  /** The session's speaking gate is closed (speaking-gate.ts): the engine holds the queue. */
  private gated = false;
  /** Counts of channels long gone, and of frames handled before queueing (encrypted, dropped). */
  private readonly past: SendCounts = emptyCounts();
  /**
   * Channels no longer bound whose counts may still move: a worker's last figures arrive with
   * the reply to the take before its close. Folded into `past` once there are more than a few.
   */
  private readonly retired: Array<{ channel: MediaChannel; plain: boolean }> = [];
  private carried = 0;
  /** Someone else is in the call (op 11/13); undefined until op 11 or the grace after op 4. */
  private others: boolean | undefined;
  private aloneAt = Infinity;
  private recheck: NodeJS.Timeout | undefined;
  private readonly announced = new Set<SendDropReason>();
  private held: DaveClientMessage[] = [];
  private lastCode: string | undefined;

  /** The session's inbound stage: it decrypts with our endpoint and keeps the receive counters. */
  private readonly inbound: InboundDavePort;

  constructor(private readonly hooks: SessionDaveHooks) {
    this.inbound = hooks.inbound ?? new InboundStage(DISCARD);
  }

  get enabled(): boolean {
    return this.endpoint !== undefined;
  }

  get protocolVersion(): number {
    return this.endpoint?.protocolVersion ?? 0;
  }

  get epoch(): bigint | undefined {
    return this.endpoint?.epoch;
  }

  get privacyCode(): string | undefined {
    return this.endpoint?.privacyCode;
  }

  get epochAuthenticator(): Uint8Array | undefined {
    return this.endpoint?.epochAuthenticator;
  }

  get stats(): VoiceDaveStats {
    const c = this.sendCounts();
    return {
      framesEncrypted: c.encrypted,
      framesUnencrypted: c.plain,
      framesDropped: c.dropped.alone + c.dropped['no-key'],
      ...this.inbound.stats,
      errors: this.errors,
    };
  }

  get sendStats(): VoiceSendStats {
    const c = this.sendCounts();
    return {
      framesSent: c.encrypted + c.plain,
      framesDropped: c.dropped,
      framesCarried: this.carried,
      emptyTicks: c.emptyTicks,
      countedAt: this.channel?.sendCountsAt?.(),
    };
  }

  private sendCounts(): SendCounts {
    const total = emptyCounts();
    addCounts(total, this.past);
    for (const { channel, plain } of this.retired) addChannelCounts(total, channel, plain);
    if (this.channel !== undefined) addChannelCounts(total, this.channel, this.queueIsPlain);
    return total;
  }

  /**
   * True when queued frames are plain Opus (the engine encrypts them as they leave, or there is
   * no DAVE): frames still queued when the session ends can then go out on the next session.
   */
  get queueIsPlain(): boolean {
    return this.endpoint === undefined || this.engineEncrypts();
  }

  private engineEncrypts(): boolean {
    return this.endpoint?.sendKey !== undefined && this.channel?.setFrameProtection !== undefined;
  }

  /** The session's media channel (undefined when it is closed): frames go there, and counts come back. */
  bindChannel(channel: MediaChannel | undefined): void {
    if (channel === this.channel) return;
    const old = this.channel;
    if (old !== undefined) {
      this.unbindChannel?.();
      this.retired.push({ channel: old, plain: this.queueIsPlain });
      while (this.retired.length > MAX_RETIRED_CHANNELS) {
        const gone = this.retired.shift()!;
        addChannelCounts(this.past, gone.channel, gone.plain);
      }
    }
    this.channel = channel;
    this.applied = undefined;
    this.unbindChannel = undefined;
    if (channel === undefined) return;
    const onDrop = (reason: SendDropReason): void => this.announce(reason);
    channel.on('sendDrop', onDrop);
    this.unbindChannel = () => channel.off('sendDrop', onDrop);
    this.updateProtection();
  }

  /**
   * Queued frames taken off a channel: carried over to another session, or dropped ('stopped' by
   * the user's own stop(), which is not announced; 'session-ended').
   */
  countUnsent(frames: number, outcome: 'carried' | 'stopped' | 'session-ended'): void {
    if (frames <= 0) return;
    if (outcome === 'carried') {
      this.carried += frames;
      return;
    }
    this.past.dropped[outcome] += frames;
    if (outcome !== 'stopped') this.announce(outcome);
  }

  private announce(reason: SendDropReason): void {
    if (this.announced.has(reason)) return;
    this.announced.add(reason);
    this.hooks.sendDrop?.(reason);
  }

  /**
   * Without a send key: undefined while a group is forming with others in the call (hold the
   * frames, bounded), else why frames must be dropped.
   */
  private noKeyVerdict(now: number): SendDropReason | undefined {
    if (this.others === false || (this.others === undefined && now >= this.aloneAt)) return 'alone';
    this.holdingSince ??= now;
    if (now - this.holdingSince >= DAVE_SEND_KEY_WAIT_MS) return 'no-key';
    return undefined;
  }

  /**
   * Holds the engine's queue (every frame, with or without DAVE) while the server may not have
   * our op 5 yet, and lets it go on (with the DAVE protection in force then) once it has.
   */
  gateSend(held: boolean): void {
    if (held === this.gated) return;
    this.gated = held;
    this.updateProtection();
  }

  /** Tells the engine how to send queued frames now: the speaking gate, then DAVE (engine-side encryption only). */
  private updateProtection(now = performance.now()): void {
    clearTimeout(this.recheck);
    this.recheck = undefined;
    const channel = this.channel;
    if (channel?.setFrameProtection === undefined) return;
    const dave = this.daveProtection(now);
    // Without DAVE protection the engine sends plain: say so only to undo a hold.
    if (dave === undefined && !this.gated && this.applied === undefined) return;
    const protection: FrameProtection = this.gated ? { mode: 'hold' } : (dave ?? { mode: 'plain' });
    if (sameProtection(this.applied, protection)) return;
    this.applied = protection;
    this.hooks.debug(
      `DAVE: queued frames now ${protection.mode === 'drop' ? `dropped (${protection.reason})` : protection.mode}`,
    );
    channel.setFrameProtection(protection);
  }

  /** How DAVE wants queued frames sent, when the engine encrypts (undefined: DAVE has no say). */
  private daveProtection(now: number): FrameProtection | undefined {
    const endpoint = this.endpoint;
    if (this.channel?.setFrameProtection === undefined || endpoint?.sendKey === undefined) return undefined;
    const key = endpoint.sendKey();
    let protection: FrameProtection;
    if (key.mode === 'encrypt') protection = { mode: 'encrypt', key };
    else if (key.mode === 'passthrough') protection = { mode: 'plain' };
    else {
      const reason = this.noKeyVerdict(now);
      protection = reason === undefined ? { mode: 'hold' } : { mode: 'drop', reason };
      if (reason !== 'alone') {
        // Look again when the grace for op 11 or the wait for the key runs out.
        const until = Math.min(
          this.others === undefined ? this.aloneAt : Infinity,
          reason === undefined ? (this.holdingSince ?? now) + DAVE_SEND_KEY_WAIT_MS : Infinity,
        );
        if (until !== Infinity) {
          this.recheck = setTimeout(() => this.updateProtection(), Math.max(1, until - now));
          this.recheck.unref?.();
        }
      }
    }
    if (protection.mode !== 'drop' && protection.mode !== 'hold') {
      this.holdingSince = undefined;
      this.announced.clear();
    }
    return protection;
  }

  /** Op 11 / op 13: whether anyone else is in the call now. */
  othersInCall(present: boolean): void {
    this.others = present;
    this.membershipChanged();
  }

  verificationCode(userId: string): Promise<string> {
    if (typeof userId !== 'string' || userId === '')
      return Promise.reject(invalidArgument('userId', 'a user id string', userId));
    if (this.endpoint === undefined)
      return Promise.reject(new VoxcordError('INVALID_ARGUMENT', 'DAVE is not active on this session'));
    return this.endpoint.verificationCode(userId);
  }

  settled(): Promise<void> {
    return this.endpoint?.settled() ?? Promise.resolve();
  }

  /** A fresh connection (Identify): a new endpoint, nothing carried over. */
  start(factory: DaveEndpointFactory, userId: string, channelId: string): void {
    this.stop();
    // Messages from an endpoint that was replaced (late async work) are dropped.
    const ref: { endpoint?: DaveEndpoint } = {};
    const isCurrent = (): boolean => ref.endpoint !== undefined && ref.endpoint === this.endpoint;
    const endpoint = factory({
      userId,
      channelId,
      send: (message) => {
        if (isCurrent()) this.send(message);
      },
      notify: (event) => {
        if (!isCurrent()) return;
        switch (event.type) {
          case 'epoch': {
            const { protocolVersion, epoch, privacyCode } = event;
            this.hooks.epoch({ protocolVersion, epoch, privacyCode });
            if (privacyCode !== this.lastCode) {
              this.lastCode = privacyCode;
              this.hooks.privacyCode(privacyCode);
            }
            return;
          }
          case 'sendKey':
            this.updateProtection();
            return;
          case 'error':
            this.errors++;
            this.hooks.error(event.error);
            return;
          case 'debug':
            this.hooks.debug(event.message);
        }
      },
    });
    ref.endpoint = endpoint;
    this.endpoint = endpoint;
    this.inbound.useDave(endpoint);
  }

  /** The connection ended for good (or starts over): every secret is dropped. */
  stop(): void {
    const endpoint = this.endpoint;
    this.endpoint = undefined;
    this.held = [];
    this.lastCode = undefined;
    this.inbound.useDave(undefined);
    this.others = undefined;
    this.aloneAt = Infinity;
    this.holdingSince = undefined;
    clearTimeout(this.recheck);
    this.recheck = undefined;
    this.applied = undefined;
    endpoint?.destroy();
  }

  handle(message: DaveInbound): void {
    const endpoint = this.endpoint;
    if (endpoint === undefined) return;
    if (message.op === VoiceOpcode.SessionDescription && this.others === undefined) {
      // Op 11 names the others right after op 4: without it shortly, we are alone.
      this.aloneAt = performance.now() + DAVE_ALONE_GRACE_MS;
    }
    endpoint.handle(message);
    this.updateProtection();
    // A send key can only appear while a message is processed: look once it has been.
    if (this.hooks.sendKeyReady === undefined) return;
    endpoint
      .settled()
      .then(() => this.checkSendKey(endpoint))
      .catch(() => undefined);
  }

  /** Wakes a held sender when `endpoint` (still ours) can now encrypt. */
  private checkSendKey(endpoint: DaveEndpoint): void {
    if (endpoint !== this.endpoint || this.holdingSince === undefined) return;
    if (endpoint.canEncrypt === false) return;
    this.holdingSince = undefined;
    this.hooks.sendKeyReady?.();
  }

  /** After op 9 Resumed: send what was held while the websocket was down. */
  flush(): void {
    const held = this.held;
    this.held = [];
    for (let i = 0; i < held.length; i++) {
      if (!this.hooks.send(held[i]!)) {
        this.held = held.slice(i);
        return;
      }
    }
  }

  private send(message: DaveClientMessage): void {
    if (this.held.length === 0 && this.hooks.send(message)) return;
    if (this.held.length >= MAX_HELD_MESSAGES) {
      this.hooks.debug('DAVE: outgoing message dropped, too many held while disconnected');
      return;
    }
    this.held.push(message);
  }

  /**
   * Whether outgoing audio should wait in the transmit pump instead of being dropped (endpoints
   * that encrypt before queueing; with engine-side encryption the engine holds the queue): DAVE is
   * on, we have no send key yet and others are in the call (a group is forming). Bounded by
   * DAVE_SEND_KEY_WAIT_MS from when the wait began or the call's membership last changed, so a
   * group that never forms cannot stall a player for long, while a newcomer still gets the start
   * of the audio. Alone in the call there is nobody to wait for: frames are dropped at once.
   */
  holdFrames(now?: number): boolean {
    const endpoint = this.endpoint;
    if (endpoint === undefined || endpoint.canEncrypt !== false || this.engineEncrypts()) {
      this.holdingSince = undefined;
      return false;
    }
    // The clock is read only here: the pump asks once per frame, and the answer is nearly always above.
    return this.noKeyVerdict(now ?? performance.now()) === undefined;
  }

  /** True while the engine keeps the queue waiting for a send key (the burst cannot end yet). */
  get sendHeld(): boolean {
    return this.applied?.mode === 'hold';
  }

  /** Someone joined or left: a new group forms, so waiting for its key is worth it again. */
  membershipChanged(): void {
    if (this.holdingSince !== undefined) this.holdingSince = performance.now();
    this.updateProtection();
  }

  /** Our Opus frame -> what to queue (plain when the engine encrypts), or null to drop it (counted). */
  prepareFrame(frame: Uint8Array): Uint8Array | null {
    const endpoint = this.endpoint;
    if (endpoint === undefined || this.engineEncrypts()) return frame;
    const out = endpoint.encrypt(frame);
    if (out === null) {
      const reason = this.noKeyVerdict(performance.now()) ?? 'no-key';
      this.past.dropped[reason]++;
      this.announce(reason);
      return null;
    }
    this.announced.clear();
    if (out === frame) this.past.plain++;
    else this.past.encrypted++;
    return out;
  }
}
