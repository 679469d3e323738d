import { describe, it, expect } from 'vitest';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { Responder, twoChannels } from './udp-responder.js';
import { WorkerMediaEngine } from '../../src/media/worker-engine.js';
import type { FrameRingWriter } from '../../src/media/frame-ring.js';
import type { FrameBatchView } from '../../src/media/send-batch.js';
import { until } from '../support/wait.js';
import type { MediaChannel } from '../../src/media/index.js';
import { cleanupAfterEach } from '../support/after-each.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const cleanups = cleanupAfterEach();

/** The main side's end of the engine's (only) worker's frame ring: the races below are staged on it. */
function ringOf(engine: WorkerMediaEngine): FrameRingWriter {
  return (engine as unknown as { shards: { ring: FrameRingWriter }[] }).shards[0]!.ring;
}

/**
 * A one-worker engine with one channel (ssrc 9) sending to a new responder. Keepalives every
 * minute: an idle channel's clock then sleeps through the test.
 */
async function oneChannel(): Promise<{ r: Responder; engine: WorkerMediaEngine; ch: MediaChannel }> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  const engine = new WorkerMediaEngine({ workers: 1, channel: { keepaliveIntervalMs: 60_000 } });
  cleanups.push(() => engine.close());
  const ch = await engine.openChannel({ ssrc: 9, serverHost: '127.0.0.1', serverPort: r.port });
  ch.setTransport(EncryptionMode.XChaCha, KEY);
  return { r, engine, ch };
}

/**
 * Feeds 100 frames (2 s) as a player does: up to the high-water mark, more at each 'drain'; checks
 * that every one reaches the server in order (their lengths, 40-49 bytes, say the order there).
 */
async function feedInOrder(r: Responder, ch: MediaChannel): Promise<void> {
  const TOTAL = 100;
  let next = 0;
  const fill = (): void => {
    // enqueue() takes the frame either way; false says the queue reached its high-water mark.
    while (next < TOTAL) if (!ch.enqueue(new Uint8Array(40 + (next % 10)).fill(next++))) return;
  };
  ch.on('drain', fill);
  fill();
  await until(() => r.rtp().length >= TOTAL, 10_000, 'every frame at the server');
  const overhead = r.rtp()[0]!.length - 40;
  expect(r.rtp().map((d) => d.length - overhead)).toEqual(
    Array.from({ length: TOTAL }, (_, i) => 40 + (i % 10)),
  );
}

describe('worker engine refill signalling', () => {
  it("brings channels' drains together: one main-thread turn refills both", async () => {
    // Default marks (25 / 15): the worker reports dequeues at or below 15 frames.
    const { a, b } = await twoChannels(cleanups, { kind: 'worker' }, EncryptionMode.XChaCha, KEY);
    const frame = new Uint8Array(40).fill(9);
    // Same tick, same bucket: b reaches the drain threshold 3 ticks before a.
    for (let i = 0; i < 20; i++) a.enqueue(frame);
    for (let i = 0; i < 17; i++) b.enqueue(frame);
    const order: string[] = [];
    let turnEnded = false;
    const both = new Promise<void>((resolve) => {
      const onDrain = (name: string) => (): void => {
        order.push(`${name}${turnEnded ? ' (later turn)' : ''}`);
        if (order.length === 1) setImmediate(() => (turnEnded = true));
        if (order.length === 2) resolve();
      };
      a.on('drain', onDrain('a'));
      b.on('drain', onDrain('b'));
    });
    await both;
    // Both drains come from the same worker message: the second one before the loop turns.
    expect(order.sort()).toEqual(['a', 'b']);
    a.close();
    b.close();
  });

  it('refills go through the shared frame ring, not as messages, and every frame goes out in order', async () => {
    const { r, engine, ch } = await oneChannel();
    await feedInOrder(r, ch);
    // The first fill goes by message (the worker's clock was not running yet); the refills, one
    // per 'drain', while its clock runs, through the ring.
    const { ring, port } = engine.batchCounts();
    expect(ring).toBeGreaterThanOrEqual(4);
    expect(port).toBeLessThanOrEqual(3);
    ch.close();
  });

  it('a batch the full ring refuses goes as a message, in its place among the others', async () => {
    const { r, engine, ch } = await oneChannel();
    const ring = ringOf(engine);
    // Every other write finds the ring "full": batches alternate between ring and port.
    const write = ring.write.bind(ring);
    let writes = 0;
    ring.write = (seq: number, batch: FrameBatchView): boolean => writes++ % 2 === 1 && write(seq, batch);
    await feedInOrder(r, ch);
    // Refused writes did not count as ring batches; they went by port.
    const counts = engine.batchCounts();
    expect(writes).toBeGreaterThanOrEqual(4);
    expect(counts.ring).toBe(Math.floor(writes / 2));
    expect(counts.port).toBeGreaterThanOrEqual(Math.ceil(writes / 2));
    ch.close();
  });

  it('a batch written as the worker stops polling wakes it with a message', async () => {
    const { r, engine, ch } = await oneChannel();
    const ring = ringOf(engine);
    // The transport command goes first, in a batch of its own (a frames-only batch may use the
    // ring), and the clock's wake-ups after it end.
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Nothing queued: the worker's clock sleeps, and the worker does not look at the ring.
    await until(() => !ring.workerPolling, 5_000, 'the worker idle');
    // Stage the race: the main side sees the worker polling when it writes the batch, and no
    // longer polling right after (it stopped in between and may not have seen the batch).
    const reads = [true, false];
    Object.defineProperty(ring, 'workerPolling', { get: () => reads.shift() ?? false });
    ch.enqueue(new Uint8Array(40).fill(1));
    // Only the wake-up message gets the frame out of the ring: the worker's clock is not running.
    await until(() => r.rtp().length >= 1, 5_000, 'the frame at the server');
    expect(reads).toEqual([]);
    expect(engine.batchCounts().ring).toBe(1);
    ch.close();
  });
});
