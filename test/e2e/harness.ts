/** Shared set-up for end-to-end tests: the local server plus real voxcord sessions over 127.0.0.1. */
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer } from '../../src/server/index.js';
import type { VoiceServerOptions } from '../../src/server/types.js';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaEngine } from '../../src/media/index.js';
import type { VoiceSession } from '../../src/voice/session.js';
import type { VoiceSessionOptions } from '../../src/voice/session.js';
import type { ReceivedRtp } from '../../src/media/media-engine.js';
import { bareSession } from '../support/call.js';
import { Cleanup } from '../support/cleanup.js';
import { CHANNEL, GUILD } from '../support/ids.js';
import { until } from '../support/wait.js';

export { sinePcm } from '../support/tone.js';

export { CHANNEL, GUILD } from '../support/ids.js';
export { until } from '../support/wait.js';

export interface Harness {
  server: VoiceServer;
  engine: MediaEngine;
  join(userId: string, extra?: Partial<VoiceSessionOptions>): Promise<VoiceSession>;
  close(): Promise<void>;
}

/** Transport tests run without DAVE unless they ask for it (DAVE has its own end-to-end tests). */
export async function startHarness(options: VoiceServerOptions = {}): Promise<Harness> {
  const server = await startVoiceServer({ dave: false, ...options });
  const engine = createMediaEngine();
  const sessions = new Cleanup();
  return {
    server,
    engine,
    join: (userId, extra = {}) =>
      bareSession(server, engine, sessions, userId, { handshakeTimeoutMs: 5_000, ...extra }),
    async close() {
      await sessions.run();
      await engine.close();
      await server.stop();
    },
  };
}

/** Collects the payloads one session receives from one user's SSRC. */
export function collectFrom(session: VoiceSession, ssrc: number): ReceivedRtp[] {
  const out: ReceivedRtp[] = [];
  session.on('rtp', (packet) => {
    if (packet.ssrc === ssrc) out.push(packet);
  });
  return out;
}

/** What daveGroupSettled needs to know about one member. */
export interface DaveGroupMember {
  id: string;
  /** The member's MLS epoch now. */
  epoch: bigint | undefined;
  /** Whether the member has handled op 22 for this transition. */
  executed(transitionId: number): boolean;
}

/**
 * Waits until the server's DAVE group is exactly the members `view()` lists, its last commit
 * transition executed, and every member at that epoch and past that op 22.
 */
export async function waitForDaveGroup(
  server: VoiceServer,
  view: () => readonly DaveGroupMember[],
  timeoutMs: number,
): Promise<void> {
  const settled = (): boolean => {
    const members = view();
    const st = server.daveState(GUILD, CHANNEL);
    const last = st?.lastTransition;
    if (st === undefined || !st.established || last?.kind !== 'commit' || !last.executed) return false;
    if (
      [...st.members].sort().join() !==
      members
        .map((m) => m.id)
        .sort()
        .join()
    )
      return false;
    return members.every((m) => m.epoch === BigInt(st.epoch) && m.executed(last.transitionId));
  };
  const ids = view()
    .map((m) => m.id)
    .sort();
  await until(settled, timeoutMs, `the DAVE group [${ids.join(', ')}] to settle`);
}

/** Distinct, recognisable Opus-sized payloads. */
export function numberedFrames(count: number, size = 60): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const frame = new Uint8Array(size);
    frame[0] = 0xfc; // an Opus TOC byte; the rest identifies the frame
    frame.fill(i & 0xff, 1);
    frame[1] = i >> 8;
    return frame;
  });
}

export async function* chunked(data: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let i = 0;
  while (offset < data.length) {
    const size = sizes[i++ % sizes.length]!;
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}
