import { describe, it, expect } from 'vitest';
import { RtpBatchWriter, readRtpBatch } from '../../src/media/rtp-batch.js';
import type { ReceivedRtp } from '../../src/media/media-engine.js';

function packet(i: number): ReceivedRtp {
  return {
    ssrc: i === 0 ? 0xffff_ffff : 1000 + (i % 5),
    sequence: i === 0 ? 0xffff : i,
    timestamp: i === 0 ? 0xffff_ffff : i * 960,
    // Lengths 1..250: 400 packets are more than the writer's first buffers hold (64 packets, 16 KiB).
    payload: new Uint8Array(1 + ((i * 37) % 250)).fill(i & 0xff),
    receivedAt: 1_000.25 + i * 0.5,
  };
}

function read(batch: Parameters<typeof readRtpBatch>[0], offset = 0): [number, ReceivedRtp][] {
  const out: [number, ReceivedRtp][] = [];
  readRtpBatch(batch, offset, (channel, p) => out.push([channel, p]));
  return out;
}

describe('received packets packed for the worker hop', () => {
  it('come out with every field, payload and channel, in order, past the first buffers', () => {
    const w = new RtpBatchWriter();
    const sent = Array.from({ length: 400 }, (_, i) => packet(i));
    sent.forEach((p, i) => w.add(i % 3, p));
    expect(w.count).toBe(400);
    const batch = w.take()!;
    expect(w.count).toBe(0);
    const got = read(batch, 2.5);
    expect(got.map(([channel]) => channel)).toEqual(sent.map((_, i) => i % 3));
    expect(got.map(([, p]) => ({ ...p, payload: [...p.payload] }))).toEqual(
      sent.map((p) => ({ ...p, payload: [...p.payload], receivedAt: p.receivedAt + 2.5 })),
    );
  });

  it('a taken batch keeps its bytes while the writer fills the next one', () => {
    const w = new RtpBatchWriter();
    w.add(1, { ...packet(1), payload: Uint8Array.of(1, 2, 3) });
    const first = w.take()!;
    w.add(1, { ...packet(2), payload: Uint8Array.of(9, 9, 9, 9) });
    const second = w.take()!;
    expect([...read(first)[0]![1].payload]).toEqual([1, 2, 3]);
    expect([...read(second)[0]![1].payload]).toEqual([9, 9, 9, 9]);
    // Exact-size buffers: a queued payload keeps only its own batch alive, not the scratch.
    expect(first.data.byteLength).toBe(3);
  });

  it('payloads written in place (reserve, addInPlace) come out intact past the first buffer, skipped bytes left out', () => {
    const w = new RtpBatchWriter();
    const sent: number[][] = [];
    for (let i = 0; i < 100; i++) {
      // As a receiver decrypts: 4 bytes of extension body, then the payload (400 bytes: 40 KiB in all).
      const at = w.end;
      const data = w.reserve(404);
      data.fill(0xee, at, at + 4);
      const payload = Array.from({ length: 400 }, (_, k) => (i + k) & 0xff);
      data.set(payload, at + 4);
      w.addInPlace(2, 1000, i, i * 960, at + 4, 400, 5 + i);
      sent.push(payload);
    }
    const got = read(w.take()!);
    expect(got.map(([c, p]) => [c, p.ssrc, p.sequence, p.timestamp, p.receivedAt])).toEqual(
      sent.map((_, i) => [2, 1000, i, i * 960, 5 + i]),
    );
    expect(got.map(([, p]) => [...p.payload])).toEqual(sent);
  });

  it('nothing added: nothing to send', () => {
    const w = new RtpBatchWriter();
    expect(w.take()).toBeUndefined();
  });
});
