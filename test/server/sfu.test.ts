import { afterEach, describe, expect, it } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import type { EncryptionMode } from '../../src/protocol/constants.js';
import { openRtpPacket, sealRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { buildKeepalive } from '../../src/media/keepalive.js';
import { startVoiceServer } from '../../src/server/index.js';
import type { ServerEvent, VoiceServer, VoiceServerOptions } from '../../src/server/index.js';
import { UdpFaultInjector, deriveSeed } from '../../src/server/faults.js';
import { CHANNEL, Cleanup, GUILD, join, keyFor, speak, until } from './helpers.js';
import type { Joined } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(options: VoiceServerOptions = {}): Promise<VoiceServer> {
  const server = await startVoiceServer({ ssrcStart: 1000, seed: 7, keyFor, ...options });
  cleanup.add(() => server.stop());
  return server;
}

const OPUS = Buffer.from('fc ff fe 01 02 03 04 05 06 07'.replace(/ /g, ''), 'hex');

function packet(from: Joined, sequence: number, payload: Uint8Array = OPUS, counter = sequence): Buffer {
  return sealRtpPacket(
    { sequence, timestamp: sequence * 960, ssrc: from.ssrc },
    payload,
    from.cipher,
    counter,
  );
}

/** Two joined clients; the sender has sent op 5 and the receiver saw it. */
async function pair(
  server: VoiceServer,
  modes: [EncryptionMode, EncryptionMode] = ['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'],
): Promise<[Joined, Joined]> {
  const alice = await join(server, cleanup, '1', { mode: modes[0] });
  const bob = await join(server, cleanup, '2', { mode: modes[1] });
  await alice.ws.expect(VoiceOpcode.ClientsConnect);
  speak(alice);
  await bob.ws.expect(VoiceOpcode.ClientsConnect);
  await bob.ws.expect(VoiceOpcode.Speaking);
  return [alice, bob];
}

describe('SFU forwarding', () => {
  for (const modes of [
    ['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'],
    ['aead_xchacha20_poly1305_rtpsize', 'aead_aes256_gcm_rtpsize'],
  ] as [EncryptionMode, EncryptionMode][]) {
    it(`re-encrypts ${modes[0]} -> ${modes[1]} with the receiver's key, same seq/ts/ssrc`, async () => {
      const server = await start();
      const [alice, bob] = await pair(server, modes);
      await alice.udp.send(packet(alice, 500, OPUS, 77), alice.udpPort);
      const got = await bob.udp.next();
      // Per-receiver nonce counter starts at 1, independent of the sender's 77.
      expect(got.readUInt32BE(got.length - 4)).toBe(1);
      // Not decryptable with the sender's key: it really was re-encrypted.
      expect('drop' in openRtpPacket(got, alice.cipher)).toBe(true);
      const opened = openRtpPacket(got, bob.cipher);
      if ('drop' in opened) throw new Error(`dropped: ${opened.drop}`);
      expect(Buffer.from(opened.payload).equals(OPUS)).toBe(true);
      expect(opened.info).toMatchObject({
        sequence: 500,
        timestamp: 480_000,
        ssrc: alice.ssrc,
        extension: false,
      });
      // Sender does not get its own packet back.
      expect(await alice.udp.quiet(50)).toBe(true);

      await alice.udp.send(packet(alice, 501, OPUS, 78), alice.udpPort);
      const second = await bob.udp.next();
      expect(second.readUInt32BE(second.length - 4)).toBe(2);
      const p = server.participants(GUILD);
      expect(p.find((x) => x.userId === '1')).toMatchObject({ packetsReceived: 2, packetsForwarded: 2 });
      expect(p.find((x) => x.userId === '2')).toMatchObject({ packetsDelivered: 2 });
    });
  }

  it('forwards to every other participant of the call only', async () => {
    const server = await start();
    const [alice, bob] = await pair(server);
    const carol = await join(server, cleanup, '3');
    const other = await join(server, cleanup, '4', { channelId: '999' });
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    for (const receiver of [bob, carol]) {
      const opened = openRtpPacket(await receiver.udp.next(), receiver.cipher);
      expect('drop' in opened ? opened.drop : Buffer.from(opened.payload).equals(OPUS)).toBe(true);
    }
    expect(await other.udp.quiet(80)).toBe(true);
  });

  it("logs a session's first authenticated media packet once", async () => {
    const events: ServerEvent[] = [];
    const server = await start({ log: (e) => events.push(e) });
    const [alice] = await pair(server);
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    await alice.udp.send(packet(alice, 2), alice.udpPort);
    await until(() => server.participants(GUILD).find((p) => p.userId === '1')?.packetsReceived === 2);
    expect(events.filter((e) => e.type === 'first-media')).toEqual([
      { type: 'first-media', guildId: GUILD, channelId: CHANNEL, userId: '1', ssrc: alice.ssrc },
    ]);
  });

  it('forwards nothing to a deaf participant, which still sends', async () => {
    const server = await start();
    const [alice, bob] = await pair(server);
    const deaf = await join(server, cleanup, '3', { deaf: true });
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    expect('drop' in openRtpPacket(await bob.udp.next(), bob.cipher)).toBe(false);
    expect(await deaf.udp.quiet(80)).toBe(true);
    // Its own media still reaches the others.
    await bob.ws.expect(VoiceOpcode.ClientsConnect);
    speak(deaf);
    await bob.ws.expect(VoiceOpcode.Speaking);
    await deaf.udp.send(packet(deaf, 1), deaf.udpPort);
    const opened = openRtpPacket(await bob.udp.next(), bob.cipher);
    expect('drop' in opened ? opened.drop : opened.info.ssrc).toBe(deaf.ssrc);
  });

  it('adds a 0xBEDE extension when rtpExtension is on', async () => {
    const server = await start({ rtpExtension: true });
    const [alice, bob] = await pair(server);
    await alice.udp.send(packet(alice, 9), alice.udpPort);
    const got = await bob.udp.next();
    expect(got[0]).toBe(0x90);
    expect(got.subarray(12, 16).toString('hex')).toBe('bede0001');
    const opened = openRtpPacket(got, bob.cipher);
    if ('drop' in opened) throw new Error(opened.drop);
    expect(Buffer.from(opened.payload).equals(OPUS)).toBe(true);
    expect(opened.info.sequence).toBe(9);
  });

  it('drops media before the sender sent op 5', async () => {
    const server = await start();
    const alice = await join(server, cleanup, '1');
    const bob = await join(server, cleanup, '2');
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    expect(await bob.udp.quiet(80)).toBe(true);
    expect(server.sfuStats.dropped['no-speaking']).toBe(1);
    speak(alice);
    await bob.ws.expect(VoiceOpcode.ClientsConnect);
    await bob.ws.expect(VoiceOpcode.Speaking);
    await alice.udp.send(packet(alice, 2), alice.udpPort);
    expect((await bob.udp.next()).readUInt16BE(2)).toBe(2);
  });

  it('ignores keepalives, garbage, RTCP, unknown SSRCs and forged packets, and keeps working', async () => {
    const server = await start();
    const [alice, bob] = await pair(server);
    const forged = sealRtpPacket(
      { sequence: 1, timestamp: 0, ssrc: alice.ssrc },
      OPUS,
      createTransportCipher('aead_aes256_gcm_rtpsize', new Uint8Array(32)),
      1,
    );
    const rtcp = Buffer.from(packet(alice, 3));
    rtcp[1] = 0xc9;
    const unknown = Buffer.from(packet(alice, 4));
    unknown.writeUInt32BE(4242, 8);
    const bad: Buffer[] = [
      buildKeepalive(0),
      buildKeepalive(1),
      Buffer.alloc(0),
      Buffer.from([0x80]),
      Buffer.alloc(74, 0xff),
      Buffer.from('hello world, this is not rtp at all'),
      Buffer.concat([Buffer.from([0x80, 0x78]), Buffer.alloc(20)]),
      forged,
      rtcp,
      unknown,
      Buffer.from([0x9f, 0x78, 0, 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0xbe, 0xde, 0xff, 0xff]),
    ];
    for (const datagram of bad) await bob.udp.send(datagram, alice.udpPort);
    await alice.udp.send(forged, alice.udpPort);
    // 2 IP discoveries, then the bad datagrams and the forged one.
    await until(() => server.sfuStats.datagrams === 2 + bad.length + 1);
    expect(await bob.udp.quiet(50)).toBe(true);
    expect(await alice.udp.quiet(1)).toBe(true);
    const stats = server.sfuStats;
    expect(stats.keepalives).toBe(2);
    expect(stats.dropped['auth-failed']).toBe(2);
    expect(stats.dropped['rtcp']).toBe(1);
    expect(stats.dropped['unknown-ssrc']).toBeGreaterThanOrEqual(1);
    expect(stats.forwarded).toBe(0);
    await alice.udp.send(packet(alice, 10), alice.udpPort);
    expect((await bob.udp.next()).readUInt16BE(2)).toBe(10);
  });

  it('never forwards frames ending in FA FA to clients with max DAVE version 0', async () => {
    const server = await start();
    const alice = await join(server, cleanup, '1', { maxDave: 1 });
    const bob = await join(server, cleanup, '2', { maxDave: 0 });
    const carol = await join(server, cleanup, '3', { maxDave: 1 });
    speak(alice);
    await until(() => server.participants(GUILD)[0]?.speaking === 1);
    const daveFrame = Buffer.concat([OPUS, Buffer.alloc(11, 1), Buffer.from([0xfa, 0xfa])]);
    await alice.udp.send(packet(alice, 1, daveFrame), alice.udpPort);
    await alice.udp.send(packet(alice, 2, OPUS), alice.udpPort);
    const toCarol = [await carol.udp.next(), await carol.udp.next()].map((p) => p.readUInt16BE(2));
    expect(toCarol).toEqual([1, 2]);
    const toBob = await bob.udp.next();
    expect(toBob.readUInt16BE(2)).toBe(2);
    expect(await bob.udp.quiet(50)).toBe(true);
    expect(server.participants(GUILD).find((p) => p.userId === '2')?.daveFramesWithheld).toBe(1);
    // Counted once per received DAVE frame, not per receiver.
    expect(server.sfuStats.daveFrames).toBe(1);
  });
});

describe('SFU faults', () => {
  async function run(seed: number, udp: VoiceServerOptions['faults']): Promise<number[]> {
    const server = await startVoiceServer({ ssrcStart: 1000, seed, keyFor, faults: udp });
    cleanup.add(() => server.stop());
    const [alice, bob] = await pair(server);
    const seqs: number[] = [];
    for (let i = 1; i <= 30; i++) await alice.udp.send(packet(alice, i), alice.udpPort);
    for (;;) {
      try {
        seqs.push((await bob.udp.next(250)).readUInt16BE(2));
      } catch {
        break;
      }
    }
    await server.stop();
    return seqs;
  }

  /** The same decisions computed without sockets, for receiver SSRC 1001. */
  function predict(seed: number, faults: NonNullable<VoiceServerOptions['faults']>['udp']): number[] {
    const injector = new UdpFaultInjector(deriveSeed(seed, 1001));
    const out: number[] = [];
    for (let i = 1; i <= 30; i++) {
      const b = Buffer.alloc(24);
      b.writeUInt16BE(i, 2);
      for (const p of injector.process(b, faults).send) out.push(p.readUInt16BE(2));
    }
    const held = injector.takeHeld();
    if (held) out.push(held.readUInt16BE(2));
    return out;
  }

  it('drop with a seed loses the same packets every run', async () => {
    const faults = { udp: { drop: 0.3 } };
    const first = await run(11, faults);
    expect(first.length).toBeGreaterThan(5);
    expect(first.length).toBeLessThan(30);
    expect(first).toEqual(predict(11, faults.udp));
    expect(await run(11, faults)).toEqual(first);
    expect(await run(12, faults)).not.toEqual(first);
  });

  it('duplicate=1 sends every packet twice; reorder=1 swaps pairs', async () => {
    expect(await run(3, { udp: { duplicate: 1 } })).toEqual(
      [1, 1, 2, 2, 3, 3].concat(Array.from({ length: 27 }, (_, i) => [i + 4, i + 4]).flat()),
    );
    const reordered = await run(3, { udp: { reorder: 1 } });
    expect(reordered.slice(0, 6)).toEqual([2, 1, 4, 3, 6, 5]);
    expect([...reordered].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('mixed faults follow the seeded pattern', async () => {
    const faults = { udp: { drop: 0.2, duplicate: 0.2, reorder: 0.2 } };
    const got = await run(5, faults);
    expect(got).toEqual(predict(5, faults.udp));
  });

  it('corrupt=1 makes every forwarded packet fail authentication at the receiver', async () => {
    const server = await start({ faults: { udp: { corrupt: 1 } } });
    const [alice, bob] = await pair(server);
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    const got = await bob.udp.next();
    expect(openRtpPacket(got, bob.cipher)).toEqual({ drop: 'auth-failed' });
    server.setFaults({});
    await alice.udp.send(packet(alice, 2), alice.udpPort);
    expect('payload' in openRtpPacket(await bob.udp.next(), bob.cipher)).toBe(true);
  });

  it('delay still delivers every packet in order', async () => {
    const seqs = await run(1, { udp: { delayMs: 20 } });
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});
