/**
 * Interop: @discordjs/voice (the most used Node voice library) joins OUR local server over wss://
 * through a test adapter and plays Opus with its AudioPlayer; a voxcord VoiceSession in the same
 * call receives exactly those frames, in order. The djs bot runs in a child process
 * (test/interop/djs-player.ts) that trusts the server's self-signed CA via NODE_EXTRA_CA_CERTS,
 * since the library takes no TLS options.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EncryptionMode, OPUS_SILENCE_FRAME, SILENCE_FRAMES_AT_END } from '../../src/protocol/constants.js';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaEngine } from '../../src/media/index.js';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer } from '../../src/server/index.js';
import type { ServerEvent } from '../../src/server/types.js';
import { VoiceSession } from '../../src/voice/session.js';
import { entersState } from '../../src/util/enters-state.js';
import type { DaveDecryptFailure } from '../../src/voice/session-dave.js';
import { numberedFrames } from '../e2e/harness.js';
import { until } from '../support/wait.js';
import { numberedFrame, parseNumberedFrame } from '../soak/dave-churn.js';
import type { DjsDaveState, HeardPacket, PlayerReply, PlayerRequest } from './djs-player.js';
import { hex } from '../support/bytes.js';
import { CHANNEL, GUILD } from '../support/ids.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DJS_USER = '700000000000000003';
const VOXCORD_USER = '700000000000000004';
const VOXCORD_USER_2 = '700000000000000005';
const VOXCORD_USER_3 = '700000000000000006';

let server: VoiceServer | undefined;
let engine: MediaEngine | undefined;
const sessions: VoiceSession[] = [];
let child: ChildProcess | undefined;
let childExited: Promise<unknown> | undefined;
let tmp: string | undefined;

afterEach(async () => {
  child?.kill();
  await childExited;
  child = undefined;
  childExited = undefined;
  for (const s of sessions.splice(0)) s.destroy();
  await engine?.close();
  engine = undefined;
  await server?.stop();
  server = undefined;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

/** The djs child: requests go out over IPC; `next` waits for (and consumes) its next reply of a type. */
interface DjsChild {
  send(request: PlayerRequest): void;
  next<T extends PlayerReply['type']>(type: T, timeoutMs: number): Promise<Extract<PlayerReply, { type: T }>>;
}

function startDjs(caFile: string): DjsChild {
  const proc = fork(path.join(here, 'djs-player.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child = proc;
  childExited = new Promise((resolve) => proc.once('exit', resolve));
  const replies: PlayerReply[] = [];
  proc.on('message', (m: unknown) => replies.push(m as PlayerReply));
  return {
    send: (request) => proc.send(request),
    async next<T extends PlayerReply['type']>(type: T, timeoutMs: number) {
      await until(
        () => replies.some((r) => r.type === type || r.type === 'error') || proc.exitCode !== null,
        timeoutMs,
        `djs child '${type}'`,
      );
      const error = replies.find((r) => r.type === 'error');
      if (error?.type === 'error') {
        throw new Error(`djs child: ${error.message}\n  ${error.debug.slice(-40).join('\n  ')}`);
      }
      if (proc.exitCode !== null) throw new Error(`djs child exited with ${proc.exitCode}`);
      const index = replies.findIndex((r) => r.type === type);
      return replies.splice(index, 1)[0] as Extract<PlayerReply, { type: T }>;
    },
  };
}

/** Starts the server (over TLS) and writes its CA where the djs child's NODE_EXTRA_CA_CERTS reads it. */
async function startServer(
  dave: boolean,
  log?: (event: ServerEvent) => void,
): Promise<{ server: VoiceServer; ca: string; caFile: string }> {
  server = await startVoiceServer({ tls: true, dave, ...(log === undefined ? {} : { log }) });
  const ca = server.tlsCa!;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'voxcord-interop-'));
  const caFile = path.join(tmp, 'ca.pem');
  writeFileSync(caFile, ca);
  return { server, ca, caFile };
}

const silence = hex(OPUS_SILENCE_FRAME);

describe('@discordjs/voice joins the local server', () => {
  it('plays Opus through an AudioPlayer and a voxcord participant receives exactly those frames', async () => {
    const { server, ca, caFile } = await startServer(false);

    // The voxcord participant, over wss:// as well.
    engine = createMediaEngine();
    const mine = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: VOXCORD_USER });
    const session = new VoiceSession({
      ...mine,
      engine,
      tls: { ca },
      maxDaveProtocolVersion: 0,
      handshakeTimeoutMs: 10_000,
    });
    sessions.push(session);
    session.connect();
    await entersState(session, 'ready', 10_000);

    const djs = startDjs(caFile);
    djs.send({
      type: 'join',
      allocation: server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: DJS_USER }),
      dave: false,
    });
    await djs.next('ready', 15_000);
    const djsInfo = () => server.participants(GUILD, CHANNEL).find((p) => p.userId === DJS_USER);
    await until(() => djsInfo()?.speaking != null, 5_000, 'op 5 from the djs client');
    const { ssrc, mode } = djsInfo()!;
    // djs prefers AES-GCM when the server offers it first, as ours does.
    expect(mode).toBe(EncryptionMode.AesGcm);

    const received: Uint8Array[] = [];
    session.on('rtp', (packet) => {
      if (packet.ssrc === ssrc) received.push(packet.payload);
    });

    const frames = numberedFrames(50);
    djs.send({ type: 'play', frames: frames.map((f) => Buffer.from(f).toString('base64')) });
    await djs.next('played', 15_000);
    // @discordjs/voice 0.19.2 puts out 4 of its 5 padding frames: the fifth is prepared, then the
    // player goes idle before the next cycle dispatches it.
    const trailing = SILENCE_FRAMES_AT_END - 1;
    await until(() => received.length >= frames.length + trailing, 5_000, 'all frames');
    await new Promise((r) => setTimeout(r, 100)); // anything else in flight

    // The audio arrives complete and in order (a cycle where the library's stream had nothing ready
    // would carry a silence frame: those are left out), then only silence.
    const all = received.map(hex);
    expect(all.filter((h) => h !== silence)).toEqual(frames.map(hex));
    const afterAudio = all.slice(all.lastIndexOf(hex(frames.at(-1))) + 1);
    expect(afterAudio.length).toBeGreaterThanOrEqual(trailing);
    expect(afterAudio.every((h) => h === silence)).toBe(true);
    expect(server.participants(GUILD, CHANNEL).find((p) => p.userId === DJS_USER)?.packetsDropped).toBe(0);

    djs.send({ type: 'leave' });
  });
});

/** A voxcord participant with DAVE on (the default), recording what it receives from one SSRC. */
interface DaveMember {
  userId: string;
  session: VoiceSession;
  /** Payloads as they came off the wire (after transport decryption), hex. */
  onWire: string[];
  /** Frames after DAVE decryption, hex. */
  decrypted: string[];
  failures: DaveDecryptFailure[];
  errors: unknown[];
  listenTo(ssrc: number): void;
}

async function joinVoxcord(srv: VoiceServer, ca: string, userId: string): Promise<DaveMember> {
  engine ??= createMediaEngine();
  const allocation = srv.allocate({ guildId: GUILD, channelId: CHANNEL, userId });
  const s = new VoiceSession({ ...allocation, engine, tls: { ca }, handshakeTimeoutMs: 10_000 });
  sessions.push(s);
  let ssrc: number | undefined;
  const m: DaveMember = {
    userId,
    session: s,
    onWire: [],
    decrypted: [],
    failures: [],
    errors: [],
    listenTo(value) {
      ssrc = value;
      m.onWire.length = 0;
      m.decrypted.length = 0;
    },
  };
  s.on('rtp', (packet) => {
    if (packet.ssrc === ssrc) m.onWire.push(hex(packet.payload));
  });
  s.on('audioFrame', (frame) => {
    if (frame.ssrc === ssrc) m.decrypted.push(hex(frame.payload));
  });
  s.on('daveDecryptFailure', (f) => m.failures.push(f));
  s.on('daveError', (e) => m.errors.push(e));
  s.connect();
  await entersState(s, 'ready', 10_000);
  return m;
}

/** Joins the djs bot with DAVE; with `listen`, it also receives those users (see djs-player.ts). */
async function joinDjs(srv: VoiceServer, caFile: string, listen: string[] = []): Promise<DjsChild> {
  const djs = startDjs(caFile);
  djs.send({
    type: 'join',
    allocation: srv.allocate({ guildId: GUILD, channelId: CHANNEL, userId: DJS_USER }),
    dave: true,
    listen,
  });
  await djs.next('ready', 15_000);
  const info = () => srv.participants(GUILD, CHANNEL).find((p) => p.userId === DJS_USER);
  await until(() => info()?.speaking != null, 5_000, 'op 5 from the djs client');
  expect(info()?.maxDaveProtocolVersion).toBe(1);
  return djs;
}

/**
 * Waits until the server's group is exactly the djs bot plus `voxcords`, its last commit transition
 * executed (everyone sent op 23, none timed out) and every member is at that epoch; then checks
 * that the library and voxcord agree on the group: epoch, epoch authenticator, privacy code.
 */
async function settle(srv: VoiceServer, djs: DjsChild, voxcords: DaveMember[]): Promise<DjsDaveState> {
  const ids = [DJS_USER, ...voxcords.map((m) => m.userId)].sort().join();
  await until(
    () => {
      const st = srv.daveState(GUILD, CHANNEL);
      const last = st?.lastTransition;
      return (
        st !== undefined &&
        st.established &&
        st.protocolVersion === 1 &&
        [...st.members].sort().join() === ids &&
        last?.kind === 'commit' &&
        last.executed &&
        voxcords.every((m) => m.session.dave.epoch === BigInt(st.epoch))
      );
    },
    10_000,
    `the DAVE group [${ids}]`,
  );
  const st = srv.daveState(GUILD, CHANNEL)!;
  expect(st.lastTransition?.timedOut).toBe(false); // the library answered op 23 itself
  // The library may still be handling op 22 when the server counts the transition executed.
  let djsDave: DjsDaveState | undefined;
  for (let i = 0; i < 50; i++) {
    djs.send({ type: 'dave' });
    djsDave = await djs.next('dave', 5_000);
    if (djsDave.lastTransitionId === st.lastTransition!.transitionId) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(voxcords.map((m) => m.session.dave.settled()));
  expect(djsDave).toMatchObject({
    protocolVersion: 1,
    ready: true,
    epoch: String(st.epoch),
    lastTransitionId: st.lastTransition!.transitionId,
  });
  for (const m of voxcords) {
    expect(m.session.dave.protocolVersion).toBe(1);
    // Same group secrets: same epoch authenticator, hence the same 30-digit privacy code.
    expect(hex(m.session.dave.epochAuthenticator)).toBe(djsDave!.epochAuthenticator);
    expect(m.session.dave.privacyCode).toMatch(/^\d{30}$/);
    expect(m.session.dave.privacyCode).toBe(djsDave!.privacyCode);
  }
  return djsDave!;
}

/** The bot plays `frames`; every receiver must decrypt exactly those, in order, then only silence. */
async function playTo(
  srv: VoiceServer,
  djs: DjsChild,
  receivers: DaveMember[],
  frames: Uint8Array[],
): Promise<void> {
  const djsInfo = () => srv.participants(GUILD, CHANNEL).find((p) => p.userId === DJS_USER);
  const { ssrc } = djsInfo()!;
  for (const m of receivers) m.listenTo(ssrc);
  djs.send({ type: 'play', frames: frames.map((f) => Buffer.from(f).toString('base64')) });
  await djs.next('played', 15_000);
  const trailing = SILENCE_FRAMES_AT_END - 1; // as in the transport-only case
  await until(
    () => receivers.every((m) => m.decrypted.length >= frames.length + trailing),
    5_000,
    'all frames at every receiver',
  );
  await new Promise((r) => setTimeout(r, 100)); // anything else in flight

  const plain = new Set(frames.map(hex));
  for (const m of receivers) {
    // Decrypted: the audio, complete and in order, then only silence.
    expect(
      m.decrypted.filter((h) => h !== silence),
      m.userId,
    ).toEqual(frames.map(hex));
    const afterAudio = m.decrypted.slice(m.decrypted.lastIndexOf(hex(frames.at(-1))) + 1);
    expect(afterAudio.length).toBeGreaterThanOrEqual(trailing);
    expect(afterAudio.every((h) => h === silence)).toBe(true);
    // On the wire: DAVE protocol frames (0xFAFA trailer), never the Opus itself; silence goes as is.
    const audioOnWire = m.onWire.filter((h) => h !== silence);
    expect(audioOnWire).toHaveLength(frames.length);
    for (const p of audioOnWire) expect(p.endsWith('fafa')).toBe(true);
    expect(audioOnWire.some((p) => plain.has(p))).toBe(false);
    expect(m.failures).toEqual([]);
    expect(m.errors).toEqual([]);
  }
  expect(djsInfo()?.packetsDropped).toBe(0);
}

describe('@discordjs/voice with DAVE on the local server', () => {
  it('forms the MLS group with a voxcord session, whose receiver decrypts exactly its frames', async () => {
    const { server, ca, caFile } = await startServer(true);
    const vox = await joinVoxcord(server, ca, VOXCORD_USER);
    const djs = await joinDjs(server, caFile);
    const group = await settle(server, djs, [vox]);
    expect(group.epoch).toBe('1');

    await playTo(server, djs, [vox], numberedFrames(50));
    djs.send({ type: 'leave' });
  });

  it('joins an established voxcord group by Welcome, then follows a Remove commit', async () => {
    const { server, ca, caFile } = await startServer(true);
    const a = await joinVoxcord(server, ca, VOXCORD_USER);
    const b = await joinVoxcord(server, ca, VOXCORD_USER_2);
    await until(() => server.daveState(GUILD, CHANNEL)?.epoch === 1, 10_000, 'the voxcord group');

    // The group exists: the library can only enter it through the Welcome of a member's commit.
    const djs = await joinDjs(server, caFile);
    const joined = await settle(server, djs, [a, b]);
    expect(joined.epoch).toBe('2');
    await playTo(server, djs, [a, b], numberedFrames(30));

    // B leaves the channel (op 13): a Remove commit, a new epoch, a new privacy code.
    expect(server.disconnect(VOXCORD_USER_2, GUILD)).toBe(true);
    const after = await settle(server, djs, [a]);
    expect(after.epoch).toBe('3');
    expect(after.privacyCode).not.toBe(joined.privacyCode);
    await playTo(server, djs, [a], numberedFrames(30));
    djs.send({ type: 'leave' });
  });
});

/** Op 31 (invalid commit/welcome) as the server receives it. */
function op31Counter(): { events: ServerEvent[]; log: (event: ServerEvent) => void } {
  const events: ServerEvent[] = [];
  return {
    events,
    log: (e) => {
      if (e.type === 'dave' && e.reason === 'invalid-commit-welcome') events.push(e);
    },
  };
}

async function heardBy(djs: DjsChild): Promise<HeardPacket[]> {
  djs.send({ type: 'heard' });
  return (await djs.next('heard', 5_000)).packets;
}

/** Numbered frames from `sender` until `stop()`: as fast as voxcord's transmit pump takes them. */
function speak(m: DaveMember, sender: number): { stop(): Promise<void> } {
  let stopped = false;
  const finished = m.session.playOpus(
    (async function* () {
      for (let n = 0; !stopped; n++) yield numberedFrame(sender, n);
    })(),
  ).finished;
  return {
    async stop() {
      stopped = true;
      await finished;
    },
  };
}

describe('@discordjs/voice receiving voxcord senders with DAVE', () => {
  it('decrypts every frame of a voxcord sender, across a third member joining while audio flows, and never sends op 31', async () => {
    const op31 = op31Counter();
    const { server, ca, caFile } = await startServer(true, op31.log);
    const a = await joinVoxcord(server, ca, VOXCORD_USER);
    const djs = await joinDjs(server, caFile, [VOXCORD_USER]);
    const before = await settle(server, djs, [a]);

    const frames = Array.from({ length: 150 }, (_, i) => numberedFrame(1, i));
    const playing = a.session.playOpus(
      (async function* () {
        yield* frames;
      })(),
    ).finished;
    await new Promise((r) => setTimeout(r, 600));
    const b = await joinVoxcord(server, ca, VOXCORD_USER_2); // a commit and an op 22 while A speaks
    const after = await settle(server, djs, [a, b]);
    await playing;
    await new Promise((r) => setTimeout(r, 300)); // the last frames in flight

    const fromA = (await heardBy(djs)).filter((p) => p.userId === VOXCORD_USER);
    expect(fromA.filter((p) => p.frame === null)).toEqual([]); // no DAVE decryption failure
    expect(fromA.map((p) => p.frame).filter((h) => h !== silence)).toEqual(frames.map(hex));
    // The frames really span the transition: some decrypted under each epoch's executed transition.
    const transitions = new Set(fromA.map((p) => p.transition));
    expect(transitions.has(before.lastTransitionId)).toBe(true);
    expect(transitions.has(after.lastTransitionId)).toBe(true);
    expect(op31.events).toEqual([]);
    djs.send({ type: 'leave' });
  });

  // The joiner (another process) and the senders (this one) handle op 22 at instants a loaded
  // machine can set more than a frame apart, and this check counts from the joiner's op 22: one
  // retry absorbs that (seen 1 in 6 runs at load 8). The defect it guards against loses ~100
  // frames per sender and resets with op 31 on every run. The churn soak measures the same rule
  // from each sender's own op 22.
  it(
    'joins while three voxcord members speak: from its op 22 on it loses at most one frame per sender and never sends op 31',
    { retry: 1 },
    async () => {
      const op31 = op31Counter();
      const { server, ca, caFile } = await startServer(true, op31.log);
      const ids = [VOXCORD_USER, VOXCORD_USER_2, VOXCORD_USER_3];
      const senders: DaveMember[] = [];
      for (const id of ids) senders.push(await joinVoxcord(server, ca, id));
      await until(
        () => {
          const st = server.daveState(GUILD, CHANNEL);
          return st?.members.length === 3 && st.lastTransition?.executed === true;
        },
        10_000,
        'the voxcord group of three',
      );
      const speaking = senders.map((m, i) => speak(m, i));
      await new Promise((r) => setTimeout(r, 500));

      const djs = await joinDjs(server, caFile, ids);
      const joined = await settle(server, djs, senders);
      await new Promise((r) => setTimeout(r, 1_500));
      await Promise.all(speaking.map((s) => s.stop()));
      await new Promise((r) => setTimeout(r, 300));

      const packets = await heardBy(djs);
      const figures: Record<string, { decrypted: number; lost: number }> = {};
      for (const [i, id] of ids.entries()) {
        // Everything after the library executed the transition that added it (before that it is not
        // a member, and the senders still use the previous epoch's key by design).
        const after = packets.filter((p) => p.userId === id && p.transition !== null);
        const f = (figures[id] = { decrypted: 0, lost: 0 });
        let last: number | undefined;
        for (const p of after) {
          if (p.frame === silence) continue;
          const parsed = p.frame === null ? undefined : parseNumberedFrame(Buffer.from(p.frame, 'hex'));
          if (parsed === undefined || parsed.sender !== i) {
            f.lost++; // failed to decrypt, or handed on still encrypted
            continue;
          }
          f.decrypted++;
          if (last !== undefined && parsed.n > last + 1) f.lost += parsed.n - last - 1;
          last = parsed.n;
        }
      }
      const report = `after op 22 ${JSON.stringify(figures)}, op 31 ${op31.events.length}, transitions ${joined.lastTransitionId} -> ${String(packets.at(-1)?.transition)}`;
      expect(op31.events.length, report).toBe(0);
      // At most the one frame in flight at op 22, per sender.
      expect(
        Object.values(figures).every((f) => f.lost <= 1),
        report,
      ).toBe(true);
      // ~1.5 s of audio from each after the join (so the above cannot hold vacuously).
      expect(
        Object.values(figures).every((f) => f.decrypted > 50),
        report,
      ).toBe(true);
      djs.send({ type: 'leave' });
    },
  );
});
