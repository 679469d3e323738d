/**
 * One media connection: a connected UDP socket, IP discovery, keepalive, paced RTP send and RTP
 * receive. Everything periodic (sending, keepalive, discovery retries) runs off the engine's shared
 * pacing clock: no timer per channel, none per packet.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { VoxcordError } from '../errors.js';
import {
  IP_DISCOVERY_ATTEMPTS,
  IP_DISCOVERY_PACKET_BYTES,
  IP_DISCOVERY_RESPONSE,
  IP_DISCOVERY_RETRY_MS,
  RTP_HEADER_BYTES,
  SAMPLES_PER_FRAME,
  TRANSPORT_REPLAY_MAX_SSRCS,
  UDP_KEEPALIVE_INTERVAL_MS,
  UDP_RECEIVE_BUFFER_BYTES,
} from '../protocol/constants.js';
import type { EncryptionMode } from '../protocol/constants.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { ClockSlot, ClockTick, PacingClock } from './clock.js';
import { buildIpDiscoveryRequest, parseIpDiscoveryResponse } from './ip-discovery.js';
import { buildKeepalive, isKeepalive } from './keepalive.js';
import { emptySendDrops } from './media-engine.js';
import type {
  DiscoveredAddress,
  FrameProtection,
  MediaChannel,
  MediaChannelEvents,
  MediaChannelOptions,
  MediaChannelStats,
  RtpDropReason,
  SendCounts,
  SendDropReason,
} from './media-engine.js';
import { LatenessHistogram } from './lateness-histogram.js';
import { makeRoom } from '../util/bounded.js';
import { ReplayWindow } from './replay-window.js';
import { emptyOpenedRtp, openRtpPacketInto, RTP_SEND_OVERHEAD, RtpPacketizer } from './rtp-packet.js';
import type { RtpBatchWriter } from './rtp-batch.js';
import { emptySendSlot, SendQueue } from './send-queue.js';
import type { SendQueueOptions } from './send-queue.js';
import { createTransportCipher } from './transport-cipher.js';
import type { TransportBackend, TransportCipher } from './transport-cipher.js';
import type { DaveSendKey } from '../dave/send-key.js';
import { DAVE_MAX_OPUS_SUPPLEMENTAL, FRAME_DROPPED, FRAME_UNCHANGED } from '../dave/frame-encryptor.js';

/** Engine-level knobs for channels (defaults from the protocol constants). */
export interface ChannelTuning extends SendQueueOptions {
  ipDiscoveryRetryMs?: number;
  ipDiscoveryAttempts?: number;
  keepaliveIntervalMs?: number;
  transportBackend?: 'auto' | TransportBackend;
}

const U32 = 0x1_0000_0000;

/** The shared datagram buffer's size: an Opus packet (at most 1275 bytes) with all framing fits. */
const DATAGRAM_BYTES = 2048;
/**
 * One datagram buffer for every channel on this thread: a packet is built in it (DAVE frame and
 * transport sealed in place) and sent before the next is built, so sending allocates no buffer.
 * socket.send() normally hands the bytes to the kernel before returning (uv_udp_try_send); when
 * the socket's queue is not empty libuv keeps the buffer instead, and then this one is left to it
 * and a new one is made (UdpMediaChannel.sendMedia).
 */
let datagramBuffer: Buffer | null = null;
/** Views of datagramBuffer by datagram length, made once each (socket.send sends a whole view). */
let datagramViews: (Buffer | undefined)[] = new Array<Buffer | undefined>(DATAGRAM_BYTES + 1);

/** The datagram buffer stays with libuv's send queue: the next packet is built in a new one. */
function leaveDatagramBuffer(): void {
  datagramBuffer = null;
  datagramViews = new Array<Buffer | undefined>(DATAGRAM_BYTES + 1);
}

/** Scratch for the packet being opened: used within one onDatagram call, on this thread only. */
const opened = emptyOpenedRtp();
/** Scratch for the frame being sent: used within one onTick call, on this thread only. */
const sending = emptySendSlot();

/** ICMP-reported conditions on a connected socket: the server may come back, the socket is fine. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAGAIN',
]);

function emptyDrops(): Record<RtpDropReason, number> {
  return {
    'too-short': 0,
    'not-rtp': 0,
    rtcp: 0,
    'payload-type': 0,
    'auth-failed': 0,
    'no-key': 0,
    malformed: 0,
    replay: 0,
  };
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function validateOptions(options: MediaChannelOptions): void {
  const { ssrc, serverHost, serverPort } = options;
  if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) {
    throw new VoxcordError('INVALID_ARGUMENT', 'ssrc must be a 32-bit unsigned integer');
  }
  if (typeof serverHost !== 'string' || serverHost.length === 0) {
    throw new VoxcordError('INVALID_ARGUMENT', 'serverHost must be a non-empty string');
  }
  if (!Number.isInteger(serverPort) || serverPort < 1 || serverPort > 0xffff) {
    throw new VoxcordError('INVALID_ARGUMENT', 'serverPort must be an integer in 1..65535');
  }
}

interface Discovery {
  promise: Promise<DiscoveredAddress>;
  resolve(address: DiscoveredAddress): void;
  reject(error: VoxcordError): void;
  attemptsLeft: number;
  /** -1 until the first tick after the first attempt (the channel may have slept: no current tick). */
  nextAttemptTick: number;
}

/** Opens the socket (connected to the server) and registers on the clock. */
export async function openUdpChannel(
  options: MediaChannelOptions,
  clock: PacingClock,
  tuning: ChannelTuning = {},
  onClosed?: () => void,
): Promise<UdpMediaChannel> {
  validateOptions(options);
  const socket = createSocket({
    type: isIPv6(options.serverHost) ? 'udp6' : 'udp4',
    recvBufferSize: UDP_RECEIVE_BUFFER_BYTES,
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      try {
        socket.close();
      } catch {
        // already closed
      }
      reject(
        new VoxcordError('UDP_ERROR', 'could not open the media UDP socket', {
          cause: err,
          details: { code: errnoCode(err) },
        }),
      );
    };
    socket.once('error', onError);
    socket.connect(options.serverPort, options.serverHost, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return new UdpMediaChannel(options, socket, clock, tuning, onClosed);
}

export class UdpMediaChannel extends TypedEmitter<MediaChannelEvents> implements MediaChannel {
  private readonly ssrc: number;
  private readonly queue: SendQueue;
  private readonly packetizer: RtpPacketizer;
  private readonly slot: ClockSlot;
  private readonly periodMs: number;
  private readonly timestampBase = randomInt(0, U32);
  private readonly keepaliveTicks: number;
  private readonly discoveryRetryTicks: number;
  private readonly discoveryAttempts: number;
  private readonly transportBackend: 'auto' | TransportBackend;
  private cipher: TransportCipher | null = null;
  /** Per sender SSRC: transport nonces already received under the current key. */
  private readonly replayWindows = new Map<number, ReplayWindow>();
  /** The window of the last SSRC looked up (consecutive packets are often one sender's). */
  private lastReplaySsrc = -1;
  private lastReplayWindow: ReplayWindow | undefined;
  /** receiveInto()'s batch, this channel's id in it and the callback after each packet added. */
  private batch: RtpBatchWriter | undefined;
  private batchId = 0;
  private onBatched: ((receivedAt: number) => void) | undefined;
  private discovery: Discovery | null = null;
  private keepaliveCounter = 0;
  private nextKeepaliveTick: number;
  private currentTick = 0;
  /** Due time of the last tick this channel took (sendCountsAt). */
  private lastTickDue: number | undefined;
  private closed = false;
  private readonly counters: Omit<MediaChannelStats, 'packetsDropped' | 'underruns'> = {
    packetsSent: 0,
    bytesSent: 0,
    silenceFramesSent: 0,
    latePackets: 0,
    packetsReceived: 0,
    keepalivesSent: 0,
  };
  /** Times the queue ran dry while audio was flowing (no endBurst): the producer fell behind. */
  private underruns = 0;
  /** The last tick sent a queued (non-silence) frame. */
  private flowing = false;
  /** An audio frame was taken and the burst has not ended: an empty tick now is a nulled frame. */
  private inBurst = false;
  private readonly drops = emptyDrops();
  private readonly lateness = new LatenessHistogram();
  private protection: FrameProtection['mode'] = 'plain';
  private dropReason: SendDropReason = 'no-key';
  /** The DAVE sender state (ratchet, nonce): an ES private field, never shown by inspection. */
  /** The send key in force; the only holder of the secret and its ratchet on this thread. */
  #sendKey: DaveSendKey | undefined;
  /**
   * The largest payload the transport cipher seals from the WebAssembly core's stage (0: none): a
   * DAVE frame up to it is encrypted into the stage and sealed there (one copy in, one out).
   */
  private stagedPayloadMax = 0;
  private readonly sent: SendCounts = { encrypted: 0, plain: 0, dropped: emptySendDrops(), emptyTicks: 0 };
  /** Frames still queued when the channel closed, until takeQueued() collects them. */
  private leftover: Uint8Array[] = [];
  /** Send/receive errors judged transient (ICMP unreachable); not fatal, not emitted. */
  transientErrors = 0;
  /** Called after frames leave the queue (sent or cleared); the worker host mirrors `queued` with it. */
  onDequeue: (() => void) | undefined;
  /** Set by the worker host: sendCounts() changed without a dequeue (an empty tick in a burst). */
  onCountsChanged: (() => void) | undefined;
  /** Without getSendQueueCount() (a socket stand-in), every datagram gets its own buffer. */
  private readonly sendQueueVisible: boolean;
  /** Shared completion callback for control sends (one function per channel, not per datagram). */
  private readonly onSent = (err: Error | null): void => {
    if (err) this.onSocketError(err);
  };

  constructor(
    options: MediaChannelOptions,
    private readonly socket: Socket,
    private readonly clock: PacingClock,
    tuning: ChannelTuning = {},
    private readonly onClosed?: () => void,
  ) {
    super();
    this.ssrc = options.ssrc;
    this.periodMs = clock.periodMs;
    this.queue = new SendQueue({ drain: () => this.emit('drain') }, tuning);
    this.packetizer = new RtpPacketizer(options.ssrc, { sequence: randomInt(0, 0x10000) });
    const ticks = (ms: number): number => Math.max(1, Math.round(ms / this.periodMs));
    this.keepaliveTicks = ticks(tuning.keepaliveIntervalMs ?? UDP_KEEPALIVE_INTERVAL_MS);
    this.discoveryRetryTicks = ticks(tuning.ipDiscoveryRetryMs ?? IP_DISCOVERY_RETRY_MS);
    this.discoveryAttempts = Math.max(1, tuning.ipDiscoveryAttempts ?? IP_DISCOVERY_ATTEMPTS);
    this.transportBackend = tuning.transportBackend ?? 'auto';
    this.nextKeepaliveTick = this.keepaliveTicks;
    this.sendQueueVisible = typeof socket.getSendQueueCount === 'function';

    socket.on('message', (msg) => this.onDatagram(msg, performance.now()));
    socket.on('error', (err) => this.onSocketError(err));
    this.slot = clock.register((tick) => {
      this.onTick(tick);
      this.sleepIfIdle();
    });
    // discord.js sends one keepalive as soon as the socket exists, then every 5 s.
    this.sendKeepalive();
  }

  get queued(): number {
    return this.queue.length;
  }

  discoverAddress(): Promise<DiscoveredAddress> {
    if (this.closed) return Promise.reject(new VoxcordError('DESTROYED', 'media channel is closed'));
    if (this.discovery) return this.discovery.promise;
    let resolve!: (a: DiscoveredAddress) => void;
    let reject!: (e: VoxcordError) => void;
    const promise = new Promise<DiscoveredAddress>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.discovery = { promise, resolve, reject, attemptsLeft: this.discoveryAttempts, nextAttemptTick: 0 };
    this.slot.wake();
    this.discoveryStep();
    if (this.discovery !== null) this.discovery.nextAttemptTick = -1;
    return promise;
  }

  setTransport(mode: EncryptionMode, key: Uint8Array): void {
    if (this.closed) throw new VoxcordError('DESTROYED', 'media channel is closed');
    // The packetizer keeps its nonce counter across ciphers (a counter must never repeat for a key).
    this.cipher = createTransportCipher(mode, key, { backend: this.transportBackend });
    this.stagedPayloadMax = this.cipher.stagedPayloadMax ?? 0;
    this.packetizer.setCipher(this.cipher);
    // Nonces are per key: under a new one the server's counters may start again.
    this.replayWindows.clear();
    this.lastReplaySsrc = -1;
    this.lastReplayWindow = undefined;
  }

  /**
   * Received packets go straight into `batch` as channel `id` (decrypted into its buffer), then
   * `onAdded(receivedAt)` runs; no 'rtp' event and no object per packet (the worker host).
   * Drops are still counted and emitted as 'drop'.
   */
  receiveInto(batch: RtpBatchWriter, id: number, onAdded: (receivedAt: number) => void): void {
    this.batch = batch;
    this.batchId = id;
    this.onBatched = onAdded;
  }

  setFrameProtection(protection: FrameProtection): void {
    if (this.closed) return;
    this.protection = protection.mode;
    if (protection.mode === 'drop') this.dropReason = protection.reason;
    if (protection.mode !== 'encrypt') return;
    // A new key (op 22) has its own ratchet and nonce counter; the next frame taken uses it.
    this.#sendKey = protection.key;
  }

  sendCounts(): SendCounts {
    return { ...this.sent, dropped: { ...this.sent.dropped } };
  }

  /** The counts sendCounts() copies, as they are now: read them at once, never keep or change them. */
  liveSendCounts(): Readonly<SendCounts> {
    return this.sent;
  }

  sendCountsAt(): number | undefined {
    return this.closed ? undefined : this.lastTickDue;
  }

  async takeQueued(): Promise<Uint8Array[]> {
    return this.takeQueuedNow();
  }

  /** takeQueued() without the promise (the worker host). */
  takeQueuedNow(): Uint8Array[] {
    if (this.closed) {
      const frames = this.leftover;
      this.leftover = [];
      return frames;
    }
    const frames = this.queue.take();
    this.onDequeue?.();
    return frames;
  }

  enqueue(frame: Uint8Array): boolean {
    if (this.closed) return false;
    if (!(frame instanceof Uint8Array))
      throw new VoxcordError('INVALID_ARGUMENT', 'frame must be a Uint8Array');
    this.slot.wake();
    return this.queue.enqueue(frame);
  }

  endBurst(): void {
    if (this.closed) return;
    this.slot.wake();
    this.queue.endBurst();
  }

  clearQueue(): void {
    this.queue.clear();
    this.flowing = false;
    this.inBurst = false;
    this.onDequeue?.();
  }

  async stats(): Promise<MediaChannelStats> {
    return this.statsNow();
  }

  /** The same as stats(), built at once (the worker answers them a few at a time). */
  statsNow(): MediaChannelStats {
    return {
      ...this.counters,
      packetsDropped: { ...this.drops },
      send: this.sendCounts(),
      sendLateness: this.lateness.toJSON(),
      underruns: this.underruns,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.slot.release();
    this.leftover = this.queue.take();
    this.#sendKey = undefined;
    const discovery = this.discovery;
    this.discovery = null;
    discovery?.reject(new VoxcordError('DESTROYED', 'media channel closed during IP discovery'));
    try {
      this.socket.close();
    } catch {
      // already closed
    }
    this.onClosed?.();
  }

  // ---- clock ----

  private onTick(tick: ClockTick): void {
    if (this.closed) return;
    const n = tick.cycle - this.slot.firstCycle;
    if (n < 0) return;
    this.currentTick = n;
    this.lastTickDue = tick.due;
    const d = this.discovery;
    // The first attempt went between the previous cycle and this one.
    if (d && d.nextAttemptTick < 0) d.nextAttemptTick = n - 1 + this.discoveryRetryTicks;
    else if (d && n >= d.nextAttemptTick) this.discoveryStep();
    if (n >= this.nextKeepaliveTick) {
      this.nextKeepaliveTick = n + this.keepaliveTicks;
      this.sendKeepalive();
    }
    // Frames wait until op 4 gave us a key, or while a DAVE group forms; the timestamp keeps
    // advancing regardless.
    if (!this.packetizer.hasCipher || this.protection === 'hold') {
      if (this.inBurst) this.countEmptyTick();
      return;
    }
    const item = sending;
    if (!this.queue.nextInto(item)) {
      if (this.flowing) this.underruns++;
      if (this.inBurst) this.countEmptyTick();
      this.flowing = false;
      return;
    }
    const silence = item.silence;
    const endsBurst = item.endsBurst;
    this.flowing = !silence;
    if (!silence) this.inBurst = true;
    if (endsBurst) this.inBurst = false;
    const { bytes, offset, length } = item;
    const room = RTP_SEND_OVERHEAD + length + DAVE_MAX_OPUS_SUPPLEMENTAL;
    const datagram =
      room <= DATAGRAM_BYTES
        ? (datagramBuffer ??= Buffer.allocUnsafeSlow(DATAGRAM_BYTES))
        : Buffer.allocUnsafe(room);
    let payloadLength = length;
    let staged = false;
    if (silence) {
      datagram.set(bytes.subarray(offset, offset + length), RTP_HEADER_BYTES);
    } else {
      // Both passes in the core, the frame staged between them, where the frame surely fits.
      staged = this.protection === 'encrypt' && length + DAVE_MAX_OPUS_SUPPLEMENTAL <= this.stagedPayloadMax;
      payloadLength = this.protectInto(bytes, offset, length, datagram, staged);
      this.onDequeue?.();
      // Dropped: this tick is used up all the same, so a track plays out at the real-time pace.
      if (payloadLength === FRAME_DROPPED) return;
      // Unchanged (silence, passthrough): copied into the datagram at its own length; an encrypted
      // frame is longer (tag and trailer), and only that one was staged.
      staged &&= payloadLength > length;
    }
    if (payloadLength > 0) {
      const timestamp = (this.timestampBase + ((n * SAMPLES_PER_FRAME) % U32)) % U32;
      const size = this.packetizer.packetizeInPlace(datagram, payloadLength, timestamp, staged);
      this.sendMedia(datagram, size);
      // Lateness at the moment of sending: includes the bucket's burst before this channel.
      const lateMs = this.clock.now() - tick.due;
      const counters = this.counters;
      counters.packetsSent++;
      counters.bytesSent += size;
      if (silence) counters.silenceFramesSent++;
      if (lateMs > this.periodMs) counters.latePackets++;
      this.lateness.record(lateMs);
    }
    if (endsBurst) this.emit('burstEnd');
  }

  /**
   * Nothing to send, no burst to count, no discovery to retry: the clock need not wake this thread
   * for the channel before its next keepalive (a channel that only receives costs no wake-up per
   * 20 ms). enqueue(), endBurst() and discoverAddress() wake it; cycles keep counting meanwhile, so
   * the RTP timestamps of the next burst follow real time as before.
   */
  private sleepIfIdle(): void {
    if (this.closed || this.discovery !== null || this.inBurst || this.flowing || this.queue.busy) return;
    this.slot.sleepUntil(this.slot.firstCycle + this.nextKeepaliveTick);
  }

  /** A tick inside a burst with no frame out; the owner hears of it (a stall must be visible while it lasts). */
  private countEmptyTick(): void {
    this.sent.emptyTicks++;
    this.onCountsChanged?.();
  }

  /**
   * Writes the frame `src[offset, offset + length)` as it goes on the wire (DAVE-encrypted with the
   * key of this moment) into the datagram after the RTP header; returns its length, or FRAME_DROPPED.
   * `toStage`: an encrypted frame goes to the WebAssembly core's stage instead (the datagram is
   * then left alone).
   */
  private protectInto(
    src: Uint8Array,
    offset: number,
    length: number,
    datagram: Uint8Array,
    toStage: boolean,
  ): number {
    if (this.protection === 'encrypt') {
      const key = this.#sendKey;
      const written =
        key === undefined
          ? FRAME_DROPPED
          : toStage
            ? key.encryptFrameToStage(src, offset, length)
            : key.encryptFrameInto(src, offset, length, datagram, RTP_HEADER_BYTES);
      if (written === FRAME_DROPPED) return this.dropFrame('no-key');
      if (written !== FRAME_UNCHANGED) {
        this.sent.encrypted++;
        return written;
      }
    } else if (this.protection === 'drop') {
      return this.dropFrame(this.dropReason);
    }
    this.sent.plain++;
    datagram.set(src.subarray(offset, offset + length), RTP_HEADER_BYTES);
    return length;
  }

  private dropFrame(reason: SendDropReason): typeof FRAME_DROPPED {
    this.sent.dropped[reason]++;
    this.emit('sendDrop', reason, 1);
    return FRAME_DROPPED;
  }

  private discoveryStep(): void {
    const d = this.discovery;
    if (!d) return;
    if (d.attemptsLeft === 0) {
      this.discovery = null;
      d.reject(
        new VoxcordError(
          'IP_DISCOVERY_FAILED',
          `no IP discovery response after ${this.discoveryAttempts} attempts`,
        ),
      );
      return;
    }
    d.attemptsLeft--;
    d.nextAttemptTick = this.currentTick + this.discoveryRetryTicks;
    this.send(buildIpDiscoveryRequest(this.ssrc));
  }

  private sendKeepalive(): void {
    this.send(buildKeepalive(this.keepaliveCounter));
    this.keepaliveCounter = (this.keepaliveCounter + 1) >>> 0;
    this.counters.keepalivesSent++;
  }

  // ---- socket ----

  /**
   * Control datagrams (keepalive, IP discovery): with a completion callback, so a socket that
   * fails for good is noticed within one keepalive interval even when media sends see nothing.
   */
  private send(datagram: Uint8Array): void {
    if (this.closed) return;
    try {
      this.socket.send(datagram, this.onSent);
    } catch (err) {
      this.onSocketError(err);
    }
  }

  /**
   * Media: no callback. A callback costs a process.nextTick per packet; ICMP errors on the
   * connected socket still arrive as 'error' events and other failures through the keepalive.
   * The socket is connected (openUdpChannel), so dgram queues nothing in JS: the datagram is in
   * the kernel, or in libuv's send queue holding `datagram` until it goes.
   */
  private sendMedia(datagram: Buffer, size: number): void {
    const socket = this.socket;
    const shared = datagram === datagramBuffer;
    try {
      socket.send(shared ? (datagramViews[size] ??= datagram.subarray(0, size)) : datagram.subarray(0, size));
    } catch (err) {
      this.onSocketError(err);
    }
    if (shared && (!this.sendQueueVisible || socket.getSendQueueCount() > 0)) leaveDatagramBuffer();
  }

  private onDatagram(msg: Buffer, receivedAt: number): void {
    if (this.closed) return;
    if (msg.length === IP_DISCOVERY_PACKET_BYTES && msg[0] === 0 && msg[1] === IP_DISCOVERY_RESPONSE) {
      const d = this.discovery;
      const parsed = d ? parseIpDiscoveryResponse(msg) : null;
      // A reply for another SSRC is not ours (a stray or forged datagram): keep waiting.
      if (d && parsed && parsed.ssrc === this.ssrc) {
        this.discovery = null;
        d.resolve({ address: parsed.address, port: parsed.port });
      }
      return; // late or duplicate discovery replies are not media
    }
    if (isKeepalive(msg)) return;
    const cipher = this.cipher;
    if (cipher === null) return this.drop('no-key');
    // Decrypted straight into the worker's batch (receiveInto), or into a buffer of its own.
    const batch = this.batch;
    const out = batch === undefined ? Buffer.allocUnsafe(msg.length) : batch.reserve(msg.length);
    const drop = openRtpPacketInto(msg, cipher, out, batch === undefined ? 0 : batch.end, opened);
    if (drop !== undefined) return this.drop(drop);
    const { info, payloadOffset, payloadLength } = opened;
    if (!this.replayWindowOf(info.ssrc).accept(opened.nonce)) return this.drop('replay');
    this.counters.packetsReceived++;
    if (batch !== undefined) {
      batch.addInPlace(
        this.batchId,
        info.ssrc,
        info.sequence,
        info.timestamp,
        payloadOffset,
        payloadLength,
        receivedAt,
      );
      this.onBatched!(receivedAt);
      return;
    }
    this.emit('rtp', {
      ssrc: info.ssrc,
      sequence: info.sequence,
      timestamp: info.timestamp,
      payload: out.subarray(payloadOffset, payloadOffset + payloadLength),
      receivedAt,
    });
  }

  /** Only authenticated packets get here, so only the server's key can add SSRCs; still bounded. */
  private replayWindowOf(ssrc: number): ReplayWindow {
    if (ssrc === this.lastReplaySsrc) return this.lastReplayWindow!;
    let window = this.replayWindows.get(ssrc);
    if (window === undefined) {
      // May evict the cached window's SSRC: the cache moves to the new one below in any case.
      makeRoom(this.replayWindows, ssrc, TRANSPORT_REPLAY_MAX_SSRCS);
      window = new ReplayWindow();
      this.replayWindows.set(ssrc, window);
    }
    this.lastReplaySsrc = ssrc;
    this.lastReplayWindow = window;
    return window;
  }

  private drop(reason: RtpDropReason): void {
    this.drops[reason]++;
    this.emit('drop', reason);
  }

  private onSocketError(err: unknown): void {
    if (this.closed) return;
    const code = errnoCode(err);
    if (code !== undefined && TRANSIENT_CODES.has(code)) {
      this.transientErrors++;
      return;
    }
    const error = new VoxcordError('UDP_ERROR', 'media UDP socket failed', {
      cause: err,
      details: { code },
    });
    this.close();
    // An 'error' event without a listener would throw; the channel is closed either way.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
