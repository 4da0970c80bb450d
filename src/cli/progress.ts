// A single status line that redraws itself in place, for long operator commands (replay over many
// histories). Only on a terminal: piped or in CI it writes nothing, so logs stay clean.

/** Where the line goes: `process.stderr`, or anything shaped like it. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export interface ProgressLine {
  /** Redraw the line with `text` (plain text the caller made safe); at most every {@link REDRAW_EVERY_MS}. */
  show(text: string): void;
  /** Erase the line, before the command prints its result or an error. */
  clear(): void;
}

/** Least time between two redraws, in ms: a fast run does not flood the terminal. */
export const REDRAW_EVERY_MS = 100;

// Carriage return, then ANSI "erase the whole line": the next text starts on a blank line.
const ERASE_LINE = "\r\u001b[2K";

/**
 * A progress line on `stream` when it is a terminal (`isTTY`), else one that does nothing. Text wider
 * than the terminal is cut, so the line never wraps (a wrapped line cannot be redrawn in place).
 */
export function progressLine(stream: ProgressStream, now: () => number = Date.now): ProgressLine {
  if (stream.isTTY !== true) return { show: () => undefined, clear: () => undefined };
  let drawnAtMs: number | undefined;
  return {
    show(text) {
      const t = now();
      if (drawnAtMs !== undefined && t - drawnAtMs < REDRAW_EVERY_MS) return;
      drawnAtMs = t;
      // A terminal that reports no width (0, as some pseudo-terminals do) gets the classic 80 columns.
      const width = Math.max((stream.columns !== undefined && stream.columns > 0 ? stream.columns : 80) - 1, 20);
      stream.write(ERASE_LINE + (text.length > width ? text.slice(0, width) : text));
    },
    clear() {
      if (drawnAtMs === undefined) return;
      drawnAtMs = undefined;
      stream.write(ERASE_LINE);
    },
  };
}
