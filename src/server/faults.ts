/**
 * Seeded fault injection for the local voice server. Pure: the injectors decide what happens to
 * each forwarded UDP packet / server websocket message; the SFU and gateway apply the decision
 * (timers live there). The same seed and the same traffic give the same faults.
 */
import {
  checkArg,
  checkCloseCode,
  checkNumber,
  checkOneOf,
  checkOptions,
  MAX_TIMER_MS,
} from '../util/args.js';

export interface UdpFaults {
  /** Probability [0,1] that a forwarded packet is dropped. */
  drop?: number;
  /** Probability that a forwarded packet is sent twice. */
  duplicate?: number;
  /** Probability that a packet is held and released right after the next one (to that receiver). */
  reorder?: number;
  /** Probability that one byte of the packet's auth tag is flipped (receiver's AEAD check fails). */
  corrupt?: number;
  /** Fixed delay in ms before every forwarded packet leaves. */
  delayMs?: number;
  /**
   * Called for every packet the faults are applied to (the datagram for that receiver, before any
   * fault) with the faults applied: ground truth for tests that account for every packet.
   */
  observe?: (packet: Uint8Array, applied: readonly UdpFaultKind[]) => void;
}

/**
 * Points of the voice handshake where the gateway can close a websocket (WsFaults.closeAt):
 * before sending Hello, right after it, on Identify before Ready, right after Ready, on Select
 * Protocol before Session Description, right after Session Description.
 */
export type HandshakeStep =
  | 'before-hello'
  | 'after-hello'
  | 'after-identify'
  | 'after-ready'
  | 'after-select-protocol'
  | 'after-session-description';

export interface WsFaults {
  /** Fixed delay in ms before every server websocket message (order is kept). */
  delayMs?: number;
  /** Probability that a server message is sent twice (same frame, same seq). */
  duplicate?: number;
  /** Close the websocket with `code` the first `times` (default 1) times any connection reaches `step`. */
  closeAt?: { step: HandshakeStep; code: number; times?: number };
}

export interface FaultOptions {
  udp?: UdpFaults;
  ws?: WsFaults;
}

/** Every HandshakeStep, in handshake order. */
export const HANDSHAKE_STEPS: readonly HandshakeStep[] = [
  'before-hello',
  'after-hello',
  'after-identify',
  'after-ready',
  'after-select-protocol',
  'after-session-description',
];

/** Refuses faults of the wrong shape before they reach the gateway and the SFU (a bad one broke them). */
export function checkFaults(faults: FaultOptions): void {
  checkArg(faults, 'faults', 'object');
  const { udp, ws } = faults;
  checkOptions(udp, 'faults.udp');
  checkOptions(ws, 'faults.ws');
  const probability = { min: 0, max: 1, optional: true };
  for (const key of ['drop', 'duplicate', 'reorder', 'corrupt'] as const)
    checkNumber(udp?.[key], `faults.udp.${key}`, probability);
  checkNumber(udp?.delayMs, 'faults.udp.delayMs', { min: 0, max: MAX_TIMER_MS, optional: true });
  checkArg(udp?.observe, 'faults.udp.observe', 'function', 'optional');
  checkNumber(ws?.delayMs, 'faults.ws.delayMs', { min: 0, max: MAX_TIMER_MS, optional: true });
  checkNumber(ws?.duplicate, 'faults.ws.duplicate', probability);
  const closeAt = ws?.closeAt;
  if (closeAt === undefined) return;
  checkArg(closeAt, 'faults.ws.closeAt', 'object');
  checkOneOf(closeAt.step, 'faults.ws.closeAt.step', HANDSHAKE_STEPS);
  checkCloseCode(closeAt.code, 'faults.ws.closeAt.code');
  checkNumber(closeAt.times, 'faults.ws.closeAt.times', { integer: true, min: 1, optional: true });
}

/** mulberry32: tiny, fast, good enough for test fault patterns. Returns floats in [0, 1). */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Derives an independent stream seed (per receiver / per session) from the server seed. */
export function deriveSeed(seed: number, salt: number): number {
  let h = (seed ^ Math.imul(salt >>> 0, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export type UdpFaultKind = 'drop' | 'corrupt' | 'duplicate' | 'reorder';

export interface UdpFaultDecision {
  /** Packets to send now, in order (0, 1, 2 or 3 entries). */
  send: Buffer[];
  /** Faults applied to this packet (for counters and logs). */
  applied: UdpFaultKind[];
}

const hit = (rng: () => number, p: number | undefined): boolean => p !== undefined && p > 0 && rng() < p;

/**
 * Per-receiver UDP fault state. One RNG draw per configured probability per packet, always in the
 * order drop, corrupt, duplicate, reorder, so patterns are reproducible from the seed.
 */
export class UdpFaultInjector {
  private readonly rng: () => number;
  private held: Buffer | null = null;

  constructor(seed: number) {
    this.rng = createRng(seed);
  }

  process(packet: Buffer, faults: UdpFaults | undefined): UdpFaultDecision {
    if (faults === undefined) return { send: this.release([packet]), applied: [] };
    const decision = this.decide(packet, faults);
    faults.observe?.(packet, decision.applied);
    return decision;
  }

  private decide(packet: Buffer, faults: UdpFaults): UdpFaultDecision {
    const applied: UdpFaultKind[] = [];
    if (hit(this.rng, faults.drop)) {
      applied.push('drop');
      return { send: [], applied };
    }
    let out = packet;
    if (hit(this.rng, faults.corrupt)) {
      applied.push('corrupt');
      out = Buffer.from(packet);
      // Last byte of the 16-byte tag (just before the 4-byte nonce counter).
      const at = Math.max(0, out.length - 5);
      out[at]! ^= 0xff;
    }
    const copies = hit(this.rng, faults.duplicate) ? [out, out] : [out];
    if (copies.length === 2) applied.push('duplicate');
    if (this.held === null && hit(this.rng, faults.reorder)) {
      applied.push('reorder');
      this.held = out;
      return { send: copies.slice(1), applied };
    }
    return { send: this.release(copies), applied };
  }

  /** A packet is held for reordering. */
  get holding(): boolean {
    return this.held !== null;
  }

  /** A packet held for reordering that the next packet has not released yet. */
  takeHeld(): Buffer | null {
    const held = this.held;
    this.held = null;
    return held;
  }

  private release(packets: Buffer[]): Buffer[] {
    const held = this.takeHeld();
    return held === null ? packets : [...packets, held];
  }
}

/** closeAt faults already fired, per fault object (a new setFaults() object starts again at 0). */
const closesFired = new WeakMap<object, number>();

/** The close code to apply now if a closeAt fault targets `step` and has firings left. */
export function takeCloseAt(faults: WsFaults | undefined, step: HandshakeStep): number | undefined {
  const closeAt = faults?.closeAt;
  if (closeAt === undefined || closeAt.step !== step) return undefined;
  const fired = closesFired.get(closeAt) ?? 0;
  if (fired >= (closeAt.times ?? 1)) return undefined;
  closesFired.set(closeAt, fired + 1);
  return closeAt.code;
}

/** Per-session websocket fault state: how many times to send a server message. */
export class WsFaultInjector {
  private readonly rng: () => number;

  constructor(seed: number) {
    this.rng = createRng(seed);
  }

  copies(faults: WsFaults | undefined): number {
    return faults !== undefined && hit(this.rng, faults.duplicate) ? 2 : 1;
  }
}
