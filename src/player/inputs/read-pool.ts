/**
 * Read buffers lent to the file input and given back by the demuxed source once its demuxer copied
 * the packets out (Ogg's pushPacked keeps no view of a chunk). A node reads about 16 KiB per
 * second per playing track: a fresh buffer per read is ArrayBuffer memory V8 counts against the old
 * generation, and at 100 players it brought a full mark-compact of the main thread every ~2 s.
 * Shared by all inputs of the thread (at most POOL_BUFFERS kept idle): nothing held per player
 * between reads.
 */
export const READ_BUFFER_BYTES = 16 * 1024;
const POOL_BUFFERS = 16;

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
