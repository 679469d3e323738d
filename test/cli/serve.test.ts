/** `voxcord serve` end to end: a bot follows the printed instructions and joins a DAVE call. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { createGatewayClient } from '../../src/gateway/builtin-gateway.js';
import { joinVoiceChannel } from '../../src/gateway/registry.js';
import { createMediaEngine } from '../../src/media/index.js';
import { entersState } from '../../src/util/enters-state.js';
import { CHANNEL, Cleanup, GUILD, captureIo, until } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const BOT = '1400000000000000001';

describe('voxcord serve', () => {
  it('runs the whole local Discord and prints how to point a bot at it', async () => {
    const controller = new AbortController();
    cleanup.add(() => controller.abort());
    const io = captureIo({ signal: controller.signal });
    const served = runCli(['serve', '--bot', BOT], io);
    await until(() => io.out().includes('Press Ctrl+C'), 10_000, 'the server to start');
    const out = io.out();
    expect(out).toMatch(/main gateway: ws:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/endpoint \(VOICE_SERVER_UPDATE\.endpoint\): 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/DAVE: on/);
    expect(out).toContain(
      'joinVoiceChannel({ guildId, channelId, adapterCreator: client.adapterCreator(guildId), tls: false })',
    );
    const apiUrl = /apiUrl: '(http:\/\/127\.0\.0\.1:\d+\/api)'/.exec(out)?.[1];
    const token = new RegExp(`bot token for user ${BOT}: (\\S+)`).exec(out)?.[1];
    expect(apiUrl).toBeDefined();
    expect(token).toBeDefined();
    expect(out).toContain(`voxcord play <file> --server ${apiUrl!} --token <token>`);
    expect(out).toContain('Lavalink clients: voxcord node --password <password> --no-voice-tls');

    // Exactly what the output says a bot does.
    const client = createGatewayClient({ token: token!, apiUrl: apiUrl! });
    cleanup.add(() => client.destroy());
    await client.connect();
    expect(client.userId).toBe(BOT);
    const engine = createMediaEngine();
    cleanup.add(() => engine.close());
    const connection = joinVoiceChannel({
      guildId: GUILD,
      channelId: CHANNEL,
      adapterCreator: client.adapterCreator(GUILD),
      group: 'serve-test',
      engine,
      tls: false,
    });
    cleanup.add(() => connection.destroy());
    await entersState(connection, 'ready', 10_000);
    await connection.session?.dave.settled();
    expect(connection.session?.dave.enabled).toBe(true);
    expect(connection.session?.dave.protocolVersion).toBe(1);

    connection.destroy();
    controller.abort();
    expect(await served).toBe(0);
    expect(io.out().trim().split('\n').at(-1)).toBe('voxcord voice server stopped');
    expect(io.err()).toBe('');
  });

  it('prints the CA to trust with --tls', async () => {
    const controller = new AbortController();
    const io = captureIo({ signal: controller.signal });
    const served = runCli(['serve', '--tls', '--no-dave'], io);
    await until(() => io.out().includes('Press Ctrl+C'), 10_000, 'the server to start');
    controller.abort();
    expect(await served).toBe(0);
    expect(io.out()).toMatch(/voice websocket: wss:\/\//);
    expect(io.out()).toMatch(/tls: \{ ca: readFileSync\('.*\.pem'\) \}/);
    expect(io.out()).toMatch(/--ca \S+\.pem/);
    expect(io.out()).toMatch(/Lavalink clients: voxcord node --password <password> --ca \S+\.pem/);
    expect(io.out()).toContain('DAVE: off');
  });
});
