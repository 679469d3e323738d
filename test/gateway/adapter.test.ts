/**
 * The adapter contract is @discordjs/voice's: a discord.js bot passes `guild.voiceAdapterCreator`
 * unchanged. discord.js is not a dependency, so its adapter types are restated here from
 * @discordjs/voice (typed with discord-api-types); assigning one to joinVoiceChannel must compile.
 */
import { describe, it, expect } from 'vitest';
import type {
  GatewayVoiceServerUpdateDispatchData,
  GatewayVoiceStateUpdateDispatchData,
} from 'discord-api-types/v10';
import {
  createVoiceStateUpdatePayload,
  isVoiceServerData,
  isVoiceStateData,
} from '../../src/gateway/adapter.js';
import type { VoiceAdapterCreator } from '../../src/gateway/adapter.js';

/** @discordjs/voice's DiscordGatewayAdapterLibraryMethods. */
interface DjsLibraryMethods {
  destroy(): void;
  onVoiceServerUpdate(data: GatewayVoiceServerUpdateDispatchData): void;
  onVoiceStateUpdate(data: GatewayVoiceStateUpdateDispatchData): void;
}
/** @discordjs/voice's DiscordGatewayAdapterImplementerMethods (payload is `any` there). */
interface DjsImplementerMethods {
  destroy(): void;
  sendPayload(payload: unknown): boolean;
}
type DjsAdapterCreator = (methods: DjsLibraryMethods) => DjsImplementerMethods;

describe('adapter contract', () => {
  it('accepts a discord.js-typed adapter creator and feeds it discord-api-types payloads', () => {
    const sent: unknown[] = [];
    let library: DjsLibraryMethods | undefined;
    const djsCreator: DjsAdapterCreator = (methods) => {
      library = methods;
      return { destroy: () => undefined, sendPayload: (p) => sent.push(p) > 0 };
    };
    // The point of the test: this assignment type-checks.
    const ours: VoiceAdapterCreator = djsCreator;
    const received: string[] = [];
    const adapter = ours({
      onVoiceServerUpdate: (d) => received.push(`server ${d.endpoint}`),
      onVoiceStateUpdate: (d) => received.push(`state ${d.channel_id}`),
      destroy: () => received.push('destroy'),
    });
    expect(
      adapter.sendPayload(
        createVoiceStateUpdatePayload({ guildId: '1', channelId: '2', selfMute: false, selfDeaf: true }),
      ),
    ).toBe(true);
    expect(sent).toEqual([
      { op: 4, d: { guild_id: '1', channel_id: '2', self_mute: false, self_deaf: true } },
    ]);
    library?.onVoiceStateUpdate({
      guild_id: '1',
      channel_id: '2',
      user_id: '3',
      session_id: 's',
      deaf: false,
      mute: false,
      self_deaf: true,
      self_mute: false,
      self_video: false,
      suppress: false,
      request_to_speak_timestamp: null,
    });
    library?.onVoiceServerUpdate({ token: 't', guild_id: '1', endpoint: 'x:1' });
    library?.destroy();
    expect(received).toEqual(['state 2', 'server x:1', 'destroy']);
  });

  it('guards reject malformed dispatch data', () => {
    expect(isVoiceStateData({ user_id: '1', session_id: 's', channel_id: null })).toBe(true);
    expect(isVoiceStateData({ user_id: 1, session_id: 's', channel_id: null })).toBe(false);
    expect(isVoiceStateData({ user_id: '1', session_id: 's' })).toBe(false);
    expect(isVoiceStateData(null)).toBe(false);
    expect(isVoiceServerData({ token: 't', guild_id: '1', endpoint: null })).toBe(true);
    expect(isVoiceServerData({ token: 't', guild_id: '1', endpoint: 5 })).toBe(false);
    expect(isVoiceServerData('x')).toBe(false);
  });
});
