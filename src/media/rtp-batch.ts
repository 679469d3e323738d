/**
 * The one layout of received packets on their way from a worker to the main thread: a batch of
 * packets of any channels travels as two buffers (numbers, payload bytes), not as an object per
 * packet that structured cloning would copy field by field. The writer (worker side) reuses its
 * scratch buffers; the reader (main side) makes one ReceivedRtp per packet whose payload is a view
 * into the batch's bytes (a few KiB per batch, freed once the last frame of it is consumed).
 */
import type { ReceivedRtp } from './media-engine.js';

/** A batch as it crosses to the main thread (transferred). */
export interface PackedRtp {
  count: number;
  /** Float64Array: RTP_META_FIELDS numbers per packet. */
  meta: ArrayBuffer;
  /** Every payload of the message, back to back. */
  data: ArrayBuffer;
}

/** Field indices of one packet in PackedRtp.meta. */
const CHANNEL = 0;
const SSRC = 1;
const SEQUENCE = 2;
const TIMESTAMP = 3;
const OFFSET = 4;
const LENGTH = 5;
/** performance.now() of the worker when the datagram arrived. */
const RECEIVED_AT = 6;
export const RTP_META_FIELDS = 7;

export class RtpBatchWriter {
  private meta = new Float64Array(64 * RTP_META_FIELDS);
  private data = new Uint8Array(16 * 1024);
  private packets = 0;
  private bytes = 0;

  /** Packets added since the last take(). */
  get count(): number {
    return this.packets;
  }

  add(channel: number, packet: ReceivedRtp): void {
    const payload = packet.payload;
    const at = this.bytes;
    this.reserve(payload.length).set(payload, at);
    this.addInPlace(
      channel,
      packet.ssrc,
      packet.sequence,
      packet.timestamp,
      at,
      payload.length,
      packet.receivedAt,
    );
  }

  /** Where the next packet's bytes go in reserve()'s buffer. */
  get end(): number {
    return this.bytes;
  }

  /**
   * The data buffer, with room for `bytes` more from `end`: a receiver decrypts a packet straight
   * into it, then adds it with addInPlace() (or not, if it is dropped). Valid until the next call.
   */
  reserve(bytes: number): Uint8Array {
    if (this.bytes + bytes > this.data.length) this.data = grown(this.data, bytes);
    return this.data;
  }

  /**
   * A packet whose payload is already at data[offset, offset + length), at or after `end` (after
   * reserve()); the bytes before it up to `end` are skipped.
   */
  addInPlace(
    channel: number,
    ssrc: number,
    sequence: number,
    timestamp: number,
    offset: number,
    length: number,
    receivedAt: number,
  ): void {
    if ((this.packets + 1) * RTP_META_FIELDS > this.meta.length) this.meta = grown(this.meta, 0);
    const m = this.meta;
    const at = this.packets * RTP_META_FIELDS;
    m[at + CHANNEL] = channel;
    m[at + SSRC] = ssrc;
    m[at + SEQUENCE] = sequence;
    m[at + TIMESTAMP] = timestamp;
    m[at + OFFSET] = offset;
    m[at + LENGTH] = length;
    m[at + RECEIVED_AT] = receivedAt;
    this.bytes = offset + length;
    this.packets++;
  }

  /** The packets added so far, in exact-size buffers to transfer (undefined if none); starts over. */
  take(): PackedRtp | undefined {
    if (this.packets === 0) return undefined;
    const batch: PackedRtp = {
      count: this.packets,
      meta: this.meta.slice(0, this.packets * RTP_META_FIELDS).buffer,
      data: this.data.slice(0, this.bytes).buffer,
    };
    this.packets = 0;
    this.bytes = 0;
    return batch;
  }
}

/** A copy of `a` with room for at least `need` more elements (doubling). */
export function grown<T extends Float64Array | Uint32Array | Uint8Array>(a: T, need: number): T {
  const next = new (a.constructor as new (n: number) => T)(Math.max(a.length * 2, a.length + need));
  next.set(a);
  return next;
}

/**
 * Calls `visit` with each packet of a batch, in arrival order. `timeOffset` moves the worker's
 * arrival times onto this thread's performance.now() clock.
 */
export function readRtpBatch(
  batch: PackedRtp,
  timeOffset: number,
  visit: (channel: number, packet: ReceivedRtp) => void,
): void {
  const m = new Float64Array(batch.meta);
  const n = Math.min(batch.count, Math.floor(m.length / RTP_META_FIELDS));
  for (let k = 0, at = 0; k < n; k++, at += RTP_META_FIELDS) {
    visit(m[at + CHANNEL]!, {
      ssrc: m[at + SSRC]!,
      sequence: m[at + SEQUENCE]!,
      timestamp: m[at + TIMESTAMP]!,
      payload: new Uint8Array(batch.data, m[at + OFFSET], m[at + LENGTH]),
      receivedAt: m[at + RECEIVED_AT]! + timeOffset,
    });
  }
}
