/**
 * The library's httpInput (player/inputs/http.ts) against a local server: a URL it cannot fetch
 * is refused up front; a status other than 2xx fails the open and the next open tries again; a
 * container other than Opus in Ogg or WebM goes to ffmpeg, and the request that told it is let
 * go. (Opus in Ogg through one request, and seeking by a new one: test/node/voice-inputs.test.ts,
 * where the node plays http tracks with it.)
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadOpus } from '../../src/audio/opus.js';
import { isVoxcordError } from '../../src/errors.js';
import { httpInput } from '../../src/player/inputs/http.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { serveHttp } from '../support/http-server.js';
import { until } from '../support/wait.js';

const cleanup = cleanupAfterEach();

/** Serves `body()` at every path with `status()`; counts open connections. */
async function server(status: () => number, body: Buffer): Promise<{ url: string; open: () => number }> {
  let open = 0;
  const { server: s, base } = await serveHttp(cleanup, (_req, res) => {
    res.writeHead(status(), { 'content-length': body.length });
    res.end(body);
  });
  s.on('connection', (socket: Socket) => {
    open++;
    socket.on('close', () => open--);
  });
  return { url: `${base}/music/My%20Song.mp3`, open: () => open };
}

describe('httpInput', () => {
  it('refuses a URL it cannot fetch with INVALID_ARGUMENT, and names a track by its path', () => {
    for (const bad of ['not a url', 'ftp://example.org/a.ogg', '/relative/a.ogg']) {
      let code: string | undefined;
      try {
        httpInput(bad);
      } catch (err) {
        code = isVoxcordError(err) ? err.code : 'not a VoxcordError';
      }
      expect(code).toBe('INVALID_ARGUMENT');
    }
    expect(httpInput('https://example.org/music/My%20Song.ogg?sig=1').title).toBe('My Song');
    expect(httpInput('https://example.org/a.ogg').seekable).toBe(true);
  });

  it('fails an open on a status other than 2xx, and tries again at the next open', async () => {
    let status = 404;
    const { url } = await server(() => status, Buffer.alloc(8192, 1));
    const input = httpInput(url, { ffmpegPath: '/nonexistent/ffmpeg' });
    const opus = await loadOpus();
    const context = { startMs: 0, codec: () => Promise.resolve(opus) };
    await expect(Promise.resolve(input.open(context))).rejects.toThrow('HTTP status 404');
    status = 200;
    // Not Opus in Ogg or WebM: ffmpeg's turn (not installed here, so its source fails to read).
    const source = await input.open(context);
    const failure = await source.read().then(
      () => undefined,
      (err: unknown) => err,
    );
    source.close();
    expect(isVoxcordError(failure) && failure.details).toMatchObject({ reason: 'ffmpeg-missing' });
  });

  it('lets the request that told the container go when ffmpeg plays the URL', async () => {
    const { url, open } = await server(() => 200, Buffer.alloc(1 << 20, 0x55));
    const input = httpInput(url, { ffmpegPath: '/nonexistent/ffmpeg' });
    const opus = await loadOpus();
    const source = await input.open({ startMs: 0, codec: () => Promise.resolve(opus) });
    await until(() => open() === 0, 5_000, 'the sniffing request closed');
    source.close();
  });
});
