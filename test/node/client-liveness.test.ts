/**
 * A client that no longer answers (its host died, a half-open connection, a socket it stopped
 * reading) never closes its WebSocket: the node pings every client and ends the socket of one that
 * answered two pings in a row with nothing, so its session pauses for resume or ends, as on any
 * close. A client that answers (every RFC 6455 client does by itself) stays connected.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { until } from '../support/wait.js';
import { api, clientHeaders, connect, PASSWORD } from './helpers.js';

const PING_MS = 100;
let node: VoxcordNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

describe('client liveness', () => {
  it('ends the socket of a client that answers no ping; its session pauses for resume and resumes', async () => {
    const logs: string[] = [];
    node = await startNode({
      port: 0,
      password: PASSWORD,
      backend: createTimelineBackend(),
      clientPingIntervalMs: PING_MS,
      log: (line) => logs.push(line),
    });
    const answering = await connect(node.url, clientHeaders());
    const silent = await connect(node.url, clientHeaders(), { autoPong: false });
    const sessionId = (await silent.wait((m) => m.op === 'ready')).sessionId as string;
    const patch = await api(node.url, `/v4/sessions/${sessionId}`, {
      method: 'PATCH',
      body: { resuming: true, timeout: 60 },
    });
    expect(patch.status).toBe(200);

    const started = Date.now();
    expect(await silent.closed).toBe(1006);
    // Two pings unanswered: ended at the third tick.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * PING_MS);
    await until(() => logs.some((l) => l.includes(`session ${sessionId}: socket closed (1006), paused`)));
    expect(logs).toContain(`session ${sessionId}: the client answered no ping in 2 tries: connection ended`);

    // The answering client outlives many pings; the silent one's session is there to resume.
    await new Promise((r) => setTimeout(r, 6 * PING_MS));
    expect(answering.ws.readyState).toBe(answering.ws.OPEN);
    const back = await connect(node.url, clientHeaders({ 'Session-Id': sessionId }));
    expect(back.headers['session-resumed']).toBe('true');
    await answering.close();
    await back.close();
  });
});
