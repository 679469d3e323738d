/**
 * Issue 2 end to end: two voxcord sessions on the local server over real sockets. What one sends
 * arrives at the other, transport-decrypted by the receiver with its own key, exactly and in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  EncryptionMode,
  OPUS_SILENCE_FRAME,
  PCM_FRAME_BYTES,
  SILENCE_FRAMES_AT_END,
} from '../../src/protocol/constants.js';
import { loadOpus } from '../../src/audio/opus.js';
import { PcmFramer } from '../../src/audio/pcm-framer.js';
import type { VoiceSessionState } from '../../src/voice/session-state.js';
import { GUILD, chunked, collectFrom, numberedFrames, sinePcm, startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const silence = Array.from(OPUS_SILENCE_FRAME);

describe.each([EncryptionMode.AesGcm, EncryptionMode.XChaCha])('transport in %s', (mode) => {
  it('delivers pre-encoded Opus frames exactly, in order, then five silence frames', async () => {
    harness = await startHarness({ modes: [mode] });
    const alice = await harness.join('1001');
    const bob = await harness.join('1002');
    expect(alice.mode).toBe(mode);
    expect(bob.mode).toBe(mode);
    const received = collectFrom(bob, alice.ssrc!);

    const frames = numberedFrames(40);
    const transmission = alice.playOpus(
      (async function* () {
        yield* frames;
      })(),
    );
    await transmission.finished;
    await until(() => received.length >= frames.length + SILENCE_FRAMES_AT_END, 5_000, 'all frames');

    expect(received.map((p) => Buffer.from(p.payload).toString('hex'))).toEqual([
      ...frames.map((f) => Buffer.from(f).toString('hex')),
      ...Array.from({ length: SILENCE_FRAMES_AT_END }, () => Buffer.from(silence).toString('hex')),
    ]);
    // RTP: sequence +1 and timestamp +960 per packet, wrapping.
    for (let i = 1; i < received.length; i++) {
      expect(received[i]!.sequence).toBe((received[i - 1]!.sequence + 1) & 0xffff);
      expect(received[i]!.timestamp).toBe((received[i - 1]!.timestamp + 960) >>> 0);
    }
    // The receiver learned who speaks on that SSRC from op 5.
    expect(bob.users.get(alice.ssrc!)).toBe('1001');
  });
});

describe('PCM input', () => {
  it('re-frames odd-sized PCM chunks to 20 ms and delivers exactly the Opus frames an encoder makes', async () => {
    harness = await startHarness();
    const alice = await harness.join('1001');
    const bob = await harness.join('1002');
    const received = collectFrom(bob, alice.ssrc!);

    const pcm = sinePcm(500); // 25 frames
    const transmission = alice.playPcm(chunked(pcm, [1000, 3, 7777, 3840, 1]));
    await transmission.finished;
    await until(() => received.length >= 25 + SILENCE_FRAMES_AT_END, 5_000, 'all frames');

    // libopus is deterministic: an encoder with the same settings makes the same bytes.
    const opus = await loadOpus();
    const encoder = opus.createEncoder();
    const framer = new PcmFramer();
    const expected = [...framer.push(pcm), framer.flush()]
      .filter((f) => f !== undefined)
      .map((f) => Buffer.from(encoder.encode(f)).toString('hex'));
    encoder.close();
    expect(expected).toHaveLength(pcm.length / PCM_FRAME_BYTES);
    expect(received.slice(0, expected.length).map((p) => Buffer.from(p.payload).toString('hex'))).toEqual(
      expected,
    );
    expect(
      received.slice(expected.length).every((p) => Buffer.from(p.payload).equals(Buffer.from(silence))),
    ).toBe(true);
  });
});

describe('session survival', () => {
  it('keeps a call alive across 30 heartbeat intervals', async () => {
    harness = await startHarness({ heartbeatIntervalMs: 40, heartbeatTimeoutMs: 120 });
    const alice = await harness.join('1001');
    const states: string[] = [];
    alice.on('stateChange', (_old, next) => states.push(next.status));
    const pings: number[] = [];
    alice.on('ping', (ms) => pings.push(ms));
    // 30 acknowledged beats, however slowly a loaded machine runs the 40 ms timer (1.2 s when idle).
    await until(() => pings.length >= 30 || states.length > 0, 10_000, '30 heartbeat ACKs');
    expect(alice.state.status).toBe('ready');
    expect(states).toEqual([]);
    expect(pings.length).toBeGreaterThanOrEqual(30);
    expect(harness.server.participants(GUILD)[0]?.connected).toBe(true);
  });

  /**
   * Alice streams `count` numbered frames to Bob; the server drops her websocket (1006) as her
   * source hands over frame `dropAt` (a source may be read ahead of the audio), or with
   * `{ heard }`, once Bob has heard that many. Resolves once she has resumed and the burst ended.
   */
  async function streamThroughDrop(count: number, dropAt: number | { heard: number }) {
    const h = (harness = await startHarness());
    const alice = await h.join('1001');
    const bob = await h.join('1002');
    const received = collectFrom(bob, alice.ssrc!);
    if (typeof dropAt !== 'number')
      bob.on('rtp', () => {
        if (received.length === dropAt.heard) h.server.closeClient('1001', GUILD, 1006);
      });
    const statuses: VoiceSessionState['status'][] = [];
    alice.on('stateChange', (_old, next) => statuses.push(next.status));
    const resumed = new Promise<void>((resolve) =>
      alice.on('stateChange', (old, next) => {
        if (old.status === 'resuming' && next.status === 'ready') resolve();
      }),
    );

    const frames = numberedFrames(count);
    let sent = 0;
    const transmission = alice.playOpus(
      (async function* () {
        for (const frame of frames) {
          if (sent++ === dropAt) h.server.closeClient('1001', GUILD, 1006);
          yield frame;
        }
      })(),
    );
    await resumed;
    await transmission.finished;
    return { h, alice, received, statuses, frames };
  }

  it('resumes after the websocket drops mid-stream and the audio continues without loss', async () => {
    const { received, statuses, frames } = await streamThroughDrop(100, 30);
    await until(() => received.length >= frames.length + SILENCE_FRAMES_AT_END, 5_000, 'all frames');

    expect(statuses).toEqual(['resuming', 'ready']);
    expect(received.slice(0, frames.length).map((p) => p.payload[0]! === 0xfc && p.payload[2])).toEqual(
      frames.map((_, i) => i & 0xff),
    );
  });

  // No audio lost silently: a drop in the first frames of a burst can take the burst's op 5 with
  // it (the server then drops the media: voice-gateway.md §5.7), and the session resumes meanwhile.
  it.each([0, 1, 2, 40, { heard: 10 }])(
    'hears every frame (or counts it) when the websocket drops at frame %j of a burst',
    async (dropAt) => {
      const { h, alice, received, frames } = await streamThroughDrop(50, dropAt);
      const counted = (): number => Object.values(alice.sendStats.framesDropped).reduce((a, b) => a + b, 0);
      const heard = (): number[] =>
        received.filter((p) => p.payload.length === frames[0]!.length).map((p) => p.payload[2]!);
      // Everything the sender sent has arrived once the trailing silence has.
      await until(
        () =>
          received.filter((p) => p.payload.length === OPUS_SILENCE_FRAME.length).length >=
          SILENCE_FRAMES_AT_END,
        5_000,
        'the trailing silence',
      ).catch(() => undefined);

      expect(heard().length + counted()).toBe(frames.length);
      if (counted() === 0) expect(heard()).toEqual(frames.map((_, i) => i));
      expect(h.server.sfuStats.dropped['no-speaking'] ?? 0).toBe(0);
    },
  );
});
