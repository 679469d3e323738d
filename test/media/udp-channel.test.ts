import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { PacingClock } from '../../src/media/clock.js';
import { openUdpChannel } from '../../src/media/udp-channel.js';
import type { ChannelTuning, UdpMediaChannel } from '../../src/media/udp-channel.js';
import { buildIpDiscoveryResponse } from '../../src/media/ip-discovery.js';
import { buildKeepalive } from '../../src/media/keepalive.js';
import { openRtpPacket, sealRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { RtpBatchWriter, readRtpBatch } from '../../src/media/rtp-batch.js';
import { EncryptionMode, UDP_RECEIVE_BUFFER_BYTES } from '../../src/protocol/constants.js';
import type { ReceivedRtp, RtpDropReason } from '../../src/media/media-engine.js';
import { isVoxcordError } from '../../src/errors.js';
import { FakeTimers } from './fake-timers.js';
import { Responder, waitFor } from './udp-responder.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { poll } from '../support/wait.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const SSRC = 0x1234_5678;

const cleanups = cleanupAfterEach();

async function setup(
  tuning: ChannelTuning = {},
  clock?: PacingClock,
): Promise<{ r: Responder; ch: UdpMediaChannel; clock: PacingClock }> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  const c = clock ?? new PacingClock();
  cleanups.push(() => c.close());
  const ch = await openUdpChannel({ ssrc: SSRC, serverHost: '127.0.0.1', serverPort: r.port }, c, tuning);
  cleanups.push(() => ch.close());
  return { r, ch, clock: c };
}

function decrypt(packets: Buffer[]): { seq: number; ts: number; ssrc: number; payload: number[] }[] {
  const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
  return packets.map((p) => {
    const opened = openRtpPacket(p, cipher);
    if ('drop' in opened) throw new Error(`drop ${opened.drop}`);
    return {
      seq: opened.info.sequence,
      ts: opened.info.timestamp,
      ssrc: opened.info.ssrc,
      payload: [...opened.payload],
    };
  });
}

describe('UdpMediaChannel on 127.0.0.1', () => {
  it('discovers its address and port', async () => {
    const { r, ch } = await setup();
    const found = await ch.discoverAddress();
    expect(found).toEqual({ address: '127.0.0.1', port: r.peer!.port });
    expect(r.discoveryRequests).toBe(1);
  });

  it('rejects with IP_DISCOVERY_FAILED after the configured attempts', async () => {
    const { r, ch } = await setup({ ipDiscoveryRetryMs: 40, ipDiscoveryAttempts: 3 });
    r.answerDiscovery = false;
    const err: unknown = await ch.discoverAddress().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isVoxcordError(err, 'IP_DISCOVERY_FAILED')).toBe(true);
    expect(r.discoveryRequests).toBe(3);
  });

  it('sends the enqueued frames encrypted, in order, then five silence frames and burstEnd', async () => {
    const { r, ch } = await setup();
    await ch.discoverAddress();
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    const frames = Array.from({ length: 10 }, (_, i) =>
      Uint8Array.from({ length: 20 + i }, (_, j) => (i * 31 + j) & 0xff),
    );
    for (const f of frames) ch.enqueue(f);
    expect(ch.queued).toBe(10);
    const burstEnd = new Promise<void>((resolve) => ch.on('burstEnd', resolve));
    ch.endBurst();
    await burstEnd;
    expect(ch.queued).toBe(0);
    await waitFor(() => r.rtp().length >= 15);
    const got = decrypt(r.rtp());
    expect(got).toHaveLength(15);
    expect(got.map((g) => g.payload)).toEqual([
      ...frames.map((f) => [...f]),
      ...Array.from({ length: 5 }, () => [0xf8, 0xff, 0xfe]),
    ]);
    for (let i = 1; i < got.length; i++) {
      expect(got[i]!.seq).toBe((got[i - 1]!.seq + 1) & 0xffff);
      expect(got[i]!.ts).toBe((got[i - 1]!.ts + 960) % 2 ** 32);
    }
    expect(got.every((g) => g.ssrc === SSRC)).toBe(true);
    const stats = await ch.stats();
    expect(stats.packetsSent).toBe(15);
    expect(stats.silenceFramesSent).toBe(5);
    expect(stats.bytesSent).toBe(r.rtp().reduce((n, p) => n + p.length, 0));
    // Nothing more is sent once the burst is over.
    await new Promise((res) => setTimeout(res, 80));
    expect(r.rtp()).toHaveLength(15);
  });

  it('holds frames until setTransport, and the nonce counter survives a key change', async () => {
    const { r, ch } = await setup();
    ch.enqueue(Uint8Array.of(1, 2, 3));
    ch.enqueue(Uint8Array.of(4, 5, 6));
    await new Promise((res) => setTimeout(res, 100));
    expect(r.rtp()).toHaveLength(0);
    expect(ch.queued).toBe(2);
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    await waitFor(() => r.rtp().length === 2);
    const counters = r.rtp().map((p) => p.readUInt32BE(p.length - 4));
    expect(counters).toEqual([1, 2]);
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    ch.enqueue(Uint8Array.of(7));
    await waitFor(() => r.rtp().length === 3);
    expect(r.rtp()[2]!.readUInt32BE(r.rtp()[2]!.length - 4)).toBe(3);
    expect(decrypt(r.rtp()).map((g) => g.payload)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('counts an underrun when the queue runs dry mid-stream, not after endBurst', async () => {
    const { r, ch } = await setup();
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    ch.enqueue(Uint8Array.of(1));
    ch.enqueue(Uint8Array.of(2));
    await waitFor(() => r.rtp().length === 2);
    // The producer fell behind: at least one tick passes with nothing queued.
    await new Promise((res) => setTimeout(res, 60));
    expect((await ch.stats()).underruns).toBe(1);
    // Every dry tick inside the burst is counted (Lavalink's "nulled"): 60 ms ≥ 2 ticks.
    expect(ch.sendCounts().emptyTicks).toBeGreaterThanOrEqual(2);
    ch.enqueue(Uint8Array.of(3));
    const burstEnd = new Promise<void>((resolve) => ch.on('burstEnd', resolve));
    ch.endBurst();
    await burstEnd;
    const emptyAtEnd = ch.sendCounts().emptyTicks;
    await new Promise((res) => setTimeout(res, 60));
    // After the burst's end, idle ticks are not gaps in the audio.
    expect(ch.sendCounts().emptyTicks).toBe(emptyAtEnd);
    // The queue emptying after a burst's silence is the end of a stream, not an underrun.
    const stats = await ch.stats();
    expect(stats.underruns).toBe(1);
    expect(stats.packetsSent).toBe(3 + 5);
  });

  it('records send lateness and sends media without per-packet callbacks or errors', async () => {
    // The clock's timers are fake so that lateness is the clock's, not this machine's: on a loaded
    // machine the real event loop may run a tick 20 ms late and rightly count it (see the stall test).
    const timers = new FakeTimers();
    timers.timeoutLateness = () => 3;
    const { r, ch } = await setup({}, new PacingClock({ timers }));
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    for (let i = 0; i < 5; i++) ch.enqueue(Uint8Array.of(i));
    timers.advance(100);
    await waitFor(() => r.rtp().length === 5);
    const stats = await ch.stats();
    expect(stats.sendLateness?.count).toBe(5);
    // Every send is measured against its tick's due time: 3 ms timers give 2-4 ms of lateness (the
    // clock wakes up to 1 ms early), none of it a late packet (more than a period).
    expect(stats.sendLateness?.maxMs).toBeGreaterThanOrEqual(2);
    expect(stats.sendLateness?.maxMs).toBeLessThan(5);
    expect(stats.latePackets).toBe(0);
    expect(decrypt(r.rtp()).map((g) => g.payload)).toEqual([[0], [1], [2], [3], [4]]);
  });

  it('sends discord.js keepalives: one at once, then every interval', async () => {
    const { r } = await setup({ keepaliveIntervalMs: 40 });
    await waitFor(() => r.keepalives().length >= 3);
    const counters = r.keepalives().map((k) => k.readUInt32LE(0));
    expect(counters.slice(0, 3)).toEqual([0, 1, 2]);
    expect(r.keepalives().every((k) => k.readUInt32LE(4) === 0)).toBe(true);
  });

  it('receives, decrypts and classifies incoming datagrams', async () => {
    const { r, ch } = await setup();
    await ch.discoverAddress();
    const got: ReceivedRtp[] = [];
    const drops: RtpDropReason[] = [];
    ch.on('rtp', (p) => got.push(p));
    ch.on('drop', (d) => drops.push(d));
    // Before op 4 there is no key.
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    r.sendToPeer(sealRtpPacket({ sequence: 5, timestamp: 960, ssrc: 77 }, Uint8Array.of(9), cipher, 1));
    await waitFor(() => drops.length === 1);
    expect(drops).toEqual(['no-key']);
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    r.sendToPeer(
      sealRtpPacket(
        { sequence: 6, timestamp: 1920, ssrc: 77 },
        Uint8Array.of(0xf8, 0xff, 0xfe),
        cipher,
        2,
        Uint8Array.of(0x10, 0xff, 0, 0),
      ),
    );
    r.sendToPeer(buildKeepalive(3)); // ignored
    r.sendToPeer(buildIpDiscoveryResponse(SSRC, '1.2.3.4', 5)); // late discovery reply: ignored
    const bad = Buffer.from(
      sealRtpPacket({ sequence: 7, timestamp: 2880, ssrc: 77 }, Uint8Array.of(1, 2), cipher, 3),
    );
    bad[13] = bad[13]! ^ 1;
    r.sendToPeer(bad);
    const rtcp = Buffer.alloc(40);
    rtcp[0] = 0x80;
    rtcp[1] = 0xc9;
    r.sendToPeer(rtcp);
    await waitFor(() => drops.length === 3);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ ssrc: 77, sequence: 6, timestamp: 1920 });
    expect([...got[0]!.payload]).toEqual([0xf8, 0xff, 0xfe]);
    expect(got[0]!.receivedAt).toBeGreaterThan(0);
    expect(drops).toEqual(['no-key', 'auth-failed', 'rtcp']);
    const stats = await ch.stats();
    expect(stats.packetsReceived).toBe(1);
    expect(stats.packetsDropped).toMatchObject({ 'no-key': 1, 'auth-failed': 1, rtcp: 1 });
  });

  it('with receiveInto, decrypts straight into the batch: payloads intact and in order, every drop counted, no rtp event', async () => {
    const { r, ch } = await setup();
    await ch.discoverAddress();
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    const batch = new RtpBatchWriter();
    const added: number[] = [];
    const drops: RtpDropReason[] = [];
    ch.receiveInto(batch, 7, (receivedAt) => added.push(receivedAt));
    let events = 0;
    ch.on('rtp', () => events++);
    ch.on('drop', (d) => drops.push(d));
    const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
    const packet = (
      ssrc: number,
      sequence: number,
      counter: number,
      payload: number[],
      ext?: number[],
    ): Buffer =>
      sealRtpPacket(
        { sequence, timestamp: sequence * 960, ssrc },
        Uint8Array.from(payload),
        cipher,
        counter,
        ext && Uint8Array.from(ext),
      );
    const first = packet(77, 1, 1, [1, 2, 3], [0x10, 0xff, 0, 0]);
    const bad = Buffer.from(packet(77, 3, 3, [6]));
    bad[13] = bad[13]! ^ 1;
    // Two senders interleaved; the replays come right after their sender's packet (the cached
    // window) and after another sender's (the looked-up one).
    for (const d of [
      first,
      packet(78, 1, 2, [4, 5]),
      packet(78, 1, 2, [4, 5]),
      first,
      bad,
      packet(
        77,
        2,
        4,
        Array.from({ length: 200 }, (_, i) => i),
      ),
    ])
      r.sendToPeer(d);
    await waitFor(() => added.length + drops.length === 6);
    expect(drops).toEqual(['replay', 'replay', 'auth-failed']);
    expect(events).toBe(0);
    expect(added.every((t) => t > 0)).toBe(true);
    const got: [number, ReceivedRtp][] = [];
    readRtpBatch(batch.take()!, 0, (id, p) => got.push([id, p]));
    expect(got.map(([id, p]) => [id, p.ssrc, p.sequence, p.timestamp, [...p.payload], p.receivedAt])).toEqual(
      [
        [7, 77, 1, 960, [1, 2, 3], added[0]],
        [7, 78, 1, 960, [4, 5], added[1]],
        [7, 77, 2, 1920, Array.from({ length: 200 }, (_, i) => i), added[2]],
      ],
    );
    const stats = await ch.stats();
    expect(stats.packetsReceived).toBe(3);
    expect(stats.packetsDropped).toMatchObject({ replay: 2, 'auth-failed': 1 });
  });

  it('rejects invalid options with INVALID_ARGUMENT', async () => {
    const clock = new PacingClock();
    cleanups.push(() => clock.close());
    const err: unknown = await openUdpChannel(
      { ssrc: -1, serverHost: '127.0.0.1', serverPort: 9 },
      clock,
    ).catch((e: unknown) => e);
    expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('close releases the clock slot and stops sending; discovery in flight rejects', async () => {
    const { r, ch, clock } = await setup({ keepaliveIntervalMs: 20 });
    r.answerDiscovery = false;
    const pending = ch.discoverAddress();
    ch.close();
    await expect(pending).rejects.toMatchObject({ code: 'DESTROYED' });
    expect(clock.stats().slots).toBe(0);
    // Let datagrams sent before close arrive, then expect silence.
    await new Promise((res) => setTimeout(res, 20));
    const n = r.datagrams.length;
    await new Promise((res) => setTimeout(res, 60));
    expect(r.datagrams.length).toBe(n);
    expect(ch.enqueue(Uint8Array.of(1))).toBe(false);
  });
});

describe('UdpMediaChannel timing on a fake clock', () => {
  it('advances the timestamp through pauses; sequence only for sent packets', async () => {
    const timers = new FakeTimers();
    const { r, ch } = await setup({}, new PacingClock({ timers }));
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    ch.enqueue(Uint8Array.of(0xaa));
    timers.advance(10); // tick 0
    timers.advance(200); // ticks 1..10: nothing queued, nothing sent
    ch.enqueue(Uint8Array.of(0xbb));
    timers.advance(20); // tick 11
    await waitFor(() => r.rtp().length === 2);
    const [a, b] = decrypt(r.rtp());
    expect(a!.payload).toEqual([0xaa]);
    expect(b!.payload).toEqual([0xbb]);
    expect(b!.seq).toBe((a!.seq + 1) & 0xffff);
    expect(b!.ts).toBe((a!.ts + 11 * 960) % 2 ** 32);
  });

  it('re-sends a lost IP discovery request after 250 ms, 12 times in all', async () => {
    const timers = new FakeTimers();
    const { r, ch } = await setup({}, new PacingClock({ timers }));
    r.answerDiscovery = false;
    const result = ch.discoverAddress().then(
      () => null,
      (e: unknown) => e,
    );
    timers.advance(10); // the first request
    await waitFor(() => r.discoveryRequests === 1);
    timers.advance(220); // 11 more ticks: no answer yet, no second request
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.discoveryRequests).toBe(1);
    timers.advance(40); // 12 ticks (250 ms) after the first: the second request
    await waitFor(() => r.discoveryRequests === 2);
    for (let i = 0; i < 12; i++) timers.advance(250); // 10 more requests, then the failure
    await waitFor(() => r.discoveryRequests === 12);
    expect(isVoxcordError(await result, 'IP_DISCOVERY_FAILED')).toBe(true);
    expect(r.discoveryRequests).toBe(12);
  });

  it('costs its clock no wake-up per 20 ms while it only receives; keepalives and discovery retries keep their pace', async () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers });
    const { r, ch } = await setup({ keepaliveIntervalMs: 1000 }, clock);
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    timers.advance(5010);
    await waitFor(() => r.keepalives().length === 6); // one at once, then one per second
    // About one wake-up per keepalive (and one as the channel falls asleep), not 250.
    expect(clock.stats().timerWakeups).toBeLessThanOrEqual(12);
    // IP discovery on the sleeping channel: the retry comes 250 ms after the request, not at the next tick.
    r.answerDiscovery = false;
    ch.discoverAddress().catch(() => undefined);
    timers.advance(10);
    await waitFor(() => r.discoveryRequests === 1);
    timers.advance(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.discoveryRequests).toBe(1);
    timers.advance(60);
    await waitFor(() => r.discoveryRequests === 2);
  });

  it('after a stall sends the due packets back to back and counts them late', async () => {
    const timers = new FakeTimers();
    const { r, ch } = await setup({}, new PacingClock({ timers }));
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    timers.advance(30);
    for (let i = 0; i < 8; i++) ch.enqueue(Uint8Array.of(i));
    timers.block(100);
    timers.advance(1);
    await waitFor(() => r.rtp().length >= 5);
    const stats = await ch.stats();
    expect(stats.packetsSent).toBe(r.rtp().length);
    expect(stats.latePackets).toBeGreaterThanOrEqual(4);
    const got = decrypt(r.rtp());
    for (let i = 1; i < got.length; i++) expect(got[i]!.ts).toBe((got[i - 1]!.ts + 960) % 2 ** 32);
  });
});

/** Linux's cap on SO_RCVBUF, or undefined where /proc does not say (the request is then not checked). */
function receiveBufferCap(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    return undefined;
  }
}

describe('UdpMediaChannel receive buffer', () => {
  const cap = receiveBufferCap();
  // Where the kernel caps SO_RCVBUF below the request (often 208 KiB), the larger buffer cannot be had.
  it.skipIf(cap === undefined || cap < UDP_RECEIVE_BUFFER_BYTES)(
    'keeps a burst of 1000 voice datagrams that arrive while its thread is busy (100 speakers for 200 ms)',
    async () => {
      const { r, ch } = await setup();
      await ch.discoverAddress();
      ch.setTransport(EncryptionMode.AesGcm, KEY);
      let received = 0;
      ch.on('rtp', () => received++);
      const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
      const payload = Uint8Array.from({ length: 120 }, (_, i) => i);
      // Sent in one synchronous loop: loopback delivers each datagram into the channel's socket
      // queue during send, and nothing reads it until this thread is free again.
      for (let k = 0; k < 1000; k++) {
        const ssrc = 1000 + (k % 100);
        const sequence = Math.floor(k / 100);
        r.sendToPeer(sealRtpPacket({ sequence, timestamp: sequence * 960, ssrc }, payload, cipher, k + 1));
      }
      // All of them are queued already: reading them takes milliseconds, so a short wait is enough.
      await poll(() => received === 1000, 2_000);
      expect(received).toBe(1000);
      expect((await ch.stats()).packetsReceived).toBe(1000);
    },
  );
});
