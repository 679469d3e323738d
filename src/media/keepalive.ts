/** UDP keepalive datagram, discord.js style (media.md §6). */
import { UDP_KEEPALIVE_BYTES } from '../protocol/constants.js';

/** 8 bytes: the counter as u32 little-endian, then 4 zero bytes. */
export function buildKeepalive(counter: number): Buffer {
  const out = Buffer.alloc(UDP_KEEPALIVE_BYTES);
  out.writeUInt32LE(counter >>> 0, 0);
  return out;
}

/** An 8-byte datagram whose last 4 bytes are zero (shorter than any RTP packet, so unambiguous). */
export function isKeepalive(msg: Uint8Array): boolean {
  return msg.length === UDP_KEEPALIVE_BYTES && msg[4] === 0 && msg[5] === 0 && msg[6] === 0 && msg[7] === 0;
}
