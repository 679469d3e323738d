import { afterEach, describe, expect, it } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer, VoiceServerOptions } from '../../src/server/index.js';
import { buildIpDiscoveryRequest } from '../../src/media/ip-discovery.js';
import {
  CHANNEL,
  Cleanup,
  GUILD,
  RawUdpClient,
  RawWsClient,
  identifyPayload,
  join,
  keyFor,
  speak,
  until,
} from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(options: VoiceServerOptions = {}): Promise<VoiceServer> {
  const server = await startVoiceServer({ ssrcStart: 1000, seed: 1, keyFor, ...options });
  cleanup.add(() => server.stop());
  return server;
}

async function connect(server: VoiceServer): Promise<RawWsClient> {
  const ws = await RawWsClient.connect(server.wsUrl);
  cleanup.add(() => ws.terminate());
  return ws;
}

describe('voice gateway handshake', () => {
  it('sends Hello, Ready, Session Description and ACKs with the exact bytes', async () => {
    const server = await start();
    const a = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '42' });
    expect(a.endpoint).toBe(server.endpoint);
    expect(a.serverId).toBe(GUILD);
    expect(server.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.wsUrl).toBe(`ws://${server.endpoint}`);

    const ws = await connect(server);
    expect((await ws.next()).raw).toBe('{"op":8,"d":{"heartbeat_interval":41250}}');
    ws.send({ op: VoiceOpcode.Heartbeat, d: { t: 1501184119561, seq_ack: -1 } });
    expect((await ws.next()).raw).toBe('{"op":6,"d":{"t":1501184119561}}');

    ws.send(identifyPayload(a, 1));
    expect((await ws.next()).raw).toBe(
      `{"op":2,"d":{"ssrc":1000,"ip":"127.0.0.1","port":${server.udpPort},` +
        '"modes":["aead_aes256_gcm_rtpsize","aead_xchacha20_poly1305_rtpsize"]},"seq":1}',
    );

    // IP discovery answers with the datagram's source address and port.
    const udp = await RawUdpClient.open();
    cleanup.add(() => udp.close());
    await udp.send(buildIpDiscoveryRequest(1000), server.udpPort);
    const response = await udp.next();
    const expected = Buffer.alloc(74);
    expected.writeUInt16BE(2, 0);
    expected.writeUInt16BE(70, 2);
    expected.writeUInt32BE(1000, 4);
    expected.write('127.0.0.1', 8, 'latin1');
    expected.writeUInt16BE(udp.port, 72);
    expect(response.equals(expected)).toBe(true);

    ws.send({
      op: VoiceOpcode.SelectProtocol,
      d: {
        protocol: 'udp',
        data: { address: '127.0.0.1', port: udp.port, mode: 'aead_xchacha20_poly1305_rtpsize' },
      },
    });
    // DAVE is on by default and the client offered version 1.
    expect((await ws.next()).raw).toBe(
      `{"op":4,"d":{"mode":"aead_xchacha20_poly1305_rtpsize","secret_key":[${[...keyFor('42')].join(',')}],` +
        '"dave_protocol_version":1},"seq":2}',
    );
    const [p] = server.participants(GUILD);
    expect(p).toMatchObject({
      userId: '42',
      ssrc: 1000,
      mode: 'aead_xchacha20_poly1305_rtpsize',
      maxDaveProtocolVersion: 1,
      connected: true,
      joined: true,
      speaking: null,
      udpAddress: { address: '127.0.0.1', port: udp.port },
    });
    expect(server.calls).toEqual([{ guildId: GUILD, channelId: CHANNEL, userIds: ['42'] }]);
  });

  it('accepts the discord-api-types `ip` spelling in Select Protocol and unique SSRCs per session', async () => {
    const server = await start();
    const first = await join(server, cleanup, '1');
    const a = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '2' });
    const ws = await connect(server);
    await ws.expect(VoiceOpcode.Hello);
    ws.send(identifyPayload(a));
    const ready = await ws.expect(VoiceOpcode.Ready);
    expect(ready.d.ssrc).not.toBe(first.ssrc);
    ws.send({
      op: VoiceOpcode.SelectProtocol,
      d: { protocol: 'udp', data: { ip: '127.0.0.1', port: 5000, mode: 'aead_aes256_gcm_rtpsize' } },
    });
    const d = await ws.expect(VoiceOpcode.SessionDescription);
    expect(d.d.secret_key).toEqual([...keyFor('2')]);
  });

  it('generates a random 32-byte key without keyFor', async () => {
    const server = await start({ keyFor: undefined });
    const c1 = await join(server, cleanup, '7');
    const c2 = await join(server, cleanup, '8');
    expect(c1.key).toHaveLength(32);
    expect(Buffer.from(c1.key).equals(Buffer.from(c2.key))).toBe(false);
  });
});

describe('voice gateway close codes', () => {
  async function identified(server: VoiceServer, userId = '42'): Promise<RawWsClient> {
    const a = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId });
    const ws = await connect(server);
    await ws.expect(VoiceOpcode.Hello);
    ws.send(identifyPayload(a));
    await ws.expect(VoiceOpcode.Ready);
    return ws;
  }

  it('4002 on a frame that is not JSON', async () => {
    const server = await start();
    const ws = await connect(server);
    ws.send('{not json');
    expect((await ws.closed).code).toBe(4002);
  });

  it('4002 on an Identify with missing fields', async () => {
    const server = await start();
    const ws = await connect(server);
    ws.send({ op: 0, d: { server_id: GUILD } });
    expect((await ws.closed).code).toBe(4002);
  });

  it('4003 on an op before Identify (heartbeats are allowed)', async () => {
    const server = await start();
    const ws = await connect(server);
    await ws.expect(VoiceOpcode.Hello);
    ws.send({ op: 3, d: { t: 1, seq_ack: -1 } });
    await ws.expect(VoiceOpcode.HeartbeatAck);
    ws.send({ op: 5, d: { speaking: 1, delay: 0, ssrc: 1 } });
    expect((await ws.closed).code).toBe(4003);
  });

  it('4004 on credentials that do not match an allocation', async () => {
    const server = await start();
    const a = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '42' });
    for (const bad of [
      { ...a, token: 'wrong' },
      { ...a, sessionId: 'wrong' },
      { ...a, userId: '43' },
      { ...a, guildId: '999' },
    ]) {
      const ws = await connect(server);
      ws.send(identifyPayload(bad));
      expect((await ws.closed).code).toBe(4004);
    }
    // A newer allocation invalidates the previous token.
    const b = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '42' });
    const stale = await connect(server);
    stale.send(identifyPayload(a));
    expect((await stale.closed).code).toBe(4004);
    const fresh = await connect(server);
    await fresh.expect(VoiceOpcode.Hello);
    fresh.send(identifyPayload(b));
    await fresh.expect(VoiceOpcode.Ready);
  });

  it('4005 on a second Identify, and on Resume after Identify', async () => {
    const server = await start();
    const a = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '42' });
    const ws = await connect(server);
    ws.send(identifyPayload(a));
    await ws.expect(VoiceOpcode.Hello);
    await ws.expect(VoiceOpcode.Ready);
    ws.send(identifyPayload(a));
    expect((await ws.closed).code).toBe(4005);

    const ws2 = await identified(server, '43');
    ws2.send({ op: 7, d: { server_id: GUILD, session_id: 'x', token: 'y', seq_ack: 1 } });
    expect((await ws2.closed).code).toBe(4005);
  });

  it('4009 when heartbeats stop; the session ends', async () => {
    const server = await start({ heartbeatIntervalMs: 50, heartbeatTimeoutMs: 150 });
    const ws = await identified(server);
    const closed = await ws.closed;
    expect(closed.code).toBe(4009);
    expect(server.participants(GUILD)).toEqual([]);
  });

  it('heartbeats keep the connection open past the timeout', async () => {
    const server = await start({ heartbeatIntervalMs: 40, heartbeatTimeoutMs: 120 });
    const ws = await identified(server);
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 40));
      ws.send({ op: 3, d: { t: i, seq_ack: ws.lastSeq } });
      expect((await ws.expect(VoiceOpcode.HeartbeatAck)).d.t).toBe(i);
    }
    expect(server.participants(GUILD)[0]?.connected).toBe(true);
  });

  it('a heartbeat sent before the deadline counts, though the server reads it only after (its process was busy)', async () => {
    const server = await start({ heartbeatIntervalMs: 40, heartbeatTimeoutMs: 100 });
    const ws = await identified(server);
    ws.send({ op: 3, d: { t: 1, seq_ack: ws.lastSeq } });
    await ws.expect(VoiceOpcode.HeartbeatAck); // the server re-armed its timeout before this ACK
    const ackedAt = performance.now();
    ws.send({ op: 3, d: { t: 2, seq_ack: ws.lastSeq } }); // in the socket, in time
    // This process (the server's) is busy until the deadline has passed: the timer and the unread
    // heartbeat are both due when it gets back to its event loop.
    while (performance.now() - ackedAt < 160);
    expect((await ws.expect(VoiceOpcode.HeartbeatAck)).d.t).toBe(2);
    await new Promise((r) => setTimeout(r, 20));
    expect(server.participants(GUILD)[0]?.connected).toBe(true);
  });

  it('4012 on a protocol other than udp', async () => {
    const server = await start();
    const ws = await identified(server);
    ws.send({
      op: 1,
      d: { protocol: 'webrtc', data: { address: '127.0.0.1', port: 1, mode: 'aead_aes256_gcm_rtpsize' } },
    });
    expect((await ws.closed).code).toBe(4012);
  });

  it('4016 on a mode that was not offered', async () => {
    const server = await start({ modes: ['aead_xchacha20_poly1305_rtpsize'] });
    const ws = await identified(server);
    ws.send({
      op: 1,
      d: { protocol: 'udp', data: { address: '127.0.0.1', port: 1, mode: 'aead_aes256_gcm_rtpsize' } },
    });
    expect((await ws.closed).code).toBe(4016);
  });

  it('4016 on a deprecated mode the server offers but cannot run', async () => {
    const server = await start({ modes: ['aead_aes256_gcm_rtpsize', 'xsalsa20_poly1305_lite'] });
    const ws = await identified(server);
    ws.send({
      op: 1,
      d: { protocol: 'udp', data: { address: '127.0.0.1', port: 1, mode: 'xsalsa20_poly1305_lite' } },
    });
    expect((await ws.closed).code).toBe(4016);
  });

  it('ignores unknown opcodes, closes 4001 on server-only opcodes', async () => {
    const server = await start();
    const ws = await identified(server);
    ws.send({ op: 15, d: { any: 100 } });
    ws.send({ op: 12, d: { audio_ssrc: 1 } });
    ws.send(Buffer.from([99, 1, 2, 3]));
    ws.send({ op: 3, d: { t: 5, seq_ack: 1 } });
    expect((await ws.expect(VoiceOpcode.HeartbeatAck)).d.t).toBe(5);
    ws.send({ op: 2, d: {} });
    expect((await ws.closed).code).toBe(4001);
  });

  it('4006 on Resume of an unknown session', async () => {
    const server = await start();
    const ws = await connect(server);
    ws.send({ op: 7, d: { server_id: GUILD, session_id: 'nope', token: 'nope', seq_ack: -1 } });
    expect((await ws.closed).code).toBe(4006);
  });
});

function resumePayload(a: { guildId: string; sessionId: string; token: string }, seqAck: number): unknown {
  return { op: 7, d: { server_id: a.guildId, session_id: a.sessionId, token: a.token, seq_ack: seqAck } };
}

describe('voice gateway resume', () => {
  it('replays, in order, exactly the messages after seq_ack', async () => {
    const server = await start({ sessionGraceMs: 5000 });
    const alice = await join(server, cleanup, '1'); // Ready seq 1, op 4 seq 2
    const bob = await join(server, cleanup, '2');
    expect((await alice.ws.expect(VoiceOpcode.ClientsConnect)).seq).toBe(3);
    // Alice's socket drops; the session lives on and keeps collecting messages.
    alice.ws.terminate();
    await until(() => server.participants(GUILD).find((p) => p.userId === '1')?.connected === false);
    speak(bob, 1); // seq 4 for alice
    speak(bob, 5); // seq 5
    await until(() => server.participants(GUILD).find((p) => p.userId === '2')?.speaking === 5);

    const ws = await connect(server);
    ws.send(resumePayload(alice.allocation, 3));
    await ws.expect(VoiceOpcode.Hello);
    expect((await ws.next()).raw).toBe('{"op":9,"d":null}');
    const r1 = await ws.expect(VoiceOpcode.Speaking);
    const r2 = await ws.expect(VoiceOpcode.Speaking);
    expect([r1.seq, r1.d.speaking, r2.seq, r2.d.speaking]).toEqual([4, 1, 5, 5]);
    expect(r1.raw).toBe(`{"op":5,"d":{"user_id":"2","ssrc":${bob.ssrc},"speaking":1},"seq":4}`);
    expect(await ws.quiet(100)).toBe(true);
    // Live again: new messages continue the same counter.
    speak(bob, 0);
    expect((await ws.expect(VoiceOpcode.Speaking)).seq).toBe(6);
    expect(server.participants(GUILD).find((p) => p.userId === '1')?.connected).toBe(true);
  });

  it('replays everything after seq_ack -1 and nothing when fully acknowledged', async () => {
    const server = await start({ sessionGraceMs: 5000 });
    const alice = await join(server, cleanup, '1');
    alice.ws.terminate();
    await until(() => server.participants(GUILD)[0]?.connected === false);
    const ws = await connect(server);
    ws.send(resumePayload(alice.allocation, -1));
    await ws.expect(VoiceOpcode.Hello);
    await ws.expect(VoiceOpcode.Resumed);
    expect((await ws.expect(VoiceOpcode.Ready)).seq).toBe(1);
    expect((await ws.expect(VoiceOpcode.SessionDescription)).seq).toBe(2);

    ws.terminate();
    await until(() => server.participants(GUILD)[0]?.connected === false);
    const ws2 = await connect(server);
    ws2.send(resumePayload(alice.allocation, 2));
    await ws2.expect(VoiceOpcode.Hello);
    await ws2.expect(VoiceOpcode.Resumed);
    expect(await ws2.quiet(100)).toBe(true);
  });

  it('a Resume takes over a socket that is still open', async () => {
    const server = await start();
    const alice = await join(server, cleanup, '1');
    const ws = await connect(server);
    ws.send(resumePayload(alice.allocation, 2));
    await ws.expect(VoiceOpcode.Hello);
    await ws.expect(VoiceOpcode.Resumed);
    expect((await alice.ws.closed).code).toBe(1006);
    expect(server.participants(GUILD)[0]?.connected).toBe(true);
  });

  it('4006 when a needed message was evicted from the replay buffer; the user leaves', async () => {
    const server = await start({ replayBufferSize: 2 });
    const alice = await join(server, cleanup, '1');
    const bob = await join(server, cleanup, '2');
    await alice.ws.expect(VoiceOpcode.ClientsConnect);
    alice.ws.terminate();
    await until(() => server.participants(GUILD).find((p) => p.userId === '1')?.connected === false);
    speak(bob, 1); // alice seq 4
    speak(bob, 0); // alice seq 5: seq 3 is evicted now (buffer holds 4, 5)
    await until(() => server.participants(GUILD).find((p) => p.userId === '2')?.speaking === 0);
    const ws = await connect(server);
    ws.send(resumePayload(alice.allocation, 2));
    expect((await ws.closed).code).toBe(4006);
    await bob.ws.expect(VoiceOpcode.ClientsConnect);
    expect((await bob.ws.expect(VoiceOpcode.ClientDisconnect)).d.user_id).toBe('1');
    expect(server.participants(GUILD).map((p) => p.userId)).toEqual(['2']);
  });

  it('4006 on a seq_ack the server never sent, and on a wrong token', async () => {
    const server = await start();
    const alice = await join(server, cleanup, '1');
    alice.ws.terminate();
    await until(() => server.participants(GUILD)[0]?.connected === false);
    const ws = await connect(server);
    ws.send(resumePayload({ ...alice.allocation, token: 'bad' }, 2));
    expect((await ws.closed).code).toBe(4006);
    const ws2 = await connect(server);
    ws2.send(resumePayload(alice.allocation, 50));
    expect((await ws2.closed).code).toBe(4006);
  });

  it('4006 after the grace period: the user left and the others got op 13', async () => {
    const server = await start({ sessionGraceMs: 100 });
    const alice = await join(server, cleanup, '1');
    const bob = await join(server, cleanup, '2');
    bob.ws.terminate();
    expect((await alice.ws.expect(VoiceOpcode.ClientsConnect)).d.user_ids).toEqual(['2']);
    expect((await alice.ws.expect(VoiceOpcode.ClientDisconnect, 3000)).d.user_id).toBe('2');
    const ws = await connect(server);
    ws.send(resumePayload(bob.allocation, 2));
    expect((await ws.closed).code).toBe(4006);
  });
});

describe('voice gateway relays', () => {
  it('op 11, op 5 and op 13 between participants', async () => {
    const server = await start();
    const alice = await join(server, cleanup, '1');
    speak(alice, 5);
    await until(() => server.participants(GUILD)[0]?.speaking === 5);
    const bob = await join(server, cleanup, '2');
    // Newcomer: op 11 with the others, then their last op 5.
    const c = await bob.ws.expect(VoiceOpcode.ClientsConnect);
    expect(c.raw).toBe('{"op":11,"d":{"user_ids":["1"]},"seq":3}');
    const s = await bob.ws.expect(VoiceOpcode.Speaking);
    expect(s.d).toEqual({ user_id: '1', ssrc: alice.ssrc, speaking: 5 });
    // Others: op 11 with the newcomer.
    expect((await alice.ws.expect(VoiceOpcode.ClientsConnect)).d.user_ids).toEqual(['2']);
    // op 5 relayed with user_id; never echoed to the speaker.
    speak(bob, 1);
    const relayed = await alice.ws.expect(VoiceOpcode.Speaking);
    expect(relayed.d).toEqual({ user_id: '2', ssrc: bob.ssrc, speaking: 1 });
    expect(await bob.ws.quiet(50)).toBe(true);
    // A clean close (1000) is a leave: op 13 at once.
    bob.ws.close(1000);
    expect((await alice.ws.expect(VoiceOpcode.ClientDisconnect)).d.user_id).toBe('2');
    expect(server.participants(GUILD).map((p) => p.userId)).toEqual(['1']);
  });

  it('users in other channels or guilds are not told about each other', async () => {
    const server = await start();
    const alice = await join(server, cleanup, '1');
    await join(server, cleanup, '2', { channelId: '333' });
    speak(alice, 1);
    expect(await alice.ws.quiet(100)).toBe(true);
    expect(server.calls.length).toBe(2);
  });

  it('test hooks: kick 4014 and terminate 4022 end the session; 4015 and 1006 keep it for resume', async () => {
    const server = await start({ sessionGraceMs: 5000 });
    const alice = await join(server, cleanup, '1');
    const bob = await join(server, cleanup, '2');
    await alice.ws.expect(VoiceOpcode.ClientsConnect);

    expect(server.closeClient('2', GUILD, 4015)).toBe(true);
    expect((await bob.ws.closed).code).toBe(4015);
    expect(server.participants(GUILD).find((p) => p.userId === '2')?.connected).toBe(false);
    const back = await connect(server);
    back.send(resumePayload(bob.allocation, 2));
    await back.expect(VoiceOpcode.Hello);
    await back.expect(VoiceOpcode.Resumed);

    expect(server.closeClient('2', GUILD, 1006)).toBe(true);
    expect((await back.closed).code).toBe(1006);
    expect(server.participants(GUILD)).toHaveLength(2);

    const again = await connect(server);
    again.send(resumePayload(bob.allocation, 2));
    await again.expect(VoiceOpcode.Hello);
    await again.expect(VoiceOpcode.Resumed);
    expect(server.closeClient('2', GUILD, 4014)).toBe(true);
    expect((await again.closed).code).toBe(4014);
    expect((await alice.ws.expect(VoiceOpcode.ClientDisconnect)).d.user_id).toBe('2');

    expect(server.closeClient('1', GUILD, 4022)).toBe(true);
    expect((await alice.ws.closed).code).toBe(4022);
    expect(server.calls).toEqual([]);
    expect(server.closeClient('1', GUILD, 4022)).toBe(false);
  });

  it('websocket faults: duplicate resends stamped messages with the same seq', async () => {
    const server = await start({ faults: { ws: { duplicate: 1 } } });
    const a = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '1' });
    const ws = await connect(server);
    ws.send(identifyPayload(a));
    expect((await ws.expect(VoiceOpcode.Hello)).seq).toBeUndefined();
    const r1 = await ws.expect(VoiceOpcode.Ready);
    const r2 = await ws.expect(VoiceOpcode.Ready);
    expect(r1.raw).toBe(r2.raw);
    ws.send({ op: 3, d: { t: 9, seq_ack: 1 } });
    await ws.expect(VoiceOpcode.HeartbeatAck);
    expect(await ws.quiet(50)).toBe(true); // ACK is not duplicated
  });

  it('websocket faults: delay keeps order', async () => {
    const server = await start({ faults: { ws: { delayMs: 30 } } });
    const alice = await join(server, cleanup, '1');
    const bob = await join(server, cleanup, '2');
    await alice.ws.expect(VoiceOpcode.ClientsConnect);
    for (let i = 1; i <= 5; i++) speak(bob, i);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await alice.ws.expect(VoiceOpcode.Speaking)).d.speaking);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('DAVE hook points', () => {
  it('calls the per-call service at the documented points and sends its frames with seq', async () => {
    const calls: string[] = [];
    const server = await start({
      dave: (call) => ({
        protocolVersion: (p) => Math.min(1, p.maxDaveProtocolVersion),
        onJoin: (p) => {
          calls.push(`join ${p.userId} joined=${String(p.joined)} members=${call.participants().length}`);
          p.sendBinary(VoiceOpcode.DaveMlsExternalSender, Buffer.from([1, 2, 3]));
        },
        onLeave: (p) => calls.push(`leave ${p.userId}`),
        onBinary: (p, op, payload) =>
          calls.push(`binary ${p.userId} ${op} ${Buffer.from(payload).toString('hex')}`),
        onTransitionReady: (p, tid) => calls.push(`ready ${p.userId} ${tid}`),
        onInvalidCommitWelcome: (p, tid) => calls.push(`invalid ${p.userId} ${tid}`),
        close: () => calls.push('close'),
      }),
    });
    const alice = await join(server, cleanup, '1', { maxDave: 1 });
    const bin = await alice.ws.next();
    expect(Buffer.isBuffer(bin.raw) && bin.raw.toString('hex')).toBe('000319010203'); // seq 3, op 25
    const bob = await join(server, cleanup, '2', { maxDave: 0 });
    await bob.ws.expect(VoiceOpcode.ClientsConnect);
    expect((await bob.ws.expect(VoiceOpcode.DaveMlsExternalSender)).seq).toBe(4);
    alice.ws.send(Buffer.from([26, 0xaa, 0xbb]));
    alice.ws.send(Buffer.from([28, 0xcc]));
    alice.ws.send({ op: 23, d: { transition_id: 7 } });
    alice.ws.send({ op: 31, d: { transition_id: 8 } });
    await until(() => calls.length >= 6);
    bob.ws.close(1000);
    await until(() => calls.includes('leave 2'));
    alice.ws.close(1000);
    await until(() => calls.includes('close'));
    expect(calls).toEqual([
      'join 1 joined=true members=1',
      'join 2 joined=true members=2',
      'binary 1 26 aabb',
      'binary 1 28 cc',
      'ready 1 7',
      'invalid 1 8',
      'leave 2',
      'leave 1',
      'close',
    ]);
  });

  it('op 4 carries the version the service picks', async () => {
    const server = await start({ dave: () => ({ protocolVersion: (p) => p.maxDaveProtocolVersion }) });
    const a = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '1' });
    const ws = await connect(server);
    ws.send(identifyPayload(a, 1));
    await ws.expect(VoiceOpcode.Hello);
    await ws.expect(VoiceOpcode.Ready);
    ws.send({
      op: 1,
      d: { protocol: 'udp', data: { address: '127.0.0.1', port: 9, mode: 'aead_aes256_gcm_rtpsize' } },
    });
    expect((await ws.expect(VoiceOpcode.SessionDescription)).d.dave_protocol_version).toBe(1);
  });
});
