import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** One process as /proc shows it: enough to tell whose it is. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Its command line, arguments joined by spaces (nginx retitles its processes here). */
  title: string;
  /** Its working directory and the targets of its open file descriptors. */
  paths: string[];
  /** Names of its environment variables (values are not read: they may be secrets). */
  envNames: string[];
}

/** The fields of /proc/PID/stat hop3 reads; null when there is no such process. */
export function procStat(pid: number | string): { state: string; ppid: number; pgrp: number; startTime: string } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count from its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), startTime: fields[19]! };
}

/**
 * When a process started, in clock ticks since boot (field 22 of /proc/PID/stat): with the pid,
 * it names one process, even after the pid is reused. null when the process is gone.
 */
export const startTimeOf = (pid: number): string | null => procStat(pid)?.startTime ?? null;

function readProc(pid: number, wanted: (title: string) => boolean): ProcInfo | null {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    if (!wanted(title)) return null;
    const stat = procStat(pid);
    if (!stat) return null;
    const ppid = stat.ppid;
    const paths: string[] = [];
    const link = (p: string) => {
      try {
        paths.push(readlinkSync(p));
      } catch {
        // closed meanwhile, or not ours to read
      }
    };
    link(`/proc/${pid}/cwd`);
    for (const fd of readdirSync(`/proc/${pid}/fd`)) link(`/proc/${pid}/fd/${fd}`);
    let envNames: string[] = [];
    try {
      envNames = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => kv.split('=', 1)[0]!);
    } catch {
      // another user's process
    }
    return { pid, ppid, title, paths, envNames };
  } catch {
    return null;
  }
}

/** The processes on the machine whose command line `wanted` accepts. */
export function processes(wanted: (title: string) => boolean = () => true): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name), wanted);
    if (p) found.push(p);
  }
  return found;
}

/** Whether any of a process's paths is inside `dir`. */
export const touches = (p: ProcInfo, dir: string) => {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return p.paths.some((path) => path.startsWith(prefix));
};

/** Whether a process runs (a zombie no longer does: it only waits for its parent to reap it). */
export const alive = (pid: number): boolean => {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z';
};

/** SIGTERM (or `first`) to `pids`, SIGKILL to those still alive after `graceMs`. */
export async function stopProcesses(pids: number[], first: NodeJS.Signals = 'SIGTERM', graceMs = 2000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  if (pids.length === 0) return;
  signal(first);
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(20);
  if (pids.some(alive)) signal('SIGKILL');
  for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(20);
}
