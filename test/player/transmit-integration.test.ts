/**
 * The player on the real transmit pump (src/voice/transmit.ts), with a minimal fake media channel:
 * checks the burst boundaries a pause makes (endBurst, Speaking 0) and that resuming loses nothing.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { transmit } from '../../src/voice/transmit.js';
import type { TransmitLink } from '../../src/voice/transmit.js';
import type { MediaChannel } from '../../src/media/media-engine.js';
import { AudioPlayer, opusFramesInput } from '../../src/player/index.js';
import type { AudioPlayerOptions, PlayerTarget } from '../../src/player/index.js';
import type { SessionSubscriber } from '../../src/gateway/playback.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { fakeCodec, hex, packets, settle } from './helpers.js';

class Channel extends EventEmitter {
  readonly sent: string[] = [];
  readonly log: string[] = [];
  private queue: Uint8Array[] = [];
  private bursting = false;
  enqueue(frame: Uint8Array): boolean {
    this.queue.push(frame);
    this.log.push('frame');
    return this.queue.length < 3;
  }
  endBurst(): void {
    this.log.push('endBurst');
    this.bursting = true;
  }
  clearQueue(): void {
    this.log.push('clearQueue');
    this.queue = [];
  }
  get queued(): number {
    return this.queue.length;
  }
  /** `ticks` ticks, letting the pump and the player run after each. */
  async run(ticks: number): Promise<void> {
    for (let i = 0; i < ticks; i++) {
      this.tick();
      await settle();
    }
  }
  /** One 20 ms tick of the media clock. */
  tick(): void {
    const frame = this.queue.shift();
    if (frame !== undefined) {
      this.sent.push(hex(frame));
      if (this.queue.length <= 1) this.emit('drain');
      return;
    }
    if (this.bursting) {
      this.bursting = false;
      this.emit('burstEnd');
    }
  }
}

const players: AudioPlayer[] = [];
afterEach(() => {
  for (const p of players.splice(0)) p.destroy();
});

/** A player attached to a transmit pump on a fake channel. */
function setup(options: AudioPlayerOptions = {}): {
  channel: Channel;
  target: PlayerTarget;
  speaking: number[];
  player: AudioPlayer;
} {
  const channel = new Channel();
  const speaking: number[] = [];
  const link: TransmitLink = {
    readyChannel: () => channel as unknown as MediaChannel,
    readyEpoch: () => 1,
    isDestroyed: () => false,
    sendSpeaking: (flags) => {
      speaking.push(flags);
      channel.log.push(`speaking:${flags}`);
    },
    onChange: () => () => undefined,
  };
  let previous: ReturnType<typeof transmit> | undefined;
  const target: PlayerTarget = {
    // Like VoiceSession.play: a new transmission stops the current one and starts after it.
    playOpus: (source) => {
      previous?.stop();
      const next = transmit(
        link,
        source as AsyncIterable<Uint8Array>,
        previous ? { after: previous.finished } : {},
      );
      previous = next;
      return next;
    },
  };
  const player = new AudioPlayer({ opus: fakeCodec(), ...options });
  players.push(player);
  player.attach(target);
  return { channel, target, speaking, player };
}

describe('AudioPlayer on the transmit pump', () => {
  it('pause ends the burst after the queued frames; resume continues without a lost frame', async () => {
    const { channel, speaking, player } = setup();
    const source = packets(1, 12);
    player.enqueue(opusFramesInput(source));
    await settle();
    await channel.run(4);
    player.pause();
    await channel.run(8);
    const sentWhilePaused = channel.sent.length;
    expect(channel.log.filter((l) => l === 'endBurst')).toHaveLength(1);
    expect(speaking).toEqual([1, 0]);
    expect(channel.log).not.toContain('clearQueue');

    player.resume();
    await channel.run(20);
    expect(channel.sent).toEqual(source.map(hex));
    expect(sentWhilePaused).toBeLessThan(12);
    expect(speaking).toEqual([1, 0, 1, 0]);
    expect(player.status).toBe('idle');
  });

  it('stop is heard at once: the queued frames are dropped, the next track plays whole', async () => {
    const { channel, speaking, player } = setup();
    const first = packets(1, 30);
    const second = packets(2, 8);
    player.play(opusFramesInput(first));
    await settle();
    await channel.run(3);
    const heardBeforeStop = channel.sent.length;
    expect(channel.queued).toBeGreaterThan(0);
    player.stop();
    player.play(opusFramesInput(second));
    await settle(); // the pump's turn to drop the queue, before the engine's next tick
    await channel.run(30);
    // Nothing of the first track after the stop; all of the second, in order.
    expect(channel.sent).toEqual([...first.slice(0, heardBeforeStop), ...second].map(hex));
    expect(channel.log).toContain('clearQueue');
    expect(speaking).toEqual([1, 0, 1, 0]);
    expect(player.status).toBe('idle');
  });

  it('skip and seek are heard at once, in the same burst: the queue is dropped, nothing after it is lost', async () => {
    const { channel, speaking, player } = setup();
    const first = packets(1, 40);
    const second = packets(2, 8);
    player.play(opusFramesInput(first));
    player.enqueue(opusFramesInput(second));
    await settle();
    await channel.run(3);
    expect(channel.queued).toBeGreaterThan(0);
    player.seek(30 * 20);
    await settle();
    await channel.run(4);
    player.skip();
    await settle();
    await channel.run(30);
    // Frames 0-2, then from frame 30 (the seek) for four ticks, then the second track whole.
    expect(channel.sent).toEqual([...first.slice(0, 3), ...first.slice(30, 34), ...second].map(hex));
    expect(channel.log.filter((l) => l === 'clearQueue')).toHaveLength(2);
    expect(speaking).toEqual([1, 0]);
  });

  it('playbackDuration is what left the channel, not what the player produced ahead of it', async () => {
    // A frozen clock: this channel sends only when the test ticks it, not every 20 ms.
    const { channel, player } = setup({ now: () => 0 });
    const positions: number[] = [];
    const source = packets(1, 30);
    const track = player.enqueue(opusFramesInput(source));
    await settle();
    // The pump filled the channel's queue and holds one more frame: nothing was heard yet.
    const produced = player.stats.framesSent;
    expect(produced).toBeGreaterThanOrEqual(3);
    expect(player.playbackDuration).toBe(0);
    expect(player.aheadMs).toBe(produced * 20);
    for (let i = 1; i <= 10; i++) {
      channel.tick();
      await settle();
      positions.push(player.playbackDuration);
      // Exactly the frames sent on the wire so far, whatever the player produced meanwhile.
      expect(player.playbackDuration).toBe(channel.sent.length * 20);
      expect(player.stats.framesSent).toBeGreaterThan(channel.sent.length);
    }
    expect(positions).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 20));
    expect(player.currentTrack).toBe(track);
  });

  it('lastHeard follows a finished track until its last frame has left', async () => {
    const { channel, player } = setup({ now: () => 0 });
    const track = player.enqueue(opusFramesInput(packets(1, 3)));
    await settle();
    // All three produced and queued: the player is done with the track, listeners are not.
    expect(player.currentTrack).toBeUndefined();
    expect(player.playbackDuration).toBe(0);
    expect(player.lastHeard).toBeUndefined();
    expect(player.aheadMs).toBe(60);
    const seen: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      channel.tick();
      await settle();
      expect(player.lastHeard?.track).toBe(track);
      seen.push(player.lastHeard?.positionMs);
    }
    expect(seen).toEqual([20, 40, 60]);
    expect(player.aheadMs).toBe(0);
  });

  it('fits VoiceSession and the VoiceConnection subscriber hook (checked by the compiler)', () => {
    const p = new AudioPlayer();
    players.push(p);
    const subscriber: SessionSubscriber = p;
    const asTarget = (session: VoiceSession): PlayerTarget => session;
    expect(typeof subscriber.attach).toBe('function');
    expect(typeof asTarget).toBe('function');
  });
});
