/**
 * The http(s) GET of http tracks (player/inputs/http-get.ts) against a local server: redirects
 * followed (relative and absolute, with a limit), a User-Agent sent, statuses handed back, a server that does not
 * answer given up on, and a body's first bytes read off and put back so that the same response
 * reads on whole.
 */
import { describe, expect, it } from 'vitest';
import { httpBody, httpGet, readHead } from '../../src/player/inputs/http-get.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { serveHttp } from '../support/http-server.js';
import { until } from '../support/wait.js';

const cleanup = cleanupAfterEach();
const BODY = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff));

/** /body (BODY, written in pieces), /small, /hop/N (a redirect chain of N), /missing (404). */
async function server(): Promise<{ base: string; paths: string[]; agents: Set<string> }> {
  const paths: string[] = [];
  const agents = new Set<string>();
  const { base } = await serveHttp(cleanup, (req, res) => {
    const url = req.url ?? '';
    paths.push(url);
    agents.add(req.headers['user-agent'] ?? '');
    const hop = /^\/hop\/(\d+)$/.exec(url);
    if (hop !== null) {
      const left = Number(hop[1]);
      // Relative and absolute Locations by turns.
      const relative = left === 0 ? '../body' : `./${left - 1}`;
      const absolute = `${base}${left === 0 ? '/body' : `/hop/${left - 1}`}`;
      res.writeHead(left % 2 === 0 ? 302 : 308, { location: left % 2 === 0 ? relative : absolute });
      res.end();
      return;
    }
    if (url === '/small') {
      res.writeHead(200, { 'content-length': 5 }).end('small');
      return;
    }
    if (url !== '/body') {
      res.writeHead(404).end('missing');
      return;
    }
    res.writeHead(200, { 'content-length': BODY.length });
    for (let at = 0; at < BODY.length; at += 1000) res.write(BODY.subarray(at, at + 1000));
    res.end();
  });
  return { base, paths, agents };
}

async function all(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('the http GET of http tracks', () => {
  it('follows relative and absolute redirects to the body, and hands back other statuses', async () => {
    const { base, paths, agents } = await server();
    const response = await httpGet(`${base}/hop/3`);
    expect(response.statusCode).toBe(200);
    expect((await all(response)).equals(BODY)).toBe(true);
    expect(paths).toEqual(['/hop/3', '/hop/2', '/hop/1', '/hop/0', '/body']);
    // Named, on every hop (some servers refuse a request that is not).
    expect([...agents]).toEqual([expect.stringMatching(/^voxcord\/\d/)]);
    const missing = await httpGet(`${base}/missing`);
    expect(missing.statusCode).toBe(404);
    missing.destroy();
    await expect(httpBody(`${base}/missing`)).rejects.toThrow('HTTP status 404');
  });

  it('gives up after 5 redirects, and on a scheme it does not speak', async () => {
    const { base, paths } = await server();
    await expect(httpGet(`${base}/hop/6`)).rejects.toThrow('more than 5 redirects');
    expect(paths).toHaveLength(6);
    await expect(httpGet('ftp://127.0.0.1/x')).rejects.toThrow('unsupported URL scheme');
  });

  it('closes a request the server does not answer in time, and not a body read slowly', async () => {
    const closed: string[] = [];
    const { base } = await serveHttp(cleanup, (req, res) => {
      req.socket.on('close', () => closed.push(req.url ?? ''));
      if (req.url === '/slow') {
        // Headers at once, the body over longer than the response timeout.
        res.writeHead(200);
        res.write('a');
        setTimeout(() => res.end('b'), 300);
      }
      // Anything else: never answered.
    });
    await expect(httpGet(`${base}/silent`, { responseTimeoutMs: 100 })).rejects.toThrow(
      'no response within 100 ms',
    );
    await until(() => closed.includes('/silent'), 5_000, 'the silent request closed');
    const slow = await httpBody(`${base}/slow`, { responseTimeoutMs: 100 });
    expect((await all(slow)).toString()).toBe('ab');
  });

  it('reads the first bytes off a body and puts them back: the response then reads on whole', async () => {
    const { base } = await server();
    const { head, rest } = await readHead(await httpBody(`${base}/body`), 4096);
    expect(head.equals(BODY.subarray(0, 4096))).toBe(true);
    expect(rest).toBeDefined();
    expect((await all(rest!)).equals(BODY)).toBe(true);
    // A body shorter than asked for is all in the head.
    const small = await readHead(await httpBody(`${base}/small`), 4096);
    expect(small.head.toString()).toBe('small');
    expect(small.rest).toBeUndefined();
    // keep = false: the body goes with the bytes.
    const dropped = await readHead(await httpBody(`${base}/body`), 10, false);
    expect(dropped.head.equals(BODY.subarray(0, 10))).toBe(true);
    expect(dropped.rest).toBeUndefined();
  });
});
