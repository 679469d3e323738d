/**
 * One client WebSocket session: its players, its timers (playerUpdate every interval, stats at
 * once, twice soon after a socket's ready, and every interval) and, while paused for resume, the
 * queue of every message it would have sent, replayed in order on resume.
 */
import { WebSocket } from 'ws';
import { NodePlayer } from './player.js';
import type { NodePlayerContext } from './player.js';
import { FrameStatsWindow } from './stats.js';
import type { FrameStats, ServerMessage, Stats } from './types.js';
import { setLongTimeout } from '../util/long-timeout.js';

export interface SessionHost {
  playerContext(session: Session, guildId: string): NodePlayerContext;
  stats(): Stats;
  /** The socket closed: the host pauses or destroys the session. */
  socketClosed(session: Session, code: number): void;
  /** The resume timeout passed. */
  expired(session: Session): void;
  log(message: string): void;
}

export interface SessionTimers {
  playerUpdateIntervalMs: number;
  statsIntervalMs: number;
  clientPingIntervalMs: number;
}

/** Upper bound on messages queued while paused (a day of stats plus events): oldest dropped, counted. */
const MAX_QUEUED = 10_000;

/**
 * When, after a socket's `ready`, two more `stats` messages follow it (on top of the interval's,
 * with the last interval's frameStats). moonlink.js 5 parses nothing that came in the same read as
 * the handshake's 101 response until more bytes arrive, so the `ready` sent with the 101 waited
 * for the pong of its 30 s ping. A message in a read of its own gets it parsed: the second is for
 * a client whose loop was busy through the first. `ready` and the first `stats` stay at once, as
 * Lavalink sends them and lavalink-client expects them.
 */
const FOLLOW_UP_STATS_MS: readonly number[] = [50, 1000];

export class Session {
  readonly players = new Map<string, NodePlayer>();
  resuming = false;
  timeoutSeconds = 60;
  private socket: WebSocket | undefined;
  private queue: string[] = [];
  private dropped = 0;
  private updateTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private cancelResumeWait: (() => void) | undefined;
  private followUpTimers: NodeJS.Timeout[] = [];
  private readonly frameWindow = new FrameStatsWindow();
  private lastFrameStats: FrameStats | null = null;
  private closed = false;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly clientName: string,
    private readonly host: SessionHost,
    private readonly timers: SessionTimers,
  ) {}

  get paused(): boolean {
    return this.socket === undefined && !this.closed;
  }

  /** Starts the session on its first socket: ready, then stats at once, its follow-ups and the timers. */
  open(socket: WebSocket): void {
    this.attach(socket);
    this.send({ op: 'ready', resumed: false, sessionId: this.id });
    this.sendStats();
    this.followUpStats();
    this.updateTimer = setInterval(() => this.sendUpdates(), this.timers.playerUpdateIntervalMs);
    this.statsTimer = setInterval(() => this.sendStats(), this.timers.statsIntervalMs);
    this.updateTimer.unref();
    this.statsTimer.unref();
  }

  /** The socket closed with resuming on: keep playing, queue messages, wait `timeoutSeconds`. */
  pause(): void {
    this.socket = undefined;
    this.stopFollowUps();
    this.cancelResumeWait = setLongTimeout(() => this.host.expired(this), this.timeoutSeconds * 1000, {
      unref: true,
    });
  }

  /** A client came back with Session-Id: ready (resumed), the queue in order, one playerUpdate per player. */
  resume(socket: WebSocket): void {
    this.cancelResumeWait?.();
    this.cancelResumeWait = undefined;
    this.attach(socket);
    this.send({ op: 'ready', resumed: true, sessionId: this.id });
    const queued = this.queue;
    this.queue = [];
    if (this.dropped > 0)
      this.host.log(`session ${this.id}: ${this.dropped} queued messages were dropped (queue full)`);
    this.dropped = 0;
    for (const text of queued) socket.send(text);
    for (const player of this.players.values()) player.sendUpdate();
    this.followUpStats();
  }

  send(message: ServerMessage): void {
    if (this.closed) return;
    const text = JSON.stringify(message);
    const socket = this.socket;
    if (socket !== undefined && socket.readyState === WebSocket.OPEN) socket.send(text);
    else if (socket === undefined) {
      this.queue.push(text);
      if (this.queue.length > MAX_QUEUED) {
        this.queue.shift();
        this.dropped++;
      }
    }
  }

  player(guildId: string): NodePlayer | undefined {
    return this.players.get(guildId);
  }

  getOrCreatePlayer(guildId: string): NodePlayer {
    let player = this.players.get(guildId);
    if (player === undefined) {
      player = new NodePlayer(this.host.playerContext(this, guildId));
      this.players.set(guildId, player);
      this.host.log(`session ${this.id}: player ${guildId} created`);
    }
    return player;
  }

  /**
   * Destroys a player and its voice connection. `stopped`: its track ends with a TrackEndEvent
   * `stopped` first, as Lavalink's DELETE does (lavaplayer's destroy stops the track while the
   * player's listeners are attached); a session that ends sends nothing (its socket is gone).
   */
  destroyPlayer(guildId: string, stopped = false): void {
    const player = this.players.get(guildId);
    if (player === undefined) return;
    this.players.delete(guildId);
    player.destroy(stopped);
    this.host.log(`session ${this.id}: player ${guildId} destroyed`);
  }

  /** Ends the session: timers, players and their voice connections, the socket. */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    clearInterval(this.updateTimer);
    clearInterval(this.statsTimer);
    this.cancelResumeWait?.();
    this.stopFollowUps();
    for (const guildId of [...this.players.keys()]) this.destroyPlayer(guildId);
    this.closed = true;
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined && socket.readyState === WebSocket.OPEN) socket.close(code, reason);
  }

  private attach(socket: WebSocket): void {
    this.socket = socket;
    // Logged once per socket: a client that keeps sending must not flood the log.
    socket.once('message', () =>
      this.host.log(`session ${this.id}: ignored client messages (v4 is REST-controlled)`),
    );
    const stopPings = this.pingUntilSilent(socket);
    socket.on('close', (code) => {
      stopPings();
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.host.socketClosed(this, code);
    });
    socket.on('error', (err) => this.host.log(`session ${this.id}: socket error: ${err.message}`));
  }

  /**
   * Pings `socket` every interval and ends it once two pings in a row went unanswered: a client
   * whose host died or whose connection is half-open never closes it, and its session would hold
   * its players and grow the socket's send buffer for good. RFC 6455 clients answer pings by
   * themselves (ws, and moonlink.js's own client, do).
   */
  private pingUntilSilent(socket: WebSocket): () => void {
    let unanswered = 0;
    const heard = (): void => {
      unanswered = 0;
    };
    socket.on('pong', heard);
    socket.on('message', heard);
    const timer = setInterval(() => {
      if (unanswered >= 2) {
        this.host.log(
          `session ${this.id}: the client answered no ping in ${unanswered} tries: connection ended`,
        );
        clearInterval(timer);
        socket.terminate();
        return;
      }
      unanswered++;
      socket.ping();
    }, this.timers.clientPingIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private stopFollowUps(): void {
    for (const timer of this.followUpTimers) clearTimeout(timer);
  }

  private followUpStats(): void {
    this.stopFollowUps();
    // Not a sample: frameStats' window stays the interval's.
    const resend = (): void =>
      this.send({ op: 'stats', ...this.host.stats(), frameStats: this.lastFrameStats });
    this.followUpTimers = FOLLOW_UP_STATS_MS.map((ms) => setTimeout(resend, ms).unref());
  }

  private sendUpdates(): void {
    for (const player of this.players.values()) if (player.hasTrack) player.sendUpdate();
  }

  private sendStats(): void {
    const now = Date.now();
    const frameStats = this.frameWindow.sample(
      now,
      [...this.players.values()].map((p) => ({
        key: p,
        frames: p.frames,
        continuousSince: p.continuousSince(now),
      })),
      performance.now(), // the clock of the counts' time stamps
    );
    this.lastFrameStats = frameStats;
    this.send({ op: 'stats', ...this.host.stats(), frameStats });
  }
}
