import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeIfDifferent } from '../../src/lib/fs-atomic.js';
import { changedFiles, snapshotFiles, snapshotsElsewhere } from '../support/file-snapshot.js';

// The benches and tests prove "0 writes" with these snapshots, so they must see every kind of write.
describe('file snapshots (what "0 writes" is checked with)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-snapshot-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'b.txt'), 'b\n');
  symlinkSync('sub/a.txt', join(dir, 'link'));
  const a = join(dir, 'sub', 'a.txt');

  it('sees nothing when nothing was written, and a write-if-different of the same content writes nothing', () => {
    const before = snapshotFiles(dir);
    expect(writeIfDifferent(a, 'a\n')).toBe(false);
    expect(changedFiles(before, snapshotFiles(dir))).toEqual([]);
    expect([...before.keys()].sort()).toEqual([join(dir, 'b.txt'), join(dir, 'link'), join(dir, 'sub'), a]);
  });

  it('sees an atomic rewrite with the same content and the same mtime (a new inode)', () => {
    const before = snapshotFiles(dir);
    const mtime = new Date(1_700_000_000_000);
    utimesSync(a, mtime, mtime);
    const pinned = snapshotFiles(dir);
    writeFileAtomic(a, 'a\n');
    utimesSync(a, mtime, mtime);
    expect(changedFiles(pinned, snapshotFiles(dir))).toContain(a);
    expect(changedFiles(before, snapshotFiles(dir))).toContain(a);
  });

  it('sees a file created and removed again between two snapshots (its directory moved)', async () => {
    const before = snapshotFiles(dir);
    await new Promise((r) => setTimeout(r, 5)); // past the filesystem's timestamp granularity
    writeFileSync(join(dir, 'sub', 'tmp'), 'x');
    rmSync(join(dir, 'sub', 'tmp'));
    expect(changedFiles(before, snapshotFiles(dir))).toEqual([join(dir, 'sub')]);
  });

  it('sees created and removed files, and a link changed without its target (lstat, not stat)', () => {
    const before = snapshotFiles(dir);
    writeFileSync(join(dir, 'new.txt'), 'n');
    rmSync(join(dir, 'b.txt'));
    rmSync(join(dir, 'link'));
    symlinkSync('b.txt', join(dir, 'link'));
    const changed = changedFiles(before, snapshotFiles(dir));
    for (const p of ['new.txt', 'b.txt', 'link']) expect(changed).toContain(join(dir, p));
    expect(changed).not.toContain(a);
  });

  it('leaves out what the skip function names, and all under a skipped directory', () => {
    const before = snapshotFiles(dir, (p) => p === join(dir, 'sub'));
    writeFileAtomic(a, 'changed\n');
    expect([...before.keys()].some((p) => p.startsWith(join(dir, 'sub')))).toBe(false);
    expect(changedFiles(before, snapshotFiles(dir, (p) => p === join(dir, 'sub')))).toEqual([]);
  });

  it('kept by another process (the benchmark\'s way): each look lists what changed since the one before', () => {
    const files = snapshotsElsewhere(dir, { paths: [join(dir, 'skipped')], suffixes: ['.log'] });
    try {
      expect(files.changed()).toEqual([]);
      writeFileAtomic(a, 'again\n');
      writeFileSync(join(dir, 'x.log'), 'a server\'s own log\n');
      expect(files.changed()).toEqual([join(dir, 'sub'), a]);
      expect(files.changed()).toEqual([]);
    } finally {
      files.close();
    }
  });
});
