/**
 * The media worker ships as one bundled module (scripts/build-worker.ts; worker-engine.ts starts it
 * from dist): each worker loads its own copy of its modules, and one module instead of 34 leaves a
 * worker about 2 MiB smaller. The bundle must hold the whole worker (only Node built-ins left to
 * import; sodium-native stays an optional run-time require) and work as the worker does: here it
 * runs from the source in a temporary directory, opens a channel, answers IP discovery and sends
 * an encrypted RTP packet that reaches a UDP socket on 127.0.0.1.
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
    const data: WorkerData = { tuning: {}, lowWaterMark: 5 };
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
      const post = (batch: CommandBatch, transfer: ArrayBuffer[] = []): void =>
        worker.postMessage(batch, transfer);
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
      post({ t: 'batch', cmds: [{ t: 'shutdown', req: 3 }] });
      await waitFor(() => replies.has(3));
    } finally {
      await worker.terminate();
      server.close();
    }
  });
});
