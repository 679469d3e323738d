import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { createMediaEngine } from '../../src/media/index.js';
import { invalidExecArgv, withoutPreloads } from '../../src/media/worker-engine.js';
import type { MediaChannel, MediaEngine, ReceivedRtp } from '../../src/media/index.js';
import { openRtpPacket, sealRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { isVoxcordError } from '../../src/errors.js';
import { Responder, twoChannels, waitFor } from './udp-responder.js';
import { runNode } from '../helpers/node-script.js';
import { cleanupAfterEach } from '../support/after-each.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

const cleanups = cleanupAfterEach();

async function setup(
  kind: 'inline' | 'worker',
  transferFrames = false,
): Promise<{ r: Responder; engine: MediaEngine; ch: MediaChannel }> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  const engine = createMediaEngine({ kind, transferFrames, channel: { highWaterMark: 6, lowWaterMark: 2 } });
  cleanups.push(() => engine.close());
  const ch = await engine.openChannel({ ssrc: 4242, serverHost: '127.0.0.1', serverPort: r.port });
  return { r, engine, ch };
}

/** The channel's next `event`. */
function next(ch: MediaChannel, event: 'drain' | 'burstEnd'): Promise<void> {
  return new Promise((resolve) => {
    const once = (): void => {
      ch.off(event, once);
      resolve();
    };
    ch.on(event, once);
  });
}

for (const kind of ['inline', 'worker'] as const) {
  describe(`${kind} media engine`, () => {
    it('answers stats requested for many channels at once, each with its own counts', async () => {
      const { r, engine, ch } = await setup(kind);
      const more = await Promise.all(
        Array.from({ length: 69 }, (_, i) =>
          engine.openChannel({ ssrc: 5000 + i, serverHost: '127.0.0.1', serverPort: r.port }),
        ),
      );
      const all = [ch, ...more];
      await Promise.all(all.map((c) => c.discoverAddress()));
      // Only the first channel sends: every reply must be its own channel's (70 spans 3 slices of 32).
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      for (let i = 0; i < 3; i++) ch.enqueue(Uint8Array.of(1, 2, 3));
      await waitFor(() => ch.queued === 0);
      const stats = await Promise.all(all.map((c) => c.stats()));
      expect(stats).toHaveLength(70);
      expect(stats[0]!.packetsSent).toBe(3);
      expect(stats.slice(1).every((s) => s.packetsSent === 0)).toBe(true);
    });

    it('reports its kind', async () => {
      const { engine } = await setup(kind);
      expect(engine.kind).toBe(kind);
    });

    it('discovers, sends decryptable packets in order with backpressure, and ends the burst', async () => {
      const { r, ch, engine } = await setup(kind, kind === 'worker');
      const found = await ch.discoverAddress();
      expect(found.address).toBe('127.0.0.1');
      expect(found.port).toBe(r.peer!.port);
      ch.setTransport(EncryptionMode.XChaCha, KEY);
      const frames = Array.from({ length: 12 }, (_, i) =>
        Uint8Array.from({ length: 30 }, (_, j) => (i + j * 3) & 0xff),
      );
      const expected = frames.map((f) => [...f]); // frames may be transferred to the worker
      let drains = 0;
      ch.on('drain', () => drains++);
      // Producer loop honouring backpressure.
      for (const f of frames) {
        if (!ch.enqueue(f)) await new Promise<void>((res) => ch.on('drain', res));
      }
      const burstEnd = new Promise<void>((res) => ch.on('burstEnd', res));
      ch.endBurst();
      await burstEnd;
      expect(drains).toBeGreaterThanOrEqual(1);
      await waitFor(() => r.rtp().length >= 17);
      const cipher = createTransportCipher(EncryptionMode.XChaCha, KEY);
      const opened = r.rtp().map((p) => {
        const o = openRtpPacket(p, cipher);
        if ('drop' in o) throw new Error(o.drop);
        return o;
      });
      expect(opened.map((o) => [...o.payload])).toEqual([
        ...expected,
        ...Array.from({ length: 5 }, () => [0xf8, 0xff, 0xfe]),
      ]);
      // Timestamps stay on the clock's cycles: 960 per packet, plus 960 for each cycle the clock
      // skipped under load (none on a quiet machine), never a step that is not a whole frame.
      let skippedSteps = 0;
      for (let i = 1; i < opened.length; i++) {
        expect(opened[i]!.info.sequence).toBe((opened[i - 1]!.info.sequence + 1) & 0xffff);
        const step = (opened[i]!.info.timestamp - opened[i - 1]!.info.timestamp + 2 ** 32) % 2 ** 32;
        expect(step % 960).toBe(0);
        expect(step).toBeGreaterThanOrEqual(960);
        skippedSteps += step / 960 - 1;
        expect(opened[i]!.info.ssrc).toBe(4242);
      }
      expect(skippedSteps).toBeLessThanOrEqual((await engine.stats!()).clock.skippedCycles);
      await waitFor(() => ch.queued === 0);
      const stats = await ch.stats();
      expect(stats.packetsSent).toBe(17);
      expect(stats.silenceFramesSent).toBe(5);
      expect(stats.keepalivesSent).toBeGreaterThanOrEqual(1);
    });

    it('gives its send counts with the due time of the last tick they include, on this thread’s clock', async () => {
      const { ch, engine } = await setup(kind);
      await ch.discoverAddress();
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      const seen: { ticks: number; at: number; now: number }[] = [];
      const look = () => {
        const c = ch.sendCounts!();
        const at = ch.sendCountsAt!();
        if (at !== undefined)
          seen.push({ ticks: c.plain + c.encrypted + c.emptyTicks, at, now: performance.now() });
      };
      ch.on('drain', look);
      for (let i = 0; i < 40; i++) {
        if (!ch.enqueue(Uint8Array.of(0xf8, i))) await next(ch, 'drain');
      }
      const burstEnd = next(ch, 'burstEnd');
      ch.endBurst();
      await burstEnd;
      expect(seen.length).toBeGreaterThanOrEqual(5);
      for (const s of seen) {
        // As of a tick already taken (a tick may be served up to 1 ms early).
        expect(s.at).toBeLessThanOrEqual(s.now + 1);
        expect(s.at).toBeGreaterThan(s.now - 1000);
      }
      // Inside the burst every tick took a frame or was an empty tick: the counts advance by
      // exactly one per 20 ms of their time stamps, less the cycles a clock that fell 200 ms
      // behind skipped (real gaps: a host this loaded is not the case this test is about).
      const skipped = (await engine.stats!()).clock.skippedCycles;
      for (let i = 1; i < seen.length; i++) {
        const span = Math.round((seen[i]!.at - seen[0]!.at) / 20);
        expect(seen[i]!.ticks - seen[0]!.ticks).toBeLessThanOrEqual(span);
        expect(seen[i]!.ticks - seen[0]!.ticks).toBeGreaterThanOrEqual(span - skipped);
      }
      expect(seen.at(-1)!.at - seen[0]!.at).toBeGreaterThan(0);
      ch.close();
      expect(ch.sendCountsAt!()).toBeUndefined(); // closed: the counts are final
    });

    it('delivers received RTP with a receive time on this thread’s clock', async () => {
      const { r, ch } = await setup(kind);
      await ch.discoverAddress();
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      const got: ReceivedRtp[] = [];
      ch.on('rtp', (p) => got.push(p));
      const drops: string[] = [];
      ch.on('drop', (d) => drops.push(d));
      // Let the transport command reach the worker before packets arrive.
      await ch.stats();
      const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
      const before = performance.now();
      r.sendToPeer(
        sealRtpPacket({ sequence: 1, timestamp: 960, ssrc: 9 }, Uint8Array.of(1, 2, 3), cipher, 1),
      );
      r.sendToPeer(Buffer.alloc(40, 0x80));
      await waitFor(() => got.length === 1 && drops.length === 1);
      expect([...got[0]!.payload]).toEqual([1, 2, 3]);
      expect(got[0]).toMatchObject({ ssrc: 9, sequence: 1, timestamp: 960 });
      expect(got[0]!.receivedAt).toBeGreaterThanOrEqual(before - 5);
      expect(got[0]!.receivedAt).toBeLessThanOrEqual(performance.now() + 5);
      expect(drops).toEqual(['payload-type']);
    });

    it('delivers a burst of packets each with its own payload bytes', async () => {
      const { r, ch } = await setup(kind);
      await ch.discoverAddress();
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      const got: ReceivedRtp[] = [];
      ch.on('rtp', (p) => got.push(p));
      await ch.stats();
      const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
      // Payloads of different lengths, sent back to back so the worker batches several of them.
      const payloads = Array.from({ length: 40 }, (_, i) => new Uint8Array(1 + (i % 7) * 30).fill(i));
      for (const [i, payload] of payloads.entries()) {
        r.sendToPeer(sealRtpPacket({ sequence: i, timestamp: i * 960, ssrc: 9 }, payload, cipher, i + 1));
      }
      await waitFor(() => got.length === payloads.length, 3000);
      got.sort((a, b) => a.sequence - b.sequence);
      expect(got.map((p) => [...p.payload])).toEqual(payloads.map((p) => [...p]));
    });

    it('clearQueue drops waiting frames', async () => {
      const { r, ch } = await setup(kind);
      for (let i = 0; i < 5; i++) ch.enqueue(Uint8Array.of(i));
      ch.clearQueue();
      await waitFor(() => ch.queued === 0);
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      await new Promise((res) => setTimeout(res, 80));
      expect(r.rtp()).toHaveLength(0);
    });

    it('applies frames and commands in the order given: a clear between frames keeps the later ones', async () => {
      const { r, ch } = await setup(kind);
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      // One loop turn, so the worker engine carries all of it in one batch.
      ch.enqueue(Uint8Array.of(1));
      ch.enqueue(Uint8Array.of(2));
      ch.clearQueue();
      ch.enqueue(Uint8Array.of(3));
      ch.enqueue(Uint8Array.of(4));
      await waitFor(() => r.rtp().length >= 2);
      await new Promise((res) => setTimeout(res, 60));
      const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
      const payloads = r.rtp().map((p) => {
        const o = openRtpPacket(p, cipher);
        if ('drop' in o) throw new Error(o.drop);
        return [...o.payload];
      });
      expect(payloads).toEqual([[3], [4]]);
    });

    it('rejects a bad transport key synchronously and bad options on open', async () => {
      const { engine, ch } = await setup(kind);
      expect(() => ch.setTransport(EncryptionMode.AesGcm, new Uint8Array(5))).toThrowError(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
      );
      const err: unknown = await engine
        .openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: 0 })
        .catch((e: unknown) => e);
      expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
    });

    it('close stops the channel; a closed engine refuses new channels', async () => {
      const { r, engine, ch } = await setup(kind);
      ch.close();
      expect(ch.enqueue(Uint8Array.of(1))).toBe(false);
      await new Promise((res) => setTimeout(res, 30));
      const n = r.datagrams.length;
      await new Promise((res) => setTimeout(res, 60));
      expect(r.datagrams.length).toBe(n);
      await engine.close();
      await expect(
        engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: r.port }),
      ).rejects.toMatchObject({
        code: 'DESTROYED',
      });
    });
  });
}

describe('createMediaEngine', () => {
  it('defaults to the worker engine, with inline as an option', async () => {
    const worker = createMediaEngine();
    const inline = createMediaEngine({ kind: 'inline' });
    cleanups.push(
      () => worker.close(),
      () => inline.close(),
    );
    expect(worker.kind).toBe('worker');
    expect(inline.kind).toBe('inline');
    expect(() => createMediaEngine({ kind: 'threads' as 'worker' })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
    );
  });
});

describe('worker media engine details', () => {
  it('packs frames of many channels and sizes into batches and sends each intact, in order', async () => {
    const { r, a, b } = await twoChannels(
      cleanups,
      { channel: { highWaterMark: 100, lowWaterMark: 2 } },
      EncryptionMode.AesGcm,
      KEY,
    );
    // Interleaved channels, one frame larger than a whole batch buffer (32 KiB).
    const sizes = [3, 300, 40_000, 1, 1275, 17];
    const framesA = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i * 7 + j) & 0xff));
    const framesB = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i * 11 + j * 3) & 0xff));
    for (let i = 0; i < sizes.length; i++) {
      a.enqueue(framesA[i]!);
      b.enqueue(framesB[i]!);
    }
    // The caller's arrays are copied, never detached.
    expect(framesA[2]!.length).toBe(40_000);
    await waitFor(() => r.rtp().length >= 2 * sizes.length, 3000);
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    const bySsrc = new Map<number, number[][]>();
    for (const p of r.rtp()) {
      const o = openRtpPacket(p, cipher);
      if ('drop' in o) throw new Error(o.drop);
      bySsrc.set(o.info.ssrc, [...(bySsrc.get(o.info.ssrc) ?? []), [...o.payload]]);
    }
    expect(bySsrc.get(1)).toEqual(framesA.map((f) => [...f]));
    expect(bySsrc.get(2)).toEqual(framesB.map((f) => [...f]));
    await waitFor(() => a.queued === 0 && b.queued === 0);
  });

  it("keeps each channel's own send counts when one message reports many channels", async () => {
    // Reports are read into one reused object: a channel that kept it instead of copying would
    // show whichever channel was reported last.
    const { a, b } = await twoChannels(
      cleanups,
      { channel: { highWaterMark: 30, lowWaterMark: 20 } },
      EncryptionMode.AesGcm,
      KEY,
    );
    // B's burst ends last, so its reports come after A's last one.
    const ended = Promise.all([next(a, 'burstEnd'), next(b, 'burstEnd')]);
    for (let i = 0; i < 3; i++) a.enqueue(Uint8Array.of(0xf8, i));
    for (let i = 0; i < 12; i++) b.enqueue(Uint8Array.of(0xf8, i));
    a.endBurst();
    b.endBurst();
    await ended;
    await waitFor(() => a.queued === 0 && b.queued === 0);
    const sent = (c: MediaChannel): number => c.sendCounts!().plain + c.sendCounts!().encrypted;
    const [statsA, statsB] = await Promise.all([a.stats(), b.stats()]);
    // Each channel's own frames (not the silence that ends its burst), as its own socket counted them.
    expect(sent(a)).toBe(statsA.packetsSent - statsA.silenceFramesSent);
    expect(sent(b)).toBe(statsB.packetsSent - statsB.silenceFramesSent);
    expect([sent(a), sent(b)]).toEqual([3, 12]);
  });

  it('lets a process exit when its channels are closed, even if the engine is not', async () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    const script = [
      "import dgram from 'node:dgram';",
      `import { createMediaEngine } from ${JSON.stringify(new URL('../../src/media/index.ts', import.meta.url).href)};`,
      "const sink = dgram.createSocket('udp4');",
      "await new Promise((r) => sink.bind(0, '127.0.0.1', r));",
      'sink.unref();',
      'const engine = createMediaEngine();',
      "const ch = await engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: sink.address().port });",
      'ch.close();',
      "console.log('closed');",
    ].join('\n');
    const { out, exit } = await runNode(['--import', 'tsx', '--input-type=module', '-e', script], here);
    expect(out).toContain('closed');
    expect(exit).toBe(0);
  }, 20_000);

  it('does not load the host process preloads into the worker, even next to process-wide flags', async () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    // A preload that reports each thread it runs in (0 = main thread).
    const preload =
      "data:text/javascript,import{threadId}from'node:worker_threads';console.log('preload',threadId);";
    const script = [
      "import dgram from 'node:dgram';",
      `import { createMediaEngine } from ${JSON.stringify(new URL('../../src/media/index.ts', import.meta.url).href)};`,
      "const sink = dgram.createSocket('udp4');",
      "await new Promise((r) => sink.bind(0, '127.0.0.1', r));",
      'const engine = createMediaEngine();',
      "const ch = await engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: sink.address().port });",
      'ch.close();',
      'await engine.close();',
      'sink.close();',
      "console.log('worked');",
    ].join('\n');
    // --expose-gc is a V8 flag a worker's execArgv may not carry: the engine must still start.
    const args = ['--expose-gc', '--import', preload, '--import', 'tsx', '--input-type=module', '-e', script];
    const { out, exit } = await runNode(args, here);
    expect(out.trim().split('\n')).toEqual(['preload 0', 'worked']);
    expect(exit).toBe(0);
  }, 20_000);
});

describe('worker execArgv', () => {
  it('drops preload flags in both spellings and keeps everything else in order', () => {
    expect(
      withoutPreloads([
        '--expose-gc',
        '--import',
        'tsx',
        '--require=dotenv/config',
        '-r',
        './a.cjs',
        '--cpu-prof',
        '--experimental-loader',
        'x.mjs',
        '--loader=y.mjs',
        '--enable-source-maps',
      ]),
    ).toEqual(['--expose-gc', '--cpu-prof', '--enable-source-maps']);
    expect(withoutPreloads([])).toEqual([]);
    // '--imports' is not '--import'.
    expect(withoutPreloads(['--imports', 'a'])).toEqual(['--imports', 'a']);
  });

  it("reads the flags out of Node's invalid-execArgv message", () => {
    expect([
      ...invalidExecArgv(
        'Initiated Worker with invalid execArgv flags: --expose-gc, --max-old-space-size=100',
      ),
    ]).toEqual(['--expose-gc', '--max-old-space-size=100']);
    expect(invalidExecArgv('something else').size).toBe(0);
  });
});
