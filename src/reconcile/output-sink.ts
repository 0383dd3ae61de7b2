import type { Store } from '../store/store.js';

/** Longest output line kept, in characters; the rest of a longer line is cut. */
export const MAX_LINE_CHARS = 4096;

export function cutLine(line: string): string {
  if (line.length <= MAX_LINE_CHARS) return line;
  return `${line.slice(0, MAX_LINE_CHARS)} [... ${line.length - MAX_LINE_CHARS} more characters not kept]`;
}

export interface OutputSink {
  line(text: string): void;
  /** Records how many lines were not kept, if any. Call once, when the phase ends (even on failure). */
  close(): void;
}

/**
 * Output of one release phase as events, up to `maxLines` of them: past the cap lines are only
 * counted (a build printing a million lines costs a counter, not a million rows), and `close`
 * writes one line saying how many were dropped.
 */
export function outputSink(store: Store, app: string, release: number, phase: string, maxLines: number): OutputSink {
  let kept = 0;
  let dropped = 0;
  return {
    line(text) {
      if (kept >= maxLines) {
        dropped++;
        return;
      }
      kept++;
      store.addEvent(app, 'output', { release, phase, line: cutLine(text) });
    },
    close() {
      if (dropped === 0) return;
      store.addEvent(app, 'output', { release, phase, line: `... ${dropped} more lines not kept (HOP3_MAX_OUTPUT_LINES=${maxLines})` });
      dropped = 0;
    },
  };
}
