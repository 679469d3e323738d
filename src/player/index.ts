/** Playing: the public face of src/player (the mixer, fanout and demuxers stay inside). */
export { AudioPlayer, DEFAULT_STALL_TIMEOUT_MS, DEFAULT_POSITION_INTERVAL_MS } from './audio-player.js';
export type {
  AudioPlayerEvents,
  AudioPlayerOptions,
  LoopMode,
  NoSubscriberBehavior,
  PlayerDropReason,
  PauseMode,
  PlayerStats,
  PlayerStatus,
  PlayerSubscription,
  PlayerTarget,
  TrackEndReason,
} from './audio-player.js';
export { Track, MAX_VOLUME } from './track.js';
export type { TrackMarker, TrackOptions } from './track.js';
export { DEMO_TONES, renderTones, toneInput, toneLength } from './inputs/tone.js';
export type { ToneNote, ToneSpec } from './inputs/tone.js';
export { pcmInput } from './inputs/pcm.js';
export { opusFramesInput, opusPacketSamples } from './inputs/opus-frames.js';
export { oggOpusInput } from './inputs/ogg-opus.js';
export { parseOpusTags } from '../audio/opus-headers.js';
export type { OpusHead } from '../audio/opus-headers.js';
export { webmOpusInput } from './inputs/webm-opus.js';
export { ffmpegInput, probeFfmpeg, FFMPEG_INSTALL_HINT } from './inputs/ffmpeg.js';
export type {
  Child as FfmpegChild,
  FfmpegOptions,
  FfmpegProcess,
  FfmpegSpawnListener,
} from './inputs/ffmpeg.js';
export { fileInput, sniffContainer } from './inputs/file.js';
export { httpInput } from './inputs/http.js';
export type { Container, FileInputOptions } from './inputs/file.js';
export type {
  ByteInput,
  FrameSource,
  MediaInfo,
  OpenContext,
  SourceFrame,
  TrackInput,
} from './inputs/source.js';
export * from './filters/index.js';
