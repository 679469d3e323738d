import { afterEach, describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import {
  closeIdleSharedEngine,
  getGroups,
  getVoiceConnection,
  getVoiceConnections,
  joinVoiceChannel,
} from '../../src/gateway/registry.js';
import type { VoiceAdapterCreator, VoiceStateUpdatePayload } from '../../src/gateway/adapter.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import type { VoiceConnection } from '../../src/gateway/voice-connection.js';
import { isVoxcordError } from '../../src/errors.js';
import { runNode } from '../helpers/node-script.js';

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
afterEach(async () => {
  for (const c of made.splice(0)) c.destroy();
  await closeIdleSharedEngine();
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

  it('a join soon after the last connection left reuses the shared media engine', () => {
    const a = recordingAdapter();
    const log: string[] = [];
    const debug = (message: string): void => {
      if (message.startsWith('media engine:')) log.push(message);
    };
    const join = (): VoiceConnection =>
      joinVoiceChannel({ guildId: '5', channelId: '50', adapterCreator: a.creator, group: 'r5', debug });
    const first = join();
    const second = joinVoiceChannel({
      guildId: '6',
      channelId: '60',
      adapterCreator: a.creator,
      group: 'r5',
      debug,
    });
    first.destroy();
    second.destroy();
    const third = join();
    made.push(third);
    expect(log).toEqual([
      'media engine: starting the shared engine',
      'media engine: reusing the shared engine',
      'media engine: reusing the shared engine',
    ]);
  });

  it('an idle shared engine does not keep the process alive', async () => {
    const registry = new URL('../../src/gateway/registry.ts', import.meta.url).href;
    const script = [
      `import { joinVoiceChannel } from ${JSON.stringify(registry)};`,
      'const adapterCreator = () => ({ sendPayload: () => true, destroy: () => undefined });',
      'const debug = (m) => { if (m.startsWith("media engine:")) console.log(m); };',
      "const join = () => joinVoiceChannel({ guildId: '1', channelId: '2', adapterCreator, debug });",
      'join().destroy();',
      // Long enough for the worker to start (it is kept referenced until it has).
      'await new Promise((r) => setTimeout(r, 1500));',
      'join().destroy();',
      "console.log('left');",
    ].join('\n');
    // Well inside SHARED_ENGINE_IDLE_MS (30 s): only an unreferenced engine lets it exit this soon.
    const { out, exit } = await runNode(
      ['--import', 'tsx', '--input-type=module', '-e', script],
      fileURLToPath(new URL('.', import.meta.url)),
    );
    expect(out.trim().split('\n')).toEqual([
      'media engine: starting the shared engine',
      'media engine: reusing the shared engine',
      'left',
    ]);
    expect(exit).toBe(0);
  }, 20_000);
});
