/**
 * @discordjs/voice's VoiceConnection and its registry functions on voxcord's: the same statuses
 * (voxcord's status strings are @discordjs/voice's), per-status events, subscribe(player),
 * receiver. Disconnected states keep voxcord's reason as `voxcordReason` and map it onto
 * VoiceConnectionDisconnectReason. Reconnecting, backoff and final close codes are voxcord's.
 */
import { EventEmitter } from 'node:events';
import {
  getGroups as voxcordGroups,
  getVoiceConnection as voxcordConnection,
  getVoiceConnections as voxcordConnections,
  joinVoiceChannel as voxcordJoin,
  VoxcordError,
} from '../../index.js';
import type {
  JoinVoiceChannelOptions as VoxcordJoinOptions,
  VoiceConnection as VoxcordConnection,
  VoiceConnectionState as VoxcordState,
} from '../../index.js';
import { VoiceConnectionDisconnectReason, VoiceConnectionStatus } from './enums.js';
import type { AudioPlayer, PlayerSubscription } from './player.js';
import { VoiceReceiver } from './receiver.js';

type Voxcord<T extends VoxcordState['status']> = Extract<VoxcordState, { status: T }>;
export interface Subscribed {
  /** The player subscription of this connection, if any. */
  subscription?: PlayerSubscription | undefined;
}

/**
 * voxcord's states with @discordjs/voice's enum values: Disconnected's `reason` is a
 * VoiceConnectionDisconnectReason, voxcord's own reason is `voxcordReason`; `closeCode`, `error`,
 * `willReconnect` and the session are voxcord's.
 */
export type VoiceConnectionState =
  | ({ status: VoiceConnectionStatus.Signalling } & Subscribed)
  | (Omit<Voxcord<'connecting'>, 'status'> & { status: VoiceConnectionStatus.Connecting } & Subscribed)
  | (Omit<Voxcord<'ready'>, 'status'> & { status: VoiceConnectionStatus.Ready } & Subscribed)
  | (Omit<Voxcord<'disconnected'>, 'status' | 'reason'> & {
      status: VoiceConnectionStatus.Disconnected;
      reason: VoiceConnectionDisconnectReason;
      voxcordReason: Voxcord<'disconnected'>['reason'];
    } & Subscribed)
  | (Omit<Voxcord<'destroyed'>, 'status'> & { status: VoiceConnectionStatus.Destroyed } & Subscribed);

function disconnectReason(state: VoxcordState & { status: 'disconnected' }): VoiceConnectionDisconnectReason {
  switch (state.reason) {
    case 'left':
      return VoiceConnectionDisconnectReason.Manual;
    case 'endpoint-lost':
      return VoiceConnectionDisconnectReason.EndpointRemoved;
    case 'adapter-unavailable':
      return VoiceConnectionDisconnectReason.AdapterUnavailable;
    default:
      return VoiceConnectionDisconnectReason.WebSocketClose;
  }
}

function mapState(state: VoxcordState, subscription: PlayerSubscription | undefined): VoiceConnectionState {
  if (state.status === 'disconnected') {
    const closeCode = state.closeCode ?? (state.reason === 'left-channel' ? 4014 : undefined);
    return {
      ...state,
      status: VoiceConnectionStatus.Disconnected,
      reason: disconnectReason(state),
      voxcordReason: state.reason,
      ...(closeCode === undefined ? {} : { closeCode }),
      subscription,
    };
  }
  return { ...state, subscription } as VoiceConnectionState;
}

export interface JoinConfig {
  channelId: string | null;
  guildId: string;
  group: string;
  selfDeaf: boolean;
  selfMute: boolean;
}

const wrappers = new WeakMap<VoxcordConnection, VoiceConnection>();

export type StatusListener<T> = (
  oldState: VoiceConnectionState,
  newState: VoiceConnectionState & { status: T },
) => void;

/** The events, typed as @discordjs/voice types them. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed events, as @discordjs/voice does
export interface VoiceConnection {
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'debug', listener: (message: string) => void): this;
  on(
    event: 'stateChange',
    listener: (oldState: VoiceConnectionState, newState: VoiceConnectionState) => void,
  ): this;
  on<T extends VoiceConnectionStatus>(event: T, listener: StatusListener<T>): this;
  once(event: 'error', listener: (error: Error) => void): this;
  once(event: 'debug', listener: (message: string) => void): this;
  once(
    event: 'stateChange',
    listener: (oldState: VoiceConnectionState, newState: VoiceConnectionState) => void,
  ): this;
  once<T extends VoiceConnectionStatus>(event: T, listener: StatusListener<T>): this;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class VoiceConnection extends EventEmitter {
  private current: VoiceConnectionState;
  private subscriptionOf: PlayerSubscription | undefined;
  private receiverOf: VoiceReceiver | undefined;

  constructor(
    /** voxcord's connection underneath (sendStats, session, reconnect events ...). */
    readonly voxcord: VoxcordConnection,
    debug = false,
  ) {
    super();
    this.current = mapState(voxcord.state, undefined);
    voxcord.on('stateChange', (oldVx, nextVx) => {
      const old = this.current;
      if (nextVx.status === 'destroyed') this.subscriptionOf?.unsubscribe();
      const next = mapState(nextVx, this.subscriptionOf);
      this.current = next;
      this.emit('stateChange', old, next);
      if (oldVx.status !== nextVx.status) this.emit(next.status, old, next);
    });
    voxcord.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
      else if (debug) this.emit('debug', `error: ${error.message}`);
    });
    if (debug) voxcord.on('debug', (message) => this.emit('debug', message));
  }

  get state(): VoiceConnectionState {
    return this.current;
  }

  get joinConfig(): JoinConfig {
    const { guildId, channelId, selfDeaf, selfMute, group } = this.voxcord.joinConfig;
    return { guildId, channelId, selfDeaf, selfMute, group };
  }

  /** Always 0: voxcord counts its own attempts (see the 'reconnectAttempt' event of `voxcord`). */
  get rejoinAttempts(): number {
    return 0;
  }

  /** `ws`: the voice websocket round trip (ms); `udp` is not measured. */
  get ping(): { ws: number | undefined; udp: number | undefined } {
    return { ws: this.voxcord.session?.ping, udp: undefined };
  }

  get receiver(): VoiceReceiver {
    this.receiverOf ??= new VoiceReceiver(this.voxcord.receiver);
    return this.receiverOf;
  }

  /** Plays `player` on this connection (replacing a previous subscription). */
  subscribe(player: AudioPlayer): PlayerSubscription | undefined {
    if (this.current.status === VoiceConnectionStatus.Destroyed) return undefined;
    // Checked before the current subscription ends for it.
    if (typeof (player as Partial<AudioPlayer> | null)?.subscribe !== 'function')
      throw new VoxcordError('INVALID_ARGUMENT', 'subscribe needs an AudioPlayer (from createAudioPlayer)');
    if (this.subscriptionOf?.player === player) return this.subscriptionOf;
    this.subscriptionOf?.unsubscribe();
    const subscription = player.subscribe(this);
    this.subscriptionOf = subscription;
    this.current = { ...this.current, subscription };
    return subscription;
  }

  /** @internal */
  onSubscriptionRemoved(subscription: PlayerSubscription): void {
    if (this.subscriptionOf !== subscription) return;
    this.subscriptionOf = undefined;
    this.current = { ...this.current, subscription: undefined };
  }

  rejoin(config: { channelId?: string; selfDeaf?: boolean; selfMute?: boolean } = {}): boolean {
    if (this.current.status === VoiceConnectionStatus.Destroyed) return false;
    return this.voxcord.rejoin(config);
  }

  disconnect(): boolean {
    return this.voxcord.disconnect();
  }

  /** Leaves and releases everything. Unlike @discordjs/voice, a second call does nothing (no throw). */
  destroy(adapterAvailable = true): void {
    void adapterAvailable;
    this.subscriptionOf?.unsubscribe();
    this.voxcord.destroy();
  }

  /** voxcord sends Speaking by itself before every burst; this does nothing and returns false. */
  setSpeaking(enabled: boolean): false {
    void enabled;
    return false;
  }
}

function wrap(connection: VoxcordConnection, debug = false): VoiceConnection {
  let wrapper = wrappers.get(connection);
  if (wrapper === undefined) {
    wrapper = new VoiceConnection(connection, debug);
    wrappers.set(connection, wrapper);
  }
  return wrapper;
}

export type JoinVoiceChannelOptions = Omit<VoxcordJoinOptions, 'debug'> & {
  /** Emit 'debug' events on the connection. */
  debug?: boolean;
  /** false: join without DAVE (maxDaveProtocolVersion 0). */
  daveEncryption?: boolean;
  /** Accepted for compatibility; voxcord's DAVE decryptor has its own rules. */
  decryptionFailureTolerance?: number;
};

/** Joins (or moves the existing connection of this group and guild), as in @discordjs/voice. */
export function joinVoiceChannel(options: JoinVoiceChannelOptions): VoiceConnection {
  const { debug, daveEncryption, decryptionFailureTolerance, ...rest } = options;
  void decryptionFailureTolerance;
  const voxcordOptions: VoxcordJoinOptions = { ...rest };
  if (daveEncryption === false) voxcordOptions.maxDaveProtocolVersion = 0;
  return wrap(voxcordJoin(voxcordOptions), debug === true);
}

export function getVoiceConnection(guildId: string, group = 'default'): VoiceConnection | undefined {
  const connection = voxcordConnection(guildId, group);
  return connection === undefined ? undefined : wrap(connection);
}

export function getVoiceConnections(group = 'default'): Map<string, VoiceConnection> {
  const out = new Map<string, VoiceConnection>();
  for (const [guildId, connection] of voxcordConnections(group)) out.set(guildId, wrap(connection));
  return out;
}

export function getGroups(): Map<string, Map<string, VoiceConnection>> {
  return new Map(voxcordGroups().map((group) => [group, getVoiceConnections(group)]));
}
