/** Receiving: the public face of src/receive (`connection.receiver`, streams, recorders). */
export { VoiceReceiver } from './receiver.js';
export type {
  MixedOptions as ReceiverMixedOptions,
  ReceiverInput,
  SpeakingInput,
  VoiceReceiverEvents,
  VoiceReceiverOptions,
} from './receiver.js';
export type { MixedAudioStream, MixedFrame, MixerOptions } from './mixer.js';
export { createVoiceReceiver, attachReceiver } from './session-feed.js';
export type { CreateVoiceReceiverOptions, ReceiverClockOptions, ReceiverFeedSource } from './session-feed.js';
export type {
  UserAudioStream,
  SubscribeOptions,
  ReceivedFrame,
  EndBehavior,
  ReceiveMode,
} from './user-stream.js';
export type { FrameStream } from './received-frame.js';
export type { UserReceiveStats, ReceiverTotals } from './receive-stats.js';
export type { JitterBufferOptions } from './jitter-buffer.js';
export { createWavWriter, createOggOpusWriter, recordWav, recordOggOpus } from './recorder.js';
export type {
  AlignOptions,
  FrameLike,
  OggOpusOptions,
  OpusHeadOptions,
  RecordOggOpusOptions,
  RecordWavOptions,
  RecordingWriter,
  WavFormat,
} from './recorder.js';
export { RecordingTimeline } from './recording-timeline.js';
export type { RecordingTimelineOptions, TimedFrame } from './recording-timeline.js';
export { AudioByteStream } from './byte-stream.js';
export type { AudioByteStreamOptions, ByteStreamFormat } from './byte-stream.js';
