import { accountIds } from '../../lib/accounts.js';
import { operationalError, errorMessage } from '../../lib/errors.js';
import type { Exec } from '../../lib/exec.js';
import type { AddonAccount } from './server-process.js';

/** The account hop3's addon servers run as when hop3 runs as root. */
export const ADDON_ACCOUNT = 'hop3-addons';

/**
 * The account the addon servers run as: none when hop3 is not root (they run as hop3's own user);
 * as root, the system account `user`, created when missing (no password, no login shell, its home
 * the addons directory, which it does not own). PostgreSQL refuses to run as root, and no addon
 * server needs root's rights, so none of them gets them.
 */
export async function ensureAddonAccount(exec: Exec, home: string, user = ADDON_ACCOUNT, uid = process.getuid?.() ?? 0): Promise<AddonAccount | null> {
  if (uid !== 0) return null;
  let ids = accountIds(user);
  if (ids === null) {
    try {
      await exec.run(['useradd', '--system', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', '--password', '*', user]);
    } catch (err) {
      // Two starts racing: the other one made it.
      if (accountIds(user) === null) {
        throw operationalError('ADDON_ACCOUNT_MISSING', `the account ${user} that addon servers run as could not be created: ${errorMessage(err)}`, {
          hint: `create it (useradd --system ${user}) or run hop3-server setup`, cause: err,
        });
      }
    }
    ids = accountIds(user);
  }
  if (ids === null) throw operationalError('ADDON_ACCOUNT_MISSING', `the account ${user} that addon servers run as does not exist`);
  if (ids.uid === 0) throw operationalError('ADDON_ACCOUNT_MISSING', `the account ${user} has uid 0: addon servers must not run as root`);
  return { user, ...ids };
}
