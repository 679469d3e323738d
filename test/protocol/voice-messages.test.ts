import { describe, expect, it } from 'vitest';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeClientMessage,
  encodeServerBinary,
  encodeServerJson,
} from '../../src/protocol/voice-messages.js';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { isVoxcordError } from '../../src/errors.js';

function malformed(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isVoxcordError(caught, 'GATEWAY_MALFORMED_FRAME')).toBe(true);
}

describe('server frames decoded by the client', () => {
  it('decodes Hello, Ready and Session Description with their seq', () => {
    expect(decodeServerFrame('{"op":8,"d":{"v":8,"heartbeat_interval":41250.5}}')).toEqual({
      op: 8,
      d: { heartbeat_interval: 41250.5 },
    });
    const ready = decodeServerFrame(
      '{"op":2,"d":{"ssrc":1,"ip":"127.0.0.1","port":1234,"modes":["aead_aes256_gcm_rtpsize"],"heartbeat_interval":1,"experiments":[]},"seq":3}',
    );
    expect(ready).toEqual({
      op: 2,
      d: { ssrc: 1, ip: '127.0.0.1', port: 1234, modes: ['aead_aes256_gcm_rtpsize'] },
      seq: 3,
    });
    const key = Array.from({ length: 32 }, (_, i) => i);
    const sd = decodeServerFrame(
      JSON.stringify({ op: 4, d: { mode: 'aead_aes256_gcm_rtpsize', secret_key: key, audio_codec: 'opus' } }),
    );
    expect(sd).toEqual({
      op: 4,
      d: { mode: 'aead_aes256_gcm_rtpsize', secret_key: key, dave_protocol_version: 0 },
    });
  });

  it('decodes speaking, connect and disconnect; snowflakes must be strings of digits', () => {
    expect(
      decodeServerFrame('{"op":5,"d":{"user_id":"80351110224678912","ssrc":110,"speaking":1},"seq":10}'),
    ).toEqual({ op: 5, d: { user_id: '80351110224678912', ssrc: 110, speaking: 1 }, seq: 10 });
    expect(decodeServerFrame('{"op":11,"d":{"user_ids":["1","22"]}}')).toEqual({
      op: 11,
      d: { user_ids: ['1', '22'] },
    });
    expect(decodeServerFrame('{"op":13,"d":{"user_id":"42"}}')).toEqual({ op: 13, d: { user_id: '42' } });
    // A number is not an id: 1e308 would become "1e+308", and anything past 2^53 has lost digits.
    malformed(() => decodeServerFrame('{"op":13,"d":{"user_id":42}}'));
    malformed(() => decodeServerFrame('{"op":13,"d":{"user_id":1e308}}'));
    malformed(() => decodeServerFrame('{"op":11,"d":{"user_ids":["1",22]}}'));
    malformed(() => decodeServerFrame('{"op":5,"d":{"user_id":80351110224678912,"ssrc":1,"speaking":1}}'));
    malformed(() =>
      decodeClientFrame(
        '{"op":0,"d":{"server_id":"1","user_id":1e308,"session_id":"s","token":"t","max_dave_protocol_version":0}}',
      ),
    );
  });

  it('accepts a v8 heartbeat ACK and a bare legacy nonce', () => {
    expect(decodeServerFrame('{"op":6,"d":{"t":123}}')).toEqual({ op: 6, d: { t: 123 } });
    expect(decodeServerFrame('{"op":6,"d":123}')).toEqual({ op: 6, d: { t: 123 } });
  });

  it('decodes DAVE JSON ops, with transition_id optional on op 24', () => {
    expect(decodeServerFrame('{"op":24,"d":{"protocol_version":1,"epoch":1}}')).toEqual({
      op: 24,
      d: { protocol_version: 1, epoch: 1 },
    });
    expect(decodeServerFrame('{"op":21,"d":{"protocol_version":0,"transition_id":10},"seq":42}')).toEqual({
      op: 21,
      d: { protocol_version: 0, transition_id: 10 },
      seq: 42,
    });
  });

  it('decodes binary frames with their 16-bit seq and keeps unknown ops', () => {
    const frame = Uint8Array.of(0x01, 0x02, 25, 0xaa, 0xbb);
    const decoded = decodeServerFrame(frame);
    expect(decoded.seq).toBe(0x0102);
    expect(decoded.op).toBe(25);
    expect('payload' in decoded && Array.from(decoded.payload)).toEqual([0xaa, 0xbb]);
    expect(decodeServerFrame(Uint8Array.of(0, 7, 99))).toEqual({ op: 'unknown', rawOp: 99, seq: 7 });
    expect(decodeServerFrame('{"op":18,"d":{"user_id":"1","flags":2}}')).toEqual({
      op: 'unknown',
      rawOp: 18,
    });
  });

  it('rejects malformed frames with a typed error', () => {
    malformed(() => decodeServerFrame('not json'));
    malformed(() => decodeServerFrame('[1,2]'));
    malformed(() => decodeServerFrame('{"d":{}}'));
    malformed(() => decodeServerFrame('{"op":8,"d":{"heartbeat_interval":-1}}'));
    malformed(() => decodeServerFrame('{"op":2,"d":{"ssrc":1,"ip":"x","port":70000,"modes":[]}}'));
    malformed(() => decodeServerFrame('{"op":2,"d":{"ssrc":1,"ip":"x","port":7,"modes":[1]}}'));
    malformed(() => decodeServerFrame('{"op":4,"d":{"mode":"m","secret_key":[256]}}'));
    malformed(() => decodeServerFrame('{"op":5,"d":{"user_id":"abc","ssrc":1}}'));
    malformed(() => decodeServerFrame(Uint8Array.of(0, 1)));
  });

  it('never puts field values into error messages', () => {
    try {
      decodeServerFrame('{"op":4,"d":{"mode":"m","secret_key":"SECRET-VALUE"}}');
    } catch (err) {
      expect(String(err)).not.toContain('SECRET-VALUE');
    }
  });
});

describe('client frames', () => {
  it('round-trips every JSON client message through the server decoder', () => {
    const messages = [
      {
        op: VoiceOpcode.Identify,
        d: { server_id: '1', user_id: '2', session_id: 's', token: 't', max_dave_protocol_version: 1 },
      },
      {
        op: VoiceOpcode.SelectProtocol,
        d: { protocol: 'udp', data: { address: '127.0.0.1', port: 5000, mode: 'aead_aes256_gcm_rtpsize' } },
      },
      { op: VoiceOpcode.Heartbeat, d: { t: 99, seq_ack: -1 } },
      { op: VoiceOpcode.Speaking, d: { speaking: 1, delay: 0, ssrc: 7 } },
      { op: VoiceOpcode.Resume, d: { server_id: '1', session_id: 's', token: 't', seq_ack: 10 } },
      { op: VoiceOpcode.DaveTransitionReady, d: { transition_id: 3 } },
      { op: VoiceOpcode.DaveMlsInvalidCommitWelcome, d: { transition_id: 4 } },
    ] as const;
    for (const message of messages) {
      const wire = encodeClientMessage(message);
      expect(typeof wire).toBe('string');
      expect(decodeClientFrame(wire)).toEqual(message);
    }
  });

  it('builds binary client frames as op byte then payload, with no sequence number', () => {
    const wire = encodeClientMessage({
      op: VoiceOpcode.DaveMlsKeyPackage,
      payload: Uint8Array.of(0, 1, 0, 2),
    });
    expect(Buffer.isBuffer(wire) && Array.from(wire)).toEqual([26, 0, 1, 0, 2]);
    const decoded = decodeClientFrame(wire);
    expect(decoded.op).toBe(26);
    expect('payload' in decoded && Array.from(decoded.payload)).toEqual([0, 1, 0, 2]);
  });

  it('accepts `ip` as the Select Protocol address (discord-api-types spelling)', () => {
    const decoded = decodeClientFrame(
      '{"op":1,"d":{"protocol":"udp","data":{"ip":"1.2.3.4","port":9,"mode":"m"}}}',
    );
    expect(decoded).toEqual({
      op: 1,
      d: { protocol: 'udp', data: { address: '1.2.3.4', port: 9, mode: 'm' } },
    });
  });
});

describe('server encoders', () => {
  it('stamps seq on JSON only when given', () => {
    expect(encodeServerJson({ op: 9, d: null })).toBe('{"op":9,"d":null}');
    expect(JSON.parse(encodeServerJson({ op: 13, d: { user_id: '5' } }, 12))).toEqual({
      op: 13,
      d: { user_id: '5' },
      seq: 12,
    });
  });

  it('writes binary frames as seq u16 BE, op, payload and wraps seq', () => {
    expect(Array.from(encodeServerBinary(27, Uint8Array.of(9), 0x10203))).toEqual([0x02, 0x03, 27, 9]);
  });
});
