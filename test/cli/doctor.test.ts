/**
 * `voxcord doctor` and generateDependencyReport(): the report says what is installed here (read
 * from node_modules, not assumed), says when ffmpeg is missing and what to install, and the CLI
 * prints the library's report.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { OPUS_INSTALL_HINT } from '../../src/audio/opus.js';
import { SODIUM_HINT } from '../../src/diagnostics/dependency-report.js';
import { generateDependencyReport } from '../../src/index.js';
import { FFMPEG_INSTALL_HINT } from '../../src/player/inputs/ffmpeg.js';
import { captureIo } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;

const dir = mkdtempSync(join(tmpdir(), 'voxcord-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeFfmpeg(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function doctor(env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({ env });
  const code = await runCli(['doctor'], io);
  return { code, out: io.out(), err: io.err() };
}

/** The value of the report line `- name: value`. */
function line(report: string, name: string): string | undefined {
  const prefix = `- ${name}: `;
  return report
    .split('\n')
    .find((l) => l.startsWith(prefix))
    ?.slice(prefix.length);
}

describe('voxcord doctor', () => {
  it('reports the installed Opus, crypto and DAVE libraries with their versions', async () => {
    const { code, out, err } = await doctor({ PATH: '/nonexistent' });
    expect(code).toBe(0);
    expect(err).toBe('');
    const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(line(out, 'voxcord')).toBe(own.version);
    expect(line(out, 'Node.js')).toBe(`${process.version} (${process.platform} ${process.arch})`);
    // @evan/opus has a native build for linux/darwin/win32 x64 and arm64: that is what loads here.
    expect(line(out, 'in use')).toBe(`@evan/opus ${versionOf('@evan/opus')} (native)`);
    expect(line(out, '@discordjs/opus')).toBe('not installed');
    expect(line(out, 'opusscript')).toBe(`${versionOf('opusscript')} (wasm)`);
    // sodium-native is a devDependency here, so XChaCha uses it; AES-GCM never does (v5 has none).
    expect(line(out, 'sodium-native')).toBe(versionOf('sodium-native'));
    expect(line(out, 'aead_xchacha20_poly1305_rtpsize')).toBe(`sodium-native ${versionOf('sodium-native')}`);
    expect(line(out, 'aead_aes256_gcm_rtpsize (preferred)')).toMatch(/^pure TypeScript AES-256-GCM/);
    expect(line(out, 'node:crypto')).toBe(
      `OpenSSL ${process.versions.openssl}, aes-256-gcm yes, chacha20-poly1305 yes`,
    );
    expect(line(out, 'MLS')).toBe('built in (RFC 9420, cipher suite 2 on node:crypto)');
    expect(line(out, 'implementation')).toBe('pure TypeScript, protocol version 1');
    // Installed and working: no hints for Opus, crypto or DAVE.
    expect(out.split('\n').filter((l) => l.startsWith('  hint:'))).toHaveLength(1); // ffmpeg's
  });

  it('says when ffmpeg is not on PATH, and what to install', async () => {
    const { code, out } = await doctor({ PATH: '/nonexistent' });
    expect(code).toBe(0); // ffmpeg is optional
    expect(line(out, 'ffmpeg')).toMatch(/^not found \(tried "ffmpeg"\)/);
    const lines = out.split('\n');
    expect(lines[lines.findIndex((l) => l.startsWith('- ffmpeg:')) + 1]).toBe(
      `  hint: ${FFMPEG_INSTALL_HINT}`,
    );
  });

  it('reports the version of the ffmpeg on PATH, or FFMPEG_PATH', async () => {
    fakeFfmpeg('ffmpeg', 'echo "ffmpeg version 9.9-on-path Copyright (c) the FFmpeg developers"');
    const onPath = await doctor({ PATH: `${dir}:/usr/bin:/bin` });
    expect(line(onPath.out, 'ffmpeg')).toBe(
      'ffmpeg version 9.9-on-path Copyright (c) the FFmpeg developers (ffmpeg)',
    );
    expect(onPath.out).not.toContain(FFMPEG_INSTALL_HINT);

    const other = fakeFfmpeg('my-ffmpeg', 'echo "ffmpeg version 7.1-custom"');
    const viaEnv = await doctor({ PATH: '/nonexistent', FFMPEG_PATH: other });
    expect(line(viaEnv.out, 'ffmpeg')).toBe(`ffmpeg version 7.1-custom (${other})`);
  });

  it('an ffmpeg that does not run is reported with the hint', async () => {
    const broken = fakeFfmpeg('broken-ffmpeg', 'exit 3');
    const { out } = await doctor({ PATH: '/nonexistent', FFMPEG_PATH: broken });
    expect(line(out, 'ffmpeg')).toMatch(new RegExp(`^"${broken}" does not run \\(exit 3\\)`));
    expect(out).toContain(`  hint: ${FFMPEG_INSTALL_HINT}`);
  });

  it('prints what generateDependencyReport() returns', async () => {
    const env = { PATH: '/nonexistent' };
    const { out } = await doctor(env);
    expect(out).toBe(`${generateDependencyReport({ env })}\n`);
    expect(out).toMatch(/^-{60}\nvoxcord dependency report\n/);
  });

  it('--help explains it; stray arguments are usage errors', async () => {
    const io = captureIo();
    expect(await runCli(['doctor', '--help'], io)).toBe(0);
    expect(io.out()).toMatch(/usage: voxcord doctor[\s\S]*FFMPEG_PATH[\s\S]*OPUS_FORCE_WASM/);
    const bad = captureIo();
    expect(await runCli(['doctor', 'now'], bad)).toBe(2);
    expect(bad.err()).toContain('usage: voxcord doctor');
  });
});

/**
 * Runs `voxcord doctor` in a fresh process in which the packages `hide` cannot be required, as if
 * they were not installed; also prints the backend XChaCha20 gets there and that it round-trips.
 */
async function doctorWithout(hide: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const script = `
import Module from 'node:module';
const hidden = ${JSON.stringify(hide)};
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (hidden.some((h) => request === h || request.startsWith(h + '/'))) {
    throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  }
  return resolveFilename.call(this, request, ...rest);
};
const { runCli } = await import('./src/cli/run.ts');
const { createTransportCipher } = await import('./src/media/transport-cipher.ts');
const cipher = createTransportCipher('aead_xchacha20_poly1305_rtpsize', new Uint8Array(32).fill(7));
const header = Uint8Array.of(0x80, 0x78, 0, 1, 0, 0, 3, 0xc0, 0, 0, 0, 42);
const opened = cipher.open(cipher.seal(header, Uint8Array.of(1, 2, 3), 5), header.length);
const io = { stdout: { write: (t) => process.stdout.write(t) }, stderr: { write: (t) => process.stderr.write(t) }, env: { PATH: '/nonexistent' }, cwd: process.cwd() };
const code = await runCli(['doctor'], io);
console.log('xchacha: ' + cipher.backend + ' ' + (opened !== null && opened.equals(Buffer.from([1, 2, 3]))));
process.exitCode = code;
`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

describe('voxcord doctor without optional or required packages', () => {
  it('without sodium-native: XChaCha20 runs on node:crypto, and the report says how to opt in', async () => {
    const { code, out, err } = await doctorWithout(['sodium-native']);
    expect(code, err).toBe(0);
    expect(out).toContain(`- sodium-native: not installed\n  hint: ${SODIUM_HINT}\n`);
    expect(line(out, 'aead_xchacha20_poly1305_rtpsize')).toBe('node:crypto');
    expect(out).toContain('xchacha: node true');
  }, 40_000);

  it('without any Opus library: exits 1 and says what to install', async () => {
    const { code, out, err } = await doctorWithout(['@evan/opus', '@discordjs/opus', 'opusscript']);
    expect(code).toBe(1);
    expect(out).toContain(`- in use: none\n  hint: ${OPUS_INSTALL_HINT}\n`);
    expect(line(out, '@evan/opus')).toBe('not installed');
    expect(line(out, 'opusscript')).toBe('not installed');
    expect(err).toContain('voxcord doctor: missing Opus: in use');
  }, 40_000);
});
