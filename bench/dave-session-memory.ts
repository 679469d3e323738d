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
import { DaveSession } from '../src/dave/mls/dave-session.js';
import type { DaveResult } from '../src/dave/mls/dave-session.js';
import { buildExternalAdd } from '../src/dave/mls/external-proposal.js';
import { snowflakeToBE64 } from '../src/dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf } from '../src/dave/mls/mls-sign.js';
import {
  decodeCommitWelcome,
  decodeProposalsPayload,
  encodeExternalSenderPackage,
  encodeProposalsPayload,
} from '../src/dave/opcodes.js';

const K = Number(process.argv[2] ?? 1000);
const ROLE = process.argv[3] ?? 'joiner';
const gatewayKey = generateP256SigningKey();
const externalSender = encodeExternalSenderPackage(p256PointOf(gatewayKey), Uint8Array.of(1, 0));
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);

function payloadOf(result: DaveResult, op: number): Uint8Array {
  if (result.error !== undefined) throw result.error;
  const out = result.send.find((s) => s.op === op);
  if (out === undefined || !('payload' in out)) throw new Error(`no op ${op}`);
  return out.payload;
}

async function pair(i: number): Promise<DaveSession> {
  const channel = (900000000000000000n + BigInt(i)).toString();
  const a = (500000000000000000n + BigInt(2 * i)).toString();
  const b = (500000000000000000n + BigInt(2 * i + 1)).toString();
  const committer = new DaveSession({ userId: a, channelId: channel });
  const joiner = new DaveSession({ userId: b, channelId: channel });
  for (const s of [committer, joiner]) {
    s.addRecognizedUsers([a, b]);
    await s.onExternalSender(externalSender);
  }
  await committer.init(1);
  const kp = payloadOf(await joiner.init(1), 26);
  const ctx = { groupId: snowflakeToBE64(channel), epoch: 0n, signingKey: gatewayKey };
  const proposals = decodeProposalsPayload(
    encodeProposalsPayload({ operation: 'append', messages: [buildExternalAdd(ctx, kp).message] }),
  );
  const cw = decodeCommitWelcome(payloadOf(await committer.onProposals(proposals), 28));
  await joiner.onProposals(proposals);
  const done = await committer.onAnnounceCommit({ transitionId: 1, commit: cw.commit });
  if (done.error) throw done.error;
  const joined = await joiner.onWelcome({ transitionId: 1, welcome: cw.welcome ?? new Uint8Array() });
  if (joined.error) throw joined.error;
  const kept = ROLE === 'committer' ? committer : joiner;
  await kept.exportBaseSecret(a);
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
