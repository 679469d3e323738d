'use strict';
/**
 * A stand-in for `@discordjs/opus`, for prism-media 1.3.5 under @discordjs/voice in the bench:
 * the same `OpusEncoder` API, backed by @evan/opus (the native libopus voxcord uses by default).
 * The real package cannot be installed here (its install step downloads a prebuilt binary) and
 * opusscript 0.1.1 corrupts its wasm heap with 3+ instances. bench/clients/djs-opus.ts points
 * `require('@discordjs/opus')` at this file.
 *
 * prism-media calls: `new OpusEncoder(rate, channels)`, `encode(pcm, frameSize)`,
 * `decode(packet, frameSize)` (frameSize is ignored, as the real package does: the frame length
 * comes from the input) and `applyEncoderCTL(ctl, value)` for bitrate, FEC and packet loss.
 */
const { Encoder, Decoder } = require('@evan/opus');

const OPUS_SET_BITRATE = 4002;
const OPUS_GET_BITRATE = 4003;
const APPLICATION_AUDIO = 'audio';

/** A zero-copy Buffer over the fresh Uint8Array @evan/opus returns. */
function toBuffer(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkInput(value, what) {
  if (!ArrayBuffer.isView(value)) throw new TypeError(`${what} must be a Buffer`);
}

class OpusEncoder {
  /**
   * @param {number} rate 8000, 12000, 16000, 24000 or 48000
   * @param {number} channels 1 or 2
   */
  constructor(rate, channels) {
    if (![8000, 12000, 16000, 24000, 48000].includes(rate)) throw new RangeError(`invalid sample rate ${rate}`);
    if (channels !== 1 && channels !== 2) throw new RangeError(`invalid channel count ${channels}`);
    this.rate = rate;
    this.channels = channels;
    // Created on first use: prism-media builds one OpusEncoder per stream, and a decoder stream
    // never encodes (nor an encoder stream decodes).
    this.encoder = undefined;
    this.decoder = undefined;
  }

  getEncoder() {
    this.encoder ??= new Encoder({ channels: this.channels, sample_rate: this.rate, application: APPLICATION_AUDIO });
    return this.encoder;
  }

  getDecoder() {
    this.decoder ??= new Decoder({ channels: this.channels, sample_rate: this.rate });
    return this.decoder;
  }

  /** Interleaved s16le PCM (one 2.5-60 ms frame) to one Opus packet. */
  encode(pcm) {
    checkInput(pcm, 'PCM');
    return toBuffer(this.getEncoder().encode(pcm));
  }

  /** One Opus packet to interleaved s16le PCM (960 samples per channel for a 20 ms frame at 48 kHz). */
  decode(packet) {
    checkInput(packet, 'Opus packet');
    return toBuffer(this.getDecoder().decode(packet));
  }

  applyEncoderCTL(ctl, value) {
    this.getEncoder().ctl(ctl, value);
  }

  applyDecoderCTL(ctl, value) {
    this.getDecoder().ctl(ctl, value);
  }

  setBitrate(bitrate) {
    this.applyEncoderCTL(OPUS_SET_BITRATE, bitrate);
  }

  getBitrate() {
    return this.getEncoder().ctl(OPUS_GET_BITRATE);
  }
}

module.exports = { OpusEncoder, voxcordShim: true };
