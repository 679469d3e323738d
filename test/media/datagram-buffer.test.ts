import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers/node-script.js';
import { CHANNELS, FRAMES, frameOf } from './datagram-buffer.script.js';

const SCRIPT = fileURLToPath(new URL('./datagram-buffer.script.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What each channel sent, as hex. */
const expected = Array.from({ length: CHANNELS }, (_, c) =>
  Array.from({ length: FRAMES }, (_, k) => Buffer.from(frameOf(c, k)).toString('hex')),
);

// The send path builds every datagram in one reused buffer; a datagram libuv had to queue keeps
// its own. Without that, channels sending in the same tick would overwrite each other's queued
// datagrams.
describe('media datagrams built in a shared buffer', () => {
  it.each([
    ['sent at once (uv_udp_try_send)', [], [], 0],
    ['queued by libuv (--test-udp-no-try-send)', ['--test-udp-no-try-send'], [], CHANNELS * FRAMES],
    ['queued, on a Node without getSendQueueCount', ['--test-udp-no-try-send'], ['no-queue-count'], 0],
  ])(
    'arrive intact when %s',
    async (_name, flags, args, queued) => {
      const { out, exit } = await runNode([...flags, '--import', 'tsx', SCRIPT, ...args], ROOT, 30_000);
      expect(exit).toBe(0);
      const result = JSON.parse(out.trim().split('\n').pop()!) as { frames: string[][]; queuedSeen: number };
      expect(result.frames).toEqual(expected);
      // With the flag the sends really were queued (else the case would not test the hand-over).
      expect(result.queuedSeen).toBeGreaterThanOrEqual(queued);
    },
    40_000,
  );
});
