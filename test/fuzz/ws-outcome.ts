/**
 * One fuzzed WebSocket client for the gateway fuzzers: it connects, lets `script` answer the
 * server's messages and send the fuzzed frames, and reports how the server ended it.
 */
import WebSocket from 'ws';

export interface Outcome {
  /** The server's close code; 0 when the socket was still open; -1 on a socket error. */
  code: number;
  reason: string;
}

/**
 * Connects to `url`; `script` sees each server message and calls `sent()` once the fuzzed frames
 * are out. The outcome is the close that came within `settleMs` after that (or within 2 s at all),
 * else `open`.
 */
export function wsOutcome(
  url: string,
  script: (ws: WebSocket, data: Buffer, isBinary: boolean, sent: () => void) => void,
  settleMs: number,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let settled = false;
    let isSent = false;
    const done = (r: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(r);
    };
    const timer = setTimeout(() => done({ code: 0, reason: 'open' }), 2_000);
    const sent = (): void => {
      isSent = true;
      setTimeout(() => done({ code: 0, reason: 'open' }), settleMs);
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isSent) script(ws, data, isBinary, sent);
    });
    ws.on('close', (code, reason) => done({ code, reason: reason.toString() }));
    ws.on('error', () => done({ code: -1, reason: 'socket error' }));
  });
}
