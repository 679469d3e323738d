import { describe, expect, it, vi } from 'vitest';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import type { BackendPlayerListener, PlayableTrack } from '../../src/node/backend.js';

describe('timeline backend with a timescale', () => {
  it('moves the position in track time at speed × rate and ends the track in that much less wall time', () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const ends: string[] = [];
      const listener = {
        trackStart: () => undefined,
        trackEnd: (reason: string) => ends.push(reason),
      } as unknown as BackendPlayerListener;
      const backend = createTimelineBackend({ now: () => now });
      const player = backend.createPlayer({ sessionId: 's', guildId: 'g' } as never, listener);
      const track = { encoded: 'x', info: { length: 10_000, isStream: false } } as unknown as PlayableTrack;
      player.play(track, { startMs: 0, endTimeMs: undefined, paused: false });
      now = 1000;
      vi.advanceTimersByTime(1000);
      expect(player.position).toBe(1000);
      player.setFilters({ timescale: { speed: 2, rate: 1.5 } });
      now = 2000;
      vi.advanceTimersByTime(1000);
      expect(player.position).toBe(4000); // 1000 + 1000 × 3
      expect(ends).toEqual([]);
      now = 4000;
      vi.advanceTimersByTime(2000); // 6000 track ms left at ×3
      expect(ends).toEqual(['finished']);
    } finally {
      vi.useRealTimers();
    }
  });
});
