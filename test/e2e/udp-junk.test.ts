/**
 * Datagrams from a stranger on the network, sent to the SFU's port and to the listener's while a
 * sender streams numbered frames through the SFU: RTP forged with the sender's SSRC, mutated
 * copies of real packets, real packets again, IP-discovery-shaped packets and random bytes of any
 * size up to 1,500. Nothing a stranger sends may be forwarded, played or take the call down: the
 * listener gets every numbered frame exactly once, every stranger datagram at the SFU is counted
 * (a drop by reason, or a discovery request answered), and none reaches the listener's transport
 * (its socket is connected to the SFU's address).
 */
import { createSocket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import type { DiscoveredAddress, MediaChannel, MediaEngine } from '../../src/media/media-engine.js';
import { createRng } from '../../src/server/faults.js';
import { createVoiceReceiver } from '../../src/receive/session-feed.js';
import type { ReceivedFrame } from '../../src/receive/user-stream.js';
import { startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

const FRAMES = 150;
const JUNK = 2_000;
const SENDER = '9101';
const LISTENER = '9102';

/** The engine, recording the channels' 'drop' events and the address the first one discovers. */
function watchedEngine(
  engine: MediaEngine,
  drops: Record<string, number>,
  discovered: (address: DiscoveredAddress) => void,
): MediaEngine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'openChannel') {
        return async (options: Parameters<MediaEngine['openChannel']>[0]): Promise<MediaChannel> => {
          const channel = await target.openChannel(options);
          channel.on('drop', (reason) => (drops[reason] = (drops[reason] ?? 0) + 1));
          const discover = channel.discoverAddress.bind(channel);
          channel.discoverAddress = async () => {
            const address = await discover();
            discovered(address);
            return address;
          };
          return channel;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Stranger datagram `i`: built from `rng`, with the sender's SSRC and real packets as material. */
function junk(rng: () => number, ssrc: number, real: readonly Buffer[]): Buffer {
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));
  const kind = Math.floor(rng() * 5);
  if (kind === 0) {
    // RTP with the sender's SSRC, Opus payload type, a payload and a nonce nobody sealed.
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = 0x78;
    header.writeUInt16BE(Math.floor(rng() * 65536), 2);
    header.writeUInt32BE(Math.floor(rng() * 2 ** 32), 4);
    header.writeUInt32BE(ssrc, 8);
    return Buffer.concat([header, bytes(4 + Math.floor(rng() * 200))]);
  }
  const sample = real[Math.floor(rng() * real.length)];
  if (kind === 1 && sample !== undefined) {
    const copy = Buffer.from(sample);
    copy[Math.floor(rng() * copy.length)]! ^= 1 + Math.floor(rng() * 255);
    return copy;
  }
  if (kind === 2 && sample !== undefined) return Buffer.from(sample); // a replay
  if (kind === 3) {
    // IP discovery's shape: type, length 70, an SSRC, an address and a port.
    const packet = Buffer.alloc(74);
    packet.writeUInt16BE(1 + Math.floor(rng() * 2), 0);
    packet.writeUInt16BE(70, 2);
    packet.writeUInt32BE(ssrc, 4);
    packet.write('10.0.0.1', 8);
    packet.writeUInt16BE(Math.floor(rng() * 65536), 72);
    return packet;
  }
  return bytes(Math.floor(rng() * 1501));
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

describe('UDP datagrams from a stranger', () => {
  const harnesses: Harness[] = [];
  afterAll(async () => {
    await Promise.all(harnesses.map((h) => h.close()));
  });

  it(
    'are neither forwarded nor played, and each is counted where it landed',
    { timeout: 30_000 },
    async () => {
      // Real packets as the SFU sends them to the listener: material for mutations and replays.
      const real: Buffer[] = [];
      const h = await startHarness({
        seed: 21,
        faults: { udp: { observe: (packet) => void (real.length < 50 && real.push(Buffer.from(packet))) } },
      });
      harnesses.push(h);
      const drops: Record<string, number> = {};
      let listenerAt: DiscoveredAddress | undefined;
      const listener = await h.join(LISTENER, {
        engine: watchedEngine(h.engine, drops, (a) => (listenerAt ??= a)),
      });
      const sender = await h.join(SENDER);
      const receiver = createVoiceReceiver(listener);
      const frames: ReceivedFrame[] = [];
      receiver.subscribe(SENDER, { mode: 'opus', maxQueuedFrames: 10_000 }).on('data', (f: ReceivedFrame) => {
        frames.push(f);
      });
      const sfuDropsBefore = total(h.server.sfuStats.dropped);
      const discoveriesBefore = h.server.sfuStats.ipDiscoveries;
      const listenerDropsBefore = total(drops);

      // The stranger, sending while the frames flow: half to the SFU, half to the listener.
      const stranger = createSocket('udp4');
      await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', r));
      const rng = createRng(22);
      const sent = { sfu: 0, listener: 0 };
      let next = 0;
      const send = (i: number): void => {
        const toSfu = i % 2 === 0;
        const port = toSfu ? h.server.udpPort : listenerAt!.port;
        stranger.send(junk(rng, sender.ssrc!, real), port, '127.0.0.1');
        sent[toSfu ? 'sfu' : 'listener'] += 1;
      };
      const timer = setInterval(() => {
        for (let k = 0; k < 10 && next < JUNK; k++) send(next++);
      }, 10);
      const stream = async function* (): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < FRAMES; i++) yield Uint8Array.of(0xfc, 2, i >> 8, i & 0xff);
      };
      await sender.playOpus(stream()).finished;
      await until(() => next === JUNK, 10_000, 'the stranger done');
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 300));
      stranger.close();
      receiver.close();

      // Every numbered frame once, none concealed, none from the stranger.
      const indices = frames
        .filter((f) => !f.concealed && f.payload?.[0] === 0xfc) // not the silence frames after the burst
        .map((f) => ((f.payload?.[2] ?? 0) << 8) | (f.payload?.[3] ?? 0));
      expect(indices).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
      expect(frames.filter((f) => f.concealed)).toEqual([]);
      // Each stranger datagram at the SFU is a drop by reason, or a discovery request it answered
      // (discovery is unauthenticated: answered, and never a move of anyone's downstream).
      const sfu = h.server.sfuStats;
      expect(total(sfu.dropped) - sfuDropsBefore + (sfu.ipDiscoveries - discoveriesBefore)).toBe(sent.sfu);
      expect(sfu.dropped['internal'] ?? 0).toBe(0);
      // The listener's socket is connected to the SFU's address: the kernel hands it nothing from
      // another one, so nothing reached its transport to drop.
      expect(sent.listener).toBeGreaterThan(0);
      expect(total(drops) - listenerDropsBefore).toBe(0);
    },
  );
});
