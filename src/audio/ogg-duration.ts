/**
 * The length of an Ogg Opus file from its last page's granule position, so `play` can draw a
 * bar; undefined for anything else (ffmpeg inputs, WebM, URLs): progress then shows elapsed time.
 */
import { open } from 'node:fs/promises';
import { SAMPLE_RATE } from '../protocol/constants.js';

const TAIL_BYTES = 64 * 1024;

export async function oggOpusDurationMs(path: string): Promise<number | undefined> {
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
    const preSkip = opusPreSkip(head);
    if (preSkip === undefined) return undefined;
    const tailStart = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.alloc(size - tailStart);
    await handle.read(tail, 0, tail.length, tailStart);
    return lastGranuleDurationMs(tail, preSkip);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The length an Ogg Opus stream's tail gives: its last page's granule position minus pre-skip, ms. */
export function lastGranuleDurationMs(tail: Buffer, preSkip: number): number | undefined {
  const last = tail.lastIndexOf('OggS');
  if (last < 0 || last + 14 > tail.length) return undefined;
  const granule = tail.readBigInt64LE(last + 6);
  if (granule <= 0n) return undefined;
  return (Math.max(0, Number(granule) - preSkip) / SAMPLE_RATE) * 1000;
}

/** OpusHead's pre-skip from the first page, or undefined when the file is not Ogg Opus. */
export function opusPreSkip(head: Uint8Array): number | undefined {
  if (head.length < 28 || Buffer.from(head.subarray(0, 4)).toString('latin1') !== 'OggS') return undefined;
  const segments = head[26]!;
  const start = 27 + segments;
  if (head.length < start + 12) return undefined;
  if (Buffer.from(head.subarray(start, start + 8)).toString('latin1') !== 'OpusHead') return undefined;
  return head[start + 10]! | (head[start + 11]! << 8);
}
