/**
 * One Opus interface over the libraries a bot may have installed: @evan/opus (our dependency),
 * @discordjs/opus and opusscript. All work at 48 kHz stereo, 20 ms frames (media.md §5).
 *
 * The decoder side is shaped for a jitter buffer: `decode(frame)`, `conceal()` for a lost frame
 * (packet loss concealment), and `decodeFec(nextFrame)` where the backend can recover a lost frame
 * from the in-band FEC data of the next one.
 */
import { VoxcordError } from '../errors.js';
import { checkArg, checkArrayOf, checkOptions } from '../util/args.js';
import { installedPackageVersion, packageRequire } from '../util/installed-package.js';
import {
  CHANNELS,
  OPUS_SILENCE_FRAME,
  PCM_FRAME_BYTES,
  SAMPLE_RATE,
  SAMPLES_PER_FRAME,
} from '../protocol/constants.js';

export type OpusBackendName = '@evan/opus' | '@discordjs/opus' | 'opusscript';

export const DEFAULT_OPUS_PREFERENCE: readonly OpusBackendName[] = [
  '@evan/opus',
  '@discordjs/opus',
  'opusscript',
];

export interface OpusEncoderOptions {
  /** Target bitrate, bits/s (default: the library's, about 96-128 kb/s for stereo audio). */
  bitrate?: number;
  /** 'audio' (default) for music, 'voip' for speech. */
  application?: 'audio' | 'voip';
  /** Enable in-band FEC so receivers can recover a lost frame from the next one. */
  fec?: boolean;
  /** Expected packet loss, 0-100 (tunes FEC redundancy). */
  packetLossPercent?: number;
}

export interface OpusEncoder {
  /** Encodes one 20 ms frame: 3840 bytes of s16le interleaved stereo at 48 kHz. Returns a fresh array. */
  encode(pcm: Uint8Array): Uint8Array;
  setBitrate?(bps: number): void;
  /** Frees native/wasm memory where the backend needs it (idempotent). */
  close(): void;
}

export interface OpusDecoder {
  /** Decodes one Opus packet to interleaved stereo s16 samples (1920 for a 20 ms frame). Throws PACKET_MALFORMED. */
  decode(opus: Uint8Array): Int16Array;
  /** One 20 ms frame for a lost packet: real PLC where the backend supports it, else a decoded silence frame (a fade). */
  conceal(): Int16Array;
  /** How conceal() works with this backend. */
  readonly concealment: 'plc' | 'silence';
  /** Recovers the frame lost before `nextFrame` from its FEC data; absent when the backend cannot. */
  decodeFec?(nextFrame: Uint8Array): Int16Array;
  close(): void;
}

export interface OpusCodecFactory {
  readonly backend: OpusBackendName;
  createEncoder(options?: OpusEncoderOptions): OpusEncoder;
  createDecoder(): OpusDecoder;
}

export interface LoadOpusOptions {
  /** Module loader (tests inject one); defaults to dynamic import(). */
  importModule?: (specifier: string) => Promise<unknown>;
}

const CTL_SET_APPLICATION = 4000;
const CTL_SET_BITRATE = 4002;
const CTL_SET_INBAND_FEC = 4012;
const CTL_SET_PACKET_LOSS_PERC = 4014;
const APPLICATION_VOIP = 2048;
const APPLICATION_AUDIO = 2049;

// ---- shapes of the third-party modules (checked at load time) ----

interface EvanEncoder {
  encode(buf: ArrayBufferView): Uint8Array;
  bitrate: number | 'auto' | 'max';
  inband_fec: boolean;
  packet_loss: number;
}
interface EvanDecoder {
  decode(buf: ArrayBufferView): Uint8Array;
}
interface EvanModule {
  Encoder: new (o: { channels: 2; sample_rate: 48000; application: 'audio' | 'voip' }) => EvanEncoder;
  Decoder: new (o: { channels: 2; sample_rate: 48000 }) => EvanDecoder;
}

interface DiscordOpusCodec {
  encode(buf: Buffer): Buffer;
  decode(buf: Buffer): Buffer;
  setBitrate(bps: number): void;
  applyEncoderCTL(ctl: number, value: number): void;
}
interface DiscordOpusModule {
  OpusEncoder: new (rate: number, channels: number) => DiscordOpusCodec;
}

interface OpusScriptCodec {
  encode(buf: Buffer, frameSize: number): Buffer;
  decode(buf: Buffer): Buffer;
  setBitrate(bps: number): void;
  encoderCTL(ctl: number, arg: number): void;
  delete(): void;
}
type OpusScriptModule = new (rate: 48000, channels: number, application: number) => OpusScriptCodec;

function record(value: unknown): Record<string, unknown> | undefined {
  return (typeof value === 'object' || typeof value === 'function') && value !== null
    ? (value as Record<string, unknown>)
    : undefined;
}

/** CommonJS modules arrive under `default` when imported from ESM. */
function exportsOf(mod: unknown, key: string): unknown {
  const m = record(mod);
  if (m && typeof m[key] === 'function') return m[key];
  const d = record(m?.['default']);
  return d && typeof d[key] === 'function' ? d[key] : undefined;
}

// ---- helpers ----

function checkPcm(pcm: Uint8Array): void {
  if (!(pcm instanceof Uint8Array) || pcm.length !== PCM_FRAME_BYTES) {
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      `Opus encoder input must be ${PCM_FRAME_BYTES} bytes of s16le stereo PCM`,
    );
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Views decoded bytes as samples, copying only when the bytes are not 2-aligned. */
function toSamples(bytes: Uint8Array): Int16Array {
  const even = bytes.byteLength & ~1;
  if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, even / 2);
  const copy = new Uint8Array(even);
  copy.set(bytes.subarray(0, even));
  return new Int16Array(copy.buffer);
}

/** PLC may synthesise more than one frame (the backend's maximum); keep exactly 20 ms. */
function oneFrame(samples: Int16Array): Int16Array {
  const n = SAMPLES_PER_FRAME * CHANNELS;
  if (samples.length === n) return samples;
  const out = new Int16Array(n);
  out.set(samples.subarray(0, n));
  return out;
}

function encodeFailed(err: unknown): VoxcordError {
  return new VoxcordError('AUDIO_INPUT_ERROR', 'Opus encoding failed', { cause: err });
}

function decodeFailed(err: unknown): VoxcordError {
  return new VoxcordError('PACKET_MALFORMED', 'Opus frame could not be decoded', { cause: err });
}

/** Builds a decoder around a raw decode function, probing once whether empty input gives PLC. */
function makeDecoder(rawDecode: (bytes: Uint8Array) => Uint8Array, release: () => void): OpusDecoder {
  let plc = false;
  try {
    // libopus treats an empty packet as "lost": PLC. Some bindings reject it; probe on a fresh decoder.
    plc = rawDecode(new Uint8Array(0)).byteLength > 0;
  } catch {
    plc = false;
  }
  let closed = false;
  const decode = (opus: Uint8Array): Int16Array => {
    if (closed) throw new VoxcordError('DESTROYED', 'Opus decoder is closed');
    if (!(opus instanceof Uint8Array) || opus.length === 0) {
      throw new VoxcordError('PACKET_MALFORMED', 'empty Opus frame');
    }
    let out: Uint8Array;
    try {
      out = rawDecode(opus);
    } catch (err) {
      throw decodeFailed(err);
    }
    return toSamples(out);
  };
  return {
    concealment: plc ? 'plc' : 'silence',
    decode,
    conceal(): Int16Array {
      if (closed) throw new VoxcordError('DESTROYED', 'Opus decoder is closed');
      try {
        return oneFrame(toSamples(rawDecode(plc ? new Uint8Array(0) : OPUS_SILENCE_FRAME.slice())));
      } catch {
        return new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
      }
    },
    close(): void {
      if (closed) return;
      closed = true;
      release();
    },
  };
}

// ---- backends ----

function evanFactory(mod: unknown): OpusCodecFactory | undefined {
  const Encoder = exportsOf(mod, 'Encoder');
  const Decoder = exportsOf(mod, 'Decoder');
  if (!Encoder || !Decoder) return undefined;
  const m = { Encoder, Decoder } as EvanModule;
  return {
    backend: '@evan/opus',
    createEncoder(options = {}): OpusEncoder {
      const enc = new m.Encoder({
        channels: CHANNELS,
        sample_rate: SAMPLE_RATE,
        application: options.application ?? 'audio',
      });
      if (options.bitrate !== undefined) enc.bitrate = options.bitrate;
      if (options.fec !== undefined) enc.inband_fec = options.fec;
      if (options.packetLossPercent !== undefined) enc.packet_loss = options.packetLossPercent;
      return {
        encode(pcm) {
          checkPcm(pcm);
          try {
            return enc.encode(pcm);
          } catch (err) {
            throw encodeFailed(err);
          }
        },
        setBitrate(bps) {
          enc.bitrate = bps;
        },
        close() {
          // garbage collected
        },
      };
    },
    createDecoder(): OpusDecoder {
      const dec = new m.Decoder({ channels: CHANNELS, sample_rate: SAMPLE_RATE });
      return makeDecoder(
        (bytes) => dec.decode(bytes),
        () => {},
      );
    },
  };
}

function discordFactory(mod: unknown): OpusCodecFactory | undefined {
  const OpusEncoderClass = exportsOf(mod, 'OpusEncoder');
  if (!OpusEncoderClass) return undefined;
  const m = { OpusEncoder: OpusEncoderClass } as DiscordOpusModule;
  return {
    backend: '@discordjs/opus',
    createEncoder(options = {}): OpusEncoder {
      const enc = new m.OpusEncoder(SAMPLE_RATE, CHANNELS);
      // It starts as 'audio'; libopus takes another application before the first frame only.
      if (options.application === 'voip') enc.applyEncoderCTL(CTL_SET_APPLICATION, APPLICATION_VOIP);
      if (options.bitrate !== undefined) enc.setBitrate(options.bitrate);
      if (options.fec !== undefined) enc.applyEncoderCTL(CTL_SET_INBAND_FEC, options.fec ? 1 : 0);
      if (options.packetLossPercent !== undefined)
        enc.applyEncoderCTL(CTL_SET_PACKET_LOSS_PERC, options.packetLossPercent);
      return {
        encode(pcm) {
          checkPcm(pcm);
          try {
            return enc.encode(asBuffer(pcm));
          } catch (err) {
            throw encodeFailed(err);
          }
        },
        setBitrate(bps) {
          enc.setBitrate(bps);
        },
        close() {
          // garbage collected
        },
      };
    },
    createDecoder(): OpusDecoder {
      const dec = new m.OpusEncoder(SAMPLE_RATE, CHANNELS);
      return makeDecoder(
        (bytes) => dec.decode(asBuffer(bytes)),
        () => {},
      );
    },
  };
}

function opusscriptFactory(mod: unknown): OpusCodecFactory | undefined {
  const ctor = typeof mod === 'function' ? mod : record(mod)?.['default'];
  if (typeof ctor !== 'function') return undefined;
  const OpusScript = ctor as OpusScriptModule;
  return {
    backend: 'opusscript',
    createEncoder(options = {}): OpusEncoder {
      const app = options.application === 'voip' ? APPLICATION_VOIP : APPLICATION_AUDIO;
      const enc = new OpusScript(SAMPLE_RATE, CHANNELS, app);
      if (options.bitrate !== undefined) enc.encoderCTL(CTL_SET_BITRATE, options.bitrate);
      if (options.fec !== undefined) enc.encoderCTL(CTL_SET_INBAND_FEC, options.fec ? 1 : 0);
      if (options.packetLossPercent !== undefined)
        enc.encoderCTL(CTL_SET_PACKET_LOSS_PERC, options.packetLossPercent);
      let closed = false;
      return {
        encode(pcm) {
          checkPcm(pcm);
          if (closed) throw new VoxcordError('DESTROYED', 'Opus encoder is closed');
          try {
            return enc.encode(asBuffer(pcm), SAMPLES_PER_FRAME);
          } catch (err) {
            throw encodeFailed(err);
          }
        },
        setBitrate(bps) {
          enc.setBitrate(bps);
        },
        close() {
          if (closed) return;
          closed = true;
          enc.delete(); // wasm heap memory is not garbage collected
        },
      };
    },
    createDecoder(): OpusDecoder {
      const dec = new OpusScript(SAMPLE_RATE, CHANNELS, APPLICATION_AUDIO);
      return makeDecoder(
        (bytes) => dec.decode(asBuffer(bytes)),
        () => dec.delete(),
      );
    },
  };
}

const FACTORIES: Record<OpusBackendName, (mod: unknown) => OpusCodecFactory | undefined> = {
  '@evan/opus': evanFactory,
  '@discordjs/opus': discordFactory,
  opusscript: opusscriptFactory,
};

export const OPUS_INSTALL_HINT = 'install one: npm install @evan/opus (or @discordjs/opus, or opusscript)';

const defaultImport = (specifier: string): Promise<unknown> => import(specifier);

/** The factory for library `name` from its loaded module, checked by creating a codec pair; throws why not. */
function factoryFrom(name: OpusBackendName, mod: unknown): OpusCodecFactory {
  const factory = FACTORIES[name](mod);
  if (!factory) throw new Error('unexpected module shape');
  factory.createEncoder().close();
  factory.createDecoder().close();
  return factory;
}

/**
 * Loads the first Opus library of `preference` that is installed and works (a test encoder and
 * decoder are created). Rejects with OPUS_UNAVAILABLE saying how to install one.
 */
export async function loadOpus(
  preference: readonly OpusBackendName[] = DEFAULT_OPUS_PREFERENCE,
  options: LoadOpusOptions = {},
): Promise<OpusCodecFactory> {
  checkArrayOf(preference, 'preference', 'string');
  checkOptions(options);
  checkArg(options.importModule, 'importModule', 'function', 'optional');
  const importModule = options.importModule ?? defaultImport;
  const failures: Record<string, string> = {};
  for (const name of preference) {
    if (!Object.hasOwn(FACTORIES, name)) {
      failures[String(name)] = 'unknown Opus library';
      continue;
    }
    try {
      return factoryFrom(name, await importModule(name));
    } catch (err) {
      failures[name] = errorCodeOrMessage(err);
    }
  }
  throw new VoxcordError(
    'OPUS_UNAVAILABLE',
    `no usable Opus library (tried ${preference.join(', ') || 'none'}); ${OPUS_INSTALL_HINT}`,
    { details: { failures } },
  );
}

/** How an Opus library runs here: a native addon, or WebAssembly (slower, but runs everywhere). */
export type OpusBuild = 'native' | 'wasm';

export interface OpusLibraryStatus {
  name: OpusBackendName;
  /** Installed version; undefined when the library is not installed. */
  version: string | undefined;
  /** It loaded, and a test encoder and decoder work. */
  usable: boolean;
  /** Native or WebAssembly, when known. */
  build?: OpusBuild;
  /** Why it cannot be used, when installed but not usable. */
  error?: string;
}

/**
 * @evan/opus picks its build when first loaded: the native addon for the platform, else (no
 * prebuild, old glibc, musl, or OPUS_FORCE_WASM set) its WebAssembly build. Which one it took is
 * the one in the CommonJS module cache.
 */
function evanOpusBuild(): OpusBuild | undefined {
  const loaded = (path: string): boolean => {
    try {
      return packageRequire.cache[packageRequire.resolve(path)] !== undefined;
    } catch {
      return false;
    }
  };
  if (loaded('@evan/opus/node/index.js')) return 'native';
  if (loaded('@evan/opus/wasm/index.js')) return 'wasm';
  return undefined;
}

const BUILD_OF: Record<OpusBackendName, () => OpusBuild | undefined> = {
  '@evan/opus': evanOpusBuild,
  '@discordjs/opus': () => 'native',
  opusscript: () => 'wasm',
};

/**
 * Each Opus library of `preference`, probed the way loadOpus would use it (synchronously: all of
 * them ship CommonJS). The first usable one is what loadOpus picks.
 */
export function probeOpusLibraries(
  preference: readonly OpusBackendName[] = DEFAULT_OPUS_PREFERENCE,
): OpusLibraryStatus[] {
  return preference.map((name) => {
    const version = installedPackageVersion(name);
    if (version === undefined) return { name, version, usable: false };
    try {
      factoryFrom(name, packageRequire(name));
      const build = BUILD_OF[name]();
      return build === undefined ? { name, version, usable: true } : { name, version, usable: true, build };
    } catch (err) {
      return { name, version, usable: false, error: errorCodeOrMessage(err) };
    }
  });
}

function errorCodeOrMessage(err: unknown): string {
  const code = record(err)?.['code'];
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message : String(err);
}
