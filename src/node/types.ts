/**
 * The JSON objects of the Lavalink v4 protocol (see the protocol reference, §4 and §9), as a
 * voxcord node sends them.
 */
import type { TrackInfo } from './track-codec.js';

export type { TrackInfo } from './track-codec.js';

export type JsonObject = Record<string, unknown>;

export interface ApiTrack {
  encoded: string;
  info: TrackInfo;
  pluginInfo: JsonObject;
  userData: JsonObject;
}

export type Severity = 'common' | 'suspicious' | 'fault';

export interface ApiException {
  message: string | null;
  severity: Severity;
  cause: string;
  causeStackTrace: string;
}

export type LoadResult =
  | { loadType: 'track'; data: ApiTrack }
  | {
      loadType: 'playlist';
      data: { info: { name: string; selectedTrack: number }; pluginInfo: JsonObject; tracks: ApiTrack[] };
    }
  | { loadType: 'search'; data: ApiTrack[] }
  | { loadType: 'empty'; data: JsonObject }
  | { loadType: 'error'; data: ApiException };

export interface VoiceState {
  token: string;
  endpoint: string;
  sessionId: string;
  channelId: string | null;
}

export interface PlayerState {
  time: number;
  position: number;
  connected: boolean;
  ping: number;
}

export interface ApiPlayer {
  guildId: string;
  track: ApiTrack | null;
  volume: number;
  paused: boolean;
  state: PlayerState;
  voice: VoiceState;
  filters: JsonObject;
}

export interface FrameStats {
  sent: number;
  nulled: number;
  deficit: number;
}

export interface Stats {
  players: number;
  playingPlayers: number;
  uptime: number;
  memory: { free: number; used: number; allocated: number; reservable: number };
  cpu: { cores: number; systemLoad: number; lavalinkLoad: number };
  frameStats?: FrameStats | null;
}

export type TrackEndReason = 'finished' | 'loadFailed' | 'stopped' | 'replaced' | 'cleanup';

export type NodeEvent =
  | { type: 'TrackStartEvent'; guildId: string; track: ApiTrack }
  | { type: 'TrackEndEvent'; guildId: string; track: ApiTrack; reason: TrackEndReason }
  | { type: 'TrackExceptionEvent'; guildId: string; track: ApiTrack; exception: ApiException }
  | { type: 'TrackStuckEvent'; guildId: string; track: ApiTrack; thresholdMs: number }
  | { type: 'WebSocketClosedEvent'; guildId: string; code: number; reason: string; byRemote: boolean };

/**
 * WebSocketClosedEvent's code for a voice connection that failed with no close code of its own (a
 * timeout, a socket that never opened): 4000, as Lavalink's voice library (koe) reports an
 * internal error.
 */
export const VOICE_FAILED_CLOSE_CODE = 4000;

export type ServerMessage =
  | { op: 'ready'; resumed: boolean; sessionId: string }
  | { op: 'playerUpdate'; guildId: string; state: PlayerState }
  | ({ op: 'stats' } & Stats)
  | ({ op: 'event' } & NodeEvent);
