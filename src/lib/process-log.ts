/**
 * The lines of an app's process logs, as `hop3 logs` shows them. Pure. A log is written by
 * whatever the app prints, so every line is hostile: it may be any bytes, any length, and carry
 * terminal escape sequences meant for whoever reads it.
 */

/** One line as shown: when it was written (ISO 8601, UTC; null if nothing said), by which process. */
export interface LogLine {
  time: string | null;
  process: string;
  text: string;
}

/**
 * The supervisor stamps each write it receives with the microseconds since the epoch and a
 * space. A write of several lines is stamped once: the lines after the first carry no stamp of
 * their own and take the one before theirs.
 */
const STAMP = /^(\d{13,17}) /;

export interface StampedLine {
  /** Microseconds since the epoch; null when the line carries no stamp. */
  micros: number | null;
  text: string;
}

/**
 * A write that did not end its line (Python's `print` writes the text, then the newline) leaves
 * the next write's stamp inside the line.
 */
// No look-behind: the text before may end in digits of its own (`id 42` + the stamp).
const INNER_STAMP = /(\d{16}) /g;
/** An inner stamp is one within a day after the line's own; anything else is the app's text. */
const DAY_MICROS = 86_400_000_000;

export function splitStamp(line: string): StampedLine {
  const m = STAMP.exec(line);
  if (!m) return { micros: null, text: line };
  const micros = Number(m[1]);
  const text = line.slice(m[0].length).replace(INNER_STAMP, (whole, d: string) => {
    const at = Number(d);
    return at >= micros && at - micros < DAY_MICROS ? '' : whole;
  });
  return { micros, text };
}

/** Stamps filled in from the line before (within one file, in the order written). */
export function carryStamps(lines: StampedLine[], before: number | null = null): StampedLine[] {
  let last = before;
  return lines.map((l) => {
    if (l.micros !== null) last = l.micros;
    return { micros: last, text: l.text };
  });
}

/** ISO 8601 in UTC to the second, as Heroku prints it (`2026-12-01T10:00:00Z`). */
export const isoSeconds = (micros: number): string => `${new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19)}Z`;

/**
 * Control characters (C0 but tab, DEL, C1: ESC and CSI start every terminal escape sequence, CR
 * rewrites a line) shown as `\xNN`, so nothing an app prints is interpreted by the terminal of
 * whoever reads its log. Bidirectional overrides are shown too: they reorder what is displayed.
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function visible(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Lines of several processes, each list in its own order, merged by time (a stable merge: equal times keep their order). */
export function mergeByTime<L extends { micros: number | null }>(lists: L[][]): L[] {
  const at = lists.map(() => 0);
  const merged: L[] = [];
  for (;;) {
    let pick = -1;
    for (let i = 0; i < lists.length; i++) {
      const l = lists[i]![at[i]!];
      if (l === undefined) continue;
      const best = pick === -1 ? undefined : lists[pick]![at[pick]!]!;
      if (best === undefined || (l.micros ?? 0) < (best.micros ?? 0)) pick = i;
    }
    if (pick === -1) return merged;
    merged.push(lists[pick]![at[pick]!]!);
    at[pick]!++;
  }
}

/** The Heroku form: `2026-12-01T10:00:00Z web: text`. */
export function formatLogLine(l: LogLine): string {
  return `${l.time ?? '-'} ${l.process}: ${l.text}`;
}
