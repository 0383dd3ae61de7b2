import { readFileSync, statSync } from 'node:fs';
import { UNKNOWN, type Unknown } from './unknown.js';

/**
 * Inode, size, mtime and ctime of each file (-1s for a missing one), or UNKNOWN when one cannot be
 * looked at. hop3 replaces files by rename (a new inode) and an edit in place moves the mtime,
 * so an equal signature means unchanged files. A stat costs less than a read, and far less
 * than what is done with the content (parsing a certificate, comparing a site): a converged pass
 * over a thousand apps looks again at files that did not change. Kept as numbers: formatting
 * mtimes as text cost more than the stats themselves.
 */
export function fileSignature(paths: readonly string[]): Float64Array | Unknown {
  const sig = new Float64Array(paths.length * 4).fill(-1);
  for (let i = 0; i < paths.length; i++) {
    try {
      const st = statSync(paths[i]!, { throwIfNoEntry: false });
      if (!st) continue;
      sig[4 * i] = st.ino;
      sig[4 * i + 1] = st.size;
      sig[4 * i + 2] = st.mtimeMs;
      // An mtime can be set back (touch -r, cp -p); the ctime cannot.
      sig[4 * i + 3] = st.ctimeMs;
    } catch {
      return UNKNOWN;
    }
  }
  return sig;
}

export function sameSignature(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The kernel stamps mtimes from a coarse clock (a few ms): a second write that soon after the
 * first can keep its mtime, so a content read that close to its file's mtime is read again next time.
 */
const SETTLED_MS = 50;

/**
 * Files read as observations, read again only when their signature moved. The content returned
 * for an unchanged file is the same string as before, so a caller comparing it with what it
 * last saw compares one pointer, not the text.
 */
export class ObservedFiles {
  private readonly memo = new Map<string, { signature: Float64Array; content: string | null; settled: boolean }>();

  /** The file's content, null when it is absent, UNKNOWN when it cannot be looked at or read. */
  read(path: string): string | null | Unknown {
    const sig = fileSignature([path]);
    if (sig === UNKNOWN) return this.forget(path);
    const seen = this.memo.get(path);
    if (seen?.settled && sameSignature(seen.signature, sig)) return seen.content;
    let content: string | null;
    try {
      content = sig[0] === -1 ? null : readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return this.forget(path);
      content = null;
    }
    // Read again next time unless the stat before the read still holds after it (no write in between) and the mtime is settled.
    const after = fileSignature([path]);
    const settled = after !== UNKNOWN && sameSignature(after, sig) && Date.now() - Math.max(sig[2]!, sig[3]!) > SETTLED_MS;
    // An absent file is not remembered: the stat alone says so, and gone apps' paths do not pile up.
    if (content === null) this.memo.delete(path);
    else this.memo.set(path, { signature: sig, content, settled });
    return content;
  }

  private forget(path: string): Unknown {
    this.memo.delete(path);
    return UNKNOWN;
  }
}
