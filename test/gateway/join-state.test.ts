import { describe, it, expect } from 'vitest';
import { initialJoinState, reduceJoin } from '../../src/gateway/join-state.js';
import type { JoinEffect, JoinEvent, JoinState } from '../../src/gateway/join-state.js';
import type { GatewayVoiceServerData, GatewayVoiceStateData } from '../../src/gateway/adapter.js';
import { BOT as USER, GUILD } from '../support/ids.js';

function stateUpdate(channelId: string | null, over: Partial<GatewayVoiceStateData> = {}): JoinEvent {
  return {
    type: 'voiceState',
    data: { guild_id: GUILD, channel_id: channelId, user_id: USER, session_id: 'sess-1', ...over },
  };
}

function serverUpdate(
  endpoint: string | null,
  token = 'tok-1',
  over: Partial<GatewayVoiceServerData> = {},
): JoinEvent {
  return { type: 'voiceServer', data: { guild_id: GUILD, endpoint, token, ...over } };
}

/** Runs events in order; returns the final state and every effect. */
function run(
  events: JoinEvent[],
  start: JoinState = initialJoinState(GUILD),
): { state: JoinState; effects: JoinEffect[] } {
  let state = start;
  const effects: JoinEffect[] = [];
  for (const event of events) {
    const step = reduceJoin(state, event);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

const joined = (channel = 'c1'): JoinState =>
  run([{ type: 'request', channelId: channel }, stateUpdate(channel), serverUpdate('voice.example:443')])
    .state;

describe('join state: first join', () => {
  it('connects once both dispatches arrived, state first', () => {
    const { state, effects } = run([
      { type: 'request', channelId: 'c1' },
      stateUpdate('c1'),
      serverUpdate('voice.example:443'),
    ]);
    expect(state.phase).toBe('connected');
    expect(effects).toEqual([
      {
        type: 'connect',
        cause: 'join',
        credentials: {
          endpoint: 'voice.example:443',
          token: 'tok-1',
          serverId: GUILD,
          sessionId: 'sess-1',
          userId: USER,
          channelId: 'c1',
        },
      },
    ]);
  });

  it('connects once both dispatches arrived, server first', () => {
    const afterServer = run([{ type: 'request', channelId: 'c1' }, serverUpdate('voice.example:443')]);
    expect(afterServer.state.phase).toBe('awaiting');
    expect(afterServer.effects).toEqual([]);
    const { state, effects } = run([stateUpdate('c1')], afterServer.state);
    expect(state.phase).toBe('connected');
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({
      type: 'connect',
      cause: 'join',
      credentials: { token: 'tok-1', channelId: 'c1' },
    });
  });

  it('ignores other users, other guilds and malformed-guild server updates', () => {
    const { state, effects } = run([
      { type: 'request', channelId: 'c1' },
      stateUpdate('c1'),
      stateUpdate('c9', { user_id: '999' }),
      serverUpdate('other:1', 'x', { guild_id: '1' }),
      stateUpdate('c9', { guild_id: '2' }),
    ]);
    expect(state.phase).toBe('awaiting');
    expect(state.channelId).toBe('c1');
    expect(effects).toEqual([]);
  });

  it('keeps waiting on endpoint null while joining, then connects on the real endpoint', () => {
    const { state, effects } = run([
      { type: 'request', channelId: 'c1' },
      serverUpdate(null),
      stateUpdate('c1'),
    ]);
    expect(state.phase).toBe('awaiting');
    expect(effects).toEqual([]);
    const next = run([serverUpdate('voice.example:443', 'tok-2')], state);
    expect(next.effects[0]).toMatchObject({ type: 'connect', credentials: { token: 'tok-2' } });
  });

  it('times out naming what is missing, and ignores late dispatches afterwards', () => {
    const afterState = run([{ type: 'request', channelId: 'c1' }, stateUpdate('c1')]);
    const timedOut = run([{ type: 'timeout' }], afterState.state);
    expect(timedOut.effects).toEqual([{ type: 'timeout', missing: ['VOICE_SERVER_UPDATE'] }]);
    expect(timedOut.state.phase).toBe('idle');
    const late = run([serverUpdate('voice.example:443')], timedOut.state);
    expect(late.effects).toEqual([]);

    const nothing = run([{ type: 'request', channelId: 'c1' }, { type: 'timeout' }]);
    expect(nothing.effects).toEqual([
      { type: 'timeout', missing: ['VOICE_STATE_UPDATE', 'VOICE_SERVER_UPDATE'] },
    ]);
  });

  it('a timeout outside a join does nothing', () => {
    expect(run([{ type: 'timeout' }], joined()).effects).toEqual([]);
  });
});

describe('join state: changes mid-call', () => {
  it('endpoint null disconnects and a later endpoint connects fresh', () => {
    const lost = run([serverUpdate(null, 'tok-x')], joined());
    expect(lost.state.phase).toBe('server-lost');
    expect(lost.effects).toEqual([{ type: 'serverLost' }]);
    // A second null changes nothing.
    expect(run([serverUpdate(null)], lost.state).effects).toEqual([]);
    const back = run([serverUpdate('voice2.example:443', 'tok-2')], lost.state);
    expect(back.state.phase).toBe('connected');
    expect(back.effects).toMatchObject([
      {
        type: 'connect',
        cause: 'server-update',
        credentials: {
          endpoint: 'voice2.example:443',
          token: 'tok-2',
          channelId: 'c1',
        },
      },
    ]);
  });

  it('a new VOICE_SERVER_UPDATE while connected (region move) connects fresh to the new endpoint', () => {
    const moved = run([serverUpdate('frankfurt.example:443', 'tok-2')], joined());
    expect(moved.effects).toMatchObject([
      {
        type: 'connect',
        cause: 'server-update',
        credentials: {
          endpoint: 'frankfurt.example:443',
          token: 'tok-2',
          sessionId: 'sess-1',
        },
      },
    ]);
  });

  it('channel move, state first: the session is obsolete until the new server update', () => {
    const moving = run([stateUpdate('c2')], joined());
    expect(moving.effects).toEqual([{ type: 'moving', channelId: 'c2' }]);
    expect(moving.state.phase).toBe('awaiting');
    const done = run([serverUpdate('voice.example:443', 'tok-2')], moving.state);
    expect(done.effects).toMatchObject([
      {
        type: 'connect',
        cause: 'join',
        credentials: { channelId: 'c2', token: 'tok-2' },
      },
    ]);
  });

  it('channel move, server first: reconnects again with the new channel and the move token', () => {
    const first = run([serverUpdate('voice.example:443', 'tok-2')], joined());
    expect(first.effects[0]).toMatchObject({ type: 'connect', cause: 'server-update' });
    const second = run([stateUpdate('c2', { session_id: 'sess-2' })], first.state);
    expect(second.effects).toMatchObject([
      {
        type: 'connect',
        cause: 'channel-move',
        credentials: { channelId: 'c2', token: 'tok-2', sessionId: 'sess-2' },
      },
    ]);
    // A repeated state for the same channel is not another move.
    expect(run([stateUpdate('c2', { session_id: 'sess-2' })], second.state).effects).toEqual([]);
  });

  it('channel null while connected means we are out; after our own leave it is only a confirmation', () => {
    const kicked = run([stateUpdate(null)], joined());
    expect(kicked.effects).toEqual([{ type: 'left' }]);
    expect(kicked.state.phase).toBe('idle');

    const left = run([{ type: 'request', channelId: null }, stateUpdate(null)], joined());
    expect(left.effects).toEqual([]);
    // Nothing reconnects after a leave, whatever arrives.
    expect(run([serverUpdate('voice.example:443', 'tok-3')], left.state).effects).toEqual([]);
  });

  it('a request for the channel we are connected to does not wait (no timeout)', () => {
    const again = run([{ type: 'request', channelId: 'c1' }], joined());
    expect(again.state.phase).toBe('connected');
  });

  it('after the session ended, a rejoin needs only a fresh server update', () => {
    const ended = run([{ type: 'sessionEnded' }, { type: 'request', channelId: 'c1' }], joined());
    expect(ended.state).toMatchObject({
      phase: 'awaiting',
      awaitingServer: true,
      awaitingState: false,
      server: null,
    });
    const back = run([serverUpdate('voice.example:443', 'tok-9')], ended.state);
    expect(back.effects[0]).toMatchObject({
      type: 'connect',
      credentials: { token: 'tok-9', sessionId: 'sess-1' },
    });
  });

  it('after a final close, Discord moving us (new channel, new server) is followed', () => {
    const ended = run([{ type: 'sessionEnded' }], joined());
    const moved = run([stateUpdate('c3'), serverUpdate('voice.example:443', 'tok-4')], ended.state);
    expect(moved.effects).toMatchObject([
      { type: 'moving', channelId: 'c3' },
      {
        type: 'connect',
        cause: 'join',
        credentials: { channelId: 'c3', token: 'tok-4' },
      },
    ]);
    // and a new server for the same channel (4022 then a new allocation) too
    const reallocated = run([serverUpdate('voice.example:443', 'tok-5')], ended.state);
    expect(reallocated.effects[0]).toMatchObject({
      type: 'connect',
      cause: 'server-update',
      credentials: { token: 'tok-5' },
    });
  });

  it('never reuses a server update across requests', () => {
    const { state } = run([{ type: 'request', channelId: 'c2' }], joined());
    expect(state.server).toBeNull();
    expect(state.awaitingState).toBe(true);
  });
});
