/**
 * Facts about packages installed next to voxcord, read without importing their ESM entry: where
 * `require` finds them, their version, voxcord's own version. For the dependency report and the CLI.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A CommonJS require rooted in voxcord's own folder (finds what voxcord's imports would). */
export const packageRequire = createRequire(import.meta.url);

function readManifest(file: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}

/**
 * The version of package `name` as installed, or undefined when it is not. Walks up from its
 * resolved entry to its package.json (many packages do not export `./package.json`).
 */
export function installedPackageVersion(name: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(packageRequire.resolve(name));
  } catch {
    return undefined;
  }
  for (;;) {
    const manifest = readManifest(join(dir, 'package.json'));
    if (manifest?.name === name) return typeof manifest.version === 'string' ? manifest.version : undefined;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** voxcord's version ('unknown' if its package.json cannot be read). */
export function voxcordVersion(): string {
  // src/util and dist/util both sit two levels below package.json.
  const version = readManifest(fileURLToPath(new URL('../../package.json', import.meta.url)))?.version;
  return typeof version === 'string' ? version : 'unknown';
}
