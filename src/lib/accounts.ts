import { run, ExecError } from './exec.js';

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
