/**
 * The CommonJS build (`require('voxcord')`): src/index.ts bundled by esbuild into dist/cjs/index.js
 * (and `voxcord/discordjs-voice` into dist/cjs/discordjs-voice.js, requiring ./index.js),
 * next to a package.json that marks dist/cjs as CommonJS, and the ESM build's declarations copied
 * there so TypeScript sees CommonJS-format types for `require`. Run after `tsc -p tsconfig.build.json`.
 *
 * Node 20.19+ / 22.12+ never load it: package.json's `module-sync` condition gives `require` the
 * ESM build there (one module instance). This bundle is for older Node 20 and 22, which have no
 * require(esm): ESM-only packages would be bundled in; dependencies that ship CommonJS stay external.
 * `import.meta.url` in a source file becomes the URL of that file's ESM twin in dist/, so paths
 * resolved from it (the media worker's entry) point at the ESM build's files, which exist.
 */
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const OUT = join(DIST, 'cjs');

/** Packages that can be require()d on every supported Node; everything else is bundled. */
const EXTERNAL = [
  '@discordjs/rest',
  '@discordjs/ws',
  'ws',
  '@evan/opus',
  '@discordjs/opus',
  'opusscript',
  'sodium-native',
];

const importMetaUrl: Plugin = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
      const twin = relative(SRC, args.path).replace(/\.ts$/, '.js').split('\\').join('/');
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, '..', ${JSON.stringify(twin)})).href`;
      return { contents: source.replaceAll('import.meta.url', `(${url})`), loader: 'ts' };
    });
  },
};

/**
 * Subpath entries (voxcord/discordjs-voice) import voxcord only through src/index.ts; that import
 * stays a require of the main bundle, so both share one copy of voxcord (one registry, one engine).
 */
const mainBundle: Plugin = {
  name: 'main-bundle',
  setup(b) {
    b.onResolve({ filter: /index\.js$/ }, (args) =>
      resolve(args.resolveDir, args.path) === join(SRC, 'index.js')
        ? { path: './index.js', external: true }
        : undefined,
    );
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: EXTERNAL,
  logLevel: 'warning',
} as const;

await rm(OUT, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [join(SRC, 'index.ts')],
  outfile: join(OUT, 'index.js'),
  plugins: [importMetaUrl],
});
await build({
  ...common,
  entryPoints: [join(SRC, 'compat', 'discordjs-voice', 'index.ts')],
  outfile: join(OUT, 'discordjs-voice.js'),
  plugins: [mainBundle, importMetaUrl],
});
await writeFile(join(OUT, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

// The same declarations, read as CommonJS-format types because dist/cjs is CommonJS: TypeScript
// (module node16/nodenext) rejects a CommonJS file's import of ESM-format types.
for (const entry of await readdir(DIST, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const from = join(entry.parentPath, entry.name);
  const rel = relative(DIST, from);
  if (rel.startsWith(`cjs${sep}`)) continue;
  await cp(from, join(OUT, rel));
}
