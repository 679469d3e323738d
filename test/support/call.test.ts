/**
 * The call builder's options reach the local Discord: TLS and DAVE (a bot joins over wss and its
 * DAVE session is up), and dave: false with UDP faults (a listener hears nothing under drop: 1,
 * everything once the fault is lifted).
 */
import { describe, expect, it } from 'vitest';
import { entersState } from '../../src/util/enters-state.js';
import { bareSession, botClient, joinWith, startCall } from './call.js';
import { cleanupAfterEach } from './after-each.js';
import { BOT, LISTENER } from './ids.js';
import { sleep, until } from './wait.js';

const cleanup = cleanupAfterEach();

async function* frames(count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield Uint8Array.of(0xfc, i, 0x5a, 0x5a);
}

describe('startCall', () => {
  it('tls: true and DAVE on: a bot joins through the main gateway over wss, its DAVE session up', async () => {
    const call = await startCall(cleanup, { tls: true });
    expect(call.voice.wsUrl.startsWith('wss://')).toBe(true);
    const client = await botClient(call, cleanup, BOT);
    const connection = joinWith(client, call.engine, cleanup, {
      group: 'support-tls',
      tls: { ca: call.voice.tlsCa! },
    });
    await entersState(connection, 'ready', 10_000);
    await until(() => connection.session?.dave.protocolVersion === 1, 5_000, 'DAVE');
  });

  it('dave: false and udp faults: nothing is heard under drop: 1, everything once lifted', async () => {
    const call = await startCall(cleanup, { dave: false, faults: { udp: { drop: 1 } } });
    const speaker = await bareSession(call.voice, call.engine, cleanup, BOT);
    const listener = await bareSession(call.voice, call.engine, cleanup, LISTENER);
    expect(speaker.dave.protocolVersion).toBe(0);
    let heard = 0;
    listener.on('rtp', (packet) => {
      if (packet.payload[0] === 0xfc && packet.payload.length === 4) heard++;
    });
    await speaker.playOpus(frames(10)).finished;
    await sleep(100);
    expect(heard).toBe(0);
    expect(call.voice.sfuStats.dropped['fault-drop']).toBeGreaterThanOrEqual(10);

    call.voice.setFaults({});
    await speaker.playOpus(frames(10)).finished;
    await until(() => heard >= 10, 3_000, 'the frames without the fault');
  });
});
