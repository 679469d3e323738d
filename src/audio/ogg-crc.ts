/** The Ogg page checksum (RFC 3533): one home for the demuxer (player) and the recorder (receive). */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/**
 * CRC-32, polynomial 0x04c11db7, initial 0, MSB first (not reflected), no final xor. With
 * `checksumAt`, the 4 bytes there count as zero: a page's checksum checked in place (RFC 3533
 * computes it with its own field zeroed), without copying the page.
 */
export function oggCrc(bytes: Uint8Array, checksumAt?: number): number {
  const n = bytes.length;
  const skipFrom = checksumAt ?? n;
  const skipTo = Math.min(n, skipFrom + 4);
  let crc = 0;
  for (let i = 0; i < skipFrom; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!;
  for (let i = skipFrom; i < skipTo; i++) crc = (crc << 8) ^ CRC_TABLE[(crc >>> 24) & 0xff]!;
  for (let i = skipTo; i < n; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!;
  return crc >>> 0;
}
