/**
 * Run by datagram-buffer.test.ts in a child process, with and without Node's
 * --test-udp-no-try-send (every socket.send is then queued by libuv instead of sent at once):
 * CHANNELS channels, ticked together by a hand-driven clock so that all of a tick's sends happen
 * before the event loop runs, send FRAMES DAVE-encrypted frames each to one UDP socket. Prints
 * one JSON line: the frames that arrived (decrypted, per SSRC in sequence order) and how often a
 * send was seen queued.
 */
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import type { ClockSlot, ClockTick, PacingClock } from '../../src/media/clock.js';
import { openUdpChannel } from '../../src/media/udp-channel.js';
import type { UdpMediaChannel } from '../../src/media/udp-channel.js';
import { openRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { DaveSendKey } from '../../src/dave/send-key.js';
import { FrameDecryptor } from '../../src/dave/frame-decryptor.js';
import { EncryptionMode } from '../../src/protocol/constants.js';

export const CHANNELS = 4;
export const FRAMES = 12;
const KEY = new Uint8Array(32).fill(9);

/** Frame k of channel c: distinct bytes and lengths for every (c, k). */
export function frameOf(c: number, k: number): Uint8Array {
  return Uint8Array.from({ length: 20 + ((c * 7 + k * 13) % 90) }, (_, j) => (c * 64 + k * 5 + j) & 0xff);
}

const secretOf = (c: number): Uint8Array => new Uint8Array(16).fill(c + 1);

async function main(): Promise<void> {
  let queuedSeen = 0;
  const proto = dgram.Socket.prototype as { getSendQueueCount?: (this: dgram.Socket) => number };
  const count = proto.getSendQueueCount!;
  // argv 'no-queue-count': a Node without socket.getSendQueueCount() (every datagram its own buffer).
  proto.getSendQueueCount = process.argv.includes('no-queue-count')
    ? undefined
    : function (this: dgram.Socket): number {
        const n = count.call(this);
        if (n > 0) queuedSeen++;
        return n;
      };
  const sink = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  sink.on('message', (msg) => {
    if (msg.length > 8) received.push(msg);
  });
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const listeners: ((tick: ClockTick) => void)[] = [];
  const clock = {
    periodMs: 20,
    now: () => performance.now(),
    register(listener: (tick: ClockTick) => void): ClockSlot {
      listeners.push(listener);
      const none = (): void => undefined; // the ticks come whether the channel sleeps or not
      return { phaseMs: 0, firstCycle: 0, release: none, sleepUntil: none, wake: none };
    },
  } as unknown as PacingClock;
  const channels: UdpMediaChannel[] = [];
  for (let c = 0; c < CHANNELS; c++) {
    const ch = await openUdpChannel(
      { ssrc: c + 1, serverHost: '127.0.0.1', serverPort: sink.address().port },
      clock,
    );
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    ch.setFrameProtection({ mode: 'encrypt', key: DaveSendKey.encrypt(secretOf(c)) });
    for (let k = 0; k < FRAMES; k++) ch.enqueue(frameOf(c, k));
    channels.push(ch);
  }
  for (let cycle = 1; cycle <= FRAMES; cycle++) {
    const now = performance.now();
    // One tick of every channel with no turn of the event loop in between.
    for (const listener of listeners) listener({ cycle, due: now, now } as ClockTick);
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
  const deadline = Date.now() + 5_000;
  while (received.length < CHANNELS * FRAMES && Date.now() < deadline)
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  const transport = createTransportCipher(EncryptionMode.AesGcm, KEY);
  const decryptors = Array.from({ length: CHANNELS }, (_, c) => {
    const d = new FrameDecryptor();
    d.transitionToRatchet(secretOf(c));
    return d;
  });
  const frames: string[][] = Array.from({ length: CHANNELS }, () => []);
  const packets = received
    .map((p) => openRtpPacket(p, transport))
    .map((o) => {
      if ('drop' in o) return { ssrc: 0, sequence: 0, hex: `drop:${o.drop}` };
      return { ssrc: o.info.ssrc, sequence: o.info.sequence, payload: o.payload, hex: '' };
    })
    .sort((a, b) => a.ssrc - b.ssrc || a.sequence - b.sequence);
  for (const p of packets) {
    const c = p.ssrc - 1;
    if (!('payload' in p) || p.payload === undefined || c < 0 || c >= CHANNELS) {
      frames[0]!.push(p.hex || 'bad');
      continue;
    }
    const opened = decryptors[c]!.decrypt(p.payload);
    frames[c]!.push(opened.ok ? Buffer.from(opened.frame).toString('hex') : `dave:${opened.reason}`);
  }
  for (const ch of channels) ch.close();
  sink.close();
  console.log(JSON.stringify({ frames, queuedSeen }));
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
