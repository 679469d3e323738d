/**
 * Mixing: several sources at once (music plus effects), each with its own gain, summed in PCM and
 * soft-clipped; or Opus passthrough — the source's packet sent as-is, no decode or encode — when
 * exactly one source plays an Opus frame at unity gain.
 *
 * The math (`mixFrames`, `softClip`) is pure. `Mixer` adds the codecs: one encoder for the
 * player's output, one decoder per Opus source (created when that source first needs mixing).
 */
import type { OpusCodecFactory, OpusDecoder, OpusEncoder } from '../audio/opus.js';
import { isVoxcordError, VoxcordError } from '../errors.js';
import { SAMPLES_PER_FRAME } from '../protocol/constants.js';
import { FRAME_SAMPLES, softClip as clip } from '../audio/pcm-mix.js';
import type { FilterChain } from './filters/chain.js';
import type { SourceFrame } from './inputs/source.js';
import { plainBytes } from '../util/bytes.js';

export { FRAME_SAMPLES };

/** Below this level (fraction of full scale) soft clipping leaves the signal untouched. */
export const SOFT_CLIP_KNEE = 0.75;

/**
 * Linear up to the knee, then a tanh curve that meets it with the same slope and approaches full
 * scale without reaching it: loud sums are compressed, never wrapped or hard-clipped.
 */
export function softClip(x: number, knee: number = SOFT_CLIP_KNEE): number {
  return clip(x, knee, 1);
}

export interface MixInput {
  /** Interleaved stereo s16, FRAME_SAMPLES values. */
  samples: Int16Array;
  /** Gain at the start of the frame and at its end (ramped linearly between, so changes do not click). */
  fromGain: number;
  toGain: number;
}

/**
 * Sums the inputs with their gains. Soft clipping applies only when the sum could exceed full scale
 * (the gains add up to more than 1); otherwise the mix is exactly linear, so e.g. one source at
 * half volume is just scaled.
 */
export function mixFrames(inputs: readonly MixInput[]): Int16Array {
  const out = new Int16Array(FRAME_SAMPLES);
  const acc = new Float64Array(FRAME_SAMPLES);
  let headroom = 0;
  for (const input of inputs) {
    headroom += Math.max(input.fromGain, input.toGain);
    const { samples, fromGain, toGain } = input;
    const step = (toGain - fromGain) / SAMPLES_PER_FRAME;
    const n = Math.min(samples.length, FRAME_SAMPLES);
    for (let i = 0; i < n; i++) {
      const gain = fromGain + step * ((i >> 1) + 1);
      acc[i] = (acc[i] ?? 0) + ((samples[i] ?? 0) / 32768) * gain;
    }
  }
  const clip = headroom > 1;
  for (let i = 0; i < FRAME_SAMPLES; i++) {
    const x = acc[i] ?? 0;
    const y = Math.round((clip ? softClip(x) : x) * 32768);
    out[i] = y > 32767 ? 32767 : y < -32768 ? -32768 : y;
  }
  return out;
}

/** One source's frame for this tick. */
export interface MixerInput {
  /** Identifies the source across ticks (its decoder and gain ramp). */
  key: object;
  frame: SourceFrame;
  gain: number;
  /** The source's own filters (a track's), applied to its PCM before mixing. */
  filters?: FilterChain;
}

export interface MixResult {
  /** The Opus frame to send. */
  frame: Uint8Array;
  passthrough: boolean;
  /** Sources whose frame could not be decoded: left out of this mix (the player ends their tracks). */
  failed: { key: object; error: VoxcordError }[];
}

interface SourceState {
  decoder: OpusDecoder | undefined;
  lastGain: number;
}

export class Mixer {
  private encoder: OpusEncoder | undefined;
  private readonly sources = new Map<object, SourceState>();
  private closed = false;

  constructor(private readonly codec: () => Promise<OpusCodecFactory>) {}

  /**
   * The frame for this tick. Sources absent from `inputs` are forgotten (their decoders closed).
   * `output` filters the mixed PCM; any active filter turns passthrough off.
   */
  async mix(inputs: readonly MixerInput[], output?: FilterChain): Promise<MixResult> {
    const states = this.statesOf(inputs);
    const only = inputs[0];
    const onlyState = states[0];
    if (inputs.length === 1 && only !== undefined && onlyState !== undefined) {
      const filtered = only.filters?.active === true || output?.active === true;
      if (only.frame.kind === 'opus' && only.gain === 1 && onlyState.lastGain === 1 && !filtered) {
        return { frame: only.frame.data, passthrough: true, failed: [] };
      }
    }
    const { pcm, failed } = await this.sum(inputs, states);
    if (output?.active === true) output.process(pcm);
    return { frame: await this.encode(pcm), passthrough: false, failed };
  }

  /**
   * Whether `key`'s Opus frame at unity gain may pass through now, as mix() would send it (it is
   * the only source and its gain ramp rests at 1); notes it as the only source, as mix() does.
   */
  passThrough(key: object): boolean {
    if (this.closed) return false;
    const state = this.sources.get(key);
    if (state === undefined) {
      if (this.sources.size > 0) return false; // mix() forgets the others first
      this.sources.set(key, { decoder: undefined, lastGain: 1 });
      return true;
    }
    return this.sources.size === 1 && state.lastGain === 1;
  }

  /**
   * The inputs decoded, filtered by their own chains and summed, as PCM (no passthrough, no output
   * filter): what a player with a timescale feeds into it.
   */
  async mixPcm(inputs: readonly MixerInput[]): Promise<{ pcm: Int16Array; failed: MixResult['failed'] }> {
    return this.sum(inputs, this.statesOf(inputs));
  }

  /**
   * One source's frame as PCM, with that source's decoder (kept across ticks under `key`, as in
   * `mix`): what a track with its own timescale feeds into it before mixing.
   */
  async decode(key: object, frame: SourceFrame): Promise<Int16Array> {
    if (this.closed) throw new VoxcordError('DESTROYED', 'the mixer is closed');
    let state = this.sources.get(key);
    if (state === undefined) {
      // Its gain is not known yet: the first mix takes it (no ramp from a guess).
      state = { decoder: undefined, lastGain: Number.NaN };
      this.sources.set(key, state);
    }
    return this.pcmOf(frame, state);
  }

  /** Encodes one frame of the player's output. */
  async encode(pcm: Int16Array): Promise<Uint8Array> {
    if (this.closed) throw new VoxcordError('DESTROYED', 'the mixer is closed');
    this.encoder ??= (await this.codec()).createEncoder();
    try {
      return this.encoder.encode(plainBytes(pcm));
    } catch (err) {
      throw isVoxcordError(err)
        ? err
        : new VoxcordError('AUDIO_INPUT_ERROR', 'Opus encoding failed', { cause: err });
    }
  }

  private statesOf(inputs: readonly MixerInput[]): SourceState[] {
    if (this.closed) throw new VoxcordError('DESTROYED', 'the mixer is closed');
    const present = new Set(inputs.map((i) => i.key));
    for (const [key, state] of this.sources) {
      if (!present.has(key)) {
        state.decoder?.close();
        this.sources.delete(key);
      }
    }
    return inputs.map((input) => {
      let state = this.sources.get(input.key);
      if (state === undefined) {
        state = { decoder: undefined, lastGain: input.gain };
        this.sources.set(input.key, state);
      }
      if (Number.isNaN(state.lastGain)) state.lastGain = input.gain;
      return state;
    });
  }

  private async sum(
    inputs: readonly MixerInput[],
    states: readonly SourceState[],
  ): Promise<{ pcm: Int16Array; failed: MixResult['failed'] }> {
    const mixInputs: MixInput[] = [];
    const failed: MixResult['failed'] = [];
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      const state = states[i];
      if (input === undefined || state === undefined) continue;
      let samples: Int16Array;
      try {
        samples = await this.pcmOf(input.frame, state);
        // A copy, so a PCM input's own buffer is never changed by the filters.
        if (input.filters?.active === true) samples = input.filters.process(samples.slice());
      } catch (err) {
        failed.push({
          key: input.key,
          error: isVoxcordError(err)
            ? err
            : new VoxcordError('AUDIO_INPUT_ERROR', 'a frame of the input could not be decoded', {
                cause: err,
              }),
        });
        continue;
      }
      mixInputs.push({ samples, fromGain: state.lastGain, toGain: input.gain });
      state.lastGain = input.gain;
    }
    return { pcm: mixFrames(mixInputs), failed };
  }

  /** Forgets a source (its decoder is closed). */
  drop(key: object): void {
    this.sources.get(key)?.decoder?.close();
    this.sources.delete(key);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const state of this.sources.values()) state.decoder?.close();
    this.sources.clear();
    this.encoder?.close();
    this.encoder = undefined;
  }

  private async pcmOf(frame: SourceFrame, state: SourceState): Promise<Int16Array> {
    if (frame.kind === 'pcm') return frame.data;
    state.decoder ??= (await this.codec()).createDecoder();
    const samples = state.decoder.decode(frame.data);
    if (samples.length === FRAME_SAMPLES) return samples;
    const fixed = new Int16Array(FRAME_SAMPLES);
    fixed.set(samples.subarray(0, FRAME_SAMPLES));
    return fixed;
  }
}
