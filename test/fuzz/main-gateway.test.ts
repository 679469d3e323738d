/**
 * The local main gateway's JSON parsing, fuzzed over real sockets (its handlers live in the socket
 * callbacks): each input is one mutated frame (Identify, Heartbeat, op 4, Resume, Presence), sent
 * on a fresh connection, after a valid Identify for half of them (so op 4 and friends get past
 * authentication). A frame may be refused with a gateway close code; what must never happen is the
 * server's catch-all (close 4000 "internal error": a handler threw) or the server going away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMainGateway } from '../../src/server/main-gateway.js';
import type { MainGateway } from '../../src/server/main-gateway.js';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer } from '../../src/server/index.js';
import { GatewayIntent } from '../../src/protocol/constants.js';
import { generateInput, mutateJson } from './engine.js';
import type { FuzzInstance } from './engine.js';
import { wsOutcome } from './ws-outcome.js';
import type { Outcome } from './ws-outcome.js';
import { BOT, CHANNEL, GUILD } from '../support/ids.js';

const INPUTS = 400;
const PARALLEL = 16;

let voice: VoiceServer;
let gw: MainGateway;

beforeAll(async () => {
  voice = await startVoiceServer({ dave: false });
  gw = await startMainGateway({ voiceServer: voice, guilds: [GUILD] });
});
afterAll(async () => {
  await gw.stop();
  await voice.stop();
});

function seeds(token: string): Uint8Array[] {
  const frames: unknown[] = [
    { op: 2, d: { token, intents: GatewayIntent.Guilds | GatewayIntent.GuildVoiceStates, properties: {} } },
    { op: 2, d: { token, intents: 129, shard: [0, 1], properties: { os: 'linux' } } },
    { op: 1, d: null },
    { op: 1, d: 7 },
    { op: 4, d: { guild_id: GUILD, channel_id: CHANNEL, self_mute: false, self_deaf: true } },
    { op: 4, d: { guild_id: GUILD, channel_id: null, self_mute: false, self_deaf: false } },
    { op: 6, d: { token, session_id: '0123456789abcdef', seq: 1 } },
    { op: 3, d: { since: null, activities: [], status: 'online', afk: false } },
  ];
  return frames.map((f) => Buffer.from(JSON.stringify(f)));
}

/** One connection: Hello, optionally a valid Identify and READY, then the fuzzed frame. */
function exchange(frame: string, identify: string | undefined): Promise<Outcome> {
  return wsOutcome(
    `${gw.url}/?v=10&encoding=json`,
    (ws, data, _isBinary, sent) => {
      const message = JSON.parse(data.toString('utf8')) as { op: number; t?: string };
      const ready = message.op === 0 && message.t === 'READY';
      if (message.op === 10 && identify !== undefined) ws.send(identify);
      else if (message.op === 10 || ready) {
        ws.send(frame);
        sent();
      }
    },
    150,
  );
}

describe('main gateway JSON fuzz (real sockets)', () => {
  it(
    `${INPUTS} mutated frames: refused with a gateway close code, never a handler throw`,
    { timeout: 60_000 },
    async () => {
      const token = gw.createToken(BOT);
      const instance: FuzzInstance = {
        seeds: seeds(token).map((s) => new Uint8Array(s)),
        mutate: mutateJson,
        run: () => 'ok',
        isTypedRejection: () => false,
      };
      const identify = Buffer.from(instance.seeds[0]!).toString('utf8');
      const results: Outcome[] = new Array<Outcome>(INPUTS);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < INPUTS) {
          const i = next++;
          const frame = Buffer.from(generateInput(instance, 1, i)).toString('utf8');
          results[i] = await exchange(frame, i % 2 === 0 ? identify : undefined);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, () => worker()));

      const crashes = results.filter((r) => r.reason === 'internal error' || r.code === -1);
      expect(crashes).toEqual([]);
      // The mutations did reach both outcomes: frames refused with a code and frames accepted.
      expect(results.some((r) => r.code >= 4000)).toBe(true);
      expect(results.some((r) => r.code === 0)).toBe(true);
      // And the server still serves a well-formed client.
      expect(await exchange(JSON.stringify({ op: 1, d: null }), identify)).toEqual({
        code: 0,
        reason: 'open',
      });
    },
  );
});
