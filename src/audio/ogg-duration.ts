/**
 * The length of an Ogg Opus file from its two ends: the OpusHead on the first page (pre-skip,
 * serial) and the granule position of the stream's last page (RFC 7845 §4). One home for the
 * player's track.durationMs, the node's loadtracks length and `play`'s progress bar.
 */
import { open } from 'node:fs/promises';
import { SAMPLE_RATE } from '../protocol/constants.js';
import { firstPacketStart, isOggCapture, OGG_HEADER_BYTES } from './ogg-page.js';
import { readOpusHead } from './opus-headers.js';
import type { OpusHead } from './opus-headers.js';

/** How much of a file's end is read for its last page (a page is at most 65 307 bytes). */
export const OGG_TAIL_BYTES = 64 * 1024;

/** The OpusHead of the first page in `head` (a file's first bytes); undefined when it is not Ogg Opus. */
export function oggOpusHead(head: Uint8Array): OpusHead | undefined {
  if (head.length < OGG_HEADER_BYTES || !isOggCapture(head, 0)) return undefined;
  const segments = head[26] ?? 0;
  const body = OGG_HEADER_BYTES + segments;
  return readOpusHead(firstPacketStart(head.subarray(OGG_HEADER_BYTES, body), head.subarray(body)));
}

/**
 * The duration `head` (the first bytes) and `tail` (the last bytes) tell, ms. Undefined when the
 * ends do not tell (not Ogg Opus, a chained or cut file, a tail without a page of that stream).
 */
export function oggOpusDurationMs(head: Uint8Array, tail: Uint8Array): number | undefined {
  const opusHead = oggOpusHead(head);
  if (opusHead === undefined) return undefined;
  const serial = new DataView(head.buffer, head.byteOffset + 14, 4).getUint32(0, true);
  for (let pos = tail.length - OGG_HEADER_BYTES; pos >= 0; pos--) {
    if (!isOggCapture(tail, pos) || tail[pos + 4] !== 0) continue;
    const view = new DataView(tail.buffer, tail.byteOffset + pos, OGG_HEADER_BYTES);
    if (view.getUint32(14, true) !== serial) continue;
    const granule = view.getBigInt64(6, true);
    if (granule < 0n) continue; // no packet ends on this page
    return Math.max(0, ((Number(granule) - opusHead.preSkip) * 1000) / SAMPLE_RATE);
  }
  return undefined;
}

/**
 * Read first for the last page: a stream's last page is usually a few KiB (a player opens every
 * track's file for this: 64 KiB per play was garbage that outlived the scavenges of the track's
 * start, promoted and freed only by a full collection).
 */
const OGG_TAIL_FIRST_BYTES = 8 * 1024;

/** An Ogg Opus file's duration, ms; undefined for anything else or a file that cannot be read. */
export async function oggOpusFileDurationMs(path: string): Promise<number | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(size, 512));
    await handle.read(head, 0, head.length, 0);
    for (const want of [OGG_TAIL_FIRST_BYTES, OGG_TAIL_BYTES]) {
      const tailStart = Math.max(0, size - want);
      const tail = Buffer.alloc(size - tailStart);
      await handle.read(tail, 0, tail.length, tailStart);
      const ms = oggOpusDurationMs(head, tail);
      if (ms !== undefined || tailStart === 0) return ms;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}
