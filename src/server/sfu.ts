/**
 * The local SFU (media.md §8): one UDP socket for every call. Answers IP discovery with the
 * datagram's source address, authenticates each RTP packet with its sender's transport key, drops
 * replays (a per-sender window on the transport nonce), and forwards the payload to the other
 * participants of the same call, re-encrypted per receiver (receiver's key and mode, per-receiver
 * nonce counter) with the same seq/timestamp/SSRC. A participant's downstream address is the one
 * it declared in op 1 until its own authenticated, fresh RTP arrives from elsewhere; IP discovery
 * is answered but moves nothing.
 * Everything else (keepalives, RTCP, garbage) is ignored and counted; nothing here throws on input.
 */
import dgram from 'node:dgram';
import { buildIpDiscoveryResponse, parseIpDiscoveryRequest } from '../media/ip-discovery.js';
import { isKeepalive } from '../media/keepalive.js';
import { openRtpPacket, sealRtpPacket } from '../media/rtp-packet.js';
import type { RtpHeaderFields } from '../media/rtp.js';
import { DAVE_MAGIC_MARKER, RTP_HEADER_BYTES, RTP_VERSION } from '../protocol/constants.js';
import type { ClientSession } from './client-session.js';
import type { ServerState } from './server-state.js';
import type { ServerEvent, SfuStats } from './types.js';
import { receiverWithheld, senderWithheld } from './forwarding.js';

/** One-byte extension body added when `rtpExtension` is on: id 1, 1 byte (audio level 127), padding. */
const EXTENSION_BODY = Uint8Array.of(0x10, 0x7f, 0x00, 0x00);
/** A packet held for reordering is released after this long if no next packet comes. */
const REORDER_FLUSH_MS = 60;

function endsWithDaveMarker(payload: Uint8Array): boolean {
  const n = payload.length;
  return n >= 2 && payload[n - 2] === DAVE_MAGIC_MARKER >> 8 && payload[n - 1] === (DAVE_MAGIC_MARKER & 0xff);
}

export class Sfu {
  readonly stats: SfuStats = {
    datagrams: 0,
    ipDiscoveries: 0,
    keepalives: 0,
    forwarded: 0,
    daveFrames: 0,
    dropped: {},
  };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly flushTimers = new Map<ClientSession, NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly state: ServerState,
    private readonly options: { rtpExtension: boolean; log: (event: ServerEvent) => void },
  ) {
    socket.on('message', (msg, rinfo) => this.handle(msg, { address: rinfo.address, port: rinfo.port }));
    socket.on('error', (error) => this.options.log({ type: 'error', reason: 'udp', detail: error.message }));
  }

  static async bind(
    host: string,
    port: number,
    state: ServerState,
    options: { rtpExtension: boolean; receiveBufferBytes?: number; log: (event: ServerEvent) => void },
  ): Promise<Sfu> {
    const socket = dgram.createSocket({
      type: host.includes(':') ? 'udp6' : 'udp4',
      ...(options.receiveBufferBytes === undefined ? {} : { recvBufferSize: options.receiveBufferBytes }),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new Sfu(socket, state, options);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Handles one datagram. Public so tests can feed bytes without a socket. */
  handle(msg: Buffer, from: { address: string; port: number }): void {
    if (this.closed) return;
    this.stats.datagrams++;
    try {
      this.route(msg, from);
    } catch (error) {
      // A bug must not take the SFU down; count it and say so.
      this.drop('internal', undefined);
      this.options.log({ type: 'error', reason: 'sfu', detail: (error as Error).message });
    }
  }

  private route(msg: Buffer, from: { address: string; port: number }): void {
    const discovery = parseIpDiscoveryRequest(msg);
    if (discovery) {
      const session = this.state.sessionBySsrc(discovery.ssrc);
      if (!session) return this.drop('unknown-ssrc', discovery.ssrc);
      this.stats.ipDiscoveries++;
      // Answer only: discovery is unauthenticated, so it never moves anyone's downstream.
      this.send(buildIpDiscoveryResponse(discovery.ssrc, from.address, from.port), from);
      return;
    }
    if (isKeepalive(msg)) {
      this.stats.keepalives++;
      return;
    }
    if (msg.length < RTP_HEADER_BYTES || msg[0]! >>> 6 !== RTP_VERSION)
      return this.drop('not-rtp', undefined);
    const ssrc = msg.readUInt32BE(8);
    const sender = this.state.sessionBySsrc(ssrc);
    if (!sender) return this.drop('unknown-ssrc', ssrc);
    if (!sender.joined || !sender.cipher) return this.drop('not-ready', ssrc);
    const opened = openRtpPacket(msg, sender.cipher);
    if ('drop' in opened) {
      sender.stats.rtpDropped++;
      return this.drop(opened.drop, ssrc);
    }
    // Authentic but seen before: a replay (from anywhere) is neither forwarded nor a rebind.
    if (!sender.inboundNonces.accept(opened.nonce)) {
      sender.stats.rtpDropped++;
      sender.stats.rtpReplayed++;
      return this.drop('replay', ssrc);
    }
    // Speaking rule (voice-gateway.md §5.7): no media before the sender's first op 5.
    if (sender.speaking === null) {
      sender.stats.rtpDropped++;
      return this.drop('no-speaking', ssrc);
    }
    sender.stats.rtpReceived++;
    if (sender.stats.rtpReceived === 1) {
      const { guildId, channelId, userId } = sender;
      this.options.log({ type: 'first-media', guildId, channelId, userId, ssrc });
    }
    // Authenticated and fresh: this is where the sender really is (NAT rebinding).
    sender.observedAddress = { ...from };
    this.forward(sender, opened.info, opened.payload);
  }

  private forward(sender: ClientSession, fields: RtpHeaderFields, payload: Buffer): void {
    const call = this.state.callOf(sender);
    if (!call) return;
    const muted = senderWithheld(this.state.voiceFlags(sender));
    if (muted !== null) return this.withhold(muted);
    const isDaveFrame = endsWithDaveMarker(payload);
    if (isDaveFrame) this.stats.daveFrames++;
    const header = { sequence: fields.sequence, timestamp: fields.timestamp, ssrc: fields.ssrc };
    for (const receiver of call.others(sender)) {
      const address = receiver.udpAddress;
      if (!receiver.cipher || !address) continue;
      const deaf = receiverWithheld(this.state.voiceFlags(receiver), receiver.deaf);
      if (deaf !== null) {
        this.withhold(deaf);
        continue;
      }
      // media.md §8.4: a DAVE protocol frame means nothing to a client without DAVE.
      if (isDaveFrame && receiver.maxDaveProtocolVersion === 0) {
        receiver.stats.daveFramesWithheld++;
        continue;
      }
      const packet = sealRtpPacket(
        header,
        payload,
        receiver.cipher,
        receiver.nextOutboundCounter(),
        this.options.rtpExtension ? EXTENSION_BODY : undefined,
      );
      sender.stats.rtpForwarded++;
      this.deliver(receiver, packet, address);
    }
  }

  private deliver(receiver: ClientSession, packet: Buffer, address: { address: string; port: number }): void {
    const faults = this.state.faults.udp;
    const decision = receiver.udpFaults.process(packet, faults);
    if (decision.applied.includes('drop')) this.drop('fault-drop', receiver.ssrc);
    this.armReorderFlush(receiver, address);
    const delay = faults?.delayMs ?? 0;
    for (const out of decision.send) {
      receiver.stats.rtpDelivered++;
      this.stats.forwarded++;
      if (delay > 0) this.later(delay, () => this.send(out, address));
      else this.send(out, address);
    }
  }

  /** A held (reordered) packet goes out after REORDER_FLUSH_MS if no next packet released it. */
  private armReorderFlush(receiver: ClientSession, address: { address: string; port: number }): void {
    if (!receiver.udpFaults.holding || this.flushTimers.has(receiver)) return;
    const timer = setTimeout(() => {
      this.flushTimers.delete(receiver);
      const held = receiver.udpFaults.takeHeld();
      if (held && !this.closed) {
        receiver.stats.rtpDelivered++;
        this.stats.forwarded++;
        this.send(held, address);
      }
    }, REORDER_FLUSH_MS);
    this.flushTimers.set(receiver, timer);
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  private send(packet: Buffer, to: { address: string; port: number }): void {
    if (this.closed) return;
    this.socket.send(packet, to.port, to.address, (error) => {
      if (error) this.options.log({ type: 'error', reason: 'udp-send', detail: error.message });
    });
  }

  /** Withheld by a forwarding rule (forwarding.ts): counted, not logged per packet. */
  private withhold(reason: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }

  private drop(reason: string, ssrc: number | undefined): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    this.options.log(ssrc === undefined ? { type: 'udp-drop', reason } : { type: 'udp-drop', reason, ssrc });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const timer of this.flushTimers.values()) clearTimeout(timer);
    this.flushTimers.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
