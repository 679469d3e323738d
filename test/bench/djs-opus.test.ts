/**
 * The bench's Opus backend for @discordjs/voice: prism-media 1.3.5 (the copy the library uses)
 * must load our `@discordjs/opus` shim over @evan/opus, and a 440 Hz tone must survive its
 * Encoder -> Decoder streams with many pairs alive at once.
 */
import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DJS_OPUS_SHIM_PATH, installDjsOpus } from '../../bench/clients/djs-opus.js';

const RATE = 48_000;
const CHANNELS = 2;
const FRAME = 960; // samples per channel, 20 ms
const FRAME_BYTES = FRAME * CHANNELS * 2;
const FRAMES = 50;
const PAIRS = 50;
const TONE_HZ = 440;
const AMPLITUDE = 10_000;

interface ShimCodec {
  getBitrate(): number;
}
interface OpusStream extends Transform {
  encoder: ShimCodec | null;
  setBitrate(bitrate: number): void;
  setFEC(enabled: boolean): void;
  setPLP(percentage: number): void;
}
type OpusStreamClass = (new (options: {
  rate: number;
  channels: number;
  frameSize: number;
}) => OpusStream) & {
  readonly type: string;
};
interface Prism {
  opus: { Encoder: OpusStreamClass; Decoder: OpusStreamClass };
}

// The prism-media @discordjs/voice resolves (its own nested 1.3.5), not any other copy.
const requireHere = createRequire(import.meta.url);
const requireFromDjs = createRequire(requireHere.resolve('@discordjs/voice'));

function tone(frames: number): Buffer {
  const pcm = Buffer.alloc(frames * FRAME_BYTES);
  for (let i = 0; i < frames * FRAME; i++) {
    const v = Math.round(AMPLITUDE * Math.sin((2 * Math.PI * TONE_HZ * i) / RATE));
    pcm.writeInt16LE(v, i * 4);
    pcm.writeInt16LE(v, i * 4 + 2);
  }
  return pcm;
}

/** One channel of interleaved s16le stereo, from sample `from` on. */
function channel(pcm: Buffer, ch: 0 | 1, from: number): Float64Array {
  const n = pcm.length / 4 - from;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = pcm.readInt16LE((from + i) * 4 + ch * 2);
  return out;
}

function rms(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

/** Share of the signal's energy at `hz` (Goertzel): about 1 for a pure tone at hz, about 0 elsewhere. */
function energyShareAt(x: Float64Array, hz: number): number {
  const w = (2 * Math.PI * hz) / RATE;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const v of x) {
    const s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  let energy = 0;
  for (const v of x) energy += v * v;
  return (2 * power) / (x.length * energy);
}

/** Pipes `pcm` (in odd-sized chunks) through encoder -> decoder; resolves the packets and the PCM chunks. */
function roundTrip(
  enc: OpusStream,
  dec: OpusStream,
  pcm: Buffer,
): Promise<{ packets: Buffer[]; chunks: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const packets: Buffer[] = [];
    const chunks: Buffer[] = [];
    enc.on('data', (p: Buffer) => packets.push(p));
    dec.on('data', (c: Buffer) => chunks.push(c));
    enc.on('error', reject);
    dec.on('error', reject);
    dec.on('end', () => resolve({ packets, chunks }));
    enc.pipe(dec);
    for (let off = 0; off < pcm.length; off += 1_000) enc.write(pcm.subarray(off, off + 1_000));
    enc.end();
  });
}

describe('installDjsOpus', () => {
  it("makes @discordjs/voice's prism-media encode and decode a tone through @evan/opus, 50 pairs alive", async () => {
    installDjsOpus();
    installDjsOpus(); // idempotent
    const prism = requireFromDjs('prism-media') as Prism;
    const shim = requireFromDjs('@discordjs/opus') as { voxcordShim?: boolean };
    expect(requireFromDjs.resolve('@discordjs/opus')).toBe(DJS_OPUS_SHIM_PATH);
    expect(shim.voxcordShim).toBe(true);

    const options = { rate: RATE, channels: CHANNELS, frameSize: FRAME };
    const pairs = Array.from({ length: PAIRS }, () => ({
      enc: new prism.opus.Encoder(options),
      dec: new prism.opus.Decoder(options),
    }));
    // prism-media chose the first library of its list: the shim, not the installed opusscript.
    expect(prism.opus.Encoder.type).toBe('@discordjs/opus');

    // Its CTL calls reach libopus: setBitrate is applyEncoderCTL(OPUS_SET_BITRATE) underneath.
    const probe = pairs[0]!.enc;
    probe.setBitrate(64_000);
    expect(probe.encoder?.getBitrate()).toBe(64_000);
    probe.setBitrate(96_000);
    expect(probe.encoder?.getBitrate()).toBe(96_000);
    probe.setFEC(true);
    probe.setPLP(0.05);

    const pcm = tone(FRAMES);
    // All pairs stream at once: every encoder and decoder is alive until the last one ends.
    const results = await Promise.all(pairs.map((p) => roundTrip(p.enc, p.dec, pcm)));

    const inputRms = rms(channel(pcm, 0, 0));
    for (const [k, { packets, chunks }] of results.entries()) {
      expect(packets, `pair ${k}`).toHaveLength(FRAMES);
      for (const p of packets) {
        expect(Buffer.isBuffer(p)).toBe(true);
        expect(p.length).toBeGreaterThan(2);
        expect(p.length).toBeLessThan(FRAME_BYTES / 4); // compressed, not PCM passed through
      }
      expect(chunks).toHaveLength(FRAMES);
      for (const c of chunks) expect(c.length).toBe(FRAME_BYTES); // 960 samples per channel
      const out = Buffer.concat(chunks);
      // Past the codec's start-up (a few ms of delay and ramp), both channels carry the tone.
      for (const ch of [0, 1] as const) {
        const x = channel(out, ch, 10 * FRAME);
        expect(rms(x) / inputRms, `pair ${k} ch ${ch} level`).toBeGreaterThan(0.9);
        expect(rms(x) / inputRms, `pair ${k} ch ${ch} level`).toBeLessThan(1.1);
        expect(energyShareAt(x, TONE_HZ), `pair ${k} ch ${ch} at 440 Hz`).toBeGreaterThan(0.95);
        expect(energyShareAt(x, 1_000), `pair ${k} ch ${ch} at 1 kHz`).toBeLessThan(0.01);
      }
    }
  });

  it('conceals an empty packet with one frame of silence, as libopus behind @discordjs/opus does', () => {
    installDjsOpus();
    const { OpusEncoder } = requireFromDjs('@discordjs/opus') as {
      OpusEncoder: new (
        rate: number,
        channels: number,
      ) => {
        encode(pcm: Buffer): Buffer;
        decode(packet: Buffer): Buffer;
      };
    };
    const codec = new OpusEncoder(RATE, CHANNELS);
    expect(codec.decode(Buffer.alloc(0))).toEqual(Buffer.alloc(FRAME_BYTES));
    const packet = codec.encode(tone(1));
    expect(codec.decode(packet)).toHaveLength(FRAME_BYTES);
    expect(codec.decode(Buffer.alloc(0))).toEqual(Buffer.alloc(FRAME_BYTES));
  });
});
