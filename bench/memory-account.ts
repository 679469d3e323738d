/**
 * Linux: where a process's resident memory lies, by kind of mapping, from /proc/self/smaps (KiB of
 * Rss). Kinds (heuristics on glibc and V8's layout; each mapping in exactly one kind, so they add
 * up to the process's RSS):
 * - `malloc main`: the brk heap, the main thread's malloc arena;
 * - `malloc arenas`: the other threads' arenas: glibc reserves each heap of an arena as 64 MiB
 *   aligned to 64 MiB (read-write where touched, the rest PROT_NONE); `arenas` counts them;
 * - `thread stacks`: a read-write mapping right after a one-page guard (pthread stacks), and
 *   [stack] (the main thread's);
 * - `anon code`: executable anonymous mappings (V8's code space and its JIT code);
 * - `anon other`: every other anonymous mapping: V8's heap pages, mmap'd malloc blocks (128 KiB and
 *   more), WebAssembly memories;
 * - `files`: file-backed mappings (node's binary, shared libraries, ICU data), and the kernel's
 *   ([vdso], [vvar]).
 */
import { readFileSync } from 'node:fs';

export interface RssAccount {
  'malloc main': number;
  'malloc arenas': number;
  'thread stacks': number;
  'anon code': number;
  'anon other': number;
  files: number;
  /** Arena heaps (64 MiB reservations) with touched pages. */
  arenas: number;
  /** Sum of every kind: the process's RSS, KiB. */
  total: number;
}

export const RSS_KINDS = [
  'malloc main',
  'malloc arenas',
  'thread stacks',
  'anon code',
  'anon other',
  'files',
] as const;

const ARENA_BYTES = 64 * 1024 * 1024;
const PAGE = 4096;

interface Mapping {
  start: number;
  end: number;
  perms: string;
  name: string;
  rssKiB: number;
}

function mappings(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      out.push({
        start: parseInt(head[1]!, 16),
        end: parseInt(head[2]!, 16),
        perms: head[3]!,
        name: head[4] ?? '',
        rssKiB: 0,
      });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && out.length > 0) out[out.length - 1]!.rssKiB = Number(rss[1]);
  }
  return out;
}

/** This process's RSS by kind of mapping (KiB), or undefined where /proc/self/smaps is missing. */
export function rssAccount(): RssAccount | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined;
  }
  const maps = mappings(text);
  const account: RssAccount = {
    'malloc main': 0,
    'malloc arenas': 0,
    'thread stacks': 0,
    'anon code': 0,
    'anon other': 0,
    files: 0,
    arenas: 0,
    total: 0,
  };
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    const prev = maps[i - 1];
    const next = maps[i + 1];
    account.total += m.rssKiB;
    if (m.name === '[heap]') account['malloc main'] += m.rssKiB;
    else if (m.name === '[stack]') account['thread stacks'] += m.rssKiB;
    else if (m.name !== '') account.files += m.rssKiB;
    else if (
      m.start % ARENA_BYTES === 0 &&
      m.perms.startsWith('rw') &&
      (m.end - m.start === ARENA_BYTES ||
        (next !== undefined &&
          next.start === m.end &&
          next.perms.startsWith('---') &&
          next.end - m.start === ARENA_BYTES))
    ) {
      account['malloc arenas'] += m.rssKiB;
      if (m.rssKiB > 0) account.arenas++;
    } else if (
      m.perms.startsWith('rw') &&
      prev !== undefined &&
      prev.end === m.start &&
      prev.perms.startsWith('---') &&
      prev.end - prev.start === PAGE &&
      prev.name === ''
    ) {
      account['thread stacks'] += m.rssKiB;
    } else if (m.perms[2] === 'x') account['anon code'] += m.rssKiB;
    else account['anon other'] += m.rssKiB;
  }
  return account;
}
