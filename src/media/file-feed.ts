/**
 * A local Ogg Opus file played straight into one channel's send queue on the channel's own thread
 * (the media worker): read, demuxed and queued there, so no frame of it crosses to the main
 * thread or lives there. What the feed costs per player is its share of the send queue's store;
 * the read buffers are pooled per thread and lent only for the moment between a read and the
 * queueing of its packets (whole pages are read, so the demuxer keeps no partial page: a copy
 * made per read that waits for a full collection grew a worker's malloc arenas by ~70 KiB per
 * player in the prototype).
 *
 * The main side owns the timeline: it starts a feed at a track's start, hears its progress (the
 * frames taken at their 20 ms tick, sent or dropped there) and its end, and on anything the feed
 * does not do (pause, seek, volume, filters, a session change) stops it and plays on from the
 * frames taken, so nothing is heard twice or skipped.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { OggOpusDemuxer } from '../audio/ogg-opus-demuxer.js';
import { isOggCapture, oggPageLength, wholeOggPagesEnd } from '../audio/ogg-page.js';
import { toError } from '../errors.js';
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
/** The next page is read when the queue falls to this many frames (200 ms). */
const REFILL_BELOW = 10;
/** Progress is reported every this many frames taken (a second). */
const PROGRESS_FRAMES = 50;
/** Idle read buffers kept per thread (a read holds one only until its packets are queued). */
const POOL_MAX = 8;
const pool: Buffer[] = [];

export class OggFileFeed {
  private readonly demuxer = new OggOpusDemuxer();
  private handle: FileHandle | undefined;
  private position = 0;
  private enqueued = 0;
  /** Frames of the file passed over so far (FileFeedOptions.skipFrames). */
  private skipped = 0;
  private reading = false;
  /** `frames` at the last progress report. */
  private reported = 0;
  private eof = false;
  private ended = false;
  /** The frames of the end, once ended. */
  private endFrames = 0;
  /** Frames it had queued and threw away at its end (stopped, failed, or the channel closed). */
  discarded = 0;

  /** `onEnd` is called once; `onProgress` every PROGRESS_FRAMES frames taken. */
  constructor(
    private readonly target: FeedTarget,
    private readonly path: string,
    private readonly options: FileFeedOptions,
    private readonly onEnd: (end: FileFeedEnd) => void,
    private readonly onProgress: () => void,
  ) {}

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
    if (!this.reading && queued <= REFILL_BELOW) void this.readPage();
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

  private async readPage(): Promise<void> {
    this.reading = true;
    let buffer = pool.pop() ?? Buffer.allocUnsafeSlow(READ_BYTES);
    try {
      this.handle ??= await open(this.path, 'r');
      let got = await this.read(buffer);
      let end = got < buffer.length ? got : wholeOggPagesEnd(buffer.subarray(0, got));
      if (end === 0 && got > 0) {
        const page = isOggCapture(buffer, 0) ? oggPageLength(buffer, 0) : undefined;
        if (page !== undefined && page > buffer.length) {
          // A page larger than a pool buffer (at most 65 307 bytes): a buffer of its own.
          returnToPool(buffer);
          buffer = Buffer.allocUnsafeSlow(page);
          got = await this.read(buffer);
          end = got;
        } else end = got; // not at a page: the demuxer finds the next one (and keeps the rest)
      }
      if (this.ended) return;
      this.position += end;
      const packets = this.demuxer.pushViews(buffer.subarray(0, end));
      const skip = this.options.skipFrames ?? 0;
      const max = Math.max(0, (this.options.endFrame ?? Infinity) - skip);
      let i = 0;
      while (i < packets.length && this.skipped < skip) {
        i++;
        this.skipped++;
      }
      for (; i < packets.length && this.enqueued < max; i++) {
        this.target.enqueue(packets[i] as Uint8Array);
        this.enqueued++;
      }
      if (got === 0 || this.enqueued >= max) {
        if (got === 0) this.demuxer.end(); // throws for a cut file or one with no Opus stream
        this.eof = true;
        this.target.endBurst();
        await this.closeFile();
      }
    } catch (err) {
      if (this.ended) return;
      // The frames still queued are discarded too: the main side plays on from `frames` (and meets
      // the failure itself, to report it as for any input).
      this.finish({ reason: 'failed', frames: this.frames, error: toError(err) }, true);
      return;
    } finally {
      returnToPool(buffer);
      this.reading = false;
    }
    this.pump();
  }

  private async read(buffer: Buffer): Promise<number> {
    const handle = this.handle as FileHandle;
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.position);
    return bytesRead;
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
    void this.closeFile();
    this.onEnd(end);
  }

  private async closeFile(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}

function returnToPool(buffer: Buffer): void {
  if (buffer.length === READ_BYTES && pool.length < POOL_MAX && !pool.includes(buffer)) pool.push(buffer);
}
