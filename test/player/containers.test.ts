import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOpus } from '../../src/audio/opus.js';
import { isVoxcordError } from '../../src/errors.js';
import {
  AudioPlayer,
  fileInput,
  oggOpusInput,
  renderTones,
  sniffContainer,
  webmOpusInput,
} from '../../src/player/index.js';
import { oggCrc } from '../../src/audio/ogg-crc.js';
import { OggOpusDemuxer } from '../../src/audio/ogg-opus-demuxer.js';
import { PackingOggDemuxer } from '../../src/player/inputs/ogg-opus.js';
import type { PackedPackets } from '../../src/player/inputs/demuxed.js';
import { WebmOpusDemuxer } from '../../src/player/inputs/webm-opus.js';
import {
  ID,
  blockBody,
  concatBytes,
  el,
  elUnknown,
  oggPage,
  oggStreamPages,
  opusHead,
  text,
  trackEntry,
  uintBytes,
  webmHeader,
} from './containers.js';
import { FakeSession, hex, packet } from './helpers.js';
import { caught as catchError } from '../support/errors.js';
import { descriptorsOpenOn } from '../support/descriptors.js';

/** Real Opus packets of a generated tone (20 ms each). */
async function encodedTone(frames: number): Promise<Uint8Array[]> {
  const codec = await loadOpus();
  const encoder = codec.createEncoder();
  const pcm = renderTones({ notes: [{ frequency: 440, ms: frames * 20 }] });
  const out: Uint8Array[] = [];
  for (let f = 0; f < frames; f++) {
    const slice = pcm.slice(f * 1920, (f + 1) * 1920);
    out.push(encoder.encode(new Uint8Array(slice.buffer)));
  }
  encoder.close();
  return out;
}

/** A tone's packets with a 700-byte packet (laced over several segments) at `at`. */
async function toneWithBigPacket(frames: number, at: number): Promise<Uint8Array[]> {
  const packets = await encodedTone(frames);
  const big = new Uint8Array(700).fill(7);
  big[0] = 0xfc;
  return [...packets.slice(0, at), big, ...packets.slice(at)];
}

function demuxAll(
  demuxer: { push(c: Uint8Array): Uint8Array[]; end(): void },
  bytes: Uint8Array,
  chunk: number,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunk) out.push(...demuxer.push(bytes.slice(i, i + chunk)));
  demuxer.end();
  return out;
}

describe('Ogg Opus demuxer', () => {
  it('computes the Ogg CRC like the bitwise reference', () => {
    // "OggS" page of a known-good file would do; here: the checksum of the empty string and a vector.
    expect(oggCrc(new Uint8Array(0))).toBe(0);
    const page = oggPage({ flags: 2, serial: 1, sequence: 0, laces: [19], body: opusHead() });
    const stored = new DataView(page.buffer).getUint32(22, true);
    const zeroed = page.slice();
    zeroed.fill(0, 22, 26);
    expect(oggCrc(zeroed)).toBe(stored);
    // Checked in place: the field counts as zero, the page is not changed.
    expect(oggCrc(page, 22)).toBe(stored);
    expect(new DataView(page.buffer).getUint32(22, true)).toBe(stored);
    expect(oggCrc(page.subarray(0, 24), 22)).toBe(oggCrc(zeroed.subarray(0, 24)));
  });

  it('returns the encoder packets unchanged, whatever the chunking and page splitting', async () => {
    const all = await toneWithBigPacket(12, 5);
    const file = concatBytes(oggStreamPages(all, { maxSegments: 2 }));
    for (const chunk of [1, 7, 4096]) {
      const demuxer = new OggOpusDemuxer();
      const out = demuxAll(demuxer, file, chunk);
      expect(out.map(hex)).toEqual(all.map(hex));
      expect(demuxer.head).toMatchObject({ channels: 2, preSkip: 312, inputSampleRate: 48000 });
    }
  });

  // push() hands out copies (read here after the caller reused its chunk buffer); pushViews() views
  // of the chunk or of the demuxer's buffer, valid until the next call (read at once); pushPacked()
  // the packets copied back to back into groups of at least 300 bytes cut at packet ends, with
  // their ends (read after the reuse).
  it.each(['push', 'pushViews', 'pushPacked'] as const)(
    '%s gives every packet intact when the caller reuses its chunk buffer, whatever the chunking',
    async (method) => {
      const all = await toneWithBigPacket(40, 20);
      const file = concatBytes(oggStreamPages(all, { maxSegments: 3 }));
      for (const size of [1, 64, 333, 4096]) {
        const reused = new Uint8Array(size);
        const demuxer = new PackingOggDemuxer();
        const out: (Uint8Array | string)[] = [];
        for (let i = 0; i < file.length; i += size) {
          const part = file.subarray(i, i + size);
          reused.set(part);
          const bytes = reused.subarray(0, part.length);
          let packed: PackedPackets | undefined;
          if (method === 'pushPacked') packed = demuxer.pushPacked(bytes, 300);
          else {
            const got = demuxer[method](bytes);
            out.push(...(method === 'push' ? got : got.map(hex)));
          }
          reused.fill(0xee); // the caller writes its next read over the same memory
          if (packed !== undefined) {
            const { ends, groups, groupEnds } = packed;
            expect(groups.length).toBe(groupEnds.length);
            let i = 0;
            for (const [g, group] of groups.entries()) {
              const groupStart = i === 0 ? 0 : ends[i - 1]!;
              for (; i < groupEnds[g]!; i++)
                out.push(group.subarray((i === 0 ? 0 : ends[i - 1]!) - groupStart, ends[i]! - groupStart));
              expect(ends[i - 1]! - groupStart).toBe(group.length);
              if (g < groups.length - 1) expect(group.length).toBeGreaterThanOrEqual(300);
            }
            expect(i).toBe(ends.length);
          }
        }
        demuxer.end();
        expect(out.map((p) => (typeof p === 'string' ? p : hex(p)))).toEqual(all.map(hex));
      }
    },
  );

  it('ignores other logical streams and follows a chained Opus stream', () => {
    const a = [packet(1, 0), packet(1, 1)];
    const b = [packet(2, 0)];
    const other = oggPage({ flags: 2, serial: 99, sequence: 0, laces: [8], body: text('fishead\0') });
    const first = oggStreamPages(a, { serial: 1 });
    const interleaved = [first[0]!, other, ...first.slice(1)];
    const second = oggStreamPages(b, { serial: 2 });
    const out = demuxAll(new OggOpusDemuxer(), concatBytes([...interleaved, ...second]), 100);
    expect(out.map(hex)).toEqual([...a, ...b].map(hex));
  });

  it('drops a page with a bad checksum, counts it and resynchronises', () => {
    const packets = Array.from({ length: 6 }, (_, i) => packet(3, i));
    const pages = oggStreamPages(packets, { maxSegments: 2 });
    const bad = pages[3]!.slice();
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff; // corrupt the body of the page holding packets 2 and 3
    pages[3] = bad;
    const demuxer = new OggOpusDemuxer();
    const out = demuxAll(demuxer, concatBytes(pages), 50);
    expect(out.map(hex)).toEqual([0, 1, 4, 5].map((i) => hex(packet(3, i))));
    expect(demuxer.stats.corruptPages).toBeGreaterThanOrEqual(1);
  });

  it('reports a truncated file, a non-Ogg input and an Ogg file without Opus', () => {
    const file = concatBytes(oggStreamPages([packet(1, 0), packet(1, 1)]));
    const cut = new OggOpusDemuxer();
    expect(cut.push(file.subarray(0, file.length - 3))).toHaveLength(0);
    const truncated = catchError(() => cut.end());
    expect(isVoxcordError(truncated, 'AUDIO_INPUT_ERROR')).toBe(true);
    expect((truncated as Error).message).toMatch(/ended early/);

    const noEos = concatBytes(oggStreamPages([packet(1, 0)], { eos: false }));
    const d2 = new OggOpusDemuxer();
    d2.push(noEos);
    expect(() => d2.end()).toThrow(/ended early/);

    expect(() =>
      new OggOpusDemuxer().push(new TextEncoder().encode('RIFF....WAVEfmt this is a wav file')),
    ).toThrow(/not an Ogg stream/);
    expect(() => new OggOpusDemuxer().end()).toThrow(/empty/);

    const vorbis = concatBytes(
      oggStreamPages([packet(1, 0)], {
        headers: [concatBytes([Uint8Array.of(1), text('vorbis'), new Uint8Array(23)])],
      }),
    );
    const d3 = new OggOpusDemuxer();
    expect(d3.push(vorbis)).toHaveLength(0);
    expect(() => d3.end()).toThrow(/no Opus audio stream/);

    const surround = concatBytes(oggStreamPages([packet(1, 0)], { headers: [opusHead(6)] }));
    expect(() => new OggOpusDemuxer().push(surround)).toThrow(/mono and stereo/);
  });
});

describe('WebM Opus demuxer', () => {
  const audio = (n: number): Uint8Array => packet(9, n);
  function webm(clusters: Uint8Array[], tracks?: Uint8Array): Uint8Array {
    return concatBytes([
      webmHeader(),
      elUnknown(
        ID.Segment,
        el(ID.Info, el(ID.TimecodeScale, Uint8Array.of(0x0f, 0x42, 0x40))),
        el(ID.Void, new Uint8Array(10)),
        tracks ?? el(ID.Tracks, trackEntry(2, 'V_VP8', 1), trackEntry(1, 'A_OPUS', 2, opusHead())),
        ...clusters,
      ),
    ]);
  }

  it('extracts the Opus track, with every lacing, from live (unknown-size) clusters', () => {
    const video = new Uint8Array(300).fill(0x55);
    const laced = [audio(3), new Uint8Array(300).fill(0xfc), audio(5)];
    const file = webm([
      elUnknown(
        ID.Cluster,
        el(ID.Timecode, uintBytes(0)),
        el(ID.SimpleBlock, blockBody(2, [video])),
        el(ID.SimpleBlock, blockBody(1, [audio(0)])),
        el(ID.BlockGroup, el(ID.Block, blockBody(1, [audio(1)]))),
        el(ID.SimpleBlock, blockBody(1, [audio(2)])),
        el(ID.SimpleBlock, blockBody(1, laced, 'xiph')),
      ),
      el(
        ID.Cluster,
        el(ID.Timecode, uintBytes(100)),
        el(ID.SimpleBlock, blockBody(1, [audio(6), audio(7), new Uint8Array(10).fill(0xfc)], 'ebml')),
        el(ID.SimpleBlock, blockBody(1, [audio(8), audio(9)], 'fixed')),
      ),
    ]);
    const expected = [
      audio(0),
      audio(1),
      audio(2),
      ...laced,
      audio(6),
      audio(7),
      new Uint8Array(10).fill(0xfc),
      audio(8),
      audio(9),
    ];
    for (const chunk of [1, 13, 65536]) {
      expect(demuxAll(new WebmOpusDemuxer(), file, chunk).map(hex)).toEqual(expected.map(hex));
      // pushViews: views valid until the next call (read at once), whatever the caller does with its chunk.
      const reused = new Uint8Array(chunk);
      const demuxer = new WebmOpusDemuxer();
      const views: string[] = [];
      for (let i = 0; i < file.length; i += chunk) {
        const part = file.subarray(i, i + chunk);
        reused.set(part);
        views.push(...demuxer.pushViews(reused.subarray(0, part.length)).map(hex));
      }
      demuxer.end();
      expect(views).toEqual(expected.map(hex));
    }
  });

  it('reports non-WebM input, a file without Opus, and a truncated segment', () => {
    expect(() => new WebmOpusDemuxer().push(text('OggS not webm at all'))).toThrow(/not a WebM/);
    expect(() => new WebmOpusDemuxer().push(concatBytes([el(ID.EBML, el(ID.DocType, text('foo')))]))).toThrow(
      /not WebM/,
    );
    const vorbis = webm(
      [el(ID.Cluster, el(ID.SimpleBlock, blockBody(1, [audio(0)])))],
      el(ID.Tracks, trackEntry(1, 'A_VORBIS', 2)),
    );
    expect(() => new WebmOpusDemuxer().push(vorbis)).toThrow(/no Opus audio track/);

    const known = concatBytes([
      webmHeader(),
      el(
        ID.Segment,
        el(ID.Tracks, trackEntry(1, 'A_OPUS', 2)),
        el(
          ID.Cluster,
          el(ID.SimpleBlock, blockBody(1, [audio(0)])),
          el(ID.SimpleBlock, blockBody(1, [audio(1)])),
        ),
      ),
    ]);
    const complete = new WebmOpusDemuxer();
    expect(demuxAll(complete, known, 64)).toHaveLength(2);
    const cut = new WebmOpusDemuxer();
    cut.push(known.subarray(0, known.length - 2));
    expect(() => cut.end()).toThrow(/ended early/);
  });
});

describe('container inputs in the player', () => {
  let dir: string | undefined;
  const players: AudioPlayer[] = [];
  afterEach(() => {
    for (const p of players.splice(0)) p.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('plays an Ogg Opus file as passthrough frames identical to the encoded packets', async () => {
    const packets = await encodedTone(25);
    const file = concatBytes(oggStreamPages(packets, { maxSegments: 3 }));
    const player = new AudioPlayer();
    players.push(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(oggOpusInput(file));
    const frames = await session.pull(100);
    expect(frames.map(hex)).toEqual(packets.map(hex));
    expect(player.stats).toMatchObject({ framesPassthrough: 25, framesEncoded: 0 });
  });

  it('a truncated Ogg file plays what it has, then gives a track error; the queue goes on', async () => {
    const file = concatBytes(oggStreamPages([packet(1, 0), packet(1, 1), packet(1, 2)], { maxSegments: 1 }));
    const player = new AudioPlayer();
    players.push(player);
    const errors: string[] = [];
    player.on('trackError', (t, e) => errors.push(`${String(t.metadata)}:${e.message}`));
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(oggOpusInput(file.subarray(0, file.length - 5)), { metadata: 'cut' });
    player.enqueue(webmOpusInput(text('definitely not webm')), { metadata: 'junk' });
    player.enqueue(oggOpusInput(concatBytes(oggStreamPages([packet(2, 0)]))), { metadata: 'ok' });
    const frames = await session.pull(10);
    expect(frames.map(hex)).toEqual([packet(1, 0), packet(1, 1), packet(2, 0)].map(hex));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^cut:.*ended early/);
    expect(errors[1]).toMatch(/^junk:.*not a WebM/);
  });

  it('a file of many read chunks plays every packet intact, with earlier frames still held by the listener', async () => {
    // 600 frames of 40-700 bytes (several 64 KiB reads, packets laced over segments and pages):
    // the frames a listener keeps must not change while later chunks are read and demuxed.
    const packets = Array.from({ length: 600 }, (_, i) => {
      const p = new Uint8Array(40 + ((i * 97) % 660)).fill(i % 251);
      p[0] = 0xfc;
      p[p.length - 1] = i >> 8;
      return p;
    });
    dir = mkdtempSync(join(tmpdir(), 'voxcord-player-'));
    const path = join(dir, 'long.opus');
    writeFileSync(path, concatBytes(oggStreamPages(packets, { maxSegments: 40 })));
    const player = new AudioPlayer();
    players.push(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(fileInput(path, { probe: 'none', ffmpegPath: '/nonexistent/ffmpeg' }));
    // Pages of 85 packets of 700 bytes (60 KiB: a read ends inside the next one) and a truncated last page.
    const big = packets.slice(0, 300).map((p, i) => {
      const b = new Uint8Array(700).fill(p[1] ?? 0);
      b[0] = 0xfc;
      b[699] = i & 0xff;
      return b;
    });
    const bigPath = join(dir, 'big-pages.opus');
    const bigFile = concatBytes(oggStreamPages(big, { maxSegments: 255 }));
    writeFileSync(bigPath, bigFile.subarray(0, bigFile.length - 100));
    const errors: string[] = [];
    player.on('trackError', (_t, e) => errors.push(e.message));
    player.enqueue(fileInput(bigPath, { probe: 'none', ffmpegPath: '/nonexistent/ffmpeg' }));
    player.enqueue(oggOpusInput(concatBytes(oggStreamPages([packet(2, 0)]))));
    const frames = await session.pull(600 + 255 + 1);
    expect(frames.map(hex)).toEqual([...packets, ...big.slice(0, 255), packet(2, 0)].map(hex));
    // A frame held keeps a group of packets alive (about 2 KiB), not its whole read chunk.
    expect(Math.max(...frames.map((f) => f.buffer.byteLength))).toBeLessThan(2048 + 700);
    expect(errors).toEqual([expect.stringMatching(/ended early/)]);
  });

  /** `count` files of 700 frames of 200-500 bytes (about 4 reads of 64 KiB each), each track playing into its own session. */
  function poolTracks(count: number): { packets: Uint8Array[]; session: FakeSession }[] {
    dir = mkdtempSync(join(tmpdir(), 'voxcord-player-'));
    return Array.from({ length: count }, (_, f) => {
      const packets = Array.from({ length: 700 }, (_, i) => {
        const p = new Uint8Array(200 + ((i * 31 + f * 7) % 300)).fill((i + f * 50) % 251);
        p[0] = 0xfc;
        p[1] = f;
        p[p.length - 1] = i >> 8;
        return p;
      });
      const path = join(dir!, `pool-${f}.opus`);
      writeFileSync(path, concatBytes(oggStreamPages(packets, { maxSegments: 30 })));
      const player = new AudioPlayer();
      players.push(player);
      const session = new FakeSession();
      player.attach(session);
      player.enqueue(fileInput(path, { probe: 'none', ffmpegPath: '/nonexistent/ffmpeg' }));
      return { packets, session };
    });
  }

  it('tracks reading at once (their read buffers lent by one pool and given back) each play their own packets intact', async () => {
    // 4 files played together; every frame is held until the end, so a read buffer given back too
    // early shows up as changed bytes.
    const tracks = poolTracks(4);
    const heard = await Promise.all(tracks.map(({ session }) => session.pull(700)));
    heard.forEach((frames, f) => expect(frames.map(hex)).toEqual(tracks[f]!.packets.map(hex)));
  });

  it('a track that waits mid-chunk plays its own packets after another track read its whole file through the same pool', async () => {
    // A reads a few frames of its first 64 KiB chunk and waits; B then reads its whole file through
    // the shared read pool. Anything of A's chunk still in use when its buffer went back to the
    // pool would be B's next read.
    const tracks = poolTracks(2);
    const sessions = tracks.map((t) => t.session);
    const first = await sessions[0]!.pull(10);
    const other = await sessions[1]!.pull(700);
    const rest = await sessions[0]!.pull(690);
    expect([...first, ...rest].map(hex)).toEqual(tracks[0]!.packets.map(hex));
    expect(other.map(hex)).toEqual(tracks[1]!.packets.map(hex));
  });

  it.runIf(process.platform === 'linux')(
    'a file track stopped while its reads are under way leaves no descriptor of the file open',
    async () => {
      // 3,000 frames of 300 bytes: about 14 reads of 64 KiB; stopped after the first.
      const packets = Array.from({ length: 3000 }, (_, i) =>
        new Uint8Array(300).fill(i % 251).fill(0xfc, 0, 1),
      );
      dir = mkdtempSync(join(tmpdir(), 'voxcord-player-'));
      const path = join(dir, 'fds.opus');
      writeFileSync(path, concatBytes(oggStreamPages(packets, { maxSegments: 50 })));
      const openOnPath = (): number => descriptorsOpenOn(path);
      const player = new AudioPlayer();
      players.push(player);
      const session = new FakeSession();
      player.attach(session);
      player.enqueue(fileInput(path, { probe: 'none', ffmpegPath: '/nonexistent/ffmpeg' }));
      const frames = await session.pull(200);
      expect(frames.map(hex)).toEqual(packets.slice(0, 200).map(hex));
      expect(openOnPath()).toBe(1); // the track's one handle, reading
      player.stop();
      for (let i = 0; i < 100 && openOnPath() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(openOnPath()).toBe(0);
    },
  );

  it('fileInput finds a WebM Opus track written past the first 4 KiB (room its muxer reserved before the tracks)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'voxcord-player-'));
    const path = join(dir, 'late-tracks.webm');
    writeFileSync(
      path,
      concatBytes([
        webmHeader(),
        el(
          ID.Segment,
          el(ID.Void, new Uint8Array(6000)),
          el(ID.Tracks, trackEntry(1, 'A_OPUS', 2)),
          el(ID.Cluster, ...[0, 1, 2].map((i) => el(ID.SimpleBlock, blockBody(1, [packet(6, i)])))),
        ),
      ]),
    );
    const player = new AudioPlayer();
    players.push(player);
    const session = new FakeSession();
    player.attach(session);
    // No ffmpeg: taken for another container, it would fail instead of playing.
    player.enqueue(fileInput(path, { probe: 'none', ffmpegPath: '/nonexistent/ffmpeg' }));
    const frames = await session.pull(3);
    expect(frames.map(hex)).toEqual([packet(6, 0), packet(6, 1), packet(6, 2)].map(hex));
  });

  it('fileInput sniffs Ogg and WebM Opus files and demuxes them (no ffmpeg), seekable', async () => {
    dir = mkdtempSync(join(tmpdir(), 'voxcord-player-'));
    const oggPath = join(dir, 'a.opus');
    const webmPath = join(dir, 'b.webm');
    const oggPackets = Array.from({ length: 5 }, (_, i) => packet(4, i));
    writeFileSync(oggPath, concatBytes(oggStreamPages(oggPackets)));
    writeFileSync(
      webmPath,
      concatBytes([
        webmHeader(),
        el(
          ID.Segment,
          el(ID.Tracks, trackEntry(1, 'A_OPUS', 2)),
          el(ID.Cluster, ...[0, 1, 2].map((i) => el(ID.SimpleBlock, blockBody(1, [packet(5, i)])))),
        ),
      ]),
    );
    expect(sniffContainer(concatBytes(oggStreamPages(oggPackets)))).toBe('ogg-opus');
    const player = new AudioPlayer();
    players.push(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(fileInput(oggPath, { ffmpegPath: '/nonexistent/ffmpeg' }));
    player.enqueue(fileInput(webmPath, { ffmpegPath: '/nonexistent/ffmpeg' }));
    const first = await session.pull(2);
    player.seek(60);
    const rest = await session.pull(10);
    expect([...first, ...rest].map(hex)).toEqual(
      [packet(4, 0), packet(4, 1), packet(4, 3), packet(4, 4), packet(5, 0), packet(5, 1), packet(5, 2)].map(
        hex,
      ),
    );
  });
});
