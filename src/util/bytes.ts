/**
 * Byte helpers, one home each: 32-bit word readers and writers, concatenation, ASCII magic and plain views. Word reads
 * return signed 32-bit integers (what the crypto code's bitwise arithmetic wants); add `>>> 0`
 * where an unsigned value is needed.
 */

/** The parts joined into one new array (always a copy, even of a single part). */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function readBe32(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!;
}

export function writeBe32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
}

/**
 * The big-endian word of the first `n` bytes at `offset`, zero-padded on the right when n < 4
 * (0 when n <= 0): a partial block's words without copying it into a padded scratch block.
 */
export function readBe32Head(buf: Uint8Array, offset: number, n: number): number {
  if (n >= 4) return readBe32(buf, offset);
  let w = 0;
  for (let k = 0; k < n; k++) w |= buf[offset + k]! << (24 - 8 * k);
  return w;
}

/** Writes the first min(n, 4) bytes of `value` big-endian at `offset` (nothing when n <= 0). */
export function writeBe32Head(buf: Uint8Array, offset: number, value: number, n: number): void {
  if (n >= 4) writeBe32(buf, offset, value);
  else for (let k = 0; k < n; k++) buf[offset + k] = value >>> (24 - 8 * k);
}

export function readLe32(buf: Uint8Array, offset: number): number {
  return buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24);
}

export function writeLe32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value;
  buf[offset + 1] = value >>> 8;
  buf[offset + 2] = value >>> 16;
  buf[offset + 3] = value >>> 24;
}

/** Byte-swapped word: a little-endian value read back as big-endian (and the reverse). */
export function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff);
}

/** Whether `bytes` holds the ASCII `text` at `at` (a magic signature); false past the end. */
export function startsWithAscii(bytes: Uint8Array, text: string, at = 0): boolean {
  if (at < 0 || at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** A Buffer (or any typed array) seen as a plain Uint8Array over the same bytes (no copy). */
export function plainBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
