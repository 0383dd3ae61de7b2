import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObservedFiles } from '../../src/lib/file-signature.js';
import { UNKNOWN } from '../../src/lib/unknown.js';

/** Make a file's mtime look settled (older than the coarse-clock window), as on a converged pass. */
const age = (path: string, seconds = 10) => {
  const t = Date.now() / 1000 - seconds;
  utimesSync(path, t, t);
};

describe('ObservedFiles: a file is read again only when its signature moved', () => {
  let dir = '';
  let files: ObservedFiles;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'observed-files-'));
    files = new ObservedFiles();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('sees an edit in place of the same size, a replace by rename and a removal', () => {
    const path = join(dir, 'site.conf');
    writeFileSync(path, 'listen 80;');
    age(path, 20);
    expect(files.read(path)).toBe('listen 80;');
    expect(files.read(path)).toBe('listen 80;');
    // Same size, edited in place: the mtime moves.
    writeFileSync(path, 'listen 81;');
    age(path, 10);
    expect(files.read(path)).toBe('listen 81;');
    writeFileSync(join(dir, 'tmp'), 'other content');
    renameSync(join(dir, 'tmp'), path);
    expect(files.read(path)).toBe('other content');
    rmSync(path);
    expect(files.read(path)).toBeNull();
    writeFileSync(path, 'back');
    expect(files.read(path)).toBe('back');
  });

  it('reads again a file whose mtime is within the coarse-clock window, even with the same stat', () => {
    const path = join(dir, 'fresh.conf');
    writeFileSync(path, 'aaaa');
    const stamp = Date.now() / 1000;
    utimesSync(path, stamp, stamp);
    expect(files.read(path)).toBe('aaaa');
    // A second write in the same clock tick: same size, same mtime, same inode.
    writeFileSync(path, 'bbbb');
    utimesSync(path, stamp, stamp);
    expect(files.read(path)).toBe('bbbb');
  });

  it('is UNKNOWN, not absent, when the path cannot be read as a file', () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    expect(files.read(path)).toBe(UNKNOWN);
    rmSync(path, { recursive: true });
    writeFileSync(path, 'a file now');
    expect(files.read(path)).toBe('a file now');
  });
});
