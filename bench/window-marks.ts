/**
 * The measured window's two edges, seen from both ends of the IPC. The client announces each edge
 * and goes on only once the orchestrator has the server's mark for it, so nothing the client does
 * after the window (closing its sessions, which removes them from the server's call) can reach the
 * server before the end mark. The orchestrator turns the two marks into the server's figures.
 */
import type { ClientMessage, ServerMark } from './ipc.js';
import type { ServerWindow } from './report.js';

export type WindowPhase = 'start' | 'end';

/** How the client talks to the orchestrator (process.send and the 'window-ack' reply in client-process.ts). */
export interface WindowPort {
  send(message: ClientMessage): Promise<void>;
  /** Resolves at the next 'window-ack' from the orchestrator (listening from the call on). */
  ack(): Promise<void>;
}

/** Client side: announces `phase` and resolves once the server's mark for it has been taken. */
export async function markWindow(phase: WindowPhase, port: WindowPort): Promise<void> {
  // Listen first: the ack may arrive as soon as the message is out.
  await Promise.all([port.ack(), port.send({ type: 'window', phase })]);
}

/**
 * Orchestrator side: the server's figures between two marks. The packet count is summed over the
 * senders in the call, so it goes back when one leaves or is replaced inside the window: that is
 * an error, never a window with 0 % DAVE frames.
 */
export function serverWindow(start: ServerMark, end: ServerMark): ServerWindow {
  const ms = end.at - start.at;
  const packets = end.packetsReceived - start.packetsReceived;
  if (packets < 0) {
    throw new Error(
      `the server's packet count went back from ${start.packetsReceived} to ${end.packetsReceived} ` +
        'during the window (a sender left the call or reconnected): its figures would be wrong',
    );
  }
  const dropped: Record<string, number> = {};
  for (const [reason, count] of Object.entries(end.dropped)) {
    const delta = count - (start.dropped[reason] ?? 0);
    if (delta > 0) dropped[reason] = delta;
  }
  return {
    cpuCoreShare: (end.cpuUserUs + end.cpuSystemUs - start.cpuUserUs - start.cpuSystemUs) / 1000 / ms,
    packetsPerSecond: (packets * 1000) / ms,
    daveShare: packets > 0 ? (end.daveFrames - start.daveFrames) / packets : 0,
    dropped,
  };
}
