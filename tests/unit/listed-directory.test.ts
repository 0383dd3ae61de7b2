import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ListedDirectory } from '../../src/lib/listed-directory.js';
import { UNKNOWN } from '../../src/lib/unknown.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ListedDirectory', () => {
  let root = '';
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'listed-dir-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('lists once per change, sees its own writes at once and others within a moment', async () => {
    const dir = join(root, 'units');
    mkdirSync(dir);
    let listings = 0;
    const listing = new ListedDirectory(dir, (files) => {
      listings++;
      return [...files].sort();
    });
    writeFileSync(join(dir, 'a.ini'), '');
    // Settled: a listing taken within the kernel's coarse mtime clock of a change is taken again.
    const past = Date.now() / 1000 - 10;
    utimesSync(dir, past, past);
    expect(listing.look()).toEqual(['a.ini']);
    for (let i = 0; i < 100; i++) listing.look();
    expect(listings).toBe(1);
    // hop3's own write, said with changed(): the next look has it.
    writeFileSync(join(dir, 'b.ini'), '');
    listing.changed();
    expect(listing.look()).toEqual(['a.ini', 'b.ini']);
    // Another program's: seen once the reuse window has passed.
    rmSync(join(dir, 'a.ini'));
    await sleep(100);
    expect(listing.look()).toEqual(['b.ini']);
  });

  it('is UNKNOWN for a directory that cannot be listed, and for an absent one unless absent means empty', () => {
    const gone = new ListedDirectory(join(root, 'missing'), (f) => f);
    expect(gone.look()).toBe(UNKNOWN);
    expect(new ListedDirectory(join(root, 'missing'), (f) => f, true).look()).toEqual([]);
    const file = join(root, 'not-a-dir');
    writeFileSync(file, 'x');
    expect(new ListedDirectory(file, (f) => f, true).look()).toBe(UNKNOWN);
  });
});
