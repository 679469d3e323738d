/**
 * UDP fault mixes with an accounting check: a sender streams numbered frames through the SFU while
 * the server drops, corrupts, duplicates, reorders and delays packets (seeded); the server's fault
 * observer records what it did to each packet (ground truth). At the listener every numbered frame
 * must be delivered exactly once, or counted with its reason where the user can see it: a lost slot
 * (dropped by the network, or corrupted: the transport's auth-failed drops), a late packet, or a
 * duplicate (the transport's replay drops; the jitter buffer's duplicate count covers the rest). "Lost" frames are the slots the receiver conceals; the reason is checked against the
 * server's record and the transport's drop counters. Nothing may vanish between the server and the receiver's counters.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { MediaChannel, MediaEngine, ReceivedRtp } from '../../src/media/media-engine.js';
import { parseRtpHeader } from '../../src/media/rtp.js';
import type { UdpFaultKind, UdpFaults } from '../../src/server/faults.js';
import { createVoiceReceiver } from '../../src/receive/session-feed.js';
import type { ReceivedFrame } from '../../src/receive/user-stream.js';
import type { JitterBufferOptions } from '../../src/receive/jitter-buffer.js';
import { SILENCE_FRAMES_AT_END } from '../../src/protocol/constants.js';
import { startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

const LEAD_IN = 10;
const FRAMES = 150;
const TOTAL = LEAD_IN + FRAMES + SILENCE_FRAMES_AT_END;
const SENDER = '9001';
const LISTENER = '9002';

interface Mix {
  name: string;
  seed: number;
  udp: Omit<UdpFaults, 'observe'>;
  /** Receiver jitter buffer options (e.g. no playout delay: reordered packets arrive at their slot). */
  jitter?: JitterBufferOptions;
}

const MIXES: readonly Mix[] = [
  { name: 'drop 10%', seed: 11, udp: { drop: 0.1 } },
  { name: 'corrupt 10%', seed: 12, udp: { corrupt: 0.1 } },
  { name: 'duplicate 20%', seed: 13, udp: { duplicate: 0.2 } },
  { name: 'reorder 20%', seed: 14, udp: { reorder: 0.2 } },
  {
    name: 'reorder 20%, duplicate 10%, no playout delay',
    seed: 17,
    udp: { reorder: 0.2, duplicate: 0.1 },
    jitter: { targetDelayMs: 0, minDelayMs: 0, adaptive: false },
  },
  { name: 'delay 30 ms, reorder 10%, drop 5%', seed: 15, udp: { delayMs: 30, reorder: 0.1, drop: 0.05 } },
  {
    name: 'everything',
    seed: 16,
    udp: { drop: 0.05, corrupt: 0.05, duplicate: 0.1, reorder: 0.1, delayMs: 10 },
  },
];

/** The engine, recording the 'drop' events of the channels it opens (the transport's counters). */
function recordingEngine(engine: MediaEngine, drops: Record<string, number>): MediaEngine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'openChannel') {
        return async (options: Parameters<MediaEngine['openChannel']>[0]): Promise<MediaChannel> => {
          const channel = await target.openChannel(options);
          channel.on('drop', (reason) => {
            drops[reason] = (drops[reason] ?? 0) + 1;
          });
          return channel;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Frame i of the stream: lead-in frames, then the numbered frames; its index is in the payload. */
async function* stream(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < LEAD_IN + FRAMES; i++) yield Uint8Array.of(0xfc, i < LEAD_IN ? 1 : 2, i >> 8, i & 0xff);
}

const indexOf = (payload: Uint8Array): number => ((payload[2] ?? 0) << 8) | (payload[3] ?? 0);

interface Accounting {
  /** Per numbered frame: 'delivered', or what the receiver counted it as. */
  fates: string[];
  expectedFates: string[];
  identities: Record<string, [number, number]>;
}

async function runMix(mix: Mix, harnesses: Harness[]): Promise<Accounting> {
  const applied: { seq: number; faults: readonly UdpFaultKind[] }[] = [];
  const observe = (packet: Uint8Array, faults: readonly UdpFaultKind[]): void => {
    const info = parseRtpHeader(packet);
    if (!('drop' in info)) applied.push({ seq: info.sequence, faults: [...faults] });
  };
  const h = await startHarness({ seed: mix.seed, faults: { udp: { ...mix.udp, observe } } });
  harnesses.push(h);
  const drops: Record<string, number> = {};
  const listener = await h.join(LISTENER, { engine: recordingEngine(h.engine, drops) });
  const sender = await h.join(SENDER);
  const receiver = createVoiceReceiver(listener, mix.jitter === undefined ? {} : { jitter: mix.jitter });
  const frames: ReceivedFrame[] = [];
  receiver.subscribe(SENDER, { mode: 'opus', maxQueuedFrames: 10_000 }).on('data', (f: ReceivedFrame) => {
    frames.push(f);
  });
  const arrivals: ReceivedRtp[] = [];
  listener.on('rtp', (p) => {
    if (p.ssrc === sender.ssrc) arrivals.push(p);
  });
  let ended = false;
  receiver.on('speakingEnd', (id) => (ended ||= id === SENDER));

  await sender.playOpus(stream()).finished;
  await until(() => ended && applied.length === TOTAL, 5_000, 'the end of the burst');
  await new Promise((r) => setTimeout(r, 300)); // held (reordered) and delayed packets, last slots
  receiver.close();

  // Ground truth: the server saw every packet of the stream, in order.
  const seq0 = applied[0]!.seq;
  const at = (seq: number): number => (seq - seq0 + 65536) % 65536;
  const truth = applied.map((a, i) => {
    const dropped = a.faults.includes('drop');
    const corrupt = a.faults.includes('corrupt');
    const copies = dropped ? 0 : a.faults.includes('duplicate') ? 2 : 1;
    return {
      index: at(a.seq),
      i,
      dropped,
      corrupt,
      intact: corrupt ? 0 : copies,
      corruptCopies: corrupt ? copies : 0,
    };
  });

  // What reached the listener's session, per stream index.
  const intact = new Array<number>(TOTAL).fill(0);
  for (const p of arrivals) intact[at(p.sequence)]!++;
  const stats = receiver.stats(SENDER)!;

  // Per numbered frame: delivered (played, not concealed) or the slot concealed, exactly once.
  const slots = new Map<number, string[]>();
  for (const f of frames) {
    const index = at(f.sequence);
    const what = f.concealed
      ? 'lost'
      : f.payload !== undefined && indexOf(f.payload) === index
        ? 'delivered'
        : 'wrong';
    slots.set(index, [...(slots.get(index) ?? []), what]);
  }
  const fates: string[] = [];
  const expectedFates: string[] = [];
  for (let index = LEAD_IN; index < LEAD_IN + FRAMES; index++) {
    const t = truth[index]!;
    const got = slots.get(index) ?? ['missing'];
    const late = t.intact > 0 && got.join() === 'lost';
    fates.push(`${index}: ${got.join('+')}${late ? ' (late)' : ''}`);
    const reason = t.dropped ? 'lost' : t.intact === 0 ? 'lost' : 'delivered';
    expectedFates.push(`${index}: ${late ? 'lost (late)' : reason}`);
  }
  const lateFrames = fates.filter((f) => f.endsWith('(late)')).length;
  const sum = (f: (t: (typeof truth)[number]) => number): number => truth.reduce((n, t) => n + f(t), 0);
  const identities: Record<string, [number, number]> = {
    // Every packet of the stream reached the fault stage, once, in order.
    'packets at the SFU': [applied.length, TOTAL],
    'stream indices in order': [truth.filter((t) => t.index === t.i).length, TOTAL],
    // The transport delivered exactly what the SFU sent: intact copies arrive, corrupt ones are counted.
    // A duplicated datagram repeats its transport nonce: the client's replay window drops the copy.
    'intact copies = arrivals + replay drops': [
      sum((t) => t.intact),
      arrivals.length + (drops['replay'] ?? 0),
    ],
    'frames arriving once when sent intact': [
      truth.filter((t) => intact[t.index] === Math.min(t.intact, 1)).length,
      TOTAL,
    ],
    'second intact copies = replay drops': [sum((t) => Math.max(0, t.intact - 1)), drops['replay'] ?? 0],
    'corrupt copies = auth-failed drops': [sum((t) => t.corruptCopies), drops['auth-failed'] ?? 0],
    'fault drops = SFU fault-drop': [
      sum((t) => (t.dropped ? 1 : 0)),
      h.server.sfuStats.dropped['fault-drop'] ?? 0,
    ],
    // Every packet that reached the jitter buffer was played or counted (late, duplicate, invalid,
    // stray far jump, discarded by a restart).
    'arrivals = received + late + duplicate + invalid + stray': [
      arrivals.length,
      stats.received + stats.late + stats.duplicate + stats.invalid + stats.stray,
    ],
    'received = delivered frames + discarded': [
      stats.received,
      frames.filter((f) => !f.concealed).length + stats.discarded,
    ],
    // One sender, one sequence space, no restart: nothing is discarded or stray.
    discarded: [stats.discarded, 0],
    stray: [stats.stray, 0],
    'lost slots = concealed frames': [stats.lost, frames.filter((f) => f.concealed).length],
    'late frames counted late': [Math.min(lateFrames, stats.late), lateFrames],
    restarts: [stats.restarts, 0],
    // The receiver saw packets after the last numbered frame (else a lost tail is not detectable).
    'tail seen': [truth.slice(LEAD_IN + FRAMES).some((t) => t.intact > 0) ? 1 : 0, 1],
  };
  return { fates, expectedFates, identities };
}

describe('UDP fault mixes: every frame delivered or counted', () => {
  const harnesses: Harness[] = [];
  afterAll(async () => {
    await Promise.all(harnesses.map((h) => h.close()));
  });

  it(
    'drop, corrupt, duplicate, reorder and delay mixes (seeded), in parallel',
    { timeout: 40_000 },
    async () => {
      // Four at a time: each mix is its own server, media engine and two sessions.
      const results: Accounting[] = [];
      for (let i = 0; i < MIXES.length; i += 4) {
        results.push(...(await Promise.all(MIXES.slice(i, i + 4).map((mix) => runMix(mix, harnesses)))));
      }
      if (process.env.DEBUG_ACCOUNTING !== undefined) {
        for (const r of results)
          console.log(
            JSON.stringify(r.identities),
            r.fates.filter((f) => !f.endsWith('delivered')).join('; '),
          );
      }
      results.forEach((r, i) => {
        const name = MIXES[i]!.name;
        for (const [what, [got, want]] of Object.entries(r.identities)) {
          expect(got, `${name}: ${what}`).toBe(want);
        }
        expect(r.fates, name).toEqual(r.expectedFates);
      });
      // The mixes did hit every reason somewhere.
      const all = results.flatMap((r) => r.fates);
      expect(all.some((f) => f.endsWith(': lost'))).toBe(true);
      expect(all.some((f) => f.endsWith('delivered'))).toBe(true);
    },
  );
});
