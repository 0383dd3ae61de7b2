import { readTextOrNull } from './fs-atomic.js';
import { ExecError, type Exec } from './exec.js';

export interface AccountIds { uid: number; gid: number }

/** uid and primary gid of a local account (from /etc/passwd), or null when there is none. */
export function accountIds(user: string, passwd = readTextOrNull('/etc/passwd') ?? ''): AccountIds | null {
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === user && uid !== undefined && gid !== undefined && /^\d+$/.test(uid) && /^\d+$/.test(gid)) return { uid: Number(uid), gid: Number(gid) };
  }
  return null;
}

/** The home directory of a system account, or null when there is no such account. */
export async function accountHome(exec: Exec, user: string): Promise<string | null> {
  try {
    const { stdout } = await exec.run(['getent', 'passwd', user]);
    // name:password:uid:gid:gecos:home:shell
    return stdout.split('\n')[0]?.split(':')[5] ?? null;
  } catch (err) {
    // getent exits 2 when the name is unknown.
    if (err instanceof ExecError && err.exitCode === 2) return null;
    throw err;
  }
}

/**
 * The unprivileged account nginx workers run as when hop3 runs as root (`www-data`, else
 * `nobody`), with its primary group; null when hop3 is not root (workers then run as hop3's user).
 */
export function workerAccount(): { user: string; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const passwd = readTextOrNull('/etc/passwd') ?? '';
  for (const user of ['www-data', 'nobody']) {
    const m = new RegExp(`^${user}:[^:]*:\\d+:(\\d+):`, 'm').exec(passwd);
    if (m) return { user, gid: Number(m[1]) };
  }
  return { user: 'nobody', gid: 65534 };
}
