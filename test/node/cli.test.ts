import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNodeArgs } from '../../src/cli/node.js';
import { runCli } from '../../src/cli/run.js';
import { captureIo, GUILD, tempDir, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { startCall } from '../support/call.js';
import { api, clientHeaders, connect, PASSWORD } from './helpers.js';
import { NODE_BOT, voiceCredentials } from './voice-harness.js';
import type { VoiceHarness } from './voice-harness.js';

const cleanup = cleanupAfterEach();

describe('voxcord node', () => {
  it('prints help, and refuses a missing password with the usage (exit 2)', async () => {
    const help = captureIo();
    expect(await runCli(['node', '--help'], help)).toBe(0);
    expect(help.out()).toContain('usage: voxcord node --password');
    const io = captureIo();
    expect(await runCli(['node', '--port', '0'], io)).toBe(2);
    expect(io.err()).toMatch(/a password is required/);
    const badPort = captureIo();
    expect(await runCli(['node', '--password', 'x', '--port', 'abc'], badPort)).toBe(2);
    for (const bad of ['0', '1.5', 'two', '17']) {
      const badWorkers = captureIo();
      expect(await runCli(['node', '--password', 'x', '--workers', bad], badWorkers)).toBe(2);
      expect(badWorkers.err()).toContain('--workers must be auto or a number 1-16');
    }
    expect(help.out()).toContain('--workers <n|auto>');
  });

  it("--workers sets the media engine's worker count (auto by default)", () => {
    expect(parseNodeArgs(['--workers', '1'], {}).workers).toBe(1);
    expect(parseNodeArgs(['--workers', 'auto'], {}).workers).toBe('auto');
    expect(parseNodeArgs([], {}).workers).toBe('auto');
  });

  it('says clearly when the port is in use (exit 1)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const io = captureIo();
    const threads = (): number => readdirSync('/proc/self/task').length;
    const before = threads();
    expect(await runCli(['node', '--password', 'x', '--port', String(port)], io)).toBe(1);
    expect(io.err()).toContain(`port ${port} on 127.0.0.1 is already in use`);
    // The media worker it had started is gone with the failed start.
    await until(() => threads() <= before, 5000, 'the media worker to stop');
    await new Promise<void>((r) => blocker.close(() => r()));
  });

  it('runs on loopback, logs one line per session and player event, and stops on the signal', async () => {
    const controller = new AbortController();
    const io = captureIo({ signal: controller.signal, env: { LAVALINK_PASSWORD: 'youshallnotpass' } });
    const running = runCli(['node', '--port', '0'], io);
    await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(io.out()), 5000, 'the node');
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.out())?.[1] ?? '';
    expect(io.out()).not.toContain('youshallnotpass');
    const client = await connect(base, clientHeaders());
    const ready = await client.wait((m) => m.op === 'ready');
    const id = ready.sessionId as string;
    expect(
      (await api(base, `/v4/sessions/${id}/players/1`, { method: 'PATCH', body: { volume: 50 } })).status,
    ).toBe(200);
    await client.close();
    await until(() => io.out().includes(`session ${id}: socket closed`), 5000, 'the node');
    let lines = io.out().split('\n');
    expect(lines.filter((l) => l.includes(`session ${id}: opened`))).toHaveLength(1);
    expect(lines.filter((l) => l.includes(`player 1 created`))).toHaveLength(1);
    expect(lines.filter((l) => l.includes(`player 1 destroyed`))).toHaveLength(1);
    // Its media worker asked for real-time scheduling, and says how that went (as root or with
    // CAP_SYS_NICE: on; otherwise off, with the reason).
    await until(() => io.out().includes('media worker 0:'), 5000, 'the media worker');
    lines = io.out().split('\n');
    expect(
      lines.filter((l) => /media worker 0: real-time scheduling (on \(SCHED_FIFO 10\)|off: .+)$/.test(l)),
    ).toHaveLength(1);
    // A real-time worker must not wait for V8's helpers: the node says it set the flags, once.
    const on = lines.some((l) => l.endsWith('media worker 0: real-time scheduling on (SCHED_FIFO 10)'));
    expect(
      lines.filter((l) =>
        l.endsWith(
          'V8: each thread collects its own young generation (--no-parallel-scavenge --no-concurrent-array-buffer-sweeping)',
        ),
      ),
    ).toHaveLength(on ? 1 : 0);
    // Nor for V8's and libuv's helper threads: all of them real-time, at priority 1.
    await until(() => !on || io.out().includes('helper threads'), 5000, 'the helper threads');
    const helpers = io
      .out()
      .split('\n')
      .filter((l) => l.includes('helper threads'));
    expect(helpers).toHaveLength(on ? 1 : 0);
    if (on)
      expect(helpers[0]).toMatch(
        /helper threads \(V8's platform, libuv's threadpool\): (\d+) of \1 real-time \(SCHED_FIFO 1\)$/,
      );
    controller.abort();
    expect(await running).toBe(0);
  });

  it("reaches a local Discord's ws:// voice server with --no-voice-tls, its wss:// one with --ca", async () => {
    /** Whether a player of a `voxcord node ...flags` gets connected with these credentials. */
    const connects = async (voice: VoiceHarness['voice'], flags: string[]): Promise<boolean> => {
      const controller = new AbortController();
      const io = captureIo({ signal: controller.signal });
      const running = runCli(['node', '--port', '0', '--password', PASSWORD, '--no-realtime', ...flags], io);
      try {
        await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(io.out()), 5000, 'the node');
        const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.out())?.[1] ?? '';
        const client = await connect(base, clientHeaders({ 'User-Id': NODE_BOT }));
        cleanup.add(() => client.close());
        const id = (await client.wait((m) => m.op === 'ready')).sessionId as string;
        const path = `/v4/sessions/${id}/players/${GUILD}`;
        expect((await api(base, path, { method: 'PATCH', body: { voice } })).status).toBe(200);
        const outcome = await client.wait(
          (m) =>
            (m.op === 'playerUpdate' && (m.state as { connected?: boolean }).connected === true) ||
            m.type === 'WebSocketClosedEvent',
          15_000,
        );
        await api(base, path, { method: 'DELETE' });
        return outcome.op === 'playerUpdate';
      } finally {
        controller.abort();
        expect(await running).toBe(0);
      }
    };
    // Each refused connection fails before Identify, so the credentials are still fresh after it.
    const plain = await voiceCredentials(await startCall(cleanup), cleanup);
    expect(await connects(plain, [])).toBe(false); // wss:// to a ws:// server
    expect(await connects(plain, ['--no-voice-tls'])).toBe(true);
    const tlsCall = await startCall(cleanup, { tls: true });
    const ca = join(await tempDir(cleanup), 'ca.pem');
    await writeFile(ca, tlsCall.voice.tlsCa!);
    const tls = await voiceCredentials(tlsCall, cleanup);
    expect(await connects(tls, [])).toBe(false); // a self-signed certificate
    expect(await connects(tls, ['--ca', ca])).toBe(true);
    // Their misuse is a usage error.
    for (const flags of [
      ['--ca', ca, '--no-voice-tls'],
      ['--ca', join(ca, 'missing.pem')],
    ]) {
      const io = captureIo();
      expect(await runCli(['node', '--password', 'x', ...flags], io)).toBe(2);
      expect(io.err()).toMatch(/--ca /);
    }
  }, 60_000);

  it('--no-realtime leaves the media workers at normal scheduling', async () => {
    const controller = new AbortController();
    const io = captureIo({ signal: controller.signal });
    const running = runCli(['node', '--port', '0', '--password', 'x', '--no-realtime'], io);
    await until(() => io.out().includes('media worker 0:'), 5000, 'the media worker');
    expect(io.out()).toMatch(/media worker 0: normal scheduling$/m);
    expect(io.out()).not.toContain('V8:');
    expect(io.out()).not.toContain('helper threads');
    controller.abort();
    expect(await running).toBe(0);
  });
});
