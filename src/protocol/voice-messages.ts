/**
 * The voice gateway message codec: the one place where voice websocket frames (JSON text frames
 * and binary DAVE frames, both directions) are parsed and built (voice-gateway.md §3-§5).
 * Decoders validate every field they hand out and throw GATEWAY_MALFORMED_FRAME otherwise;
 * unknown opcodes decode to `{ op: 'unknown' }` so callers can ignore them.
 */
import { BINARY_OPCODES, VoiceOpcode } from './constants.js';
import { VoxcordError } from '../errors.js';
import { isSnowflake } from '../util/snowflake.js';

// ---- payload types ----

export interface IdentifyData {
  server_id: string;
  user_id: string;
  session_id: string;
  token: string;
  max_dave_protocol_version: number;
}
export interface SelectProtocolData {
  protocol: string;
  data: { address: string; port: number; mode: string };
}
export interface HeartbeatData {
  t: number;
  seq_ack: number;
}
export interface ClientSpeakingData {
  speaking: number;
  delay: number;
  ssrc: number;
}
export interface ResumeData {
  server_id: string;
  session_id: string;
  token: string;
  seq_ack: number;
}
export interface TransitionData {
  transition_id: number;
}
export interface HelloData {
  heartbeat_interval: number;
}
export interface ReadyData {
  ssrc: number;
  ip: string;
  port: number;
  modes: string[];
}
export interface SessionDescriptionData {
  mode: string;
  secret_key: number[];
  dave_protocol_version: number;
}
export interface ServerSpeakingData {
  user_id: string;
  ssrc: number;
  speaking: number;
}
export interface PrepareTransitionData {
  protocol_version: number;
  transition_id: number;
}
export interface PrepareEpochData {
  protocol_version: number;
  epoch: number;
  transition_id?: number;
}

type BinaryClientOp = typeof VoiceOpcode.DaveMlsKeyPackage | typeof VoiceOpcode.DaveMlsCommitWelcome;
export type BinaryServerOp =
  | typeof VoiceOpcode.DaveMlsExternalSender
  | typeof VoiceOpcode.DaveMlsProposals
  | typeof VoiceOpcode.DaveMlsAnnounceCommitTransition
  | typeof VoiceOpcode.DaveMlsWelcome;

/** Messages a client sends (and the server decodes). */
export type ClientMessage =
  | { op: typeof VoiceOpcode.Identify; d: IdentifyData }
  | { op: typeof VoiceOpcode.SelectProtocol; d: SelectProtocolData }
  | { op: typeof VoiceOpcode.Heartbeat; d: HeartbeatData }
  | { op: typeof VoiceOpcode.Speaking; d: ClientSpeakingData }
  | { op: typeof VoiceOpcode.Resume; d: ResumeData }
  | { op: typeof VoiceOpcode.DaveTransitionReady; d: TransitionData }
  | { op: typeof VoiceOpcode.DaveMlsInvalidCommitWelcome; d: TransitionData }
  | { op: BinaryClientOp; payload: Uint8Array };

/** Messages a server sends (and the client decodes). `seq` is set when the server stamped one. */
export type ServerMessage = (
  | { op: typeof VoiceOpcode.Hello; d: HelloData }
  | { op: typeof VoiceOpcode.Ready; d: ReadyData }
  | { op: typeof VoiceOpcode.SessionDescription; d: SessionDescriptionData }
  | { op: typeof VoiceOpcode.HeartbeatAck; d: { t: number } }
  | { op: typeof VoiceOpcode.Speaking; d: ServerSpeakingData }
  | { op: typeof VoiceOpcode.Resumed; d: null }
  | { op: typeof VoiceOpcode.ClientsConnect; d: { user_ids: string[] } }
  | { op: typeof VoiceOpcode.ClientDisconnect; d: { user_id: string } }
  | { op: typeof VoiceOpcode.DavePrepareTransition; d: PrepareTransitionData }
  | { op: typeof VoiceOpcode.DaveExecuteTransition; d: TransitionData }
  | { op: typeof VoiceOpcode.DavePrepareEpoch; d: PrepareEpochData }
  | { op: typeof VoiceOpcode.DaveMlsExternalSender; payload: Uint8Array }
  | { op: typeof VoiceOpcode.DaveMlsProposals; payload: Uint8Array }
  | { op: typeof VoiceOpcode.DaveMlsAnnounceCommitTransition; payload: Uint8Array }
  | { op: typeof VoiceOpcode.DaveMlsWelcome; payload: Uint8Array }
  | { op: 'unknown'; rawOp: number }
) & { seq?: number };

// ---- field readers ----

function malformed(message: string): VoxcordError {
  return new VoxcordError('GATEWAY_MALFORMED_FRAME', message);
}

type Obj = Record<string, unknown>;

function obj(value: unknown, what: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed(`${what} is not an object`);
  return value as Obj;
}
function int(o: Obj, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw malformed(`field ${key} is not an integer in range`);
  return v;
}
function num(o: Obj, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw malformed(`field ${key} is not a number`);
  return v;
}
function str(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw malformed(`field ${key} is not a string`);
  return v;
}
/** Snowflakes are strings of digits in JSON; a number is refused (see util/snowflake.ts). */
function snowflake(o: Obj, key: string): string {
  const v = o[key];
  if (!isSnowflake(v)) throw malformed(`field ${key} is not a snowflake (a string of digits)`);
  return v;
}
function optionalInt(o: Obj, key: string, fallback: number): number {
  return o[key] === undefined || o[key] === null ? fallback : int(o, key, -1);
}

const U32_MAX = 0xffff_ffff;

// ---- server -> client ----

function decodeServerJson(op: number, dRaw: unknown): ServerMessage {
  switch (op) {
    case VoiceOpcode.Hello: {
      const d = obj(dRaw, 'd');
      const interval = num(d, 'heartbeat_interval');
      if (interval <= 0) throw malformed('heartbeat_interval must be positive');
      return { op, d: { heartbeat_interval: interval } };
    }
    case VoiceOpcode.Ready: {
      const d = obj(dRaw, 'd');
      const modes = d.modes;
      if (!Array.isArray(modes) || !modes.every((m): m is string => typeof m === 'string'))
        throw malformed('modes is not a string array');
      return {
        op,
        d: { ssrc: int(d, 'ssrc', 0, U32_MAX), ip: str(d, 'ip'), port: int(d, 'port', 1, 65535), modes },
      };
    }
    case VoiceOpcode.SessionDescription: {
      const d = obj(dRaw, 'd');
      const key = d.secret_key;
      if (
        !Array.isArray(key) ||
        !key.every((b): b is number => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 255)
      )
        throw malformed('secret_key is not a byte array');
      return {
        op,
        d: {
          mode: str(d, 'mode'),
          secret_key: key,
          dave_protocol_version: optionalInt(d, 'dave_protocol_version', 0),
        },
      };
    }
    case VoiceOpcode.HeartbeatAck: {
      // v8 sends {t}; tolerate a bare nonce from older servers.
      const t = typeof dRaw === 'number' ? dRaw : num(obj(dRaw, 'd'), 't');
      return { op, d: { t } };
    }
    case VoiceOpcode.Speaking: {
      const d = obj(dRaw, 'd');
      return {
        op,
        d: {
          user_id: snowflake(d, 'user_id'),
          ssrc: int(d, 'ssrc', 0, U32_MAX),
          speaking: optionalInt(d, 'speaking', 0),
        },
      };
    }
    case VoiceOpcode.Resumed:
      return { op, d: null };
    case VoiceOpcode.ClientsConnect: {
      const ids = obj(dRaw, 'd').user_ids;
      if (!Array.isArray(ids)) throw malformed('user_ids is not an array');
      return { op, d: { user_ids: ids.map((id: unknown) => snowflake({ id }, 'id')) } };
    }
    case VoiceOpcode.ClientDisconnect:
      return { op, d: { user_id: snowflake(obj(dRaw, 'd'), 'user_id') } };
    case VoiceOpcode.DavePrepareTransition: {
      const d = obj(dRaw, 'd');
      return {
        op,
        d: {
          protocol_version: int(d, 'protocol_version'),
          transition_id: int(d, 'transition_id', 0, 0xffff),
        },
      };
    }
    case VoiceOpcode.DaveExecuteTransition: {
      const d = obj(dRaw, 'd');
      return { op, d: { transition_id: int(d, 'transition_id', 0, 0xffff) } };
    }
    case VoiceOpcode.DavePrepareEpoch: {
      const d = obj(dRaw, 'd');
      const out: PrepareEpochData = { protocol_version: int(d, 'protocol_version'), epoch: int(d, 'epoch') };
      if (typeof d.transition_id === 'number') out.transition_id = int(d, 'transition_id', 0, 0xffff);
      return { op, d: out };
    }
    default:
      return { op: 'unknown', rawOp: op };
  }
}

/** Decodes one frame received by a client. Throws GATEWAY_MALFORMED_FRAME. */
export function decodeServerFrame(data: string | Uint8Array): ServerMessage {
  if (typeof data !== 'string') {
    if (data.byteLength < 3) throw malformed(`binary frame of ${data.byteLength} bytes is too short`);
    const seq = (data[0]! << 8) | data[1]!;
    const op = data[2]!;
    const payload = data.subarray(3);
    switch (op) {
      case VoiceOpcode.DaveMlsExternalSender:
      case VoiceOpcode.DaveMlsProposals:
      case VoiceOpcode.DaveMlsAnnounceCommitTransition:
      case VoiceOpcode.DaveMlsWelcome:
        return { op, payload, seq };
      default:
        return { op: 'unknown', rawOp: op, seq };
    }
  }
  const { op, d, seq } = parseEnvelope(data);
  const message = decodeServerJson(op, d);
  if (seq !== undefined) message.seq = seq;
  return message;
}

function parseEnvelope(text: string): { op: number; d: unknown; seq?: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('text frame is not JSON');
  }
  const o = obj(parsed, 'frame');
  const op = int(o, 'op', 0, 0xffff);
  const seq = typeof o.seq === 'number' && Number.isInteger(o.seq) ? o.seq : undefined;
  return seq === undefined ? { op, d: o.d } : { op, d: o.d, seq };
}

/** Builds a server JSON frame. */
export function encodeServerJson(
  message: Exclude<ServerMessage, { payload: Uint8Array } | { op: 'unknown' }>,
  seq?: number,
): string {
  return JSON.stringify(
    seq === undefined ? { op: message.op, d: message.d } : { op: message.op, d: message.d, seq },
  );
}

/** Builds a server binary frame: seq u16 BE, op u8, payload. */
export function encodeServerBinary(op: BinaryServerOp, payload: Uint8Array, seq: number): Buffer {
  const out = Buffer.allocUnsafe(3 + payload.byteLength);
  out.writeUInt16BE(seq & 0xffff, 0);
  out[2] = op;
  out.set(payload, 3);
  return out;
}

// ---- client -> server ----

/** Builds the wire form of a client message: a JSON string, or a binary frame (op u8, payload). */
export function encodeClientMessage(message: ClientMessage): string | Buffer {
  if ('payload' in message) {
    const out = Buffer.allocUnsafe(1 + message.payload.byteLength);
    out[0] = message.op;
    out.set(message.payload, 1);
    return out;
  }
  return JSON.stringify({ op: message.op, d: message.d });
}

/** Decodes a frame received by the server. Throws GATEWAY_MALFORMED_FRAME; unknown ops return null. */
export function decodeClientFrame(
  data: string | Uint8Array,
): ClientMessage | { op: 'unknown'; rawOp: number } {
  if (typeof data !== 'string') {
    if (data.byteLength < 1) throw malformed('empty binary frame');
    const op = data[0]!;
    if (op === VoiceOpcode.DaveMlsKeyPackage || op === VoiceOpcode.DaveMlsCommitWelcome)
      return { op, payload: data.subarray(1) };
    return { op: 'unknown', rawOp: op };
  }
  const { op, d: dRaw } = parseEnvelope(data);
  switch (op) {
    case VoiceOpcode.Identify: {
      const d = obj(dRaw, 'd');
      return {
        op,
        d: {
          server_id: snowflake(d, 'server_id'),
          user_id: snowflake(d, 'user_id'),
          session_id: str(d, 'session_id'),
          token: str(d, 'token'),
          max_dave_protocol_version: optionalInt(d, 'max_dave_protocol_version', 0),
        },
      };
    }
    case VoiceOpcode.SelectProtocol: {
      const d = obj(dRaw, 'd');
      const data2 = obj(d.data, 'data');
      // discord-api-types calls the address `ip`; accept both (voice-gateway.md §5.4).
      const address = typeof data2.address === 'string' ? data2.address : str(data2, 'ip');
      return {
        op,
        d: {
          protocol: str(d, 'protocol'),
          data: { address, port: int(data2, 'port', 0, 65535), mode: str(data2, 'mode') },
        },
      };
    }
    case VoiceOpcode.Heartbeat: {
      const d = obj(dRaw, 'd');
      return { op, d: { t: num(d, 't'), seq_ack: optionalInt(d, 'seq_ack', -1) } };
    }
    case VoiceOpcode.Speaking: {
      const d = obj(dRaw, 'd');
      return {
        op,
        d: {
          speaking: int(d, 'speaking'),
          delay: optionalInt(d, 'delay', 0),
          ssrc: int(d, 'ssrc', 0, U32_MAX),
        },
      };
    }
    case VoiceOpcode.Resume: {
      const d = obj(dRaw, 'd');
      return {
        op,
        d: {
          server_id: snowflake(d, 'server_id'),
          session_id: str(d, 'session_id'),
          token: str(d, 'token'),
          seq_ack: optionalInt(d, 'seq_ack', -1),
        },
      };
    }
    case VoiceOpcode.DaveTransitionReady:
    case VoiceOpcode.DaveMlsInvalidCommitWelcome:
      return { op, d: { transition_id: int(obj(dRaw, 'd'), 'transition_id', 0, 0xffff) } };
    default:
      return { op: 'unknown', rawOp: op };
  }
}

export function isBinaryOpcode(op: number): boolean {
  return BINARY_OPCODES.has(op);
}
