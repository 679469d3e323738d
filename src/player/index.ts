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
export { Mixer, mixFrames, softClip, SOFT_CLIP_KNEE } from './mixer.js';
export type { MixInput, MixResult, MixerInput } from './mixer.js';
export { FrameFanout, FanoutReader, DEFAULT_FANOUT_WINDOW } from './fanout.js';
export { DEMO_TONES, renderTones, toneInput, toneLength } from './inputs/tone.js';
export type { ToneNote, ToneSpec } from './inputs/tone.js';
export { pcmInput } from './inputs/pcm.js';
export { opusFramesInput, opusPacketSamples } from './inputs/opus-frames.js';
export { OggOpusDemuxer, oggOpusInput, parseOpusHead, parseOpusTags } from './inputs/ogg-opus.js';
export type { OpusHead } from './inputs/ogg-opus.js';
export { WebmOpusDemuxer, webmOpusInput } from './inputs/webm-opus.js';
export { ffmpegInput, probeFfmpeg, FFMPEG_INSTALL_HINT } from './inputs/ffmpeg.js';
export type { FfmpegOptions } from './inputs/ffmpeg.js';
export { fileInput, sniffContainer } from './inputs/file.js';
export type { FileInputOptions } from './inputs/file.js';
export type {
  ByteInput,
  FrameSource,
  MediaInfo,
  OpenContext,
  SourceFrame,
  TrackInput,
} from './inputs/source.js';
export * from './filters/index.js';
