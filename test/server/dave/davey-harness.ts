/**
 * Test harness: a call where @snazzah/davey sessions (the Rust/OpenMLS DAVE library used by
 * discord.js, an implementation independent of ours) play the clients against our
 * DaveDeliveryService. Clients behave like discord.js + libdave's sample (dave.md §6): key package
 * on op 4 / op 24 epoch 1, commit on op 27, op 23 after commit/welcome, op 31 + new key package on
 * failure. Messages are delivered in FIFO order, one queue for both directions.
 */
import { DAVESession } from '@snazzah/davey';
import { VoiceOpcode } from '../../../src/protocol/constants.js';
import { DaveDeliveryService } from '../../../src/server/dave/delivery-service.js';
import type {
  DaveDeliveryServiceOptions,
  DaveInputResult,
  DaveOutbound,
  DaveServerMessage,
} from '../../../src/server/dave/delivery-service.js';

export type ClientMessage =
  | {
      op: typeof VoiceOpcode.DaveTransitionReady | typeof VoiceOpcode.DaveMlsInvalidCommitWelcome;
      d: { transition_id: number };
    }
  | {
      op: typeof VoiceOpcode.DaveMlsKeyPackage | typeof VoiceOpcode.DaveMlsCommitWelcome;
      payload: Uint8Array;
    };

type Event =
  | { dir: 'toClient'; to: string; message: DaveServerMessage }
  | { dir: 'toServer'; from: string; message: ClientMessage }
  /** op 11 / op 13, queued so they stay ordered with the DAVE messages. */
  | { dir: 'presence'; to: string; userId: string; present: boolean };

export interface Received {
  op: number;
  transitionId?: number;
  protocolVersion?: number;
  epoch?: number;
}

export class SimClient {
  session: DAVESession | undefined;
  readonly recognized = new Set<string>();
  /** Executed protocol version (what this client sends with). */
  executedVersion = 0;
  private readonly pendingTransitions = new Map<number, number>();
  readonly received: Received[] = [];
  readonly sent: ClientMessage[] = [];
  /** Errors davey threw while processing commit/welcome (the op 31 cases). */
  readonly failures: string[] = [];
  /** Test hook: corrupt the next Welcome before processing it. */
  corruptNextWelcome = false;

  constructor(
    readonly userId: string,
    readonly maxVersion: number,
    readonly channelId: string,
  ) {
    this.recognized.add(userId);
  }

  /** Op 4 Session Description. */
  onSessionDescription(version: number): ClientMessage[] {
    this.executedVersion = version;
    return version >= 1 ? this.init(version) : [];
  }

  private init(version: number): ClientMessage[] {
    if (this.session === undefined) this.session = new DAVESession(version, this.userId, this.channelId);
    else this.session.reinit(version, this.userId, this.channelId);
    return [{ op: VoiceOpcode.DaveMlsKeyPackage, payload: this.session.getSerializedKeyPackage() }];
  }

  private prepare(tid: number, version: number): ClientMessage[] {
    if (tid === 0) {
      this.executedVersion = version;
      return [];
    }
    this.pendingTransitions.set(tid, version);
    return [{ op: VoiceOpcode.DaveTransitionReady, d: { transition_id: tid } }];
  }

  private fail(tid: number, err: unknown): ClientMessage[] {
    this.failures.push(err instanceof Error ? err.message : String(err));
    const out: ClientMessage[] = [{ op: VoiceOpcode.DaveMlsInvalidCommitWelcome, d: { transition_id: tid } }];
    return out.concat(this.init(1));
  }

  onMessage(m: DaveServerMessage): ClientMessage[] {
    switch (m.op) {
      case VoiceOpcode.DavePrepareTransition:
        this.received.push({
          op: m.op,
          transitionId: m.d.transition_id,
          protocolVersion: m.d.protocol_version,
        });
        return this.prepare(m.d.transition_id, m.d.protocol_version);
      case VoiceOpcode.DaveExecuteTransition: {
        this.received.push({ op: m.op, transitionId: m.d.transition_id });
        const version = this.pendingTransitions.get(m.d.transition_id);
        if (version === undefined) return [];
        this.pendingTransitions.delete(m.d.transition_id);
        this.executedVersion = version;
        if (version === 0) this.session?.reset();
        return [];
      }
      case VoiceOpcode.DavePrepareEpoch:
        this.received.push({
          op: m.op,
          epoch: m.d.epoch,
          protocolVersion: m.d.protocol_version,
          transitionId: m.d.transition_id,
        });
        return m.d.epoch === 1 ? this.init(m.d.protocol_version) : [];
      case VoiceOpcode.DaveMlsExternalSender:
        this.received.push({ op: m.op });
        this.session?.setExternalSender(Buffer.from(m.payload));
        return [];
      case VoiceOpcode.DaveMlsProposals: {
        this.received.push({ op: m.op });
        if (this.session === undefined) return [];
        const result = this.session.processProposals(m.payload[0] ?? 0, Buffer.from(m.payload.subarray(1)), [
          ...this.recognized,
        ]);
        if (result.commit === undefined) return [];
        const payload =
          result.welcome === undefined ? result.commit : Buffer.concat([result.commit, result.welcome]);
        return [{ op: VoiceOpcode.DaveMlsCommitWelcome, payload }];
      }
      case VoiceOpcode.DaveMlsAnnounceCommitTransition: {
        const tid = ((m.payload[0] ?? 0) << 8) | (m.payload[1] ?? 0);
        this.received.push({ op: m.op, transitionId: tid });
        if (this.session === undefined) return [];
        try {
          this.session.processCommit(Buffer.from(m.payload.subarray(2)));
        } catch (err) {
          return this.fail(tid, err);
        }
        return this.prepare(tid, 1);
      }
      case VoiceOpcode.DaveMlsWelcome: {
        const tid = ((m.payload[0] ?? 0) << 8) | (m.payload[1] ?? 0);
        this.received.push({ op: m.op, transitionId: tid });
        if (this.session === undefined) return [];
        const welcome = Buffer.from(m.payload.subarray(2));
        if (this.corruptNextWelcome) {
          this.corruptNextWelcome = false;
          const at = welcome.length - 5;
          welcome[at] = (welcome[at] ?? 0) ^ 0xff; // breaks the encrypted group secrets / info
        }
        try {
          this.session.processWelcome(welcome);
        } catch (err) {
          return this.fail(tid, err);
        }
        return this.prepare(tid, 1);
      }
    }
  }

  get epoch(): bigint | null {
    return this.session?.epoch ?? null;
  }

  get authenticator(): string | undefined {
    return this.session?.getEpochAuthenticator()?.toString('hex');
  }

  ops(): number[] {
    return this.received.map((r) => r.op);
  }
}

export interface ServerRejection {
  from: string;
  op: number;
  result: DaveInputResult;
}

export class SimCall {
  readonly service: DaveDeliveryService;
  readonly clients = new Map<string, SimClient>();
  private queue: Event[] = [];
  readonly rejections: ServerRejection[] = [];
  /** Everything the service sent, in order. */
  readonly outLog: DaveOutbound[] = [];
  /** Test hook: drop or replace a client message before the server sees it. */
  intercept: ((from: string, m: ClientMessage) => ClientMessage | null) | undefined;
  clock = 1_000_000;

  constructor(
    options: Partial<DaveDeliveryServiceOptions> = {},
    readonly channelId = '1300000000000000001',
  ) {
    this.service = new DaveDeliveryService({ channelId, now: () => this.clock, ...options });
  }

  client(userId: string): SimClient {
    const c = this.clients.get(userId);
    if (c === undefined) throw new Error(`no client ${userId}`);
    return c;
  }

  join(userId: string, maxVersion = 1): SimClient {
    const c = new SimClient(userId, maxVersion, this.channelId);
    for (const other of this.clients.values()) {
      this.queue.push({ dir: 'presence', to: other.userId, userId, present: true }); // op 11 to the others
      c.recognized.add(other.userId); // op 11 to the newcomer, before anything else it gets
    }
    this.clients.set(userId, c);
    const out = this.service.join(userId, maxVersion);
    const version = this.service.sessionVersionFor(userId);
    this.deliverServerOut(out);
    for (const m of c.onSessionDescription(version))
      this.queue.push({ dir: 'toServer', from: userId, message: m });
    return c;
  }

  leave(userId: string): void {
    this.clients.delete(userId);
    for (const other of this.clients.values()) {
      this.queue.push({ dir: 'presence', to: other.userId, userId, present: false }); // op 13
    }
    this.deliverServerOut(this.service.leave(userId));
  }

  tick(advanceMs: number): void {
    this.clock += advanceMs;
    this.deliverServerOut(this.service.tick());
  }

  deliverServerOut(out: DaveOutbound[]): void {
    for (const o of out) {
      this.outLog.push(o);
      this.queue.push({ dir: 'toClient', to: o.to, message: o.message });
    }
  }

  /** Delivers queued messages until quiet (or `limit` events). */
  run(limit = 1000): void {
    for (let i = 0; i < limit; i++) {
      const e = this.queue.shift();
      if (e === undefined) return;
      if (e.dir === 'presence') {
        const c = this.clients.get(e.to);
        if (e.present) c?.recognized.add(e.userId);
        else c?.recognized.delete(e.userId);
      } else if (e.dir === 'toClient') {
        const c = this.clients.get(e.to);
        if (c === undefined) continue;
        for (const m of c.onMessage(e.message)) this.queue.push({ dir: 'toServer', from: e.to, message: m });
      } else {
        if (!this.clients.has(e.from)) continue;
        const m = this.intercept === undefined ? e.message : this.intercept(e.from, e.message);
        if (m === null) continue;
        this.clients.get(e.from)?.sent.push(m);
        this.deliverServerOut(this.toServer(e.from, m));
      }
    }
    throw new Error('message loop did not settle');
  }

  private toServer(from: string, m: ClientMessage): DaveOutbound[] {
    switch (m.op) {
      case VoiceOpcode.DaveTransitionReady:
        return this.service.transitionReady(from, m.d.transition_id);
      case VoiceOpcode.DaveMlsInvalidCommitWelcome:
        return this.service.invalidCommitWelcome(from, m.d.transition_id);
      case VoiceOpcode.DaveMlsKeyPackage:
      case VoiceOpcode.DaveMlsCommitWelcome: {
        const result =
          m.op === VoiceOpcode.DaveMlsKeyPackage
            ? this.service.keyPackage(from, m.payload)
            : this.service.commitWelcome(from, m.payload);
        if (!result.accepted) this.rejections.push({ from, op: m.op, result });
        return result.out;
      }
    }
  }

  /** Everyone in the group: same epoch and equal epoch authenticators. */
  groupAgrees(userIds: string[]): boolean {
    const auths = new Set(userIds.map((u) => this.client(u).authenticator));
    const epochs = new Set(userIds.map((u) => String(this.client(u).epoch)));
    return auths.size === 1 && !auths.has(undefined) && epochs.size === 1;
  }
}
