/**
 * The local Discord's HTTP fronts, fuzzed over raw TCP: bot authors run it in their CI, where any
 * library under test (or a bug in it) sends these. Each input is one request made from a real
 * one's: REST calls of the routes discord.js uses (JSON and multipart bodies, the token right,
 * wrong or missing, interaction and webhook tokens in paths), main gateway upgrades, and requests
 * to the voice gateway's port, upgrades or not; method, target and body mutated. Any 4xx is fine,
 * with Discord's `{ message, code }` body from REST. What must never happen: a 500 (a route threw),
 * no answer, or a server going away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startLocalDiscord } from '../../src/index.js';
import type { LocalDiscord } from '../../src/index.js';
import type { MainGatewayLogEvent } from '../../src/server/main-gateway.js';
import { GatewayIntent } from '../../src/protocol/constants.js';
import { createRng, deriveSeed } from '../../src/server/faults.js';
import { GUILD } from '../support/ids.js';
import { until } from '../support/wait.js';
import { int, mutateBytes, mutateJson, pick } from './engine.js';
import { exchangeAll, METHODS, mutateText } from './raw-http.js';
import type { Answer } from './raw-http.js';

/** `FUZZ_DISCORD_INPUTS=100000` for a long run. */
const INPUTS = Number(process.env.FUZZ_DISCORD_INPUTS ?? 1500);
const VOICE = '1710000000000000002';
const TEXT = '1710000000000000003';
const BOT = '1710000000000000010';
const USER = '1710000000000000020';

let local: LocalDiscord;
let token: string;
let bot: WebSocket;
const interactions: Array<{ id: string; token: string }> = [];
const restCodes: number[] = [];

beforeAll(async () => {
  local = await startLocalDiscord({
    gateway: {
      guilds: [{ id: GUILD, channels: [{ id: VOICE }, { id: TEXT, type: 'text' }] }],
      log: (e: MainGatewayLogEvent) => {
        if (e.type === 'rest' && e.code !== undefined) restCodes.push(e.code);
      },
    },
    voice: { dave: false },
  });
  token = local.createBot(BOT).token;
  // A bot session, so commands make interactions whose tokens the callback and webhook routes take.
  bot = new WebSocket(local.gateway.url);
  let ready = false;
  bot.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as { t?: string; d?: { id: string; token: string } };
    if (frame.t === 'READY') ready = true;
    if (frame.t === 'INTERACTION_CREATE' && frame.d !== undefined)
      interactions.push({ id: frame.d.id, token: frame.d.token });
  });
  await new Promise((resolve) => bot.once('open', resolve));
  bot.send(JSON.stringify({ op: 2, d: { token, intents: GatewayIntent.Guilds, properties: {} } }));
  await until(() => ready, 5000, 'READY');
  for (let i = 0; i < 2; i++) local.runCommand({ name: 'play', channelId: TEXT, userId: USER });
  await until(() => interactions.length === 2, 5000, 'two interactions');
});
afterAll(async () => {
  bot.close();
  await local.stop();
});

interface Seed {
  port: 'main' | 'voice';
  method: string;
  target: string;
  body?: { json: unknown } | { multipart: string };
  upgrade?: boolean;
}

const BOUNDARY = 'voxcordfuzz';

function seeds(): Seed[] {
  const [a, b] = interactions as [{ id: string; token: string }, { id: string; token: string }];
  const api = '/api/v10';
  const rest = (method: string, path: string, json?: unknown): Seed => ({
    port: 'main',
    method,
    target: api + path,
    ...(json === undefined ? {} : { body: { json } }),
  });
  const multipart =
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="payload_json"\r\n` +
    `Content-Type: application/json\r\n\r\n{"content":"now playing","flags":0}\r\n` +
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="files[0]"; filename="queue.txt"\r\n` +
    `Content-Type: text/plain\r\n\r\n1. a song\r\n--${BOUNDARY}--\r\n`;
  const command = {
    name: 'play',
    description: 'plays',
    options: [{ type: 3, name: 'query', description: 'q' }],
  };
  return [
    rest('GET', '/gateway'),
    rest('GET', '/gateway/bot'),
    rest('GET', '/users/@me'),
    rest('GET', `/users/${USER}`),
    rest('GET', '/applications/@me'),
    rest('GET', `/guilds/${GUILD}?with_counts=true`),
    rest('GET', `/guilds/${GUILD}/channels`),
    rest('GET', `/guilds/${GUILD}/roles`),
    rest('GET', `/guilds/${GUILD}/members/${BOT}`),
    rest('GET', `/guilds/${GUILD}/members?limit=5&after=0`),
    rest('GET', `/guilds/${GUILD}/voice-states/@me`),
    rest('GET', `/channels/${VOICE}`),
    rest('POST', `/channels/${TEXT}/messages`, { content: 'hi', embeds: [{ title: 't' }], flags: 0 }),
    { port: 'main', method: 'POST', target: `${api}/channels/${TEXT}/messages`, body: { multipart } },
    rest('GET', `/channels/${TEXT}/messages?limit=2`),
    rest('POST', `/channels/${TEXT}/typing`),
    rest('PUT', `/applications/${BOT}/commands`, [command]),
    rest('POST', `/applications/${BOT}/guilds/${GUILD}/commands`, command),
    rest('GET', `/applications/${BOT}/guilds/${GUILD}/commands`),
    rest('DELETE', `/applications/${BOT}/commands/1`),
    rest('POST', `/interactions/${a.id}/${a.token}/callback?with_response=true`, {
      type: 4,
      data: { content: 'ok', flags: 64 },
    }),
    rest('POST', `/interactions/${b.id}/${b.token}/callback`, { type: 5 }),
    rest('POST', `/webhooks/${BOT}/${a.token}`, { content: 'more' }),
    rest('PATCH', `/webhooks/${BOT}/${b.token}/messages/@original`, { content: 'done', components: [] }),
    rest('GET', `/webhooks/${BOT}/${a.token}/messages/@original`),
    rest('DELETE', `/webhooks/${BOT}/${a.token}/messages/@original`),
    { port: 'main', method: 'GET', target: '/?v=10&encoding=json', upgrade: true },
    { port: 'voice', method: 'GET', target: '/?v=8', upgrade: true },
    { port: 'voice', method: 'GET', target: '/?v=8' },
  ];
}

/** Input `i`: its port, request bytes, and whether it asks for a WebSocket. */
function request(
  i: number,
  all: readonly Seed[],
): { port: 'main' | 'voice'; bytes: Buffer; upgrade: boolean } {
  const rng = createRng(deriveSeed(2, i));
  const seed = pick(rng, all);
  const upgrade = seed.upgrade === true;
  const method = !upgrade && rng() < 0.2 ? pick(rng, METHODS) : seed.method;
  const target = rng() < 0.5 ? mutateText(seed.target, rng) : seed.target;
  const headers = ['Host: 127.0.0.1'];
  if (rng() < 0.85) headers.push(`Authorization: Bot ${rng() < 0.8 ? token : mutateText(token, rng)}`);
  let body = '';
  if (upgrade) {
    headers.push('Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13');
    headers.push('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
  } else if (seed.body !== undefined && 'json' in seed.body) {
    const json = Buffer.from(JSON.stringify(seed.body.json));
    body = Buffer.from(rng() < 0.7 ? mutateJson(json, rng, [json]) : json).toString('latin1');
    headers.push('Content-Type: application/json');
  } else if (seed.body !== undefined) {
    const form = Buffer.from(seed.body.multipart, 'latin1');
    body = Buffer.from(rng() < 0.7 ? mutateBytes(form, rng, [form]) : form).toString('latin1');
    headers.push(`Content-Type: multipart/form-data; boundary=${BOUNDARY}`);
  }
  if (body !== '') headers.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  if (int(rng, 10) === 0) headers.push(`X-Fuzz: ${mutateText('v', rng)}`);
  const head = `${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n`;
  return { port: seed.port, bytes: Buffer.from(head + body, 'latin1'), upgrade };
}

/** What is wrong with an answer ('' when nothing is). */
function problem(answer: Answer | 'no answer'): string {
  if (answer === 'no answer') return 'no answer';
  if (answer.status >= 500) return `status ${answer.status}: ${answer.body.slice(0, 200)}`;
  // Answers without JSON come from Node's HTTP parser (a malformed request: 400) or the upgrade.
  if (answer.status < 400 || answer.headers.get('content-type') !== 'application/json') return '';
  try {
    const e = JSON.parse(answer.body) as Record<string, unknown>;
    return typeof e.message === 'string' && typeof e.code === 'number'
      ? ''
      : `not Discord's error body: ${answer.body.slice(0, 200)}`;
  } catch {
    return `not JSON: ${answer.body.slice(0, 200)}`;
  }
}

describe('local Discord HTTP and WebSocket fuzz (real sockets)', () => {
  it(
    `${INPUTS} mutated requests to REST, the main gateway and the voice gateway: a 4xx, never a 500 or no answer`,
    { timeout: Math.max(90_000, INPUTS * 3) }, // a long run gets 3 ms per input
    async () => {
      const all = seeds();
      const ports = { main: local.gateway.port, voice: local.voice.port };
      const made = Array.from({ length: INPUTS }, (_, i) => request(i, all));
      const answers = await exchangeAll(INPUTS, (i) => ({ ...made[i]!, port: ports[made[i]!.port] }));

      const problems = answers.flatMap((a, i) => {
        const p = problem(a);
        return p === '' ? [] : [`input ${i}: ${p}`];
      });
      expect(problems).toEqual([]);
      expect(restCodes.filter((c) => c >= 500)).toEqual([]);
      // The mutations reached the routes (2xx), the refusals (4xx) and both gateways (101).
      const statuses = answers.map((a) => (a === 'no answer' ? 0 : a.status));
      expect(statuses.some((s) => s >= 200 && s < 300)).toBe(true);
      expect(statuses.some((s) => s >= 400 && s < 500)).toBe(true);
      const upgraded = new Set(made.flatMap((m, i) => (statuses[i] === 101 ? [m.port] : [])));
      expect([...upgraded].sort()).toEqual(['main', 'voice']);
      // Both still serve, and the bot's session is still open.
      const me = await fetch(`${local.gateway.apiUrl}/v10/users/@me`, {
        headers: { Authorization: `Bot ${token}` },
      });
      expect(me.status).toBe(200);
      expect(bot.readyState).toBe(WebSocket.OPEN);
    },
  );
});
