/**
 * The local Discord's REST routes over HTTP, as any client sees them: Discord's status codes and
 * `{ message, code }` bodies for what is missing or wrong, the interaction callback's rules (one
 * acknowledgement, followups after it), and interaction tokens kept out of logs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalDiscord } from '../../src/index.js';
import type { LocalDiscord } from '../../src/index.js';
import type { AddressInfo } from 'node:net';
import type { MainGatewayLogEvent } from '../../src/server/main-gateway.js';
import type { RestResponse } from '../../src/server/rest-api.js';
import { GUILD } from '../support/ids.js';
import { until } from '../support/wait.js';

const VOICE = '1700000000000000002';
const TEXT = '1700000000000000003';
const BOT = '1700000000000000010';
const USER = '1700000000000000020';

let local: LocalDiscord | undefined;
afterEach(async () => {
  await local?.stop();
  local = undefined;
});

async function start(
  log?: (event: MainGatewayLogEvent) => void,
): Promise<{ local: LocalDiscord; token: string; api: string }> {
  local = await startLocalDiscord({
    gateway: {
      guilds: [
        {
          id: GUILD,
          channels: [
            { id: VOICE, userLimit: 3 },
            { id: TEXT, type: 'text' },
          ],
        },
      ],
      ...(log === undefined ? {} : { log }),
    },
  });
  const { token, apiUrl } = local.createBot(BOT);
  return { local, token, api: `${apiUrl}/v10` };
}

async function call(
  url: string,
  init: { method?: string; token?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token === undefined ? {} : { Authorization: `Bot ${init.token}` }),
      ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

describe('REST errors', () => {
  it('401 without a bot token, 404 and 405 with Discord bodies, Unknown X codes', async () => {
    const { token, api } = await start();
    expect(await call(`${api}/users/@me`)).toEqual({
      status: 401,
      body: { message: '401: Unauthorized', code: 0 },
    });
    expect(await call(`${api}/nothing/here`, { token })).toEqual({
      status: 404,
      body: { message: '404: Not Found', code: 0 },
    });
    expect(await call(`${api}/users/@me`, { token, method: 'DELETE' })).toEqual({
      status: 405,
      body: { message: '405: Method Not Allowed', code: 0 },
    });
    expect((await call(`${api}/channels/1799999999999999999`, { token })).body).toEqual({
      message: 'Unknown Channel',
      code: 10003,
    });
    expect((await call(`${api}/guilds/1799999999999999999`, { token })).body).toMatchObject({ code: 10004 });
    expect((await call(`${api}/guilds/${GUILD}/members/1799999999999999999`, { token })).body).toMatchObject({
      code: 10007,
    });
    expect(
      await call(`${api}/channels/${TEXT}/messages`, { token, method: 'POST', body: { content: '' } }),
    ).toEqual({
      status: 400,
      body: { message: 'Cannot send an empty message', code: 50006 },
    });
    // Commands Discord would refuse are refused, not stored to break runCommand later.
    for (const body of [
      [null],
      [{ name: 'play', options: [false] }],
      [{ name: 'play', options: [{ name: 'q' }] }],
    ])
      expect(
        await call(`${api}/applications/${BOT}/commands`, { token, method: 'PUT', body }),
        JSON.stringify(body),
      ).toMatchObject({ status: 400, body: { message: 'Invalid Form Body', code: 50035 } });
    const invalid = await fetch(`${api}/channels/${TEXT}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bot ${token}`, 'Content-Type': 'application/json' },
      body: '{"content":',
    });
    expect({ status: invalid.status, body: await invalid.json() }).toEqual({
      status: 400,
      body: { message: 'The request body contains invalid JSON.', code: 50109 },
    });
    // Another application's commands are not this bot's.
    expect(
      (await call(`${api}/applications/1799999999999999999/commands`, { token, method: 'PUT', body: [] }))
        .status,
    ).toBe(403);
  });

  it('channels carry user_limit and permission overwrites; members their roles', async () => {
    const { token, api } = await start();
    expect((await call(`${api}/channels/${VOICE}`, { token })).body).toMatchObject({
      id: VOICE,
      type: 2,
      guild_id: GUILD,
      user_limit: 3,
      permission_overwrites: [],
    });
    const me = (await call(`${api}/guilds/${GUILD}/members/${BOT}`, { token })).body as { roles: string[] };
    const roles = (await call(`${api}/guilds/${GUILD}/roles`, { token })).body as Array<{
      id: string;
      managed: boolean;
    }>;
    expect(roles.find((r) => r.id === GUILD)).toMatchObject({ managed: false });
    expect(me.roles).toHaveLength(1);
    expect(roles.find((r) => r.id === me.roles[0])).toMatchObject({ managed: true, tags: { bot_id: BOT } });
  });
});

describe('interaction callbacks', () => {
  it('one acknowledgement, then followups and edits; unknown tokens are refused; tokens never logged', async () => {
    const events: MainGatewayLogEvent[] = [];
    const { local, api } = await start((e) => events.push(e));
    // A raw bot session: INTERACTION_CREATE needs a connected bot to go to.
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(local.gateway.url);
    const frames: Array<{ t?: string; d?: { id?: string; token?: string } }> = [];
    ws.on('message', (data) =>
      frames.push(JSON.parse((data as Buffer).toString('utf8')) as (typeof frames)[number]),
    );
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ op: 2, d: { token: local.createBot(BOT).token, intents: 1, properties: {} } }));
    await until(() => frames.some((f) => f.t === 'READY'));

    const interaction = local.runCommand({
      name: 'play',
      channelId: TEXT,
      userId: USER,
      options: { query: 'x', loud: true, n: 2 },
    });
    await until(() => frames.some((f) => f.t === 'INTERACTION_CREATE'));
    const created = frames.find((f) => f.t === 'INTERACTION_CREATE')!.d as {
      id: string;
      token: string;
      data: { options: unknown[] };
      member: { user: { id: string } };
    };
    expect(created.data.options).toEqual([
      { name: 'query', type: 3, value: 'x' },
      { name: 'loud', type: 5, value: true },
      { name: 'n', type: 4, value: 2 },
    ]);
    expect(created.member.user.id).toBe(USER);

    const callback = `${api}/interactions/${created.id}/${created.token}/callback`;
    expect(
      (
        await call(`${api}/interactions/${created.id}/wrong-token/callback`, {
          method: 'POST',
          body: { type: 4 },
        })
      ).body,
    ).toMatchObject({ code: 10062 });
    expect(
      (await call(`${api}/webhooks/${BOT}/${created.token}`, { method: 'POST', body: { content: 'early' } }))
        .status,
    ).toBe(404);
    expect((await call(callback, { method: 'POST', body: { type: 5 } })).status).toBe(204);
    expect(interaction.callbackType).toBe(5);
    expect(interaction.response?.loading).toBe(true);
    expect(
      (await call(callback, { method: 'POST', body: { type: 4, data: { content: 'again' } } })).body,
    ).toMatchObject({
      code: 40060,
    });
    const edited = await call(`${api}/webhooks/${BOT}/${created.token}/messages/@original`, {
      method: 'PATCH',
      body: { content: 'done' },
    });
    expect(edited.body).toMatchObject({ content: 'done', interaction_metadata: { id: created.id } });
    expect(await interaction.reply(1_000)).toMatchObject({ content: 'done', edits: 1, kind: 'reply' });
    await call(`${api}/webhooks/${BOT}/${created.token}`, {
      method: 'POST',
      body: { content: 'more', flags: 64 },
    });
    expect(await interaction.followup(0, 1_000)).toMatchObject({
      content: 'more',
      ephemeral: true,
      kind: 'followup',
    });

    ws.close();
    const logged = JSON.stringify(events);
    expect(logged).toContain('/interactions/');
    expect(logged).not.toContain(created.token);
    expect(JSON.stringify(interaction)).not.toContain(created.token);
  });
});

describe('REST: our own failures', () => {
  it('a route that throws, or answers with what JSON cannot hold, is a logged 500, not a crash', async () => {
    const { createServer } = await import('node:http');
    const { serveRestRequest } = await import('../../src/server/rest-http.js');
    const logged: MainGatewayLogEvent[] = [];
    const handlers: Record<string, () => RestResponse> = {
      '/throws': () => {
        throw new Error('a bug');
      },
      '/bigint': () => ({ status: 200, body: { n: 1n } }),
    };
    const server = createServer((req, res) =>
      serveRestRequest(
        req,
        res,
        (r) => handlers[r.path]!(),
        (e) => logged.push(e),
      ),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v10`;
      for (const path of Object.keys(handlers)) {
        const res = await fetch(`${base}${path}`);
        expect({ status: res.status, body: await res.json() }, path).toEqual({
          status: 500,
          body: { message: '500: Internal Server Error', code: 0 },
        });
      }
      expect(logged.map((e) => [e.type, e.code])).toEqual([
        ['rest', 500],
        ['rest', 500],
      ]);
    } finally {
      server.close();
    }
  });
});
