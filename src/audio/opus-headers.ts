/**
 * The two Opus header packets of RFC 7845 §5 (carried by Ogg pages or a WebM CodecPrivate):
 * OpusHead's layout and OpusTags' comments. One home for the player's demuxers and the node's
 * probe; whether a stream can be played is the player's call (parseOpusHead).
 */
import { checkArg } from '../util/args.js';
import { startsWithAscii } from '../util/bytes.js';
import { commentFields, readVorbisComment } from './vorbis-comment.js';

export interface OpusHead {
  version: number;
  channels: number;
  preSkip: number;
  inputSampleRate: number;
  outputGain: number;
  mappingFamily: number;
}

/** The fields of an OpusHead packet (§5.1), undefined when it is not one or is too short. */
export function readOpusHead(packet: Uint8Array): OpusHead | undefined {
  if (!startsWithAscii(packet, 'OpusHead') || packet.length < 19) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  return {
    version: view.getUint8(8),
    channels: view.getUint8(9),
    preSkip: view.getUint16(10, true),
    inputSampleRate: view.getUint32(12, true),
    outputGain: view.getInt16(16, true),
    mappingFamily: view.getUint8(18),
  };
}

/**
 * The comments of an OpusTags packet (§5.2: "OpusTags", then a Vorbis comment list:
 * audio/vorbis-comment.ts), undefined when it is malformed. Public: its return type is spelled out
 * so that VorbisComment stays internal.
 */
export function parseOpusTags(packet: Uint8Array): { vendor: string; comments: string[] } | undefined {
  checkArg(packet, 'packet', 'bytes');
  if (!startsWithAscii(packet, 'OpusTags')) return undefined;
  return readVorbisComment(packet, 8);
}

/**
 * The comment fields of an OpusTags packet by upper-cased name (names are case-insensitive), each
 * the first non-empty value, trimmed. Empty for a malformed packet.
 */
export function opusTagFields(packet: Uint8Array): Map<string, string> {
  return commentFields(parseOpusTags(packet)?.comments ?? []);
}

/** The TITLE comment of an OpusTags packet. */
export function opusTagsTitle(packet: Uint8Array): string | undefined {
  return opusTagFields(packet).get('TITLE');
}
