/**
 * A stand-in for `@discordjs/opus`, for prism-media 1.3.5 under @discordjs/voice in the bench:
 * the same `OpusEncoder` API, backed by @evan/opus (the native libopus voxcord uses by default).
 * The real package cannot be installed here (its install step downloads a prebuilt binary) and
 * opusscript 0.1.1 corrupts its wasm heap with 3+ instances. bench/clients/djs-opus.ts makes
 * `require('@discordjs/opus')` return this module.
 *
 * prism-media calls: `new OpusEncoder(rate, channels)`, `encode(pcm, frameSize)`,
 * `decode(packet, frameSize)` (frameSize is ignored, as the real package does: the frame length
 * comes from the input) and `applyEncoderCTL(ctl, value)` for bitrate, FEC and packet loss.
 */
import { Decoder, Encoder } from '@evan/opus';

const OPUS_SET_BITRATE = 4002;
const OPUS_GET_BITRATE = 4003;
const SAMPLE_RATES = [8000, 12000, 16000, 24000, 48000] as const;
type SampleRate = (typeof SAMPLE_RATES)[number];

function isSampleRate(rate: number): rate is SampleRate {
  return (SAMPLE_RATES as readonly number[]).includes(rate);
}

/** A zero-copy Buffer over the fresh Uint8Array @evan/opus returns. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkInput(value: unknown, what: string): asserts value is ArrayBufferView {
  if (!ArrayBuffer.isView(value)) throw new TypeError(`${what} must be a Buffer`);
}

/** `@discordjs/opus`'s OpusEncoder: one object that both encodes and decodes. */
export class OpusEncoder {
  readonly rate: SampleRate;
  readonly channels: 1 | 2;
  // Created on first use: prism-media builds one OpusEncoder per stream, and a decoder stream
  // never encodes (nor an encoder stream decodes).
  #encoder: Encoder | undefined;
  #decoder: Decoder | undefined;
  /** Bytes of the last decoded frame: the size of the concealment for an empty packet. */
  #lastFrameBytes = 0;

  constructor(rate: number, channels: number) {
    if (!isSampleRate(rate)) throw new RangeError(`invalid sample rate ${rate}`);
    if (channels !== 1 && channels !== 2) throw new RangeError(`invalid channel count ${channels}`);
    this.rate = rate;
    this.channels = channels;
  }

  #getEncoder(): Encoder {
    this.#encoder ??= new Encoder({ channels: this.channels, sample_rate: this.rate, application: 'audio' });
    return this.#encoder;
  }

  #getDecoder(): Decoder {
    this.#decoder ??= new Decoder({ channels: this.channels, sample_rate: this.rate });
    return this.#decoder;
  }

  /** Interleaved s16le PCM (one 2.5-60 ms frame) to one Opus packet. */
  encode(pcm: Buffer): Buffer {
    checkInput(pcm, 'PCM');
    return toBuffer(this.#getEncoder().encode(pcm));
  }

  /** One Opus packet to interleaved s16le PCM (960 samples per channel for a 20 ms frame at 48 kHz). */
  decode(packet: Buffer): Buffer {
    checkInput(packet, 'Opus packet');
    // @discordjs/opus hands an empty packet to libopus, which conceals it (PLC) instead of failing;
    // @evan/opus rejects it and has no PLC, so an empty packet becomes one frame of silence.
    if (packet.length === 0) return Buffer.alloc(this.#lastFrameBytes || 960 * 2 * this.channels);
    const pcm = toBuffer(this.#getDecoder().decode(packet));
    this.#lastFrameBytes = pcm.length;
    return pcm;
  }

  applyEncoderCTL(ctl: number, value: number): void {
    this.#getEncoder().ctl(ctl, value);
  }

  applyDecoderCTL(ctl: number, value: number): void {
    this.#getDecoder().ctl(ctl, value);
  }

  setBitrate(bitrate: number): void {
    this.applyEncoderCTL(OPUS_SET_BITRATE, bitrate);
  }

  getBitrate(): number {
    return this.#getEncoder().ctl(OPUS_GET_BITRATE);
  }
}

/** Lets a test tell the shim from the real package. */
export const voxcordShim = true;
