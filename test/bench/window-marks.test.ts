/**
 * The bench's measured window (bench/window-marks.ts): the client goes on only once the server's
 * mark is taken, and a server packet count that went back is an error, never "0 % DAVE frames".
 */
import { describe, expect, it } from 'vitest';
import { markWindow, serverWindow } from '../../bench/window-marks.js';
import type { ClientMessage, ServerMark } from '../../bench/ipc.js';

function mark(at: number, packetsReceived: number, daveFrames: number, dropped = {}): ServerMark {
  return { cpuUserUs: at * 100, cpuSystemUs: 0, at, packetsReceived, daveFrames, dropped };
}

describe('serverWindow', () => {
  it('gives the window rate, the DAVE share and the drops of the window', () => {
    const w = serverWindow(
      mark(1000, 100, 90, { 'receiver-deaf': 100 }),
      mark(5000, 300, 290, { 'receiver-deaf': 300 }),
    );
    expect(w.packetsPerSecond).toBe(50);
    expect(w.daveShare).toBe(1);
    expect(w.dropped).toEqual({ 'receiver-deaf': 200 });
    expect(w.cpuCoreShare).toBeCloseTo(0.1);
  });

  it('rejects a window whose packet count went back (the sender left before the end mark)', () => {
    // The marks of a failed run: 200 DAVE frames arrived, but the sender's record was gone at the end.
    expect(() =>
      serverWindow(
        mark(5608, 111, 111, { 'receiver-deaf': 111 }),
        mark(9632, 0, 311, { 'receiver-deaf': 311 }),
      ),
    ).toThrow(/went back from 111 to 0/);
  });
});

describe('markWindow', () => {
  it('announces the edge and resolves only after the orchestrator acknowledges the mark', async () => {
    const sent: ClientMessage[] = [];
    let acknowledge: (() => void) | undefined;
    let done = false;
    const marked = markWindow('end', {
      send: (message) => {
        sent.push(message);
        return Promise.resolve();
      },
      ack: () => new Promise<void>((resolve) => (acknowledge = resolve)),
    }).then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([{ type: 'window', phase: 'end' }]);
    expect(done).toBe(false); // no teardown before the server's mark
    acknowledge?.();
    await marked;
    expect(done).toBe(true);
  });

  it('listens for the acknowledgement before the edge is announced', async () => {
    const order: string[] = [];
    await markWindow('start', {
      send: () => {
        order.push('send');
        return Promise.resolve();
      },
      ack: () => {
        order.push('listen');
        return Promise.resolve();
      },
    });
    expect(order).toEqual(['listen', 'send']);
  });
});
