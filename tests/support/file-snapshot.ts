import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What every entry under a directory is, as lstat sees it: path → mtime (ns), inode and size.
 * Taken before and after some work, two snapshots show which files it wrote, created or removed
 * (an atomic rename gives a new inode even with the same content and mtime), by looking at the
 * disk rather than by hop3 counting its own writes.
 */
export type FileSnapshot = Map<string, string>;

export function snapshotFiles(dir: string, skip: (path: string) => boolean = () => false): FileSnapshot {
  const out: FileSnapshot = new Map();
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (err) {
      // Removed while walking (or never there): whatever was in it shows as gone.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (skip(p)) continue;
      let s;
      try {
        s = lstatSync(p, { bigint: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      // A directory's mtime moves when an entry is created, renamed or removed in it: a file
      // written and removed again between the snapshots shows there.
      out.set(p, `${s.mtimeNs}/${s.ino}/${s.isDirectory() ? 'dir' : s.size}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** The paths created, changed or removed between two snapshots, sorted. */
export function changedFiles(before: FileSnapshot, after: FileSnapshot): string[] {
  const changed = new Set<string>();
  for (const [p, v] of after) if (before.get(p) !== v) changed.add(p);
  for (const p of before.keys()) if (!after.has(p)) changed.add(p);
  return [...changed].sort();
}
