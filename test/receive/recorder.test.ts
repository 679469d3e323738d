import { afterEach, describe, it, expect } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { oggCrc } from '../../src/audio/ogg-crc.js';
import {
  OggOpusPager,
  buildOggPage,
  createOggOpusWriter,
  createWavWriter,
  opusHead,
  opusTags,
  recordOggOpus,
  recordWav,
  wavHeader,
} from '../../src/receive/recorder.js';
import { RecordingTimeline } from '../../src/receive/recording-timeline.js';

/** Independent CRC: bit by bit, straight from the Ogg spec (poly 0x04C11DB7, init 0, no reflection). */
function referenceCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const inBit = (b >> bit) & 1;
      const top = (crc >>> 31) & 1;
      crc = (crc << 1) >>> 0;
      if ((top ^ inBit) === 1) crc = (crc ^ 0x04c11db7) >>> 0;
    }
  }
  return crc >>> 0;
}

interface ParsedPage {
  version: number;
  headerType: number;
  granule: bigint;
  serial: number;
  sequence: number;
  crc: number;
  crcOk: boolean;
  packets: Uint8Array[];
  length: number;
}

function parsePages(data: Uint8Array): ParsedPage[] {
  const pages: ParsedPage[] = [];
  let o = 0;
  while (o < data.length) {
    const v = new DataView(data.buffer, data.byteOffset + o);
    expect(String.fromCharCode(...data.subarray(o, o + 4))).toBe('OggS');
    const nseg = data[o + 26]!;
    const lacing = [...data.subarray(o + 27, o + 27 + nseg)];
    const bodyLen = lacing.reduce((a, b) => a + b, 0);
    const length = 27 + nseg + bodyLen;
    const page = data.slice(o, o + length);
    const crc = v.getUint32(22, true);
    page.fill(0, 22, 26);
    const packets: Uint8Array[] = [];
    let start = o + 27 + nseg;
    let size = 0;
    for (const l of lacing) {
      size += l;
      if (l < 255) {
        packets.push(data.slice(start, start + size));
        start += size;
        size = 0;
      }
    }
    pages.push({
      version: data[o + 4]!,
      headerType: data[o + 5]!,
      granule: v.getBigInt64(6, true),
      serial: v.getUint32(14, true),
      sequence: v.getUint32(18, true),
      crc,
      crcOk: referenceCrc(page) === crc,
      packets,
      length,
    });
    o += length;
  }
  return pages;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function memorySink(): { stream: Writable; bytes: () => Uint8Array } {
  const chunks: Uint8Array[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(new Uint8Array(chunk));
      cb();
    },
  });
  return { stream, bytes: () => concat(chunks) };
}

function parseWav(b: Uint8Array): Record<string, number | string> {
  const v = new DataView(b.buffer, b.byteOffset);
  const s = (o: number): string => String.fromCharCode(...b.subarray(o, o + 4));
  return {
    riff: s(0),
    riffSize: v.getUint32(4, true),
    wave: s(8),
    fmt: s(12),
    fmtSize: v.getUint32(16, true),
    format: v.getUint16(20, true),
    channels: v.getUint16(22, true),
    sampleRate: v.getUint32(24, true),
    byteRate: v.getUint32(28, true),
    blockAlign: v.getUint16(32, true),
    bits: v.getUint16(34, true),
    data: s(36),
    dataSize: v.getUint32(40, true),
  };
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('WAV', () => {
  it('writes a correct 44-byte header', () => {
    expect(parseWav(wavHeader(3840))).toEqual({
      riff: 'RIFF',
      riffSize: 36 + 3840,
      wave: 'WAVE',
      fmt: 'fmt ',
      fmtSize: 16,
      format: 1,
      channels: 2,
      sampleRate: 48_000,
      byteRate: 192_000,
      blockAlign: 4,
      bits: 16,
      data: 'data',
      dataSize: 3840,
    });
    expect(parseWav(wavHeader(100, { sampleRate: 8000, channels: 1 }))).toMatchObject({
      byteRate: 16_000,
      blockAlign: 2,
    });
    expect(() => wavHeader(0, { sampleRate: 0, channels: 2 })).toThrow();
  });

  it('to a file path: sizes patched at close, samples little-endian', async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxcord-wav-'));
    const path = join(dir, 'out.wav');
    const w = createWavWriter(path);
    const a = new Int16Array(1920).map((_, i) => i - 960);
    w.write(a);
    w.write(new Uint8Array([1, 0, 0xff, 0xff])); // bytes: 1, -1
    await w.close();
    const file = new Uint8Array(await readFile(path));
    expect(file.length).toBe(44 + 3840 + 4);
    expect(parseWav(file)).toMatchObject({ riffSize: 36 + 3844, dataSize: 3844 });
    const v = new DataView(file.buffer, file.byteOffset);
    expect(v.getInt16(44, true)).toBe(-960);
    expect(v.getInt16(44 + 2 * 1919, true)).toBe(959);
    expect(v.getInt16(44 + 3840, true)).toBe(1);
    expect(v.getInt16(44 + 3842, true)).toBe(-1);
    expect(() => w.write(a)).toThrow();
  });

  it('to a Writable: streaming sizes, stream left open', async () => {
    const sink = memorySink();
    const w = createWavWriter(sink.stream);
    w.write(new Int16Array(4).fill(7));
    await w.close();
    expect(sink.stream.writableEnded).toBe(false);
    const b = sink.bytes();
    expect(parseWav(b)).toMatchObject({ riffSize: 0xffffffff, dataSize: 0xffffffff });
    expect(b.length).toBe(52);
  });

  it('recordWav writes the pcm of every frame until the stream ends', async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxcord-wav-'));
    const path = join(dir, 'rec.wav');
    async function* frames(): AsyncGenerator<{ pcm?: Int16Array }> {
      yield { pcm: new Int16Array(1920).fill(1) };
      yield {};
      yield { pcm: new Int16Array(1920).fill(2) };
    }
    await recordWav(frames(), path);
    const file = new Uint8Array(await readFile(path));
    expect(parseWav(file).dataSize).toBe(2 * 3840);
  });

  it('a write error surfaces from close() as a typed error', async () => {
    const failing = new Writable({
      write(_c, _e, cb) {
        cb(new Error('disk full'));
      },
    });
    const w = createWavWriter(failing);
    w.write(new Int16Array(2));
    await new Promise((r) => setImmediate(r));
    await expect(w.close()).rejects.toMatchObject({ code: 'AUDIO_INPUT_ERROR' });
  });
});

describe('Ogg Opus', () => {
  it('CRC matches an independent bitwise implementation', () => {
    for (const input of [new Uint8Array(0), Uint8Array.of(0x4f), new TextEncoder().encode('OggS hello')]) {
      expect(oggCrc(input)).toBe(referenceCrc(input));
    }
    const big = new Uint8Array(5000).map((_, i) => (i * 31 + 7) & 0xff);
    expect(oggCrc(big)).toBe(referenceCrc(big));
    expect(oggCrc(new TextEncoder().encode('123456789'))).toBe(0x89a1897f); // the published check value of this CRC (init 0, no xorout)
  });

  it('OpusHead and OpusTags follow RFC 7845', () => {
    const head = opusHead({ preSkip: 312 });
    expect(head.length).toBe(19);
    expect(String.fromCharCode(...head.subarray(0, 8))).toBe('OpusHead');
    const v = new DataView(head.buffer);
    expect([
      head[8],
      head[9],
      v.getUint16(10, true),
      v.getUint32(12, true),
      v.getInt16(16, true),
      head[18],
    ]).toEqual([1, 2, 312, 48_000, 0, 0]);
    const tags = opusTags('vx', ['A=b']);
    expect(String.fromCharCode(...tags)).toBe(
      'OpusTags\x02\x00\x00\x00vx\x01\x00\x00\x00\x03\x00\x00\x00A=b',
    );
  });

  it('pages: capture pattern, CRC, flags, sequence numbers, granule positions', () => {
    const pager = new OggOpusPager({ serial: 0xdeadbeef, packetsPerPage: 10 });
    const chunks = pager.headers();
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 25; i++) {
      const p = new Uint8Array(40 + i).fill(i);
      packets.push(p);
      chunks.push(...pager.packet(p));
    }
    chunks.push(pager.end());
    const pages = parsePages(concat(chunks));
    expect(pages.map((p) => p.crcOk)).toEqual(pages.map(() => true));
    expect(pages.map((p) => p.sequence)).toEqual([0, 1, 2, 3, 4]);
    expect(pages.every((p) => p.serial === 0xdeadbeef && p.version === 0)).toBe(true);
    expect(pages.map((p) => p.headerType)).toEqual([0x02, 0, 0, 0, 0x04]);
    expect(pages.map((p) => p.granule)).toEqual([0n, 0n, 9600n, 19_200n, 24_000n]);
    expect(String.fromCharCode(...pages[0]!.packets[0]!.subarray(0, 8))).toBe('OpusHead');
    expect(String.fromCharCode(...pages[1]!.packets[0]!.subarray(0, 8))).toBe('OpusTags');
    expect(pages.slice(2).flatMap((p) => p.packets)).toEqual(packets);
  });

  it('laces packets of 255 and more bytes correctly', () => {
    const sizes = [255, 510, 1, 1275, 254, 256];
    const packets = sizes.map((n, i) => new Uint8Array(n).fill(i + 1));
    const page = buildOggPage({ headerType: 0, granulePosition: 5, serial: 1, pageSequence: 2, packets });
    const [parsed] = parsePages(page);
    expect(parsed!.crcOk).toBe(true);
    expect(parsed!.packets).toEqual(packets);
    expect(page[26]).toBe(2 + 3 + 1 + 6 + 1 + 2);
  });

  it('starts a new page before 255 segments', () => {
    const pager = new OggOpusPager({ serial: 1, packetsPerPage: 255 });
    const chunks = pager.headers();
    for (let i = 0; i < 100; i++) chunks.push(...pager.packet(new Uint8Array(600).fill(i))); // 3 segments each
    chunks.push(pager.end());
    const pages = parsePages(concat(chunks)).slice(2);
    expect(pages.map((p) => p.packets.length)).toEqual([85, 15]);
    expect(pages.map((p) => p.granule)).toEqual([85n * 960n, 100n * 960n]);
    expect(pages.every((p) => p.crcOk)).toBe(true);
  });

  it('the writer fills lost frames with silence and streams to a Writable; recordOggOpus to a file', async () => {
    const sink = memorySink();
    const w = createOggOpusWriter(sink.stream, { serial: 9 });
    w.write(Uint8Array.of(0xfc, 1, 2));
    w.writeLost();
    w.write(Uint8Array.of(0xfc, 3, 4));
    await w.close();
    await expect(w.close()).resolves.toBeUndefined();
    const pages = parsePages(sink.bytes());
    expect(pages.length).toBe(3);
    expect(pages[2]!.packets).toEqual([
      Uint8Array.of(0xfc, 1, 2),
      Uint8Array.of(0xf8, 0xff, 0xfe),
      Uint8Array.of(0xfc, 3, 4),
    ]);
    expect(pages[2]!.granule).toBe(2880n);
    expect(pages[2]!.headerType).toBe(0x04);
    expect(w.bytesWritten).toBe(sink.bytes().length);

    dir = await mkdtemp(join(tmpdir(), 'voxcord-ogg-'));
    const path = join(dir, 'rec.opus');
    async function* frames(): AsyncGenerator<{ payload?: Uint8Array; concealed: boolean }> {
      yield { payload: Uint8Array.of(0xfc, 9), concealed: false };
      yield { concealed: true };
    }
    await recordOggOpus(frames(), path, { serial: 3 });
    const filePages = parsePages(new Uint8Array(await readFile(path)));
    expect(filePages.map((p) => p.granule)).toEqual([0n, 0n, 1920n]);
    expect(filePages.every((p) => p.crcOk && p.serial === 3)).toBe(true);
  });

  it('rejects empty or oversized packets', () => {
    const pager = new OggOpusPager();
    expect(() => pager.packet(new Uint8Array(0))).toThrow();
    expect(() => pager.packet(new Uint8Array(70_000))).toThrow();
    pager.end();
    expect(() => pager.packet(Uint8Array.of(1))).toThrow();
  });
});

describe('timeline-aligned recording', () => {
  interface Synthetic {
    timestamp: number;
    receivedAt: number | undefined;
    concealed: boolean;
    pcm?: Int16Array;
    payload?: Uint8Array;
  }
  /** A burst of `count` frames from RTP timestamp `ts`, arriving every 20 ms from `at` ms. */
  function burst(ts: number, at: number, count: number, value: number): Synthetic[] {
    return Array.from({ length: count }, (_, i) => ({
      timestamp: ts + i * 960,
      receivedAt: at + i * 20,
      concealed: false,
      pcm: new Int16Array(1920).fill(value),
      payload: Uint8Array.of(0xfc, value),
    }));
  }
  async function* stream(frames: readonly Synthetic[]): AsyncGenerator<Synthetic> {
    yield* frames;
  }
  // Two speakers on one timeline from t = 1000 ms, stopped at 2000 ms: A at 1100-1200 and
  // 1600-1700 ms (its RTP clock ran through the pause), B from 1300 ms with one lost frame.
  const a = [...burst(5_000, 1_100, 5, 1), ...burst(5_000 + 25 * 960, 1_600, 5, 2)];
  const b = [
    ...burst(90, 1_300, 3, 3),
    { timestamp: 90 + 3 * 960, receivedAt: undefined, concealed: true, pcm: new Int16Array(1920).fill(4) },
    ...burst(90 + 4 * 960, 1_380, 2, 5),
  ];
  const timeline = (): RecordingTimeline => {
    const t = new RecordingTimeline({ startAt: 1_000 });
    t.stop(2_000);
    return t;
  };

  it('WAV: every file spans start to stop, each frame at its instant, silence between', async () => {
    const files: Int16Array[] = [];
    for (const frames of [a, b]) {
      const sink = memorySink();
      await recordWav(stream(frames), sink.stream, { timeline: timeline() });
      const bytes = sink.bytes();
      files.push(new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length)));
    }
    // 1 s of 48 kHz stereo each.
    expect(files.map((f) => f.length)).toEqual([96_000, 96_000]);
    /** The value of each 10 ms block (stereo samples), or 'mixed'. */
    const blocks = (f: Int16Array): (number | string)[] =>
      Array.from({ length: 100 }, (_, i) => {
        const block = f.subarray(i * 960, (i + 1) * 960);
        return block.every((v) => v === block[0]) ? block[0]! : 'mixed';
      });
    const expectA = Array.from({ length: 100 }, (_, i) =>
      i >= 10 && i < 20 ? 1 : i >= 60 && i < 70 ? 2 : 0,
    );
    expect(blocks(files[0]!)).toEqual(expectA);
    const expectB = Array.from({ length: 100 }, (_, i) =>
      i >= 30 && i < 36 ? 3 : i >= 36 && i < 38 ? 4 : i >= 38 && i < 42 ? 5 : 0,
    );
    expect(blocks(files[1]!)).toEqual(expectB);
  });

  it('WAV at another rate: gaps converted, the same duration', async () => {
    const sink = memorySink();
    // 24 kHz mono: a frame of 960 samples is 40 ms, gaps count 24 samples per ms.
    const frames = [{ timestamp: 0, receivedAt: 1_500, concealed: false, pcm: new Int16Array(960).fill(9) }];
    await recordWav(stream(frames), sink.stream, { timeline: timeline(), sampleRate: 24_000, channels: 1 });
    const pcm = new Int16Array(sink.bytes().slice(44).buffer);
    expect(pcm.length).toBe(24_000);
    expect(pcm.indexOf(9)).toBe(12_000);
    expect(pcm.lastIndexOf(9)).toBe(12_959);
  });

  it('Ogg Opus: gaps are 20 ms silence packets, granule positions count them (RFC 7845 §4)', async () => {
    const sink = memorySink();
    await recordOggOpus(stream(a), sink.stream, { timeline: timeline(), serial: 4 });
    const pages = parsePages(sink.bytes());
    expect(pages.every((p) => p.crcOk)).toBe(true);
    const packets = pages.slice(2).flatMap((p) => p.packets);
    const silence = (p: Uint8Array): boolean => p.length === 3 && p[0] === 0xf8;
    // 50 slots of 20 ms: 5 silent, A's first burst, 20 silent, the second burst, 15 silent.
    expect(packets).toHaveLength(50);
    expect(packets.map((p) => (silence(p) ? 0 : p[1]))).toEqual([
      ...Array<number>(5).fill(0),
      ...Array<number>(5).fill(1),
      ...Array<number>(20).fill(0),
      ...Array<number>(5).fill(2),
      ...Array<number>(15).fill(0),
    ]);
    expect(pages.at(-1)!.granule).toBe(48_000n);
    expect(pages.at(-1)!.headerType).toBe(0x04);
  });

  it('a long pause is written a second at a time as the target drains, not buffered whole', async () => {
    let peak = 0;
    let written = 0;
    const slow: Writable = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        peak = Math.max(peak, slow.writableLength);
        setImmediate(cb);
      },
    });
    const t = new RecordingTimeline({ startAt: 0 });
    t.stop(30_000);
    // A speaker first heard 20 s in: 20 s of leading silence, then 10 s more to the stop.
    const frames = [
      { timestamp: 0, receivedAt: 20_000, concealed: false, pcm: new Int16Array(1920).fill(1) },
    ];
    await recordWav(stream(frames), slow, { timeline: t });
    while (slow.writableLength > 0) await new Promise((r) => setImmediate(r));
    expect(written).toBe(44 + 30 * 192_000);
    expect(peak).toBeLessThanOrEqual(2 * 192_000);
  });

  it('without a timeline (the default) frames are written back to back', async () => {
    const sink = memorySink();
    await recordWav(stream(a), sink.stream);
    expect(sink.bytes().length - 44).toBe(10 * 3_840);
  });
});
