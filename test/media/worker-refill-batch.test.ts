import { describe, it, expect } from 'vitest';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { twoChannels } from './udp-responder.js';
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
});
