/**
 * The Opus WebAssembly fallback (issue 17): what Alpine/musl and old-glibc users get when
 * @evan/opus has no native build for them. OPUS_FORCE_WASM=1 (read by @evan/opus when it loads)
 * forces it here; each check runs in a fresh Node process, since the build is chosen once per
 * process. With it, voxcord encodes and decodes a tone, reports the wasm build, and a whole DAVE
 * call (the demo: a player encodes, a listener decodes and compares) passes.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeOpusLibraries } from '../../src/audio/opus.js';

const ROOT = resolve(import.meta.dirname, '../..');

function runTsx(
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

/** Encodes 0.5 s of a 440 Hz tone and decodes it with the library voxcord loads; prints what happened. */
const CODEC_SCRIPT = `
import { loadOpus, probeOpusLibraries } from './src/audio/opus.ts';
import { snrDb, leftChannel } from './src/cli/signal.ts';
const opus = await loadOpus();
const encoder = opus.createEncoder();
const decoder = opus.createDecoder();
const sent = new Int16Array(25 * 1920);
const heard = new Int16Array(25 * 1920);
const sizes = [];
for (let f = 0; f < 25; f++) {
  const pcm = new Int16Array(1920);
  for (let i = 0; i < 960; i++) pcm[2 * i] = pcm[2 * i + 1] = Math.round(Math.sin((2 * Math.PI * 440 * (f * 960 + i)) / 48000) * 12000);
  sent.set(pcm, f * 1920);
  const packet = encoder.encode(new Uint8Array(pcm.buffer));
  sizes.push(packet.length);
  heard.set(decoder.decode(packet), f * 1920);
}
const concealed = decoder.conceal().length;
encoder.close();
decoder.close();
const evan = probeOpusLibraries().find((l) => l.name === '@evan/opus');
console.log(JSON.stringify({ backend: opus.backend, build: evan.build, sizes, concealed, snr: snrDb(leftChannel(sent), leftChannel(heard)) }));
`;

describe('Opus with the WebAssembly fallback (OPUS_FORCE_WASM=1)', () => {
  it('this process loaded the native build (so the fallback runs only where forced)', () => {
    expect(probeOpusLibraries(['@evan/opus'])[0]).toMatchObject({ usable: true, build: 'native' });
  });

  it('encodes and decodes a tone with the wasm build', async () => {
    const wasm = await runTsx(['--input-type=module', '-e', CODEC_SCRIPT], { OPUS_FORCE_WASM: '1' }, 30_000);
    expect(wasm.code, wasm.err).toBe(0);
    const result = JSON.parse(wasm.out.trim().split('\n').at(-1)!) as {
      backend: string;
      build: string;
      sizes: number[];
      concealed: number;
      snr: number;
    };
    expect(result).toMatchObject({ backend: '@evan/opus', build: 'wasm', concealed: 1920 });
    expect(result.sizes).toHaveLength(25);
    for (const size of result.sizes) expect(size).toBeGreaterThan(3); // real audio packets, not silence
    expect(result.snr).toBeGreaterThan(10); // the tone comes back (codec delay aligned)
  }, 40_000);

  describe('a call', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'voxcord-opus-wasm-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('voxcord doctor reports the wasm build, and the demo call passes on it', async () => {
      const main = join(ROOT, 'src/cli/main.ts');
      const doctor = await runTsx([main, 'doctor'], { OPUS_FORCE_WASM: '1' }, 30_000);
      expect(doctor.code, doctor.err).toBe(0);
      expect(doctor.out).toMatch(
        /^- in use: @evan\/opus \d+\.\d+\.\d+ \(wasm\)\n {2}hint: works everywhere/m,
      );

      const demo = await runTsx([main, 'demo', '--output', dir], { OPUS_FORCE_WASM: '1' }, 60_000);
      expect(demo.code, `${demo.out}\n${demo.err}`).toBe(0);
      const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as {
        ok: boolean;
        privacyCodesMatch: boolean;
        framesLost: number;
        snrDb: number | null;
      };
      expect(report).toMatchObject({ ok: true, privacyCodesMatch: true, framesLost: 0 });
      expect(report.snrDb).toBeGreaterThan(10);
    }, 90_000);
  });
});
