/**
 * Plugs the pure DaveDeliveryService into a call of the local voice server (the hooks of hooks.ts):
 * translates hook calls into service inputs, sends the service's outputs to the participants in
 * order (JSON ops 21/22/24 with sendJson, binary ops 25/27/29/30 with sendBinary), runs the
 * transition deadlines on ONE unref'd timer per call, keeps a small operator view (daveState) and
 * logs DAVE events. Logs carry epochs, transition ids, user ids and reject reasons; never MLS bytes.
 *
 * Join order: the service must see the newcomer before op 4 (its `dave_protocol_version` comes from
 * sessionVersionFor), but nothing may be sent before op 4 and op 11: join() runs in
 * protocolVersion() and its outputs wait for onJoin(), which call.ts runs synchronously after them.
 */
import { VoiceOpcode } from '../../protocol/constants.js';
import type {
  CallDaveService,
  CallParticipant,
  CallView,
  DaveCallState,
  DaveServiceFactory,
  DaveTransitionState,
} from './hooks.js';
import type { ServerEvent } from '../types.js';
import { DaveDeliveryService } from './delivery-service.js';
import type { DaveInputResult, DaveOutbound } from './delivery-service.js';

export interface DaveAdapterOptions {
  /** How long to wait for op 23 before sending op 22 anyway. Default: the service's (1500 ms). */
  transitionTimeoutMs?: number;
  log?: (event: ServerEvent) => void;
  /** Clock shared with the service (tests). Default Date.now. */
  now?: () => number;
}

/** What the server needs from a DAVE service beyond the hooks of hooks.ts. */
export interface DaveCallAdapter extends CallDaveService {
  state(): DaveCallState;
  /** The transition timer is armed (false after close()). */
  readonly timerArmed: boolean;
}

export function createDaveServiceFactory(options: DaveAdapterOptions = {}): DaveServiceFactory {
  return (call) => new DaveAdapter(call, options);
}

export class DaveAdapter implements DaveCallAdapter {
  private readonly service: DaveDeliveryService;
  private readonly now: () => number;
  private readonly log: (event: ServerEvent) => void;
  /** The participant object the service knows for each user (a re-identify replaces it). */
  private readonly members = new Map<string, CallParticipant>();
  /** Outputs of a join, held until that participant's onJoin (after op 4 and op 11). */
  private held: { participant: CallParticipant; out: DaveOutbound[] } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerDeadline: number | undefined;
  private closed = false;
  private lastTransition: DaveTransitionState | null = null;
  private rejected = 0;
  private undeliverable = 0;

  constructor(
    private readonly call: CallView,
    options: DaveAdapterOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((): void => {});
    this.service = new DaveDeliveryService({
      channelId: call.channelId,
      now: this.now,
      ...(options.transitionTimeoutMs !== undefined
        ? { transitionTimeoutMs: options.transitionTimeoutMs }
        : {}),
    });
  }

  get timerArmed(): boolean {
    return this.timer !== null;
  }

  // ---- the hooks (hooks.ts) ----

  protocolVersion(participant: CallParticipant): number {
    if (this.closed) return 0;
    const { userId } = participant;
    // A second op 1 from a joined session: report, don't join again.
    if (participant.joined && this.members.get(userId) === participant)
      return this.service.sessionVersionFor(userId);
    this.flushHeld(); // defensive: a join whose onJoin never came still gets its messages out
    const out = this.run('join', () => this.service.join(userId, participant.maxDaveProtocolVersion));
    this.members.set(userId, participant);
    this.held = { participant, out };
    return this.service.sessionVersionFor(userId);
  }

  onJoin(participant: CallParticipant): void {
    if (this.closed) return;
    if (this.members.get(participant.userId) !== participant) {
      // No protocolVersion() before op 4 (should not happen): join now, late but consistent.
      this.protocolVersion(participant);
    }
    this.flushHeld();
  }

  onLeave(participant: CallParticipant): void {
    if (this.closed || this.members.get(participant.userId) !== participant) return;
    this.flushHeld();
    this.members.delete(participant.userId);
    this.deliver(this.run('leave', () => this.service.leave(participant.userId)));
  }

  onBinary(
    participant: CallParticipant,
    op: typeof VoiceOpcode.DaveMlsKeyPackage | typeof VoiceOpcode.DaveMlsCommitWelcome,
    payload: Uint8Array,
  ): void {
    if (this.closed) return;
    if (this.members.get(participant.userId) !== participant) {
      this.reject(participant.userId, op, 'unknown-user', 'not joined');
      return;
    }
    const result = this.runInput(op, () =>
      op === VoiceOpcode.DaveMlsKeyPackage
        ? this.service.keyPackage(participant.userId, payload)
        : this.service.commitWelcome(participant.userId, payload),
    );
    if (!result.accepted) {
      if (op === VoiceOpcode.DaveMlsCommitWelcome && result.reason === 'wrong-epoch') {
        // The normal fate of every commit but the first for an epoch (dave.md §7.4): not an error.
        this.event({ reason: 'commit-lost', userId: participant.userId, op, detail: result.detail });
      } else {
        this.reject(participant.userId, op, result.reason, result.detail);
      }
    }
    this.deliver(result.out);
  }

  onTransitionReady(participant: CallParticipant, transitionId: number): void {
    if (this.closed || this.members.get(participant.userId) !== participant) return;
    this.deliver(this.run('ready', () => this.service.transitionReady(participant.userId, transitionId)));
  }

  onInvalidCommitWelcome(participant: CallParticipant, transitionId: number): void {
    if (this.closed || this.members.get(participant.userId) !== participant) return;
    this.event({
      reason: 'invalid-commit-welcome',
      userId: participant.userId,
      op: VoiceOpcode.DaveMlsInvalidCommitWelcome,
      detail: `transition ${transitionId}`,
    });
    this.deliver(
      this.run('invalid', () => this.service.invalidCommitWelcome(participant.userId, transitionId)),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = null;
    this.clearTimer();
    this.members.clear();
  }

  state(): DaveCallState {
    return {
      protocolVersion: this.service.version,
      epoch: this.service.epoch,
      established: this.service.established,
      members: this.service.members(),
      sessionVersions: Object.fromEntries(
        [...this.members.keys()].map((u) => [u, this.service.sessionVersionFor(u)]),
      ),
      lastTransition: this.lastTransition ? { ...this.lastTransition } : null,
      rejected: this.rejected,
      undeliverable: this.undeliverable,
    };
  }

  // ---- output ----

  private flushHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.deliver(held.out);
  }

  /** Sends outputs in order, records transitions and logs what changed; then re-arms the timer. */
  private deliver(out: DaveOutbound[], fromTimer = false): void {
    const executed = new Set<number>();
    for (const { to, message } of out) {
      this.track(message, executed, fromTimer);
      const participant = this.members.get(to);
      if (participant === undefined) {
        this.undeliverable++;
        continue;
      }
      if ('payload' in message) participant.sendBinary(message.op, message.payload);
      else participant.sendJson(message);
    }
    this.arm();
  }

  /** Transition bookkeeping from what goes out (the service keeps its coordinator private). */
  private track(message: DaveOutbound['message'], executed: Set<number>, fromTimer: boolean): void {
    const last = this.lastTransition;
    switch (message.op) {
      case VoiceOpcode.DavePrepareTransition: {
        const { transition_id: tid, protocol_version: version } = message.d;
        if (tid === 0) {
          // Sole-member reset: op 24 (just recorded) then op 21 tid 0, executed at once.
          if (last !== null && last.kind === 'upgrade') last.kind = 'sole-member-reset';
          return;
        }
        if (last?.transitionId === tid) return;
        this.startTransition({ transitionId: tid, protocolVersion: version, kind: 'downgrade' }, false);
        this.event({ reason: 'downgrade', detail: `transition ${tid} to version ${version}` });
        return;
      }
      case VoiceOpcode.DavePrepareEpoch: {
        const tid = message.d.transition_id ?? 0;
        if (last?.transitionId === tid) return;
        this.startTransition(
          { transitionId: tid, protocolVersion: message.d.protocol_version, kind: 'upgrade' },
          true,
        );
        // Logged as an upgrade only when the version changed; a reset keeps version 1.
        return;
      }
      case VoiceOpcode.DaveMlsAnnounceCommitTransition:
      case VoiceOpcode.DaveMlsWelcome: {
        const tid = ((message.payload[0] ?? 0) << 8) | (message.payload[1] ?? 0);
        if (last?.transitionId === tid) return;
        this.startTransition({ transitionId: tid, protocolVersion: 1, kind: 'commit' }, false);
        this.event({
          reason: 'epoch',
          detail: `epoch ${this.service.epoch} transition ${tid} members ${this.service.members().length}`,
        });
        return;
      }
      case VoiceOpcode.DaveExecuteTransition: {
        const tid = message.d.transition_id;
        if (executed.has(tid)) return;
        executed.add(tid);
        if (last?.transitionId === tid && !last.executed) {
          last.executed = true;
          last.timedOut = fromTimer;
        }
        this.event({
          reason: fromTimer ? 'transition-timeout' : 'transition-executed',
          detail: `transition ${tid}`,
        });
        return;
      }
      default:
        return;
    }
  }

  private startTransition(
    t: Pick<DaveTransitionState, 'transitionId' | 'protocolVersion' | 'kind'>,
    executed: boolean,
  ): void {
    this.lastTransition = { ...t, epoch: this.service.epoch, executed, timedOut: false };
  }

  // ---- timer ----

  /** One timer per call, at the service's next deadline. */
  private arm(): void {
    if (this.closed) return;
    const deadline = this.service.nextDeadline();
    if (this.timer !== null && deadline === this.timerDeadline) return;
    this.clearTimer();
    if (deadline === undefined) return;
    this.timerDeadline = deadline;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, deadline - this.now()));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = null;
    this.timerDeadline = undefined;
    if (this.closed) return;
    this.deliver(
      this.run('tick', () => this.service.tick()),
      true,
    );
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDeadline = undefined;
  }

  // ---- guards and logging ----

  /** Runs a service input; a bug in it is logged and dropped, never thrown into the gateway. */
  private run(what: string, fn: () => DaveOutbound[]): DaveOutbound[] {
    const versionBefore = this.service.version;
    let out: DaveOutbound[];
    try {
      out = fn();
    } catch (error) {
      this.fail(what, error);
      out = [];
    }
    this.versionChange(versionBefore);
    return out;
  }

  private runInput(op: number, fn: () => DaveInputResult): DaveInputResult {
    const versionBefore = this.service.version;
    let result: DaveInputResult;
    try {
      result = fn();
    } catch (error) {
      this.fail(`op ${op}`, error);
      result = { accepted: true, out: [] };
    }
    this.versionChange(versionBefore);
    return result;
  }

  private versionChange(before: number): void {
    const after = this.service.version;
    if (after === before) return;
    this.event({ reason: 'version', detail: `${before} -> ${after}` });
    if (after > before) {
      this.event({ reason: 'upgrade', detail: `version ${after}` });
    }
  }

  private fail(what: string, error: unknown): void {
    // Only the error class and message: our MLS code never puts key material in messages.
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    this.log({
      type: 'error',
      guildId: this.call.guildId,
      channelId: this.call.channelId,
      reason: 'dave',
      detail: `${what}: ${name}: ${message}`,
    });
  }

  private reject(userId: string, op: number, reason: string, detail: string): void {
    this.rejected++;
    this.log({
      type: 'dave-reject',
      guildId: this.call.guildId,
      channelId: this.call.channelId,
      userId,
      op,
      reason,
      detail,
    });
  }

  private event(e: Omit<ServerEvent, 'type'>): void {
    this.log({ type: 'dave', guildId: this.call.guildId, channelId: this.call.channelId, ...e });
  }
}
