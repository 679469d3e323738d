/**
 * Micro-benchmark of the main-thread send path above the media engine: N transmit pumps, each
 * feeding a fake MediaChannel that a 20 ms fake clock drains one frame per tick (high-water 15,
 * low-water 5, like the engine's send queue), so only the pump, the connection's relay and the
 * player's hand-off run. Prints main-thread CPU µs per frame sent, per scenario:
 *   feed        the floor: frames enqueued on 'drain' by a plain loop (no pump), fake clock included
 *   sync        transmit() over a sync iterable of frames (session.playOpus(array))
 *   async       transmit() over an async generator (every frame awaits, as before the sync pull)
 *   readable    transmit() over an object-mode Readable (session.playOpus(stream))
 *   relay       a ConnectionPlayback over an object-mode Readable (connection.playOpus(stream))
 *   player      an AudioPlayer (one Opus passthrough track) through a ConnectionPlayback
 *   player-file the same with an Ogg Opus file (fileInput), as the voxcord node plays tracks
 *
 * Run: npx tsx bench/transmit-pump.ts [N] [src root, default ../src] [scenario,...]
 *      npx tsx bench/transmit-pump.ts ab <base src root> [rounds] [N,...] [head src root]
 *      (VOXCORD_PUMP_SCENARIOS=feed,sync,async: those scenarios only)
 * `ab` alternates child runs of this tree's src and the base tree's (e.g. `git archive <commit>
 * src | tar -x -C /tmp/base`, with node_modules linked there) and prints medians and ratios.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createOggOpusWriter } from '../src/receive/recorder.js';
import { fakeLink, FakeChannel } from './fake-channel.js';
import { median } from './stats.js';
import { encodeToneFrames } from './tone.js';

const HIGH_WATER = 15;
const LOW_WATER = 5;
const TICK_MS = 20;
const WARMUP_MS = 1_000;
const WINDOW_MS = 3_000;
const SCENARIOS = ['feed', 'sync', 'async', 'readable', 'relay', 'player', 'player-file'] as const;
type Scenario = (typeof SCENARIOS)[number];

const here = dirname(fileURLToPath(import.meta.url));

/** Fabricated Opus packets (TOC 0xFC: one 20 ms CELT frame), enough for passthrough. */
function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 50; i++) {
    const f = new Uint8Array(120).fill(i);
    f[0] = 0xfc;
    out.push(f);
  }
  return out;
}

function* endless(list: Uint8Array[]): Generator<Uint8Array> {
  for (let i = 0; ; i++) yield list[i % list.length]!;
}

async function* endlessAsync(list: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (let i = 0; ; i++) yield list[i % list.length]!;
}

/** A 60 s Ogg Opus tone in a temporary file (longer than a scenario runs). */
async function oggFile(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'voxcord-pump-'));
  const file = join(dir, 'tone.ogg');
  const writer = createOggOpusWriter(file);
  for (const f of await encodeToneFrames(60)) writer.write(f);
  await writer.close();
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return file;
}

interface Stoppable {
  stop(): void;
}

async function runScenario(src: string, scenario: Scenario, n: number): Promise<number> {
  const load = (path: string): Promise<Record<string, unknown>> =>
    import(pathToFileURL(resolve(src, path)).href) as Promise<Record<string, unknown>>;
  const { transmit } = (await load('voice/transmit.ts')) as {
    transmit: (link: unknown, source: unknown) => Stoppable;
  };
  const { ConnectionPlayback } = (await load('gateway/playback.ts')) as {
    ConnectionPlayback: new (source: unknown) => Stoppable & { attach(session: unknown): void };
  };
  const { AudioPlayer, opusFramesInput, fileInput } = (await load('player/index.ts')) as {
    AudioPlayer: new () => Stoppable & {
      play(input: unknown): unknown;
      attach(target: unknown): void;
      destroy(): void;
    };
    opusFramesInput: (source: () => Iterable<Uint8Array>) => unknown;
    fileInput: (path: string, options: { probe: 'none' }) => unknown;
  };
  const list = frames();
  const file = scenario === 'player-file' ? await oggFile() : undefined;
  const channels: FakeChannel[] = [];
  const stops: (() => void)[] = [];
  for (let i = 0; i < n; i++) {
    const channel = new FakeChannel(HIGH_WATER, LOW_WATER);
    channels.push(channel);
    const link = fakeLink(channel);
    const session = { playOpus: (source: unknown) => transmit(link, source) };
    if (scenario === 'feed') {
      const feed = (): void => {
        while (channel.enqueue()) {
          // fill to the high-water mark
        }
      };
      channel.on('drain', feed);
      feed();
    } else if (scenario === 'sync') {
      const t = transmit(link, endless(list));
      stops.push(() => t.stop());
    } else if (scenario === 'async') {
      const t = transmit(link, endlessAsync(list));
      stops.push(() => t.stop());
    } else if (scenario === 'readable') {
      const t = transmit(link, Readable.from(endless(list)));
      stops.push(() => t.stop());
    } else if (scenario === 'relay') {
      const p = new ConnectionPlayback(Readable.from(endless(list)));
      p.attach(session);
      stops.push(() => p.stop());
    } else {
      const player = new AudioPlayer();
      player.play(
        file === undefined ? opusFramesInput(() => endless(list)) : fileInput(file, { probe: 'none' }),
      );
      player.attach({
        playOpus: (source: unknown) => {
          const p = new ConnectionPlayback(source);
          p.attach(session);
          return p;
        },
      });
      stops.push(() => player.destroy());
    }
  }
  const clock = setInterval(() => {
    for (const c of channels) c.tick();
  }, TICK_MS);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const sent = (): number => channels.reduce((a, c) => a + c.sent, 0);
  await sleep(WARMUP_MS);
  const s0 = sent();
  const cpu0 = process.cpuUsage();
  await sleep(WINDOW_MS);
  const cpu = process.cpuUsage(cpu0);
  const count = sent() - s0;
  clearInterval(clock);
  for (const stop of stops) stop();
  await sleep(100);
  return (cpu.user + cpu.system) / count;
}

async function child(n: number, src: string, scenarios: readonly Scenario[]): Promise<void> {
  const out: Record<string, number> = {};
  for (const s of scenarios) out[s] = await runScenario(src, s, n);
  console.log(JSON.stringify(out));
  process.exit(0); // sources left open by stop() must not keep the process
}

function ab(base: string, rounds: number, ns: number[], head: string, only?: string): void {
  const run = (src: string, n: number): Record<string, number> => {
    const stdout = execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), String(n), src, ...(only ? [only] : [])],
      { encoding: 'utf8' },
    );
    return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
  };
  for (const n of ns) {
    const results: Record<'base' | 'head', Record<string, number[]>> = { base: {}, head: {} };
    for (let r = 0; r < rounds; r++) {
      // Alternate which tree goes first, so a load trend does not favour one.
      const order: ('base' | 'head')[] = r % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
      for (const which of order) {
        const res = run(which === 'base' ? base : head, n);
        for (const [k, v] of Object.entries(res)) (results[which][k] ??= []).push(v);
        process.stderr.write(`N=${n} round ${r + 1} ${which}: ${JSON.stringify(res)}\n`);
      }
    }
    console.log(`\nN = ${n}, ${rounds} alternating rounds, main-thread CPU µs per frame sent (median)\n`);
    console.log('| scenario | base | head | head/base | head - feed floor (base, head) |');
    console.log('|---|---|---|---|---|');
    const floor = (w: 'base' | 'head'): number => median(results[w]['feed'] ?? [0]);
    for (const s of SCENARIOS) {
      const b = median(results.base[s] ?? [NaN]);
      const h = median(results.head[s] ?? [NaN]);
      const extra =
        s === 'feed' ? '' : `${(b - floor('base')).toFixed(2)}, ${(h - floor('head')).toFixed(2)}`;
      console.log(`| ${s} | ${b.toFixed(2)} | ${h.toFixed(2)} | ${(h / b).toFixed(2)}x | ${extra} |`);
    }
  }
}

const args = process.argv.slice(2);
if (args[0] === 'ab') {
  const base = args[1];
  if (base === undefined) throw new Error('usage: transmit-pump.ts ab <base src root> [rounds] [N,...]');
  const head = resolve(args[4] ?? resolve(here, '../src'));
  // VOXCORD_PUMP_SCENARIOS=feed,sync,async: only those scenarios (shorter rounds).
  const only = process.env.VOXCORD_PUMP_SCENARIOS;
  ab(resolve(base), Number(args[2] ?? 5), (args[3] ?? '100,1000').split(',').map(Number), head, only);
} else {
  const list = (args[2]?.split(',') ?? SCENARIOS) as Scenario[];
  void child(Number(args[0] ?? 100), resolve(args[1] ?? resolve(here, '../src')), list);
}
