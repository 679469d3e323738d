/**
 * `voxcord/discordjs-voice`: the @discordjs/voice 0.19 public API (names, enums, states, events)
 * on voxcord's connection, player and receiver, so a bot switches by changing its import. Where
 * voxcord behaves differently on purpose (backoff, final close codes, typed errors) it keeps its
 * own behaviour: docs/migrating-from-discordjs-voice.md lists every difference.
 */
import { protocol, entersState as voxcordEntersState } from '../../index.js';
import type { AudioPlayerStatus, VoiceConnectionStatus } from './enums.js';
import { EndBehaviorType } from './enums.js';
import type { AudioPlayer } from './player.js';
import type { AudioReceiveStreamOptions } from './receiver.js';
import type { VoiceConnection } from './connection.js';

export {
  AudioPlayerStatus,
  EndBehaviorType,
  NoSubscriberBehavior,
  StreamType,
  VoiceConnectionDisconnectReason,
  VoiceConnectionStatus,
} from './enums.js';
export { AudioPlayer, AudioPlayerError, PlayerSubscription, createAudioPlayer } from './player.js';
export type {
  AudioPlayerState,
  CreateAudioPlayerOptions,
  StatusListener as AudioPlayerStatusListener,
} from './player.js';
export {
  AudioResource,
  VolumeTransformer,
  createAudioResource,
  demuxProbe,
  validateDiscordOpusHead,
} from './resource.js';
export type { CreateAudioResourceOptions, ProbeInfo } from './resource.js';
export {
  VoiceConnection,
  getGroups,
  getVoiceConnection,
  getVoiceConnections,
  joinVoiceChannel,
} from './connection.js';
export type {
  JoinConfig,
  JoinVoiceChannelOptions,
  Subscribed as VoiceConnectionSubscribed,
  StatusListener as VoiceConnectionStatusListener,
  VoiceConnectionState,
} from './connection.js';
export { AudioReceiveStream, SpeakingMap, VoiceReceiver } from './receiver.js';
export type { AudioReceiveStreamOptions, EndBehavior } from './receiver.js';
export { generateDependencyReport } from '../../index.js';

/** The RTP payload type of Opus on Discord (120). */
export const RTP_OPUS_PAYLOAD_TYPE = protocol.OPUS_PAYLOAD_TYPE;

/** What `receiver.subscribe(userId)` uses without options: end only when destroyed. */
export function createDefaultAudioReceiveStreamOptions(): AudioReceiveStreamOptions {
  return { end: { behavior: EndBehaviorType.Manual } };
}

/**
 * Resolves with `target` once it is in `status`. Rejects with voxcord's typed STATE_TIMEOUT when
 * the timeout passes or the signal aborts, and at once (DESTROYED, or the connection's own error)
 * when a connection is destroyed first.
 */
export function entersState(
  target: VoiceConnection,
  status: VoiceConnectionStatus,
  timeoutOrSignal: number | AbortSignal,
): Promise<VoiceConnection>;
export function entersState(
  target: AudioPlayer,
  status: AudioPlayerStatus,
  timeoutOrSignal: number | AbortSignal,
): Promise<AudioPlayer>;
export function entersState(
  target: VoiceConnection | AudioPlayer,
  status: string,
  timeoutOrSignal: number | AbortSignal,
): Promise<VoiceConnection | AudioPlayer> {
  return voxcordEntersState(target as VoiceConnection, status, timeoutOrSignal);
}
