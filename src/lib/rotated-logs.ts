import { copyFileSync, existsSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

/** A rotated generation of a log: `<name>.<unix seconds>` (uWSGI's `log-maxsize` naming). */
const GENERATION = /^(.+\.log)\.(\d+)$/;

/** Delete all but the newest `keep` rotated generations of each log in `dir`; returns how many went. */
export function pruneRotatedLogs(dir: string, keep: number): number {
  if (!existsSync(dir)) return 0;
  const byLog = new Map<string, { file: string; n: number }[]>();
  for (const file of readdirSync(dir)) {
    const m = GENERATION.exec(file);
    if (!m) continue;
    const list = byLog.get(m[1]!) ?? [];
    list.push({ file, n: Number(m[2]) });
    byLog.set(m[1]!, list);
  }
  let removed = 0;
  for (const list of byLog.values()) {
    list.sort((a, b) => b.n - a.n);
    for (const { file } of list.slice(keep)) {
      rmSync(join(dir, file), { force: true });
      removed++;
    }
  }
  return removed;
}

/**
 * Rotate a log past `maxBytes` by copy and truncate, for writers that hold it open in append
 * mode and never reopen it (the emperor, nginx, a shell redirection): they go on writing at the
 * new end of the emptied file. Lines written between the copy and the truncation are lost.
 */
export function rotateAppendLog(path: string, maxBytes: number, nowMs = Date.now()): boolean {
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= maxBytes) return false;
  copyFileSync(path, `${path}.${Math.floor(nowMs / 1000)}`);
  truncateSync(path, 0);
  return true;
}
