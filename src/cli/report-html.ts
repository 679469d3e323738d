/**
 * The demo's report as one self-contained HTML file: no scripts, no external resources. Inline SVG
 * waveforms of the sent and heard audio (whole signal, plus a few milliseconds overlaid to show the
 * match sample by sample) and the call's timeline of joins, epochs and transitions.
 */
import { SAMPLE_RATE } from '../protocol/constants.js';
import type { DemoReport } from './demo-report.js';
import type { TimelineEntry } from './timeline.js';
import { groupDigits } from './timeline.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

/** Min/max of the left channel per column, as -1..1. */
export function envelope(
  stereo: Int16Array,
  columns: number,
  offset = 0,
  length?: number,
): Array<[number, number]> {
  const frames = stereo.length >> 1;
  const total = length ?? frames - offset;
  const out: Array<[number, number]> = [];
  for (let c = 0; c < columns; c++) {
    const from = offset + Math.floor((c * total) / columns);
    const to = Math.max(from + 1, offset + Math.floor(((c + 1) * total) / columns));
    let min = 0;
    let max = 0;
    for (let i = from; i < to && i < frames; i++) {
      const v = (stereo[i * 2] ?? 0) / 32768;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    out.push([min, max]);
  }
  return out;
}

const WIDTH = 900;

function waveformSvg(
  title: string,
  stereo: Int16Array,
  offset: number,
  length: number,
  color: string,
): string {
  const height = 120;
  const mid = height / 2;
  if (length <= 0) return `<figure><figcaption>${escapeHtml(title)}: nothing</figcaption></figure>`;
  const env = envelope(stereo, WIDTH, offset, length);
  const top = env.map(([, max], x) => `${x},${fmt(mid - max * (mid - 4))}`);
  const bottom = env.map(([min], x) => `${x},${fmt(mid - min * (mid - 4))}`).reverse();
  const seconds = length / SAMPLE_RATE;
  const ticks: string[] = [];
  for (let s = 0; s <= seconds + 1e-9; s += 0.5) {
    const x = fmt((s / seconds) * WIDTH);
    ticks.push(
      `<line x1="${x}" y1="0" x2="${x}" y2="${height}" class="grid"/><text x="${x}" y="${height + 14}" class="tick">${fmt(s)} s</text>`,
    );
  }
  return `<figure><figcaption>${escapeHtml(title)}</figcaption>
<svg viewBox="0 0 ${WIDTH} ${height + 18}" width="100%" role="img" aria-label="${escapeHtml(title)}">
<line x1="0" y1="${mid}" x2="${WIDTH}" y2="${mid}" class="axis"/>${ticks.join('')}
<polygon points="${[...top, ...bottom].join(' ')}" fill="${color}" stroke="${color}" stroke-width="0.5"/>
</svg></figure>`;
}

/** A few ms of both signals drawn sample by sample on top of each other. */
function overlaySvg(sent: Int16Array, heard: Int16Array, lag: number, at: number, samples: number): string {
  const height = 160;
  const mid = height / 2;
  const line = (stereo: Int16Array, start: number): string =>
    Array.from({ length: samples }, (_, i) => {
      const v = (stereo[(start + i) * 2] ?? 0) / 32768;
      return `${fmt((i / (samples - 1)) * WIDTH)},${fmt(mid - v * (mid - 4))}`;
    }).join(' ');
  const ms = fmt((samples / SAMPLE_RATE) * 1000);
  const title = `${ms} ms at ${fmt(at / SAMPLE_RATE)} s, sample by sample: sent (blue) and heard (orange, shifted by the codec delay)`;
  return `<figure><figcaption>${escapeHtml(title)}</figcaption>
<svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="${escapeHtml(title)}">
<line x1="0" y1="${mid}" x2="${WIDTH}" y2="${mid}" class="axis"/>
<polyline points="${line(sent, at)}" fill="none" stroke="#2b6cb0" stroke-width="2.5"/>
<polyline points="${line(heard, at + lag)}" fill="none" stroke="#dd6b20" stroke-width="1.2"/>
</svg></figure>`;
}

const KIND_COLORS: Record<string, string> = {
  join: '#2f855a',
  leave: '#c53030',
  state: '#718096',
  epoch: '#6b46c1',
  transition: '#b7791f',
  'privacy-code': '#2b6cb0',
  audio: '#dd6b20',
  error: '#e53e3e',
};

function timelineSvg(entries: readonly TimelineEntry[]): string {
  const actors = [...new Set(['server', ...entries.map((e) => e.actor)])];
  const lane = 34;
  const left = 80;
  const height = actors.length * lane + 24;
  const end = Math.max(1, ...entries.map((e) => e.atMs));
  const x = (ms: number): string => fmt(left + (ms / end) * (WIDTH - left - 10));
  const lanes = actors
    .map(
      (a, i) =>
        `<text x="4" y="${i * lane + 21}" class="lane">${escapeHtml(a)}</text><line x1="${left}" y1="${i * lane + 17}" x2="${WIDTH - 10}" y2="${i * lane + 17}" class="axis"/>`,
    )
    .join('');
  const dots = entries
    .map((e) => {
      const y = actors.indexOf(e.actor) * lane + 17;
      const color = KIND_COLORS[e.kind] ?? '#4a5568';
      return `<circle cx="${x(e.atMs)}" cy="${y}" r="5" fill="${color}"><title>${escapeHtml(`${fmt(e.atMs)} ms ${e.actor}: ${e.text}`)}</title></circle>`;
    })
    .join('');
  const ticks: string[] = [];
  const step = end > 8_000 ? 2_000 : end > 3_000 ? 1_000 : 500;
  for (let ms = 0; ms <= end; ms += step)
    ticks.push(`<text x="${x(ms)}" y="${height - 4}" class="tick">${fmt(ms / 1000)} s</text>`);
  return `<svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="call timeline">${lanes}${dots}${ticks.join('')}</svg>`;
}

function row(label: string, value: string, good?: boolean): string {
  const cls = good === undefined ? '' : good ? ' class="good"' : ' class="bad"';
  return `<tr><th>${escapeHtml(label)}</th><td${cls}>${escapeHtml(value)}</td></tr>`;
}

export function renderReportHtml(report: DemoReport, sent: Int16Array, heard: Int16Array): string {
  const sentFrames = sent.length >> 1;
  const lag = report.delayMs === null ? 0 : Math.round((report.delayMs * SAMPLE_RATE) / 1000);
  // Heard is drawn shifted by the codec delay, over the sent signal's length, so both line up.
  const heardLength = Math.max(0, Math.min(sentFrames, (heard.length >> 1) - lag));
  const code = (c: string | null): string => (c === null ? '(none)' : groupDigits(c));
  const summary = [
    row(
      'Result',
      report.ok ? 'OK: the listener heard what the bot played, end-to-end encrypted' : 'FAILED',
      report.ok,
    ),
    row('Transport encryption', report.transportMode ?? '(none)'),
    row('DAVE protocol version', String(report.daveProtocolVersion), report.daveProtocolVersion >= 1),
    row('MLS epoch', report.epoch === null ? '(none)' : String(report.epoch)),
    row('Privacy code (bot)', code(report.privacyCodes.bot)),
    row('Privacy code (listener)', code(report.privacyCodes.listener)),
    row('Privacy codes match', report.privacyCodesMatch ? 'yes' : 'no', report.privacyCodesMatch),
    row(
      'Verification codes match',
      report.verificationCodesMatch ? 'yes' : 'no',
      report.verificationCodesMatch,
    ),
    row(
      'Frames sent / received / lost',
      `${report.framesSent} / ${report.framesReceived} / ${report.framesLost}`,
      report.framesLost === 0,
    ),
    row('Decrypt failures', String(report.decryptFailures), report.decryptFailures === 0),
    row(
      'SNR heard vs sent',
      `${report.snrDb ?? '-'} dB (threshold ${report.snrThresholdDb} dB)`,
      report.snrDb !== null && report.snrDb >= report.snrThresholdDb,
    ),
    row('Codec delay', report.delayMs === null ? '-' : `${report.delayMs} ms`),
    row('Audio played', `${fmt(report.durationMs / 1000)} s`),
    row('Whole demo', `${fmt(report.elapsedMs / 1000)} s`),
  ].join('\n');
  const failures =
    report.failures.length === 0
      ? ''
      : `<ul class="bad">${report.failures.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>`;
  const events = report.timeline
    .map(
      (e) =>
        `<tr><td class="num">${fmt(e.atMs)}</td><td>${escapeHtml(e.actor)}</td><td><span class="kind" style="background:${KIND_COLORS[e.kind] ?? '#4a5568'}">${escapeHtml(e.kind)}</span></td><td>${escapeHtml(e.text)}</td></tr>`,
    )
    .join('\n');
  // A steady part of the first note, past the codec's start-up.
  const zoomAt = Math.min(Math.floor(SAMPLE_RATE * 0.2), Math.max(0, sentFrames - 240));
  const zoom = heardLength > zoomAt + 240 ? overlaySvg(sent, heard, lag, zoomAt, 240) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>voxcord demo report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;padding:0 1rem;color:#1a202c}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse}th,td{padding:.2rem .8rem .2rem 0;text-align:left;vertical-align:top}
th{font-weight:600}.good{color:#276749}.bad{color:#c53030;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}figcaption{font-size:.9rem;color:#4a5568}
svg .axis{stroke:#cbd5e0;stroke-width:1}svg .grid{stroke:#edf2f7;stroke-width:1}
svg .tick{font-size:11px;fill:#718096;text-anchor:middle}svg .lane{font-size:13px;fill:#2d3748}
.kind{color:#fff;border-radius:3px;padding:0 .35rem;font-size:.8rem}
</style></head><body>
<h1>voxcord demo: a bot plays, a listener hears, end-to-end encrypted</h1>
<table>${summary}</table>
${failures}
<h2>Audio</h2>
${waveformSvg('Sent by the bot (generated in code)', sent, 0, sentFrames, '#2b6cb0')}
${waveformSvg('Heard by the listener (decrypted, decoded, aligned by the codec delay)', heard, lag, heardLength, '#dd6b20')}
${zoom}
<h2>Call timeline</h2>
${timelineSvg(report.timeline)}
<table>
<tr><th class="num">ms</th><th>who</th><th>what</th><th></th></tr>
${events}
</table>
</body></html>
`;
}
