/**
 * `npm run api:report`: writes the API reports of the package's entry points to api/ (see
 * scripts/api-surface.ts). Fails when a public signature uses a type that no entry exports.
 * `--check` writes nothing and fails when a report on disk is stale.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ENTRIES, ROOT, readApiSurface } from './api-surface.js';

const check = process.argv.includes('--check');
const surface = readApiSurface();
let failed = false;
if (surface.unexported.length > 0) {
  failed = true;
  console.error('Types used in public signatures but exported by no entry point:');
  for (const line of surface.unexported) console.error(`  ${line}`);
}
for (const [i, entry] of ENTRIES.entries()) {
  const path = join(ROOT, entry.report);
  const text = surface.reports[i]!;
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === text) continue;
  if (check) {
    failed = true;
    console.error(`${entry.report} is stale: run npm run api:report`);
  } else {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    console.log(`wrote ${entry.report}`);
  }
}
if (failed) process.exitCode = 1;
