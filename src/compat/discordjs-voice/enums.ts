/** The @discordjs/voice 0.19 enums, with the same member names and values. */

export enum StreamType {
  Arbitrary = 'arbitrary',
  OggOpus = 'ogg/opus',
  Opus = 'opus',
  Raw = 'raw',
  WebmOpus = 'webm/opus',
}

export enum VoiceConnectionStatus {
  Connecting = 'connecting',
  Destroyed = 'destroyed',
  Disconnected = 'disconnected',
  Ready = 'ready',
  Signalling = 'signalling',
}

export enum VoiceConnectionDisconnectReason {
  WebSocketClose = 0,
  AdapterUnavailable = 1,
  EndpointRemoved = 2,
  Manual = 3,
}

export enum AudioPlayerStatus {
  AutoPaused = 'autopaused',
  Buffering = 'buffering',
  Idle = 'idle',
  Paused = 'paused',
  Playing = 'playing',
}

export enum NoSubscriberBehavior {
  Pause = 'pause',
  Play = 'play',
  Stop = 'stop',
}

export enum EndBehaviorType {
  Manual = 0,
  AfterSilence = 1,
  AfterInactivity = 2,
}
