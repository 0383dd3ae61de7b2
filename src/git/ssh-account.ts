import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SSH_USER_PATTERN, type Config } from '../config.js';
import { accountHome } from '../lib/accounts.js';
import { operationalError, userError, errorMessage } from '../lib/errors.js';
import { ExecError, type Exec } from '../lib/exec.js';
import { readTextOrNull, writeFileAtomic } from '../lib/fs-atomic.js';
import { dirAccess, type Layout } from '../lib/layout.js';
import type { OsPlugin } from '../plugins/types.js';
import { authorizedKeysPath, rewriteKeys, sshEntryPoint, type SshEntryPoint, type SshForm } from './authorized-keys.js';

/**
 * git push over SSH to `HOP3_SSH_USER@HOST:APP` when hop3-server runs as root. The system sshd
 * logs keys in as that account (home HOP3_HOME, so it reads HOP3_HOME/.ssh/authorized_keys);
 * each key's forced command is `sudo -n NODE ENTRY ...`, and a sudo rule lets that account run
 * exactly hop3's SSH entry point as root, which owns the repositories.
 */

export const SUDOERS_DIR = '/etc/sudoers.d';
const SHELL = '/bin/sh';

/** sudo's includedir skips names with a '.', so the rule's file has none (the account name has none either). */
export const sudoersPath = (user: string, dir = SUDOERS_DIR) => join(dir, `hop3-${user}`);

/** How keys' forced commands run: through sudo when root runs hop3 and the SSH account is HOP3_HOME's. */
export async function sshForm(exec: Exec, config: Config, uid = process.getuid?.() ?? 1000): Promise<SshForm> {
  if (uid !== 0) return 'direct';
  return (await accountHome(exec, config.sshUser)) === config.home ? 'sudo' : 'direct';
}

/**
 * The sudo rule: `user` may run the entry point as root, without a password, keeping sshd's
 * SSH_ORIGINAL_COMMAND, with its arguments fixed but for the key name (the entry point refuses
 * any other argument list). Everything written here is hop3's own; anything unusual is refused.
 */
export function renderSudoers(user: string, ep: SshEntryPoint): string {
  const unsafe = (what: string, value: string) =>
    userError('SUDOERS_UNSAFE', `cannot write ${what} ${JSON.stringify(value)} into a sudo rule`, {
      hint: "paths of letters, digits, '.', '_', '-' and '/'; an API address of a host name or IPv4 address and a port",
    });
  if (!SSH_USER_PATTERN.test(user)) throw unsafe('the account name', user);
  for (const [what, path] of [['the node binary', ep.node], ['the SSH entry point', ep.entry], ['HOP3_HOME', ep.home]] as const) {
    if (!/^\/[A-Za-z0-9._/-]+$/.test(path) || path.split('/').includes('..')) throw unsafe(what, path);
  }
  // ':' separates fields in sudoers, so it is escaped; an IPv6 address (brackets are globs) is refused.
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(ep.api)) throw unsafe('the API address', ep.api);
  return [
    '# Written by hop3-server setup (and rewritten when it runs again): the account of git push',
    `# over SSH (${user}@HOST:APP) may run hop3's SSH entry point as root, and nothing else.`,
    `Defaults:${user} env_keep += "SSH_ORIGINAL_COMMAND"`,
    `${user} ALL=(root) NOPASSWD: ${ep.node} ${ep.entry} --home ${ep.home} --api ${ep.api.replace(':', '\\:')} --key *`,
    '',
  ].join('\n');
}

/**
 * Install the rule atomically: written beside its place under a name sudo skips, checked with
 * `visudo -cf`, then renamed. If visudo refuses it nothing is installed.
 */
export async function installSudoers(exec: Exec, user: string, text: string, dir = SUDOERS_DIR): Promise<'written' | 'unchanged'> {
  const path = sudoersPath(user, dir);
  if (readTextOrNull(path) === text) {
    if ((statSync(path).mode & 0o777) !== 0o440) chmodSync(path, 0o440);
    return 'unchanged';
  }
  const tmp = join(dir, `.hop3-${user}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, text, { mode: 0o440, flag: 'wx' });
  try {
    chmodSync(tmp, 0o440);
    await exec.run(['visudo', '-cf', tmp]);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const output = err instanceof ExecError ? err.output.trim() : '';
    throw operationalError('SUDOERS_INVALID', `visudo -cf did not accept the sudo rule for ${user}, so nothing was installed: ${output || errorMessage(err)}`, {
      hint: 'is sudo installed (apt-get install sudo)?',
      details: { path, text },
    });
  }
  return 'written';
}

/** Make `path` owned by root (and group `gid`) with exactly `mode`; returns whether anything changed. */
function rootOwned(path: string, mode: number, gid = 0): boolean {
  const st = statSync(path);
  let changed = false;
  if (st.uid !== 0 || st.gid !== gid) {
    chownSync(path, 0, gid);
    changed = true;
  }
  if ((st.mode & 0o7777) !== mode) {
    chmodSync(path, mode);
    changed = true;
  }
  return changed;
}

/**
 * sshd (StrictModes) accepts authorized_keys only if it and every directory up to the home are
 * owned by root or the account and writable by no one else; it reads the file as the account.
 * Returns whether anything was created or changed.
 */
export function secureKeyFiles(layout: Layout): boolean {
  const ssh = join(layout.home, '.ssh');
  const keys = authorizedKeysPath(layout);
  const created = !existsSync(keys);
  mkdirSync(ssh, { recursive: true, mode: 0o755 });
  if (created) writeFileAtomic(keys, '', 0o644);
  // HOP3_HOME stays 0750 with the nginx workers' group (see ensureLayout), plus o+x: the account
  // passes through it to .ssh but can list and read nothing else there.
  const gid = dirAccess().gid;
  const home = gid === null ? rootOwned(layout.home, 0o711) : rootOwned(layout.home, 0o751, gid);
  return [home, rootOwned(ssh, 0o755), rootOwned(keys, 0o644)].some(Boolean) || created;
}

/**
 * What `hop3-server setup` does for SSH as root (the packages come first): the account, the
 * permissions sshd insists on, the sudo rule, and the keys already authorized rewritten to go
 * through sudo. Idempotent; says what it did.
 */
export async function setupSshAccount(ctx: { exec: Exec; config: Config; layout: Layout; os: OsPlugin; onLine: (line: string) => void; sudoersDir?: string }): Promise<void> {
  const { config, layout, os, onLine } = ctx;
  const user = config.sshUser;
  const ep = sshEntryPoint(config);
  const text = renderSudoers(user, ep); // refuses unsafe paths before anything changes
  if (!existsSync(ep.entry)) throw operationalError('SSH_ENTRY_MISSING', `${ep.entry} does not exist`, { hint: 'build hop3 first (npm run build)' });
  const account = await os.ensureUser(user, config.home, SHELL);
  if (account.home !== config.home) {
    throw userError('SSH_USER_TAKEN', `the account ${user} exists with the home ${account.home}, not HOP3_HOME (${config.home}); its sshd would not read hop3's keys`, {
      hint: `set HOP3_SSH_USER to another name, or move that account's home: usermod -d ${config.home} ${user}`,
    });
  }
  onLine(account.created ? `created the account ${user}: home ${config.home}, shell ${SHELL}, no password` : `account ${user} (home ${config.home}) already exists`);
  for (let dir = dirname(config.home); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) onLine(`warning: ${dir} is not searchable by others, so sshd cannot read ${user}'s keys; chmod o+x ${dir}`);
    if (dir === '/') break;
  }
  onLine(secureKeyFiles(layout)
    ? `set up ${config.home} (0751), .ssh (0755) and .ssh/authorized_keys (0644): root-owned, writable by root only`
    : `${config.home}, .ssh and .ssh/authorized_keys already root-owned and writable by root only`);
  const path = sudoersPath(user, ctx.sudoersDir);
  const sudo = await installSudoers(ctx.exec, user, text, ctx.sudoersDir);
  onLine(sudo === 'written' ? `wrote ${path} (checked with visudo): ${user} may run hop3's SSH entry point as root` : `${path} is up to date`);
  const keys = rewriteKeys(config, layout, 'sudo');
  onLine(`${keys.keys} key(s) authorized, ${keys.changed} rewritten to run through sudo`);
  onLine(`git push over SSH: ${user}@HOST:APP (authorize keys with hop3-server ssh-key add KEYFILE)`);
}

/** Whether the installed sudo rule is the one the current setup would write (ssh-key add warns otherwise). */
export function sudoersCurrent(config: Config, dir = SUDOERS_DIR): boolean {
  try {
    return readTextOrNull(sudoersPath(config.sshUser, dir)) === renderSudoers(config.sshUser, sshEntryPoint(config));
  } catch {
    return false;
  }
}
