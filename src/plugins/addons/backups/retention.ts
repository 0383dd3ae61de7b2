import type { BackupEntry } from './catalogue.js';

/**
 * Which of one subject's backups a `--keep N` schedule removes: scheduled backups past the N
 * newest. Manual, pre-restore and final (destroy) backups are the user's and are never removed;
 * neither is the newest backup that is verified and intact, whatever made it, so pruning never
 * leaves an addon without a backup known to restore. Pure.
 */
export function expiredBackups(entries: readonly BackupEntry[], keep: number): string[] {
  const newestFirst = [...entries].sort((a, b) => (a.id < b.id ? 1 : -1));
  const lastGood = newestFirst.find((e) => e.verified && e.status === 'ok')?.id;
  return newestFirst.filter((e) => e.trigger === 'schedule').slice(keep).filter((e) => e.id !== lastGood).map((e) => e.id);
}
