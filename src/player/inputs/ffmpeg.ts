/**
 * Any other file or URL through the system's ffmpeg: spawned to write s16le 48 kHz stereo to its
 * stdout, which is re-framed to 20 ms PCM. The process is killed when the source is closed (stop,
 * skip, destroy) and reaped; a missing ffmpeg is an AUDIO_INPUT_ERROR that says how to install it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { CHANNELS, SAMPLE_RATE } from '../../protocol/constants.js';
import { VoxcordError } from '../../errors.js';
import { checkArg, checkArrayOf, checkOptions, invalidArgument } from '../../util/args.js';
import { FfmpegInputInfoParser, titleFromPath } from './media-info.js';
import { pcmFrames } from './pcm.js';
import { generatorSource, inputError } from './source.js';
import type { FrameSource, MediaInfo, OpenContext, SourceFrame, TrackInput } from './source.js';

export interface FfmpegOptions {
  /** The ffmpeg executable; default $FFMPEG_PATH, else `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /** Extra arguments before `-i` (e.g. ['-re'] or protocol options). */
  inputArgs?: string[];
  /** Extra output arguments (e.g. ['-af', 'loudnorm']). */
  outputArgs?: string[];
}

export const FFMPEG_INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; Fedora: dnf install ffmpeg; macOS: brew install ffmpeg; ' +
  'Windows: winget install ffmpeg) or point FFMPEG_PATH / the ffmpegPath option at it';

export function defaultFfmpegPath(): string {
  const fromEnv = process.env['FFMPEG_PATH'];
  return fromEnv !== undefined && fromEnv.length > 0 ? fromEnv : 'ffmpeg';
}

/** Strips credentials and query strings from URLs (ffmpeg echoes its input in errors). */
export function redactUrls(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)(?:[^\s/@]*@)?([^\s/?#]*)[^\s]*/gi, '$1$2/…');
}

function missing(ffmpegPath: string, cause: unknown): VoxcordError {
  return new VoxcordError(
    'AUDIO_INPUT_ERROR',
    `ffmpeg was not found (tried "${ffmpegPath}"): ${FFMPEG_INSTALL_HINT}`,
    {
      cause,
      details: { ffmpegPath, reason: 'ffmpeg-missing' },
    },
  );
}

/**
 * The arguments for decoding `input` ('pipe:0' for stdin) from `startMs`. `-loglevel info` (without
 * progress lines) so ffmpeg describes its input — title and duration — on stderr as it starts.
 */
export function ffmpegArgs(input: string, startMs: number, options: FfmpegOptions = {}): string[] {
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'info',
    ...(input === 'pipe:0' ? [] : ['-nostdin']),
    ...(startMs > 0 ? ['-ss', (startMs / 1000).toFixed(3)] : []),
    ...(options.inputArgs ?? []),
    '-i',
    input,
    '-vn',
    '-f',
    's16le',
    '-ar',
    String(SAMPLE_RATE),
    '-ac',
    String(CHANNELS),
    ...(options.outputArgs ?? []),
    'pipe:1',
  ];
}

export type Child = ChildProcessByStdio<Writable | null, Readable, Readable>;

/** Running ffmpeg processes: killed if our process exits first, so none outlives it. */
const running = new Set<FfmpegProcess>();
const killAllOnExit = (): void => {
  for (const proc of running) proc.kill();
};

function track(proc: FfmpegProcess): void {
  if (running.size === 0) process.once('exit', killAllOnExit);
  running.add(proc);
}

function untrack(proc: FfmpegProcess): void {
  if (running.delete(proc) && running.size === 0) process.off('exit', killAllOnExit);
}

/** How many ffmpeg processes voxcord has running (diagnostics, tests). */
export function runningFfmpegProcesses(): number {
  return running.size;
}

/** A running ffmpeg: its PCM output as frames, its exit checked at the end. */
export class FfmpegProcess {
  readonly child: Child;
  /** Resolves once the process has exited and been reaped. */
  readonly exited: Promise<void>;
  private spawnError: unknown;
  private stderrTail = '';
  private killed = false;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;

  constructor(
    readonly ffmpegPath: string,
    args: string[],
    stdin: Readable | AsyncIterable<Uint8Array> | undefined,
    /** Hears the input's title and duration as ffmpeg prints them (see FfmpegInputInfoParser). */
    onInfo?: (info: MediaInfo) => void,
  ) {
    this.child = spawn(ffmpegPath, args, {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      windowsHide: true,
    }) as Child;
    track(this);
    this.exited = new Promise<void>((resolve) => {
      this.child.once('close', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        untrack(this);
        resolve();
      });
      // 'close' never comes when spawning failed. ('error' can also report a failed kill: keep listening.)
      this.child.on('error', (err) => {
        if (this.child.pid !== undefined) return;
        this.spawnError ??= err;
        untrack(this);
        resolve();
      });
    });
    this.child.stderr.setEncoding('utf8');
    const infoParser = onInfo === undefined ? undefined : new FfmpegInputInfoParser();
    this.child.stderr.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-2000);
      const info = infoParser?.push(text);
      if (info !== undefined && (info.title !== undefined || info.durationMs !== undefined)) onInfo?.(info);
    });
    this.child.stdout.on('error', () => undefined);
    const stdinPipe = this.child.stdin;
    if (stdinPipe !== null && stdin !== undefined) {
      // ffmpeg may stop reading early (EPIPE); that is not our error to raise.
      stdinPipe.on('error', () => undefined);
      void feed(stdin, stdinPipe);
    }
  }

  /** The error spawning failed with (e.g. ENOENT), once `exited` resolved. */
  get startError(): unknown {
    return this.spawnError;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Frames of the PCM output; throws when ffmpeg is missing or fails. */
  async *frames(): AsyncGenerator<SourceFrame, void, undefined> {
    let frames = 0;
    try {
      for await (const frame of pcmFrames(
        this.child.stdout[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>,
      )) {
        frames++;
        yield frame;
      }
    } catch (err) {
      if (this.killed) return;
      await this.exited;
      this.check(frames);
      throw inputError('reading the output of ffmpeg failed', err);
    }
    await this.exited;
    if (!this.killed) this.check(frames);
  }

  private check(frames: number): void {
    if (this.spawnError !== undefined) {
      const code = (this.spawnError as { code?: unknown }).code;
      if (code === 'ENOENT') throw missing(this.ffmpegPath, this.spawnError);
      throw inputError('ffmpeg could not be started', this.spawnError, { ffmpegPath: this.ffmpegPath });
    }
    if (this.exitCode !== 0) {
      const message = redactUrls(this.stderrTail.trim().split('\n').slice(-3).join(' | '));
      throw inputError(
        `ffmpeg failed (exit ${this.exitCode ?? this.exitSignal ?? '?'})${message ? `: ${message}` : ''}`,
        undefined,
        {
          exitCode: this.exitCode,
          signal: this.exitSignal,
        },
      );
    }
    if (frames === 0) throw inputError('ffmpeg produced no audio (the input has no audio stream?)');
  }

  /** Kills ffmpeg (if still running). */
  kill(): void {
    if (this.killed) return;
    this.killed = true;
    // Signal first: closing the pipes first could let it die of SIGPIPE instead (same end, murkier).
    // No pid: spawning failed ('error' is still on its way). libuv would signal pid 0, which is
    // our own process group: the bot and the shell that started it.
    if (this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
    this.child.stdin?.destroy();
    this.child.stdout.destroy();
    this.child.stderr.destroy();
  }
}

async function feed(input: Readable | AsyncIterable<Uint8Array>, into: Writable): Promise<void> {
  try {
    for await (const chunk of input as AsyncIterable<unknown>) {
      if (into.destroyed) break;
      if (!(chunk instanceof Uint8Array)) break;
      if (!into.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            into.off('drain', done);
            into.off('close', done);
            resolve();
          };
          into.on('drain', done);
          into.on('close', done);
        });
      }
    }
  } catch {
    // the input failed: ffmpeg sees a short input and reports it
  } finally {
    into.end();
  }
}

/** Called with each ffmpeg spawned (tests use it to check that none is left running). */
export type FfmpegSpawnListener = (process: FfmpegProcess) => void;

/** Refuses ffmpeg options of the wrong type when the input is made, not when ffmpeg starts. */
export function checkFfmpegOptions(options: FfmpegOptions): void {
  checkOptions(options);
  checkArg(options.ffmpegPath, 'ffmpegPath', 'string', 'optional');
  checkArrayOf(options.inputArgs, 'inputArgs', 'string', 'optional');
  checkArrayOf(options.outputArgs, 'outputArgs', 'string', 'optional');
}

/**
 * A file path or URL (seekable: seeking restarts ffmpeg with -ss), or a byte stream piped to
 * ffmpeg's stdin (played once).
 */
export function ffmpegInput(
  input: string | Readable | AsyncIterable<Uint8Array>,
  options: FfmpegOptions & { onSpawn?: FfmpegSpawnListener } = {},
): TrackInput {
  if (
    (typeof input !== 'string' || input === '') &&
    typeof (input as Partial<AsyncIterable<unknown>> | null)?.[Symbol.asyncIterator] !== 'function'
  )
    throw invalidArgument('input', 'a path, a URL, a Readable or an async iterable of bytes', input);
  checkFfmpegOptions(options);
  checkArg(options.onSpawn, 'onSpawn', 'function', 'optional');
  const ffmpegPath = options.ffmpegPath ?? defaultFfmpegPath();
  const isPath = typeof input === 'string';
  let used = false;
  return {
    kind: 'ffmpeg',
    seekable: isPath,
    title: isPath ? titleFromPath(input) : undefined,
    open(context: OpenContext): FrameSource {
      if (!isPath && used)
        throw inputError('this input is a stream and was already played; it cannot be reopened');
      used = true;
      const proc = new FfmpegProcess(
        ffmpegPath,
        ffmpegArgs(isPath ? input : 'pipe:0', isPath ? context.startMs : 0, options),
        isPath ? undefined : input,
        (info) => context.info?.(info),
      );
      options.onSpawn?.(proc);
      return generatorSource(proc.frames(), () => proc.kill());
    },
  };
}

/** Resolves to ffmpeg's version line, or rejects with the AUDIO_INPUT_ERROR a missing ffmpeg gives. */
export async function probeFfmpeg(ffmpegPath: string = defaultFfmpegPath()): Promise<string> {
  checkArg(ffmpegPath, 'ffmpegPath', 'string');
  const proc = new FfmpegProcess(ffmpegPath, ['-hide_banner', '-version'], undefined);
  let out = '';
  proc.child.stdout.setEncoding('utf8');
  proc.child.stdout.on('data', (text: string) => (out += text));
  await proc.exited;
  const spawnError = proc.startError;
  if (spawnError !== undefined) {
    if ((spawnError as { code?: unknown }).code === 'ENOENT') throw missing(ffmpegPath, spawnError);
    throw inputError('ffmpeg could not be started', spawnError, { ffmpegPath });
  }
  return out.split('\n')[0]?.trim() ?? '';
}
