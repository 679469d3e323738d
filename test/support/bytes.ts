/** Byte helpers for tests: hex in and out, recognisable frames. */
import { OPUS_SILENCE_FRAME } from '../../src/protocol/constants.js';

/** Lowercase hex of `b`; '-' for a missing value, so two missing values compare equal. */
export function hex(b: Uint8Array | undefined): string {
  return b === undefined ? '-' : Buffer.from(b).toString('hex');
}

/** Bytes from hex written the way specs print it: white space and '·' separators are ignored. */
export function unhex(text: string): Uint8Array {
  return new Uint8Array(hexBuffer(text));
}

/** `unhex` as a Buffer, for tests that compare against what node:dgram and node:crypto return. */
export function hexBuffer(text: string): Buffer {
  return Buffer.from(text.replace(/[\s·]+/g, ''), 'hex');
}

/** Opus's three-byte silence frame (what a sender pads a stop with). */
export function isSilence(payload: Uint8Array): boolean {
  return (
    payload.length === OPUS_SILENCE_FRAME.length && OPUS_SILENCE_FRAME.every((byte, i) => payload[i] === byte)
  );
}
