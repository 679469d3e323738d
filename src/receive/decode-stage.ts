/**
 * Turns jitter-buffer output into PCM with one Opus decoder (decoder state must follow the
 * sequence, so there is one per user stream, fed in timeline order). Lost slots are recovered from
 * the next packet's in-band FEC when the backend can, else concealed with PLC (or the backend's
 * silence fallback, see audio/opus.ts). A frame that fails to decode is concealed too: one bad
 * packet never ends a stream.
 */
import type { OpusDecoder } from '../audio/opus.js';
import { CHANNELS, SAMPLES_PER_FRAME } from '../protocol/constants.js';
import type { JitterOutput } from './jitter-buffer.js';

const SLOT_SAMPLES = SAMPLES_PER_FRAME * CHANNELS;

/**
 * Each jitter slot is 20 ms. A valid Opus packet of another duration (2.5-60 ms; Discord clients
 * send 20 ms, a forged or odd packet may not) is cut or zero-padded to the slot so the PCM
 * timeline stays one slot per sequence number.
 */
function fitSlot(pcm: Int16Array): Int16Array {
  if (pcm.length === SLOT_SAMPLES) return pcm;
  const out = new Int16Array(SLOT_SAMPLES);
  out.set(pcm.subarray(0, SLOT_SAMPLES));
  return out;
}

export interface DecodedOutput {
  pcm: Int16Array;
  /** True when the PCM was synthesised (lost or undecodable packet). */
  concealed: boolean;
  /** How the PCM was obtained. */
  source: 'decoded' | 'fec' | 'plc' | 'error';
}

export interface DecodeCounters {
  decoded: number;
  /** Lost or undecodable frames replaced by PLC/silence. */
  concealed: number;
  /** Lost frames recovered from in-band FEC. */
  fecRecovered: number;
  /** Packets the decoder rejected (then concealed). */
  decodeErrors: number;
}

export class DecodeStage {
  readonly counters: DecodeCounters = { decoded: 0, concealed: 0, fecRecovered: 0, decodeErrors: 0 };

  constructor(private readonly decoder: OpusDecoder) {}

  /** True when the last decodeSlot() synthesised its PCM (lost or undecodable packet). */
  lastConcealed = false;

  process(out: JitterOutput): DecodedOutput {
    const pcm = this.decodeSlot(out);
    return { pcm, concealed: this.lastConcealed, source: this.lastSource };
  }

  /**
   * process() without the result object (the receiver calls it once per 20 ms slot per user):
   * the PCM, with `lastConcealed` set.
   */
  decodeSlot(out: JitterOutput): Int16Array {
    if (out.kind === 'frame') {
      try {
        const pcm = fitSlot(this.decoder.decode(out.payload));
        this.counters.decoded++;
        return this.outcome(false, 'decoded', pcm);
      } catch {
        this.counters.decodeErrors++;
        this.counters.concealed++;
        return this.outcome(true, 'error', this.decoder.conceal());
      }
    }
    if (out.next !== undefined && this.decoder.decodeFec !== undefined) {
      try {
        const pcm = fitSlot(this.decoder.decodeFec(out.next));
        this.counters.fecRecovered++;
        return this.outcome(true, 'fec', pcm);
      } catch {
        // No usable FEC data in the next packet: fall back to PLC.
      }
    }
    this.counters.concealed++;
    return this.outcome(true, 'plc', this.decoder.conceal());
  }

  private lastSource: DecodedOutput['source'] = 'decoded';

  private outcome(concealed: boolean, source: DecodedOutput['source'], pcm: Int16Array): Int16Array {
    this.lastConcealed = concealed;
    this.lastSource = source;
    return pcm;
  }

  close(): void {
    this.decoder.close();
  }
}
