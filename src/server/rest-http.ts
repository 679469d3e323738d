/**
 * The HTTP side of the local Discord's REST API: routes `/api[/v{n}]/...` requests to the REST
 * handler (rest-api.ts), reads JSON and multipart bodies, writes Discord's JSON answers, and logs
 * each call by route (interaction and webhook tokens cut from the path).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RestRequest, RestResponse } from './rest-api.js';
import type { MainGatewayLogEvent } from './main-types.js';
import { RestErrorCode } from '../protocol/constants.js';
import { requestUrl } from '../util/request-url.js';

export type RestHandler = (request: RestRequest) => RestResponse;

const MAX_BODY_BYTES = 26 * 1024 * 1024;
const INTERNAL_ERROR: RestResponse = {
  status: 500,
  body: { message: '500: Internal Server Error', code: 0 },
};

/** Answers one HTTP request; `handler` null (not ready yet) answers 404. */
export function serveRestRequest(
  req: IncomingMessage,
  res: ServerResponse,
  handler: RestHandler | null,
  log: (event: MainGatewayLogEvent) => void,
): void {
  /** Answers `response` (a 500 if its body is no JSON); returns the status sent. */
  const send = (response: RestResponse): number => {
    if (response.body === undefined) {
      res.writeHead(response.status);
      res.end();
      return response.status;
    }
    let json: string;
    try {
      json = JSON.stringify(response.body);
    } catch {
      // A body JSON cannot hold (a BigInt, a cycle) is our bug: a 500, not a throw out of here.
      json = JSON.stringify(INTERNAL_ERROR.body);
      response = INTERNAL_ERROR;
    }
    res.writeHead(response.status, { 'Content-Type': 'application/json' });
    res.end(json);
    return response.status;
  };
  const url = requestUrl(req.url);
  if (url === undefined) {
    send({ status: 400, body: { message: '400: Bad Request', code: 0 } });
    return;
  }
  const apiPath = /^\/api(?:\/v\d+)?(\/.*)$/.exec(url.pathname.replaceAll('%40', '@'))?.[1];
  if (apiPath === undefined || handler === null) {
    send({ status: 404, body: { message: '404: Not Found', code: 0 } });
    return;
  }
  const method = req.method ?? 'GET';
  readBody(req).then(
    ({ body, files }) => {
      let response: RestResponse;
      try {
        response = handler({
          method,
          path: apiPath,
          query: url.searchParams,
          authorization: req.headers.authorization ?? '',
          body,
          files,
        });
      } catch {
        // A route that threw is our bug, not the bot's: Discord's 500, logged (no detail of the body).
        response = INTERNAL_ERROR;
      }
      const status = send(response);
      // Routes, never tokens: interaction and webhook tokens in paths are cut.
      log({ type: 'rest', code: status, detail: `${method} ${redactPath(apiPath)}` });
    },
    (err: unknown) =>
      send(
        err instanceof SyntaxError
          ? {
              status: 400,
              body: { message: 'The request body contains invalid JSON.', code: RestErrorCode.InvalidJson },
            }
          : { status: 400, body: { message: '400: Bad Request', code: 0 } },
      ),
  );
}

/** A request body: JSON, or multipart/form-data with `payload_json` and files (discord.js uploads). */
async function readBody(
  req: IncomingMessage,
): Promise<{ body: unknown; files: Array<{ filename: string; size: number }> }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  if (raw.length === 0) return { body: undefined, files: [] };
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const files: Array<{ filename: string; size: number }> = [];
    let body: unknown;
    for (const [name, value] of form.entries()) {
      if (typeof value === 'string') {
        if (name === 'payload_json') body = JSON.parse(value) as unknown;
      } else files.push({ filename: value.name, size: value.size });
    }
    return { body, files };
  }
  return { body: JSON.parse(raw.toString('utf8')) as unknown, files: [] };
}

/** REST paths for logs: interaction and webhook tokens replaced. */
function redactPath(path: string): string {
  return path
    .replace(/^(\/interactions\/\d+\/)[^/]+/, '$1:token')
    .replace(/^(\/webhooks\/\d+\/)[^/]+/, '$1:token');
}
