import { describe, it, expect } from 'vitest';
import { HeartbeatTracker } from '../../src/voice/heartbeat.js';

describe('HeartbeatTracker', () => {
  it('builds op 3 payloads with an integer nonce and the given seq_ack', () => {
    const hb = new HeartbeatTracker(1000);
    const tick = hb.beat(1_700_000_000_123.7, -1);
    expect(tick).toEqual({ action: 'send', data: { t: 1_700_000_000_123, seq_ack: -1 } });
    expect(hb.beat(1_700_000_001_000, 42)).toEqual({
      action: 'send',
      data: { t: 1_700_000_001_000, seq_ack: 42 },
    });
  });

  it('keeps nonces strictly increasing when the clock does not move', () => {
    const hb = new HeartbeatTracker(10);
    const a = hb.beat(500, -1);
    const b = hb.beat(500, -1);
    const c = hb.beat(499, -1);
    const ts = [a, b, c].map((t) => (t.action === 'send' ? t.data.t : -1));
    expect(ts).toEqual([500, 501, 502]);
  });

  it('measures ping from a matching ACK and resets the miss count', () => {
    const hb = new HeartbeatTracker(1000);
    const tick = hb.beat(10_000, -1);
    expect(hb.missed).toBe(1);
    if (tick.action !== 'send') throw new Error('expected send');
    expect(hb.ack(tick.data.t, 10_042)).toBe(42);
    expect(hb.ping).toBe(42);
    expect(hb.missed).toBe(0);
  });

  it('ignores ACKs with unknown nonces', () => {
    const hb = new HeartbeatTracker(1000);
    hb.beat(10_000, -1);
    expect(hb.ack(1234, 10_050)).toBeUndefined();
    expect(hb.missed).toBe(1);
    expect(hb.ping).toBeUndefined();
  });

  it('an ACK for a later beat also settles the earlier ones', () => {
    const hb = new HeartbeatTracker(1000);
    const first = hb.beat(1000, -1);
    const second = hb.beat(2000, -1);
    if (first.action !== 'send' || second.action !== 'send') throw new Error('expected send');
    expect(hb.ack(second.data.t, 2010)).toBe(10);
    expect(hb.ack(first.data.t, 2020)).toBeUndefined();
  });

  it('reports dead after three beats without an ACK, without sending a fourth', () => {
    const hb = new HeartbeatTracker(1000);
    expect(hb.beat(1000, -1).action).toBe('send');
    expect(hb.beat(2000, -1).action).toBe('send');
    expect(hb.beat(3000, -1).action).toBe('send');
    expect(hb.beat(4000, -1)).toEqual({ action: 'dead', missed: 3 });
  });

  it('rejects a non-positive interval', () => {
    expect(() => new HeartbeatTracker(0)).toThrow(RangeError);
    expect(() => new HeartbeatTracker(Number.NaN)).toThrow(RangeError);
  });
});
