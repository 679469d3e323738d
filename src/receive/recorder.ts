/**
 * Recording helpers: WAV (s16le PCM) and Ogg Opus (RFC 7845) writers, to a file path or a Writable.
 *
 * The byte formats are pure functions (wavHeader, buildOggPage (CRC: src/audio/ogg-crc.ts), opusHead, opusTags,
 * OggOpusPager) so they test without I/O. A WAV file written to a path gets its real sizes patched
 * into the header at close; a Writable gets the "unknown length" sizes (0xFFFFFFFF) most readers
 * accept for streamed WAV. recordWav/recordOggOpus pipe a receiver stream into a writer, either
 * frames back to back (default) or timeline-aligned (a RecordingTimeline: silence kept, so files
 * recorded on the same timeline line up sample for sample).
 */
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import {
  CHANNELS,
  OGG_PACKETS_PER_PAGE,
  OPUS_SILENCE_FRAME,
  SAMPLE_RATE,
  SAMPLES_PER_FRAME,
} from '../protocol/constants.js';
import { VoxcordError, toError } from '../errors.js';
import { TimelinePlacer, type RecordingTimeline, type TimedFrame } from './recording-timeline.js';
import { oggCrc } from '../audio/ogg-crc.js';
import {
  checkArg,
  checkArrayOf,
  checkMethods,
  checkNumber,
  checkOptions,
  invalidArgument,
} from '../util/args.js';
import { plainBytes } from '../util/bytes.js';

// ---------------------------------------------------------------------------------------------
// WAV

export interface WavFormat {
  sampleRate: number;
  channels: number;
}

export const WAV_HEADER_BYTES = 44;
const U32_MAX = 0xffff_ffff;

/** The 44-byte RIFF/WAVE header for 16-bit PCM with `dataBytes` of samples (clamped to u32). */
export function wavHeader(
  dataBytes: number,
  format: WavFormat = { sampleRate: SAMPLE_RATE, channels: CHANNELS },
): Uint8Array {
  const { sampleRate, channels } = format;
  checkNumber(channels, 'WAV channels', { integer: true, min: 1, max: 0xffff });
  // The byte rate (rate × channels × 2) is a u32 too.
  checkNumber(sampleRate, 'WAV sampleRate', {
    integer: true,
    min: 1,
    max: Math.floor(U32_MAX / (channels * 2)),
  });
  const header = new Uint8Array(WAV_HEADER_BYTES);
  const v = new DataView(header.buffer);
  const ascii = (offset: number, s: string): void => {
    for (let i = 0; i < s.length; i++) header[offset + i] = s.charCodeAt(i);
  };
  const data = Math.min(dataBytes, U32_MAX - 36);
  const blockAlign = channels * 2;
  ascii(0, 'RIFF');
  v.setUint32(4, dataBytes >= U32_MAX ? U32_MAX : 36 + data, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true); // fmt chunk size
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * blockAlign, true); // byte rate
  v.setUint16(32, blockAlign, true);
  v.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  v.setUint32(40, dataBytes >= U32_MAX ? U32_MAX : data, true);
  return header;
}

/** s16 samples as little-endian bytes (copies only on a big-endian host). */
export function pcmBytes(pcm: Int16Array | Uint8Array): Uint8Array {
  if (pcm instanceof Uint8Array) return pcm;
  if (LITTLE_ENDIAN) return plainBytes(pcm);
  const out = new Uint8Array(pcm.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) v.setInt16(i * 2, pcm[i]!, true);
  return out;
}
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export interface RecordingWriter<Chunk> {
  write(chunk: Chunk): void;
  /** Finishes the file (WAV: patches the header sizes). Rejects with the first write error. */
  close(): Promise<void>;
  /** Payload bytes written so far (WAV: PCM data; Ogg: whole pages). */
  readonly bytesWritten: number;
  /** Resolves once the target has room again, so long stretches can be written without piling up. */
  ready(): Promise<void>;
}

/** Wraps a target in a sink that remembers its first error instead of throwing it at the caller. */
function openSink(target: string | Writable): {
  stream: Writable;
  ownsStream: boolean;
  error: () => Error | undefined;
} {
  if (typeof target !== 'string')
    checkMethods(target, 'target', 'a path or a Writable', ['write', 'on', 'end']);
  else checkArg(target, 'target', 'string');
  const stream = typeof target === 'string' ? createWriteStream(target) : target;
  let failure: Error | undefined;
  stream.on('error', (err: unknown) => {
    failure ??= toError(err);
  });
  return { stream, ownsStream: typeof target === 'string', error: () => failure };
}

function whenDrained(stream: Writable): Promise<void> {
  if (!stream.writableNeedDrain || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

function endStream(stream: Writable, owns: boolean): Promise<void> {
  if (!owns) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

function recordFailed(err: unknown): VoxcordError {
  return new VoxcordError('AUDIO_INPUT_ERROR', 'recording could not be written', { cause: toError(err) });
}

/**
 * A WAV writer for s16le PCM (default 48 kHz stereo). `write` takes Int16Array samples or s16le bytes.
 * A path target is closed (and its header patched) by close(); a Writable target is left open.
 */
export function createWavWriter(
  target: string | Writable,
  format: WavFormat = { sampleRate: SAMPLE_RATE, channels: CHANNELS },
): RecordingWriter<Int16Array | Uint8Array> {
  checkOptions(format, 'format');
  const path = typeof target === 'string' ? target : undefined;
  // Before the target opens: a bad format leaves no file behind.
  const header = wavHeader(path === undefined ? U32_MAX : 0, format);
  const sink = openSink(target);
  let bytes = 0;
  let closed = false;
  sink.stream.write(header);
  return {
    get bytesWritten() {
      return bytes;
    },
    ready: () => whenDrained(sink.stream),
    write(chunk) {
      if (closed) throw new VoxcordError('DESTROYED', 'WAV writer is closed');
      if (!(chunk instanceof Int16Array || (chunk instanceof Uint8Array && chunk.length % 2 === 0)))
        throw invalidArgument('chunk', 'an Int16Array or s16le bytes (an even count)', chunk);
      const b = pcmBytes(chunk);
      if (b.length === 0) return;
      // Copy: the caller may reuse its buffer before the stream flushes.
      sink.stream.write(Uint8Array.from(b));
      bytes += b.length;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await endStream(sink.stream, sink.ownsStream);
        const failure = sink.error();
        if (failure) throw failure;
        if (path !== undefined) {
          const fh = await open(path, 'r+');
          try {
            await fh.write(wavHeader(bytes, format), 0, WAV_HEADER_BYTES, 0);
          } finally {
            await fh.close();
          }
        }
      } catch (err) {
        throw recordFailed(err);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Ogg Opus

export const OggHeaderType = { Continued: 0x01, BeginOfStream: 0x02, EndOfStream: 0x04 } as const;

export interface OggPage {
  headerType: number;
  /** -1 when no packet ends on the page. */
  granulePosition: number;
  serial: number;
  pageSequence: number;
  /** Complete packets (this writer never splits a packet across pages). */
  packets: readonly Uint8Array[];
}

/** Lacing values of a page's packets: 255s then the remainder (a 0 ends a multiple of 255). */
function lacing(packets: readonly Uint8Array[]): number[] {
  const values: number[] = [];
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      values.push(255);
      n -= 255;
    }
    values.push(n);
  }
  return values;
}

/** Serialises one Ogg page (RFC 3533) with its CRC. */
export function buildOggPage(page: OggPage): Uint8Array {
  const segments = lacing(page.packets);
  if (segments.length > 255)
    throw new VoxcordError('INVALID_ARGUMENT', 'Ogg page holds at most 255 segments');
  const bodyLength = page.packets.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(27 + segments.length + bodyLength);
  const v = new DataView(out.buffer);
  out.set([0x4f, 0x67, 0x67, 0x53], 0); // "OggS"
  out[4] = 0; // version
  out[5] = page.headerType;
  v.setBigInt64(6, BigInt(page.granulePosition), true);
  v.setUint32(14, page.serial >>> 0, true);
  v.setUint32(18, page.pageSequence >>> 0, true);
  // CRC at 22..25 stays zero while computing.
  out[26] = segments.length;
  out.set(segments, 27);
  let offset = 27 + segments.length;
  for (const p of page.packets) {
    out.set(p, offset);
    offset += p.length;
  }
  v.setUint32(22, oggCrc(out), true);
  return out;
}

export interface OpusHeadOptions {
  channels?: number;
  /** Samples (48 kHz) to discard at the start of playback (default 0: a recording of received frames). */
  preSkip?: number;
  inputSampleRate?: number;
  /** Q7.8 dB. */
  outputGain?: number;
}

/** The 19-byte OpusHead identification header, channel mapping family 0 (RFC 7845 §5.1). */
export function opusHead(options: OpusHeadOptions = {}): Uint8Array {
  checkNumber(options.channels, 'channels', { integer: true, min: 1, max: 2, optional: true });
  checkNumber(options.preSkip, 'preSkip', { integer: true, min: 0, max: 0xffff, optional: true });
  checkNumber(options.inputSampleRate, 'inputSampleRate', {
    integer: true,
    min: 1,
    max: U32_MAX,
    optional: true,
  });
  checkNumber(options.outputGain, 'outputGain', { integer: true, min: -0x8000, max: 0x7fff, optional: true });
  const out = new Uint8Array(19);
  const v = new DataView(out.buffer);
  out.set(new TextEncoder().encode('OpusHead'), 0);
  out[8] = 1; // version
  out[9] = options.channels ?? CHANNELS;
  v.setUint16(10, options.preSkip ?? 0, true);
  v.setUint32(12, options.inputSampleRate ?? SAMPLE_RATE, true);
  v.setInt16(16, options.outputGain ?? 0, true);
  out[18] = 0; // mapping family 0: mono/stereo
  return out;
}

/** The OpusTags comment header (RFC 7845 §5.2). */
export function opusTags(vendor = 'voxcord', comments: readonly string[] = []): Uint8Array {
  const enc = new TextEncoder();
  const vendorBytes = enc.encode(vendor);
  const commentBytes = comments.map((c) => enc.encode(c));
  const size = 8 + 4 + vendorBytes.length + 4 + commentBytes.reduce((n, c) => n + 4 + c.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set(enc.encode('OpusTags'), 0);
  let o = 8;
  v.setUint32(o, vendorBytes.length, true);
  out.set(vendorBytes, o + 4);
  o += 4 + vendorBytes.length;
  v.setUint32(o, commentBytes.length, true);
  o += 4;
  for (const c of commentBytes) {
    v.setUint32(o, c.length, true);
    out.set(c, o + 4);
    o += 4 + c.length;
  }
  return out;
}

export interface OggOpusOptions extends OpusHeadOptions {
  /** Logical stream serial number (default random). */
  serial?: number;
  vendor?: string;
  comments?: readonly string[];
  /** Packets per audio page (default 50 = 1 s). */
  packetsPerPage?: number;
}

const MAX_OPUS_PACKET_BYTES = 255 * 255 - 1;

/**
 * Pure Ogg Opus paginator: header pages, then audio pages of whole packets with granule positions
 * (48 kHz samples, including pre-skip, RFC 7845 §4). The last page (from end()) carries EOS, so
 * a page is held back until the next packet or end().
 */
export class OggOpusPager {
  private readonly serial: number;
  private readonly perPage: number;
  private sequence = 0;
  private granule: number;
  private pending: Uint8Array[] = [];
  private pendingSegments = 0;
  private ended = false;
  /** Made (and its options checked) up front, before a writer opens its target. */
  private readonly head: Uint8Array;

  constructor(private readonly options: OggOpusOptions = {}) {
    checkOptions(options);
    this.head = opusHead(options);
    checkArg(options.vendor, 'vendor', 'string', 'optional');
    checkArrayOf(options.comments, 'comments', 'string', 'optional');
    checkNumber(options.serial, 'serial', { integer: true, min: 0, max: 0xffff_ffff, optional: true });
    this.serial = (options.serial ?? Math.floor(Math.random() * 0x1_0000_0000)) >>> 0;
    this.granule = 0;
    this.perPage = options.packetsPerPage ?? OGG_PACKETS_PER_PAGE;
    if (!Number.isInteger(this.perPage) || this.perPage < 1 || this.perPage > 255) {
      throw new VoxcordError('INVALID_ARGUMENT', 'packetsPerPage must be an integer in 1..255');
    }
  }

  /** The OpusHead page (BOS) and the OpusTags page. */
  headers(): Uint8Array[] {
    return [
      buildOggPage({
        headerType: OggHeaderType.BeginOfStream,
        granulePosition: 0,
        serial: this.serial,
        pageSequence: this.sequence++,
        packets: [this.head],
      }),
      buildOggPage({
        headerType: 0,
        granulePosition: 0,
        serial: this.serial,
        pageSequence: this.sequence++,
        packets: [opusTags(this.options.vendor, this.options.comments)],
      }),
    ];
  }

  /** Adds one Opus packet of `samples` (48 kHz, per channel); returns pages completed by it. */
  packet(opus: Uint8Array, samples: number = SAMPLES_PER_FRAME): Uint8Array[] {
    if (this.ended) throw new VoxcordError('DESTROYED', 'Ogg stream has ended');
    if (!(opus instanceof Uint8Array) || opus.length === 0 || opus.length > MAX_OPUS_PACKET_BYTES) {
      throw new VoxcordError('INVALID_ARGUMENT', 'Opus packet must be 1..65024 bytes');
    }
    checkNumber(samples, 'samples', { integer: true, min: 0, above: true });
    const segs = Math.floor(opus.length / 255) + 1;
    const pages: Uint8Array[] = [];
    if (this.pending.length >= this.perPage || this.pendingSegments + segs > 255) pages.push(this.flush(0));
    this.pending.push(opus.slice());
    this.pendingSegments += segs;
    this.granule += samples;
    return pages;
  }

  /** The final page (EOS) with any held packets. */
  end(): Uint8Array {
    if (this.ended) throw new VoxcordError('DESTROYED', 'Ogg stream has ended');
    this.ended = true;
    return this.flush(OggHeaderType.EndOfStream);
  }

  private flush(flags: number): Uint8Array {
    // Granule of a page = samples up to the end of its last packet (packet() flushes before counting
    // the packet that triggered the flush).
    const page = buildOggPage({
      headerType: flags,
      granulePosition: this.granule,
      serial: this.serial,
      pageSequence: this.sequence++,
      packets: this.pending,
    });
    this.pending = [];
    this.pendingSegments = 0;
    return page;
  }
}

/**
 * An Ogg Opus writer. `write(frame)` takes one Opus packet (20 ms by default); `writeLost()` keeps
 * the timeline across a lost frame by writing a silence frame. A path target is closed by close();
 * a Writable target is left open.
 */
export function createOggOpusWriter(
  target: string | Writable,
  options: OggOpusOptions = {},
): RecordingWriter<Uint8Array> & { writeLost(samples?: number): void } {
  const pager = new OggOpusPager(options);
  const sink = openSink(target);
  let bytes = 0;
  let closed = false;
  const emit = (pages: Uint8Array[]): void => {
    for (const p of pages) {
      sink.stream.write(p);
      bytes += p.length;
    }
  };
  emit(pager.headers());
  const write = (frame: Uint8Array, samples?: number): void => {
    if (closed) throw new VoxcordError('DESTROYED', 'Ogg writer is closed');
    emit(pager.packet(frame, samples));
  };
  return {
    get bytesWritten() {
      return bytes;
    },
    ready: () => whenDrained(sink.stream),
    write: (frame) => write(frame),
    writeLost: (samples = SAMPLES_PER_FRAME) => write(OPUS_SILENCE_FRAME.slice(), samples),
    async close() {
      if (closed) return;
      emit([pager.end()]);
      closed = true;
      try {
        await endStream(sink.stream, sink.ownsStream);
        const failure = sink.error();
        if (failure) throw failure;
      } catch (err) {
        throw recordFailed(err);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Piping receiver streams into writers

export interface FrameLike extends TimedFrame {
  pcm?: Int16Array;
  payload?: Uint8Array;
  concealed?: boolean;
}

export interface AlignOptions {
  /**
   * Timeline-aligned output: the file starts at the timeline's start and keeps the silence between
   * bursts (and before a late first one), so sample k of every file recorded on the same timeline
   * is the same instant. Call `timeline.stop()` before the streams end so the files also end
   * together. Without it (the default), only received frames are written, back to back.
   */
  timeline?: RecordingTimeline;
}

export interface RecordWavOptions extends Partial<WavFormat>, AlignOptions {}

export interface RecordOggOpusOptions extends OggOpusOptions, AlignOptions {}

function checkRecordArgs(frames: unknown, options: AlignOptions): void {
  checkArg(frames, 'frames', 'iterable');
  checkOptions(options);
  checkMethods(options.timeline, 'timeline', 'a RecordingTimeline', ['samplesAt', 'endSamples'], 'optional');
}

/** One second of zeros at the default format, written in slices for long gaps. */
const ZEROS = new Int16Array(SAMPLE_RATE * CHANNELS);

/** Zeros a second at a time, waiting for the target between seconds (a long pause is not buffered whole). */
async function writeZeros(writer: RecordingWriter<Int16Array | Uint8Array>, samples: number): Promise<void> {
  for (let left = samples; left > 0; left -= ZEROS.length) {
    writer.write(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
    if (left > ZEROS.length) await writer.ready();
  }
}

/**
 * Records a PCM-mode user stream or the mixed stream to WAV until the stream ends. Resolves when
 * the file is complete.
 */
export async function recordWav(
  frames: AsyncIterable<FrameLike>,
  target: string | Writable,
  options: RecordWavOptions = {},
): Promise<void> {
  checkRecordArgs(frames, options);
  const format = { sampleRate: options.sampleRate ?? SAMPLE_RATE, channels: options.channels ?? CHANNELS };
  const writer = createWavWriter(target, format);
  // Timeline samples are 48 kHz; a file at another rate converts its gaps.
  const perTimelineSample = format.sampleRate / SAMPLE_RATE;
  const placer =
    options.timeline === undefined ? undefined : new TimelinePlacer(options.timeline, 1 / perTimelineSample);
  const pad = (gap: number): Promise<void> =>
    writeZeros(writer, Math.round(gap * perTimelineSample) * format.channels);
  try {
    for await (const f of frames) {
      if (f.pcm === undefined) continue;
      if (placer !== undefined)
        await pad(placer.place(f, f.pcm.length / format.channels / perTimelineSample));
      writer.write(f.pcm);
    }
    if (placer !== undefined) await pad(placer.end());
  } finally {
    await writer.close();
  }
}

/**
 * Records an Opus-mode user stream to Ogg Opus (lost frames become silence) until it ends. With a
 * timeline, gaps are real 20 ms silence packets (counted in the granule positions), which every
 * decoder plays for their duration.
 */
export async function recordOggOpus(
  frames: AsyncIterable<FrameLike>,
  target: string | Writable,
  options: RecordOggOpusOptions = {},
): Promise<void> {
  checkRecordArgs(frames, options);
  const writer = createOggOpusWriter(target, options);
  const placer =
    options.timeline === undefined ? undefined : new TimelinePlacer(options.timeline, SAMPLES_PER_FRAME);
  const pad = (gap: number): void => {
    for (let n = gap / SAMPLES_PER_FRAME; n > 0; n--) writer.writeLost();
  };
  try {
    for await (const f of frames) {
      if (f.payload === undefined && f.concealed !== true) continue;
      if (placer !== undefined) pad(placer.place(f, SAMPLES_PER_FRAME));
      if (f.payload !== undefined) writer.write(f.payload);
      else writer.writeLost();
    }
    if (placer !== undefined) pad(placer.end());
  } finally {
    await writer.close();
  }
}
