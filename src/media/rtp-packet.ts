/**
 * The RTP send and receive algorithms (media.md §4.2, §4.3), shared by the client media engine
 * and the local SFU. Pure: no sockets, no timers.
 */
import { VoxcordError } from '../errors.js';
import {
  OPUS_PAYLOAD_TYPE,
  RTCP_PAYLOAD_TYPE_MAX,
  RTCP_PAYLOAD_TYPE_MIN,
  RTP_EXTENSION_PROFILE_ONE_BYTE,
  RTP_HEADER_BYTES,
  RTP_VERSION,
  TRANSPORT_NONCE_SUFFIX_BYTES,
  TRANSPORT_TAG_BYTES,
} from '../protocol/constants.js';
import type { RtpDropReason } from './media-engine.js';
import { readBe32 } from '../util/bytes.js';
import { emptyRtpPacketInfo, parseRtpHeaderInto, writeRtpHeader } from './rtp.js';
import type { RtpHeaderFields, RtpPacketInfo } from './rtp.js';
import type { TransportCipher } from './transport-cipher.js';

/** Bytes a packet we send adds around its payload: header, transport tag and counter. */
export const RTP_SEND_OVERHEAD = RTP_HEADER_BYTES + TRANSPORT_TAG_BYTES + TRANSPORT_NONCE_SUFFIX_BYTES;

/** Smallest datagram that can be an encrypted RTP packet: header + tag + counter. */
const MIN_ENCRYPTED_PACKET = RTP_SEND_OVERHEAD;
/** Largest one-byte-form extension body: the length field is 16 bits of 32-bit words. */
const MAX_EXTENSION_BODY = 0xffff * 4;

/**
 * Sender state for one SSRC: sequence number and nonce counter. Both are pre-incremented, so with
 * the defaults the first packet has sequence 1 and counter 1. The counter survives cipher changes
 * (a new op 4 keeps the session, and a nonce must never repeat under a key).
 */
export class RtpPacketizer {
  readonly #ssrc: number;
  #sequence: number;
  #counter: number;
  #cipher: TransportCipher | null = null;
  readonly #fields: RtpHeaderFields;

  constructor(ssrc: number, initial?: { sequence?: number; counter?: number }) {
    if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) {
      throw new VoxcordError('INVALID_ARGUMENT', 'SSRC must be a 32-bit unsigned integer');
    }
    this.#ssrc = ssrc;
    this.#sequence = (initial?.sequence ?? 0) & 0xffff;
    this.#counter = (initial?.counter ?? 0) >>> 0;
    this.#fields = { sequence: 0, timestamp: 0, ssrc };
  }

  setCipher(cipher: TransportCipher): void {
    this.#cipher = cipher;
  }

  get hasCipher(): boolean {
    return this.#cipher !== null;
  }

  /** Sequence number of the last packet built (the initial value before the first). */
  get sequence(): number {
    return this.#sequence;
  }

  /** Nonce counter of the last packet built (the initial value before the first). */
  get counter(): number {
    return this.#counter;
  }

  get ssrc(): number {
    return this.#ssrc;
  }

  /**
   * Builds one encrypted packet: sequence +1 (wrapping u16), nonce counter pre-incremented
   * (first = 1, wraps at 2^32). Timestamp is supplied by the caller (from the clock's frame counter).
   */
  packetize(payload: Uint8Array, timestamp: number): Buffer {
    // allocUnsafe draws small buffers from node's pool; every byte is written.
    const out = Buffer.allocUnsafe(RTP_SEND_OVERHEAD + payload.length);
    out.set(payload, RTP_HEADER_BYTES);
    this.packetizeInPlace(out, payload.length, timestamp);
    return out;
  }

  /**
   * packetize() without an allocation, for a payload already at `datagram[RTP_HEADER_BYTES..]`:
   * writes the header in front of it and seals in place. `datagram` must have room for the
   * transport tag and counter after the payload (RTP_SEND_OVERHEAD in all). Returns the length.
   * `staged`: the payload is in the WebAssembly core's stage instead (TransportCipher.sealStaged).
   */
  packetizeInPlace(datagram: Uint8Array, payloadLength: number, timestamp: number, staged = false): number {
    const cipher = this.#cipher;
    if (!cipher) throw new VoxcordError('INVALID_ARGUMENT', 'no transport cipher set (op 4 not received)');
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#counter = (this.#counter + 1) >>> 0;
    const f = this.#fields;
    f.sequence = this.#sequence;
    f.timestamp = timestamp;
    writeRtpHeader(datagram, f);
    return staged
      ? cipher.sealStaged!(datagram, RTP_HEADER_BYTES, payloadLength, this.#counter)
      : cipher.sealInPlace(datagram, RTP_HEADER_BYTES, payloadLength, this.#counter);
  }
}

/** The rtpsize transport nonce counter: the datagram's last 4 bytes, big-endian. */
function transportNonce(packet: Uint8Array): number {
  return readBe32(packet, packet.length - TRANSPORT_NONCE_SUFFIX_BYTES) >>> 0;
}

/** Where openRtpPacketInto put a packet: its header, the payload's place in `out`, the transport nonce. */
export interface OpenedRtp {
  readonly info: RtpPacketInfo;
  payloadOffset: number;
  payloadLength: number;
  nonce: number;
}

/** An OpenedRtp to fill with openRtpPacketInto (a receive loop reuses one). */
export function emptyOpenedRtp(): OpenedRtp {
  return { info: emptyRtpPacketInfo(), payloadOffset: 0, payloadLength: 0, nonce: 0 };
}

/**
 * media.md §4.3 steps 1-9: version, RTCP (pt 72-76) and payload type checks, decrypt, strip padding
 * and extension body. Never throws; SSRC → user mapping (step 3) is the caller's, and so is replay
 * protection on the returned `nonce` (ReplayWindow, fed only with packets that opened).
 */
export function openRtpPacket(
  packet: Uint8Array,
  cipher: TransportCipher,
): { info: RtpPacketInfo; payload: Buffer; nonce: number } | { drop: RtpDropReason } {
  const opened = emptyOpenedRtp();
  // The plaintext is shorter than the packet; allocUnsafe draws small buffers from node's pool.
  const out = Buffer.allocUnsafe(packet.length);
  const drop = openRtpPacketInto(packet, cipher, out, 0, opened);
  if (drop !== undefined) return { drop };
  const { payloadOffset, payloadLength } = opened;
  return {
    info: opened.info,
    payload: out.subarray(payloadOffset, payloadOffset + payloadLength),
    nonce: opened.nonce,
  };
}

/**
 * openRtpPacket() without an object or a buffer per packet: decrypts into `out` from `outOffset`
 * (room for packet.length bytes is the caller's) and fills `opened`. Returns the drop reason, or
 * undefined when `opened` holds the packet (its payload at out[payloadOffset, +payloadLength),
 * after the decrypted extension body). On a drop, out's bytes from outOffset are undefined.
 */
export function openRtpPacketInto(
  packet: Uint8Array,
  cipher: TransportCipher,
  out: Uint8Array,
  outOffset: number,
  opened: OpenedRtp,
): RtpDropReason | undefined {
  if (packet.length < MIN_ENCRYPTED_PACKET) return 'too-short';
  if (packet[0]! >>> 6 !== RTP_VERSION) return 'not-rtp';
  const pt = packet[1]! & 0x7f;
  if (pt >= RTCP_PAYLOAD_TYPE_MIN && pt <= RTCP_PAYLOAD_TYPE_MAX) return 'rtcp';
  if (pt !== OPUS_PAYLOAD_TYPE) return 'payload-type';
  const info = opened.info;
  const bad = parseRtpHeaderInto(packet, info);
  if (bad !== undefined) return bad;
  if (packet.length < info.headerLength + TRANSPORT_TAG_BYTES + TRANSPORT_NONCE_SUFFIX_BYTES)
    return 'malformed';
  let end = cipher.openInto(packet, info.headerLength, out, outOffset);
  if (end < 0) return 'auth-failed';
  if (info.padding) {
    // RFC 3550: the last byte counts the padding including itself.
    const pad = end > 0 ? out[outOffset + end - 1]! : 0;
    if (pad === 0 || pad > end) return 'malformed';
    end -= pad;
  }
  if (info.extensionBodyLength > end) return 'malformed';
  opened.payloadOffset = outOffset + info.extensionBodyLength;
  opened.payloadLength = end - info.extensionBodyLength;
  opened.nonce = transportNonce(packet);
  return undefined;
}

/**
 * For the SFU, which re-encrypts forwarded packets with the receiver's cipher keeping seq/ts/ssrc
 * and optionally adding a 0xBEDE one-byte extension (body, a multiple of 4 bytes, encrypted with
 * the payload as the rtpsize modes require).
 */
export function sealRtpPacket(
  fields: RtpHeaderFields,
  payload: Uint8Array,
  cipher: TransportCipher,
  counter: number,
  extension?: Uint8Array,
): Buffer {
  if (!extension) {
    const header = new Uint8Array(RTP_HEADER_BYTES);
    writeRtpHeader(header, fields);
    return cipher.seal(header, payload, counter);
  }
  if (extension.length % 4 !== 0 || extension.length > MAX_EXTENSION_BODY) {
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      'RTP extension body must be a multiple of 4 bytes (max 262140)',
    );
  }
  const header = new Uint8Array(RTP_HEADER_BYTES + 4);
  writeRtpHeader(header, fields);
  header[0] = header[0]! | 0x10; // X=1
  const words = extension.length / 4;
  header[12] = RTP_EXTENSION_PROFILE_ONE_BYTE >>> 8;
  header[13] = RTP_EXTENSION_PROFILE_ONE_BYTE & 0xff;
  header[14] = words >>> 8;
  header[15] = words & 0xff;
  const plaintext = new Uint8Array(extension.length + payload.length);
  plaintext.set(extension, 0);
  plaintext.set(payload, extension.length);
  return cipher.seal(header, plaintext, counter);
}
