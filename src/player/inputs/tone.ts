/**
 * A generated test signal: a sequence of tones, sweeps and rests as 48 kHz stereo PCM. Fully
 * deterministic (each sample is a closed-form function of its index), so a demo can play audio made
 * in code and compare what was heard with `renderTones()` of the same spec.
 */
import { VoxcordError } from '../../errors.js';
import { CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME } from '../../protocol/constants.js';
import { framesIn } from './source.js';
import type { FrameSource, OpenContext, SourceFrame, TrackInput } from './source.js';

export interface ToneNote {
  /** Hz; 0 = a rest. */
  frequency: number;
  /** End frequency for a linear sweep (default: `frequency`). */
  toFrequency?: number;
  ms: number;
  /** 0-1, overrides the spec's amplitude. */
  amplitude?: number;
}

export interface ToneSpec {
  notes: readonly ToneNote[];
  /** 0-1 of full scale (default 0.5). */
  amplitude?: number;
  /** Raised-cosine fade at each note's start and end, ms (default 5), so notes do not click. */
  fadeMs?: number;
}

/** renderTones' limit, samples per channel: one hour (about 690 MB of PCM). */
const MAX_RENDERED_SAMPLES = 3600 * SAMPLE_RATE;

interface PlannedNote {
  start: number;
  length: number;
  f0: number;
  f1: number;
  amplitude: number;
  /** Phase at the note's start, in cycles (phase runs on continuously across notes). */
  phase: number;
}

interface Plan {
  notes: PlannedNote[];
  total: number;
  fade: number;
}

function plan(spec: ToneSpec): Plan {
  const list: unknown = (spec as Partial<ToneSpec> | null)?.notes;
  if (!Array.isArray(list) || list.length === 0)
    throw new VoxcordError('INVALID_ARGUMENT', 'a tone spec needs at least one note');
  const fadeMs = spec.fadeMs ?? 5;
  if (!(Number.isFinite(fadeMs) && fadeMs >= 0))
    throw new VoxcordError('INVALID_ARGUMENT', 'tone fadeMs must be a finite number of ms, 0 or more');
  const base = spec.amplitude ?? 0.5;
  const notes: PlannedNote[] = [];
  let start = 0;
  let phase = 0;
  for (const note of list as readonly ToneNote[]) {
    if (note === null || typeof note !== 'object')
      throw new VoxcordError('INVALID_ARGUMENT', 'tone notes must be objects');
    const f0 = note.frequency;
    const f1 = note.toFrequency ?? f0;
    const amplitude = note.amplitude ?? base;
    if (![f0, f1, note.ms, amplitude].every(Number.isFinite) || note.ms <= 0 || f0 < 0 || f1 < 0)
      throw new VoxcordError('INVALID_ARGUMENT', 'tone notes need finite, non-negative values and ms > 0');
    if (amplitude < 0 || amplitude > 1)
      throw new VoxcordError('INVALID_ARGUMENT', 'tone amplitude must be 0-1');
    const length = Math.round((note.ms * SAMPLE_RATE) / 1000);
    notes.push({ start, length, f0, f1, amplitude, phase });
    const seconds = length / SAMPLE_RATE;
    phase = (phase + f0 * seconds + ((f1 - f0) * seconds) / 2) % 1;
    start += length;
  }
  return { notes, total: start, fade: Math.round((fadeMs * SAMPLE_RATE) / 1000) };
}

function sampleOf(note: PlannedNote, offset: number, fade: number): number {
  if (note.f0 === 0 && note.f1 === 0) return 0;
  const t = offset / SAMPLE_RATE;
  const duration = note.length / SAMPLE_RATE;
  const cycles = note.phase + note.f0 * t + ((note.f1 - note.f0) * t * t) / (2 * duration);
  let envelope = 1;
  const edge = Math.min(offset, note.length - 1 - offset);
  if (fade > 0 && edge < fade) envelope = 0.5 - 0.5 * Math.cos((Math.PI * edge) / fade);
  return Math.round(note.amplitude * envelope * Math.sin(2 * Math.PI * (cycles % 1)) * 32767);
}

/** Writes samples [from, from + count) of the signal (both channels equal) into `out`. */
function render(p: Plan, from: number, count: number, out: Int16Array): void {
  let index = p.notes.findIndex((n) => from < n.start + n.length);
  for (let i = 0; i < count; i++) {
    const s = from + i;
    if (index < 0 || s >= p.total) break;
    let note = p.notes[index];
    while (note !== undefined && s >= note.start + note.length) note = p.notes[++index];
    if (note === undefined) break;
    const v = sampleOf(note, s - note.start, p.fade);
    out[i * CHANNELS] = v;
    out[i * CHANNELS + 1] = v;
  }
}

/** Length of the signal in samples per channel. */
export function toneLength(spec: ToneSpec): number {
  return plan(spec).total;
}

/** The whole signal as interleaved stereo s16 samples. */
export function renderTones(spec: ToneSpec): Int16Array {
  const p = plan(spec);
  // toneInput streams any length; this holds it all in memory.
  if (p.total > MAX_RENDERED_SAMPLES)
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      'renderTones renders at most 1 hour; play longer ones with toneInput',
    );
  const out = new Int16Array(p.total * CHANNELS);
  render(p, 0, p.total, out);
  return out;
}

/** A short melody with a sweep, for demos and tests (about 3 s). */
export const DEMO_TONES: ToneSpec = {
  amplitude: 0.4,
  notes: [
    { frequency: 440, ms: 400 },
    { frequency: 554.37, ms: 400 },
    { frequency: 659.25, ms: 400 },
    { frequency: 0, ms: 200 },
    { frequency: 220, toFrequency: 1760, ms: 1000 },
    { frequency: 0, ms: 200 },
    { frequency: 880, ms: 400 },
  ],
};

/** The signal as a player input (seekable: frames are computed, not buffered). */
export function toneInput(spec: ToneSpec): TrackInput {
  const p = plan(spec);
  return {
    kind: 'tone',
    seekable: true,
    open(context: OpenContext): FrameSource {
      let frame = framesIn(context.startMs);
      let closed = false;
      return {
        async read(): Promise<SourceFrame | undefined> {
          const from = frame * SAMPLES_PER_FRAME;
          if (closed || from >= p.total) return undefined;
          frame++;
          const data = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
          render(p, from, Math.min(SAMPLES_PER_FRAME, p.total - from), data);
          return { kind: 'pcm', data };
        },
        close(): void {
          closed = true;
        },
      };
    },
  };
}
