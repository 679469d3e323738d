/**
 * The DAVE delivery service wired into the real local voice server: raw websocket clients whose MLS
 * side is @snazzah/davey (test/server/dave/davey-harness.ts SimClient), over 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { decodeServerFrame, encodeClientMessage } from '../../src/protocol/voice-messages.js';
import type { ServerMessage } from '../../src/protocol/voice-messages.js';
import { openRtpPacket, sealRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import type { TransportCipher } from '../../src/media/transport-cipher.js';
import { startVoiceServer } from '../../src/server/index.js';
import { createDaveServiceFactory } from '../../src/server/dave/adapter.js';
import type { DaveCallAdapter } from '../../src/server/dave/adapter.js';
import type { ServerEvent, VoiceServer, VoiceServerOptions } from '../../src/server/index.js';
import { runServeCommand } from '../../src/cli/serve.js';
import { CHANNEL, Cleanup, GUILD, RawUdpClient, identifyPayload, keyFor, until } from './helpers.js';
import { SimClient } from './dave/davey-harness.js';
import type { ClientMessage as DaveClientMessage } from './dave/davey-harness.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const A = '158049329150427136';
const B = '158049329150427137';
const C = '158049329150427138';
const V = '158049329150427140';
const OPUS = Buffer.from('0dc5aedd5bdc3f20be5697e54dd1f437', 'hex');
const MLS_WAIT_MS = 8000;

async function start(options: VoiceServerOptions = {}): Promise<VoiceServer> {
  const server = await startVoiceServer({ seed: 5, keyFor, daveTransitionTimeoutMs: 300, ...options });
  cleanup.add(() => server.stop());
  return server;
}

/** A voice client: raw websocket signalling, davey for MLS, an optional UDP socket for media. */
class DaveClient {
  readonly sim: SimClient;
  readonly received: ServerMessage[] = [];
  /** Exceptions from davey while handling a server message (must stay empty). */
  readonly errors: string[] = [];
  /** Test hook: never send op 23 (the server must execute on its timeout). */
  dropReady = false;
  version: number | undefined;
  ssrc = 0;
  serverUdpPort = 0;
  cipher: TransportCipher | undefined;
  readonly closed: Promise<{ code: number }>;
  private readonly described: Promise<void>;

  private constructor(
    readonly userId: string,
    readonly ws: WebSocket,
    readonly udp: RawUdpClient | undefined,
    maxDave: number,
  ) {
    this.sim = new SimClient(userId, maxDave, CHANNEL);
    let resolveDescribed = (): void => {};
    this.described = new Promise((resolve) => (resolveDescribed = resolve));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      this.onFrame(isBinary ? buf : buf.toString('utf8'));
      if (this.version !== undefined) resolveDescribed();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve({ code })));
    ws.on('error', () => {});
  }

  /** Connects, identifies and selects the protocol; resolves after op 4 (or when the socket closes). */
  static async join(
    server: VoiceServer,
    userId: string,
    options: { maxDave?: number; udp?: boolean } = {},
  ): Promise<DaveClient> {
    const maxDave = options.maxDave ?? 1;
    const udp = options.udp ? await RawUdpClient.open() : undefined;
    if (udp) cleanup.add(() => udp.close());
    const allocation = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId });
    const ws = new WebSocket(`${server.wsUrl}/?v=8`);
    cleanup.add(() => ws.terminate());
    const client = new DaveClient(userId, ws, udp, maxDave); // listens before Hello can arrive
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify(identifyPayload(allocation, maxDave)));
    await Promise.race([client.described, client.closed]);
    return client;
  }

  ops(): number[] {
    return this.received.map((m) => (m.op === 'unknown' ? -1 : m.op));
  }

  /** Index of the last message with `op` at or after `from`, -1 if none. */
  indexOf(op: number, from = 0): number {
    return this.ops().indexOf(op, from);
  }

  speak(): void {
    this.ws.send(JSON.stringify({ op: VoiceOpcode.Speaking, d: { speaking: 1, delay: 0, ssrc: this.ssrc } }));
  }

  async sendRtp(sequence: number, payload: Uint8Array): Promise<void> {
    const packet = sealRtpPacket(
      { sequence, timestamp: sequence * 960, ssrc: this.ssrc },
      payload,
      this.cipher!,
      sequence,
    );
    await this.udp!.send(packet, this.serverUdpPort);
  }

  /** Opus payload of the next datagram, with its RTP sequence. */
  async nextMedia(): Promise<{ sequence: number; payload: Buffer }> {
    const opened = openRtpPacket(await this.udp!.next(), this.cipher!);
    if ('drop' in opened) throw new Error(`undecryptable datagram: ${opened.drop}`);
    return { sequence: opened.info.sequence, payload: opened.payload };
  }

  private onFrame(raw: string | Buffer): void {
    const m = decodeServerFrame(raw);
    this.received.push(m);
    try {
      switch (m.op) {
        case VoiceOpcode.Ready:
          this.ssrc = m.d.ssrc;
          this.serverUdpPort = m.d.port;
          this.ws.send(
            JSON.stringify({
              op: VoiceOpcode.SelectProtocol,
              d: {
                protocol: 'udp',
                data: { address: '127.0.0.1', port: this.udp?.port ?? 9, mode: 'aead_aes256_gcm_rtpsize' },
              },
            }),
          );
          return;
        case VoiceOpcode.SessionDescription:
          this.version = m.d.dave_protocol_version;
          this.cipher = createTransportCipher('aead_aes256_gcm_rtpsize', Uint8Array.from(m.d.secret_key));
          return this.reply(this.sim.onSessionDescription(this.version));
        case VoiceOpcode.ClientsConnect:
          for (const u of m.d.user_ids) this.sim.recognized.add(u);
          return;
        case VoiceOpcode.ClientDisconnect:
          this.sim.recognized.delete(m.d.user_id);
          return;
        case VoiceOpcode.DavePrepareTransition:
        case VoiceOpcode.DaveExecuteTransition:
        case VoiceOpcode.DavePrepareEpoch:
        case VoiceOpcode.DaveMlsExternalSender:
        case VoiceOpcode.DaveMlsProposals:
        case VoiceOpcode.DaveMlsAnnounceCommitTransition:
        case VoiceOpcode.DaveMlsWelcome:
          return this.reply(this.sim.onMessage(m));
        default:
          return;
      }
    } catch (error) {
      this.errors.push(`op ${String(m.op)}: ${(error as Error).message}`);
    }
  }

  private reply(messages: DaveClientMessage[]): void {
    for (const m of messages) {
      if (this.dropReady && m.op === VoiceOpcode.DaveTransitionReady) continue;
      this.ws.send(encodeClientMessage(m));
    }
  }
}

/** All at the same epoch with equal authenticators and privacy codes, sending with DAVE. */
function agreeAt(clients: DaveClient[], epoch: bigint): boolean {
  const sessions = clients.map((c) => c.sim.session);
  if (sessions.some((s) => s === undefined || s.epoch !== epoch)) return false;
  if (clients.some((c) => c.sim.executedVersion !== 1)) return false;
  const auths = new Set(clients.map((c) => c.sim.authenticator));
  const codes = new Set(sessions.map((s) => s!.voicePrivacyCode));
  return auths.size === 1 && !auths.has(undefined) && codes.size === 1;
}

/** Every member's frame decrypts at every other member. */
function expectMediaWorks(clients: DaveClient[]): void {
  for (const from of clients) {
    const frame = from.sim.session!.encryptOpus(OPUS);
    for (const to of clients) {
      if (to === from) continue;
      expect(to.sim.session!.decrypt(from.userId, 0, frame).equals(OPUS)).toBe(true);
    }
  }
}

function daveEvents(events: ServerEvent[], reason?: string): ServerEvent[] {
  return events.filter((e) => e.type === 'dave' && (reason === undefined || e.reason === reason));
}

async function pairAtEpoch1(
  server: VoiceServer,
  options: { udp?: boolean } = {},
): Promise<[DaveClient, DaveClient]> {
  const a = await DaveClient.join(server, A, options);
  const b = await DaveClient.join(server, B, options);
  await until(() => agreeAt([a, b], 1n), MLS_WAIT_MS);
  return [a, b];
}

describe('DAVE through the local voice server', () => {
  it('is on by default: two davey clients form the group, a third joins, one leaves', async () => {
    const events: ServerEvent[] = [];
    const server = await start({ log: (e) => events.push(e) });

    const a = await DaveClient.join(server, A);
    expect(a.version).toBe(1);
    // A garbage key package is refused, counted and logged; the call carries on.
    a.ws.send(Buffer.from([VoiceOpcode.DaveMlsKeyPackage, 1, 2, 3]));
    await until(() => events.some((e) => e.type === 'dave-reject'));
    const rejection = events.find((e) => e.type === 'dave-reject')!;
    expect(rejection).toMatchObject({ userId: A, op: 26, guildId: GUILD, channelId: CHANNEL });
    expect(rejection.reason).toBe('wrong-version'); // 01 02 read as MLS version 258

    const b = await DaveClient.join(server, B);
    expect(b.version).toBe(1);
    await until(() => agreeAt([a, b], 1n), MLS_WAIT_MS);
    // Op 25 comes after op 4 and op 11 (the newcomer learns who is there first).
    expect(b.indexOf(VoiceOpcode.ClientsConnect)).toBeLessThan(b.indexOf(VoiceOpcode.DaveMlsExternalSender));
    expect(b.indexOf(VoiceOpcode.SessionDescription)).toBeLessThan(b.indexOf(VoiceOpcode.ClientsConnect));
    await until(() => server.daveState(GUILD, CHANNEL)?.lastTransition?.executed === true);
    const s1 = server.daveState(GUILD, CHANNEL)!;
    expect(s1).toMatchObject({ protocolVersion: 1, epoch: 1, established: true, rejected: 1 });
    expect([...s1.members].sort()).toEqual([A, B]);
    expect(s1.sessionVersions).toEqual({ [A]: 1, [B]: 1 });
    expect(s1.lastTransition).toMatchObject({ kind: 'commit', epoch: 1, executed: true, timedOut: false });
    expectMediaWorks([a, b]);

    const c = await DaveClient.join(server, C);
    await until(() => agreeAt([a, b, c], 2n), MLS_WAIT_MS);
    expectMediaWorks([a, b, c]);
    expect(server.daveState(GUILD, CHANNEL)?.epoch).toBe(2);

    b.ws.close(1000);
    await until(() => agreeAt([a, c], 3n), MLS_WAIT_MS);
    expectMediaWorks([a, c]);
    await until(() => server.daveState(GUILD, CHANNEL)?.lastTransition?.executed === true);
    const s3 = server.daveState(GUILD, CHANNEL)!;
    expect(s3).toMatchObject({ protocolVersion: 1, epoch: 3, established: true });
    expect([...s3.members].sort()).toEqual([A, C]);

    expect(daveEvents(events, 'epoch').map((e) => e.detail?.split(' ')[1])).toEqual(['1', '2', '3']);
    expect(daveEvents(events, 'transition-timeout')).toEqual([]);
    expect(events.filter((e) => e.type === 'dave-reject')).toHaveLength(1);
    for (const client of [a, b, c]) expect(client.errors).toEqual([]);
    // Logs: epochs, ids and reasons only; no MLS material.
    const logged = JSON.stringify(events);
    expect(logged).not.toContain(a.sim.authenticator!);
    expect(logged).not.toMatch(/[0-9a-f]{40}/i);
  });

  it('a client without DAVE downgrades the call (op 21 v0, op 22); its departure upgrades it (op 24, new group)', async () => {
    const events: ServerEvent[] = [];
    const server = await start({ log: (e) => events.push(e) });
    const [a, b] = await pairAtEpoch1(server);
    const beforeV = a.received.length;

    const v = await DaveClient.join(server, V, { maxDave: 0 });
    expect(v.version).toBe(0);
    await until(() => a.sim.executedVersion === 0 && b.sim.executedVersion === 0, MLS_WAIT_MS);
    for (const client of [a, b]) {
      const after = client.received.slice(client === a ? beforeV : 0);
      const prepare = after.find((m) => m.op === VoiceOpcode.DavePrepareTransition);
      expect(prepare).toMatchObject({ d: { protocol_version: 0 } });
      const tid = prepare?.op === VoiceOpcode.DavePrepareTransition ? prepare.d.transition_id : -1;
      expect(tid).toBeGreaterThan(0);
      const iPrepare = client.received.indexOf(prepare!);
      const iExecute = client.received.findIndex(
        (m, i) => i > iPrepare && m.op === VoiceOpcode.DaveExecuteTransition && m.d.transition_id === tid,
      );
      expect(iExecute).toBeGreaterThan(iPrepare);
      // The others learn about V (op 11) before they are told to prepare.
      expect(
        client.received.findIndex(
          (m, i) => i < iPrepare && m.op === VoiceOpcode.ClientsConnect && m.d.user_ids.includes(V),
        ),
      ).toBeGreaterThanOrEqual(0);
    }
    await until(() => server.daveState(GUILD, CHANNEL)?.lastTransition?.executed === true);
    expect(server.daveState(GUILD, CHANNEL)).toMatchObject({
      protocolVersion: 0,
      epoch: 0,
      established: false,
      members: [],
      sessionVersions: { [A]: 0, [B]: 0, [V]: 0 },
      lastTransition: { kind: 'downgrade', protocolVersion: 0, executed: true, timedOut: false },
    });
    // The client without DAVE never sees a DAVE opcode.
    expect(v.ops().filter((op) => op >= 21)).toEqual([]);

    const beforeLeave = a.received.length;
    v.ws.close(1000);
    await until(() => agreeAt([a, b], 1n) && a.received.length > beforeLeave, MLS_WAIT_MS);
    for (const client of [a, b]) {
      const iEpoch = client.received.findIndex(
        (m, i) => i >= (client === a ? beforeLeave : 0) && m.op === VoiceOpcode.DavePrepareEpoch,
      );
      const lastEpoch = client.received.findLastIndex((m) => m.op === VoiceOpcode.DavePrepareEpoch);
      const m = client.received[lastEpoch];
      expect(m).toMatchObject({ d: { protocol_version: 1, epoch: 1 } });
      expect(iEpoch).toBeGreaterThanOrEqual(0);
      // op 24 first, then op 25 (dave.md §7.8).
      expect(client.indexOf(VoiceOpcode.DaveMlsExternalSender, lastEpoch)).toBeGreaterThan(lastEpoch);
    }
    expectMediaWorks([a, b]);
    await until(() => server.daveState(GUILD, CHANNEL)?.lastTransition?.executed === true);
    expect(server.daveState(GUILD, CHANNEL)).toMatchObject({
      protocolVersion: 1,
      epoch: 1,
      established: true,
      lastTransition: { kind: 'commit', epoch: 1 },
    });
    expect(daveEvents(events, 'downgrade')).toHaveLength(1);
    expect(daveEvents(events, 'upgrade')).toHaveLength(1);
    for (const client of [a, b, v]) expect(client.errors).toEqual([]);
  });

  it('the SFU forwards DAVE frames untouched to DAVE clients and never to the v0 client', async () => {
    const server = await start();
    const [a, b] = await pairAtEpoch1(server, { udp: true });
    const frame = a.sim.session!.encryptOpus(OPUS);
    expect(frame.subarray(-2).toString('hex')).toBe('fafa');
    expect(b.sim.session!.decrypt(A, 0, frame).equals(OPUS)).toBe(true);

    const v = await DaveClient.join(server, V, { maxDave: 0, udp: true });
    a.speak();
    await until(() => server.participants(GUILD).find((p) => p.userId === A)?.speaking === 1);
    // A frame still encrypted with DAVE (a sender in the middle of the downgrade) and a plain one.
    await a.sendRtp(1, frame);
    await a.sendRtp(2, OPUS);
    const toB = [await b.nextMedia(), await b.nextMedia()];
    expect(toB.map((p) => p.sequence)).toEqual([1, 2]);
    expect(toB[0]!.payload.equals(frame)).toBe(true);
    expect(toB[1]!.payload.equals(OPUS)).toBe(true);
    const toV = await v.nextMedia();
    expect(toV.sequence).toBe(2);
    expect(await v.udp!.quiet(100)).toBe(true);
    expect(server.participants(GUILD).find((p) => p.userId === V)?.daveFramesWithheld).toBe(1);
  });

  it('daveRequired closes a client without DAVE with 4017 and admits DAVE clients', async () => {
    const events: ServerEvent[] = [];
    const server = await start({ daveRequired: true, log: (e) => events.push(e) });
    const v = await DaveClient.join(server, V, { maxDave: 0 });
    expect((await v.closed).code).toBe(4017);
    expect(v.version).toBeUndefined();
    expect(v.ops()).toEqual([VoiceOpcode.Hello, VoiceOpcode.Ready]);
    expect(server.participants(GUILD)).toEqual([]);
    expect(events.some((e) => e.type === 'close' && e.code === 4017)).toBe(true);

    const a = await DaveClient.join(server, A);
    expect(a.version).toBe(1);
    await expect(startVoiceServer({ dave: false, daveRequired: true })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('dave: false keeps every call transport-only', async () => {
    const server = await start({ dave: false });
    const a = await DaveClient.join(server, A);
    const b = await DaveClient.join(server, B);
    expect([a.version, b.version]).toEqual([0, 0]);
    await until(() => a.received.some((m) => m.op === VoiceOpcode.ClientsConnect));
    expect([...a.ops(), ...b.ops()].filter((op) => op >= 21)).toEqual([]);
    expect(server.daveState(GUILD, CHANNEL)).toBeUndefined();
  });

  it('executes a transition on its timeout when a member never sends op 23', async () => {
    const events: ServerEvent[] = [];
    const server = await start({ daveTransitionTimeoutMs: 150, log: (e) => events.push(e) });
    const a = await DaveClient.join(server, A);
    const b = await DaveClient.join(server, B);
    b.dropReady = true;
    await until(() => agreeAt([a, b], 1n), MLS_WAIT_MS);
    await until(() => server.daveState(GUILD, CHANNEL)?.lastTransition?.executed === true);
    expect(server.daveState(GUILD, CHANNEL)?.lastTransition).toMatchObject({
      kind: 'commit',
      executed: true,
      timedOut: true,
    });
    expect(daveEvents(events, 'transition-timeout')).toHaveLength(1);
  });

  it('stop() clears the pending transition timer', async () => {
    const adapters: DaveCallAdapter[] = [];
    const factory = createDaveServiceFactory({ transitionTimeoutMs: 60_000 });
    const server = await start({
      dave: (call) => {
        const adapter = factory(call) as DaveCallAdapter;
        adapters.push(adapter);
        return adapter;
      },
    });
    const a = await DaveClient.join(server, A);
    const b = await DaveClient.join(server, B);
    b.dropReady = true;
    await until(() => a.sim.epoch === 1n && b.sim.epoch === 1n, MLS_WAIT_MS);
    expect(adapters).toHaveLength(1);
    expect(adapters[0]!.timerArmed).toBe(true);
    expect(adapters[0]!.state().lastTransition).toMatchObject({ kind: 'commit', executed: false });
    await server.stop();
    expect(adapters[0]!.timerArmed).toBe(false);
  });
});

describe('voxcord serve DAVE flags', () => {
  async function serve(args: string[]): Promise<string> {
    const lines: string[] = [];
    const controller = new AbortController();
    await runServeCommand(args, {
      write: (line) => {
        lines.push(line);
        if (line.startsWith('Press Ctrl+C')) controller.abort();
      },
      signal: controller.signal,
    });
    return lines.join('\n');
  }

  it('says whether DAVE is on, off or required; --no-dave and --dave-required exclude each other', async () => {
    expect(await serve([])).toMatch(/DAVE: on \(calls downgrade/);
    expect(await serve(['--no-dave'])).toContain('DAVE: off');
    expect(await serve(['--dave-required'])).toMatch(/DAVE: on, required .*4017/);
    await expect(serve(['--no-dave', '--dave-required'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
