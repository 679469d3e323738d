/**
 * The voice gateway message codec (src/protocol/voice-messages.ts), both directions: JSON text frames get
 * shape mutations, binary DAVE frames byte mutations. Oracle: whatever decodes re-encodes to a
 * frame that decodes to the same message (binary frames: to the same bytes).
 */
import { isDeepStrictEqual } from 'node:util';
import { isVoxcordError } from '../../../src/errors.js';
import { VoiceOpcode } from '../../../src/protocol/constants.js';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeClientMessage,
  encodeServerBinary,
  encodeServerJson,
} from '../../../src/protocol/voice-messages.js';
import type { ClientMessage, ServerMessage } from '../../../src/protocol/voice-messages.js';
import { mutateJson, oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

const text = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
const utf8 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const malformed = (err: unknown): boolean => isVoxcordError(err, 'GATEWAY_MALFORMED_FRAME');
const USER = '123456789012345678';

const SERVER_JSON: readonly unknown[] = [
  { op: VoiceOpcode.Hello, d: { heartbeat_interval: 13750 } },
  { op: VoiceOpcode.Ready, d: { ssrc: 1, ip: '127.0.0.1', port: 1234, modes: ['aead_aes256_gcm_rtpsize'] } },
  {
    op: VoiceOpcode.SessionDescription,
    d: {
      mode: 'aead_aes256_gcm_rtpsize',
      secret_key: Array.from({ length: 32 }, (_, i) => i),
      dave_protocol_version: 1,
    },
    seq: 2,
  },
  { op: VoiceOpcode.HeartbeatAck, d: { t: 1700000000000 } },
  { op: VoiceOpcode.HeartbeatAck, d: 42 },
  { op: VoiceOpcode.Speaking, d: { user_id: USER, ssrc: 77, speaking: 1 }, seq: 3 },
  { op: VoiceOpcode.Resumed, d: null },
  { op: VoiceOpcode.ClientsConnect, d: { user_ids: [USER, '1'] }, seq: 4 },
  { op: VoiceOpcode.ClientDisconnect, d: { user_id: USER }, seq: 5 },
  { op: VoiceOpcode.DavePrepareTransition, d: { protocol_version: 1, transition_id: 7 }, seq: 6 },
  { op: VoiceOpcode.DaveExecuteTransition, d: { transition_id: 7 }, seq: 7 },
  { op: VoiceOpcode.DavePrepareEpoch, d: { protocol_version: 1, epoch: 1, transition_id: 0 }, seq: 8 },
  { op: 99, d: {} },
];

const CLIENT_JSON: readonly unknown[] = [
  {
    op: VoiceOpcode.Identify,
    d: { server_id: USER, user_id: USER, session_id: 'abc', token: 'tok', max_dave_protocol_version: 1 },
  },
  {
    op: VoiceOpcode.SelectProtocol,
    d: { protocol: 'udp', data: { address: '127.0.0.1', port: 5000, mode: 'aead_aes256_gcm_rtpsize' } },
  },
  { op: VoiceOpcode.SelectProtocol, d: { protocol: 'udp', data: { ip: '10.0.0.1', port: 1, mode: 'x' } } },
  { op: VoiceOpcode.Heartbeat, d: { t: 1700000000000, seq_ack: 3 } },
  { op: VoiceOpcode.Speaking, d: { speaking: 1, delay: 0, ssrc: 5 } },
  { op: VoiceOpcode.Resume, d: { server_id: USER, session_id: 'abc', token: 'tok', seq_ack: 10 } },
  { op: VoiceOpcode.DaveTransitionReady, d: { transition_id: 3 } },
  { op: VoiceOpcode.DaveMlsInvalidCommitWelcome, d: { transition_id: 3 } },
];

const PAYLOAD = Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff);

/** Snowflakes handed out are decimal strings, whatever the JSON carried (`1e308` is not an id). */
function checkSnowflakes(d: object): void {
  for (const [key, value] of Object.entries(d)) {
    const ids: unknown[] =
      key === 'user_ids' && Array.isArray(value)
        ? value
        : key.endsWith('_id') && key !== 'session_id'
          ? [value]
          : [];
    for (const id of ids)
      oracle(typeof id === 'string' && /^\d{1,20}$/.test(id), `${key} decoded to ${String(id)}`);
  }
}

function checkServerRoundTrip(m: ServerMessage): void {
  if (m.op === 'unknown' || 'payload' in m) return;
  if (
    m.op === VoiceOpcode.Speaking ||
    m.op === VoiceOpcode.ClientsConnect ||
    m.op === VoiceOpcode.ClientDisconnect
  )
    checkSnowflakes(m.d);
  const again = decodeServerFrame(encodeServerJson(m, m.seq));
  oracle(isDeepStrictEqual(again, m), `server op ${m.op} does not survive encode(decode(x))`);
}

function checkClientRoundTrip(m: ClientMessage | { op: 'unknown' }): void {
  if (m.op === 'unknown' || 'payload' in m) return;
  if (m.op === VoiceOpcode.Identify || m.op === VoiceOpcode.Resume) checkSnowflakes(m.d);
  const wire = encodeClientMessage(m);
  oracle(typeof wire === 'string', `client op ${m.op} encodes to a binary frame`);
  oracle(
    isDeepStrictEqual(decodeClientFrame(wire), m),
    `client op ${m.op} does not survive encode(decode(x))`,
  );
}

export const voiceMessageTargets: FuzzTarget[] = [
  {
    name: 'voice-server-json',
    modules: ['src/protocol/voice-messages.ts decodeServerFrame (text)'],
    create: () => ({
      seeds: SERVER_JSON.map(text),
      mutate: mutateJson,
      isTypedRejection: malformed,
      run(input) {
        checkServerRoundTrip(decodeServerFrame(utf8(input)));
        return 'ok';
      },
    }),
  },
  {
    name: 'voice-server-binary',
    modules: ['src/protocol/voice-messages.ts decodeServerFrame (binary)'],
    create: () => ({
      seeds: [25, 27, 29, 30, 26, 2].map((op, i) =>
        encodeServerBinary(op as 25, PAYLOAD.subarray(i), 1000 + i),
      ),
      isTypedRejection: malformed,
      run(input) {
        const m = decodeServerFrame(input);
        if (m.op === 'unknown') return 'rejected';
        oracle('payload' in m && m.seq !== undefined, 'binary frame decoded without payload or seq');
        const again = encodeServerBinary(m.op, m.payload, m.seq);
        oracle(Buffer.compare(again, input) === 0, 'binary server frame does not re-encode to its bytes');
        return 'ok';
      },
    }),
  },
  {
    name: 'voice-client-json',
    modules: ['src/protocol/voice-messages.ts decodeClientFrame (text)'],
    create: () => ({
      seeds: CLIENT_JSON.map(text),
      mutate: mutateJson,
      isTypedRejection: malformed,
      run(input) {
        checkClientRoundTrip(decodeClientFrame(utf8(input)));
        return 'ok';
      },
    }),
  },
  {
    name: 'voice-client-binary',
    modules: ['src/protocol/voice-messages.ts decodeClientFrame (binary)'],
    create: () => ({
      seeds: [26, 28, 5].map((op) => Buffer.from(encodeClientMessage({ op: op as 26, payload: PAYLOAD }))),
      isTypedRejection: malformed,
      run(input) {
        const m = decodeClientFrame(input);
        if (m.op === 'unknown') return 'rejected';
        oracle('payload' in m, 'binary client frame decoded without payload');
        const again = encodeClientMessage(m);
        oracle(Buffer.compare(Buffer.from(again), input) === 0, 'binary client frame does not re-encode');
        return 'ok';
      },
    }),
  },
];
