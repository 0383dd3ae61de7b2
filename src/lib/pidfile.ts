import { readFileSync } from 'node:fs';
import { UNKNOWN, type Unknown } from './unknown.js';

/** The pid in a pid file when that process is alive and its command line contains `marker`. */
export function livePid(pidfile: string, marker: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidfile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(marker) ? pid : null;
  } catch {
    return null;
  }
}

export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}


/**
 * As livePid, but a look that fails is not taken for "not running": a pid file that cannot be
 * read (other than absent), or a process whose command line cannot be read, is UNKNOWN.
 */
export function lookPid(pidfile: string, marker: string): number | null | Unknown {
  let text: string;
  try {
    text = readFileSync(pidfile, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : UNKNOWN;
  }
  // The pid is the first line (PostgreSQL's postmaster.pid says more after it).
  const pid = Number(text.split('\n')[0]!.trim());
  // Half written, or not a pid at all: no process of this file runs.
  if (!Number.isInteger(pid) || pid <= 1) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker) ? pid : null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH' ? null : UNKNOWN;
  }
}
