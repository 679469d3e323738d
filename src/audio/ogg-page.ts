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

/**
 * Bytes of the page whose capture pattern is at `pos` (header, segment table and body), once its
 * header and segment table are in `buf`; undefined before.
 */
export function oggPageLength(buf: Uint8Array, pos: number): number | undefined {
  const segments = buf[pos + 26];
  if (segments === undefined || buf.length - pos < OGG_HEADER_BYTES + segments) return undefined;
  let body = 0;
  for (let i = 0; i < segments; i++) body += buf[pos + OGG_HEADER_BYTES + i] ?? 0;
  return OGG_HEADER_BYTES + segments + body;
}

/** Where the whole pages at the start of `buf` end (0 when it does not start with a whole page). */
export function wholeOggPagesEnd(buf: Uint8Array): number {
  let pos = 0;
  while (buf.length - pos >= OGG_HEADER_BYTES && isOggCapture(buf, pos)) {
    const total = oggPageLength(buf, pos);
    if (total === undefined || buf.length - pos < total) break;
    pos += total;
  }
  return pos;
}
