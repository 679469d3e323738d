/**
 * How a file feed reads (file-feed.ts, pure of sockets): on a local file system the reads after
 * the first run on the worker's thread and queue 200 ms at a time, the rest of a page read again
 * when due; elsewhere, or after a slow read, whole pages go through the threadpool. Either way the
 * frames that reach the queue are the file's, each once, in order.
 */
import { describe, it, expect } from 'vitest';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  read,
  readSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OggFileFeed } from '../../src/media/file-feed.js';
import type { FeedFile, FeedFiles, FeedTarget } from '../../src/media/file-feed.js';
import { readsOnThisThread } from '../../src/media/local-file.js';
import type { FileFeedEnd, FileFeedOptions } from '../../src/media/index.js';
import { OggOpusPager } from '../../src/receive/recorder.js';
import { concatBytes } from '../../src/util/bytes.js';
import { oggStreamPages } from '../player/containers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'voxcord-feed-reads-'));

/** `count` distinct frames of `size` bytes (frame i starts with i's two bytes). */
function frames(count: number, size = 120): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    Uint8Array.from({ length: size }, (_, j) => (j === 0 ? i >> 8 : j === 1 ? i & 0xff : (i + j) & 0xff)),
  );
}

function oggFile(name: string, packets: Uint8Array[], perPage = 50): string {
  const pager = new OggOpusPager({ packetsPerPage: perPage, serial: 5 });
  const pages = [...pager.headers()];
  for (const p of packets) pages.push(...pager.packet(p));
  pages.push(pager.end());
  const file = path.join(dir, name);
  writeFileSync(file, concatBytes(...pages));
  return file;
}

/** A send queue that records what it is given; the test takes frames as a channel's ticks would. */
class Queue implements FeedTarget {
  readonly frames: Uint8Array[] = [];
  readonly sent: number[][] = [];
  peak = 0;
  burst = false;
  enqueue(frame: Uint8Array): boolean {
    this.frames.push(new Uint8Array(frame)); // a copy (Buffer#slice would be a view)
    this.peak = Math.max(this.peak, this.frames.length);
    return true;
  }
  get queued(): number {
    return this.frames.length;
  }
  endBurst(): void {
    this.burst = true;
  }
  clearQueue(): void {
    this.frames.length = 0;
  }
}

/**
 * The real file access, counting the reads made on this thread and through the threadpool; `slow`
 * makes the reads here take 5 ms. `local`: the file is handed over as readable here.
 */
function files(local: boolean, slow = false) {
  let clock = 0;
  const counts = { here: 0, pooled: 0 };
  const io: FeedFiles = {
    readHere: (fd, buffer, length, position) => {
      counts.here++;
      if (slow) clock += 5;
      return readSync(fd, buffer, 0, length, position);
    },
    readPooled: (fd, buffer, length, position) => {
      counts.pooled++;
      return new Promise((resolve, reject) => {
        read(fd, buffer, 0, length, position, (err, n) => (err ? reject(err) : resolve(n)));
      });
    },
    now: () => clock,
  };
  return { io, counts, local };
}

/** Plays `file` to its end through `feed`'s ticks; returns the end and what was sent. */
async function play(
  file: string,
  { io, local }: { io: FeedFiles; local: boolean },
  options: FileFeedOptions = {},
  onTick?: (sent: number) => void,
) {
  const q = new Queue();
  let end: FileFeedEnd | undefined;
  const fd = openSync(file, 'r');
  const feed = new OggFileFeed(
    q,
    Promise.resolve({ fd, here: local }),
    options,
    (e) => (end = e),
    () => undefined,
    io,
  );
  try {
    feed.pump();
    // Bounded by time, not by ticks: a read through the threadpool can take longer than
    // thousands of these ticks on a loaded machine (a CI run ended 10 000 of them in 63 ms).
    const deadline = performance.now() + 10_000;
    while (end === undefined && performance.now() < deadline) {
      onTick?.(q.sent.length);
      const frame = q.frames.shift();
      if (frame !== undefined) q.sent.push([...frame]);
      feed.pump();
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    closeSync(fd);
  }
  return { end, q };
}

describe('file feed reads', () => {
  it('on a local disk: every read runs here and the queue holds at most 15 frames', async () => {
    const audio = frames(260); // 6 pages of 50
    const f = files(true);
    const { end, q } = await play(oggFile('local.opus', audio), f);
    const { counts } = f;
    expect(end).toEqual({ reason: 'finished', frames: 260 });
    expect(q.sent).toEqual(audio.map((a) => [...a]));
    expect(q.peak).toBeLessThanOrEqual(15);
    expect(counts.here).toBeGreaterThanOrEqual(20); // ~26 refills of 10 frames, page reads among them
    expect(counts.pooled).toBe(0);
    expect(q.burst).toBe(true);
  });

  it('elsewhere: whole pages through the threadpool, none here', async () => {
    const audio = frames(260);
    const f = files(false);
    const { end, q } = await play(oggFile('remote.opus', audio), f);
    const { counts } = f;
    expect(end).toEqual({ reason: 'finished', frames: 260 });
    expect(q.sent).toEqual(audio.map((a) => [...a]));
    expect(counts.here).toBe(0);
    expect(counts.pooled).toBeGreaterThanOrEqual(2); // ~32 KiB of file in 16 KiB reads
    expect(q.peak).toBeGreaterThan(50); // a page on top of the 200 ms margin
  });

  it('a slow read here sends the rest of the file through the threadpool', async () => {
    const audio = frames(260);
    const f = files(true, true);
    const { end, q } = await play(oggFile('slow.opus', audio), f);
    const { counts } = f;
    expect(end).toEqual({ reason: 'finished', frames: 260 });
    expect(q.sent).toEqual(audio.map((a) => [...a]));
    expect(counts.here).toBe(1);
    expect(counts.pooled).toBeGreaterThanOrEqual(2);
  });

  it('packets continued across pages, start and end positions: each frame once, in order', async () => {
    const audio = frames(300, 200);
    const file = path.join(dir, 'continued.opus');
    // 8-segment pages: a 600-byte packet (3 segments) now and then starts on one page and ends on the next.
    const mixed = audio.map((a, i) => (i % 7 === 3 ? concatBytes(a, a, a) : a));
    writeFileSync(file, concatBytes(...oggStreamPages(mixed, { maxSegments: 8, eos: true })));
    for (const [local, options] of [
      [true, {}],
      [false, {}],
      [true, { skipFrames: 17, endFrame: 250 }],
    ] as const) {
      const { end, q } = await play(file, files(local), options);
      const want = mixed.slice(options.skipFrames ?? 0, options.endFrame ?? mixed.length).map((a) => [...a]);
      expect(end).toEqual({ reason: 'finished', frames: want.length });
      expect(q.sent).toEqual(want);
    }
  });

  it('a long skip to a start position reads on, a read a turn, and starts at the frame asked', async () => {
    const audio = frames(30_000, 20); // 600 pages: about forty 16 KiB reads to skip
    const f = files(true);
    const { counts } = f;
    const perTurn: number[] = [];
    let seen = 0;
    const { end, q } = await play(oggFile('long.opus', audio), f, { skipFrames: 29_990 }, () => {
      perTurn.push(counts.here - seen);
      seen = counts.here;
    });
    expect(end).toEqual({ reason: 'finished', frames: 10 });
    expect(q.sent).toEqual(audio.slice(29_990).map((a) => [...a]));
    // One read a turn of the event loop, however often the channel pumps: not the whole skip at
    // once, nor a new chain of reads per pump.
    expect(counts.here).toBeGreaterThanOrEqual(30);
    expect(Math.max(...perTurn)).toBe(1);
  });

  it('a file cut while its frames wait to be read again fails at the frames sent', async () => {
    const audio = frames(260);
    const file = oggFile('cut-later.opus', audio);
    let cut = false;
    const { end, q } = await play(file, files(true), {}, (sent) => {
      // Once the first read's frames play, the rest of its page waits in the file: cut into it.
      if (sent === 3 && !cut) {
        truncateSync(file, 2000);
        cut = true;
      }
    });
    expect(cut).toBe(true);
    expect(end?.reason).toBe('failed');
    expect(end?.frames).toBe(q.sent.length);
    expect(q.sent).toEqual(audio.slice(0, q.sent.length).map((a) => [...a]));
    expect(String((end as { error?: Error }).error?.message)).toMatch(/cut while it played/);
  });

  it('a feed stopped while its file opens never reads it; one whose file could not be opened fails', async () => {
    const file = oggFile('stopped.opus', frames(60));
    const f = files(true);
    let handOver: (file: FeedFile | undefined) => void = () => undefined;
    let end: FileFeedEnd | undefined;
    const feed = new OggFileFeed(
      new Queue(),
      new Promise<FeedFile | undefined>((resolve) => (handOver = resolve)),
      {},
      (e) => (end = e),
      () => undefined,
      f.io,
    );
    feed.pump(); // waits for its file
    expect(feed.stop()).toBe(0);
    const fd = openSync(file, 'r');
    handOver({ fd, here: true });
    await new Promise((r) => setImmediate(r));
    closeSync(fd);
    expect(f.counts).toEqual({ here: 0, pooled: 0 });
    expect(end).toEqual({ reason: 'stopped', frames: 0 });

    let failed: FileFeedEnd | undefined;
    const q = new Queue();
    const unopened = new OggFileFeed(
      q,
      Promise.resolve(undefined),
      {},
      (e) => (failed = e),
      () => undefined,
      f.io,
    );
    unopened.pump();
    await new Promise((r) => setImmediate(r));
    expect(failed?.reason).toBe('failed');
    expect(failed?.frames).toBe(0);
    expect(String((failed as { error?: Error }).error?.message)).toMatch(/cannot be opened/);
  });

  it('knows a memory file system, and refuses procfs and what it cannot stat', async () => {
    expect(await readsOnThisThread(path.join(dir, 'missing', 'file'))).toBe(false);
    // /proc is procfs: not a disk, not known.
    expect(await readsOnThisThread('/proc/self/status')).toBe(false);
    // /dev/shm is tmpfs on Linux (also in containers): memory, known.
    if (process.platform === 'linux' && existsSync('/dev/shm'))
      expect(await readsOnThisThread('/dev/shm')).toBe(true);
  });
});
