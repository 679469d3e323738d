import dgram from 'node:dgram';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { generateSelfSignedCertificate, startVoiceServer } from '../../src/server/index.js';
import type { ServerEvent } from '../../src/server/index.js';
import { runServeCommand } from '../../src/cli/serve.js';
import { Cleanup, GUILD, RawWsClient, join, speak } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('TLS', () => {
  it('generates a P-256 certificate for localhost and 127.0.0.1', () => {
    const { cert, key } = generateSelfSignedCertificate();
    const x = new X509Certificate(cert);
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(key).toContain('BEGIN PRIVATE KEY');
  });

  it('a wss client that trusts tlsCa connects; one that does not is refused', async () => {
    const server = await startVoiceServer({ tls: true });
    cleanup.add(() => server.stop());
    expect(server.wsUrl).toBe(`wss://${server.endpoint}`);
    expect(server.tlsCa).toContain('BEGIN CERTIFICATE');
    const client = await join(server, cleanup, '1', { ca: server.tlsCa! });
    expect(client.key).toHaveLength(32);
    await expect(RawWsClient.connect(server.wsUrl)).rejects.toThrow(/self-signed|certificate/i);
  });
});

describe('stop()', () => {
  it('closes every socket and timer; ports are free again', async () => {
    const events: ServerEvent[] = [];
    const server = await startVoiceServer({
      heartbeatIntervalMs: 60_000,
      sessionGraceMs: 60_000,
      log: (e) => events.push(e),
    });
    const inner = new Cleanup();
    const alice = await join(server, inner, '1');
    const bob = await join(server, inner, '2');
    speak(alice);
    await bob.ws.expect(VoiceOpcode.ClientsConnect);
    bob.ws.terminate(); // a detached session with a grace timer
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await server.stop();
    expect((await alice.ws.closed).code).toBe(1006);
    await inner.run();
    // Nothing of ours left: heartbeat and grace timers are gone.
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThan(before);
    // Both ports can be bound again.
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(server.udpPort, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    const again = await startVoiceServer({ port: server.port });
    await again.stop();
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(server.wsUrl);
        ws.once('open', resolve);
        ws.once('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(events.at(-1)?.type).toBe('stopped');
    // Secrets never reach the log.
    const text = JSON.stringify(events);
    expect(text).not.toContain(alice.allocation.token);
    expect(text).not.toContain(alice.allocation.sessionId);
    await server.stop(); // idempotent
  });
});

describe('runServeCommand', () => {
  it('prints the endpoint and credentials and stops on abort', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const done = runServeCommand(['--tls', '--seed', '3', '--allocate', `${GUILD}:222:333`], {
      write: (line) => {
        lines.push(line);
        if (line.startsWith('Press Ctrl+C')) controller.abort();
      },
      signal: controller.signal,
    });
    await done;
    const text = lines.join('\n');
    expect(text).toMatch(/voice websocket: wss:\/\/127\.0\.0\.1:\d+\/\?v=8/);
    expect(text).toMatch(/NODE_EXTRA_CA_CERTS=.*\.pem/);
    expect(text).toContain(`"guild_id":"${GUILD}","channel_id":"222","user_id":"333"`);
    expect(lines.at(-1)).toBe('voxcord voice server stopped');
  });

  it('rejects bad flags', async () => {
    await expect(runServeCommand(['--port', 'abc'], { write: () => {} })).rejects.toThrow(/--port/);
    await expect(runServeCommand(['--bogus'], { write: () => {} })).rejects.toThrow(/usage/);
  });
});
