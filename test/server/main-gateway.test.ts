/**
 * The local main gateway: HTTP /gateway/bot, Hello/Identify/READY, heartbeats, resume, op 4 ->
 * the two voice dispatches, and the operator controls. A recording stub stands in for the voice
 * server here; the end-to-end tests (test/gateway/e2e.test.ts) use the real one.
 */
import { afterEach, describe, it, expect } from 'vitest';
import WebSocket from 'ws';
import { REST } from '@discordjs/rest';
import { WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
import type { GatewayIntentBits } from 'discord-api-types/v10';
import { createBotToken, startMainGateway, userIdFromToken } from '../../src/server/main-gateway.js';
import type {
  MainGateway,
  MainGatewayOptions,
  MainGatewayVoiceServer,
} from '../../src/server/main-gateway.js';
import { BOT, GUILD } from '../support/ids.js';
const HUMAN = '80351110224678912';

interface Frame {
  op: number;
  t?: string | null;
  s?: number | null;
  d?: unknown;
}

class StubVoiceServer implements MainGatewayVoiceServer {
  allocations: Array<{ guildId: string; channelId: string; userId: string }> = [];
  closed: Array<{ userId: string; guildId: string; code: number }> = [];
  private n = 0;
  allocate(request: { guildId: string; channelId: string; userId: string }) {
    this.allocations.push({ guildId: request.guildId, channelId: request.channelId, userId: request.userId });
    this.n += 1;
    return { endpoint: `127.0.0.1:${9000 + this.n}`, token: `vtok-${this.n}`, sessionId: `vsess-${this.n}` };
  }
  closeClient(userId: string, guildId: string, code: number): boolean {
    this.closed.push({ userId, guildId, code });
    return true;
  }
}

/** A raw gateway client that queues frames and close codes. */
class RawClient {
  readonly ws: WebSocket;
  private readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;

  constructor(url: string) {
    this.ws = new WebSocket(`${url}/?v=10&encoding=json`);
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : '{}') as Frame);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
    this.ws.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(payload: unknown): void {
    this.ws.send(JSON.stringify(payload));
  }

  /** The next frame matching `match` (frames before it that do not match stay queued). */
  async next(match: (f: Frame) => boolean = () => true, timeoutMs = 2_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0] as Frame;
      if (this.closeCode !== undefined) throw new Error(`closed with ${this.closeCode}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  dispatch(t: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.op === 0 && f.t === t, timeoutMs);
  }

  /** Every queued dispatch type, in order (drains the queue). */
  drainTypes(): string[] {
    return this.frames.splice(0).map((f) => String(f.t ?? f.op));
  }

  async identify(token: string, intents = (1 << 0) | (1 << 7)): Promise<Frame> {
    await this.next((f) => f.op === 10);
    this.send({ op: 2, d: { token, intents, properties: { os: 'linux', browser: 't', device: 't' } } });
    return this.dispatch('READY');
  }

  close(): void {
    this.ws.terminate();
  }
}

let gateway: MainGateway | undefined;
const clients: RawClient[] = [];
const managers: WebSocketManager[] = [];

async function start(
  options: Partial<MainGatewayOptions> = {},
): Promise<{ gw: MainGateway; voice: StubVoiceServer }> {
  const voice = new StubVoiceServer();
  gateway = await startMainGateway({
    voiceServer: voice,
    guilds: [GUILD],
    voiceEventOrder: 'state-first',
    ...options,
  });
  return { gw: gateway, voice };
}

function client(gw: MainGateway): RawClient {
  const c = new RawClient(gw.url);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const m of managers.splice(0)) await m.destroy();
  await gateway?.stop();
  gateway = undefined;
});

describe('tokens', () => {
  it('encode the user id like Discord tokens', () => {
    const token = createBotToken(BOT);
    expect(token.split('.')).toHaveLength(3);
    expect(userIdFromToken(token)).toBe(BOT);
    expect(userIdFromToken('not-a-token')).toBeNull();
    expect(userIdFromToken('aGVsbG8.a.b')).toBeNull(); // "hello" is no snowflake
  });
});

describe('HTTP /gateway/bot', () => {
  it('answers a valid token with this gateway and rejects others with 401', async () => {
    const { gw } = await start();
    const ok = await fetch(`${gw.apiUrl}/v10/gateway/bot`, {
      headers: { Authorization: `Bot ${gw.createToken(BOT)}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      url: gw.url,
      shards: 1,
      session_start_limit: { max_concurrency: 16 },
    });
    const bad = await fetch(`${gw.apiUrl}/v10/gateway/bot`, { headers: { Authorization: 'Bot nope' } });
    expect(bad.status).toBe(401);
    const none = await fetch(`${gw.apiUrl}/v10/gateway/bot`);
    expect(none.status).toBe(401);
  });
});

describe('session', () => {
  it('Hello, Identify -> READY with the user id from the token, then GUILD_CREATE; heartbeats are ACKed', async () => {
    const { gw } = await start({ heartbeatIntervalMs: 5_000 });
    const c = client(gw);
    const hello = await c.next((f) => f.op === 10);
    expect(hello.d).toEqual({ heartbeat_interval: 5_000 });
    c.send({ op: 2, d: { token: gw.createToken(BOT), intents: 129, properties: {} } });
    const ready = await c.dispatch('READY');
    expect(ready.s).toBe(1);
    expect(ready.d).toMatchObject({
      user: { id: BOT, bot: true },
      guilds: [{ id: GUILD, unavailable: true }],
      resume_gateway_url: gw.url,
      shard: [0, 1],
    });
    const guild = await c.dispatch('GUILD_CREATE');
    expect(guild.d).toMatchObject({ id: GUILD, voice_states: [] });
    c.send({ op: 1, d: 2 });
    expect(await c.next((f) => f.op === 11)).toEqual({ op: 11 });
  });

  it('closes 4004 on a bad token and on a revoked one', async () => {
    const { gw } = await start();
    const bad = client(gw);
    await bad.next((f) => f.op === 10);
    bad.send({ op: 2, d: { token: 'garbage', intents: 129, properties: {} } });
    expect(await bad.closed).toBe(4004);

    const token = gw.createToken(BOT);
    const good = client(gw);
    await good.identify(token);
    expect(gw.revokeToken(token)).toBe(1);
    expect(await good.closed).toBe(4004);
    const again = client(gw);
    await again.next((f) => f.op === 10);
    again.send({ op: 2, d: { token, intents: 129, properties: {} } });
    expect(await again.closed).toBe(4004);
  });

  it('rejects ops before Identify (4003), a second Identify (4005), bad JSON (4002), unknown ops (4001)', async () => {
    const { gw } = await start();
    const a = client(gw);
    await a.next((f) => f.op === 10);
    a.send({ op: 4, d: { guild_id: GUILD, channel_id: 'c1' } });
    expect(await a.closed).toBe(4003);
    const b = client(gw);
    await b.identify(gw.createToken(BOT));
    b.send({ op: 2, d: { token: gw.createToken(BOT), intents: 129 } });
    expect(await b.closed).toBe(4005);
    const c = client(gw);
    await c.next((f) => f.op === 10);
    c.ws.send('{nope');
    expect(await c.closed).toBe(4002);
    const d = client(gw);
    await d.next((f) => f.op === 10);
    d.send({ op: 99 });
    expect(await d.closed).toBe(4001);
  });

  it('resumes: missed dispatches are replayed, then RESUMED', async () => {
    const { gw } = await start();
    const token = gw.createToken(BOT);
    const a = client(gw);
    const ready = await a.identify(token);
    await a.dispatch('GUILD_CREATE');
    const sessionId = (ready.d as { session_id: string }).session_id;
    a.close();
    await a.closed;
    gw.setUserVoiceState(GUILD, HUMAN, 'c1'); // happens while the bot is away
    const b = client(gw);
    await b.next((f) => f.op === 10);
    b.send({ op: 6, d: { token, session_id: sessionId, seq: 2 } });
    const replayed = await b.dispatch('VOICE_STATE_UPDATE');
    expect(replayed.s).toBe(3);
    expect(replayed.d).toMatchObject({ user_id: HUMAN, channel_id: 'c1' });
    expect((await b.dispatch('RESUMED')).s).toBe(4);

    const c = client(gw);
    await c.next((f) => f.op === 10);
    c.send({ op: 6, d: { token, session_id: 'unknown', seq: 1 } });
    expect(await c.next((f) => f.op === 9)).toEqual({ op: 9, d: false });
  });
});

describe('sessions that end', () => {
  it("a client's clean close (1000) ends its session; a dropped one is resumable for sessionGraceMs, then forgotten", async () => {
    const { gw } = await start({ sessionGraceMs: 1_000 });
    const token = gw.createToken(BOT);
    const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    /** Tries a resume, then drops that socket too (a drop: a new grace period starts). */
    const resumes = async (sessionId: string): Promise<boolean> => {
      const c = client(gw);
      await c.next((f) => f.op === 10);
      c.send({ op: 6, d: { token, session_id: sessionId, seq: 1 } });
      const answer = await c.next((f) => f.op === 9 || f.t === 'RESUMED');
      c.close();
      await c.closed;
      return answer.op !== 9;
    };
    const session = async (closeCode: number): Promise<string> => {
      const c = client(gw);
      const ready = await c.identify(token);
      c.ws.close(closeCode);
      await c.closed;
      return (ready.d as { session_id: string }).session_id;
    };
    expect(await resumes(await session(1000))).toBe(false);

    const dropped = await session(4000);
    await wait(600);
    expect(await resumes(dropped)).toBe(true); // within its grace period
    await wait(600); // the first drop's period is over; the second drop's is not
    expect(await resumes(dropped)).toBe(true);
    await wait(1_200);
    expect(await resumes(dropped)).toBe(false);
  }, 10_000);
});

describe('op 4 voice state update', () => {
  it.each(['state-first', 'server-first'] as const)('answers with both dispatches, %s', async (order) => {
    const { gw, voice } = await start({ voiceEventOrder: order });
    const c = client(gw);
    await c.identify(gw.createToken(BOT));
    await c.dispatch('GUILD_CREATE');
    c.send({ op: 4, d: { guild_id: GUILD, channel_id: 'c1', self_mute: false, self_deaf: true } });
    const first = await c.next((f) => f.op === 0);
    const second = await c.next((f) => f.op === 0);
    const [stateFrame, serverFrame] = order === 'state-first' ? [first, second] : [second, first];
    expect(stateFrame.t).toBe('VOICE_STATE_UPDATE');
    expect(serverFrame.t).toBe('VOICE_SERVER_UPDATE');
    expect(stateFrame.d).toMatchObject({
      guild_id: GUILD,
      channel_id: 'c1',
      user_id: BOT,
      session_id: 'vsess-1',
      self_deaf: true,
    });
    expect(serverFrame.d).toEqual({ token: 'vtok-1', guild_id: GUILD, endpoint: '127.0.0.1:9001' });
    expect(voice.allocations).toEqual([{ guildId: GUILD, channelId: 'c1', userId: BOT }]);
  });

  it('random order produces both orders', async () => {
    let flip = 0;
    const { gw } = await start({ voiceEventOrder: 'random', random: () => (flip++ % 2 === 0 ? 0.1 : 0.9) });
    const c = client(gw);
    await c.identify(gw.createToken(BOT));
    await c.dispatch('GUILD_CREATE');
    const orders: string[] = [];
    for (const channel of ['c1', 'c2']) {
      c.send({ op: 4, d: { guild_id: GUILD, channel_id: channel, self_mute: false, self_deaf: false } });
      const first = await c.next((f) => f.op === 0);
      await c.next((f) => f.op === 0);
      orders.push(String(first.t));
    }
    expect(orders).toEqual(['VOICE_STATE_UPDATE', 'VOICE_SERVER_UPDATE']);
  });

  it('a full channel gets no answer at all; leaving sends channel null and ends the voice session', async () => {
    const { gw, voice } = await start();
    gw.setUserLimit(GUILD, 'c1', 1);
    gw.setUserVoiceState(GUILD, HUMAN, 'c1');
    const c = client(gw);
    await c.identify(gw.createToken(BOT));
    await c.dispatch('GUILD_CREATE');
    c.send({ op: 4, d: { guild_id: GUILD, channel_id: 'c1', self_mute: false, self_deaf: false } });
    await expect(c.dispatch('VOICE_SERVER_UPDATE', 400)).rejects.toThrow('timed out');
    expect(voice.allocations).toEqual([]);

    c.send({ op: 4, d: { guild_id: GUILD, channel_id: 'c2', self_mute: false, self_deaf: false } });
    await c.dispatch('VOICE_SERVER_UPDATE');
    c.send({ op: 4, d: { guild_id: GUILD, channel_id: null, self_mute: false, self_deaf: false } });
    const left = await c.next(
      (f) => f.t === 'VOICE_STATE_UPDATE' && (f.d as { channel_id: unknown }).channel_id === null,
    );
    expect(left.d).toMatchObject({ user_id: BOT });
    expect(voice.closed).toEqual([{ userId: BOT, guildId: GUILD, code: 4014 }]);
  });

  it('a user limit set back to 0 is no limit (as in a channel spec), and a bad one is refused', async () => {
    const { gw } = await start();
    gw.setUserLimit(GUILD, 'c1', 1);
    gw.setUserVoiceState(GUILD, HUMAN, 'c1');
    gw.setUserLimit(GUILD, 'c1', 0);
    const c = client(gw);
    await c.identify(gw.createToken(BOT));
    await c.dispatch('GUILD_CREATE');
    c.send({ op: 4, d: { guild_id: GUILD, channel_id: 'c1', self_mute: false, self_deaf: false } });
    await c.dispatch('VOICE_SERVER_UPDATE');
    for (const limit of [-1, 1.5, Number.NaN, 'x'])
      expect(() => gw.setUserLimit(GUILD, 'c1', limit as number)).toThrow(/limit must be/);
  });

  it('bots see other users voice states; a bot without GUILD_VOICE_STATES sees none (not even its own)', async () => {
    const { gw } = await start();
    const c = client(gw);
    await c.identify(gw.createToken(BOT));
    gw.setUserVoiceState(GUILD, HUMAN, 'c1');
    expect((await c.dispatch('VOICE_STATE_UPDATE')).d).toMatchObject({ user_id: HUMAN, channel_id: 'c1' });
    gw.setUserVoiceState(GUILD, HUMAN, null);
    expect((await c.dispatch('VOICE_STATE_UPDATE')).d).toMatchObject({ user_id: HUMAN, channel_id: null });

    const blind = client(gw);
    await blind.identify(gw.createToken('222222222222222222'), 1);
    blind.send({ op: 4, d: { guild_id: GUILD, channel_id: 'c1', self_mute: false, self_deaf: false } });
    await blind.dispatch('VOICE_SERVER_UPDATE');
    await expect(blind.dispatch('VOICE_STATE_UPDATE', 300)).rejects.toThrow('timed out');
  });
});

describe('operator controls', () => {
  async function joinedBot(options: Partial<MainGatewayOptions> = {}) {
    const started = await start(options);
    const c = client(started.gw);
    await c.identify(started.gw.createToken(BOT));
    await c.dispatch('GUILD_CREATE');
    c.send({ op: 4, d: { guild_id: GUILD, channel_id: 'c1', self_mute: false, self_deaf: false } });
    await c.dispatch('VOICE_STATE_UPDATE');
    await c.dispatch('VOICE_SERVER_UPDATE');
    return { ...started, c };
  }

  it('moveUser: a new VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE for the new channel', async () => {
    const { gw, voice, c } = await joinedBot();
    expect(gw.moveUser(GUILD, BOT, 'c2', { order: 'server-first', closeCode: 4014 })).toBe(true);
    expect(voice.closed).toEqual([{ userId: BOT, guildId: GUILD, code: 4014 }]);
    const first = await c.next((f) => f.op === 0);
    const second = await c.next((f) => f.op === 0);
    expect(first).toMatchObject({ t: 'VOICE_SERVER_UPDATE', d: { token: 'vtok-2' } });
    expect(second).toMatchObject({ t: 'VOICE_STATE_UPDATE', d: { channel_id: 'c2' } });
    expect(voice.allocations.at(-1)).toEqual({ guildId: GUILD, channelId: 'c2', userId: BOT });
    expect(gw.voiceStates(GUILD)).toEqual([
      { guildId: GUILD, channelId: 'c2', userId: BOT, selfMute: false, selfDeaf: false, bot: true },
    ]);
  });

  it('changeEndpoint: endpoint null, then a new endpoint and token', async () => {
    const { gw, c } = await joinedBot();
    const moved = gw.changeEndpoint(GUILD, { delayMs: 50 });
    expect((await c.dispatch('VOICE_SERVER_UPDATE')).d).toMatchObject({ guild_id: GUILD, endpoint: null });
    expect(await moved).toBe(1);
    // The stub issues a new session id, so the gateway announces it first.
    expect((await c.dispatch('VOICE_STATE_UPDATE')).d).toMatchObject({
      session_id: 'vsess-2',
      channel_id: 'c1',
    });
    expect((await c.dispatch('VOICE_SERVER_UPDATE')).d).toEqual({
      guild_id: GUILD,
      endpoint: '127.0.0.1:9002',
      token: 'vtok-2',
    });
  });

  it('kick: voice close 4014 and a voice state with channel null; endCall: 4022', async () => {
    const { gw, voice, c } = await joinedBot();
    expect(gw.endCall(GUILD, 'c1')).toBe(1);
    expect(voice.closed).toEqual([{ userId: BOT, guildId: GUILD, code: 4022 }]);
    expect(gw.kick(GUILD, BOT)).toBe(true);
    expect(voice.closed.at(-1)).toEqual({ userId: BOT, guildId: GUILD, code: 4014 });
    expect((await c.dispatch('VOICE_STATE_UPDATE')).d).toMatchObject({ user_id: BOT, channel_id: null });
    expect(gw.voiceStates(GUILD)).toEqual([]);
    expect(gw.kick(GUILD, BOT)).toBe(false);
  });
});

describe('@discordjs/ws against the local gateway', () => {
  it('connects unmodified through its REST option, gets READY, and routes op 4 through send()', async () => {
    const { gw, voice } = await start({ shards: 2 });
    const token = gw.createToken(BOT);
    const rest = new REST({ api: gw.apiUrl }).setToken(token);
    const manager = new WebSocketManager({ token, intents: 129 as GatewayIntentBits, rest });
    managers.push(manager);
    const readies: Array<{ id: string; shard: number }> = [];
    manager.on(WebSocketShardEvents.Ready, (data, shardId) =>
      readies.push({ id: data.user.id, shard: shardId }),
    );
    const dispatches: string[] = [];
    manager.on(WebSocketShardEvents.Dispatch, (payload) => dispatches.push(payload.t));
    await manager.connect();
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
    expect(readies.map((r) => r.id)).toEqual([BOT, BOT]);
    expect(readies.map((r) => r.shard).sort()).toEqual([0, 1]);
    const shard = Number((BigInt(GUILD) >> 22n) % 2n);
    await manager.send(shard, {
      op: 4,
      d: { guild_id: GUILD, channel_id: 'c1', self_mute: false, self_deaf: false },
    });
    const deadline = Date.now() + 2_000;
    while (!dispatches.includes('VOICE_SERVER_UPDATE') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(dispatches).toContain('VOICE_STATE_UPDATE');
    expect(dispatches).toContain('VOICE_SERVER_UPDATE');
    expect(voice.allocations).toHaveLength(1);
  });
});
