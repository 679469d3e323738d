/**
 * Native + JS memory kept per DAVE session (issue 16): K two-member groups made in process (the
 * partner commits the Add, the kept session joins from the Welcome, as a bot joining a channel
 * with one user), partners dropped, then RSS / malloc heap / V8 figures per kept session.
 * Run: node --expose-gc --import tsx bench/dave-session-memory.ts [K] [role: joiner|committer]
 * Env GC_EVERY=n: a full GC every n pairs, so the figures show live memory only; without it they
 * include the native garbage a burst of handshakes leaves for V8 to find (malloc high water).
 * Env ROUNDS=n: n more rounds of K after dropping the first (does the malloc heap keep growing?).
 */
import { readFileSync } from 'node:fs';
import type { DaveSession } from '../src/dave/mls/dave-session.js';
import { gatewayKey, twoMemberGroup } from './dave-pair.js';

const K = Number(process.argv[2] ?? 1000);
const ROLE = process.argv[3] ?? 'joiner';
const gateway = gatewayKey();
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);

async function pair(i: number): Promise<DaveSession> {
  const { committer, joiner } = await twoMemberGroup(i, gateway);
  const kept = ROLE === 'committer' ? committer : joiner;
  await kept.exportBaseSecret(committer.userId);
  return kept;
}

function status(): { rss: number; heap: number; anon: number } {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  let heap = 0;
  let anon = 0;
  let current = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = head[1] ?? '';
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) {
      if (current === '[heap]') heap += Number(m[1]);
      else if (current === '') anon += Number(m[1]);
    }
  }
  return { rss, heap, anon };
}

function snapshot(): Record<string, number> {
  gc();
  gc();
  const m = process.memoryUsage();
  const s = status();
  return {
    rss: s.rss,
    mallocHeap: s.heap,
    anon: s.anon,
    heapUsed: m.heapUsed / 1024,
    external: m.external / 1024,
    arrayBuffers: m.arrayBuffers / 1024,
  };
}

async function main(): Promise<void> {
  await pair(K + 1); // warm-up: JIT, OpenSSL tables, key caches
  await pair(K + 2);
  const before = snapshot();
  const kept: DaveSession[] = [];
  for (let i = 0; i < K; i++) {
    kept.push(await pair(i));
    if (process.env.GC_EVERY !== undefined && i % Number(process.env.GC_EVERY) === 0) gc();
  }
  const after = snapshot();
  const line = Object.keys(before)
    .map((k) => `${k} ${(((after[k] ?? 0) - (before[k] ?? 0)) / K).toFixed(2)}`)
    .join('  ');
  console.log(`KiB per kept ${ROLE} session (K = ${K}): ${line}`);
  kept.length = 0;
  if (process.env.ROUNDS !== undefined) {
    for (let r = 0; r < Number(process.env.ROUNDS); r++) {
      for (let i = 0; i < K; i++) kept.push(await pair(i));
      const s = snapshot();
      console.log(
        `round ${r + 2} kept: ${Object.keys(before)
          .map((k) => `${k} ${(((s[k] ?? 0) - (before[k] ?? 0)) / K).toFixed(2)}`)
          .join('  ')}`,
      );
      kept.length = 0;
    }
  }
  const dropped = snapshot();
  console.log(
    `after dropping them, KiB per session still held: ${Object.keys(before)
      .map((k) => `${k} ${(((dropped[k] ?? 0) - (before[k] ?? 0)) / K).toFixed(2)}`)
      .join('  ')}`,
  );
}

await main();
