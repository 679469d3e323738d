import { afterEach, describe, it, expect } from 'vitest';
import {
  getGroups,
  getVoiceConnection,
  getVoiceConnections,
  joinVoiceChannel,
} from '../../src/gateway/registry.js';
import type { VoiceAdapterCreator, VoiceStateUpdatePayload } from '../../src/gateway/adapter.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import type { VoiceConnection } from '../../src/gateway/voice-connection.js';
import { isVoxcordError } from '../../src/errors.js';

const engine: MediaEngine = {
  kind: 'inline',
  openChannel: () => Promise.reject(new Error('unused')),
  close: async () => {},
};

function recordingAdapter(): { creator: VoiceAdapterCreator; payloads: VoiceStateUpdatePayload['d'][] } {
  const payloads: VoiceStateUpdatePayload['d'][] = [];
  return {
    payloads,
    creator: () => ({
      sendPayload: (payload) => {
        payloads.push(payload.d);
        return true;
      },
      destroy: () => undefined,
    }),
  };
}

const made: VoiceConnection[] = [];
afterEach(() => {
  for (const c of made.splice(0)) c.destroy();
});

describe('registry', () => {
  it('keeps one connection per (group, guild); joining again moves it', () => {
    const a = recordingAdapter();
    const first = joinVoiceChannel({
      guildId: '1',
      channelId: '10',
      adapterCreator: a.creator,
      engine,
      group: 'r1',
    });
    made.push(first);
    const again = joinVoiceChannel({
      guildId: '1',
      channelId: '11',
      adapterCreator: a.creator,
      engine,
      group: 'r1',
    });
    expect(again).toBe(first);
    expect(a.payloads.map((p) => p.channel_id)).toEqual(['10', '11']);
    expect(getVoiceConnection('1', 'r1')).toBe(first);

    const other = joinVoiceChannel({
      guildId: '1',
      channelId: '10',
      adapterCreator: a.creator,
      engine,
      group: 'r2',
    });
    made.push(other);
    expect(other).not.toBe(first);
    expect(getGroups()).toEqual(expect.arrayContaining(['r1', 'r2']));
    expect([...getVoiceConnections('r1').keys()]).toEqual(['1']);
  });

  it('destroy() sends op 4 with channel null and removes the connection', () => {
    const a = recordingAdapter();
    const c = joinVoiceChannel({
      guildId: '2',
      channelId: '20',
      adapterCreator: a.creator,
      engine,
      group: 'r3',
    });
    c.destroy();
    expect(a.payloads.at(-1)).toEqual({ guild_id: '2', channel_id: null, self_mute: false, self_deaf: true });
    expect(getVoiceConnection('2', 'r3')).toBeUndefined();
    expect(getGroups()).not.toContain('r3');
    // A new join after destroy creates a fresh connection.
    const fresh = joinVoiceChannel({
      guildId: '2',
      channelId: '20',
      adapterCreator: a.creator,
      engine,
      group: 'r3',
    });
    made.push(fresh);
    expect(fresh).not.toBe(c);
  });

  it('rejects bad options with INVALID_ARGUMENT', () => {
    const a = recordingAdapter();
    for (const bad of [
      { guildId: '', channelId: '1', adapterCreator: a.creator },
      { guildId: '1', channelId: '', adapterCreator: a.creator },
      { guildId: '1', channelId: '1', adapterCreator: 'nope' as unknown as VoiceAdapterCreator },
    ]) {
      let error: unknown;
      try {
        joinVoiceChannel({ ...bad, engine });
      } catch (err) {
        error = err;
      }
      expect(isVoxcordError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
