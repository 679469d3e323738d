/**
 * The worker engine's receive cadence over real sockets: while packets come, received RTP reaches
 * the main thread in cadence messages (one per 20 ms, not one per datagram), each after its
 * packets; a few empty periods after the last packet the cadence stops with a last message.
 */
import { describe, expect, it } from 'vitest';
import { createMediaEngine } from '../../src/media/index.js';
import type { ReceivedRtp } from '../../src/media/index.js';
import { onReceivePulse, receivePulseActive } from '../../src/media/receive-pulse.js';
import { sealRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { Responder, waitFor } from './udp-responder.js';
import { cleanupAfterEach } from '../support/after-each.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const cleanups = cleanupAfterEach();

describe('worker engine receive cadence', () => {
  it('hands received packets over in one message per 20 ms while they come, then stops', async () => {
    const r = await Responder.start();
    cleanups.push(() => r.close());
    const engine = createMediaEngine({ kind: 'worker' });
    cleanups.push(() => engine.close());
    const ch = await engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: r.port });
    await ch.discoverAddress();
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    await ch.stats(); // the transport is set in the worker before packets come
    const got: ReceivedRtp[] = [];
    ch.on('rtp', (p) => got.push(p));
    /** Packets delivered at each pulse (and when), and the cadence's changes. */
    const pulses: number[] = [];
    const pulseTimes: number[] = [];
    const changes: boolean[] = [];
    cleanups.push(
      onReceivePulse({
        pulse: () => {
          pulses.push(got.length);
          pulseTimes.push(performance.now());
        },
        cadenceChanged: (active) => changes.push(active),
      }),
    );
    expect(receivePulseActive()).toBe(false);

    // 40 packets, one per 5 ms (four speakers' worth): 200 ms.
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    const sent = 40;
    await new Promise<void>((resolve) => {
      let i = 0;
      const timer = setInterval(() => {
        r.sendToPeer(
          sealRtpPacket({ sequence: i, timestamp: i * 960, ssrc: 9 }, Uint8Array.of(i), cipher, i + 1),
        );
        if (++i === sent) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    expect(receivePulseActive()).toBe(true);
    await waitFor(() => got.length === sent && !receivePulseActive(), 3000);
    // It started with the first packet and stopped after the last (a loaded machine that stalls the
    // sender for more than the idle periods may stop and restart it in between).
    expect(changes[0]).toBe(true);
    expect(changes.at(-1)).toBe(false);
    expect(changes.every((c, i) => c === (i % 2 === 0))).toBe(true);
    expect(got.map((p) => p.payload[0])).toEqual(Array.from({ length: sent }, (_, i) => i));
    // Every packet was handed over by a cadence message (none waits for the next one after the last).
    expect(Math.max(...pulses)).toBe(sent);
    // One message per 20 ms while the cadence runs (plus one at each start), not one per packet.
    const starts = changes.filter((c) => c).length;
    const spanMs = pulseTimes.at(-1)! - pulseTimes[0]!;
    expect(pulses.length).toBeGreaterThanOrEqual(4);
    expect(pulses.length).toBeLessThanOrEqual(starts + Math.floor(spanMs / 20) + 3);
  });
});
