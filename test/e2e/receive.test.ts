/**
 * Issue 5 end to end: a sender plays a known signal (DEMO_TONES, 3 s = 150 frames) through the
 * local server over 127.0.0.1; a voxcord receiver (VoiceReceiver fed by the session) turns it back
 * into PCM. Checked: the PCM matches the sent signal (SNR after aligning by the codec delay), the
 * timeline survives loss and reordering injected by the server, speaking events, DAVE frames from
 * a davey-driven sender, a sender leaving mid-stream, and bad packets.
 *
 * Why SNR thresholds work here: the signal is tones and a sweep. Decoded Opus at the default
 * bitrate tracks them closely (measured ~40 dB without loss). With 10% loss concealed by PLC the
 * measured SNR is ~11 dB (PLC extrapolates, drifting in phase; silence fill gives about the same).
 * If the receiver dropped a slot instead of concealing it, everything after would be shifted by
 * 960 samples, i.e. several periods of the 220-1760 Hz tones plus a phase jump: measured -11 dB
 * for one slot dropped in the lossy run. Thresholds: 30 dB without loss, 5 dB with loss.
 */
import type { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { SILENCE_FRAMES_AT_END, SAMPLES_PER_FRAME } from '../../src/protocol/constants.js';
import { loadOpus } from '../../src/audio/opus.js';
import type { OpusCodecFactory } from '../../src/audio/opus.js';
import type { MediaChannel, MediaEngine } from '../../src/media/media-engine.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { DEMO_TONES, renderTones } from '../../src/player/inputs/tone.js';
import type { ToneSpec } from '../../src/player/inputs/tone.js';
import { leftChannel, snrDb } from '../../src/cli/signal.js';
import { createVoiceReceiver } from '../../src/receive/session-feed.js';
import type { VoiceReceiver } from '../../src/receive/receiver.js';
import type { ReceivedFrame, SubscribeOptions, UserAudioStream } from '../../src/receive/user-stream.js';
import { daveyEndpoint } from '../helpers/davey-endpoint.js';
import { CHANNEL, GUILD, startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

let harness: Harness | undefined;
const receivers: VoiceReceiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) r.close();
  await harness?.close();
  harness = undefined;
});

const SENT = renderTones(DEMO_TONES);
/** 3000 ms of tones = 150 frames of 20 ms. */
const SENT_FRAMES = SENT.length / 2 / SAMPLES_PER_FRAME;

async function* pcmOf(samples: Int16Array): AsyncGenerator<Uint8Array> {
  // Irregular chunks, as a file or socket would deliver them.
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = [5000, 3840, 777, 12_000][i % 4]!;
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}

interface Listening {
  receiver: VoiceReceiver;
  frames: ReceivedFrame[];
  stream: UserAudioStream;
  events: string[];
}

function listen(
  session: VoiceSession,
  userId: string,
  opus: OpusCodecFactory,
  options: SubscribeOptions = {},
): Listening {
  const receiver = createVoiceReceiver(session, { createDecoder: () => opus.createDecoder() });
  receivers.push(receiver);
  const events: string[] = [];
  receiver.on('speakingStart', (id) => events.push(`start ${id}`));
  receiver.on('speakingEnd', (id) => events.push(`end ${id}`));
  const stream = receiver.subscribe(userId, { mode: 'pcm', maxQueuedFrames: 10_000, ...options });
  const frames: ReceivedFrame[] = [];
  stream.on('data', (f: ReceivedFrame) => frames.push(f));
  return { receiver, frames, stream, events };
}

function concat(frames: readonly ReceivedFrame[]): Int16Array {
  const out = new Int16Array(frames.length * SAMPLES_PER_FRAME * 2);
  frames.forEach((f, i) => out.set(f.pcm!, i * SAMPLES_PER_FRAME * 2));
  return out;
}

/**
 * SNR of what was heard against what was sent. The heard audio is padded with one frame of zeros in
 * front so the alignment search also finds a start one frame early (first packet lost).
 */
function heardSnr(sent: Int16Array, heard: Int16Array): number {
  const padded = new Float64Array(SAMPLES_PER_FRAME + heard.length / 2);
  padded.set(leftChannel(heard), SAMPLES_PER_FRAME);
  return snrDb(leftChannel(sent), padded, 3 * SAMPLES_PER_FRAME);
}

/** Frame to frame, RTP timestamps advance by exactly one frame: no slot skipped or repeated. */
function expectContinuousTimeline(frames: readonly ReceivedFrame[]): void {
  const steps = new Set<number>();
  for (let i = 1; i < frames.length; i++) steps.add((frames[i]!.timestamp - frames[i - 1]!.timestamp) >>> 0);
  expect([...steps]).toEqual([SAMPLES_PER_FRAME]);
}

/** Waits until the server's DAVE group is exactly `sessions` and its last commit was executed by all. */
async function daveSettled(h: Harness, sessions: VoiceSession[]): Promise<void> {
  await until(
    () => {
      const st = h.server.daveState(GUILD, CHANNEL);
      if (st === undefined || !st.established || st.lastTransition?.executed !== true) return false;
      if (st.members.length !== sessions.length) return false;
      return sessions.every((s) => s.dave.protocolVersion === 1 && s.dave.epoch === BigInt(st.epoch));
    },
    10_000,
    'the DAVE group to settle',
  );
  await Promise.all(sessions.map((s) => s.dave.settled()));
  // Executing the transition is per member; give the last op 22 a moment to reach everyone.
  await new Promise((r) => setTimeout(r, 100));
}

async function burstDone(l: Listening, userId: string, frames: number): Promise<void> {
  await until(
    () => l.frames.length >= frames && l.events.at(-1) === `end ${userId}`,
    5_000,
    `${frames} frames and the end of the burst`,
  );
}

describe('receiving a known signal', () => {
  it('with DAVE on and no loss: every frame arrives and the PCM matches the sent tones', async () => {
    const h = (harness = await startHarness({ dave: true }));
    const opus = await loadOpus();
    const alice = await h.join('8001');
    const bob = await h.join('8002');
    await daveSettled(h, [alice, bob]);
    const wire: Uint8Array[] = [];
    bob.on('rtp', (p) => wire.push(p.payload));
    const l = listen(bob, '8001', opus);

    await alice.playPcm(pcmOf(SENT)).finished;
    await burstDone(l, '8001', SENT_FRAMES + SILENCE_FRAMES_AT_END);

    const stats = l.receiver.stats('8001')!;
    expect(stats).toMatchObject({ lost: 0, late: 0, concealed: 0, decodeErrors: 0, daveFailures: {} });
    expect(stats.received).toBe(SENT_FRAMES + SILENCE_FRAMES_AT_END);
    expect(l.frames).toHaveLength(SENT_FRAMES + SILENCE_FRAMES_AT_END);
    expect(l.frames.every((f) => !f.concealed && f.receivedAt !== undefined)).toBe(true);
    expectContinuousTimeline(l.frames);
    // DAVE was really on: the audio crossed the server as DAVE protocol frames (0xFAFA trailer).
    const audioOnWire = wire.filter((p) => p.length > 3);
    expect(audioOnWire.length).toBe(SENT_FRAMES);
    expect(audioOnWire.every((p) => p.at(-1) === 0xfa && p.at(-2) === 0xfa)).toBe(true);
    expect(bob.dave.stats.decryptFailures).toEqual({});

    const snr = heardSnr(SENT, concat(l.frames.slice(0, SENT_FRAMES)));
    expect(snr).toBeGreaterThan(30);
    expect(l.events).toEqual(['start 8001', 'end 8001']);
  });

  it('with 10% loss and reordering: gaps are concealed (PLC) and the timeline is kept', async () => {
    const h = (harness = await startHarness({ seed: 5 }));
    // opusscript does real packet loss concealment; @evan/opus can only fill with silence.
    const opus = await loadOpus(['opusscript']);
    const alice = await h.join('8101');
    const bob = await h.join('8102');
    h.server.setFaults({ udp: { drop: 0.1, reorder: 0.1 } });
    const l = listen(bob, '8101', opus);
    // Opus mode alongside, to tell the trailing silence frames from the tones.
    const opusFrames: ReceivedFrame[] = [];
    l.receiver.subscribe('8101', { mode: 'opus', maxQueuedFrames: 10_000 }).on('data', (f: ReceivedFrame) => {
      opusFrames.push(f);
    });

    await alice.playPcm(pcmOf(SENT)).finished;
    await until(() => l.events.at(-1) === 'end 8101', 5_000, 'the end of the burst');
    await new Promise((r) => setTimeout(r, 200)); // the last buffered slots

    const stats = l.receiver.stats('8101')!;
    const concealed = l.frames.filter((f) => f.concealed).length;
    // Roughly 10% of ~155 packets lost; every lost slot concealed with PLC output, none skipped.
    expect(stats.lost).toBeGreaterThanOrEqual(5);
    expect(stats.lost).toBeLessThanOrEqual(35);
    expect(concealed).toBe(stats.lost + stats.late);
    expect(stats.concealed).toBe(concealed);
    expect(stats.decodeErrors).toBe(0);
    // The server's fault hook dropped those (and maybe some of the trailing silence).
    expect(h.server.sfuStats.dropped['fault-drop']).toBeGreaterThanOrEqual(stats.lost);
    expectContinuousTimeline(l.frames);
    expect(opusFrames.map((f) => f.sequence)).toEqual(l.frames.map((f) => f.sequence));

    // The tones: from the first slot to the one before the first silence frame received.
    const firstSilence = opusFrames.findIndex((f) => f.payload?.length === 3 && f.payload[0] === 0xf8);
    expect(firstSilence).toBeGreaterThan(0);
    expect(Math.abs(firstSilence - SENT_FRAMES)).toBeLessThanOrEqual(1);

    // Content on the right timeline: PLC output is imperfect but stays in phase with the tones.
    const snr = heardSnr(SENT, concat(l.frames.slice(0, firstSilence)));
    expect(snr).toBeGreaterThan(5);
    expect(l.events).toEqual(['start 8101', 'end 8101']);
  });

  it('a davey-driven sender: its DAVE frames are decrypted and decoded', async () => {
    const h = (harness = await startHarness({ dave: true }));
    const opus = await loadOpus();
    const davey = await h.join('8201', { daveEndpoint: daveyEndpoint });
    const bob = await h.join('8202');
    await daveSettled(h, [davey, bob]);
    const wire: Uint8Array[] = [];
    bob.on('rtp', (p) => wire.push(p.payload));
    const l = listen(bob, '8201', opus);

    await davey.playPcm(pcmOf(SENT)).finished;
    await burstDone(l, '8201', SENT_FRAMES + SILENCE_FRAMES_AT_END);

    expect(l.receiver.stats('8201')).toMatchObject({
      lost: 0,
      concealed: 0,
      decodeErrors: 0,
      daveFailures: {},
    });
    const audioOnWire = wire.filter((p) => p.length > 3);
    expect(audioOnWire).toHaveLength(SENT_FRAMES);
    expect(audioOnWire.every((p) => p.at(-1) === 0xfa && p.at(-2) === 0xfa)).toBe(true);
    expect(heardSnr(SENT, concat(l.frames.slice(0, SENT_FRAMES)))).toBeGreaterThan(30);
  });
});

describe('speaking events', () => {
  it('fire once per burst', async () => {
    const h = (harness = await startHarness());
    const opus = await loadOpus();
    const alice = await h.join('8301');
    const bob = await h.join('8302');
    const l = listen(bob, '8301', opus);
    const burst: ToneSpec = { notes: [{ frequency: 500, ms: 400 }] };
    for (let i = 0; i < 3; i++) {
      await alice.playPcm(pcmOf(renderTones(burst))).finished;
      await until(() => l.events.length === 2 * (i + 1), 3_000, `the end of burst ${i + 1}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(l.events).toEqual(Array.from({ length: 3 }, () => ['start 8301', 'end 8301']).flat());
    expect(l.receiver.isSpeaking('8301')).toBe(false);
    // Three bursts of 20 tone frames + 5 silence frames each, all on the subscription.
    expect(l.frames.length).toBe(3 * (20 + SILENCE_FRAMES_AT_END));
  });
});

describe('a sender who leaves mid-stream', () => {
  it('ends afterSilence streams, keeps manual ones open, and continues when they come back', async () => {
    const h = (harness = await startHarness());
    const opus = await loadOpus();
    const alice = await h.join('8401');
    const bob = await h.join('8402');
    const l = listen(bob, '8401', opus);
    const quiet = l.receiver.subscribe('8401', {
      mode: 'opus',
      end: { behavior: 'afterSilence', durationMs: 300 },
    });
    let quietEnded = false;
    quiet.on('end', () => (quietEnded = true));
    quiet.resume();
    const errors: Error[] = [];
    l.stream.on('error', (e) => errors.push(e));

    const playing = alice.playPcm(pcmOf(SENT)).finished;
    playing.catch(() => undefined);
    await until(() => l.frames.length >= 40, 5_000, '40 frames');
    const heardBefore = l.frames.length;
    expect(h.server.disconnect('8401', GUILD)).toBe(true); // op 13 to bob
    await until(() => l.events.at(-1) === 'end 8401', 3_000, 'speaking end at op 13');
    await until(() => quietEnded, 3_000, 'the afterSilence stream to end');
    // Everything up to the leave was delivered; nothing more arrives, nothing was concealed.
    expect(l.frames.length).toBeGreaterThanOrEqual(heardBefore);
    expect(l.frames.length).toBeLessThan(SENT_FRAMES);
    expect(l.frames.every((f) => !f.concealed)).toBe(true);
    expect(l.stream.isFinished).toBe(false);
    expect(l.stream.destroyed).toBe(false);
    const atLeave = l.frames.length;

    // They come back (new session, new SSRC) and speak again: the same stream continues.
    const again = await h.join('8401');
    expect(again.ssrc).not.toBe(alice.ssrc);
    await again.playPcm(pcmOf(renderTones({ notes: [{ frequency: 600, ms: 200 }] }))).finished;
    // A timeout says what the listener, the sender and the server saw (so the flake of session 25
    // was found: a packet of the first session handed over just after op 13 started a burst).
    await until(() => l.events.length === 4, 5_000, 'the second burst').catch((err: Error) => {
      const seen = {
        events: l.events,
        frames: l.frames.length - atLeave,
        totals: l.receiver.totals(),
        stats: l.receiver.stats('8401'),
        users: [...bob.users],
        ssrc: again.ssrc,
        sendStats: again.sendStats,
        server: h.server.sfuStats,
      };
      throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
    });
    await until(() => l.frames.length >= atLeave + 10 + SILENCE_FRAMES_AT_END, 5_000, 'the second stream');
    expect(l.frames.slice(atLeave).every((f) => !f.concealed)).toBe(true);
    expect(l.events).toEqual(['start 8401', 'end 8401', 'start 8401', 'end 8401']);
    expect(errors).toEqual([]);
  });
});

describe('bad packets', () => {
  it('are counted and dropped; no stream is destroyed', async () => {
    const h = (harness = await startHarness({ seed: 11 }));
    const opus = await loadOpus();
    const channels: MediaChannel[] = [];
    const capture: MediaEngine = {
      kind: h.engine.kind,
      async openChannel(o) {
        const c = await h.engine.openChannel(o);
        channels.push(c);
        return c;
      },
      close: () => Promise.resolve(),
    };
    const alice = await h.join('8501');
    const bob = await h.join('8502', { engine: capture });
    const l = listen(bob, '8501', opus);
    const bobChannel = channels[0]!;

    // Forwarded packets with a broken transport tag (the server flips a byte): dropped by the transport.
    h.server.setFaults({ udp: { corrupt: 0.05 } });
    // Alice's audio: tone frames with Opus packets no decoder accepts mixed in, and one valid but
    // 2.5 ms long (not a 20 ms slot).
    const encoder = opus.createEncoder();
    const tone = renderTones({ notes: [{ frequency: 440, ms: 1000 }] });
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const pcm = tone.subarray(i * 1920, (i + 1) * 1920);
      if (i % 10 === 5) frames.push(Uint8Array.of(0xff, 0x00));
      else if (i === 22) frames.push(Uint8Array.of(0x80, ...Array.from({ length: 20 }, (_, k) => k)));
      else frames.push(encoder.encode(new Uint8Array(pcm.buffer, pcm.byteOffset, 3840)));
    }
    encoder.close();
    const playing = alice.playOpus(
      (async function* () {
        yield* frames;
      })(),
    ).finished;

    // Meanwhile, packets that decrypted fine but come from an SSRC nobody announced (op 5), and one
    // from alice's SSRC with a wild sequence number and timestamp.
    await until(() => l.frames.length >= 5, 5_000, 'the first frames');
    const inject = (ssrc: number, sequence: number, payload: number[]): void => {
      (bobChannel as unknown as EventEmitter).emit('rtp', {
        ssrc,
        sequence,
        timestamp: sequence * 960,
        payload: Uint8Array.from(payload),
        receivedAt: performance.now(),
      });
    };
    // The session holds packets of an unannounced SSRC for 1 s in case op 5 is only late, then
    // reports (and counts) them.
    for (let i = 0; i < 3; i++) inject(0x7777_0000, i, [0xfc, 1, 2, 3]);
    inject(alice.ssrc!, (l.frames.at(-1)!.sequence + 30_000) & 0xffff, [0xfc, 9, 9, 9]);
    await playing;
    await until(() => l.events.at(-1) === 'end 8501', 5_000, 'the end of the burst');
    await until(() => l.receiver.totals().unknownSsrc === 3, 3_000, 'the unannounced packets');
    await new Promise((r) => setTimeout(r, 200));

    const stats = l.receiver.stats('8501')!;
    const dropped = (await bobChannel.stats()).packetsDropped;
    expect(l.receiver.totals().unknownSsrc).toBe(3);
    expect(dropped['auth-failed']).toBeGreaterThan(0);
    expect(stats.decodeErrors).toBeGreaterThanOrEqual(4); // 5 sent; one may be lost to a corrupted tag
    expect(stats.decodeErrors).toBeLessThanOrEqual(5);
    // The timeline held through all of it: every slot of the burst is there, decoded or concealed.
    expectContinuousTimeline(l.frames);
    expect(l.frames.length).toBe(50 + SILENCE_FRAMES_AT_END);
    expect(l.frames.every((f) => f.pcm?.length === SAMPLES_PER_FRAME * 2)).toBe(true);
    expect(l.frames.filter((f) => f.concealed).length).toBe(stats.lost + stats.late + stats.decodeErrors);
    expect(l.stream.isFinished).toBe(false);
    expect(l.stream.destroyed).toBe(false);
  });
});
