/**
 * The media worker's entry as one ES module: dist/media/engine-worker.js (tsc's output) and the
 * modules it imports, bundled by esbuild into dist/media/engine-worker.bundle.js, which
 * worker-engine.ts starts when it exists. Each worker loads its own copy of its modules, and one
 * module instead of 34 through the ESM loader leaves each worker about 2 MiB smaller (a worker
 * engine with one channel: 14.4 -> 12.5 MiB RSS). Run after `tsc -p tsconfig.build.json` (`npm run
 * build` does).
 *
 * The bundle sits next to the file it replaces, so `import.meta.url` (sodium.ts resolves the
 * optional sodium-native from it) resolves from the same directory.
 */
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bundles the worker entry `entry` (.js or .ts) into the single module `outfile`. */
export async function bundleWorker(entry: string, outfile: string): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Loaded at run time through createRequire when the user installed it: never bundled.
    external: ['sodium-native'],
    metafile: true,
    logLevel: 'warning',
  });
  return result.metafile;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const media = join(resolve(import.meta.dirname, '..'), 'dist', 'media');
  await bundleWorker(join(media, 'engine-worker.js'), join(media, 'engine-worker.bundle.js'));
}
