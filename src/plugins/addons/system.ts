import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, SYSTEM_ADDON_PORTS } from '../../config.js';
import { userError } from '../../lib/errors.js';
import { readTextOrNull } from '../../lib/fs-atomic.js';

/** The addon types (server-process.ts's AddonType, named apart: that module needs this one). */
type AddonType = keyof typeof SYSTEM_ADDON_PORTS;

/** The admin account of each of the machine's servers on Debian: PostgreSQL's superuser, MariaDB's root, Redis's one user. */
export const SYSTEM_ADMINS: Record<AddonType, string> = { postgres: 'postgres', mariadb: 'root', redis: 'default' };

/**
 * One of the machine's addon servers (HOP3_ADDONS=system), as hop3 reaches it to administer it:
 * `address` is PostgreSQL's socket directory, MariaDB's socket, or Redis's loopback host (its port
 * is the type's HOP3_<TYPE>_PORT), logged in to as `admin`.
 */
export interface SystemServer {
  address: string;
  admin: string;
  /** The admin's password, read from its file at each use (it may be rotated); null: the file is absent, log in without one. */
  password(): string | null;
  /** Where the password would be read from, for messages; null without HOP3_ADDONS_ADMIN_SECRETS. */
  passwordFile: string | null;
}

/** Which server of `type` hop3 administers: null in the default mode (its own, under HOP3_HOME). */
export function systemServer(config: Pick<Config, 'addonsMode' | 'systemAddons'>, type: AddonType): SystemServer | null {
  if (config.addonsMode !== 'system') return null;
  const { postgresSocketDir, mariadbSocket, adminSecrets } = config.systemAddons;
  const address = type === 'postgres' ? postgresSocketDir : type === 'mariadb' ? mariadbSocket : '127.0.0.1';
  const passwordFile = adminSecrets === null ? null : join(adminSecrets, type);
  return { address, admin: SYSTEM_ADMINS[type], passwordFile, password: () => (passwordFile === null ? null : readAdminSecret(passwordFile)) };
}

/**
 * A password file of the admin's: absent is no password; one other accounts could read is refused
 * (it opens every database on the server), as is an empty one or one with more than one line.
 */
export function readAdminSecret(path: string): string | null {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return null;
  if (!st.isFile() || (st.mode & 0o077) !== 0) {
    throw userError('CONFIG_INVALID', `${path} must be a file only its owner can read (chmod 0600): it holds an addon server's admin password`);
  }
  const value = (readTextOrNull(path) ?? '').replace(/\r?\n$/, '');
  if (value === '' || value.includes('\n') || value.length > 1024) throw userError('CONFIG_INVALID', `${path} must hold one line, the admin password (at most 1024 characters)`);
  return value;
}
