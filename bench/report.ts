/**
 * The bench result file (bench/results/latest.json) and its Markdown table. Pure: takes the
 * collected runs, returns data and text.
 */
import type { EngineKind, Implementation, SendMeasurement } from './ipc.js';
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
  { id: 'voxcord-worker', implementation: 'voxcord', engine: 'worker', label: 'voxcord (worker engine)' },
  { id: 'djs', implementation: 'djs', label: '@discordjs/voice' },
];

export interface ServerWindow {
  /** Share of one core the server process used during the window. */
  cpuCoreShare: number;
  /** Authenticated packets the server received during the window, per second. */
  packetsPerSecond: number;
  /** Drops by reason during the window. */
  dropped: Record<string, number>;
}

export interface RunRecord {
  scenario: string;
  kind: 'send' | 'stall';
  n: number;
  dave: boolean;
  variant: Variant['id'];
  round: number;
  ok: boolean;
  error?: string;
  measurement?: SendMeasurement;
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
  kind: 'send' | 'stall';
  n: number;
  dave: boolean;
  variants: Record<
    Variant['id'],
    { ok: boolean; errors: string[]; metrics: Record<MetricId, MetricSummary> }
  >;
}

export type MetricId =
  | 'cpuUsPerPacket'
  | 'cpuCoreShare'
  | 'packetsPerSecond'
  | 'targetPacketsPerSecond'
  | 'latenessP50Ms'
  | 'latenessP99Ms'
  | 'latenessMaxMs'
  | 'lateOver20ms'
  | 'underruns'
  | 'rssPerConnectionKiB'
  | 'connectMs'
  | 'serverCoreShare';

const METRICS: ReadonlyArray<{
  id: MetricId;
  label: string;
  read: (m: SendMeasurement, s: ServerWindow | undefined, variant: Variant) => number | undefined;
  digits: number;
  /** Shown in the ratio column (lower is better for all of these). */
  ratio: boolean;
}> = [
  {
    id: 'cpuUsPerPacket',
    label: 'client CPU µs per packet',
    read: (m) => m.cpuUsPerPacket,
    digits: 2,
    ratio: true,
  },
  {
    id: 'cpuCoreShare',
    label: 'client CPU, % of one core',
    read: (m) => m.cpuCoreShare * 100,
    digits: 1,
    ratio: true,
  },
  {
    id: 'packetsPerSecond',
    label: 'packets/s achieved',
    read: (m) => m.packetsPerSecond,
    digits: 0,
    ratio: false,
  },
  {
    id: 'targetPacketsPerSecond',
    label: 'packets/s target',
    read: (m) => m.targetPacketsPerSecond,
    digits: 0,
    ratio: false,
  },
  {
    id: 'latenessP50Ms',
    label: 'send lateness p50, ms',
    read: (m, _s, v) => lateness(m, v)?.p50Ms,
    digits: 2,
    ratio: true,
  },
  {
    id: 'latenessP99Ms',
    label: 'send lateness p99, ms',
    read: (m, _s, v) => lateness(m, v)?.p99Ms,
    digits: 2,
    ratio: true,
  },
  {
    id: 'latenessMaxMs',
    label: 'send lateness max, ms',
    read: (m, _s, v) => lateness(m, v)?.maxMs,
    digits: 2,
    ratio: true,
  },
  {
    id: 'lateOver20ms',
    label: 'packets sent > 20 ms late (window)',
    read: (m) => m.lateOver20ms ?? undefined,
    digits: 0,
    ratio: false,
  },
  {
    id: 'underruns',
    label: 'send queue underruns (window)',
    read: (m) => m.underruns ?? undefined,
    digits: 0,
    ratio: false,
  },
  {
    id: 'rssPerConnectionKiB',
    label: 'RSS per connection, KiB',
    read: (m) => m.rssPerConnectionBytes / 1024,
    digits: 1,
    ratio: true,
  },
  { id: 'connectMs', label: 'time to connect all, ms', read: (m) => m.connectMs, digits: 0, ratio: true },
  {
    id: 'serverCoreShare',
    label: '(server CPU, % of one core)',
    read: (_m, s) => (s ? s.cpuCoreShare * 100 : undefined),
    digits: 1,
    ratio: false,
  },
];

/** The grid method where the probe saw the sends (same for both libraries); the worker engine's own histogram otherwise. */
function lateness(m: SendMeasurement, variant: Variant): SendMeasurement['gridLateness'] {
  if (variant.engine === 'worker') return m.engineLateness ?? m.gridLateness;
  return m.gridLateness ?? m.engineLateness;
}

export function summarize(runs: readonly RunRecord[]): ScenarioSummary[] {
  const keys = [...new Set(runs.map((r) => r.scenario))];
  return keys.map((scenario) => {
    const mine = runs.filter((r) => r.scenario === scenario);
    const first = mine[0]!;
    const variants = {} as ScenarioSummary['variants'];
    for (const variant of VARIANTS) {
      const rs = mine.filter((r) => r.variant === variant.id);
      const good = rs.filter((r) => r.ok && r.measurement);
      const metrics = {} as Record<MetricId, MetricSummary>;
      for (const metric of METRICS) {
        const values = good
          .map((r) => metric.read(r.measurement!, r.server, variant))
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
  const flat = text.replace(/[|\r\n]+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

function ratio(a: number | null, b: number | null): string {
  if (a === null || b === null || b === 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

export function markdownTable(summaries: readonly ScenarioSummary[], machine: Machine, note: string): string {
  const lines: string[] = [];
  lines.push(
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.os}, Node ${machine.node}. ${note}`,
    '',
    '| Scenario | Metric | voxcord (inline) | voxcord (worker) | @discordjs/voice | inline / djs | worker / djs |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const s of summaries) {
    const what = s.kind === 'stall' ? 'main-thread stall 100 ms/s' : 'send';
    const name = `${what}, N = ${s.n}${s.dave ? ', DAVE' : ', transport only'}`;
    for (const metric of METRICS) {
      const v = (id: Variant['id']): number | null => s.variants[id].metrics[metric.id].value;
      const cell = (id: Variant['id']): string =>
        s.variants[id].ok
          ? fmt(v(id), metric.digits)
          : `failed (${cellText(s.variants[id].errors[0] ?? '?')})`;
      lines.push(
        `| ${name} | ${metric.label} | ${cell('voxcord-inline')} | ${cell('voxcord-worker')} | ${cell('djs')} | ${
          metric.ratio ? ratio(v('voxcord-inline'), v('djs')) : ''
        } | ${metric.ratio ? ratio(v('voxcord-worker'), v('djs')) : ''} |`,
      );
    }
  }
  return lines.join('\n');
}
