/**
 * The Vorbis comment list (vendor length + vendor, count, then length + "KEY=value" each, all
 * lengths u32 little-endian): the body of an OpusTags packet (RFC 7845 §5.2) and of a FLAC
 * VORBIS_COMMENT metadata block. One home for both readers.
 */

export interface VorbisComment {
  vendor: string;
  comments: string[];
}

/** The comment list starting at `offset` (within `bytes`), undefined when it is cut or malformed. */
export function readVorbisComment(bytes: Uint8Array, offset: number): VorbisComment | undefined {
  if (offset < 0 || offset + 8 > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  let pos = offset;
  const vendorLength = view.getUint32(pos, true);
  pos += 4;
  if (pos + vendorLength + 4 > bytes.length) return undefined;
  const vendor = text.decode(bytes.subarray(pos, pos + vendorLength));
  pos += vendorLength;
  const count = view.getUint32(pos, true);
  pos += 4;
  const comments: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + 4 > bytes.length) return undefined;
    const length = view.getUint32(pos, true);
    pos += 4;
    if (pos + length > bytes.length) return undefined;
    comments.push(text.decode(bytes.subarray(pos, pos + length)));
    pos += length;
  }
  return { vendor, comments };
}

/**
 * Comments by upper-cased name (names are case-insensitive), each the first non-empty value,
 * trimmed.
 */
export function commentFields(comments: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const comment of comments) {
    const eq = comment.indexOf('=');
    if (eq <= 0) continue;
    const key = comment.slice(0, eq).toUpperCase();
    const value = comment.slice(eq + 1).trim();
    if (value !== '' && !fields.has(key)) fields.set(key, value);
  }
  return fields;
}
