/**
 * The gateway adapter contract, shaped like @discordjs/voice's so that a discord.js bot passes
 * `guild.voiceAdapterCreator` unchanged (voice-gateway.md §2).
 *
 * The library calls `adapterCreator(methods)` once per connection. The adapter forwards this
 * bot's own VOICE_STATE_UPDATE and this guild's VOICE_SERVER_UPDATE to `methods`, sends op 4
 * payloads with `sendPayload`, and calls `methods.destroy()` when it can no longer deliver (the
 * guild or the client went away).
 *
 * The data types below are structural subsets of discord-api-types' dispatch payloads, and the
 * interfaces use method syntax on purpose: TypeScript then checks their parameters bivariantly,
 * which is what lets discord.js's own adapter type be assigned to ours.
 */
import { GatewayOpcode } from '../protocol/constants.js';
import { isSnowflake } from '../util/snowflake.js';

/** VOICE_STATE_UPDATE dispatch data (only the fields voxcord reads are required). */
export interface GatewayVoiceStateData {
  guild_id?: string;
  channel_id: string | null;
  user_id: string;
  session_id: string;
  deaf?: boolean;
  mute?: boolean;
  self_deaf?: boolean;
  self_mute?: boolean;
  self_stream?: boolean;
  self_video?: boolean;
  suppress?: boolean;
  request_to_speak_timestamp?: string | null;
  member?: unknown;
}

/** VOICE_SERVER_UPDATE dispatch data. `endpoint: null` = the voice server is being reallocated. */
export interface GatewayVoiceServerData {
  token: string;
  guild_id: string;
  endpoint: string | null;
}

/** Main gateway op 4 "Update Voice State" (voice-gateway.md §2.1). */
export interface VoiceStateUpdatePayload {
  op: 4;
  d: {
    guild_id: string;
    channel_id: string | null;
    self_mute: boolean;
    self_deaf: boolean;
  };
}

/** What voxcord gives the adapter: where to deliver the two voice dispatches. */
export interface VoiceAdapterLibraryMethods {
  onVoiceServerUpdate(data: GatewayVoiceServerData): void;
  onVoiceStateUpdate(data: GatewayVoiceStateData): void;
  /** The adapter can no longer deliver events or send payloads. */
  destroy(): void;
}

/** What the adapter gives voxcord. */
export interface VoiceAdapterImplementerMethods {
  /** Sends an op 4 payload to the gateway shard of this guild; false if it could not be queued. */
  sendPayload(payload: VoiceStateUpdatePayload): boolean;
  /** voxcord is done with this adapter: stop delivering events. */
  destroy(): void;
}

export type VoiceAdapterCreator = (methods: VoiceAdapterLibraryMethods) => VoiceAdapterImplementerMethods;

/** Main gateway opcode for "Update Voice State". */

export function createVoiceStateUpdatePayload(options: {
  guildId: string;
  channelId: string | null;
  selfMute: boolean;
  selfDeaf: boolean;
}): VoiceStateUpdatePayload {
  return {
    op: GatewayOpcode.VoiceStateUpdate,
    d: {
      guild_id: options.guildId,
      channel_id: options.channelId,
      self_mute: options.selfMute,
      self_deaf: options.selfDeaf,
    },
  };
}

/** Narrows untrusted dispatch data (a gateway library may hand over anything). */
export function isVoiceStateData(value: unknown): value is GatewayVoiceStateData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    isSnowflake(v.user_id) &&
    typeof v.session_id === 'string' &&
    (v.channel_id === null || typeof v.channel_id === 'string') &&
    (v.guild_id === undefined || typeof v.guild_id === 'string')
  );
}

export function isVoiceServerData(value: unknown): value is GatewayVoiceServerData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.token === 'string' &&
    typeof v.guild_id === 'string' &&
    (v.endpoint === null || typeof v.endpoint === 'string')
  );
}
