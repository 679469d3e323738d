/**
 * Progress while audio plays: on a terminal one line redrawn in place (a bar when the length is
 * known, elapsed time otherwise); elsewhere (CI logs, pipes) a plain line at each quarter, or every
 * few seconds when the length is unknown, so logs stay short and readable.
 */
import type { CliOutput } from './io.js';

/** m:ss.s */
export function formatDuration(ms: number): string {
  const safe = Number.isFinite(ms) && ms > 0 ? ms : 0;
  const tenths = Math.floor(safe / 100);
  const minutes = Math.floor(tenths / 600);
  const seconds = (tenths % 600) / 10;
  return `${minutes}:${seconds.toFixed(1).padStart(4, '0')}`;
}

/** A bar of `width` cells for `fraction` (clamped to 0-1). */
export function renderBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.round(f * width);
  return `${'#'.repeat(full)}${'-'.repeat(Math.max(0, width - full))}`;
}

/** The text of one progress line (no newline, no control characters). */
export function progressLine(
  label: string,
  doneMs: number,
  totalMs: number | undefined,
  width: number,
): string {
  if (totalMs === undefined || totalMs <= 0) return `${label} ${formatDuration(doneMs)}`;
  const fraction = Math.min(1, doneMs / totalMs);
  const percent = `${Math.round(fraction * 100)}%`.padStart(4);
  const times = `${formatDuration(Math.min(doneMs, totalMs))} / ${formatDuration(totalMs)}`;
  const room = width - label.length - percent.length - times.length - 6;
  const barWidth = Math.max(10, Math.min(40, room));
  return `${label} [${renderBar(fraction, barWidth)}] ${percent} ${times}`;
}

export interface ProgressOptions {
  label: string;
  /** Known length in ms; undefined = show elapsed time only. */
  totalMs?: number;
  /** Non-TTY: one line per this many ms when the length is unknown (default 5000). */
  plainIntervalMs?: number;
}

export class Progress {
  private readonly tty: boolean;
  private readonly width: number;
  private lastQuarter = -1;
  private lastPlainIndex = -1;
  private drawn = false;
  private finished = false;

  constructor(
    private readonly out: CliOutput,
    private readonly options: ProgressOptions,
  ) {
    this.tty = out.isTTY === true;
    this.width = Math.max(40, Math.min(100, out.columns ?? 80));
  }

  update(doneMs: number): void {
    if (this.finished) return;
    const { label, totalMs } = this.options;
    if (this.tty) {
      // \r + "erase line": redraw in place.
      this.out.write(`\r\x1b[2K${progressLine(label, doneMs, totalMs, this.width)}`);
      this.drawn = true;
      return;
    }
    if (totalMs !== undefined && totalMs > 0) {
      const quarter = Math.min(4, Math.floor((doneMs / totalMs) * 4));
      if (quarter <= this.lastQuarter) return;
      this.lastQuarter = quarter;
      this.out.write(`${progressLine(label, doneMs, totalMs, this.width)}\n`);
      return;
    }
    const interval = this.options.plainIntervalMs ?? 5_000;
    const index = Math.floor(Math.max(0, doneMs) / interval);
    if (index > this.lastPlainIndex) {
      this.lastPlainIndex = index;
      this.out.write(`${progressLine(label, doneMs, totalMs, this.width)}\n`);
    }
  }

  /** Draws the final state once and ends the line. */
  done(doneMs: number): void {
    if (this.finished) return;
    const { label, totalMs } = this.options;
    if (this.tty) {
      this.out.write(`\r\x1b[2K${progressLine(label, doneMs, totalMs, this.width)}\n`);
    } else if (totalMs === undefined || this.lastQuarter < 4) {
      this.out.write(`${progressLine(label, doneMs, totalMs, this.width)}\n`);
    }
    this.drawn = false;
    this.finished = true;
  }

  /** Prints a line of its own; the bar goes on below it (redrawn at the next update). */
  note(line: string): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
    this.out.write(`${line}\n`);
  }

  /** Ends a half-drawn TTY line (before printing an error). */
  interrupt(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
    this.finished = true;
  }
}
