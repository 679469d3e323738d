import { describe, it, expect } from 'vitest';
import { PcmFramer } from '../../src/audio/pcm-framer.js';

const bytes = (n: number, start = 0): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

describe('PcmFramer', () => {
  it('emits 3840-byte frames, as views without copying when a chunk is aligned', () => {
    const f = new PcmFramer();
    const chunk = bytes(3840 * 3);
    const frames = f.push(chunk);
    expect(frames).toHaveLength(3);
    expect(frames.every((fr) => fr.length === 3840 && fr.buffer === chunk.buffer)).toBe(true);
    expect(frames[2]![0]).toBe((3840 * 2) & 0xff);
    expect(f.pending).toBe(0);
    expect(f.flush()).toBeUndefined();
  });

  it('joins frames across odd chunk sizes, keeping every byte in order', () => {
    const f = new PcmFramer();
    const all = bytes(3840 * 4 + 100);
    const out: number[] = [];
    let frames = 0;
    for (let off = 0, size = 1; off < all.length; off += size, size = (size * 7 + 3) % 5000 || 1) {
      for (const fr of f.push(all.subarray(off, off + size))) {
        expect(fr.length).toBe(3840);
        out.push(...fr);
        frames++;
      }
    }
    expect(frames).toBe(4);
    expect(f.pending).toBe(100);
    const last = f.flush()!;
    expect(last.length).toBe(3840);
    out.push(...last);
    expect(out.slice(0, all.length)).toEqual([...all]);
    expect(out.slice(all.length).every((b) => b === 0)).toBe(true);
    expect(f.pending).toBe(0);
  });

  it('handles empty chunks, a single byte at a time, and exact completion of a partial frame', () => {
    const f = new PcmFramer(4);
    expect(f.push(new Uint8Array(0))).toEqual([]);
    expect(f.push(Uint8Array.of(1))).toEqual([]);
    expect(f.push(Uint8Array.of(2, 3))).toEqual([]);
    const done = f.push(Uint8Array.of(4, 5, 6, 7, 8));
    expect(done.map((d) => [...d])).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(f.pending).toBe(0);
    expect(f.flush()).toBeUndefined();
  });

  it('rejects a bad frame size', () => {
    expect(() => new PcmFramer(0)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
    );
  });
});
