import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { realpath, SPEC_FILE_NAMES } from '../../../lib/confine.js';
import { userError } from '../../../lib/errors.js';

/** A link under a static root that Caddy must not be given. */
export interface BadLink {
  /** The link, relative to the root. */
  path: string;
  target: string;
  reason: string;
}

/**
 * Caddy follows every link under a root, and hides files by the name asked for, not by the
 * file a link reaches (nginx's `disable_symlinks if_not_owner` has no Caddy equivalent). So
 * before a root is handed to Caddy, every link in it must resolve inside it, to a file the
 * site serves: not out of the root, nowhere, nor to hop3's own files or a dotfile in it.
 */
export function badLinks(root: string): BadLink[] {
  if (!existsSync(root)) return [];
  const base = realpath(root);
  const bad: BadLink[] = [];
  const stack = [''];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const name of readdirSync(join(base, dir)).sort()) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      const abs = join(base, rel);
      const st = lstatSync(abs);
      if (st.isDirectory()) stack.push(rel);
      if (!st.isSymbolicLink()) continue;
      const target = readlinkSync(abs);
      let real: string;
      try {
        real = realpath(abs);
      } catch {
        bad.push({ path: rel, target, reason: 'does not resolve' });
        continue;
      }
      const inside = relative(base, real);
      if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
        bad.push({ path: rel, target, reason: `resolves outside the static root: ${real}` });
      } else if (SPEC_FILE_NAMES.includes(inside) || inside.split(sep).some((c) => c.startsWith('.'))) {
        bad.push({ path: rel, target, reason: `leads to ${inside}, which the site never serves` });
      }
    }
  }
  return bad;
}

/** A user error naming the first bad link of `root`; nothing when it has none. */
export function assertStaticRootLinks(root: string): void {
  const bad = badLinks(root);
  if (bad.length === 0) return;
  const say = (b: BadLink) => `${b.path} -> ${b.target} ${b.reason}`;
  throw userError('APP_LINK_OUTSIDE', `the static root ${root} holds a link Caddy must not follow: ${say(bad[0]!)}`, {
    hint: 'links in a static directory must point to files it serves; the config was not loaded, Caddy keeps the one it had',
    details: bad.map(say),
  });
}
