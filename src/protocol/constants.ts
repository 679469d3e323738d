/**
 * Every Discord voice protocol constant, in one place.
 * Sources: docs/protocol (voice-gateway.md, media.md, dave.md). Comments across src cite those files
 * by name and section, e.g. "dave.md §6.11" means docs/protocol/dave.md, section 6.11.
 */

// ---- Main gateway (v10; only what joining voice needs) ----

export const MAIN_GATEWAY_VERSION = 10;

export const GatewayOpcode = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

export const GatewayCloseCode = {
  UnknownError: 4000,
  UnknownOpcode: 4001,
  DecodeError: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  SessionTimedOut: 4009,
  InvalidShard: 4010,
  InvalidIntents: 4013,
} as const;

export const GatewayIntent = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildVoiceStates: 1 << 7,
  GuildMessages: 1 << 9,
  /** Privileged: without it, MESSAGE_CREATE content is empty unless the bot is mentioned. */
  MessageContent: 1 << 15,
} as const;

// ---- Main gateway objects and REST (what the local Discord serves to gateway libraries) ----

export const ChannelType = {
  GuildText: 0,
  GuildVoice: 2,
  GuildCategory: 4,
  GuildStageVoice: 13,
} as const;

/** Permission bits (decimal strings on the wire). */
export const Permission = {
  CreateInstantInvite: 1n << 0n,
  Administrator: 1n << 3n,
  AddReactions: 1n << 6n,
  Stream: 1n << 9n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  UseExternalEmojis: 1n << 18n,
  Connect: 1n << 20n,
  Speak: 1n << 21n,
  MuteMembers: 1n << 22n,
  DeafenMembers: 1n << 23n,
  MoveMembers: 1n << 24n,
  UseVoiceActivity: 1n << 25n,
  ChangeNickname: 1n << 26n,
  UseApplicationCommands: 1n << 31n,
} as const;

/** What Discord gives @everyone in a new guild (the voice and text subset). */
export const DEFAULT_EVERYONE_PERMISSIONS =
  Permission.CreateInstantInvite |
  Permission.AddReactions |
  Permission.Stream |
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.UseExternalEmojis |
  Permission.Connect |
  Permission.Speak |
  Permission.UseVoiceActivity |
  Permission.ChangeNickname |
  Permission.UseApplicationCommands;

export const InteractionType = { Ping: 1, ApplicationCommand: 2 } as const;

export const InteractionCallbackType = {
  ChannelMessageWithSource: 4,
  DeferredChannelMessageWithSource: 5,
  DeferredUpdateMessage: 6,
  UpdateMessage: 7,
} as const;

export const ApplicationCommandOptionType = {
  String: 3,
  Integer: 4,
  Boolean: 5,
  User: 6,
  Channel: 7,
  Role: 8,
  Number: 10,
} as const;

/** Message flag: only the invoking user sees it. */
export const MESSAGE_FLAG_EPHEMERAL = 1 << 6;

/** REST JSON error codes (the `code` of `{ message, code }` error bodies). */
export const RestErrorCode = {
  General: 0,
  UnknownChannel: 10003,
  UnknownGuild: 10004,
  UnknownMember: 10007,
  UnknownMessage: 10008,
  UnknownUser: 10013,
  UnknownWebhook: 10015,
  UnknownApplicationCommand: 10063,
  UnknownInteraction: 10062,
  MissingAccess: 50001,
  InvalidJson: 50109,
  CannotSendEmptyMessage: 50006,
  InvalidFormBody: 50035,
  InteractionAlreadyAcknowledged: 40060,
} as const;

/** Voice gateway version this library speaks. */
export const VOICE_GATEWAY_VERSION = 8;

/** Voice gateway opcodes (voice-gateway.md §4). */
export const VoiceOpcode = {
  Identify: 0,
  SelectProtocol: 1,
  Ready: 2,
  Heartbeat: 3,
  SessionDescription: 4,
  Speaking: 5,
  HeartbeatAck: 6,
  Resume: 7,
  Hello: 8,
  Resumed: 9,
  ClientsConnect: 11,
  ClientDisconnect: 13,
  MediaSinkWants: 15,
  ClientFlags: 18,
  ClientPlatform: 20,
  DavePrepareTransition: 21,
  DaveExecuteTransition: 22,
  DaveTransitionReady: 23,
  DavePrepareEpoch: 24,
  DaveMlsExternalSender: 25,
  DaveMlsKeyPackage: 26,
  DaveMlsProposals: 27,
  DaveMlsCommitWelcome: 28,
  DaveMlsAnnounceCommitTransition: 29,
  DaveMlsWelcome: 30,
  DaveMlsInvalidCommitWelcome: 31,
} as const;
export type VoiceOpcode = (typeof VoiceOpcode)[keyof typeof VoiceOpcode];

/** Opcodes that travel as binary websocket frames (voice-gateway.md §3.2). */
export const BINARY_OPCODES: ReadonlySet<number> = new Set([25, 26, 27, 28, 29, 30]);

/** Voice websocket close codes (voice-gateway.md §8). */
export const VoiceCloseCode = {
  UnknownOpcode: 4001,
  FailedToDecode: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  SessionNoLongerValid: 4006,
  SessionTimeout: 4009,
  ServerNotFound: 4011,
  UnknownProtocol: 4012,
  Disconnected: 4014,
  VoiceServerCrashed: 4015,
  UnknownEncryptionMode: 4016,
  DaveRequired: 4017,
  BadRequest: 4020,
  RateLimited: 4021,
  CallTerminated: 4022,
} as const;
export type VoiceCloseCode = (typeof VoiceCloseCode)[keyof typeof VoiceCloseCode];

/** What a client does after the voice websocket closed with a code (voice-gateway.md §8). */
export type CloseAction =
  /** Open a new websocket and send op 7 Resume. */
  | 'resume'
  /** Get fresh credentials (main gateway op 4) and Identify again. */
  | 'rejoin'
  /** Stop: kicked, rate limited, call ended, or a bug on our side that would loop. */
  | 'final';

export function closeCodeAction(code: number): CloseAction {
  if (code < 4000 || code === VoiceCloseCode.VoiceServerCrashed) return 'resume';
  switch (code) {
    case VoiceCloseCode.AuthenticationFailed:
    case VoiceCloseCode.SessionNoLongerValid:
    case VoiceCloseCode.SessionTimeout:
    case VoiceCloseCode.ServerNotFound:
      return 'rejoin';
    default:
      // 4014/4021/4022 by protocol; 4001-4005, 4012, 4016, 4017, 4020 and unknown codes are our bugs
      // or need a capability we lack: reconnecting would loop.
      return 'final';
  }
}

/** Transport encryption modes we implement, in order of preference (media.md §3). */
export const EncryptionMode = {
  AesGcm: 'aead_aes256_gcm_rtpsize',
  XChaCha: 'aead_xchacha20_poly1305_rtpsize',
} as const;
export type EncryptionMode = (typeof EncryptionMode)[keyof typeof EncryptionMode];
export const SUPPORTED_MODES: readonly EncryptionMode[] = [EncryptionMode.AesGcm, EncryptionMode.XChaCha];

/** Speaking flags (voice-gateway.md §5.7). */
export const SpeakingFlag = {
  None: 0,
  Microphone: 1 << 0,
  Soundshare: 1 << 1,
  Priority: 1 << 2,
} as const;

// ---- Transport (media.md) ----

/** Transport key length in bytes (op 4 `secret_key`). */
export const TRANSPORT_KEY_BYTES = 32;
/** AEAD tag length for both rtpsize modes. */
export const TRANSPORT_TAG_BYTES = 16;
/** The nonce counter appended to each packet. */
export const TRANSPORT_NONCE_SUFFIX_BYTES = 4;
export const AES_GCM_NONCE_BYTES = 12;
export const XCHACHA_NONCE_BYTES = 24;
export const HCHACHA_NONCE_BYTES = 16;

// ---- RTP (media.md §4) ----

export const RTP_HEADER_BYTES = 12;
/** V=2, P=0, X=0, CC=0. */
export const RTP_VERSION_FLAGS = 0x80;
export const RTP_VERSION = 2;
/** Dynamic payload type Discord uses for Opus. */
export const OPUS_PAYLOAD_TYPE = 0x78;
/** RTCP payload types (after masking the marker bit) that share the socket: ignore them. */
export const RTCP_PAYLOAD_TYPE_MIN = 72;
export const RTCP_PAYLOAD_TYPE_MAX = 76;
/** One-byte header extension profile. */
export const RTP_EXTENSION_PROFILE_ONE_BYTE = 0xbede;

// ---- IP discovery (media.md §2) ----

export const IP_DISCOVERY_PACKET_BYTES = 74;
export const IP_DISCOVERY_BODY_BYTES = 70;
export const IP_DISCOVERY_REQUEST = 1;
export const IP_DISCOVERY_RESPONSE = 2;
export const IP_DISCOVERY_ADDRESS_BYTES = 64;
/** A lost request (e.g. a receive buffer overflowing on a loaded host) is re-sent soon: 12 × 250 ms = 3 s. */
export const IP_DISCOVERY_RETRY_MS = 250;
export const IP_DISCOVERY_ATTEMPTS = 12;

// ---- Keepalive (media.md §6) ----

export const UDP_KEEPALIVE_BYTES = 8;
export const UDP_KEEPALIVE_INTERVAL_MS = 5_000;
/**
 * SO_RCVBUF asked for each media socket. Linux's default (208 KiB) holds 256 voice datagrams (each
 * is charged about 830 bytes on loopback, whatever its payload): at 100 speakers, a reading thread
 * held up 50 ms (a busy or preempted main thread with the inline engine) lost audio in the kernel.
 * Linux caps the request at net.core.rmem_max and doubles it: 2 MiB, about half a second, where
 * rmem_max allows; 416 KiB, about 100 ms, under the common 208 KiB cap. Only what is queued is charged.
 */
export const UDP_RECEIVE_BUFFER_BYTES = 1024 * 1024;

// ---- Opus / audio (media.md §5) ----

export const SAMPLE_RATE = 48_000;
export const CHANNELS = 2;
export const FRAME_DURATION_MS = 20;
/** Samples per channel in one 20 ms frame, and the RTP timestamp increment. */
export const SAMPLES_PER_FRAME = 960;
/** Bytes of s16le interleaved stereo PCM in one 20 ms frame. */
export const PCM_FRAME_BYTES = SAMPLES_PER_FRAME * CHANNELS * 2;
export const OPUS_SILENCE_FRAME: Readonly<Uint8Array> = Uint8Array.of(0xf8, 0xff, 0xfe);
/** Silence frames sent when a burst ends. */
export const SILENCE_FRAMES_AT_END = 5;

// ---- Voice gateway timing ----

/** Consecutive heartbeats without an ACK before the client closes and resumes. */
export const MAX_MISSED_HEARTBEAT_ACKS = 3;
/** How long to wait for VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE after op 4 (voice-gateway.md §2.1). */
export const VOICE_JOIN_TIMEOUT_MS = 15_000;

// ---- DAVE (dave.md §2) ----

export const DAVE_PROTOCOL_VERSION = 1;
export const MLS_CIPHERSUITE = 2;
export const DAVE_MEDIA_KEY_BYTES = 16;
export const DAVE_TAG_BYTES = 8;
export const DAVE_MAGIC_MARKER = 0xfafa;
/** tag 8 + supplemental size 1 + marker 2. */
export const DAVE_SUPPLEMENTAL_FIXED_BYTES = 11;
export const DAVE_EXPORTER_LABEL = 'Discord Secure Frames v0';
export const DAVE_INIT_TRANSITION_ID = 0;
/** How long outgoing audio waits for the first send key while a group with others forms (then it is dropped). */
export const DAVE_SEND_KEY_WAIT_MS = 5_000;
/**
 * After op 4, how long a DAVE session without a send key waits for op 11 (which names the others
 * in the call) before it concludes it is alone and drops its audio at the real-time pace.
 */
export const DAVE_ALONE_GRACE_MS = 250;
export const DAVE_KEY_RETENTION_MS = 10_000;
export const DAVE_MAX_GENERATION_GAP = 250;
export const DAVE_MAX_MISSING_NONCES = 1000;
export const DAVE_MAX_FRAMES_PER_SECOND = 170;
export const DAVE_PRIVACY_CODE_DIGITS = 30;
export const DAVE_VERIFICATION_CODE_DIGITS = 45;
export const DAVE_CODE_GROUP_SIZE = 5;
export const DAVE_FINGERPRINT_VERSION = 0;
export const DAVE_SCRYPT = {
  N: 16384,
  r: 8,
  p: 2,
  keyLength: 64,
  salt: '24cab17a7af8ec2b82b412b92dab192e',
} as const;
/** DAVE op 27 operation types. */
export const DaveProposalsOperation = { Append: 0, Revoke: 1 } as const;

// ---- Voice session (src/voice/session.ts) ----

/** Default limit for each voice handshake step (open + Hello, Ready, UDP discovery, op 4, op 9). */
export const VOICE_HANDSHAKE_TIMEOUT_MS = 15_000;
/** Generation = truncated nonce >> 24 (dave.md §2). */
export const DAVE_GENERATION_SHIFT_BITS = 24;
/** The supplemental size S is one byte (dave.md §9.1). */
export const DAVE_MAX_SUPPLEMENTAL_BYTES = 255;

// ---- Local server: DAVE delivery service (src/server/dave) ----

/** Simulator choice: wait this long for every op 23 before sending op 22 anyway (dave.md §7.5, 1-2 s). */
export const DAVE_TRANSITION_TIMEOUT_MS = 1_500;
/** MLS protocol version mls10 (dave.md §2). */
export const MLS_PROTOCOL_VERSION = 1;

// ---- MLS code points (RFC 9420 §17) used by DAVE's MLS layer ----
export const MlsWireFormat = {
  PublicMessage: 1,
  PrivateMessage: 2,
  Welcome: 3,
  GroupInfo: 4,
  KeyPackage: 5,
} as const;
export const MlsContentType = { Application: 1, Proposal: 2, Commit: 3 } as const;
export const MlsSenderType = { Member: 1, External: 2, NewMemberProposal: 3, NewMemberCommit: 4 } as const;
export const MlsProposalType = {
  Add: 1,
  Update: 2,
  Remove: 3,
  PreSharedKey: 4,
  ReInit: 5,
  ExternalInit: 6,
  GroupContextExtensions: 7,
} as const;
export const MlsLeafNodeSource = { KeyPackage: 1, Update: 2, Commit: 3 } as const;
export const MlsCredentialType = { Basic: 1, X509: 2 } as const;
export const MlsExtensionType = { RatchetTree: 2, ExternalSenders: 5 } as const;

// ---- Receiving (src/receive) ----

/** Sequence numbers are 16-bit; timestamps 32-bit (media.md §4.1). */
export const RTP_SEQUENCE_MODULUS = 0x1_0000;
export const RTP_TIMESTAMP_MODULUS = 0x1_0000_0000;
/** Default jitter-buffer playout delay, and the bounds its adaptation stays within. */
export const JITTER_TARGET_DELAY_MS = 60;
export const JITTER_MIN_DELAY_MS = 40;
export const JITTER_MAX_DELAY_MS = 200;
/** Frames a jitter buffer holds at most (1.28 s); a packet further ahead is a sequence jump. */
export const JITTER_CAPACITY_FRAMES = 64;
/** After a stall, a forward sequence gap up to this many frames is concealed; more is a restart. */
export const JITTER_MAX_CONCEALED_GAP_FRAMES = 50;
/** A packet this far behind the playout point is late; further behind is a sequence restart. */
export const JITTER_MAX_LATE_FRAMES = 500;
/** No packet from a speaking user for this long ends the burst (no op 5 needed). */
export const SPEAKING_END_DELAY_MS = 200;
/** A user's Opus decoder is released after this long without packets. */
export const DECODER_IDLE_RELEASE_MS = 5_000;
/** A subscriber that does not read keeps at most this many frames queued (10 s); more are dropped. */
export const RECEIVE_MAX_QUEUED_FRAMES = 500;
/**
 * Timeline-aligned recording: a frame arriving this much later than its RTP timestamp predicts
 * re-anchors the sender's clock to arrival time (its clock paused between bursts or restarted). The
 * jitter buffer drops packets later than JITTER_MAX_DELAY_MS, so normal jitter stays below it.
 */
export const RECORD_REANCHOR_MS = JITTER_MAX_DELAY_MS;
/** Ogg Opus (RFC 7845): pages flushed after this many packets (1 s of 20 ms frames). */
export const OGG_PACKETS_PER_PAGE = 50;

// ---- Hostile-peer bounds (issue 12: nobody let in) ----

/**
 * Transport nonces remembered behind the highest one seen, per sender (SFU) and per SSRC (client).
 * 1024 packets is 20 s of one sender's audio, and still 0.8 s of reordering when the local SFU's
 * per-receiver counter is shared by 25 senders; an older nonce is dropped like a replay.
 */
export const TRANSPORT_REPLAY_WINDOW = 1024;
/** SSRCs whose replay windows a client keeps; the oldest is forgotten first (only authenticated packets add one). */
export const TRANSPORT_REPLAY_MAX_SSRCS = 1024;
/**
 * Hello `heartbeat_interval` is clamped to this range: a server's 0.001 ms or 2^31 ms (which
 * setInterval turns into 1 ms) must not make the client heartbeat in a loop. Discord sends
 * 13.75-41.25 s; the floor is one media frame, low enough for the local server's fast test setups.
 */
export const HEARTBEAT_INTERVAL_MIN_MS = 20;
export const HEARTBEAT_INTERVAL_MAX_MS = 300_000;
/**
 * Largest websocket message the client's voice socket and the local gateways accept. The largest
 * real voice message is a DAVE commit/welcome for a full call (tens of KB); a 90 MB frame grew the
 * server from 110 to 438 MB.
 */
export const VOICE_WS_MAX_PAYLOAD_BYTES = 1 << 20;
/** Largest main gateway (v10) message the local main gateway accepts (Discord's own limit is 4 KB for clients). */
export const MAIN_GATEWAY_MAX_PAYLOAD_BYTES = 1 << 20;
/**
 * Local voice gateway rate limit per connection: this many messages in any RATE_WINDOW_MS closes
 * the socket with 4021 (rate limited). Real clients send a heartbeat every ~14 s, op 5 per burst
 * and a handful of DAVE messages per transition.
 */
export const VOICE_GATEWAY_RATE_LIMIT_MESSAGES = 120;
export const VOICE_GATEWAY_RATE_WINDOW_MS = 1_000;
/** After closing a flooder (4021) the server stops reading it and drops the TCP connection this much later. */
export const VOICE_GATEWAY_CLOSE_GRACE_MS = 100;
/**
 * A client that does not read its socket: once this many bytes wait in the server's send buffer,
 * the connection is dropped (its session kept for Resume) instead of buffering without bound.
 */
export const VOICE_GATEWAY_MAX_BUFFERED_BYTES = 4 << 20;
/**
 * Users and SSRCs a client tracks from server messages (op 5, op 11). Discord voice channels hold
 * at most 99 users (stage audiences do not get SSRCs); the bound stops a hostile server growing maps.
 */
export const CLIENT_MAX_TRACKED_USERS = 10_000;
/**
 * How far a client lets the voice websocket and UDP disagree on order, in ms. Media of an SSRC
 * whose op 5 has not come yet is held this long; media that arrives up to this long after its
 * sender's op 13 (forwarded before the server said they left) is still theirs, and decrypted
 * with their DAVE key.
 */
export const CLIENT_WS_UDP_SKEW_MS = 1_000;
/** Credentials the local voice server keeps issued at once (users × guilds); more is refused. */
export const SERVER_MAX_ALLOCATIONS = 100_000;
