/**
 * `voxcord demo`: the README's first command. A local Discord in this process, a bot that plays
 * audio generated in code, a listener that records it, DAVE on; prints the privacy codes and the
 * verdict and writes demo-output/{heard.wav,sent.wav,report.json,report.html}. Exit code 0 only
 * when the listener heard exactly what was played, end-to-end encrypted (see demo-report.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_TONES } from '../player/inputs/tone.js';
import { createWavWriter } from '../receive/recorder.js';
import { runDemoCall } from './demo-call.js';
import { DEFAULT_SNR_THRESHOLD_DB, buildDemoReport } from './demo-report.js';
import type { DemoReport } from './demo-report.js';
import { say, usageError } from './io.js';
import type { CliIo } from './io.js';
import { Progress } from './progress.js';
import { renderReportHtml } from './report-html.js';
import { groupDigits } from './timeline.js';

export const DEMO_USAGE = 'usage: voxcord demo [--output <dir>] [--snr-threshold <dB>]';

export const DEMO_HELP = `${DEMO_USAGE}

Runs a whole voice call on this machine, no Discord account needed: the local Discord server,
a bot that joins the way a real bot does and plays a few seconds of audio generated in code,
and a listener that records it. DAVE end-to-end encryption is on.

Prints the privacy code each side computed and whether they match, and writes
  <dir>/heard.wav     what the listener heard
  <dir>/sent.wav      what the bot played
  <dir>/report.json   transport mode, DAVE version, epoch, codes, frames, SNR, timeline
  <dir>/report.html   the same with waveforms and the call's timeline (open it in a browser)

Exits with 1 unless: audio arrived, the privacy codes match, no frame was lost, and the heard
audio matches the sent audio (SNR at or above the threshold).

Options:
  --output <dir>         where to write the files (default: demo-output)
  --snr-threshold <dB>   minimum SNR of heard vs sent (default: ${DEFAULT_SNR_THRESHOLD_DB})
  -h, --help             this help`;

export interface DemoOutcome {
  report: DemoReport;
  files: { heard: string; sent: string; json: string; html: string };
}

function parseDemoArgs(argv: string[]): { help: boolean; output: string; threshold: number } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        output: { type: 'string', short: 'o' },
        'snr-threshold': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw usageError((err as Error).message, DEMO_USAGE);
  }
  const threshold =
    values['snr-threshold'] === undefined ? DEFAULT_SNR_THRESHOLD_DB : Number(values['snr-threshold']);
  if (!Number.isFinite(threshold))
    throw usageError('--snr-threshold must be a number of dB, e.g. --snr-threshold 20', DEMO_USAGE);
  if (values.output === '')
    throw usageError('--output needs a directory, e.g. --output demo-output', DEMO_USAGE);
  return { help: values.help === true, output: values.output ?? 'demo-output', threshold };
}

async function writeWav(path: string, samples: Int16Array): Promise<void> {
  const writer = createWavWriter(path);
  writer.write(samples);
  await writer.close();
}

/** Runs the demo and writes its files; returns the report (the caller decides the exit code). */
export async function runDemo(
  io: CliIo,
  options: { output: string; snrThresholdDb: number },
): Promise<DemoOutcome> {
  const started = performance.now();
  say(io, 'voxcord demo: a bot plays audio to a listener through a local Discord, DAVE on');
  let progress: Progress | undefined;
  const result = await runDemoCall({
    tones: DEMO_TONES,
    onStep: (line) => say(io, `  ${line}`),
    onProgress: (done, total) => {
      progress ??= new Progress(io.stdout, { label: '  playing', totalMs: total });
      progress.update(done);
    },
  }).catch((err: unknown) => {
    progress?.interrupt();
    throw err;
  });
  progress?.done(result.playedMs);
  const report = buildDemoReport(result, {
    snrThresholdDb: options.snrThresholdDb,
    elapsedMs: performance.now() - started,
  });

  const dir = resolve(io.cwd, options.output);
  await mkdir(dir, { recursive: true });
  const files = {
    heard: resolve(dir, 'heard.wav'),
    sent: resolve(dir, 'sent.wav'),
    json: resolve(dir, 'report.json'),
    html: resolve(dir, 'report.html'),
  };
  await writeWav(files.heard, result.heard);
  await writeWav(files.sent, result.sent);
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(files.html, renderReportHtml(report, result.sent, result.heard));

  const code = (c: string | null): string => (c === null ? '(none)' : groupDigits(c));
  say(io);
  say(io, `  privacy code (bot):      ${code(report.privacyCodes.bot)}`);
  say(io, `  privacy code (listener): ${code(report.privacyCodes.listener)}`);
  say(io, `  privacy codes match:     ${report.privacyCodesMatch ? 'yes' : 'NO'}`);
  say(
    io,
    `  transport: ${report.transportMode ?? '(none)'}, DAVE version ${report.daveProtocolVersion}, epoch ${report.epoch ?? '-'}`,
  );
  say(
    io,
    `  frames sent ${report.framesSent}, received ${report.framesReceived}, lost ${report.framesLost}, decrypt failures ${report.decryptFailures}`,
  );
  say(
    io,
    `  SNR heard vs sent: ${report.snrDb ?? '-'} dB (needs >= ${report.snrThresholdDb} dB), codec delay ${report.delayMs ?? '-'} ms`,
  );
  const shown = (p: string): string => relative(io.cwd, p) || p;
  say(io, `  wrote ${shown(files.heard)}, ${shown(files.json)}, ${shown(files.html)}`);
  say(io);
  if (report.ok)
    say(
      io,
      `OK in ${(report.elapsedMs / 1000).toFixed(1)} s: the listener heard what the bot played, end-to-end encrypted.`,
    );
  else {
    say(io, 'FAILED:');
    for (const f of report.failures) say(io, `  - ${f}`);
  }
  return { report, files };
}

export async function runDemoCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseDemoArgs(argv);
  if (args.help) {
    say(io, DEMO_HELP);
    return 0;
  }
  const { report } = await runDemo(io, { output: args.output, snrThresholdDb: args.threshold });
  return report.ok ? 0 : 1;
}
