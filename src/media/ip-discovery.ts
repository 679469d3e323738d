/** IP discovery datagrams (media.md §2). Parsers never throw; they return null on anything odd. */
import { isIPv4 } from 'node:net';
import { VoxcordError } from '../errors.js';
import {
  IP_DISCOVERY_ADDRESS_BYTES,
  IP_DISCOVERY_BODY_BYTES,
  IP_DISCOVERY_PACKET_BYTES,
  IP_DISCOVERY_REQUEST,
  IP_DISCOVERY_RESPONSE,
} from '../protocol/constants.js';

const ADDRESS_OFFSET = 8;
const PORT_OFFSET = ADDRESS_OFFSET + IP_DISCOVERY_ADDRESS_BYTES; // 72

function header(type: number, ssrc: number): Buffer {
  const out = Buffer.alloc(IP_DISCOVERY_PACKET_BYTES);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(IP_DISCOVERY_BODY_BYTES, 2);
  out.writeUInt32BE(ssrc >>> 0, 4);
  return out;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** 74-byte request: type 1, length 70, SSRC, zero address and port. */
export function buildIpDiscoveryRequest(ssrc: number): Buffer {
  if (!isU32(ssrc)) throw new VoxcordError('INVALID_ARGUMENT', 'SSRC must be a 32-bit unsigned integer');
  return header(IP_DISCOVERY_REQUEST, ssrc);
}

/** For the SFU: a 74-byte datagram of type 1. */
export function parseIpDiscoveryRequest(msg: Uint8Array): { ssrc: number } | null {
  if (msg.length !== IP_DISCOVERY_PACKET_BYTES) return null;
  if (msg[0] !== 0 || msg[1] !== IP_DISCOVERY_REQUEST) return null;
  return { ssrc: ((msg[4]! << 24) | (msg[5]! << 16) | (msg[6]! << 8) | msg[7]!) >>> 0 };
}

/**
 * 74-byte response: type 2, echoed SSRC, the dotted IPv4 address NUL-padded, the port.
 * Accepts IPv4-mapped IPv6 (`::ffff:a.b.c.d`, as a dual-stack socket reports it).
 */
export function buildIpDiscoveryResponse(ssrc: number, address: string, port: number): Buffer {
  if (!isU32(ssrc)) throw new VoxcordError('INVALID_ARGUMENT', 'SSRC must be a 32-bit unsigned integer');
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (!isIPv4(v4)) throw new VoxcordError('INVALID_ARGUMENT', 'IP discovery address must be IPv4');
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new VoxcordError('INVALID_ARGUMENT', 'port must be an integer in 0..65535');
  }
  const out = header(IP_DISCOVERY_RESPONSE, ssrc);
  out.write(v4, ADDRESS_OFFSET, 'latin1');
  out.writeUInt16BE(port, PORT_OFFSET);
  return out;
}

/** Null unless the datagram is 74 bytes, type 2, and carries a NUL-terminated valid IPv4 string. */
export function parseIpDiscoveryResponse(
  msg: Uint8Array,
): { ssrc: number; address: string; port: number } | null {
  if (msg.length !== IP_DISCOVERY_PACKET_BYTES) return null;
  if (msg[0] !== 0 || msg[1] !== IP_DISCOVERY_RESPONSE) return null;
  const end = msg.indexOf(0, ADDRESS_OFFSET);
  if (end < 0 || end >= PORT_OFFSET) return null; // no terminator inside the 64-byte field
  let address = '';
  for (let i = ADDRESS_OFFSET; i < end; i++) address += String.fromCharCode(msg[i]!);
  if (!isIPv4(address)) return null;
  return {
    ssrc: ((msg[4]! << 24) | (msg[5]! << 16) | (msg[6]! << 8) | msg[7]!) >>> 0,
    address,
    port: (msg[PORT_OFFSET]! << 8) | msg[PORT_OFFSET + 1]!,
  };
}
