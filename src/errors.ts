/**
 * Typed errors. Every error voxcord raises or emits is a VoxcordError with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages. Messages never contain
 * secrets (tokens, keys); see util/redact.ts.
 */
export type VoxcordErrorCode =
  // configuration and usage
  | 'INVALID_ARGUMENT'
  | 'DESTROYED'
  // voice gateway signalling
  | 'GATEWAY_MALFORMED_FRAME'
  | 'GATEWAY_UNEXPECTED_MESSAGE'
  | 'GATEWAY_CLOSED'
  | 'GATEWAY_HANDSHAKE_TIMEOUT'
  | 'NO_SUPPORTED_ENCRYPTION_MODE'
  // media transport
  | 'IP_DISCOVERY_FAILED'
  | 'UDP_ERROR'
  | 'PACKET_MALFORMED'
  | 'PACKET_AUTH_FAILED'
  // audio
  | 'OPUS_UNAVAILABLE'
  | 'AUDIO_INPUT_ERROR'
  // joining
  | 'JOIN_TIMEOUT'
  | 'ADAPTER_ERROR'
  // DAVE
  | 'DAVE_PROTOCOL_ERROR'
  | 'DAVE_DECRYPT_FAILED'
  | 'DAVE_ENCRYPT_FAILED'
  // local server
  | 'SERVER_ERROR'
  // waiting for a state (entersState)
  | 'STATE_TIMEOUT'
  // main gateway (built-in gateway client, voice connections)
  | 'GATEWAY_AUTH_FAILED'
  | 'RECONNECT_FAILED';

export class VoxcordError extends Error {
  override readonly name = 'VoxcordError';
  readonly code: VoxcordErrorCode;
  /** Extra structured context (never secrets). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: VoxcordErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/**
 * True for a VoxcordError (with `code`, when given). Also for one from the other copy of voxcord
 * when a process loads both its ESM and CommonJS builds, where `instanceof` is false.
 */
export function isVoxcordError(value: unknown, code?: VoxcordErrorCode): value is VoxcordError {
  const ours =
    value instanceof VoxcordError ||
    (value instanceof Error &&
      value.name === 'VoxcordError' &&
      typeof (value as { code?: unknown }).code === 'string');
  return ours && (code === undefined || (value as VoxcordError).code === code);
}

/** Normalises anything thrown into an Error (for events and logs). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
