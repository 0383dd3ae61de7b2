import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCronDir } from '../../src/plugins/schedulers/cron/entry-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'hop3-cron-'));
  dirs.push(d);
  return d;
};

describe('readCronDir', () => {
  it('holds no entry when the directory is not there', () => {
    expect(readCronDir(join(temp(), 'cron'))).toEqual({ entries: [], groups: new Set() });
  });

  it('lists the entries and the recorded run groups of a directory that is there', () => {
    const dir = join(temp(), 'cron');
    mkdirSync(dir);
    for (const f of ['web.cron.json', 'web.cron.pgid', 'api.cron-nightly.json', 'notes.txt']) writeFileSync(join(dir, f), '');
    const { entries, groups } = readCronDir(dir);
    expect(entries).toEqual([{ app: 'api', process: 'cron-nightly', name: 'api.cron-nightly' }, { app: 'web', process: 'cron', name: 'web.cron' }]);
    expect([...groups]).toEqual(['web.cron']);
  });

  it('throws for a directory that cannot be read (a file in its place), never "no entries"', () => {
    const dir = join(temp(), 'cron');
    writeFileSync(dir, 'not a directory');
    expect(() => readCronDir(dir)).toThrow(/ENOTDIR/);
  });
});
