/**
 * An http(s) URL as a track: one request per play, whose first bytes tell the container. Ogg and
 * WebM Opus pass through the demuxer, which reads on from that same request; any other container
 * goes to ffmpeg, which fetches the URL itself. Seeking reopens: a new request (the demuxer skips
 * to the position) or ffmpeg with -ss.
 */
import { VoxcordError } from '../../errors.js';
import { checkArg } from '../../util/args.js';
import { checkFfmpegOptions, ffmpegInput } from './ffmpeg.js';
import type { FfmpegOptions } from './ffmpeg.js';
import { sniffContainer } from './file.js';
import { httpBody, readHead } from './http-get.js';
import { titleFromPath } from './media-info.js';
import { oggOpusInput } from './ogg-opus.js';
import type { TrackInput } from './source.js';
import { webmOpusInput } from './webm-opus.js';

/** Bytes the container is told by (file.ts sniffContainer). */
const SNIFF_BYTES = 4096;

/** An http(s) body as bytes, fetched anew on every open (so an input over it can seek by reopening). */
export function httpBytes(url: string): () => AsyncIterable<Uint8Array> {
  return () =>
    (async function* () {
      yield* await httpBody(url);
    })();
}

/**
 * A track from an http(s) URL (see the module comment). `options` go to ffmpeg when the container
 * is not Opus in Ogg or WebM. The request is made when the track first opens; a failed one (a
 * refused connection, a status other than 2xx) fails that open and is tried again at the next.
 */
export function httpInput(url: string, options: FfmpegOptions = {}): TrackInput {
  checkArg(url, 'url', 'string');
  checkFfmpegOptions(options);
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new VoxcordError('INVALID_ARGUMENT', 'httpInput needs an absolute http(s) URL');
  }
  if (scheme !== 'http:' && scheme !== 'https:')
    throw new VoxcordError('INVALID_ARGUMENT', 'httpInput needs an http(s) URL', { details: { scheme } });
  let chosen: Promise<TrackInput> | undefined;
  const choose = async (): Promise<TrackInput> => {
    const { head, rest } = await readHead(await httpBody(url), SNIFF_BYTES);
    const container = sniffContainer(head);
    if (container !== 'ogg-opus' && container !== 'webm-opus') {
      rest?.destroy();
      return ffmpegInput(url, options);
    }
    let first: AsyncIterable<Uint8Array> | undefined =
      rest ??
      (async function* () {
        yield head; // the whole body
      })();
    const bytes = (): AsyncIterable<Uint8Array> => {
      const body = first ?? httpBytes(url)();
      first = undefined;
      return body;
    };
    return container === 'ogg-opus' ? oggOpusInput(bytes) : webmOpusInput(bytes);
  };
  return {
    kind: 'http',
    seekable: true,
    title: titleFromPath(url),
    async open(context) {
      chosen ??= choose();
      chosen.catch(() => (chosen = undefined)); // a failed request is tried again at the next open
      return (await chosen).open(context);
    },
  };
}
