/**
 * A file the media engine plays by itself (MediaChannel.feedOggOpusFile) as a session's
 * transmission: it starts once the previous transmission's burst has ended, sends op 5 Speaking
 * before its first frame and Speaking 0 after its trailing silence, and a later transmission
 * stops it like any other. It is not carried to the next session: its end ('stopped') gives the
 * frames taken, and the caller plays on from there (stopFeed). A final stop() counts the frames it
 * threw away as dropped ('stopped'), as the transmit pump's stop() does.
 */
import { FRAME_DURATION_MS, SILENCE_FRAMES_AT_END, SpeakingFlag } from '../protocol/constants.js';
import type { FileFeedEnd, FileFeedOptions, MediaChannel, MediaFileFeed } from '../media/media-engine.js';
import type { SessionTransmission, TransmitLink } from './transmit.js';

export interface FeedTransmission extends SessionTransmission {
  /** When `framesSent` (frames taken at their tick: sent, or dropped there) was counted (performance.now()). */
  readonly framesAt: number;
  /** Stops the feed to play on from its exact count (resolved): the frames thrown away are not counted. */
  stopFeed(): Promise<number>;
}

/** How long past its trailing silence a finished feed waits for 'burstEnd' (a closed channel sends none). */
const BURST_END_WAIT_MS = SILENCE_FRAMES_AT_END * FRAME_DURATION_MS + 1_000;

export function feedTransmission(
  link: TransmitLink,
  path: string,
  options: FileFeedOptions,
  onEnd: (end: FileFeedEnd) => void,
  after: Promise<unknown> | undefined,
  countStopped: (frames: number) => void,
): FeedTransmission {
  let feed: MediaFileFeed | undefined;
  let stopped = false;
  let ended: FileFeedEnd | undefined;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  /** `finished` waits for the trailing silence when there is one: the next transmission starts after it. */
  const end = (e: FileFeedEnd, silenceOut?: Promise<void>): void => {
    if (ended !== undefined) return;
    ended = e;
    if (silenceOut === undefined) resolveFinished();
    else void silenceOut.then(resolveFinished);
    onEnd(e);
  };
  const start = (): void => {
    const channel = link.readyChannel();
    if (stopped || channel?.feedOggOpusFile === undefined) {
      end({ reason: 'stopped', frames: 0 });
      return;
    }
    link.sendSpeaking(SpeakingFlag.Microphone);
    try {
      feed = channel.feedOggOpusFile(path, options, onFeedEnd(channel));
    } catch {
      end({ reason: 'stopped', frames: 0 }); // the channel closed meanwhile
    }
  };
  const onFeedEnd =
    (channel: MediaChannel) =>
    (e: FileFeedEnd): void => {
      if (e.reason !== 'finished') {
        end(e);
        return;
      }
      // The worker queued the trailing silence after the last frame: Speaking 0 once it is out.
      const silenceOut = new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          channel.off('burstEnd', done);
          if (link.readyChannel() === channel) link.sendSpeaking(SpeakingFlag.None);
          resolve();
        };
        const timer = setTimeout(done, BURST_END_WAIT_MS);
        channel.on('burstEnd', done);
      });
      end(e, silenceOut);
    };
  // Never synchronous: the caller hears of the end after it holds the transmission.
  void (after ?? Promise.resolve()).catch(() => undefined).then(start);
  const stopFeed = async (): Promise<number> => {
    stopped = true;
    if (feed === undefined) {
      end({ reason: 'stopped', frames: 0 });
      return 0;
    }
    const frames = await feed.stop();
    return ended?.frames ?? frames;
  };
  return {
    finished,
    get framesAt() {
      return feed?.framesAt ?? performance.now();
    },
    get framesSent() {
      return ended?.frames ?? feed?.frames ?? 0;
    },
    stopFeed,
    // Final: the frames this stop throws away will not be heard (a feed that had ended already
    // threw its frames away for a caller that plays them again).
    stop: () => {
      const running = ended === undefined;
      void stopFeed().then(() => {
        if (running && feed !== undefined && feed.discarded > 0) countStopped(feed.discarded);
      });
    },
    // Nothing is carried over: the caller plays on from the count.
    release: async () => {
      await stopFeed();
      return [];
    },
  };
}
