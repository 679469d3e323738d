/**
 * Watches every RTP datagram this thread sends (both libraries send through dgram.Socket#send), so
 * that packets and send lateness are measured the same way for voxcord and @discordjs/voice.
 * Lateness is taken against the best-fitting 20 ms grid of each socket: packet k of a socket in the
 * window is due at anchor + 20k, with anchor = min(t_k - 20k). A constant offset is not lateness;
 * jitter, drift and skipped ticks are. Costs one performance.now() and an array push per packet.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { LatenessHistogram, summarizeLateness } from '../src/media/lateness-histogram.js';
import type { LatenessData, LatenessSummary } from '../src/media/lateness-histogram.js';

const FRAME_MS = 20;
const RECORD = Symbol('voxcord-bench-probe');

interface SocketRecord {
  times: number[];
}
type ProbedSocket = dgram.Socket & { [RECORD]?: SocketRecord };

export interface UdpProbe {
  /** Starts a window: earlier sends are forgotten. */
  start(): void;
  /** Ends the window; RTP packets sent in it and their grid lateness (summary and histogram). */
  stop(): { packets: number; sockets: number; lateness: LatenessSummary | null; histogram: LatenessData };
  /** Restores dgram.Socket#send. */
  uninstall(): void;
}

function isRtp(msg: unknown): boolean {
  const first: unknown = Array.isArray(msg) ? msg[0] : msg;
  if (!(first instanceof Uint8Array) || first.length < 12) return false;
  return first[0]! >>> 6 === 2;
}

/** Grid lateness of one socket's send times (ms, ascending) into `histogram`. */
export function recordGridLateness(times: readonly number[], histogram: LatenessHistogram): void {
  let anchor = Infinity;
  for (let k = 0; k < times.length; k++) anchor = Math.min(anchor, times[k]! - FRAME_MS * k);
  for (let k = 0; k < times.length; k++) histogram.record(times[k]! - FRAME_MS * k - anchor);
}

export function installUdpProbe(): UdpProbe {
  const proto = dgram.Socket.prototype;
  // Called back with .apply(socket, ...), so `this` is right.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = proto.send;
  const records: SocketRecord[] = [];
  let active = false;

  function probedSend(this: ProbedSocket, ...args: Parameters<typeof original>): void {
    if (active && isRtp(args[0])) {
      let record = this[RECORD];
      if (!record) {
        record = { times: [] };
        this[RECORD] = record;
        records.push(record);
      }
      record.times.push(performance.now());
    }
    original.apply(this, args);
  }
  proto.send = probedSend as typeof original;

  return {
    start() {
      for (const r of records) r.times = [];
      active = true;
    },
    stop() {
      active = false;
      const histogram = new LatenessHistogram();
      let packets = 0;
      let sockets = 0;
      for (const r of records) {
        if (r.times.length === 0) continue;
        sockets++;
        packets += r.times.length;
        recordGridLateness(r.times, histogram);
      }
      const data = histogram.toJSON();
      return { packets, sockets, lateness: packets > 0 ? summarizeLateness([data]) : null, histogram: data };
    },
    uninstall() {
      proto.send = original;
    },
  };
}
