import type { Stats } from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { posix, relative } from 'node:path';
import { Unpack, type ReadEntry } from 'tar';
import { Hop3Error, operationalError, userError } from './errors.js';

export interface UnpackLimits {
  /** Total bytes of the files (HOP3_MAX_APP_BYTES). */
  maxBytes: number;
  /** Entries: files, directories, links (HOP3_MAX_APP_FILES). */
  maxFiles: number;
}

/** 1073741824 → "1 GiB", 1500 → "1500 bytes". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size) return `${Number.isInteger(n / size) ? n / size : (n / size).toFixed(1)} ${unit}`;
  }
  return `${n} bytes`;
}

const tooLarge = (limits: UnpackLimits) =>
  userError('APP_TOO_LARGE', `the app unpacks to more than ${formatBytes(limits.maxBytes)} (HOP3_MAX_APP_BYTES)`, {
    hint: 'leave build output, dependencies and data out of the app, or raise HOP3_MAX_APP_BYTES',
  });

const tooManyFiles = (limits: UnpackLimits) =>
  userError('APP_TOO_MANY_FILES', `the app unpacks to more than ${limits.maxFiles} files (HOP3_MAX_APP_FILES)`, {
    hint: 'leave build output and dependencies out of the app, or raise HOP3_MAX_APP_FILES',
  });

const refused = (path: string, why: string) =>
  userError('ARCHIVE_ENTRY_REFUSED', `the archive entry ${JSON.stringify(path)} ${why}`, { hint: 'send the app directory itself: relative paths inside it, no device files' });

/** Errors of the machine, not of the archive: the same upload may work once there is room. */
const DISK_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE']);

const KINDS = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
const hasDotDot = (p: string) => p.split('/').includes('..');

/** Slices of a buffer, so the gunzip and the tar parser get work in small pieces and can push back. */
export function chunked(buffer: Buffer, size = 64 * 1024): Readable {
  return Readable.from((function* () {
    for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
  })(), { objectMode: false });
}

/**
 * Unpack a tar (gzipped or not) into `dir`, streamed with backpressure. Entries and file bytes are
 * counted from the headers as they arrive, so a bomb is refused at the entry that crosses a
 * limit, before it is written; the tar stream itself may be at most the byte limit plus its
 * headers, which bounds the work a stream of padding costs. Owners and setuid, setgid and
 * sticky bits are dropped; absolute paths, `..`, devices, hard links out of the tree and
 * writing through an extracted symlink are refused. Throws a user error naming what is wrong,
 * or an operational one when the disk fails.
 */
export async function unpackArchive(source: Readable, gzipped: boolean, dir: string, limits: UnpackLimits): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  let refusal: Hop3Error | null = null;
  const unpack = new Unpack({
    cwd: dir,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    // The byte limit is what bounds the disk; a ratio would refuse honest, very compressible apps.
    maxDecompressionRatio: Infinity,
    filter: (path: string, e: ReadEntry | Stats) => {
      if (refusal) return false;
      const entry = e as ReadEntry; // unpacking: always an entry
      const reason = check(path, entry);
      if (reason) refusal = reason;
      else if (++files > limits.maxFiles) refusal = tooManyFiles(limits);
      else if ((bytes += entry.size ?? 0) > limits.maxBytes) refusal = tooLarge(limits);
      if (refusal) {
        unpack.abort(new Error(refusal.message));
        return false;
      }
      if (typeof entry.mode === 'number') entry.mode &= 0o777;
      return true;
    },
  });
  const streamLimit = limits.maxBytes + 1024 * Math.min(limits.maxFiles, 1_000_000) + 1024 * 1024;
  let streamed = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      streamed += chunk.length;
      if (streamed > streamLimit) {
        refusal ??= tooLarge(limits);
        done(new Error(refusal.message));
        return;
      }
      done(null, chunk);
    },
  });
  try {
    const sink = unpack as unknown as NodeJS.WritableStream;
    await (gzipped ? pipeline(source, createGunzip(), counter, sink) : pipeline(source, counter, sink));
  } catch (err) {
    if (refusal) throw refusal;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && DISK_ERRORS.has(code)) {
      throw operationalError('DISK_WRITE_FAILED', `could not write the app to disk: ${(err as Error).message}`, {
        hint: 'check the free space and health of the disk holding HOP3_HOME (df -h), then deploy again', cause: err,
      });
    }
    if (code === 'TAR_SYMLINK_ERROR') {
      const { entry, path } = err as { entry?: { path?: string }; path?: string };
      const link = relative(dir, path ?? dir).replace(/\/$/, '');
      throw refused(entry?.path ?? link, `would be written through a link the archive made (${link})`);
    }
    throw userError('ARCHIVE_INVALID', `the archive could not be unpacked: ${(err as Error).message}`, { hint: 'send a gzipped tar of the app directory', cause: err });
  }
  return { files, bytes };
}

/** Why an entry is refused, or null. */
function check(path: string, entry: ReadEntry): Hop3Error | null {
  if (!KINDS.has(entry.type)) return refused(path, `is a ${entry.type}, not a file, directory or link`);
  if (path.startsWith('/')) return refused(path, 'has an absolute path');
  if (hasDotDot(path)) return refused(path, "has '..' in its path");
  const link = entry.linkpath ?? '';
  if (entry.type === 'SymbolicLink' && link.startsWith('/')) return refused(path, `is a link to an absolute path (${link})`);
  // Plain text that climbs out needs no kernel to tell; links that only look inside are resolved after unpacking.
  if (entry.type === 'SymbolicLink' && /^\.\.(\/|$)/.test(posix.normalize(posix.join(posix.dirname(path), link)))) return refused(path, `is a link out of the app (${link})`);
  if (entry.type === 'Link' && (link.startsWith('/') || hasDotDot(link))) return refused(path, `is a hard link out of the app (${link})`);
  return null;
}

/** Whether a buffer starts as gzip does (uploads are gzipped tars; a plain tar is accepted too). */
export const isGzip = (head: Buffer) => head[0] === 0x1f && head[1] === 0x8b;
