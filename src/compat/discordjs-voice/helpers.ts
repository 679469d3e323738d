/** The few functions and constants of @discordjs/voice that are not a class of their own. */
import { protocol, entersState as voxcordEntersState } from '../../index.js';
import type { AudioPlayerStatus, VoiceConnectionStatus } from './enums.js';
import { EndBehaviorType } from './enums.js';
import type { AudioPlayer } from './player.js';
import type { AudioReceiveStreamOptions } from './receiver.js';
import type { VoiceConnection } from './connection.js';

/** The RTP payload type of Opus on Discord (120). */
export const RTP_OPUS_PAYLOAD_TYPE = protocol.OPUS_PAYLOAD_TYPE;

/** What `receiver.subscribe(userId)` uses without options: end only when destroyed. */
export function createDefaultAudioReceiveStreamOptions(): AudioReceiveStreamOptions {
  return { end: { behavior: EndBehaviorType.Manual } };
}

/**
 * Resolves with `target` once it is in `status`. Rejects with voxcord's typed STATE_TIMEOUT when
 * the timeout passes or the signal aborts, and at once (DESTROYED, or the connection's own error)
 * when a connection is destroyed first.
 */
export function entersState(
  target: VoiceConnection,
  status: VoiceConnectionStatus,
  timeoutOrSignal: number | AbortSignal,
): Promise<VoiceConnection>;
export function entersState(
  target: AudioPlayer,
  status: AudioPlayerStatus,
  timeoutOrSignal: number | AbortSignal,
): Promise<AudioPlayer>;
export function entersState(
  target: VoiceConnection | AudioPlayer,
  status: string,
  timeoutOrSignal: number | AbortSignal,
): Promise<VoiceConnection | AudioPlayer> {
  return voxcordEntersState(target as VoiceConnection, status, timeoutOrSignal);
}
