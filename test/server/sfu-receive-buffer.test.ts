/**
 * The SFU's one UDP socket takes every participant's packets: `udpReceiveBufferBytes` sizes its
 * kernel buffer, so a server thread held up for a moment (a busy machine) does not lose a burst.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer, VoiceServerOptions } from '../../src/server/index.js';
import { isVoxcordError } from '../../src/errors.js';
import { Cleanup, keyFor, until } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(options: VoiceServerOptions = {}): Promise<VoiceServer> {
  const server = await startVoiceServer({ ssrcStart: 1000, seed: 1, keyFor, dave: false, ...options });
  cleanup.add(() => server.stop());
  return server;
}

const BURST = 1000;

/**
 * Sends BURST 100-byte datagrams to the SFU while this thread (the server's too) cannot read them,
 * then lets it read: how many the SFU saw.
 */
async function burst(server: VoiceServer): Promise<number> {
  const client = dgram.createSocket('udp4');
  cleanup.add(() => client.close());
  await new Promise<void>((resolve) => client.connect(server.udpPort, '127.0.0.1', resolve));
  const before = server.sfuStats.datagrams;
  const payload = Buffer.alloc(100, 7);
  for (let i = 0; i < BURST; i++) client.send(payload);
  // libuv sends at once while its queue is empty; give the last ones a moment in the kernel.
  const t = Date.now();
  while (Date.now() - t < 50); // busy on purpose: the server's reads wait
  await until(() => server.sfuStats.datagrams - before >= BURST, 500).catch(() => undefined);
  return server.sfuStats.datagrams - before;
}

// Linux caps SO_RCVBUF at net.core.rmem_max (doubled): the burst needs about 1 MiB of it.
const rmemMax = ((): number => {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    return 0;
  }
})();

describe('local voice server: SFU receive buffer', () => {
  it.runIf(rmemMax >= 1024 * 1024)(
    'keeps a burst the default buffer loses while the server thread is busy',
    async () => {
      const small = await start();
      expect(await burst(small)).toBeLessThan(BURST);
      const large = await start({ udpReceiveBufferBytes: 4 * 1024 * 1024 });
      expect(await burst(large)).toBe(BURST);
    },
  );

  it('refuses a receive buffer that is not a positive integer', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      const error = await startVoiceServer({ udpReceiveBufferBytes: bad }).catch((e: unknown) => e);
      expect(isVoxcordError(error) && error.code).toBe('INVALID_ARGUMENT');
    }
  });
});
