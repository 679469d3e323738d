/**
 * The demo's call: the local Discord in this process, a bot that joins the way a real bot does
 * (token -> createGatewayClient -> joinVoiceChannel with its adapterCreator) and plays audio made
 * in code through an AudioPlayer, and a listener (a second bot, same path) that records what it
 * hears through a VoiceReceiver. DAVE is on. Returns what both sides saw; judging it is
 * demo-report.ts's job.
 */
import { loadOpus } from '../audio/opus.js';
import { VoxcordError, isVoxcordError, toError } from '../errors.js';
import { createGatewayClient } from '../gateway/builtin-gateway.js';
import type { GatewayClient } from '../gateway/builtin-gateway.js';
import { joinVoiceChannel } from '../gateway/registry.js';
import { entersState } from '../util/enters-state.js';
import type { VoiceConnection } from '../gateway/voice-connection.js';
import { createMediaEngine } from '../media/index.js';
import { AudioPlayer } from '../player/audio-player.js';
import { renderTones, toneInput, toneLength } from '../player/inputs/tone.js';
import type { ToneSpec } from '../player/inputs/tone.js';
import { FRAME_DURATION_MS, OPUS_SILENCE_FRAME, SAMPLE_RATE } from '../protocol/constants.js';
import { VoiceReceiver } from '../receive/receiver.js';
import { startLocalDiscord } from '../server/local-discord.js';
import type { LocalDiscord } from '../server/local-discord.js';
import type { VoiceSession } from '../voice/session.js';
import type { AudioFrame } from '../voice/session-dave.js';
import { waitUntil, withTimeout } from './io.js';
import { Timeline } from './timeline.js';
import type { TimelineEntry } from './timeline.js';

export const DEMO_GUILD = '1200000000000000001';
export const DEMO_CHANNEL = '1200000000000000002';
export const DEMO_BOT = '1100000000000000001';
export const DEMO_LISTENER = '1100000000000000002';

const JOIN_TIMEOUT_MS = 10_000;
const GROUP_TIMEOUT_MS = 10_000;

export interface DemoCallOptions {
  tones: ToneSpec;
  /** Playback position while the bot plays. */
  onProgress?: (doneMs: number, totalMs: number) => void;
  /** One line per step ("bot joined" ...). */
  onStep?: (line: string) => void;
}

export interface DemoSide {
  transportMode: string | undefined;
  daveProtocolVersion: number;
  epoch: bigint | undefined;
  privacyCode: string | undefined;
  /** 45-digit verification code with the other side (undefined if it could not be computed). */
  verificationCode: string | undefined;
}

export interface DemoCallResult {
  bot: DemoSide;
  listener: DemoSide;
  /** Frames the bot's player produced (each sent once). */
  framesSent: number;
  /** Frames the bot's session dropped because DAVE had no key yet (never sent in clear). */
  framesDroppedNoKey: number;
  /** Non-silence frames from the bot that the listener decrypted. */
  framesReceived: number;
  /** Frames from the bot the listener could not decrypt. */
  decryptFailures: number;
  /** Holes in the RTP sequence numbers of the bot's frames at the listener. */
  sequenceGaps: number;
  /** Slots the listener's receiver had to conceal (lost, late or undecodable). */
  framesConcealed: number;
  /** What the bot played (s16 stereo, 48 kHz). */
  sent: Int16Array;
  /** What the listener heard, decoded (s16 stereo, 48 kHz). */
  heard: Int16Array;
  /** Audio played, ms. */
  playedMs: number;
  timeline: TimelineEntry[];
}

const isSilence = (p: Uint8Array): boolean =>
  p.length === OPUS_SILENCE_FRAME.length && p.every((b, i) => b === OPUS_SILENCE_FRAME[i]);

function fail(message: string, details?: Record<string, unknown>): VoxcordError {
  return new VoxcordError('STATE_TIMEOUT', message, details === undefined ? undefined : { details });
}

async function side(session: VoiceSession | undefined, otherId: string): Promise<DemoSide> {
  const dave = session?.dave;
  let verificationCode: string | undefined;
  try {
    verificationCode = dave === undefined ? undefined : await dave.verificationCode(otherId);
  } catch {
    verificationCode = undefined;
  }
  return {
    transportMode: session?.mode,
    daveProtocolVersion: dave?.protocolVersion ?? 0,
    epoch: dave?.epoch,
    privacyCode: dave?.privacyCode,
    verificationCode,
  };
}

export async function runDemoCall(options: DemoCallOptions): Promise<DemoCallResult> {
  const step = options.onStep ?? ((): void => undefined);
  const timeline = new Timeline();
  const names = new Map([
    [DEMO_BOT, 'bot'],
    [DEMO_LISTENER, 'listener'],
  ]);
  const cleanups: Array<() => Promise<void> | void> = [];
  const opus = await loadOpus();

  let local: LocalDiscord | undefined;
  try {
    local = await startLocalDiscord({
      voice: { log: (event) => timeline.server(event, names) },
      gateway: {
        guilds: [{ id: DEMO_GUILD, name: 'voxcord demo', channels: [{ id: DEMO_CHANNEL, name: 'demo' }] }],
      },
    });
    const server = local;
    step(`local Discord: gateway ${server.gateway.url}, voice ${server.voice.endpoint}, DAVE on`);
    const engine = createMediaEngine();
    cleanups.push(() => engine.close());

    // Both bots go through the path a real bot uses: token -> gateway client -> adapter -> join.
    const connect = async (userId: string, actor: string): Promise<GatewayClient> => {
      const bot = server.createBot(userId);
      const client = createGatewayClient({ token: bot.token, apiUrl: bot.apiUrl });
      cleanups.push(() => client.destroy());
      await client.connect();
      timeline.add(actor, 'state', 'main gateway ready');
      return client;
    };
    const join = async (
      client: GatewayClient,
      actor: string,
      selfDeaf: boolean,
    ): Promise<VoiceConnection> => {
      const connection = joinVoiceChannel({
        guildId: DEMO_GUILD,
        channelId: DEMO_CHANNEL,
        adapterCreator: client.adapterCreator(DEMO_GUILD),
        group: `voxcord-demo-${actor}`,
        engine,
        tls: false,
        selfDeaf,
        joinTimeoutMs: JOIN_TIMEOUT_MS,
      });
      cleanups.push(() => connection.destroy());
      const unhooks: Array<() => void> = [];
      cleanups.push(() => unhooks.forEach((u) => u()));
      unhooks.push(
        connection.subscribe({
          attach: (session) => unhooks.push(timeline.session(actor, session)),
          detach: () => undefined,
        }),
      );
      timeline.add(actor, 'join', 'op 4: join the voice channel');
      await entersState(connection, 'ready', JOIN_TIMEOUT_MS);
      timeline.add(actor, 'state', 'voice connection ready');
      return connection;
    };

    const [botClient, listenerClient] = await Promise.all([
      connect(DEMO_BOT, 'bot'),
      connect(DEMO_LISTENER, 'listener'),
    ]);
    const botConnection = await join(botClient, 'bot', true);
    step(`bot ${DEMO_BOT} joined channel ${DEMO_CHANNEL}`);
    const listenerConnection = await join(listenerClient, 'listener', false);
    step(`listener ${DEMO_LISTENER} joined channel ${DEMO_CHANNEL}`);

    // The DAVE group with both members: the server's view and both clients' agree on the epoch.
    const formed = await waitUntil(() => {
      const state = server.voice.daveState(DEMO_GUILD, DEMO_CHANNEL);
      const bot = botConnection.session?.dave;
      const listener = listenerConnection.session?.dave;
      if (state === undefined || bot === undefined || listener === undefined) return false;
      return (
        state.established &&
        state.members.length === 2 &&
        state.lastTransition?.executed === true &&
        bot.epoch === BigInt(state.epoch) &&
        listener.epoch === BigInt(state.epoch)
      );
    }, GROUP_TIMEOUT_MS);
    if (!formed) {
      const state = server.voice.daveState(DEMO_GUILD, DEMO_CHANNEL);
      throw fail('the DAVE group did not form with both members', {
        serverEpoch: state?.epoch,
        members: state?.members.length,
        botEpoch: String(botConnection.session?.dave.epoch),
        listenerEpoch: String(listenerConnection.session?.dave.epoch),
      });
    }
    const botSession = botConnection.session!;
    const listenerSession = listenerConnection.session!;
    await Promise.all([botSession.dave.settled(), listenerSession.dave.settled()]);
    step(
      `DAVE group formed: epoch ${String(botSession.dave.epoch)}, protocol version ${botSession.dave.protocolVersion}`,
    );

    // The listener: decrypted frames from the bot -> VoiceReceiver (jitter buffer, Opus decode).
    const receiver = new VoiceReceiver({ createDecoder: () => opus.createDecoder() });
    cleanups.push(() => receiver.close());
    receiver.start(10);
    const stream = receiver.subscribe(DEMO_BOT, { mode: 'pcm', maxQueuedFrames: 5_000 });
    const heardFrames: Int16Array[] = [];
    let concealed = 0;
    const consumed = (async () => {
      for await (const frame of stream.frames()) {
        if (frame.pcm !== undefined) heardFrames.push(frame.pcm);
        if (frame.concealed) concealed++;
      }
    })();
    consumed.catch(() => undefined);
    let framesReceived = 0;
    let framesFromBot = 0;
    let decryptFailures = 0;
    const sequences: number[] = [];
    const onFrame = (frame: AudioFrame): void => {
      if (frame.userId !== DEMO_BOT) return;
      framesFromBot++;
      sequences.push(frame.sequence);
      if (!isSilence(frame.payload)) framesReceived++;
      receiver.receive(frame);
    };
    const onFailure = (failure: { userId: string | undefined }): void => {
      if (failure.userId === DEMO_BOT || failure.userId === undefined) decryptFailures++;
    };
    const onSpeaking = (update: { userId: string; ssrc: number; speaking: number }): void =>
      receiver.onSpeaking(update);
    listenerSession.on('audioFrame', onFrame);
    listenerSession.on('daveDecryptFailure', onFailure);
    listenerSession.on('speaking', onSpeaking);
    cleanups.push(() => {
      listenerSession.off('audioFrame', onFrame);
      listenerSession.off('daveDecryptFailure', onFailure);
      listenerSession.off('speaking', onSpeaking);
    });

    // The bot plays the generated audio.
    const totalMs = (toneLength(options.tones) / SAMPLE_RATE) * 1000;
    const player = new AudioPlayer({ opus });
    cleanups.push(() => player.destroy());
    const ended = new Promise<void>((resolve, reject) => {
      player.on('trackError', (_track, error) => reject(error));
      player.on('trackEnd', () => resolve());
    });
    ended.catch(() => undefined);
    player.on('trackStart', () => timeline.add('bot', 'audio', 'playback started'));
    player.play(toneInput(options.tones), { title: 'voxcord demo tones' });
    player.attach(botConnection);
    const ticker = setInterval(() => options.onProgress?.(player.playbackDuration, totalMs), 100);
    try {
      await withTimeout(ended, totalMs + 10_000, () =>
        fail('playback did not finish in time', { playedMs: player.playbackDuration }),
      );
    } finally {
      clearInterval(ticker);
    }
    // 20 ms per frame produced (playbackDuration is back to 0 once the player is idle).
    const playedMs = player.stats.framesSent * FRAME_DURATION_MS;
    options.onProgress?.(playedMs, totalMs);
    timeline.add('bot', 'audio', `playback ended (${player.stats.framesSent} frames)`);

    // Everything the bot put on the wire (audio plus the trailing silence) reaches the listener,
    // then the receiver plays it out.
    await withTimeout(player.drained(), 2_000, () =>
      fail('the last frames were not sent in time', { playedMs }),
    );
    const onWire = (): number =>
      botSession.dave.stats.framesEncrypted + botSession.dave.stats.framesUnencrypted;
    await waitUntil(() => framesFromBot + decryptFailures >= onWire() && onWire() > 0, 2_000);
    await waitUntil(() => heardFrames.length >= framesFromBot, 1_500);
    timeline.add('listener', 'audio', `received ${framesReceived} audio frames`);

    const result: DemoCallResult = {
      bot: await side(botSession, DEMO_LISTENER),
      listener: await side(listenerSession, DEMO_BOT),
      framesSent: player.stats.framesSent,
      framesDroppedNoKey: botSession.dave.stats.framesDropped,
      framesReceived,
      decryptFailures,
      sequenceGaps: countGaps(sequences),
      framesConcealed: concealed,
      sent: renderTones(options.tones),
      heard: concat(heardFrames),
      playedMs,
      timeline: timeline.entries,
    };

    // Leaving is part of the timeline too.
    listenerConnection.leave();
    botConnection.leave();
    await waitUntil(() => server.voice.participants(DEMO_GUILD).length === 0, 1_000);
    return result;
  } catch (err) {
    throw isVoxcordError(err)
      ? err
      : new VoxcordError('SERVER_ERROR', 'the demo call failed', { cause: toError(err) });
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // cleaning up must not hide the demo's own outcome
      }
    }
    await local?.stop();
  }
}

/** Missing RTP sequence numbers between the lowest and highest seen (u16, unwrapped around the first). */
export function countGaps(sequences: readonly number[]): number {
  if (sequences.length === 0) return 0;
  const first = sequences[0]!;
  const offsets = new Set(sequences.map((s) => ((((s - first) & 0xffff) + 0x8000) & 0xffff) - 0x8000));
  const sorted = [...offsets].sort((a, b) => a - b);
  return sorted[sorted.length - 1]! - sorted[0]! + 1 - sorted.length;
}

function concat(frames: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const f of frames) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}
