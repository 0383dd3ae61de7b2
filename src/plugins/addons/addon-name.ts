import { userError } from '../../lib/errors.js';

/**
 * An addon's name becomes a PostgreSQL database and role, a MariaDB database and user, and a
 * Redis ACL user and key prefix. It is checked here, before any statement is built: statements
 * also quote identifiers and pass values as driver parameters, but a name that needs quoting is
 * refused rather than trusted to the quoting.
 *
 * Lowercase letters, digits and single dashes, starting with a letter, ending with a letter or a
 * digit, at most 32 characters: within every server's identifier limit (PostgreSQL 63 bytes,
 * MariaDB databases 64), free of glob characters (a Redis key pattern `NAME:*` matches only the
 * addon's keys) and of anything a URL would have to escape.
 */
export const ADDON_NAME_MAX = 32;
const ADDON_NAME = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$/;

/**
 * Names the servers keep for themselves or hop3 uses for its admin account: an addon of that
 * name would be, or collide with, a superuser or a system database.
 */
const RESERVED: ReadonlySet<string> = new Set(['hop3', 'postgres', 'template0', 'template1', 'mysql', 'sys', 'root', 'default', 'admin', 'test', 'public']);

/** The name as given, when it is a valid addon name; otherwise a userError naming what is wrong. */
export function checkAddonName(name: unknown): string {
  const hint = `lowercase letters, digits and single dashes, starting with a letter, at most ${ADDON_NAME_MAX} characters (e.g. blog-db)`;
  if (typeof name !== 'string' || name.length === 0) throw userError('ADDON_NAME_INVALID', 'an addon name is required', { hint });
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
  if (name.length > ADDON_NAME_MAX) {
    throw userError('ADDON_NAME_INVALID', `addon name ${shown} is ${name.length} characters long; at most ${ADDON_NAME_MAX} are allowed`, { hint });
  }
  if (!ADDON_NAME.test(name)) throw userError('ADDON_NAME_INVALID', `addon name ${shown} is not a valid name`, { hint });
  if (RESERVED.has(name)) {
    throw userError('ADDON_NAME_INVALID', `addon name ${shown} is reserved (a server's own account or database, or hop3's)`, { hint: 'pick another name, e.g. my-app-db' });
  }
  return name;
}

/** Scratch instances a backup's verification restores into: `verify-` and 8 hex digits. */
export const SCRATCH_PREFIX = 'verify-';
export const isScratchName = (name: string) => /^verify-[0-9a-f]{8}$/.test(name);

/** A name for a new addon: a valid name that is not one backups keep for their scratch instances. */
export function checkNewAddonName(name: unknown): string {
  const valid = checkAddonName(name);
  if (isScratchName(valid)) {
    throw userError('ADDON_NAME_INVALID', `addon name ${JSON.stringify(valid)} is kept for verifying backups`, { hint: 'pick another name, e.g. my-app-db' });
  }
  return valid;
}

export function isAddonName(name: string): boolean {
  return name.length <= ADDON_NAME_MAX && ADDON_NAME.test(name) && !RESERVED.has(name);
}
