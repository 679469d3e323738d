/**
 * Child process for the interop test: an @discordjs/voice bot that joins the local server through
 * the test adapter and plays the Opus frames it is sent. It runs apart from the test because the
 * library opens `wss://` with no TLS options: this process is started with NODE_EXTRA_CA_CERTS
 * pointing at the local server's self-signed certificate.
 *
 * IPC in:  { type: 'join', allocation, dave, listen? } | { type: 'play', frames: base64[] } | { type: 'dave' }
 *          | { type: 'heard' } | { type: 'leave' }
 * IPC out: { type: 'ready' } | { type: 'played' } | { type: 'dave', ...DjsDaveState }
 *          | { type: 'heard', packets } | { type: 'error', message, debug }
 *
 * With `listen` (user ids), the bot also receives: it subscribes to those users from the moment it
 * is ready and records every packet its receiver parses (what the library's DAVE session made of
 * it, and which transition the session had executed then).
 */
import { Readable } from 'node:stream';
import {
  AudioPlayerStatus,
  NoSubscriberBehavior,
  StreamType,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  entersState,
  joinVoiceChannel,
} from '@discordjs/voice';
import type { VoiceConnection } from '@discordjs/voice';
import type { DAVESession as DaveySession } from '@snazzah/davey';
import type { Allocation } from '../../src/server/index.js';
import { createTestAdapter } from './djs-adapter.js';

export type PlayerRequest =
  | { type: 'join'; allocation: Allocation; dave: boolean; listen?: string[] }
  | { type: 'heard' }
  | { type: 'play'; frames: string[] }
  | { type: 'dave' }
  | { type: 'leave' };

/** What the library's DAVE session says about itself (davey's DAVESession under djs's wrapper). */
export interface DjsDaveState {
  /** djs's executed protocol version (0 = transport encryption only). */
  protocolVersion: number;
  /** davey's `ready`: it encrypts/decrypts only when this is true. */
  ready: boolean;
  /** MLS epoch as a decimal string; null without a group. */
  epoch: string | null;
  /** `VoiceConnection.voicePrivacyCode`; null without a group. */
  privacyCode: string | null;
  /** Epoch authenticator, hex; null without a group. */
  epochAuthenticator: string | null;
  /** The last transition id the library executed. */
  lastTransitionId: number | null;
}

/** One packet from a listened-to user, as the library's receiver parsed it. */
export interface HeardPacket {
  userId: string;
  /** The payload it hands to the subscriber, hex; null when its DAVE session failed to decrypt. */
  frame: string | null;
  /** The DAVE session's last executed transition at that moment (null before the first). */
  transition: number | null;
}

export type PlayerReply =
  | { type: 'heard'; packets: HeardPacket[] }
  | { type: 'ready' }
  | { type: 'played' }
  | ({ type: 'dave' } & DjsDaveState)
  | { type: 'error'; message: string; debug: string[] };

/** The library's debug lines, kept for error reports (its DAVE and gateway steps are logged there). */
const debugLines: string[] = [];
const MAX_DEBUG_LINES = 400;

function reply(message: PlayerReply): void {
  process.send?.(message);
}

function fail(err: unknown): void {
  reply({
    type: 'error',
    message: err instanceof Error ? err.message : String(err),
    debug: debugLines.slice(),
  });
}

let connection: VoiceConnection | undefined;
const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
player.on('error', fail);

const heard: HeardPacket[] = [];

/** The library's DAVE session wrapper of the current connection, if any. */
function daveOf(conn: VoiceConnection | undefined) {
  const state = conn?.state;
  if (state?.status !== VoiceConnectionStatus.Ready) return undefined;
  // `networking.state.dave` is the library's DAVESession wrapper; `.session` is davey's session.
  const networking = state.networking.state;
  return 'dave' in networking ? networking.dave : undefined;
}

/**
 * Subscribes to `userIds` and records what the receiver makes of each of their packets: its
 * parsePacket (transport then DAVE decryption; null when DAVE failed) is wrapped, since the library
 * drops failed packets without an event.
 */
function listen(conn: VoiceConnection, userIds: string[]): void {
  const receiver = conn.receiver as unknown as { parsePacket: (...args: unknown[]) => Buffer | null };
  const parse = receiver.parsePacket.bind(receiver);
  receiver.parsePacket = (...args: unknown[]) => {
    const out = parse(...args);
    heard.push({
      userId: String(args[4]),
      frame: out === null ? null : Buffer.from(out).toString('hex'),
      transition: daveOf(conn)?.lastTransitionId ?? null,
    });
    return out;
  };
  for (const userId of userIds) conn.receiver.subscribe(userId).on('data', () => undefined);
}

async function join(allocation: Allocation, dave: boolean, listenTo: string[] = []): Promise<void> {
  const { adapterCreator } = createTestAdapter(allocation);
  connection = joinVoiceChannel({
    guildId: allocation.guildId,
    channelId: allocation.channelId,
    adapterCreator,
    daveEncryption: dave,
    debug: true,
    selfDeaf: false,
    selfMute: false,
  });
  connection.on('debug', (line) => {
    debugLines.push(line);
    if (debugLines.length > MAX_DEBUG_LINES) debugLines.shift();
    if (process.env.VOXCORD_DJS_DEBUG) process.stderr.write(`[djs] ${line}\n`);
  });
  connection.on('error', fail);
  await entersState(connection, VoiceConnectionStatus.Ready, 10_000);
  if (listenTo.length > 0) listen(connection, listenTo);
  connection.subscribe(player);
  // Speaking before the first packet: the server drops media from a sender that has not sent op 5,
  // and the library would otherwise send op 5 in the same tick as its first packet.
  connection.setSpeaking(true);
  reply({ type: 'ready' });
}

async function play(frames: string[]): Promise<void> {
  const buffers = frames.map((f) => Buffer.from(f, 'base64'));
  player.play(createAudioResource(Readable.from(buffers), { inputType: StreamType.Opus }));
  await entersState(player, AudioPlayerStatus.Playing, 5_000);
  await entersState(player, AudioPlayerStatus.Idle, 5_000 + frames.length * 40);
  reply({ type: 'played' });
}

function daveState(): DjsDaveState {
  const empty: DjsDaveState = {
    protocolVersion: 0,
    ready: false,
    epoch: null,
    privacyCode: null,
    epochAuthenticator: null,
    lastTransitionId: null,
  };
  const dave = daveOf(connection);
  if (dave === undefined) return empty;
  // djs types it as the subset of methods it calls; at run time it is davey's DAVESession.
  const session = dave.session as DaveySession | undefined;
  const epoch = session?.epoch;
  const authenticator = session?.ready ? session.getEpochAuthenticator() : null;
  return {
    protocolVersion: dave.protocolVersion,
    ready: session?.ready ?? false,
    epoch: epoch === undefined || epoch === null ? null : epoch.toString(),
    privacyCode: connection?.voicePrivacyCode ?? null,
    epochAuthenticator: authenticator === null ? null : Buffer.from(authenticator).toString('hex'),
    lastTransitionId: dave.lastTransitionId ?? null,
  };
}

process.on('message', (raw: unknown) => {
  const req = raw as PlayerRequest;
  if (req.type === 'join') join(req.allocation, req.dave, req.listen).catch(fail);
  else if (req.type === 'heard') reply({ type: 'heard', packets: heard.splice(0) });
  else if (req.type === 'play') play(req.frames).catch(fail);
  else if (req.type === 'dave') {
    try {
      reply({ type: 'dave', ...daveState() });
    } catch (err) {
      fail(err);
    }
  } else if (req.type === 'leave') {
    player.stop(true);
    connection?.destroy();
    process.disconnect();
    setTimeout(() => process.exit(0), 100).unref();
  }
});
process.on('disconnect', () => {
  connection?.destroy();
  setTimeout(() => process.exit(0), 100).unref();
});
