/**
 * Read buffers lent to the file input and given back by the demuxed source once its demuxer copied
 * the packets out (Ogg's pushPacked keeps no view of a chunk). A node reads about 16 KiB per
 * second per playing track: a fresh buffer per read is ArrayBuffer memory V8 counts against the old
 * generation, and at 100 players it brought a full mark-compact of the main thread every ~2 s.
 * Shared by all inputs of the thread (at most POOL_BUFFERS kept idle): nothing held per player
 * between reads.
 *
 * 64 KiB per read (about 4 s of 128 kbit/s Opus): each read costs the process tens of µs whatever
 * its size (libuv's pool thread and the completion's wake-up of this thread, and the player's slow
 * path for the frame that waited on it). bench/node.ts at P = 100, 16 -> 64 KiB: see
 * docs/node-bench-history.md (issue 15, session 12). The price: a player holds the demuxed rest of its
 * chunk, on average half a read, until it is played.
 */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Idle buffers kept (256 KiB): reads in flight at once are few, each given back right after its demux. */
const POOL_BUFFERS = 4;

const idle: Buffer[] = [];
/** Buffers out on loan: only these are taken back (a caller's own chunk never enters the pool). */
const lent = new WeakSet<ArrayBufferLike>();

/** A READ_BUFFER_BYTES buffer for one read; give it back with recycleReadBuffer(). */
export function borrowReadBuffer(): Buffer {
  const buffer = idle.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  lent.add(buffer.buffer);
  return buffer;
}

/**
 * Takes back the buffer `chunk` is a view of, if it was lent by borrowReadBuffer(); the caller
 * holds no view of it any longer. Anything else is left alone.
 */
export function recycleReadBuffer(chunk: Uint8Array): void {
  const backing = chunk.buffer;
  if (!lent.delete(backing)) return;
  if (idle.length < POOL_BUFFERS) idle.push(Buffer.from(backing, 0, READ_BUFFER_BYTES));
}
