import { run, ExecError } from './exec.js';
import { readTextOrNull } from './fs-atomic.js';

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
export async function accountHome(user: string): Promise<string | null> {
  try {
    const { stdout } = await run(['getent', 'passwd', user]);
    // name:password:uid:gid:gecos:home:shell
    return stdout.split('\n')[0]?.split(':')[5] ?? null;
  } catch (err) {
    // getent exits 2 when the name is unknown.
    if (err instanceof ExecError && err.exitCode === 2) return null;
    throw err;
  }
}
