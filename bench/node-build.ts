/**
 * How the node bench runs its measured processes (bench/node-process.ts): from the package's
 * build, as `voxcord node` runs for a user. The process's own glue (node-process.ts, the djs
 * backend, the test adapter) is bundled by esbuild into one plain .mjs whose imports of `src/`
 * point at the same modules in `dist/`, and the bundle runs on plain `node` (no tsx: its loader
 * thread, transpiler caches and source maps are not the library's cost). Every variant runs the
 * same bundle with the same flags. VOXCORD_BENCH_SOURCE=src runs node-process.ts from the sources
 * through tsx instead (the old way, for A/B of the loader itself).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';

export interface SideLauncher {
  /** The script to fork. */
  script: string;
  /** Node flags every side gets (the profile flags are added after them). */
  execArgv: string[];
  /** How the library is loaded, for the report. */
  describe: string;
}

/** The newest .ts under `dir` (its mtime, ms), to tell a stale build. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** Throws a clear error when dist/ is missing or older than a source file. */
export function checkBuild(root: string): void {
  const built = path.join(root, 'dist', 'index.js');
  if (!existsSync(built))
    throw new Error('dist/index.js is missing: run `npm run build` first (npm run bench:node does)');
  const srcNewest = newestMtime(path.join(root, 'src'));
  if (srcNewest > statSync(built).mtimeMs)
    throw new Error('dist/ is older than src/: run `npm run build` first (npm run bench:node does)');
}

/** Rewrites every import that lands in src/ to the same module in dist/ (external). */
function distPlugin(root: string, distRoot: string): Plugin {
  const src = path.join(root, 'src') + path.sep;
  return {
    name: 'voxcord-dist',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = path.resolve(args.resolveDir, args.path);
        if (!target.startsWith(src)) return undefined;
        const rel = path.relative(src, target).replace(/\.ts$/, '.js');
        // An absolute URL: the bundle may be reached through a symlink (a worktree's node_modules).
        return { path: pathToFileURL(path.join(distRoot, 'dist', rel)).href, external: true };
      });
    },
  };
}

/**
 * `distRoot` (default `root`): the tree whose dist/ the side loads, for an A/B of two builds (the
 * glue is this tree's; another tree's build must export what the glue imports).
 */
export async function sideLauncher(root: string, here: string, distRoot = root): Promise<SideLauncher> {
  const entry = path.join(here, 'node-process.ts');
  if (process.env.VOXCORD_BENCH_SOURCE === 'src' && distRoot === root)
    return { script: entry, execArgv: ['--import', 'tsx'], describe: 'src/ through tsx' };
  checkBuild(distRoot);
  // In the tree's git-ignored .tmp/, so that its bare imports (ws, @discordjs/voice) resolve from
  // the tree's node_modules.
  const outDir = path.join(distRoot, '.tmp', 'bench');
  mkdirSync(outDir, { recursive: true });
  const script = path.join(outDir, 'node-process.mjs');
  await build({
    entryPoints: [entry],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    plugins: [distPlugin(root, distRoot)],
    logLevel: 'warning',
  });
  return {
    script,
    execArgv: [],
    describe: distRoot === root ? 'dist/ on plain node' : `${distRoot}/dist/ on plain node`,
  };
}
