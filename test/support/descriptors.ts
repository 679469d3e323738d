import { readdirSync, readlinkSync, realpathSync } from 'node:fs';

/**
 * How many of this process's descriptors are open on `file` (Linux: /proc/self/fd). Counts only
 * that file's, so descriptors other work opens or closes meanwhile do not move it.
 */
export function descriptorsOpenOn(file: string): number {
  const target = realpathSync(file);
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === target;
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}
