/**
 * Packaging (issues 3 and 6): `npm pack` (prepack builds dist), install the tarball into an empty
 * project, and from there: the quick start type-checks against the installed types, compiles, and
 * runs a DAVE call through the local server (both members agree on the privacy code, the audio
 * arrives decrypted and byte-identical, DAVE-framed on the wire). This is also what proves that
 * the MLS layer travels with the package (no postinstall patch of the consumer's
 * node_modules). Then the installed `voxcord` bin runs its demo. Nothing is left behind.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        done({ code, stdout, stderr });
      },
    );
  });
}

function expectOk(result: Run, what: string): void {
  if (result.code !== 0)
    throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
}

let temp: string;
let project: string;
let tarball: string;

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'voxcord-pack-'));
  const packed = await run('npm', ['pack', '--pack-destination', temp, '--silent'], ROOT, 120_000);
  expectOk(packed, 'npm pack');
  const tgz = (await readdir(temp)).filter((f) => f.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = join(temp, tgz[0]!);

  project = join(temp, 'consumer');
  await mkdir(project);
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
  );
  const installed = await run(
    'npm',
    ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'],
    project,
    120_000,
  );
  expectOk(installed, 'npm install <tarball>');
}, 240_000);

afterAll(async () => {
  if (temp !== undefined) await rm(temp, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the built library, its types and the CLI, and no sources, tests or install scripts', async () => {
    const listing = await run('tar', ['-tzf', tarball], temp, 30_000);
    expectOk(listing, 'tar -t');
    const files = listing.stdout.trim().split('\n');
    for (const f of [
      'package/package.json',
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/cli/main.js',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /^package\/(src|test|bench|node_modules)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.tgz'))).toEqual([]);

    const manifest = JSON.parse(
      await readFile(join(project, 'node_modules/voxcord/package.json'), 'utf8'),
    ) as {
      scripts?: Record<string, string>;
      bin?: Record<string, string>;
      bundleDependencies?: unknown;
      bundledDependencies?: unknown;
    };
    const scripts = Object.keys(manifest.scripts ?? {});
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare'])
      expect(scripts).not.toContain(hook);
    expect(manifest.bundleDependencies ?? manifest.bundledDependencies).toBeUndefined();
    expect(manifest.bin).toEqual({ voxcord: './dist/cli/main.js' });
    const main = await readFile(join(project, 'node_modules/voxcord/dist/cli/main.js'), 'utf8');
    expect(main.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('the quick start type-checks with the installed types, compiles, and completes a DAVE call', async () => {
    await copyFile(join(ROOT, 'test/package/fixture/quick-start.ts.txt'), join(project, 'quick-start.ts'));
    // The README's own quick start, verbatim, so the README cannot drift from the package.
    await writeFile(join(project, 'readme-quick-start.ts'), await readmeQuickStart());
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023'],
          strict: true,
          // Check the installed declaration files too: a broken .d.ts must fail here.
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          outDir: 'out',
          rootDir: '.',
        },
        files: ['quick-start.ts', 'readme-quick-start.ts'],
      }),
    );
    expectOk(
      await run(process.execPath, [TSC, '-p', project], project, 120_000),
      'tsc on the consumer project',
    );

    // A type error in consumer code is reported, so the check above is real.
    await writeFile(
      join(project, 'bad.ts'),
      "import { joinVoiceChannel } from 'voxcord';\njoinVoiceChannel({ guildId: 1 });\n",
    );
    const badCheck = await run(
      process.execPath,
      [
        TSC,
        '--noEmit',
        '--strict',
        '--module',
        'NodeNext',
        '--moduleResolution',
        'NodeNext',
        '--target',
        'ES2022',
        '--types',
        'node',
        '--typeRoots',
        join(ROOT, 'node_modules/@types'),
        'bad.ts',
      ],
      project,
      60_000,
    );
    expect(badCheck.code).not.toBe(0);
    expect(badCheck.stdout).toMatch(/bad\.ts\(2,\d+\): error TS2/);

    expectOk(
      await run(process.execPath, ['out/readme-quick-start.js'], project, 60_000),
      "the README's quick start",
    );

    const call = await run(process.execPath, ['out/quick-start.js'], project, 60_000);
    expectOk(call, 'the quick start');
    const result = JSON.parse(call.stdout.trim().split('\n').at(-1)!) as {
      privacyCode: string;
      daveProtocolVersion: number;
      sent: number;
      heard: number;
      same: boolean;
      wireFrames: number;
      daveMarked: number;
      loudest: number;
    };
    expect(result.privacyCode).toMatch(/^\d{30}$/);
    expect(result.daveProtocolVersion).toBe(1);
    expect(result).toMatchObject({ sent: 25, heard: 25, same: true });
    expect(result.wireFrames).toBeGreaterThanOrEqual(25);
    expect(result.daveMarked).toBe(result.wireFrames); // every audio frame was DAVE-encrypted on the wire
    expect(result.loudest).toBeGreaterThan(8_000); // and decodes to the tone (amplitude 12 000)
  }, 180_000);

  it('the installed voxcord bin: --help, and the demo passes', async () => {
    const bin = join(project, 'node_modules/.bin/voxcord');
    const help = await run(bin, ['--help'], project, 30_000);
    expectOk(help, 'voxcord --help');
    expect(help.stdout).toMatch(/^ {2}demo +/m);
    const demo = await run(bin, ['demo', '--output', 'out-demo'], project, 60_000);
    expectOk(demo, 'voxcord demo');
    const report = JSON.parse(await readFile(join(project, 'out-demo/report.json'), 'utf8')) as {
      ok: boolean;
      privacyCodesMatch: boolean;
      framesLost: number;
    };
    expect(report).toMatchObject({ ok: true, privacyCodesMatch: true, framesLost: 0 });
  }, 90_000);
});

/** The first TypeScript block under the README's "Quick start" heading. */
async function readmeQuickStart(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error('README.md has no quick-start code block');
  return match[1]!;
}
