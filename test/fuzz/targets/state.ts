/**
 * Stateful consumers of network input, driven by a program decoded from the fuzz bytes: the jitter
 * buffer (src/receive/jitter-buffer.ts, RTP sequence/timestamp/arrival from the network), the join
 * reducer (src/gateway/join-state.ts, main gateway dispatches) and the DAVE delivery service
 * (src/server/dave/delivery-service.ts, client opcodes 23/26/28/31). Oracles: the jitter buffer
 * plays every packet at most once, in order, empties on flush, and accounts for every packet pushed
 * (played, counted by reason, or still waiting); the join reducer only connects
 * with complete credentials; the delivery service never throws and only addresses participants.
 */
import { DaveDeliveryService } from '../../../src/server/dave/delivery-service.js';
import type { DaveOutbound } from '../../../src/server/dave/delivery-service.js';
import { generateP256SigningKey } from '../../../src/dave/mls/mls-sign.js';
import { snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import { initialJoinState, reduceJoin } from '../../../src/gateway/join-state.js';
import type { JoinEvent, JoinState } from '../../../src/gateway/join-state.js';
import { JitterBuffer } from '../../../src/receive/jitter-buffer.js';
import type { JitterOutput } from '../../../src/receive/jitter-buffer.js';
import { craftCommit, craftWelcome } from '../../server/dave/mls-fixtures.js';
import { mlsCorpus } from './mls.js';
import { oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

/** Sequential reader over the fuzz bytes; reads past the end give 0. */
class Program {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.bytes.length;
  }
  u8(): number {
    return this.bytes[this.pos++] ?? 0;
  }
  i8(): number {
    const v = this.u8();
    return v > 127 ? v - 256 : v;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  take(n: number): Uint8Array {
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

// ---- jitter buffer ----

/** Op bytes: 0-4 push (seq step, timestamp skew, arrival step, payload size), 5-6 poll, 7 flush. */
function runJitter(input: Uint8Array): void {
  const p = new Program(input);
  const jb = new JitterBuffer({
    targetDelayMs: 40 + ((input[0] ?? 0) % 100),
    adaptive: ((input[1] ?? 0) & 1) === 0,
  });
  let seq = 65500;
  let now = 1000;
  const played = new Set<Uint8Array>();
  const accepted = new Set<Uint8Array>();
  let pushed = 0;
  // No audio lost silently: pushed = played + counted reasons + still waiting (buffered or held).
  const account = (): void => {
    const s = jb.stats();
    const counted = s.invalid + s.duplicate + s.late + s.stray + s.discarded;
    oracle(
      played.size + counted + s.buffered + s.held === pushed,
      'a pushed packet is neither played nor counted',
    );
    oracle(
      s.received === played.size + s.discarded + s.buffered,
      'an accepted packet is neither played nor counted',
    );
  };
  const check = (out: JitterOutput[]): void => {
    let last = -Infinity;
    for (const o of out) {
      oracle(Number.isFinite(o.playoutAt) && o.playoutAt >= last - 1e-6, 'playout times go backwards');
      last = o.playoutAt;
      if (o.kind !== 'frame') continue;
      oracle(accepted.has(o.payload), 'played a packet the buffer did not accept');
      oracle(!played.has(o.payload), `played sequence ${o.sequence} twice`);
      played.add(o.payload);
    }
  };
  while (!p.done) {
    const op = p.u8() % 8;
    if (op <= 4) {
      const step = p.i8();
      seq = step === -128 ? p.u16() : (seq + step + 65536) % 65536;
      const skew = p.i8();
      const timestamp = (seq * 960 + skew * (skew === -128 ? 100_000 : 1) + 2 ** 32) % 2 ** 32;
      now += p.u8() % 64;
      const size = p.u8() % 5;
      const payload = new Uint8Array(size).fill(seq & 0xff);
      const result = jb.push({ sequence: seq, timestamp, payload, receivedAt: now });
      pushed++;
      if (result === 'buffered' || result === 'restart' || result === 'held') accepted.add(payload);
      oracle(size > 0 || result === 'invalid', 'an empty payload was accepted');
    } else if (op <= 6) {
      now += p.u8();
      check(jb.poll(now));
    } else {
      check(jb.flush(now));
      oracle(jb.stats().buffered + jb.stats().held === 0, 'flush left packets buffered or held');
    }
    account();
  }
  check(jb.flush(now));
  account();
  const s = jb.stats();
  oracle(
    Object.values(s).every((v) => Number.isFinite(v) && v >= 0),
    'a stat is negative or not finite',
  );
}

function jitterSeeds(): Uint8Array[] {
  const steady: number[] = [];
  for (let i = 0; i < 40; i++) steady.push(0, 1, 0, 20, 3, 5, 20);
  const lossy: number[] = [];
  for (let i = 0; i < 40; i++)
    lossy.push(1, i % 7 === 0 ? 3 : i % 5 === 0 ? -2 & 0xff : 1, 0, 7 + (i % 30), 2, 6, 15);
  return [
    Uint8Array.from([...steady, 7]),
    Uint8Array.from(lossy),
    Uint8Array.of(0, 0x80, 0xff, 0xff, 0, 0, 1, 7),
  ];
}

// ---- join reducer ----

const IDS = ['111111111111111111', '222222222222222222', ''];
const CHANNELS = ['333333333333333333', '444444444444444444', null];
const ENDPOINTS = ['voice.example:443', 'other.example', '', null];

function joinEvent(p: Program, guildId: string): JoinEvent {
  const kind = p.u8() % 5;
  const pickOf = <T>(items: readonly T[]): T => items[p.u8() % items.length]!;
  switch (kind) {
    case 0:
      return { type: 'request', channelId: pickOf(CHANNELS) };
    case 1:
      return {
        type: 'voiceState',
        data: {
          guild_id: pickOf([guildId, '9']),
          channel_id: pickOf(CHANNELS),
          user_id: pickOf(IDS),
          session_id: pickOf(['s1', 's2', '']),
        },
      };
    case 2:
      return {
        type: 'voiceServer',
        data: {
          token: pickOf(['t1', 't2', '']),
          guild_id: pickOf([guildId, '9']),
          endpoint: pickOf(ENDPOINTS),
        },
      };
    case 3:
      return { type: 'timeout' };
    default:
      return { type: 'sessionEnded' };
  }
}

function runJoin(input: Uint8Array): void {
  const p = new Program(input);
  const guildId = '555555555555555555';
  let state: JoinState = initialJoinState(guildId);
  while (!p.done) {
    const step = reduceJoin(state, joinEvent(p, guildId));
    state = step.state;
    oracle(
      ['idle', 'awaiting', 'connected', 'server-lost'].includes(state.phase),
      `unknown phase ${state.phase}`,
    );
    oracle(state.guildId === guildId, 'the reducer changed its guild');
    for (const e of step.effects) {
      if (e.type !== 'connect') continue;
      const c = e.credentials;
      oracle(typeof c.endpoint === 'string' && c.endpoint !== null, 'connect without an endpoint');
      oracle(c.serverId === guildId, 'connect with another guild id');
      oracle(state.phase === 'connected', `connect effect but phase ${state.phase}`);
    }
  }
}

// ---- DAVE delivery service ----

const USERS = ['111111111111111111', '222222222222222222', '333333333333333333'];
const CHANNEL = '1234567890123456789';

/** Op records: [op, user, len u16, payload]: 0 join, 1 leave, 2 op 26, 3 op 28, 4 op 23, 5 op 31, 6 tick. */
function record(op: number, user: number, payload: Uint8Array = new Uint8Array(0)): number[] {
  return [op, user, payload.length >> 8, payload.length & 0xff, ...payload];
}

function daveSeeds(): Uint8Array[] {
  const c = mlsCorpus();
  const group = snowflakeToBE64(CHANNEL);
  const commit = craftCommit({
    groupId: group,
    epoch: 0n,
    senderLeaf: 0,
    entries: [{ ref: new Uint8Array(32).fill(1) }],
  });
  const joins = [...record(0, 0, Uint8Array.of(1)), ...record(0, 1, Uint8Array.of(1))];
  return [
    Uint8Array.from([
      ...joins,
      ...record(2, 0, c.keyPackages[0]),
      ...record(2, 1, c.keyPackages[1]),
      ...record(6, 0),
    ]),
    Uint8Array.from([
      ...joins,
      ...record(2, 0, c.keyPackages[0]),
      ...record(3, 0, Uint8Array.from([...commit, ...craftWelcome([new Uint8Array(32)])])),
    ]),
    Uint8Array.from([
      ...joins,
      ...record(0, 2, Uint8Array.of(0)),
      ...record(4, 0),
      ...record(5, 1),
      ...record(1, 0),
      ...record(6, 0),
    ]),
  ];
}

function runDave(input: Uint8Array, key: ReturnType<typeof generateP256SigningKey>): void {
  let now = 0;
  const service = new DaveDeliveryService({ channelId: CHANNEL, externalSenderKey: key, now: () => now });
  const present = new Set<string>();
  const check = (out: readonly DaveOutbound[]): void => {
    for (const o of out) oracle(present.has(o.to), 'a DAVE message addressed to someone not in the call');
  };
  const p = new Program(input);
  while (!p.done) {
    const op = p.u8() % 7;
    const user = USERS[p.u8() % USERS.length]!;
    const payload = p.take(p.u16());
    switch (op) {
      case 0:
        present.add(user);
        check(service.join(user, payload[0] ?? 1));
        break;
      case 1:
        present.delete(user);
        check(service.leave(user));
        break;
      case 2:
        check(service.keyPackage(user, payload).out);
        break;
      case 3:
        check(service.commitWelcome(user, payload).out);
        break;
      case 4:
        check(service.transitionReady(user, payload.length));
        break;
      case 5:
        check(service.invalidCommitWelcome(user, payload.length));
        break;
      default:
        now += 2000;
        check(service.tick());
    }
  }
}

export const stateTargets: FuzzTarget[] = [
  {
    name: 'jitter-buffer',
    modules: ['src/receive/jitter-buffer.ts JitterBuffer push/poll/flush'],
    create: () => ({
      seeds: jitterSeeds(),
      isTypedRejection: () => false,
      run(input) {
        runJitter(input);
        return 'ok';
      },
    }),
  },
  {
    name: 'join-reducer',
    modules: ['src/gateway/join-state.ts reduceJoin'],
    create: () => ({
      seeds: [Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 2, 1, 0, 0, 1, 0, 1, 0, 4, 0, 3)],
      isTypedRejection: () => false,
      run(input) {
        runJoin(input);
        return 'ok';
      },
    }),
  },
  {
    name: 'dave-delivery-service',
    modules: ['src/server/dave/delivery-service.ts DaveDeliveryService (ops 23, 26, 28, 31)'],
    create() {
      const key = generateP256SigningKey();
      return {
        seeds: daveSeeds(),
        isTypedRejection: () => false, // documented: bad client input never throws
        run(input) {
          runDave(input, key);
          return 'ok';
        },
      };
    },
  },
];
