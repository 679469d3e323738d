/**
 * Jitter buffer accounting: every packet pushed is played exactly once or counted with one reason,
 * and the counts reach the user through VoiceReceiver.stats().
 */
import { afterEach, describe, it, expect } from 'vitest';
import { JitterBuffer, type JitterBufferStats, type JitterOutput } from '../../src/receive/jitter-buffer.js';
import { VoiceReceiver } from '../../src/receive/receiver.js';
import type { ReceivedFrame } from '../../src/receive/user-stream.js';
import { inboundFeed, rng, rtp } from './helpers.js';

/** Packets the buffer has counted as dropped, by every reason it has. */
function counted(s: JitterBufferStats): number {
  return s.invalid + s.duplicate + s.late + s.stray + s.discarded;
}

/** Pushes and plays through one buffer, checking the accounting identity after every step. */
class Ledger {
  pushed = 0;
  readonly played = new Set<Uint8Array>();
  constructor(readonly jb: JitterBuffer) {}

  push(sequence: number, timestamp: number, receivedAt: number, size = 3): void {
    this.jb.push({ sequence, timestamp, payload: new Uint8Array(size).fill(sequence & 0xff), receivedAt });
    this.pushed++;
    this.check();
  }

  play(out: JitterOutput[]): void {
    for (const o of out) {
      if (o.kind !== 'frame') continue;
      expect(this.played.has(o.payload), `sequence ${o.sequence} played twice`).toBe(false);
      this.played.add(o.payload);
    }
    this.check();
  }

  /** pushed = played + counted + still waiting (buffered or held). */
  check(): void {
    const s = this.jb.stats();
    expect(this.played.size + counted(s) + s.buffered + s.held).toBe(this.pushed);
    expect(s.received).toBe(this.played.size + s.discarded + s.buffered);
  }

  /** After a final flush nothing waits: pushed = played + counted. */
  settle(now: number): JitterBufferStats {
    this.play(this.jb.flush(now));
    const s = this.jb.stats();
    expect(s.buffered + s.held).toBe(0);
    expect(this.played.size + counted(s)).toBe(this.pushed);
    return s;
  }
}

describe('JitterBuffer accounting', () => {
  it('counts packets a restart discards and a superseded far jump (fuzzing reproducer)', () => {
    const jb = new JitterBuffer();
    const out: JitterOutput[] = [];
    const results = [1, 2, 3, 4, 30_000, 20_000, 20_001].map((seq) =>
      jb.push({
        sequence: seq,
        timestamp: seq * 960,
        payload: Uint8Array.of(0xfc, seq & 0xff),
        receivedAt: 0,
      }),
    );
    expect(results).toEqual(['buffered', 'buffered', 'buffered', 'buffered', 'held', 'held', 'restart']);
    out.push(...jb.flush(0));
    expect(out.map((o) => `${o.kind}:${o.sequence}`)).toEqual(['frame:20000', 'frame:20001']);
    // 7 in: 2 played, 1-4 discarded by the restart, 30000 superseded by 20000 (a stray).
    expect(jb.stats()).toMatchObject({
      received: 6,
      restarts: 1,
      discarded: 4,
      stray: 1,
      buffered: 0,
      held: 0,
    });
    expect(out.length + counted(jb.stats())).toBe(7);
  });

  it('counts a held packet still unconfirmed at flush() or reset(), and packets reset() discards', () => {
    const ledger = new Ledger(new JitterBuffer());
    for (let i = 0; i < 5; i++) ledger.push(100 + i, i * 960, i * 20);
    ledger.push(40_000, 7, 90);
    expect(ledger.jb.stats().held).toBe(1);
    let s = ledger.settle(100);
    expect(ledger.played.size).toBe(5);
    expect(s).toMatchObject({ stray: 1, discarded: 0 });

    for (let i = 0; i < 3; i++) ledger.push(200 + i, i * 960, 1000 + i * 20);
    ledger.push(50_000, 7, 1070);
    ledger.jb.reset();
    s = ledger.settle(1100);
    expect(s).toMatchObject({ stray: 2, discarded: 3 });
  });

  it('seeded random push/poll/flush/restart/reset sequences: pushed = played + counted reasons', () => {
    const seen = { played: 0, invalid: 0, duplicate: 0, late: 0, stray: 0, discarded: 0, restarts: 0 };
    for (let seed = 1; seed <= 150; seed++) {
      const r = rng(seed);
      const pick = (n: number): number => Math.floor(r() * n);
      const ledger = new Ledger(new JitterBuffer({ targetDelayMs: 40 + 20 * pick(5), adaptive: r() < 0.5 }));
      let seq = pick(65_536);
      let now = 1000;
      for (let step = 0; step < 300; step++) {
        const op = pick(20);
        if (op < 12) {
          // Mostly the next packet; sometimes a gap, a duplicate, a late one, an empty payload.
          const kind = pick(10);
          const delta = kind < 6 ? 1 : kind === 6 ? 2 + pick(8) : kind === 7 ? 0 : -1 - pick(600);
          seq = (seq + delta + 65_536) % 65_536;
          now += pick(40);
          ledger.push(seq, (seq * 960) >>> 0, now, kind === 9 && r() < 0.3 ? 0 : 1 + pick(4));
        } else if (op < 14) {
          // A far jump: a stray alone, a sender restart when the next one follows it.
          seq = pick(65_536);
          now += pick(40);
          ledger.push(seq, pick(2 ** 32), now);
        } else if (op < 18) {
          now += pick(120);
          ledger.play(ledger.jb.poll(now));
        } else if (op === 18) {
          ledger.play(ledger.jb.flush(now));
        } else {
          ledger.jb.reset();
          ledger.check();
        }
      }
      const s = ledger.settle(now);
      seen.played += ledger.played.size;
      for (const k of ['invalid', 'duplicate', 'late', 'stray', 'discarded', 'restarts'] as const)
        seen[k] += s[k];
    }
    // The sequences reach every outcome (else the identity above proves little).
    for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(0);
  });
});

describe('VoiceReceiver jitter accounting', () => {
  const receivers: VoiceReceiver[] = [];
  afterEach(() => {
    for (const r of receivers.splice(0)) r.close();
  });

  it('per-user stats show packets discarded by a restart or SSRC change and strays', () => {
    const r = new VoiceReceiver();
    receivers.push(r);
    const s = r.subscribe('alice', { mode: 'opus' });
    const payload = Uint8Array.of(0xfc, 1, 2);
    const feed = inboundFeed(r);
    feed.map(1234, 'alice');
    for (let i = 1; i <= 4; i++) feed.packet(rtp(i, payload, 0));
    for (const seq of [30_000, 20_000, 20_001]) feed.packet(rtp(0, payload, 0, { seqBase: seq }));
    // A new SSRC (reconnect) resets the buffer: 20000 and 20001 are still buffered.
    feed.map(99, 'alice');
    feed.packet(rtp(7, payload, 10, { ssrc: 99 }));
    feed.disconnect('alice');
    expect(r.stats('alice')).toMatchObject({ received: 7, restarts: 1, discarded: 6, stray: 1 });
    const frames: number[] = [];
    for (let f = s.read() as ReceivedFrame | null; f !== null; f = s.read() as ReceivedFrame | null) {
      frames.push(f.sequence);
    }
    expect(frames).toEqual([7]);
  });
});
