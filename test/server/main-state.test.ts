/**
 * The main gateway's protocol rules without sockets or timers (main-state.ts): Identify and its
 * refusals, Resume with replay, op 4's two dispatches in order, revocation. A recording link stands
 * in for the websocket; the socket-level tests are in main-gateway.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { GatewayCloseCode, GatewayIntent } from '../../src/protocol/constants.js';
import { BotTokens, createBotToken } from '../../src/server/bot-tokens.js';
import type { BotSession, BotSessionLink } from '../../src/server/bot-session.js';
import { GuildRegistry } from '../../src/server/guild-registry.js';
import { MainGatewayState } from '../../src/server/main-state.js';
import type { Refusal } from '../../src/server/main-state.js';
import type { MainGatewayVoiceServer, VoiceEventOrder } from '../../src/server/main-types.js';

const GUILD = '41771983423143937';
const VOICE = '41771983423143938';
const BOT = '104694319306248192';
const INTENTS = GatewayIntent.Guilds | GatewayIntent.GuildVoiceStates;

class Link implements BotSessionLink {
  readonly frames: Array<{ t: string; s: number; d: Record<string, unknown> }> = [];
  closed: { code: number; reason: string } | null = null;
  send(frame: string): void {
    this.frames.push(JSON.parse(frame) as { t: string; s: number; d: Record<string, unknown> });
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  get types(): string[] {
    return this.frames.map((f) => f.t);
  }
}

function world(order: VoiceEventOrder = 'state-first') {
  const allocations: string[] = [];
  const voiceServer: MainGatewayVoiceServer = {
    allocate: ({ userId }) => {
      allocations.push(userId);
      return { endpoint: '127.0.0.1:1', token: `v${allocations.length}`, sessionId: 'vs' };
    },
    closeClient: () => true,
  };
  const registry = new GuildRegistry(false, [
    { id: GUILD, channels: [{ id: VOICE, name: 'voice', type: 'voice' }] },
  ]);
  const state = new MainGatewayState({
    wsUrl: 'ws://127.0.0.1:1',
    voiceServer,
    registry,
    tokens: new BotTokens(undefined),
    order,
    random: () => 0,
    log: () => undefined,
  });
  return { state, registry, allocations };
}

const isRefusal = (r: BotSession | Refusal): r is Refusal => 'code' in r;

describe('MainGatewayState (no sockets)', () => {
  it('refuses a bad Identify with the close code a client acts on', () => {
    const { state } = world();
    const token = createBotToken(BOT);
    const cases: Array<[unknown, number]> = [
      ['not an object', GatewayCloseCode.DecodeError],
      [{ token: 'bogus', intents: INTENTS }, GatewayCloseCode.AuthenticationFailed],
      [{ token, intents: -1 }, GatewayCloseCode.InvalidIntents],
      [{ token, intents: INTENTS, shard: [2, 2] }, GatewayCloseCode.InvalidShard],
    ];
    for (const [d, code] of cases) {
      const result = state.identify(d, new Link());
      expect(isRefusal(result) ? result.code : 'session').toBe(code);
    }
  });

  it('starts a session with READY then GUILD_CREATE, numbered from 1', () => {
    const { state } = world();
    const link = new Link();
    const session = state.identify({ token: `Bot ${createBotToken(BOT)}`, intents: INTENTS }, link);
    expect(isRefusal(session)).toBe(false);
    expect(link.types).toEqual(['READY', 'GUILD_CREATE']);
    expect(link.frames.map((f) => f.s)).toEqual([1, 2]);
    expect(link.frames[0]!.d.session_id).toBe((session as BotSession).id);
  });

  it('resumes on a new link: the missed dispatches, then RESUMED; the old link is closed', () => {
    const { state } = world();
    const token = createBotToken(BOT);
    const first = new Link();
    const session = state.identify({ token, intents: INTENTS }, first) as BotSession;
    session.dispatch('TYPING_START', {});
    const second = new Link();
    const resumed = state.resume({ token, session_id: session.id, seq: 1 }, second);
    expect(resumed).toBe(session);
    expect(second.types).toEqual(['GUILD_CREATE', 'TYPING_START', 'RESUMED']);
    expect(second.frames.map((f) => f.s)).toEqual([2, 3, 4]);
    expect(first.closed?.code).toBe(GatewayCloseCode.UnknownError);
    // A seq the session never sent, or another bot's token: the client must identify again.
    expect(state.resume({ token, session_id: session.id, seq: 99 }, new Link())).toBeNull();
    expect(
      state.resume(
        { token: createBotToken('80351110224678912'), session_id: session.id, seq: 4 },
        new Link(),
      ),
    ).toBeNull();
  });

  it('answers op 4 with VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE in the configured order', () => {
    for (const order of ['state-first', 'server-first'] as const) {
      const { state, allocations } = world(order);
      const link = new Link();
      const session = state.identify({ token: createBotToken(BOT), intents: INTENTS }, link) as BotSession;
      expect(state.voiceStateUpdate(session, { guild_id: GUILD, channel_id: VOICE })).toBe(true);
      const voice = link.types.slice(2);
      expect(voice).toEqual(
        order === 'state-first'
          ? ['VOICE_STATE_UPDATE', 'VOICE_SERVER_UPDATE']
          : ['VOICE_SERVER_UPDATE', 'VOICE_STATE_UPDATE'],
      );
      expect(allocations).toEqual([BOT]);
      expect(state.voiceStateUpdate(session, { guild_id: 1 })).toBe(false);
    }
  });

  it('sends nothing for op 4 into a full channel', () => {
    const { state, registry, allocations } = world();
    registry.get(GUILD)!.channels.get(VOICE)!.userLimit = 0;
    const link = new Link();
    const session = state.identify({ token: createBotToken(BOT), intents: INTENTS }, link) as BotSession;
    state.voiceStateUpdate(session, { guild_id: GUILD, channel_id: VOICE });
    expect(link.types).toEqual(['READY', 'GUILD_CREATE']);
    expect(allocations).toEqual([]);
  });

  it('revoking a token closes its sessions with 4004, and it never identifies again', () => {
    const { state } = world();
    const token = createBotToken(BOT);
    const link = new Link();
    state.identify({ token, intents: INTENTS }, link);
    expect(state.revoke(token)).toBe(1);
    expect(link.closed?.code).toBe(GatewayCloseCode.AuthenticationFailed);
    const again = state.identify({ token, intents: INTENTS }, new Link());
    expect(isRefusal(again) ? again.code : 'session').toBe(GatewayCloseCode.AuthenticationFailed);
  });
});
