/**
 * Fake 20 ms Opus packets, without vitest: the fuzz targets import them outside a test run
 * (`npm run fuzz`), where importing vitest fails.
 */
export const TOC_20MS = 0xfc; // CELT fullband 20 ms, one frame

/** A distinct fake 20 ms Opus packet. */
export function packet(a: number, b = 0): Uint8Array {
  return Uint8Array.of(TOC_20MS, a, b);
}

/** `count` distinct packets tagged `tag`. */
export function packets(tag: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => packet(tag, i));
}
