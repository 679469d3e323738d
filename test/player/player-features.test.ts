/**
 * Player features users of other libraries expect: loop ('track', 'queue'), what happens with
 * nothing attached (noSubscriber 'pause' | 'play' | 'stop', unheard frames counted), periodic
 * position events and missedFrames (consecutive frames an input owes).
 */
import { describe, expect, it } from 'vitest';
import { isVoxcordError } from '../../src/errors.js';
import { opusFramesInput } from '../../src/player/index.js';
import type { Track, TrackEndReason } from '../../src/player/index.js';
import { FakeSession, hex, packet, packets, settle, usePlayers } from './helpers.js';

describe('AudioPlayer: loop, noSubscriber, position events, missedFrames', () => {
  const make = usePlayers();

  it("loop 'track' replays the current track until the loop is turned off", async () => {
    const player = make({ loop: 'track' });
    const session = new FakeSession();
    player.attach(session);
    const ends: TrackEndReason[] = [];
    player.on('trackEnd', (_t, reason) => ends.push(reason));
    player.enqueue(opusFramesInput(packets(1, 3)));
    player.enqueue(opusFramesInput(packets(2, 2)));
    const first = await session.pull(8);
    expect(first.map(hex)).toEqual([...packets(1, 3), ...packets(1, 3), ...packets(1, 2)].map(hex));
    player.loop = 'off';
    const rest = await session.pull(100);
    // The pass in progress plays out, then the queue moves on.
    expect(rest.map(hex)).toEqual([packet(1, 2), ...packets(2, 2)].map(hex));
    expect(ends.every((r) => r === 'finished')).toBe(true);
    expect(player.status).toBe('idle');
  });

  it("loop 'queue' cycles through the queue, skipped tracks included", async () => {
    const player = make({ loop: 'queue' });
    const session = new FakeSession();
    player.attach(session);
    const starts: unknown[] = [];
    player.on('trackStart', (t: Track) => starts.push(t.metadata));
    player.enqueue(opusFramesInput(packets(1, 2)), { metadata: 'a' });
    player.enqueue(opusFramesInput(packets(2, 2)), { metadata: 'b' });
    await session.pull(4 + 2 + 1);
    player.skip(); // b, one frame in: it goes back to the end too
    await session.pull(4);
    expect(starts).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(player.queue.map((t) => t.metadata)).toEqual(['a']);
    expect(() => (player.loop = 'forever' as 'off')).toThrow(/loop must be/);
  });

  it("noSubscriber 'pause' (default): autopaused with nothing attached, then plays from the start", async () => {
    const player = make();
    const states: string[] = [];
    player.on('stateChange', (_o, n) => states.push(n));
    player.enqueue(opusFramesInput(packets(1, 5)));
    await settle();
    expect(player.status).toBe('autopaused');
    const session = new FakeSession();
    player.attach(session);
    expect(player.status).toBe('playing');
    expect((await session.pull(3)).map(hex)).toEqual(packets(1, 3).map(hex));
    player.detach(session);
    await settle();
    expect(player.status).toBe('autopaused');
    const next = new FakeSession();
    player.attach(next);
    expect((await next.pull(10)).map(hex)).toEqual(packets(1, 5).slice(3).map(hex));
    expect(states).toEqual(['playing', 'autopaused', 'playing', 'autopaused', 'playing', 'idle']);
    expect(player.stats.framesDropped['no-subscriber']).toBe(0);
  });

  it('attaching in the same turn as enqueue never pauses or stops', async () => {
    for (const noSubscriber of ['pause', 'stop'] as const) {
      const player = make({ noSubscriber });
      const states: string[] = [];
      player.on('stateChange', (_o, n) => states.push(n));
      player.enqueue(opusFramesInput(packets(1, 2)));
      const session = new FakeSession();
      player.attach(session);
      await settle();
      expect(states).toEqual(['playing']);
      expect(await session.pull(5)).toHaveLength(2);
    }
  });

  it("noSubscriber 'stop': the queue stops when the last session detaches", async () => {
    const player = make({ noSubscriber: 'stop' });
    const session = new FakeSession();
    player.attach(session);
    const ends: TrackEndReason[] = [];
    player.on('trackEnd', (_t, reason) => ends.push(reason));
    player.enqueue(opusFramesInput(packets(1, 50)));
    player.enqueue(opusFramesInput(packets(2, 50)));
    await session.pull(3);
    player.detach(session);
    await settle();
    expect(player.status).toBe('idle');
    expect(player.queue).toHaveLength(0);
    expect(ends).toEqual(['stopped']);
  });

  it("noSubscriber 'play': plays on at the real-time pace to nobody, every unheard frame counted", async () => {
    const player = make({ noSubscriber: 'play' });
    const source = packets(1, 200);
    player.enqueue(opusFramesInput(source));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const unheard = player.stats.framesDropped['no-subscriber'];
    // About 15 frames in 300 ms (a real-time pace, not as fast as the input allows).
    expect(unheard).toBeGreaterThanOrEqual(5);
    expect(unheard).toBeLessThanOrEqual(20);
    expect(player.status).toBe('playing');
    const session = new FakeSession();
    player.attach(session);
    const heard = await session.pull(500);
    const dropped = player.stats.framesDropped['no-subscriber'];
    // The session hears the rest, from where the unheard part stopped: nothing lost uncounted.
    expect(heard.map(hex)).toEqual(source.slice(dropped).map(hex));
    expect(dropped + heard.length).toBe(source.length);
    expect(player.stats.framesSent).toBe(source.length);
  });

  it("'position' events report the heard position every positionIntervalMs while playing", async () => {
    const player = make({ positionIntervalMs: 25 });
    const session = new FakeSession();
    player.attach(session);
    const seen: Array<[unknown, number]> = [];
    player.on('position', (t, ms) => seen.push([t.metadata, ms]));
    player.enqueue(opusFramesInput(packets(1, 100)), { metadata: 'a' });
    await session.pull(10);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toEqual(['a', 200]);
    player.pause();
    await settle();
    const count = seen.length;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(seen.length).toBe(count); // none while paused
    expect(() => make({ positionIntervalMs: -1 })).toThrow(/positionIntervalMs/);
  });

  it('missedFrames counts the frames a slow input owes, and returns to 0 when it delivers', async () => {
    let t = 0;
    const player = make({ now: () => t });
    const session = new FakeSession();
    player.attach(session);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield packet(1, 0);
      await gate;
      yield packet(1, 1);
    }
    player.enqueue(opusFramesInput(slow()));
    await session.pull(1); // frame 0 at t = 0: frame 1 is due at t = 20
    const pending = session.pull(1);
    await settle();
    t = 130;
    expect(player.missedFrames).toBe(5);
    release();
    expect((await pending).map(hex)).toEqual([hex(packet(1, 1))]);
    expect(player.missedFrames).toBe(0);
    expect(player.stats.framesLate).toBe(1);
  });

  it('rejects a bad noSubscriber with a typed error', () => {
    try {
      make({ noSubscriber: 'wait' as 'pause' });
      expect.unreachable();
    } catch (err) {
      expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
