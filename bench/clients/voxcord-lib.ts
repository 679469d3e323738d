/**
 * The voxcord build the bench measures: the compiled package (dist/, what users run; `npm run
 * bench` builds it first), so that the figures do not include tsx's transform of the sources.
 * VOXCORD_BENCH_SOURCE=src measures the TypeScript sources through tsx instead (no build needed).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type * as VoxcordModule from '../../src/index.js';

export type Voxcord = typeof VoxcordModule;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function loadVoxcord(): Promise<Voxcord> {
  if (process.env.VOXCORD_BENCH_SOURCE === 'src') return import('../../src/index.js');
  const built = path.join(root, 'dist', 'index.js');
  if (!existsSync(built))
    throw new Error('dist/index.js is missing: run `npm run build` first (npm run bench does)');
  return (await import(pathToFileURL(built).href)) as Voxcord;
}
