/**
 * No secret in util.inspect output: a live DAVE call (bot on a VoiceConnection through the local
 * main gateway, a listener VoiceSession), audio sent both ways, then util.inspect at depth Infinity
 * of the connection, its state, both sessions and every DAVE object reachable from them. The real
 * secret values (MLS epoch secrets, private keys, the send key handed to the media engine, hash-ratchet secrets and keys, AES
 * round keys, transport keys) are collected by walking the objects' fields, and none may appear in
 * hex, spaced hex (Buffer), base64 or array form; nor may the voice token and session id the main
 * gateway handed over, in clear (`connection.gatewayState` included, JSON.stringify too).
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { entersState } from '../../src/util/enters-state.js';
import type { VoiceConnection } from '../../src/gateway/voice-connection.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { HashRatchet } from '../../src/dave/hash-ratchet.js';
import { DaveSendKey } from '../../src/dave/send-key.js';
import { bareSession, botClient, joinWith, startCall } from '../support/call.js';
import { Cleanup } from '../support/cleanup.js';
import { BOT, GUILD, LISTENER } from '../support/ids.js';
import { until as waitFor } from '../support/wait.js';

const cleanups = new Cleanup();
afterEach(() => cleanups.run());

function transportKey(userId: string): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (Number(BigInt(userId) % 241n) * 7 + i * 13 + 1) & 0xff);
}

type Bytes = Uint8Array;

/** Every secret reachable from `roots`, by walking all own fields (TS-private ones included). */
function collectSecrets(roots: unknown[]): { bytes: Bytes[]; words: Int32Array[]; daveObjects: object[] } {
  const bytes: Bytes[] = [];
  const words: Int32Array[] = [];
  const daveObjects: object[] = [];
  const seen = new Set<unknown>();
  const addAll = (value: unknown, skip: ReadonlySet<string> = new Set()): void => {
    const inner = new Set<unknown>();
    const walk = (v: unknown, key: string): void => {
      if (skip.has(key) || v === null || typeof v !== 'object' || inner.has(v)) return;
      inner.add(v);
      if (v instanceof Uint8Array) {
        if (v.length >= 16) bytes.push(Uint8Array.from(v));
        return;
      }
      if (ArrayBuffer.isView(v)) return;
      if (v instanceof Map) for (const [k, x] of v) walk(x, String(k));
      else for (const k of Reflect.ownKeys(v)) walk((v as Record<PropertyKey, unknown>)[k], String(k));
    };
    walk(value, '');
  };
  const visit = (v: unknown, key: string, depth: number): void => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 40) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      if (v instanceof Uint8Array && v.length >= 16 && /secret|private|signkey/i.test(key))
        bytes.push(Uint8Array.from(v));
      return;
    }
    const name = (v as { constructor?: { name?: string } }).constructor?.name ?? '';
    if (/^(DaveClient|DaveSession|SessionDave|FrameEncryptor|FrameDecryptor|HashRatchet)$/.test(name))
      daveObjects.push(v);
    if (v instanceof HashRatchet) addAll(v);
    // An AES-GCM key's round keys, where its keystream keeps them (the WebAssembly core's
    // byte-swapped copy or a TypeScript keystream's schedule; Aes128Gcm itself keeps none).
    const rk = (v as { rk?: unknown }).rk;
    if (/^(WasmGcm|AesBlock|Aes128CtrUnrolled)$/.test(name) && rk instanceof Int32Array)
      words.push(Int32Array.from(rk));
    // The WebAssembly core's GHASH key H (with it, tags can be forged).
    const hkey = (v as { hkey?: unknown }).hkey;
    if (name === 'WasmGcm' && hkey instanceof Int32Array) words.push(Int32Array.from(hkey));
    // A resident WasmGcm key: its byte-swapped round keys (up to 60 words) and H, in its slot of the core's memory.
    const slot = v as { c?: { i32?: unknown }; rkAt?: unknown; hkeyAt?: unknown };
    if (
      name === 'WasmGcm' &&
      slot.c?.i32 instanceof Int32Array &&
      typeof slot.rkAt === 'number' &&
      slot.rkAt >= 0
    ) {
      const i32 = slot.c.i32;
      words.push(
        i32.slice(slot.rkAt >> 2, (slot.rkAt >> 2) + 44),
        i32.slice((slot.hkeyAt as number) >> 2, ((slot.hkeyAt as number) >> 2) + 32),
      );
    }
    // An MLS group state (dave/mls/rfc9420 GroupState): private keys and epoch secrets.
    if ('exporterSecret' in v && 'initSecret' in v && 'keys' in v) {
      const s = v as Record<string, unknown>;
      for (const k of [
        'keys',
        'signaturePrivate',
        'initSecret',
        'exporterSecret',
        'confirmationKey',
        'membershipKey',
      ])
        addAll(s[k]);
    }
    // The send key handed to the media engine (its secret is in an ES private field).
    if (v instanceof DaveSendKey) addAll(v.baseSecret());
    if (v instanceof Map) for (const [k, x] of v) visit(x, String(k), depth + 1);
    else if (v instanceof Set) for (const x of v) visit(x, key, depth + 1);
    else
      for (const k of Reflect.ownKeys(v)) {
        let x: unknown;
        try {
          x = (v as Record<PropertyKey, unknown>)[k];
        } catch {
          continue;
        }
        visit(x, String(k), depth + 1);
      }
  };
  for (const root of roots) visit(root, '', 0);
  return { bytes, words, daveObjects };
}

/** The forms a byte string can take in inspect output. */
function forms(secret: Bytes): string[] {
  const b = Buffer.from(secret);
  const head = [...b.subarray(0, 8)];
  return [
    b.toString('hex'),
    b.toString('base64').replace(/=+$/, ''),
    head.map((x) => x.toString(16).padStart(2, '0')).join(' '),
    head.join(', '),
  ];
}

async function call(): Promise<{
  connection: VoiceConnection;
  listener: VoiceSession;
  credentials: { token?: string; sessionId?: string };
}> {
  // Inline, so the engine's send-side DAVE state (it encrypts at send time) is in this heap too.
  const call = await startCall(cleanups, { voice: { keyFor: transportKey }, engine: { kind: 'inline' } });
  const client = await botClient(call, cleanups, BOT);
  const listener = await bareSession(call.voice, call.engine, cleanups, LISTENER, { ready: false });

  // The voice token and session id as the main gateway handed them over.
  const credentials: { token?: string; sessionId?: string } = {};
  const connection = joinWith(client, call.engine, cleanups, {
    group: 'inspect-secrets',
    selfDeaf: false, // it must receive too, so that its receive ratchets hold keys
    adapterCreator: (methods) =>
      client.adapterCreator(GUILD)({
        ...methods,
        onVoiceServerUpdate: (d) => {
          credentials.token = d.token;
          methods.onVoiceServerUpdate(d);
        },
        onVoiceStateUpdate: (d) => {
          credentials.sessionId = d.session_id;
          methods.onVoiceStateUpdate(d);
        },
      }),
  });
  await entersState(connection, 'ready', 10_000);
  return { connection, listener, credentials };
}

describe('util.inspect in a live DAVE call', () => {
  it('shows none of the MLS, DAVE or transport secrets, nor the voice token, at depth Infinity', async () => {
    const { connection, listener, credentials } = await call();
    const bot = connection.state.status === 'ready' ? connection.state.session : undefined;
    if (bot === undefined) throw new Error('not ready');
    await waitFor(
      () => bot.dave.protocolVersion === 1 && listener.dave.epoch !== undefined,
      10_000,
      'the DAVE group',
    );
    // Audio both ways so send and receive ratchets hold keys.
    const frames = (n: number): AsyncIterable<Uint8Array> =>
      (async function* () {
        for (let i = 0; i < n; i++) yield Uint8Array.of(0xfc, i, 1, 2, 3, 4, 5, 6);
      })();
    let heard = 0;
    listener.on('audioFrame', (f) => {
      if (f.userId === BOT) heard++;
    });
    await Promise.all([bot.playOpus(frames(25)).finished, listener.playOpus(frames(25)).finished]);
    await waitFor(() => heard >= 20, 10_000, 'audio through DAVE');

    const { bytes, words, daveObjects } = collectSecrets([connection, listener]);
    bytes.push(transportKey(BOT), transportKey(LISTENER));
    // Enough secrets found that the check means something: both members' MLS states and ratchets.
    expect(bytes.length).toBeGreaterThan(20);
    expect(words.length).toBeGreaterThanOrEqual(2);
    expect(daveObjects.length).toBeGreaterThanOrEqual(4);

    // The voice token and session id, in clear, wherever the connection reports its state.
    const credentialStrings = [credentials.token, credentials.sessionId];
    expect(credentialStrings.every((w) => typeof w === 'string' && w.length >= 8)).toBe(true);
    expect(JSON.stringify(connection.gatewayState)).not.toMatch(new RegExp(credentialStrings.join('|')));

    const targets: [string, unknown][] = [
      ['connection.gatewayState', connection.gatewayState],
      ['connection.state', connection.state],
      ['connection', connection],
      ['bot session', bot],
      ['listener session', listener],
      ['bot.dave', bot.dave],
      ...daveObjects.map((o, i): [string, unknown] => [`${o.constructor.name}#${i}`, o]),
    ];
    for (const [name, target] of targets) {
      const out = inspect(target, {
        depth: Infinity,
        maxArrayLength: Infinity,
        breakLength: Infinity,
      }).replace(/\s+/g, ' ');
      for (const secret of bytes) {
        for (const form of forms(secret)) {
          expect(out.includes(form), `${name} shows a secret (${form.slice(0, 24)}...)`).toBe(false);
        }
      }
      for (const word of credentialStrings)
        expect(out.includes(word!), `${name} shows the voice token or session id`).toBe(false);
      for (const rk of words) {
        const form = [...rk.subarray(0, 4)].join(', ');
        expect(out.includes(form), `${name} shows AES round keys or H`).toBe(false);
      }
    }
  });
});
