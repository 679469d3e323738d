import { afterEach, beforeEach, describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { VoiceSession, chooseEncryptionMode } from '../../src/voice/session.js';
import { entersState } from '../../src/util/enters-state.js';
import type { VoiceSessionOptions } from '../../src/voice/session.js';
import type { VoiceSessionState } from '../../src/voice/session-state.js';
import { VoxcordError, isVoxcordError } from '../../src/errors.js';
import { FakeEngine, PushSource, ScriptedServer, sleep, until } from './fakes.js';
import type { ServerConnection } from './fakes.js';
import type { FrameProtection } from '../../src/media/media-engine.js';

const CREDS = {
  serverId: '41771983423143937',
  userId: '104694319306248192',
  sessionId: 'sess-SECRET-5f3a',
  token: 'tok-SECRET-9c1e',
};
const KEY = Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const AES = 'aead_aes256_gcm_rtpsize';
const XCHACHA = 'aead_xchacha20_poly1305_rtpsize';

interface Harness {
  session: VoiceSession;
  engine: FakeEngine;
  states: VoiceSessionState[];
  errors: VoxcordError[];
  debug: string[];
}

let server: ScriptedServer;
let harnesses: Harness[] = [];

beforeEach(async () => {
  server = await ScriptedServer.start();
});
afterEach(async () => {
  for (const h of harnesses) h.session.destroy();
  harnesses = [];
  await server.close();
});

function create(extra: Partial<VoiceSessionOptions> = {}): Harness {
  const engine = new FakeEngine();
  const session = new VoiceSession({
    ...CREDS,
    engine,
    tls: false,
    ...extra,
    endpoint: extra.endpoint ?? server.endpoint,
  });
  const h: Harness = { session, engine, states: [], errors: [], debug: [] };
  session.on('stateChange', (_old, next) => h.states.push(next));
  session.on('error', (e) => h.errors.push(e));
  session.on('debug', (message, details) => {
    h.debug.push(details === undefined ? message : `${message} ${JSON.stringify(details)}`);
    // Speaking goes on the wire synchronously with this event: log it next to channel calls.
    if (message === 'sent op 5') engine.log.push(`speaking:${(details as { speaking: number }).speaking}`);
  });
  harnesses.push(h);
  return h;
}

interface HandshakeOptions {
  connection?: number;
  interval?: number;
  modes?: string[];
  ssrc?: number;
}

/** Drives a full handshake from the server side; returns the connection and the client's frames. */
async function handshake(
  h: Harness,
  o: HandshakeOptions = {},
): Promise<{ conn: ServerConnection; identify: unknown; select: unknown }> {
  h.session.connect();
  const conn = await server.connection(o.connection ?? 0);
  conn.send({ op: 8, d: { v: 8, heartbeat_interval: o.interval ?? 60_000 } });
  const identify = await conn.waitFor(0);
  conn.send({
    op: 2,
    d: {
      ssrc: o.ssrc ?? 1234,
      ip: '127.0.0.1',
      port: 50001,
      modes: o.modes ?? [AES, XCHACHA],
      experiments: [],
    },
    seq: 1,
  });
  const select = await conn.waitFor(1);
  conn.send({
    op: 4,
    d: {
      mode: (select.d as { data: { mode: string } }).data.mode,
      secret_key: KEY,
      dave_protocol_version: 0,
    },
    seq: 2,
  });
  await entersState(h.session, 'ready', 5_000);
  return { conn, identify: identify.d, select: select.d };
}

function lastState(h: Harness): VoiceSessionState {
  return h.session.state;
}

describe('VoiceSession handshake', () => {
  it('identifies after Hello, selects the protocol with the discovered address, and becomes ready', async () => {
    const h = create({ channelId: '127121515262115840' });
    const { conn, identify, select } = await handshake(h);
    expect(conn.url).toBe('/?v=8');
    expect(conn.received[0]?.op).toBe(0); // nothing before Identify
    expect(identify).toEqual({
      server_id: CREDS.serverId,
      user_id: CREDS.userId,
      session_id: CREDS.sessionId,
      token: CREDS.token,
      max_dave_protocol_version: 1, // DAVE is offered by default when the channel is known
    });
    expect(h.engine.channels).toHaveLength(1);
    expect(h.engine.channels[0]!.options).toEqual({ ssrc: 1234, serverHost: '127.0.0.1', serverPort: 50001 });
    expect(select).toEqual({ protocol: 'udp', data: { address: '203.0.113.7', port: 40000, mode: AES } });
    expect(h.engine.channels[0]!.transport?.mode).toBe(AES);
    expect([...h.engine.channels[0]!.transport!.key]).toEqual(KEY);
    expect(h.states.map((s) => s.status)).toEqual(['signalling', 'connecting', 'ready']);
    expect(h.session.state).toEqual({ status: 'ready', ssrc: 1234, mode: AES, daveProtocolVersion: 0 });
    expect(h.session.ssrc).toBe(1234);
    expect(h.session.mode).toBe(AES);
    expect(h.errors).toEqual([]);
  });

  it('sends max_dave_protocol_version from the options', async () => {
    const h = create({ maxDaveProtocolVersion: 0, channelId: '127121515262115840' });
    const { identify } = await handshake(h);
    expect((identify as { max_dave_protocol_version: number }).max_dave_protocol_version).toBe(0);
    expect(h.session.dave.enabled).toBe(false);
  });

  it('offers no DAVE without a channel id, and refuses DAVE without one', async () => {
    const h = create();
    const { identify } = await handshake(h);
    expect((identify as { max_dave_protocol_version: number }).max_dave_protocol_version).toBe(0);
    expect(() => create({ maxDaveProtocolVersion: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
    );
  });

  it.each([
    [[XCHACHA, AES, 'xsalsa20_poly1305_lite_rtpsize'], AES],
    [['xsalsa20_poly1305_lite_rtpsize', XCHACHA, 'aead_aes256_gcm'], XCHACHA],
  ])('prefers modes by our order: offered %j -> %s', async (modes, expected) => {
    const h = create();
    const { select } = await handshake(h, { modes });
    expect((select as { data: { mode: string } }).data.mode).toBe(expected);
    expect(chooseEncryptionMode(modes)).toBe(expected);
  });

  it('Ready without a usable mode: NO_SUPPORTED_ENCRYPTION_MODE, disconnected final, socket closed', async () => {
    const h = create();
    h.session.connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send({
      op: 2,
      d: { ssrc: 1, ip: '127.0.0.1', port: 50001, modes: ['xsalsa20_poly1305', 'xsalsa20_poly1305_lite'] },
    });
    await entersState(h.session, 'disconnected', 5_000);
    const s = lastState(h);
    expect(s).toMatchObject({ status: 'disconnected', action: 'final', closeCode: undefined });
    expect(h.errors.map((e) => e.code)).toEqual(['NO_SUPPORTED_ENCRYPTION_MODE']);
    expect(h.engine.channels).toHaveLength(0);
    expect((await conn.closed).code).toBe(1000);
  });

  it('a confirmed mode we do not support or a short key ends the session', async () => {
    const h = create();
    h.session.connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send({ op: 2, d: { ssrc: 1, ip: '127.0.0.1', port: 50001, modes: [AES] } });
    await conn.waitFor(1);
    conn.send({ op: 4, d: { mode: AES, secret_key: [1, 2, 3], dave_protocol_version: 0 } });
    await entersState(h.session, 'disconnected', 5_000);
    expect(h.errors.map((e) => e.code)).toEqual(['GATEWAY_MALFORMED_FRAME']);
    expect(h.engine.channels[0]!.closed).toBe(true);
    expect(h.engine.channels[0]!.transport).toBeUndefined();
  });

  it('drops malformed JSON and binary frames, ignores unknown opcodes, and still completes', async () => {
    const h = create();
    h.session.connect();
    const conn = await server.connection(0);
    conn.send('{"op":8,');
    conn.send('[1,2,3]');
    conn.send({ op: 8, d: { heartbeat_interval: -5 } });
    conn.sendRawBinary(Uint8Array.of(7));
    conn.send({ op: 18, d: { user_id: '1', flags: 2 } });
    conn.send({ op: 20, d: { user_id: '1', platform: 0 } });
    conn.send({ op: 15, d: { any: 100 } });
    conn.send({ op: 77, d: null });
    conn.sendBinary(3, 99, Uint8Array.of(1));
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send({ op: 2, d: { ssrc: 'not a number', ip: '127.0.0.1', port: 1, modes: [AES] } });
    conn.send({ op: 2, d: { ssrc: 9, ip: '127.0.0.1', port: 50001, modes: [AES] } });
    const select = await conn.waitFor(1);
    conn.send({
      op: 4,
      d: {
        mode: (select.d as { data: { mode: string } }).data.mode,
        secret_key: KEY,
        dave_protocol_version: 0,
      },
    });
    await entersState(h.session, 'ready', 5_000);
    expect(h.debug.filter((m) => m.startsWith('malformed frame dropped'))).toHaveLength(5);
    expect(h.debug.some((m) => m.startsWith('malformed frame dropped (5 so far)'))).toBe(true);
    expect(h.debug.filter((m) => m.startsWith('ignored unknown op')).map((m) => m.split(' ')[3])).toEqual([
      '18',
      '20',
      '15',
      '77',
      '99',
    ]);
    expect(h.errors).toEqual([]);
    expect(h.session.ssrc).toBe(9);
  });

  it('a Hello-less server hits the handshake timeout: GATEWAY_HANDSHAKE_TIMEOUT, rejoin, socket closed', async () => {
    const h = create({ handshakeTimeoutMs: 150 });
    h.session.connect();
    const conn = await server.connection(0);
    await entersState(h.session, 'disconnected', 5_000);
    expect(lastState(h)).toMatchObject({ status: 'disconnected', action: 'rejoin' });
    expect(h.errors.map((e) => e.code)).toEqual(['GATEWAY_HANDSHAKE_TIMEOUT']);
    await conn.closed;
  });

  it('a missing Session Description hits the handshake timeout and closes the channel', async () => {
    const h = create({ handshakeTimeoutMs: 200 });
    h.session.connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send({ op: 2, d: { ssrc: 1, ip: '127.0.0.1', port: 50001, modes: [AES] } });
    await conn.waitFor(1);
    await entersState(h.session, 'disconnected', 5_000);
    expect(h.errors[0]?.code).toBe('GATEWAY_HANDSHAKE_TIMEOUT');
    expect(h.errors[0]?.details?.step).toBe('Session Description after Select Protocol');
    expect(h.engine.channels[0]!.closed).toBe(true);
  });

  it('a refused connection ends disconnected/rejoin with GATEWAY_CLOSED 1006', async () => {
    const port = Number(server.endpoint.split(':')[1]);
    await server.close();
    const h = create({ endpoint: `127.0.0.1:${port}` });
    h.session.connect();
    await entersState(h.session, 'disconnected', 5_000);
    expect(lastState(h)).toMatchObject({ status: 'disconnected', action: 'rejoin', closeCode: 1006 });
    expect(h.errors.map((e) => e.code)).toEqual(['GATEWAY_CLOSED']);
    server = await ScriptedServer.start();
  });

  it('IP discovery failure: IP_DISCOVERY_FAILED, rejoin, channel closed', async () => {
    const h = create();
    h.engine.discovery = () => Promise.reject(new VoxcordError('IP_DISCOVERY_FAILED', 'no answer'));
    h.session.connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send({ op: 2, d: { ssrc: 1, ip: '127.0.0.1', port: 50001, modes: [AES] } });
    await entersState(h.session, 'disconnected', 5_000);
    expect(lastState(h)).toMatchObject({ action: 'rejoin' });
    expect(h.errors.map((e) => e.code)).toEqual(['IP_DISCOVERY_FAILED']);
    expect(h.engine.channels[0]!.closed).toBe(true);
  });

  it('openChannel failing is a typed error, not an unhandled rejection', async () => {
    const h = create();
    h.engine.open = () => Promise.reject(new Error('no sockets left'));
    h.session.connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send({ op: 2, d: { ssrc: 1, ip: '127.0.0.1', port: 50001, modes: [AES] } });
    await entersState(h.session, 'disconnected', 5_000);
    expect(h.errors.map((e) => e.code)).toEqual(['UDP_ERROR']);
  });
});

describe('VoiceSession: server closing during each handshake step', () => {
  const steps = ['before Hello', 'after Identify', 'during IP discovery', 'after Select Protocol'] as const;
  for (const step of steps) {
    for (const [code, action] of [
      [1006, 'rejoin'],
      [4004, 'rejoin'],
      [4014, 'final'],
    ] as const) {
      it(`${step}, close ${code} -> disconnected ${action}`, async () => {
        const h = create();
        let releaseDiscovery: () => void = () => undefined;
        h.engine.discovery = () =>
          step === 'during IP discovery'
            ? new Promise(
                (resolve) => (releaseDiscovery = () => resolve({ address: '203.0.113.7', port: 40000 })),
              )
            : Promise.resolve({ address: '203.0.113.7', port: 40000 });
        h.session.connect();
        const conn = await server.connection(0);
        if (step !== 'before Hello') {
          conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
          await conn.waitFor(0);
        }
        if (step === 'during IP discovery' || step === 'after Select Protocol') {
          conn.send({ op: 2, d: { ssrc: 1, ip: '127.0.0.1', port: 50001, modes: [AES] } });
          if (step === 'during IP discovery') await until(() => h.engine.channels.length === 1);
          else await conn.waitFor(1);
        }
        if (code === 1006) conn.ws.terminate();
        else conn.ws.close(code, 'bye');
        await entersState(h.session, 'disconnected', 5_000);
        expect(lastState(h)).toMatchObject({ status: 'disconnected', action, closeCode: code });
        expect(h.errors.map((e) => e.code)).toEqual(['GATEWAY_CLOSED']);
        expect(h.errors[0]?.details?.closeCode).toBe(code);
        // A late discovery result must not revive anything.
        releaseDiscovery();
        await sleep(10);
        expect(h.session.state.status).toBe('disconnected');
        for (const ch of h.engine.channels) expect(ch.closed).toBe(true);
        expect(server.connections).toHaveLength(1);
      });
    }
  }
});

describe('VoiceSession close codes while ready', () => {
  it.each([
    [4001, 'final'],
    [4003, 'final'],
    [4004, 'rejoin'],
    [4006, 'rejoin'],
    [4009, 'rejoin'],
    [4011, 'rejoin'],
    [4012, 'final'],
    [4014, 'final'],
    [4016, 'final'],
    [4017, 'final'],
    [4020, 'final'],
    [4021, 'final'],
    [4022, 'final'],
  ])('close %i -> disconnected with action %s, everything released', async (code, action) => {
    const h = create();
    const { conn } = await handshake(h);
    conn.ws.close(code, 'server says');
    await entersState(h.session, 'disconnected', 5_000);
    expect(lastState(h)).toMatchObject({ status: 'disconnected', closeCode: code, action });
    expect((lastState(h) as { reason: string }).reason).toContain(String(code));
    expect(h.engine.channels[0]!.closed).toBe(true);
    expect(h.session.ssrc).toBeUndefined();
    await sleep(20);
    expect(server.connections).toHaveLength(1); // no reconnect of its own
  });

  it.each([1001, 1006, 4015])('close %i -> resuming', async (code) => {
    const h = create();
    const { conn } = await handshake(h);
    if (code === 1006) conn.ws.terminate();
    else conn.ws.close(code);
    await entersState(h.session, 'resuming', 5_000);
    expect(lastState(h)).toMatchObject({ status: 'resuming', closeCode: code, ssrc: 1234 });
    const second = await server.connection(1);
    expect(second.url).toBe('/?v=8');
  });
});

describe('VoiceSession heartbeats', () => {
  it('beats every interval with seq_ack from JSON and binary frames, and reports ping', async () => {
    const h = create();
    const pings: number[] = [];
    h.session.on('ping', (ms) => pings.push(ms));
    h.session.connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 40 } });
    await conn.waitFor(0);
    const first = await conn.waitFor(3);
    expect(first.d).toEqual({ t: expect.any(Number) as number, seq_ack: -1 });
    expect(Number.isInteger((first.d as { t: number }).t)).toBe(true);
    conn.send({ op: 11, d: { user_ids: ['111'] }, seq: 17 });
    await until(() => h.session.connectedUsers.has('111'));
    const second = await conn.waitFor(3, 5_000, first.index + 1);
    expect((second.d as { seq_ack: number }).seq_ack).toBe(17);
    conn.sendBinary(42, 25, Uint8Array.of(0, 1, 2));
    await until(() => h.debug.some((m) => m === 'ignored op 25 (DAVE not offered)'));
    const third = await conn.waitFor(3, 5_000, second.index + 1);
    expect((third.d as { seq_ack: number }).seq_ack).toBe(42);
    await until(() => pings.length >= 1);
    expect(h.session.ping).toBeGreaterThanOrEqual(0);
  });

  it('three missed ACKs close the socket and resume', async () => {
    const h = create();
    const { conn } = await handshake(h, { interval: 25 });
    conn.autoAck = false;
    const before = conn.received.filter((m) => m.op === 3).length;
    await entersState(h.session, 'resuming', 5_000);
    expect(conn.received.filter((m) => m.op === 3).length - before).toBeGreaterThanOrEqual(3);
    await conn.closed;
    const second = await server.connection(1);
    second.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    const resume = await second.waitFor(7);
    expect(resume.d).toEqual({
      server_id: CREDS.serverId,
      session_id: CREDS.sessionId,
      token: CREDS.token,
      seq_ack: 2,
    });
    expect(h.engine.channels[0]!.closed).toBe(false);
  });
});

describe('VoiceSession resume', () => {
  it('resumes with op 7 after a drop, processes replayed messages, keeps the channel, re-sends Speaking', async () => {
    const h = create();
    const { conn } = await handshake(h, { interval: 60_000 });
    const channel = h.engine.channels[0]!;
    const source = new PushSource();
    const t = h.session.playOpus(source);
    source.push(Uint8Array.of(0xfc, 1));
    await until(() => channel.enqueued.length === 1);
    expect(h.engine.log.filter((e) => e !== 'close')).toEqual(['speaking:1', 'enqueue']);
    const speaking1 = await conn.waitFor(5);
    expect(speaking1.d).toEqual({ speaking: 1, delay: 0, ssrc: 1234 });

    conn.send({ op: 5, d: { user_id: '555', ssrc: 77, speaking: 1 }, seq: 3 });
    await until(() => h.session.users.get(77) === '555');
    conn.ws.terminate();
    await entersState(h.session, 'resuming', 5_000);

    const second = await server.connection(1);
    second.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    const resume = await second.waitFor(7);
    expect(resume.d).toEqual({
      server_id: CREDS.serverId,
      session_id: CREDS.sessionId,
      token: CREDS.token,
      seq_ack: 3,
    });
    expect(second.received.map((m) => m.op)).toEqual([7]); // no Identify on resume
    const speakingEvents: unknown[] = [];
    h.session.on('speaking', (s) => speakingEvents.push(s));
    second.send({ op: 9, d: null });
    second.send({ op: 11, d: { user_ids: ['666'] }, seq: 4 });
    second.send({ op: 5, d: { user_id: '666', ssrc: 88, speaking: 1 }, seq: 5 });
    await entersState(h.session, 'ready', 5_000);
    await until(() => h.session.users.get(88) === '666');
    expect(speakingEvents).toEqual([{ userId: '666', ssrc: 88, speaking: 1 }]);
    expect(h.session.connectedUsers.has('666')).toBe(true);
    expect(h.states.map((s) => s.status)).toEqual(['signalling', 'connecting', 'ready', 'resuming', 'ready']);
    expect(h.engine.channels).toHaveLength(1);
    expect(channel.closed).toBe(false);

    source.push(Uint8Array.of(0xfc, 2));
    await until(() => channel.enqueued.length === 2);
    expect(h.engine.log).toEqual(['speaking:1', 'enqueue', 'speaking:1', 'enqueue']);
    const speaking2 = await second.waitFor(5);
    expect(speaking2.d).toEqual({ speaking: 1, delay: 0, ssrc: 1234 });
    source.end();
    await t.finished;
    expect(h.engine.log.slice(-3)).toEqual(['endBurst', 'burstEnd', 'speaking:0']);
    await until(() => second.received.filter((m) => m.op === 5).length === 2);
    expect(
      second.received.filter((m) => m.op === 5).map((m) => (m as { d: { speaking: number } }).d.speaking),
    ).toEqual([1, 0]);

    // seq_ack on the new socket continues from the replayed messages.
    h.session.destroy();
    await second.closed;
  });

  it.each([
    [4006, 'rejoin'],
    [1006, 'rejoin'],
    [4014, 'final'],
  ])('resume refused with %i -> disconnected %s, channel released', async (code, action) => {
    const h = create();
    const { conn } = await handshake(h);
    conn.ws.terminate();
    const second = await server.connection(1);
    second.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await second.waitFor(7);
    if (code === 1006) second.ws.terminate();
    else second.ws.close(code);
    await entersState(h.session, 'disconnected', 5_000);
    expect(lastState(h)).toMatchObject({ status: 'disconnected', action, closeCode: code });
    expect(h.engine.channels[0]!.closed).toBe(true);
    await sleep(20);
    expect(server.connections).toHaveLength(2);
  });

  it('a resume that gets no op 9 times out into rejoin', async () => {
    const h = create({ handshakeTimeoutMs: 200 });
    const { conn } = await handshake(h);
    conn.ws.terminate();
    const second = await server.connection(1);
    second.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await second.waitFor(7);
    await entersState(h.session, 'disconnected', 5_000);
    expect(lastState(h)).toMatchObject({ action: 'rejoin' });
    expect(h.errors.map((e) => e.code)).toEqual(['GATEWAY_HANDSHAKE_TIMEOUT']);
  });
});

describe('VoiceSession users and media', () => {
  it('maps SSRCs from op 5, tracks op 11/13, and labels received RTP', async () => {
    const h = create();
    const { conn } = await handshake(h);
    const connects: string[][] = [];
    const disconnects: string[] = [];
    h.session.on('clientConnect', (ids) => connects.push(ids));
    h.session.on('clientDisconnect', (id) => disconnects.push(id));
    conn.send({ op: 11, d: { user_ids: ['10', '20'] }, seq: 3 });
    conn.send({ op: 5, d: { user_id: '10', ssrc: 100, speaking: 1 }, seq: 4 });
    conn.send({ op: 5, d: { user_id: '20', ssrc: 200, speaking: 0 }, seq: 5 });
    await until(() => h.session.users.size === 2);
    const rtp: unknown[] = [];
    h.session.on('rtp', (p) => rtp.push(p));
    const channel = h.engine.channels[0]!;
    const payload = Uint8Array.of(1, 2, 3);
    channel.emit('rtp', { ssrc: 100, sequence: 1, timestamp: 960, payload, receivedAt: 5 });
    channel.emit('rtp', { ssrc: 999, sequence: 1, timestamp: 960, payload, receivedAt: 6 });
    expect(rtp).toEqual([
      { ssrc: 100, sequence: 1, timestamp: 960, payload, receivedAt: 5, userId: '10' },
      { ssrc: 999, sequence: 1, timestamp: 960, payload, receivedAt: 6 },
    ]);
    conn.send({ op: 13, d: { user_id: '10' }, seq: 6 });
    await until(() => disconnects.length === 1);
    expect(connects).toEqual([['10', '20']]);
    expect(disconnects).toEqual(['10']);
    expect([...h.session.users]).toEqual([[200, '20']]);
    expect([...h.session.connectedUsers]).toEqual(['20']);
  });

  it('packets of an SSRC without op 5 come out, counted, after 1 s even when no other packet follows', async () => {
    const h = create();
    await handshake(h);
    const frames: { userId: string | undefined; sequence: number }[] = [];
    h.session.on('audioFrame', (f) => frames.push({ userId: f.userId, sequence: f.sequence }));
    const channel = h.engine.channels[0]!;
    const sentAt = performance.now();
    for (let sequence = 1; sequence <= 3; sequence++)
      channel.emit('rtp', {
        ssrc: 999,
        sequence,
        timestamp: sequence * 960,
        payload: Uint8Array.of(0xfc, 1),
        receivedAt: sentAt,
      });
    expect(frames).toEqual([]); // held: op 5 may be on its way
    await until(() => frames.length === 3, 3_000);
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(1_000);
    expect(frames.map((f) => f.userId)).toEqual([undefined, undefined, undefined]);
    expect(frames.map((f) => f.sequence)).toEqual([1, 2, 3]);
    expect(h.session.dave.stats.unknownSenderFrames).toBe(3);
  });

  it('a UDP channel error ends the session with rejoin', async () => {
    const h = create();
    await handshake(h);
    h.engine.channels[0]!.emit('error', new VoxcordError('UDP_ERROR', 'socket died'));
    expect(lastState(h)).toMatchObject({ status: 'disconnected', action: 'rejoin' });
    expect(h.errors.map((e) => e.code)).toEqual(['UDP_ERROR']);
  });

  it('audio played before ready waits, then Speaking precedes the first frame', async () => {
    const h = create();
    const source = new PushSource();
    source.push(Uint8Array.of(0xfc, 1));
    source.end();
    const t = h.session.playOpus(source);
    await handshake(h);
    await t.finished;
    expect(h.engine.log).toEqual(['speaking:1', 'enqueue', 'endBurst', 'burstEnd', 'speaking:0']);
    expect(t.framesSent).toBe(1);
  });

  it('playPcm re-frames PCM of any chunk size into 20 ms frames for the encoder', async () => {
    const h = create();
    await handshake(h);
    const inputs: number[] = [];
    let closed = false;
    const encoder = {
      encode: (pcm: Uint8Array): Uint8Array => {
        inputs.push(pcm.byteLength);
        return Uint8Array.of(0xfc, inputs.length);
      },
      close: () => {
        closed = true;
      },
    };
    const pcm = new Uint8Array(3840 * 2);
    const chunks = [pcm.subarray(0, 1000), pcm.subarray(1000, 5000), pcm.subarray(5000)];
    const t = h.session.playPcm(Readable.from(chunks), encoder);
    await t.finished;
    expect(inputs).toEqual([3840, 3840]);
    expect(h.engine.channels[0]!.enqueued).toEqual([Uint8Array.of(0xfc, 1), Uint8Array.of(0xfc, 2)]);
    expect(h.engine.log.slice(0, 3)).toEqual(['speaking:1', 'enqueue', 'enqueue']);
    expect(closed).toBe(false); // a caller's encoder stays open
  });

  it('a second play stops the first and starts after it ended', async () => {
    const h = create();
    await handshake(h);
    const first = new PushSource();
    const a = h.session.playOpus(first);
    first.push(Uint8Array.of(0xfc, 1));
    await until(() => h.engine.channels[0]!.enqueued.length === 1);
    const second = new PushSource();
    second.push(Uint8Array.of(0xfc, 2));
    second.end();
    const b = h.session.playOpus(second);
    await Promise.all([a.finished, b.finished]);
    expect(h.engine.log).toEqual([
      'speaking:1',
      'enqueue',
      'clearQueue',
      'endBurst',
      'burstEnd',
      'speaking:0',
      'speaking:1',
      'enqueue',
      'endBurst',
      'burstEnd',
      'speaking:0',
    ]);
  });
});

describe('VoiceSession lifecycle', () => {
  it('destroy releases the websocket, the channel and every timer', async () => {
    const baseline = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const h = create();
    const { conn } = await handshake(h, { interval: 20 });
    await conn.waitFor(3);
    const source = new PushSource();
    const t = h.session.playOpus(source);
    source.push(Uint8Array.of(0xfc, 1));
    await until(() => h.engine.channels[0]!.enqueued.length === 1);
    h.session.destroy();
    expect(h.session.state).toEqual({ status: 'destroyed' });
    expect(h.engine.channels[0]!.closed).toBe(true);
    expect(h.engine.closed).toBe(false); // the engine belongs to the caller
    expect((await conn.closed).code).toBe(1000);
    const err: unknown = await t.finished.catch((e: unknown) => e);
    expect(isVoxcordError(err, 'DESTROYED')).toBe(true);
    const beats = conn.received.filter((m) => m.op === 3).length;
    await sleep(80);
    expect(conn.received.filter((m) => m.op === 3).length).toBe(beats);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(
      baseline,
    );
    expect(() => h.session.connect()).toThrow(VoxcordError);
    expect(() => h.session.playOpus(new PushSource())).toThrow(VoxcordError);
  });

  it('destroy during IP discovery closes the channel that finishes opening late', async () => {
    const h = create();
    let finishOpen: () => void = () => undefined;
    h.engine.open = (channel) => new Promise((resolve) => (finishOpen = () => resolve(channel)));
    h.session.connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send({ op: 2, d: { ssrc: 1, ip: '127.0.0.1', port: 50001, modes: [AES] } });
    await until(() => h.engine.channels.length === 1);
    h.session.destroy();
    finishOpen();
    await until(() => h.engine.channels[0]!.closed);
    await conn.closed;
    expect(conn.received.some((m) => m.op === 1)).toBe(false);
  });

  it('connect() again starts a fresh session with Identify and a new channel', async () => {
    const h = create();
    const { conn } = await handshake(h);
    conn.ws.close(4006);
    await entersState(h.session, 'disconnected', 5_000);
    const again = await handshake(h, { connection: 1, ssrc: 4321 });
    expect(again.identify).toMatchObject({ token: CREDS.token });
    expect(h.engine.channels).toHaveLength(2);
    expect(h.engine.channels[0]!.closed).toBe(true);
    expect(h.session.ssrc).toBe(4321);
  });

  it('entersState resolves, times out with STATE_TIMEOUT, and rejects on destroy', async () => {
    const h = create();
    await expect(entersState(h.session, 'idle', 10)).resolves.toBe(h.session);
    const timeout: unknown = await entersState(h.session, 'ready', 30).catch((e: unknown) => e);
    expect(isVoxcordError(timeout, 'STATE_TIMEOUT')).toBe(true);
    const pending = entersState(h.session, 'ready', 5_000);
    h.session.destroy();
    const destroyed: unknown = await pending.catch((e: unknown) => e);
    expect(isVoxcordError(destroyed, 'DESTROYED')).toBe(true);
  });

  it('never puts the token, session id or transport key in debug output or errors', async () => {
    const h = create();
    const { conn } = await handshake(h, { interval: 20 });
    conn.ws.terminate();
    const second = await server.connection(1);
    second.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await second.waitFor(7);
    second.ws.close(4006);
    await entersState(h.session, 'disconnected', 5_000);
    const text = [...h.debug, ...h.errors.map((e) => `${e.message} ${JSON.stringify(e.details)}`)].join('\n');
    expect(h.debug.some((m) => m.startsWith('sent op 0'))).toBe(true);
    expect(h.debug.some((m) => m.startsWith('sent op 7'))).toBe(true);
    expect(text).not.toContain(CREDS.token);
    expect(text).not.toContain(CREDS.sessionId);
    expect(text).not.toContain(KEY.slice(0, 6).join(','));
  });

  it('without an error listener a failure does not throw', async () => {
    const engine = new FakeEngine();
    const session = new VoiceSession({
      endpoint: server.endpoint,
      ...CREDS,
      engine,
      tls: false,
      handshakeTimeoutMs: 50,
    });
    harnesses.push({ session, engine, states: [], errors: [], debug: [] });
    session.connect();
    await entersState(session, 'disconnected', 5_000);
    expect(session.state).toMatchObject({ error: { code: 'GATEWAY_HANDSHAKE_TIMEOUT' } });
  });

  it('rejects missing credentials with INVALID_ARGUMENT', () => {
    expect(() => new VoiceSession({ endpoint: '', ...CREDS, engine: new FakeEngine() })).toThrow(
      VoxcordError,
    );
    expect(() => new VoiceSession({ endpoint: 'x', ...CREDS, token: '', engine: new FakeEngine() })).toThrow(
      VoxcordError,
    );
  });
});

describe('VoiceSession speaking gate (no media before the server has our op 5)', () => {
  /** Records the frame protection the session asks the channel for (hold / plain). */
  function recordProtection(h: Harness): string[] {
    const modes: string[] = [];
    h.engine.open = (channel) => {
      channel.setFrameProtection = (p: FrameProtection) => void modes.push(p.mode);
      return Promise.resolve(channel);
    };
    return modes;
  }

  it('holds the queue from the first op 5 until the ACK of the heartbeat sent right after it', async () => {
    const h = create();
    const modes = recordProtection(h);
    const { conn } = await handshake(h, { interval: 60_000 });
    conn.autoAck = false;
    expect(modes).toEqual(['hold']);
    const source = new PushSource();
    const t = h.session.playOpus(source);
    source.push(Uint8Array.of(0xfc, 1));
    const speaking = await conn.waitFor(5);
    const probe = await conn.waitFor(3, 5_000, speaking.index);
    expect(probe.index).toBe(speaking.index + 1);
    await sleep(50);
    expect(modes).toEqual(['hold']); // no ACK yet: the frame waits in the engine
    conn.send({ op: 6, d: { t: (probe.d as { t: number }).t } });
    await until(() => modes.length === 2);
    expect(modes).toEqual(['hold', 'plain']);

    // Confirmed on this websocket: the next burst's op 5 goes without a probe or a hold.
    source.end();
    await t.finished;
    const next = new PushSource();
    const t2 = h.session.playOpus(next);
    next.push(Uint8Array.of(0xfc, 2));
    next.end();
    await t2.finished;
    expect(conn.ops().filter((op) => op === 5)).toHaveLength(3); // 1, 0, 1 (and 0 again after)
    await sleep(20);
    expect(conn.ops().filter((op) => op === 3)).toHaveLength(1);
    expect(modes).toEqual(['hold', 'plain']);
  });

  it('holds while resuming, re-sends op 5 on op 9 mid-burst and lets the queue go after its ACK', async () => {
    const h = create();
    const modes = recordProtection(h);
    const { conn } = await handshake(h, { interval: 60_000 });
    const source = new PushSource();
    const t = h.session.playOpus(source);
    source.push(Uint8Array.of(0xfc, 1));
    await until(() => modes.length === 2); // auto-ACKed probe: plain
    conn.ws.terminate();
    await entersState(h.session, 'resuming', 5_000);
    expect(modes).toEqual(['hold', 'plain', 'hold']);

    const second = await server.connection(1);
    second.autoAck = false;
    second.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await second.waitFor(7);
    second.send({ op: 9, d: null });
    // No new frame from the source: the session itself sends op 5 for the frames it holds.
    const speaking = await second.waitFor(5);
    expect(speaking.d).toEqual({ speaking: 1, delay: 0, ssrc: 1234 });
    const probe = await second.waitFor(3, 5_000, speaking.index);
    await sleep(50);
    expect(modes).toEqual(['hold', 'plain', 'hold']);
    second.send({ op: 6, d: { t: (probe.d as { t: number }).t } });
    await until(() => modes.length === 4);
    expect(modes[3]).toBe('plain');
    source.push(Uint8Array.of(0xfc, 2));
    source.end();
    await t.finished;
    const stopped = await second.waitFor(5, 5_000, speaking.index + 1);
    expect(stopped.d).toEqual({ speaking: 0, delay: 0, ssrc: 1234 }); // not 1 again for frame 2
    expect(second.ops().filter((op) => op === 5)).toHaveLength(2);
  });
});
