import { processes, stopProcesses, touches, type ProcInfo } from '../../../lib/procfs.js';

const CHILD_TITLE = /^nginx: (worker process|cache manager process|cache loader process)/;

/**
 * Pure: the nginx workers left behind by a dead master of the nginx that runs from `home`. A
 * worker whose parent is a live nginx master belongs to that master; one whose files point
 * elsewhere (another HOP3_HOME, the system nginx) is not hop3's to touch.
 */
export function orphanWorkers(procs: ProcInfo[], home: string): number[] {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  return procs
    .filter((p) => CHILD_TITLE.test(p.title))
    .filter((p) => !byPid.get(p.ppid)?.title.startsWith('nginx: master process'))
    .filter((p) => touches(p, home))
    .map((p) => p.pid);
}

/** nginx's own processes (masters too, to tell a live one). */
export const nginxProcesses = () => processes((title) => title.startsWith('nginx:'));

/**
 * Stop the orphaned workers of `home`'s dead nginx master: they still hold the HTTP port, so no
 * new master could take it. SIGQUIT lets their requests finish; SIGKILL after 2 s.
 */
export async function stopOrphanWorkers(home: string): Promise<number[]> {
  const pids = orphanWorkers(nginxProcesses(), home);
  await stopProcesses(pids, 'SIGQUIT');
  return pids;
}
