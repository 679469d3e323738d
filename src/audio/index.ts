/** Audio building blocks' public face: Opus codec loading and frame sources. */
export { loadOpus } from './opus.js';
export type {
  LoadOpusOptions,
  OpusBackendName,
  OpusCodecFactory,
  OpusDecoder,
  OpusEncoder,
  OpusEncoderOptions,
} from './opus.js';
export { opusFrames } from './frame-source.js';
export type { FrameSourceOptions } from './frame-source.js';
export { parseOpusHead } from './ogg-opus-demuxer.js';
