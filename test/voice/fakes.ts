/**
 * Test doubles for the voice session: a fake MediaEngine/MediaChannel (no UDP) and a scripted voice
 * gateway (a real `ws` server on 127.0.0.1 whose replies each test drives step by step).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { EncryptionMode } from '../../src/protocol/constants.js';
import { TypedEmitter } from '../../src/util/typed-emitter.js';
import type {
  DiscoveredAddress,
  FrameProtection,
  MediaChannel,
  MediaChannelEvents,
  MediaChannelOptions,
  MediaChannelStats,
  MediaEngine,
} from '../../src/media/media-engine.js';

// ---- fake media ----

export class FakeChannel extends TypedEmitter<MediaChannelEvents> implements MediaChannel {
  readonly enqueued: Uint8Array[] = [];
  transport: { mode: EncryptionMode; key: Uint8Array } | undefined;
  closed = false;
  endBursts = 0;
  clears = 0;
  /** enqueue() returns false once this many frames are queued. */
  highWater = Number.POSITIVE_INFINITY;
  /** endBurst() emits 'burstEnd' on the next turn when true. */
  autoBurstEnd = true;
  /** Absent unless a test installs it (then the session drives holds through it). */
  setFrameProtection?: (protection: FrameProtection) => void;
  /** Shared ordered log, e.g. ['speaking:1', 'enqueue', ...]. */
  log: string[];
  private discovery: Promise<DiscoveredAddress>;
  private queuedFrames = 0;

  constructor(
    readonly options: MediaChannelOptions,
    log: string[],
    discovery: Promise<DiscoveredAddress>,
  ) {
    super();
    this.log = log;
    this.discovery = discovery;
  }

  discoverAddress(): Promise<DiscoveredAddress> {
    return this.discovery;
  }
  setTransport(mode: EncryptionMode, key: Uint8Array): void {
    this.transport = { mode, key: Uint8Array.from(key) };
  }
  enqueue(frame: Uint8Array): boolean {
    this.enqueued.push(frame);
    this.queuedFrames += 1;
    this.log.push('enqueue');
    return this.queuedFrames < this.highWater;
  }
  /** Simulates the clock sending `n` frames. */
  consume(n: number): void {
    this.queuedFrames = Math.max(0, this.queuedFrames - n);
  }
  endBurst(): void {
    this.endBursts += 1;
    this.log.push('endBurst');
    if (this.autoBurstEnd) {
      setImmediate(() => {
        this.queuedFrames = 0;
        this.log.push('burstEnd');
        this.emit('burstEnd');
      });
    }
  }
  clearQueue(): void {
    this.clears += 1;
    this.queuedFrames = 0;
    this.log.push('clearQueue');
  }
  get queued(): number {
    return this.queuedFrames;
  }
  async stats(): Promise<MediaChannelStats> {
    return {
      packetsSent: this.enqueued.length,
      bytesSent: 0,
      silenceFramesSent: 0,
      latePackets: 0,
      packetsReceived: 0,
      packetsDropped: {
        'too-short': 0,
        'not-rtp': 0,
        rtcp: 0,
        'payload-type': 0,
        'auth-failed': 0,
        'no-key': 0,
        malformed: 0,
        replay: 0,
      },
      keepalivesSent: 0,
    };
  }
  close(): void {
    this.closed = true;
    this.log.push('close');
  }
}

export class FakeEngine implements MediaEngine {
  readonly kind = 'inline' as const;
  readonly channels: FakeChannel[] = [];
  readonly log: string[] = [];
  /** What discoverAddress() of the next channel resolves to (or a promise the test controls). */
  discovery: () => Promise<DiscoveredAddress> = () =>
    Promise.resolve({ address: '203.0.113.7', port: 40000 });
  /** Resolution of openChannel; replace to delay or fail it. */
  open: (channel: FakeChannel) => Promise<FakeChannel> = (channel) => Promise.resolve(channel);
  closed = false;

  openChannel(options: MediaChannelOptions): Promise<MediaChannel> {
    const channel = new FakeChannel(options, this.log, this.discovery());
    this.channels.push(channel);
    return this.open(channel);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

// ---- scripted voice gateway ----

export type ClientFrame = { op: number; d: unknown; raw: string } | { op: number; binary: Buffer };

export class ServerConnection {
  readonly received: ClientFrame[] = [];
  readonly url: string;
  /** Reply op 6 to every heartbeat. */
  autoAck = true;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  constructor(
    readonly ws: WebSocket,
    url: string,
  ) {
    this.url = url;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        this.wakeAll();
      });
    });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      if (isBinary) {
        this.received.push({ op: buf[0] ?? -1, binary: buf.subarray(1) });
      } else {
        const raw = buf.toString('utf8');
        const parsed = JSON.parse(raw) as { op: number; d: unknown };
        this.received.push({ op: parsed.op, d: parsed.d, raw });
        if (parsed.op === 3 && this.autoAck) this.send({ op: 6, d: { t: (parsed.d as { t: number }).t } });
      }
      this.wakeAll();
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }
  sendBinary(seq: number, op: number, payload: Uint8Array = new Uint8Array(0)): void {
    const out = Buffer.alloc(3 + payload.byteLength);
    out.writeUInt16BE(seq, 0);
    out[2] = op;
    out.set(payload, 3);
    this.ws.send(out, { binary: true });
  }
  sendRawBinary(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  /** Waits for the next client message with `op` that arrives after `from` (index into received). */
  async waitFor(
    op: number,
    timeoutMs = 5_000,
    from = 0,
  ): Promise<{ op: number; d: unknown; raw: string } & { index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.received.length; i++) {
        const m = this.received[i]!;
        if (m.op === op && 'd' in m) return { ...m, index: i };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for client op ${op}`);
      if (this.ws.readyState >= this.ws.CLOSING)
        throw new Error(`socket closed while waiting for client op ${op}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  ops(): number[] {
    return this.received.map((m) => m.op);
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export class ScriptedServer {
  readonly connections: ServerConnection[] = [];
  private pending: Array<(c: ServerConnection) => void> = [];

  private constructor(readonly wss: WebSocketServer) {
    wss.on('connection', (ws, req) => {
      const conn = new ServerConnection(ws, req.url ?? '');
      this.connections.push(conn);
      const waiter = this.pending.shift();
      if (waiter) waiter(conn);
    });
  }

  static async start(): Promise<ScriptedServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    return new ScriptedServer(wss);
  }

  get endpoint(): string {
    return `127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** The connection number `index` (0-based), waiting for it if needed. */
  connection(index: number, timeoutMs = 5_000): Promise<ServerConnection> {
    const existing = this.connections[index];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection #${index}`)), timeoutMs);
      const check = (): void => {
        const c = this.connections[index];
        if (c) {
          clearTimeout(timer);
          resolve(c);
        } else this.pending.push(check);
      };
      this.pending.push(check);
    });
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** A controllable async source of frames (push / end / fail), tracking whether return() was called. */
export class PushSource implements AsyncIterable<Uint8Array> {
  returned = false;
  private items: Uint8Array[] = [];
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  push(...items: Uint8Array[]): void {
    this.items.push(...items);
    this.notify();
  }
  end(): void {
    this.ended = true;
    this.notify();
  }
  fail(error: Error): void {
    this.error = error;
    this.notify();
  }
  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          const item = this.items.shift();
          if (item !== undefined) return { done: false, value: item };
          if (this.error !== undefined) throw this.error;
          if (this.ended || this.returned) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        this.returned = true;
        this.notify();
        return { done: true, value: undefined };
      },
    };
  }
}

export { sleep, until } from '../support/wait.js';
