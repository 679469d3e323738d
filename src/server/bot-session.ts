/**
 * One session of the local main gateway (what Identify creates and Resume continues): who it is,
 * its intents and shard, the dispatch sequence and the frames kept for Resume. No sockets or
 * timers: the websocket connection attaches a link while it is connected; while detached,
 * dispatches only go to the replay buffer. A human user's voice adapter (userAdapterCreator) is a
 * session too, whose dispatches go to `deliver` instead.
 */
import { randomBytes } from 'node:crypto';
import { GatewayOpcode } from '../protocol/constants.js';

/** Dispatches kept per session for Resume. */
const REPLAY_LIMIT = 500;

/** The websocket carrying a session, as the session and the gateway state need it. */
export interface BotSessionLink {
  /** Sends a frame if the socket is open. */
  send(frame: string): void;
  close(code: number, reason: string): void;
}

export interface BotSessionSpec {
  userId: string;
  /** '' for a user adapter's session (it never authenticates). */
  token: string;
  intents: number;
  shardId: number;
  shardCount: number;
  /** A user adapter's sink: gets each dispatch instead of a websocket (no seq, no replay). */
  deliver?: (t: string, d: unknown) => void;
}

/** The shard a guild's events go to (Discord's formula). */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

export class BotSession {
  readonly id = randomBytes(16).toString('hex');
  readonly userId: string;
  readonly token: string;
  readonly intents: number;
  readonly shardId: number;
  readonly shardCount: number;
  /** The last dispatch's sequence number. */
  seq = 0;
  private readonly replay: Array<{ s: number; frame: string }> = [];
  private readonly deliver: ((t: string, d: unknown) => void) | undefined;
  private connection: BotSessionLink | null = null;
  /** Times a socket left it: tells one drop's grace period from a later one's. */
  detachments = 0;

  constructor(spec: BotSessionSpec) {
    this.userId = spec.userId;
    this.token = spec.token;
    this.intents = spec.intents;
    this.shardId = spec.shardId;
    this.shardCount = spec.shardCount;
    this.deliver = spec.deliver;
  }

  get link(): BotSessionLink | null {
    return this.connection;
  }

  /** Whether this session's shard holds `guildId`. */
  sees(guildId: string): boolean {
    return shardOf(guildId, this.shardCount) === this.shardId;
  }

  hasIntent(intent: number): boolean {
    return (this.intents & intent) !== 0;
  }

  attach(link: BotSessionLink): void {
    this.connection = link;
  }

  detach(link: BotSessionLink): void {
    if (this.connection !== link) return;
    this.connection = null;
    this.detachments += 1;
  }

  /** Stamps, buffers and sends (if attached) one dispatch. */
  dispatch(t: string, d: unknown): void {
    if (this.deliver !== undefined) {
      this.deliver(t, d);
      return;
    }
    this.seq += 1;
    const frame = JSON.stringify({ op: GatewayOpcode.Dispatch, t, s: this.seq, d });
    this.replay.push({ s: this.seq, frame });
    if (this.replay.length > REPLAY_LIMIT) this.replay.shift();
    this.connection?.send(frame);
  }

  /** The frames after `seq` for a Resume, or null if some are no longer buffered (or `seq` is ahead). */
  replayAfter(seq: number): string[] | null {
    const oldest = this.replay[0]?.s ?? this.seq + 1;
    if (seq < oldest - 1 || seq > this.seq) return null;
    return this.replay.filter((entry) => entry.s > seq).map((entry) => entry.frame);
  }
}
