/**
 * GET of an http(s) URL for http tracks (httpInput, and the node's loadtracks probes), through
 * node:http and node:https rather than `fetch`: the body is a Node stream as the demuxers read it,
 * with no web stream between. On 127.0.0.1 that took a third of fetch + Readable.fromWeb's CPU per
 * request and half per byte, and held half the memory per open response
 * (docs/node-bench-history.md, session 25). Redirects are followed, as fetch does.
 */
import { get as getHttp } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { get as getHttps } from 'node:https';
import { voxcordVersion } from '../../util/installed-package.js';

export interface HttpGetOptions {
  headers?: Record<string, string>;
  /** Aborts the request, and the body while it is read. */
  signal?: AbortSignal;
  /**
   * A server that does not answer within this many ms has the request closed (default 30 000: the
   * node's input timeout). Not a limit on the body, which a paused player may read for minutes.
   */
  responseTimeoutMs?: number;
}

const RESPONSE_TIMEOUT_MS = 30_000;

/** Some servers refuse a request without one (fetch sends `node`). */
const USER_AGENT = `voxcord/${voxcordVersion()}`;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** fetch follows 20; a track URL with more than 5 is not worth following. */
const MAX_REDIRECTS = 5;

/**
 * The response to a GET of `url` after its redirects, any status (the caller reads `statusCode`
 * and destroys a body it does not read). Rejects on a network failure, an unsupported scheme or
 * too many redirects.
 */
export async function httpGet(url: string, options: HttpGetOptions = {}): Promise<IncomingMessage> {
  let target = new URL(url);
  for (let hops = 0; ; hops++) {
    const response = await getOnce(target, options);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) return response;
    response.destroy();
    if (hops === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    target = new URL(location, target);
  }
}

function getOnce(target: URL, options: HttpGetOptions): Promise<IncomingMessage> {
  const get = target.protocol === 'https:' ? getHttps : target.protocol === 'http:' ? getHttp : undefined;
  if (get === undefined) return Promise.reject(new Error(`unsupported URL scheme ${target.protocol}`));
  return new Promise((resolve, reject) => {
    const headers = { 'user-agent': USER_AGENT, ...options.headers };
    const ms = options.responseTimeoutMs ?? RESPONSE_TIMEOUT_MS;
    const timer = setTimeout(() => request.destroy(new Error(`no response within ${ms} ms`)), ms);
    const request = get(target, { headers, signal: options.signal }, (response) => {
      clearTimeout(timer);
      resolve(response);
    });
    // Stays attached: a failure after the response (then the body's error) must not go unheard.
    request.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A 2xx response's body, else an error naming the status (the body is let go). */
export async function httpBody(url: string, options?: HttpGetOptions): Promise<IncomingMessage> {
  const response = await httpGet(url, options);
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return response;
  response.destroy();
  throw new Error(`HTTP status ${status}`);
}

/**
 * Up to `max` bytes from the start of `body`, and the body then: still open with the bytes put
 * back (`rest`), or undefined when they were all of it. `keep: false` lets the body go after them.
 */
export async function readHead(
  body: IncomingMessage,
  max: number,
  keep = true,
): Promise<{ head: Buffer; rest: IncomingMessage | undefined }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = true;
  try {
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) {
        ended = false;
        break;
      }
    }
  } catch (err) {
    body.destroy();
    throw err;
  }
  const all = Buffer.concat(chunks);
  if (ended || !keep) {
    body.destroy();
    return { head: all.subarray(0, max), rest: undefined };
  }
  body.unshift(all);
  return { head: all.subarray(0, max), rest: body };
}
