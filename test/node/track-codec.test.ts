import { describe, expect, it } from 'vitest';
import {
  decodeModifiedUtf8,
  decodeTrack,
  decodeTrackBytes,
  encodeModifiedUtf8,
  encodeTrack,
  encodeTrackBytes,
  LIVE_STREAM_LENGTH,
} from '../../src/node/track-codec.js';
import { isVoxcordError } from '../../src/errors.js';
import { hex } from '../support/bytes.js';
import { httpInfo } from './helpers.js';

const utf = (s: string): string => {
  const b = Buffer.from(s, 'utf8');
  return b.length.toString(16).padStart(4, '0') + b.toString('hex');
};

/** The bytes of the reference's worked example (Lavalink's docs sample), field by field. */
const SAMPLE_HEX =
  '4000008d' +
  '02' +
  utf('Rick Astley - Never Gonna Give You Up') +
  utf('RickAstleyVEVO') +
  '0000000000033c20' +
  utf('dQw4w9WgXcQ') +
  '00' +
  '01' +
  utf('https://www.youtube.com/watch?v=dQw4w9WgXcQ') +
  utf('youtube') +
  '0000000000000000';

/** The sample from Lavalink's docs, as published. */
const LAVALINK_DOCS_SAMPLE =
  'QAAAjQIAJVJpY2sgQXN0bGV5IC0gTmV2ZXIgR29ubmEgR2l2ZSBZb3UgVXAADlJpY2tBc3RsZXlWRVZPAAAAAAADPCAAC2RRdzR3OVdnWGNRAAEAK2h0dHBzOi8vd3d3LnlvdXR1YmUuY29tL3dhdGNoP3Y9ZFF3NHc5V2dYY1EAB3lvdXR1YmUAAAAAAAAAAA==';

describe('modified UTF-8', () => {
  it('writes NUL as C0 80 and a supplementary character as two 3-byte surrogates', () => {
    expect(hex(encodeModifiedUtf8('\u0000'))).toBe('c080');
    expect(hex(encodeModifiedUtf8('🎵'))).toBe('eda0bcedbeb5');
    expect(hex(encodeModifiedUtf8('ë'))).toBe('c3ab');
    expect(decodeModifiedUtf8(Buffer.from('54c3ab737420c08020eda0bcedbeb5', 'hex'))).toBe('Tëst \u0000 🎵');
  });

  it('rejects a broken sequence with a typed error', () => {
    expect(() => decodeModifiedUtf8(Uint8Array.of(0xe0, 0x80))).toThrow(/modified UTF-8/);
  });
});

describe('decodeTrack', () => {
  it('decodes the reference sample (version 2, youtube) field for field, with its base64 form', () => {
    const bytes = Buffer.from(SAMPLE_HEX, 'hex');
    expect(bytes.length).toBe(145);
    const b64 = bytes.toString('base64');
    expect(b64).toBe(LAVALINK_DOCS_SAMPLE);
    const decoded = decodeTrack(b64);
    expect(decoded.version).toBe(2);
    expect(decoded.info).toEqual({
      identifier: 'dQw4w9WgXcQ',
      isSeekable: true,
      author: 'RickAstleyVEVO',
      length: 212_000,
      isStream: false,
      position: 0,
      title: 'Rick Astley - Never Gonna Give You Up',
      uri: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
      artworkUrl: null,
      isrc: null,
      sourceName: 'youtube',
    });
  });

  it('reads version 1 (no flag, no version byte, no uri)', () => {
    const body =
      utf('t') + utf('a') + '0000000000000064' + utf('id') + '01' + utf('twitch') + '0000000000000005';
    const size = body.length / 2;
    const bytes = Buffer.from(size.toString(16).padStart(8, '0') + body, 'hex');
    const d = decodeTrackBytes(bytes);
    expect(d.version).toBe(1);
    expect(d.info).toMatchObject({
      title: 't',
      author: 'a',
      length: 100,
      isStream: true,
      isSeekable: false,
      uri: null,
    });
    expect(d.info.position).toBe(5);
  });

  it('skips bytes left over in the message', () => {
    const bytes = Buffer.from(SAMPLE_HEX, 'hex');
    const longer = Buffer.concat([bytes, Buffer.from('abcd', 'hex')]);
    longer.writeUInt32BE(0x40000000 | (141 + 2), 0);
    expect(decodeTrackBytes(longer).info.title).toBe('Rick Astley - Never Gonna Give You Up');
  });

  it('keeps an unknown source’s details and takes the position from the last 8 bytes', () => {
    const body =
      '03' +
      utf('t') +
      utf('a') +
      '0000000000000064' +
      utf('id') +
      '00' +
      '00' +
      '00' +
      '00' +
      utf('spotify') +
      'deadbeef' +
      '00000000000003e8';
    const bytes = Buffer.from((0x40000000 | (body.length / 2)).toString(16) + body, 'hex');
    const d = decodeTrackBytes(bytes);
    expect(d.info.sourceName).toBe('spotify');
    expect(d.info.position).toBe(1000);
    expect(hex(d.sourceDetails ?? new Uint8Array())).toBe('deadbeef');
    expect(hex(encodeTrackBytes(d))).toBe(hex(bytes));
  });

  it('rejects malformed input with INVALID_ARGUMENT', () => {
    const bad = [
      '',
      'not base64!!',
      'QUJD',
      Buffer.from(SAMPLE_HEX, 'hex').subarray(0, 60).toString('base64'),
    ];
    // a size larger than the data, an unknown version
    const big = Buffer.from(SAMPLE_HEX, 'hex');
    big.writeUInt32BE(0x40000000 | 500, 0);
    const v9 = Buffer.from(SAMPLE_HEX, 'hex');
    v9[4] = 9;
    bad.push(big.toString('base64'), v9.toString('base64'));
    for (const b of bad) {
      let caught: unknown;
      try {
        decodeTrack(b);
      } catch (err) {
        caught = err;
      }
      expect(isVoxcordError(caught, 'INVALID_ARGUMENT'), b).toBe(true);
    }
  });
});

describe('encodeTrack', () => {
  it('writes version 3 http tracks with the probe info, as the reference shows', () => {
    const bytes = encodeTrackBytes({ info: httpInfo(), probeInfo: 'ogg' });
    const h = hex(bytes);
    expect(h.slice(0, 8)).toBe((0x40000000 | (bytes.length - 4)).toString(16));
    expect(h.slice(8, 10 + 4 + 30)).toBe('03000f54c3ab737420c08020eda0bcedbeb5');
    expect(h.endsWith('000468747470' + '00036f6767' + '00000000000004d2')).toBe(true);
    const back = decodeTrackBytes(bytes);
    expect(back.version).toBe(3);
    expect(back.probeInfo).toBe('ogg');
    expect(back.info).toEqual(httpInfo());
  });

  it('round-trips local, http with probe parameters, streams, artwork and isrc', () => {
    const cases = [
      {
        info: httpInfo({ sourceName: 'local', identifier: '/music/a b.flac', uri: '/music/a b.flac' }),
        probeInfo: 'flac',
      },
      {
        info: httpInfo({ isStream: true, isSeekable: false, length: Number(LIVE_STREAM_LENGTH) }),
        probeInfo: 'mp3|icy',
      },
      {
        info: httpInfo({ artworkUrl: 'http://x/y.png', isrc: 'USRC17607839', uri: null }),
        probeInfo: 'matroska/webm',
      },
    ];
    for (const c of cases) {
      const encoded = encodeTrack(c);
      const d = decodeTrack(encoded);
      expect(d.info).toEqual(c.info);
      expect(d.probeInfo).toBe(c.probeInfo);
      expect(encodeTrack(d)).toBe(encoded);
    }
    // Live length is Long.MAX_VALUE on the wire.
    const live = encodeTrackBytes(cases[1] ?? { info: httpInfo(), probeInfo: 'x' });
    expect(hex(live)).toContain('7fffffffffffffff');
  });

  it('re-encodes the reference sample in version 3 and decodes it to the same info', () => {
    const d = decodeTrack(Buffer.from(SAMPLE_HEX, 'hex').toString('base64'));
    expect(decodeTrack(encodeTrack(d)).info).toEqual(d.info);
  });

  it('refuses an http track without probe info', () => {
    expect(() => encodeTrack({ info: httpInfo() })).toThrow(/probe info/);
  });
});
