import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isVoxcordError } from '../../src/errors.js';
import { AudioPlayer, ffmpegInput, probeFfmpeg } from '../../src/player/index.js';
import type { FfmpegProcess } from '../../src/player/inputs/ffmpeg.js';
import { ffmpegArgs, redactUrls, runningFfmpegProcesses } from '../../src/player/inputs/ffmpeg.js';
import { FakeSession, fakeCodec, fakeDecode, settle } from './helpers.js';
import { until as waitFor } from '../support/wait.js';
import { runNode } from '../helpers/node-script.js';
import { fileURLToPath } from 'node:url';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ffmpeg input', () => {
  let dir: string;
  const players: AudioPlayer[] = [];
  const spawned: FfmpegProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'voxcord-ffmpeg-'));
  });
  afterEach(async () => {
    for (const p of players.splice(0)) p.destroy();
    for (const proc of spawned.splice(0)) {
      proc.kill();
      await proc.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fake ffmpeg: records its pid and arguments, then runs `body` (exec'd, so the pid stays). */
  function fakeFfmpeg(body: string): string {
    const path = join(dir, 'ffmpeg');
    writeFileSync(path, `#!/bin/sh\necho $$ > "${dir}/pid"\nprintf '%s\\n' "$@" > "${dir}/args"\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  function player(): { player: AudioPlayer; session: FakeSession; log: string[] } {
    const p = new AudioPlayer({ opus: fakeCodec() });
    players.push(p);
    const log: string[] = [];
    p.on('trackError', (t, e) => log.push(`error:${String(t.metadata)}:${e.message}`));
    p.on('trackEnd', (t, r) => log.push(`end:${String(t.metadata)}:${r}`));
    const session = new FakeSession();
    p.attach(session);
    return { player: p, session, log };
  }

  it('builds s16le 48 kHz stereo output arguments, with -ss for a seek', () => {
    const args = ffmpegArgs('song.mp3', 1500);
    expect(args).toEqual([
      '-hide_banner',
      '-nostats',
      '-loglevel',
      'info',
      '-nostdin',
      '-ss',
      '1.500',
      '-i',
      'song.mp3',
      '-vn',
      '-f',
      's16le',
      '-ar',
      '48000',
      '-ac',
      '2',
      'pipe:1',
    ]);
    expect(ffmpegArgs('pipe:0', 0)).not.toContain('-nostdin');
  });

  it('a missing ffmpeg is a track error that says how to install it; the next track plays', async () => {
    const { player: p, session, log } = player();
    p.enqueue(ffmpegInput('song.mp3', { ffmpegPath: join(dir, 'no-such-ffmpeg') }), { metadata: 'mp3' });
    const ok = fakeFfmpeg(`head -c 3840 /dev/zero`);
    p.enqueue(ffmpegInput('other.mp3', { ffmpegPath: ok }), { metadata: 'ok' });
    const frames = await session.pull(10);
    expect(frames).toHaveLength(1);
    expect(log[0]).toMatch(/^error:mp3:ffmpeg was not found .*apt-get install ffmpeg/);
    expect(log).toEqual([expect.any(String), 'end:mp3:error', 'end:ok:finished']);
    await expect(probeFfmpeg(join(dir, 'no-such-ffmpeg'))).rejects.toSatisfy(
      (e: unknown) =>
        isVoxcordError(e, 'AUDIO_INPUT_ERROR') && /brew install ffmpeg/.test((e as Error).message),
    );
  });

  it('finds ffmpeg through FFMPEG_PATH', async () => {
    const path = fakeFfmpeg(`echo "ffmpeg version 9.9-fake"`);
    const saved = process.env['FFMPEG_PATH'];
    process.env['FFMPEG_PATH'] = path;
    try {
      expect(await probeFfmpeg()).toBe('ffmpeg version 9.9-fake');
    } finally {
      if (saved === undefined) delete process.env['FFMPEG_PATH'];
      else process.env['FFMPEG_PATH'] = saved;
    }
  });

  it('decodes the PCM ffmpeg writes, frame by frame', async () => {
    // Two frames of sample value 0x0101 (257).
    const path = fakeFfmpeg(`head -c 7680 /dev/zero | tr '\\0' '\\1'`);
    const { player: p, session } = player();
    p.enqueue(ffmpegInput('x.flac', { ffmpegPath: path }));
    const frames = await session.pull(10);
    expect(frames).toHaveLength(2);
    expect(new Set(fakeDecode(frames[1]!))).toEqual(new Set([257]));
    expect(readFileSync(join(dir, 'args'), 'utf8')).toContain('x.flac');
  });

  it('kills ffmpeg on stop (no process left) and on skip', async () => {
    const path = fakeFfmpeg('exec cat /dev/zero');
    const { player: p, session, log } = player();
    p.enqueue(ffmpegInput('endless.mp3', { ffmpegPath: path, onSpawn: (proc) => spawned.push(proc) }), {
      metadata: 'a',
    });
    expect(await session.pull(5)).toHaveLength(5);
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    expect(alive(pid)).toBe(true);
    expect(runningFfmpegProcesses()).toBe(1);
    const proc = spawned[0]!;
    p.stop();
    await proc.exited;
    expect(proc.child.signalCode).toBe('SIGKILL');
    await waitFor(() => !alive(pid));
    expect(log).toEqual(['end:a:stopped']);

    p.enqueue(ffmpegInput('endless.mp3', { ffmpegPath: path, onSpawn: (x) => spawned.push(x) }), {
      metadata: 'b',
    });
    await settle();
    expect(await session.pull(2)).toHaveLength(2);
    const second = spawned[1]!;
    p.skip();
    await second.exited;
    expect(second.child.signalCode).toBe('SIGKILL');
    expect(runningFfmpegProcesses()).toBe(0);
  });

  it('seeking restarts ffmpeg with -ss; destroy kills it', async () => {
    const path = fakeFfmpeg('exec cat /dev/zero');
    const { player: p, session } = player();
    p.enqueue(ffmpegInput('long.mp3', { ffmpegPath: path, onSpawn: (x) => spawned.push(x) }));
    await session.pull(2);
    p.seek(90_000);
    await session.pull(1);
    expect(spawned).toHaveLength(2);
    await spawned[0]!.exited;
    expect(readFileSync(join(dir, 'args'), 'utf8').split('\n')).toContain('90.000');
    p.destroy();
    await spawned[1]!.exited;
    expect(spawned[1]!.child.signalCode).toBe('SIGKILL');
  });

  it('a failing ffmpeg gives its error message (URLs redacted) as a track error', async () => {
    const path = fakeFfmpeg(
      `echo "https://user:pw@cdn.example/a.mp3?token=SECRET: Invalid data found" >&2; exit 1`,
    );
    const { player: p, session, log } = player();
    p.enqueue(ffmpegInput('https://user:pw@cdn.example/a.mp3?token=SECRET', { ffmpegPath: path }), {
      metadata: 'u',
    });
    expect(await session.pull(5)).toHaveLength(0);
    expect(log[0]).toMatch(/^error:u:ffmpeg failed \(exit 1\): https:\/\/cdn\.example\/… Invalid data found/);
    expect(log[0]).not.toContain('SECRET');
    expect(log[0]).not.toContain('pw@');
    expect(redactUrls('see http://a.b/c?x=1 and rtmp://k@h:1/live')).toBe(
      'see http://a.b/… and rtmp://h:1/…',
    );
  });

  it('an input that produces no audio is a track error', async () => {
    const path = fakeFfmpeg('exit 0');
    const { player: p, session, log } = player();
    p.enqueue(ffmpegInput('video-only.mp4', { ffmpegPath: path }), { metadata: 'v' });
    expect(await session.pull(3)).toHaveLength(0);
    expect(log[0]).toMatch(/produced no audio/);
  });

  it('pipes a stream into ffmpeg stdin', async () => {
    const path = fakeFfmpeg('exec cat');
    const { player: p, session } = player();
    const pcm = new Int16Array(1920).fill(-2);
    p.enqueue(ffmpegInput(Readable.from([Buffer.from(pcm.buffer)]), { ffmpegPath: path }));
    const frames = await session.pull(5);
    expect(frames).toHaveLength(1);
    expect(new Set(fakeDecode(frames[0]!))).toEqual(new Set([-2]));
    expect(readFileSync(join(dir, 'args'), 'utf8').split('\n')).toContain('pipe:0');
    expect(existsSync(join(dir, 'pid'))).toBe(true);
  });

  it('closing a source whose ffmpeg failed to start (before its error arrives) signals no process', async () => {
    // libuv sends a kill of a child that never started to pid 0: the caller's own process group.
    // The script runs in a group of its own, so that this bug kills the script, not the test runner.
    const ffmpeg = JSON.stringify(new URL('../../src/player/inputs/ffmpeg.ts', import.meta.url).href);
    const script = [
      `import { ffmpegInput } from ${ffmpeg};`,
      "const input = ffmpegInput('/no/such/file.mp3', { ffmpegPath: '/no/such/ffmpeg' });",
      'const source = input.open({ startMs: 0, codec: () => Promise.reject(new Error("unused")) });',
      'source.close();',
      'setTimeout(() => console.log("alive"), 100);',
    ].join('\n');
    const here = fileURLToPath(new URL('.', import.meta.url));
    const { out, exit } = await runNode(
      ['--import', 'tsx', '--input-type=module', '-e', script],
      here,
      15_000,
      true,
    );
    expect({ out: out.trim(), exit }).toEqual({ out: 'alive', exit: 0 });
  });
});
