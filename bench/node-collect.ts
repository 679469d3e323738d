/**
 * Diagnostics for the node bench's own measurement (bench/node-process.ts `counters`): what asking
 * the media worker for every channel's stats costs its clock. P worker channels (DAVE on) are fed
 * on 'drain' and send to a UDP sink; in alternating windows the main thread asks every channel's
 * stats at once `collections` times ('burst', as the node bench does at each window edge) or not at
 * all ('none'). Printed per window: frames sent > 20 ms late (the node bench's stall measure), the
 * engine clock's late ticks (bucket deliveries > 5 ms late) and skipped cycles, and the wall time of
 * each collection. (Asking 50 at a time instead was tried and measured no better on a loaded machine.)
 *
 * Run: npx tsx bench/node-collect.ts [P=500] [rounds=3] [collections=4]
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { DaveSendKey } from '../src/dave/send-key.js';
import { createMediaEngine } from '../src/media/index.js';
import type { MediaChannel, MediaChannelStats } from '../src/media/index.js';
import type { LatenessData } from '../src/media/lateness-histogram.js';
import { EncryptionMode } from '../src/protocol/constants.js';
import { countAtLeast, histogramDeltas } from './stats.js';
import { encodeToneFrames } from './tone.js';

const WINDOW_MS = 4_000;
type Mode = 'none' | 'burst';

const allStats = (channels: MediaChannel[]): Promise<(MediaChannelStats | undefined)[]> =>
  Promise.all(channels.map((c) => c.stats().catch(() => undefined)));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
};

async function collect(channels: MediaChannel[], mode: Mode): Promise<number> {
  const t0 = performance.now();
  if (mode === 'burst') await allStats(channels);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const p = Number(process.argv[2] ?? 500);
  const rounds = Number(process.argv[3] ?? 3);
  const collections = Number(process.argv[4] ?? 4);
  const sink = fork(fileURLToPath(import.meta.url), ['sink'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => sink.once('message', (m) => resolve(Number(m))));
  const frames = await encodeToneFrames(3);
  const engine = createMediaEngine({ kind: 'worker' });
  const channels: MediaChannel[] = [];
  for (let first = 0; first < p; first += 50) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(50, p - first) }, (_, j) =>
        engine.openChannel({ ssrc: first + j + 1, serverHost: '127.0.0.1', serverPort: port }),
      ),
    );
    opened.forEach((ch, j) => {
      const i = first + j;
      ch.setTransport(EncryptionMode.AesGcm, new Uint8Array(32).fill(7));
      ch.setFrameProtection?.({ mode: 'encrypt', key: DaveSendKey.encrypt(new Uint8Array(16).fill(i)) });
      let k = i;
      const feed = (): void => {
        while (ch.enqueue(frames[k++ % frames.length]!)) {
          // fill to the high-water mark
        }
      };
      ch.on('drain', feed);
      feed();
      channels.push(ch);
    });
  }
  await sleep(2_000);
  // The window's edges: clock counters (one request) and every channel's histogram (an edge's own
  // cost is the same in both modes).
  const clock = async (): Promise<{ lateTicks: number; skippedCycles: number; lateness: LatenessData[] }> => {
    const s = await engine.stats?.();
    const all = await allStats(channels);
    return {
      lateTicks: s?.clock.lateTicks ?? 0,
      skippedCycles: s?.clock.skippedCycles ?? 0,
      lateness: all.flatMap((c) => (c?.sendLateness ? [c.sendLateness] : [])),
    };
  };
  const results: Record<Mode, { late: number[]; late20: number[]; skipped: number[]; ms: number[] }> = {
    none: { late: [], late20: [], skipped: [], ms: [] },
    burst: { late: [], late20: [], skipped: [], ms: [] },
  };
  for (let r = 0; r < rounds; r++)
    for (const mode of ['none', 'burst'] as const) {
      const c0 = await clock();
      const t0 = performance.now();
      for (let i = 0; i < collections; i++) {
        await sleep(WINDOW_MS / (collections + 1));
        results[mode].ms.push(await collect(channels, mode));
      }
      await sleep(Math.max(0, WINDOW_MS - (performance.now() - t0)));
      const c1 = await clock();
      results[mode].late.push(c1.lateTicks - c0.lateTicks);
      const late20 = countAtLeast(histogramDeltas(c0.lateness, c1.lateness), 20);
      results[mode].late20.push(late20);
      results[mode].skipped.push(c1.skippedCycles - c0.skippedCycles);
      console.log(
        `round ${r + 1} ${mode}: frames > 20 ms late ${late20}, late ticks ${c1.lateTicks - c0.lateTicks}, skipped cycles ` +
          `${c1.skippedCycles - c0.skippedCycles}, collection ms ${results[mode].ms
            .slice(-collections)
            .map((x) => x.toFixed(0))
            .join('/')}`,
      );
    }
  for (const mode of ['none', 'burst'] as const) {
    const x = results[mode];
    console.log(
      `P = ${p}, ${mode}: frames > 20 ms late median ${median(x.late20)} (${Math.min(...x.late20)}-${Math.max(...x.late20)}), late ticks median ${median(x.late)} (${Math.min(...x.late)}-${Math.max(...x.late)}), ` +
        `skipped cycles median ${median(x.skipped)}, collection median ${median(x.ms).toFixed(1)} ms`,
    );
  }
  await engine.close();
  sink.send('stop');
}

if (process.argv[2] === 'sink') {
  const socket = createSocket('udp4');
  socket.on('message', () => undefined);
  socket.bind(0, '127.0.0.1', () => process.send?.(socket.address().port));
  process.on('message', () => process.exit(0));
} else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
