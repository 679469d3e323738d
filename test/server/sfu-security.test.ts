/**
 * The local SFU against a hostile peer on the same network: nobody can take another participant's
 * downstream with IP discovery, and replayed packets are neither forwarded nor a rebind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TRANSPORT_REPLAY_WINDOW, VoiceOpcode } from '../../src/protocol/constants.js';
import { buildIpDiscoveryRequest, parseIpDiscoveryResponse } from '../../src/media/ip-discovery.js';
import { openRtpPacket, sealRtpPacket } from '../../src/media/rtp-packet.js';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer } from '../../src/server/index.js';
import { CHANNEL, Cleanup, GUILD, RawUdpClient, join, keyFor, speak, until } from './helpers.js';
import type { Joined } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const OPUS = Buffer.from('fc0102030405', 'hex');

async function start(): Promise<VoiceServer> {
  const server = await startVoiceServer({ ssrcStart: 1000, seed: 7, keyFor });
  cleanup.add(() => server.stop());
  return server;
}

function packet(from: Joined, counter: number): Buffer {
  return sealRtpPacket(
    { sequence: counter, timestamp: counter * 960, ssrc: from.ssrc },
    OPUS,
    from.cipher,
    counter,
  );
}

/** Alice and bob in a call, both speaking, so media flows both ways. */
async function call(server: VoiceServer): Promise<[Joined, Joined]> {
  const alice = await join(server, cleanup, '1');
  const bob = await join(server, cleanup, '2');
  await alice.ws.expect(VoiceOpcode.ClientsConnect);
  speak(alice);
  speak(bob);
  await until(() => server.participants(GUILD, CHANNEL).every((p) => p.speaking === 1));
  return [alice, bob];
}

async function attacker(): Promise<RawUdpClient> {
  const udp = await RawUdpClient.open();
  cleanup.add(() => udp.close());
  return udp;
}

/** Datagrams that arrive within `ms` (the inbox keeps them until read). */
async function drain(udp: RawUdpClient, ms = 150): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (;;) {
    try {
      out.push(await udp.next(ms));
    } catch {
      return out;
    }
  }
}

describe('SFU: IP discovery cannot hijack a downstream', () => {
  it("a discovery request with bob's SSRC from another address is answered, but bob keeps his audio", async () => {
    const server = await start();
    const [alice, bob] = await call(server);
    const mallory = await attacker();
    await mallory.send(buildIpDiscoveryRequest(bob.ssrc), bob.udpPort);
    // Answered with mallory's own address: discovery itself is harmless.
    const reply = parseIpDiscoveryResponse(await mallory.next());
    expect(reply).toMatchObject({ ssrc: bob.ssrc, port: mallory.port });

    for (let i = 1; i <= 50; i++) await alice.udp.send(packet(alice, i), alice.udpPort);
    const toBob = await drain(bob.udp);
    const toMallory = await drain(mallory, 20);
    expect(toBob).toHaveLength(50);
    expect(toBob.every((p) => 'payload' in openRtpPacket(p, bob.cipher))).toBe(true);
    expect(toMallory).toHaveLength(0);
    expect(server.participants(GUILD).find((p) => p.userId === '2')?.udpAddress).toEqual({
      address: '127.0.0.1',
      port: bob.udp.port,
    });
  });

  it('a NAT rebinding (fresh authenticated media from a new address) still moves the downstream', async () => {
    const server = await start();
    const [alice, bob] = await call(server);
    const moved = await attacker(); // bob's new socket after a NAT rebinding
    await moved.send(packet(bob, 1), bob.udpPort);
    await alice.udp.next(); // bob's packet reached alice
    await until(
      () => server.participants(GUILD).find((p) => p.userId === '2')?.udpAddress?.port === moved.port,
    );
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    expect(await moved.next()).toBeInstanceOf(Buffer);
    expect(await bob.udp.quiet(50)).toBe(true);
  });
});

describe('SFU: replay window on the transport nonce', () => {
  it('drops and counts a replayed packet, from the same or another address, and never rebinds on it', async () => {
    const server = await start();
    const [alice, bob] = await call(server);
    const mallory = await attacker();
    const captured = packet(alice, 7);
    await alice.udp.send(captured, alice.udpPort);
    expect(await bob.udp.next()).toBeInstanceOf(Buffer);

    await alice.udp.send(captured, alice.udpPort); // same address
    await mallory.send(captured, alice.udpPort); // another address
    await until(() => server.sfuStats.dropped['replay'] === 2);
    expect(await bob.udp.quiet(80)).toBe(true);
    const aliceInfo = server.participants(GUILD).find((p) => p.userId === '1');
    expect(aliceInfo).toMatchObject({ packetsReceived: 1, packetsReplayed: 2 });
    expect(aliceInfo?.udpAddress).toEqual({ address: '127.0.0.1', port: alice.udp.port });

    // Bob's audio still goes to alice, not to the replayer.
    for (let i = 1; i <= 20; i++) await bob.udp.send(packet(bob, i), bob.udpPort);
    expect(await drain(alice.udp)).toHaveLength(20);
    expect(await drain(mallory, 20)).toHaveLength(0);
  });

  it('accepts reordered packets inside the window once each, and drops those behind it', async () => {
    const server = await start();
    const [alice, bob] = await call(server);
    const top = TRANSPORT_REPLAY_WINDOW + 100;
    for (const counter of [5, 3, 4, top, 101, 101, 100])
      await alice.udp.send(packet(alice, counter), alice.udpPort);
    const seqs = (await drain(bob.udp)).map((p) => p.readUInt16BE(2));
    // 101 is the oldest counter the window still holds behind `top`; 100 is out of it.
    expect(seqs).toEqual([5, 3, 4, top, 101]);
    expect(server.sfuStats.dropped['replay']).toBe(2);
  });

  it('a new op 1 (new transport set-up) starts a new window', async () => {
    const server = await start();
    const [alice, bob] = await call(server);
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    await bob.udp.next();
    alice.ws.send({
      op: VoiceOpcode.SelectProtocol,
      d: { protocol: 'udp', data: { address: '127.0.0.1', port: alice.udp.port, mode: alice.mode } },
    });
    while ((await alice.ws.next()).message.op !== VoiceOpcode.SessionDescription);
    await alice.udp.send(packet(alice, 1), alice.udpPort);
    expect((await bob.udp.next()).readUInt16BE(2)).toBe(1);
  });
});
