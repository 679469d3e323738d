import { afterEach, beforeEach, describe, it, expect } from 'vitest';
import { VoiceSocket, voiceSocketUrl } from '../../src/voice/voice-socket.js';
import type { ServerMessage } from '../../src/protocol/voice-messages.js';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { generateSelfSignedCertificate } from '../../src/server/tls.js';
import { sharedSecureContext } from '../../src/voice/tls-context.js';
import { ScriptedServer, until } from './fakes.js';

describe('voiceSocketUrl', () => {
  it('builds ws(s)://endpoint/?v=8', () => {
    expect(voiceSocketUrl('sweetwater-12345.discord.media:2048', true)).toBe(
      'wss://sweetwater-12345.discord.media:2048/?v=8',
    );
    expect(voiceSocketUrl('127.0.0.1:9000', false)).toBe('ws://127.0.0.1:9000/?v=8');
    expect(voiceSocketUrl('wss://host.example/', true)).toBe('wss://host.example/?v=8');
  });
});

describe('VoiceSocket', () => {
  let server: ScriptedServer;
  let socket: VoiceSocket | undefined;
  beforeEach(async () => {
    server = await ScriptedServer.start();
  });
  afterEach(async () => {
    socket?.destroy();
    socket = undefined;
    await server.close();
  });

  it('connects with ?v=8, decodes frames, tracks seq from JSON and binary frames, counts malformed ones', async () => {
    socket = new VoiceSocket({ endpoint: server.endpoint, tls: false });
    const messages: ServerMessage[] = [];
    const malformed: number[] = [];
    socket.on('message', (m) => messages.push(m));
    socket.on('malformed', (_e, count) => malformed.push(count));
    const conn = await server.connection(0);
    expect(conn.url).toBe('/?v=8');
    expect(socket.lastSeq).toBe(-1);
    conn.send({ op: 8, d: { heartbeat_interval: 100 } });
    conn.send({ op: 11, d: { user_ids: ['5'] }, seq: 3 });
    conn.send('{not json');
    conn.sendRawBinary(Uint8Array.of(0, 1));
    conn.send({ op: 2, d: { ssrc: 'x' }, seq: 4 });
    conn.sendBinary(9, 25, Uint8Array.of(1, 2));
    conn.send({ op: 99, d: {}, seq: 10 });
    await until(() => messages.length === 4);
    expect(messages.map((m) => m.op)).toEqual([8, 11, 25, 'unknown']);
    expect(malformed).toEqual([1, 2, 3]);
    expect(socket.malformedFrames).toBe(3);
    expect(socket.lastSeq).toBe(10);
  });

  it('binary seq updates lastSeq', async () => {
    socket = new VoiceSocket({ endpoint: server.endpoint, tls: false, lastSeq: 4 });
    expect(socket.lastSeq).toBe(4);
    const conn = await server.connection(0);
    let got = 0;
    socket.on('message', () => (got += 1));
    conn.sendBinary(65535, 27);
    await until(() => got === 1);
    expect(socket.lastSeq).toBe(65535);
  });

  it('a binary (DAVE) payload owns its bytes: no view into the socket read chunk it came in', async () => {
    socket = new VoiceSocket({ endpoint: server.endpoint, tls: false });
    const payloads: Uint8Array[] = [];
    socket.on('message', (m) => {
      if ('payload' in m) payloads.push(m.payload);
    });
    const conn = await server.connection(0);
    // Back to back, so that they reach the client in one read.
    for (let i = 0; i < 8; i++) conn.sendBinary(i, 25, new Uint8Array(40).fill(i));
    await until(() => payloads.length === 8);
    payloads.forEach((p, i) => {
      expect(p).toEqual(new Uint8Array(40).fill(i));
      // seq u16 + op u8 before the payload, nothing else
      expect(p.buffer.byteLength).toBe(3 + 40);
    });
  });

  it('reports the close code once and refuses to send afterwards', async () => {
    socket = new VoiceSocket({ endpoint: server.endpoint, tls: false });
    const closes: number[] = [];
    socket.on('close', (code) => closes.push(code));
    await new Promise<void>((resolve) => socket!.once('open', resolve));
    const conn = await server.connection(0);
    conn.ws.close(4014, 'kicked');
    await until(() => closes.length === 1);
    expect(closes).toEqual([4014]);
    expect(socket.send({ op: 3, d: { t: 1, seq_ack: -1 } })).toBe(false);
  });

  it('a refused connection ends in close 1006, not an exception', async () => {
    const port = Number(server.endpoint.split(':')[1]);
    await server.close();
    socket = new VoiceSocket({ endpoint: `127.0.0.1:${port}`, tls: false });
    const closes: number[] = [];
    socket.on('close', (code) => closes.push(code));
    await until(() => closes.length === 1);
    expect(closes).toEqual([1006]);
    server = await ScriptedServer.start();
  });
});

describe('VoiceSocket over TLS', () => {
  const servers: { https: Server; wss: WebSocketServer }[] = [];
  let socket: VoiceSocket | undefined;
  const others: VoiceSocket[] = [];
  afterEach(async () => {
    socket?.destroy();
    for (const s of others.splice(0)) s.destroy();
    for (const { https, wss } of servers.splice(0)) {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
    }
  });

  async function start(): Promise<{ endpoint: string; ca: string }> {
    const { cert, key } = generateSelfSignedCertificate();
    const https = createServer({ cert, key });
    const wss = new WebSocketServer({ server: https });
    servers.push({ https, wss });
    wss.on('connection', (ws) => ws.send(JSON.stringify({ op: 8, d: { heartbeat_interval: 1000 } })));
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    return { endpoint: `127.0.0.1:${(https.address() as AddressInfo).port}`, ca: cert };
  }

  /** 'hello' when the socket received op 8, else the close code. */
  async function outcome(s: VoiceSocket): Promise<'hello' | number> {
    return new Promise((resolve) => {
      s.on('message', (m) => resolve(m.op === 8 ? 'hello' : -1));
      s.on('close', (code) => resolve(code));
    });
  }

  it('connects with wss:// trusting a given CA', async () => {
    const { endpoint, ca } = await start();
    socket = new VoiceSocket({ endpoint, tls: { ca } });
    expect(socket.url.startsWith('wss://')).toBe(true);
    const ops: unknown[] = [];
    socket.on('message', (m) => ops.push(m.op));
    await until(() => ops.length === 1);
    expect(ops).toEqual([8]);
  });

  it('refuses an untrusted certificate by default (close 1006, no exception)', async () => {
    const { endpoint } = await start();
    socket = new VoiceSocket({ endpoint });
    const closes: number[] = [];
    const debug: string[] = [];
    socket.on('close', (code) => closes.push(code));
    socket.on('debug', (m) => debug.push(m));
    await until(() => closes.length === 1);
    expect(closes).toEqual([1006]);
    expect(debug.some((m) => m.startsWith('websocket error'))).toBe(true);
  });

  it('shares one TLS context per CA yet verifies each connection against its own CA', async () => {
    const a = await start();
    const b = await start();
    expect(sharedSecureContext(a.ca)).toBe(sharedSecureContext(a.ca));
    expect(sharedSecureContext(a.ca)).not.toBe(sharedSecureContext(b.ca));
    expect(sharedSecureContext()).not.toBe(sharedSecureContext(a.ca));
    const cases: [VoiceSocket, 'hello' | number][] = [
      [new VoiceSocket({ endpoint: a.endpoint, tls: { ca: a.ca } }), 'hello'],
      [new VoiceSocket({ endpoint: a.endpoint, tls: { ca: Buffer.from(a.ca) } }), 'hello'],
      [new VoiceSocket({ endpoint: b.endpoint, tls: { ca: b.ca } }), 'hello'],
      // The wrong CA, or none (system roots), is refused on a shared context too.
      [new VoiceSocket({ endpoint: b.endpoint, tls: { ca: a.ca } }), 1006],
      [new VoiceSocket({ endpoint: a.endpoint }), 1006],
      // rejectUnauthorized stays per connection.
      [new VoiceSocket({ endpoint: b.endpoint, tls: { ca: a.ca, rejectUnauthorized: false } }), 'hello'],
    ];
    others.push(...cases.map(([s]) => s));
    expect(await Promise.all(cases.map(([s]) => outcome(s)))).toEqual(cases.map(([, want]) => want));
  });
});
