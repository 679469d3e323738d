/**
 * The bench result file (bench/results/latest.json) and its Markdown table. Pure: takes the
 * collected runs, returns data and text.
 */
import type { EngineKind, Implementation, Measurement, ScenarioKind, SendMeasurement } from './ipc.js';
import { median } from './stats.js';

export interface Variant {
  /** Column key. */
  id: 'voxcord-inline' | 'voxcord-worker' | 'djs';
  implementation: Implementation;
  engine?: EngineKind;
  label: string;
}

export const VARIANTS: readonly Variant[] = [
  { id: 'voxcord-inline', implementation: 'voxcord', engine: 'inline', label: 'voxcord (inline engine)' },
  {
    id: 'voxcord-worker',
    implementation: 'voxcord',
    engine: 'worker',
    label: 'voxcord (worker engine, default)',
  },
  { id: 'djs', implementation: 'djs', label: '@discordjs/voice' },
];

export interface ServerWindow {
  /** Share of one core the server process used during the window. */
  cpuCoreShare: number;
  /** Authenticated packets the server received during the window, per second. */
  packetsPerSecond: number;
  /** Share of those packets that were DAVE frames. */
  daveShare: number;
  /** Drops by reason during the window. */
  dropped: Record<string, number>;
}

/** Scenario 4 per run: milliseconds from each join call (null: never seen within 10 s). */
export interface FirstAudioTimes {
  toServerMs: Array<number | null>;
  toPeerMs: Array<number | null>;
}

export interface RunRecord {
  scenario: string;
  kind: ScenarioKind;
  n: number;
  dave: boolean;
  variant: Variant['id'];
  round: number;
  ok: boolean;
  error?: string;
  measurement?: Measurement;
  firstAudio?: FirstAudioTimes;
  server?: ServerWindow;
  wallMs: number;
}

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  os: string;
  totalMemoryBytes: number;
}

export interface MetricSummary {
  /** Median over the successful rounds; null when no round succeeded. */
  value: number | null;
  rounds: number[];
}

export interface ScenarioSummary {
  scenario: string;
  kind: ScenarioKind;
  n: number;
  dave: boolean;
  /** Variants that ran this scenario. */
  variants: Partial<
    Record<Variant['id'], { ok: boolean; errors: string[]; metrics: Record<string, MetricSummary> }>
  >;
}

interface Metric {
  id: string;
  label: string;
  read: (r: RunRecord, variant: Variant) => number | undefined;
  digits: number;
  /** Shown in the ratio columns (lower is better for all of these). */
  ratio: boolean;
}

/** The grid method where the probe saw the sends (same for both libraries); the worker engine's own histogram otherwise. */
function lateness(m: SendMeasurement, variant: Variant): SendMeasurement['gridLateness'] {
  if (variant.engine === 'worker') return m.engineLateness ?? m.gridLateness;
  return m.gridLateness ?? m.engineLateness;
}

/** A metric read from one kind of client measurement (undefined for runs of other kinds). */
function metricOf<T extends Measurement['type']>(
  type: T,
): (
  id: string,
  label: string,
  read: (m: Extract<Measurement, { type: T }>, variant: Variant) => number | null | undefined,
  digits: number,
  ratio: boolean,
) => Metric {
  return (id, label, read, digits, ratio) => ({
    id,
    label,
    read: (r, v) =>
      r.measurement?.type === type
        ? (read(r.measurement as Extract<Measurement, { type: T }>, v) ?? undefined)
        : undefined,
    digits,
    ratio,
  });
}

const sendMetric = metricOf('send');
const receiveMetric = metricOf('receive');

/** A figure of the server process, in percent. */
const serverPercent = (id: string, label: string, field: 'cpuCoreShare' | 'daveShare'): Metric => ({
  id,
  label,
  read: (r) => (r.server ? r.server[field] * 100 : undefined),
  digits: 1,
  ratio: false,
});

const serverCpu = serverPercent('serverCoreShare', '(server CPU, % of one core)', 'cpuCoreShare');
/** Of the packets the server received in the window (the senders' in scenario 5), DAVE frames. */
const daveShare = serverPercent('daveShare', '(DAVE frames at the server, %)', 'daveShare');

const SEND_METRICS: readonly Metric[] = [
  sendMetric('cpuUsPerPacket', 'client CPU µs per packet', (m) => m.cpuUsPerPacket, 2, true),
  sendMetric('cpuCoreShare', 'client CPU, % of one core', (m) => m.cpuCoreShare * 100, 1, true),
  sendMetric('packetsPerSecond', 'packets/s achieved', (m) => m.packetsPerSecond, 0, false),
  sendMetric('targetPacketsPerSecond', 'packets/s target', (m) => m.targetPacketsPerSecond, 0, false),
  sendMetric('latenessP50Ms', 'send lateness p50, ms', (m, v) => lateness(m, v)?.p50Ms, 2, true),
  sendMetric('latenessP99Ms', 'send lateness p99, ms', (m, v) => lateness(m, v)?.p99Ms, 2, true),
  sendMetric('latenessMaxMs', 'send lateness max, ms', (m, v) => lateness(m, v)?.maxMs, 2, true),
  sendMetric('lateOver20ms', 'packets sent > 20 ms late (window)', (m) => m.lateOver20ms, 0, false),
  sendMetric('underruns', 'send queue underruns (window)', (m) => m.underruns, 0, false),
  sendMetric(
    'rssPerConnectionKiB',
    'RSS per connection, KiB',
    (m) => m.rssPerConnectionBytes / 1024,
    1,
    true,
  ),
  sendMetric('connectMs', 'time to connect all, ms', (m) => m.connectMs, 0, true),
  sendMetric('workers', '(media worker threads)', (m) => m.workers, 0, false),
  sendMetric(
    'threadWaitMsPerSecond',
    '(client threads waiting for a core, ms per s)',
    (m) => m.threadWaitMsPerSecond,
    0,
    false,
  ),
  daveShare,
  serverCpu,
];

/** Joins whose time is known, as a list (null entries are failures, counted separately). */
function known(values: ReadonlyArray<number | null> | undefined): number[] {
  return (values ?? []).filter((v): v is number => v !== null);
}

function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const FIRST_AUDIO_METRICS: readonly Metric[] = [
  {
    id: 'toServerMedianMs',
    label: 'join → first audio packet at the server, median ms',
    read: (r) => percentile(known(r.firstAudio?.toServerMs), 50),
    digits: 0,
    ratio: true,
  },
  {
    id: 'toServerMaxMs',
    label: 'join → first audio packet at the server, max ms',
    read: (r) => percentile(known(r.firstAudio?.toServerMs), 100),
    digits: 0,
    ratio: true,
  },
  {
    id: 'toPeerMedianMs',
    label: 'join → first frame the other member decrypts, median ms',
    read: (r) => percentile(known(r.firstAudio?.toPeerMs), 50),
    digits: 0,
    ratio: true,
  },
  {
    id: 'toPeerMaxMs',
    label: 'join → first frame the other member decrypts, max ms',
    read: (r) => percentile(known(r.firstAudio?.toPeerMs), 100),
    digits: 0,
    ratio: true,
  },
  {
    id: 'joinsWithoutAudio',
    label: 'joins where the member decrypted nothing within 10 s',
    read: (r) => (r.firstAudio ? r.firstAudio.toPeerMs.filter((v) => v === null).length : undefined),
    digits: 0,
    ratio: false,
  },
];

const RECEIVE_METRICS: readonly Metric[] = [
  receiveMetric('cpuUsPerFrame', 'client CPU µs per decoded 20 ms frame', (m) => m.cpuUsPerFrame, 2, true),
  receiveMetric('cpuCoreShare', 'client CPU, % of one core', (m) => m.cpuCoreShare * 100, 1, true),
  receiveMetric(
    'framesPerSecond',
    'PCM frames/s delivered',
    (m) => (m.pcmFrames * 1000) / m.windowMs,
    0,
    false,
  ),
  receiveMetric(
    'expectedPerSecond',
    'PCM frames/s expected',
    (m) => (m.expectedFrames * 1000) / m.windowMs,
    0,
    false,
  ),
  {
    id: 'concealedFrames',
    label: 'frames concealed (lost or late) in the window',
    read: (r) =>
      r.measurement?.type === 'receive' ? (r.measurement.concealedFrames ?? undefined) : undefined,
    digits: 0,
    ratio: false,
  },
  receiveMetric('rssPerStreamKiB', 'RSS per stream, KiB', (m) => m.rssPerStreamBytes / 1024, 1, true),
  daveShare,
  serverCpu,
];

export function metricsFor(kind: ScenarioKind): readonly Metric[] {
  if (kind === 'first-audio') return FIRST_AUDIO_METRICS;
  if (kind === 'receive') return RECEIVE_METRICS;
  return SEND_METRICS;
}

export function summarize(runs: readonly RunRecord[]): ScenarioSummary[] {
  const keys = [...new Set(runs.map((r) => r.scenario))];
  return keys.map((scenario) => {
    const mine = runs.filter((r) => r.scenario === scenario);
    const first = mine[0]!;
    const variants: ScenarioSummary['variants'] = {};
    for (const variant of VARIANTS) {
      const rs = mine.filter((r) => r.variant === variant.id);
      if (rs.length === 0) continue;
      const good = rs.filter((r) => r.ok);
      const metrics: Record<string, MetricSummary> = {};
      for (const metric of metricsFor(first.kind)) {
        const values = good
          .map((r) => metric.read(r, variant))
          .filter((v): v is number => v !== undefined && Number.isFinite(v));
        metrics[metric.id] = { value: values.length > 0 ? median(values) : null, rounds: values };
      }
      variants[variant.id] = {
        ok: good.length > 0,
        errors: rs.filter((r) => !r.ok).map((r) => r.error ?? 'failed'),
        metrics,
      };
    }
    return { scenario, kind: first.kind, n: first.n, dave: first.dave, variants };
  });
}

function fmt(value: number | null, digits: number): string {
  // A run that succeeded without this figure (e.g. engine counters of @discordjs/voice).
  if (value === null) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** An error message that fits in a table cell. */
function cellText(text: string): string {
  const flat = text.replace(/[|\s]+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

export function scenarioTitle(s: { kind: ScenarioKind; n: number; dave: boolean }): string {
  const security = s.dave ? 'DAVE' : 'transport only';
  switch (s.kind) {
    case 'send':
      return `1. send Opus, N = ${s.n}, ${security}`;
    case 'encode':
      return `2. encode PCM, N = ${s.n}, ${security}`;
    case 'stall':
      return `3. main-thread stall 100 ms/s, N = ${s.n}, ${security}`;
    case 'first-audio':
      return `4. time to first audio, 2 members, ${security} (${s.n} joins)`;
    case 'receive':
      return `5. receive, ${s.n} streams decoded to PCM, ${security}`;
  }
}

function value(s: ScenarioSummary | undefined, id: Variant['id'], metric: string): number | null | undefined {
  return s?.variants[id]?.metrics[metric]?.value;
}

export function markdownTable(summaries: readonly ScenarioSummary[], machine: Machine, note: string): string {
  const lines: string[] = [];
  lines.push(
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.os}, Node ${machine.node}. ${note}`,
    '',
    '| Scenario | Metric | voxcord (inline) | voxcord (worker, default) | @discordjs/voice | inline / djs | worker / djs |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const s of summaries) {
    const name = scenarioTitle(s);
    for (const metric of metricsFor(s.kind)) {
      const cell = (id: Variant['id']): string => {
        const v = s.variants[id];
        if (!v) return '–';
        return v.ok
          ? fmt(v.metrics[metric.id]?.value ?? null, metric.digits)
          : `failed (${cellText(v.errors[0] ?? '?')})`;
      };
      const r = (id: Variant['id']): string =>
        metric.ratio ? ratio(value(s, id, metric.id), value(s, 'djs', metric.id)) : '';
      lines.push(
        `| ${name} | ${metric.label} | ${cell('voxcord-inline')} | ${cell('voxcord-worker')} | ${cell('djs')} | ${r('voxcord-inline')} | ${r('voxcord-worker')} |`,
      );
    }
  }
  return lines.join('\n');
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** null: the scenario did not run (or failed), so the target cannot be judged. */
  met: boolean | null;
}

/** What `checkTargets` needs from bench/engine-scaling.ts (its medians per `--workers` value). */
export interface ScalingFigures {
  n: number;
  targetPacketsPerSecond: number;
  medians: Record<
    string,
    { workersUsed: number; packetsPerSecond: number; p99Ms: number; corePercent: number }
  >;
}

/** The client's threads waited this long per second for a core: it did not have the CPU. */
const CLIENT_STARVED_MS_PER_S = 50;

/** Issue 16's targets, judged on the default (worker) engine, side by side with djs in one run. */
export function checkTargets(summaries: readonly ScenarioSummary[], scaling?: ScalingFigures): TargetCheck[] {
  const find = (kind: ScenarioKind, n: number | undefined, dave: boolean): ScenarioSummary | undefined =>
    summaries.find((s) => s.kind === kind && (n === undefined || s.n === n) && s.dave === dave);
  const w = (s: ScenarioSummary | undefined, metric: string): number | null =>
    value(s, 'voxcord-worker', metric) ?? null;
  const d = (s: ScenarioSummary | undefined, metric: string): number | null =>
    value(s, 'djs', metric) ?? null;
  /** "0.69x (24.41 vs 35.62 µs)", or null when either side is missing. */
  const versus = (s: ScenarioSummary | undefined, metric: string, digits: number, unit: string) => {
    const r = ratioValue(w(s, metric), d(s, metric));
    return r === null
      ? null
      : {
          ratio: r,
          text: `${r.toFixed(2)}x (${fmt(w(s, metric), digits)} vs ${fmt(d(s, metric), digits)} ${unit})`,
        };
  };
  const checks: TargetCheck[] = [];
  const judge = (target: string, measured: string | null, met: boolean | null): void => {
    checks.push({ target, measured: measured ?? 'not measured', met: measured === null ? null : met });
  };

  const send1000 = find('send', 1000, true);
  const send100 = find('send', 100, true);
  const cpu1000 = versus(send1000, 'cpuUsPerPacket', 2, 'µs');
  judge(
    'send CPU per packet, N = 1000, DAVE: ≤ 0.5x djs',
    cpu1000?.text ?? null,
    cpu1000 !== null && cpu1000.ratio <= 0.5,
  );
  const cpu100 = versus(send100, 'cpuUsPerPacket', 2, 'µs');
  judge(
    'send CPU per packet, N = 100, DAVE: ≤ 0.7x djs',
    cpu100?.text ?? null,
    cpu100 !== null && cpu100.ratio <= 0.7,
  );
  const us1000 = w(send1000, 'cpuUsPerPacket');
  judge(
    'send CPU per packet, N = 1000, DAVE: ≤ 15 µs',
    us1000 === null ? null : `${fmt(us1000, 2)} µs`,
    us1000 !== null && us1000 <= 15,
  );

  // Both receive scenarios are judged: the target names no mode, and one must not hide the other.
  const receives = [find('receive', undefined, false), find('receive', undefined, true)];
  for (const receive of receives.some(Boolean) ? receives.filter(Boolean) : [undefined]) {
    const rx = versus(receive, 'cpuUsPerFrame', 2, 'µs');
    const mode = receive === undefined ? '' : receive.dave ? ', DAVE' : ', transport only';
    judge(
      `receive CPU per decoded frame${mode}: ≤ 0.8x djs`,
      rx?.text ?? null,
      rx !== null && rx.ratio <= 0.8,
    );
  }

  const mem = versus(send1000, 'rssPerConnectionKiB', 1, 'KiB');
  judge('RSS per connection, N = 1000, DAVE: ≤ 1.0x djs', mem?.text ?? null, mem !== null && mem.ratio <= 1);
  // At N = 1 the RSS per connection is the fixed cost (what the first connection loads).
  const one = find('send', 1, true) ?? find('send', 1, false);
  const fixedW = w(one, 'rssPerConnectionKiB');
  const fixedD = d(one, 'rssPerConnectionKiB');
  // In MB (10^6 bytes), as the target is stated.
  const mb = (kib: number): number => (kib * 1024) / 1e6;
  const extraMB = fixedW === null || fixedD === null ? null : mb(fixedW - fixedD);
  judge(
    `fixed cost at N = 1${one?.dave ? ', DAVE' : ''}: ≤ djs + 8 MB`,
    extraMB === null
      ? null
      : `djs + ${extraMB.toFixed(1)} MB (${mb(fixedW!).toFixed(1)} vs ${mb(fixedD!).toFixed(1)} MB)`,
    extraMB !== null && extraMB <= 8,
  );

  const p99 = w(send1000, 'latenessP99Ms');
  const share = w(send1000, 'cpuCoreShare');
  const server = w(send1000, 'serverCoreShare');
  const wait = w(send1000, 'threadWaitMsPerSecond');
  // The target holds "whenever the client has the CPU". When the scenario's client waited for a
  // core (it shares 2 cores with the server), the engine-only run of the default engine
  // (bench/engine-scaling.ts 'auto', the same N and DAVE, nothing else busy) is where it has it.
  const starved = wait !== null && wait >= CLIENT_STARVED_MS_PER_S;
  const alone = scaling?.medians.auto;
  const aloneMet =
    alone !== undefined &&
    scaling !== undefined &&
    alone.packetsPerSecond >= 0.99 * scaling.targetPacketsPerSecond &&
    alone.p99Ms <= 5;
  judge(
    'p99 send lateness, N = 1000, DAVE: ≤ 5 ms (whenever the client has the CPU)',
    p99 === null
      ? null
      : `${fmt(p99, 2)} ms (djs ${fmt(d(send1000, 'latenessP99Ms'), 2)} ms); client at ${fmt(share, 1)}% ` +
          `of one core, its threads waiting for a core ${fmt(wait, 0)} ms/s; ` +
          `server ${fmt(server, 1)}%; ${fmt(w(send1000, 'workers'), 0)} worker(s)` +
          (starved && alone !== undefined
            ? `; with the cores to itself (engine only, 'auto'): p99 ${fmt(alone.p99Ms, 2)} ms at ` +
              `${fmt(alone.packetsPerSecond, 0)} pps`
            : ''),
    p99 !== null && (p99 <= 5 || (starved && aloneMet)),
  );
  const stall = find('stall', undefined, false);
  const late = w(stall, 'lateOver20ms');
  judge(
    'main-thread stall: 0 packets sent > 20 ms late',
    late === null ? null : `${fmt(late, 0)} (djs ${fmt(d(stall, 'lateOver20ms'), 0)})`,
    late === 0,
  );

  // More than one core: the default engine shards N = 1000 with DAVE, and 2 workers carry the
  // full rate on time where 1 cannot (engine only, bench/engine-scaling.ts).
  const one1 = scaling?.medians['1'];
  const two = scaling?.medians['2'];
  const auto = scaling?.medians.auto;
  const usedInBench = w(send1000, 'workers');
  const usedAuto = auto?.workersUsed ?? usedInBench;
  if (scaling === undefined || one1 === undefined || two === undefined) {
    judge('more than one core: N = 1000 with DAVE sharded over workers, 1 → 2 workers shown', null, null);
  } else {
    const target = scaling.targetPacketsPerSecond;
    const line = (label: string, m: { packetsPerSecond: number; p99Ms: number; corePercent: number }) =>
      `${label} ${fmt(m.packetsPerSecond, 0)} pps, p99 ${fmt(m.p99Ms, 2)} ms, ${fmt(m.corePercent, 0)}% of a core`;
    judge(
      'more than one core: N = 1000 with DAVE sharded over workers, 1 → 2 workers shown (target rate, p99 ≤ 5 ms)',
      `${line('1 worker', one1)}; ${line('2 workers', two)}; 'auto' ran ` +
        `${usedAuto === undefined || usedAuto === null ? '?' : fmt(usedAuto, 0)} (engine only, target ${fmt(target, 0)} pps)`,
      usedAuto !== undefined &&
        usedAuto !== null &&
        usedAuto >= 2 &&
        two.packetsPerSecond >= 0.99 * target &&
        two.p99Ms <= 5,
    );
  }
  return checks;
}

function ratioValue(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  const verdict = (met: boolean | null): string => (met === null ? 'not judged' : met ? 'met' : '**missed**');
  return [
    '| Target (issue 16) | Measured (voxcord default engine) | Verdict |',
    '| --- | --- | --- |',
    ...checks.map((c) => `| ${c.target} | ${c.measured} | ${verdict(c.met)} |`),
  ].join('\n');
}
