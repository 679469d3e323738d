/**
 * `voxcord play <file>`: plays a file (Ogg/WebM Opus as is, anything else through ffmpeg) into a
 * voice channel of Discord or of a local server, with a progress bar and a summary. Ctrl-C stops
 * the playback and leaves cleanly.
 */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { VoxcordError } from '../errors.js';
import type { SendDropReason } from '../media/media-engine.js';
import { AudioPlayer } from '../player/audio-player.js';
import { fileInput } from '../player/inputs/file.js';
import { MAX_VOLUME } from '../player/track.js';
import { FRAME_DURATION_MS } from '../protocol/constants.js';
import { TARGET_HELP, TARGET_OPTIONS, joinTarget, resolveTarget } from './connect.js';
import { say, usageError } from './io.js';
import type { CliIo } from './io.js';
import { oggOpusFileDurationMs } from '../audio/ogg-duration.js';
import { Progress, formatDuration } from './progress.js';
import { groupDigits } from './timeline.js';

export const PLAY_USAGE =
  'usage: voxcord play <file> --guild <id> --channel <id> [--token <token>] [--server <url>] [--volume <0-4>]';

export const PLAY_HELP = `${PLAY_USAGE}

Joins the voice channel, plays the file, prints a summary and leaves. Ogg Opus and WebM Opus
files are sent as they are (no re-encoding, no ffmpeg); other files and URLs need ffmpeg.

${TARGET_HELP}

Options:
  --volume <0-4>      gain (default 1; 1 keeps Opus files untouched)
  -h, --help          this help

Examples:
  DISCORD_TOKEN=... voxcord play song.ogg --guild 123456789012345678 --channel 234567890123456789
  voxcord play song.ogg --server http://127.0.0.1:PORT/api --token <token from voxcord serve> --guild ... --channel ...`;

/** One line for the user when audio starts being dropped instead of sent. */
export function dropExplanation(reason: SendDropReason): string {
  switch (reason) {
    case 'alone':
      return 'nobody else is in this DAVE call, so there is no encryption key and nobody to hear: the audio plays on at real time but is not sent (counted as dropped)';
    case 'no-key':
      return 'the DAVE group gave no encryption key in time: audio frames are dropped, never sent in clear (counted)';
    case 'session-ended':
      return 'the voice session ended with audio still queued: those frames were dropped (counted)';
    case 'stopped':
      return 'playback stopped: the audio still queued was dropped (counted)';
  }
}

/** "12 frames not sent (nobody else in the call: 10, ...)", or '' when none was dropped. */
function droppedSince(before: Record<SendDropReason, number>, after: Record<SendDropReason, number>): string {
  const labels: Record<SendDropReason, string> = {
    alone: 'nobody else in the DAVE call',
    'no-key': 'no DAVE key',
    'session-ended': 'session ended',
    stopped: 'stopped',
  };
  const parts: string[] = [];
  let total = 0;
  for (const reason of Object.keys(labels) as SendDropReason[]) {
    const n = after[reason] - before[reason];
    if (n <= 0) continue;
    total += n;
    parts.push(`${labels[reason]}: ${n}`);
  }
  return total === 0 ? '' : `${total} frames not sent (${parts.join(', ')})`;
}

export async function runPlayCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...TARGET_OPTIONS, volume: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw usageError((err as Error).message, PLAY_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    say(io, PLAY_HELP);
    return 0;
  }
  if (positionals.length === 0) throw usageError('which file? voxcord play <file> ...', PLAY_USAGE);
  if (positionals.length > 1)
    throw usageError(`one file at a time (got ${positionals.length}: ${positionals.join(' ')})`, PLAY_USAGE);
  const file = positionals[0]!;
  const volume = values.volume === undefined ? 1 : Number(values.volume);
  if (!Number.isFinite(volume) || volume < 0 || volume > MAX_VOLUME)
    throw usageError(`--volume must be a number from 0 to ${MAX_VOLUME} (1 = unchanged)`, PLAY_USAGE);
  const target = resolveTarget(values, io.env, PLAY_USAGE);
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(file);
  const path = isUrl ? file : resolve(io.cwd, file);
  if (!isUrl) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) throw usageError(`file not found: ${file} (check the path)`, PLAY_USAGE);
    if (!info.isFile()) throw usageError(`not a file: ${file}`, PLAY_USAGE);
  }

  say(io, `joining channel ${target.channelId} of guild ${target.guildId} on ${target.where}...`);
  const joined = await joinTarget(target, { selfDeaf: true, group: 'voxcord-cli-play' });
  let progress: Progress | undefined;
  try {
    const session = joined.session;
    const dave = session.dave;
    say(
      io,
      `joined: transport ${session.mode ?? '?'}, ${dave.protocolVersion >= 1 ? `DAVE version ${dave.protocolVersion}` : 'no end-to-end encryption (DAVE off in this call)'}` +
        (dave.privacyCode === undefined ? '' : `, privacy code ${groupDigits(dave.privacyCode)}`),
    );

    const totalMs = isUrl ? undefined : await oggOpusFileDurationMs(path);
    const player = new AudioPlayer({ volume });
    const title = basename(file);
    const outcome = new Promise<VoxcordError | undefined>((done) => {
      player.on('trackError', (_track, error) => done(error));
      player.on('trackEnd', () => done(undefined));
    });
    player.play(fileInput(path), { title });

    progress = new Progress(io.stdout, {
      label: `playing ${title}`,
      ...(totalMs === undefined ? {} : { totalMs }),
    });
    const bar = progress;
    const connection = joined.connection;
    const sentBefore = connection.sendStats;
    const onDrop = (reason: SendDropReason): void => bar.note(dropExplanation(reason));
    connection.on('sendDrop', onDrop);
    // The player follows the connection across rejoins and region moves.
    player.attach(connection);
    const ticker = setInterval(() => bar.update(player.playbackDuration), 200);
    let stopped = false;
    const onAbort = (): void => {
      stopped = true;
      player.stop(); // the track ends ('stopped'), which settles `outcome`
    };
    if (io.signal?.aborted === true) onAbort();
    else io.signal?.addEventListener('abort', onAbort, { once: true });
    let error: VoxcordError | undefined;
    try {
      error = await outcome;
    } finally {
      clearInterval(ticker);
      io.signal?.removeEventListener('abort', onAbort);
    }
    const stats = player.stats;
    const playedMs = stats.framesSent * FRAME_DURATION_MS;
    if (error !== undefined) progress.interrupt();
    else progress.done(playedMs);
    // The last queued frames and the trailing silence go out before we leave.
    if (error === undefined) await player.drained();
    connection.off('sendDrop', onDrop);
    player.destroy();
    if (error !== undefined) throw error;
    const dropped = droppedSince(sentBefore.framesDropped, connection.sendStats.framesDropped);
    say(
      io,
      `${stopped ? 'stopped' : 'played'} ${title}: ${formatDuration(playedMs)} (${stats.framesSent} frames, ` +
        `${stats.framesPassthrough > 0 ? 'Opus passed through' : 'encoded'}, ${stats.framesLate} late), ` +
        `${dropped === '' ? '' : `${dropped}, `}to channel ${target.channelId}`,
    );
    return 0;
  } catch (err) {
    progress?.interrupt();
    throw err;
  } finally {
    await joined.close();
  }
}
