import { existsSync } from 'node:fs';
import { accountHome } from '../../../lib/accounts.js';
import { errorMessage } from '../../../lib/errors.js';
import type { OsPlugin, PluginContext } from '../../types.js';

/** Debian and Ubuntu: apt for packages, useradd for the service user. */
export default function debianOs(ctx: PluginContext): OsPlugin {
  // openssh-server and sudo: git push over SSH to the HOP3_SSH_USER account (hop3-server setup).
  // caddy: HOP3_PROXY=caddy runs Debian's Caddy. postgresql, mariadb-server, redis-server: the addon
  // servers hop3 runs itself (each started only once an addon of its type exists).
  const packages = ['uwsgi-core', 'uwsgi-plugin-python3', 'nginx', 'git', 'python3', 'python3-venv', 'ca-certificates', 'openssh-server', 'sudo',
    ...(ctx.config.proxy === 'caddy' ? ['caddy'] : []), 'postgresql', 'mariadb-server', 'redis-server'];
  /**
   * Servers hop3 runs its own copy of, by the package that ships the system service (which takes
   * the same port or data) and that service's name: one installed just now is stopped and disabled.
   */
  const ownCopies = [
    ...(ctx.config.nginxMode === 'embedded' ? [{ pkg: 'nginx-common', service: 'nginx', why: 'hop3-server runs its own nginx (HOP3_NGINX=embedded)' }] : []),
    ...(packages.includes('caddy') ? [{ pkg: 'caddy', service: 'caddy', why: 'hop3-server runs its own Caddy (HOP3_PROXY=caddy)' }] : []),
    { pkg: 'postgresql', service: 'postgresql', why: 'hop3 runs its own PostgreSQL for addons' },
    { pkg: 'mariadb-server', service: 'mariadb', why: 'hop3 runs its own MariaDB for addons' },
    { pkg: 'redis-server', service: 'redis-server', why: 'hop3 runs its own Redis for addons' },
  ];
  const aptEnv = { DEBIAN_FRONTEND: 'noninteractive' };
  const installed = async (pkg: string) =>
    (await ctx.exec.run(['dpkg-query', '-W', '-f', '${Status}', pkg]).catch(() => ({ stdout: '' }))).stdout.includes('install ok installed');
  const plugin: OsPlugin = {
    kind: 'os',
    name: 'debian',
    displayName: 'Debian / Ubuntu',
    packages,
    detect: (osRelease) => /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease),
    async ensurePackages(wanted, opts = {}) {
      const missing: string[] = [];
      for (const pkg of wanted) if (!(await installed(pkg))) missing.push(pkg);
      if (missing.length === 0) return [];
      opts.onLine?.(`installing ${missing.join(' ')}`);
      if (opts.update ?? true) await ctx.exec.run(['apt-get', 'update'], { env: aptEnv, onLine: opts.onLine, timeoutMs: 600_000 });
      await ctx.exec.run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { env: aptEnv, onLine: opts.onLine, timeoutMs: 1_800_000 });
      return missing;
    },
    async ensureUser(user, home, shell) {
      const existing = await accountHome(ctx.exec, user);
      if (existing !== null) return { created: false, home: existing };
      // Password '*': none can match, yet the account is not locked. useradd's default '!' marks
      // it locked, and sshd refuses locked accounts (even their keys) when it does not use PAM.
      await ctx.exec.run(['useradd', '--system', '--no-create-home', '--home-dir', home, '--shell', shell, '--password', '*', user]);
      return { created: true, home };
    },
    async setupServer(onLine) {
      // Was each system service there before? Only one installed just now is stopped; one that was
      // there before is left alone (hop3-server serve then says that the port is taken and what to do).
      const had = new Map(await Promise.all(ownCopies.map(async (c) => [c.pkg, await installed(c.pkg)] as const)));
      const added = await plugin.ensurePackages(packages, { onLine });
      if (added.length === 0) onLine(`packages already installed: ${packages.join(' ')}`);
      if (!existsSync('/run/systemd/system')) return;
      for (const c of ownCopies.filter((x) => !had.get(x.pkg))) {
        onLine(`stopping and disabling the system ${c.service} service just installed: ${c.why}`);
        await ctx.exec.run(['systemctl', 'disable', '--now', c.service], { onLine, timeoutMs: 120_000 }).catch((err: unknown) => {
          onLine(`warning: could not stop it (${errorMessage(err)}); run: systemctl disable --now ${c.service}`);
        });
      }
    },
  };
  return plugin;
}
