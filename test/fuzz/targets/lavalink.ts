/**
 * What a Lavalink client sends a voxcord node, and the filters it maps onto (anyone who can reach
 * the node's port sends these): PATCH player bodies (src/node/player-update.ts), encoded tracks
 * (src/node/track-codec.ts), filter sets (src/player/filters/, library users' too). Oracles: an
 * accepted update holds only values in their documented ranges; an encoded track re-encodes to
 * one that decodes the same; a filter set keeps finite audio finite, makes at most 100 frames per
 * input frame, and leaves nothing behind that silences what comes after it.
 */
import { isDeepStrictEqual } from 'node:util';
import { isVoxcordError } from '../../../src/errors.js';
import { HttpError } from '../../../src/node/http-error.js';
import { parsePlayerUpdate } from '../../../src/node/player-update.js';
import {
  decodeTrack,
  encodeTrack,
  encodeTrackBytes,
  LIVE_STREAM_LENGTH,
} from '../../../src/node/track-codec.js';
import type { TrackInfo } from '../../../src/node/track-codec.js';
import { FilterChain, resolveFilters } from '../../../src/player/filters/chain.js';
import type { FilterSettings } from '../../../src/player/filters/chain.js';
import { DISTORTION_DEFAULTS } from '../../../src/player/filters/distortion.js';
import { httpInfo } from '../../node/helpers.js';
import { mutateJson, oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

const text = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
const invalidArgument = (err: unknown): boolean => isVoxcordError(err, 'INVALID_ARGUMENT');

/** The JSON in `input`, or undefined where it is not JSON (the node answers 400 before parsing). */
function json(input: Uint8Array): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(Buffer.from(input).toString('utf8')) as unknown };
  } catch {
    return undefined;
  }
}

// ---- filter sets ----

const FILTER_SETS: readonly FilterSettings[] = [
  { volume: 0.5 },
  {
    equalizer: [
      { band: 0, gain: 0.25 },
      { band: 14, gain: -0.25 },
    ],
  },
  { karaoke: { level: 1, monoLevel: 1, filterBand: 220, filterWidth: 100 } },
  { timescale: { speed: 1.2, pitch: 1.2, rate: 1 } },
  { timescale: { speed: 0.8, pitch: 1, rate: 0.9 } },
  { tremolo: { frequency: 4, depth: 0.75 } },
  { vibrato: { frequency: 10, depth: 0.9 } },
  { distortion: { ...DISTORTION_DEFAULTS, scale: 1.5 } },
  { rotation: { rotationHz: 0.2 } },
  { channelMix: { leftToLeft: 0.5, leftToRight: 0.5, rightToLeft: 0.5, rightToRight: 0.5 } },
  { lowPass: { smoothing: 20 } },
  {
    volume: 1.2,
    equalizer: [{ band: 3, gain: 0.5 }],
    karaoke: { level: 0.5 },
    timescale: { speed: 1.5 },
    tremolo: { frequency: 2, depth: 0.5 },
    vibrato: { frequency: 2, depth: 0.5 },
    distortion: { scale: 0.8 },
    rotation: { rotationHz: -1 },
    channelMix: { leftToRight: 0.2 },
    lowPass: { smoothing: 5 },
  },
];

const FRAME_VALUES = 1920;
/** 20 ms of two loud tones (220 Hz left, 330 Hz right). */
const TONE = Int16Array.from({ length: FRAME_VALUES }, (_, i) => {
  const t = Math.floor(i / 2) / 48_000;
  return Math.round(
    i % 2 === 0 ? 16_000 * Math.sin(2 * Math.PI * 220 * t) : 12_000 * Math.sin(2 * Math.PI * 330 * t),
  );
});
/** Input frames each set filters (enough for a timescale at 0.1 to make 100 per frame). */
const FUZZ_FRAMES = 3;
/** A timescale's first window may come out at once (53 frames at speed 10, pitch 0.1, rate 0.1). */
const TIMESCALE_BURST = 60;

/** Runs a filter set over loud audio, as the player does, then a plain low-pass after it. */
function exercise(settings: FilterSettings): void {
  const chain = new FilterChain(settings);
  // The low-pass keeps its memory across set(): whatever the set left in it shows afterwards.
  if (chain.applied.lowPass === undefined) chain.set({ ...settings, lowPass: { smoothing: 1.5 } });
  const out = new Int16Array(FRAME_VALUES);
  let pushed = 0;
  let pulled = 0;
  for (let f = 0; f < FUZZ_FRAMES; f++) {
    if (!chain.timescaleActive) {
      chain.process(TONE.slice());
      continue;
    }
    chain.push(TONE);
    pushed++;
    while (chain.pull(out)) pulled++;
    oracle(pulled <= 100 * pushed + TIMESCALE_BURST, `${pulled} frames out of ${pushed} in`);
  }
  chain.set({ lowPass: { smoothing: 1.5 } });
  // A timescale turned off plays out what it holds first.
  let drained = 0;
  while (chain.draining && chain.drain(out) > 0)
    oracle(++drained <= 100 * (pushed + 2) + TIMESCALE_BURST, 'a timescale turned off never drains');
  let loud = false;
  for (let f = 0; f < 3; f++) loud = chain.process(TONE.slice()).some((v) => Math.abs(v) > 1000) || loud;
  oracle(chain.nonFiniteSamples === 0, `${chain.nonFiniteSamples} samples NaN or infinite`);
  oracle(loud, 'silent under a plain low-pass after the set');
}

// ---- PATCH player bodies ----

const VOICE = { token: 'tok', endpoint: 'voice.example:443', sessionId: 'sess', channelId: '42' };
const PATCH_BODIES: readonly unknown[] = [
  { track: { encoded: 'QAAAjQIAJVJpY2sgQXN0bGV5', userData: { requester: '1' } } },
  { track: { identifier: 'http://127.0.0.1:8080/a.ogg' }, position: 1000, endTime: 5000 },
  { track: { encoded: null } },
  { encodedTrack: 'QAAAjQIAJVJpY2sgQXN0bGV5', noReplace: true },
  { identifier: 'https://example.com/b.mp3', volume: 150, paused: false },
  { paused: true },
  { position: 0, endTime: null },
  { volume: 0 },
  { voice: VOICE },
  { filters: FILTER_SETS[FILTER_SETS.length - 1] },
  { filters: { pluginFilters: { echo: { delay: 1 } } } },
  { filters: { timescale: { speed: 2 } }, voice: VOICE, track: { encoded: 'QAAA' }, paused: false },
];

const isInt = (v: unknown, min: number, max = Number.MAX_VALUE): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

// ---- encoded tracks ----

const TRACKS: readonly { info: TrackInfo; probeInfo?: string; sourceDetails?: Uint8Array }[] = [
  { info: httpInfo(), probeInfo: 'ogg/opus|x' },
  {
    info: {
      identifier: '/music/b.flac',
      isSeekable: true,
      author: 'A',
      length: 1,
      isStream: false,
      position: 0,
      title: 'B',
      uri: '/music/b.flac',
      artworkUrl: 'https://img/1.png',
      isrc: 'USRC17607839',
      sourceName: 'local',
    },
    probeInfo: 'flac',
  },
  {
    info: {
      identifier: 'dQw4w9WgXcQ',
      isSeekable: false,
      author: 'RickAstleyVEVO',
      length: Number(LIVE_STREAM_LENGTH),
      isStream: true,
      position: 0,
      title: 'Live',
      uri: null,
      artworkUrl: null,
      isrc: null,
      sourceName: 'youtube',
    },
  },
  {
    info: {
      identifier: 'sp:1',
      isSeekable: true,
      author: 'x',
      length: 200_000,
      isStream: false,
      position: 5,
      title: 'y',
      uri: 'https://open.example/track/1',
      artworkUrl: null,
      isrc: null,
      sourceName: 'spotify',
    },
    sourceDetails: Uint8Array.of(0, 1, 0x61, 1, 0, 0),
  },
];

export const lavalinkTargets: FuzzTarget[] = [
  {
    name: 'filter-chain',
    modules: ['src/player/filters/chain.ts resolveFilters, FilterChain and its stages'],
    create: () => ({
      seeds: FILTER_SETS.map(text),
      mutate: mutateJson,
      isTypedRejection: invalidArgument,
      run(input) {
        const parsed = json(input);
        if (parsed === undefined) return 'rejected';
        exercise(parsed.value as FilterSettings);
        return 'ok';
      },
    }),
  },
  {
    name: 'lavalink-player-update',
    modules: ['src/node/player-update.ts parsePlayerUpdate'],
    create: () => ({
      seeds: PATCH_BODIES.map(text),
      mutate: mutateJson,
      isTypedRejection: (err) => err instanceof HttpError && err.status === 400,
      run(input) {
        const parsed = json(input);
        if (parsed === undefined) return 'rejected';
        const u = parsePlayerUpdate(parsed.value);
        const track = u.newTrack;
        if (track !== undefined)
          oracle(
            'identifier' in track
              ? typeof track.identifier === 'string'
              : track.encoded === null || typeof track.encoded === 'string',
            'a track that is neither an identifier nor an encoded string or null',
          );
        if (u.volume !== undefined) oracle(isInt(u.volume, 0, 1000), `volume ${u.volume}`);
        if (u.position !== undefined) oracle(isInt(u.position, 0), `position ${u.position}`);
        if (u.endTime !== undefined && u.endTime !== null)
          oracle(isInt(u.endTime, 1), `endTime ${u.endTime}`);
        if (u.paused !== undefined) oracle(typeof u.paused === 'boolean', 'paused not a boolean');
        if (u.voice !== undefined)
          for (const v of Object.values(u.voice))
            oracle(typeof v === 'string' && v.trim() !== '', 'a blank voice field');
        if (u.filters !== undefined) resolveFilters(u.filters.settings); // throws: a finding
        return 'ok';
      },
    }),
  },
  {
    name: 'lavalink-track-codec',
    modules: ['src/node/track-codec.ts decodeTrack, encodeTrack'],
    create: () => ({
      seeds: TRACKS.map((t) => encodeTrackBytes(t)),
      isTypedRejection: invalidArgument,
      run(input) {
        const decoded = decodeTrack(Buffer.from(input).toString('base64'));
        let again;
        try {
          again = decodeTrack(encodeTrack(decoded));
        } catch (err) {
          // NUL read as one byte is written as two: a 65535-byte string may not fit again.
          if (invalidArgument(err) && /longer than 65535/.test((err as Error).message)) return 'rejected';
          throw err;
        }
        oracle(again.version === 3, 'not re-encoded as version 3');
        oracle(
          isDeepStrictEqual({ ...again, version: 0 }, { ...decoded, version: 0 }),
          'a track does not survive decode(encode(decode(x)))',
        );
        return 'ok';
      },
    }),
  },
];
