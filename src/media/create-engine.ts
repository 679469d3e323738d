/** Creating a media engine: pick where the media path runs. */
import { VoxcordError } from '../errors.js';
import { checkArg, checkOptions } from '../util/args.js';
import { InlineMediaEngine } from './inline-engine.js';
import type { MediaWorkerReady, VoxcordMediaEngine } from './media-engine.js';
import type { ChannelTuning } from './udp-channel.js';
import { WorkerMediaEngine } from './worker-engine.js';

export interface CreateMediaEngineOptions {
  /**
   * 'worker' (default): clock, RTP, encryption and UDP in a worker thread, so packets stay on time
   * while the bot's own code blocks the main thread. 'inline': in this thread (one shared clock per
   * process; no worker start-up or memory, but a busy main thread delays packets).
   */
  kind?: 'inline' | 'worker';
  /** Per-channel knobs (queue marks, keepalive and IP discovery timing, transport backend). */
  channel?: ChannelTuning;
  /** Worker engine only; no effect any more (kept for compatibility, see WorkerEngineOptions). */
  transferFrames?: boolean;
  /**
   * Worker engine only: worker threads. 'auto' (default) starts one and adds one (up to the cores
   * available, at most 4) when no worker's clock keeps up (busy share, late ticks; never for a
   * handful of connections); a number K spreads the channels evenly over K workers.
   */
  workers?: number | 'auto';
  /**
   * Worker engine only, Linux: run the media workers' threads with real-time scheduling (SCHED_FIFO;
   * true: priority 10, or a priority 1-99) so audio stays on time when the cores are busy. Needs
   * CAP_SYS_NICE or an RLIMIT_RTPRIO, and util-linux's `chrt`; otherwise the workers run at normal
   * priority and `(await stats()).perWorker[i].realtime` says why. Default false. What `voxcord node` also
   * does process-wide with it (V8 flags, helper threads at real-time priority 1) is
   * `supportRealtimeWorkers`.
   */
  realtime?: boolean | number;
  /** Worker engine only: called as each worker starts, with its real-time scheduling outcome. */
  onWorkerReady?: (worker: MediaWorkerReady) => void;
}

export function createMediaEngine(options: CreateMediaEngineOptions = {}): VoxcordMediaEngine {
  checkOptions(options);
  checkOptions(options.channel, 'channel');
  checkArg(options.onWorkerReady, 'onWorkerReady', 'function', 'optional');
  const channel = options.channel ?? {};
  if (options.kind === 'inline') return new InlineMediaEngine({ channel });
  if (options.kind !== undefined && options.kind !== 'worker') {
    throw new VoxcordError('INVALID_ARGUMENT', "media engine kind must be 'worker' or 'inline'", {
      details: { kind: String(options.kind) },
    });
  }
  return new WorkerMediaEngine({
    channel,
    transferFrames: options.transferFrames ?? false,
    workers: options.workers ?? 'auto',
    ...(options.realtime === undefined ? {} : { realtime: options.realtime }),
    ...(options.onWorkerReady === undefined ? {} : { onWorkerReady: options.onWorkerReady }),
  });
}
