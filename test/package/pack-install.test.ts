/**
 * Packaging (issues 3 and 6): `npm pack` (prepack builds dist), install the tarball into an empty
 * project, and from there: the quick start type-checks against the installed types, compiles, and
 * runs a DAVE call through the local server (both members agree on the privacy code, the audio
 * arrives decrypted and byte-identical, DAVE-framed on the wire). This is also what proves that
 * the MLS layer travels with the package (no postinstall patch of the consumer's
 * node_modules). Then the installed `voxcord` bin runs its demo. Nothing is left behind.
 *
 * CommonJS (issue 17): plain `require('voxcord')` and a `module: node16` TypeScript project (a .cts
 * bot that runs a call, an .mts file) use the tarball, both with Node's require(esm) (the ESM build)
 * and with it switched off (the CommonJS bundle, what Node before 20.19 / 22.12 gets). sodium-native
 * is an opt-in, so the consumer does not have it: XChaCha20 runs on node:crypto and doctor says so.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
/** A consumer project's TypeScript settings (strict, Node ESM). */
const CONSUMER_COMPILER_OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  lib: ['ES2023'],
  strict: true,
  types: ['node'],
  typeRoots: [join(ROOT, 'node_modules/@types')],
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command in a process group of its own; past `timeoutMs` the whole group is killed (npm's
 * and vitest's own children too, which would otherwise keep the pipes open and hang the test
 * without saying which step hung) and the result says so, with the output so far.
 */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      timedOut = true;
      // Only a child that started has a group to kill (a pid of undefined would signal our own).
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ code: 1, stdout, stderr: `${stderr}\n${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!timedOut) done({ code: code ?? 1, stdout, stderr });
      else {
        const ms = Math.round(performance.now() - started);
        done({
          code: 124,
          stdout,
          stderr: `${stderr}\n[timed out after ${ms} ms: its process group was killed]`,
        });
      }
    });
  });
}

function expectOk(result: Run, what: string): void {
  if (result.code !== 0)
    throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
}

let temp: string;
let project: string;
let tarball: string;
/** Node flags that switch require(esm) off, where this Node has it (20.19+, 22.12+). */
const NO_REQUIRE_ESM = ['--no-experimental-require-module'];
const HAS_REQUIRE_ESM = spawnSync(process.execPath, [...NO_REQUIRE_ESM, '-e', '0']).status === 0;

/**
 * The two ways require('voxcord') resolves: with Node's require(esm) on, the "module-sync"
 * condition gives the ESM build (one copy of voxcord for require and import alike); without it
 * (Node 20 before 20.19, 22 before 22.12, or switched off) the "require" condition gives the
 * CommonJS bundle, a second copy when something also imports voxcord.
 */
const REQUIRE_PATHS = [
  {
    name: 'the CommonJS bundle',
    flags: HAS_REQUIRE_ESM ? NO_REQUIRE_ESM : [],
    entry: 'dist/cjs/index.js',
    oneCopy: false,
  },
  ...(HAS_REQUIRE_ESM ? [{ name: 'require(esm)', flags: [], entry: 'dist/index.js', oneCopy: true }] : []),
];

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
      consumerTsconfig('NodeNext', 'out', ['quick-start.ts', 'readme-quick-start.ts']),
    );
    expectOk(
      await run(process.execPath, [TSC, '-p', project], project, 120_000),
      'tsc on the consumer project',
    );
    // And with the newest @types/node, what a fresh `npm install` brings along (26 renamed util's
    // inspect types, which our declarations once named).
    const newest = join(temp, 'types-26');
    await mkdir(newest);
    await symlink(join(ROOT, 'node_modules/types-node-26'), join(newest, 'node'));
    const files = ['quick-start.ts', 'readme-quick-start.ts', 'engine-stats.ts'];
    await writeFile(
      join(project, 'engine-stats.ts'),
      "import { createMediaEngine } from 'voxcord';\n" +
        'const engine = createMediaEngine();\n' +
        'export const realtime = (await engine.stats()).perWorker.map((w) => w.realtime);\n',
    );
    await writeFile(join(project, 'tsconfig.26.json'), consumerTsconfig('NodeNext', 'out26', files, newest));
    expectOk(
      await run(
        process.execPath,
        [TSC, '-p', join(project, 'tsconfig.26.json'), '--noEmit'],
        project,
        120_000,
      ),
      'tsc on the consumer project with @types/node 26',
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

    const readmeRun = await run(process.execPath, ['out/readme-quick-start.js'], project, 60_000);
    expectOk(readmeRun, "the README's quick start");
    // Everything the player produced reached the listener by the time drained() resolved,
    // the last frame included (it used to be clipped: 180 of 201).
    const counts = /sent (\d+) frames, (\d+) heard/.exec(readmeRun.stdout);
    expect(counts).not.toBeNull();
    expect(Number(counts![1])).toBeGreaterThan(100);
    expect(Number(counts![2])).toBe(Number(counts![1]));

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
    expect(result).toMatchObject({ sent: 25, heard: 25, heardAtDrained: 25, same: true });
    expect(result.wireFrames).toBeGreaterThanOrEqual(25);
    expect(result.daveMarked).toBe(result.wireFrames); // every audio frame was DAVE-encrypted on the wire
    expect(result.loudest).toBeGreaterThan(8_000); // and decodes to the tone (amplitude 12 000)
  }, 180_000);

  it('the installed voxcord bin: --help, and the demo passes', async () => {
    const bin = join(project, 'node_modules/.bin/voxcord');
    const help = await run(bin, ['--help'], project, 30_000);
    expectOk(help, 'voxcord --help');
    expect(help.stdout).toMatch(/^ {2}demo +/m);
    const doctor = await run(bin, ['doctor'], project, 30_000);
    expectOk(doctor, 'voxcord doctor');
    expect(doctor.stdout).toContain('voxcord dependency report');
    expect(doctor.stdout).toContain('- sodium-native: not installed');
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

describe('CommonJS consumers', () => {
  it.skipIf(!HAS_REQUIRE_ESM)('the flag is real: with it, require() of the ESM build fails', async () => {
    const esm = await run(
      process.execPath,
      [...NO_REQUIRE_ESM, '-e', "require('./node_modules/voxcord/dist/index.js')"],
      project,
      30_000,
    );
    expect(esm.code).not.toBe(0);
    expect(esm.stderr).toContain('ERR_REQUIRE_ESM');
  });

  it.each(REQUIRE_PATHS)(
    'require("voxcord") through $name: every name import() has, and the dependency report',
    async ({ flags, entry, oneCopy }) => {
      await copyFile(join(ROOT, 'test/package/fixture/require.cjs.txt'), join(project, 'require.cjs'));
      const result = await run(process.execPath, [...flags, 'require.cjs'], project, 60_000);
      expectOk(result, 'require.cjs');
      const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
        resolved: string;
        requireNames: string[];
        importNames: string[];
        sameVoxcordError: boolean;
        crossCopy: boolean;
        report: string;
      };
      expect(out.resolved).toBe(join(project, 'node_modules/voxcord', entry));
      expect(out.requireNames).toEqual(out.importNames);
      expect(out.requireNames).toEqual(
        expect.arrayContaining(['joinVoiceChannel', 'generateDependencyReport']),
      );
      // One module for require and import, or (the documented dual-package hazard) two copies,
      // whose errors isVoxcordError still recognises.
      expect(out.sameVoxcordError).toBe(oneCopy);
      expect(out.crossCopy).toBe(true);
      expect(out.report).toMatch(/^- in use: @evan\/opus \d+\.\d+\.\d+ \(native\)$/m);
      expect(out.report).toContain(
        '- sodium-native: not installed\n  hint: optional: npm install sodium-native',
      );
      expect(out.report).toContain('- aead_xchacha20_poly1305_rtpsize: node:crypto\n');
    },
    90_000,
  );

  it.each(REQUIRE_PATHS)(
    'require("voxcord/discordjs-voice") through $name: the names import() has, one copy of voxcord',
    async ({ flags, entry }) => {
      await copyFile(
        join(ROOT, 'test/package/fixture/require-discordjs-voice.cjs.txt'),
        join(project, 'require-discordjs-voice.cjs'),
      );
      const result = await run(process.execPath, [...flags, 'require-discordjs-voice.cjs'], project, 60_000);
      expectOk(result, 'require-discordjs-voice.cjs');
      const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      const subpath =
        entry === 'dist/index.js' ? 'dist/compat/discordjs-voice/index.js' : 'dist/cjs/discordjs-voice.js';
      expect(out['resolved']).toBe(join(project, 'node_modules/voxcord', subpath));
      expect(out['requireNames']).toEqual(out['importNames']);
      expect(out['requireNames']).toEqual(
        expect.arrayContaining(['joinVoiceChannel', 'createAudioPlayer', 'AudioPlayerStatus', 'demuxProbe']),
      );
      // The subpath uses the same voxcord as require('voxcord') (one registry, one media engine).
      expect(out).toMatchObject({ sharesVoxcord: true, idle: 'idle', report: true });
    },
    90_000,
  );

  it('a module node16 project: a .cts bot and an .mts file type-check; the bot runs a call as CommonJS', async () => {
    await copyFile(join(ROOT, 'test/package/fixture/cjs-call.cts.txt'), join(project, 'cjs-call.cts'));
    await copyFile(
      join(ROOT, 'test/package/fixture/discordjs-voice.cts.txt'),
      join(project, 'discordjs-voice.cts'),
    );
    await copyFile(join(ROOT, 'test/package/fixture/esm-types.mts.txt'), join(project, 'esm-types.mts'));
    await writeFile(
      join(project, 'tsconfig.node16.json'),
      consumerTsconfig('node16', 'out16', ['cjs-call.cts', 'esm-types.mts', 'discordjs-voice.cts']),
    );
    expectOk(
      await run(process.execPath, [TSC, '-p', 'tsconfig.node16.json'], project, 120_000),
      'tsc (module node16) on the .cts and .mts files',
    );
    const compiled = await readFile(join(project, 'out16/cjs-call.cjs'), 'utf8');
    expect(compiled).toContain('require("voxcord")');
    expect(await readFile(join(project, 'out16/discordjs-voice.cjs'), 'utf8')).toContain(
      'require("voxcord/discordjs-voice")',
    );

    // The call through each way require resolves, side by side (each has its own local Discord).
    const calls = await Promise.all(
      REQUIRE_PATHS.map(({ flags }) =>
        run(process.execPath, [...flags, 'out16/cjs-call.cjs'], project, 90_000),
      ),
    );
    calls.forEach((call, i) => {
      const { name, entry } = REQUIRE_PATHS[i]!;
      expectOk(call, `the CommonJS bot through ${name}`);
      const result = JSON.parse(call.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(result).toMatchObject({
        resolved: join(project, 'node_modules/voxcord', entry),
        mode: 'aead_xchacha20_poly1305_rtpsize',
        daveProtocolVersion: 1,
        sent: 15,
        heard: 15,
        same: true,
      });
      expect(result['loudest']).toBeGreaterThan(8_000);
    });
  }, 180_000);
});

/** A strict consumer tsconfig for `module` (and the same moduleResolution) over `files`. */
function consumerTsconfig(
  module: 'NodeNext' | 'node16',
  outDir: string,
  files: string[],
  typeRoot = join(ROOT, 'node_modules/@types'),
): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module,
      moduleResolution: module,
      lib: ['ES2023'],
      strict: true,
      // Check the installed declaration files too: a broken .d.ts must fail here.
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [typeRoot],
      outDir,
      rootDir: '.',
    },
    files,
  });
}

describe('the docs: "Test your discord.js bot offline"', () => {
  it('its example tests pass as written in a fresh project with discord.js, @discordjs/voice and vitest', async () => {
    const example = join(temp, 'docs-example');
    await mkdir(example);
    await writeFile(
      join(example, 'package.json'),
      JSON.stringify({ name: 'docs-example', version: '1.0.0', private: true, type: 'module' }, null, 2),
    );
    // The versions this repository tests with, so the install is served from the npm cache.
    const versions = await Promise.all(
      ['discord.js', '@discordjs/voice', 'opusscript', 'vitest'].map(async (name) => {
        const manifest = JSON.parse(
          await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
        ) as { version: string };
        return `${name}@${manifest.version}`;
      }),
    );
    expectOk(
      await run(
        'npm',
        ['install', tarball, ...versions, '--prefer-offline', '--no-audit', '--no-fund'],
        example,
        180_000,
      ),
      'npm install in the docs example project',
    );
    const blocks = await docsExampleBlocks();
    // A reader runs the first example before the doc shows the second's files: no block may name
    // a file ('./voice-ca.ts' in a vitest config) that comes later.
    const shown = new Set<string>();
    for (const [name, text] of blocks) {
      for (const [, named] of text.matchAll(/'\.\/([\w.-]+\.ts)'/g))
        expect(shown, `${name} names ${named} before the doc shows it`).toContain(named);
      shown.add(name);
    }
    // A file shown twice (the vitest config, grown for the second example) is its last version.
    const files = Object.fromEntries(blocks);
    expect(Object.keys(files).sort()).toEqual([
      'bot.test.ts',
      'bot.ts',
      'djs-bot.test.ts',
      'djs-bot.ts',
      'vitest.config.ts',
      'voice-ca.ts',
    ]);
    for (const [name, text] of Object.entries(files)) await writeFile(join(example, name), text);

    // The examples type-check (strict) against the installed packages...
    await writeFile(
      join(example, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...CONSUMER_COMPILER_OPTIONS, skipLibCheck: true, noEmit: true },
        files: Object.keys(files),
      }),
    );
    expectOk(await run(process.execPath, [TSC, '-p', example], example, 120_000), 'tsc on the docs example');

    // ...and their tests pass: the bots are driven, heard and answered, in the project's own vitest.
    const tests = await run(
      process.execPath,
      [join(example, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter', 'verbose'],
      example,
      120_000,
    );
    expectOk(tests, 'vitest run in the docs example project');
    expect(tests.stdout).toMatch(/Tests +3 passed \(3\)/);
    expect(tests.stdout + tests.stderr).not.toMatch(/Unhandled|Ignoring extra certs/);
    // More than its steps' own limits (180 + 120 + 120 s): a step that hangs reports itself.
  }, 480_000);
});

/** The code blocks of docs/test-your-discordjs-bot-offline.md that start with `// <file>.ts:`, in order. */
async function docsExampleBlocks(): Promise<[file: string, text: string][]> {
  const doc = await readFile(join(ROOT, 'docs/test-your-discordjs-bot-offline.md'), 'utf8');
  return [...doc.matchAll(/```ts\n(\/\/ ([\w.-]+\.ts):[\s\S]*?)```/g)].map((m) => [m[2]!, m[1]!]);
}

/** The first TypeScript block under the README's "Quick start" heading. */
async function readmeQuickStart(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error('README.md has no quick-start code block');
  return match[1]!;
}
