/**
 * Adapter callbacks given garbage (null, numeric ids) by a buggy gateway library or adapter: voxcord
 * answers with a typed error on the connection and never throws back into the caller.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VoiceConnection } from '../../src/gateway/voice-connection.js';
import type { VoiceAdapterLibraryMethods } from '../../src/gateway/adapter.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { TypedEmitter } from '../../src/util/typed-emitter.js';
import { isVoxcordError } from '../../src/errors.js';
import type { VoxcordError } from '../../src/errors.js';
import { BOT as USER, GUILD } from '../support/ids.js';

const live: VoiceConnection[] = [];
afterEach(() => {
  for (const c of live.splice(0)) c.destroy();
});

function setup(): { methods: VoiceAdapterLibraryMethods; errors: VoxcordError[]; sessions: unknown[] } {
  let methods: VoiceAdapterLibraryMethods | undefined;
  const errors: VoxcordError[] = [];
  const sessions: unknown[] = [];
  const connection = new VoiceConnection({
    guildId: GUILD,
    channelId: '1',
    adapterCreator: (m) => {
      methods = m;
      return { sendPayload: () => true, destroy: () => undefined };
    },
    // Never used: createSession below stands in for the session that would open a channel.
    engine: {
      kind: 'inline',
      openChannel: () => Promise.reject(new Error('not used')),
      close: () => Promise.resolve(),
    } satisfies MediaEngine,
    createSession: (o) => {
      sessions.push(o);
      const s = new (class extends TypedEmitter<Record<string, unknown[]>> {
        state = { status: 'idle' };
        connect(): void {}
        destroy(): void {}
      })();
      return s as unknown as VoiceSession;
    },
  });
  connection.on('error', (e) => errors.push(e));
  live.push(connection);
  return { methods: methods!, errors, sessions };
}

describe('adapter callbacks with malformed data', () => {
  const cases: [string, (m: VoiceAdapterLibraryMethods) => void][] = [
    ['VOICE_STATE_UPDATE null', (m) => m.onVoiceStateUpdate(null as never)],
    ['VOICE_SERVER_UPDATE null', (m) => m.onVoiceServerUpdate(null as never)],
    ['VOICE_STATE_UPDATE undefined', (m) => m.onVoiceStateUpdate(undefined as never)],
    ['VOICE_SERVER_UPDATE a string', (m) => m.onVoiceServerUpdate('x' as never)],
    [
      'VOICE_STATE_UPDATE with a numeric user id',
      (m) =>
        m.onVoiceStateUpdate({ guild_id: GUILD, channel_id: '1', user_id: 1e308, session_id: 's' } as never),
    ],
    [
      'VOICE_SERVER_UPDATE with a numeric token',
      (m) => m.onVoiceServerUpdate({ guild_id: GUILD, endpoint: 'h:1', token: 5 } as never),
    ],
  ];
  for (const [name, call] of cases) {
    it(`${name}: no throw into the caller, a typed ADAPTER_ERROR, dispatch ignored`, async () => {
      const h = setup();
      expect(() => call(h.methods)).not.toThrow();
      await new Promise((r) => setImmediate(r));
      expect(h.errors).toHaveLength(1);
      expect(isVoxcordError(h.errors[0], 'ADAPTER_ERROR')).toBe(true);
      // The connection still works with well-formed dispatches afterwards.
      h.methods.onVoiceStateUpdate({ guild_id: GUILD, channel_id: '1', user_id: USER, session_id: 's' });
      h.methods.onVoiceServerUpdate({ guild_id: GUILD, endpoint: 'voice.local:1', token: 't' });
      expect(h.sessions).toHaveLength(1);
    });
  }
});
