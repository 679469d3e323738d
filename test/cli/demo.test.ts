/**
 * `voxcord demo` end to end: once as a real process (it must exit by itself with 0 and write its
 * files), once in-process with an impossible SNR threshold (it must fail, exit 1, and say why).
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import type { DemoReport } from '../../src/cli/demo-report.js';
import { Cleanup, captureIo, tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function runProcess(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

describe('voxcord demo', () => {
  it('runs as a process: DAVE call, matching codes, 0 lost frames, SNR above the threshold, files written', async () => {
    const dir = await tempDir(cleanup);
    // Run from the repository so that tsx resolves; the files go to the temp dir.
    const { code, out, err } = await runProcess(['demo', '--output', join(dir, 'out')], ROOT);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/privacy code \(bot\): +(\d{5} ){5}\d{5}/);
    expect(out).toMatch(/privacy codes match: +yes/);
    expect(out).toMatch(/playing \[#+\] 100%/);
    expect(out).toMatch(/^OK in [\d.]+ s/m);

    const report = JSON.parse(await readFile(join(dir, 'out/report.json'), 'utf8')) as DemoReport;
    expect(report.ok).toBe(true);
    expect(report.transportMode).toMatch(/^aead_(aes256_gcm|xchacha20_poly1305)_rtpsize$/);
    expect(report.daveProtocolVersion).toBe(1);
    expect(report.epoch).toBeGreaterThanOrEqual(1);
    expect(report.privacyCodesMatch).toBe(true);
    expect(report.privacyCodes.bot).toMatch(/^\d{30}$/);
    expect(report.framesSent).toBe(150); // DEMO_TONES: 3 s
    expect(report.framesReceived).toBe(150);
    expect(report.framesLost).toBe(0);
    expect(report.decryptFailures).toBe(0);
    expect(report.snrDb!).toBeGreaterThanOrEqual(report.snrThresholdDb);
    expect(report.durationMs).toBe(3_000);
    expect(report.timeline.map((e) => `${e.actor}:${e.kind}`)).toEqual(
      expect.arrayContaining([
        'server:join',
        'bot:join',
        'listener:join',
        'bot:epoch',
        'listener:epoch',
        'server:transition',
        'server:leave',
      ]),
    );

    const heard = await readFile(join(dir, 'out/heard.wav'));
    expect(heard.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(heard.readUInt32LE(40)).toBe(heard.length - 44); // the data size was patched in
    expect(heard.length - 44).toBeGreaterThanOrEqual(150 * 3_840);
    const html = await readFile(join(dir, 'out/report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect((await stat(join(dir, 'out/sent.wav'))).size).toBe(44 + 150 * 3_840);
  });

  it('fails with exit 1 and says why when a check does not hold', async () => {
    const dir = await tempDir(cleanup);
    const io = captureIo({ cwd: dir });
    const code = await runCli(['demo', '--snr-threshold', '1000'], io);
    expect(code).toBe(1);
    expect(io.out()).toMatch(/FAILED:\n {2}- SNR [\d.]+ dB is below 1000 dB/);
    const report = JSON.parse(await readFile(join(dir, 'demo-output/report.json'), 'utf8')) as DemoReport;
    expect(report.ok).toBe(false);
    expect(report.privacyCodesMatch).toBe(true); // the rest still held
    expect(report.framesLost).toBe(0);
  });
});
