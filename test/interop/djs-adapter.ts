/**
 * A test adapter for @discordjs/voice: stands in for discord.js's main gateway. When the library
 * asks to join (op 4 with a channel id), it answers with the two dispatches Discord would send,
 * filled from the local server's `allocate()`: VOICE_STATE_UPDATE (session_id, channel_id,
 * user_id) and VOICE_SERVER_UPDATE (token, guild_id, endpoint).
 */
import type { DiscordGatewayAdapterCreator, DiscordGatewayAdapterLibraryMethods } from '@discordjs/voice';
import type { Allocation } from '../../src/server/index.js';

type VoiceStateData = Parameters<DiscordGatewayAdapterLibraryMethods['onVoiceStateUpdate']>[0];
type VoiceServerData = Parameters<DiscordGatewayAdapterLibraryMethods['onVoiceServerUpdate']>[0];

interface JoinPayload {
  op: number;
  d: { guild_id: string; channel_id: string | null; self_deaf?: boolean; self_mute?: boolean };
}

function isJoinPayload(value: unknown): value is JoinPayload {
  if (typeof value !== 'object' || value === null) return false;
  const { op, d } = value as { op?: unknown; d?: unknown };
  return op === 4 && typeof d === 'object' && d !== null;
}

export interface TestAdapterHandle {
  adapterCreator: DiscordGatewayAdapterCreator;
  /** Op 4 payloads the library sent (joins and leaves), for assertions. */
  readonly sent: unknown[];
}

export function createTestAdapter(allocation: Allocation): TestAdapterHandle {
  const sent: unknown[] = [];
  const adapterCreator: DiscordGatewayAdapterCreator = (methods) => {
    let destroyed = false;
    return {
      sendPayload(payload: unknown): boolean {
        if (destroyed) return false;
        sent.push(payload);
        if (!isJoinPayload(payload) || payload.d.channel_id === null) return true;
        const { self_deaf: selfDeaf = false, self_mute: selfMute = false } = payload.d;
        // Like the real gateway: the dispatches arrive later, never inside sendPayload.
        setImmediate(() => {
          if (destroyed) return;
          methods.onVoiceStateUpdate({
            guild_id: allocation.guildId,
            channel_id: allocation.channelId,
            user_id: allocation.userId,
            session_id: allocation.sessionId,
            deaf: false,
            mute: false,
            self_deaf: selfDeaf,
            self_mute: selfMute,
            self_video: false,
            suppress: false,
            request_to_speak_timestamp: null,
          } satisfies VoiceStateData);
          methods.onVoiceServerUpdate({
            token: allocation.token,
            guild_id: allocation.guildId,
            endpoint: allocation.endpoint,
          } satisfies VoiceServerData);
        });
        return true;
      },
      destroy() {
        destroyed = true;
      },
    };
  };
  return { adapterCreator, sent };
}
