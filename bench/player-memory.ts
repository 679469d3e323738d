/**
 * Memory of the player pipeline alone, as the voxcord node plays a track: N AudioPlayers, each
 * playing an Ogg Opus file (fileInput, passthrough) into a fake MediaChannel that a 20 ms clock
 * drains (high-water 25, low-water 15, like the worker engine's queue), through the connection's
 * relay and transmit pump. No sockets, no media worker, no DAVE: only what the player holds per
 * track and what it allocates per second. Prints KiB per player: RSS and the main thread's heap,
 * external and ArrayBuffer bytes at the end of the window (as the node bench samples them), the
 * same after two full GCs (live), and the young generation's size.
 *
 * Run: node --expose-gc --import tsx bench/player-memory.ts [N] [src root, default ../src]
 *      npx tsx bench/player-memory.ts ab <base src root> [rounds] [N] [head src root]
 * `ab` alternates child runs of the two trees and prints medians.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import { createOggOpusWriter } from '../src/receive/recorder.js';
import { fakeLink, FakeChannel } from './fake-channel.js';
import { median } from './stats.js';
import { encodeToneFrames } from './tone.js';

const HIGH_WATER = 25;
const LOW_WATER = 15;
const TICK_MS = 20;
const WARMUP_MS = 2_000;
const WINDOW_MS = 6_000;
const here = dirname(fileURLToPath(import.meta.url));

type Sample = Record<string, number>;

function sample(): Sample {
  const m = process.memoryUsage();
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return {
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    newSpace: young?.space_size ?? 0,
  };
}

async function child(n: number, src: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const load = (path: string): Promise<Record<string, unknown>> =>
    import(pathToFileURL(resolve(src, path)).href) as Promise<Record<string, unknown>>;
  const { ConnectionPlayback } = (await load('gateway/playback.ts')) as {
    ConnectionPlayback: new (source: unknown) => { attach(session: unknown): void; stop(): void };
  };
  const { transmit } = (await load('voice/transmit.ts')) as {
    transmit: (link: unknown, source: unknown) => unknown;
  };
  const { AudioPlayer, fileInput } = (await load('player/index.ts')) as {
    AudioPlayer: new () => { play(input: unknown): unknown; attach(target: unknown): void; destroy(): void };
    fileInput: (path: string, options: { probe: 'none' }) => unknown;
  };
  const dir = mkdtempSync(join(tmpdir(), 'voxcord-player-memory-'));
  const file = join(dir, 'tone.ogg');
  const writer = createOggOpusWriter(file);
  for (const f of await encodeToneFrames(120)) writer.write(f);
  await writer.close();
  gc();
  gc();
  const before = sample();
  const channels: FakeChannel[] = [];
  const players: { destroy(): void }[] = [];
  for (let i = 0; i < n; i++) {
    const channel = new FakeChannel(HIGH_WATER, LOW_WATER);
    channels.push(channel);
    const link = fakeLink(channel);
    const session = { playOpus: (source: unknown) => transmit(link, source) };
    const player = new AudioPlayer();
    player.play(fileInput(file, { probe: 'none' }));
    player.attach({
      playOpus: (source: unknown) => {
        const p = new ConnectionPlayback(source);
        p.attach(session);
        return p;
      },
    });
    players.push(player);
  }
  const clock = setInterval(() => {
    for (const c of channels) c.tick();
  }, TICK_MS);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await sleep(WARMUP_MS + WINDOW_MS);
  const sent = channels.reduce((a, c) => a + c.sent, 0);
  const end = sample();
  gc();
  gc();
  const live = sample();
  clearInterval(clock);
  for (const p of players) p.destroy();
  rmSync(dir, { recursive: true, force: true });
  const per = (a: Sample, key: string): number => ((a[key] ?? 0) - (before[key] ?? 0)) / n / 1024;
  const out: Sample = { delivered: sent / (n * ((WARMUP_MS + WINDOW_MS) / TICK_MS)) };
  for (const key of Object.keys(before)) out[key] = per(end, key);
  for (const key of ['heapUsed', 'arrayBuffers']) out[`live ${key}`] = per(live, key);
  console.log(JSON.stringify(out));
  process.exit(0);
}

function ab(base: string, rounds: number, n: number, head: string): void {
  const run = (src: string): Sample => {
    const stdout = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), String(n), src],
      { encoding: 'utf8' },
    );
    return JSON.parse(stdout.trim().split('\n').pop()!) as Sample;
  };
  const results: Record<'base' | 'head', Record<string, number[]>> = { base: {}, head: {} };
  for (let r = 0; r < rounds; r++) {
    const order: ('base' | 'head')[] = r % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
    for (const which of order) {
      const res = run(which === 'base' ? base : head);
      for (const [k, v] of Object.entries(res)) (results[which][k] ??= []).push(v);
      process.stderr.write(`round ${r + 1} ${which}: ${JSON.stringify(res)}\n`);
    }
  }
  console.log(`\nN = ${n}, ${rounds} alternating rounds, KiB per player (median; min-max)\n`);
  console.log('| measure | base | head |');
  console.log('|---|---|---|');
  const cell = (v: number[]): string =>
    `${median(v).toFixed(1)} (${Math.min(...v).toFixed(1)}-${Math.max(...v).toFixed(1)})`;
  for (const k of Object.keys(results.base))
    console.log(`| ${k} | ${cell(results.base[k] ?? [])} | ${cell(results.head[k] ?? [])} |`);
}

const args = process.argv.slice(2);
if (args[0] === 'ab') {
  const base = args[1];
  if (base === undefined) throw new Error('usage: player-memory.ts ab <base src root> [rounds] [N]');
  const head = resolve(args[4] ?? resolve(here, '../src'));
  ab(resolve(base), Number(args[2] ?? 4), Number(args[3] ?? 500), head);
} else {
  void child(Number(args[0] ?? 500), resolve(args[1] ?? resolve(here, '../src')));
}
