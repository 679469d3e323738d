/**
 * The media worker ships as one bundled module (scripts/build-worker.ts; worker-engine.ts starts it
 * from dist): each worker loads its own copy of its modules, and one module instead of 34 leaves a
 * worker about 2 MiB smaller. The bundle must hold the whole worker (only Node built-ins left to
 * import; sodium-native stays an optional run-time require) and work as the worker does: here it
 * runs from the source in a temporary directory, opens a channel, answers IP discovery and sends
 * an encrypted RTP packet that reaches a UDP socket on 127.0.0.1, then takes frames from the shared
 * frame ring in the main side's order.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleWorker } from '../../scripts/build-worker.js';
import type { Metafile } from 'esbuild';
import type { CommandBatch, WorkerData, WorkerEvent, WorkerToMain } from '../../src/media/engine-messages.js';
import { FrameBatchWriter } from '../../src/media/send-batch.js';
import type { FrameBatchView } from '../../src/media/send-batch.js';
import { FrameRingWriter, createFrameRingMemory } from '../../src/media/frame-ring.js';
import { Responder, waitFor } from './udp-responder.js';

const ROOT = resolve(import.meta.dirname, '../..');

let dir: string;
let outfile: string;
let meta: Metafile;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voxcord-worker-bundle-'));
  outfile = join(dir, 'engine-worker.bundle.js');
  meta = await bundleWorker(join(ROOT, 'src/media/engine-worker.ts'), outfile);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the bundled media worker', () => {
  it('is one module that imports only Node built-ins', () => {
    const outputs = Object.values(meta.outputs);
    expect(outputs).toHaveLength(1);
    const imports = outputs[0]!.imports.map((i) => i.path);
    expect(imports.length).toBeGreaterThan(0);
    for (const path of imports) expect(path).toMatch(/^node:/);
    const inputs = Object.keys(meta.inputs);
    for (const module of ['udp-channel.ts', 'transport-cipher.ts', 'send-key.ts', 'clock.ts'])
      expect(inputs.some((p) => p.endsWith(module))).toBe(true);
  });

  it('opens a channel and sends an encrypted packet to the server', async () => {
    const server = await Responder.start();
    const ringWriter = new FrameRingWriter(createFrameRingMemory(64 * 1024));
    const data: WorkerData = { tuning: {}, lowWaterMark: 5, frameRing: ringWriter.memory };
    const worker = new Worker(outfile, { workerData: data });
    let ready = false;
    const replies = new Map<number, WorkerEvent>();
    worker.on('message', (m: WorkerToMain) => {
      if (m.t === 'ready') ready = true;
      if (m.t !== 'events') return;
      for (const e of m.events) if (e.t === 'reply') replies.set(e.req, e);
    });
    try {
      await waitFor(() => ready);
      // Batches are numbered: the worker applies them in the main side's order (frame-ring.ts).
      let seq = 0;
      const post = (batch: Omit<CommandBatch, 'seq'>, transfer: ArrayBuffer[] = []): void =>
        worker.postMessage({ ...batch, seq: seq++ }, transfer);
      const options = { ssrc: 4242, serverHost: '127.0.0.1', serverPort: server.port };
      post({ t: 'batch', cmds: [{ t: 'open', req: 1, id: 1, options }] });
      await waitFor(() => replies.has(1));
      post({ t: 'batch', cmds: [{ t: 'discover', req: 2, id: 1 }] });
      await waitFor(() => replies.has(2));
      expect(replies.get(2)).toMatchObject({ ok: true, value: { address: '127.0.0.1' } });
      expect(server.keepalives().length).toBeGreaterThan(0);

      const writer = new FrameBatchWriter(1024);
      const frame = new Uint8Array(100).fill(0x5a);
      writer.add(1, frame);
      const frames = writer.take()!;
      post(
        {
          t: 'batch',
          cmds: [
            { t: 'transport', id: 1, mode: 'aead_aes256_gcm_rtpsize', key: new Uint8Array(32).fill(7) },
            { t: 'protect', id: 1, mode: 'plain' },
            { t: 'frames', runs: 1 },
          ],
          frames,
        },
        [frames.data, frames.index],
      );
      await waitFor(() => server.rtp().length > 0);
      const packet = server.rtp()[0]!;
      expect(packet[0]).toBe(0x80);
      expect(packet.readUInt32BE(8)).toBe(4242);
      // Sealed: the frame's bytes are not in the datagram in the clear.
      expect(packet.includes(Buffer.from(frame))).toBe(false);

      // Frames-only batches through the shared ring, in the main side's order with the port's:
      // 30 frames by port keep the clock running (the worker polls the ring then); a ring batch
      // numbered after a port batch posted later waits for it. Told apart by their lengths.
      const lengths = (n: number, bytes: number): FrameBatchView => {
        const w = new FrameBatchWriter(4096);
        for (let i = 0; i < n; i++) w.add(1, new Uint8Array(bytes).fill(n));
        return w.view()!;
      };
      const before = server.rtp().length;
      const many = lengths(30, 60);
      post({
        t: 'batch',
        cmds: [{ t: 'frames', runs: 1 }],
        frames: { data: many.data.slice().buffer, index: many.index.slice().buffer },
      });
      await waitFor(() => ringWriter.workerPolling);
      expect(ringWriter.write(seq + 1, lengths(3, 90))).toBe(true);
      const later = lengths(2, 120);
      post({
        t: 'batch',
        cmds: [{ t: 'frames', runs: 1 }],
        frames: { data: later.data.slice().buffer, index: later.index.slice().buffer },
      });
      seq++; // the ring's
      await waitFor(() => server.rtp().length >= before + 35);
      const sizes = server
        .rtp()
        .slice(before)
        .map((d) => d.length - (server.rtp()[before]!.length - 60));
      expect(sizes).toEqual([...Array<number>(30).fill(60), 120, 120, 90, 90, 90]);

      post({ t: 'batch', cmds: [{ t: 'shutdown', req: 3 }] });
      await waitFor(() => replies.has(3));
    } finally {
      await worker.terminate();
      server.close();
    }
  });
});
