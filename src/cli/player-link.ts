/**
 * Attaches an AudioPlayer to a VoiceConnection (every session it will have) while keeping hold of
 * the transmissions, so a command can wait until the last frames and the trailing silence are
 * really sent before it leaves (stopping a transmission drops what is still queued).
 */
import type { VoiceConnection } from '../gateway/voice-connection.js';
import type { AudioPlayer, PlayerTarget } from '../player/audio-player.js';
import type { VoiceSession } from '../voice/session.js';
import type { Transmission } from '../voice/transmit.js';

export interface PlayerLink {
  /** Resolves when every burst sent so far has ended (or after `timeoutMs`). */
  drained(timeoutMs: number): Promise<void>;
  /** Stops feeding the connection's sessions. */
  detach(): void;
}

export function linkPlayer(connection: VoiceConnection, player: AudioPlayer): PlayerLink {
  const targets = new Map<VoiceSession, PlayerTarget>();
  const transmissions: Transmission[] = [];
  const unsubscribe = connection.subscribe({
    attach: (session) => {
      const target: PlayerTarget = {
        playOpus: (source) => {
          const transmission = session.playOpus(source);
          transmissions.push(transmission);
          return transmission;
        },
      };
      targets.set(session, target);
      player.attach(target);
    },
    detach: (session) => {
      const target = targets.get(session);
      targets.delete(session);
      if (target !== undefined) player.detach(target);
    },
  });
  return {
    async drained(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const all = Promise.all(transmissions.map((t) => t.finished.catch(() => undefined)));
      await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
    detach() {
      unsubscribe();
      for (const target of targets.values()) player.detach(target);
      targets.clear();
    },
  };
}
