/** Ogg page framing (RFC 3533 §6): the fixed header and where a page's first packet lies. */

/** Bytes of a page header before its segment table. */
export const OGG_HEADER_BYTES = 27;

/** Whether a page's capture pattern "OggS" starts at `pos`. */
export function isOggCapture(buf: Uint8Array, pos: number): boolean {
  return buf[pos] === 0x4f && buf[pos + 1] === 0x67 && buf[pos + 2] === 0x67 && buf[pos + 3] === 0x53;
}

/** The first packet (or its start, when it continues on the next page) of a page's body. */
export function firstPacketStart(table: Uint8Array, body: Uint8Array): Uint8Array {
  let len = 0;
  for (const lace of table) {
    len += lace;
    if (lace < 255) break;
  }
  return body.subarray(0, len);
}
