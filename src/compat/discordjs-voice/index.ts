/**
 * `voxcord/discordjs-voice`: the @discordjs/voice 0.19 public API (names, enums, states, events)
 * on voxcord's connection, player and receiver, so a bot switches by changing its import. Where
 * voxcord behaves differently on purpose (backoff, final close codes, typed errors) it keeps its
 * own behaviour: docs/migrating-from-discordjs-voice.md lists every difference.
 */
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
export { RTP_OPUS_PAYLOAD_TYPE, createDefaultAudioReceiveStreamOptions, entersState } from './helpers.js';
