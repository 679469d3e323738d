/**
 * A local Ogg Opus file played by the media worker itself (MediaChannel.feedOggOpusFile): the
 * frames on the wire, the end and its count, and the count at a stop or close matching exactly
 * what was sent, so the caller can play on from it.
 */
import { describe, it, expect } from 'vitest';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createMediaEngine } from '../../src/media/index.js';
import type { FileFeedEnd, FileFeedOptions, MediaChannel } from '../../src/media/index.js';
import { openRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { OggOpusPager } from '../../src/receive/recorder.js';
import { concatBytes } from '../../src/util/bytes.js';
import { Responder, waitFor } from './udp-responder.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { descriptorsOpenOn } from '../support/descriptors.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const SILENCE = [0xf8, 0xff, 0xfe];
const cleanups = cleanupAfterEach();
const dir = mkdtempSync(path.join(os.tmpdir(), 'voxcord-feed-'));

/** `count` distinct frames of `size` bytes (frame i starts with i's two bytes). */
function frames(count: number, size = 40): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    Uint8Array.from({ length: size }, (_, j) =>
      j === 0 ? i >> 8 : j === 1 ? i & 0xff : (i * 31 + j) & 0xff,
    ),
  );
}

/** An Ogg Opus file of `packets`, `perPage` packets a page; `cut` bytes cut off its end. */
function oggFile(name: string, packets: Uint8Array[], perPage = 50, cut = 0): string {
  const pager = new OggOpusPager({ packetsPerPage: perPage, serial: 77 });
  const pages = [...pager.headers()];
  for (const p of packets) pages.push(...pager.packet(p));
  pages.push(pager.end());
  const bytes = concatBytes(...pages);
  const file = path.join(dir, name);
  writeFileSync(file, bytes.subarray(0, bytes.length - cut));
  return file;
}

async function channel(): Promise<{ r: Responder; ch: MediaChannel }> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  const engine = createMediaEngine({ kind: 'worker' });
  cleanups.push(() => engine.close());
  const ch = await engine.openChannel({ ssrc: 99, serverHost: '127.0.0.1', serverPort: r.port });
  await ch.discoverAddress();
  ch.setTransport(EncryptionMode.AesGcm, KEY);
  return { r, ch };
}

/** The payloads the responder got, opened. */
function payloads(r: Responder): number[][] {
  const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
  return r.rtp().map((p) => {
    const o = openRtpPacket(p, cipher);
    if ('drop' in o) throw new Error(o.drop);
    return [...o.payload];
  });
}

function feed(ch: MediaChannel, file: string, options: FileFeedOptions = {}) {
  let end: FileFeedEnd | undefined;
  const handle = ch.feedOggOpusFile!(file, options, (e) => {
    if (end !== undefined) throw new Error('two ends');
    end = e;
  });
  return { handle, ended: () => end };
}

describe('file feed (media worker)', () => {
  it('sends every frame of the file in order, then the burst silence, and ends finished with the count', async () => {
    const { r, ch } = await channel();
    const audio = frames(130); // three pages
    const f = feed(ch, oggFile('whole.opus', audio));
    await waitFor(() => f.ended() !== undefined, 10_000);
    expect(f.ended()).toEqual({ reason: 'finished', frames: 130 });
    await waitFor(() => r.rtp().length >= 135);
    expect(payloads(r)).toEqual([...audio.map((a) => [...a]), ...Array.from({ length: 5 }, () => SILENCE)]);
    expect(f.handle.frames).toBe(130);
    expect(ch.sendCounts!().plain).toBe(130);
    expect(ch.queued).toBe(0);
  });

  it('plays pages larger than its read buffers', async () => {
    const { r, ch } = await channel();
    const audio = frames(60, 900); // 45 KiB pages
    const f = feed(ch, oggFile('big-pages.opus', audio));
    await waitFor(() => f.ended() !== undefined, 10_000);
    expect(f.ended()).toEqual({ reason: 'finished', frames: 60 });
    await waitFor(() => r.rtp().length >= 65);
    expect(payloads(r).slice(0, 60)).toEqual(audio.map((a) => [...a]));
  });

  it('starts after skipFrames and stops before endFrame (a start position and an end time)', async () => {
    const { r, ch } = await channel();
    const audio = frames(130);
    const f = feed(ch, oggFile('end-time.opus', audio), { skipFrames: 55, endFrame: 80 });
    await waitFor(() => f.ended() !== undefined, 10_000);
    expect(f.ended()).toEqual({ reason: 'finished', frames: 25 });
    await waitFor(() => r.rtp().length >= 30);
    await new Promise((res) => setTimeout(res, 100));
    expect(payloads(r)).toEqual([
      ...audio.slice(55, 80).map((a) => [...a]),
      ...Array.from({ length: 5 }, () => SILENCE),
    ]);
  });

  it('stop() answers the exact frames sent: nothing of the file goes after them', async () => {
    const { r, ch } = await channel();
    const audio = frames(200);
    const f = feed(ch, oggFile('stop.opus', audio));
    await waitFor(() => r.rtp().length >= 20);
    const taken = await f.handle.stop();
    expect(f.ended()).toEqual({ reason: 'stopped', frames: taken });
    await new Promise((res) => setTimeout(res, 200));
    expect(payloads(r)).toEqual(audio.slice(0, taken).map((a) => [...a]));
    expect(ch.queued).toBe(0);
  });

  it('a stop reports how many queued frames it threw away (none before, none for a finished feed)', async () => {
    const { ch } = await channel();
    const f = feed(ch, oggFile('discarded.opus', frames(200)));
    expect(f.handle.discarded).toBe(0);
    await waitFor(() => f.handle.frames >= 50, 5_000);
    const taken = await f.handle.stop();
    // Queued: what was left of the pages read (one 16 KiB read holds several of these small pages).
    expect(f.handle.discarded).toBeGreaterThan(0);
    expect(taken + f.handle.discarded).toBeLessThanOrEqual(200);
    const done = feed(ch, oggFile('short.opus', frames(20)));
    await waitFor(() => done.ended() !== undefined, 5_000);
    expect(done.handle.discarded).toBe(0);
  });

  it("the caller's own frame stops the feed and follows the file's last sent frame", async () => {
    const { r, ch } = await channel();
    const audio = frames(200);
    const f = feed(ch, oggFile('own.opus', audio));
    await waitFor(() => r.rtp().length >= 10);
    ch.enqueue(Uint8Array.of(1, 2, 3, 4));
    await waitFor(() => f.ended() !== undefined);
    const end = f.ended()!;
    expect(end.reason).toBe('stopped');
    await waitFor(() => payloads(r).some((p) => p.length === 4));
    expect(payloads(r)).toEqual([...audio.slice(0, end.frames).map((a) => [...a]), [1, 2, 3, 4]]);
  });

  it('a closed channel ends the feed at the frames sent (the rest are not left over for a successor)', async () => {
    const { r, ch } = await channel();
    const audio = frames(200);
    const f = feed(ch, oggFile('close.opus', audio));
    await waitFor(() => r.rtp().length >= 15);
    ch.close();
    await waitFor(() => f.ended() !== undefined);
    const end = f.ended()!;
    expect(end.reason).toBe('stopped');
    expect(payloads(r)).toEqual(audio.slice(0, end.frames).map((a) => [...a]));
    expect(await ch.takeQueued!()).toEqual([]);
  });

  it('a missing file fails at once; a cut file fails after its whole pages, at the frames sent', async () => {
    const { r, ch } = await channel();
    const missing = feed(ch, path.join(dir, 'nope.opus'));
    await waitFor(() => missing.ended() !== undefined);
    const m = missing.ended()!;
    expect(m.reason).toBe('failed');
    expect(m.frames).toBe(0);
    expect(m.reason === 'failed' && m.error.message).toMatch(/cannot be opened/);
    expect(m.reason === 'failed' && (m.error.cause as Error).message).toMatch(/ENOENT|no such file/);

    const audio = frames(120);
    const cut = feed(ch, oggFile('cut.opus', audio, 50, 300));
    await waitFor(() => cut.ended() !== undefined, 10_000);
    const c = cut.ended()!;
    expect(c.reason).toBe('failed');
    expect(c.reason === 'failed' && c.error.message).toMatch(/ended early/);
    await new Promise((res) => setTimeout(res, 100));
    // What was sent is the file's first frames in order, and exactly the count reported.
    expect(payloads(r)).toEqual(audio.slice(0, c.frames).map((a) => [...a]));
  });

  it.skipIf(process.platform !== 'linux')(
    'the main thread holds the file open only while its feed plays: closed at the end, at a stop while it opens, and with the engine',
    async () => {
      const { ch } = await channel();
      const file = oggFile('descriptors.opus', frames(100));
      const open = (): number => descriptorsOpenOn(file);
      // A handle left open is closed by the garbage collector in the end, with a warning: that is a leak.
      const collected: string[] = [];
      const onWarning = (w: Error): void => {
        if (/on garbage collection/.test(w.message)) collected.push(w.message);
      };
      process.on('warning', onWarning);
      cleanups.push(() => process.off('warning', onWarning));

      // Every threadpool thread waits in a FIFO's open: the feed's open queues behind them, and
      // the feed is stopped before its file is open.
      const fifos = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, (_, i) => {
        const fifo = path.join(dir, `busy-${i}.fifo`);
        execFileSync('mkfifo', [fifo]);
        return fifo;
      });
      const busy = fifos.map((fifo) => openFile(fifo, 'r'));
      const stopped = feed(ch, file);
      expect(await stopped.handle.stop()).toBe(0);
      expect(stopped.ended()).toEqual({ reason: 'stopped', frames: 0 });
      for (const fifo of fifos) closeSync(openSync(fifo, 'w'));
      for (const handle of await Promise.all(busy)) await handle.close();
      await new Promise((res) => setTimeout(res, 200)); // the feed's open has come back by now
      await waitFor(() => open() === 0); // and its close (a loaded machine may take longer)

      const whole = feed(ch, file);
      await waitFor(() => whole.handle.frames > 0, 10_000);
      expect(open()).toBe(1);
      await waitFor(() => whole.ended() !== undefined, 10_000);
      expect(whole.ended()).toEqual({ reason: 'finished', frames: 100 });
      await waitFor(() => open() === 0);

      const engine = createMediaEngine({ kind: 'worker' });
      const r = await Responder.start();
      cleanups.push(() => r.close());
      const other = await engine.openChannel({ ssrc: 98, serverHost: '127.0.0.1', serverPort: r.port });
      await other.discoverAddress();
      other.setTransport(EncryptionMode.AesGcm, KEY);
      const cut = feed(other, file);
      await waitFor(() => cut.handle.frames > 0, 10_000);
      expect(open()).toBe(1);
      await engine.close();
      await waitFor(() => open() === 0);
      await new Promise((res) => setImmediate(res)); // a 'warning' event comes on a later tick
      expect(collected).toEqual([]);
    },
  );
});
