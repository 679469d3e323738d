/**
 * ULEB128 as used in DAVE media frame trailers (dave.md §3.2). Decoding follows libdave (from
 * WebRTC): at most 9 bytes of 7 bits, a 10th byte may only be 0 or 1, running off the end is an
 * error. Non-minimal encodings are accepted, as libdave does.
 */

/** Number of bytes `encodeUleb128(value)` produces. `value` is a non-negative safe integer. */
export function uleb128Size(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes `value` at `offset`; returns the offset just past the last byte written. */
export function writeUleb128(value: number, out: Uint8Array, offset: number): number {
  // Division instead of >>> so values above 2^32 (range offsets in tests) encode correctly.
  while (value >= 0x80) {
    out[offset++] = 0x80 | (value & 0x7f);
    value = Math.floor(value / 128);
  }
  out[offset++] = value;
  return offset;
}

export function encodeUleb128(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError('ULEB128 value must be a non-negative safe integer');
  const out = new Uint8Array(uleb128Size(value));
  writeUleb128(value, out, 0);
  return out;
}

/**
 * Result slot for `readUleb128`, reused by callers on hot paths to avoid allocating.
 * `value` is exact up to 2^53 and approximate (but still larger than any frame length) above;
 * `low32` is the value truncated to an unsigned 32-bit integer (the DAVE nonce).
 */
export interface Uleb128Read {
  value: number;
  low32: number;
  next: number;
}

const MAX_BYTES = 10;

/**
 * Decodes one ULEB128 starting at `offset`, not reading at or beyond `end`.
 * Returns false (leaving `out` unspecified) if the encoding runs off `end` or exceeds 64 bits.
 */
export function readUleb128(buf: Uint8Array, offset: number, end: number, out: Uleb128Read): boolean {
  let value = 0;
  let low32 = 0;
  let scale = 1;
  for (let i = 0; i < MAX_BYTES; i++) {
    if (offset >= end) return false;
    const byte = buf[offset++] ?? 0;
    if (i === MAX_BYTES - 1 && byte > 1) return false;
    const bits = byte & 0x7f;
    if (i < 5) low32 |= bits << (7 * i);
    value += bits * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) {
      out.value = value;
      out.low32 = low32 >>> 0;
      out.next = offset;
      return true;
    }
  }
  return false;
}
