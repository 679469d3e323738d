/**
 * The Ogg Opus and WebM Opus demuxers (src/player/inputs/ogg-opus.ts, webm-opus.ts): files and
 * streams from disk or the network. Ogg mutations re-stamp page CRCs most of the time, so they reach
 * past the checksum. Oracle: the same bytes give the same packets and the same verdict whether they
 * arrive whole or in small chunks.
 */
import { isVoxcordError } from '../../../src/errors.js';
import { oggCrc } from '../../../src/audio/ogg-crc.js';
import { sniffContainer } from '../../../src/player/inputs/file.js';
import { OggOpusDemuxer, parseOpusHead } from '../../../src/audio/ogg-opus-demuxer.js';
import { opusPacketSamples } from '../../../src/player/inputs/opus-frames.js';
import { WebmOpusDemuxer, blockFrames } from '../../../src/player/inputs/webm-opus.js';
import { readVint } from '../../../src/audio/ebml.js';
import type { OpusDemuxer } from '../../../src/player/inputs/demuxed.js';
import {
  ID,
  blockBody,
  concatBytes,
  el,
  elUnknown,
  oggStreamPages,
  opusHead,
  trackEntry,
  uintBytes,
  webmHeader,
} from '../../player/containers.js';
import { packet } from '../../player/opus-packets.js';
import { hex, int, mutateBytes, oracle } from '../engine.js';
import type { FuzzTarget, Rng } from '../engine.js';

const inputError = (err: unknown): boolean => isVoxcordError(err, 'AUDIO_INPUT_ERROR');

/** Packets and verdict of one demux, fed in chunks of `chunk` bytes. */
function demux(
  create: () => OpusDemuxer,
  input: Uint8Array,
  chunk: number,
): { packets: string[]; error: boolean } {
  const d = create();
  const packets: string[] = [];
  try {
    for (let i = 0; i < input.length; i += chunk)
      for (const p of d.push(input.slice(i, i + chunk))) packets.push(hex(p));
    d.end();
    return { packets, error: false };
  } catch (err) {
    if (!inputError(err)) throw err;
    return { packets, error: true };
  }
}

function chunkOracle(create: () => OpusDemuxer, input: Uint8Array): 'ok' | 'rejected' {
  const whole = demux(create, input, Math.max(1, input.length));
  const small = demux(create, input, 1 + (input.length % 23));
  oracle(
    whole.error === small.error,
    `verdict depends on chunking (whole: ${whole.error}, chunked: ${small.error})`,
  );
  if (!whole.error) {
    oracle(whole.packets.join() === small.packets.join(), 'packets depend on chunking');
    return 'ok';
  }
  return 'rejected';
}

/** Recomputes the CRC of every complete page found at an "OggS" capture pattern. */
function restampOggCrcs(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let pos = 0; pos + 27 <= out.length; pos++) {
    if (out[pos] !== 0x4f || out[pos + 1] !== 0x67 || out[pos + 2] !== 0x67 || out[pos + 3] !== 0x53)
      continue;
    const segments = out[pos + 26]!;
    if (pos + 27 + segments > out.length) break;
    let body = 0;
    for (let i = 0; i < segments; i++) body += out[pos + 27 + i]!;
    const end = pos + 27 + segments + body;
    if (end > out.length) break;
    out.fill(0, pos + 22, pos + 26);
    new DataView(out.buffer, out.byteOffset).setUint32(pos + 22, oggCrc(out.subarray(pos, end)), true);
    pos = end - 1;
  }
  return out;
}

function oggSeeds(): Uint8Array[] {
  const packets = Array.from({ length: 12 }, (_, i) => packet(i, i * 3));
  const long = new Uint8Array(700).fill(0xfc);
  return [
    concatBytes(oggStreamPages(packets)),
    concatBytes(oggStreamPages([packets[0]!, long, packets[1]!], { maxSegments: 2 })),
    concatBytes([
      ...oggStreamPages(packets.slice(0, 3), { serial: 1 }),
      ...oggStreamPages(packets.slice(3), { serial: 2 }),
    ]),
    concatBytes(oggStreamPages(packets.slice(0, 2), { headers: [opusHead(1, 0)], eos: false })),
  ];
}

function webmSeeds(): Uint8Array[] {
  const audio = (n: number): Uint8Array => packet(9, n);
  const file = (clusters: Uint8Array[]): Uint8Array =>
    concatBytes([
      webmHeader(),
      elUnknown(
        ID.Segment,
        el(ID.Info, el(ID.TimecodeScale, Uint8Array.of(0x0f, 0x42, 0x40))),
        el(ID.Void, new Uint8Array(4)),
        el(ID.Tracks, trackEntry(2, 'V_VP8', 1), trackEntry(1, 'A_OPUS', 2, opusHead())),
        ...clusters,
      ),
    ]);
  return [
    file([
      elUnknown(
        ID.Cluster,
        el(ID.Timecode, uintBytes(0)),
        el(ID.SimpleBlock, blockBody(2, [new Uint8Array(30).fill(0x55)])),
        el(ID.SimpleBlock, blockBody(1, [audio(0)])),
        el(ID.BlockGroup, el(ID.Block, blockBody(1, [audio(1)]))),
        el(ID.SimpleBlock, blockBody(1, [audio(2), audio(3), audio(4)], 'xiph')),
      ),
      el(
        ID.Cluster,
        el(ID.Timecode, uintBytes(100)),
        el(ID.SimpleBlock, blockBody(1, [audio(6), audio(7), new Uint8Array(10).fill(0xfc)], 'ebml')),
        el(ID.SimpleBlock, blockBody(1, [audio(8), audio(9)], 'fixed')),
      ),
    ]),
    file([el(ID.Cluster, el(ID.Timecode, uintBytes(0)), el(ID.SimpleBlock, blockBody(1, [audio(5)])))]),
  ];
}

const KNOWN_CONTAINERS = ['ogg-opus', 'webm-opus', 'unknown'];

export const containerTargets: FuzzTarget[] = [
  {
    name: 'opus-packet-head',
    modules: [
      'src/player/inputs/opus-frames.ts opusPacketSamples',
      'src/player/inputs/ogg-opus.ts parseOpusHead',
      'src/player/inputs/file.ts sniffContainer',
    ],
    create: () => ({
      seeds: [
        opusHead(),
        opusHead(1, 0),
        packet(1, 2),
        Uint8Array.of(0xfc, 0xff, 0xfe),
        Uint8Array.of(0x03, 0x83),
        webmHeader(),
      ],
      isTypedRejection: inputError,
      run(input) {
        const samples = opusPacketSamples(input);
        oracle(
          samples === undefined || (samples % 120 === 0 && samples >= 120 && samples <= 5760),
          `samples ${samples}`,
        );
        oracle(KNOWN_CONTAINERS.includes(sniffContainer(input)), 'unknown container verdict');
        const head = parseOpusHead(input);
        oracle(
          head.channels === 1 || head.channels === 2,
          `OpusHead with ${head.channels} channels accepted`,
        );
        return 'ok';
      },
    }),
  },
  {
    name: 'webm-block',
    modules: ['src/player/inputs/webm-opus.ts blockFrames', 'src/audio/ebml.ts readVint'],
    create: () => ({
      seeds: (['none', 'xiph', 'fixed', 'ebml'] as const).map((lacing) =>
        blockBody(
          1,
          [packet(1), packet(2), new Uint8Array(300).fill(7), packet(3)].slice(0, lacing === 'none' ? 1 : 4),
          lacing,
        ),
      ),
      isTypedRejection: inputError,
      run(input) {
        const track = readVint(input, 0);
        if (typeof track === 'string') return 'rejected';
        const frames = blockFrames(input, track.length);
        const total = frames.reduce((n, f) => n + f.length, 0);
        oracle(total <= input.length - track.length - 3, 'laced frames exceed the block');
        return 'ok';
      },
    }),
  },
  {
    name: 'ogg-demux',
    modules: ['src/player/inputs/ogg-opus.ts OggOpusDemuxer'],
    create: () => ({
      seeds: oggSeeds(),
      isTypedRejection: inputError,
      mutate(seed: Uint8Array, rng: Rng, seeds: readonly Uint8Array[]) {
        const mutated = mutateBytes(seed, rng, seeds);
        return int(rng, 10) < 7 ? restampOggCrcs(mutated) : mutated;
      },
      run: (input) => chunkOracle(() => new OggOpusDemuxer(), input),
    }),
  },
  {
    name: 'webm-demux',
    modules: ['src/player/inputs/webm-opus.ts WebmOpusDemuxer'],
    create: () => ({
      seeds: webmSeeds(),
      isTypedRejection: inputError,
      run: (input) => chunkOracle(() => new WebmOpusDemuxer(), input),
    }),
  },
];
