import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import { chunked, formatBytes, unpackArchive } from '../../src/lib/unpack-archive.js';

type Entry = { path: string; type?: string; body?: Buffer | string; size?: number; mode?: number; linkpath?: string; uid?: number };

/** A raw tar, entry by entry, so the tests can write what a hostile client would. */
function rawTar(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === 'string' ? Buffer.from(e.body) : e.body ?? Buffer.alloc(0);
    const size = e.size ?? body.length;
    const h = new Header({ path: e.path, type: (e.type ?? 'File') as never, size, mode: e.mode ?? 0o644, linkpath: e.linkpath ?? '', uid: e.uid ?? 0, gid: e.uid ?? 0, mtime: new Date(0) });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    parts.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const LIMITS = { maxBytes: 1024 * 1024, maxFiles: 100 };
let base = '';
let dest = '';
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hop3-unpack-'));
  dest = join(base, 'src');
  mkdirSync(dest);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

async function refusal(tar: Buffer, limits = LIMITS, gzip = true): Promise<Hop3Error> {
  const data = gzip ? gzipSync(tar) : tar;
  const err = await unpackArchive(chunked(data), gzip, dest, limits).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(Hop3Error);
  return err as Hop3Error;
}

describe('unpackArchive', () => {
  it('unpacks files, directories and links inside, with no setuid, setgid or sticky bit and no owner', async () => {
    const tar = rawTar([
      { path: 'bin/', type: 'Directory', mode: 0o1777 },
      { path: 'bin/run', body: '#!/bin/sh\n', mode: 0o6755, uid: 1234 },
      { path: 'index.html', body: 'hi' },
      { path: 'home.html', type: 'SymbolicLink', linkpath: 'index.html' },
      { path: 'copy.html', type: 'Link', linkpath: 'index.html' },
    ]);
    expect(await unpackArchive(chunked(gzipSync(tar)), true, dest, LIMITS)).toEqual({ files: 5, bytes: 12 });
    expect(statSync(join(dest, 'bin', 'run')).mode & 0o7000).toBe(0);
    expect(statSync(join(dest, 'bin')).mode & 0o7000).toBe(0);
    expect(statSync(join(dest, 'bin', 'run')).uid).toBe(process.getuid!());
    expect(lstatSync(join(dest, 'home.html')).isSymbolicLink()).toBe(true);
    expect(statSync(join(dest, 'copy.html')).nlink).toBe(2);
  });

  it('refuses an entry over the byte limit from its header, before writing it', async () => {
    // The header announces 4 GiB; the archive carries only its first bytes.
    const tar = rawTar([{ path: 'a.txt', body: 'small' }, { path: 'zeros', size: 4 * 1024 ** 3, body: Buffer.alloc(0) }]);
    const e = await refusal(tar.subarray(0, 2048));
    expect(e).toMatchObject({ code: 'APP_TOO_LARGE', category: 'user', message: 'the app unpacks to more than 1 MiB (HOP3_MAX_APP_BYTES)' });
    expect(existsSync(join(dest, 'zeros'))).toBe(false);
  });

  it('refuses a stream of padding larger than the limit allows, though it declares no file', async () => {
    const e = await refusal(Buffer.alloc(8 * 1024 * 1024), { maxBytes: 1024 * 1024, maxFiles: 10 });
    expect(e.code).toBe('APP_TOO_LARGE');
  });

  it('refuses the entry past the entry limit, naming HOP3_MAX_APP_FILES', async () => {
    const tar = rawTar(Array.from({ length: 50 }, (_, i) => ({ path: `f${i}` })));
    const e = await refusal(tar, { maxBytes: 1024 * 1024, maxFiles: 10 });
    expect(e).toMatchObject({ code: 'APP_TOO_MANY_FILES', message: 'the app unpacks to more than 10 files (HOP3_MAX_APP_FILES)' });
    expect(readdirSync(dest).length).toBeLessThanOrEqual(10);
  });

  it.each([
    ['an absolute path', { path: '/etc/hop3-test-evil', body: 'x' }, /has an absolute path/],
    ['a .. path', { path: 'a/../../evil', body: 'x' }, /has '\.\.' in its path/],
    ['an absolute symlink', { path: 'pw', type: 'SymbolicLink', linkpath: '/etc/passwd' }, /is a link to an absolute path \(\/etc\/passwd\)/],
    ['a symlink whose text climbs out', { path: 'a/pw', type: 'SymbolicLink', linkpath: '../../etc/passwd' }, /"a\/pw" is a link out of the app \(\.\.\/\.\.\/etc\/passwd\)/],
    ['a hard link to an absolute path', { path: 'pw', type: 'Link', linkpath: '/etc/passwd' }, /is a hard link out of the app/],
    ['a hard link up', { path: 'pw', type: 'Link', linkpath: '../secret' }, /is a hard link out of the app/],
    ['a device', { path: 'null', type: 'CharacterDevice' }, /is a CharacterDevice/],
  ])('refuses %s, naming the entry', async (_what, entry, message) => {
    const e = await refusal(rawTar([entry as Entry]));
    expect(e.code).toBe('ARCHIVE_ENTRY_REFUSED');
    expect(e.message).toMatch(message);
    expect(existsSync('/etc/hop3-test-evil')).toBe(false);
    expect(existsSync(join(base, 'evil'))).toBe(false);
  });

  it('refuses to write through a link the archive made', async () => {
    mkdirSync(join(base, 'outside'));
    const tar = rawTar([
      { path: 'd', type: 'SymbolicLink', linkpath: 'sub/..' },
      { path: 'd/x', body: 'through the link' },
    ]);
    const e = await refusal(tar);
    expect(e.code).toBe('ARCHIVE_ENTRY_REFUSED');
    expect(e.message).toBe('the archive entry "d/x" would be written through a link the archive made (d)');
  });

  it('refuses a damaged archive as invalid', async () => {
    const e = await refusal(gzipSync(rawTar([{ path: 'a', body: 'x'.repeat(2000) }])).subarray(0, 40), LIMITS, false);
    expect(e.code).toBe('ARCHIVE_INVALID');
  });

  it('reports a full disk as an operational error with a hint about space', async () => {
    const small = join(base, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    try {
      const big = Buffer.alloc(1024 * 1024, 1);
      const err = await unpackArchive(Readable.from([gzipSync(rawTar([{ path: 'big', body: big }]))]), true, small, { maxBytes: 10 * 1024 * 1024, maxFiles: 10 }).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'DISK_WRITE_FAILED', category: 'operational' });
      expect((err as Hop3Error).hint).toMatch(/free space/);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('formats limits in plain units', () => {
    expect([formatBytes(1024 ** 3), formatBytes(1536), formatBytes(1000), formatBytes(5 * 1024 ** 2)]).toEqual(['1 GiB', '1.5 KiB', '1000 bytes', '5 MiB']);
  });
});
