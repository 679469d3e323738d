/** Replayed datagrams end to end: the local SFU duplicates every packet (same nonce), the client plays each once. */
import { afterEach, describe, expect, it } from 'vitest';
import { SILENCE_FRAMES_AT_END } from '../../src/protocol/constants.js';
import { createVoiceReceiver } from '../../src/receive/session-feed.js';
import { collectFrom, numberedFrames, startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('client replay window', () => {
  it('a datagram delivered twice is passed on once; the copy is counted in the receive stats', async () => {
    harness = await startHarness({ faults: { udp: { duplicate: 1 } } });
    const alice = await harness.join('1001');
    const bob = await harness.join('1002');
    const receiver = createVoiceReceiver(bob);
    const received = collectFrom(bob, alice.ssrc!);
    const frames = numberedFrames(20);
    await alice.playOpus(
      (async function* () {
        yield* frames;
      })(),
    ).finished;
    const total = frames.length + SILENCE_FRAMES_AT_END;
    await until(
      () => (receiver.totals().transportDropped['replay'] ?? 0) === total,
      5_000,
      'every copy counted',
    );
    expect(received).toHaveLength(total);
    expect(new Set(received.map((p) => p.sequence)).size).toBe(total);
    expect(receiver.stats('1001')?.duplicate).toBe(0);
    receiver.close();
  });
});
