/**
 * DaveClient: our DAVE endpoint for one voice session (dave.md §6). It sequences the gateway's
 * DAVE messages through the MLS member (DaveSession), sends what that returns, and keeps the media
 * side in step: one DaveSendKey for our frames (handed to the media engine, which encrypts them;
 * encrypt() here uses the same key object), one FrameDecryptor per remote user.
 *
 * Key timing follows libdave (§6.9): receive ratchets switch as soon as a commit or welcome is
 * processed (old ones stay usable 10 s), our send ratchet only on op 22 (or at once for transition
 * 0). Version 0 means passthrough both ways; after an upgrade unencrypted frames are still accepted
 * for 10 s. Pure: no sockets, no timers (the decryptors' clock is injectable).
 */
import { VoxcordError } from '../errors.js';
import { CLIENT_WS_UDP_SKEW_MS, VoiceOpcode } from '../protocol/constants.js';
import { verificationCode as computeVerificationCode, privacyCode as computePrivacyCode } from './codes.js';
import type {
  DaveClientMessage,
  DaveEndpoint,
  DaveEndpointContext,
  DaveFrameResult,
  DaveInbound,
} from './dave-endpoint.js';
import { FrameDecryptor } from './frame-decryptor.js';
import { DaveSendKey } from './send-key.js';
import type { FrameEncryptorStats } from './frame-encryptor.js';
import { DaveSession } from './mls/dave-session.js';
import type { DaveOutbound, DaveResult, DaveTransition } from './mls/dave-session.js';
import type { SignatureKeyPair } from './mls/key-package.js';
import { snowflakeToBigInt } from './mls/mls-codec.js';
import { decodeAnnounceCommit, decodeProposalsPayload, decodeWelcomePayload } from './opcodes.js';
import { inspectCustom, publicView } from '../util/redact.js';
import type { InspectStylized } from '../util/redact.js';
import type { inspect } from 'node:util';

export interface DaveClientOptions extends DaveEndpointContext {
  /** Persistent identity key; a fresh P-256 key otherwise. */
  signatureKeyPair?: SignatureKeyPair;
  /** Monotonic clock in ms for the decryptors (tests). Default performance.now(). */
  now?: () => number;
}

/** A decimal u64 without leading zeros (at most 19 digits is always below 2^64): already normal. */
const CANONICAL_ID = /^[1-9][0-9]{0,18}$/;

/** User ids compare as numbers (DaveSession normalises them the same way). */
function normalizeUserId(userId: string): string {
  // Per received frame: skip the BigInt round trip for the ids Discord sends.
  if (CANONICAL_ID.test(userId)) return userId;
  try {
    return snowflakeToBigInt(userId).toString();
  } catch {
    return userId;
  }
}

export class DaveClient implements DaveEndpoint {
  private readonly context: DaveEndpointContext;
  private readonly session: DaveSession;
  private readonly selfId: string;
  private readonly now: (() => number) | undefined;
  /** Our send state, the only holder of the send secret here; the media engine encrypts with it. */
  #sendKey: DaveSendKey = DaveSendKey.none;
  readonly #encryptStats: FrameEncryptorStats = { encrypted: 0, passthrough: 0, silence: 0, dropped: 0 };
  private readonly decryptors = new Map<string, FrameDecryptor>();
  /** Users whose op 13 came, and when: their decryptor serves frames still in flight a little longer. */
  private readonly departed = new Map<string, number>();
  /** Version 0 in force (or being prepared): new decryptors start in passthrough. */
  private receivePassthrough = false;
  private executedVersion = 0;
  private chain: Promise<void> = Promise.resolve();
  private destroyed = false;
  private lastEpoch: bigint | undefined;
  private lastCode: string | undefined;
  private lastVersion = 0;
  private currentCode: string | undefined;

  constructor(options: DaveClientOptions) {
    this.context = options;
    const sessionOptions: ConstructorParameters<typeof DaveSession>[0] = {
      userId: options.userId,
      channelId: options.channelId,
    };
    if (options.signatureKeyPair !== undefined) sessionOptions.signatureKeyPair = options.signatureKeyPair;
    this.session = new DaveSession(sessionOptions);
    this.selfId = this.session.userId;
    this.now = options.now;
  }

  get protocolVersion(): number {
    return this.executedVersion;
  }

  /** util.inspect: no MLS state, ratchet or key (see util/redact.ts). */
  [inspectCustom](depth: number, options: InspectStylized, inspectFn: typeof inspect): string {
    const fields = { userId: this.selfId, protocolVersion: this.protocolVersion, epoch: this.epoch };
    return publicView('DaveClient', fields, depth, options, inspectFn);
  }

  get epoch(): bigint | undefined {
    return this.session.epoch;
  }

  get epochAuthenticator(): Uint8Array | undefined {
    return this.session.epochAuthenticator;
  }

  get privacyCode(): string | undefined {
    return this.currentCode;
  }

  /** Our send side: encrypted / passthrough / silence / dropped counts. */
  get encryptStats(): Readonly<FrameEncryptorStats> {
    return this.#encryptStats;
  }

  /** Decryptor of a remote user, if one exists (tests and diagnostics). */
  decryptorOf(userId: string): FrameDecryptor | undefined {
    return this.decryptors.get(normalizeUserId(userId));
  }

  handle(message: DaveInbound): void {
    if (this.destroyed) return;
    this.chain = this.chain
      .then(() => this.process(message))
      .catch((err: unknown) => {
        this.report(
          new VoxcordError('DAVE_PROTOCOL_ERROR', `DAVE: internal error handling op ${message.op}`, {
            details: { reason: 'internal', op: message.op, error: err instanceof Error ? err.message : '' },
          }),
        );
      });
  }

  settled(): Promise<void> {
    return this.chain;
  }

  get canEncrypt(): boolean {
    return !this.destroyed && this.#sendKey.mode !== 'none';
  }

  sendKey(): DaveSendKey {
    return this.destroyed ? DaveSendKey.none : this.#sendKey;
  }

  encrypt(opus: Uint8Array): Uint8Array | null {
    if (this.destroyed) return null;
    return this.#sendKey.encryptFrame(opus, this.#encryptStats);
  }

  decrypt(userId: string, frame: Uint8Array): DaveFrameResult {
    if (this.destroyed) return { ok: false, reason: 'no-key' };
    if (this.departed.size > 0) this.retireDeparted();
    const result = this.decryptorFor(normalizeUserId(userId)).decrypt(frame);
    return result.ok ? { ok: true, frame: result.frame } : { ok: false, reason: result.reason };
  }

  async verificationCode(userId: string): Promise<string> {
    const id = normalizeUserId(userId);
    const remoteKey = this.session.roster.get(id);
    if (remoteKey === undefined || id === this.selfId) {
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        'that user is not another member of the current DAVE group',
        {
          details: { userId },
        },
      );
    }
    return computeVerificationCode(this.session.signaturePublicKey, this.selfId, remoteKey, id);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.session.reset();
    this.setSendRatchet(null, false);
    // The receive keys leave the WebAssembly core now, not when the collector finds them.
    for (const d of this.decryptors.values()) d.destroy();
    this.decryptors.clear();
    this.departed.clear();
  }

  // ---- message processing (strictly in order) ----

  private async process(message: DaveInbound): Promise<void> {
    if (this.destroyed) return;
    if (this.departed.size > 0) this.retireDeparted();
    switch (message.op) {
      case VoiceOpcode.SessionDescription: {
        const version = message.protocolVersion;
        this.executedVersion = version;
        this.setSendRatchet(null, version === 0);
        this.setReceivePassthrough(version === 0);
        await this.apply(await this.session.init(version));
        return;
      }
      case VoiceOpcode.ClientsConnect:
        this.session.addRecognizedUsers(message.userIds);
        for (const id of message.userIds) this.departed.delete(normalizeUserId(id));
        return;
      case VoiceOpcode.ClientDisconnect: {
        const id = normalizeUserId(message.userId);
        this.session.removeRecognizedUser(id);
        // Their frames forwarded before this op 13 may still be on the way (UDP is not ordered
        // with the websocket): the key goes CLIENT_WS_UDP_SKEW_MS later.
        if (this.decryptors.has(id)) this.departed.set(id, this.clock());
        return;
      }
      case VoiceOpcode.DavePrepareTransition:
        await this.apply(
          await this.session.onPrepareTransition({
            transitionId: message.transitionId,
            protocolVersion: message.protocolVersion,
          }),
        );
        return;
      case VoiceOpcode.DaveExecuteTransition:
        await this.apply(await this.session.onExecuteTransition(message.transitionId));
        return;
      case VoiceOpcode.DavePrepareEpoch: {
        const data: Parameters<DaveSession['onPrepareEpoch']>[0] = {
          epoch: message.epoch,
          protocolVersion: message.protocolVersion,
        };
        if (message.transitionId !== undefined) data.transitionId = message.transitionId;
        await this.apply(await this.session.onPrepareEpoch(data));
        return;
      }
      default:
        await this.processBinary(message.op, message.payload);
    }
  }

  private async processBinary(
    op:
      | typeof VoiceOpcode.DaveMlsExternalSender
      | typeof VoiceOpcode.DaveMlsProposals
      | typeof VoiceOpcode.DaveMlsAnnounceCommitTransition
      | typeof VoiceOpcode.DaveMlsWelcome,
    payload: Uint8Array,
  ): Promise<void> {
    try {
      switch (op) {
        case VoiceOpcode.DaveMlsExternalSender:
          await this.apply(await this.session.onExternalSender(payload));
          return;
        case VoiceOpcode.DaveMlsProposals:
          await this.apply(await this.session.onProposals(decodeProposalsPayload(payload)));
          return;
        case VoiceOpcode.DaveMlsAnnounceCommitTransition:
          await this.apply(await this.session.onAnnounceCommit(decodeAnnounceCommit(payload)));
          return;
        case VoiceOpcode.DaveMlsWelcome:
          await this.apply(await this.session.onWelcome(decodeWelcomePayload(payload)));
          return;
      }
    } catch (err) {
      // Only the payload decoders throw (typed, 'malformed'): without a transition id there is
      // nothing to answer with op 31, so the message is dropped and reported.
      this.report(
        err instanceof VoxcordError
          ? err
          : new VoxcordError('DAVE_PROTOCOL_ERROR', `DAVE: malformed op ${op} payload`, {
              details: { reason: 'malformed', op },
            }),
      );
    }
  }

  /** Carries out a DaveSession result: ratchets first, then the replies, then the new epoch view. */
  private async apply(result: DaveResult): Promise<void> {
    if (this.destroyed) return;
    if (result.error !== undefined) this.report(result.error);
    if (result.ignored !== undefined)
      this.context.notify({ type: 'debug', message: `DAVE: ignored (${result.ignored})` });
    if (result.prepareRatchets !== undefined) await this.prepareRatchets(result.prepareRatchets);
    if (result.execute !== undefined) await this.execute(result.execute);
    if (this.destroyed) return;
    for (const out of result.send) this.context.send(toClientMessage(out));
    this.refreshEpoch();
  }

  /** §6.9: receive side of a new epoch (or receive passthrough for a downgrade). */
  private async prepareRatchets(t: DaveTransition): Promise<void> {
    if (t.protocolVersion === 0) {
      this.setReceivePassthrough(true);
      return;
    }
    const users = new Set<string>(this.session.recognizedUsers);
    for (const id of this.session.roster.keys()) users.add(id);
    users.delete(this.selfId);
    for (const id of users) {
      const base = await this.session.exportBaseSecret(id);
      if (this.destroyed) return;
      if (base !== undefined) this.decryptorFor(id).transitionToRatchet(base);
    }
  }

  /** §6.8: the send side switches; after an upgrade plain frames are accepted 10 s longer. */
  private async execute(t: DaveTransition): Promise<void> {
    if (t.protocolVersion === 0) {
      this.setSendRatchet(null, true);
      this.setReceivePassthrough(true);
    } else {
      const base = await this.session.exportBaseSecret(this.selfId);
      if (this.destroyed) return;
      this.setSendRatchet(base ?? null, false); // no group (sole-member reset): drop until one exists
      this.setReceivePassthrough(false);
    }
    this.executedVersion = t.protocolVersion;
  }

  /**
   * Our send side: a new key (a fresh frame counter), for encrypt() and the media engine. The
   * 'sendKey' event has every holder take the new one before the old key is released (its secret
   * and cipher zeroed now, not by the collector): a key from sendKey() lasts until the next event.
   */
  private setSendRatchet(baseSecret: Uint8Array | null, passthrough: boolean): void {
    const old = this.#sendKey;
    this.#sendKey = passthrough
      ? DaveSendKey.passthrough
      : baseSecret === null
        ? DaveSendKey.none
        : DaveSendKey.encrypt(baseSecret);
    if (!this.destroyed) this.context.notify({ type: 'sendKey' });
    old.release();
  }

  private setReceivePassthrough(on: boolean): void {
    this.receivePassthrough = on;
    for (const d of this.decryptors.values()) d.setPassthrough(on ? { enable: true } : { enable: false });
  }

  private clock(): number {
    return this.now === undefined ? performance.now() : this.now();
  }

  /** Departed users' decryptors, past CLIENT_WS_UDP_SKEW_MS, are destroyed (their keys with them). */
  private retireDeparted(): void {
    const now = this.clock();
    for (const [id, at] of this.departed) {
      if (now - at <= CLIENT_WS_UDP_SKEW_MS) continue;
      this.departed.delete(id);
      this.decryptors.get(id)?.destroy();
      this.decryptors.delete(id);
    }
  }

  private decryptorFor(id: string): FrameDecryptor {
    let d = this.decryptors.get(id);
    if (d === undefined) {
      d = new FrameDecryptor(this.now === undefined ? {} : { now: this.now });
      if (this.receivePassthrough) d.setPassthrough({ enable: true });
      this.decryptors.set(id, d);
    }
    return d;
  }

  private refreshEpoch(): void {
    const auth = this.session.epochAuthenticator;
    this.currentCode = auth === undefined ? undefined : computePrivacyCode(auth);
    const epoch = this.session.epoch;
    if (
      epoch === this.lastEpoch &&
      this.currentCode === this.lastCode &&
      this.executedVersion === this.lastVersion
    )
      return;
    this.lastEpoch = epoch;
    this.lastCode = this.currentCode;
    this.lastVersion = this.executedVersion;
    this.context.notify({
      type: 'epoch',
      epoch,
      privacyCode: this.currentCode,
      protocolVersion: this.executedVersion,
    });
  }

  private report(error: VoxcordError): void {
    this.context.notify({ type: 'error', error });
  }
}

function toClientMessage(out: DaveOutbound): DaveClientMessage {
  switch (out.op) {
    case VoiceOpcode.DaveTransitionReady:
    case VoiceOpcode.DaveMlsInvalidCommitWelcome:
      return { op: out.op, d: { transition_id: out.transitionId } };
    default:
      return { op: out.op, payload: out.payload };
  }
}

/** The default DaveEndpointFactory. */
export function createDaveClient(context: DaveEndpointContext): DaveClient {
  return new DaveClient(context);
}
