import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { opusFrames } from '../../src/audio/frame-source.js';
import type { OpusEncoder } from '../../src/audio/opus.js';
import { loadOpus } from '../../src/audio/opus.js';
import { isVoxcordError } from '../../src/errors.js';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Encoder stub that records its input and returns [frame index, first byte]. */
function recordingEncoder(): OpusEncoder & { inputs: Uint8Array[]; closed: boolean } {
  const inputs: Uint8Array[] = [];
  const enc = {
    inputs,
    closed: false,
    encode(pcm: Uint8Array): Uint8Array {
      inputs.push(Uint8Array.from(pcm));
      return Uint8Array.of(inputs.length, pcm[0]!);
    },
    close(): void {
      enc.closed = true;
    },
  };
  return enc;
}

describe('opusFrames', () => {
  it('passes Opus input through one frame per chunk, skipping empty chunks', async () => {
    const chunks = [Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)];
    const out = await collect(opusFrames(Readable.from(chunks), { type: 'opus' }));
    expect(out.map((c) => [...c])).toEqual([[1, 2], [3]]);
  });

  it('re-frames and encodes PCM, padding the last frame with zeros', async () => {
    const pcm = Uint8Array.from({ length: 3840 * 2 + 10 }, (_, i) => (i % 251) + 1);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield pcm.subarray(0, 1000);
      yield pcm.subarray(1000, 5000);
      yield pcm.subarray(5000);
    }
    const enc = recordingEncoder();
    const out = await collect(opusFrames(chunks(), { type: 'pcm', encoder: enc }));
    expect(out.map((c) => [...c])).toEqual([
      [1, pcm[0]],
      [2, pcm[3840]],
      [3, pcm[7680]],
    ]);
    expect(enc.inputs.every((i) => i.length === 3840)).toBe(true);
    expect([...enc.inputs[2]!.subarray(0, 10)]).toEqual([...pcm.subarray(7680)]);
    expect(enc.inputs[2]!.subarray(10).every((b) => b === 0)).toBe(true);
    expect(enc.closed).toBe(false); // the caller's encoder is the caller's to close
  });

  it('encodes PCM with a loaded Opus library when no encoder is given', async () => {
    const out = await collect(opusFrames(Readable.from([Buffer.alloc(3840 * 3)]), { type: 'pcm' }));
    expect(out).toHaveLength(3);
    expect(out.every((f) => f.length > 0 && f.length < 1276)).toBe(true);
    // Round trip one frame through a decoder to be sure these are Opus packets.
    const dec = (await loadOpus()).createDecoder();
    expect(dec.decode(out[0]!).length).toBe(1920);
    dec.close();
  });

  it('turns input errors into AUDIO_INPUT_ERROR', async () => {
    const input = new Readable({ read() {} });
    input.push(Buffer.alloc(3840));
    setImmediate(() => input.destroy(new Error('disk on fire')));
    const err: unknown = await collect(opusFrames(input, { type: 'pcm', encoder: recordingEncoder() })).catch(
      (e: unknown) => e,
    );
    expect(isVoxcordError(err, 'AUDIO_INPUT_ERROR')).toBe(true);
    expect((err as Error).cause).toMatchObject({ message: 'disk on fire' });
  });

  it('rejects chunks that are not bytes', async () => {
    const input = Readable.from(['text'], { objectMode: true });
    const err: unknown = await collect(opusFrames(input, { type: 'opus' })).catch((e: unknown) => e);
    expect(isVoxcordError(err, 'AUDIO_INPUT_ERROR')).toBe(true);
  });

  it('releases the input when the consumer stops early', async () => {
    const input = Readable.from([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
    for await (const _frame of opusFrames(input, { type: 'opus' })) break;
    expect(input.destroyed).toBe(true);
  });
});
