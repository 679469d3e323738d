/**
 * The local Discord against clients that do not play fair: oversized frames, message floods,
 * sockets that are never read, and more allocations than a server should hold; and the SFU's
 * receive buffer against a burst its busy thread cannot read at once.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { VoiceCloseCode, VoiceOpcode } from '../../src/protocol/constants.js';
import { startVoiceServer } from '../../src/server/index.js';
import type {
  ParticipantInfo,
  ServerEvent,
  VoiceServer,
  VoiceServerOptions,
} from '../../src/server/index.js';
import { startMainGateway } from '../../src/server/main-gateway.js';
import { isVoxcordError } from '../../src/errors.js';
import { CHANNEL, Cleanup, GUILD, RawWsClient, identifyPayload, join, keyFor, until } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(options: VoiceServerOptions = {}): Promise<VoiceServer> {
  const server = await startVoiceServer({ ssrcStart: 1000, seed: 1, keyFor, dave: false, ...options });
  cleanup.add(() => server.stop());
  return server;
}

/** The status line of the answer to one raw request (the target as sent). */
function statusLine(port: number, target: string, headers = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`),
    );
    socket.once('data', (d: Buffer) => {
      resolve(d.toString('latin1').split('\r\n')[0] ?? '');
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

function heartbeat(t: number): string {
  return JSON.stringify({ op: VoiceOpcode.Heartbeat, d: { t, seq_ack: -1 } });
}

describe('local voice gateway: rate limit and backpressure', () => {
  it('closes a connection that floods heartbeats with 4021, and a call next to it keeps its session', async () => {
    const events: ServerEvent[] = [];
    const server = await start({ log: (e) => events.push(e) });
    const alice = await join(server, cleanup, '1');
    const flooder = await RawWsClient.connect(server.wsUrl);
    cleanup.add(() => flooder.terminate());
    await flooder.expect(VoiceOpcode.Hello);
    for (let i = 0; i < 2_000; i++) flooder.send(heartbeat(i));
    expect((await flooder.closed).code).toBe(VoiceCloseCode.RateLimited);
    // It got at most the allowed number of ACKs before the close.
    let acks = 0;
    while (flooder.inbox.size > 0) if ((await flooder.next()).message.op === VoiceOpcode.HeartbeatAck) acks++;
    expect(acks).toBeLessThanOrEqual(120);
    expect(events.some((e) => e.type === 'close' && e.code === VoiceCloseCode.RateLimited)).toBe(true);
    // The neighbour is untouched.
    alice.ws.send(JSON.parse(heartbeat(7)));
    expect((await alice.ws.expect(VoiceOpcode.HeartbeatAck)).d.t).toBe(7);
    expect(server.participants(GUILD, CHANNEL)[0]?.connected).toBe(true);
  });

  it('a flooder that never reads is closed 4021 too (and no longer read)', async () => {
    const events: ServerEvent[] = [];
    const server = await start({ log: (e) => events.push(e) });
    const ws = new WebSocket(`${server.wsUrl}/?v=8`);
    cleanup.add(() => ws.terminate());
    ws.on('error', () => undefined);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.pause();
    for (let i = 0; i < 5_000; i++) ws.send(heartbeat(i));
    await until(() => events.some((e) => e.type === 'close' && e.code === VoiceCloseCode.RateLimited));
  });

  it('drops a client whose unread frames pass maxBufferedBytes; its session waits for Resume', async () => {
    const events: ServerEvent[] = [];
    const server = await start({
      log: (e) => events.push(e),
      rateLimit: { messages: 1_000_000, windowMs: 1_000 },
      maxBufferedBytes: 64 * 1024,
    });
    const bob = await join(server, cleanup, '2');
    const alice = await join(server, cleanup, '1');
    // Bob stops reading; every op 5 of alice's is relayed to him until the kernel buffers are full
    // and ws starts queueing in memory.
    bob.ws.ws.pause();
    const full = (): boolean => events.some((e) => e.reason === 'backpressure');
    for (let i = 0; i < 200_000 && !full(); i++) {
      alice.ws.send({ op: VoiceOpcode.Speaking, d: { speaking: i & 1, delay: 0, ssrc: alice.ssrc } });
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await until(full);
    const bobInfo = (): ParticipantInfo | undefined =>
      server.participants(GUILD).find((p) => p.userId === '2');
    await until(() => bobInfo()?.connected === false);
    // Resumable: the session is kept (detached for the grace period), alice's is untouched.
    expect(bobInfo()).toBeDefined();
    expect(events.find((e) => e.userId === '2' && e.type === 'close')?.code).toBe(1006);
    alice.ws.send(JSON.parse(heartbeat(9)));
    for (;;) if ((await alice.ws.next()).message.op === VoiceOpcode.HeartbeatAck) break;
  });

  it('refuses frames over the payload bound (1009) on the voice gateway', async () => {
    const server = await start();
    const ws = await RawWsClient.connect(server.wsUrl);
    cleanup.add(() => ws.terminate());
    ws.send(Buffer.alloc(2 << 20, 0x20));
    expect((await ws.closed).code).toBe(1009);
  });
});

describe('local main gateway: payload bound', () => {
  it('closes a connection that sends a 2 MB frame with 1009 instead of buffering it', async () => {
    const voice = await start();
    const gw = await startMainGateway({ voiceServer: voice, guilds: [GUILD] });
    cleanup.add(() => gw.stop());
    const ws = new WebSocket(`${gw.url}/?v=10&encoding=json`);
    cleanup.add(() => ws.terminate());
    ws.on('error', () => undefined);
    await new Promise((resolve) => ws.once('open', resolve));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.send(Buffer.alloc(2 << 20, 0x20));
    expect(await closed).toBe(1009);
  });
});

describe('local main gateway: request targets that are no URL', () => {
  it('answers a REST request for `//[` with 400 and a websocket with Hello, and keeps serving', async () => {
    // `new URL('//[', base)` throws: in a request listener that ended the process.
    const voice = await start();
    const gw = await startMainGateway({ voiceServer: voice, guilds: [GUILD] });
    cleanup.add(() => gw.stop());
    const port = Number(new URL(gw.url).port);
    expect(await statusLine(port, '//[')).toBe('HTTP/1.1 400 Bad Request');
    const upgrade =
      'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    expect(await statusLine(port, '//[', upgrade)).toBe('HTTP/1.1 101 Switching Protocols');
    const ws = new WebSocket(`${gw.url}/?v=10&encoding=json`);
    cleanup.add(() => ws.terminate());
    const hello = await new Promise<{ op: number }>((resolve) =>
      ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString('utf8')) as { op: number })),
    );
    expect(hello.op).toBe(10);
  });
});

describe('local voice gateway: what must neither end it nor hang', () => {
  it('a voice gateway handler that throws closes its connection with 4015; the server serves on', async () => {
    // The operator's log callback throwing inside the Identify handler stands in for a bug there.
    const errors: string[] = [];
    const server = await start({
      log: (e) => {
        if (e.type === 'identify') throw new Error('a bug in a handler');
        if (e.type === 'error' && e.reason === 'handler') errors.push(e.detail ?? '');
      },
    });
    for (const userId of ['1', '2']) {
      const ws = await RawWsClient.connect(server.wsUrl);
      cleanup.add(() => ws.terminate());
      await ws.expect(VoiceOpcode.Hello);
      ws.send(identifyPayload(server.allocate({ guildId: GUILD, channelId: CHANNEL, userId })));
      expect((await ws.closed).code).toBe(VoiceCloseCode.VoiceServerCrashed);
    }
    expect(errors).toEqual(['a bug in a handler', 'a bug in a handler']);
  });

  it('answers a request to the voice gateway that is no upgrade with 426, not silence', async () => {
    // With no request listener, Node left such a request unanswered until its own timeout.
    const voice = await start();
    expect(await statusLine(voice.port, '/?v=8')).toBe('HTTP/1.1 426 Upgrade Required');
  });
});

describe('local voice server: allocations', () => {
  it('refuses ids that are not snowflake strings, and more allocations in use than maxAllocations', async () => {
    const server = await start({ maxAllocations: 3 });
    for (const bad of [1e308, 42, '', 'abc', '1e+308', null]) {
      let error: unknown;
      try {
        server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: bad as string });
      } catch (e) {
        error = e;
      }
      expect(isVoxcordError(error, 'INVALID_ARGUMENT'), String(bad)).toBe(true);
    }
    // Three users in the call hold the three allocations: a fourth is refused...
    const members = await Promise.all(['1', '2', '3'].map((id) => join(server, cleanup, id)));
    // (replacing an existing allocation is fine)
    server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '2' });
    const fourth = (): unknown => {
      try {
        return server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: '4' });
      } catch (e) {
        return e;
      }
    };
    expect(isVoxcordError(fourth(), 'SERVER_ERROR')).toBe(true);
    // ...until one leaves: the allocation no session uses makes room (the cap is not spent for
    // good by every user that ever joined).
    expect(server.disconnect(members[0]!.userId, GUILD)).toBe(true);
    expect(isVoxcordError(fourth())).toBe(false);
    expect(isVoxcordError(fourth())).toBe(false); // its own again
  });
});

// The SFU's one UDP socket takes every participant's packets: `udpReceiveBufferBytes` sizes its
// kernel buffer, so a server thread held up for a moment (a busy machine) does not lose a burst.
const BURST = 1000;

/**
 * Sends BURST 100-byte datagrams to the SFU while this thread (the server's too) cannot read them,
 * then lets it read: how many the SFU saw.
 */
async function burst(server: VoiceServer): Promise<number> {
  const client = dgram.createSocket('udp4');
  cleanup.add(() => client.close());
  await new Promise<void>((resolve) => client.connect(server.udpPort, '127.0.0.1', resolve));
  const before = server.sfuStats.datagrams;
  const payload = Buffer.alloc(100, 7);
  for (let i = 0; i < BURST; i++) client.send(payload);
  // libuv sends at once while its queue is empty; give the last ones a moment in the kernel.
  const t = Date.now();
  while (Date.now() - t < 50); // busy on purpose: the server's reads wait
  await until(() => server.sfuStats.datagrams - before >= BURST, 500).catch(() => undefined);
  return server.sfuStats.datagrams - before;
}

const sysctl = (name: string): number => {
  try {
    return Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8'));
  } catch {
    return 0;
  }
};
// Linux caps SO_RCVBUF at net.core.rmem_max (doubled): the burst needs about 1 MiB of it, and the
// default (rmem_default, 208 KiB on most systems) holds about 256 such datagrams.
const rmemMax = sysctl('rmem_max');
const rmemDefault = sysctl('rmem_default');

describe('local voice server: SFU receive buffer', () => {
  it.runIf(rmemMax >= 1024 * 1024)(
    'keeps a burst the default buffer loses while the server thread is busy',
    async () => {
      if (rmemDefault > 0 && rmemDefault <= 512 * 1024) {
        const small = await start();
        expect(await burst(small)).toBeLessThan(BURST);
      }
      const large = await start({ udpReceiveBufferBytes: 4 * 1024 * 1024 });
      expect(await burst(large)).toBe(BURST);
    },
  );

  it('refuses a receive buffer that is not a positive integer', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      const error = await startVoiceServer({ udpReceiveBufferBytes: bad }).catch((e: unknown) => e);
      expect(isVoxcordError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
