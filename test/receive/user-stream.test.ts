import { describe, it, expect } from 'vitest';
import { UserAudioStream, type ReceivedFrame } from '../../src/receive/user-stream.js';
import { isVoxcordError } from '../../src/errors.js';

const frame = (sequence: number): ReceivedFrame => ({
  sequence,
  timestamp: sequence * 960,
  receivedAt: sequence * 20,
  payload: Uint8Array.of(0xfc, sequence),
  concealed: false,
});

async function collect(s: UserAudioStream): Promise<ReceivedFrame[]> {
  const out: ReceivedFrame[] = [];
  for await (const f of s.frames()) out.push(f);
  return out;
}

describe('UserAudioStream', () => {
  it('is an object-mode Readable and a typed async iterable', async () => {
    const s = new UserAudioStream('u', { mode: 'opus' });
    expect(s.readableObjectMode).toBe(true);
    for (let i = 0; i < 3; i++) s.deliver(frame(i), i * 20, true);
    s.finish();
    expect((await collect(s)).map((f) => f.sequence)).toEqual([0, 1, 2]);
  });

  it('caps the queue for a consumer that does not read, counting drops', async () => {
    const s = new UserAudioStream('u', { maxQueuedFrames: 5 });
    for (let i = 0; i < 8; i++) s.deliver(frame(i), 0, true);
    expect(s.dropped).toBe(3);
    expect(s.delivered).toBe(5);
    s.finish();
    expect((await collect(s)).map((f) => f.sequence)).toEqual([0, 1, 2, 3, 4]);
  });

  it('afterSilence: ends durationMs after the last activity, counted from the first frame', () => {
    const s = new UserAudioStream('u', { end: { behavior: 'afterSilence', durationMs: 100 } });
    expect(s.checkSilence(1_000_000)).toBe(false); // nothing received yet: stays open
    s.deliver(frame(0), 1000, true);
    s.deliver(frame(1), 1020, false); // silence/concealed frames do not extend
    expect(s.checkSilence(1099)).toBe(false);
    expect(s.checkSilence(1100)).toBe(true);
    expect(s.isFinished).toBe(true);
    s.deliver(frame(2), 1200, true); // ignored, no push-after-EOF error
    expect(s.delivered).toBe(2);
  });

  it('manual streams never end by silence; destroy notifies the owner once', () => {
    let closes = 0;
    const s = new UserAudioStream('u', {}, () => closes++);
    s.deliver(frame(0), 0, true);
    expect(s.checkSilence(1e9)).toBe(false);
    s.destroy();
    s.finish();
    expect(closes).toBe(1);
    expect(s.isFinished).toBe(true);
  });

  it('rejects invalid options with typed errors', () => {
    const bad = [
      { mode: 'wav' as 'pcm' },
      { end: { behavior: 'afterSilence' as const, durationMs: 0 } },
      { end: { behavior: 'never' } as unknown as { behavior: 'manual' } },
      { maxQueuedFrames: 0 },
    ];
    for (const o of bad) {
      try {
        new UserAudioStream('u', o);
        expect.unreachable();
      } catch (err) {
        expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
      }
    }
  });
});
