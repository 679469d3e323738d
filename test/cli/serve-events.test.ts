/**
 * `voxcord serve` while it runs (issue 13): one line per voice join, leave, DAVE epoch and voice
 * websocket close, none with --quiet; and a port in use is one clear line, not a stack trace.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { VoiceBasedChannel } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { createGatewayClient } from '../../src/gateway/builtin-gateway.js';
import { joinVoiceChannel } from '../../src/gateway/registry.js';
import { entersState } from '../../src/util/enters-state.js';
import { CHANNEL, Cleanup, GUILD, captureIo, until } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const BOTS = ['1400000000000000011', '1400000000000000012'];

async function serveAndJoin(
  extra: string[],
): Promise<{ out: () => string; leave: () => Promise<void>; stop: () => Promise<number> }> {
  const bots = new Cleanup();
  cleanup.add(() => bots.run());
  const controller = new AbortController();
  cleanup.add(() => controller.abort());
  const io = captureIo({ signal: controller.signal });
  const served = runCli(['serve', ...BOTS.flatMap((b) => ['--bot', b]), ...extra], io);
  await until(() => io.out().includes('Press Ctrl+C'), 10_000, 'the server to start');
  const apiUrl = /apiUrl: '(http:\/\/127\.0\.0\.1:\d+\/api)'/.exec(io.out())![1]!;
  for (const bot of BOTS) {
    const token = new RegExp(`bot token for user ${bot}: (\\S+)`).exec(io.out())![1]!;
    const client = createGatewayClient({ token, apiUrl });
    bots.add(() => client.destroy());
    await client.connect();
    const connection = joinVoiceChannel({
      guildId: GUILD,
      channelId: CHANNEL,
      adapterCreator: client.adapterCreator(GUILD),
      group: `serve-events-${bot}`,
      tls: false,
    });
    bots.add(() => connection.destroy());
    await entersState(connection, 'ready', 10_000);
    await connection.session?.dave.settled();
  }
  return {
    out: () => io.out(),
    leave: () => bots.run(),
    stop: async () => {
      controller.abort();
      return served;
    },
  };
}

describe('voxcord serve event lines', () => {
  it('prints a line per join, DAVE epoch, leave and close', async () => {
    const served = await serveAndJoin([]);
    const line = (pattern: string): RegExp => new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ${pattern}`, 'm');
    for (const bot of BOTS)
      expect(served.out()).toMatch(
        line(`join +user ${bot} guild ${GUILD} channel ${CHANNEL} \\(ssrc \\d+\\)`),
      );
    await until(
      () => line(`dave +guild ${GUILD} channel ${CHANNEL}: epoch \\d+`).test(served.out()),
      5_000,
      'an epoch line',
    );

    await served.leave();
    await until(
      () => /leave +user/.test(served.out()) && /close +user/.test(served.out()),
      5_000,
      'leave and close lines',
    );
    expect(served.out()).toMatch(line(`leave +user ${BOTS[1]} guild ${GUILD} channel ${CHANNEL} \\(`));
    expect(served.out()).toMatch(
      line(`close +user ${BOTS[1]} voice websocket code \\d+ \\(by (client|server)\\)`),
    );
    expect(await served.stop()).toBe(0);
    // Nothing secret in the event lines.
    const events = served
      .out()
      .split('\n')
      .filter((l) => /^\d\d:/.test(l))
      .join('\n');
    expect(events).not.toMatch(/token|session_id|secret/i);
  });

  it('--quiet prints none of them', async () => {
    const served = await serveAndJoin(['--quiet']);
    await served.leave();
    await new Promise((r) => setTimeout(r, 200));
    expect(await served.stop()).toBe(0);
    expect(served.out()).not.toMatch(/^\d\d:\d\d:\d\d\.\d{3} /m);
  });
});

describe('voxcord serve on a port in use', () => {
  it.each(['--gateway-port', '--port'])('%s: one clear line and exit 1', async (flag) => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    cleanup.add(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const port = (holder.address() as AddressInfo).port;
    const io = captureIo();
    expect(await runCli(['serve', flag, String(port)], io)).toBe(1);
    expect(io.err()).toBe(
      `voxcord serve: 127.0.0.1:${port} is already in use (${flag} ${port}): stop what listens there or pick another port (0 = any free one)\n`,
    );
  });
});

describe('voxcord serve for discord.js', () => {
  it('--guild puts a guild with its channels in GUILD_CREATE; a discord.js bot follows the printed line', async () => {
    const [guild, voice, text] = ['1400000000000000101', '1400000000000000102', '1400000000000000103'];
    const controller = new AbortController();
    cleanup.add(() => controller.abort());
    const io = captureIo({ signal: controller.signal });
    const served = runCli(
      ['serve', '--quiet', '--bot', BOTS[0]!, '--guild', `${guild}:${voice}:${text}`],
      io,
    );
    await until(() => io.out().includes('Press Ctrl+C'), 10_000, 'the server to start');
    const api = /discord\.js: new Client\(\{ intents, rest: \{ api: '([^']+)' \} \}\)/.exec(io.out())?.[1];
    const token = new RegExp(`bot token for user ${BOTS[0]!}: (\\S+)`).exec(io.out())?.[1];
    expect(api).toBeDefined();
    const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: api! } });
    cleanup.add(() => client.destroy());
    const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
    await client.login(token);
    await ready;
    const seen = client.guilds.cache.get(guild);
    expect((seen?.channels.cache.get(voice) as VoiceBasedChannel | undefined)?.joinable).toBe(true);
    expect(seen?.channels.cache.get(text)?.isTextBased()).toBe(true);
    controller.abort();
    expect(await served).toBe(0);
  });

  it('a malformed --guild is a usage error', async () => {
    const io = captureIo();
    expect(await runCli(['serve', '--guild', 'nope'], io)).toBe(2);
    expect(io.err()).toMatch(/--guild expects guild:voice\[:text\] snowflakes/);
  });
});
