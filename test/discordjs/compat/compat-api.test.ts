/**
 * voxcord/discordjs-voice in detail, in-process against the local Discord (the bots in
 * compat-bots.test.ts cover the common paths on both libraries): player states and events,
 * NoSubscriberBehavior, inline volume, entersState with an AbortSignal, demuxProbe, the
 * receiver's end behaviours and SpeakingMap, connection statuses, reasons and the registry.
 */
import { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AudioPlayer as VoxcordPlayer,
  isVoxcordError,
  joinVoiceChannel as voxcordJoin,
  pcmInput,
  startLocalDiscord,
} from '../../../src/index.js';
import type { LocalDiscord } from '../../../src/index.js';
import {
  AudioPlayerStatus,
  EndBehaviorType,
  NoSubscriberBehavior,
  StreamType,
  VoiceConnectionDisconnectReason,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  demuxProbe,
  entersState,
  getVoiceConnection,
  getVoiceConnections,
  joinVoiceChannel,
} from '../../../src/compat/discordjs-voice/index.js';
import type { AudioPlayer, VoiceConnection } from '../../../src/compat/discordjs-voice/index.js';
import { sinePcm } from '../../e2e/harness.js';
import { Cleanup } from '../../support/cleanup.js';
import { GUILD } from '../../support/ids.js';
import { until } from '../../support/wait.js';
import { peak, writeToneOgg } from './listener.js';

const VOICE = '1400000000000000002';
const BOT = '1400000000000000010';
const USER = '1400000000000000020';

const cleanups = new Cleanup();
afterEach(() => cleanups.run());

async function world(): Promise<LocalDiscord> {
  const local = await startLocalDiscord({
    gateway: { guilds: [{ id: GUILD, name: 'g', channels: [{ id: VOICE, name: 'v', type: 'voice' }] }] },
  });
  cleanups.push(() => local.stop());
  return local;
}

async function join(local: LocalDiscord, userId = BOT): Promise<VoiceConnection> {
  const connection = joinVoiceChannel({
    guildId: GUILD,
    channelId: VOICE,
    adapterCreator: local.userAdapterCreator(userId, GUILD),
    tls: false,
  });
  cleanups.push(() => connection.destroy());
  return entersState(connection, VoiceConnectionStatus.Ready, 10_000);
}

/** A voxcord listener in the channel: the peak of each frame it decodes from BOT (concealed ones left out). */
function peaksHeard(local: LocalDiscord): number[] {
  const listener = voxcordJoin({
    guildId: GUILD,
    channelId: VOICE,
    adapterCreator: local.userAdapterCreator(USER, GUILD),
    group: 'listener',
    selfDeaf: false,
    tls: false,
  });
  cleanups.push(() => listener.destroy());
  const peaks: number[] = [];
  const heard = listener.receiver.subscribe(BOT, { mode: 'pcm' });
  void (async () => {
    for await (const f of heard.frames()) if (f.pcm && !f.concealed) peaks.push(peak(f.pcm));
  })();
  return peaks;
}

function statuses(player: AudioPlayer): string[] {
  const seen: string[] = [];
  player.on('stateChange', (_old, next) => seen.push(next.status));
  return seen;
}

const tone = (ms: number, hz = 440) =>
  createAudioResource(Readable.from([sinePcm(ms, hz)]), { inputType: StreamType.Raw, inlineVolume: true });

describe('voxcord/discordjs-voice', () => {
  it('player: Buffering → AutoPaused without a ready subscriber, Playing once subscribed; pause, unpause, inline volume, Idle at the end', async () => {
    const local = await world();
    const loud = peaksHeard(local);

    const player = createAudioPlayer();
    const seen = statuses(player);
    const idle: string[] = [];
    player.on(AudioPlayerStatus.Idle, (old) => idle.push(old.status));
    const resource = tone(3_000);
    player.play(resource);
    expect(seen).toEqual(['buffering', 'autopaused']);
    expect(player.state.status).toBe(AudioPlayerStatus.AutoPaused);

    const connection = await join(local);
    const subscription = connection.subscribe(player);
    expect(subscription?.player).toBe(player);
    expect(connection.state.subscription).toBe(subscription);
    await entersState(player, AudioPlayerStatus.Playing, 5_000);
    expect(resource.started).toBe(true);
    expect(seen).toEqual(['buffering', 'autopaused', 'buffering', 'playing']);

    await until(() => loud.filter((p) => p > 8_000).length >= 20, 10_000, 'the tone at full volume');
    resource.volume!.setVolume(0.25);
    const quietFrom = loud.length + 40; // what was already produced plays at the old volume
    await until(() => loud.length >= quietFrom + 10, 5_000, 'quieter frames');
    expect(Math.max(...loud.slice(quietFrom, quietFrom + 10))).toBeLessThan(4_000);

    expect(player.pause()).toBe(true);
    expect(player.pause()).toBe(false);
    expect(player.state.status).toBe(AudioPlayerStatus.Paused);
    const at = player.state.status === AudioPlayerStatus.Paused ? player.state.playbackDuration : -1;
    expect(at).toBeGreaterThan(0);
    expect(player.unpause()).toBe(true);
    expect(player.state.status).toBe(AudioPlayerStatus.Playing);

    await entersState(player, AudioPlayerStatus.Idle, 10_000);
    expect(idle).toEqual(['playing']);
    expect(resource.ended).toBe(true);
    expect(resource.playbackDuration).toBeGreaterThanOrEqual(2_900);
    expect(() => player.play(resource)).toThrow('already ended');
    expect(player.stop()).toBe(false);

    subscription!.unsubscribe();
    expect(connection.state.subscription).toBeUndefined();
    expect(player.playable).toEqual([]);
  }, 40_000);

  it('Idle comes once the resource has been heard: a bot that destroys its connection on Idle is heard to the end', async () => {
    const local = await world();
    const peaks = peaksHeard(local);
    const connection = await join(local);
    const player = createAudioPlayer();
    connection.subscribe(player);
    // The @discordjs/voice idiom: play a clip, leave when the player goes Idle.
    player.play(tone(1_000));
    await entersState(player, AudioPlayerStatus.Idle, 10_000);
    connection.destroy();
    await new Promise((r) => setTimeout(r, 500));
    // 50 frames of tone (the codec's ring-out can add one); Idle at production left about 30.
    expect(peaks.filter((p) => p > 8_000).length).toBeGreaterThanOrEqual(49);
  }, 30_000);

  it('NoSubscriberBehavior: Play runs at the real-time pace with nobody listening, Stop stops, Pause auto-pauses', async () => {
    const playing = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
    const started = performance.now();
    playing.play(tone(600));
    await entersState(playing, AudioPlayerStatus.Playing, 2_000);
    await entersState(playing, AudioPlayerStatus.Idle, 5_000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);

    const stopping = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Stop } });
    const seen = statuses(stopping);
    stopping.play(tone(600));
    await entersState(stopping, AudioPlayerStatus.Idle, 2_000);
    expect(seen).toEqual(['buffering', 'idle']);

    const pausing = createAudioPlayer();
    const first = tone(600);
    pausing.play(first);
    expect(pausing.state.status).toBe(AudioPlayerStatus.AutoPaused);
    // Replaced before it started: it ends, and never plays after the new one.
    const second = tone(600);
    pausing.play(second);
    expect(first.ended).toBe(true);
    expect(pausing.voxcord.queue).toEqual([second.track]);
    expect(pausing.state.status === AudioPlayerStatus.AutoPaused && pausing.state.resource).toBe(second);
    expect(pausing.unpause()).toBe(false); // only a manual pause is undone by unpause
    pausing.stop();
    expect(pausing.state.status).toBe(AudioPlayerStatus.Idle);
  });

  it('an input that fails: an AudioPlayerError with the resource, then Idle; no listener means no crash', async () => {
    const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
    const errors: Array<{ message: string; resource: unknown }> = [];
    player.on('error', (e) => errors.push({ message: e.message, resource: e.resource }));
    const bad = createAudioResource(Readable.from([Buffer.from('not an ogg stream at all')]), {
      inputType: StreamType.OggOpus,
      metadata: { title: 'bad' },
    });
    player.play(bad);
    await entersState(player, AudioPlayerStatus.Idle, 5_000);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.resource).toBe(bad);
    expect(bad.metadata).toEqual({ title: 'bad' });

    const silent = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
    silent.play(createAudioResource(Readable.from([Buffer.from('nope')]), { inputType: StreamType.OggOpus }));
    await entersState(silent, AudioPlayerStatus.Idle, 5_000);
  });

  it('entersState takes an AbortSignal: it rejects with the typed STATE_TIMEOUT carrying the reason', async () => {
    const player = createAudioPlayer();
    const controller = new AbortController();
    const waiting = entersState(player, AudioPlayerStatus.Playing, controller.signal);
    controller.abort(new Error('user gave up'));
    const error = await waiting.catch((e: unknown) => e);
    expect(isVoxcordError(error, 'STATE_TIMEOUT')).toBe(true);
    expect((error as Error).cause).toEqual(new Error('user gave up'));
    await expect(entersState(player, AudioPlayerStatus.Playing, AbortSignal.abort())).rejects.toThrow(
      'before the signal aborted',
    );
    await expect(entersState(player, AudioPlayerStatus.Idle, AbortSignal.abort())).resolves.toBe(player);
    await expect(entersState(player, AudioPlayerStatus.Playing, 30)).rejects.toThrow('within 30 ms');
  });

  it('demuxProbe: Ogg Opus is OggOpus, other bytes Arbitrary, and the stream replays every byte', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'voxcord-probe-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'a.ogg');
    await writeToneOgg(file, 400, 440);
    const bytes = readFileSync(file);
    const probed = await demuxProbe(Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]));
    expect(probed.type).toBe(StreamType.OggOpus);
    const replayed: Buffer[] = [];
    for await (const chunk of probed.stream) replayed.push(chunk as Buffer);
    expect(Buffer.concat(replayed).equals(bytes)).toBe(true);
    expect((await demuxProbe(Readable.from([Buffer.from('RIFF....WAVEfmt ')]))).type).toBe(
      StreamType.Arbitrary,
    );
    // A mono OpusHead fails the default validator, as in @discordjs/voice.
    const mono = Buffer.from(bytes);
    const headAt = 27 + mono[26]!;
    mono[headAt + 9] = 1;
    expect((await demuxProbe(Readable.from([mono]))).type).toBe(StreamType.Arbitrary);
  });

  it('receiver: Opus packets as Buffers, SpeakingMap start/end, AfterInactivity and Manual end behaviours', async () => {
    const local = await world();
    const connection = await join(local);
    connection.rejoin({ selfDeaf: false });
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);
    const receiver = connection.receiver;
    const speaking: string[] = [];
    receiver.speaking.on('start', (id: string) => speaking.push(`start ${id}`));
    receiver.speaking.on('end', (id: string) => speaking.push(`end ${id}`));
    const inactive = receiver.subscribe(USER, {
      end: { behavior: EndBehaviorType.AfterInactivity, duration: 300 },
    });
    expect(receiver.subscribe(USER)).toBe(inactive);
    const packets: Buffer[] = [];
    inactive.on('data', (p: Buffer) => packets.push(p));
    const ended = new Promise((resolve) => inactive.once('end', resolve));

    const speaker = voxcordJoin({
      guildId: GUILD,
      channelId: VOICE,
      adapterCreator: local.userAdapterCreator(USER, GUILD),
      group: 'speaker',
      selfDeaf: false,
      tls: false,
    });
    cleanups.push(() => speaker.destroy());
    const player = new VoxcordPlayer();
    cleanups.push(() => player.destroy());
    player.attach(speaker);
    await until(() => speaker.state.status === 'ready', 10_000, 'speaker ready');
    player.play(pcmInput(sinePcm(1_000, 440)));
    await player.drained();
    await ended;
    expect(packets.length).toBeGreaterThanOrEqual(40);
    expect(packets.every((p) => Buffer.isBuffer(p) && p.length > 0)).toBe(true);
    expect(receiver.subscriptions.has(USER)).toBe(false);
    await until(() => speaking.includes(`end ${USER}`), 3_000, 'speaking end');
    expect(speaking.slice(0, 2)).toEqual([`start ${USER}`, `end ${USER}`]);

    // Manual: still open after the speaker stops, ends on destroy.
    const manual = receiver.subscribe(USER, { end: { behavior: EndBehaviorType.Manual } });
    player.play(pcmInput(sinePcm(300, 440)));
    await player.drained();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(manual.readableEnded).toBe(false);
    const closed = new Promise((resolve) => manual.once('close', resolve));
    manual.destroy();
    await closed;
    expect(receiver.subscriptions.has(USER)).toBe(false);
  }, 40_000);

  it('connection: per-status events, Manual on disconnect(), rejoin, the registry returns the same object, Destroyed', async () => {
    const local = await world();
    const connection = joinVoiceChannel({
      guildId: GUILD,
      channelId: VOICE,
      adapterCreator: local.userAdapterCreator(BOT, GUILD),
      tls: false,
    });
    cleanups.push(() => connection.destroy());
    const events: string[] = [];
    for (const status of Object.values(VoiceConnectionStatus))
      connection.on(status, (_old: unknown, next: { status: string }) => events.push(next.status));
    await entersState(connection, VoiceConnectionStatus.Ready, 10_000);
    expect(getVoiceConnection(GUILD)).toBe(connection);
    expect(getVoiceConnections().get(GUILD)).toBe(connection);
    expect(connection.joinConfig).toMatchObject({ guildId: GUILD, channelId: VOICE, group: 'default' });

    expect(connection.disconnect()).toBe(true);
    const state = connection.state;
    expect(state.status).toBe(VoiceConnectionStatus.Disconnected);
    if (state.status === VoiceConnectionStatus.Disconnected) {
      expect(state.reason).toBe(VoiceConnectionDisconnectReason.Manual);
      expect(state.voxcordReason).toBe('left');
    }
    expect(connection.rejoin()).toBe(true);
    await entersState(connection, VoiceConnectionStatus.Ready, 10_000);
    connection.destroy();
    expect(connection.state.status).toBe(VoiceConnectionStatus.Destroyed);
    expect(getVoiceConnection(GUILD)).toBeUndefined();
    expect(events[0]).toBe('connecting');
    expect(events.filter((e) => e === 'ready')).toHaveLength(2);
    expect(events).toContain('disconnected');
    expect(events.at(-1)).toBe('destroyed');
  }, 30_000);
});
