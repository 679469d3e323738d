/**
 * DAVE media frames: the trailer codec (src/dave/frame-codec.ts), ULEB128 (src/dave/uleb128.ts) and
 * the frame decryptor (src/dave/frame-decryptor.ts). Oracles: a parsed trailer rebuilds to a frame
 * that parses the same; ULEB128 values round-trip; no mutated frame ever decrypts (no forgery).
 */
import { isDeepStrictEqual } from 'node:util';
import { isVoxcordError } from '../../../src/errors.js';
import {
  buildProtocolFrame,
  createParsedFrame,
  parseProtocolFrame,
  splitRanges,
} from '../../../src/dave/frame-codec.js';
import { FrameDecryptor } from '../../../src/dave/frame-decryptor.js';
import { FrameEncryptor } from '../../../src/dave/frame-encryptor.js';
import { encodeUleb128, readUleb128 } from '../../../src/dave/uleb128.js';
import type { Uleb128Read } from '../../../src/dave/uleb128.js';
import { DAVE_TAG_BYTES } from '../../../src/protocol/constants.js';
import { hex, oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

const BASE_SECRET = Uint8Array.from({ length: 16 }, (_, i) => (i * 29 + 1) & 0xff);

/** Valid protocol frames: Opus frames from the encryptor, plus hand-built frames with ranges. */
function frameSeeds(): { frames: Uint8Array[]; plain: Map<string, string> } {
  const e = new FrameEncryptor();
  e.setRatchet(BASE_SECRET);
  const frames: Uint8Array[] = [];
  const plain = new Map<string, string>();
  for (const n of [1, 2, 20, 120, 400]) {
    const opus = Uint8Array.from({ length: n }, (_, i) => (n + i * 13) & 0xff);
    const frame = e.encrypt(opus);
    if (frame === null) throw new Error('no key');
    frames.push(frame);
    plain.set(hex(frame), hex(opus));
  }
  const media = Uint8Array.from({ length: 40 }, (_, i) => i);
  frames.push(buildProtocolFrame(media, new Uint8Array(DAVE_TAG_BYTES).fill(9), 0x12345678, [0, 4, 10, 3]));
  frames.push(Uint8Array.of(0xf8, 0xff, 0xfe));
  return { frames, plain };
}

export const daveTargets: FuzzTarget[] = [
  {
    name: 'dave-frame-codec',
    modules: ['src/dave/frame-codec.ts parseProtocolFrame/buildProtocolFrame/splitRanges'],
    create() {
      const parsed = createParsedFrame();
      const again = createParsedFrame();
      return {
        seeds: frameSeeds().frames,
        isTypedRejection: () => false,
        run(input) {
          if (parseProtocolFrame(input, parsed) !== 'ok') return 'rejected';
          const ranges = [...parsed.ranges];
          const media = input.subarray(0, parsed.mediaLength);
          const tag = input.subarray(parsed.tagOffset, parsed.tagOffset + DAVE_TAG_BYTES);
          const rebuilt = buildProtocolFrame(media, tag, parsed.nonce, ranges);
          oracle(parseProtocolFrame(rebuilt, again) === 'ok', 'a rebuilt frame does not parse');
          oracle(
            again.nonce === parsed.nonce &&
              isDeepStrictEqual(again.ranges, ranges) &&
              again.mediaLength === media.length,
            'a rebuilt frame parses differently',
          );
          const { aad, encrypted } = splitRanges(input, parsed.mediaLength, ranges);
          oracle(aad.length + encrypted.length === parsed.mediaLength, 'split ranges lose bytes');
          return 'ok';
        },
      };
    },
  },
  {
    name: 'dave-decrypt',
    modules: ['src/dave/frame-decryptor.ts FrameDecryptor.decrypt'],
    create() {
      const { frames, plain } = frameSeeds();
      return {
        seeds: frames,
        isTypedRejection: (err) => isVoxcordError(err, 'DAVE_DECRYPT_FAILED'),
        run(input) {
          const d = new FrameDecryptor({ now: () => 1000 });
          // Its keys leave the WebAssembly core now: left to the collector, whose clean-ups wait
          // for the event loop, they filled the core and slowed a long run tenfold.
          try {
            d.transitionToRatchet(BASE_SECRET);
            const r = d.decrypt(input);
            if (!r.ok) return 'rejected';
            if (r.passthrough) {
              oracle(r.frame === input, 'a passthrough result is not the input');
              return 'ok';
            }
            const expected = plain.get(hex(input));
            oracle(expected !== undefined, 'forgery: a frame that was never encrypted decrypted');
            oracle(expected === hex(r.frame), 'a frame decrypted to another plaintext');
            // The same frame again is a replay.
            const replay = d.decrypt(input);
            oracle(!replay.ok && replay.reason === 'replay', 'a replayed frame decrypted twice');
            return 'ok';
          } finally {
            d.destroy();
          }
        },
      };
    },
  },
  {
    name: 'uleb128',
    modules: ['src/dave/uleb128.ts readUleb128/encodeUleb128'],
    create() {
      const out: Uleb128Read = { value: 0, low32: 0, next: 0 };
      return {
        seeds: [
          encodeUleb128(0),
          encodeUleb128(127),
          encodeUleb128(0xffffffff),
          encodeUleb128(Number.MAX_SAFE_INTEGER),
          Uint8Array.of(0x80, 0x80, 0x00),
          Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
        ],
        isTypedRejection: () => false,
        run(input) {
          const end = input.length === 0 ? 0 : 1 + (input[0]! % input.length);
          if (!readUleb128(input, 0, end, out)) return 'rejected';
          oracle(out.next > 0 && out.next <= end, 'ULEB128 read beyond its end');
          if (Number.isSafeInteger(out.value)) {
            oracle(out.low32 === out.value % 2 ** 32, 'low32 is not the value mod 2^32');
            const encoded = encodeUleb128(out.value);
            const back: Uleb128Read = { value: -1, low32: 0, next: 0 };
            oracle(
              readUleb128(encoded, 0, encoded.length, back) && back.value === out.value,
              'no round trip',
            );
            const consumed = input.subarray(0, out.next);
            const minimal = consumed.length === 1 || consumed[consumed.length - 1] !== 0;
            if (minimal) oracle(hex(encoded) === hex(consumed), 'minimal ULEB128 re-encodes differently');
          }
          return 'ok';
        },
      };
    },
  },
];
