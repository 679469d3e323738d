/** The client against a voice server that does not play fair: absurd heartbeat intervals, huge frames, map growth. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VoiceSession } from '../../src/voice/session.js';
import { clampHeartbeatInterval } from '../../src/voice/heartbeat.js';
import {
  CLIENT_MAX_TRACKED_USERS,
  HEARTBEAT_INTERVAL_MAX_MS,
  HEARTBEAT_INTERVAL_MIN_MS,
} from '../../src/protocol/constants.js';
import { FakeEngine, ScriptedServer, sleep, until } from './fakes.js';
import { isVoxcordError } from '../../src/errors.js';
import { VoiceReceiver } from '../../src/receive/receiver.js';
import type { ReceivedRtp } from '../../src/media/media-engine.js';
import { inboundFeed } from '../receive/helpers.js';

const CREDS = { serverId: '41771983423143937', userId: '104694319306248192', sessionId: 's', token: 't' };

let server: ScriptedServer;
const sessions: VoiceSession[] = [];
beforeEach(async () => {
  server = await ScriptedServer.start();
});
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await server.close();
});

function connect(): VoiceSession {
  const session = new VoiceSession({
    ...CREDS,
    engine: new FakeEngine(),
    tls: false,
    endpoint: server.endpoint,
  });
  session.on('error', () => undefined);
  sessions.push(session);
  session.connect();
  return session;
}

function heartbeats(conn: { ops(): number[] }): number {
  return conn.ops().filter((op) => op === 3).length;
}

describe('Hello heartbeat_interval', () => {
  it('is clamped to a sane range', () => {
    expect(clampHeartbeatInterval(41_250)).toBe(41_250);
    expect(clampHeartbeatInterval(0.001)).toBe(HEARTBEAT_INTERVAL_MIN_MS);
    expect(clampHeartbeatInterval(2 ** 31)).toBe(HEARTBEAT_INTERVAL_MAX_MS);
    expect(clampHeartbeatInterval(Number.MAX_VALUE)).toBe(HEARTBEAT_INTERVAL_MAX_MS);
  });

  it('2^31 ms does not overflow into 1 ms heartbeats', async () => {
    connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 2 ** 31 } });
    await conn.waitFor(0);
    await sleep(300);
    // Before the clamp setInterval overflowed to 1 ms: hundreds of beats here.
    expect(heartbeats(conn)).toBe(0);
  });

  it('0.001 ms heartbeats no faster than the floor', async () => {
    connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 0.001 } });
    await conn.waitFor(0);
    await sleep(300);
    // 300 ms / 20 ms = 15 at most (a loaded machine only sends fewer); unclamped it was ~300.
    expect(heartbeats(conn)).toBeLessThanOrEqual(300 / HEARTBEAT_INTERVAL_MIN_MS + 1);
  });
});

describe('voice socket payload bound', () => {
  it('closes the socket (1009) on a 2 MB frame instead of buffering it', async () => {
    const session = connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    conn.send(`{"op":11,"d":{"user_ids":["1"],"pad":"${'x'.repeat(2 << 20)}"}}`);
    expect((await conn.closed).code).toBe(1009);
    expect(session.connectedUsers.size).toBe(0);
  });
});

describe('maps a server can grow', () => {
  it('one SSRC per user (op 5 with a new SSRC replaces the old), and at most CLIENT_MAX_TRACKED_USERS users', async () => {
    const session = connect();
    const conn = await server.connection(0);
    conn.send({ op: 8, d: { heartbeat_interval: 60_000 } });
    await conn.waitFor(0);
    for (let ssrc = 1; ssrc <= 50; ssrc++) conn.send({ op: 5, d: { user_id: '7', ssrc, speaking: 1 } });
    await until(() => session.users.get(50) === '7');
    expect([...session.users.keys()]).toEqual([50]);
    const ids = Array.from({ length: CLIENT_MAX_TRACKED_USERS + 10 }, (_, i) => String(1000 + i));
    conn.send({ op: 11, d: { user_ids: ids } });
    await until(() => session.connectedUsers.has(ids.at(-1)!));
    expect(session.connectedUsers.size).toBe(CLIENT_MAX_TRACKED_USERS);
  });
});

describe('inbound SSRC map (in front of the receiver)', () => {
  it('keeps the newest CLIENT_MAX_TRACKED_USERS SSRC mappings', () => {
    const r = new VoiceReceiver();
    const feed = inboundFeed(r);
    const n = CLIENT_MAX_TRACKED_USERS + 5;
    for (let i = 1; i <= n; i++) feed.speaking({ userId: String(i), ssrc: i, speaking: 0 });
    const packet = (ssrc: number): ReceivedRtp => ({
      ssrc,
      sequence: 1,
      timestamp: 960,
      payload: Uint8Array.of(0xfc, 1),
      receivedAt: 1,
    });
    feed.packet(packet(1)); // forgotten: held for an op 5 that will not come
    feed.packet(packet(n)); // kept
    feed.stage.reset(); // the connection ended: what was held is given up, and counted
    expect(r.totals()).toMatchObject({ unknownSsrc: 1, users: 1 });
    r.close();
  });
});

describe('snowflakes', () => {
  it('a VoiceSession refuses numeric or non-digit user and server ids with INVALID_ARGUMENT', () => {
    for (const bad of [1e308, 42, '1e+308', 'abc', '']) {
      for (const key of ['userId', 'serverId'] as const) {
        let error: unknown;
        try {
          new VoiceSession({ ...CREDS, [key]: bad as string, endpoint: 'x', engine: new FakeEngine() });
        } catch (e) {
          error = e;
        }
        expect(isVoxcordError(error, 'INVALID_ARGUMENT'), `${key} ${String(bad)}`).toBe(true);
      }
    }
  });
});
