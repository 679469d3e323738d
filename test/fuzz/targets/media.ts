/**
 * The UDP media parsers: RTP header (src/media/rtp.ts), RTP open with the transport AEAD
 * (src/media/rtp-packet.ts, src/media/transport-cipher.ts), IP discovery (src/media/ip-discovery.ts).
 * Oracles: every transport backend agrees on seal and on open; no mutated datagram ever opens (no
 * forgery); headers and discovery replies re-encode to what was parsed.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  buildIpDiscoveryRequest,
  buildIpDiscoveryResponse,
  parseIpDiscoveryRequest,
  parseIpDiscoveryResponse,
} from '../../../src/media/ip-discovery.js';
import { parseRtpHeader, writeRtpHeader } from '../../../src/media/rtp.js';
import { openRtpPacket, sealRtpPacket } from '../../../src/media/rtp-packet.js';
import { availableTransportBackends, createTransportCipher } from '../../../src/media/transport-cipher.js';
import type { TransportCipher } from '../../../src/media/transport-cipher.js';
import { EncryptionMode, OPUS_PAYLOAD_TYPE, RTP_HEADER_BYTES } from '../../../src/protocol/constants.js';
import { hex, oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 11 + 3) & 0xff);

/** Every backend usable here for a mode (the agreement oracle needs at least two for AES). */
function ciphersFor(mode: EncryptionMode): TransportCipher[] {
  const out: TransportCipher[] = [];
  for (const backend of availableTransportBackends()) {
    try {
      out.push(createTransportCipher(mode, KEY, { backend }));
    } catch {
      // This backend does not serve this mode (sodium-native has no AES-256-GCM; js no XChaCha).
    }
  }
  return out;
}

function opus(n: number, fill: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (fill + i * 7) & 0xff);
}

/** Valid datagrams of one mode: plain, with a header extension, with CSRCs, with RTP padding. */
function sealedSeeds(cipher: TransportCipher): { packets: Uint8Array[]; payloads: Map<string, string> } {
  const packets: Uint8Array[] = [];
  const fields = { sequence: 0xfffe, timestamp: 0xffffff00, ssrc: 0x01020304 };
  packets.push(sealRtpPacket(fields, opus(3, 0xf8), cipher, 1));
  packets.push(sealRtpPacket({ ...fields, sequence: 5 }, opus(120, 1), cipher, 2));
  packets.push(sealRtpPacket(fields, opus(80, 9), cipher, 0xffffffff, opus(8, 0x10)));
  packets.push(sealRtpPacket(fields, opus(600, 4), cipher, 7)); // above the js backend's block limit
  // Two CSRCs, marker bit.
  const csrcHeader = new Uint8Array(RTP_HEADER_BYTES + 8);
  writeRtpHeader(csrcHeader, fields);
  csrcHeader[0] = csrcHeader[0]! | 2;
  csrcHeader[1] = csrcHeader[1]! | 0x80;
  packets.push(cipher.seal(csrcHeader, opus(40, 2), 9));
  // RTP padding: 4 bytes, the last counting them.
  const padHeader = new Uint8Array(RTP_HEADER_BYTES);
  writeRtpHeader(padHeader, fields);
  padHeader[0] = padHeader[0]! | 0x20;
  packets.push(cipher.seal(padHeader, Uint8Array.of(...opus(20, 5), 0, 0, 0, 4), 10));
  const payloads = new Map<string, string>();
  for (const p of packets) {
    const opened = openRtpPacket(p, cipher);
    if ('drop' in opened) throw new Error(`seed packet does not open: ${opened.drop}`);
    payloads.set(hex(p), hex(opened.payload));
  }
  return { packets, payloads };
}

function openTarget(name: string, mode: EncryptionMode): FuzzTarget {
  return {
    name,
    modules: [
      'src/media/rtp-packet.ts openRtpPacket',
      `src/media/transport-cipher.ts (${mode}, every backend)`,
    ],
    create() {
      const ciphers = ciphersFor(mode);
      const { packets, payloads } = sealedSeeds(ciphers[0]!);
      return {
        seeds: packets,
        isTypedRejection: () => false, // documented never to throw
        run(input) {
          const results = ciphers.map((c) => openRtpPacket(input, c));
          const first = results[0]!;
          const summary = (r: typeof first): string =>
            'drop' in r ? `drop:${r.drop}` : `ok:${hex(r.payload)}`;
          for (let i = 1; i < results.length; i++) {
            oracle(
              summary(results[i]!) === summary(first),
              `backends ${ciphers[0]!.backend} and ${ciphers[i]!.backend} disagree: ${summary(first)} vs ${summary(results[i]!)}`,
            );
          }
          if ('drop' in first) return 'rejected';
          const expected = payloads.get(hex(input));
          oracle(expected !== undefined, 'forgery: a datagram that was never sealed opened');
          oracle(expected === hex(first.payload), 'a sealed datagram opened to another payload');
          return 'ok';
        },
      };
    },
  };
}

export const mediaTargets: FuzzTarget[] = [
  {
    name: 'rtp-header',
    modules: ['src/media/rtp.ts parseRtpHeader'],
    create() {
      const header = new Uint8Array(RTP_HEADER_BYTES + 20);
      writeRtpHeader(header, { sequence: 1, timestamp: 960, ssrc: 7 });
      const ext = header.slice();
      ext[0] = 0x90;
      ext.set([0xbe, 0xde, 0, 1], 12);
      return {
        seeds: [header, ext, header.subarray(0, 12)],
        isTypedRejection: () => false,
        run(input) {
          const info = parseRtpHeader(input);
          if ('drop' in info) return 'rejected';
          oracle(info.headerLength <= input.length, 'header length beyond the packet');
          if (input[0] === 0x80 && input[1] === OPUS_PAYLOAD_TYPE) {
            const again = new Uint8Array(RTP_HEADER_BYTES);
            writeRtpHeader(again, info);
            oracle(hex(again) === hex(input.subarray(0, RTP_HEADER_BYTES)), 'RTP header does not re-encode');
          }
          return 'ok';
        },
      };
    },
  },
  openTarget('rtp-open-aes-gcm', EncryptionMode.AesGcm),
  openTarget('rtp-open-xchacha', EncryptionMode.XChaCha),
  {
    name: 'transport-seal',
    modules: ['src/media/transport-cipher.ts seal/open, js vs node:crypto (vs sodium)'],
    create() {
      const modes = [EncryptionMode.AesGcm, EncryptionMode.XChaCha].map((m) => ({
        mode: m,
        ciphers: ciphersFor(m),
      }));
      return {
        // byte 0: header length; bytes 1..4: counter; then header and payload.
        seeds: [
          Uint8Array.of(12, 0, 0, 0, 1, ...opus(12, 0x80), ...opus(100, 3)),
          Uint8Array.of(16, 0xff, 0xff, 0xff, 0xff, ...opus(16, 0x90), ...opus(530, 1)),
          Uint8Array.of(0, 0, 0, 0, 0),
        ],
        isTypedRejection: () => false,
        run(input) {
          if (input.length < 5) return 'rejected';
          const counter = Buffer.from(input).readUInt32BE(1);
          const header = input.subarray(5, 5 + input[0]!);
          const payload = input.subarray(5 + header.length);
          for (const { mode, ciphers } of modes) {
            const sealed = ciphers.map((c) => c.seal(header, payload, counter));
            for (let i = 1; i < sealed.length; i++) {
              oracle(hex(sealed[i]) === hex(sealed[0]), `${mode}: ${ciphers[i]!.backend} seals differently`);
            }
            for (const c of ciphers) {
              const opened = c.open(sealed[0]!, header.length);
              oracle(
                opened !== null && hex(opened) === hex(payload),
                `${mode}: ${c.backend} cannot open a seal`,
              );
            }
          }
          return 'ok';
        },
      };
    },
  },
  {
    name: 'ip-discovery',
    modules: ['src/media/ip-discovery.ts parseIpDiscoveryRequest/Response'],
    create: () => ({
      seeds: [
        buildIpDiscoveryRequest(0xdeadbeef),
        buildIpDiscoveryResponse(0xdeadbeef, '203.0.113.255', 65535),
        buildIpDiscoveryResponse(1, '::ffff:1.2.3.4', 0),
      ],
      isTypedRejection: () => false,
      run(input) {
        const request = parseIpDiscoveryRequest(input);
        const response = parseIpDiscoveryResponse(input);
        if (response !== null) {
          const again = parseIpDiscoveryResponse(
            buildIpDiscoveryResponse(response.ssrc, response.address, response.port),
          );
          oracle(isDeepStrictEqual(again, response), 'IP discovery response does not re-encode');
        }
        if (request !== null) {
          oracle(
            parseIpDiscoveryRequest(buildIpDiscoveryRequest(request.ssrc))?.ssrc === request.ssrc,
            'request ssrc',
          );
        }
        return request === null && response === null ? 'rejected' : 'ok';
      },
    }),
  },
];
