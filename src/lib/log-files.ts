import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Reading the end of a log that is being written and rotated (`<log>` renamed to
 * `<log>.<unix time>`, a new `<log>` opened), without ever reading a whole file: an app decides
 * how large its log grows and how long its lines are.
 */

/** A line longer than this is cut when read; the rest of it is skipped. */
export const MAX_LINE_BYTES = 16 * 1024;
/** What one look at the end of a log may read, over all its generations. */
export const TAIL_BUDGET_BYTES = 8 * 1024 * 1024;
const CHUNK = 64 * 1024;
const NL = 0x0a;

// Not fatal: invalid UTF-8 becomes U+FFFD instead of an error.
const decoder = new TextDecoder('utf-8');

function decodeLine(bytes: Buffer): string {
  if (bytes.length <= MAX_LINE_BYTES) return decoder.decode(bytes);
  return `${decoder.decode(bytes.subarray(0, MAX_LINE_BYTES))} [line cut at ${MAX_LINE_BYTES} bytes]`;
}

const sizeOf = (path: string) => statSync(path, { throwIfNoEntry: false })?.size ?? null;

/**
 * A log opened for reading only if it is a plain file: a link (followed, it could name any file
 * the daemon can read) or a FIFO (it would block the daemon) planted in its place is not read.
 */
function openLog(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  if (fstatSync(fd).isFile()) return fd;
  closeSync(fd);
  return null;
}

/**
 * The last `n` lines of a file up to byte `end`, reading backwards from there at most `budget.bytes`
 * (which it lowers by what it read). A line begun before what was read is left out, unless it is
 * the only one (a line longer than the budget): then its end is shown, cut.
 */
export function lastLines(path: string, n: number, budget: { bytes: number }, end: number | null = null): string[] {
  const fd = openLog(path);
  if (fd === null) return [];
  try {
    let pos = Math.min(end ?? Infinity, fstatSync(fd).size);
    const chunks: Buffer[] = [];
    let newlines = 0;
    while (pos > 0 && newlines <= n && budget.bytes > 0) {
      const len = Math.min(CHUNK, pos, budget.bytes);
      const buf = Buffer.allocUnsafe(len);
      const got = readSync(fd, buf, 0, len, pos - len);
      if (got < len) break; // truncated meanwhile
      pos -= len;
      budget.bytes -= len;
      chunks.unshift(buf);
      for (let i = 0; i < len; i++) if (buf[i] === NL) newlines++;
    }
    const all = Buffer.concat(chunks);
    const pieces: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < all.length; i++) {
      if (all[i] === NL) {
        pieces.push(all.subarray(from, i));
        from = i + 1;
      }
    }
    if (from < all.length) pieces.push(all.subarray(from));
    if (pos > 0 && pieces.length > 1) pieces.shift();
    return pieces.slice(-n).map(decodeLine);
  } finally {
    closeSync(fd);
  }
}

/** The rotated generations of a log, newest first. */
export function generationsOf(path: string): string[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
    .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)))
    .map((f) => join(dir, f));
}

/** The last `n` lines of a log, from its rotated generations too when the current file holds fewer; oldest first. */
export function tailOfLog(path: string, n: number, end: number | null = null, budget = { bytes: TAIL_BUDGET_BYTES }): string[] {
  let lines = lastLines(path, n, budget, end);
  for (const older of generationsOf(path)) {
    if (lines.length >= n || budget.bytes <= 0) break;
    lines = [...lastLines(older, n - lines.length, budget), ...lines];
  }
  return lines;
}

/**
 * Follows a log from where it ends now: each `read` returns the lines completed since, at most
 * `maxBytes` of them a call (a log written faster than it is read is caught up on over several
 * calls, never held whole). A rotated log is read to its end before the new one is opened; a
 * truncated one is read again from its start once it is shorter than what was read of it.
 */
export class LogFollower {
  readonly path: string;
  private fd: number | null = null;
  private ino = -1;
  private pos = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The rest of a cut line is being skipped. */
  private skipping = false;
  /** Where the file ended when following began: the lines before it are the tail's. */
  readonly startedAt: number | null;

  constructor(path: string) {
    this.path = path;
    this.startedAt = sizeOf(path);
    if (this.open()) this.pos = this.startedAt ?? 0;
  }

  private open(): boolean {
    this.fd = openLog(this.path);
    if (this.fd === null) return false;
    this.ino = fstatSync(this.fd).ino;
    this.pos = 0;
    return true;
  }

  read(maxBytes = 256 * 1024): string[] {
    if (this.fd === null && !this.open()) return [];
    const lines: string[] = [];
    const buf = Buffer.allocUnsafe(Math.min(maxBytes, CHUNK));
    let budget = maxBytes;
    while (budget > 0) {
      const got = readSync(this.fd!, buf, 0, Math.min(buf.length, budget), this.pos);
      if (got === 0) break;
      this.pos += got;
      budget -= got;
      this.take(buf.subarray(0, got), lines);
    }
    // A new (or emptied) file behind the name is read on at once: its first lines are as new as the old one's last.
    if (budget > 0 && this.checkReplaced(lines)) lines.push(...this.read(budget));
    return lines;
  }

  /** Caught up with this file: if its name now leads to another (rotated) or it shrank (truncated), go on there. */
  private checkReplaced(lines: string[]): boolean {
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (st && st.ino === this.ino) {
      if (st.size >= this.pos) return false;
      this.pos = 0;
      return true;
    }
    this.flush(lines);
    closeSync(this.fd!);
    this.fd = null;
    return st !== undefined && this.open();
  }

  private take(bytes: Buffer, lines: string[]): void {
    let from = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== NL) continue;
      this.keep(bytes.subarray(from, i));
      if (this.skipping) this.skipping = false;
      else this.flush(lines);
      this.pending = [];
      this.pendingBytes = 0;
      from = i + 1;
    }
    this.keep(bytes.subarray(from));
    if (this.pendingBytes > MAX_LINE_BYTES && !this.skipping) {
      this.flush(lines);
      this.skipping = true;
    }
  }

  private keep(bytes: Buffer): void {
    if (this.skipping || bytes.length === 0 || this.pendingBytes > MAX_LINE_BYTES) return;
    const copy = Buffer.from(bytes.subarray(0, MAX_LINE_BYTES + 1 - this.pendingBytes));
    this.pending.push(copy);
    this.pendingBytes += copy.length;
  }

  private flush(lines: string[]): void {
    if (this.pendingBytes > 0) lines.push(decodeLine(Buffer.concat(this.pending)));
    this.pending = [];
    this.pendingBytes = 0;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
