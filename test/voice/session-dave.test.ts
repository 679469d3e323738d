/**
 * The DAVE wiring of VoiceSession: which gateway messages reach the DAVE endpoint and in what form,
 * how its replies go out (JSON 23/31, binary 26/28, held across a resume), frame encryption before
 * the media channel, and the receive path ('audioFrame', 'daveDecryptFailure', counters). A fake
 * endpoint stands in for the MLS side; the real one is covered in test/dave and test/e2e.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DAVE_SEND_KEY_WAIT_MS, VoiceOpcode } from '../../src/protocol/constants.js';
import { DaveSendKey } from '../../src/dave/send-key.js';
import type { FrameProtection, SendCounts, SendDropReason } from '../../src/media/media-engine.js';
import { VoxcordError } from '../../src/errors.js';
import type {
  DaveClientMessage,
  DaveEndpoint,
  DaveEndpointContext,
  DaveFrameResult,
  DaveInbound,
} from '../../src/dave/dave-endpoint.js';
import type { ReceivedRtp } from '../../src/media/media-engine.js';
import { VoiceSession } from '../../src/voice/session.js';
import { entersState } from '../../src/util/enters-state.js';
import type { VoiceSessionOptions } from '../../src/voice/session.js';
import { SessionDave } from '../../src/voice/session-dave.js';
import type { AudioFrame, DaveDecryptFailure } from '../../src/voice/session-dave.js';
import { InboundStage } from '../../src/voice/inbound.js';
import type { ReceiveOutcome } from '../../src/voice/inbound.js';
import { FakeChannel, FakeEngine, ScriptedServer, until } from './fakes.js';
import type { ServerConnection } from './fakes.js';

/** Encrypts by appending FA FA; decrypts by stripping it, fails 'auth-failed' otherwise. */
class FakeEndpoint implements DaveEndpoint {
  readonly inbound: DaveInbound[] = [];
  protocolVersion = 1;
  epoch: bigint | undefined = undefined;
  epochAuthenticator: Uint8Array | undefined = undefined;
  privacyCode: string | undefined = undefined;
  /** encrypt() returns null (no key) while true. */
  noKey = false;
  destroyed = false;

  constructor(readonly context: DaveEndpointContext) {}

  handle(message: DaveInbound): void {
    this.inbound.push(message);
  }
  encrypt(opus: Uint8Array): Uint8Array | null {
    if (opus.length === 3 && opus[0] === 0xf8) return opus;
    return this.noKey ? null : Uint8Array.from([...opus, 0xfa, 0xfa]);
  }
  decrypt(_userId: string, frame: Uint8Array): DaveFrameResult {
    const n = frame.length;
    if (n >= 2 && frame[n - 1] === 0xfa && frame[n - 2] === 0xfa)
      return { ok: true, frame: frame.subarray(0, n - 2) };
    return { ok: false, reason: 'auth-failed' };
  }
  async verificationCode(userId: string): Promise<string> {
    return `code-for-${userId}`;
  }
  settled(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** Reports canEncrypt; gets its send key while processing op `keyOn` (settled() resolves after). */
class KeyedEndpoint extends FakeEndpoint {
  keyOn = 22;
  private processing: Promise<void> = Promise.resolve();
  /** Resolves the processing of the message being handled (set by handle()). */
  finish: () => void = () => undefined;

  get canEncrypt(): boolean {
    return !this.noKey;
  }
  override handle(message: DaveInbound): void {
    super.handle(message);
    this.processing = new Promise<void>((resolve) => {
      this.finish = () => {
        if (message.op === this.keyOn) this.noKey = false;
        resolve();
      };
    });
  }
  override settled(): Promise<void> {
    return this.processing;
  }
}

/** Yields to the event loop (I/O included) until `check` holds; real time, so it works under fake timers. */
async function turnsUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function rtp(ssrc: number, sequence: number, payload: number[], receivedAt = 0): ReceivedRtp {
  return { ssrc, sequence, timestamp: sequence * 960, payload: Uint8Array.from(payload), receivedAt };
}

/** The session's inbound stage, its output collected as outcomes (SessionDave hands it the endpoint). */
function collectingStage(): { inbound: InboundStage; take: () => ReceiveOutcome[] } {
  const out: ReceiveOutcome[] = [];
  const inbound = new InboundStage({
    frame: (frame) => out.push({ ok: true, frame }),
    failure: (failure) => out.push({ ok: false, failure }),
  });
  return { inbound, take: () => out.splice(0) };
}

describe('SessionDave (no sockets)', () => {
  function create(): {
    dave: SessionDave;
    sent: DaveClientMessage[];
    log: string[];
    endpoint: () => FakeEndpoint;
    setCanSend: (v: boolean) => void;
    inbound: InboundStage;
    take: () => ReceiveOutcome[];
  } {
    const { inbound, take } = collectingStage();
    const sent: DaveClientMessage[] = [];
    const log: string[] = [];
    let canSend = true;
    let endpoint: FakeEndpoint | undefined;
    const dave = new SessionDave({
      inbound,
      send: (m) => {
        if (!canSend) return false;
        sent.push(m);
        return true;
      },
      epoch: (info) => log.push(`epoch ${String(info.epoch)} v${info.protocolVersion}`),
      privacyCode: (code) => log.push(`code ${String(code)}`),
      error: (e) => log.push(`error ${e.message}`),
      debug: () => undefined,
    });
    dave.start((ctx) => (endpoint = new FakeEndpoint(ctx)), '1', '2');
    return { dave, sent, log, endpoint: () => endpoint!, setCanSend: (v) => (canSend = v), inbound, take };
  }

  it('counts encrypted, unencrypted (silence) and dropped frames', () => {
    const { dave, endpoint } = create();
    expect(Array.from(dave.prepareFrame(Uint8Array.of(0xfc, 1))!)).toEqual([0xfc, 1, 0xfa, 0xfa]);
    const silence = Uint8Array.of(0xf8, 0xff, 0xfe);
    expect(dave.prepareFrame(silence)).toBe(silence);
    endpoint().noKey = true;
    expect(dave.prepareFrame(Uint8Array.of(0xfc, 2))).toBeNull();
    expect(dave.stats).toMatchObject({ framesEncrypted: 1, framesUnencrypted: 1, framesDropped: 1 });
  });

  it('decrypts per user and counts failures per user and reason', () => {
    const { dave, inbound, take } = create();
    inbound.map(7, '55');
    inbound.receive(rtp(7, 1, [0xfc, 9, 0xfa, 0xfa]));
    expect(take()).toEqual([
      {
        ok: true,
        frame: {
          userId: '55',
          ssrc: 7,
          sequence: 1,
          timestamp: 960,
          receivedAt: 0,
          payload: Uint8Array.of(0xfc, 9),
        },
      },
    ]);
    inbound.receive(rtp(7, 2, [0xfc, 9]));
    expect(take()).toEqual([
      { ok: false, failure: { userId: '55', ssrc: 7, sequence: 2, reason: 'auth-failed' } },
    ]);
    inbound.receive(rtp(7, 3, [0xfc]));
    expect(dave.stats.decryptFailures).toEqual({ '55': { 'auth-failed': 2 } });
    expect(dave.stats.framesDecrypted).toBe(1);
  });

  it('holds packets of an unmapped SSRC until op 5, and reports the ones that age out', () => {
    const { dave, inbound, take } = create();
    inbound.receive(rtp(9, 1, [1, 0xfa, 0xfa], 0));
    expect(take()).toEqual([]);
    inbound.receive(rtp(9, 2, [2, 0xfa, 0xfa], 20));
    expect(take()).toEqual([]);
    inbound.map(9, '66');
    inbound.releaseHeld(9);
    const released = take();
    expect(released.map((o) => o.ok && Array.from(o.frame.payload))).toEqual([[1], [2]]);
    expect(released.every((o) => o.ok && o.frame.userId === '66')).toBe(true);
    inbound.releaseHeld(9);
    expect(take()).toEqual([]);

    inbound.receive(rtp(10, 1, [1], 0));
    expect(take()).toEqual([]);
    inbound.receive(rtp(10, 2, [2], 1_500));
    expect(take()).toEqual([
      { ok: false, failure: { userId: undefined, ssrc: 10, sequence: 1, reason: 'unknown-user' } },
    ]);
    expect(dave.stats.unknownSenderFrames).toBe(1);
  });

  it('without an endpoint frames pass unchanged, with or without a known user', () => {
    const { inbound, take } = collectingStage();
    const dave = new SessionDave({
      inbound,
      send: () => true,
      epoch: () => undefined,
      privacyCode: () => undefined,
      error: () => undefined,
      debug: () => undefined,
    });
    expect(dave.enabled).toBe(false);
    expect(dave.protocolVersion).toBe(0);
    const frame = Uint8Array.of(0xfc, 3);
    expect(dave.prepareFrame(frame)).toBe(frame);
    inbound.map(4, 'known');
    inbound.receive(rtp(4, 1, [0xfc, 4]));
    expect(take()).toMatchObject([
      { ok: true, frame: { userId: 'known', ssrc: 4, payload: Uint8Array.of(0xfc, 4) } },
    ]);
    inbound.receive(rtp(3, 1, [0xfc, 3])); // no op 5 yet: held for it
    expect(take()).toEqual([]);
    inbound.reset(); // the connection ended: it goes out unchanged, without a user
    expect(take()).toMatchObject([{ ok: true, frame: { userId: undefined, ssrc: 3 } }]);
  });

  it('holds replies while they cannot be sent and flushes them in order; a replaced endpoint is muted', () => {
    const { dave, sent, endpoint, setCanSend } = create();
    const old = endpoint();
    setCanSend(false);
    old.context.send({ op: VoiceOpcode.DaveTransitionReady, d: { transition_id: 1 } });
    old.context.send({ op: VoiceOpcode.DaveMlsKeyPackage, payload: Uint8Array.of(1) });
    expect(sent).toEqual([]);
    setCanSend(true);
    dave.flush();
    expect(sent.map((m) => m.op)).toEqual([23, 26]);

    dave.start((ctx) => new FakeEndpoint(ctx), '1', '2');
    expect(old.destroyed).toBe(true);
    old.context.send({ op: VoiceOpcode.DaveTransitionReady, d: { transition_id: 2 } });
    expect(sent).toHaveLength(2);
  });

  /** A SessionDave whose only observed hook is the send-key wake-up. */
  function daveCountingWakes(sendKeyReady: () => void): SessionDave {
    return new SessionDave({
      send: () => true,
      epoch: () => undefined,
      privacyCode: () => undefined,
      error: () => undefined,
      debug: () => undefined,
      sendKeyReady,
    });
  }

  it('tells a held sender once a processed message brought the send key, and only then', async () => {
    let wakes = 0;
    let endpoint: KeyedEndpoint | undefined;
    const dave = daveCountingWakes(() => wakes++);
    dave.start((ctx) => (endpoint = new KeyedEndpoint(ctx)), '1', '2');
    const e = endpoint!;
    e.noKey = true;
    expect(dave.holdFrames(0)).toBe(true);
    // A message that brings no key: no wake-up.
    dave.handle({ op: VoiceOpcode.DaveExecuteTransition, transitionId: 0 });
    e.keyOn = -1;
    e.finish();
    await e.settled();
    await Promise.resolve();
    expect(wakes).toBe(0);
    // The key appears while op 22 is processed: the wake-up comes once processing is done.
    e.keyOn = VoiceOpcode.DaveExecuteTransition;
    dave.handle({ op: VoiceOpcode.DaveExecuteTransition, transitionId: 1 });
    await Promise.resolve();
    expect(wakes).toBe(0);
    e.finish();
    await e.settled();
    await Promise.resolve();
    expect(wakes).toBe(1);
    expect(dave.holdFrames(1)).toBe(false);
  });

  it('sends no wake-up when nothing was held, or for an endpoint that was replaced', async () => {
    let wakes = 0;
    const made: KeyedEndpoint[] = [];
    const dave = daveCountingWakes(() => wakes++);
    const factory = (ctx: DaveEndpointContext): KeyedEndpoint => {
      const e = new KeyedEndpoint(ctx);
      e.noKey = true;
      made.push(e);
      return e;
    };
    dave.start(factory, '1', '2');
    // Nobody asked holdFrames(): the key arriving wakes no one.
    dave.handle({ op: VoiceOpcode.DaveExecuteTransition, transitionId: 1 });
    made[0]!.finish();
    await made[0]!.settled();
    await Promise.resolve();
    expect(wakes).toBe(0);
    // Held, but the endpoint is replaced before its key arrives.
    dave.start(factory, '1', '2');
    expect(dave.holdFrames(0)).toBe(true);
    const old = made[1]!;
    dave.handle({ op: VoiceOpcode.DaveExecuteTransition, transitionId: 1 });
    dave.start(factory, '1', '2');
    old.finish();
    await old.settled();
    await Promise.resolve();
    expect(wakes).toBe(0);
  });

  it('reports epoch changes, privacy code changes only when the code changes, and errors', () => {
    const { dave, log, endpoint } = create();
    const ctx = endpoint().context;
    ctx.notify({ type: 'epoch', epoch: 1n, protocolVersion: 1, privacyCode: '1'.repeat(30) });
    ctx.notify({ type: 'epoch', epoch: 1n, protocolVersion: 1, privacyCode: '1'.repeat(30) });
    ctx.notify({ type: 'error', error: new VoxcordError('DAVE_PROTOCOL_ERROR', 'bad') });
    expect(log).toEqual(['epoch 1 v1', `code ${'1'.repeat(30)}`, 'epoch 1 v1', 'error bad']);
    expect(dave.stats.errors).toBe(1);
  });
});

// ---- VoiceSession over a scripted gateway ----

const CREDS = { serverId: '41771983423143937', userId: '104694319306248192', sessionId: 's', token: 't' };
const CHANNEL = '127121515262115840';
const KEY = Array.from({ length: 32 }, (_, i) => i);

let server: ScriptedServer;
let sessions: VoiceSession[] = [];
beforeEach(async () => {
  server = await ScriptedServer.start();
});
afterEach(async () => {
  for (const s of sessions) s.destroy();
  sessions = [];
  await server.close();
});

interface Rig {
  session: VoiceSession;
  engine: FakeEngine;
  conn: ServerConnection;
  endpoints: FakeEndpoint[];
}

async function connect(daveVersion: number, extra: Partial<VoiceSessionOptions> = {}): Promise<Rig> {
  const engine = new FakeEngine();
  const endpoints: FakeEndpoint[] = [];
  const session = new VoiceSession({
    ...CREDS,
    channelId: CHANNEL,
    engine,
    tls: false,
    endpoint: server.endpoint,
    daveEndpoint: (ctx) => {
      const e = new FakeEndpoint(ctx);
      endpoints.push(e);
      return e;
    },
    ...extra,
  });
  sessions.push(session);
  session.connect();
  const conn = await server.connection(server.connections.length);
  conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
  await conn.waitFor(0);
  conn.send({
    op: 2,
    d: { ssrc: 1234, ip: '127.0.0.1', port: 50001, modes: ['aead_aes256_gcm_rtpsize'] },
    seq: 1,
  });
  await conn.waitFor(1);
  conn.send({
    op: 4,
    d: { mode: 'aead_aes256_gcm_rtpsize', secret_key: KEY, dave_protocol_version: daveVersion },
    seq: 2,
  });
  await entersState(session, 'ready', 5_000);
  return { session, engine, conn, endpoints };
}

describe('VoiceSession DAVE wiring', () => {
  it('offers DAVE 1 and feeds the endpoint op 4, presence and every DAVE opcode, decoded, in order', async () => {
    const r = await connect(1);
    const identify = r.conn.received.find((m) => m.op === 0);
    expect(
      identify &&
        'd' in identify &&
        (identify.d as { max_dave_protocol_version: number }).max_dave_protocol_version,
    ).toBe(1);
    const c = r.conn;
    c.send({ op: 11, d: { user_ids: ['7', '8'] }, seq: 3 });
    c.sendBinary(4, 25, Uint8Array.of(0xaa));
    c.send({ op: 21, d: { protocol_version: 0, transition_id: 5 }, seq: 5 });
    c.send({ op: 22, d: { transition_id: 5 }, seq: 6 });
    c.send({ op: 24, d: { protocol_version: 1, epoch: 1 }, seq: 7 });
    c.sendBinary(8, 27, Uint8Array.of(0, 1));
    c.sendBinary(9, 29, Uint8Array.of(0, 6, 0xbb));
    c.sendBinary(10, 30, Uint8Array.of(0, 6, 0xcc));
    c.send({ op: 13, d: { user_id: '8' }, seq: 11 });
    const e = r.endpoints[0]!;
    await until(() => e.inbound.length === 10);
    expect(e.inbound).toEqual([
      { op: 4, protocolVersion: 1 },
      { op: 11, userIds: ['7', '8'] },
      { op: 25, payload: Uint8Array.of(0xaa) },
      { op: 21, transitionId: 5, protocolVersion: 0 },
      { op: 22, transitionId: 5 },
      { op: 24, epoch: 1, protocolVersion: 1, transitionId: undefined },
      { op: 27, payload: Uint8Array.of(0, 1) },
      { op: 29, payload: Uint8Array.of(0, 6, 0xbb) },
      { op: 30, payload: Uint8Array.of(0, 6, 0xcc) },
      { op: 13, userId: '8' },
    ]);
    expect(e.context.userId).toBe(CREDS.userId);
    expect(e.context.channelId).toBe(CHANNEL);
  });

  it('sends the endpoint replies as binary 26/28 and JSON 23/31, holding them across a resume', async () => {
    const r = await connect(1);
    const e = r.endpoints[0]!;
    e.context.send({ op: VoiceOpcode.DaveMlsKeyPackage, payload: Uint8Array.of(1, 2, 3) });
    e.context.send({ op: VoiceOpcode.DaveTransitionReady, d: { transition_id: 4 } });
    await until(() => r.conn.ops().includes(23));
    const kp = r.conn.received.find((m) => m.op === 26);
    expect(kp && 'binary' in kp && [...kp.binary]).toEqual([1, 2, 3]);
    expect(r.conn.received.find((m) => m.op === 23)).toMatchObject({ d: { transition_id: 4 } });

    r.conn.ws.terminate();
    await entersState(r.session, 'resuming', 5_000);
    e.context.send({ op: VoiceOpcode.DaveMlsInvalidCommitWelcome, d: { transition_id: 9 } });
    e.context.send({ op: VoiceOpcode.DaveMlsCommitWelcome, payload: Uint8Array.of(9) });
    const second = await server.connection(1);
    second.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await second.waitFor(7);
    expect(second.ops()).toEqual([7]); // nothing before Resumed
    second.send({ op: 9, d: null });
    await until(() => second.ops().includes(28));
    expect(second.ops()).toEqual([7, 31, 28]);
    expect(r.endpoints).toHaveLength(1); // a resume keeps the DAVE state
  });

  it('encrypts frames before the channel, drops them without a key, and counts both', async () => {
    const r = await connect(1);
    const e = r.endpoints[0]!;
    // One frame per next() call, the key switched off for frame 2 only: a hand-written iterator
    // (an async generator would be read ahead of the pump, before the key changes).
    let n = 0;
    const source: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Uint8Array>> => {
          n += 1;
          e.noKey = n === 2;
          return n <= 3 ? { done: false, value: Uint8Array.of(0xfc, n) } : { done: true, value: undefined };
        },
      }),
    };
    await r.session.playOpus(source).finished;
    const channel = r.engine.channels[0]!;
    expect(channel.enqueued.map((f) => [...f])).toEqual([
      [0xfc, 1, 0xfa, 0xfa],
      [0xfc, 3, 0xfa, 0xfa],
    ]);
    expect(r.session.dave.stats).toMatchObject({ framesEncrypted: 2, framesDropped: 1 });
  });

  it('sends frames held for the send key as soon as the key exists, not at the next poll', async () => {
    const made: KeyedEndpoint[] = [];
    const r = await connect(1, {
      daveEndpoint: (ctx) => {
        const e = new KeyedEndpoint(ctx);
        e.noKey = true;
        made.push(e);
        return e;
      },
    });
    const e = made[0]!;
    e.finish(); // op 4 processed
    const channel = r.engine.channels[0]!;
    // The pump re-checks held frames every 20 ms by setTimeout: with that timer frozen, only the
    // wake-up can release the frames.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const t = r.session.playOpus(
        (async function* () {
          yield Uint8Array.of(0xfc, 1);
          yield Uint8Array.of(0xfc, 2);
        })(),
      );
      t.finished.catch(() => undefined);
      for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      expect(channel.enqueued).toEqual([]);
      r.conn.send({ op: 22, d: { transition_id: 1 }, seq: 3 });
      await turnsUntil(() => e.inbound.some((m) => m.op === 22));
      e.finish();
      await turnsUntil(() => channel.enqueued.length === 2);
      expect(channel.enqueued.map((f) => [...f])).toEqual([
        [0xfc, 1, 0xfa, 0xfa],
        [0xfc, 2, 0xfa, 0xfa],
      ]);
      expect(r.session.dave.stats).toMatchObject({ framesEncrypted: 2, framesDropped: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('emits decrypted audio frames per user, failures as events, and raw packets as before', async () => {
    const r = await connect(1);
    const frames: AudioFrame[] = [];
    const failures: DaveDecryptFailure[] = [];
    const raw: Uint8Array[] = [];
    r.session.on('audioFrame', (f) => frames.push(f));
    r.session.on('daveDecryptFailure', (f) => failures.push(f));
    r.session.on('rtp', (p) => raw.push(p.payload));
    const channel = r.engine.channels[0]!;
    // Before op 5: held (for up to 1 s after it arrived, on the session's clock).
    channel.emit('rtp', rtp(77, 1, [0xfc, 1, 0xfa, 0xfa], performance.now()));
    expect(frames).toEqual([]);
    r.conn.send({ op: 5, d: { user_id: '555', ssrc: 77, speaking: 1 }, seq: 3 });
    await until(() => frames.length === 1);
    channel.emit('rtp', rtp(77, 2, [0xfc, 2]));
    channel.emit('rtp', rtp(77, 3, [0xfc, 3, 0xfa, 0xfa]));
    expect(frames.map((f) => [f.userId, f.sequence, ...f.payload])).toEqual([
      ['555', 1, 0xfc, 1],
      ['555', 3, 0xfc, 3],
    ]);
    expect(failures).toEqual([{ userId: '555', ssrc: 77, sequence: 2, reason: 'auth-failed' }]);
    expect(r.session.dave.stats.decryptFailures).toEqual({ '555': { 'auth-failed': 1 } });
    expect(raw.map((p) => p.length)).toEqual([4, 2, 4]);
    expect(r.session.state.status).toBe('ready'); // a bad frame never tears anything down
  });

  it('re-emits endpoint notifications as session events and exposes the DAVE view', async () => {
    const r = await connect(1);
    const e = r.endpoints[0]!;
    const seen: string[] = [];
    r.session.on('daveEpoch', (i) => seen.push(`epoch ${String(i.epoch)}`));
    r.session.on('davePrivacyCode', (code) => seen.push(`code ${String(code)}`));
    r.session.on('daveError', (err) => seen.push(`error ${err.code}`));
    e.epoch = 3n;
    e.privacyCode = '2'.repeat(30);
    e.context.notify({ type: 'epoch', epoch: 3n, protocolVersion: 1, privacyCode: '2'.repeat(30) });
    e.context.notify({ type: 'error', error: new VoxcordError('DAVE_PROTOCOL_ERROR', 'x') });
    expect(seen).toEqual(['epoch 3', `code ${'2'.repeat(30)}`, 'error DAVE_PROTOCOL_ERROR']);
    expect(r.session.dave).toMatchObject({
      enabled: true,
      protocolVersion: 1,
      epoch: 3n,
      privacyCode: '2'.repeat(30),
    });
    await expect(r.session.dave.verificationCode('9')).resolves.toBe('code-for-9');
  });

  it('a fresh connect gets a new endpoint; destroy releases it', async () => {
    const r = await connect(1);
    const first = r.endpoints[0]!;
    r.session.destroy();
    expect(first.destroyed).toBe(true);
    expect(r.session.dave.enabled).toBe(false);
    await expect(r.session.dave.verificationCode('9')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('without DAVE offered: no endpoint, DAVE opcodes ignored, frames unchanged', async () => {
    const r = await connect(0, { maxDaveProtocolVersion: 0 });
    expect(r.endpoints).toEqual([]);
    const frames: AudioFrame[] = [];
    r.session.on('audioFrame', (f) => frames.push(f));
    r.engine.channels[0]!.emit('rtp', rtp(5, 1, [0xfc, 7], performance.now()));
    // Held until its op 5 names the sender (UDP can overtake the websocket), then unchanged.
    expect(frames).toEqual([]);
    r.conn.send({ op: 5, d: { user_id: '42', ssrc: 5, speaking: 1 } });
    await until(() => frames.length === 1);
    expect(frames.map((f) => [f.userId, ...f.payload])).toEqual([['42', 0xfc, 7]]);
    await r.session.playOpus(
      (async function* () {
        yield Uint8Array.of(0xfc, 8);
      })(),
    ).finished;
    expect(r.engine.channels[0]!.enqueued.map((f) => [...f])).toEqual([[0xfc, 8]]);
  });
});

describe('SessionDave with engine-side encryption (no sockets)', () => {
  /** An endpoint that hands its send key to the engine. */
  class KeyingEndpoint extends FakeEndpoint {
    key: DaveSendKey = DaveSendKey.none;
    sendKey(): DaveSendKey {
      return this.key;
    }
    setKey(key: DaveSendKey): void {
      this.key = key;
      this.context.notify({ type: 'sendKey' });
    }
  }

  function setup(): {
    dave: SessionDave;
    endpoint: () => KeyingEndpoint;
    channel: FakeChannel;
    protections: string[];
    drops: SendDropReason[];
  } {
    let endpoint: KeyingEndpoint | undefined;
    const drops: SendDropReason[] = [];
    const dave = new SessionDave({
      send: () => true,
      epoch: () => undefined,
      privacyCode: () => undefined,
      error: () => undefined,
      debug: () => undefined,
      sendDrop: (reason) => drops.push(reason),
    });
    dave.start((ctx) => (endpoint = new KeyingEndpoint(ctx)), '1', '2');
    const channel = new FakeChannel(
      { ssrc: 1, serverHost: '127.0.0.1', serverPort: 1 },
      [],
      Promise.resolve({ address: '127.0.0.1', port: 1 }),
    );
    const protections: string[] = [];
    const withProtection = channel as FakeChannel & { setFrameProtection(p: FrameProtection): void };
    withProtection.setFrameProtection = (p) =>
      protections.push(
        p.mode === 'drop' ? `drop ${p.reason}` : p.mode === 'encrypt' ? `encrypt ${p.key.mode}` : p.mode,
      );
    dave.bindChannel(channel);
    return { dave, endpoint: () => endpoint!, channel, protections, drops };
  }

  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds while the others' group forms, drops as 'alone' without anyone, encrypts once keyed", () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { dave, endpoint, protections } = setup();
    const frame = Uint8Array.of(0xfc, 1);
    // The queue is plain: the pump neither encrypts nor holds (the engine does).
    expect(dave.prepareFrame(frame)).toBe(frame);
    expect(dave.holdFrames()).toBe(false);
    expect(dave.queueIsPlain).toBe(true);
    dave.handle({ op: VoiceOpcode.SessionDescription, protocolVersion: 1 });
    expect(protections.at(-1)).toBe('hold'); // op 11 may still come
    vi.advanceTimersByTime(300);
    expect(protections.at(-1)).toBe('drop alone'); // it did not: nobody is in the call
    dave.othersInCall(true);
    expect(protections.at(-1)).toBe('hold'); // someone joined: the group forms
    endpoint().setKey(DaveSendKey.encrypt(new Uint8Array(16).fill(1)));
    expect(protections.at(-1)).toBe('encrypt encrypt');
    // A new epoch (op 22): a new key object goes to the engine.
    endpoint().setKey(DaveSendKey.encrypt(new Uint8Array(16).fill(2)));
    expect(protections.filter((p) => p === 'encrypt encrypt')).toHaveLength(2);
    // The others leave: sole-member reset, no key, nobody to hear.
    endpoint().setKey(DaveSendKey.none);
    dave.othersInCall(false);
    expect(protections.at(-1)).toBe('drop alone');
    endpoint().setKey(DaveSendKey.passthrough);
    expect(protections.at(-1)).toBe('plain');
  });

  it("gives up waiting for a key after DAVE_SEND_KEY_WAIT_MS: 'no-key'", () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { dave, protections } = setup();
    dave.handle({ op: VoiceOpcode.SessionDescription, protocolVersion: 1 });
    dave.othersInCall(true);
    expect(protections.at(-1)).toBe('hold');
    vi.advanceTimersByTime(DAVE_SEND_KEY_WAIT_MS - 10);
    expect(protections.at(-1)).toBe('hold');
    vi.advanceTimersByTime(20);
    expect(protections.at(-1)).toBe('drop no-key');
  });

  it('counts what the engine reports, and announces each run of drops once', () => {
    const { dave, channel, drops } = setup();
    const counts: SendCounts = {
      encrypted: 7,
      plain: 2,
      dropped: { alone: 3, 'no-key': 0, 'session-ended': 0, stopped: 0 },
      emptyTicks: 6,
    };
    (channel as FakeChannel & { sendCounts(): SendCounts }).sendCounts = () => counts;
    channel.emit('sendDrop', 'alone', 1);
    channel.emit('sendDrop', 'alone', 2);
    expect(drops).toEqual(['alone']);
    dave.countUnsent(4, 'carried');
    dave.countUnsent(5, 'session-ended');
    dave.countUnsent(2, 'stopped'); // the user's own stop(): counted, not announced
    expect(dave.sendStats).toEqual({
      framesSent: 9,
      framesDropped: { alone: 3, 'no-key': 0, 'session-ended': 5, stopped: 2 },
      framesCarried: 4,
      emptyTicks: 6,
    });
    expect(dave.stats).toMatchObject({ framesEncrypted: 7, framesUnencrypted: 2, framesDropped: 3 });
    expect(drops).toEqual(['alone', 'session-ended']);
    // The channel goes: its counts stay.
    dave.bindChannel(undefined);
    expect(dave.sendStats.framesSent).toBe(9);
  });
});
