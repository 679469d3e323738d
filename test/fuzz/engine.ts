/**
 * The seeded fuzz engine: mutation of valid seed inputs (bit flips, interesting bytes, truncation,
 * deletion, insertion, duplication, splices, length-field edits, JSON shape mutations), and the
 * classification of what a target does with each input. Input `i` of a run is a pure function of
 * (target seeds, run seed, i), so any finding, hangs included, can be regenerated from its index.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng, deriveSeed } from '../../src/server/faults.js';
import { concatBytes } from '../player/containers.js';

export type Rng = () => number;

/** What a target did with one input. */
export type Outcome = 'ok' | 'rejected' | 'crash' | 'hang' | 'oracle';

/** Thrown by a target when the code under test broke a property it must keep. */
export class OracleViolation extends Error {
  override readonly name = 'OracleViolation';
}

export function oracle(condition: boolean, message: string): asserts condition {
  if (!condition) throw new OracleViolation(message);
}

/** A target ready to run: its seed corpus and how to feed one input to the code under test. */
export interface FuzzInstance {
  /** Valid inputs the mutations start from (non-empty). */
  readonly seeds: readonly Uint8Array[];
  /** Feeds one input. Returns 'rejected' for a documented non-throwing rejection (null, drop…). */
  run(input: Uint8Array): 'ok' | 'rejected';
  /** The module's documented error: a typed rejection, not a finding. */
  isTypedRejection(err: unknown): boolean;
  /** Replaces the byte mutator (e.g. JSON shape mutations for text protocols). */
  mutate?(seed: Uint8Array, rng: Rng, seeds: readonly Uint8Array[]): Uint8Array;
}

export interface FuzzTarget {
  readonly name: string;
  /** Code under test, for the report. */
  readonly modules: readonly string[];
  create(): FuzzInstance | Promise<FuzzInstance>;
}

/**
 * Creates a target's instance with its seeds copied into plain Uint8Arrays: Buffer#slice shares
 * memory, so a mutation of a Buffer seed would corrupt the corpus.
 */
export async function instantiate(target: FuzzTarget): Promise<FuzzInstance> {
  const instance = await target.create();
  if (instance.seeds.length === 0) throw new Error(`fuzz target ${target.name} has no seeds`);
  return Object.assign(Object.create(instance) as FuzzInstance, {
    seeds: instance.seeds.map((s) => new Uint8Array(s)),
  });
}

// ---- byte mutations ----

const MAX_INPUT_BYTES = 1 << 16;
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xfe, 0xff];

export { hex } from '../support/bytes.js';

export function int(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[int(rng, items.length)]!;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(rng, 256);
  return out;
}

const join = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

/** Values length and count fields like to be wrong with, for a field of `width` bytes. */
function interestingValue(rng: Rng, width: number, length: number): number {
  const max = width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffffff;
  const v = pick(rng, [0, 1, 2, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x3fff, 0x4000, 0xffff, 0x3fffffff, max]);
  const around = pick(rng, [length, length - 1, length + 1, length >>> 1, v]);
  return Math.max(0, Math.min(max, around)) >>> 0;
}

function writeField(out: Uint8Array, at: number, width: number, value: number, little: boolean): void {
  for (let i = 0; i < width && at + i < out.length; i++) {
    const shift = 8 * (little ? i : width - 1 - i);
    out[at + i] = Math.floor(value / 2 ** shift) & 0xff;
  }
}

type Mutator = (input: Uint8Array, rng: Rng, seeds: readonly Uint8Array[]) => Uint8Array;

const MUTATORS: readonly Mutator[] = [
  // bit flips
  (x, rng) => {
    if (x.length === 0) return randomBytes(rng, 1);
    const out = x.slice();
    const flips = 1 + int(rng, 4);
    for (let i = 0; i < flips; i++) {
      const at = int(rng, out.length);
      out[at] = out[at]! ^ (1 << int(rng, 8));
    }
    return out;
  },
  // interesting or random byte
  (x, rng) => {
    if (x.length === 0) return Uint8Array.of(pick(rng, INTERESTING_BYTES));
    const out = x.slice();
    out[int(rng, out.length)] = rng() < 0.5 ? pick(rng, INTERESTING_BYTES) : int(rng, 256);
    return out;
  },
  // truncation (biased to the ends, where trailers and headers live)
  (x, rng) => {
    const cut = rng() < 0.5 ? int(rng, x.length + 1) : Math.max(0, x.length - 1 - int(rng, 8));
    return x.subarray(0, cut).slice();
  },
  // delete a range
  (x, rng) => {
    if (x.length === 0) return x;
    const at = int(rng, x.length);
    const n = 1 + int(rng, Math.min(16, x.length - at));
    return join(x.subarray(0, at), x.subarray(at + n));
  },
  // insert random or interesting bytes
  (x, rng) => {
    const at = int(rng, x.length + 1);
    const n = 1 + int(rng, 16);
    const ins = rng() < 0.5 ? randomBytes(rng, n) : new Uint8Array(n).fill(pick(rng, INTERESTING_BYTES));
    return join(x.subarray(0, at), ins, x.subarray(at));
  },
  // duplicate a range (repeated structures, runs of elements)
  (x, rng) => {
    if (x.length === 0) return x;
    const at = int(rng, x.length);
    const n = 1 + int(rng, Math.min(64, x.length - at));
    const times = 1 + int(rng, 4);
    const chunk = x.subarray(at, at + n);
    return join(x.subarray(0, at + n), ...Array.from({ length: times }, () => chunk), x.subarray(at + n));
  },
  // splice with another seed
  (x, rng, seeds) => {
    const other = pick(rng, seeds);
    return join(x.subarray(0, int(rng, x.length + 1)), other.subarray(int(rng, other.length + 1)));
  },
  // length / count field edit: u8, u16, u32, either byte order, or an MLS varint prefix
  (x, rng) => {
    if (x.length === 0) return x;
    const out = x.slice();
    const at = int(rng, out.length);
    const width = pick(rng, [1, 2, 2, 4]);
    if (rng() < 0.2) {
      const prefixed = pick(rng, [0x40, 0x80, 0xc0]) | int(rng, 0x40);
      out[at] = prefixed;
      return out;
    }
    writeField(out, at, width, interestingValue(rng, width, x.length - at), rng() < 0.3);
    return out;
  },
  // random bytes
  (_x, rng) => randomBytes(rng, int(rng, 96)),
];

/** One to four stacked byte mutations of a seed. */
export function mutateBytes(seed: Uint8Array, rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  let x = seed;
  const n = 1 + int(rng, 4);
  for (let i = 0; i < n; i++) {
    x = pick(rng, MUTATORS)(x, rng, seeds);
    if (x.length > MAX_INPUT_BYTES) x = x.subarray(0, MAX_INPUT_BYTES);
  }
  return x;
}

// ---- JSON shape mutations ----

const STRINGS = [
  '',
  '0',
  '1e+308',
  '-1',
  '18446744073709551616',
  'x'.repeat(300),
  '\u0000',
  '12345678901234567',
];
const NUMBERS = [
  0,
  -0,
  -1,
  1,
  0.5,
  255,
  256,
  65535,
  65536,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  -1e308,
  1e-7,
];

function randomJson(rng: Rng, depth: number): unknown {
  switch (int(rng, depth > 2 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng() < 0.5;
    case 2:
      return pick(rng, NUMBERS);
    case 3:
      return pick(rng, STRINGS);
    case 4:
      return int(rng, 1 << 20);
    case 5:
      return Array.from({ length: int(rng, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(rng, 4); i > 0; i--)
        o[pick(rng, ['d', 'op', 'seq', 'id', 'x'])] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

/** Every container (object or array) in a JSON value, with the keys it holds. */
function containers(value: unknown, out: (Record<string, unknown> | unknown[])[] = []): typeof out {
  if (Array.isArray(value)) {
    out.push(value);
    for (const v of value) containers(v, out);
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    out.push(o);
    for (const v of Object.values(o)) containers(v, out);
  }
  return out;
}

function mutateJsonValue(root: unknown, rng: Rng): unknown {
  const all = containers(root);
  if (all.length === 0 || rng() < 0.05) return randomJson(rng, 0);
  const c = pick(rng, all);
  if (Array.isArray(c)) {
    if (c.length === 0 || rng() < 0.3) c.push(randomJson(rng, 1));
    else c[int(rng, c.length)] = randomJson(rng, 1);
    return root;
  }
  const keys = Object.keys(c);
  const action = int(rng, 4);
  if (keys.length === 0 || action === 0) c[pick(rng, ['d', 'op', 'seq', 'x', ...keys])] = randomJson(rng, 1);
  else if (action === 1) delete c[pick(rng, keys)];
  else if (action === 2) c[pick(rng, keys)] = randomJson(rng, 1);
  else {
    // Edge value of the same kind (a number stays a number; a string sometimes becomes one).
    const key = pick(rng, keys);
    const v = c[key];
    c[key] =
      typeof v === 'number' || (typeof v === 'string' && rng() < 0.3)
        ? pick(rng, NUMBERS)
        : typeof v === 'string'
          ? pick(rng, STRINGS)
          : v;
  }
  return root;
}

/** JSON text mutations: shape edits of the parsed value, sometimes deep nesting or raw byte edits. */
export function mutateJson(seed: Uint8Array, rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  const roll = rng();
  if (roll < 0.15) return mutateBytes(seed, rng, seeds);
  if (roll < 0.17) {
    const depth = 1 + int(rng, 5000);
    return Buffer.from('{"op":1,"d":' + '['.repeat(depth) + ']'.repeat(depth) + '}');
  }
  let value: unknown = JSON.parse(Buffer.from(seed).toString('utf8'));
  const n = 1 + int(rng, 3);
  for (let i = 0; i < n; i++) value = mutateJsonValue(value, rng);
  return Buffer.from(JSON.stringify(value) ?? 'null');
}

// ---- inputs and outcomes ----

/** Input `index` of a run: the seed itself (5 %) or a mutation of one, from its own RNG stream. */
export function generateInput(instance: FuzzInstance, runSeed: number, index: number): Uint8Array {
  const rng = createRng(deriveSeed(runSeed, index));
  const seeds = instance.seeds;
  const seed = pick(rng, seeds);
  if (rng() < 0.05) return seed;
  return (instance.mutate ?? mutateBytes)(seed, rng, seeds);
}

export interface Classified {
  outcome: Outcome;
  /** For findings: what was thrown. */
  message?: string;
  ms: number;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const at = err.stack?.split('\n')[1]?.trim() ?? '';
    return `${err.name}: ${err.message.slice(0, 200)} ${at}`.trim();
  }
  return `non-Error thrown: ${String(err).slice(0, 200)}`;
}

/** Runs one input: ok, typed rejection, crash (foreign throw), oracle violation, or hang (over budget). */
export function classify(instance: FuzzInstance, input: Uint8Array, hangMs: number): Classified {
  const start = performance.now();
  let result: Classified;
  try {
    result = { outcome: instance.run(input), ms: 0 };
  } catch (err) {
    if (err instanceof OracleViolation) result = { outcome: 'oracle', message: err.message, ms: 0 };
    else if (instance.isTypedRejection(err)) result = { outcome: 'rejected', ms: 0 };
    else result = { outcome: 'crash', message: describeError(err), ms: 0 };
  }
  result.ms = performance.now() - start;
  if (result.ms > hangMs && (result.outcome === 'ok' || result.outcome === 'rejected')) {
    return {
      outcome: 'hang',
      message: `took ${result.ms.toFixed(0)} ms (budget ${hangMs} ms)`,
      ms: result.ms,
    };
  }
  return result;
}

export function isFinding(outcome: Outcome): boolean {
  return outcome === 'crash' || outcome === 'hang' || outcome === 'oracle';
}

// ---- regression fixtures ----

export const FUZZ_DIR = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES_DIR = path.join(FUZZ_DIR, 'fixtures');

export function fixtureName(input: Uint8Array): string {
  return createHash('sha256').update(input).digest('hex').slice(0, 16) + '.bin';
}

/** Saves a failing input as test/fuzz/fixtures/<target>/<hash>.bin (replayed first by every run). */
export function saveFixture(target: string, input: Uint8Array): string {
  const dir = path.join(FIXTURES_DIR, target);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, fixtureName(input));
  if (!existsSync(file)) writeFileSync(file, input);
  return path.relative(process.cwd(), file);
}

export function loadFixtures(target: string): { name: string; input: Uint8Array }[] {
  const dir = path.join(FIXTURES_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((name) => ({ name, input: new Uint8Array(readFileSync(path.join(dir, name))) }));
}

// ---- a run of one target ----

export interface Finding {
  outcome: Outcome;
  /** Input index in the run (-1 for a fixture replay). */
  index: number;
  message: string;
  fixture?: string;
}

export interface TargetCounts {
  inputs: number;
  ok: number;
  rejected: number;
  crashes: number;
  hangs: number;
  oracleViolations: number;
  fixturesReplayed: number;
  slowestMs: number;
  durationMs: number;
}

export function emptyCounts(): TargetCounts {
  return {
    inputs: 0,
    ok: 0,
    rejected: 0,
    crashes: 0,
    hangs: 0,
    oracleViolations: 0,
    fixturesReplayed: 0,
    slowestMs: 0,
    durationMs: 0,
  };
}

export function count(counts: TargetCounts, c: Classified): void {
  counts.inputs++;
  counts.slowestMs = Math.max(counts.slowestMs, c.ms);
  if (c.outcome === 'ok') counts.ok++;
  else if (c.outcome === 'rejected') counts.rejected++;
  else if (c.outcome === 'crash') counts.crashes++;
  else if (c.outcome === 'hang') counts.hangs++;
  else counts.oracleViolations++;
}

export interface RunOptions {
  seed: number;
  inputs: number;
  /** First input index (a restarted worker resumes after a hang). */
  from?: number;
  hangMs: number;
  /** Save failing inputs as fixtures. */
  save?: boolean;
  /** Called every `progressEvery` inputs. */
  onProgress?: (done: number, counts: TargetCounts) => void;
  progressEvery?: number;
  /** Called before each input (the watchdog's view). */
  onInput?: (index: number) => void;
  maxFindings?: number;
}

/** Replays the target's fixtures, then runs `inputs` generated inputs. */
export function runTarget(
  name: string,
  instance: FuzzInstance,
  options: RunOptions,
): { counts: TargetCounts; findings: Finding[] } {
  const counts = emptyCounts();
  const findings: Finding[] = [];
  const maxFindings = options.maxFindings ?? 20;
  const started = performance.now();
  const record = (c: Classified, index: number, input: Uint8Array): void => {
    count(counts, c);
    if (!isFinding(c.outcome)) return;
    const finding: Finding = { outcome: c.outcome, index, message: c.message ?? '' };
    if (options.save === true) finding.fixture = saveFixture(name, input);
    if (findings.length < maxFindings) findings.push(finding);
  };
  if ((options.from ?? 0) === 0) {
    for (const f of loadFixtures(name)) {
      counts.fixturesReplayed++;
      const c = classify(instance, f.input, options.hangMs);
      if (isFinding(c.outcome))
        findings.push({ outcome: c.outcome, index: -1, message: `${f.name}: ${c.message}` });
      counts.slowestMs = Math.max(counts.slowestMs, c.ms);
    }
  }
  const every = options.progressEvery ?? 10_000;
  const end = (options.from ?? 0) + options.inputs;
  for (let i = options.from ?? 0; i < end; i++) {
    options.onInput?.(i);
    const input = generateInput(instance, options.seed, i);
    record(classify(instance, input, options.hangMs), i, input);
    if (options.onProgress !== undefined && (i + 1) % every === 0) options.onProgress(i + 1, counts);
  }
  counts.durationMs = performance.now() - started;
  return { counts, findings };
}
