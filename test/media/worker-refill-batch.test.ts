import { describe, it, expect } from 'vitest';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { Responder, twoChannels } from './udp-responder.js';
import { WorkerMediaEngine } from '../../src/media/worker-engine.js';
import { until } from '../support/wait.js';
import { cleanupAfterEach } from '../support/after-each.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const cleanups = cleanupAfterEach();

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
    const r = await Responder.start();
    cleanups.push(() => r.close());
    const engine = new WorkerMediaEngine({ workers: 1 });
    cleanups.push(() => engine.close());
    const ch = await engine.openChannel({ ssrc: 9, serverHost: '127.0.0.1', serverPort: r.port });
    ch.setTransport(EncryptionMode.XChaCha, KEY);
    // 100 frames (2 s) fed as a player does: up to the high-water mark, more at each 'drain'.
    // Their lengths (40-49 bytes) say the order at the server.
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
    // The first fill goes by message (the worker's clock was not running yet); the refills, one
    // per 'drain', while its clock runs, through the ring.
    const { ring, port } = engine.batchCounts();
    expect(ring).toBeGreaterThanOrEqual(4);
    expect(port).toBeLessThanOrEqual(3);
    ch.close();
  });
});
