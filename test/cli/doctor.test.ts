/**
 * `voxcord doctor` and generateDependencyReport(): the report says what is installed here (read
 * from node_modules, not assumed), says when ffmpeg is missing and what to install, and the CLI
 * prints the library's report.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
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
    expect(line(out, 'MLS')).toBe(`ts-mls ${versionOf('ts-mls')} with a node:crypto provider`);
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
