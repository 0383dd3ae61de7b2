import { chmodSync, lchownSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { AccountIds } from './accounts.js';
import { userError } from './errors.js';
import type { AppSpec } from '../manifest/types.js';

/**
 * Confinement of what an app ships: every path hop3 uses, and every link in the tree, is
 * resolved by the kernel (lstat, realpath), never by string arithmetic on the link's text, so a
 * chain such as `r0 -> .`, `r1 -> r0/..`, ..., `public -> r12` is seen for what it reaches.
 */

/**
 * The kernel's resolution of a path (libc realpath). Node's own realpathSync folds `link/..` as
 * text, which is exactly what a chain of links fools.
 */
export const realpath = (path: string): string => realpathSync.native(path);

/** hop3's own files at the top of an app; they may hold secrets, so no other account reads them. */
export const SPEC_FILE_NAMES = ['ENV', 'hop3.toml', 'Procfile'];

export interface Escape {
  /** The link, relative to the app. */
  path: string;
  target: string;
  /** Where the kernel resolves it; null when it does not resolve. */
  real: string | null;
  reason: string;
}

const isInside = (root: string, real: string) => real === root || real.startsWith(root === sep ? root : `${root}${sep}`);

const LINK_HINT = 'links must point to files inside the app; commit the file itself instead';

export function describeEscape(e: Escape): string {
  return e.real === null ? `${e.path} -> ${e.target} ${e.reason}` : `${e.path} -> ${e.target} resolves outside the app: ${e.real}`;
}

/**
 * Every entry under `root` without following links, parents before children, names sorted so
 * messages name the same link every time.
 */
function* walk(root: string): Generator<{ rel: string; abs: string; kind: 'dir' | 'file' | 'link' | 'other' }> {
  const stack = [''];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const names = readdirSync(join(root, dir)).sort();
    const subdirs: string[] = [];
    for (const name of names) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      const abs = join(root, rel);
      const st = lstatSync(abs);
      const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
      yield { rel, abs, kind };
      if (kind === 'dir') subdirs.push(rel);
    }
    stack.push(...subdirs.reverse());
  }
}

/** The links under `root` that resolve outside it or not at all (a dangling link could later reach out). */
export function findEscapes(root: string): { escapes: Escape[]; special: string[] } {
  const real = realpath(root);
  const escapes: Escape[] = [];
  const special: string[] = [];
  for (const e of walk(real)) {
    if (e.kind === 'other') special.push(e.rel);
    if (e.kind !== 'link') continue;
    const target = readlinkSync(e.abs);
    try {
      const resolved = realpath(e.abs);
      if (!isInside(real, resolved)) escapes.push({ path: e.rel, target, real: resolved, reason: 'resolves outside the app' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ELOOP' ? 'is a loop of links' : code === 'EACCES' ? 'points where hop3 may not look' : 'does not resolve (nothing is there)';
      escapes.push({ path: e.rel, target, real: null, reason });
    }
  }
  return { escapes, special };
}

/** Refuse a tree with a link that leaves it, or with a device, FIFO or socket; a user error naming it. */
export function assertConfined(root: string): void {
  const { escapes, special } = findEscapes(root);
  if (escapes.length > 0) {
    const more = escapes.length > 1 ? ` (and ${escapes.length - 1} more link${escapes.length > 2 ? 's' : ''})` : '';
    throw userError('APP_LINK_OUTSIDE', `${describeEscape(escapes[0]!)}${more}`, {
      hint: LINK_HINT, details: escapes.map(describeEscape),
    });
  }
  if (special.length > 0) {
    throw userError('APP_FILE_SPECIAL', `${special[0]} is not a file, directory or link`, { hint: 'an app ships regular files, directories and links only' });
  }
}

/**
 * The real path of `rel` inside `root`; null when nothing is there. A user error naming `what`
 * when it resolves outside the app or is a dangling link.
 */
export function resolveInside(root: string, rel: string, what: string): string | null {
  const base = realpath(root);
  const path = join(base, rel);
  let resolved: string;
  try {
    resolved = realpath(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
    let isLink = false;
    try {
      isLink = lstatSync(path).isSymbolicLink();
    } catch {
      // nothing there at all
    }
    if (!isLink && code !== 'ELOOP') return null;
    throw userError('APP_PATH_OUTSIDE', `${what} ${rel} does not resolve`, { hint: LINK_HINT });
  }
  if (!isInside(base, resolved)) {
    throw userError('APP_PATH_OUTSIDE', `${what} ${rel} resolves outside the app: ${resolved}`, { hint: LINK_HINT });
  }
  return resolved;
}

/**
 * Give the tree to the account that serves it (hop3 as root), or keep it hop3's own, with modes
 * that grant nothing to anyone else: directories 0750/0700, files 0640/0600 (0750/0700 when
 * executable). hop3's own files at the top stay hop3's, 0600. Links are chowned themselves
 * (lchown), never their targets, so a link and the file it names share an owner only when both
 * came with the app: nginx's `disable_symlinks if_not_owner` then refuses any other link.
 */
export function settleOwnership(root: string, reader: AccountIds | null): void {
  const group = reader === null ? 0 : 0o050;
  const base = realpath(root);
  // By inode: a hard link elsewhere in the tree to ENV must not hand ENV to the reader.
  const privateInodes = new Set<number>();
  for (const name of SPEC_FILE_NAMES) {
    const st = lstatSync(join(base, name), { throwIfNoEntry: false });
    if (st?.isFile()) privateInodes.add(st.ino);
  }
  if (reader) lchownSync(base, reader.uid, reader.gid);
  chmodSync(base, 0o700 | group);
  for (const e of walk(base)) {
    if (e.kind === 'link') {
      if (reader) lchownSync(e.abs, reader.uid, reader.gid);
      continue;
    }
    if (e.kind === 'file' && privateInodes.has(lstatSync(e.abs).ino)) {
      chmodSync(e.abs, 0o600);
      continue;
    }
    if (reader) lchownSync(e.abs, reader.uid, reader.gid);
    if (e.kind === 'dir') chmodSync(e.abs, 0o700 | group);
    else if (e.kind === 'file') chmodSync(e.abs, lstatSync(e.abs).mode & 0o100 ? 0o700 | group : 0o600 | (group & 0o040));
  }
}

/**
 * The paths of an app that hop3 itself uses resolve inside it: the static root and the
 * `[static] paths` directories the proxy serves, and requirements.txt (the spec files are read
 * through the same kind of check). Missing ones are left to whoever needs them (a build command
 * may create a static directory).
 */
export function checkAppPaths(root: string, spec: Pick<AppSpec, 'processes' | 'static'>): void {
  const staticDir = spec.processes.find((p) => p.kind === 'static')?.command;
  if (staticDir !== undefined) {
    checkDirectory(root, staticDir, 'the static directory', 'name a directory of the app in [run] static or the Procfile static: line');
  }
  for (const { prefix, dir } of spec.static.paths) {
    checkDirectory(root, dir, `[static] paths "${prefix.slice(0, -1)}" ->`, `map "${prefix.slice(0, -1)}" to a directory of the app`);
  }
  resolveInside(root, 'requirements.txt', 'the file');
}

function checkDirectory(root: string, dir: string, what: string, hint: string): void {
  const real = resolveInside(root, dir, what);
  if (real !== null && !statSync(real).isDirectory()) {
    throw userError('APP_STATIC_NOT_DIRECTORY', `${what} ${dir} is not a directory`, { hint });
  }
}
