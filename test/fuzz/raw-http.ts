/**
 * Raw HTTP over TCP for the socket-level fuzzers (node-http, local-discord-http): requests as bytes,
 * since a target need not be a URL, and answers read off the socket, with Node's own 400s too.
 */
import { connect as connectTcp } from 'node:net';
import { int, mutateBytes, pick } from './engine.js';
import type { Rng } from './engine.js';

export interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/**
 * Sends raw request bytes to 127.0.0.1:`port`; the answer once the server closes or its body is
 * complete ('no answer' after `answerMs`).
 */
export function exchange(
  port: number,
  request: Buffer,
  upgrade: boolean,
  answerMs = 5_000,
): Promise<Answer | 'no answer'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    /** `closed`: the server closed the socket, so what came is all (Node's own 400 has no length). */
    const parse = (closed = false): Answer | undefined => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const [line = '', ...lines] = text.slice(0, end).split('\r\n');
      const headers = new Map(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      const raw = text.slice(end + 4);
      const body = headers.get('transfer-encoding') === 'chunked' ? dechunk(raw) : raw;
      const length = Number(headers.get('content-length') ?? Number.NaN);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(line)?.[1] ?? 0);
      // A 101 has no body; an answer is done when its length or its last chunk is here.
      const complete = body !== undefined && (body.length >= length || headers.has('transfer-encoding'));
      if (!closed && !(upgrade && status === 101) && !complete) return undefined;
      return { status, headers, body: body ?? raw };
    };
    const done = (answer: Answer | 'no answer'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(parse() ?? 'no answer'), answerMs);
    const socket = connectTcp(port, '127.0.0.1', () => socket.end(request));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const answer = parse();
      if (answer !== undefined) done(answer);
    });
    socket.on('close', () => done(parse(true) ?? 'no answer'));
    socket.on('error', () => undefined);
  });
}

/** A chunked body's bytes, or undefined until its last chunk has come. */
function dechunk(raw: string): string | undefined {
  let body = '';
  for (let at = 0; ;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(raw.slice(at, eol), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return body;
    if (raw.length < eol + 2 + size + 2) return undefined;
    body += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** Inputs 0..count-1 made by `request`, sent 16 at a time; the answers in input order. */
export async function exchangeAll(
  count: number,
  request: (i: number) => { port: number; bytes: Buffer; upgrade: boolean },
): Promise<Array<Answer | 'no answer'>> {
  const answers = new Array<Answer | 'no answer'>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const { port, bytes, upgrade } = request(i);
      answers[i] = await exchange(port, bytes, upgrade);
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => worker()));
  return answers;
}

export const METHODS = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'];

/** Pieces that URL and path parsers trip on. */
const URL_PIECES = [
  '//',
  '[',
  ']',
  '%',
  '%E0%A4%A',
  '%00',
  '%2F',
  '..',
  '?',
  '#',
  '\\',
  '@',
  ':',
  ' ',
  'é',
  '*',
];

/** Byte mutations, or pieces of URL syntax put in at random places. */
export function mutateText(text: string, rng: Rng): string {
  const bytes = Buffer.from(text, 'latin1');
  if (rng() < 0.5) return Buffer.from(mutateBytes(bytes, rng, [bytes])).toString('latin1');
  let out = text;
  for (let n = 1 + int(rng, 3); n > 0; n--) {
    const at = int(rng, out.length + 1);
    out = out.slice(0, at) + pick(rng, URL_PIECES) + out.slice(at);
  }
  return out;
}
