import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

/** What a snapshot taken in another process leaves out: exact paths, and names ending so. */
export interface SnapshotSkip {
  paths?: string[];
  suffixes?: string[];
}

/**
 * What under a HOP3_HOME the servers write themselves, not hop3: their logs (Caddy logs every
 * admin request), and SQLite's files, whose changes are counted as rows (total_changes) instead.
 */
export const serversOwn = (home: string): SnapshotSkip => ({
  paths: [join(home, 'log'), join(home, 'hop3.db'), join(home, 'hop3.db-wal'), join(home, 'hop3.db-shm')],
  suffixes: ['.log'],
});

export const skipOf = (s: SnapshotSkip) => (p: string) => (s.paths ?? []).includes(p) || (s.suffixes ?? []).some((x) => p.endsWith(x));

/**
 * Snapshots of `dir` kept by a separate process: a benchmark that measures a process's time and
 * memory must not fill that process's heap with a listing of every file (its garbage would be
 * collected during the passes being timed). Each `changed()` lists what changed since the last
 * one (or since the start); both run synchronously, so nothing runs during the work measured.
 */
export function snapshotsElsewhere(dir: string, skip: SnapshotSkip = {}): { changed(): string[]; close(): void } {
  const state = join(mkdtempSync(join(tmpdir(), 'hop3-file-snapshot-')), 'snapshot.json');
  const self = fileURLToPath(import.meta.url);
  const run = (op: 'save' | 'diff'): string => {
    const r = spawnSync(process.execPath, [self, op, dir, state, JSON.stringify(skip)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`file snapshot ${op} of ${dir} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  };
  run('save');
  return {
    changed: () => JSON.parse(run('diff')) as string[],
    close: () => rmSync(dirname(state), { recursive: true, force: true }),
  };
}

// The other process: `node file-snapshot.js save|diff DIR STATE SKIP_JSON`; diff prints the
// changed paths as JSON and saves the new snapshot in place of the old.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [op, dir, state, skipJson] = process.argv.slice(2) as [string, string, string, string];
  const now = snapshotFiles(dir, skipOf(JSON.parse(skipJson) as SnapshotSkip));
  if (op === 'diff') {
    const before: FileSnapshot = new Map(JSON.parse(readFileSync(state, 'utf8')) as [string, string][]);
    process.stdout.write(JSON.stringify(changedFiles(before, now)));
  }
  writeFileSync(state, JSON.stringify([...now]));
}
