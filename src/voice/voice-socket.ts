/**
 * One voice websocket connection (voice-gateway.md §3): opens `ws(s)://endpoint/?v=8`, decodes
 * every frame with messages.ts, tracks the last server `seq` (JSON or binary) and reports typed
 * events. It never throws on bad input: a malformed frame is counted and reported as 'malformed'.
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';
import type { SecureContext } from 'node:tls';
import { VOICE_GATEWAY_VERSION, VOICE_WS_MAX_PAYLOAD_BYTES } from '../protocol/constants.js';
import { VoxcordError, toError } from '../errors.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { sharedSecureContext } from './tls-context.js';
import { decodeServerFrame, encodeClientMessage } from '../protocol/voice-messages.js';
import type { ClientMessage, ServerMessage } from '../protocol/voice-messages.js';

export type VoiceTlsOptions = boolean | { rejectUnauthorized?: boolean; ca?: string | Buffer };

export interface VoiceSocketOptions {
  /** host[:port], no scheme. */
  endpoint: string;
  /** true (default) = wss with system CAs; false = plain ws; an object = wss with these options. */
  tls?: VoiceTlsOptions;
  /** Last `seq` already received on a previous socket of this session (resume); -1 for none. */
  lastSeq?: number;
}

export type VoiceSocketEvents = {
  open: [];
  message: [message: ServerMessage];
  /** Emitted once, however the socket ended (1006 when it never opened or dropped abnormally). */
  close: [code: number, reason: string];
  /** A frame that could not be decoded was dropped; `count` is the running total. */
  malformed: [error: VoxcordError, count: number];
  debug: [message: string];
};

/** Builds the voice websocket URL for an endpoint from VOICE_SERVER_UPDATE. */
export function voiceSocketUrl(endpoint: string, secure: boolean): string {
  // Endpoints have no scheme, but tolerate one and a trailing slash rather than build a bad URL.
  const host = endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  return `${secure ? 'wss' : 'ws'}://${host}/?v=${VOICE_GATEWAY_VERSION}`;
}

function rawToBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class VoiceSocket extends TypedEmitter<VoiceSocketEvents> {
  readonly url: string;
  private readonly ws: WebSocket;
  private seq: number;
  private malformedCount = 0;
  private closed = false;

  constructor(options: VoiceSocketOptions) {
    super();
    const tls = options.tls ?? true;
    this.url = voiceSocketUrl(options.endpoint, tls !== false);
    this.seq = options.lastSeq ?? -1;
    // A larger frame closes the socket (1009) rather than being buffered whole.
    const wsOptions: WebSocket.ClientOptions & { secureContext?: SecureContext } = {
      perMessageDeflate: false,
      maxPayload: VOICE_WS_MAX_PAYLOAD_BYTES,
    };
    // ws hands its options to tls.connect: one shared context, not one per connection.
    if (tls !== false)
      wsOptions.secureContext = sharedSecureContext(typeof tls === 'object' ? tls.ca : undefined);
    if (typeof tls === 'object' && tls.rejectUnauthorized !== undefined)
      wsOptions.rejectUnauthorized = tls.rejectUnauthorized;
    this.ws = new WebSocket(this.url, wsOptions);
    this.ws.on('open', () => this.emit('open'));
    this.ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    // 'error' is always followed by 'close'; listening here keeps ws from throwing.
    this.ws.on('error', (err) => this.emit('debug', `websocket error: ${toError(err).message}`));
    this.ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
  }

  /** The last server sequence number seen, -1 if none. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Frames dropped because they could not be decoded. */
  get malformedFrames(): number {
    return this.malformedCount;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a message; returns false (and sends nothing) when the socket is not open. */
  send(message: ClientMessage): boolean {
    if (!this.isOpen) return false;
    this.ws.send(encodeClientMessage(message));
    return true;
  }

  /** Starts a closing handshake; 'close' follows. Falls back to terminate when not yet open. */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    else this.ws.terminate();
  }

  /**
   * Silences every further event (no 'close' is emitted) and releases the connection: a closing
   * handshake with `code` when given and open, else an immediate terminate.
   */
  destroy(code?: number): void {
    this.closed = true;
    this.removeAllListeners();
    this.ws.removeAllListeners();
    // Keep an error sink: terminate() on a connecting socket emits 'error' asynchronously.
    this.ws.on('error', () => undefined);
    if (code !== undefined && this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    else this.ws.terminate();
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    const bytes = rawToBytes(data);
    let message: ServerMessage;
    try {
      // A binary frame (DAVE) is copied out: ws hands views into the socket's read chunk, and
      // MLS state kept from it (tree leaves, group context) would pin the whole chunk.
      message = decodeServerFrame(isBinary ? new Uint8Array(bytes) : bytes.toString('utf8'));
    } catch (err) {
      this.malformedCount += 1;
      const error =
        err instanceof VoxcordError
          ? err
          : new VoxcordError('GATEWAY_MALFORMED_FRAME', 'frame could not be decoded', { cause: err });
      this.emit('malformed', error, this.malformedCount);
      return;
    }
    if (message.seq !== undefined) this.seq = message.seq;
    this.emit('message', message);
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', code, reason);
  }
}
