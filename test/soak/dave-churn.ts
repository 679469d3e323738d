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
 * - in steady state (no op 22 in the last second) 0 decrypt failures and 0 lost frames.
 *
 * Used by `npm run soak:dave` (dave-churn-cli.ts: long runs, several seeds) and by the short run in
 * `npm test` (dave-churn.test.ts): one code path.
 *
 * Loss accounting, per receiver and sender: a frame is lost when a later frame number from that
 * sender decrypts while it never did (counted when the later one arrives), or when decryption fails
 * before any frame of that sender decrypted at that receiver (those never show up as a gap). A
 * receiver's phase is 'joining' until it executes its first transition (op 22): what it cannot
 * decrypt then was sent before it was a member; 'transition' for TRANSITION_WINDOW_MS after each
 * op 22; 'steady' otherwise.
 */
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { createDaveClient } from '../../src/dave/dave-client.js';
import type { DaveEndpoint, DaveEndpointFactory } from '../../src/dave/dave-endpoint.js';
import { createRng } from '../../src/server/faults.js';
import type { ServerEvent } from '../../src/server/types.js';
import type { Transmission } from '../../src/voice/transmit.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { DaveyEndpoint, daveyEndpoint } from '../helpers/davey-endpoint.js';
import { CHANNEL, GUILD, startHarness, until } from '../e2e/harness.js';
import type { Harness } from '../e2e/harness.js';

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
  /** Server epoch the receiver was at when it executed that op 22 (its own count of op 22s). */
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
/** A frame the sender sent just before its first op 22 may arrive this long after it. */
const IN_FLIGHT_MS = 100;
const FRAME_MS = 20;
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

interface RxState {
  last: number | undefined;
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
  rx: Map<number, RxState>;
  /** With `trace`: per sender index, [time, event] pairs. */
  events: Map<number, [number, string][]>;
  transmission: Transmission | undefined;
  stopped: boolean;
  sent: number;
}

const hex = (b: Uint8Array | undefined): string => (b === undefined ? '-' : Buffer.from(b).toString('hex'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
 * One frame per 20 ms tick, each handed over when it is due: how discord.js feeds davey (it
 * encrypts each frame as it is sent), so the davey members' frames leave under the key of the
 * moment whatever voxcord's queue does.
 */
async function* paced(m: Member): AsyncGenerator<Uint8Array> {
  let due = performance.now();
  for (let n = 0; !m.stopped; n++) {
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (m.stopped) return;
    m.sent++;
    yield numberedFrame(m.index, n);
    // After a stall, resume the pace instead of catching up: a burst would sit in the queue.
    due = Math.max(due + FRAME_MS, performance.now());
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

  const everyone: Member[] = [];
  const members: Member[] = [];
  /** (receiver id, op 22 ordinal, sender index) -> frames lost in that window. */
  const windowLoss = new Map<string, number>();
  const windowKeys = new Set<string>();
  let nextIndex = 0;

  /**
   * 'joining' while the receiver or the sender is not a member yet (before its first op 22, and
   * for a frame in flight after the sender's): such frames are not under a key both share.
   */
  const phaseOf = (r: Member, s: Member | undefined, t: number): { phase: Phase; key?: string } => {
    const last = r.executes.at(-1);
    const senderIn = s?.executes[0]?.t;
    if (last === undefined || senderIn === undefined || t < senderIn + IN_FLIGHT_MS)
      return { phase: 'joining' };
    if (t - last.t <= TRANSITION_WINDOW_MS)
      return { phase: 'transition', key: `${r.id}|${r.executes.length}` };
    return { phase: 'steady' };
  };

  const recordLoss = (r: Member, s: Member, t: number, lost: number): void => {
    const { phase, key } = phaseOf(r, s, t);
    report.phases[phase].lost += lost;
    if (phase === 'steady' && report.steadyLosses.length < 20) {
      report.steadyLosses.push({
        receiver: r.id,
        sender: s.id,
        kinds: `${s.kind} -> ${r.kind}`,
        lost,
        sinceOp22Ms: Math.round(t - (r.executes.at(-1)?.t ?? 0)),
      });
    }
    if (key !== undefined) {
      const k = `${key}|${s.index}`;
      windowLoss.set(k, (windowLoss.get(k) ?? 0) + lost);
    }
  };

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
  const traceEvent = (r: Member, s: Member, t: number, what: string): void => {
    const list = r.events.get(s.index) ?? [];
    list.push([t, what]);
    r.events.set(s.index, list);
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
      rx: new Map(),
      events: new Map(),
      transmission: undefined,
      stopped: false,
      sent: 0,
    };
    senderOf.set(id, m);
    everyone.push(m);
    const factory = instrumented(m, kind === 'davey' ? daveyEndpoint : createDaveClient);
    m.session = await h.join(id, { daveEndpoint: factory });
    m.session.on('audioFrame', (f) => {
      const s = f.userId === undefined ? undefined : senderOf.get(f.userId);
      const parsed = parseNumberedFrame(f.payload);
      if (s === undefined || parsed === undefined || m.stopped) return;
      const t = performance.now();
      report.phases[phaseOf(m, s, t).phase].received++;
      if (options.trace === true) traceEvent(m, s, t, `ok ${parsed.n}`);
      const rx = m.rx.get(s.index) ?? { last: undefined };
      m.rx.set(s.index, rx);
      if (rx.last !== undefined && parsed.n <= rx.last) {
        report.duplicates++;
        return;
      }
      if (rx.last !== undefined && parsed.n > rx.last + 1) recordLoss(m, s, t, parsed.n - rx.last - 1);
      rx.last = parsed.n;
    });
    m.session.on('daveDecryptFailure', (f) => {
      if (m.stopped) return;
      const t = performance.now();
      const s = f.userId === undefined ? undefined : senderOf.get(f.userId);
      bump(report.phases[phaseOf(m, s, t).phase].failures, shortReason(f.reason));
      if (options.trace === true && s !== undefined) traceEvent(m, s, t, `fail ${shortReason(f.reason)}`);
      if (s !== undefined && m.rx.get(s.index)?.last === undefined) recordLoss(m, s, t, 1);
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
    const ids = members.map((m) => m.id).sort();
    await until(
      () => {
        const st = h.server.daveState(GUILD, CHANNEL);
        const last = st?.lastTransition;
        if (st === undefined || !st.established || last?.kind !== 'commit' || !last.executed) return false;
        if ([...st.members].sort().join() !== ids.join()) return false;
        return members.every(
          (m) =>
            m.endpoint?.epoch === BigInt(st.epoch) &&
            m.executes.some((e) => e.transitionId === last.transitionId),
        );
      },
      settleTimeoutMs,
      `the DAVE group [${ids.join(', ')}] to settle`,
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
  // Transition windows: every (receiver, op 22, sender) pair where both were in the call.
  for (const r of everyone) {
    for (let k = 1; k <= r.executes.length; k++) {
      for (const s of r.rx.keys()) windowKeys.add(`${r.id}|${k}|${s}`);
    }
  }
  for (const k of windowLoss.keys()) windowKeys.add(k);
  report.transitionWindows = windowKeys.size;
  for (const [k, lost] of windowLoss) {
    report.maxTransitionLoss = Math.max(report.maxTransitionLoss, lost);
    if (lost > 1) {
      const [receiver, transition, sender] = k.split('|');
      const r = everyone.find((m) => m.id === receiver);
      const s = everyone.find((m) => m.index === Number(sender));
      report.transitionsOverBudget.push({
        receiver: receiver!,
        sender: s?.id ?? sender!,
        kinds: `${s?.kind ?? '?'} -> ${r?.kind ?? '?'}`,
        transition: Number(transition),
        lost,
        ...(options.trace === true &&
        r !== undefined &&
        s !== undefined &&
        report.transitionsOverBudget.length < 12
          ? { trace: windowTrace(r, s, Number(transition)) }
          : {}),
      });
    }
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

/** Receive events of `s` at `r` around r's `k`-th op 22 (1-based), times relative to it. */
function windowTrace(r: Member, s: Member, k: number): string[] {
  const at = r.executes[k - 1]?.t ?? 0;
  const sender = s.executes.map((e) => Math.round(e.t - at)).filter((d) => d > -2_000 && d < 2_000);
  const lines = [`sender's op 22s at ${sender.join(', ')} ms`];
  let run: { from: number; to: number; first: string; last: string } | undefined;
  const flush = (): void => {
    if (run !== undefined) lines.push(`${run.from}..${run.to} ms ok ${run.first}..${run.last}`);
    run = undefined;
  };
  for (const [t, what] of r.events.get(s.index) ?? []) {
    if (t < at - 200 || t > at + TRANSITION_WINDOW_MS) continue;
    const ms = Math.round(t - at);
    if (what.startsWith('ok ')) {
      const n = what.slice(3);
      if (run === undefined) run = { from: ms, to: ms, first: n, last: n };
      else Object.assign(run, { to: ms, last: n });
      continue;
    }
    flush();
    lines.push(`${ms} ms ${what}`);
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
