/**
 * `voxcord record`: joins a voice channel and writes each speaker to a file of their own
 * (<dir>/<user id>.ogg as Ogg Opus, the frames as received, or .wav decoded), until Ctrl-C or
 * --duration. Decrypted frames come from the session's 'audioFrame' events (DAVE already removed)
 * and go through a VoiceReceiver (jitter buffer, per-user streams) into the recorders. With
 * --aligned the recorders share one RecordingTimeline (started after the join, stopped at Ctrl-C or
 * --duration, when the feed is cut), so every file has the same start, end and length.
 */
import { mkdir } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadOpus } from '../audio/opus.js';
import type { OpusCodecFactory } from '../audio/opus.js';
import { JITTER_MAX_DELAY_MS } from '../protocol/constants.js';
import { VoiceReceiver } from '../receive/receiver.js';
import { recordOggOpus, recordWav } from '../receive/recorder.js';
import { RecordingTimeline } from '../receive/recording-timeline.js';
import type { AudioFrame } from '../voice/session-dave.js';
import type { SpeakingUpdate, VoiceSession } from '../voice/session.js';
import { TARGET_HELP, TARGET_OPTIONS, joinTarget, resolveTarget } from './connect.js';
import { say, sleep, stopAfter, usageError } from './io.js';
import type { CliIo } from './io.js';
import { Progress, formatDuration } from './progress.js';
import { groupDigits } from './timeline.js';

export const RECORD_USAGE =
  'usage: voxcord record --guild <id> --channel <id> [--token <token>] [--server <url>] [--output <dir>] [--format ogg|wav] [--aligned] [--duration <s>]';

export const RECORD_HELP = `${RECORD_USAGE}

Joins the voice channel and records each person who speaks to a file of their own,
<dir>/<user id>.ogg (Ogg Opus, the audio exactly as received) or .wav (decoded PCM), until
Ctrl-C or --duration. End-to-end encrypted (DAVE) audio is decrypted first. By default a file
holds only what its speaker sent, bursts back to back; with --aligned every file starts when the
recording starts and ends when it stops, silence kept, so the files line up sample for sample.

${TARGET_HELP}

Options:
  --output <dir>      where to write the files (default: recordings)
  --format ogg|wav    file format (default: ogg)
  --aligned           timeline-aligned files: same start and end for everyone, silence kept
                      between bursts (and before a late speaker's first one)
  --duration <s>      stop after this many seconds (default: until Ctrl-C)
  -h, --help          this help`;

interface Recording {
  userId: string;
  path: string;
  done: Promise<void>;
}

export async function runRecordCommand(argv: string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...TARGET_OPTIONS,
        output: { type: 'string', short: 'o' },
        format: { type: 'string' },
        duration: { type: 'string' },
        aligned: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw usageError((err as Error).message, RECORD_USAGE);
  }
  if (values.help === true) {
    say(io, RECORD_HELP);
    return 0;
  }
  const format = values.format ?? 'ogg';
  if (format !== 'ogg' && format !== 'wav')
    throw usageError(`--format must be ogg or wav (got "${format}")`, RECORD_USAGE);
  const durationS = values.duration === undefined ? undefined : Number(values.duration);
  if (durationS !== undefined && !(Number.isFinite(durationS) && durationS > 0))
    throw usageError('--duration must be a positive number of seconds, e.g. --duration 30', RECORD_USAGE);
  const target = resolveTarget(values, io.env, RECORD_USAGE);
  const dir = resolve(io.cwd, values.output ?? 'recordings');
  // WAV needs a decoder: fail before joining when there is no Opus library.
  const opus: OpusCodecFactory | undefined = format === 'wav' ? await loadOpus() : undefined;
  await mkdir(dir, { recursive: true });

  say(io, `joining channel ${target.channelId} of guild ${target.guildId} on ${target.where}...`);
  const joined = await joinTarget(target, { selfDeaf: false, group: 'voxcord-cli-record' });
  const self = joined.client.userId;
  const receiver = new VoiceReceiver(opus === undefined ? {} : { createDecoder: () => opus.createDecoder() });
  const recordings = new Map<string, Recording>();
  let progress: Progress | undefined;
  const note = (line: string): void => {
    if (progress !== undefined && io.stdout.isTTY === true) io.stdout.write('\r\x1b[2K');
    say(io, line);
  };

  // --aligned: every file starts now (leading silence for a late speaker) and ends at the stop.
  const timeline = values.aligned === true ? new RecordingTimeline() : undefined;

  const start = (userId: string): void => {
    if (userId === self || recordings.has(userId)) return;
    const path = resolve(dir, `${userId}.${format}`);
    const stream = receiver.subscribe(userId, {
      mode: format === 'wav' ? 'pcm' : 'opus',
      maxQueuedFrames: 3_000,
    });
    const options = timeline === undefined ? {} : { timeline };
    const done =
      format === 'wav'
        ? recordWav(stream.frames(), path, options)
        : recordOggOpus(stream.frames(), path, options);
    done.catch(() => undefined);
    recordings.set(userId, { userId, path, done });
    note(`  recording ${userId} -> ${relative(io.cwd, path) || path}`);
  };
  receiver.on('speakingStart', start);

  // Feed the receiver from every session the connection has (it may reconnect).
  const hooks = new Map<VoiceSession, () => void>();
  const unsubscribe = joined.connection.subscribe({
    attach: (session) => {
      const onFrame = (frame: AudioFrame): void => {
        if (frame.userId !== undefined) receiver.receive(frame);
      };
      const onSpeaking = (update: SpeakingUpdate): void => receiver.onSpeaking(update);
      const onLeave = (userId: string): void => receiver.onClientDisconnect(userId);
      session.on('audioFrame', onFrame);
      session.on('speaking', onSpeaking);
      session.on('clientDisconnect', onLeave);
      hooks.set(session, () => {
        session.off('audioFrame', onFrame);
        session.off('speaking', onSpeaking);
        session.off('clientDisconnect', onLeave);
      });
    },
    detach: (session) => {
      hooks.get(session)?.();
      hooks.delete(session);
    },
  });
  const unfeed = (): void => {
    unsubscribe();
    for (const unhook of hooks.values()) unhook();
    hooks.clear();
  };
  receiver.start(10);

  try {
    const dave = joined.session.dave;
    say(
      io,
      `recording to ${relative(io.cwd, dir) || dir} as ${format}` +
        (timeline === undefined ? '' : ', timeline-aligned') +
        (dave.privacyCode === undefined ? '' : ` (DAVE privacy code ${groupDigits(dave.privacyCode)})`) +
        (durationS === undefined ? '; press Ctrl+C to stop' : ` for ${durationS} s`),
    );
    const totalMs = durationS === undefined ? undefined : durationS * 1000;
    progress = new Progress(io.stdout, { label: 'recording', ...(totalMs === undefined ? {} : { totalMs }) });
    const bar = progress;
    const began = performance.now();
    const ticker = setInterval(() => bar.update(performance.now() - began), 500);
    try {
      await stopAfter(io.signal, totalMs);
    } finally {
      clearInterval(ticker);
    }
    if (timeline !== undefined) {
      // Every file ends at this instant: nothing that arrives later is fed in.
      timeline.stop();
      unfeed();
    }
    progress.done(performance.now() - began);
    // What is still in the jitter buffers plays out, then every file is finished.
    await sleep(JITTER_MAX_DELAY_MS + 100);
  } finally {
    timeline?.stop();
    unfeed();
    const stats = [...recordings.values()].map((r) => ({ r, s: receiver.stats(r.userId) }));
    receiver.close();
    await Promise.allSettled([...recordings.values()].map((r) => r.done));
    await joined.close();
    for (const { r, s } of stats) {
      const frames = s?.received ?? 0;
      say(
        io,
        `  ${r.userId}: ${relative(io.cwd, r.path) || r.path}, ${formatDuration(frames * 20)} of audio` +
          `${s !== undefined && s.lost > 0 ? `, ${s.lost} frames lost` : ''}`,
      );
    }
  }
  for (const r of recordings.values()) await r.done; // a write error fails the command
  say(io, recordings.size === 0 ? 'nobody spoke: no file written' : `recorded ${recordings.size} speaker(s)`);
  return 0;
}
