import { describe, expect, it } from 'vitest';
import { Progress, formatDuration, progressLine, renderBar } from '../../src/cli/progress.js';

function sink(tty: boolean): { write(t: string): void; isTTY: boolean; columns: number; text: string[] } {
  const text: string[] = [];
  return { write: (t) => void text.push(t), isTTY: tty, columns: 80, text };
}

describe('progress formatting', () => {
  it('formats durations as m:ss.s', () => {
    expect(formatDuration(0)).toBe('0:00.0');
    expect(formatDuration(3_050)).toBe('0:03.0');
    expect(formatDuration(61_990)).toBe('1:01.9');
    expect(formatDuration(-5)).toBe('0:00.0');
    expect(formatDuration(Number.NaN)).toBe('0:00.0');
  });

  it('draws a bar clamped to its width', () => {
    expect(renderBar(0.5, 10)).toBe('#####-----');
    expect(renderBar(2, 4)).toBe('####');
    expect(renderBar(-1, 4)).toBe('----');
  });

  it('shows percent and times when the length is known, elapsed time otherwise', () => {
    expect(progressLine('playing', 1_500, 3_000, 80)).toMatch(/^playing \[#+-+\] {2}50% 0:01\.5 \/ 0:03\.0$/);
    expect(progressLine('recording', 12_300, undefined, 80)).toBe('recording 0:12.3');
  });
});

describe('Progress', () => {
  it('redraws one line in place on a terminal', () => {
    const out = sink(true);
    const p = new Progress(out, { label: 'playing', totalMs: 1_000 });
    p.update(100);
    p.update(200);
    p.done(1_000);
    expect(out.text.every((t) => t.startsWith('\r\x1b[2K'))).toBe(true);
    expect(out.text.at(-1)).toMatch(/100% 0:01\.0 \/ 0:01\.0\n$/);
    expect(out.text.join('').split('\n')).toHaveLength(2); // one finished line
  });

  it('prints a plain line per quarter elsewhere (no control characters)', () => {
    const out = sink(false);
    const p = new Progress(out, { label: 'playing', totalMs: 1_000 });
    for (let ms = 0; ms <= 1_000; ms += 50) p.update(ms);
    p.done(1_000);
    const text = out.text.join('');
    expect(text).not.toContain('\r');
    expect(text).not.toContain('\u001b');
    expect(
      text
        .trim()
        .split('\n')
        .map((l) => l.match(/(\d+)%/)?.[1]),
    ).toEqual(['0', '25', '50', '75', '100']);
  });

  it('prints elapsed time every interval when the length is unknown', () => {
    const out = sink(false);
    const p = new Progress(out, { label: 'recording', plainIntervalMs: 1_000 });
    for (let ms = 0; ms <= 3_000; ms += 100) p.update(ms);
    expect(out.text.length).toBe(4);
    p.interrupt();
    p.update(5_000);
    expect(out.text.length).toBe(4);
  });
});
