/** Raw websocket / UDP clients for the local voice server tests (no voxcord client code). */
import dgram from 'node:dgram';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import type { EncryptionMode } from '../../src/protocol/constants.js';
import { decodeServerFrame } from '../../src/protocol/voice-messages.js';
import type { ServerMessage } from '../../src/protocol/voice-messages.js';
import { buildIpDiscoveryRequest, parseIpDiscoveryResponse } from '../../src/media/ip-discovery.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import type { TransportCipher } from '../../src/media/transport-cipher.js';
import type { Allocation, VoiceServer } from '../../src/server/index.js';
import type { Cleanup } from '../support/cleanup.js';
import { CHANNEL, GUILD } from '../support/ids.js';

export { Cleanup } from '../support/cleanup.js';
export { CHANNEL, GUILD } from '../support/ids.js';
export { until } from '../support/wait.js';

export interface Received {
  raw: string | Buffer;
  message: ServerMessage;
}

function rawToFrame(data: RawData, isBinary: boolean): string | Buffer {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return isBinary ? buf : buf.toString('utf8');
}

/** Queue of items with waiting `next()`. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];
  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }
  get size(): number {
    return this.items.length;
  }
  next(timeoutMs: number, what: string): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<T>((resolve, reject) => {
      const waiter = (value: T): void => {
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
  /** True if nothing arrives within `ms` (what arrives is taken). */
  async quiet(ms: number): Promise<boolean> {
    try {
      await this.next(ms, 'silence');
      return false;
    } catch {
      return true;
    }
  }
}

export class RawWsClient {
  readonly inbox = new Inbox<Received>();
  readonly closed: Promise<{ code: number; reason: string }>;
  lastSeq = -1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const raw = rawToFrame(data, isBinary);
      const message = decodeServerFrame(raw);
      if (message.seq !== undefined) this.lastSeq = message.seq;
      this.inbox.push({ raw, message });
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {}); // surfaced through `closed`
  }

  static connect(url: string, options: { ca?: string } = {}): Promise<RawWsClient> {
    const ws = new WebSocket(`${url}/?v=8`, options.ca ? { ca: options.ca } : {});
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawWsClient(ws)));
      ws.once('error', reject);
    });
  }

  send(data: unknown): void {
    this.ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
  }

  async next(timeoutMs = 2000): Promise<Received> {
    return this.inbox.next(timeoutMs, 'a server message');
  }

  /** Next message, asserting its opcode. */
  async expect<Op extends ServerMessage['op']>(
    op: Op,
    timeoutMs = 2000,
  ): Promise<Extract<ServerMessage, { op: Op }> & { raw: string | Buffer }> {
    const { raw, message } = await this.next(timeoutMs);
    if (message.op !== op) {
      throw new Error(
        `expected op ${String(op)}, got ${typeof raw === 'string' ? raw : `binary op ${raw[2]}`}`,
      );
    }
    return Object.assign(message as Extract<ServerMessage, { op: Op }>, { raw });
  }

  /** Resolves to true if no message arrives within `ms`. */
  quiet(ms: number): Promise<boolean> {
    return this.inbox.quiet(ms);
  }

  close(code?: number): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(code);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export class RawUdpClient {
  readonly inbox = new Inbox<Buffer>();
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg) => this.inbox.push(msg));
  }
  static async open(): Promise<RawUdpClient> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new RawUdpClient(socket);
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(packet: Uint8Array, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(packet, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
    );
  }
  next(timeoutMs = 2000): Promise<Buffer> {
    return this.inbox.next(timeoutMs, 'a datagram');
  }
  quiet(ms: number): Promise<boolean> {
    return this.inbox.quiet(ms);
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function keyFor(userId: string): Uint8Array {
  // Distinct, recognisable key per user.
  const key = new Uint8Array(32);
  for (let i = 0; i < 32; i++) key[i] = (Number(BigInt(userId) % 251n) + i) & 0xff;
  return key;
}

export interface Joined {
  userId: string;
  allocation: Allocation;
  ws: RawWsClient;
  udp: RawUdpClient;
  ssrc: number;
  udpPort: number;
  key: Uint8Array;
  mode: EncryptionMode;
  cipher: TransportCipher;
}

export function identifyPayload(
  a: { guildId: string; userId: string; sessionId: string; token: string },
  maxDave = 0,
): unknown {
  return {
    op: VoiceOpcode.Identify,
    d: {
      server_id: a.guildId,
      user_id: a.userId,
      session_id: a.sessionId,
      token: a.token,
      max_dave_protocol_version: maxDave,
    },
  };
}

/** Full handshake up to op 4 (op 4 consumed; anything after stays in the inbox). */
export async function join(
  server: VoiceServer,
  cleanup: Cleanup,
  userId: string,
  options: { mode?: EncryptionMode; maxDave?: number; channelId?: string; ca?: string; deaf?: boolean } = {},
): Promise<Joined> {
  const mode = options.mode ?? 'aead_aes256_gcm_rtpsize';
  const allocation = server.allocate({
    guildId: GUILD,
    channelId: options.channelId ?? CHANNEL,
    userId,
    ...(options.deaf === true ? { deaf: true } : {}),
  });
  const ws = await RawWsClient.connect(server.wsUrl, options.ca ? { ca: options.ca } : {});
  cleanup.add(() => ws.terminate());
  await ws.expect(VoiceOpcode.Hello);
  ws.send(identifyPayload(allocation, options.maxDave ?? 0));
  const ready = await ws.expect(VoiceOpcode.Ready);
  const udp = await RawUdpClient.open();
  cleanup.add(() => udp.close());
  await udp.send(buildIpDiscoveryRequest(ready.d.ssrc), ready.d.port);
  const discovered = parseIpDiscoveryResponse(await udp.next());
  if (!discovered) throw new Error('bad IP discovery response');
  ws.send({
    op: VoiceOpcode.SelectProtocol,
    d: { protocol: 'udp', data: { address: discovered.address, port: discovered.port, mode } },
  });
  const description = await ws.expect(VoiceOpcode.SessionDescription);
  const key = Uint8Array.from(description.d.secret_key);
  return {
    userId,
    allocation,
    ws,
    udp,
    ssrc: ready.d.ssrc,
    udpPort: ready.d.port,
    key,
    mode,
    cipher: createTransportCipher(mode, key),
  };
}

export function speak(client: Joined, speaking = 1): void {
  client.ws.send({ op: VoiceOpcode.Speaking, d: { speaking, delay: 0, ssrc: client.ssrc } });
}
