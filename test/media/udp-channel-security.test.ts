/** The client's media channel against a hostile network: replayed packets and foreign discovery replies. */
import { describe, expect, it } from 'vitest';
import { PacingClock } from '../../src/media/clock.js';
import { openUdpChannel } from '../../src/media/udp-channel.js';
import type { UdpMediaChannel } from '../../src/media/udp-channel.js';
import { buildIpDiscoveryResponse } from '../../src/media/ip-discovery.js';
import { sealRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import type { ReceivedRtp, RtpDropReason } from '../../src/media/media-engine.js';
import { Responder, waitFor } from './udp-responder.js';
import { cleanupAfterEach } from '../support/after-each.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const SSRC = 0x1234_5678;

const cleanups = cleanupAfterEach();

async function setup(): Promise<{ r: Responder; ch: UdpMediaChannel }> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  const clock = new PacingClock();
  cleanups.push(() => clock.close());
  const ch = await openUdpChannel({ ssrc: SSRC, serverHost: '127.0.0.1', serverPort: r.port }, clock);
  cleanups.push(() => ch.close());
  await waitFor(() => r.peer !== undefined); // the first keepalive told the responder where we are
  return { r, ch };
}

function record(ch: UdpMediaChannel): { got: ReceivedRtp[]; drops: RtpDropReason[] } {
  const got: ReceivedRtp[] = [];
  const drops: RtpDropReason[] = [];
  ch.on('rtp', (p) => got.push(p));
  ch.on('drop', (d) => drops.push(d));
  return { got, drops };
}

describe('UdpMediaChannel replay window', () => {
  it('drops a packet received again (e.g. replayed 12 s later), counted as replay', async () => {
    const { r, ch } = await setup();
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    const { got, drops } = record(ch);
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    const first = sealRtpPacket(
      { sequence: 100, timestamp: 96_000, ssrc: 77 },
      Uint8Array.of(0xfc, 1),
      cipher,
      5,
    );
    r.sendToPeer(first);
    await waitFor(() => got.length === 1);
    // Time plays no part in a nonce window: the same datagram later is the same replay.
    r.sendToPeer(first);
    await waitFor(() => drops.length === 1);
    expect(drops).toEqual(['replay']);
    // Reordered but new nonces are fine; the same nonce on another SSRC is another sender's.
    r.sendToPeer(
      sealRtpPacket({ sequence: 99, timestamp: 95_040, ssrc: 77 }, Uint8Array.of(0xfc, 2), cipher, 4),
    );
    r.sendToPeer(sealRtpPacket({ sequence: 1, timestamp: 0, ssrc: 78 }, Uint8Array.of(0xfc, 3), cipher, 5));
    await waitFor(() => got.length === 3);
    expect(got.map((p) => [p.ssrc, p.sequence])).toEqual([
      [77, 100],
      [77, 99],
      [78, 1],
    ]);
    const stats = await ch.stats();
    expect(stats.packetsReceived).toBe(3);
    expect(stats.packetsDropped.replay).toBe(1);
  });

  it('a new transport key starts new windows', async () => {
    const { r, ch } = await setup();
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    const { got } = record(ch);
    const key2 = Uint8Array.from(KEY, (b) => b ^ 0xff);
    const p1 = sealRtpPacket(
      { sequence: 1, timestamp: 0, ssrc: 77 },
      Uint8Array.of(0xfc),
      createTransportCipher(EncryptionMode.AesGcm, KEY),
      9,
    );
    r.sendToPeer(p1);
    await waitFor(() => got.length === 1);
    ch.setTransport(EncryptionMode.AesGcm, key2);
    r.sendToPeer(
      sealRtpPacket(
        { sequence: 2, timestamp: 960, ssrc: 77 },
        Uint8Array.of(0xfc),
        createTransportCipher(EncryptionMode.AesGcm, key2),
        1,
      ),
    );
    await waitFor(() => got.length === 2);
  });
});

describe('UdpMediaChannel IP discovery', () => {
  it('ignores a discovery reply carrying another SSRC and takes the one for ours', async () => {
    const { r, ch } = await setup();
    r.answerDiscovery = false;
    const found = ch.discoverAddress();
    await waitFor(() => r.discoveryRequests === 1);
    r.sendToPeer(buildIpDiscoveryResponse(SSRC + 1, '6.6.6.6', 666));
    await new Promise((resolve) => setTimeout(resolve, 30));
    r.sendToPeer(buildIpDiscoveryResponse(SSRC, '127.0.0.1', r.peer!.port));
    expect(await found).toEqual({ address: '127.0.0.1', port: r.peer!.port });
  });
});
