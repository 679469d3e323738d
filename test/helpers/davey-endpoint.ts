/**
 * Test helper: a DaveEndpoint backed by @snazzah/davey (Rust/OpenMLS, the DAVE library discord.js
 * uses against the real Discord), driven the way @discordjs/voice drives it (its DAVESession
 * wrapper): key package on op 4 / op 24 epoch 1, commit on op 27, op 23 after a processed
 * commit/welcome, op 31 + new key package when davey rejects one, davey's own send-key timing.
 * Plugged into a VoiceSession (`daveEndpoint: daveyEndpoint`), it makes a "davey-driven
 * participant": our transport, davey's DAVE.
 */
import { DAVESession, generateDisplayableCode } from '@snazzah/davey';
import type { MediaType } from '@snazzah/davey';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { VoxcordError } from '../../src/errors.js';
import type {
  DaveEndpoint,
  DaveEndpointContext,
  DaveFrameResult,
  DaveInbound,
} from '../../src/dave/dave-endpoint.js';

/** davey's MediaType.AUDIO (a const enum, unusable under verbatimModuleSyntax). */
const AUDIO = 0 as MediaType;
const SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);
/** discord.js: passthrough seconds after an upgrade, and while a downgrade is pending. */
const TRANSITION_EXPIRY_S = 10;
const PENDING_DOWNGRADE_EXPIRY_S = 24;

function transitionIdOf(payload: Uint8Array): number {
  return ((payload[0] ?? 0) << 8) | (payload[1] ?? 0);
}

export class DaveyEndpoint implements DaveEndpoint {
  session: DAVESession | undefined;
  private version = 0;
  private readonly pending = new Map<number, number>();
  private readonly recognized = new Set<string>();
  private downgraded = false;
  private destroyed = false;
  private last = '';
  /** davey errors seen while processing commits/welcomes (the op 31 cases). */
  readonly failures: string[] = [];

  constructor(private readonly context: DaveEndpointContext) {
    this.recognized.add(context.userId);
  }

  get protocolVersion(): number {
    return this.version;
  }

  get epoch(): bigint | undefined {
    if (this.version === 0 || this.session?.ready !== true) return undefined;
    return this.session.epoch ?? undefined;
  }

  get epochAuthenticator(): Uint8Array | undefined {
    if (this.version === 0 || this.session?.ready !== true) return undefined;
    const auth = this.session.getEpochAuthenticator();
    return auth === null ? undefined : Uint8Array.from(auth);
  }

  get privacyCode(): string | undefined {
    const auth = this.epochAuthenticator;
    return auth === undefined ? undefined : generateDisplayableCode(Buffer.from(auth), 30, 5);
  }

  handle(message: DaveInbound): void {
    if (this.destroyed) return;
    try {
      this.process(message);
    } catch (err) {
      this.context.notify({
        type: 'error',
        error: new VoxcordError('DAVE_PROTOCOL_ERROR', `davey rejected op ${message.op}`, {
          details: { reason: 'davey', error: err instanceof Error ? err.message : String(err) },
        }),
      });
    }
    this.refresh();
  }

  settled(): Promise<void> {
    return Promise.resolve(); // davey is synchronous
  }

  encrypt(opus: Uint8Array): Uint8Array | null {
    if (this.destroyed) return null;
    const packet = Buffer.from(opus.buffer, opus.byteOffset, opus.byteLength);
    if (this.version === 0 || this.session?.ready !== true || packet.equals(SILENCE)) return opus;
    return this.session.encryptOpus(packet);
  }

  decrypt(userId: string, frame: Uint8Array): DaveFrameResult {
    const session = this.session;
    const packet = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const canDecrypt = session?.ready === true && (this.version !== 0 || session.canPassthrough(userId));
    if (packet.equals(SILENCE) || !canDecrypt || session === undefined) return { ok: true, frame };
    try {
      return { ok: true, frame: session.decrypt(userId, AUDIO, packet) };
    } catch (err) {
      return { ok: false, reason: `davey: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  async verificationCode(userId: string): Promise<string> {
    if (this.session === undefined) throw new VoxcordError('INVALID_ARGUMENT', 'no davey session');
    return this.session.getVerificationCode(userId);
  }

  destroy(): void {
    this.destroyed = true;
    try {
      this.session?.reset();
    } catch {
      // already gone
    }
  }

  private process(m: DaveInbound): void {
    switch (m.op) {
      case VoiceOpcode.SessionDescription:
        this.version = m.protocolVersion;
        this.reinit();
        return;
      case VoiceOpcode.ClientsConnect:
        for (const id of m.userIds) this.recognized.add(id);
        return;
      case VoiceOpcode.ClientDisconnect:
        this.recognized.delete(m.userId);
        return;
      case VoiceOpcode.DavePrepareTransition:
        this.pending.set(m.transitionId, m.protocolVersion);
        if (m.transitionId === 0) {
          this.execute(0);
        } else {
          if (m.protocolVersion === 0) this.session?.setPassthroughMode(true, PENDING_DOWNGRADE_EXPIRY_S);
          this.ready(m.transitionId);
        }
        return;
      case VoiceOpcode.DaveExecuteTransition:
        this.execute(m.transitionId);
        return;
      case VoiceOpcode.DavePrepareEpoch:
        if (m.epoch === 1) {
          this.version = m.protocolVersion;
          this.reinit();
        }
        return;
      case VoiceOpcode.DaveMlsExternalSender:
        if (this.session === undefined) throw new Error('No session available');
        this.session.setExternalSender(Buffer.from(m.payload));
        return;
      case VoiceOpcode.DaveMlsProposals: {
        if (this.session === undefined) throw new Error('No session available');
        const payload = Buffer.from(m.payload);
        const { commit, welcome } = this.session.processProposals(payload.readUInt8(0), payload.subarray(1), [
          ...this.recognized,
        ]);
        if (commit === undefined) return;
        this.context.send({
          op: VoiceOpcode.DaveMlsCommitWelcome,
          payload: welcome === undefined ? commit : Buffer.concat([commit, welcome]),
        });
        return;
      }
      case VoiceOpcode.DaveMlsAnnounceCommitTransition:
      case VoiceOpcode.DaveMlsWelcome: {
        if (this.session === undefined) throw new Error('No session available');
        const tid = transitionIdOf(m.payload);
        const body = Buffer.from(m.payload.subarray(2));
        try {
          if (m.op === VoiceOpcode.DaveMlsWelcome) this.session.processWelcome(body);
          else this.session.processCommit(body);
        } catch (err) {
          this.failures.push(err instanceof Error ? err.message : String(err));
          this.context.send({ op: VoiceOpcode.DaveMlsInvalidCommitWelcome, d: { transition_id: tid } });
          this.reinit();
          return;
        }
        if (tid !== 0) {
          this.pending.set(tid, this.version);
          this.ready(tid);
        }
        return;
      }
    }
  }

  private ready(transitionId: number): void {
    this.context.send({ op: VoiceOpcode.DaveTransitionReady, d: { transition_id: transitionId } });
  }

  private reinit(): void {
    if (this.version > 0) {
      const { userId, channelId } = this.context;
      if (this.session === undefined) this.session = new DAVESession(this.version, userId, channelId);
      else this.session.reinit(this.version, userId, channelId);
      this.context.send({
        op: VoiceOpcode.DaveMlsKeyPackage,
        payload: this.session.getSerializedKeyPackage(),
      });
    } else if (this.session !== undefined) {
      this.session.reset();
      this.session.setPassthroughMode(true, TRANSITION_EXPIRY_S);
    }
  }

  private execute(transitionId: number): void {
    const version = this.pending.get(transitionId);
    if (version === undefined) return;
    this.pending.delete(transitionId);
    const old = this.version;
    this.version = version;
    if (old !== version && version === 0) {
      this.downgraded = true;
    } else if (transitionId > 0 && this.downgraded) {
      this.downgraded = false;
      this.session?.setPassthroughMode(true, TRANSITION_EXPIRY_S);
    }
  }

  private refresh(): void {
    const epoch = this.epoch;
    const code = this.privacyCode;
    const key = `${this.version}/${String(epoch)}/${String(code)}`;
    if (key === this.last) return;
    this.last = key;
    this.context.notify({ type: 'epoch', protocolVersion: this.version, epoch, privacyCode: code });
  }
}

/** DaveEndpointFactory for VoiceSession's `daveEndpoint` option. */
export function daveyEndpoint(context: DaveEndpointContext): DaveyEndpoint {
  return new DaveyEndpoint(context);
}
