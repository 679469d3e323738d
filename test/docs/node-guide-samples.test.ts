/**
 * The TypeScript samples of docs/voxcord-node.md type-check as a reader would paste them: strict,
 * Node ESM, against the client libraries this repository tests with (discord.js, lavalink-client,
 * shoukaku, moonlink.js, kazagumo, poru) and voxcord's own types. The names a sample takes from
 * the reader's bot (`client`, `guildId`...) are declared once; each sample is its own module.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** What the guide's samples take from the reader's bot. */
const READER_GLOBALS = `declare const client: import('discord.js').Client;
declare const manager: import('lavalink-client').LavalinkManager;
declare const botUserId: string;
declare const guildId: string;
declare const channelId: string;
declare const voiceChannelId: string;
declare const textChannelId: string;
declare const voiceChannel: string;
declare const textChannel: string;
declare const user: { id: string; username: string };
`;

/** Every ```ts block of the guide (indented ones too), in order. */
function samples(): string[] {
  const doc = readFileSync(join(ROOT, 'docs/voxcord-node.md'), 'utf8');
  return [...doc.matchAll(/^( *)```ts\n([\s\S]*?)^\1```/gm)].map(([, indent, body]) =>
    body!
      .split('\n')
      .map((line) => line.slice(indent!.length))
      .join('\n'),
  );
}

describe('docs/voxcord-node.md', () => {
  it('its TypeScript samples type-check (strict, Node ESM) against the clients they set up', () => {
    const blocks = samples();
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    // Under the repository's node_modules (ignored by git and the linters), so the samples
    // resolve its packages; 'voxcord' is its source.
    mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
    const dir = mkdtempSync(join(ROOT, 'node_modules/.cache/guide-samples-'));
    try {
      const files = blocks.map((text, i) => {
        const name = `sample-${i + 1}.ts`;
        // A sample without imports would be a script sharing one scope with the others.
        writeFileSync(join(dir, name), /^import /m.test(text) ? text : `${text}\nexport {};\n`);
        return name;
      });
      writeFileSync(join(dir, 'reader.d.ts'), READER_GLOBALS);
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            lib: ['ES2023'],
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
            paths: { voxcord: ['../../../src/index.ts'] },
          },
          files: ['reader.d.ts', ...files],
        }),
      );
      const tsc = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
      const errors = tsc.stdout.replace(new RegExp(`${dir}/?`, 'g'), '');
      expect(errors, 'tsc on the guide samples').toBe('');
      expect(tsc.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
