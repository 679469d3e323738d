/**
 * Child process for the interop test: an @discordjs/voice bot that joins the local server through
 * the test adapter and plays the Opus frames it is sent. It runs apart from the test because the
 * library opens `wss://` with no TLS options: this process is started with NODE_EXTRA_CA_CERTS
 * pointing at the local server's self-signed certificate.
 *
 * IPC in:  { type: 'join', allocation, dave } | { type: 'play', frames: base64[] } | { type: 'dave' }
 *          | { type: 'leave' }
 * IPC out: { type: 'ready' } | { type: 'played' } | { type: 'dave', ...DjsDaveState }
 *          | { type: 'error', message, debug }
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
  | { type: 'join'; allocation: Allocation; dave: boolean }
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

export type PlayerReply =
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

async function join(allocation: Allocation, dave: boolean): Promise<void> {
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
  const state = connection?.state;
  if (state?.status !== VoiceConnectionStatus.Ready) return empty;
  // `networking.state.dave` is the library's DAVESession wrapper; `.session` is davey's session.
  const networking = state.networking.state;
  const dave = 'dave' in networking ? networking.dave : undefined;
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
  if (req.type === 'join') join(req.allocation, req.dave).catch(fail);
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
