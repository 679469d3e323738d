import { describe, it, expect } from 'vitest';
import { loadOpus } from '../../src/audio/opus.js';
import type { OpusBackendName, OpusCodecFactory } from '../../src/audio/opus.js';
import { isVoxcordError } from '../../src/errors.js';

/** 20 ms of a 440 Hz stereo sine at the given amplitude, as s16le bytes. */
function sineFrame(index: number, amplitude = 8000): Uint8Array {
  const samples = new Int16Array(1920);
  for (let i = 0; i < 960; i++) {
    const v = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * (index * 960 + i)) / 48_000));
    samples[2 * i] = v;
    samples[2 * i + 1] = v;
  }
  return new Uint8Array(samples.buffer);
}

function rms(samples: Int16Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length);
}

function roundTrip(factory: OpusCodecFactory): { out: number; concealed: Int16Array } {
  const enc = factory.createEncoder({ bitrate: 64_000 });
  const dec = factory.createDecoder();
  let last: Int16Array = new Int16Array(0);
  for (let i = 0; i < 10; i++) {
    const packet = enc.encode(sineFrame(i));
    expect(packet.length).toBeGreaterThan(3);
    expect(packet.length).toBeLessThan(1276);
    last = dec.decode(packet);
    expect(last.length).toBe(1920);
  }
  const concealed = dec.conceal();
  enc.close();
  dec.close();
  return { out: rms(last), concealed };
}

describe('Opus codecs', () => {
  for (const name of ['@evan/opus', 'opusscript'] as OpusBackendName[]) {
    it(`${name}: a sine survives encode/decode with its energy`, async () => {
      const factory = await loadOpus([name]);
      expect(factory.backend).toBe(name);
      const input = rms(new Int16Array(sineFrame(0).buffer));
      const { out, concealed } = roundTrip(factory);
      expect(out).toBeGreaterThan(input * 0.7);
      expect(out).toBeLessThan(input * 1.3);
      expect(concealed.length).toBe(1920);
    });
  }

  it('opusscript conceals a lost frame with real PLC (the tone continues)', async () => {
    const factory = await loadOpus(['opusscript']);
    const { concealed } = roundTrip(factory);
    expect(factory.createDecoder().concealment).toBe('plc');
    expect(rms(concealed)).toBeGreaterThan(1000);
  });

  it('rejects PCM of the wrong size', async () => {
    const enc = (await loadOpus(['opusscript'])).createEncoder();
    expect(() => enc.encode(new Uint8Array(100))).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
    );
    enc.close();
  });

  it('decoding garbage or nothing never crashes: PACKET_MALFORMED or some samples', async () => {
    const dec = (await loadOpus(['opusscript'])).createDecoder();
    expect(() => dec.decode(new Uint8Array(0))).toThrowError(
      expect.objectContaining({ code: 'PACKET_MALFORMED' }) as Error,
    );
    try {
      const out = dec.decode(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff));
      expect(out).toBeInstanceOf(Int16Array);
    } catch (err) {
      expect(isVoxcordError(err, 'PACKET_MALFORMED')).toBe(true);
    }
    dec.close();
  });
});

describe('loadOpus', () => {
  it('prefers @evan/opus by default', async () => {
    expect((await loadOpus()).backend).toBe('@evan/opus');
  });

  it('falls back past a missing library', async () => {
    const tried: string[] = [];
    const factory = await loadOpus(['@discordjs/opus', 'opusscript'], {
      importModule: async (name) => {
        tried.push(name);
        if (name === '@discordjs/opus')
          throw Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' });
        return (await import(name)) as unknown;
      },
    });
    expect(tried).toEqual(['@discordjs/opus', 'opusscript']);
    expect(factory.backend).toBe('opusscript');
  });

  it('drives @discordjs/opus through its API (mocked on top of opusscript)', async () => {
    const OpusScript = (
      (await import('opusscript')) as {
        default: new (
          r: number,
          c: number,
          a: number,
        ) => {
          encode(b: Buffer, n: number): Buffer;
          decode(b: Buffer): Buffer;
          setBitrate(n: number): void;
          encoderCTL(c: number, v: number): void;
        };
      }
    ).default;
    const calls: string[] = [];
    class OpusEncoder {
      private readonly inner: InstanceType<typeof OpusScript>;
      constructor(rate: number, channels: number) {
        calls.push(`new ${rate} ${channels}`);
        this.inner = new OpusScript(rate, channels, 2049);
      }
      encode(buf: Buffer): Buffer {
        expect(Buffer.isBuffer(buf)).toBe(true);
        return this.inner.encode(buf, 960);
      }
      decode(buf: Buffer): Buffer {
        return this.inner.decode(buf);
      }
      setBitrate(n: number): void {
        calls.push(`bitrate ${n}`);
        this.inner.setBitrate(n);
      }
      applyEncoderCTL(ctl: number, value: number): void {
        calls.push(`ctl ${ctl} ${value}`);
      }
    }
    const factory = await loadOpus(['@discordjs/opus'], {
      importModule: async () => ({ default: { OpusEncoder } }),
    });
    expect(factory.backend).toBe('@discordjs/opus');
    const enc = factory.createEncoder({ bitrate: 48_000, fec: true });
    expect(calls).toContain('new 48000 2');
    expect(calls).toContain('bitrate 48000');
    expect(calls).toContain('ctl 4012 1');
    expect(calls.filter((c) => c.startsWith('ctl 4000'))).toEqual([]); // 'audio': its own default
    factory.createEncoder({ application: 'voip' });
    expect(calls.at(-1)).toBe('ctl 4000 2048'); // OPUS_SET_APPLICATION, OPUS_APPLICATION_VOIP
    const dec = factory.createDecoder();
    let out: Int16Array = new Int16Array(0);
    for (let i = 0; i < 5; i++) out = dec.decode(enc.encode(sineFrame(i)));
    expect(rms(out)).toBeGreaterThan(3000);
  });

  it('rejects with OPUS_UNAVAILABLE naming how to install one', async () => {
    const err: unknown = await loadOpus(['@discordjs/opus', 'opusscript'], {
      importModule: async () => {
        throw new Error('not installed');
      },
    }).catch((e: unknown) => e);
    expect(isVoxcordError(err, 'OPUS_UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toMatch(/npm install @evan\/opus/);
    expect((err as Error).message).toMatch(/@discordjs\/opus, opusscript/);
  });

  it('rejects a module with the wrong shape', async () => {
    const err: unknown = await loadOpus(['@evan/opus'], {
      importModule: async () => ({ nothing: true }),
    }).catch((e: unknown) => e);
    expect(isVoxcordError(err, 'OPUS_UNAVAILABLE')).toBe(true);
  });
});
