/**
 * Anti-replay window on the rtpsize transport nonce (the 32-bit counter after the tag), like
 * IPsec's (RFC 4303 §3.4.3): the highest counter seen plus a bitmap of the `size` counters behind
 * it. Feed it only counters of packets that authenticated, so a forger cannot move the window.
 * Counters compare in serial arithmetic (RFC 1982), so the window survives the wrap at 2^32.
 * Pure: no sockets, no clocks.
 */
import { TRANSPORT_REPLAY_WINDOW } from '../protocol/constants.js';

const HALF = 0x8000_0000;

export class ReplayWindow {
  readonly #size: number;
  /** Bit i (of word i >> 5): counter `highest - i` was seen. Bit 0 is `highest` itself. */
  readonly #seen: Uint32Array;
  #highest = 0;
  #empty = true;

  constructor(size: number = TRANSPORT_REPLAY_WINDOW) {
    this.#size = Math.max(32, Math.ceil(size / 32) * 32);
    this.#seen = new Uint32Array(this.#size / 32);
  }

  /**
   * Records an authenticated packet's counter. Returns false (and records nothing) when the
   * counter was seen before or is further behind the highest than the window reaches.
   */
  accept(counter: number): boolean {
    const c = counter >>> 0;
    if (this.#empty) {
      this.#empty = false;
      this.#highest = c;
      this.#seen.fill(0);
      this.#seen[0] = 1;
      return true;
    }
    const ahead = (c - this.#highest) >>> 0;
    if (ahead !== 0 && ahead < HALF) {
      this.#shift(ahead);
      this.#highest = c;
      this.#seen[0]! |= 1;
      return true;
    }
    const behind = (this.#highest - c) >>> 0;
    if (behind >= this.#size) return false;
    const word = behind >>> 5;
    const bit = 1 << (behind & 31);
    if ((this.#seen[word]! & bit) !== 0) return false;
    this.#seen[word]! |= bit;
    return true;
  }

  /** Forgets everything (a new key: counters may start again). */
  reset(): void {
    this.#empty = true;
  }

  /** Moves every bit `n` places further behind. */
  #shift(n: number): void {
    const seen = this.#seen;
    if (n >= this.#size) {
      seen.fill(0);
      return;
    }
    const words = n >>> 5;
    const bits = n & 31;
    for (let i = seen.length - 1; i >= 0; i--) {
      const from = i - words;
      const lo = from >= 0 ? seen[from]! : 0;
      const carry = bits !== 0 && from - 1 >= 0 ? seen[from - 1]! >>> (32 - bits) : 0;
      seen[i] = ((lo << bits) | carry) >>> 0;
    }
  }
}
