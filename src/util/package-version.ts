/** voxcord's own version, from its package.json (for `--version`, logs and a node's /version). */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  try {
    // src/util and dist/util both sit two levels below package.json.
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
