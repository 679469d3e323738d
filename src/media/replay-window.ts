/**
 * Anti-replay window on the rtpsize transport nonce (the 32-bit counter after the tag), the
 * shift-free bitmap of RFC 6479: bit (counter mod bits) of a ring of words says whether that
 * counter was seen, and moving the highest counter forward only clears the words it passes. A
 * counter `size` or more behind the highest is refused like a replay. Feed it only counters of
 * packets that authenticated, so a forger cannot move the window. Counters compare in serial
 * arithmetic (RFC 1982), so the window survives the wrap at 2^32. Pure: no sockets, no clocks.
 */
import { TRANSPORT_REPLAY_WINDOW } from '../protocol/constants.js';

const HALF = 0x8000_0000;
/** Word indices are counter >>> 5: 27 bits. */
const WORD_INDEX_MASK = 0x7ff_ffff;

export class ReplayWindow {
  /** How far behind the highest counter a counter is still checked (and accepted once). */
  readonly #reach: number;
  readonly #bitmap: Uint32Array;
  /** Ring size in words minus one (the ring is a power of two, at least size + 32 bits). */
  readonly #wordMask: number;
  #highest = 0;
  #empty = true;

  constructor(size: number = TRANSPORT_REPLAY_WINDOW) {
    this.#reach = Math.max(1, Math.floor(size));
    let words = 2;
    while (words * 32 < this.#reach + 32) words *= 2;
    this.#bitmap = new Uint32Array(words);
    this.#wordMask = words - 1;
  }

  /**
   * Records an authenticated packet's counter. Returns false (and records nothing) when the
   * counter was seen before or is `size` or more behind the highest one.
   */
  accept(counter: number): boolean {
    const c = counter >>> 0;
    const bitmap = this.#bitmap;
    if (this.#empty) {
      this.#empty = false;
      bitmap.fill(0);
      this.#highest = c;
    } else {
      const ahead = (c - this.#highest) >>> 0;
      if (ahead !== 0 && ahead < HALF) {
        // Clear the words between the old highest's word (kept) and the new one's (cleared).
        const from = this.#highest >>> 5;
        const passed = Math.min(((c >>> 5) - from) & WORD_INDEX_MASK, bitmap.length);
        for (let i = 1; i <= passed; i++) bitmap[(from + i) & this.#wordMask] = 0;
        this.#highest = c;
      } else if ((this.#highest - c) >>> 0 >= this.#reach) {
        return false;
      }
    }
    const word = (c >>> 5) & this.#wordMask;
    const bit = 1 << (c & 31);
    if ((bitmap[word]! & bit) !== 0) return false;
    bitmap[word]! |= bit;
    return true;
  }

  /** Forgets everything (a new key: counters may start again). */
  reset(): void {
    this.#empty = true;
  }
}
