import { processes, stopProcesses, touches, type ProcInfo } from '../../../lib/procfs.js';

/**
 * Pure: app processes of `home` left running by vassals that died with their emperor. uWSGI
 * does not stop a vassal's attached daemon (a Procfile web or worker command) when the emperor
 * is killed: it lives on, reparented, holding the app's port, so the new vassal could never
 * bind it. Such a process carries the HOP3_APP variable hop3 gives every app process, works in
 * this home, and was reparented to init (a build or release command hop3 runs is hop3-server's
 * child; a live vassal's daemon is its vassal's; a child of an app process goes with it).
 */
export function orphanAppProcesses(procs: ProcInfo[], home: string): number[] {
  const pids = new Set(procs.map((p) => p.pid));
  return procs
    .filter((p) => p.envNames.includes('HOP3_APP') && touches(p, home))
    .filter((p) => p.ppid === 1 || !pids.has(p.ppid))
    .map((p) => p.pid);
}

/** Stop what dead vassals of `home` left running, before a new emperor starts them again. */
export async function stopOrphanAppProcesses(home: string): Promise<number[]> {
  const pids = orphanAppProcesses(processes(), home);
  await stopProcesses(pids, 'SIGTERM');
  return pids;
}
