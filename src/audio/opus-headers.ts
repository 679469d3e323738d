/**
 * The two Opus header packets of RFC 7845 §5 (carried by Ogg pages or a WebM CodecPrivate):
 * OpusHead's layout and OpusTags' comments. One home for the player's demuxers and the node's
 * probe; whether a stream can be played is the player's call (parseOpusHead).
 */

export interface OpusHead {
  version: number;
  channels: number;
  preSkip: number;
  inputSampleRate: number;
  outputGain: number;
  mappingFamily: number;
}

/** Whether `bytes` begins with the ASCII `text` (a packet's magic signature). */
export function startsWithAscii(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
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
 * The comments of an OpusTags packet (§5.2: "OpusTags", vendor length + vendor, count, then
 * length + "KEY=value" each, all lengths u32 little-endian), undefined when it is malformed.
 */
export function parseOpusTags(packet: Uint8Array): { vendor: string; comments: string[] } | undefined {
  if (!startsWithAscii(packet, 'OpusTags') || packet.length < 16) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const text = new TextDecoder();
  let pos = 8;
  const vendorLength = view.getUint32(pos, true);
  pos += 4;
  if (pos + vendorLength + 4 > packet.length) return undefined;
  const vendor = text.decode(packet.subarray(pos, pos + vendorLength));
  pos += vendorLength;
  const count = view.getUint32(pos, true);
  pos += 4;
  const comments: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + 4 > packet.length) return undefined;
    const length = view.getUint32(pos, true);
    pos += 4;
    if (pos + length > packet.length) return undefined;
    comments.push(text.decode(packet.subarray(pos, pos + length)));
    pos += length;
  }
  return { vendor, comments };
}

/**
 * The comment fields of an OpusTags packet by upper-cased name (names are case-insensitive), each
 * the first non-empty value, trimmed. Empty for a malformed packet.
 */
export function opusTagFields(packet: Uint8Array): Map<string, string> {
  const fields = new Map<string, string>();
  for (const comment of parseOpusTags(packet)?.comments ?? []) {
    const eq = comment.indexOf('=');
    if (eq <= 0) continue;
    const key = comment.slice(0, eq).toUpperCase();
    const value = comment.slice(eq + 1).trim();
    if (value !== '' && !fields.has(key)) fields.set(key, value);
  }
  return fields;
}

/** The TITLE comment of an OpusTags packet. */
export function opusTagsTitle(packet: Uint8Array): string | undefined {
  return opusTagFields(packet).get('TITLE');
}
