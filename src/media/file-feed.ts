/**
 * A local Ogg Opus file played straight into one channel's send queue on the channel's own thread
 * (the media worker): read, demuxed and queued there, so no frame of it crosses to the main
 * thread or lives there. What the feed costs per player is its share of the send queue's store;
 * the read buffers are pooled per thread and lent only for the moment between a read and the
 * queueing of its packets (whole pages are read, so the demuxer keeps no partial page: a copy
 * made per read that waits for a full collection grew a worker's malloc arenas by ~70 KiB per
 * player in the prototype).
 *
 * The main thread opens the file (openFeedFile) and hands the worker its descriptor: the worker
 * never waits on libuv's threadpool, whose normal-priority threads can hold its queue's lock while
 * a real-time worker holds their core. On a local file system, with the first pages read into
 * memory by the main thread, the reads run on the worker's own thread (`readSync`): a page-cache
 * read costs ~3 µs of CPU there against ~38 µs through the threadpool, and it cannot come back
 * late. Then only 200 ms of a page's frames are queued at a time; the rest are read again from the
 * page cache when due (their CRC was checked on the first read). The main thread closes the file
 * once the feed has ended.
 *
 * The main side owns the timeline: it starts a feed at a track's start, hears its progress (the
 * frames taken at their 20 ms tick, sent or dropped there) and its end, and on anything the feed
 * does not do (pause, seek, volume, filters, a session change) stops it and plays on from the
 * frames taken, so nothing is heard twice or skipped.
 */
import { read, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { OggOpusDemuxer } from '../audio/ogg-opus-demuxer.js';
import type { PacketSink } from '../audio/ogg-opus-demuxer.js';
import { isOggCapture, oggPageLength, wholeOggPagesEnd } from '../audio/ogg-page.js';
import { inputError } from '../audio/input-error.js';
import { toError } from '../errors.js';
import { readsOnThisThread } from './local-file.js';
import type { FileFeedEnd, FileFeedOptions } from './media-engine.js';

/** What a feed queues into: a channel's send queue. */
export interface FeedTarget {
  enqueue(frame: Uint8Array): boolean;
  /** Frames queued and not yet taken at a tick. */
  readonly queued: number;
  /** After the queue empties, send the trailing silence frames. */
  endBurst(): void;
  clearQueue(): void;
}

/** Pool buffers: a page of a ~100 kbit/s stream with the usual 1 s pages fits. */
const READ_BYTES = 16 * 1024;
/** Reading through libuv's threadpool: the next read starts when the queue falls to 200 ms. */
const REFILL_BELOW = 10;
/**
 * Reading on this thread: the queue is topped up at 100 ms with 200 ms, so the send queue's store
 * holds ~15 frames instead of a page plus the threadpool's margin (~60 frames, 16 KiB at the
 * usual bitrates).
 */
const HERE_REFILL_BELOW = 5;
const HERE_REFILL_FRAMES = 10;
/** A read on this thread that took longer (a cold disk) sends the feed's reads to the threadpool. */
const SLOW_READ_MS = 4;
/** Progress is reported every this many frames taken (a second). */
const PROGRESS_FRAMES = 50;
/** Idle read buffers kept per thread (a read holds one only until its packets are queued). */
const POOL_MAX = 8;
const pool: Buffer[] = [];
const EMPTY = new Uint8Array(0);

/** The file a feed plays, opened by the main thread (openFeedFile). */
export interface FeedFile {
  fd: number;
  /** Its reads may run on the media worker's thread (a local file system, its first pages in memory). */
  here: boolean;
}

/** The main thread's first reads (their bytes are not kept: concurrent opens may share it). */
let warmUp: Buffer | undefined;

/**
 * Opens `path` for a feed, on the main thread: the descriptor goes to the worker, and the handle
 * stays here to be closed once the feed has ended.
 */
export async function openFeedFile(path: string): Promise<{ handle: FileHandle; here: boolean }> {
  const [handle, here] = await Promise.all([open(path, 'r'), readsOnThisThread(path)]);
  try {
    // The worker's first read then finds its pages in memory, and the kernel's read-ahead started.
    if (here) await handle.read((warmUp ??= Buffer.allocUnsafeSlow(READ_BYTES)), 0, READ_BYTES, 0);
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  return { handle, here };
}

/** How a feed reads its file (tests replace it). */
export interface FeedFiles {
  readHere(fd: number, buffer: Uint8Array, length: number, position: number): number;
  /** A read through libuv's threadpool (a remote file system, or after a slow read here). */
  readPooled(fd: number, buffer: Uint8Array, length: number, position: number): Promise<number>;
  /** Milliseconds, to time the reads made here. */
  now(): number;
}

export const localFeedFiles: FeedFiles = {
  readHere: (fd, buffer, length, position) => readSync(fd, buffer, 0, length, position),
  readPooled: (fd, buffer, length, position) =>
    new Promise((resolve, reject) => {
      read(fd, buffer, 0, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
    }),
  now: () => performance.now(),
};

export class OggFileFeed implements PacketSink {
  private readonly demuxer = new OggOpusDemuxer();
  private fd: number | undefined;
  /** The file is read on this thread (until a read here is slow). */
  private here = false;
  /** Where the next unread page starts. */
  private position = 0;
  private enqueued = 0;
  /** Frames of the file passed over so far (FileFeedOptions.skipFrames). */
  private skipped = 0;
  /** Frames taken from the file (queued, or left in it for later): at most `maxFrames`. */
  private kept = 0;
  private readonly maxFrames: number;
  /**
   * Frames checked and kept that wait in the file, to be read again when due: (file offset, length)
   * pairs, from `laterAt` to `laterEnd`. Made only while reads run here.
   */
  private later = new Float64Array(0);
  private laterAt = 0;
  private laterEnd = 0;
  /** The read being demuxed: its bytes, their file offset, and how many of its frames were queued. */
  private chunk: Uint8Array = EMPTY;
  private chunkAt = 0;
  private chunkQueued = 0;
  private reading = false;
  /** `frames` at the last progress report. */
  private reported = 0;
  /** No more frames to take from the file (its end was read, or endFrame reached). */
  private fileDone = false;
  private eof = false;
  private ended = false;
  /** The frames of the end, once ended. */
  private endFrames = 0;
  /** Frames it had queued and threw away at its end (stopped, failed, or the channel closed). */
  discarded = 0;

  /**
   * `file`: the opened file, or undefined when it could not be opened. `onEnd` is called once (the
   * file is not read after it); `onProgress` every PROGRESS_FRAMES frames taken.
   */
  constructor(
    private readonly target: FeedTarget,
    private readonly file: Promise<FeedFile | undefined>,
    private readonly options: FileFeedOptions,
    private readonly onEnd: (end: FileFeedEnd) => void,
    private readonly onProgress: () => void,
    private readonly files: FeedFiles = localFeedFiles,
  ) {
    this.maxFrames = Math.max(0, (options.endFrame ?? Infinity) - (options.skipFrames ?? 0));
  }

  /** Frames taken at their tick so far (sent, or dropped there). */
  get frames(): number {
    return this.enqueued - this.target.queued;
  }

  /** Starts the feed, and keeps it going: call after every frame the queue gives up. */
  pump(): void {
    if (this.ended) return;
    const queued = this.target.queued;
    if (this.enqueued - queued - this.reported >= PROGRESS_FRAMES) {
      this.reported = this.enqueued - queued;
      this.onProgress();
    }
    if (this.eof) {
      if (queued === 0) this.finish({ reason: 'finished', frames: this.enqueued });
      return;
    }
    if (!this.reading && queued <= (this.here ? HERE_REFILL_BELOW : REFILL_BELOW)) void this.refill();
  }

  /** Stops: the frames still queued are discarded. Returns the frames taken. */
  stop(): number {
    if (this.ended) return this.endFrames;
    const frames = this.frames;
    this.finish({ reason: 'stopped', frames }, true);
    return frames;
  }

  /** The channel closed with `leftover` frames queued: they are the feed's and are not played. */
  closed(leftover: number): void {
    this.discarded = leftover;
    this.finish({ reason: 'stopped', frames: this.enqueued - leftover });
  }

  /**
   * Queues the next frames: those left for later, else the next whole pages. A refill that reads
   * here runs to its end at once (it reaches no await).
   */
  private async refill(): Promise<void> {
    this.reading = true;
    const before = this.enqueued;
    let buffer = pool.pop() ?? Buffer.allocUnsafeSlow(READ_BYTES);
    try {
      if (this.fd === undefined) {
        const file = await this.file;
        if (this.ended) return; // stopped while it opened
        if (file === undefined) throw inputError('the file cannot be opened');
        this.fd = file.fd;
        this.here = file.here;
      }
      if (this.laterAt < this.laterEnd) {
        const { first, last, span } = this.laterSpan(buffer.length);
        if (span > buffer.length) {
          returnToPool(buffer);
          buffer = Buffer.allocUnsafeSlow(span);
        }
        const got = this.here
          ? this.readHere(buffer, span, first)
          : await this.readPooled(buffer, span, first);
        if (this.ended) return;
        if (got < span)
          throw inputError('the file was cut while it played', undefined, { reason: 'truncated' });
        this.chunk = buffer;
        this.chunkAt = first;
        this.queueLater(last);
      } else {
        let got = this.here
          ? this.readHere(buffer, buffer.length, this.position)
          : await this.readPooled(buffer);
        let end = got < buffer.length ? got : wholeOggPagesEnd(buffer.subarray(0, got));
        if (end === 0 && got > 0) {
          const page = isOggCapture(buffer, 0) ? oggPageLength(buffer, 0) : undefined;
          if (page !== undefined && page > buffer.length) {
            // A page larger than a pool buffer (at most 65 307 bytes): a buffer of its own.
            returnToPool(buffer);
            buffer = Buffer.allocUnsafeSlow(page);
            got = this.here ? this.readHere(buffer, page, this.position) : await this.readPooled(buffer);
            end = got;
          } else end = got; // not at a page: the demuxer finds the next one (and keeps the rest)
        }
        if (this.ended) return;
        this.chunk = buffer;
        this.chunkAt = this.position;
        this.chunkQueued = 0;
        this.position += end;
        this.demuxer.pushInto(buffer.subarray(0, end), this);
        if (got === 0) this.demuxer.end(); // throws for a cut file or one with no Opus stream
        if (got === 0 || this.kept >= this.maxFrames) this.fileDone = true;
      }
    } catch (err) {
      if (this.ended) return;
      // The frames still queued are discarded too: the main side plays on from `frames` (and meets
      // the failure itself, to report it as for any input).
      this.finish({ reason: 'failed', frames: this.frames, error: toError(err) }, true);
      return;
    } finally {
      this.chunk = EMPTY;
      returnToPool(buffer);
      this.reading = false;
    }
    if (this.fileDone && this.laterAt === this.laterEnd) {
      this.eof = true;
      this.target.endBurst();
    }
    // A read here that queued nothing (headers, frames skipped to a start position) is followed by
    // the next one on a later turn of the event loop: a long skip must not hold the thread. Until
    // then the feed counts as reading, so other pumps do not start reads of their own.
    if (this.here && this.enqueued === before && !this.eof) {
      this.reading = true;
      setImmediate(() => {
        this.reading = false;
        this.pump();
      });
    } else this.pump();
  }

  /** The demuxer's packets: queued now, or left in the file for later. */
  packet(bytes: Uint8Array, start: number, end: number): void {
    if (this.skipped < (this.options.skipFrames ?? 0)) {
      this.skipped++;
      return;
    }
    if (this.kept >= this.maxFrames) return;
    this.kept++;
    const inChunk = bytes.buffer === this.chunk.buffer;
    if (this.here && inChunk && this.chunkQueued >= HERE_REFILL_FRAMES) {
      this.keepForLater(this.chunkAt + bytes.byteOffset - this.chunk.byteOffset + start, end - start);
      return;
    }
    // A packet joined from two reads' pages goes at once, after those left for later before it.
    if (this.laterAt < this.laterEnd) this.queueLater(this.laterEnd - 1);
    this.queue(bytes.subarray(start, end));
  }

  private queue(frame: Uint8Array): void {
    this.target.enqueue(frame);
    this.enqueued++;
    this.chunkQueued++;
  }

  private keepForLater(offset: number, length: number): void {
    if (this.laterEnd * 2 + 2 > this.later.length) {
      const grown = new Float64Array(Math.max(64, (this.laterEnd - this.laterAt) * 4));
      grown.set(this.later.subarray(this.laterAt * 2, this.laterEnd * 2));
      this.later = grown;
      this.laterEnd -= this.laterAt;
      this.laterAt = 0;
    }
    this.later[this.laterEnd * 2] = offset;
    this.later[this.laterEnd * 2 + 1] = length;
    this.laterEnd++;
  }

  /**
   * The next frames left for later, read together: up to HERE_REFILL_FRAMES, while the bytes from
   * the first one's start to the last one's end (page headers between included) fit `room`.
   */
  private laterSpan(room: number): { first: number; last: number; span: number } {
    const l = this.later;
    const first = l[this.laterAt * 2] as number;
    let last = this.laterAt;
    let span = l[last * 2 + 1] as number;
    while (last + 1 < this.laterEnd && last + 1 - this.laterAt < HERE_REFILL_FRAMES) {
      const to = (l[(last + 1) * 2] as number) + (l[(last + 1) * 2 + 1] as number) - first;
      if (to > room) break;
      last++;
      span = to;
    }
    return { first, last, span };
  }

  /** Queues the frames left for later up to index `last`, from `chunk` (which holds their bytes). */
  private queueLater(last: number): void {
    const l = this.later;
    for (; this.laterAt <= last; this.laterAt++) {
      const from = (l[this.laterAt * 2] as number) - this.chunkAt;
      this.queue(this.chunk.subarray(from, from + (l[this.laterAt * 2 + 1] as number)));
    }
    if (this.laterAt === this.laterEnd) this.laterAt = this.laterEnd = 0;
  }

  private readHere(buffer: Uint8Array, length: number, position: number): number {
    const started = this.files.now();
    const got = this.files.readHere(this.fd as number, buffer, length, position);
    if (this.files.now() - started > SLOW_READ_MS) this.here = false;
    return got;
  }

  /**
   * A read still in flight when the feed ends may find the file closed by then (or its descriptor
   * reused): a positioned read moves no file offset, and its bytes are not used.
   */
  private readPooled(buffer: Buffer, length = buffer.length, position = this.position): Promise<number> {
    return this.files.readPooled(this.fd as number, buffer, length, position);
  }

  /** `discard`: the frames still queued are cleared (after `ended` is set: the clear calls pump()). */
  private finish(end: FileFeedEnd, discard = false): void {
    if (this.ended) return;
    this.ended = true;
    this.endFrames = end.frames;
    if (discard) {
      this.discarded = this.target.queued;
      this.target.clearQueue();
    }
    this.onEnd(end);
  }
}

function returnToPool(buffer: Buffer): void {
  if (buffer.length === READ_BYTES && pool.length < POOL_MAX && !pool.includes(buffer)) pool.push(buffer);
}
