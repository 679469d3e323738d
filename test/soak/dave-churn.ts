/**
 * DAVE churn soak (issue 11): a call on the local server (DAVE on, real sockets on 127.0.0.1) with
 * voxcord members (our MLS, ratchets, frame crypto) and davey members (@snazzah/davey as an
 * independent DAVE peer on our transport), seeded random joins and leaves (the leftmost members of
 * the tree, two at once), every member sending numbered Opus frames all the time.
 *
 * It measures, and `soakFailures` checks:
 * - every epoch: all members that reached it agree on the epoch authenticator and privacy code;
 * - 0 MLS rejections (commit/welcome failures, any DAVE error at a member) and 0 op 31 at the server;
 * - after each op 22 a receiver loses at most one frame per sender (the frame in flight);
 * - in steady state (no op 22 of the sender in the last second) 0 decrypt failures and 0 lost frames.
 *
 * Used by `npm run soak:dave` (dave-churn-cli.ts: long runs, several seeds) and by the short run in
 * `npm test` (dave-churn.test.ts): one code path.
 *
 * Loss accounting, per receiver and sender: a frame is lost when a later frame number from that
 * sender decrypts while it never did (counted when the later one arrives), or when decryption fails
 * before any frame of that sender decrypted at that receiver (those never show up as a gap). Each
 * event is placed at the time the sender sent it (its RTP timestamp on the sender's media clock,
 * anchored by the fastest arrival on loopback), against the sender's op 22s (the moment its send
 * key must change; everyone holds the new key before op 22 goes out): 'joining' before the op 22
 * from which both are members (what the sender sent before was not for the receiver),
 * 'transition' within TRANSITION_WINDOW_MS after one of the sender's op 22s, 'steady' otherwise.
 * Send times, not arrival or handling times, keep the measure free of event-loop lag: every
 * member and the SFU run in this one process.
 */
import { FRAME_DURATION_MS, SAMPLE_RATE, VoiceOpcode } from '../../src/protocol/constants.js';
import { createDaveClient } from '../../src/dave/dave-client.js';
import type { DaveEndpoint, DaveEndpointFactory } from '../../src/dave/dave-endpoint.js';
import { createMediaEngine } from '../../src/media/index.js';
import { createRng } from '../../src/server/faults.js';
import type { ServerEvent } from '../../src/server/types.js';
import type { Transmission } from '../../src/voice/transmit.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { DaveyEndpoint, daveyEndpoint } from '../helpers/davey-endpoint.js';
import { CHANNEL, GUILD, startHarness, waitForDaveGroup } from '../e2e/harness.js';
import type { Harness } from '../e2e/harness.js';
import { hex } from '../support/bytes.js';
import { sleep } from '../support/wait.js';

export type MemberKind = 'voxcord' | 'davey';
export type Phase = 'joining' | 'transition' | 'steady';

export interface SoakOptions {
  seed: number;
  /** Epochs to reach (server MLS epochs, counted across every commit). */
  epochs: number;
  /** Members at the start, half voxcord and half davey (voxcord gets the odd one); at least 2. */
  members: number;
  /** Audio between two churn steps, ms (uniform in [min, max]); above TRANSITION_WINDOW_MS so steady state exists. Default [1100, 1600]. */
  dwellMs?: [number, number];
  /** Longest wait for a step's group to settle before the run is aborted. Default 15 s. */
  settleTimeoutMs?: number;
  /**
   * Keep every receive event per receiver and sender, and attach to the first over-budget op 22
   * windows what happened around them (diagnosis; costs memory on long runs). Default false.
   */
  trace?: boolean;
  /** Progress lines (one per step); default none. */
  log?: (line: string) => void;
}

export interface PhaseFigures {
  /** Numbered frames decrypted. */
  received: number;
  /** Frames lost (see the module comment). */
  lost: number;
  /** Decrypt failures by reason. */
  failures: Record<string, number>;
}

export interface TransitionLoss {
  receiver: string;
  sender: string;
  /** '<sender kind> -> <receiver kind>'. */
  kinds: string;
  /** The transition id of the sender's op 22 that opened the window. */
  transition: number;
  lost: number;
  /** With `trace`: receive events from 200 ms before to 1 s after that op 22, ms relative to it. */
  trace?: string[];
}

export interface SoakReport {
  seed: number;
  members: number;
  epochsTarget: number;
  /** Server epochs advanced during the run. */
  epochs: number;
  steps: number;
  joins: number;
  leaves: number;
  /** Leaves of the member at leaf 0 of the tree (the leftmost). */
  leftmostLeaves: number;
  /** Steps where two members left at once. */
  doubleLeaves: number;
  /** Distinct epochs (member-reported) compared across members. */
  epochsCompared: number;
  /** Epochs where members disagree on the authenticator or privacy code. */
  epochDisagreements: string[];
  /** Op 22 transitions whose op 23 wait timed out at the server (a member did not answer). */
  timedOutTransitions: number;
  framesSent: number;
  /** Decrypted numbered frames that were already seen (duplicates). */
  duplicates: number;
  phases: Record<Phase, PhaseFigures>;
  /** Op 22 windows (receiver, sender) in which more than one frame was lost. */
  transitionsOverBudget: TransitionLoss[];
  /** Op 22 windows measured (receiver x sender pairs). */
  transitionWindows: number;
  maxTransitionLoss: number;
  /** DAVE errors at members (daveError) plus davey's commit/welcome failures, by reason. */
  mlsRejections: Record<string, number>;
  /** Op 31 received by the server. */
  op31: number;
  /** Client op 26/28 the server refused, by reason (losing commit races are normal). */
  serverRejects: Record<string, number>;
  /** The first steady-state losses, for diagnosis. */
  steadyLosses: { receiver: string; sender: string; kinds: string; lost: number; sinceOp22Ms: number }[];
  /** Packets the SFU dropped, by reason (none expected on 127.0.0.1). */
  sfuDropped: Record<string, number>;
  /** Sender frames dropped by DAVE for want of a send key (session.dave.stats.framesDropped). */
  senderDrops: number;
  /** Set when the run stopped early (a group that never settled). */
  aborted: string | undefined;
  durationMs: number;
}

/** How long after an op 22 losses count as the transition's rather than steady state. */
export const TRANSITION_WINDOW_MS = 1_000;
const SAMPLES_PER_MS = SAMPLE_RATE / 1000;
/** davey members send one frame per 21 ms: below the 20 ms clock, so their queue stays empty. */
const PACED_SLOWDOWN = 1.05;
const FRAME_BYTES = 24;
const MAGIC = 0x5a;

/** A numbered Opus-sized frame: TOC byte, magic, sender (u16), number (u32), filler from both. */
export function numberedFrame(sender: number, n: number): Uint8Array {
  const f = new Uint8Array(FRAME_BYTES);
  f[0] = 0xfc;
  f[1] = MAGIC;
  const view = new DataView(f.buffer);
  view.setUint16(2, sender);
  view.setUint32(4, n);
  for (let i = 8; i < FRAME_BYTES; i++) f[i] = (n * 31 + sender * 7 + i) & 0xff;
  return f;
}

/** The (sender, number) of a numbered frame, or undefined for anything else (or a damaged one). */
export function parseNumberedFrame(f: Uint8Array): { sender: number; n: number } | undefined {
  if (f.length !== FRAME_BYTES || f[0] !== 0xfc || f[1] !== MAGIC) return undefined;
  const view = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const sender = view.getUint16(2);
  const n = view.getUint32(4);
  for (let i = 8; i < FRAME_BYTES; i++) if (f[i] !== ((n * 31 + sender * 7 + i) & 0xff)) return undefined;
  return { sender, n };
}

/** One numbered frame (n) or decrypt failure (reason) from one sender at one receiver. */
interface RxEvent {
  /** The sender's RTP timestamp, in samples since the first one seen from it (unwrapped). */
  ts: number;
  n?: number;
  reason?: string;
}

interface Member {
  id: string;
  kind: MemberKind;
  /** The sender number written into its frames. */
  index: number;
  session: VoiceSession;
  endpoint: DaveEndpoint | undefined;
  /** Op 22s handled: when, and which transition. */
  executes: { t: number; transitionId: number }[];
  /** Epoch -> authenticator hex and privacy code, as this member saw them. */
  epochs: Map<string, string>;
  /** As a receiver: per sender index, what arrived, in order. */
  heard: Map<number, RxEvent[]>;
  /** As a receiver: RTP (ssrc:sequence) -> RTP timestamp, until that packet's outcome is seen. */
  pending: Map<string, number>;
  /**
   * As a sender: its first RTP timestamp seen, and the send time of timestamp 0 relative to it
   * (the smallest arrival - timestamp / 48 over every receiver: loopback adds well under 1 ms).
   */
  clock: { base: number | undefined; zero: number };
  transmission: Transmission | undefined;
  stopped: boolean;
  sent: number;
}

function emptyPhases(): Record<Phase, PhaseFigures> {
  const p = (): PhaseFigures => ({ received: 0, lost: 0, failures: {} });
  return { joining: p(), transition: p(), steady: p() };
}

/** davey's errors carry sizes and counts: keep the error's name so equal causes add up. */
function shortReason(reason: string): string {
  const m = /^davey: (?:Failed to decrypt: )?(?:DecryptionFailed\()?(\w+)/.exec(reason);
  return m === null ? reason : `davey:${m[1]}`;
}

function bump(record: Record<string, number>, key: string, by = 1): void {
  record[key] = (record[key] ?? 0) + by;
}

/** Frames as fast as the pump takes them (voxcord's own queueing: what a bot playing a file does). */
async function* unpaced(m: Member): AsyncGenerator<Uint8Array> {
  for (let n = 0; !m.stopped; n++) {
    m.sent++;
    yield numberedFrame(m.index, n);
  }
}

/**
 * Frames handed over at a pace slightly below the media clock's, on an inline engine: how
 * discord.js feeds davey, which encrypts each frame as it is sent. The send queue stays empty (a
 * slot without a frame now and then sends nothing, which loses nothing), so a davey member's frame
 * leaves at most one tick after davey encrypted it, whatever voxcord's queue does with its own.
 */
async function* paced(m: Member): AsyncGenerator<Uint8Array> {
  let due = performance.now();
  for (let n = 0; !m.stopped; n++) {
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (m.stopped) return;
    m.sent++;
    yield numberedFrame(m.index, n);
    // After a stall (this frame left more than half a frame late), re-anchor the pace on now: the
    // next frame is due a full period later, never at once. Two frames handed over back to back
    // would both be encrypted under the key of that moment while the second waits a tick in the
    // queue: two frames ahead, where discord.js encrypts only the one it sends next.
    const now = performance.now();
    due = (now - due > FRAME_DURATION_MS / 2 ? now : due) + FRAME_DURATION_MS * PACED_SLOWDOWN;
  }
}

export async function runDaveChurnSoak(options: SoakOptions): Promise<SoakReport> {
  const started = performance.now();
  const rng = createRng(options.seed);
  const [dwellMin, dwellMax] = options.dwellMs ?? [1_100, 1_600];
  const settleTimeoutMs = options.settleTimeoutMs ?? 15_000;
  const log = options.log ?? ((): void => {});
  const initial = Math.max(2, options.members);
  const minMembers = Math.max(2, Math.min(3, initial), Math.ceil(initial / 2));
  const maxMembers = initial + 2;

  const report: SoakReport = {
    seed: options.seed,
    members: initial,
    epochsTarget: options.epochs,
    epochs: 0,
    steps: 0,
    joins: 0,
    leaves: 0,
    leftmostLeaves: 0,
    doubleLeaves: 0,
    epochsCompared: 0,
    epochDisagreements: [],
    timedOutTransitions: 0,
    framesSent: 0,
    duplicates: 0,
    phases: emptyPhases(),
    transitionsOverBudget: [],
    transitionWindows: 0,
    maxTransitionLoss: 0,
    mlsRejections: {},
    op31: 0,
    serverRejects: {},
    steadyLosses: [],
    sfuDropped: {},
    senderDrops: 0,
    aborted: undefined,
    durationMs: 0,
  };

  const onServerEvent = (e: ServerEvent): void => {
    if (e.type === 'dave' && e.reason === 'invalid-commit-welcome') report.op31++;
    if (e.type === 'dave-reject') bump(report.serverRejects, e.reason ?? 'unknown');
  };
  const h: Harness = await startHarness({ dave: true, seed: options.seed, log: onServerEvent });
  // davey members send from the main thread's clock with nothing queued (see paced()): like
  // discord.js, a frame leaves at most one tick after davey encrypted it.
  const daveyEngine = createMediaEngine({ kind: 'inline' });

  const everyone: Member[] = [];
  const members: Member[] = [];
  let nextIndex = 0;

  const recordEpoch = (m: Member): void => {
    const ep = m.endpoint;
    const epoch = ep?.epoch;
    if (ep === undefined || epoch === undefined) return;
    const seen = `${hex(ep.epochAuthenticator)}/${ep.privacyCode ?? '-'}`;
    const before = m.epochs.get(String(epoch));
    if (before === undefined) m.epochs.set(String(epoch), seen);
    else if (before !== seen) report.epochDisagreements.push(`${m.id} changed its view of epoch ${epoch}`);
  };

  const instrumented =
    (m: Member, inner: DaveEndpointFactory): DaveEndpointFactory =>
    (context) => {
      const ep = inner(context);
      const handle = ep.handle.bind(ep);
      ep.handle = (message) => {
        if (message.op === VoiceOpcode.DaveExecuteTransition)
          m.executes.push({ t: performance.now(), transitionId: message.transitionId });
        handle(message);
        ep.settled().then(
          () => recordEpoch(m),
          () => undefined,
        );
      };
      m.endpoint = ep;
      return ep;
    };

  const senderOf = new Map<string, Member>();
  /** Places an RTP timestamp of `s` on its own axis and refines its send clock. */
  const senderTime = (s: Member, timestamp: number, receivedAt: number): number => {
    s.clock.base ??= timestamp;
    const ts = (timestamp - s.clock.base) | 0; // signed 32-bit difference: survives the wrap
    s.clock.zero = Math.min(s.clock.zero, receivedAt - ts / SAMPLES_PER_MS);
    return ts;
  };
  const hear = (r: Member, s: Member, event: RxEvent): void => {
    const list = r.heard.get(s.index) ?? [];
    list.push(event);
    r.heard.set(s.index, list);
  };

  const join = async (kind: MemberKind): Promise<Member> => {
    const index = nextIndex++;
    const id = `9${String(index).padStart(17, '0')}`;
    const m: Member = {
      id,
      kind,
      index,
      session: undefined as unknown as VoiceSession,
      endpoint: undefined,
      executes: [],
      epochs: new Map(),
      heard: new Map(),
      pending: new Map(),
      clock: { base: undefined, zero: Infinity },
      transmission: undefined,
      stopped: false,
      sent: 0,
    };
    senderOf.set(id, m);
    everyone.push(m);
    const factory = instrumented(m, kind === 'davey' ? daveyEndpoint : createDaveClient);
    m.session = await h.join(id, {
      daveEndpoint: factory,
      ...(kind === 'davey' ? { engine: daveyEngine } : {}),
    });
    m.session.on('rtp', (p) => {
      if (p.userId === undefined || m.stopped) return;
      const s = senderOf.get(p.userId);
      if (s === undefined) return;
      if (m.pending.size > 10_000) m.pending.clear(); // bounded whatever happens
      m.pending.set(`${p.ssrc}:${p.sequence}`, senderTime(s, p.timestamp, p.receivedAt));
    });
    m.session.on('audioFrame', (f) => {
      const key = `${f.ssrc}:${f.sequence}`;
      const ts = m.pending.get(key);
      m.pending.delete(key);
      const s = f.userId === undefined ? undefined : senderOf.get(f.userId);
      const parsed = parseNumberedFrame(f.payload);
      if (s === undefined || parsed === undefined || ts === undefined || m.stopped) return;
      hear(m, s, { ts, n: parsed.n });
    });
    m.session.on('daveDecryptFailure', (f) => {
      const key = `${f.ssrc}:${f.sequence}`;
      const ts = m.pending.get(key);
      m.pending.delete(key);
      const s = f.userId === undefined ? undefined : senderOf.get(f.userId);
      if (m.stopped) return;
      if (s === undefined || ts === undefined) bump(report.phases.joining.failures, shortReason(f.reason));
      else hear(m, s, { ts, reason: shortReason(f.reason) });
    });
    m.session.on('daveError', (e) => {
      const reason = e.details?.reason;
      const error = e.details?.error;
      const label = typeof reason === 'string' ? reason : e.code;
      bump(report.mlsRejections, typeof error === 'string' ? `${label} (${e.message}: ${error})` : label);
    });
    m.transmission = m.session.playOpus(kind === 'davey' ? paced(m) : unpaced(m));
    members.push(m);
    report.joins++;
    return m;
  };

  const stopMember = (m: Member): void => {
    m.stopped = true;
    m.transmission?.stop();
    report.framesSent += m.sent;
    report.senderDrops += m.session.dave.stats.framesDropped;
    if (m.endpoint instanceof DaveyEndpoint) {
      for (const f of m.endpoint.failures) bump(report.mlsRejections, `davey: ${f}`);
    }
  };

  const leave = (m: Member): void => {
    stopMember(m);
    members.splice(members.indexOf(m), 1);
    h.server.disconnect(m.id, GUILD); // op 13 to the others, as when a user leaves the channel
    m.session.destroy();
    report.leaves++;
  };

  let lastEpoch = 0;
  /** Waits for the server's group to be exactly `members` with its last commit executed everywhere. */
  const settle = async (): Promise<void> => {
    await waitForDaveGroup(
      h.server,
      () =>
        members.map((m) => ({
          id: m.id,
          epoch: m.endpoint?.epoch,
          executed: (tid) => m.executes.some((e) => e.transitionId === tid),
        })),
      settleTimeoutMs,
    );
    await Promise.all(members.map((m) => m.endpoint?.settled() ?? Promise.resolve()));
    const st = h.server.daveState(GUILD, CHANNEL)!;
    if (st.lastTransition?.timedOut === true) report.timedOutTransitions++;
    report.epochs += st.epoch > lastEpoch ? st.epoch - lastEpoch : st.epoch;
    lastEpoch = st.epoch;
    for (const m of members) recordEpoch(m);
  };

  const leafOrder = (): Member[] => {
    const order = h.server.daveState(GUILD, CHANNEL)?.members ?? [];
    return order.map((id) => members.find((m) => m.id === id)).filter((m) => m !== undefined);
  };
  const countOf = (kind: MemberKind, list: Member[] = members): number =>
    list.filter((m) => m.kind === kind).length;
  /** Leaving `out` keeps at least one member of each kind. */
  const keepsBothKinds = (out: Member[]): boolean => {
    const rest = members.filter((m) => !out.includes(m));
    return countOf('voxcord', rest) > 0 && countOf('davey', rest) > 0;
  };
  const pick = <T>(list: T[]): T => list[Math.floor(rng() * list.length)]!;

  try {
    for (let i = 0; i < initial; i++) {
      await join(i % 2 === 0 ? 'voxcord' : 'davey');
      if (members.length < 2) continue;
      await settle();
      await sleep(dwellMin + rng() * (dwellMax - dwellMin));
    }
    while (report.epochs < options.epochs) {
      const n = members.length;
      const roll = rng();
      let action: string;
      const ordered = leafOrder();
      const leftPair = ordered.slice(0, 2);
      const canLeave2 = n - 2 >= minMembers;
      const canLeave1 = n - 1 >= minMembers;
      if (n < maxMembers && (!canLeave1 || roll < 0.4)) {
        const kind: MemberKind =
          countOf('voxcord') === countOf('davey')
            ? rng() < 0.5
              ? 'voxcord'
              : 'davey'
            : countOf('voxcord') < countOf('davey')
              ? 'voxcord'
              : 'davey';
        const m = await join(kind);
        action = `join ${m.kind} ${m.id}`;
      } else if (canLeave2 && roll < 0.65) {
        const pair =
          rng() < 0.5 && keepsBothKinds(leftPair)
            ? leftPair
            : (() => {
                const a = pick(members);
                const b = pick(members.filter((m) => m !== a));
                return [a, b];
              })();
        if (!keepsBothKinds(pair)) continue;
        if (pair.includes(ordered[0]!)) report.leftmostLeaves++;
        report.doubleLeaves++;
        for (const m of pair) leave(m);
        action = `leave ${pair.map((m) => `${m.kind} ${m.id}`).join(' + ')}${pair === leftPair ? ' (leftmost two)' : ''}`;
      } else if (canLeave1) {
        const m = rng() < 0.5 ? ordered[0]! : pick(members);
        if (!keepsBothKinds([m])) continue;
        if (m === ordered[0]) report.leftmostLeaves++;
        leave(m);
        action = `leave ${m.kind} ${m.id}${m === ordered[0] ? ' (leftmost)' : ''}`;
      } else {
        continue;
      }
      report.steps++;
      await settle();
      log(`step ${report.steps}: ${action} -> epoch ${lastEpoch}, ${members.length} members`);
      await sleep(dwellMin + rng() * (dwellMax - dwellMin));
    }
    await sleep(dwellMax); // a last stretch of steady state
  } catch (err) {
    report.aborted = err instanceof Error ? err.message : String(err);
    log(`aborted: ${report.aborted}`);
  } finally {
    for (const m of members) stopMember(m);
    await sleep(200);
    report.sfuDropped = { ...h.server.sfuStats.dropped };
    await h.close();
    await daveyEngine.close();
  }

  // Epoch agreement across every member that reached each epoch.
  const views = new Map<string, Set<string>>();
  for (const m of everyone) {
    for (const [epoch, seen] of m.epochs) {
      const set = views.get(epoch) ?? new Set<string>();
      set.add(seen);
      views.set(epoch, set);
    }
  }
  report.epochsCompared = views.size;
  for (const [epoch, set] of views) {
    if (set.size > 1) report.epochDisagreements.push(`epoch ${epoch}: ${set.size} different views`);
  }
  account(report, everyone, options.trace === true);
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

/** When `s` sent the frame with (unwrapped) RTP timestamp `ts`, on this process's clock. */
function sendTime(s: Member, ts: number): number {
  return s.clock.zero + ts / SAMPLES_PER_MS;
}

/**
 * The phase in which `s` sent a frame at `t`, for receiver `r`, and the op 22 window it falls in
 * (see the module comment).
 */
function phaseOf(r: Member, s: Member, t: number): { phase: Phase; window?: number } {
  const rJoin = r.executes[0];
  const sFirst = s.executes[0];
  if (rJoin === undefined || sFirst === undefined) return { phase: 'joining' };
  // The later of the two to join decides: the sender's op 22 for that join.
  const from = r.index > s.index ? s.executes.find((e) => e.transitionId === rJoin.transitionId) : sFirst;
  if (from === undefined || t < from.t) return { phase: 'joining' };
  let last = from;
  for (const e of s.executes) if (e.t <= t && e.t > last.t) last = e;
  if (t - last.t <= TRANSITION_WINDOW_MS) return { phase: 'transition', window: last.transitionId };
  return { phase: 'steady' };
}

/**
 * Fills the frame figures of `report` from what every receiver heard: phases, op 22 windows and
 * their losses, steady-state losses.
 */
function account(report: SoakReport, everyone: Member[], trace: boolean): void {
  const byIndex = new Map(everyone.map((m) => [m.index, m]));
  for (const r of everyone) {
    for (const [index, events] of r.heard) {
      const s = byIndex.get(index)!;
      const windows = new Map<number, number>();
      let last: number | undefined;
      const lose = (phase: Phase, window: number | undefined, t: number, lost: number): void => {
        report.phases[phase].lost += lost;
        if (window !== undefined) windows.set(window, (windows.get(window) ?? 0) + lost);
        if (phase === 'steady' && report.steadyLosses.length < 20) {
          const op22 = s.executes.filter((e) => e.t <= t).at(-1)?.t ?? 0;
          report.steadyLosses.push({
            receiver: r.id,
            sender: s.id,
            kinds: `${s.kind} -> ${r.kind}`,
            lost,
            sinceOp22Ms: Math.round(t - op22),
          });
        }
      };
      for (const e of events) {
        const t = sendTime(s, e.ts);
        const { phase, window } = phaseOf(r, s, t);
        if (window !== undefined && !windows.has(window)) windows.set(window, 0);
        if (e.reason !== undefined) {
          bump(report.phases[phase].failures, e.reason);
          // A failure after a decrypted frame shows up as a gap; before the first one it would not.
          if (last === undefined) lose(phase, window, t, 1);
          continue;
        }
        const n = e.n!;
        report.phases[phase].received++;
        if (last !== undefined && n <= last) {
          report.duplicates++;
          continue;
        }
        if (last !== undefined && n > last + 1) lose(phase, window, t, n - last - 1);
        last = n;
      }
      report.transitionWindows += windows.size;
      for (const [window, lost] of windows) {
        report.maxTransitionLoss = Math.max(report.maxTransitionLoss, lost);
        if (lost <= 1) continue;
        report.transitionsOverBudget.push({
          receiver: r.id,
          sender: s.id,
          kinds: `${s.kind} -> ${r.kind}`,
          transition: window,
          lost,
          ...(trace && report.transitionsOverBudget.length < 12 ? { trace: windowTrace(r, s, window) } : {}),
        });
      }
    }
  }
}

/** What `s` sent that `r` heard around the sender's op 22 of `transitionId`, times relative to it. */
function windowTrace(r: Member, s: Member, transitionId: number): string[] {
  const at = s.executes.find((e) => e.transitionId === transitionId)?.t ?? 0;
  const own = r.executes.map((e) => Math.round(e.t - at)).filter((d) => d > -2_000 && d < 2_000);
  const lines = [`receiver's op 22s at ${own.join(', ')} ms`];
  let run: { from: number; to: number; first: number; last: number } | undefined;
  const flush = (): void => {
    if (run !== undefined) lines.push(`${run.from}..${run.to} ms ok ${run.first}..${run.last}`);
    run = undefined;
  };
  for (const e of r.heard.get(s.index) ?? []) {
    const t = sendTime(s, e.ts);
    if (t < at - 200 || t > at + TRANSITION_WINDOW_MS) continue;
    const ms = Math.round(t - at);
    if (e.n !== undefined) {
      if (run === undefined) run = { from: ms, to: ms, first: e.n, last: e.n };
      else Object.assign(run, { to: ms, last: e.n });
      continue;
    }
    flush();
    lines.push(`${ms} ms fail ${e.reason}`);
  }
  flush();
  return lines;
}

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** The issue's criteria that the report misses, each with its figures; empty when all hold. */
export function soakFailures(r: SoakReport): string[] {
  const out: string[] = [];
  if (r.aborted !== undefined) out.push(`run aborted: ${r.aborted}`);
  if (r.epochs < r.epochsTarget) out.push(`reached ${r.epochs} of ${r.epochsTarget} epochs`);
  if (r.epochDisagreements.length > 0)
    out.push(
      `epoch disagreements: ${r.epochDisagreements.length} (${r.epochDisagreements.slice(0, 3).join('; ')})`,
    );
  if (total(r.mlsRejections) > 0)
    out.push(`MLS rejections: ${total(r.mlsRejections)} ${JSON.stringify(r.mlsRejections)}`);
  if (r.op31 > 0) out.push(`op 31 at the server: ${r.op31}`);
  if (r.transitionsOverBudget.length > 0)
    out.push(
      `op 22 windows losing more than one frame per sender: ${r.transitionsOverBudget.length} of ${r.transitionWindows} (max ${r.maxTransitionLoss} frames)`,
    );
  const steadyFailures = total(r.phases.steady.failures);
  if (steadyFailures > 0)
    out.push(`steady-state decrypt failures: ${steadyFailures} ${JSON.stringify(r.phases.steady.failures)}`);
  if (r.phases.steady.lost > 0)
    out.push(
      `steady-state frames lost: ${r.phases.steady.lost} (first: ${JSON.stringify(r.steadyLosses.slice(0, 3))})`,
    );
  return out;
}

/** Over-budget op 22 windows by '<sender kind> -> <receiver kind>', with the frames they lost. */
export function overBudgetByKinds(r: SoakReport): Record<string, { windows: number; lost: number }> {
  const out: Record<string, { windows: number; lost: number }> = {};
  for (const t of r.transitionsOverBudget) {
    const e = (out[t.kinds] ??= { windows: 0, lost: 0 });
    e.windows++;
    e.lost += t.lost;
  }
  return out;
}

/** The figures, one line each, for the test output and the CLI. */
export function formatSoakReport(r: SoakReport): string {
  const phase = (p: Phase): string => {
    const f = r.phases[p];
    return `${p.padEnd(10)} received ${f.received}, lost ${f.lost}, decrypt failures ${total(f.failures)} ${JSON.stringify(f.failures)}`;
  };
  const failures = soakFailures(r);
  return [
    `DAVE churn soak seed ${r.seed}: ${r.members} members at start, ${r.epochs} epochs (target ${r.epochsTarget}), ${r.steps} steps, ${(r.durationMs / 1000).toFixed(1)} s`,
    `  churn      joins ${r.joins}, leaves ${r.leaves} (leftmost ${r.leftmostLeaves}, two at once ${r.doubleLeaves})`,
    `  epochs     ${r.epochsCompared} compared across members, disagreements ${r.epochDisagreements.length}, op 23 timeouts ${r.timedOutTransitions}`,
    `  frames     sent ${r.framesSent}, dropped by the sender (no key) ${r.senderDrops}, by the SFU ${JSON.stringify(r.sfuDropped)}, duplicates ${r.duplicates}`,
    `  ${phase('joining')}`,
    `  ${phase('transition')}`,
    `  ${phase('steady')}`,
    `  op 22      ${r.transitionWindows} receiver x sender windows, over budget ${r.transitionsOverBudget.length} ${JSON.stringify(overBudgetByKinds(r))}, max lost ${r.maxTransitionLoss}`,
    `  MLS        rejections ${total(r.mlsRejections)} ${JSON.stringify(r.mlsRejections)}, op 31 ${r.op31}, server refusals ${JSON.stringify(r.serverRejects)}`,
    r.aborted === undefined ? '' : `  aborted    ${r.aborted}`,
    failures.length === 0 ? '  PASS' : `  FAIL\n${failures.map((f) => `   - ${f}`).join('\n')}`,
  ]
    .filter((l) => l !== '')
    .join('\n');
}
