/**
 * RTP fixed-header codec (media.md §4.1). Pure functions on bytes; the receive path never throws.
 */
import type { RtpDropReason } from './media-engine.js';
import {
  OPUS_PAYLOAD_TYPE,
  RTP_HEADER_BYTES,
  RTP_VERSION,
  RTP_VERSION_FLAGS,
} from '../protocol/constants.js';

export interface RtpHeaderFields {
  sequence: number;
  timestamp: number;
  ssrc: number;
}

/** Writes the 12-byte header we send: `80 78 seq16 ts32 ssrc32`, big-endian. */
export function writeRtpHeader(target: Uint8Array, fields: RtpHeaderFields, offset = 0): void {
  const seq = fields.sequence & 0xffff;
  const ts = fields.timestamp >>> 0;
  const ssrc = fields.ssrc >>> 0;
  target[offset] = RTP_VERSION_FLAGS;
  target[offset + 1] = OPUS_PAYLOAD_TYPE;
  target[offset + 2] = seq >>> 8;
  target[offset + 3] = seq & 0xff;
  target[offset + 4] = ts >>> 24;
  target[offset + 5] = (ts >>> 16) & 0xff;
  target[offset + 6] = (ts >>> 8) & 0xff;
  target[offset + 7] = ts & 0xff;
  target[offset + 8] = ssrc >>> 24;
  target[offset + 9] = (ssrc >>> 16) & 0xff;
  target[offset + 10] = (ssrc >>> 8) & 0xff;
  target[offset + 11] = ssrc & 0xff;
}

export interface RtpPacketInfo {
  padding: boolean;
  extension: boolean;
  csrcCount: number;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Unencrypted header length, the AAD of the rtpsize modes: 12 + 4·CC + (X ? 4 : 0). */
  headerLength: number;
  /** Bytes of (encrypted) extension body at the start of the plaintext: 4·extlen if X, else 0. */
  extensionBodyLength: number;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Parses the cleartext part of an RTP header. Checks only what the header itself can tell:
 * length (`too-short`), version (`not-rtp`), and that the CSRC list and extension preamble fit
 * (`malformed`). Payload-type policy is the caller's (see openRtpPacket).
 */
export function parseRtpHeader(packet: Uint8Array): RtpPacketInfo | { drop: RtpDropReason } {
  const info = emptyRtpPacketInfo();
  const drop = parseRtpHeaderInto(packet, info);
  return drop === undefined ? info : { drop };
}

/** An RtpPacketInfo to fill with parseRtpHeaderInto (a receive loop reuses one). */
export function emptyRtpPacketInfo(): RtpPacketInfo {
  return {
    padding: false,
    extension: false,
    csrcCount: 0,
    marker: false,
    payloadType: 0,
    sequence: 0,
    timestamp: 0,
    ssrc: 0,
    headerLength: 0,
    extensionBodyLength: 0,
  };
}

/**
 * parseRtpHeader() into `info` (no object per packet): the drop reason, or undefined when `info`
 * now holds the header (left partly written on a drop).
 */
export function parseRtpHeaderInto(packet: Uint8Array, info: RtpPacketInfo): RtpDropReason | undefined {
  if (packet.length < RTP_HEADER_BYTES) return 'too-short';
  const b0 = packet[0]!;
  const b1 = packet[1]!;
  if (b0 >>> 6 !== RTP_VERSION) return 'not-rtp';
  const extension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let headerLength = RTP_HEADER_BYTES + 4 * csrcCount;
  let extensionBodyLength = 0;
  if (extension) {
    if (packet.length < headerLength + 4) return 'malformed';
    extensionBodyLength = 4 * ((packet[headerLength + 2]! << 8) | packet[headerLength + 3]!);
    headerLength += 4;
  } else if (packet.length < headerLength) {
    return 'malformed';
  }
  info.padding = (b0 & 0x20) !== 0;
  info.extension = extension;
  info.csrcCount = csrcCount;
  info.marker = (b1 & 0x80) !== 0;
  info.payloadType = b1 & 0x7f;
  info.sequence = (packet[2]! << 8) | packet[3]!;
  info.timestamp = u32(packet, 4);
  info.ssrc = u32(packet, 8);
  info.headerLength = headerLength;
  info.extensionBodyLength = extensionBodyLength;
  return undefined;
}
