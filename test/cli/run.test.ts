/** The dispatcher: help for every command, versions, and error messages that name the fix. */
import { describe, expect, it } from 'vitest';
import { apiUrlFromServer } from '../../src/cli/connect.js';
import { runCli } from '../../src/cli/run.js';
import { captureIo } from './helpers.js';

const G = '123456789012345678';
const C = '234567890123456789';

async function run(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({ env });
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('voxcord --help', () => {
  it('lists the commands', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    for (const c of ['demo', 'serve', 'play', 'record', 'doctor'])
      expect(out).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    expect(out).toContain('voxcord <command> --help');
  });

  it('without a command prints the help and exits 2; an unknown command says so', async () => {
    expect((await run([])).code).toBe(2);
    const unknown = await run(['dmeo']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "dmeo"');
  });

  it('prints the package version', async () => {
    const { code, out } = await run(['--version']);
    expect(code).toBe(0);
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    ['demo', /--output <dir>[\s\S]*report\.html[\s\S]*--snr-threshold/],
    ['serve', /--gateway-port[\s\S]*--no-dave[\s\S]*--bot <userId>/],
    [
      'play',
      /voxcord play <file>[\s\S]*--guild <id>[\s\S]*DISCORD_TOKEN[\s\S]*--server <url>[\s\S]*--volume/,
    ],
    ['record', /--format ogg\|wav[\s\S]*--duration[\s\S]*DISCORD_TOKEN/],
  ])('%s --help explains the options', async (command, pattern) => {
    for (const flag of ['--help', '-h']) {
      const { code, out, err } = await run([command, flag]);
      expect(code).toBe(0);
      expect(err).toBe('');
      expect(out).toMatch(pattern);
    }
  });
});

describe('usage errors name the problem and the fix (exit 2)', () => {
  it.each([
    [['play'], /which file\?/],
    [
      ['play', 'a.ogg', '--guild', G, '--channel', C],
      /no bot token: pass --token <token> or set DISCORD_TOKEN/,
    ],
    [['play', 'a.ogg', '--token', 't', '--channel', C], /--guild <id> is required/],
    [
      ['play', 'a.ogg', '--token', 't', '--guild', 'general', '--channel', C],
      /not an id: ids are 17-20 digits \(right-click the server > Copy Server ID\)/,
    ],
    [['play', 'a.ogg', '--token', 't', '--guild', G], /--channel <id> is required/],
    [
      ['play', 'a.ogg', '--token', 't', '--guild', G, '--channel', C, '--server', 'nope'],
      /is not a URL: use the apiUrl "voxcord serve" prints/,
    ],
    [
      ['play', 'a.ogg', '--guild', G, '--channel', C, '--server', 'http://127.0.0.1:1/api'],
      /"voxcord serve" prints one/,
    ],
    [
      ['play', 'a.ogg', '--token', 't', '--guild', G, '--channel', C, '--volume', '9'],
      /--volume must be a number from 0 to 4/,
    ],
    [['play', 'a.ogg', 'b.ogg'], /one file at a time/],
    [['play', 'missing.ogg', '--token', 't', '--guild', G, '--channel', C], /file not found: missing\.ogg/],
    [['play', '--bogus'], /Unknown option '--bogus'/],
    [
      ['record', '--token', 't', '--guild', G, '--channel', C, '--format', 'mp3'],
      /--format must be ogg or wav/,
    ],
    [
      ['record', '--token', 't', '--guild', G, '--channel', C, '--duration', '0'],
      /--duration must be a positive number/,
    ],
    [['record', '--guild', G, '--channel', C], /no bot token/],
    [['demo', '--snr-threshold', 'loud'], /--snr-threshold must be a number/],
  ])('%j', async (argv, pattern) => {
    const { code, out, err } = await run(argv);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(pattern);
    expect(err).toMatch(/usage: voxcord \w+/);
    expect(err).toContain(`Run "voxcord ${argv[0]!} --help"`);
  });

  it('takes the token from DISCORD_TOKEN and never prints it', async () => {
    const { code, err } = await run(['play', 'missing.ogg', '--guild', G, '--channel', C], {
      DISCORD_TOKEN: 'secret.token.value',
    });
    expect(code).toBe(2);
    expect(err).toContain('file not found'); // got past the token check
    expect(err).not.toContain('secret.token.value');
  });

  it('serve rejects bad flags with its usage', async () => {
    const { code, err } = await run(['serve', '--bot', 'me']);
    expect(code).toBe(2);
    expect(err).toMatch(
      /--bot expects a user id[\s\S]*usage: voxcord serve[\s\S]*Run "voxcord serve --help"/,
    );
  });
});

describe('apiUrlFromServer', () => {
  it('accepts the apiUrl, the gateway URL or a bare origin', () => {
    expect(apiUrlFromServer('http://127.0.0.1:5000/api', 'u')).toBe('http://127.0.0.1:5000/api');
    expect(apiUrlFromServer('http://127.0.0.1:5000/api/', 'u')).toBe('http://127.0.0.1:5000/api');
    expect(apiUrlFromServer('ws://127.0.0.1:5000', 'u')).toBe('http://127.0.0.1:5000/api');
    expect(apiUrlFromServer('wss://example.test', 'u')).toBe('https://example.test/api');
    expect(() => apiUrlFromServer('ftp://x', 'u')).toThrow(/http:\/\/ or ws:\/\//);
  });
});
