/**
 * Reading a RIFF/WAVE header: the length of the audio it holds. One home for the player's
 * track.durationMs and the node's loadtracks length.
 */

function ascii(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + 4));
}

/**
 * A RIFF/WAVE file's duration from its header (`head`: its first bytes) and size: the data chunk's
 * length over the fmt chunk's byte rate. A streamed WAV (data size 0 or 0xFFFFFFFF) counts to the
 * end of the file.
 */
export function wavDurationMs(head: Uint8Array, fileSize: number): number | undefined {
  if (head.length < 12 || ascii(head, 0) !== 'RIFF' || ascii(head, 8) !== 'WAVE') return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let byteRate: number | undefined;
  for (let pos = 12; pos + 8 <= head.length;) {
    const id = ascii(head, pos);
    const size = view.getUint32(pos + 4, true);
    if (id === 'fmt ' && pos + 20 <= head.length) byteRate = view.getUint32(pos + 16, true);
    if (id === 'data') {
      if (byteRate === undefined || byteRate === 0) return undefined;
      const available = Math.max(0, fileSize - (pos + 8));
      const bytes = size === 0 || size === 0xffffffff ? available : Math.min(size, available);
      return (bytes * 1000) / byteRate;
    }
    pos += 8 + size + (size & 1);
  }
  return undefined;
}
