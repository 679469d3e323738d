/**
 * The public surface is a checked contract: api/*.api.md (scripts/api-surface.ts) must match what
 * the entry points export now (else: `npm run api:report`, and review the diff), and every type a
 * public signature uses must be exported. A small project in a temp directory shows that the
 * report follows a signature change, leaves private and `@internal` members out, and names a type
 * that is used but not exported.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRIES, ROOT, readApiSurface } from '../../scripts/api-surface.js';

const surface = readApiSurface();

describe('the API report', () => {
  it('is current: api/ matches the entry points (npm run api:report regenerates it)', async () => {
    for (const [i, entry] of ENTRIES.entries()) {
      const onDisk = await readFile(join(ROOT, entry.report), 'utf8');
      expect(onDisk, `${entry.report} is stale: run npm run api:report`).toBe(surface.reports[i]);
    }
  });

  it('leaves no type of a public signature unexported', () => {
    expect(surface.unexported).toEqual([]);
  });

  it('shows the types the face used to miss, and not the player internals', () => {
    const root = surface.reports[0]!;
    const exported = (name: string): boolean =>
      new RegExp(`^export (class|interface|type|function|const|enum) ${name}\\b`, 'm').test(root);
    for (const name of [
      'VoiceDave',
      'AudioFrame',
      'DaveDecryptFailure',
      'Playback',
      'VoiceTlsOptions',
      'DisconnectReason',
      'MixedAudioStream',
      'getGroups',
      'recordWav',
      'recordOggOpus',
    ])
      expect(exported(name), name).toBe(true);
    for (const name of ['Mixer', 'FrameFanout', 'FanoutReader', 'OggOpusDemuxer', 'WebmOpusDemuxer'])
      expect(exported(name), name).toBe(false);
  });
});

describe('the API report of a small project', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const compilerOptions: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts'], // as the build, so the lib parsed for the real surface is reused
    strict: true,
    types: [],
  };

  async function report(files: Record<string, string>): Promise<{ text: string; unexported: string[] }> {
    dir ??= await mkdtemp(join(tmpdir(), 'voxcord-api-'));
    const root = await mkdtemp(join(dir, 'p-'));
    await mkdir(join(root, 'src'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(root, 'src', name), text);
    const result = readApiSurface({
      root,
      entries: [{ specifier: 'fixture', source: 'src/index.ts', report: 'api/fixture.api.md' }],
      compilerOptions,
    });
    return { text: result.reports[0]!, unexported: result.unexported };
  }

  const shapes = `export interface Options { size: number }
interface Hidden { secret: string }
export class Box {
  private inner = 1;
  #also = 2;
  /** @internal */
  poke(): Hidden { return { secret: String(this.inner + this.#also) }; }
  open(options: Options): number { return options.size; }
}
export function make(): Box { return new Box(); }
`;

  it('prints signatures, leaves private and @internal members out, and follows a change', async () => {
    const before = await report({ 'index.ts': "export * from './shapes.js';\n", 'shapes.ts': shapes });
    expect(before.unexported).toEqual([]);
    expect(before.text).toContain('export class Box {\n  open(options: Options): number;\n}');
    expect(before.text).toContain('export function make(): Box;');
    expect(before.text).toContain('export interface Options {\n  size: number;\n}');
    expect(before.text).not.toMatch(/inner|also|poke|Hidden/);

    const after = await report({
      'index.ts': "export * from './shapes.js';\n",
      'shapes.ts': shapes.replace(
        'open(options: Options): number',
        'open(options: Options, fast?: boolean): number',
      ),
    });
    expect(after.text).not.toBe(before.text);
    expect(after.text).toContain('open(options: Options, fast?: boolean): number;');
  });

  it('names a type that a public signature uses but no entry exports, and marks type-only classes', async () => {
    const result = await report({
      'index.ts': "export { make } from './shapes.js';\nexport type { Box } from './shapes.js';\n",
      'shapes.ts': shapes,
    });
    expect(result.unexported).toEqual(['Options (src/shapes.ts): used by Box.open']);
    expect(result.text).toContain('export class Box { // type only\n');
  });
});
