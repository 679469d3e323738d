/**
 * The local voice gateway's handlers, fuzzed over real sockets with DAVE on (the codec has its own
 * targets; this reaches the session, call and DAVE wiring behind it). Each input is one client in
 * the same call as the others running at the time, so joins and leaves churn its MLS group: Hello,
 * a valid Identify for most, then one to four frames made from real ones (Select Protocol,
 * Speaking, Heartbeat, Resume, DAVE ops 23 and 31, key packages and commits), mutated. A frame may
 * be refused with a voice close code; what must never happen is a handler throwing (4015 from the
 * server's catch-all, or an uncaught exception) or the server going away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { encodeClientMessage } from '../../src/protocol/voice-messages.js';
import { createRng, deriveSeed } from '../../src/server/faults.js';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer } from '../../src/server/index.js';
import { identifyPayload } from '../server/helpers.js';
import { CHANNEL, GUILD } from '../support/ids.js';
import { int, mutateBytes, mutateJson, pick } from './engine.js';
import { mlsCorpus } from './targets/mls.js';
import { wsOutcome } from './ws-outcome.js';
import type { Outcome } from './ws-outcome.js';

/** `FUZZ_VOICE_INPUTS=20000` for a long run. */
const INPUTS = Number(process.env.FUZZ_VOICE_INPUTS ?? 400);
const PARALLEL = 16;

let server: VoiceServer;
const handlerErrors: string[] = [];

beforeAll(async () => {
  server = await startVoiceServer({
    dave: true,
    log: (e) => {
      if (e.type === 'error' && e.reason === 'handler') handlerErrors.push(e.detail ?? '');
    },
  });
});
afterAll(async () => {
  await server.stop();
});

type Frame = { json: unknown } | { op: 26 | 28; payload: Uint8Array };

function seeds(port: number): Frame[] {
  const c = mlsCorpus();
  return [
    {
      json: {
        op: VoiceOpcode.SelectProtocol,
        d: { protocol: 'udp', data: { address: '127.0.0.1', port, mode: 'aead_aes256_gcm_rtpsize' } },
      },
    },
    {
      json: {
        op: VoiceOpcode.SelectProtocol,
        d: { protocol: 'udp', data: { address: '127.0.0.1', port, mode: 'aead_xchacha20_poly1305_rtpsize' } },
      },
    },
    { json: { op: VoiceOpcode.Speaking, d: { speaking: 1, delay: 0, ssrc: 1 } } },
    { json: { op: VoiceOpcode.Heartbeat, d: { t: 1700000000000, seq_ack: 3 } } },
    {
      json: { op: VoiceOpcode.Resume, d: { server_id: GUILD, session_id: 'abc', token: 'tok', seq_ack: 1 } },
    },
    { json: { op: VoiceOpcode.DaveTransitionReady, d: { transition_id: 1 } } },
    { json: { op: VoiceOpcode.DaveMlsInvalidCommitWelcome, d: { transition_id: 1 } } },
    ...c.keyPackages.map((payload): Frame => ({ op: VoiceOpcode.DaveMlsKeyPackage, payload })),
    ...c.commits.map((payload): Frame => ({ op: VoiceOpcode.DaveMlsCommitWelcome, payload })),
  ];
}

/** One client: Hello, Identify (unless `identify` is undefined), Ready, then `frames`. */
function exchange(identify: unknown, frames: Array<string | Uint8Array>): Promise<Outcome> {
  return wsOutcome(
    server.wsUrl,
    (ws, data, isBinary, sent) => {
      if (isBinary) return;
      const op = (JSON.parse(data.toString('utf8')) as { op: number }).op;
      if (op === VoiceOpcode.Hello && identify !== undefined) ws.send(JSON.stringify(identify));
      else if (op === VoiceOpcode.Hello || op === VoiceOpcode.Ready) {
        for (const frame of frames) ws.send(frame);
        sent();
      }
    },
    100,
  );
}

/** Input `i`: its Identify (most inputs) and its frames, each a seed's, mutated more often than not. */
function input(i: number, all: readonly Frame[]): { identify: unknown; frames: Array<string | Uint8Array> } {
  const rng = createRng(deriveSeed(3, i));
  const userId = String(1720000000000000000n + BigInt(i));
  const identify =
    rng() < 0.85
      ? identifyPayload(server.allocate({ guildId: GUILD, channelId: CHANNEL, userId }), 1)
      : undefined;
  // Mostly well-formed frames, so that sequences get past the codec (fuzzed on its own) to the handlers.
  const frames = Array.from({ length: 1 + int(rng, 4) }, () => {
    const seed = pick(rng, all);
    const mutate = rng() < 0.35;
    if ('json' in seed) {
      const json = Buffer.from(JSON.stringify(seed.json));
      return Buffer.from(mutate ? mutateJson(json, rng, [json]) : json).toString('utf8');
    }
    const payload = mutate ? mutateBytes(seed.payload, rng, [seed.payload]) : seed.payload;
    return encodeClientMessage({ op: seed.op, payload });
  });
  return { identify, frames };
}

describe('local voice gateway fuzz with DAVE (real sockets)', () => {
  it(
    `${INPUTS} clients sending mutated frames into one call: refused with a close code, never a handler throw`,
    { timeout: Math.max(90_000, INPUTS * 10) }, // a long run gets 10 ms per input
    async () => {
      const all = seeds(9);
      const results = new Array<Outcome>(INPUTS);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < INPUTS) {
          const i = next++;
          const { identify, frames } = input(i, all);
          results[i] = await exchange(identify, frames);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, () => worker()));

      expect(handlerErrors).toEqual([]);
      expect(results.filter((r) => r.code === 4015 || r.code === -1)).toEqual([]);
      // The mutations reached both outcomes: frames refused with a code and frames taken.
      expect(results.some((r) => r.code >= 4000)).toBe(true);
      expect(results.some((r) => r.code === 0)).toBe(true);
      // And the server still serves a well-formed client to Ready.
      const allocation = server.allocate({
        guildId: GUILD,
        channelId: CHANNEL,
        userId: '1729999999999999999',
      });
      expect(
        await exchange(identifyPayload(allocation, 1), [
          JSON.stringify({ op: VoiceOpcode.Heartbeat, d: { t: 1, seq_ack: 0 } }),
        ]),
      ).toEqual({
        code: 0,
        reason: 'open',
      });
    },
  );
});
