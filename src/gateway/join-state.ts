/**
 * Collecting voice credentials from the main gateway, as a pure reducer (voice-gateway.md §2).
 *
 * After op 4, VOICE_STATE_UPDATE (session id, channel) and VOICE_SERVER_UPDATE (token, endpoint)
 * arrive in either order; a voice session may start only with both. Later updates move the call:
 * `endpoint: null` (server being reallocated), a new VOICE_SERVER_UPDATE (region move / failover),
 * a new channel id (channel move), `channel_id: null` (we are out). The connection feeds events
 * in and acts on the effects; it owns sockets and timers. The join timer runs while `phase` is
 * 'awaiting'.
 *
 *   idle ─request→ awaiting ─both events→ connected ─endpoint null→ server-lost ─endpoint→ connected
 *                     └─timeout→ idle       ├─new server update→ connected (fresh session)
 *                                           ├─new channel→ awaiting (server update) / connected
 *                                           └─channel null→ idle
 */
import type { GatewayVoiceServerData, GatewayVoiceStateData } from './adapter.js';

/** Everything a voice session needs to Identify. */
export interface VoiceCredentials {
  /** host[:port] from VOICE_SERVER_UPDATE, never null here. */
  endpoint: string;
  token: string;
  /** Identify `server_id` (= guild id). */
  serverId: string;
  sessionId: string;
  userId: string;
  /** Channel the bot is in (DAVE group id). */
  channelId: string;
}

export type JoinPhase =
  /** Nothing to wait for: not joined, or the last voice session ended. */
  | 'idle'
  /** Op 4 sent (or a move announced); waiting for the missing dispatches. */
  | 'awaiting'
  /** Credentials handed to a voice session. */
  | 'connected'
  /** VOICE_SERVER_UPDATE with `endpoint: null`: wait for a non-null endpoint, then connect fresh. */
  | 'server-lost';

export type MissingDispatch = 'VOICE_STATE_UPDATE' | 'VOICE_SERVER_UPDATE';

export interface JoinState {
  readonly guildId: string;
  readonly phase: JoinPhase;
  /** Channel of our last op 4; null after a leave (then nothing reconnects by itself). */
  readonly requestedChannelId: string | null;
  /** From our latest VOICE_STATE_UPDATE. */
  readonly userId: string | null;
  readonly sessionId: string | null;
  readonly channelId: string | null;
  /** Latest VOICE_SERVER_UPDATE since the last request; never reused across requests (§2.1). */
  readonly server: { readonly token: string; readonly endpoint: string | null } | null;
  readonly awaitingState: boolean;
  readonly awaitingServer: boolean;
  /**
   * The current session was started by a VOICE_SERVER_UPDATE alone: if a VOICE_STATE_UPDATE with
   * a new channel follows (a move whose events came server-first), that token belongs to the move.
   */
  readonly serverOnly: boolean;
}

export type JoinEvent =
  /** We sent op 4 for this channel (null = leave). */
  | { type: 'request'; channelId: string | null }
  | { type: 'voiceState'; data: GatewayVoiceStateData }
  | { type: 'voiceServer'; data: GatewayVoiceServerData }
  /** The join timer fired. */
  | { type: 'timeout' }
  /** The voice session is gone (closed for good or needs fresh credentials): forget the token. */
  | { type: 'sessionEnded' };

export type ConnectCause =
  /** The dispatches answering our op 4. */
  | 'join'
  /** A VOICE_SERVER_UPDATE on its own: region move, failover, or a new endpoint after a null one. */
  | 'server-update'
  /** A channel move whose VOICE_SERVER_UPDATE came first. */
  | 'channel-move';

export type JoinEffect =
  /** Tear down any current voice session and start a fresh one with these credentials. */
  | { type: 'connect'; credentials: VoiceCredentials; cause: ConnectCause }
  /** Moved to another channel: the current session is obsolete; a VOICE_SERVER_UPDATE will follow. */
  | { type: 'moving'; channelId: string }
  /** `endpoint: null`: close the current session and wait. */
  | { type: 'serverLost' }
  /** Our voice state says we are in no channel (kicked, disconnected by a moderator, or left). */
  | { type: 'left' }
  /** The join timer fired before both dispatches came (e.g. full channel: Discord sends nothing). */
  | { type: 'timeout'; missing: MissingDispatch[] };

export interface JoinStep {
  state: JoinState;
  effects: JoinEffect[];
}

export function initialJoinState(guildId: string): JoinState {
  return {
    guildId,
    phase: 'idle',
    requestedChannelId: null,
    userId: null,
    sessionId: null,
    channelId: null,
    server: null,
    awaitingState: false,
    awaitingServer: false,
    serverOnly: false,
  };
}

function credentialsOf(state: JoinState): VoiceCredentials | null {
  const { server, sessionId, userId, channelId } = state;
  if (
    server === null ||
    server.endpoint === null ||
    sessionId === null ||
    userId === null ||
    channelId === null
  ) {
    return null;
  }
  return {
    endpoint: server.endpoint,
    token: server.token,
    serverId: state.guildId,
    sessionId,
    userId,
    channelId,
  };
}

/** Connects if nothing is missing any more; otherwise keeps waiting. */
function tryConnect(state: JoinState, cause: ConnectCause): JoinStep {
  if (state.awaitingState || state.awaitingServer) return { state, effects: [] };
  const credentials = credentialsOf(state);
  if (credentials === null) return { state, effects: [] };
  return {
    state: { ...state, phase: 'connected', serverOnly: false },
    effects: [{ type: 'connect', credentials, cause }],
  };
}

function connectNow(state: JoinState, cause: ConnectCause, serverOnly: boolean): JoinStep {
  const credentials = credentialsOf(state);
  if (credentials === null) return { state, effects: [] };
  return {
    state: { ...state, phase: 'connected', awaitingServer: false, awaitingState: false, serverOnly },
    effects: [{ type: 'connect', credentials, cause }],
  };
}

function onRequest(state: JoinState, channelId: string | null): JoinStep {
  if (channelId === null) {
    return {
      state: {
        ...state,
        phase: 'idle',
        requestedChannelId: null,
        server: null,
        awaitingServer: false,
        awaitingState: false,
        serverOnly: false,
      },
      effects: [],
    };
  }
  // Already connected to that channel: Discord may send nothing back, so do not wait (and time out).
  if (state.phase === 'connected' && state.channelId === channelId) {
    return { state: { ...state, requestedChannelId: channelId }, effects: [] };
  }
  return {
    state: {
      ...state,
      phase: 'awaiting',
      requestedChannelId: channelId,
      server: null,
      awaitingServer: true,
      // Our session id stays valid when we stay in the channel we are in; a new channel needs the
      // VOICE_STATE_UPDATE that confirms it.
      awaitingState: state.sessionId === null || state.channelId !== channelId,
      serverOnly: false,
    },
    effects: [],
  };
}

function onVoiceState(state: JoinState, data: GatewayVoiceStateData): JoinStep {
  if (data.guild_id !== undefined && data.guild_id !== state.guildId) return { state, effects: [] };
  if (state.userId !== null && data.user_id !== state.userId) return { state, effects: [] };
  const previousChannel = state.channelId;
  const next: JoinState = {
    ...state,
    userId: data.user_id,
    sessionId: data.session_id,
    channelId: data.channel_id,
  };

  if (data.channel_id === null) {
    // While awaiting, a null state is a leftover of an earlier leave: keep waiting for ours.
    if (state.phase === 'awaiting') return { state: next, effects: [] };
    if (state.phase === 'idle' && previousChannel === null) return { state: next, effects: [] };
    // We asked to leave: this is the confirmation, not news.
    if (state.requestedChannelId === null) return { state: { ...next, phase: 'idle' }, effects: [] };
    return {
      state: {
        ...next,
        phase: 'idle',
        server: null,
        awaitingServer: false,
        awaitingState: false,
        serverOnly: false,
      },
      effects: [{ type: 'left' }],
    };
  }

  const channelId = data.channel_id;
  switch (state.phase) {
    case 'awaiting':
      return tryConnect({ ...next, awaitingState: false }, 'join');
    case 'server-lost':
      return { state: next, effects: [] };
    case 'connected':
      if (channelId === previousChannel) return { state: { ...next, serverOnly: false }, effects: [] };
      if (state.serverOnly) return connectNow(next, 'channel-move', false);
      return movingTo(next, channelId);
    case 'idle':
      // Not waiting for anything, but Discord put us in a channel (e.g. moved after a 4014 close):
      // follow it unless we asked to leave.
      if (state.requestedChannelId === null || channelId === previousChannel)
        return { state: next, effects: [] };
      if (next.server !== null && next.server.endpoint !== null)
        return connectNow(next, 'channel-move', false);
      return movingTo(next, channelId);
  }
}

function movingTo(state: JoinState, channelId: string): JoinStep {
  return {
    state: {
      ...state,
      phase: 'awaiting',
      requestedChannelId: channelId,
      server: null,
      awaitingServer: true,
      awaitingState: false,
      serverOnly: false,
    },
    effects: [{ type: 'moving', channelId }],
  };
}

function onVoiceServer(state: JoinState, data: GatewayVoiceServerData): JoinStep {
  if (data.guild_id !== state.guildId) return { state, effects: [] };
  if (data.endpoint === null) {
    switch (state.phase) {
      case 'awaiting':
        // Discord answered but is still allocating: keep waiting for a usable endpoint.
        return { state: { ...state, server: null, awaitingServer: true }, effects: [] };
      case 'connected':
        return {
          state: {
            ...state,
            phase: 'server-lost',
            server: { token: data.token, endpoint: null },
            serverOnly: false,
          },
          effects: [{ type: 'serverLost' }],
        };
      case 'server-lost':
        return { state, effects: [] };
      case 'idle':
        if (state.requestedChannelId === null || state.channelId === null) return { state, effects: [] };
        return {
          state: { ...state, phase: 'server-lost', server: { token: data.token, endpoint: null } },
          effects: [{ type: 'serverLost' }],
        };
    }
  }

  const next: JoinState = { ...state, server: { token: data.token, endpoint: data.endpoint } };
  switch (state.phase) {
    case 'awaiting':
      return tryConnect({ ...next, awaitingServer: false }, 'join');
    case 'connected':
    case 'server-lost':
      return connectNow(next, 'server-update', true);
    case 'idle':
      if (state.requestedChannelId === null) return { state, effects: [] };
      // Stored even when we cannot connect yet: a channel state may follow (a move, server first).
      return credentialsOf(next) === null
        ? { state: next, effects: [] }
        : connectNow(next, 'server-update', true);
  }
}

export function reduceJoin(state: JoinState, event: JoinEvent): JoinStep {
  switch (event.type) {
    case 'request':
      return onRequest(state, event.channelId);
    case 'voiceState':
      return onVoiceState(state, event.data);
    case 'voiceServer':
      return onVoiceServer(state, event.data);
    case 'timeout': {
      if (state.phase !== 'awaiting') return { state, effects: [] };
      const missing: MissingDispatch[] = [];
      if (state.awaitingState) missing.push('VOICE_STATE_UPDATE');
      if (state.awaitingServer) missing.push('VOICE_SERVER_UPDATE');
      // We gave up on this request: late dispatches must not revive it (rejoin() asks again).
      return {
        state: {
          ...state,
          phase: 'idle',
          requestedChannelId: null,
          server: null,
          awaitingServer: false,
          awaitingState: false,
        },
        effects: [{ type: 'timeout', missing }],
      };
    }
    case 'sessionEnded':
      return {
        state: {
          ...state,
          phase: 'idle',
          server: null,
          awaitingServer: false,
          awaitingState: false,
          serverOnly: false,
        },
        effects: [],
      };
  }
}
